//! Parametric EQ: cascades of second-order IIR sections ("biquads") designed
//! with the formulas of Robert Bristow-Johnson, *Cookbook formulae for audio EQ
//! biquad filter coefficients* (the "Audio EQ Cookbook", W3C Audio WG note,
//! <https://www.w3.org/TR/audio-eq-cookbook/>).
//!
//! Every cookbook filter is the bilinear transform, pre-warped at the corner
//! frequency `f0`, of an analog prototype `H(s)`. The digital response at a
//! frequency `f` is therefore exactly `H(jΩ)` with `Ω = tan(π f / fs) / tan(π f0 / fs)`
//! — that is what the tests compare against ([`Band::analog_response`]).
//!
//! High- and low-pass filters of 12/24/36/48 dB/octave are Butterworth filters of
//! order N = 2/4/6/8 built as N/2 cookbook sections, section k (k = 1..N/2)
//! having `Q_k = 1 / (2 sin((2k − 1) π / (2N)))`. Derivation: the Butterworth
//! poles of order N lie on the unit circle at angles `θ_k = (2k − 1) π / (2N)`
//! from the imaginary axis, and a conjugate pole pair at angle θ has the
//! denominator `s² + 2 sin(θ) s + 1 = s² + s/Q + 1`, hence `Q = 1/(2 sin θ)`
//! (e.g. N = 2: Q = 0.7071; N = 4: Q = 1.3066, 0.5412). All sections share
//! the pre-warped corner, so the cascade is the bilinear transform of the
//! analog Butterworth: `|H(f)|² = 1 / (1 + Ω^(2N))` (low-pass), `-3.01 dB` at `f0`.
//!
//! Processing is planar (one `Vec<f32>` per channel), streaming (state is kept
//! between calls), with state and arithmetic in f64 (transposed direct form II).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Slope of a high- or low-pass filter (Butterworth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "u32", into = "u32")]
pub enum Slope {
    /// 12 dB/octave, order 2 (one section).
    #[default]
    Db12,
    /// 24 dB/octave, order 4.
    Db24,
    /// 36 dB/octave, order 6.
    Db36,
    /// 48 dB/octave, order 8.
    Db48,
}

impl Slope {
    /// Butterworth order: 2, 4, 6 or 8.
    pub fn order(self) -> usize {
        match self {
            Slope::Db12 => 2,
            Slope::Db24 => 4,
            Slope::Db36 => 6,
            Slope::Db48 => 8,
        }
    }
    /// Q of each second-order section: `1 / (2 sin((2k − 1) π / (2N)))`, k = 1..N/2.
    pub fn butterworth_qs(self) -> Vec<f64> {
        let n = self.order() as f64;
        (1..=self.order() / 2)
            .map(|k| 1.0 / (2.0 * ((2.0 * k as f64 - 1.0) * PI / (2.0 * n)).sin()))
            .collect()
    }
}

impl TryFrom<u32> for Slope {
    type Error = String;
    fn try_from(db: u32) -> std::result::Result<Self, String> {
        match db {
            12 => Ok(Slope::Db12),
            24 => Ok(Slope::Db24),
            36 => Ok(Slope::Db36),
            48 => Ok(Slope::Db48),
            _ => Err(format!(
                "slope {db} dB/oct is not supported (use 12, 24, 36 or 48)"
            )),
        }
    }
}

impl From<Slope> for u32 {
    fn from(s: Slope) -> u32 {
        s.order() as u32 * 6
    }
}

/// One EQ band, as written in a session (`{ kind = "peak", freq = 1000, gain_db = 3, q = 1.4 }`).
///
/// Frequencies are in Hz and must lie in `(0, fs/2)`; gains in dB; `q` > 0.
/// Shelves take either `q` or the cookbook shelf `slope` S (`0 < S`, S = 1 is the
/// steepest shelf without overshoot); with neither, S = 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Band {
    /// Butterworth high-pass (`slope` in dB/octave: 12, 24, 36, 48; default 12).
    HighPass {
        freq: f64,
        #[serde(default)]
        slope: Slope,
    },
    /// Butterworth low-pass.
    LowPass {
        freq: f64,
        #[serde(default)]
        slope: Slope,
    },
    /// Cookbook low shelf: `H(s) = A (s² + (√A/Q) s + A) / (A s² + (√A/Q) s + 1)`.
    LowShelf {
        freq: f64,
        gain_db: f64,
        #[serde(default)]
        q: Option<f64>,
        #[serde(default)]
        slope: Option<f64>,
    },
    /// Cookbook high shelf: `H(s) = A (A s² + (√A/Q) s + 1) / (s² + (√A/Q) s + A)`.
    HighShelf {
        freq: f64,
        gain_db: f64,
        #[serde(default)]
        q: Option<f64>,
        #[serde(default)]
        slope: Option<f64>,
    },
    /// Cookbook peaking EQ: `H(s) = (s² + s (A/Q) + 1) / (s² + s/(A Q) + 1)`.
    Peak { freq: f64, gain_db: f64, q: f64 },
    /// Cookbook notch: `H(s) = (s² + 1) / (s² + s/Q + 1)`.
    Notch { freq: f64, q: f64 },
}

