//! ADR alignment: time-warps a dub (ADR take) to the timing of a guide (the
//! production line), as VocAlign does, without changing its pitch.
//!
//! 1. Features every 10 ms: 13 MFCCs (c1..c13) of a 40-band mel spectrum
//!    (HTK mel scale, 80 Hz to 7.6 kHz, 25 ms Hann frames; S. Davis and P.
//!    Mermelstein, IEEE Trans. ASSP 28(4), 1980), normalized per clip (mean
//!    and variance per coefficient), so level and EQ differences between the
//!    rooms do not count.
//! 2. Dynamic time warping between the speech spans of the two clips (first to
//!    last frame within 40 dB of the loudest), with the symmetric P = 1 slope
//!    constraint of H. Sakoe and S. Chiba, IEEE Trans. ASSP 26(1), 1978 (local
//!    slope between 1/2 and 2) and a band around the diagonal.
//! 3. The path becomes a warp map (dub time for each guide time), smoothed over
//!    70 ms and made strictly increasing; outside the speech spans it runs at
//!    slope 1 from the span's edge.
//! 4. When the map stays within [`AlignOptions::tolerance_ms`] of the identity,
//!    the dub is left alone (its samples are returned unchanged).
//! 5. Otherwise the dub is rendered on the guide's timeline by WSOLA (W.
//!    Verhelst and M. Roelands, ICASSP 1993): 25 ms Hann grains at 50 %
//!    overlap, each taken near where the map says, shifted by up to ±8 ms to
//!    best continue the previous grain (normalized cross-correlation), so the
//!    waveform stays continuous and the pitch unchanged.
//!
//! [`residual`] measures what is left: the lag of the cross-correlation peak
//! between the aligned dub and the guide in 200 ms windows (the issue's
//! benchmark), and the windows that could not be matched.

use crate::{Error, Result};
use realfft::RealFftPlanner;
use serde::Serialize;

/// Settings of [`align`].
#[derive(Debug, Clone, PartialEq)]
pub struct AlignOptions {
    /// Below this deviation from the identity map anywhere, the dub is left alone, ms.
    pub tolerance_ms: f64,
    /// Half-width of the DTW band beyond the length difference, seconds.
    pub band_s: f64,
    /// How far a WSOLA grain may move from the map to continue the last one, ms.
    pub search_ms: f64,
}

impl Default for AlignOptions {
    fn default() -> Self {
        AlignOptions {
            tolerance_ms: 5.0,
            band_s: 1.0,
            search_ms: 8.0,
        }
    }
}

/// What [`align`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlignReport {
    /// False when the map stayed within the tolerance and the dub was left alone.
    pub warped: bool,
    /// Largest |map − identity| over the guide, ms.
    pub max_warp_ms: f64,
    /// Mean DTW cost per path step of the final path (normalized features).
    pub path_cost: f64,
    /// Ratio of the speech spans' lengths (dub / guide).
    pub overall_ratio: f64,
    /// The warp map: (guide seconds, dub seconds), every 100 ms.
    pub map: Vec<(f64, f64)>,
}

/// Clips longer than this are refused (the DTW band grows with the length difference).
pub const MAX_ALIGN_S: f64 = 600.0;

const MELS: usize = 40;
const CEPS: usize = 13;

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}
fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Per-frame features of a clip.
struct Features {
    /// `frames × CEPS`, normalized per coefficient.
    ceps: Vec<f32>,
    /// Frame energy, dB.
    energy_db: Vec<f64>,
    frames: usize,
}

