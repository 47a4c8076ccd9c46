//! A true-peak limiter: oversampled detection, lookahead, smooth attack and release,
//! channel-linked, and a verification stage that guarantees the ceiling.
//!
//! # How
//!
//! 1. **Detect** (per input sample, all channels linked): the largest absolute value of
//!    the signal interpolated by [`true_peak_fir`] around that sample, and the gain
//!    `r = min(1, target / peak)` that would bring it to the internal target (the ceiling
//!    minus a small margin).
//! 2. **Attack** with lookahead: a sliding minimum of `r` over the next `A` samples, then a
//!    moving average over `A` samples. Every averaged value comes from a window that holds
//!    the sample itself, so the smoothed gain never exceeds `r` anywhere, and a peak is
//!    met by a linear ramp of `A` samples (`A` = the lookahead).
//! 3. **Release**: the gain recovers towards 1 exponentially, `1 - g` decaying with the
//!    release time constant; it never rises above the attack curve.
//! 4. **Verify**: a time-varying gain is not a constant gain, so `g·x` can still overshoot
//!    between samples. Every output sample is checked with the same interpolator at the
//!    verification factor (8x by default) before it leaves; where the interpolated output
//!    exceeds the ceiling, the gain over that filter window is scaled down (with short
//!    linear ramps either side) and the neighbourhood is checked again. Output leaves only
//!    after it passed.
//!
//! The 4x and 2x interpolators are exactly the even phases of the 8x one (same windowed
//! sinc on the same time grid, see [`crate::loudness::true_peak`]), so output verified at
//! 8x also meets the ceiling measured at 2x and 4x, bit for bit with the meter's own
//! arithmetic. Use `verify_oversample = 16` to guarantee it at 16x.
//!
//! The limiter only multiplies by a gain (no clipper), and hands the gain out per frame,
//! so the same gain can be applied to the M&E and the stems.

use crate::loudness::{TruePeakKernel, true_peak_fir};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Limiter settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimiterOptions {
    /// Lookahead = attack ramp, milliseconds.
    pub lookahead_ms: f64,
    /// Release time constant, milliseconds.
    pub release_ms: f64,
    /// Oversampling of the detector (2, 4, 8, 16).
    pub detect_oversample: u32,
    /// Oversampling of the verification that guarantees the ceiling (2, 4, 8, 16).
    pub verify_oversample: u32,
    /// How far below the ceiling the smooth stage aims, dB (the verification stage then
    /// rarely has anything to do).
    pub margin_db: f64,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        LimiterOptions {
            lookahead_ms: 5.0,
            release_ms: 80.0,
            detect_oversample: 8,
            verify_oversample: 8,
            margin_db: 0.1,
        }
    }
}

/// What the limiter did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LimiterStats {
    /// Largest gain reduction applied, dB (0 when it never acted).
    pub max_gain_reduction_db: f64,
    /// Frames output with a gain below 1.
    pub limited_frames: u64,
    /// Frames output.
    pub frames: u64,
    /// Corrections made by the verification stage.
    pub corrections: u64,
    /// Overs that could not be corrected because their filter window reached into
    /// frames already output (should always be 0; reported, never hidden).
    pub residual_overs: u64,
}

/// A channel-linked true-peak limiter. See the module documentation.
///
/// Streaming: [`Limiter::process`] outputs the input delayed by [`Limiter::latency`]
/// frames; [`Limiter::flush`] outputs the rest. `gain_out[i]` is the gain applied to
/// the `i`-th frame output (the same index as the input frame it came from, counted from
/// the start of the stream), so another signal can be scaled by exactly the same gain.
pub struct Limiter {
    channels: usize,
    ceiling: f32,
    target: f32,
    det: TruePeakKernel,
    det_d: i64,
    ver: TruePeakKernel,
    ver_d: i64,
    attack: usize,
    release: f64,
    ramp: i64,
    guard: i64,
    /// Absolute frame index of element 0 of the buffers.
    base: i64,
    x: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
    g: Vec<f32>,
    n_in: i64,
    n_det: i64,
    n_gain: i64,
    n_ver: i64,
    n_out: i64,
    minq: VecDeque<(i64, f32)>,
    mhist: VecDeque<f32>,
    msum: f64,
    g_prev: f32,
    stats: LimiterStats,
    flushed: bool,
    scratch: Vec<f32>,
}

