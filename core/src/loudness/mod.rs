//! Loudness measurement after ITU-R BS.1770-4 and EBU R128 (Tech 3341, 3342).
//!
//! The work is split the way the GPU splits it:
//!
//! ```text
//! planar f32 ──► HopAnalyzer (CPU) or the GPU analyzer ──► Hop per 100 ms:
//!                  K-weighting (filter.rs), f64 state        energy sum, sample peak,
//!                  true peak on the raw signal (true_peak.rs) true peak (per channel)
//!                                                   │
//!                                                   ▼
//!                       Meter (meter.rs, f64): momentary, short-term, integrated,
//!                       LRA, maxima, dialogue-gated loudness ──► LoudnessSummary
//!                       (gating from histograms, histogram.rs: bounded memory, and
//!                       the MeterState of several parts merges exactly)
//! ```
//!
//! [`measure::measure_file`] streams a WAV file through a backend's analyzer into a [`Meter`].

pub mod analyzer;
pub mod filter;
pub mod histogram;
pub mod measure;
pub mod meter;
pub mod true_peak;

pub use analyzer::{Analyzer, AnalyzerConfig, Hop};
pub use filter::{Biquad, BiquadState, KWeightLanes, KWeightState, k_weight, k_weighting};
pub use histogram::{DialogueHistogram, LoudnessHistogram, MeterState};
pub use measure::{FileMeasurement, MeasureOptions, measure_file};
pub use meter::{DialogueGate, DialogueLoudness, LoudnessSummary, Meter, Timeline, TimelinePoint};
pub use true_peak::{
    TruePeakFir, TruePeakKernel, default_true_peak_factor, true_peak, true_peak_fir,
};

use crate::{Error, Result};

/// Samples per hop (100 ms) at `sample_rate`, or an error when 100 ms is not a whole
/// number of samples.
pub fn hop_frames(sample_rate: u32) -> Result<usize> {
    if sample_rate < 8000 {
        return Err(Error::Invalid(format!(
            "sample rate {sample_rate} Hz: loudness needs at least 8 kHz (the K-weighting \
             shelf sits at 1.7 kHz)"
        )));
    }
    if sample_rate % 10 != 0 {
        return Err(Error::Invalid(format!(
            "sample rate {sample_rate} Hz: loudness needs 100 ms to be a whole number of samples"
        )));
    }
    Ok(sample_rate as usize / 10)
}

/// CPU twin of the energy sum of `hop_figures` in `shaders/k_weight.wgsl` (there is no
/// separate block-energy shader): the sum of squares of a K-weighted block, accumulated
/// in f64 in increasing index order.
pub fn block_energy(k_weighted: &[f64]) -> f64 {
    k_weighted.iter().fold(0.0, |s, &y| s + y * y)
}

/// CPU reference of the GPU analysis kernels (`k_weight.wgsl` with `true_peak.wgsl`): the
/// same hops, computed sequentially in f64 (the shader runs a segmented scan of an SVF
/// form in f32; see `dubstage_gpu`'s table of twins for why this is not a line-by-line
/// twin).
///
/// Per channel it carries the K-weighting state (f64) and the true-peak interpolator's
/// history across [`Analyzer::push`] calls, so the hops do not depend on the block size.
///
/// Hop `h` covers input samples `h * hop .. (h + 1) * hop` (`hop = sample_rate / 10`):
/// - `energy`: sum of squares of the K-weighted signal over those samples;
/// - `sample_peak`: max |x| over them;
/// - `true_peak`: max |y| over the oversampled outputs whose *centre* lies in the hop:
///   output `n * factor + p` of [`TruePeakFir`] estimates the signal at input time
///   `n - delay + p / factor`, so it belongs to the hop of sample `n - delay`
///   (outputs centred before sample 0 are dropped). [`Analyzer::finish`] feeds `delay`
///   zero samples to the interpolator to complete the last hop. Because phase 0 is an
///   exact delay, `true_peak >= sample_peak` in every hop. With
///   `true_peak_oversample == 0` the true peak is 0; with 1 it equals the sample peak.
///
/// Channels are processed in parallel (rayon on native targets); every figure is
/// computed by one thread in a fixed order, so the results are deterministic.
pub struct HopAnalyzer {
    channels: usize,
    hop: usize,
    chans: Vec<ChannelState>,
    /// Hops handed out so far.
    emitted: u64,
    finished: bool,
}