fn features(x: &[f32], sr: u32) -> Features {
    let hop = (f64::from(sr) * 0.01).round() as usize;
    let win = (f64::from(sr) * 0.025).round() as usize;
    let n = win.next_power_of_two();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let window: Vec<f32> = (0..win)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / win as f64).cos()) as f32)
        .collect();
    let bins = n / 2 + 1;
    let hi = 7600f64.min(f64::from(sr) * 0.45);
    let (m0, m1) = (hz_to_mel(80.0), hz_to_mel(hi));
    let edges: Vec<f64> = (0..MELS + 2)
        .map(|k| mel_to_hz(m0 + (m1 - m0) * k as f64 / (MELS + 1) as f64))
        .collect();
    let bin_hz = f64::from(sr) / n as f64;
    let mut fb = vec![0f32; MELS * bins];
    for m in 0..MELS {
        let (a, b, c) = (edges[m], edges[m + 1], edges[m + 2]);
        for k in 0..bins {
            let f = k as f64 * bin_hz;
            let w = if f > a && f <= b {
                (f - a) / (b - a)
            } else if f > b && f < c {
                (c - f) / (c - b)
            } else {
                0.0
            };
            fb[m * bins + k] = w as f32;
        }
    }
    let frames = x.len() / hop + 1;
    let mut ceps = vec![0f32; frames * CEPS];
    let mut energy_db = vec![0f64; frames];
    let mut buf = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut mel = [0f64; MELS];
    for t in 0..frames {
        let s = t * hop;
        buf.iter_mut().for_each(|v| *v = 0.0);
        let mut e = 0.0f64;
        for (i, (b, &wv)) in buf.iter_mut().zip(&window).enumerate() {
            let v = x.get(s + i).copied().unwrap_or(0.0);
            e += f64::from(v) * f64::from(v);
            *b = v * wv;
        }
        energy_db[t] = 10.0 * (e / win as f64 + 1e-20).log10();
        fft.process(&mut buf, &mut spec)
            .expect("sizes from the plan");
        for (m, me) in mel.iter_mut().enumerate() {
            let row = &fb[m * bins..(m + 1) * bins];
            let p: f64 = row
                .iter()
                .zip(&spec)
                .map(|(&w, c)| f64::from(w) * f64::from(c.norm_sqr()))
                .sum();
            *me = (p + 1e-10).ln();
        }
        for c in 0..CEPS {
            let q = (c + 1) as f64;
            let v: f64 = mel
                .iter()
                .enumerate()
                .map(|(m, &l)| {
                    l * (std::f64::consts::PI * q * (m as f64 + 0.5) / MELS as f64).cos()
                })
                .sum();
            ceps[t * CEPS + c] = v as f32;
        }
    }
    for c in 0..CEPS {
        let mean = (0..frames)
            .map(|t| f64::from(ceps[t * CEPS + c]))
            .sum::<f64>()
            / frames as f64;
        let var = (0..frames)
            .map(|t| (f64::from(ceps[t * CEPS + c]) - mean).powi(2))
            .sum::<f64>()
            / frames as f64;
        let sd = var.sqrt().max(1e-9);
        for t in 0..frames {
            ceps[t * CEPS + c] = ((f64::from(ceps[t * CEPS + c]) - mean) / sd) as f32;
        }
    }
    Features {
        ceps,
        energy_db,
        frames,
    }
}

/// First and last frame of speech: louder than 40 dB under the loudest frame
/// and than 10 dB over the clip's noise floor (its 10th-percentile frame), the
/// latter capped at 20 dB under the loudest. (A take recorded in a room has
/// its noise within 40 dB of the voice: without the floor its "speech" ran
/// from the first sample to the last, and the first and last words of a
/// line were misplaced by up to 150 ms; measured with bench/align.sh.)
fn speech_span(e: &[f64]) -> Option<(usize, usize)> {
    let max = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sorted = e.to_vec();
    sorted.sort_by(f64::total_cmp);
    let floor = sorted.get(sorted.len() / 10).copied()?;
    let thr = (floor + 10.0).clamp(max - 40.0, max - 20.0);
    let a = e.iter().position(|&v| v > thr)?;
    let b = e.iter().rposition(|&v| v > thr)?;
    (b > a + 2).then_some((a, b))
}

