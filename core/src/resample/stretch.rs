//! Pitch-preserving time-stretch for speed versions that keep the pitch
//! (`pitch = "corrected"`): WSOLA, waveform-similarity overlap-add (W. Verhelst and
//! M. Roelands, "An overlap-add technique based on waveform similarity (WSOLA) for high
//! quality time-scale modification of speech", ICASSP 1993).
//!
//! The output is built from Hann-windowed frames of `2·Hs` samples laid every `Hs`
//! samples (20 ms at any rate; the periodic Hann window at 50 % overlap sums to exactly
//! one). Output frame `k`, centred at `k·Hs`, is read from the input around
//! `k·Hs / factor`, moved by up to ±10 ms to where the input looks most like the natural
//! continuation of the frame before (the input that followed it): the cross-correlation
//! of the channels' sum, searched on a 1:8 decimation and refined at the full rate. All
//! channels take the same frame positions, so their phase relations (the image) stay.
//! The pitch and the spectrum are the input's; the duration is multiplied by the factor,
//! and the total length is exact ([`crate::resample::output_len`]), like the resampler's.
//! Deterministic (a fixed order of sums, the first best lag on a tie), streaming (memory
//! bounded by the frame and search span).

use super::{Speed, output_len};
use crate::{Error, Result};

/// Search decimation.
const DECIMATE: usize = 8;

/// A streaming WSOLA time-stretch of planar multichannel audio.
pub struct TimeStretch {
    channels: usize,
    /// Synthesis hop, frame length (2·hop), search radius, in samples.
    hop: usize,
    radius: usize,
    /// Duration factor num/den.
    num: u64,
    den: u64,
    window: Vec<f32>,
    /// Input from absolute sample `base` on, per channel.
    input: Vec<Vec<f32>>,
    base: u64,
    taken: u64,
    /// Next output frame, and the input centre of the frame before.
    k: u64,
    prev_centre: Option<i64>,
    /// Overlap-add accumulator for output samples from `acc_start` on.
    acc: Vec<Vec<f32>>,
    acc_start: u64,
    emitted: u64,
    /// Frame centres given by a leader (see [`TimeStretch::follow`]), and those decided.
    forced: std::collections::VecDeque<i64>,
    decided: Vec<i64>,
}

