//! The preview mixer: the stems of a preview package into the monitored mix,
//! with the core's own pieces, so that the browser mixes as `dubstage render`
//! (`dubstage_core::pipeline::Mixer`) does:
//!
//! - per stem, its insert chain (EQ, convolution, trim, futz): the core's
//!   [`InsertChain`], built from the session's [`InsertSpec`]s with the
//!   package's impulse responses, run on the stored channels before the fader;
//! - per stem, [`Envelope`] (session gain, automation, mute) times its bus's
//!   [`Envelope`] (bus gain and automation), times the reviewer's trim;
//! - aux sends (send level and automation, pre- or post-fader) summed into each
//!   return by a [`SumJob`], the return's own [`InsertChain`] (the reverb), and
//!   the return into its bus with its level and automation;
//! - [`route_matrix`] (constant-power pan, standard fold-downs) from the stem's
//!   layout into the mix layout, [`downmix_matrix`] from a return's;
//! - one [`SumJob`] on the [`CpuBackend`] (the CPU twin of the GPU summing shader).
//!
//! The render's normalization gain (a delivery profile's static gain) scales
//! every stem and return; its true-peak limiter is not simulated.
//!
//! # State across blocks: priming after a jump
//!
//! Inserts and returns carry state (filter memories, reverb tails). The mixer
//! remembers the reel sample its state has reached; a block that does not
//! continue from there (a seek, reverse play, a re-mix after a monitoring
//! change) starts from fresh state (silence before it) unless the caller first
//! runs [`Mixer::prime`] over the [`Mixer::prime_frames`] frames before it:
//! the longest insert tail of a stem plus the tail of the return it sends to
//! (IR length + predelay for convolutions, a 120 dB decay for EQs), capped at
//! [`MAX_PRIME_SECONDS`]. With that, the block is what the render computes
//! there: exact for convolutions, to the EQ's 120 dB decay for filters.
//!
//! Monitoring (printmaster, M&E, one bus, one stem), mute and solo decide which
//! stems are *in the mix* (they run their inserts and feed their sends) and
//! which buses are *heard*: a stem is heard when it is in the mix and its bus is
//! heard; a return is heard when its bus is heard and a stem in the mix sends
//! to it. Monitoring one stem hears it with its own sends' returns. The mix is
//! in the manifest's `mix_layout` (the printmaster's layout for a full
//! package); [`Mixer::speakers`] folds it to stereo with the core's
//! [`downmix_matrix`] (Lo/Ro, ITU-R BS.775) for listening.

use crate::manifest::{BusInfo, Manifest, StemInfo};
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Backend, SumJob};
use dubstage_core::mix::{downmix_matrix, route_matrix};
use dubstage_core::session::PanSpec;
use dubstage_core::stem::Envelope;
use dubstage_core::stem::automation::db_to_lin;
use dubstage_core::stem::chain::{InsertChain, InsertSpec};
use dubstage_core::stem::convolve::Ir;
use dubstage_core::{Error, Layout, Result};
use std::collections::HashMap;
use std::path::Path;

/// The most audio [`Mixer::prime_frames`] asks for, in seconds: a reverb that
/// rings longer is primed with this much (what rang out before is missing for
/// the first seconds after a jump).
pub const MAX_PRIME_SECONDS: f64 = 10.0;

/// What the reviewer monitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Monitor {
    /// Every bus: the printmaster.
    Printmaster,
    /// Music and effects: every bus that is not a dialogue bus.
    MandE,
    /// One bus, by index.
    Bus(usize),
    /// One stem, by index.
    Stem(usize),
}

impl Monitor {
    /// Parses `printmaster`, `me`, `bus:ID`, `stem:ID` against a manifest.
    pub fn parse(text: &str, m: &Manifest) -> Result<Monitor> {
        let t = text.trim();
        match t {
            "printmaster" | "pm" => return Ok(Monitor::Printmaster),
            "me" | "m&e" | "M&E" => return Ok(Monitor::MandE),
            _ => {}
        }
        if let Some(b) = t.strip_prefix("bus:") {
            return m
                .buses
                .iter()
                .position(|x| x.id == b)
                .map(Monitor::Bus)
                .ok_or_else(|| Error::Invalid(format!("no bus '{b}'")));
        }
        if let Some(id) = t.strip_prefix("stem:") {
            return m
                .stems
                .iter()
                .position(|s| s.id == id)
                .map(Monitor::Stem)
                .ok_or_else(|| Error::Invalid(format!("no stem '{id}'")));
        }
        Err(Error::Invalid(format!(
            "unknown monitor '{t}' (expected printmaster, me, bus:ID or stem:ID)"
        )))
    }
}

/// One resolved send of a stem.
struct Send {
    /// Index into the returns.
    to: usize,
    env: Envelope,
    pre_fader: bool,
    /// Stem (stored layout) -> return layout, `ret x stem`, row-major.
    matrix: Vec<f32>,
}

/// One return and its running state.
struct Return {
    id: String,
    bus: usize,
    width: usize,
    env: Envelope,
    inserts: Vec<InsertSpec>,
    chain: Option<InsertChain>,
    buf: Vec<Vec<f32>>,
    mute: bool,
    trim_db: f64,
}

