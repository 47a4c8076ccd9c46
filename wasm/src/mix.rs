//! The preview mixer: stems (as stored in a preview package) into the
//! monitored output, through the core's [`SumJob`] and [`CpuBackend`], so that
//! the browser sums exactly as the CLI's render does.
//!
//! Per stem: session gain + automation (breakpoints interpolated linearly in dB)
//! + the reviewer's trim form one per-sample envelope; mute, solo and the
//! monitoring choice (printmaster, M&E, one bus, one stem) zero it; the routing
//! matrix takes the stem's channels to the output (constant-power pan for a mono
//! stem, identity for stereo, Lo/Ro fold for multichannel).

use crate::manifest::{Manifest, StemInfo};
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Backend, SumJob};
use dubstage_core::{Channel, Error, Layout, Result};

/// What the reviewer monitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Monitor {
    /// Every bus: the printmaster.
    Printmaster,
    /// Music and effects: every bus that is not dialogue.
    MandE,
    /// One bus by id.
    Bus(String),
    /// One stem by index.
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
            if m.stems.iter().any(|s| s.bus == b) {
                return Ok(Monitor::Bus(b.to_string()));
            }
            return Err(Error::Invalid(format!("no stem is routed to bus '{b}'")));
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

/// dB to linear amplitude.
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Constant-power pan of a mono source to a stereo pair: `pan` in [-1, 1]
/// (-1 left, 0 centre at -3 dB each side, +1 right); returns `(left, right)`.
pub fn pan_gains(pan: f64) -> (f32, f32) {
    let p = pan.clamp(-1.0, 1.0);
    let theta = (p + 1.0) * std::f64::consts::FRAC_PI_4;
    (theta.cos() as f32, theta.sin() as f32)
}

/// Lo/Ro stereo fold of one channel (ITU-R BS.775): fronts as they are, centre
/// and surrounds at -3 dB (0.7071) into their side, LFE dropped.
pub fn lo_ro(ch: Channel) -> (f32, f32) {
    const H: f32 = std::f32::consts::FRAC_1_SQRT_2;
    match ch {
        Channel::L => (1.0, 0.0),
        Channel::R => (0.0, 1.0),
        Channel::C => (H, H),
        Channel::Lfe => (0.0, 0.0),
        Channel::Ls | Channel::Lrs | Channel::Lss => (H, 0.0),
        Channel::Rs | Channel::Rrs | Channel::Rss => (0.0, H),
    }
}

/// The `(left, right)` coefficients for each channel of a stem that has `layout`
/// in the package, panned by `pan` when mono.
pub fn stereo_routing(layout: Layout, pan: f64) -> Vec<(f32, f32)> {
    match layout {
        Layout::Mono => vec![pan_gains(pan)],
        _ => layout.channels().iter().map(|&c| lo_ro(c)).collect(),
    }
}

/// Per-sample gain in dB of an automation lane at sample `t`: breakpoints
/// `(sample, dB)` sorted by sample, linear in dB between them, held before the
/// first and after the last; 0 dB with no breakpoints.
pub fn automation_db(points: &[(u64, f64)], t: u64) -> f64 {
    match points {
        [] => 0.0,
        [(_, g)] => *g,
        _ => {
            let i = points.partition_point(|p| p.0 <= t);
            if i == 0 {
                return points[0].1;
            }
            if i == points.len() {
                return points[i - 1].1;
            }
            let (t0, g0) = points[i - 1];
            let (t1, g1) = points[i];
            let f = (t - t0) as f64 / (t1 - t0) as f64;
            g0 + (g1 - g0) * f
        }
    }
}

/// The preview mixer (see the module doc).
pub struct Mixer {
    stems: Vec<StemInfo>,
    me_buses: Vec<String>,
    routing: Vec<Vec<(f32, f32)>>,
    trim_db: Vec<f64>,
    mute: Vec<bool>,
    solo: Vec<bool>,
    monitor: Monitor,
    backend: CpuBackend,
    envelopes: Vec<Vec<f32>>,
    out: Vec<Vec<f32>>,
}