/// Normalized biquad coefficients (a0 = 1):
/// `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] − a1 y[n-1] − a2 y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

impl Biquad {
    fn normalized(b: [f64; 3], a: [f64; 3]) -> Biquad {
        Biquad {
            b0: b[0] / a[0],
            b1: b[1] / a[0],
            b2: b[2] / a[0],
            a1: a[1] / a[0],
            a2: a[2] / a[0],
        }
    }

    /// Cookbook LPF.
    pub fn low_pass(fs: f64, f0: f64, q: f64) -> Biquad {
        let (cw, alpha) = omega(fs, f0, q);
        Biquad::normalized(
            [(1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0],
            [1.0 + alpha, -2.0 * cw, 1.0 - alpha],
        )
    }
    /// Cookbook HPF.
    pub fn high_pass(fs: f64, f0: f64, q: f64) -> Biquad {
        let (cw, alpha) = omega(fs, f0, q);
        Biquad::normalized(
            [(1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0],
            [1.0 + alpha, -2.0 * cw, 1.0 - alpha],
        )
    }
    /// Cookbook notch.
    pub fn notch(fs: f64, f0: f64, q: f64) -> Biquad {
        let (cw, alpha) = omega(fs, f0, q);
        Biquad::normalized([1.0, -2.0 * cw, 1.0], [1.0 + alpha, -2.0 * cw, 1.0 - alpha])
    }
    /// Cookbook peaking EQ, `A = 10^(gain_db/40)`.
    pub fn peak(fs: f64, f0: f64, gain_db: f64, q: f64) -> Biquad {
        let a = 10f64.powf(gain_db / 40.0);
        let (cw, alpha) = omega(fs, f0, q);
        Biquad::normalized(
            [1.0 + alpha * a, -2.0 * cw, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cw, 1.0 - alpha / a],
        )
    }
    /// Cookbook low shelf.
    pub fn low_shelf(fs: f64, f0: f64, gain_db: f64, q: f64) -> Biquad {
        let a = 10f64.powf(gain_db / 40.0);
        let (cw, alpha) = omega(fs, f0, q);
        let t = 2.0 * a.sqrt() * alpha;
        Biquad::normalized(
            [
                a * ((a + 1.0) - (a - 1.0) * cw + t),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cw),
                a * ((a + 1.0) - (a - 1.0) * cw - t),
            ],
            [
                (a + 1.0) + (a - 1.0) * cw + t,
                -2.0 * ((a - 1.0) + (a + 1.0) * cw),
                (a + 1.0) + (a - 1.0) * cw - t,
            ],
        )
    }
    /// Cookbook high shelf.
    pub fn high_shelf(fs: f64, f0: f64, gain_db: f64, q: f64) -> Biquad {
        let a = 10f64.powf(gain_db / 40.0);
        let (cw, alpha) = omega(fs, f0, q);
        let t = 2.0 * a.sqrt() * alpha;
        Biquad::normalized(
            [
                a * ((a + 1.0) + (a - 1.0) * cw + t),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cw),
                a * ((a + 1.0) + (a - 1.0) * cw - t),
            ],
            [
                (a + 1.0) - (a - 1.0) * cw + t,
                2.0 * ((a - 1.0) - (a + 1.0) * cw),
                (a + 1.0) - (a - 1.0) * cw - t,
            ],
        )
    }

    /// Complex response `(re, im)` of the digital filter at `f` Hz (evaluates
    /// `B(z)/A(z)` on the unit circle).
    pub fn response(&self, fs: f64, f: f64) -> (f64, f64) {
        let w = 2.0 * PI * f / fs;
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = (
            self.b0 + self.b1 * c1 + self.b2 * c2,
            self.b1 * s1 + self.b2 * s2,
        );
        let den = (
            1.0 + self.a1 * c1 + self.a2 * c2,
            self.a1 * s1 + self.a2 * s2,
        );
        cdiv(num, den)
    }
}