/// The preview mixer (see the module doc).
pub struct Mixer {
    stems: Vec<StemInfo>,
    buses: Vec<BusInfo>,
    bus_of: Vec<usize>,
    widths: Vec<usize>,
    layout: Layout,
    sample_rate: u32,
    stem_env: Vec<Envelope>,
    bus_env: Vec<Envelope>,
    /// Stems' channels then returns' channels -> mix.
    matrix: Vec<f32>,
    envelope_of: Vec<usize>,
    speakers: Vec<f32>,
    master: f64,
    trim_db: Vec<f64>,
    mute: Vec<bool>,
    solo: Vec<bool>,
    monitor: Monitor,
    backend: CpuBackend,
    envelopes: Vec<Vec<f32>>,
    out: Vec<Vec<f32>>,
    stereo: [Vec<f32>; 2],
    /// Per stem: its insert chain (built by [`Mixer::reset`]; `None` without inserts).
    chains: Vec<Option<InsertChain>>,
    /// Per stem: its channels after the inserts (stems with a chain only).
    bufs: Vec<Vec<Vec<f32>>>,
    sends: Vec<Vec<Send>>,
    returns: Vec<Return>,
    /// Impulse responses by package file.
    irs: HashMap<String, Ir>,
    /// Files the inserts name.
    ir_files: Vec<String>,
    /// Chains have been built (all IRs were there).
    built: bool,
    /// The reel sample the processing state has reached (`None`: fresh or stale).
    pos: Option<i64>,
}

fn ir_of(spec: &InsertSpec) -> Option<String> {
    match spec {
        InsertSpec::Convolve { ir, .. } => Some(ir.to_string_lossy().into_owned()),
        InsertSpec::Futz { ir: Some(ir), .. } => Some(ir.to_string_lossy().into_owned()),
        _ => None,
    }
}

impl Mixer {
    /// A mixer for the stems (and returns) of a package. Inserts that name an
    /// impulse response need it given by [`Mixer::set_ir`] before the first block.
    pub fn new(m: &Manifest) -> Result<Mixer> {
        let layout = m.mix_layout()?;
        let nch = layout.len();
        let mut bus_of = Vec::with_capacity(m.stems.len());
        let mut cols = Vec::new();
        let mut envelope_of = Vec::new();
        let mut widths = Vec::with_capacity(m.stems.len());
        let bus_index = |id: &str, what: &str| {
            m.buses
                .iter()
                .position(|b| b.id == id)
                .ok_or_else(|| Error::Invalid(format!("{what}: bus '{id}' is not in the manifest")))
        };
        let mut ret_layouts = Vec::with_capacity(m.returns.len());
        for r in &m.returns {
            ret_layouts.push(r.layout()?);
        }
        let mut sends = Vec::with_capacity(m.stems.len());
        for (si, s) in m.stems.iter().enumerate() {
            let b = bus_index(&s.bus, &format!("stem '{}'", s.id))?;
            bus_of.push(b);
            let from = s.preview_layout()?;
            let pan = PanSpec {
                position: s.pan,
                surround: s.pan_surround,
            };
            let r = route_matrix(from, layout, pan);
            let w = from.len();
            widths.push(w);
            for i in 0..w {
                cols.push((0..nch).map(|o| r[o * w + i]).collect::<Vec<f32>>());
                envelope_of.push(si);
            }
            let mut v = Vec::with_capacity(s.sends.len());
            for x in &s.sends {
                let to = m.returns.iter().position(|r| r.id == x.to).ok_or_else(|| {
                    Error::stem(&s.id, format!("sends to '{}', which is not a return", x.to))
                })?;
                v.push(Send {
                    to,
                    env: Envelope {
                        gain_db: x.db,
                        points: x.automation.clone(),
                        mute: s.mute,
                    },
                    pre_fader: x.pre_fader,
                    matrix: route_matrix(from, ret_layouts[to], pan),
                });
            }
            sends.push(v);
        }
        let n = m.stems.len();
        let mut returns = Vec::with_capacity(m.returns.len());
        for (ri, (r, &rl)) in m.returns.iter().zip(&ret_layouts).enumerate() {
            let w = rl.len();
            let d = downmix_matrix(rl, layout);
            for i in 0..w {
                cols.push((0..nch).map(|o| d[o * w + i]).collect::<Vec<f32>>());
                envelope_of.push(n + ri);
            }
            returns.push(Return {
                id: r.id.clone(),
                bus: bus_index(&r.bus, &format!("return '{}'", r.id))?,
                width: w,
                env: Envelope {
                    gain_db: r.gain_db,
                    points: r.automation.clone(),
                    mute: false,
                },
                inserts: r.inserts.clone(),
                chain: None,
                buf: vec![Vec::new(); w],
                mute: false,
                trim_db: 0.0,
            });
        }
        let ni = cols.len();
        let mut matrix = vec![0f32; nch * ni];
        for (i, col) in cols.iter().enumerate() {
            for (o, &g) in col.iter().enumerate() {
                matrix[o * ni + i] = g;
            }
        }
        let mut ir_files: Vec<String> = m
            .stems
            .iter()
            .flat_map(|s| &s.inserts)
            .chain(m.returns.iter().flat_map(|r| &r.inserts))
            .filter_map(ir_of)
            .collect();
        ir_files.sort();
        ir_files.dedup();
        Ok(Mixer {
            stem_env: m
                .stems
                .iter()
                .map(|s| Envelope {
                    gain_db: s.gain_db,
                    points: s.automation.clone(),
                    mute: s.mute,
                })
                .collect(),
            bus_env: m
                .buses
                .iter()
                .map(|b| Envelope {
                    gain_db: b.gain_db,
                    points: b.automation.clone(),
                    mute: false,
                })
                .collect(),
            stems: m.stems.clone(),
            buses: m.buses.clone(),
            bus_of,
            widths: widths.clone(),
            layout,
            sample_rate: m.sample_rate,
            matrix,
            envelope_of,
            speakers: downmix_matrix(layout, Layout::Stereo),
            master: db_to_lin(m.master_gain_db),
            trim_db: vec![0.0; n],
            mute: vec![false; n],
            solo: vec![false; n],
            monitor: Monitor::Printmaster,
            backend: CpuBackend::new(),
            envelopes: vec![Vec::new(); n + returns.len()],
            out: vec![Vec::new(); nch],
            stereo: [Vec::new(), Vec::new()],
            chains: (0..n).map(|_| None).collect(),
            bufs: widths.iter().map(|&w| vec![Vec::new(); w]).collect(),
            sends,
            returns,
            irs: HashMap::new(),
            ir_files,
            built: false,
            pos: None,
        })
    }