/// Centres per block in the detection and verification passes.
const BLOCK: i64 = 64;

impl Limiter {
    /// A limiter for `channels` at `sample_rate` with the ceiling `ceiling_dbtp`.
    pub fn new(
        channels: usize,
        sample_rate: u32,
        ceiling_dbtp: f64,
        opts: LimiterOptions,
    ) -> Result<Self> {
        if channels == 0 {
            return Err(Error::Invalid("limiter: no channels".into()));
        }
        if sample_rate == 0 {
            return Err(Error::Invalid("limiter: sample rate 0".into()));
        }
        if !ceiling_dbtp.is_finite() || ceiling_dbtp > 6.0 {
            return Err(Error::Invalid(format!(
                "limiter: ceiling {ceiling_dbtp} dBTP is not usable"
            )));
        }
        if !(opts.lookahead_ms > 0.0 && opts.lookahead_ms <= 100.0) {
            return Err(Error::Invalid(format!(
                "limiter: lookahead {} ms (use 0-100 ms)",
                opts.lookahead_ms
            )));
        }
        if !(opts.release_ms > 0.0 && opts.release_ms.is_finite()) {
            return Err(Error::Invalid(format!(
                "limiter: release {} ms",
                opts.release_ms
            )));
        }
        if !(0.0..=3.0).contains(&opts.margin_db) {
            return Err(Error::Invalid(format!(
                "limiter: margin {} dB (use 0-3 dB)",
                opts.margin_db
            )));
        }
        let det_fir = true_peak_fir(opts.detect_oversample)?;
        let ver_fir = true_peak_fir(opts.verify_oversample)?;
        // Round the ceiling down to f32 so that `value <= ceiling` in f32 means it in dB.
        let c64 = 10f64.powf(ceiling_dbtp / 20.0);
        let mut ceiling = c64 as f32;
        if ceiling as f64 > c64 {
            ceiling = f32::from_bits(ceiling.to_bits() - 1);
        }
        let target = (c64 * 10f64.powf(-opts.margin_db / 20.0)) as f32;
        let attack = ((opts.lookahead_ms * 1e-3 * sample_rate as f64).round() as usize).max(1);
        let release = (-1.0 / (opts.release_ms * 1e-3 * sample_rate as f64)).exp();
        let det_d = det_fir.delay() as i64;
        let ver_d = ver_fir.delay() as i64;
        let vt = ver_fir.taps_per_phase as i64;
        let ramp = vt;
        let hist = (det_fir.taps_per_phase.max(ver_fir.taps_per_phase)) as i64;
        let mut l = Limiter {
            channels,
            ceiling,
            target,
            det: TruePeakKernel::new(&det_fir),
            det_d,
            ver: TruePeakKernel::new(&ver_fir),
            ver_d,
            attack,
            release,
            ramp,
            guard: 2 * vt + ramp,
            base: -hist,
            x: vec![vec![0.0; hist as usize]; channels],
            y: vec![vec![0.0; hist as usize]; channels],
            g: vec![1.0; hist as usize],
            n_in: 0,
            n_det: 0,
            n_gain: 0,
            n_ver: 0,
            n_out: 0,
            minq: VecDeque::new(),
            mhist: std::iter::repeat_n(1.0, attack).collect(),
            msum: attack as f64,
            g_prev: 1.0,
            stats: LimiterStats::default(),
            flushed: false,
            scratch: Vec::new(),
        };
        l.n_ver = 0;
        Ok(l)
    }

    /// The most frames an input frame waits before it is output (the pipeline advances
    /// in blocks of 64 frames, so a call may output up to 63 frames fewer than
    /// `frames in - latency`; the total after [`Limiter::flush`] equals the input).
    pub fn latency(&self) -> usize {
        (self.det_d + self.attack as i64 - 1 + self.ver_d + self.guard + BLOCK - 1) as usize
    }

    /// The ceiling, linear (rounded down to f32).
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// What the limiter did so far.
    pub fn stats(&self) -> LimiterStats {
        self.stats
    }