/// Centres per block in the true-peak pass (the unit of the skip test).
const TP_BLOCK: usize = 64;

#[derive(Clone)]
struct ChannelState {
    coeffs: [Biquad; 2],
    kstate: KWeightState,
    hop: usize,
    // Energy side: the hop being filled.
    cur_energy: f64,
    cur_sp: f32,
    cur_frames: usize,
    // Completed hops not yet taken.
    done_energy: Vec<f64>,
    done_sp: Vec<f32>,
    done_frames: Vec<usize>,
    // True-peak side (None when off).
    tp: Option<TpState>,
}

#[derive(Clone)]
struct TpState {
    kernel: TruePeakKernel,
    /// The last `taps - 1` input samples followed by the new ones (work buffer).
    buf: Vec<f32>,
    /// Next centre index to evaluate (absolute input sample index).
    next_center: i64,
    /// Samples pushed so far (including the final flush).
    pushed: i64,
    /// Running maximum of the hop that contains `next_center`.
    cur: f32,
    done: Vec<f32>,
    /// Skip against the maximum of all hops so far, not just the current hop's
    /// (see [`HopAnalyzer::with_running_true_peak`]).
    running: bool,
    /// The maximum of the completed hops.
    best: f32,
}

impl ChannelState {
    fn new(coeffs: [Biquad; 2], hop: usize, fir: Option<&TruePeakFir>) -> Self {
        let tp = fir.map(|f| TpState {
            kernel: TruePeakKernel::new(f),
            buf: vec![0.0; f.taps_per_phase - 1],
            next_center: 0,
            pushed: 0,
            cur: 0.0,
            done: Vec::new(),
            running: false,
            best: 0.0,
        });
        ChannelState {
            coeffs,
            kstate: Default::default(),
            hop,
            cur_energy: 0.0,
            cur_sp: 0.0,
            cur_frames: 0,
            done_energy: Vec::new(),
            done_sp: Vec::new(),
            done_frames: Vec::new(),
            tp,
        }
    }

    /// Hops emitted before the ones in `done_*` (same for energy and true peak).
    fn push(&mut self, x: &[f32], emitted: u64) {
        self.energy_pass(x);
        if self.tp.is_some() {
            self.tp_pass(x, emitted);
        }
    }

    fn energy_pass(&mut self, mut x: &[f32]) {
        let c = self.coeffs;
        while !x.is_empty() {
            let take = (self.hop - self.cur_frames).min(x.len());
            let (seg, rest) = x.split_at(take);
            if self.silent_through(seg) {
                // As in `energy_pass_pair`: nothing to filter.
                self.advance(take);
                x = rest;
                continue;
            }
            let mut st = self.kstate;
            let mut e = self.cur_energy;
            for &v in seg {
                let y = st.tick(&c, v as f64);
                e += y * y;
            }
            let sp = seg.iter().fold(self.cur_sp, |m, v| m.max(v.abs()));
            // After digital silence the state decays towards subnormal numbers, which
            // x86 computes ~100x slower: below 1e-30 (-600 dB) it is flushed to zero,
            // once per hop (at most 4800 samples: too few to decay from 1e-30 to 1e-308).
            if st.magnitude() < 1e-30 {
                st = KWeightState::default();
            }
            self.kstate = st;
            self.cur_energy = e;
            self.cur_sp = sp;
            self.advance(take);
            x = rest;
        }
    }

