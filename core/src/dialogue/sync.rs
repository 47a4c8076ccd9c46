//! Sync of a take (production sound, ADR) against a guide track.
//!
//! The offset comes from the generalized cross-correlation with the phase
//! transform (GCC-PHAT: C. H. Knapp and G. C. Carter, "The generalized
//! correlation method for estimation of time delay", IEEE Trans. ASSP 24(4),
//! 1976): the cross-spectrum `T·conj(G)` is whitened (divided by its
//! magnitude), so every frequency in the band votes equally and the
//! correlation is a sharp peak whatever the two signals' EQ. The band is
//! limited (default 200 Hz to 6 kHz, raised-cosine edges a third of an octave
//! wide) so that rumble, hum and hiss that differ between the two recordings do
//! not vote.
//!
//! * Sub-sample refinement: the band-limited PHAT correlation is a continuous
//!   function of the lag, `r(τ) = Σ_k c_k Re(φ_k e^{jω_k τ})`; its maximum is
//!   found by Newton's method from the best integer lag (exact for a pure
//!   delay, unlike a parabola through three samples).
//! * Polarity: the sign of the peak (PHAT keeps it: an inverted take gives a
//!   negative peak).
//! * Confidence: `1 − second / main`, where `second` is the largest |r| more
//!   than [`SyncOptions::guard_s`] from the main peak. Unrelated signals give a
//!   forest of near-equal peaks (confidence near 0); a true match stands alone
//!   (near 1). Below [`SyncOptions::min_confidence`] [`sync`] refuses.
//! * Drift: the offset is measured again in windows along the overlap, and a
//!   least-squares line through the reliable windows gives the drift in parts
//!   per million.

use crate::{Error, Result};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use serde::Serialize;

/// Settings of [`sync`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOptions {
    /// Lower edge of the analysis band, Hz.
    pub low_hz: f64,
    /// Upper edge of the analysis band, Hz (clamped to 0.45 × the sample rate).
    pub high_hz: f64,
    /// Largest |offset| searched, seconds (`None`: every lag the lengths allow).
    pub max_offset_s: Option<f64>,
    /// Peaks closer than this to the main peak do not count as rivals, seconds.
    pub guard_s: f64,
    /// Below this confidence [`sync`] refuses with an error.
    pub min_confidence: f64,
    /// Length of the windows in which drift is measured, seconds.
    pub drift_window_s: f64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            low_hz: 200.0,
            high_hz: 6000.0,
            max_offset_s: None,
            guard_s: 0.01,
            min_confidence: 0.3,
            drift_window_s: 4.0,
        }
    }
}

/// What [`sync`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncResult {
    /// The take is late by this many samples (negative: early): content at
    /// guide sample `i` is at take sample `i + offset_samples`.
    pub offset_samples: f64,
    /// `offset_samples` in seconds.
    pub offset_s: f64,
    /// 1, or −1 when the take is inverted.
    pub polarity: i8,
    /// `1 − second / main` peak of the correlation (0..1).
    pub confidence: f64,
    /// Height of the normalized PHAT peak (1 for a pure delay of identical signals).
    pub peak: f64,
    /// Drift of the take against the guide in parts per million (positive: the
    /// offset grows along the take); `None` when fewer than 3 windows over at
    /// least 10 s could be measured.
    pub drift_ppm: Option<f64>,
    /// Windows the drift was measured from.
    pub drift_windows: usize,
    pub sample_rate: u32,
}

/// Largest FFT [`sync`] makes: guide and take together must fit (about 11.6 minutes at 48 kHz).
pub const MAX_FFT: usize = 1 << 25;

/// A PHAT correlation of two signals.
struct Phat {
    /// FFT length.
    n: usize,
    /// Whitened, band-weighted cross-spectrum `B_k · R_k / |R_k|`, bins 0..=n/2.
    phi: Vec<Complex<f32>>,
    /// The correlation over all lags (index `k` = lag `k`, `n − k` = lag `−k`),
    /// normalized so a pure delay of identical signals peaks at 1.
    r: Vec<f32>,
    /// Normalization (the sum of the band weights over the full spectrum).
    norm: f64,
}

