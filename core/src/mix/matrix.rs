//! Lt/Rt: the 4:2:4 matrix (left, centre, right, surround in two channels)
//! of optical and analogue stereo prints, with a passive decoder for QC.
//!
//! # Encode
//!
//! ```text
//! S  = k · Σ surrounds, band-limited (HPF 100 Hz, LPF 7 kHz, 12 dB/oct Butterworth)
//! Lt = A[L + 0.7071 C] − 0.7071 · B[S]
//! Rt = A[R + 0.7071 C] + 0.7071 · B[S]
//! ```
//!
//! `A` and `B` are a Hilbert-transformer pair: two cascades of first-order
//! all-pass sections whose phase responses differ by 90° (B lags A) over the
//! audio band, so `S` reaches Lt/Rt in quadrature to the fronts, as in
//! REFERENCE.md (`Lt = L + 0.707 C − 0.707 S'`, `S'` = surround shifted by
//! 90°). LFE is dropped. `k` is the mono surround sum: by default
//! `1/√n` for `n` surround channels (−3 dB for Ls + Rs, a power-preserving sum
//! of uncorrelated channels); the 0.7071 (−3 dB) on C and S is the matrix's
//! own. The 100 Hz–7 kHz surround band is that of the Dolby Surround (Pro
//! Logic) surround channel; the encoder band-limits as a real encoder does so
//! the print carries only what a decoder will steer to the surrounds (both
//! corners configurable or off).
//!
//! # The all-pass pair
//!
//! The classic wide-band 90° phase-difference network (Darlington, "Realization
//! of a constant phase difference", Bell Syst. Tech. J. 29, 1950; Orchard,
//! "Synthesis of wideband two-phase networks", Wireless Engineer 27, 1950):
//! each path is a cascade of analog first-order all-passes `(w − s)/(w + s)`
//! with phase `−2 atan(Ω/w)`, the pole frequencies `w` of the two paths
//! interleaved and chosen for an equiripple 90° difference over a band. The
//! design here is normalized to the band `Ω ∈ [1/√3000, √3000]` with 7 poles
//! per path, found by minimax optimization of the phase error (an L^p
//! minimization with p → 64 over 2000 log-spaced points); the resulting
//! ripple is ±0.151° (the test checks ±0.16°). The analog sections are mapped to digital by the
//! bilinear transform with `Ω = tan(π f / fs)`: `(c + z⁻¹)/(1 + c z⁻¹)`,
//! `c = (w − 1)/(w + 1)`, so the digital phase is exactly the analog phase at
//! the warped frequency. The band is placed at `[tan(π·20/fs), 3000·tan(π·20/fs)]`,
//! i.e. 20 Hz to 18.8 kHz at 44.1 kHz, 20 Hz to 20.2 kHz at 48 kHz, 20 Hz to
//! 33.6 kHz at 96 kHz ([`band_high_hz`]).
//!
//! # Passive decode (QC)
//!
//! `L' = A[Lt]`, `R' = A[Rt]`, `C' = 0.7071 · A[Lt + Rt]`, `S' = 0.7071 · B[Lt − Rt]`.
//! Because `B∘B = −A∘A` (two 90° lags), a centre-only programme returns in
//! `C'` at unity and cancels exactly in `S'`, and a surround-only programme
//! returns in `S'` at the level of `S` and cancels exactly in `C'`; all
//! recovered signals share the phase response `A∘A`. A passive matrix leaks
//! the fronts into `S'` and `C'` at −3 dB: that is the format, not an error.