    /// [`Self::energy_pass`] of two channels at once (the same hops, bit for bit: the
    /// K-weighting runs in two lanes of [`KWeightLanes`], the rest per channel as there).
    fn energy_pass_pair(a: &mut ChannelState, b: &mut ChannelState, xa: &[f32], xb: &[f32]) {
        debug_assert!(a.coeffs == b.coeffs && a.hop == b.hop && xa.len() == xb.len());
        debug_assert_eq!(a.cur_frames, b.cur_frames);
        let c = a.coeffs;
        let mut at = 0;
        while at < xa.len() {
            let take = (a.hop - a.cur_frames).min(xa.len() - at);
            let (sa, sb) = (&xa[at..at + take], &xb[at..at + take]);
            if a.silent_through(sa) && b.silent_through(sb) {
                // Filtering changes nothing: the energy and the peaks gain zeros.
                a.advance(take);
                b.advance(take);
                at += take;
                continue;
            }
            let mut st = KWeightLanes::new([a.kstate, b.kstate]);
            let mut e = [a.cur_energy, b.cur_energy];
            for (&u, &v) in sa.iter().zip(sb) {
                let y = st.tick(&c, [u as f64, v as f64]);
                e[0] += y[0] * y[0];
                e[1] += y[1] * y[1];
            }
            for (l, (ch, seg)) in [(&mut *a, sa), (&mut *b, sb)].into_iter().enumerate() {
                let mut k = st.lane(l);
                // As in `energy_pass`: the state is flushed below 1e-30, once per hop.
                if k.magnitude() < 1e-30 {
                    k = KWeightState::default();
                }
                ch.kstate = k;
                ch.cur_energy = e[l];
                ch.cur_sp = seg.iter().fold(ch.cur_sp, |m, v| m.max(v.abs()));
                ch.advance(take);
            }
            at += take;
        }
    }

    /// [`Self::push`] of two channels: their energy passes together, then each
    /// channel's true-peak pass.
    fn push_pair(a: &mut ChannelState, b: &mut ChannelState, xa: &[f32], xb: &[f32], emitted: u64) {
        Self::energy_pass_pair(a, b, xa, xb);
        for (ch, x) in [(a, xa), (b, xb)] {
            if ch.tp.is_some() {
                ch.tp_pass(x, emitted);
            }
        }
    }

    /// Whether K-weighting `seg` would leave everything as it is: the filter is at rest
    /// (its state exactly zero, as before any sound or after the flush below 1e-30) and
    /// `seg` is digital silence. The filter's output is then exactly zero, so the hop's
    /// energy and sample peak do not change (an unused channel of a deliverable, the
    /// five empty channels of a dialogue stem).
    fn silent_through(&self, seg: &[f32]) -> bool {
        self.kstate == KWeightState::default() && crate::is_digital_silence(seg)
    }

    /// Counts `take` more frames of the current hop, closing it when it is full.
    fn advance(&mut self, take: usize) {
        self.cur_frames += take;
        if self.cur_frames == self.hop {
            self.close_energy_hop();
        }
    }

    fn close_energy_hop(&mut self) {
        self.done_energy.push(self.cur_energy);
        self.done_sp.push(self.cur_sp);
        self.done_frames.push(self.cur_frames);
        self.cur_energy = 0.0;
        self.cur_sp = 0.0;
        self.cur_frames = 0;
    }

    /// The best known lower bound of hop `h`'s true peak: its sample peak so far.
    fn sp_lower_bound(&self, h: u64, emitted: u64) -> f32 {
        let idx = (h - emitted) as usize;
        match self.done_sp.get(idx) {
            Some(&v) => v,
            None if idx == self.done_sp.len() => self.cur_sp,
            None => 0.0,
        }
    }