fn omega(fs: f64, f0: f64, q: f64) -> (f64, f64) {
    let w0 = 2.0 * PI * f0 / fs;
    (w0.cos(), w0.sin() / (2.0 * q))
}

fn cdiv(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let d = b.0 * b.0 + b.1 * b.1;
    ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
}

fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// Cookbook shelf Q from the shelf slope S: `1/Q = sqrt((A + 1/A)(1/S − 1) + 2)`.
fn shelf_q(gain_db: f64, q: Option<f64>, slope: Option<f64>) -> std::result::Result<f64, String> {
    match (q, slope) {
        (Some(_), Some(_)) => Err("give either q or slope for a shelf, not both".into()),
        (Some(q), None) => Ok(q),
        (None, s) => {
            let s = s.unwrap_or(1.0);
            if !(s > 0.0 && s.is_finite()) {
                return Err(format!("shelf slope {s} must be > 0"));
            }
            let a = 10f64.powf(gain_db / 40.0);
            let inv = ((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0).sqrt();
            if !(inv > 0.0 && inv.is_finite()) {
                return Err(format!("shelf slope {s} is too steep for {gain_db} dB"));
            }
            Ok(1.0 / inv)
        }
    }
}

impl Band {
    /// Corner/centre frequency in Hz.
    pub fn freq(&self) -> f64 {
        match *self {
            Band::HighPass { freq, .. }
            | Band::LowPass { freq, .. }
            | Band::LowShelf { freq, .. }
            | Band::HighShelf { freq, .. }
            | Band::Peak { freq, .. }
            | Band::Notch { freq, .. } => freq,
        }
    }

    /// Checks the parameters against the sample rate; the message says what is wrong.
    pub fn validate(&self, sample_rate: u32) -> std::result::Result<(), String> {
        let fs = sample_rate as f64;
        let f = self.freq();
        if !(f > 0.0 && f < fs / 2.0) {
            return Err(format!(
                "frequency {f} Hz must lie between 0 and {} Hz (half the sample rate)",
                fs / 2.0
            ));
        }
        let check_gain = |g: f64| {
            if g.is_finite() && g.abs() <= 48.0 {
                Ok(())
            } else {
                Err(format!("gain {g} dB is outside ±48 dB"))
            }
        };
        let check_q = |q: f64| {
            if q.is_finite() && q > 0.0 && q <= 100.0 {
                Ok(())
            } else {
                Err(format!("q {q} must be > 0 and ≤ 100"))
            }
        };
        match *self {
            Band::HighPass { .. } | Band::LowPass { .. } => Ok(()),
            Band::LowShelf {
                gain_db, q, slope, ..
            }
            | Band::HighShelf {
                gain_db, q, slope, ..
            } => {
                check_gain(gain_db)?;
                check_q(shelf_q(gain_db, q, slope)?)
            }
            Band::Peak { gain_db, q, .. } => {
                check_gain(gain_db)?;
                check_q(q)
            }
            Band::Notch { q, .. } => check_q(q),
        }
    }

    /// The cascade of biquads realizing this band. Call [`Band::validate`] first.
    pub fn biquads(&self, sample_rate: u32) -> Vec<Biquad> {
        let fs = sample_rate as f64;
        match *self {
            Band::HighPass { freq, slope } => slope
                .butterworth_qs()
                .into_iter()
                .map(|q| Biquad::high_pass(fs, freq, q))
                .collect(),
            Band::LowPass { freq, slope } => slope
                .butterworth_qs()
                .into_iter()
                .map(|q| Biquad::low_pass(fs, freq, q))
                .collect(),
            Band::LowShelf {
                freq,
                gain_db,
                q,
                slope,
            } => {
                let q = shelf_q(gain_db, q, slope).unwrap_or(std::f64::consts::FRAC_1_SQRT_2);
                vec![Biquad::low_shelf(fs, freq, gain_db, q)]
            }
            Band::HighShelf {
                freq,
                gain_db,
                q,
                slope,
            } => {
                let q = shelf_q(gain_db, q, slope).unwrap_or(std::f64::consts::FRAC_1_SQRT_2);
                vec![Biquad::high_shelf(fs, freq, gain_db, q)]
            }
            Band::Peak { freq, gain_db, q } => vec![Biquad::peak(fs, freq, gain_db, q)],
            Band::Notch { freq, q } => vec![Biquad::notch(fs, freq, q)],
        }
    }

    /// The analog prototype's response `H(jΩ)` at the pre-warped frequency
    /// `Ω = tan(π f/fs) / tan(π f0/fs)`, computed from the prototype formulas
    /// (not from the digital coefficients): the exact response the digital
    /// filter must have. Returns `(re, im)`.
    pub fn analog_response(&self, sample_rate: u32, f: f64) -> (f64, f64) {
        let fs = sample_rate as f64;
        let w = (PI * f / fs).tan() / (PI * self.freq() / fs).tan();
        let s = (0.0, w);
        let s2 = (-w * w, 0.0);
        // H = (n2 s² + n1 s + n0) / (d2 s² + d1 s + d0)
        let ratio = |n: [f64; 3], d: [f64; 3]| {
            let num = (n[2] * s2.0 + n[0], n[1] * s.1);
            let den = (d[2] * s2.0 + d[0], d[1] * s.1);
            cdiv(num, den)
        };
        match *self {
            Band::HighPass { slope, .. } => {
                slope.butterworth_qs().iter().fold((1.0, 0.0), |h, q| {
                    cmul(h, ratio([0.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0]))
                })
            }
            Band::LowPass { slope, .. } => {
                slope.butterworth_qs().iter().fold((1.0, 0.0), |h, q| {
                    cmul(h, ratio([1.0, 0.0, 0.0], [1.0, 1.0 / q, 1.0]))
                })
            }
            Band::LowShelf {
                gain_db, q, slope, ..
            } => {
                let a = 10f64.powf(gain_db / 40.0);
                let k = a.sqrt() / shelf_q(gain_db, q, slope).unwrap_or(1.0);
                let h = ratio([a, k, 1.0], [1.0, k, a]);
                (a * h.0, a * h.1)
            }
            Band::HighShelf {
                gain_db, q, slope, ..
            } => {
                let a = 10f64.powf(gain_db / 40.0);
                let k = a.sqrt() / shelf_q(gain_db, q, slope).unwrap_or(1.0);
                let h = ratio([1.0, k, a], [a, k, 1.0]);
                (a * h.0, a * h.1)
            }
            Band::Peak { gain_db, q, .. } => {
                let a = 10f64.powf(gain_db / 40.0);
                ratio([1.0, a / q, 1.0], [1.0, 1.0 / (a * q), 1.0])
            }
            Band::Notch { q, .. } => ratio([1.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0]),
        }
    }
}

/// A multi-channel cascade of biquads with streaming f64 state.
#[derive(Debug, Clone)]
pub struct Eq {
    sections: Vec<Biquad>,
    /// `state[ch][section] = (s1, s2)` (transposed direct form II).
    state: Vec<Vec<(f64, f64)>>,
}

impl Eq {
    /// Builds the cascade of `bands` (in order) for `channels` channels.
    /// Errors (`Error::Invalid`) name the band index (0-based) and the problem.
    pub fn new(bands: &[Band], sample_rate: u32, channels: usize) -> Result<Eq> {
        let mut sections = Vec::new();
        for (i, b) in bands.iter().enumerate() {
            b.validate(sample_rate)
                .map_err(|m| Error::Invalid(format!("EQ band {i}: {m}")))?;
            sections.extend(b.biquads(sample_rate));
        }
        Ok(Eq::from_biquads(sections, channels))
    }

    /// A cascade of explicit sections.
    pub fn from_biquads(sections: Vec<Biquad>, channels: usize) -> Eq {
        let state = vec![vec![(0.0, 0.0); sections.len()]; channels];
        Eq { sections, state }
    }

    /// The sections in processing order.
    pub fn sections(&self) -> &[Biquad] {
        &self.sections
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.state.len()
    }

    /// Clears the filter state.
    pub fn reset(&mut self) {
        for ch in &mut self.state {
            ch.fill((0.0, 0.0));
        }
    }

    /// Filters the first `frames` samples of each channel in place.
    /// `planar.len()` must equal [`Eq::channels`] (extra channels are left untouched).
    pub fn process(&mut self, planar: &mut [Vec<f32>], frames: usize) {
        for (buf, st) in planar.iter_mut().zip(self.state.iter_mut()) {
            let n = frames.min(buf.len());
            process_channel(&self.sections, st, &mut buf[..n]);
        }
    }

    /// Filters one channel in place (for callers with slices).
    pub fn process_channel(&mut self, ch: usize, samples: &mut [f32]) {
        process_channel(&self.sections, &mut self.state[ch], samples);
    }
}

fn process_channel(sections: &[Biquad], st: &mut [(f64, f64)], buf: &mut [f32]) {
    for chunk in buf.chunks_mut(512) {
        for x in chunk.iter_mut() {
            let mut v = *x as f64;
            for (q, s) in sections.iter().zip(st.iter_mut()) {
                let y = q.b0 * v + s.0;
                s.0 = q.b1 * v - q.a1 * y + s.1;
                s.1 = q.b2 * v - q.a2 * y;
                v = y;
            }
            *x = v as f32;
        }
        // A state ringing down after silence would reach subnormal numbers (~100x slower
        // on x86): below 1e-30 (-600 dB, far under f32 output) it is flushed to zero.
        if st.iter().all(|s| s.0.abs() < 1e-30 && s.1.abs() < 1e-30) {
            st.iter_mut().for_each(|s| *s = (0.0, 0.0));
        }
    }
}

/// The latency-free ringing a cascade can keep after the input stops, in frames:
/// the time for the slowest pole to decay by 120 dB (capped at 10 s). Used for
/// letting tails ring out.
pub fn ring_frames(sections: &[Biquad], sample_rate: u32) -> usize {
    let mut worst: f64 = 0.0;
    for q in sections {
        // Pole radius r = sqrt(a2) for complex poles; for real poles the largest |root|.
        let disc = q.a1 * q.a1 - 4.0 * q.a2;
        let r = if disc < 0.0 {
            q.a2.abs().sqrt()
        } else {
            let sq = disc.sqrt();
            ((-q.a1 + sq) / 2.0).abs().max(((-q.a1 - sq) / 2.0).abs())
        };
        if r > 0.0 && r < 1.0 {
            worst = worst.max(-6.0 * std::f64::consts::LN_10 / r.ln());
        }
    }
    (worst.ceil() as usize).min(sample_rate as usize * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn butterworth_qs() {
        let q2 = Slope::Db12.butterworth_qs();
        assert!((q2[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        let q4 = Slope::Db24.butterworth_qs();
        assert!((q4[0] - 1.306_562_964_876_376_5).abs() < 1e-9);
        assert!((q4[1] - 0.541_196_100_146_197).abs() < 1e-9);
    }

    #[test]
    fn digital_matches_analog_prototype() {
        let bands = [
            Band::HighPass {
                freq: 80.0,
                slope: Slope::Db48,
            },
            Band::LowPass {
                freq: 5000.0,
                slope: Slope::Db36,
            },
            Band::LowShelf {
                freq: 200.0,
                gain_db: 6.0,
                q: None,
                slope: Some(0.8),
            },
            Band::HighShelf {
                freq: 8000.0,
                gain_db: -9.0,
                q: Some(0.9),
                slope: None,
            },
            Band::Peak {
                freq: 2500.0,
                gain_db: -12.0,
                q: 4.0,
            },
            Band::Notch {
                freq: 60.0,
                q: 10.0,
            },
        ];
        for b in &bands {
            let qs = b.biquads(48_000);
            for f in [20.0, 61.0, 199.0, 1000.0, 2500.0, 7000.0, 15000.0, 21000.0] {
                let h = qs
                    .iter()
                    .fold((1.0, 0.0), |h, q| cmul(h, q.response(48_000.0, f)));
                let a = b.analog_response(48_000, f);
                let err = ((h.0 - a.0).powi(2) + (h.1 - a.1).powi(2)).sqrt();
                assert!(
                    err < 1e-9 * (1.0 + a.0.hypot(a.1)),
                    "{b:?} at {f}: {h:?} vs {a:?}"
                );
            }
        }
    }

    #[test]
    fn slope_serde() {
        let b: Band = toml::from_str("kind = \"high_pass\"\nfreq = 80\nslope = 24").unwrap();
        assert_eq!(
            b,
            Band::HighPass {
                freq: 80.0,
                slope: Slope::Db24
            }
        );
        assert!(toml::from_str::<Band>("kind = \"high_pass\"\nfreq = 80\nslope = 18").is_err());
        assert!(
            toml::from_str::<Band>("kind = \"peak\"\nfreq = 80\nq=1\ngain_db=1\nfoo=1").is_err()
        );
    }
}