fn dist(g: &Features, i: usize, d: &Features, j: usize) -> f32 {
    let a = &g.ceps[i * CEPS..(i + 1) * CEPS];
    let b = &d.ceps[j * CEPS..(j + 1) * CEPS];
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// DTW over guide frames `g0..=g1` and dub frames `d0..=d1`: the path as
/// (guide frame, dub frame) pairs from start to end, and its mean step cost.
fn dtw(
    g: &Features,
    (g0, g1): (usize, usize),
    d: &Features,
    (d0, d1): (usize, usize),
    band: usize,
) -> Option<(Vec<(usize, usize)>, f64)> {
    let n = g1 - g0 + 1;
    let m = d1 - d0 + 1;
    let diag = |i: usize| (i as f64 * (m - 1) as f64 / (n - 1).max(1) as f64).round() as i64;
    let w = 2 * band + 1;
    let inf = f32::INFINITY;
    // band-limited cumulative cost: row i holds dub frames diag(i)-band ..= diag(i)+band
    let mut cost = vec![inf; n * w];
    let mut dir = vec![0u8; n * w];
    let at = |i: usize, j: i64| -> Option<usize> {
        let k = j - diag(i) + band as i64;
        (0..w as i64).contains(&k).then(|| i * w + k as usize)
    };
    let local = |i: usize, j: usize| dist(g, g0 + i, d, d0 + j);
    for i in 0..n {
        let c = diag(i);
        for j in (c - band as i64).max(0)..=(c + band as i64).min(m as i64 - 1) {
            let ju = j as usize;
            let here = at(i, j).expect("inside the band");
            if i == 0 && j == 0 {
                cost[here] = local(0, 0);
                continue;
            }
            let dij = local(i, ju);
            let mut best = (inf, 0u8);
            let get = |ii: usize, jj: i64| -> f32 { at(ii, jj).map_or(inf, |k| cost[k]) };
            if i >= 1 && j >= 1 {
                best = best.min_by_cost(get(i - 1, j - 1) + 2.0 * dij, 1);
            }
            if i >= 1 && j >= 2 {
                best = best.min_by_cost(get(i - 1, j - 2) + 2.0 * local(i, ju - 1) + dij, 2);
            }
            if i >= 2 && j >= 1 {
                best = best.min_by_cost(get(i - 2, j - 1) + 2.0 * local(i - 1, ju) + dij, 3);
            }
            cost[here] = best.0;
            dir[here] = best.1;
        }
    }
    let end = at(n - 1, m as i64 - 1)?;
    if !cost[end].is_finite() {
        return None;
    }
    let total = f64::from(cost[end]);
    let mut path = vec![(n - 1, m - 1)];
    let (mut i, mut j) = (n - 1, m - 1);
    while i > 0 || j > 0 {
        let k = at(i, j as i64)?;
        match dir[k] {
            1 => {
                i -= 1;
                j -= 1;
            }
            2 => {
                path.push((i, j - 1));
                i -= 1;
                j -= 2;
            }
            3 => {
                path.push((i - 1, j));
                i -= 2;
                j -= 1;
            }
            _ => return None,
        }
        path.push((i, j));
    }
    path.reverse();
    let steps = path.len() as f64;
    Some((
        path.into_iter().map(|(i, j)| (g0 + i, d0 + j)).collect(),
        total / (2.0 * steps),
    ))
}

trait MinByCost {
    fn min_by_cost(self, c: f32, d: u8) -> Self;
}
impl MinByCost for (f32, u8) {
    fn min_by_cost(self, c: f32, d: u8) -> Self {
        if c < self.0 { (c, d) } else { self }
    }
}

/// The warp map in samples: for each guide sample `t`, the dub position
/// (fractional), given per 10 ms frame and interpolated.
struct WarpMap {
    /// Dub position (samples) at guide frame `k` (k·hop samples).
    at_frame: Vec<f64>,
    hop: usize,
}

impl WarpMap {
    fn at(&self, t: f64) -> f64 {
        let f = t / self.hop as f64;
        let last = self.at_frame.len() - 1;
        if f <= 0.0 {
            return self.at_frame[0] + t;
        }
        if f >= last as f64 {
            return self.at_frame[last] + (t - (last * self.hop) as f64);
        }
        let k = f.floor() as usize;
        let u = f - k as f64;
        self.at_frame[k] * (1.0 - u) + self.at_frame[k + 1] * u
    }
}

fn warp_map(
    path: &[(usize, usize)],
    frames: usize,
    (g0, g1): (usize, usize),
    hop: usize,
) -> WarpMap {
    // mean dub frame per guide frame on the path
    let mut sum = vec![0f64; frames];
    let mut cnt = vec![0u32; frames];
    for &(i, j) in path {
        sum[i] += j as f64;
        cnt[i] += 1;
    }
    let mut m: Vec<f64> = (0..frames)
        .map(|i| {
            if cnt[i] > 0 {
                sum[i] / f64::from(cnt[i])
            } else {
                f64::NAN
            }
        })
        .collect();
    // outside the span: slope 1 from its edges
    let (at0, at1) = (m[g0], m[g1]);
    for (i, v) in m.iter_mut().enumerate() {
        if i < g0 {
            *v = at0 - (g0 - i) as f64;
        } else if i > g1 {
            *v = at1 + (i - g1) as f64;
        }
    }
    // smooth over 7 frames (70 ms) inside the span
    let r = 3usize;
    let src = m.clone();
    for (i, v) in m.iter_mut().enumerate().take(g1 + 1).skip(g0) {
        // symmetric near the span's edges, so a straight map stays straight
        let h = r.min(i - g0).min(g1 - i);
        let (a, b) = (i - h, i + h);
        *v = src[a..=b].iter().sum::<f64>() / (b - a + 1) as f64;
    }
    // strictly increasing (at least a quarter frame per frame)
    for i in 1..frames {
        if m[i] < m[i - 1] + 0.25 {
            m[i] = m[i - 1] + 0.25;
        }
    }
    WarpMap {
        at_frame: m.iter().map(|v| v * hop as f64).collect(),
        hop,
    }
}

/// WSOLA rendering of `dub` on `len` guide samples following `map`.
fn wsola(dub: &[f32], map: &WarpMap, len: usize, sr: u32, search_ms: f64) -> Vec<f32> {
    let w = ((f64::from(sr) * 0.025).round() as usize) & !1;
    let hs = w / 2;
    let delta = (f64::from(sr) * search_ms / 1000.0).round() as i64;
    let win: Vec<f32> = (0..w)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / w as f64).cos()) as f32)
        .collect();
    let get = |p: i64| -> f32 {
        if p < 0 || p >= dub.len() as i64 {
            0.0
        } else {
            dub[p as usize]
        }
    };
    let mut out = vec![0f32; len + w];
    let mut prev: Option<i64> = None;
    let mut k = 0usize;
    // grains centred on output position k·hs: grain start = centre − w/2
    while k * hs < len + hs {
        let centre = (k * hs) as f64;
        let target = map.at(centre).round() as i64 - (w / 2) as i64;
        let start = match prev {
            None => target,
            Some(p) => {
                // the natural continuation of the last grain
                let nat = p + hs as i64;
                let mut best = (f64::NEG_INFINITY, target);
                let step = 4i64;
                let score = |s: i64| -> f64 {
                    let (mut xy, mut yy) = (0.0f64, 0.0f64);
                    for i in (0..w as i64).step_by(2) {
                        let a = f64::from(get(nat + i));
                        let b = f64::from(get(s + i));
                        xy += a * b;
                        yy += b * b;
                    }
                    if yy > 0.0 { xy / yy.sqrt() } else { 0.0 }
                };
                let mut s = target - delta;
                while s <= target + delta {
                    let v = score(s);
                    if v > best.0 {
                        best = (v, s);
                    }
                    s += step;
                }
                let c = best.1;
                for s in c - step + 1..c + step {
                    if (s - target).abs() <= delta {
                        let v = score(s);
                        if v > best.0 {
                            best = (v, s);
                        }
                    }
                }
                best.1
            }
        };
        let o0 = k as i64 * hs as i64 - (w / 2) as i64;
        for (i, &wv) in win.iter().enumerate() {
            let o = o0 + i as i64;
            if o >= 0 && (o as usize) < out.len() {
                out[o as usize] += wv * get(start + i as i64);
            }
        }
        prev = Some(start);
        k += 1;
    }
    out.truncate(len);
    out
}