    fn tp_pass(&mut self, x: &[f32], emitted: u64) {
        let hop = self.hop as i64;
        let mut tp = self.tp.take().expect("tp state");
        let t = tp.kernel.fir().taps_per_phase;
        let d = (t / 2) as i64;
        let history = t - 1;
        tp.buf.extend_from_slice(x);
        tp.pushed += x.len() as i64;
        // buf[i] is input sample `buf_start + i`.
        let buf_start = tp.pushed - tp.buf.len() as i64;
        let bound = tp.kernel.gain_bound();
        // Centre c needs inputs up to c + d: evaluate c < pushed - d.
        let last_center = tp.pushed - d;
        let mut c = tp.next_center;
        let mut first = true;
        while c < last_center {
            let h = c / hop;
            let hop_end = (h + 1) * hop;
            let stop = last_center.min(hop_end).min(c + TP_BLOCK as i64);
            if first || c % hop == 0 {
                tp.cur = tp.cur.max(self.sp_lower_bound(h as u64, emitted));
                first = false;
            }
            // Inputs feeding centres c..stop: n - k for n in c+d..stop+d, k in 0..t.
            let lo = (c + d - history as i64 - buf_start) as usize;
            let hi = (stop - 1 + d - buf_start) as usize;
            let win = &tp.buf[lo..=hi];
            let local = win.iter().fold(0f32, |m, v| m.max(v.abs()));
            let floor = if tp.running {
                tp.cur.max(tp.best)
            } else {
                tp.cur
            };
            if local * bound > floor {
                tp.cur = tp.cur.max(tp.kernel.max(win));
            }
            c = stop;
            if c == hop_end {
                tp.done.push(tp.cur);
                tp.best = tp.best.max(tp.cur);
                tp.cur = 0.0;
            }
        }
        tp.next_center = tp.next_center.max(c);
        // Keep the last `history` samples.
        let drop = tp.buf.len() - history;
        tp.buf.drain(..drop);
        self.tp = Some(tp);
    }

    fn finish(&mut self, emitted: u64) {
        if let Some(tp) = &self.tp {
            let d = tp.kernel.fir().delay();
            let zeros = vec![0f32; d];
            self.tp_pass(&zeros, emitted);
        }
        if self.cur_frames > 0 {
            self.close_energy_hop();
        }
        if let Some(tp) = &mut self.tp {
            if tp.done.len() < self.done_energy.len() {
                tp.done.push(tp.cur);
                tp.cur = 0.0;
            }
        }
    }

    fn ready(&self) -> usize {
        match &self.tp {
            Some(tp) => tp.done.len().min(self.done_energy.len()),
            None => self.done_energy.len(),
        }
    }
}

impl HopAnalyzer {
    /// A new analyzer for `cfg`. Errors when the sample rate does not divide into
    /// 100 ms hops, there are no channels, or the oversampling factor is unsupported.
    pub fn new(cfg: &AnalyzerConfig) -> Result<Self> {
        if cfg.channels == 0 {
            return Err(Error::Invalid("loudness analyzer: no channels".into()));
        }
        let hop = hop_frames(cfg.sample_rate)?;
        let fir = match cfg.true_peak_oversample {
            0 => None,
            f => Some(true_peak_fir(f)?),
        };
        let coeffs = k_weighting(cfg.sample_rate);
        Ok(HopAnalyzer {
            channels: cfg.channels,
            hop,
            chans: (0..cfg.channels)
                .map(|_| ChannelState::new(coeffs, hop, fir.as_ref()))
                .collect(),
            emitted: 0,
            finished: false,
        })
    }

    /// For callers that need the true peak of the whole stream, not of every hop (the
    /// meter keeps only the maximum per channel): a block of centres is interpolated only
    /// when its bound (window peak x the interpolator's gain bound) exceeds the maximum of
    /// *all* hops so far, not just the current hop's. The maximum over the hops stays
    /// exact; a single hop's `true_peak` is then a lower bound of its true peak (never
    /// below its sample peak). On programme material most blocks are skipped.
    pub fn with_running_true_peak(mut self) -> Self {
        for ch in &mut self.chans {
            if let Some(tp) = &mut ch.tp {
                tp.running = true;
            }
        }
        self
    }