use crate::stem::eq::{Band, Eq, Slope};
use crate::{Channel, Error, Layout, Result};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Normalized pole frequencies of path A (leading), for the band
/// `[1/√3000, √3000]` (see the module documentation for the design).
pub const POLES_A: [f64; 7] = [
    2.166_223_845_9e-2,
    9.473_833_161_4e-2,
    3.652_919_098_0e-1,
    1.397_576_040_4,
    5.355_870_410_7,
    2.117_459_487_4e1,
    1.599_703_126_5e2,
];
/// Normalized pole frequencies of path B (lagging A by 90°).
pub const POLES_B: [f64; 7] = [
    6.248_089_252_3e-3,
    4.718_901_778_0e-2,
    1.864_975_553_9e-1,
    7.145_901_565_4e-1,
    2.734_109_761_8,
    1.054_500_705_7e1,
    4.613_521_890_5e1,
];
/// Width of the design band (ratio of its edges in warped frequency).
pub const BAND_RATIO: f64 = 3000.0;
/// The lowest frequency of the band in Hz.
pub const BAND_LOW_HZ: f64 = 20.0;

/// The digital all-pass coefficient `c` of each section of one path.
fn coefs(poles: &[f64; 7], sample_rate: u32) -> Vec<f64> {
    let centre = (PI * BAND_LOW_HZ / sample_rate as f64).tan() * BAND_RATIO.sqrt();
    poles
        .iter()
        .map(|p| {
            let w = p * centre;
            (w - 1.0) / (w + 1.0)
        })
        .collect()
}

/// The upper edge (Hz) of the band where the pair holds 90° ± 0.16°.
pub fn band_high_hz(sample_rate: u32) -> f64 {
    let fs = sample_rate as f64;
    let w = (PI * BAND_LOW_HZ / fs).tan() * BAND_RATIO;
    (w.atan() * fs / PI).min(fs / 2.0)
}

/// A cascade of first-order all-pass sections `(c + z⁻¹)/(1 + c z⁻¹)`, f64 state.
#[derive(Debug, Clone)]
pub struct AllpassChain {
    c: Vec<f64>,
    /// `(x[n-1], y[n-1])` per section.
    state: Vec<(f64, f64)>,
}

impl AllpassChain {
    /// Path A (`lagging = false`) or B (`lagging = true`) of the pair at `sample_rate`.
    pub fn new(sample_rate: u32, lagging: bool) -> AllpassChain {
        let c = coefs(if lagging { &POLES_B } else { &POLES_A }, sample_rate);
        let state = vec![(0.0, 0.0); c.len()];
        AllpassChain { c, state }
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let mut v = x;
        for (c, s) in self.c.iter().zip(self.state.iter_mut()) {
            let y = c * v + s.0 - c * s.1;
            *s = (v, y);
            v = y;
        }
        v
    }

    /// Zeroes a state that has rung down below 1e-30 (-600 dB) after silence, before it
    /// reaches subnormal numbers (which x86 computes ~100x slower). Call between blocks.
    pub fn flush_tiny(&mut self) {
        if self
            .state
            .iter()
            .all(|s| s.0.abs() < 1e-30 && s.1.abs() < 1e-30)
        {
            self.state.iter_mut().for_each(|s| *s = (0.0, 0.0));
        }
    }

    /// Phase response in radians at `f` Hz (analytic, from the coefficients).
    pub fn phase(&self, sample_rate: u32, f: f64) -> f64 {
        let w = 2.0 * PI * f / sample_rate as f64;
        self.c
            .iter()
            .map(|&c| {
                // (c + e^{-jw}) / (1 + c e^{-jw})
                let num = (c + w.cos(), -w.sin());
                let den = (1.0 + c * w.cos(), -c * w.sin());
                num.1.atan2(num.0) - den.1.atan2(den.0)
            })
            .sum()
    }
}

/// The phase difference `phase(A) − phase(B)` of the pair at `f` Hz, in degrees
/// (wrapped to (−180, 180]); 90 over the design band.
pub fn pair_phase_difference_deg(sample_rate: u32, f: f64) -> f64 {
    let a = AllpassChain::new(sample_rate, false).phase(sample_rate, f);
    let b = AllpassChain::new(sample_rate, true).phase(sample_rate, f);
    let mut d = (a - b).to_degrees() % 360.0;
    if d <= -180.0 {
        d += 360.0;
    } else if d > 180.0 {
        d -= 360.0;
    }
    d
}