/// The warp from DTW, before any rendering: the map and the report.
struct Plan {
    map: WarpMap,
    report: AlignReport,
}

fn plan(guide: &[f32], dub: &[f32], sr: u32, opts: &AlignOptions) -> Result<Plan> {
    let max = (MAX_ALIGN_S * f64::from(sr)) as usize;
    if guide.len() > max || dub.len() > max {
        return Err(Error::Invalid(format!(
            "alignment takes clips of at most {MAX_ALIGN_S} s (cut the line out first)"
        )));
    }
    let g = features(guide, sr);
    let d = features(dub, sr);
    let gs = speech_span(&g.energy_db)
        .ok_or_else(|| Error::Invalid("the guide has no speech to align to".into()))?;
    let ds = speech_span(&d.energy_db)
        .ok_or_else(|| Error::Invalid("the dub has no speech to align".into()))?;
    let hop = (f64::from(sr) * 0.01).round() as usize;
    let (n, m) = (gs.1 - gs.0 + 1, ds.1 - ds.0 + 1);
    if m > 2 * n + 1 || n > 2 * m + 1 {
        return Err(Error::Invalid(format!(
            "the dub's speech lasts {:.2} s and the guide's {:.2} s: more than a factor 2 apart, no warp within the slope limits fits",
            m as f64 / 100.0,
            n as f64 / 100.0
        )));
    }
    let band = (opts.band_s * 100.0).round() as usize + n.abs_diff(m);
    let (path, cost) = dtw(&g, gs, &d, ds, band)
        .ok_or_else(|| Error::Invalid("no alignment path within the band".into()))?;
    let map = warp_map(&path, g.frames, gs, hop);
    let max_warp = map
        .at_frame
        .iter()
        .enumerate()
        .map(|(k, &p)| (p - (k * hop) as f64).abs())
        .fold(0.0, f64::max);
    let max_warp_ms = max_warp * 1000.0 / f64::from(sr);
    let report = AlignReport {
        warped: max_warp_ms > opts.tolerance_ms,
        max_warp_ms,
        path_cost: cost,
        overall_ratio: m as f64 / n as f64,
        map: (0..g.frames)
            .step_by(10)
            .map(|k| {
                (
                    (k * hop) as f64 / f64::from(sr),
                    map.at_frame[k] / f64::from(sr),
                )
            })
            .collect(),
    };
    Ok(Plan { map, report })
}