fn band_weight(f: f64, lo: f64, hi: f64) -> f64 {
    // raised-cosine edges a third of an octave wide, outside [lo, hi]
    let w = 2f64.powf(1.0 / 3.0);
    let edge = |x: f64| 0.5 - 0.5 * (std::f64::consts::PI * x).cos();
    if f <= lo / w || f >= hi * w {
        0.0
    } else if f < lo {
        edge((f / (lo / w)).ln() / w.ln())
    } else if f > hi {
        edge(((hi * w) / f).ln() / w.ln())
    } else {
        1.0
    }
}

fn phat(g: &[f32], t: &[f32], n: usize, sample_rate: u32, lo: f64, hi: f64) -> Phat {
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let spectrum = |x: &[f32]| {
        let mut buf = fwd.make_input_vec();
        buf[..x.len()].copy_from_slice(x);
        let mut s = fwd.make_output_vec();
        fwd.process(&mut buf, &mut s).expect("sizes from the plan");
        s
    };
    let gs = spectrum(g);
    let mut phi = spectrum(t);
    let hi = hi.min(0.45 * f64::from(sample_rate));
    let mut norm = 0.0f64;
    let half = n / 2;
    for (k, (p, gk)) in phi.iter_mut().zip(&gs).enumerate() {
        let f = k as f64 * f64::from(sample_rate) / n as f64;
        let b = band_weight(f, lo, hi);
        let r = *p * gk.conj();
        let m = r.norm();
        *p = if b > 0.0 && m > 1e-30 {
            r * (b / f64::from(m)) as f32
        } else {
            Complex::new(0.0, 0.0)
        };
        if b > 0.0 && m > 1e-30 {
            norm += if k == 0 || k == half { b } else { 2.0 * b };
        }
    }
    let mut tmp = phi.clone();
    let mut r = inv.make_output_vec();
    // DC and Nyquist bins are zero (band-limited), as the inverse FFT requires.
    inv.process(&mut tmp, &mut r).expect("sizes from the plan");
    let scale = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
    r.iter_mut().for_each(|v| *v *= scale);
    Phat { n, phi, r, norm }
}

impl Phat {
    fn value_at(&self, lag: i64) -> f32 {
        let n = self.n as i64;
        self.r[lag.rem_euclid(n) as usize]
    }

    /// `r(τ)` and its first two derivatives at a fractional lag.
    fn eval(&self, tau: f64) -> (f64, f64, f64) {
        let (mut f, mut d1, mut d2) = (0.0f64, 0.0f64, 0.0f64);
        let w0 = 2.0 * std::f64::consts::PI / self.n as f64;
        for (k, p) in self.phi.iter().enumerate() {
            if p.re == 0.0 && p.im == 0.0 {
                continue;
            }
            let w = w0 * k as f64;
            let (s, c) = (w * tau).sin_cos();
            // Re(φ e^{jwτ}) and its derivatives
            let re = f64::from(p.re) * c - f64::from(p.im) * s;
            let im = f64::from(p.re) * s + f64::from(p.im) * c;
            let ck = if k == 0 || k == self.n / 2 { 1.0 } else { 2.0 };
            f += ck * re;
            d1 -= ck * w * im;
            d2 -= ck * w * w * re;
        }
        let s = 1.0 / self.norm.max(1e-30);
        (f * s, d1 * s, d2 * s)
    }

    /// The best lag in `lags` (inclusive), its sign, the confidence and the
    /// normalized peak height.
    fn best(&self, lags: (i64, i64), guard: i64) -> Option<Peak> {
        let (lo, hi) = lags;
        let mut best = (lo, 0.0f32);
        for lag in lo..=hi {
            let v = self.value_at(lag).abs();
            if v > best.1 {
                best = (lag, v);
            }
        }
        if best.1 <= 0.0 {
            return None;
        }
        let mut second = 0.0f32;
        for lag in lo..=hi {
            if (lag - best.0).abs() > guard {
                second = second.max(self.value_at(lag).abs());
            }
        }
        let sign = if self.value_at(best.0) < 0.0 {
            -1.0
        } else {
            1.0
        };
        // Newton on the continuous correlation, from the integer peak.
        let mut tau = best.0 as f64;
        for _ in 0..8 {
            let (_, d1, d2) = self.eval(tau);
            let (d1, d2) = (sign * d1, sign * d2);
            if d2 >= 0.0 {
                break;
            }
            let step = (-d1 / d2).clamp(-0.5, 0.5);
            tau += step;
            if step.abs() < 1e-6 {
                break;
            }
        }
        if (tau - best.0 as f64).abs() > 1.0 {
            tau = best.0 as f64;
        }
        Some(Peak {
            lag: tau,
            sign: sign as i8,
            confidence: f64::from(1.0 - second / best.1).clamp(0.0, 1.0),
            height: f64::from(best.1),
        })
    }
}