    /// Frames per full hop.
    pub fn hop_frames(&self) -> usize {
        self.hop
    }

    fn for_each_channel(&mut self, f: impl Fn(&mut ChannelState) + Sync + Send) {
        #[cfg(not(target_arch = "wasm32"))]
        if self.chans.len() > 1 {
            use rayon::prelude::*;
            self.chans.par_iter_mut().for_each(f);
            return;
        }
        self.chans.iter_mut().for_each(f);
    }

    fn collect(&mut self) -> Vec<Hop> {
        let n = self
            .chans
            .iter()
            .map(ChannelState::ready)
            .min()
            .unwrap_or(0);
        let mut hops: Vec<Hop> = (0..n)
            .map(|i| Hop {
                frames: self.chans[0].done_frames[i],
                energy: Vec::with_capacity(self.channels),
                sample_peak: Vec::with_capacity(self.channels),
                true_peak: Vec::with_capacity(self.channels),
            })
            .collect();
        for ch in &mut self.chans {
            for (i, h) in hops.iter_mut().enumerate() {
                h.energy.push(ch.done_energy[i]);
                h.sample_peak.push(ch.done_sp[i]);
                h.true_peak
                    .push(ch.tp.as_ref().map_or(0.0, |tp| tp.done[i]));
            }
            ch.done_energy.drain(..n);
            ch.done_sp.drain(..n);
            ch.done_frames.drain(..n);
            if let Some(tp) = &mut ch.tp {
                tp.done.drain(..n);
            }
        }
        self.emitted += n as u64;
        hops
    }
}

