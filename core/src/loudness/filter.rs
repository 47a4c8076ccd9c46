//! BS.1770-4 K-weighting: a high shelf (stage 1) and the RLB high-pass (stage 2),
//! derived for any sample rate from their analog prototypes.
//!
//! ITU-R BS.1770-4 publishes the two biquads only at 48 kHz. The analog prototypes
//! (centre frequencies, gain and Q) are the ones that reproduce those published
//! coefficients through a bilinear transform with frequency prewarping; with them the
//! 48 kHz design equals the published numbers to the last bit or two (see the tests),
//! and 44.1, 88.2, 96, 192 kHz get the same analog response.

use std::f64::consts::PI;

/// A biquad's coefficients normalized so that a0 = 1:
/// `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// Stage 1 (high shelf) analog prototype: centre frequency in Hz (BS.1770-4 K-filter,
/// as fitted to the published 48 kHz coefficients).
pub const SHELF_F0_HZ: f64 = 1681.974450955533;
/// Stage 1 high-frequency gain in dB (about +4 dB above 2 kHz).
pub const SHELF_GAIN_DB: f64 = 3.999843853973347;
/// Stage 1 quality factor.
pub const SHELF_Q: f64 = 0.7071752369554196;
/// Stage 1 mid-band gain exponent: the shelf's mid gain is `Vh^SHELF_VB_EXPONENT`
/// (a value slightly under 1/2, i.e. almost the geometric mean of 1 and `Vh`),
/// the exponent that makes the 48 kHz design reproduce the published b0/b2.
pub const SHELF_VB_EXPONENT: f64 = 0.4996667741545416;
/// Stage 2 (RLB weighting, second-order high-pass) corner frequency in Hz.
pub const HIGHPASS_F0_HZ: f64 = 38.13547087602444;
/// Stage 2 quality factor.
pub const HIGHPASS_Q: f64 = 0.5003270373238773;

impl Biquad {
    /// The identity filter.
    pub const IDENTITY: Biquad = Biquad {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    /// Magnitude of the frequency response at `freq_hz` for `sample_rate`
    /// (evaluated on the unit circle, in f64).
    pub fn magnitude(&self, freq_hz: f64, sample_rate: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / sample_rate;
        // H(e^jw) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let nr = self.b0 + self.b1 * c1 + self.b2 * c2;
        let ni = self.b1 * s1 + self.b2 * s2;
        let dr = 1.0 + self.a1 * c1 + self.a2 * c2;
        let di = self.a1 * s1 + self.a2 * s2;
        ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
    }
}

/// BS.1770-4 K-weighting at `sample_rate`: `[stage 1 high shelf, stage 2 RLB high-pass]`,
/// derived from the analog prototypes (at 48 kHz equal to the published coefficients).
///
/// Both stages use the bilinear transform with the prewarped constant
/// `K = tan(pi f0 / fs)`. Stage 1 is the shelf
/// `H(s) = (Vh s^2 + Vb (w0/Q) s + w0^2) / (s^2 + (w0/Q) s + w0^2)` with
/// `Vh = 10^(G/20)` and `Vb = Vh^SHELF_VB_EXPONENT`; stage 2 the high-pass
/// `H(s) = s^2 / (s^2 + (w0/Q) s + w0^2)` with its numerator left at `[1, -2, 1]` as
/// BS.1770-4 publishes it (the passband gain differs from 1 by under 0.01 dB).
pub fn k_weighting(sample_rate: u32) -> [Biquad; 2] {
    let fs = sample_rate as f64;

    let k = (PI * SHELF_F0_HZ / fs).tan();
    let vh = 10f64.powf(SHELF_GAIN_DB / 20.0);
    let vb = vh.powf(SHELF_VB_EXPONENT);
    let q = SHELF_Q;
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };

    let k = (PI * HIGHPASS_F0_HZ / fs).tan();
    let q = HIGHPASS_Q;
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, highpass]
}

/// The magnitude of the analog K-weighting prototypes (both stages, with stage 2's
/// numerator scaled as the digital design scales it) at `freq_hz`, as the digital
/// filter at `sample_rate` should show it after prewarping: the bilinear transform maps
/// digital frequency `f` to analog frequency `fs/pi * tan(pi f / fs)`.
///
/// This is the oracle the tests compare [`k_weighting`] against at other rates.
pub fn k_weighting_analog_magnitude(freq_hz: f64, sample_rate: u32) -> f64 {
    let fs = sample_rate as f64;
    // Prewarped analog frequency, normalized by each prototype's w0 through K.
    let t = (PI * freq_hz / fs).tan();

    // Stage 1: s = j t / K1 (normalized), H = (Vh s^2 + Vb s/Q + 1) / (s^2 + s/Q + 1).
    let k1 = (PI * SHELF_F0_HZ / fs).tan();
    let vh = 10f64.powf(SHELF_GAIN_DB / 20.0);
    let vb = vh.powf(SHELF_VB_EXPONENT);
    let w = t / k1;
    let (nr, ni) = (1.0 - vh * w * w, vb * w / SHELF_Q);
    let (dr, di) = (1.0 - w * w, w / SHELF_Q);
    let h1 = ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt();

    // Stage 2: H = s^2 / (s^2 + s/Q + 1); the digital numerator [1, -2, 1] instead of
    // the bilinear [1, -2, 1] / a0 multiplies the response by a0 = 1 + K/Q + K^2.
    let k2 = (PI * HIGHPASS_F0_HZ / fs).tan();
    let a0 = 1.0 + k2 / HIGHPASS_Q + k2 * k2;
    let w = t / k2;
    let (dr, di) = (1.0 - w * w, w / HIGHPASS_Q);
    let h2 = w * w / (dr * dr + di * di).sqrt() * a0;
    h1 * h2
}

