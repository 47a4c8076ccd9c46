//! The preview mixer: the stems of a preview package into the monitored mix, through
//! the render's own mix graph ([`Graph`]), so that the browser mixes as `dubstage
//! render` does, with the same arithmetic in the same order:
//!
//! - per stem, its insert chain (EQ, convolution, trim, futz, denoise): the core's
//!   [`InsertChain`], built from the session's [`InsertSpec`]s with the package's
//!   impulse responses, run on the stored channels before the fader;
//! - per stem, its envelope (session gain, automation) times its bus's envelope (bus
//!   gain and automation), times the reviewer's trim;
//! - aux sends (send level and automation, pre- or post-fader) summed into each
//!   return, the return's own [`InsertChain`] (the reverb), and the return into its
//!   bus with its level and automation;
//! - [`route_matrix`] (constant-power pan, standard fold-downs) from the stem's layout
//!   into the mix layout, [`downmix_matrix`] from a return's;
//! - the sum into the buses and the printmaster, M&E or bus the reviewer monitors.
//!
//! The render's normalization gain (a delivery profile's static gain) scales every
//! stem and return; its true-peak limiter is not simulated.
//!
//! # Latency
//!
//! An insert chain with latency (the denoise insert's STFT frame) is read ahead by the
//! render, so that its output lands in sync. The preview does the same: the input of
//! stem `i` for the block at reel sample `start` is the stem's audio from
//! `start + stem_lead(i)` ([`Mixer::stem_lead`]; 0 for almost every stem).
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

use super::manifest::{Manifest, StemInfo};
use crate::backend::cpu::CpuBackend;
use crate::mix::{downmix_matrix, route_matrix};
use crate::pipeline::{
    BusNode, Controls, Graph, GraphSpec, MixBlock, ReturnNode, SendNode, StemNode,
};
use crate::session::PanSpec;
use crate::stem::Envelope;
use crate::stem::automation::db_to_lin;
use crate::stem::chain::{InsertChain, InsertSpec};
use crate::stem::convolve::Ir;
use crate::{Error, Layout, Result};
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