    /// Package files of the impulse responses the inserts need.
    pub fn ir_files(&self) -> &[String] {
        &self.ir_files
    }

    /// Gives the impulse response of package file `file` (see [`Mixer::ir_files`]).
    pub fn set_ir(&mut self, file: &str, ir: Ir) {
        self.irs.insert(file.to_string(), ir);
        self.built = false;
        self.pos = None;
    }

    /// Builds every insert chain afresh (state: silence). Errors name the stem
    /// or return, the insert and what is wrong (e.g. an IR not given).
    pub fn reset(&mut self) -> Result<()> {
        let irs = &self.irs;
        let sr = self.sample_rate;
        let load = |p: &Path| -> Result<Ir> {
            let key = p.to_string_lossy();
            irs.get(key.as_ref())
                .cloned()
                .ok_or_else(|| Error::Invalid(format!("impulse response {key} is not loaded")))
        };
        let base = Path::new("");
        // drop the old state first: the new chains reuse its memory
        self.chains.iter_mut().for_each(|c| *c = None);
        self.returns.iter_mut().for_each(|r| r.chain = None);
        for (i, s) in self.stems.iter().enumerate() {
            self.chains[i] = if s.inserts.is_empty() {
                None
            } else {
                Some(InsertChain::build_with_loader(
                    &s.inserts,
                    sr,
                    self.widths[i],
                    base,
                    &s.id,
                    &load,
                )?)
            };
        }
        for r in &mut self.returns {
            r.chain = if r.inserts.is_empty() {
                None
            } else {
                Some(
                    InsertChain::build_with_loader(&r.inserts, sr, r.width, base, &r.id, &load)
                        .map_err(|e| Error::Invalid(format!("return '{}': {e}", r.id)))?,
                )
            };
        }
        self.built = true;
        self.pos = None;
        Ok(())
    }

    fn ensure_built(&mut self) -> Result<()> {
        if !self.built {
            self.reset()?;
        }
        Ok(())
    }

    /// Frames of audio before a block that [`Mixer::prime`] needs for the
    /// block to come out as the render computes it (0 when no stem has inserts
    /// or sends): per stem, its inserts' tail plus the longest tail of the
    /// returns it sends to; the largest over the stems, capped at
    /// [`MAX_PRIME_SECONDS`].
    pub fn prime_frames(&mut self) -> Result<usize> {
        self.ensure_built()?;
        let tail = |c: &Option<InsertChain>| c.as_ref().map_or(0, |c| c.tail_frames());
        let mut need = 0usize;
        for i in 0..self.stems.len() {
            if !self.stem_primes(i) {
                continue;
            }
            let ret = self.sends[i]
                .iter()
                .map(|s| tail(&self.returns[s.to].chain))
                .max()
                .unwrap_or(0);
            need = need.max(tail(&self.chains[i]).saturating_add(ret));
        }
        let cap = (MAX_PRIME_SECONDS * self.sample_rate as f64) as usize;
        Ok(need.min(cap))
    }

    /// Does stem `i` take part in priming (has inserts or sends)?
    pub fn stem_primes(&self, i: usize) -> bool {
        self.stems
            .get(i)
            .is_some_and(|s| !s.inserts.is_empty() || !s.sends.is_empty())
    }

    /// Does the block at `start` need [`Mixer::prime`] first (the state is not
    /// at `start` and there is state to prime)?
    pub fn needs_prime(&mut self, start: i64) -> Result<bool> {
        Ok(self.pos != Some(start) && self.prime_frames()? > 0)
    }