/// The warp [`align`] would apply, without rendering it (for take ranking).
pub fn analyse(guide: &[f32], dub: &[f32], sr: u32, opts: &AlignOptions) -> Result<AlignReport> {
    Ok(plan(guide, dub, sr, opts)?.report)
}

/// Aligns `dub` to `guide` (mono, same rate): returns the aligned dub, as
/// long as the guide (or the dub unchanged when the map is within the
/// tolerance), and the report. Errors: empty or silent clips, clips longer
/// than [`MAX_ALIGN_S`], no DTW path inside the band.
pub fn align(
    guide: &[f32],
    dub: &[f32],
    sr: u32,
    opts: &AlignOptions,
) -> Result<(Vec<f32>, AlignReport)> {
    let p = plan(guide, dub, sr, opts)?;
    if !p.report.warped {
        return Ok((dub.to_vec(), p.report));
    }
    let out = wsola(dub, &p.map, guide.len(), sr, opts.search_ms);
    Ok((out, p.report))
}

/// Residual misalignment between an aligned dub and its guide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Residual {
    /// Windows where both clips have speech.
    pub windows: usize,
    /// Median |lag| of the correlation peak, ms.
    pub median_ms: f64,
    /// 95th percentile |lag|, ms.
    pub p95_ms: f64,
    /// Start times (s) of windows whose best normalized correlation is below 0.3.
    pub unmatched_s: Vec<f64>,
}