impl Mixer {
    /// A mixer for the stems of a package. The output is stereo.
    pub fn new(m: &Manifest) -> Result<Mixer> {
        let mut routing = Vec::with_capacity(m.stems.len());
        for s in &m.stems {
            let layout = s.preview_layout()?;
            routing.push(stereo_routing(layout, s.pan));
        }
        let n = m.stems.len();
        Ok(Mixer {
            stems: m.stems.clone(),
            me_buses: m.me_buses(),
            routing,
            trim_db: vec![0.0; n],
            mute: vec![false; n],
            solo: vec![false; n],
            monitor: Monitor::Printmaster,
            backend: CpuBackend::new(),
            envelopes: vec![Vec::new(); n],
            out: vec![Vec::new(), Vec::new()],
        })
    }

    /// Number of stems.
    pub fn stems(&self) -> usize {
        self.stems.len()
    }

    /// Total input channels expected by [`Mixer::process`] (all stems, in order).
    pub fn input_channels(&self) -> usize {
        self.routing.iter().map(Vec::len).sum()
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
        let monitored = match &self.monitor {
            Monitor::Printmaster => !s.mute,
            Monitor::MandE => !s.mute && self.me_buses.contains(&s.bus),
            Monitor::Bus(b) => !s.mute && &s.bus == b,
            Monitor::Stem(k) => *k == i,
        };
        let any_solo = self.solo.iter().any(|&x| x);
        monitored && !self.mute[i] && (!any_solo || self.solo[i])
    }

    /// Mixes `frames` frames starting at reel sample `start`. `inputs` holds
    /// [`Mixer::input_channels`] planar channels (stem 0's channels first), each at
    /// least `frames` long. Returns the stereo output (two channels of `frames`).
    pub fn process(&mut self, start: u64, inputs: &[&[f32]], frames: usize) -> Result<&[Vec<f32>]> {
        if inputs.len() != self.input_channels() {
            return Err(Error::Invalid(format!(
                "mixer: {} input channels, expected {}",
                inputs.len(),
                self.input_channels()
            )));
        }
        let mut envelope_of = Vec::with_capacity(inputs.len());
        let mut matrix = vec![0f32; 2 * inputs.len()];
        let ni = inputs.len();
        let mut k = 0;
        let audible: Vec<bool> = (0..self.stems.len()).map(|i| self.audible(i)).collect();
        for (i, route) in self.routing.iter().enumerate() {
            let env = &mut self.envelopes[i];
            env.clear();
            if audible[i] {
                let s = &self.stems[i];
                let base = s.gain_db + self.trim_db[i];
                let k = s.storage_gain;
                if s.automation.is_empty() {
                    env.resize(frames, (k * db_to_gain(base)) as f32);
                } else {
                    env.extend((0..frames as u64).map(|t| {
                        (k * db_to_gain(base + automation_db(&s.automation, start + t))) as f32
                    }));
                }
            } else {
                env.resize(frames, 0.0);
            }
            for &(l, r) in route {
                envelope_of.push(i);
                matrix[k] = l;
                matrix[ni + k] = r;
                k += 1;
            }
        }
        let envs: Vec<&[f32]> = self.envelopes.iter().map(|e| e.as_slice()).collect();
        let job = SumJob {
            frames,
            inputs,
            envelope_of: &envelope_of,
            envelopes: &envs,
            matrix: &matrix,
            outputs: 2,
        };
        self.backend.sum(&job, &mut self.out)?;
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automation_is_linear_in_db_and_held_at_the_ends() {
        let p = [(100, -10.0), (200, 0.0)];
        assert_eq!(automation_db(&p, 0), -10.0);
        assert_eq!(automation_db(&p, 150), -5.0);
        assert_eq!(automation_db(&p, 200), 0.0);
        assert_eq!(automation_db(&p, 10_000), 0.0);
    }

    #[test]
    fn pan_is_constant_power() {
        for p in [-1.0, -0.3, 0.0, 0.5, 1.0] {
            let (l, r) = pan_gains(p);
            assert!(((l * l + r * r) - 1.0).abs() < 1e-6);
        }
        let (l, r) = pan_gains(0.0);
        assert!((l - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7 && l == r);
    }
}