impl Analyzer for HopAnalyzer {
    fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        if self.finished {
            return Err(Error::Backend(
                "loudness analyzer: push after finish".into(),
            ));
        }
        if planar.len() != self.channels {
            return Err(Error::Backend(format!(
                "loudness analyzer: {} channels pushed, configured for {}",
                planar.len(),
                self.channels
            )));
        }
        let n = planar[0].len();
        if planar.iter().any(|c| c.len() != n) {
            return Err(Error::Backend(
                "loudness analyzer: channels of unequal length".into(),
            ));
        }
        let emitted = self.emitted;
        // Channels in pairs (the K-weighting of a pair runs in two vector lanes); a
        // last odd channel alone.
        let group = |(chs, xs): (&mut [ChannelState], &[&[f32]])| match (chs, xs) {
            ([a, b], [xa, xb]) => ChannelState::push_pair(a, b, xa, xb, emitted),
            (chs, xs) => {
                for (ch, x) in chs.iter_mut().zip(xs) {
                    ch.push(x, emitted);
                }
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        if self.chans.len() > 2 {
            use rayon::prelude::*;
            self.chans
                .par_chunks_mut(2)
                .zip(planar.par_chunks(2))
                .for_each(group);
            return Ok(());
        }
        self.chans
            .chunks_mut(2)
            .zip(planar.chunks(2))
            .for_each(group);
        Ok(())
    }

    fn take_hops(&mut self) -> Result<Vec<Hop>> {
        Ok(self.collect())
    }

    fn finish(&mut self) -> Result<Vec<Hop>> {
        if !self.finished {
            self.finished = true;
            let emitted = self.emitted;
            self.for_each_channel(|ch| ch.finish(emitted));
        }
        Ok(self.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hops of `sig` (planar) through an analyzer, pushed in uneven chunks.
    fn hops(mut a: HopAnalyzer, sig: &[Vec<f32>]) -> Vec<Hop> {
        let mut out = Vec::new();
        let mut at = 0;
        let mut k = 1usize;
        while at < sig[0].len() {
            let n = (977 * k % 6000 + 1).min(sig[0].len() - at);
            let v: Vec<&[f32]> = sig.iter().map(|c| &c[at..at + n]).collect();
            a.push(&v).unwrap();
            out.extend(a.take_hops().unwrap());
            at += n;
            k += 1;
        }
        out.extend(a.finish().unwrap());
        out
    }

    /// The paired K-weighting (two channels in vector lanes) against the one-channel
    /// analyzer, the sequential reference: every hop's energy, sample peak and true peak
    /// equal bit for bit, for 2, 3, 5 and 6 channels (pairs and an odd channel), with
    /// silence (the subnormal flush) in one channel and not the other.
    #[test]
    fn paired_channels_equal_one_channel_analyzers_bit_for_bit() {
        let n = 48_000 * 2 + 777;
        let sig: Vec<Vec<f32>> = (0..6)
            .map(|c| {
                (0..n)
                    .map(|i| {
                        if c == 1 && (30_000..70_000).contains(&i) {
                            return 0.0; // silence long enough to flush the state
                        }
                        let t = i as f64 / 48_000.0;
                        let f = 40.0 * (c as f64 + 1.0).powi(3);
                        let noise = ((i * 7919 + c * 104_729) % 1000) as f64 / 1000.0 - 0.5;
                        (0.6 * (std::f64::consts::TAU * f * t).sin() + 0.3 * noise) as f32
                    })
                    .collect()
            })
            .collect();
        for channels in [2usize, 3, 5, 6] {
            for tp in [0u32, 4] {
                let cfg = AnalyzerConfig {
                    channels,
                    sample_rate: 48_000,
                    true_peak_oversample: tp,
                };
                let all = hops(HopAnalyzer::new(&cfg).unwrap(), &sig[..channels]);
                let one = AnalyzerConfig { channels: 1, ..cfg };
                for (c, s) in sig[..channels].iter().enumerate() {
                    let alone = hops(HopAnalyzer::new(&one).unwrap(), std::slice::from_ref(s));
                    assert_eq!(all.len(), alone.len());
                    for (h, (a, b)) in all.iter().zip(&alone).enumerate() {
                        assert_eq!(a.frames, b.frames);
                        assert_eq!(
                            a.energy[c].to_bits(),
                            b.energy[0].to_bits(),
                            "ch {c} hop {h}"
                        );
                        assert_eq!(a.sample_peak[c].to_bits(), b.sample_peak[0].to_bits());
                        assert_eq!(a.true_peak[c].to_bits(), b.true_peak[0].to_bits());
                    }
                }
            }
        }
    }

    /// The analyzer skips K-weighting digital silence while the filter is at rest (before
    /// any sound, in an unused channel, after the flush); every hop's energy still equals
    /// bit for bit the f64 reference that filters every sample (`KWeightState::tick`,
    /// the same flush at the end of each hop), alone and in pairs.
    #[test]
    fn silence_at_rest_is_skipped_without_changing_a_hop() {
        let (sr, hop) = (48_000usize, 4_800usize);
        let n = 3 * sr + 123;
        let noise = |i: usize, c: usize| {
            (((i * 7919 + c * 104_729) % 1000) as f64 / 1000.0 - 0.5) as f32 * 0.5
        };
        let sig: Vec<Vec<f32>> = vec![
            // silent at first, sound, silence long enough to flush, sound again
            (0..n)
                .map(|i| match i {
                    _ if i < 57_600 || (86_400..129_600).contains(&i) => 0.0,
                    _ => noise(i, 0),
                })
                .collect(),
            vec![0.0; n],
            (0..n).map(|i| noise(i, 2)).collect(),
        ];
        let reference = |x: &[f32]| -> Vec<f64> {
            let c = k_weighting(sr as u32);
            let (mut st, mut e, mut out) = (KWeightState::default(), 0.0, Vec::new());
            for (i, &v) in x.iter().enumerate() {
                let y = st.tick(&c, v as f64);
                e += y * y;
                if (i + 1) % hop == 0 || i + 1 == x.len() {
                    out.push(e);
                    e = 0.0;
                    if st.magnitude() < 1e-30 {
                        st = KWeightState::default();
                    }
                }
            }
            out
        };
        for channels in [1usize, 2, 3] {
            let mut a = HopAnalyzer::new(&AnalyzerConfig {
                channels,
                sample_rate: sr as u32,
                true_peak_oversample: 0,
            })
            .unwrap();
            let v: Vec<&[f32]> = sig[..channels].iter().map(|c| c.as_slice()).collect();
            a.push(&v).unwrap();
            let mut got = a.take_hops().unwrap();
            got.extend(a.finish().unwrap());
            for (c, x) in sig[..channels].iter().enumerate() {
                let want = reference(x);
                assert_eq!(got.len(), want.len());
                for (h, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.energy[c].to_bits(), w.to_bits(), "ch {c} hop {h}");
                }
            }
        }
        // The flush happened: the first channel's silent hops after the sound are 0.
        assert_eq!(reference(&sig[0])[25], 0.0);
        assert!(reference(&sig[0])[15] > 0.0);
    }

    #[test]
    fn silence_flushes_the_filter_state_before_it_goes_subnormal() {
        let cfg = AnalyzerConfig {
            channels: 1,
            sample_rate: 48_000,
            true_peak_oversample: 0,
        };
        let mut a = HopAnalyzer::new(&cfg).unwrap();
        let burst: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.1).sin() * 0.9).collect();
        a.push(&[&burst]).unwrap();
        assert!(a.chans[0].kstate.magnitude() > 1e-3);
        // 5 s of digital silence: the state rings down, then is flushed to exact zero
        // (without the flush it would sit in subnormal numbers, not at zero).
        a.push(&[&vec![0f32; 240_000]]).unwrap();
        assert_eq!(a.chans[0].kstate, KWeightState::default());
        let hops = a.take_hops().unwrap();
        assert_eq!(hops.last().unwrap().energy[0], 0.0);
    }