/// Options of the encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixOptions {
    /// Gain `k` of the mono surround sum; `None`: `1/√n` for `n` surround channels.
    pub surround_sum_gain: Option<f64>,
    /// High-pass corner of the surround band (Hz); `None`: none.
    pub surround_hpf_hz: Option<f64>,
    /// Low-pass corner of the surround band (Hz); `None`: none.
    pub surround_lpf_hz: Option<f64>,
}

impl Default for MatrixOptions {
    fn default() -> Self {
        MatrixOptions {
            surround_sum_gain: None,
            surround_hpf_hz: Some(100.0),
            surround_lpf_hz: Some(7000.0),
        }
    }
}

/// Per channel of `layout` (WAV order): `(gain into the Lt front sum, gain
/// into the Rt front sum, gain into the mono surround sum S)`, as the encoder
/// applies them: L and R into their side, C (and any other front channel) at
/// −3 dB into both, every surround at `k` into S, LFE dropped.
pub fn matrix_gains(layout: Layout, opts: &MatrixOptions) -> Result<Vec<(f64, f64, f64)>> {
    let chans = layout.channels();
    let n_s = chans.iter().filter(|c| c.is_surround()).count();
    let k = opts.surround_sum_gain.unwrap_or(if n_s > 0 {
        1.0 / (n_s as f64).sqrt()
    } else {
        0.0
    });
    if !k.is_finite() {
        return Err(Error::Invalid(format!(
            "surround sum gain {k} is not finite"
        )));
    }
    Ok(chans
        .iter()
        .map(|&c| match c {
            Channel::L => (1.0, 0.0, 0.0),
            Channel::R => (0.0, 1.0, 0.0),
            Channel::C => (FRAC_1_SQRT_2, FRAC_1_SQRT_2, 0.0),
            Channel::Lfe => (0.0, 0.0, 0.0),
            c if c.is_surround() => (0.0, 0.0, k),
            // Heights of an immersive mix, as its 7.1 fold (README "Channel layouts"):
            // rear tops into the surround sum at -3 dB, the others to their side's front.
            c if c.is_height() => {
                let az = c.position().map_or(0.0, |p| p.azimuth);
                if az.abs() > 90.0 {
                    (0.0, 0.0, k * FRAC_1_SQRT_2)
                } else if c.is_left() {
                    (FRAC_1_SQRT_2, 0.0, 0.0)
                } else if az < 0.0 {
                    (0.0, FRAC_1_SQRT_2, 0.0)
                } else {
                    (0.5, 0.5, 0.0)
                }
            }
            _ => (FRAC_1_SQRT_2, FRAC_1_SQRT_2, 0.0),
        })
        .collect())
}

/// The band-limiting filter of the surround sum (the `surround_hpf_hz` and
/// `surround_lpf_hz` of `opts`) for `channels` channels.
pub fn surround_band(opts: &MatrixOptions, sample_rate: u32, channels: usize) -> Result<Eq> {
    let mut bands = Vec::new();
    if let Some(f) = opts.surround_hpf_hz {
        bands.push(Band::HighPass {
            freq: f,
            slope: Slope::Db12,
        });
    }
    if let Some(f) = opts.surround_lpf_hz {
        bands.push(Band::LowPass {
            freq: f,
            slope: Slope::Db12,
        });
    }
    Eq::new(&bands, sample_rate, channels)
        .map_err(|e| Error::Invalid(format!("Lt/Rt surround band: {e}")))
}

/// Streaming Lt/Rt encoder from a multichannel layout.
#[derive(Debug, Clone)]
pub struct LtRtEncoder {
    /// Per input channel: `(gain into Lt front sum, gain into Rt front sum, gain into S)`.
    gains: Vec<(f64, f64, f64)>,
    band: Eq,
    a_l: AllpassChain,
    a_r: AllpassChain,
    b_s: AllpassChain,
    s_buf: Vec<f32>,
}