    /// Number of stems.
    pub fn stems(&self) -> usize {
        self.stems.len()
    }

    /// Number of returns.
    pub fn returns(&self) -> usize {
        self.returns.len()
    }

    /// Id of return `r`.
    pub fn return_id(&self, r: usize) -> Option<&str> {
        self.returns.get(r).map(|x| x.id.as_str())
    }

    /// Channels of stem `i` in the package (0 for no such stem).
    pub fn stem_channels(&self, i: usize) -> usize {
        self.widths.get(i).copied().unwrap_or(0)
    }

    /// The layout of the mix ([`Mixer::process`]'s output).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Total input channels expected by [`Mixer::process`] (all stems, in order).
    pub fn input_channels(&self) -> usize {
        self.widths.iter().sum()
    }

    /// The reviewer's level offset for stem `i`, in dB (on top of the session's
    /// gain; like a fader move, it also moves the stem's post-fader sends).
    pub fn set_trim_db(&mut self, i: usize, db: f64) {
        if let Some(t) = self.trim_db.get_mut(i) {
            *t = if db.is_finite() { db } else { -200.0 };
        }
    }

    /// Mutes stem `i` for the reviewer (its sends too).
    pub fn set_mute(&mut self, i: usize, on: bool) {
        if let Some(m) = self.mute.get_mut(i) {
            *m = on;
            self.pos = None;
        }
    }

    /// Solos stem `i`: while any stem is soloed, only soloed stems are heard
    /// (with the returns they send to).
    pub fn set_solo(&mut self, i: usize, on: bool) {
        if let Some(s) = self.solo.get_mut(i) {
            *s = on;
            self.pos = None;
        }
    }

    /// Mutes return `r` for the reviewer (to hear the mix without it).
    pub fn set_return_mute(&mut self, r: usize, on: bool) {
        if let Some(x) = self.returns.get_mut(r) {
            x.mute = on;
        }
    }

    /// The reviewer's level offset for return `r`, dB.
    pub fn set_return_trim_db(&mut self, r: usize, db: f64) {
        if let Some(x) = self.returns.get_mut(r) {
            x.trim_db = if db.is_finite() { db } else { -200.0 };
        }
    }

    /// What to monitor.
    pub fn set_monitor(&mut self, m: Monitor) {
        self.monitor = m;
        self.pos = None;
    }

    /// The current monitoring choice.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Is stem `i` in the mix (runs its inserts, feeds its sends): the
    /// session's mute (unless monitored alone), reviewer mute and solo.
    pub fn in_mix(&self, i: usize) -> bool {
        let Some(s) = self.stems.get(i) else {
            return false;
        };
        let picked = match self.monitor {
            Monitor::Stem(k) => k == i,
            _ => !s.mute,
        };
        let any_solo = self.solo.iter().any(|&x| x);
        picked && !self.mute[i] && (!any_solo || self.solo[i])
    }

    fn bus_heard(&self, b: usize) -> bool {
        match self.monitor {
            Monitor::Printmaster | Monitor::Stem(_) => true,
            Monitor::MandE => !self.buses[b].dialogue,
            Monitor::Bus(x) => x == b,
        }
    }

    /// Is stem `i` heard now (in the mix, and its bus monitored)?
    pub fn audible(&self, i: usize) -> bool {
        self.in_mix(i) && self.bus_heard(self.bus_of[i])
    }

    /// Is return `r` heard now (not muted, its bus monitored, and a stem in the
    /// mix sends to it)?
    pub fn return_audible(&self, r: usize) -> bool {
        let Some(x) = self.returns.get(r) else {
            return false;
        };
        !x.mute
            && self.bus_heard(x.bus)
            && (0..self.stems.len())
                .any(|i| self.in_mix(i) && self.sends[i].iter().any(|s| s.to == r))
    }

    /// Runs the inserts, sends and returns over `frames` frames from reel
    /// sample `start` without mixing or metering: call it on the
    /// [`Mixer::prime_frames`] frames before a block that does not continue
    /// the last one (in pieces, in order). `inputs` as for [`Mixer::process`].
    pub fn prime(&mut self, start: i64, inputs: &[&[f32]], frames: usize) -> Result<()> {
        self.run(start, inputs, frames, false)
    }

    /// Mixes `frames` frames starting at reel sample `start`. `inputs` holds
    /// [`Mixer::input_channels`] planar channels (stem 0's channels first), each at
    /// least `frames` long. Returns the mix in [`Mixer::layout`]. A block that
    /// does not continue the last one starts the inserts and returns from
    /// silence unless [`Mixer::prime`] ran first.
    pub fn process(&mut self, start: i64, inputs: &[&[f32]], frames: usize) -> Result<&[Vec<f32>]> {
        self.run(start, inputs, frames, true)?;
        Ok(&self.out)
    }