    /// Feeds planar `input` (one slice per channel, equal lengths). `output` (one Vec per
    /// channel) and `gain_out` are cleared and filled with the frames that are ready.
    pub fn process(
        &mut self,
        input: &[&[f32]],
        output: &mut [Vec<f32>],
        gain_out: &mut Vec<f32>,
    ) -> Result<()> {
        if self.flushed {
            return Err(Error::Invalid("limiter: process after flush".into()));
        }
        self.check(input.len(), output.len())?;
        let n = input[0].len();
        if input.iter().any(|c| c.len() != n) {
            return Err(Error::Invalid("limiter: channels of unequal length".into()));
        }
        for (buf, inp) in self.x.iter_mut().zip(input) {
            buf.extend_from_slice(inp);
        }
        self.n_in += n as i64;
        self.run(self.n_in, output, gain_out);
        Ok(())
    }

    /// Ends the stream: outputs every remaining frame (the input is taken as followed by
    /// silence).
    pub fn flush(&mut self, output: &mut [Vec<f32>], gain_out: &mut Vec<f32>) -> Result<()> {
        self.check(self.channels, output.len())?;
        if self.flushed {
            for o in output.iter_mut() {
                o.clear();
            }
            gain_out.clear();
            return Ok(());
        }
        self.flushed = true;
        let real = self.n_in;
        let pad = self.latency() + BLOCK as usize;
        for buf in self.x.iter_mut() {
            buf.extend(std::iter::repeat_n(0.0, pad));
        }
        self.n_in += pad as i64;
        self.run(real, output, gain_out);
        Ok(())
    }

    fn check(&self, inputs: usize, outputs: usize) -> Result<()> {
        if inputs != self.channels || outputs != self.channels {
            return Err(Error::Invalid(format!(
                "limiter: {inputs} input / {outputs} output channels, configured for {}",
                self.channels
            )));
        }
        Ok(())
    }

    #[inline]
    fn idx(&self, i: i64) -> usize {
        (i - self.base) as usize
    }

    fn run(&mut self, emit_to: i64, output: &mut [Vec<f32>], gain_out: &mut Vec<f32>) {
        // Detection, gain and verification advance in blocks aligned to absolute frame
        // indices, so the result does not depend on how the input was split.
        while (self.n_det / BLOCK + 1) * BLOCK + self.det_d <= self.n_in {
            self.detect_block();
            self.verify();
        }
        for o in output.iter_mut() {
            o.clear();
        }
        gain_out.clear();
        let emit_to = emit_to.min(self.n_ver - self.guard).min(self.n_gain);
        if emit_to > self.n_out {
            let (a, b) = (self.idx(self.n_out), self.idx(emit_to));
            for (o, y) in output.iter_mut().zip(&self.y) {
                o.extend_from_slice(&y[a..b]);
            }
            gain_out.extend_from_slice(&self.g[a..b]);
            for &g in &self.g[a..b] {
                if g < 1.0 {
                    self.stats.limited_frames += 1;
                    let db = -20.0 * (g as f64).log10();
                    if db > self.stats.max_gain_reduction_db {
                        self.stats.max_gain_reduction_db = db;
                    }
                }
            }
            self.stats.frames += (emit_to - self.n_out) as u64;
            self.n_out = emit_to;
        }
        self.compact();
    }

    /// Drops buffered frames nothing needs any more.
    fn compact(&mut self) {
        let hist = (self
            .det
            .fir()
            .taps_per_phase
            .max(self.ver.fir().taps_per_phase)) as i64;
        let keep_from = (self.n_out - hist).min(self.n_det - self.det_d - hist);
        let drop = keep_from - self.base;
        if drop > 1 << 16 {
            let d = drop as usize;
            for b in self.x.iter_mut().chain(self.y.iter_mut()) {
                b.drain(..d);
            }
            self.g.drain(..d);
            self.base += drop;
        }
    }