/// The preview mixer (see the module doc).
pub struct Mixer {
    stems: Vec<StemInfo>,
    /// Per return: its inserts (its chain is built from them).
    ret_inserts: Vec<Vec<InsertSpec>>,
    layout: Layout,
    sample_rate: u32,
    graph: Graph,
    backend: CpuBackend,
    block: MixBlock,
    speakers: Vec<f32>,
    stereo: [Vec<f32>; 2],
    master: f64,
    trim_db: Vec<f64>,
    mute: Vec<bool>,
    solo: Vec<bool>,
    ret_mute: Vec<bool>,
    ret_trim_db: Vec<f64>,
    monitor: Monitor,
    /// Per stem: how far ahead its input is read (its chain's latency).
    lead: Vec<usize>,
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

/// Envelopes without the session's mute: a stem muted in the session is out of the
/// mix ([`Controls::active`]) unless monitored alone.
fn envelope(gain_db: f64, points: &[(i64, f64)]) -> Envelope {
    Envelope {
        gain_db,
        points: points.to_vec(),
        mute: false,
    }
}

/// The graph of a package: its stems (in their preview layouts), returns and buses.
fn graph_spec(m: &Manifest, layout: Layout) -> Result<GraphSpec> {
    let nch = layout.len();
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
    let mut stems = Vec::with_capacity(m.stems.len());
    for s in &m.stems {
        let from = s.preview_layout()?;
        let pan = PanSpec {
            position: s.pan,
            surround: s.pan_surround,
        };
        let mut sends = Vec::with_capacity(s.sends.len());
        for x in &s.sends {
            let to = m.returns.iter().position(|r| r.id == x.to).ok_or_else(|| {
                Error::stem(&s.id, format!("sends to '{}', which is not a return", x.to))
            })?;
            sends.push(SendNode {
                to,
                env: envelope(x.db, &x.automation),
                pre_fader: x.pre_fader,
                matrix: route_matrix(from, ret_layouts[to], pan),
            });
        }
        stems.push(StemNode {
            id: s.id.clone(),
            bus: bus_index(&s.bus, &format!("stem '{}'", s.id))?,
            width: from.len(),
            matrix: route_matrix(from, layout, pan),
            env: envelope(s.gain_db, &s.automation),
            sends,
        });
    }
    let mut returns = Vec::with_capacity(m.returns.len());
    for (r, &rl) in m.returns.iter().zip(&ret_layouts) {
        returns.push(ReturnNode {
            id: r.id.clone(),
            bus: bus_index(&r.bus, &format!("return '{}'", r.id))?,
            width: rl.len(),
            matrix: downmix_matrix(rl, layout),
            env: envelope(r.gain_db, &r.automation),
        });
    }
    Ok(GraphSpec {
        channels: nch,
        stems,
        returns,
        buses: m
            .buses
            .iter()
            .map(|b| BusNode {
                dialogue: b.dialogue,
                env: envelope(b.gain_db, &b.automation),
            })
            .collect(),
    })
}

/// Chains that do nothing, one per stem and return (before the IRs are given).
fn empty_chains(spec: &GraphSpec, sr: u32) -> Result<(Vec<InsertChain>, Vec<InsertChain>)> {
    let none = |w: usize, id: &str| InsertChain::build(&[], sr, w, Path::new(""), id);
    Ok((
        spec.stems
            .iter()
            .map(|s| none(s.width, &s.id))
            .collect::<Result<_>>()?,
        spec.returns
            .iter()
            .map(|r| none(r.width, &r.id))
            .collect::<Result<_>>()?,
    ))
}

impl Mixer {
    /// A mixer for the stems (and returns) of a package. Inserts that name an
    /// impulse response need it given by [`Mixer::set_ir`] before the first block.
    pub fn new(m: &Manifest) -> Result<Mixer> {
        let layout = m.mix_layout()?;
        let spec = graph_spec(m, layout)?;
        let (chains, ret_chains) = empty_chains(&spec, m.sample_rate)?;
        let graph = Graph::new(spec, chains, ret_chains)?;
        let mut ir_files: Vec<String> = m
            .stems
            .iter()
            .flat_map(|s| &s.inserts)
            .chain(m.returns.iter().flat_map(|r| &r.inserts))
            .filter_map(ir_of)
            .collect();
        ir_files.sort();
        ir_files.dedup();
        let n = m.stems.len();
        Ok(Mixer {
            stems: m.stems.clone(),
            ret_inserts: m.returns.iter().map(|r| r.inserts.clone()).collect(),
            layout,
            sample_rate: m.sample_rate,
            graph,
            backend: CpuBackend::new(),
            block: MixBlock::default(),
            speakers: downmix_matrix(layout, Layout::Stereo),
            stereo: [Vec::new(), Vec::new()],
            master: db_to_lin(m.master_gain_db),
            trim_db: vec![0.0; n],
            mute: vec![false; n],
            solo: vec![false; n],
            ret_mute: vec![false; m.returns.len()],
            ret_trim_db: vec![0.0; m.returns.len()],
            monitor: Monitor::Printmaster,
            lead: vec![0; n],
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
        let (none, ret_none) = empty_chains(self.graph.spec(), sr)?;
        self.graph.set_chains(none, ret_none)?;
        let spec = self.graph.spec();
        let chains = self
            .stems
            .iter()
            .zip(&spec.stems)
            .map(|(s, n)| {
                InsertChain::build_with_loader(&s.inserts, sr, n.width, base, &s.id, &load)
            })
            .collect::<Result<Vec<_>>>()?;
        let ret_chains = self
            .ret_inserts
            .iter()
            .zip(&spec.returns)
            .map(|(ins, r)| {
                InsertChain::build_with_loader(ins, sr, r.width, base, &r.id, &load)
                    .map_err(|e| Error::Invalid(format!("return '{}': {e}", r.id)))
            })
            .collect::<Result<Vec<_>>>()?;
        self.lead = chains.iter().map(InsertChain::latency).collect();
        self.graph.set_chains(chains, ret_chains)?;
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
    /// or sends): per stem, its inserts' latency and tail plus the longest tail of
    /// the returns it sends to; the largest over the stems, capped at
    /// [`MAX_PRIME_SECONDS`]. At the reel's start too: priming from before it (with
    /// silence there, and a stem read ahead from its first samples) starts the
    /// inserts as the render does.
    pub fn prime_frames(&mut self) -> Result<usize> {
        self.ensure_built()?;
        let spec = self.graph.spec();
        let mut need = 0usize;
        for (i, s) in spec.stems.iter().enumerate() {
            if !self.stem_primes(i) {
                continue;
            }
            let ret = s
                .sends
                .iter()
                .map(|x| self.graph.return_chain(x.to).tail_frames())
                .max()
                .unwrap_or(0);
            let c = self.graph.chain(i);
            need = need.max(c.latency() + c.tail_frames().saturating_add(ret));
        }
        let cap = (MAX_PRIME_SECONDS * self.sample_rate as f64) as usize;
        Ok(need.min(cap))
    }

    /// Where priming for the block at `start` begins: [`Mixer::prime_frames`] before
    /// it, but not before the reel's start less the longest lead (a stem read ahead
    /// then starts from its first sample, as in the render).
    pub fn prime_start(&mut self, start: i64) -> Result<i64> {
        let p = self.prime_frames()? as i64;
        let lead = self.lead.iter().copied().max().unwrap_or(0) as i64;
        Ok((start - p).max(-lead).min(start))
    }

    /// Does stem `i` take part in priming (has inserts or sends)?
    pub fn stem_primes(&self, i: usize) -> bool {
        self.stems
            .get(i)
            .is_some_and(|s| !s.inserts.is_empty() || !s.sends.is_empty())
    }

    /// How far ahead of the block stem `i`'s input is read, in frames: its inserts'
    /// latency, as the render reads it (0 for no such stem).
    pub fn stem_lead(&mut self, i: usize) -> Result<usize> {
        self.ensure_built()?;
        Ok(self.lead.get(i).copied().unwrap_or(0))
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
        self.ret_inserts.len()
    }

    /// Id of return `r`.
    pub fn return_id(&self, r: usize) -> Option<&str> {
        self.graph.spec().returns.get(r).map(|x| x.id.as_str())
    }

    /// Channels of stem `i` in the package (0 for no such stem).
    pub fn stem_channels(&self, i: usize) -> usize {
        self.graph.spec().stems.get(i).map_or(0, |s| s.width)
    }

    /// The layout of the mix ([`Mixer::process`]'s output).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Total input channels expected by [`Mixer::process`] (all stems, in order).
    pub fn input_channels(&self) -> usize {
        self.graph.spec().stems.iter().map(|s| s.width).sum()
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
        if let Some(x) = self.ret_mute.get_mut(r) {
            *x = on;
        }
    }

    /// The reviewer's level offset for return `r`, dB.
    pub fn set_return_trim_db(&mut self, r: usize, db: f64) {
        if let Some(x) = self.ret_trim_db.get_mut(r) {
            *x = if db.is_finite() { db } else { -200.0 };
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
            Monitor::MandE => !self.graph.spec().buses[b].dialogue,
            Monitor::Bus(x) => x == b,
        }
    }

    /// Is stem `i` heard now (in the mix, and its bus monitored)?
    pub fn audible(&self, i: usize) -> bool {
        self.in_mix(i) && self.bus_heard(self.graph.spec().stems[i].bus)
    }

    /// Is return `r` heard now (not muted, its bus monitored, and a stem in the
    /// mix sends to it)?
    pub fn return_audible(&self, r: usize) -> bool {
        let spec = self.graph.spec();
        let Some(x) = spec.returns.get(r) else {
            return false;
        };
        !self.ret_mute[r]
            && self.bus_heard(x.bus)
            && spec
                .stems
                .iter()
                .enumerate()
                .any(|(i, s)| self.in_mix(i) && s.sends.iter().any(|s| s.to == r))
    }

    /// The reviewer's controls as the graph takes them.
    fn controls(&self) -> Controls {
        let n = self.stems.len();
        let trim: Vec<f64> = self.trim_db.iter().map(|&d| db_to_lin(d)).collect();
        Controls {
            active: (0..n).map(|i| self.in_mix(i)).collect(),
            fader: (0..n).map(|i| self.master * trim[i]).collect(),
            post_send: trim,
            ret: self
                .ret_mute
                .iter()
                .zip(&self.ret_trim_db)
                .map(|(&m, &t)| if m { 0.0 } else { self.master * db_to_lin(t) })
                .collect(),
        }
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
    /// least `frames` long; stem `i`'s from `start + stem_lead(i)`. Returns the
    /// monitored mix in [`Mixer::layout`]. A block that does not continue the last
    /// one starts the inserts and returns from silence unless [`Mixer::prime`] ran
    /// first.
    pub fn process(&mut self, start: i64, inputs: &[&[f32]], frames: usize) -> Result<&[Vec<f32>]> {
        self.run(start, inputs, frames, true)?;
        let nch = self.layout.len();
        Ok(match self.monitor {
            Monitor::MandE => &self.block.me,
            Monitor::Bus(b) => &self.block.buses[b * nch..(b + 1) * nch],
            Monitor::Printmaster | Monitor::Stem(_) => &self.block.printmaster,
        })
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
        if start < 0 {
            // Before the reel only the stems read ahead run, each from its own first
            // sample, and only their inserts: the render starts them so (their output,
            // from before the reel, is dropped; nothing is sent).
            let before = frames.min(start.unsigned_abs() as usize);
            let runs: Vec<(usize, f32)> = (0..self.stems.len())
                .map(|i| {
                    let from = (-(self.lead[i] as i64)).max(start);
                    let skip = (from - start) as usize;
                    let on = skip < before && self.in_mix(i);
                    (
                        if on { skip } else { before },
                        self.stems[i].storage_gain as f32,
                    )
                })
                .collect();
            let mut c0 = 0;
            for (i, &(skip, k)) in runs.iter().enumerate() {
                let (buf, chain) = self.graph.stem_and_chain_mut(i);
                let w = buf.len();
                if skip < before {
                    for (b, x) in buf.iter_mut().zip(&inputs[c0..c0 + w]) {
                        b.clear();
                        b.extend(x[skip..before].iter().map(|v| v * k));
                    }
                    chain.process(buf, before - skip)?;
                }
                c0 += w;
            }
            self.pos = Some(start + before as i64);
            if before < frames {
                let rest: Vec<&[f32]> = inputs.iter().map(|c| &c[before..]).collect();
                self.run(0, &rest, frames - before, mix)?;
            }
            if mix {
                // Silence before the reel, then what was mixed from its start.
                let b = &mut self.block;
                let nch = self.layout.len();
                let nb = self.graph.spec().buses.len() * nch;
                b.buses.resize(nb, Vec::new());
                for v in [&mut b.dialogue, &mut b.me, &mut b.printmaster] {
                    v.resize(nch, Vec::new());
                }
                for c in b
                    .buses
                    .iter_mut()
                    .chain(b.dialogue.iter_mut())
                    .chain(b.me.iter_mut())
                    .chain(b.printmaster.iter_mut())
                {
                    c.truncate(frames - before);
                    c.splice(0..0, std::iter::repeat_n(0.0, before));
                }
            }
            return Ok(());
        }
        let ctl = self.controls();
        // The stems' stored channels, with the storage gain undone (a power of two).
        let mut c0 = 0;
        for (i, s) in self.stems.iter().enumerate() {
            let buf = self.graph.stem_mut(i);
            let k = s.storage_gain as f32;
            for (b, x) in buf.iter_mut().zip(&inputs[c0..]) {
                b.clear();
                if k == 1.0 {
                    b.extend_from_slice(&x[..frames]);
                } else {
                    b.extend(x[..frames].iter().map(|v| v * k));
                }
            }
            c0 += buf.len();
        }
        self.graph
            .process(&mut self.backend, start, frames, Some(&ctl))?;
        self.pos = Some(start + frames as i64);
        if mix {
            self.graph.sum(
                &mut self.backend,
                start,
                frames,
                Some(&ctl),
                &[],
                &mut self.block,
            )?;
        }
        Ok(())
    }

    /// The last mix folded to stereo for the speakers (Lo/Ro when wider than stereo).
    pub fn speakers(&mut self, frames: usize) -> &[Vec<f32>; 2] {
        let nch = self.layout.len();
        let out: &[Vec<f32>] = match self.monitor {
            Monitor::MandE => &self.block.me,
            Monitor::Bus(b) => &self.block.buses[b * nch..(b + 1) * nch],
            Monitor::Printmaster | Monitor::Stem(_) => &self.block.printmaster,
        };
        for (o, dst) in self.stereo.iter_mut().enumerate() {
            dst.clear();
            dst.resize(frames, 0.0);
            for (c, x) in out.iter().enumerate().take(nch) {
                let g = self.speakers[o * nch + c];
                if g == 0.0 {
                    continue;
                }
                for (d, &x) in dst.iter_mut().zip(&x[..frames]) {
                    *d += g * x;
                }
            }
        }
        &self.stereo
    }
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{AudioInfo, BusInfo, FORMAT};
    use super::*;

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

    use super::super::manifest::Processing;
    use crate::io::{OutputFormat, WavSpec, WavWriter};
    use crate::pipeline::{MixBlock, Mixer as RenderMixer};

    /// A deterministic test signal: a decaying chirp-ish tone plus noise bursts.
    fn signal(len: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut rng = crate::demo::Rng::new(seed);
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
        let mut rng = crate::demo::Rng::new(seed);
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
    fn processed_session(dir: &std::path::Path) -> (crate::session::Plan, Vec<Vec<f32>>, Mixer) {
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
inserts = [ { type = "futz", low_hz = 300.0, high_hz = 3400.0 },
            { type = "denoise", reduction_db = 10 } ]
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
        let plan = crate::session::Session::load(&session)
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
            let bytes = super::super::manifest::IrInfo::encode(ir);
            mx.set_ir(&info.file, info.decode(&bytes, 48_000).unwrap());
        }
        (plan, vec![dx, ml, mr], mx)
    }

    /// The render's printmaster and its first bus (DX), played from the start in
    /// blocks of `block` frames.
    fn render_printmaster(
        plan: &crate::session::Plan,
        block_frames: usize,
    ) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut backend = CpuBackend::new();
        let mut r = RenderMixer::new(plan, &backend).unwrap();
        let nch = plan.layout.len();
        let (mut pm, mut dx) = (vec![Vec::new(); nch], vec![Vec::new(); nch]);
        let mut block = MixBlock::default();
        while (r.pos as usize) < LEN {
            let n = (LEN - r.pos as usize).min(block_frames);
            r.next_block(&mut backend, n, &mut block).unwrap();
            for (o, c) in pm.iter_mut().zip(&block.printmaster) {
                o.extend_from_slice(&c[..n]);
            }
            for (o, c) in dx.iter_mut().zip(&block.buses[..nch]) {
                o.extend_from_slice(&c[..n]);
            }
        }
        (pm, dx)
    }

    fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>], from: usize, n: usize) -> f32 {
        a.iter()
            .zip(b)
            .flat_map(|(x, y)| x[from..from + n].iter().zip(&y[from..from + n]))
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max)
    }