struct Peak {
    lag: f64,
    sign: i8,
    confidence: f64,
    height: f64,
}

/// The offset, polarity, confidence and drift of `take` against `guide`
/// (mono, same sample rate). Errors: empty or silent inputs, inputs too long
/// for one FFT ([`MAX_FFT`]), a confidence below
/// [`SyncOptions::min_confidence`] (the message gives the figure).
pub fn sync(
    guide: &[f32],
    take: &[f32],
    sample_rate: u32,
    opts: &SyncOptions,
) -> Result<SyncResult> {
    let sr = f64::from(sample_rate);
    if guide.is_empty() || take.is_empty() {
        return Err(Error::Invalid(
            "sync needs a guide and a take with audio".into(),
        ));
    }
    if opts.low_hz <= 0.0 || opts.high_hz <= opts.low_hz || opts.low_hz >= 0.45 * sr {
        return Err(Error::Invalid(format!(
            "sync band {}-{} Hz does not fit {} Hz audio",
            opts.low_hz, opts.high_hz, sample_rate
        )));
    }
    let total = guide.len() + take.len();
    let n = total.next_power_of_two();
    if n > MAX_FFT {
        return Err(Error::Invalid(format!(
            "guide and take together are {:.1} s: sync analyses at most {:.1} s at once (trim them to the scene)",
            total as f64 / sr,
            MAX_FFT as f64 / sr
        )));
    }
    let p = phat(guide, take, n, sample_rate, opts.low_hz, opts.high_hz);
    if p.norm <= 0.0 {
        return Err(Error::Invalid(
            "guide or take is silent in the analysis band: nothing to sync".into(),
        ));
    }
    let mut lags = (-(guide.len() as i64 - 1), take.len() as i64 - 1);
    if let Some(m) = opts.max_offset_s {
        let m = (m * sr).round() as i64;
        lags = (lags.0.max(-m), lags.1.min(m));
    }
    let guard = ((opts.guard_s * sr).round() as i64).max(2);
    let peak = p
        .best(lags, guard)
        .ok_or_else(|| Error::Invalid("no correlation between guide and take".into()))?;
    if peak.confidence < opts.min_confidence {
        return Err(Error::Invalid(format!(
            "no reliable sync: confidence {:.2} is below {:.2} (the best candidate, {:+.1} samples, \
             is barely above its rivals; are these recordings of the same performance?)",
            peak.confidence, opts.min_confidence, peak.lag
        )));
    }
    let (drift_ppm, drift_windows) = drift(guide, take, sample_rate, peak.lag, opts);
    Ok(SyncResult {
        offset_samples: peak.lag,
        offset_s: peak.lag / sr,
        polarity: peak.sign,
        confidence: peak.confidence,
        peak: peak.height,
        drift_ppm,
        drift_windows,
        sample_rate,
    })
}

