//! The preview mixer: the stems of a preview package into the monitored mix,
//! with the core's own pieces, so that the browser mixes as `dubstage render`:
//!
//! - per stem, [`Envelope`] (session gain, automation, mute) times its bus's
//!   [`Envelope`] (bus gain and automation), times the reviewer's trim;
//! - [`route_matrix`] (constant-power pan, standard fold-downs) from the stem's
//!   layout into the mix layout;
//! - one [`SumJob`] on the [`CpuBackend`] (the CPU twin of the GPU summing shader).
//!
//! The render's normalization gain (a delivery profile's static gain) scales
//! every stem; its true-peak limiter is not simulated.
//!
//! Monitoring (printmaster, M&E, one bus, one stem), mute and solo zero stem
//! envelopes. The mix is in the manifest's `mix_layout` (the printmaster's
//! layout for a full package); [`Mixer::speakers`] folds it to stereo with the
//! core's [`downmix_matrix`] (Lo/Ro, ITU-R BS.775) for listening.

use crate::manifest::{BusInfo, Manifest, StemInfo};
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Backend, SumJob};
use dubstage_core::mix::{downmix_matrix, route_matrix};
use dubstage_core::session::PanSpec;
use dubstage_core::stem::Envelope;
use dubstage_core::stem::automation::db_to_lin;
use dubstage_core::{Error, Layout, Result};

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
    buses: Vec<BusInfo>,
    bus_of: Vec<usize>,
    widths: Vec<usize>,
    layout: Layout,
    stem_env: Vec<Envelope>,
    bus_env: Vec<Envelope>,
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
}

impl Mixer {
    /// A mixer for the stems of a package.
    pub fn new(m: &Manifest) -> Result<Mixer> {
        let layout = m.mix_layout()?;
        let nch = layout.len();
        let mut bus_of = Vec::with_capacity(m.stems.len());
        let mut cols = Vec::new();
        let mut envelope_of = Vec::new();
        let mut widths = Vec::with_capacity(m.stems.len());
        for (si, s) in m.stems.iter().enumerate() {
            let b = m.buses.iter().position(|b| b.id == s.bus).ok_or_else(|| {
                Error::stem(&s.id, format!("bus '{}' is not in the manifest", s.bus))
            })?;
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
        }
        let ni = cols.len();
        let mut matrix = vec![0f32; nch * ni];
        for (i, col) in cols.iter().enumerate() {
            for (o, &g) in col.iter().enumerate() {
                matrix[o * ni + i] = g;
            }
        }
        let n = m.stems.len();
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
            widths,
            layout,
            matrix,
            envelope_of,
            speakers: downmix_matrix(layout, Layout::Stereo),
            master: db_to_lin(m.master_gain_db),
            trim_db: vec![0.0; n],
            mute: vec![false; n],
            solo: vec![false; n],
            monitor: Monitor::Printmaster,
            backend: CpuBackend::new(),
            envelopes: vec![Vec::new(); n],
            out: vec![Vec::new(); nch],
            stereo: [Vec::new(), Vec::new()],
        })
    }

    /// Number of stems.
    pub fn stems(&self) -> usize {
        self.stems.len()
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
        self.envelope_of.len()
    }

    /// The reviewer's level offset for stem `i`, in dB (on top of the session's gain).
    pub fn set_trim_db(&mut self, i: usize, db: f64) {
        if let Some(t) = self.trim_db.get_mut(i) {
            *t = if db.is_finite() { db } else { -200.0 };
        }
    }

    /// Mutes stem `i` for the reviewer.
    pub fn set_mute(&mut self, i: usize, on: bool) {
        if let Some(m) = self.mute.get_mut(i) {
            *m = on;
        }
    }

    /// Solos stem `i`: while any stem is soloed, only soloed stems are heard.
    pub fn set_solo(&mut self, i: usize, on: bool) {
        if let Some(s) = self.solo.get_mut(i) {
            *s = on;
        }
    }

    /// What to monitor.
    pub fn set_monitor(&mut self, m: Monitor) {
        self.monitor = m;
    }

    /// The current monitoring choice.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Is stem `i` heard now (monitoring, the session's own mute, reviewer mute and solo)?
    pub fn audible(&self, i: usize) -> bool {
        let Some(s) = self.stems.get(i) else {
            return false;
        };
        let bus = self.bus_of[i];
        let monitored = match self.monitor {
            Monitor::Printmaster => !s.mute,
            Monitor::MandE => !s.mute && !self.buses[bus].dialogue,
            Monitor::Bus(b) => !s.mute && bus == b,
            Monitor::Stem(k) => k == i,
        };
        let any_solo = self.solo.iter().any(|&x| x);
        monitored && !self.mute[i] && (!any_solo || self.solo[i])
    }

    /// Mixes `frames` frames starting at reel sample `start`. `inputs` holds
    /// [`Mixer::input_channels`] planar channels (stem 0's channels first), each at
    /// least `frames` long. Returns the mix in [`Mixer::layout`].
    pub fn process(&mut self, start: i64, inputs: &[&[f32]], frames: usize) -> Result<&[Vec<f32>]> {
        if inputs.len() != self.input_channels() {
            return Err(Error::Invalid(format!(
                "mixer: {} input channels, expected {}",
                inputs.len(),
                self.input_channels()
            )));
        }
        let audible: Vec<bool> = (0..self.stems.len()).map(|i| self.audible(i)).collect();
        for (i, env) in self.envelopes.iter_mut().enumerate() {
            env.clear();
            env.resize(frames, 0.0);
            if !audible[i] {
                continue;
            }
            // A stem muted in the session is heard only when monitored alone.
            let mut se = self.stem_env[i].clone();
            se.mute = false;
            se.fill(start, env, false);
            self.bus_env[self.bus_of[i]].fill(start, env, true);
            let k = (self.master * self.stems[i].storage_gain * db_to_lin(self.trim_db[i])) as f32;
            if k != 1.0 {
                env.iter_mut().for_each(|x| *x *= k);
            }
        }
        let envs: Vec<&[f32]> = self.envelopes.iter().map(|e| e.as_slice()).collect();
        let job = SumJob {
            frames,
            inputs,
            envelope_of: &self.envelope_of,
            envelopes: &envs,
            matrix: &self.matrix,
            outputs: self.layout.len(),
        };
        self.backend.sum(&job, &mut self.out)?;
        Ok(&self.out)
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
}