    fn run(&mut self, start: i64, inputs: &[&[f32]], frames: usize, mix: bool) -> Result<()> {
        if inputs.len() != self.input_channels() || inputs.iter().any(|c| c.len() < frames) {
            return Err(Error::Invalid(format!(
                "mixer: {} input channels, expected {} of at least {frames} frames",
                inputs.len(),
                self.input_channels()
            )));
        }
        self.ensure_built()?;
        if self.pos != Some(start) {
            self.reset()?;
        }
        let n = self.stems.len();
        let in_mix: Vec<bool> = (0..n).map(|i| self.in_mix(i)).collect();
        // Inserts: on a copy of the stored channels, with the storage gain undone.
        let mut c0 = 0;
        for (i, &on) in in_mix.iter().enumerate() {
            let w = self.widths[i];
            if let (Some(chain), true) = (&mut self.chains[i], on) {
                let k = self.stems[i].storage_gain as f32;
                for (b, x) in self.bufs[i].iter_mut().zip(&inputs[c0..c0 + w]) {
                    b.clear();
                    b.extend(x[..frames].iter().map(|v| v * k));
                }
                chain.process(&mut self.bufs[i], frames)?;
            }
            c0 += w;
        }
        // Where each stem's (post-insert) channels are, and the gain still to apply.
        let mut srcs: Vec<&[f32]> = Vec::with_capacity(c0);
        let mut factor = Vec::with_capacity(n);
        let mut c0 = 0;
        for (i, &on) in in_mix.iter().enumerate() {
            let w = self.widths[i];
            if self.chains[i].is_some() && on {
                srcs.extend(self.bufs[i].iter().map(|b| &b[..frames]));
                factor.push(1.0);
            } else {
                srcs.extend(inputs[c0..c0 + w].iter().map(|x| &x[..frames]));
                factor.push(self.stems[i].storage_gain);
            }
            c0 += w;
        }
        // Sends into the returns, then the returns' inserts.
        for (ri, ret) in self.returns.iter_mut().enumerate() {
            let mut ins: Vec<&[f32]> = Vec::new();
            let mut env_of = Vec::new();
            let mut envs: Vec<Vec<f32>> = Vec::new();
            let mut cols: Vec<(usize, &[f32])> = Vec::new();
            let mut s0 = 0;
            for i in 0..n {
                let w = self.widths[i];
                for send in self.sends[i].iter().filter(|x| x.to == ri) {
                    if !in_mix[i] {
                        continue;
                    }
                    let mut e = vec![0f32; frames];
                    let mut se = send.env.clone();
                    se.mute = false;
                    se.fill(start, &mut e, false);
                    if !send.pre_fader {
                        let mut st = self.stem_env[i].clone();
                        st.mute = false;
                        st.fill(start, &mut e, true);
                    }
                    let k = (factor[i]
                        * if send.pre_fader {
                            1.0
                        } else {
                            db_to_lin(self.trim_db[i])
                        }) as f32;
                    if k != 1.0 {
                        e.iter_mut().for_each(|x| *x *= k);
                    }
                    ins.extend(&srcs[s0..s0 + w]);
                    env_of.extend(std::iter::repeat_n(envs.len(), w));
                    cols.push((w, &send.matrix));
                    envs.push(e);
                }
                s0 += w;
            }
            let ni = ins.len();
            if ni == 0 {
                for b in &mut ret.buf {
                    b.clear();
                    b.resize(frames, 0.0);
                }
            } else {
                let rw = ret.width;
                let matrix = dubstage_core::backend::side_by_side(rw, &cols);
                let env_refs: Vec<&[f32]> = envs.iter().map(|v| v.as_slice()).collect();
                let job = SumJob {
                    frames,
                    inputs: &ins,
                    envelope_of: &env_of,
                    envelopes: &env_refs,
                    matrix: &matrix,
                    outputs: rw,
                };
                self.backend.sum(&job, &mut ret.buf)?;
            }
            if let Some(c) = &mut ret.chain {
                c.process(&mut ret.buf, frames)?;
            }
        }
        self.pos = Some(start + frames as i64);
        if !mix {
            return Ok(());
        }
        // The mix: stems, then returns.
        let audible: Vec<bool> = (0..n).map(|i| self.audible(i)).collect();
        let ret_audible: Vec<bool> = (0..self.returns.len())
            .map(|r| self.return_audible(r))
            .collect();
        for (i, env) in self.envelopes.iter_mut().enumerate() {
            env.clear();
            env.resize(frames, 0.0);
            let k = if i < n {
                if !audible[i] {
                    continue;
                }
                // A stem muted in the session is heard only when monitored alone.
                let mut se = self.stem_env[i].clone();
                se.mute = false;
                se.fill(start, env, false);
                self.bus_env[self.bus_of[i]].fill(start, env, true);
                self.master * factor[i] * db_to_lin(self.trim_db[i])
            } else {
                let r = &self.returns[i - n];
                if !ret_audible[i - n] {
                    continue;
                }
                r.env.fill(start, env, false);
                self.bus_env[r.bus].fill(start, env, true);
                self.master * db_to_lin(r.trim_db)
            } as f32;
            if k != 1.0 {
                env.iter_mut().for_each(|x| *x *= k);
            }
        }
        for r in &self.returns {
            srcs.extend(r.buf.iter().map(|b| &b[..frames]));
        }
        let envs: Vec<&[f32]> = self.envelopes.iter().map(|e| e.as_slice()).collect();
        let job = SumJob {
            frames,
            inputs: &srcs,
            envelope_of: &self.envelope_of,
            envelopes: &envs,
            matrix: &self.matrix,
            outputs: self.layout.len(),
        };
        self.backend.sum(&job, &mut self.out)?;
        Ok(())
    }