/// Lag of the cross-correlation peak (±50 ms) between `a` and `b` in 200 ms
/// windows every 100 ms where both have speech (within 30 dB of their peak window).
pub fn residual(guide: &[f32], aligned: &[f32], sr: u32) -> Residual {
    let w = (f64::from(sr) * 0.2) as usize;
    let hop = w / 2;
    let maxlag = (f64::from(sr) * 0.05) as i64;
    let n = guide.len().min(aligned.len());
    let energy = |x: &[f32], s: usize| {
        x[s..s + w]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
    };
    let starts: Vec<usize> = (0..)
        .map(|k| k * hop)
        .take_while(|&s| s + w + maxlag as usize <= n)
        .filter(|&s| s >= maxlag as usize)
        .collect();
    let eg_max = starts.iter().map(|&s| energy(guide, s)).fold(0.0, f64::max);
    let ea_max = starts
        .iter()
        .map(|&s| energy(aligned, s))
        .fold(0.0, f64::max);
    let mut lags = Vec::new();
    let mut unmatched = Vec::new();
    for &s in &starts {
        let eg = energy(guide, s);
        if eg < eg_max * 1e-3 || energy(aligned, s) < ea_max * 1e-3 {
            continue;
        }
        let mut best = (f64::NEG_INFINITY, 0i64);
        for lag in -maxlag..=maxlag {
            let o = (s as i64 + lag) as usize;
            let (mut xy, mut yy) = (0.0f64, 0.0f64);
            for i in (0..w).step_by(2) {
                let a = f64::from(guide[s + i]);
                let b = f64::from(aligned[o + i]);
                xy += a * b;
                yy += b * b;
            }
            let v = if yy > 0.0 {
                xy / (yy * eg / 2.0).sqrt()
            } else {
                0.0
            };
            if v > best.0 {
                best = (v, lag);
            }
        }
        if best.0 < 0.3 {
            unmatched.push(s as f64 / f64::from(sr));
        }
        lags.push(best.1.unsigned_abs() as f64 * 1000.0 / f64::from(sr));
    }
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if lags.is_empty() {
            0.0
        } else {
            lags[((lags.len() - 1) as f64 * p).round() as usize]
        }
    };
    Residual {
        windows: lags.len(),
        median_ms: pct(0.5),
        p95_ms: pct(0.95),
        unmatched_s: unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::test_signals::{Rng, biquad_peak, sinc_at, speechlike};

    #[test]
    fn speech_span_ignores_room_noise() {
        // a line with a second of silence on each side: the span is the same
        // whether the silence is digital or holds noise 30 dB under the voice
        let sr = 48000;
        let s = speechlike(sr, 3.0, 9);
        let mut x = vec![0.0f32; sr as usize];
        x.extend_from_slice(&s);
        x.extend(std::iter::repeat_n(0.0f32, sr as usize));
        let rms = (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
        let mut rng = Rng(12);
        let noisy: Vec<f32> = x
            .iter()
            .map(|v| v + (rms * 10f64.powf(-30.0 / 20.0)) as f32 * rng.gauss())
            .collect();
        let clean = speech_span(&features(&x, sr).energy_db).unwrap();
        let roomy = speech_span(&features(&noisy, sr).energy_db).unwrap();
        assert!((100..=130).contains(&clean.0), "{clean:?}");
        assert!(
            clean.0.abs_diff(roomy.0) <= 3 && clean.1.abs_diff(roomy.1) <= 3,
            "span {clean:?} in silence, {roomy:?} in room noise"
        );
    }

    #[test]
    fn identical_dub_is_left_bit_identical() {
        let sr = 48000;
        let g = speechlike(sr, 4.0, 3);
        let (out, rep) = align(&g, &g, sr, &AlignOptions::default()).unwrap();
        assert!(!rep.warped, "{rep:?}");
        assert_eq!(out, g);
    }

    /// The DTW map follows a known smooth warp. (The goal, median
    /// residual ≤ 10 ms and 95th percentile ≤ 25 ms, is not met yet: the map is
    /// off by about 12 ms at the median and up to about 46 ms on this
    /// synthetic material, whose syllables are long steady glides.)
    #[test]
    fn known_smooth_warp_is_followed() {
        let sr = 48000;
        let g = speechlike(sr, 8.0, 17);
        // the dub: the guide read along φ(t) = t + 60 ms · sin(2π t / 3 s) − 40 ms
        // (dub sample t holds guide time φ(t)), another EQ and some hiss
        let srf = f64::from(sr);
        let phi = |t: f64| {
            t + 0.06 * srf * (2.0 * std::f64::consts::PI * t / (3.0 * srf)).sin() - 0.04 * srf
        };
        let mut dub: Vec<f32> = (0..g.len()).map(|t| sinc_at(&g, phi(t as f64))).collect();
        dub = biquad_peak(&dub, sr, 1500.0, 5.0, 0.8);
        let mut rng = Rng(4);
        dub.iter_mut().for_each(|v| *v += 0.002 * rng.gauss());
        let (out, rep) = align(&g, &dub, sr, &AlignOptions::default()).unwrap();
        assert!(rep.warped);
        assert_eq!(out.len(), g.len());
        // the map against the true inverse of φ, inside the speech
        let mut err: Vec<f64> = rep
            .map
            .iter()
            .filter(|(gt, _)| (0.4..=7.6).contains(gt))
            .map(|&(gt, dt)| {
                let tau = gt * srf;
                let (mut lo, mut hi) = (-1e5f64, 1e6f64);
                for _ in 0..100 {
                    let mid = 0.5 * (lo + hi);
                    if phi(mid) < tau { lo = mid } else { hi = mid }
                }
                (dt - lo / srf).abs() * 1000.0
            })
            .collect();
        err.sort_by(f64::total_cmp);
        let median = err[err.len() / 2];
        let max = err[err.len() - 1];
        // the warp itself moves content by up to 100 ms
        assert!(
            median <= 20.0 && max <= 60.0,
            "map error median {median:.1} ms, max {max:.1} ms"
        );
    }
}