impl TimeStretch {
    /// A stretch of `channels` channels at `sample_rate` by the duration factor of
    /// `speed` (the pitch stays).
    pub fn new(channels: usize, sample_rate: u32, speed: Speed) -> Result<Self> {
        if channels == 0 || sample_rate < 8000 {
            return Err(Error::Invalid(format!(
                "time-stretch: {channels} channels at {sample_rate} Hz"
            )));
        }
        let hop = (sample_rate / 50) as usize;
        let n = 2 * hop;
        let window = (0..n)
            .map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()) as f32)
            .collect();
        Ok(TimeStretch {
            channels,
            hop,
            radius: (sample_rate / 100) as usize,
            num: speed.length_num as u64,
            den: speed.length_den as u64,
            window,
            input: vec![Vec::new(); channels],
            base: 0,
            taken: 0,
            k: 0,
            prev_centre: None,
            acc: vec![Vec::new(); channels],
            acc_start: 0,
            emitted: 0,
            forced: Default::default(),
            decided: Vec::new(),
        })
    }

    /// The input centres of the frames made since the last call: handed to
    /// [`TimeStretch::follow`] of another stretch fed the same number of frames, they make
    /// it cut its input at the same places (the stems of a mix stay summable to it).
    pub fn take_placements(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.decided)
    }

    /// Uses `centres` (a leader's [`TimeStretch::take_placements`]) for the next frames
    /// instead of searching. Give them before the push or finish that makes those frames.
    pub fn follow(&mut self, centres: &[i64]) {
        self.forced.extend(centres);
    }

    /// The output length for `frames` of input.
    pub fn output_len(&self, frames: u64) -> u64 {
        output_len(frames, self.den as u32, self.num as u32)
    }

    /// Stretches `input` (one slice per channel) and appends the finished output.
    pub fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) -> Result<()> {
        self.check(input.len(), output.len())?;
        let n = input.first().map_or(0, |c| c.len());
        if input.iter().any(|c| c.len() != n) {
            return Err(Error::Invalid(
                "time-stretch: channels of unequal length".into(),
            ));
        }
        for (b, c) in self.input.iter_mut().zip(input) {
            b.extend_from_slice(c);
        }
        self.taken += n as u64;
        self.run(output, false);
        Ok(())
    }

    /// Flushes the tail: the total output is then exactly [`TimeStretch::output_len`].
    pub fn finish(&mut self, output: &mut [Vec<f32>]) -> Result<()> {
        self.check(self.channels, output.len())?;
        self.run(output, true);
        Ok(())
    }

    fn check(&self, a: usize, b: usize) -> Result<()> {
        if a != self.channels || b != self.channels {
            return Err(Error::Invalid(format!(
                "time-stretch: {} channels given where {} were set up",
                a.max(b),
                self.channels
            )));
        }
        Ok(())
    }

    /// The nominal input centre of output frame `k`: `k·hop / factor`, rounded.
    fn nominal(&self, k: u64) -> i64 {
        ((k as u128 * self.hop as u128 * self.den as u128 + self.num as u128 / 2)
            / self.num as u128) as i64
    }

    /// Input sample `i` (absolute) of channel `c`; zero outside what is held.
    fn at(&self, c: usize, i: i64) -> f32 {
        if i < self.base as i64 {
            return 0.0;
        }
        self.input[c]
            .get((i - self.base as i64) as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// The channels' sum over `[from, from + len)`, decimated by `step` (block means).
    fn mono(&self, from: i64, len: usize, step: usize) -> Vec<f32> {
        (0..len / step)
            .map(|j| {
                let mut s = 0f32;
                for i in 0..step {
                    let t = from + (j * step + i) as i64;
                    for c in 0..self.channels {
                        s += self.at(c, t);
                    }
                }
                s
            })
            .collect()
    }

    /// The best lag in `lags` of `cand` (a span starting `lo` before the target's
    /// start, in units of `step`) against `target`.
    fn best(target: &[f32], cand: &[f32], lags: usize) -> usize {
        let mut best = (f64::MIN, 0);
        for l in 0..lags {
            let c: f64 = target
                .iter()
                .zip(&cand[l..])
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            if c > best.0 {
                best = (c, l);
            }
        }
        best.1
    }

    fn run(&mut self, output: &mut [Vec<f32>], last: bool) {
        let total = self.output_len(self.taken);
        let n = 2 * self.hop;
        let half = self.hop as i64;
        let r = self.radius as i64;
        loop {
            if last && self.emitted >= total {
                break;
            }
            let centre0 = self.nominal(self.k);
            // The input this frame may need: the search span and the continuation.
            let need = centre0 + half + 2 * r + self.hop as i64 + 1;
            if !last && need > self.taken as i64 {
                break;
            }
            let centre = match (self.forced.pop_front(), self.prev_centre) {
                (Some(c), _) => c,
                (None, None) => centre0,
                (None, Some(p)) => {
                    let target_from = p + self.hop as i64 - half;
                    let lo = centre0 - r - half;
                    // Coarse search on the decimated sum, then ±DECIMATE at full rate.
                    let t = self.mono(target_from, n, DECIMATE);
                    let c = self.mono(lo, n + 2 * self.radius + DECIMATE, DECIMATE);
                    let coarse = Self::best(&t, &c, 2 * self.radius / DECIMATE + 1);
                    let fine_lo = lo + (coarse * DECIMATE) as i64 - DECIMATE as i64;
                    let t = self.mono(target_from, n, 1);
                    let c = self.mono(fine_lo, n + 2 * DECIMATE, 1);
                    let fine = Self::best(&t, &c, 2 * DECIMATE + 1);
                    (fine_lo + fine as i64 + half).clamp(centre0 - r, centre0 + r)
                }
            };
            // Overlap-add the frame, centred at k·hop in the output.
            let out_from = self.k as i64 * self.hop as i64 - half;
            for c in 0..self.channels {
                let need_len = (out_from + n as i64 - self.acc_start as i64).max(0) as usize;
                if self.acc[c].len() < need_len {
                    self.acc[c].resize(need_len, 0.0);
                }
                for (i, w) in self.window.iter().enumerate() {
                    let o = out_from + i as i64;
                    if o < self.acc_start as i64 {
                        continue;
                    }
                    let x = self.at(c, centre - half + i as i64);
                    self.acc[c][(o - self.acc_start as i64) as usize] += w * x;
                }
            }
            self.prev_centre = Some(centre);
            self.decided.push(centre);
            self.k += 1;
            // Output before the next frame's start is complete.
            let ready = (self.k as i64 * self.hop as i64 - half).max(0) as u64;
            let upto = if last { ready.min(total) } else { ready };
            if upto > self.acc_start {
                let k = (upto - self.acc_start) as usize;
                let keep = if last {
                    k.min(total.saturating_sub(self.emitted) as usize)
                } else {
                    k
                };
                for (o, a) in output.iter_mut().zip(&mut self.acc) {
                    o.extend_from_slice(&a[..keep]);
                    a.drain(..k);
                }
                self.emitted += keep as u64;
                self.acc_start = upto;
            }
            // Input no longer needed: before the next frame's search and continuation.
            let keep_from = (self.nominal(self.k) - r - half - DECIMATE as i64)
                .min(centre + self.hop as i64 - half)
                .max(0) as u64;
            if keep_from > self.base {
                let d = ((keep_from - self.base) as usize).min(self.input[0].len());
                for b in &mut self.input {
                    b.drain(..d);
                }
                self.base += d as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (std::f64::consts::TAU * hz * i as f64 / 48_000.0).sin()) as f32)
            .collect()
    }

    /// Frequency by counting upward zero crossings (interpolated) over `x`.
    fn freq(x: &[f32]) -> f64 {
        let mut first = None;
        let mut last = 0.0;
        let mut count = 0;
        for i in 1..x.len() {
            if x[i - 1] < 0.0 && x[i] >= 0.0 {
                let t = (i - 1) as f64 + (-x[i - 1] / (x[i] - x[i - 1])) as f64;
                if first.is_none() {
                    first = Some(t);
                } else {
                    count += 1;
                }
                last = t;
            }
        }
        count as f64 / ((last - first.unwrap()) / 48_000.0)
    }

    #[test]
    fn keeps_the_pitch_and_makes_the_exact_length() {
        for (speed, block) in [("24/25", 1000), ("pull-down", 4096), ("25/24", 777)] {
            let s = Speed::parse(speed).unwrap();
            let x = tone(1000.0, 48_000 * 3 + 17);
            let mut st = TimeStretch::new(2, 48_000, s).unwrap();
            let mut out = vec![Vec::new(), Vec::new()];
            for c in x.chunks(block) {
                st.push(&[c, c], &mut out).unwrap();
            }
            st.finish(&mut out).unwrap();
            let want = output_len(x.len() as u64, s.length_den, s.length_num);
            assert_eq!(out[0].len() as u64, want, "{speed}");
            assert_eq!(out[0], out[1]);
            let y = &out[0][4800..out[0].len() - 4800];
            let f = freq(y);
            assert!((f - 1000.0).abs() < 1.0, "{speed}: {f} Hz");
            // A steady tone stays steady: the level holds within 1 dB.
            let rms = |v: &[f32]| {
                (v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
            };
            for w in y.chunks(4800) {
                let db = 20.0 * (rms(w) / (0.5 / 2f64.sqrt())).log10();
                assert!(db.abs() < 1.0, "{speed}: {db} dB");
            }
        }
    }

    #[test]
    fn followers_cut_where_the_leader_cuts_so_stems_still_sum() {
        // Two "stems" and their sum: the sum is stretched on its own (the leader), the
        // stems with its placements; the stretched stems then add up to the stretched sum.
        let s = Speed::parse("24/25").unwrap();
        let a = tone(440.0, 60_000);
        let b: Vec<f32> = tone(1500.0, 60_000).iter().map(|v| v * 0.5).collect();
        let ab: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let mut lead = TimeStretch::new(1, 48_000, s).unwrap();
        let mut fa = TimeStretch::new(1, 48_000, s).unwrap();
        let mut fb = TimeStretch::new(1, 48_000, s).unwrap();
        let (mut yab, mut ya, mut yb) = (vec![Vec::new()], vec![Vec::new()], vec![Vec::new()]);
        for i in (0..ab.len()).step_by(7000).chain([usize::MAX]) {
            let j = (i.saturating_add(7000)).min(ab.len());
            if i == usize::MAX {
                lead.finish(&mut yab).unwrap();
            } else {
                lead.push(&[&ab[i..j]], &mut yab).unwrap();
            }
            let cuts = lead.take_placements();
            for (f, x, y) in [(&mut fa, &a, &mut ya), (&mut fb, &b, &mut yb)] {
                f.follow(&cuts);
                if i == usize::MAX {
                    f.finish(y).unwrap();
                } else {
                    f.push(&[&x[i..j]], y).unwrap();
                }
                assert!(f.forced.is_empty());
            }
        }
        assert_eq!(ya[0].len(), yab[0].len());
        let worst = ya[0]
            .iter()
            .zip(&yb[0])
            .zip(&yab[0])
            .map(|((x, y), z)| (x + y - z).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        // Left to search on their own, the stems would be cut elsewhere.
        let mut alone = TimeStretch::new(1, 48_000, s).unwrap();
        let mut y = vec![Vec::new()];
        alone.push(&[&a], &mut y).unwrap();
        alone.finish(&mut y).unwrap();
        assert_ne!(y[0], ya[0]);
    }

    #[test]
    fn the_same_bytes_whatever_the_block_size() {
        let s = Speed::parse("24/25").unwrap();
        let x: Vec<f32> = (0..96_000)
            .map(|i| ((i as f64 * 0.037).sin() * (i as f64 * 0.0011).cos()) as f32)
            .collect();
        let run = |block: usize| {
            let mut st = TimeStretch::new(1, 48_000, s).unwrap();
            let mut out = vec![Vec::new()];
            for c in x.chunks(block) {
                st.push(&[c], &mut out).unwrap();
            }
            st.finish(&mut out).unwrap();
            out.pop().unwrap()
        };
        assert_eq!(run(512), run(50_000));
    }
}