impl LtRtEncoder {
    /// An encoder for `layout` (channels in the layout's WAV order). Every
    /// layout works: L/R into their side, C at −3 dB into both, surrounds
    /// (Ls, Rs, Lss, Rss, Lrs, Rrs) into the mono surround, LFE dropped; a
    /// mono layout is treated as centre.
    pub fn new(layout: Layout, sample_rate: u32, opts: &MatrixOptions) -> Result<LtRtEncoder> {
        let gains = matrix_gains(layout, opts)?;
        let band = surround_band(opts, sample_rate, 1)?;
        Ok(LtRtEncoder {
            gains,
            band,
            a_l: AllpassChain::new(sample_rate, false),
            a_r: AllpassChain::new(sample_rate, false),
            b_s: AllpassChain::new(sample_rate, true),
            s_buf: Vec::new(),
        })
    }

    /// Input channel count.
    pub fn channels(&self) -> usize {
        self.gains.len()
    }

    /// Encodes `input` (one slice per layout channel, equal lengths) into `lt`
    /// and `rt` (same length). Streaming: call with consecutive chunks.
    pub fn process(&mut self, input: &[&[f32]], lt: &mut [f32], rt: &mut [f32]) {
        assert_eq!(input.len(), self.gains.len(), "Lt/Rt encoder channel count");
        let n = lt.len();
        assert!(
            rt.len() == n && input.iter().all(|c| c.len() == n),
            "lengths differ"
        );
        self.s_buf.clear();
        self.s_buf.resize(n, 0.0);
        // mono surround sum (f64 per sample, then the band-limit in f64 inside Eq)
        for t in 0..n {
            let mut s = 0.0f64;
            for (c, g) in input.iter().zip(&self.gains) {
                if g.2 != 0.0 {
                    s += c[t] as f64 * g.2;
                }
            }
            self.s_buf[t] = s as f32;
        }
        self.band.process_channel(0, &mut self.s_buf);
        for t in 0..n {
            let (mut fl, mut fr) = (0.0f64, 0.0f64);
            for (c, g) in input.iter().zip(&self.gains) {
                let x = c[t] as f64;
                fl += x * g.0;
                fr += x * g.1;
            }
            let s = FRAC_1_SQRT_2 * self.b_s.tick(self.s_buf[t] as f64);
            lt[t] = (self.a_l.tick(fl) - s) as f32;
            rt[t] = (self.a_r.tick(fr) + s) as f32;
        }
        for a in [&mut self.a_l, &mut self.a_r, &mut self.b_s] {
            a.flush_tiny();
        }
    }
}

/// Streaming passive 2:4 decoder: Lt/Rt to L, R, C, S (see the module documentation).
#[derive(Debug, Clone)]
pub struct PassiveDecoder {
    a: [AllpassChain; 3],
    b: AllpassChain,
}

impl PassiveDecoder {
    /// A decoder at `sample_rate` (zero state).
    pub fn new(sample_rate: u32) -> PassiveDecoder {
        let a = AllpassChain::new(sample_rate, false);
        PassiveDecoder {
            a: [a.clone(), a.clone(), a],
            b: AllpassChain::new(sample_rate, true),
        }
    }

    /// Decodes `lt`, `rt` into `out` = `[L, R, C, S]` (each as long as `lt`).
    pub fn process(&mut self, lt: &[f32], rt: &[f32], out: [&mut [f32]; 4]) {
        let [l, r, c, s] = out;
        for t in 0..lt.len() {
            let (x, y) = (lt[t] as f64, rt[t] as f64);
            l[t] = self.a[0].tick(x) as f32;
            r[t] = self.a[1].tick(y) as f32;
            c[t] = (FRAC_1_SQRT_2 * self.a[2].tick(x + y)) as f32;
            s[t] = (FRAC_1_SQRT_2 * self.b.tick(x - y)) as f32;
        }
    }
}