/// Running state of one biquad in transposed direct form II (f64).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BiquadState {
    pub s1: f64,
    pub s2: f64,
}

impl BiquadState {
    /// Filters one sample.
    #[inline(always)]
    pub fn tick(&mut self, c: &Biquad, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }
}

/// K-weighting state of one channel: both stages in direct form I (f64), i.e. the last
/// two inputs `x`, stage-1 outputs `v` and stage-2 outputs `y`.
///
/// Direct form I keeps the feedback path of each stage to one multiply and one add
/// (`... - a1 * v[n-1]` is added last), so the recursion runs at the latency of two
/// f64 operations per sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KWeightState {
    pub x1: f64,
    pub x2: f64,
    pub v1: f64,
    pub v2: f64,
    pub y1: f64,
    pub y2: f64,
}

impl KWeightState {
    /// The largest magnitude in the state.
    pub fn magnitude(&self) -> f64 {
        [self.x1, self.x2, self.v1, self.v2, self.y1, self.y2]
            .iter()
            .fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Filters one sample through both stages.
    #[inline(always)]
    pub fn tick(&mut self, c: &[Biquad; 2], x: f64) -> f64 {
        let [s, h] = c;
        let v = (s.b0 * x + s.b1 * self.x1 + s.b2 * self.x2 - s.a2 * self.v2) - s.a1 * self.v1;
        let y = (h.b0 * v + h.b1 * self.v1 + h.b2 * self.v2 - h.a2 * self.y2) - h.a1 * self.y1;
        self.x2 = self.x1;
        self.x1 = x;
        self.v2 = self.v1;
        self.v1 = v;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// `N` channels of K-weighting run in lock step: lane `l` computes exactly what
/// [`KWeightState::tick`] computes for channel `l` (the same operations in the same
/// order, no fused multiply-add), so the results are bit-identical. One channel's
/// recursion is bound by the latency of its feedback path; `N` independent channels side
/// by side fill the vector lanes (`f64x2` with SSE2) and the pipeline instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KWeightLanes<const N: usize> {
    x1: [f64; N],
    x2: [f64; N],
    v1: [f64; N],
    v2: [f64; N],
    y1: [f64; N],
    y2: [f64; N],
}

impl<const N: usize> KWeightLanes<N> {
    /// The lanes, from one state per channel.
    pub fn new(s: [KWeightState; N]) -> Self {
        KWeightLanes {
            x1: s.map(|s| s.x1),
            x2: s.map(|s| s.x2),
            v1: s.map(|s| s.v1),
            v2: s.map(|s| s.v2),
            y1: s.map(|s| s.y1),
            y2: s.map(|s| s.y2),
        }
    }

    /// The state of lane `l`.
    pub fn lane(&self, l: usize) -> KWeightState {
        KWeightState {
            x1: self.x1[l],
            x2: self.x2[l],
            v1: self.v1[l],
            v2: self.v2[l],
            y1: self.y1[l],
            y2: self.y2[l],
        }
    }

    /// Filters one sample of every lane through both stages.
    #[inline(always)]
    pub fn tick(&mut self, c: &[Biquad; 2], x: [f64; N]) -> [f64; N] {
        let [s, h] = c;
        let mut v = [0.0; N];
        let mut y = [0.0; N];
        for l in 0..N {
            v[l] = (s.b0 * x[l] + s.b1 * self.x1[l] + s.b2 * self.x2[l] - s.a2 * self.v2[l])
                - s.a1 * self.v1[l];
        }
        for l in 0..N {
            y[l] = (h.b0 * v[l] + h.b1 * self.v1[l] + h.b2 * self.v2[l] - h.a2 * self.y2[l])
                - h.a1 * self.y1[l];
        }
        self.x2 = self.x1;
        self.x1 = x;
        self.v2 = self.v1;
        self.v1 = v;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// CPU twin of `shaders/k_weight.wgsl`: K-weights `input` into `output` (same length),
/// carrying `state` across calls. Arithmetic in f64, per sample exactly
/// [`KWeightState::tick`].
pub fn k_weight(coeffs: &[Biquad; 2], state: &mut KWeightState, input: &[f32], output: &mut [f64]) {
    let mut st = *state;
    for (y, &x) in output.iter_mut().zip(input) {
        *y = st.tick(coeffs, x as f64);
    }
    *state = st;
}