    /// The last mix folded to stereo for the speakers (Lo/Ro when wider than stereo).
    pub fn speakers(&mut self, frames: usize) -> &[Vec<f32>; 2] {
        let nch = self.layout.len();
        for (o, dst) in self.stereo.iter_mut().enumerate() {
            dst.clear();
            dst.resize(frames, 0.0);
            for c in 0..nch {
                let g = self.speakers[o * nch + c];
                if g == 0.0 {
                    continue;
                }
                for (d, &x) in dst.iter_mut().zip(&self.out[c][..frames]) {
                    *d += g * x;
                }
            }
        }
        &self.stereo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{AudioInfo, FORMAT};

    fn manifest() -> Manifest {
        let stem = |id: &str, bus: &str, layout: &str| StemInfo {
            id: id.into(),
            kind: "x".into(),
            bus: bus.into(),
            source_layout: layout.into(),
            layout: layout.into(),
            gain_db: 0.0,
            mute: false,
            pan: 0.0,
            pan_surround: 0.0,
            automation: Vec::new(),
            storage_gain: 1.0,
            inserts: Vec::new(),
            sends: Vec::new(),
        };
        let bus = |id: &str, dialogue| BusInfo {
            id: id.into(),
            dialogue,
            gain_db: 0.0,
            automation: Vec::new(),
        };
        let mut dx = stem("dx", "DX", "mono");
        dx.automation = vec![(0, 0.0), (100, -20.0)];
        let mut mx = stem("mx", "MX", "stereo");
        mx.gain_db = -6.0;
        Manifest {
            format: FORMAT.into(),
            title: "t".into(),
            reel: "1".into(),
            reel_number: 1,
            sample_rate: 48_000,
            frame_rate: "24".into(),
            start: "01:00:00:00".into(),
            ffoa: None,
            length: 1000,
            layout: "5.1".into(),
            mix_layout: "5.1".into(),
            audio: AudioInfo {
                encoding: "s16le".into(),
                chunk_frames: 1000,
                chunks: 1,
                description: String::new(),
            },
            master_gain_db: 0.0,
            master_note: String::new(),
            stems: vec![dx, mx],
            buses: vec![bus("DX", true), bus("MX", false)],
            returns: Vec::new(),
            irs: Vec::new(),
            processing_note: String::new(),
            peak_levels: vec![512],
            loudness: None,
            video: None,
            generator: String::new(),
        }
    }

    #[test]
    fn mixes_like_the_render_and_monitors() {
        let m = manifest();
        let mut mx = Mixer::new(&m).unwrap();
        assert_eq!(mx.input_channels(), 3);
        let one = vec![1.0f32; 200];
        let ins: Vec<&[f32]> = vec![&one, &one, &one];
        let out = mx.process(0, &ins, 200).unwrap().to_vec();
        // mono dialogue at centre goes to C; automation -20 dB at sample 100 on.
        assert!((out[2][0] - 1.0).abs() < 1e-6);
        assert!((out[2][150] - 0.1).abs() < 1e-6);
        // music at -6 dB on L and R.
        let g = db_to_lin(-6.0) as f32;
        assert!((out[0][0] - g).abs() < 1e-6 && (out[1][0] - g).abs() < 1e-6);
        // M&E: no dialogue.
        mx.set_monitor(Monitor::parse("me", &m).unwrap());
        let out = mx.process(0, &ins, 200).unwrap().to_vec();
        assert_eq!(out[2][0], 0.0);
        assert!((out[0][0] - g).abs() < 1e-6);
        // solo dialogue in the printmaster
        mx.set_monitor(Monitor::Printmaster);
        mx.set_solo(0, true);
        let out = mx.process(0, &ins, 200).unwrap().to_vec();
        assert!(out[0][0].abs() < 1e-6);
        assert!((out[2][0] - 1.0).abs() < 1e-6);
        // speakers: C at -3 dB into L and R.
        let sp = mx.speakers(200);
        assert!((sp[0][0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(Monitor::parse("bus:NOPE", &m).is_err());
    }

    use crate::manifest::Processing;
    use dubstage_core::io::{OutputFormat, WavSpec, WavWriter};
    use dubstage_core::pipeline::{MixBlock, Mixer as RenderMixer};

    /// A deterministic test signal: a decaying chirp-ish tone plus noise bursts.
    fn signal(len: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut rng = dubstage_core::demo::Rng::new(seed);
        (0..len)
            .map(|t| {
                let ts = t as f64 / 48_000.0;
                let burst = if (t / 9000) % 3 == 0 {
                    rng.bipolar()
                } else {
                    0.0
                };
                (amp as f64
                    * (0.6 * (std::f64::consts::TAU * (200.0 + 300.0 * ts) * ts).sin()
                        + 0.4 * burst)) as f32
            })
            .collect()
    }

    fn decaying_ir(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = dubstage_core::demo::Rng::new(seed);
        (0..len)
            .map(|i| (rng.bipolar() * 10f64.powf(-3.0 * i as f64 / len as f64) * 0.3) as f32)
            .collect()
    }

    fn write_wav(path: &std::path::Path, chans: &[&[f32]]) {
        let mut w = WavWriter::create(
            path,
            WavSpec::new(chans.len() as u16, 48_000, OutputFormat::Float32),
        )
        .unwrap();
        w.write_planar(chans).unwrap();
        w.finish().unwrap();
    }

    const LEN: usize = 96_000;

    /// A session with inserts on both stems, a post-fader send with automation
    /// into a stereo reverb return on the dialogue bus and a pre-fader send into
    /// a mono return on the music bus; its plan, the stems' audio and the
    /// preview's mixer for it (IRs given as the page gives them).
    fn processed_session(
        dir: &std::path::Path,
    ) -> (dubstage_core::session::Plan, Vec<Vec<f32>>, Mixer) {
        std::fs::create_dir_all(dir).unwrap();
        let dx = signal(LEN, 1, 0.3);
        let (ml, mr) = (signal(LEN, 2, 0.2), signal(LEN, 3, 0.15));
        write_wav(&dir.join("dx.wav"), &[&dx]);
        write_wav(&dir.join("mx.wav"), &[&ml, &mr]);
        let (h1, h2) = (decaying_ir(7000, 4), decaying_ir(7000, 5));
        write_wav(&dir.join("hall.wav"), &[&h1, &h2]);
        write_wav(&dir.join("plate.wav"), &[&decaying_ir(3000, 6)]);
        let session = dir.join("s.toml");
        std::fs::write(
            &session,
            r#"[reel]
title = "Parity"
reel = 1
frame_rate = "24"
start = "01:00:00:00"
length = "01:00:02:00"
layout = "5.1"

[[stem]]
id = "dx"
kind = "dialogue"
source = "dx.wav"
start = "01:00:00:00"
automation = [ { at = "01:00:00:12", db = 0.0 }, { at = "01:00:01:00", db = -8.0 } ]
inserts = [
  { type = "eq", bands = [ { kind = "high_pass", freq = 120.0, slope = 24 },
                           { kind = "peak", freq = 2500.0, gain_db = 4.0, q = 1.2 } ] },
  { type = "convolve", ir = "plate.wav", wet_db = -10.0, dry_db = 0.0, predelay_ms = 3.0 },
  { type = "trim", db = -2.0 },
]
sends = [ { to = "hall", db = -6.0, automation = [ { at = "01:00:00:06", db = 0.0 }, { at = "01:00:01:06", db = -12.0 } ] } ]

[[stem]]
id = "mx"
kind = "music"
source = "mx.wav"
start = "01:00:00:00"
pan = { position = 0.2 }
inserts = [ { type = "futz", low_hz = 300.0, high_hz = 3400.0 } ]
sends = [ { to = "plate", db = -3.0, pre_fader = true } ]

[[return]]
id = "hall"
bus = "DX"
layout = "stereo"
gain_db = -1.0
inserts = [ { type = "convolve", ir = "hall.wav", normalize = "energy" } ]

[[return]]
id = "plate"
bus = "MX"
layout = "mono"
inserts = [ { type = "eq", bands = [ { kind = "low_pass", freq = 5000.0, slope = 12 } ] },
            { type = "convolve", ir = "plate.wav" } ]
"#,
        )
        .unwrap();
        let plan = dubstage_core::session::Session::load(&session)
            .unwrap()
            .resolve()
            .unwrap();
        let proc_ = Processing::of_plan(&plan).unwrap();
        // plate.wav is named twice: one file in the package
        assert_eq!(proc_.irs.len(), 2);
        let mut m = manifest();
        m.length = LEN as u64;
        m.audio.chunks = m.length.div_ceil(m.audio.chunk_frames as u64) as _;
        m.stems = plan
            .stems
            .iter()
            .zip(&proc_.stems)
            .map(|(s, (ins, sends))| StemInfo {
                id: s.id.clone(),
                kind: "x".into(),
                bus: plan.buses[s.bus].id.clone(),
                source_layout: s.layout.to_string(),
                layout: s.layout.to_string(),
                gain_db: s.gain_db,
                mute: s.mute,
                pan: s.pan.position,
                pan_surround: s.pan.surround,
                automation: s.automation.clone(),
                storage_gain: 1.0,
                inserts: ins.clone(),
                sends: sends.clone(),
            })
            .collect();
        m.buses = plan.buses.iter().map(BusInfo::from).collect();
        m.returns = proc_.returns.clone();
        m.irs = proc_.irs.iter().map(|(i, _)| i.clone()).collect();
        // through JSON, as the page gets it
        let m = Manifest::from_json(&serde_json::to_string(&m).unwrap()).unwrap();
        let mut mx = Mixer::new(&m).unwrap();
        assert!(mx.prime_frames().is_err(), "IRs not given yet");
        for (info, ir) in &proc_.irs {
            let bytes = crate::manifest::IrInfo::encode(ir);
            mx.set_ir(&info.file, info.decode(&bytes, 48_000).unwrap());
        }
        (plan, vec![dx, ml, mr], mx)
    }

    fn render_printmaster(plan: &dubstage_core::session::Plan) -> Vec<Vec<f32>> {
        let mut backend = CpuBackend::new();
        let mut r = RenderMixer::new(plan, &backend).unwrap();
        let mut out = vec![Vec::new(); plan.layout.len()];
        let mut block = MixBlock::default();
        while (r.pos as usize) < LEN {
            let n = (LEN - r.pos as usize).min(10_000);
            r.next_block(&mut backend, n, &mut block).unwrap();
            for (o, c) in out.iter_mut().zip(&block.printmaster) {
                o.extend_from_slice(&c[..n]);
            }
        }
        out
    }

    fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>], from: usize, n: usize) -> f32 {
        a.iter()
            .zip(b)
            .flat_map(|(x, y)| x[from..from + n].iter().zip(&y[from..from + n]))
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max)
    }

    /// The preview's mix of stems with inserts, sends and reverb returns equals
    /// the render's printmaster, block for block (played from the start), and
    /// after a jump once primed over `prime_frames()`. Tolerance 2e-6 (about
    /// -114 dBFS): f32 rounding of the same arithmetic summed in another order.
    #[test]
    fn inserts_sends_and_returns_mix_as_the_render_does() {
        let dir = std::env::temp_dir().join(format!("dubstage-wasm-parity-{}", std::process::id()));
        let (plan, audio, mut mx) = processed_session(&dir);
        let want = render_printmaster(&plan);
        let peak = want.iter().flatten().fold(0f32, |a, &v| a.max(v.abs()));
        assert!(peak > 0.05, "the render is not silent ({peak})");
        const TOL: f32 = 2e-6;

        // played from the start in the page's 4096-frame blocks
        let mut got = vec![Vec::new(); 6];
        let mut t = 0;
        while t < LEN {
            let n = (LEN - t).min(4096);
            assert!(!mx.needs_prime(t as i64).unwrap() || t == 0);
            let ins: Vec<&[f32]> = audio.iter().map(|c| &c[t..t + n]).collect();
            let out = mx.process(t as i64, &ins, n).unwrap();
            for (g, o) in got.iter_mut().zip(out) {
                g.extend_from_slice(&o[..n]);
            }
            t += n;
        }
        let d = max_diff(&got, &want, 0, LEN);
        eprintln!("parity from the start: {d:e} (peak {peak})");
        assert!(d < TOL, "from the start: max |preview - render| = {d:e}");

        // a jump to 1.3 s: primed, the block matches; unprimed, it does not
        let at = 62_400usize;
        let p = mx.prime_frames().unwrap();
        // dx: EQ ring + plate (3000 + 144 predelay) + hall (7000)
        assert!(p > 3000 + 144 + 7000 - 1, "prime frames {p}");
        assert!(mx.needs_prime(at as i64).unwrap());
        let mut s = at - p;
        while s < at {
            let n = (at - s).min(1000);
            let ins: Vec<&[f32]> = audio.iter().map(|c| &c[s..s + n]).collect();
            mx.prime(s as i64, &ins, n).unwrap();
            s += n;
        }
        assert!(!mx.needs_prime(at as i64).unwrap());
        let ins: Vec<&[f32]> = audio.iter().map(|c| &c[at..at + 4096]).collect();
        let primed: Vec<Vec<f32>> = mx
            .process(at as i64, &ins, 4096)
            .unwrap()
            .iter()
            .map(|c| c.to_vec())
            .collect();
        let shift = |v: &[Vec<f32>]| -> Vec<Vec<f32>> {
            v.iter().map(|c| c[at..at + 4096].to_vec()).collect()
        };
        let want_at = shift(&want);
        let d = max_diff(&primed, &want_at, 0, 4096);
        eprintln!("parity after a primed jump: {d:e}");
        assert!(d < TOL, "after a primed jump: {d:e}");
        // unprimed (state from a far-away block): the reverb tails are wrong
        let far: Vec<&[f32]> = audio.iter().map(|c| &c[4096..8192]).collect();
        mx.process(4096, &far, 4096).unwrap();
        let cold: Vec<Vec<f32>> = mx
            .process(at as i64, &ins, 4096)
            .unwrap()
            .iter()
            .map(|c| c.to_vec())
            .collect();
        let d = max_diff(&cold, &want_at, 0, 4096);
        eprintln!("unprimed jump: {d:e}");
        assert!(d > 1e-3, "unprimed jump: {d:e}");

        // monitoring: muting the hall return takes it out; M&E hears the plate
        // (music bus) but neither dialogue nor the hall (dialogue bus)
        assert!(mx.return_audible(0) && mx.return_audible(1));
        mx.set_monitor(Monitor::MandE);
        assert!(!mx.return_audible(0) && mx.return_audible(1));
        mx.set_monitor(Monitor::Stem(0));
        assert!(
            mx.return_audible(0) && !mx.return_audible(1),
            "a stem alone: with its own sends' returns"
        );
        mx.set_monitor(Monitor::Printmaster);
        mx.set_return_mute(0, true);
        assert!(!mx.return_audible(0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