    /// Detection, attack and release for the next aligned block of centres.
    fn detect_block(&mut self) {
        let t = self.det.fir().taps_per_phase as i64;
        let d = self.det_d;
        let bound = self.det.gain_bound();
        let mut r: Vec<f32> = Vec::with_capacity(BLOCK as usize);
        {
            let c0 = self.n_det;
            let c1 = (c0 / BLOCK + 1) * BLOCK;
            // Inputs feeding centres c0..c1: c0 + d - (t - 1) ..= c1 - 1 + d.
            let (lo, hi) = (self.idx(c0 + d - (t - 1)), self.idx(c1 - 1 + d));
            let local = self
                .x
                .iter()
                .map(|ch| ch[lo..=hi].iter().fold(0f32, |m, v| m.max(v.abs())))
                .fold(0f32, f32::max);
            r.clear();
            if local * bound <= self.target {
                r.resize((c1 - c0) as usize, 1.0);
            } else {
                r.resize((c1 - c0) as usize, 0.0);
                self.scratch.resize((c1 - c0) as usize, 0.0);
                for ch in &self.x {
                    self.det.per_sample(&ch[lo..=hi], &mut self.scratch);
                    for (p, &s) in r.iter_mut().zip(&self.scratch) {
                        *p = (*p).max(s);
                    }
                }
                for p in r.iter_mut() {
                    *p = if *p > self.target {
                        self.target / *p
                    } else {
                        1.0
                    };
                }
            }
            for (i, &rv) in r.iter().enumerate() {
                self.push_r(c0 + i as i64, rv);
            }
            self.n_det = c1;
        }
    }

    /// Sliding minimum over the lookahead, moving average, release: gain for frame
    /// `k - (attack - 1)`. Frames before 0 are run through the same recursion (so that a
    /// peak right at the start is met by a ramp that began "before" it), but not stored.
    fn push_r(&mut self, k: i64, rv: f32) {
        while self.minq.back().is_some_and(|&(_, v)| v >= rv) {
            self.minq.pop_back();
        }
        self.minq.push_back((k, rv));
        let j = k - (self.attack as i64 - 1);
        while self.minq.front().is_some_and(|&(i, _)| i < j) {
            self.minq.pop_front();
        }
        let m = self.minq.front().map_or(1.0, |&(_, v)| v);
        self.mhist.push_back(m);
        self.msum += m as f64;
        self.msum -= self.mhist.pop_front().unwrap_or(1.0) as f64;
        if j.rem_euclid(65_536) == 0 {
            self.msum = self.mhist.iter().map(|&v| v as f64).sum();
        }
        let att = (self.msum / self.attack as f64) as f32;
        let rel = (1.0 - (1.0 - self.g_prev as f64) * self.release) as f32;
        let g = att.min(rel).min(1.0);
        self.g_prev = g;
        if j < 0 {
            return;
        }
        debug_assert_eq!(j, self.n_gain);
        let i = self.idx(j);
        if self.g.len() <= i {
            self.g.resize(i + 1, 1.0);
        }
        self.g[i] = g;
        for (y, x) in self.y.iter_mut().zip(&self.x) {
            if y.len() <= i {
                y.resize(i + 1, 0.0);
            }
            y[i] = g * x[i];
        }
        self.n_gain = j + 1;
    }

    /// Checks the output at the verification factor and corrects overs.
    fn verify(&mut self) {
        let t = self.ver.fir().taps_per_phase as i64;
        let d = self.ver_d;
        let bound = self.ver.gain_bound();
        let last = self.n_gain - d; // centres whose window is complete
        while self.n_ver < last {
            let c0 = self.n_ver;
            let c1 = (c0 + BLOCK).min(last);
            let (lo, hi) = (self.idx(c0 + d - (t - 1)), self.idx(c1 - 1 + d));
            let local = self
                .y
                .iter()
                .map(|ch| ch[lo..=hi].iter().fold(0f32, |m, v| m.max(v.abs())))
                .fold(0f32, f32::max);
            if local * bound <= self.ceiling {
                self.n_ver = c1;
                continue;
            }
            // Find the first over in the block.
            let mut over: Option<(i64, f32)> = None;
            self.scratch.resize((c1 - c0) as usize, 0.0);
            let mut worst = vec![0f32; (c1 - c0) as usize];
            for ch in &self.y {
                self.ver.per_sample(&ch[lo..=hi], &mut self.scratch);
                for (w, &s) in worst.iter_mut().zip(&self.scratch) {
                    *w = w.max(s);
                }
            }
            if let Some(i) = worst.iter().position(|&w| w > self.ceiling) {
                over = Some((c0 + i as i64, worst[i]));
            }
            match over {
                None => self.n_ver = c1,
                Some((c, peak)) => self.correct(c, peak),
            }
        }
    }