    #[test]
    fn running_true_peak_keeps_the_exact_maximum_and_skips_quieter_hops() {
        let rate = 48_000;
        let n = rate as usize * 3;
        // A loud burst near 11 kHz early, then quieter tones, then a louder inter-sample
        // peak (fs/4 at 45 degrees: samples at 0.707 of the peak) late in the stream.
        let mut l = vec![0f32; n];
        let mut r = vec![0f32; n];
        for i in 0..n {
            let t = i as f64 / rate as f64;
            let (a, f) = if i < 4800 {
                (0.8, 11_025.0)
            } else if i < 120_000 {
                (0.2, 997.0)
            } else {
                (0.95, 12_000.0)
            };
            let ph = std::f64::consts::TAU * f * t + std::f64::consts::FRAC_PI_4;
            l[i] = (a * ph.sin()) as f32;
            r[i] = (0.5 * a * (ph * 0.5).cos()) as f32;
        }
        let sig = vec![l, r];
        let cfg = AnalyzerConfig {
            channels: 2,
            sample_rate: rate,
            true_peak_oversample: 4,
        };
        let exact = hops(HopAnalyzer::new(&cfg).unwrap(), &sig);
        let running = hops(
            HopAnalyzer::new(&cfg).unwrap().with_running_true_peak(),
            &sig,
        );
        assert_eq!(exact.len(), running.len());
        let mut lower = 0;
        for (e, r) in exact.iter().zip(&running) {
            assert_eq!(e.energy, r.energy);
            assert_eq!(e.sample_peak, r.sample_peak);
            for c in 0..2 {
                assert!(r.true_peak[c] <= e.true_peak[c]);
                assert!(r.true_peak[c] >= r.sample_peak[c]);
                if r.true_peak[c] < e.true_peak[c] {
                    lower += 1;
                }
            }
        }
        for c in 0..2 {
            let max = |h: &[Hop]| h.iter().fold(0f32, |m, h| m.max(h.true_peak[c]));
            assert_eq!(max(&exact), max(&running), "channel {c}");
        }
        // The quiet middle lies under the burst's bound: its blocks were skipped.
        assert!(lower > 20, "only {lower} hops were skipped");
    }
}