/// Local offsets in windows along the overlap; the slope of their least-squares
/// line, in ppm, when at least 3 reliable windows span 10 s or more.
fn drift(
    guide: &[f32],
    take: &[f32],
    sample_rate: u32,
    offset: f64,
    opts: &SyncOptions,
) -> (Option<f64>, usize) {
    let sr = f64::from(sample_rate);
    let w = (opts.drift_window_s * sr).round() as usize;
    let d0 = offset.round() as i64;
    // guide range whose counterpart lies inside the take
    let g0 = (-d0).max(0) as usize;
    let g1 = (guide.len() as i64).min(take.len() as i64 - d0).max(0) as usize;
    if w == 0 || g1 < g0 + w {
        return (None, 0);
    }
    let span = g1 - g0;
    // margin: 250 ppm of the overlap plus 10 ms
    let margin = (span as f64 * 250e-6 + 0.01 * sr).ceil() as usize;
    let count = (span / w).min(32);
    if count < 3 {
        return (None, 0);
    }
    let step = (span - w) / (count - 1);
    let n = (w + 2 * margin + w).next_power_of_two();
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for i in 0..count {
        let s = g0 + i * step;
        let ts = s as i64 + d0 - margin as i64;
        let a = ts.max(0) as usize;
        let b = ((ts + (w + 2 * margin) as i64) as usize).min(take.len());
        if b <= a {
            continue;
        }
        let gw = &guide[s..s + w];
        let tw = &take[a..b];
        let p = phat(gw, tw, n, sample_rate, opts.low_hz, opts.high_hz);
        if p.norm <= 0.0 {
            continue;
        }
        // lag in the window pair, around where the global offset puts it
        let expect = s as i64 + d0 - a as i64;
        let lags = (expect - margin as i64, expect + margin as i64);
        let guard = ((opts.guard_s * sr).round() as i64).max(2);
        if let Some(pk) = p.best(lags, guard) {
            if pk.confidence >= opts.min_confidence.max(0.5) {
                let local = a as f64 + pk.lag - s as f64;
                pts.push(((s + w / 2) as f64, local));
            }
        }
    }
    if pts.len() < 3 || pts.last().unwrap().0 - pts[0].0 < 10.0 * sr {
        return (None, pts.len());
    }
    let m = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / m;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / m;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    (Some(sxy / sxx * 1e6), pts.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::test_signals::{Rng, biquad_peak, fractional_delay, speechlike};

    fn check(offset: f64, polarity: f32, noise: f32, eq: bool) {
        let sr = 48000;
        let guide = speechlike(sr, 6.0, 7);
        let mut take = fractional_delay(&guide, offset, 2.5 * sr as f64);
        take.iter_mut().for_each(|v| *v *= polarity);
        if eq {
            take = biquad_peak(&take, sr, 2500.0, 6.0, 1.0);
            take = biquad_peak(&take, sr, 400.0, -4.0, 0.7);
        }
        let mut rng = Rng(99);
        take.iter_mut().for_each(|v| *v += noise * rng.gauss());
        let r = sync(&guide, &take, sr, &SyncOptions::default()).unwrap();
        assert_eq!(r.polarity as f32, polarity, "{r:?}");
        let expect = offset + 2.5 * sr as f64;
        assert!(
            (r.offset_samples - expect).abs() < 0.5,
            "offset {offset}: found {} want {expect} ({r:?})",
            r.offset_samples
        );
        assert!(r.confidence > 0.5, "{r:?}");
    }

    #[test]
    fn fractional_offsets_both_ways() {
        for &o in &[
            -2.0 * 48000.0 + 0.37,
            -1234.75,
            0.5,
            17.25,
            2.0 * 48000.0 - 0.81,
        ] {
            check(o, 1.0, 0.0, false);
        }
    }

    #[test]
    fn inverted_take_with_other_eq_and_noise() {
        check(-45678.3, -1.0, 0.02, true);
        check(91234.6, 1.0, 0.05, true);
    }

    #[test]
    fn unrelated_signals_are_refused() {
        let sr = 48000;
        let a = speechlike(sr, 5.0, 1);
        let b = speechlike(sr, 5.0, 2);
        let e = sync(&a, &b, sr, &SyncOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no reliable sync"), "{e}");
        let mut rng = Rng(5);
        let n: Vec<f32> = (0..sr as usize * 4).map(|_| rng.gauss() * 0.1).collect();
        assert!(sync(&a, &n, sr, &SyncOptions::default()).is_err());
    }

    #[test]
    fn drift_in_ppm() {
        // 40 s take resampled 50 ppm slow: the offset grows by 50 samples per 1e6.
        let sr = 48000;
        let guide = speechlike(sr, 40.0, 3);
        let ppm = 50.0;
        let take: Vec<f32> = (0..guide.len() + 2000)
            .map(|i| {
                let x = (i as f64 - 1000.0) / (1.0 + ppm * 1e-6);
                crate::dialogue::test_signals::sinc_at(&guide, x)
            })
            .collect();
        let r = sync(&guide, &take, sr, &SyncOptions::default()).unwrap();
        let d = r.drift_ppm.expect("drift measured");
        assert!((d - ppm).abs() < 2.0, "drift {d} ppm, want {ppm} ({r:?})");
        assert!(r.drift_windows >= 3);
    }
}