    /// The preview's mix of stems with inserts (a denoise with latency among them),
    /// sends and reverb returns is the render's printmaster bit for bit, played from
    /// the start in the same blocks (the same graph runs both; in other blocks the
    /// convolutions' partial-block FFTs round differently, within 2e-6); after a
    /// jump, once primed over `prime_frames()`, it equals it within 2e-6 (about
    /// -114 dBFS: the EQs' state is primed to their 120 dB decay, not from the reel's
    /// start).
    #[test]
    fn inserts_sends_and_returns_mix_as_the_render_does() {
        let dir = std::env::temp_dir().join(format!("dubstage-wasm-parity-{}", std::process::id()));
        let (plan, audio, mut mx) = processed_session(&dir);
        let (want, want_dx) = render_printmaster(&plan, 4096);
        let peak = want.iter().flatten().fold(0f32, |a, &v| a.max(v.abs()));
        assert!(peak > 0.05, "the render is not silent ({peak})");
        const TOL: f32 = 2e-6;

        // Each stem's input is read ahead by its inserts' latency, as the render does:
        // the music's denoise has an STFT frame of it.
        let leads = [mx.stem_lead(0).unwrap(), mx.stem_lead(1).unwrap()];
        assert_eq!(leads[0], 0);
        assert!(
            leads[1] > 1000,
            "the denoise insert's latency: {}",
            leads[1]
        );
        let stem_of = [0, 1, 1];
        let padded: Vec<Vec<f32>> = audio
            .iter()
            .map(|c| [c.as_slice(), &[0.0; 8192]].concat())
            .collect();
        let input = |t: usize, n: usize| -> Vec<&[f32]> {
            padded
                .iter()
                .zip(stem_of)
                .map(|(c, s)| &c[t + leads[s]..t + leads[s] + n])
                .collect()
        };
        // played from the start in the page's 4096-frame blocks
        let mut got = vec![Vec::new(); 6];
        let p0 = mx.prime_start(0).unwrap();
        assert_eq!(
            p0,
            -(leads[1] as i64),
            "primed from the longest lead before the reel"
        );
        let input_at = |t: i64, n: usize| -> Vec<Vec<f32>> {
            padded
                .iter()
                .zip(stem_of)
                .map(|(c, s)| {
                    (0..n as i64)
                        .map(|k| {
                            let i = t + k + leads[s] as i64;
                            if i < 0 { 0.0 } else { c[i as usize] }
                        })
                        .collect()
                })
                .collect()
        };
        let pre = input_at(p0, p0.unsigned_abs() as usize);
        let pre: Vec<&[f32]> = pre.iter().map(|c| c.as_slice()).collect();
        mx.prime(p0, &pre, p0.unsigned_abs() as usize).unwrap();
        let mut t = 0;
        while t < LEN {
            let n = (LEN - t).min(4096);
            assert!(!mx.needs_prime(t as i64).unwrap() || t == 0);
            let out = mx.process(t as i64, &input(t, n), n).unwrap();
            for (g, o) in got.iter_mut().zip(out) {
                g.extend_from_slice(&o[..n]);
            }
            t += n;
        }
        let d = max_diff(&got, &want, 0, LEN);
        eprintln!("parity from the start: {d:e} (peak {peak})");
        assert!(
            got == want,
            "from the start: max |preview - render| = {d:e}"
        );
        // A render in other blocks differs by the rounding of the convolutions'
        // partial-block FFTs only.
        let (other, _) = render_printmaster(&plan, 10_000);
        let d = max_diff(&got, &other, 0, LEN);
        eprintln!("parity with a render in 10 000-frame blocks: {d:e}");
        assert!(d < TOL, "render in other blocks: {d:e}");

        // A jump to 1.3 s: primed, the block matches; unprimed, it does not. Heard on
        // the DX bus (dialogue and its hall): the music's denoise adapts to the noise
        // over seconds, so after a jump it differs from the render until it has.
        mx.set_monitor(Monitor::Bus(0));
        let at = 62_400usize;
        let p = mx.prime_frames().unwrap();
        // dx: EQ ring + plate (3000 + 144 predelay) + hall (7000)
        assert!(p > 3000 + 144 + 7000 - 1, "prime frames {p}");
        assert!(mx.needs_prime(at as i64).unwrap());
        let mut s = mx.prime_start(at as i64).unwrap() as usize;
        assert_eq!(s, at - p);
        while s < at {
            let n = (at - s).min(1000);
            mx.prime(s as i64, &input(s, n), n).unwrap();
            s += n;
        }
        assert!(!mx.needs_prime(at as i64).unwrap());
        let ins = input(at, 4096);
        let primed: Vec<Vec<f32>> = mx
            .process(at as i64, &ins, 4096)
            .unwrap()
            .iter()
            .map(|c| c.to_vec())
            .collect();
        let shift = |v: &[Vec<f32>]| -> Vec<Vec<f32>> {
            v.iter().map(|c| c[at..at + 4096].to_vec()).collect()
        };
        let want_at = shift(&want_dx);
        let d = max_diff(&primed, &want_at, 0, 4096);
        eprintln!("parity after a primed jump: {d:e}");
        assert!(d < TOL, "after a primed jump: {d:e}");
        // unprimed (state from a far-away block): the reverb tails are wrong
        mx.process(4096, &input(4096, 4096), 4096).unwrap();
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
        mx.set_monitor(Monitor::Printmaster);
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