    /// Scales the gain over the filter window of centre `c` so its output meets the
    /// ceiling, with linear ramps either side, and rewinds verification over the change.
    fn correct(&mut self, c: i64, peak: f32) {
        self.stats.corrections += 1;
        let d = self.ver_d;
        let (w0, w1) = (c - d + 1, c + d); // window, inclusive
        if w0.max(0) < self.n_out {
            // Cannot happen with the guard; count it rather than loop forever.
            self.stats.residual_overs += 1;
            self.n_ver = c + 1;
            return;
        }
        let s = (self.ceiling as f64 / peak as f64 * (1.0 - 1e-5)) as f32;
        let lo = (w0 - self.ramp).max(self.n_out);
        let hi = (w1 + self.ramp).min(self.n_gain - 1);
        for m in lo..=hi {
            let f = if m < w0 {
                let k = (w0 - m) as f32 / (self.ramp + 1) as f32;
                s + (1.0 - s) * k
            } else if m > w1 {
                let k = (m - w1) as f32 / (self.ramp + 1) as f32;
                s + (1.0 - s) * k
            } else {
                s
            };
            let i = self.idx(m);
            self.g[i] *= f;
            let g = self.g[i];
            for (y, x) in self.y.iter_mut().zip(&self.x) {
                y[i] = g * x[i];
            }
        }
        self.g_prev = self.g_prev.min(self.g[self.idx(self.n_gain - 1)]);
        // Rewind to the first centre whose window holds a changed frame, but not to one
        // whose window holds frames already output (frames before 0 are silence).
        let floor = if self.n_out == 0 {
            0
        } else {
            self.n_out + d - 1
        };
        self.n_ver = (lo - d).max(floor).min(self.n_ver);
    }
}

/// Applies a [`Limiter`]'s gain envelope to another signal (the M&E, the stems): push
/// that signal's frames as they come, then hand over each `gain_out` the limiter
/// produced; the frames come back scaled by exactly the same per-frame gains, in step
/// with the limiter's output.
#[derive(Debug, Clone)]
pub struct GainFollower {
    queue: Vec<VecDeque<f32>>,
}

impl GainFollower {
    /// A follower for a signal of `channels` channels.
    pub fn new(channels: usize) -> Self {
        GainFollower {
            queue: vec![VecDeque::new(); channels],
        }
    }

    /// Frames pushed and not yet released.
    pub fn pending(&self) -> usize {
        self.queue.first().map_or(0, VecDeque::len)
    }

    /// Queues planar frames (one slice per channel, equal lengths).
    pub fn push(&mut self, input: &[&[f32]]) -> Result<()> {
        if input.len() != self.queue.len() {
            return Err(Error::Invalid(format!(
                "gain follower: {} channels pushed, configured for {}",
                input.len(),
                self.queue.len()
            )));
        }
        let n = input.first().map_or(0, |c| c.len());
        if input.iter().any(|c| c.len() != n) {
            return Err(Error::Invalid(
                "gain follower: channels of unequal length".into(),
            ));
        }
        for (q, c) in self.queue.iter_mut().zip(input) {
            q.extend(c.iter().copied());
        }
        Ok(())
    }

    /// Releases `gain.len()` frames multiplied by `gain` into `output` (cleared first).
    /// Errors when fewer frames are pending than gains given.
    pub fn apply(&mut self, gain: &[f32], output: &mut [Vec<f32>]) -> Result<()> {
        if output.len() != self.queue.len() {
            return Err(Error::Invalid(format!(
                "gain follower: {} output channels, configured for {}",
                output.len(),
                self.queue.len()
            )));
        }
        if gain.len() > self.pending() {
            return Err(Error::Invalid(format!(
                "gain follower: {} gains for {} pending frames (push the signal before its gains)",
                gain.len(),
                self.pending()
            )));
        }
        for (q, o) in self.queue.iter_mut().zip(output.iter_mut()) {
            o.clear();
            o.extend(q.drain(..gain.len()).zip(gain).map(|(x, &g)| g * x));
        }
        Ok(())
    }
}
