//! Streaming defect detectors over planar `f32` blocks of one deliverable.
//!
//! [`QcDetectors`] runs them all: clipped runs and NaN/Inf everywhere (a
//! defect in the leader is still a defect); DC offset, drop-outs, programme
//! silence, phase correlation and LFE bandwidth only inside the programme
//! range ([`QcDetectors::with_programme`]), so the 2-pop and the silent
//! leader do not trip them.
//!
//! One concern in one file (over 800 lines): the streaming detectors share one block loop,
//! one programme range and one finding model; each detector keeps its state in a struct here.

use super::report::{Check, Finding, FindingKind, Status};
use super::{QcConfig, dbfs, from_dbfs};
use crate::layout::{Channel, Layout};
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use std::cmp::Ordering::{Equal, Less};
use std::collections::BTreeMap;
use std::collections::VecDeque;

/// Turns sample positions (from a deliverable's first sample) into timecodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeBase {
    /// Sample rate (Hz).
    pub sample_rate: u32,
    /// Session frame rate.
    pub rate: FrameRate,
    /// Samples since midnight of sample 0 (the start timecode).
    pub start_samples: i64,
}

impl TimeBase {
    /// Sample 0 sits at `start`.
    pub fn new(sample_rate: u32, start: Timecode) -> TimeBase {
        TimeBase {
            sample_rate,
            rate: start.rate,
            start_samples: start.to_samples(sample_rate),
        }
    }

    /// The timecode of the frame containing `sample`.
    pub fn timecode(&self, sample: u64) -> String {
        Timecode::from_samples(
            self.start_samples + sample as i64,
            self.rate,
            self.sample_rate,
        )
        .to_string()
    }

    /// `samples` in seconds.
    pub fn seconds(&self, samples: u64) -> f64 {
        samples as f64 / self.sample_rate as f64
    }

    /// `seconds` in whole samples (rounded).
    pub fn samples(&self, seconds: f64) -> u64 {
        (seconds * self.sample_rate as f64).round().max(0.0) as u64
    }
}

/// Findings kept per kind, capped; the overflow is counted.
#[derive(Debug, Default)]
struct Sink {
    cap: usize,
    kinds: BTreeMap<FindingKind, (Vec<Finding>, u64)>,
}

impl Sink {
    fn push(&mut self, f: Finding) {
        let e = self.kinds.entry(f.kind).or_default();
        if e.0.len() < self.cap {
            e.0.push(f);
        } else {
            e.1 += 1;
        }
    }
}

/// A group of runs closer together than the merge gap.
#[derive(Debug, Clone, Copy)]
struct Event {
    start: u64,
    end: u64,
    runs: u64,
    samples: u64,
    longest: u64,
    peak: f32,
}

#[derive(Debug)]
struct Merger {
    gap: u64,
    cur: Option<Event>,
}

impl Merger {
    fn new(gap: u64) -> Self {
        Merger { gap, cur: None }
    }

    /// Adds the run `[start, end)`; returns an event that is complete.
    fn add(&mut self, start: u64, end: u64, peak: f32) -> Option<Event> {
        let len = end - start;
        match &mut self.cur {
            Some(e) if start <= e.end + self.gap => {
                e.end = end;
                e.runs += 1;
                e.samples += len;
                e.longest = e.longest.max(len);
                e.peak = e.peak.max(peak);
                None
            }
            _ => self.cur.replace(Event {
                start,
                end,
                runs: 1,
                samples: len,
                longest: len,
                peak,
            }),
        }
    }

    fn flush(&mut self) -> Option<Event> {
        self.cur.take()
    }
}

/// Runs of consecutive full-scale samples on one channel.
#[derive(Debug)]
struct ClipState {
    run_start: Option<u64>,
    run_neg: bool,
    run_peak: f32,
    merger: Merger,
    runs: u64,
    samples: u64,
}

/// Runs of NaN/Inf samples on one channel.
#[derive(Debug)]
struct NanState {
    run_start: Option<u64>,
    merger: Merger,
    samples: u64,
}

/// Digital-silence runs on one channel (or on all channels together).
#[derive(Debug, Default)]
struct SilenceState {
    first_signal: Option<u64>,
    zero_start: Option<u64>,
}

impl SilenceState {
    /// Feeds one sample; returns a completed inner silence `[start, end)` of at
    /// least `min_len` samples.
    #[inline]
    fn step(&mut self, pos: u64, silent: bool, min_len: u64) -> Option<(u64, u64)> {
        if silent {
            if self.zero_start.is_none() {
                self.zero_start = Some(pos);
            }
            None
        } else {
            let mut out = None;
            let s = self.zero_start.take();
            if let (Some(s), Some(_)) = (s, self.first_signal) {
                if pos - s >= min_len {
                    out = Some((s, pos));
                }
            }
            if self.first_signal.is_none() {
                self.first_signal = Some(pos);
            }
            out
        }
    }
}

/// Drop-outs on one channel: digital silence inside the channel's programme
/// that cuts the sound off. The sound is cut off when its last
/// [`DROPOUT_EDGE_S`] before the silence still peaks at or above the edge
/// level and at least half the peak of the [`DROPOUT_CONTEXT_S`] before that:
/// no fade. Sound that fades (even over half a millisecond) or decays to zero
/// is not a drop-out, nor is a hard attack out of silence (sounds start
/// abruptly; they do not stop so). Limitation: a cut that lands within about
/// 0.25 ms of a zero crossing of a low, pure tone also reads as a fade; on
/// broadband programme (dialogue, effects, music mixes) the test is robust.
#[derive(Debug, Default)]
struct DropoutState {
    first_signal: Option<u64>,
    /// Current zero run: (start, the peak of the cut-off sound when it was
    /// cut off without a fade).
    zero: Option<(u64, Option<f32>)>,
    /// The last programme samples before the current block (context for a
    /// silence that starts at the top of a block), oldest first.
    tail: Vec<f32>,
}

/// The end of the sound judged for a cut: 0.25 ms (a linear fade of 0.5 ms or
/// longer halves the peak over this stretch).
pub const DROPOUT_EDGE_S: f64 = 0.000_25;
/// The stretch before [`DROPOUT_EDGE_S`] whose peak the edge is compared with.
pub const DROPOUT_CONTEXT_S: f64 = 0.010;

/// Peaks of the `edge` samples before block index `i`, and of the `context`
/// samples before those, looking back into `tail` across the block start.
fn edge_peaks(tail: &[f32], x: &[f32], i: usize, edge: usize, context: usize) -> (f32, f32) {
    let at = |k: usize| -> f32 {
        // k samples before index i (k >= 1).
        if k <= i {
            x[i - k].abs()
        } else {
            tail.len().checked_sub(k - i).map_or(0.0, |j| tail[j].abs())
        }
    };
    let peak = |a: usize, b: usize| {
        (a..b)
            .map(at)
            .filter(|v| v.is_finite())
            .fold(0.0f32, f32::max)
    };
    (peak(1, edge + 1), peak(edge + 1, edge + context + 1))
}

impl DropoutState {
    /// Keeps the last `keep` samples of the programme for the next block.
    fn remember(&mut self, x: &[f32], keep: usize) {
        if x.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&x[x.len() - keep..]);
        } else {
            let drop = (self.tail.len() + x.len()).saturating_sub(keep);
            self.tail.drain(..drop.min(self.tail.len()));
            self.tail.extend_from_slice(x);
        }
    }
}

/// Windowed correlation of one channel pair.
#[derive(Debug)]
struct PhaseState {
    a: usize,
    b: usize,
    label: String,
    hop_len: u64,
    win_hops: usize,
    /// First sample fed (the programme start).
    origin: Option<u64>,
    cur: [f64; 3],
    cur_n: u64,
    hops_done: u64,
    ring: VecDeque<[f64; 3]>,
    /// Current negative run: (first window index, last window index, min r).
    run: Option<(u64, u64, f64)>,
    min_r: Option<f64>,
    judged: u64,
    negative: u64,
    sustained: u64,
}

/// One biquad section in transposed direct form II (f64 state).
#[derive(Debug, Clone, Copy)]
struct Section {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Section {
    /// A Butterworth-section high-pass at `f0` with quality `q`
    /// (RBJ Audio EQ Cookbook, bilinear transform prewarped at `f0`).
    fn highpass(f0: f64, q: f64, fs: f64) -> Section {
        let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * q);
        let a0 = 1.0 + alpha;
        Section {
            b: [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
            z: [0.0; 2],
        }
    }

    #[inline]
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// The order of the LFE measuring high-pass (4 biquads).
const LFE_ORDER: usize = 8;

/// Out-of-band energy on the LFE channel, per 1 s window.
#[derive(Debug)]
struct LfeState {
    ch: usize,
    hp: [Section; LFE_ORDER / 2],
    win_len: u64,
    win_start: Option<u64>,
    win_n: u64,
    win_tot: f64,
    win_hp: f64,
    tot: f64,
    hp_tot: f64,
    merger: Merger,
    /// Worst judged window: (ratio, start).
    worst: Option<(f64, u64)>,
    /// Worst ratio inside the current merged event.
    event_worst: f64,
    exceeded_windows: u64,
}

/// Every detector of one deliverable, fed block by block.
///
/// ```
/// use dubstage_core::qc::{QcConfig, QcDetectors, TimeBase};
/// use dubstage_core::{Layout, FrameRate, Timecode};
/// let start = Timecode::parse("01:00:00:00", FrameRate::Fps24).unwrap();
/// let mut qc = QcDetectors::new(&QcConfig::default(), Layout::Stereo.channels(),
///                               TimeBase::new(48_000, start)).unwrap();
/// let l = vec![0.1f32; 4800];
/// let r = vec![0.1f32; 4800];
/// qc.push(&[&l, &r]).unwrap();
/// let (checks, findings) = qc.finish_with_checks();
/// assert!(findings.iter().all(|f| f.kind != dubstage_core::qc::FindingKind::Clip));
/// # let _ = checks;
/// ```
#[derive(Debug)]
pub struct QcDetectors {
    cfg: QcConfig,
    channels: Vec<Channel>,
    time: TimeBase,
    pos: u64,
    prog_start: u64,
    prog_end: Option<u64>,
    dropout_min: u64,
    prog_silence_min: u64,
    sink: Sink,
    clip: Vec<ClipState>,
    nan: Vec<NanState>,
    dc_sum: Vec<f64>,
    dc_n: Vec<u64>,
    silence: Vec<DropoutState>,
    all_silence: SilenceState,
    edge_level: f32,
    edge_len: usize,
    context_len: usize,
    any_signal: Vec<bool>,
    phase: Vec<PhaseState>,
    lfe: Option<LfeState>,
    /// The matrix fold-back check of an Lt/Rt deliverable.
    matrix: Option<super::MatrixFoldBack>,
}

impl QcDetectors {
    /// Detectors for a deliverable with `channels` (in file order), its sample
    /// 0 at `time`'s start. The programme is the whole stream until
    /// [`QcDetectors::with_programme`] says otherwise.
    pub fn new(cfg: &QcConfig, channels: &[Channel], time: TimeBase) -> Result<QcDetectors> {
        cfg.validate(time.sample_rate)?;
        if channels.is_empty() {
            return Err(Error::Invalid(
                "QC: a deliverable needs at least one channel".into(),
            ));
        }
        let fs = time.sample_rate as f64;
        let gap = time.samples(cfg.event_merge_s);
        let hop_len = time.samples(cfg.phase_hop_s).max(1);
        let win_hops = ((cfg.phase_window_s / cfg.phase_hop_s).round() as usize).max(1);
        let mut phase = Vec::new();
        for (l, r) in [
            (Channel::L, Channel::R),
            (Channel::Ls, Channel::Rs),
            (Channel::Lss, Channel::Rss),
            (Channel::Lrs, Channel::Rrs),
        ] {
            let a = channels.iter().position(|&c| c == l);
            let b = channels.iter().position(|&c| c == r);
            if let (Some(a), Some(b)) = (a, b) {
                phase.push(PhaseState {
                    a,
                    b,
                    label: format!("{l}/{r}"),
                    hop_len,
                    win_hops,
                    origin: None,
                    cur: [0.0; 3],
                    cur_n: 0,
                    hops_done: 0,
                    ring: VecDeque::with_capacity(win_hops),
                    run: None,
                    min_r: None,
                    judged: 0,
                    negative: 0,
                    sustained: 0,
                });
            }
        }
        let lfe = channels.iter().position(|&c| c == Channel::Lfe).map(|ch| {
            // Butterworth order N as N/2 biquads with Q_k = 1 / (2 cos((2k-1)π/(2N))),
            // k = 1..N/2 (the pole pairs of the Butterworth polynomial).
            let hp = std::array::from_fn(|k| {
                let q = 1.0
                    / (2.0
                        * ((2 * k + 1) as f64 * std::f64::consts::PI / (2 * LFE_ORDER) as f64)
                            .cos());
                Section::highpass(cfg.lfe_cutoff_hz, q, fs)
            });
            LfeState {
                ch,
                hp,
                win_len: time.sample_rate as u64,
                win_start: None,
                win_n: 0,
                win_tot: 0.0,
                win_hp: 0.0,
                tot: 0.0,
                hp_tot: 0.0,
                merger: Merger::new(0),
                worst: None,
                event_worst: f64::NEG_INFINITY,
                exceeded_windows: 0,
            }
        });
        let n = channels.len();
        Ok(QcDetectors {
            dropout_min: (cfg.dropout_min_s * fs).floor() as u64 + 1,
            prog_silence_min: (cfg.programme_silence_min_s * fs).floor() as u64 + 1,
            sink: Sink {
                cap: cfg.max_findings_per_kind,
                kinds: BTreeMap::new(),
            },
            clip: (0..n)
                .map(|_| ClipState {
                    run_start: None,
                    run_neg: false,
                    run_peak: 0.0,
                    merger: Merger::new(gap),
                    runs: 0,
                    samples: 0,
                })
                .collect(),
            nan: (0..n)
                .map(|_| NanState {
                    run_start: None,
                    merger: Merger::new(gap),
                    samples: 0,
                })
                .collect(),
            dc_sum: vec![0.0; n],
            dc_n: vec![0; n],
            silence: (0..n).map(|_| DropoutState::default()).collect(),
            all_silence: SilenceState::default(),
            edge_level: from_dbfs(cfg.dropout_edge_dbfs) as f32,
            edge_len: time.samples(DROPOUT_EDGE_S).max(1) as usize,
            context_len: time.samples(DROPOUT_CONTEXT_S).max(1) as usize,
            any_signal: Vec::new(),
            phase,
            lfe,
            cfg: cfg.clone(),
            channels: channels.to_vec(),
            time,
            pos: 0,
            prog_start: 0,
            prog_end: None,
            matrix: None,
        })
    }

    /// Restricts the programme-level detectors (DC, drop-outs, programme
    /// silence, phase, LFE) to samples `start..end` (e.g. FFOA to LFOA, so the
    /// leader with its 2-pop and the tail pop are left out). `end = None`
    /// runs to the end of the stream. Clip and NaN/Inf checks still cover
    /// every sample.
    pub fn with_programme(mut self, start: u64, end: Option<u64>) -> QcDetectors {
        self.prog_start = start;
        self.prog_end = end;
        self.matrix = self.matrix.map(|m| m.with_programme(start, end));
        self
    }

    /// For an Lt/Rt deliverable (`source` = `Some(printmaster layout)`): adds
    /// the matrix fold-back check ([`super::matrix`]), fed by
    /// [`QcDetectors::push_matrix`], with the encoder's default options and
    /// this deliverable's programme range. `None` leaves the detectors as
    /// they are, so a caller can pass `(kind == Ltrt).then_some(layout)`.
    pub fn with_matrix_source(mut self, source: Option<Layout>) -> Result<QcDetectors> {
        if let Some(layout) = source {
            let m = super::MatrixFoldBack::new(
                &self.cfg,
                layout,
                self.time,
                &crate::mix::matrix::MatrixOptions::default(),
            )?;
            self.matrix = Some(m.with_programme(self.prog_start, self.prog_end));
        }
        Ok(self)
    }

    /// Feeds the matrix fold-back check one block: the printmaster's channels
    /// and the deliverable's channels made from them (`[Lt, Rt]`). Does
    /// nothing unless [`QcDetectors::with_matrix_source`] added the check.
    pub fn push_matrix(&mut self, source: &[&[f32]], ltrt: &[&[f32]]) -> Result<()> {
        match (&mut self.matrix, ltrt) {
            (None, _) => Ok(()),
            (Some(m), [lt, rt]) => m.push(source, lt, rt),
            (Some(_), _) => Err(Error::Invalid(format!(
                "matrix fold-back: {} channels given, an Lt/Rt has 2",
                ltrt.len()
            ))),
        }
    }

    /// Takes the matrix fold-back check out (to finish it separately), if any.
    pub fn take_matrix(&mut self) -> Option<super::MatrixFoldBack> {
        self.matrix.take()
    }

    /// Samples pushed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Feeds one block: one slice per channel, in the order given to `new`,
    /// all the same length.
    pub fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        if planar.len() != self.channels.len() {
            return Err(Error::Invalid(format!(
                "QC: block has {} channels, the deliverable has {}",
                planar.len(),
                self.channels.len()
            )));
        }
        let n = planar[0].len();
        if let Some(i) = planar.iter().position(|c| c.len() != n) {
            return Err(Error::Invalid(format!(
                "QC: channel {} has {} samples, channel {} has {n}",
                self.channels[i],
                planar[i].len(),
                self.channels[0]
            )));
        }
        let base = self.pos;
        for (ch, x) in planar.iter().enumerate() {
            self.clip_nan(ch, base, x);
        }
        // The part of this block inside the programme.
        let lo = self.prog_start.clamp(base, base + n as u64);
        let hi = self.prog_end.unwrap_or(u64::MAX).clamp(lo, base + n as u64);
        if hi > lo {
            let (a, b) = ((lo - base) as usize, (hi - base) as usize);
            let sub: Vec<&[f32]> = planar.iter().map(|c| &c[a..b]).collect();
            self.programme(lo, &sub);
        }
        self.pos += n as u64;
        Ok(())
    }

    fn clip_nan(&mut self, ch: usize, base: u64, x: &[f32]) {
        let level = self.cfg.clip_level;
        let min_run = self.cfg.clip_min_run as u64;
        let label = self.channels[ch].label();
        let mut i = 0;
        while i < x.len() {
            // Fast path: ordinary samples with no run open (NaN fails `a < level`).
            if self.clip[ch].run_start.is_none() && self.nan[ch].run_start.is_none() {
                i = crate::first_where(x, i, |v| v.abs().partial_cmp(&level) != Some(Less));
                if i == x.len() {
                    break;
                }
            }
            let v = x[i];
            let a = v.abs();
            let pos = base + i as u64;
            i += 1;
            // Clip runs (finite samples only; NaN/Inf have their own check).
            // A run is a flat top: same sign, every sample at full scale.
            let c = &mut self.clip[ch];
            let at_fs = a >= level && a.is_finite();
            let neg = v < 0.0;
            if c.run_start.is_some() && (!at_fs || neg != c.run_neg) {
                let s = c.run_start.take().unwrap_or(pos);
                if pos - s >= min_run {
                    c.runs += 1;
                    c.samples += pos - s;
                    if let Some(e) = c.merger.add(s, pos, c.run_peak) {
                        self.sink.push(clip_finding(&self.time, label, &e));
                    }
                }
            }
            if at_fs {
                if c.run_start.is_none() {
                    c.run_start = Some(pos);
                    c.run_neg = neg;
                    c.run_peak = 0.0;
                }
                c.run_peak = c.run_peak.max(a);
            }
            // NaN / Inf runs.
            let nn = &mut self.nan[ch];
            if !v.is_finite() {
                if nn.run_start.is_none() {
                    nn.run_start = Some(pos);
                }
            } else if let Some(s) = nn.run_start.take() {
                nn.samples += pos - s;
                if let Some(e) = nn.merger.add(s, pos, 0.0) {
                    self.sink.push(nan_finding(&self.time, label, &e));
                }
            }
        }
    }

    fn programme(&mut self, base: u64, planar: &[&[f32]]) {
        let n = planar[0].len();
        let level = self.cfg.silence_level;
        self.any_signal.clear();
        self.any_signal.resize(n, false);
        // DC: programme mean of the finite samples. Summed sample by sample onto the
        // running total, so the figure does not depend on the block size; two channels
        // at a time (two independent chains of additions). A non-finite sample adds
        // +0.0, which leaves the sum as it is (the sum starts at +0.0 and never becomes
        // -0.0), and is not counted.
        let finite = |v: f32| if v.is_finite() { f64::from(v) } else { 0.0 };
        let mut pairs = planar.chunks_exact(2);
        for (p, pair) in pairs.by_ref().enumerate() {
            let (a, b) = (2 * p, 2 * p + 1);
            let (mut sa, mut sb) = (self.dc_sum[a], self.dc_sum[b]);
            let (mut na, mut nb) = (0u64, 0u64);
            if crate::is_digital_silence(pair[0]) && crate::is_digital_silence(pair[1]) {
                // Zeros are finite and add +0.0: only the counts move.
                self.dc_n[a] += n as u64;
                self.dc_n[b] += n as u64;
                continue;
            }
            for (&u, &v) in pair[0].iter().zip(pair[1]) {
                sa += finite(u);
                sb += finite(v);
                na += u64::from(u.is_finite());
                nb += u64::from(v.is_finite());
            }
            (self.dc_sum[a], self.dc_sum[b]) = (sa, sb);
            self.dc_n[a] += na;
            self.dc_n[b] += nb;
        }
        if let [x] = pairs.remainder() {
            let ch = planar.len() - 1;
            let mut sum = self.dc_sum[ch];
            for &v in x.iter() {
                sum += finite(v);
            }
            self.dc_sum[ch] = sum;
            self.dc_n[ch] += x.iter().filter(|v| v.is_finite()).count() as u64;
        }
        for (ch, x) in planar.iter().enumerate() {
            // Drop-outs.
            let st = &mut self.silence[ch];
            let (edge_level, edge, context) = (self.edge_level, self.edge_len, self.context_len);
            let mut i = 0;
            while i < x.len() {
                // Fast paths, once the programme's sound has started: sound that goes
                // on with no silence open, and silence that goes on, change nothing
                // but the samples' `any_signal`.
                if st.first_signal.is_some() {
                    let from = i;
                    if st.zero.is_none() {
                        i = crate::first_where(x, i, |v| v.abs() <= level);
                        self.any_signal[from..i].fill(true);
                    } else {
                        i = crate::first_where(x, i, |v| {
                            !matches!(v.abs().partial_cmp(&level), Some(Less | Equal))
                        });
                    }
                    if i == x.len() {
                        break;
                    }
                }
                let v = x[i];
                let silent = v.abs() <= level;
                let pos = base + i as u64;
                i += 1;
                if !silent {
                    self.any_signal[i - 1] = true;
                    if st.first_signal.is_none() {
                        st.first_signal = Some(pos);
                    }
                    // A silence ends: report it when it cut the sound off.
                    let cut = st
                        .zero
                        .take()
                        .filter(|&(s, cut)| cut.is_some() && pos - s >= self.dropout_min);
                    if let Some((s, Some(at))) = cut {
                        self.sink.push(Finding {
                            kind: FindingKind::DropOut,
                            severity: Status::Warn,
                            channel: Some(self.channels[ch].label().to_string()),
                            start_sample: s,
                            end_sample: pos,
                            timecode: self.time.timecode(s),
                            detail: format!(
                                "{:.0} ms of digital silence inside the programme; the sound stops at {:.0} dBFS without a fade",
                                self.time.seconds(pos - s) * 1000.0,
                                dbfs(at as f64)
                            ),
                        });
                    }
                } else if st.zero.is_none() && st.first_signal.is_some() {
                    // A silence starts: was the sound cut off (no fade)?
                    let (last, before) = edge_peaks(&st.tail, x, i - 1, edge, context);
                    let abrupt = last >= edge_level && last >= 0.5 * before;
                    st.zero = Some((pos, abrupt.then_some(last)));
                }
            }
            st.remember(x, edge + context);
        }
        let mut i = 0;
        while i < n {
            // Fast paths once the sound has started: sound that goes on with no silence
            // open, and silence that goes on, change nothing.
            let all = &mut self.all_silence;
            if all.first_signal.is_some() {
                let open = all.zero_start.is_some();
                i += self.any_signal[i..]
                    .iter()
                    .position(|&sig| sig == open)
                    .unwrap_or(n - i);
                if i == n {
                    break;
                }
            }
            let sig = self.any_signal[i];
            i += 1;
            if let Some((s, e)) =
                self.all_silence
                    .step(base + i as u64 - 1, !sig, self.prog_silence_min)
            {
                self.sink.push(Finding {
                    kind: FindingKind::ProgrammeSilence,
                    severity: Status::Warn,
                    channel: None,
                    start_sample: s,
                    end_sample: e,
                    timecode: self.time.timecode(s),
                    detail: format!(
                        "{:.2} s of digital silence on every channel inside the programme",
                        self.time.seconds(e - s)
                    ),
                });
            }
        }
        for p in 0..self.phase.len() {
            self.phase_block(p, base, planar);
        }
        if self.lfe.is_some() {
            self.lfe_block(base, planar);
        }
    }

    fn phase_block(&mut self, p: usize, base: u64, planar: &[&[f32]]) {
        let floor = from_dbfs(self.cfg.phase_floor_dbfs).powi(2);
        let thr = self.cfg.phase_threshold;
        let min_windows = (self.cfg.phase_min_s / self.cfg.phase_hop_s - 1e-9).floor() as u64 + 1;
        let hop_s = self.cfg.phase_hop_s;
        let st = &mut self.phase[p];
        let origin = *st.origin.get_or_insert(base);
        let (x, y) = (planar[st.a], planar[st.b]);
        let mut i = 0;
        while i < x.len() {
            // Accumulate up to the end of the current hop (in registers).
            let take = ((st.hop_len - st.cur_n) as usize).min(x.len() - i);
            let mut c = st.cur;
            let (sx, sy) = (&x[i..i + take], &y[i..i + take]);
            // Digital silence on both channels adds +0.0 to every sum: skipped.
            if !(crate::is_digital_silence(sx) && crate::is_digital_silence(sy)) {
                for (&a, &b) in sx.iter().zip(sy) {
                    let (a, b) = (a as f64, b as f64);
                    if a.is_finite() && b.is_finite() {
                        c[0] += a * a;
                        c[1] += b * b;
                        c[2] += a * b;
                    }
                }
            }
            st.cur = c;
            st.cur_n += take as u64;
            i += take;
            if st.cur_n < st.hop_len {
                continue;
            }
            if st.ring.len() == st.win_hops {
                st.ring.pop_front();
            }
            st.ring.push_back(st.cur);
            st.cur = [0.0; 3];
            st.cur_n = 0;
            let k = st.hops_done;
            st.hops_done += 1;
            if st.ring.len() < st.win_hops {
                continue;
            }
            let w = k + 1 - st.win_hops as u64; // window index = its first hop
            let n = (st.win_hops as u64 * st.hop_len) as f64;
            let (sxx, syy, sxy) = st.ring.iter().fold((0.0, 0.0, 0.0), |acc, h| {
                (acc.0 + h[0], acc.1 + h[1], acc.2 + h[2])
            });
            let judged = sxx / n >= floor && syy / n >= floor;
            let r = if judged {
                Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
            } else {
                None
            };
            if let Some(r) = r {
                st.judged += 1;
                if r < 0.0 {
                    st.negative += 1;
                }
                st.min_r = Some(st.min_r.map_or(r, |m: f64| m.min(r)));
            }
            match (r, &mut st.run) {
                (Some(r), Some(run)) if r < thr => {
                    run.1 = w;
                    run.2 = run.2.min(r);
                }
                (Some(r), None) if r < thr => st.run = Some((w, w, r)),
                _ => {
                    if let Some(run) = st.run.take() {
                        close_phase_run(
                            st,
                            run,
                            origin,
                            min_windows,
                            hop_s,
                            &self.time,
                            &mut self.sink,
                        );
                    }
                }
            }
        }
    }

    fn lfe_block(&mut self, base: u64, planar: &[&[f32]]) {
        let floor = from_dbfs(self.cfg.lfe_floor_dbfs).powi(2);
        let limit = 10f64.powf(self.cfg.lfe_ratio_limit_db / 10.0);
        let Some(st) = self.lfe.as_mut() else {
            return;
        };
        let x = planar[st.ch];
        let mut i = 0;
        while i < x.len() {
            if st.win_start.is_none() {
                st.win_start = Some(base + i as u64);
            }
            // Filter up to the end of the current window with the state in registers.
            let take = ((st.win_len - st.win_n) as usize).min(x.len() - i);
            let mut hp = st.hp;
            let (mut tot, mut hpe) = (st.win_tot, st.win_hp);
            // Digital silence into a high-pass at rest (every state exactly zero: an
            // unused LFE) leaves the filter and both sums as they are: skipped.
            let seg = &x[i..i + take];
            let at_rest = hp.iter().all(|s| s.z == [0.0; 2]) && crate::is_digital_silence(seg);
            if !at_rest {
                for &v in seg {
                    let v = if v.is_finite() { v as f64 } else { 0.0 };
                    let mut y = v;
                    for s in hp.iter_mut() {
                        y = s.run(y);
                    }
                    tot += v * v;
                    hpe += y * y;
                }
            }
            (st.hp, st.win_tot, st.win_hp) = (hp, tot, hpe);
            st.win_n += take as u64;
            i += take;
            if st.win_n == st.win_len {
                lfe_window(st, floor, limit, &self.time, &mut self.sink, &self.cfg);
            }
        }
    }

    /// Ends the stream: the findings in time order, capped per kind (with an
    /// information finding counting the overflow).
    pub fn finish(self) -> Vec<Finding> {
        self.finish_with_checks().1
    }

    /// Ends the stream: one [`Check`] per detector (the pass/fail table rows,
    /// with the measured figure even when it passes) and the findings.
    pub fn finish_with_checks(mut self) -> (Vec<Check>, Vec<Finding>) {
        let end = self.pos;
        // Close open runs: clips and NaNs that reach the end of the stream.
        for ch in 0..self.channels.len() {
            let label = self.channels[ch].label();
            let c = &mut self.clip[ch];
            if let Some(s) = c
                .run_start
                .take()
                .filter(|&s| end - s >= self.cfg.clip_min_run as u64)
            {
                c.runs += 1;
                c.samples += end - s;
                if let Some(e) = c.merger.add(s, end, c.run_peak) {
                    self.sink.push(clip_finding(&self.time, label, &e));
                }
            }
            if let Some(e) = c.merger.flush() {
                self.sink.push(clip_finding(&self.time, label, &e));
            }
            let nn = &mut self.nan[ch];
            if let Some(s) = nn.run_start.take() {
                nn.samples += end - s;
                if let Some(e) = nn.merger.add(s, end, 0.0) {
                    self.sink.push(nan_finding(&self.time, label, &e));
                }
            }
            if let Some(e) = nn.merger.flush() {
                self.sink.push(nan_finding(&self.time, label, &e));
            }
        }
        // Phase runs open at the end.
        let min_windows = (self.cfg.phase_min_s / self.cfg.phase_hop_s - 1e-9).floor() as u64 + 1;
        for st in &mut self.phase {
            if let (Some(run), Some(origin)) = (st.run.take(), st.origin) {
                close_phase_run(
                    st,
                    run,
                    origin,
                    min_windows,
                    self.cfg.phase_hop_s,
                    &self.time,
                    &mut self.sink,
                );
            }
        }
        // The last, partial LFE window.
        let floor = from_dbfs(self.cfg.lfe_floor_dbfs).powi(2);
        let limit = 10f64.powf(self.cfg.lfe_ratio_limit_db / 10.0);
        if let Some(st) = self.lfe.as_mut() {
            if st.win_n > 0 {
                lfe_window(st, floor, limit, &self.time, &mut self.sink, &self.cfg);
            }
            if let Some(e) = st.merger.flush() {
                let f = lfe_finding(&self.time, &e, st.event_worst, &self.cfg);
                self.sink.push(f);
            }
        }
        // DC offset.
        let mut dc_worst: Option<(f64, usize)> = None;
        for ch in 0..self.channels.len() {
            if self.dc_n[ch] == 0 {
                continue;
            }
            let mean = self.dc_sum[ch] / self.dc_n[ch] as f64;
            let db = dbfs(mean.abs());
            if dc_worst.is_none_or(|(w, _)| db > w) {
                dc_worst = Some((db, ch));
            }
            if db > self.cfg.dc_limit_dbfs {
                let s = self.prog_start.min(end);
                self.sink.push(Finding {
                    kind: FindingKind::DcOffset,
                    severity: Status::Warn,
                    channel: Some(self.channels[ch].label().to_string()),
                    start_sample: s,
                    end_sample: self.prog_end.unwrap_or(end).min(end),
                    timecode: self.time.timecode(s),
                    detail: format!(
                        "programme mean {mean:+.5} ({db:.1} dBFS), limit {:.0} dBFS",
                        self.cfg.dc_limit_dbfs
                    ),
                });
            }
        }
        // Channels that never carry signal.
        let mut silent_channels = Vec::new();
        for (ch, st) in self.silence.iter().enumerate() {
            if st.first_signal.is_none() && self.dc_n[ch] > 0 {
                silent_channels.push(self.channels[ch].label());
            }
        }
        if !silent_channels.is_empty() {
            let s = self.prog_start.min(end);
            self.sink.push(Finding {
                kind: FindingKind::SilentChannel,
                severity: Status::Info,
                channel: Some(silent_channels.join(", ")),
                start_sample: s,
                end_sample: self.prog_end.unwrap_or(end).min(end),
                timecode: self.time.timecode(s),
                detail: format!(
                    "{} digital silence throughout the programme",
                    if silent_channels.len() == 1 {
                        "is"
                    } else {
                        "are"
                    }
                ),
            });
        }
        let mut checks = self.checks(dc_worst, &silent_channels);
        let mut findings = self.collect();
        if let Some(m) = self.matrix.take() {
            let r = m.finish();
            checks.push(r.check);
            findings.extend(r.findings);
            findings.sort_by_key(|f| f.start_sample);
        }
        (checks, findings)
    }

    fn collect(&mut self) -> Vec<Finding> {
        let mut kinds = std::mem::take(&mut self.sink.kinds);
        // Drop-outs that every signal-carrying channel shares are one event;
        // those inside a programme silence are already reported by it.
        let silences: Vec<(u64, u64)> = kinds
            .get(&FindingKind::ProgrammeSilence)
            .map(|(v, _)| v.iter().map(|f| (f.start_sample, f.end_sample)).collect())
            .unwrap_or_default();
        let live = self
            .silence
            .iter()
            .filter(|s| s.first_signal.is_some())
            .count();
        if let Some((v, _)) = kinds.get_mut(&FindingKind::DropOut) {
            let mut groups: BTreeMap<(u64, u64), Vec<Finding>> = BTreeMap::new();
            for f in v.drain(..) {
                groups
                    .entry((f.start_sample, f.end_sample))
                    .or_default()
                    .push(f);
            }
            for ((s, e), mut fs) in groups {
                if silences.iter().any(|&(a, b)| a <= s && e <= b) {
                    continue;
                }
                if fs.len() == live && live > 1 {
                    let mut f = fs.swap_remove(0);
                    f.channel = None;
                    f.detail = format!("{} on every channel", f.detail);
                    v.push(f);
                } else {
                    v.extend(fs);
                }
            }
        }
        let mut out: Vec<Finding> = Vec::new();
        for (kind, (mut v, dropped)) in kinds {
            v.sort_by_key(|f| (f.start_sample, f.channel.clone()));
            let last_end = v.last().map_or(0, |f| f.end_sample);
            out.extend(v);
            if dropped > 0 {
                out.push(Finding {
                    kind,
                    severity: Status::Info,
                    channel: None,
                    start_sample: last_end,
                    end_sample: self.pos,
                    timecode: self.time.timecode(last_end),
                    detail: format!(
                        "{dropped} more {} findings not listed (at most {} per kind)",
                        kind.label().to_lowercase(),
                        self.cfg.max_findings_per_kind
                    ),
                });
            }
        }
        // Chronological, as a producer reads them (stable: kinds keep their order).
        out.sort_by_key(|f| f.start_sample);
        out
    }

    fn checks(&self, dc_worst: Option<(f64, usize)>, silent: &[&str]) -> Vec<Check> {
        let count = |k: FindingKind| {
            self.sink
                .kinds
                .get(&k)
                .map_or(0, |(v, d)| v.len() as u64 + d)
        };
        let first_tc = |k: FindingKind| {
            self.sink
                .kinds
                .get(&k)
                .and_then(|(v, _)| v.iter().map(|f| f.start_sample).min())
                .map(|s| self.time.timecode(s))
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        // Clipping.
        let runs: u64 = self.clip.iter().map(|c| c.runs).sum();
        let clip_db = dbfs(self.cfg.clip_level as f64);
        if runs == 0 {
            out.push(Check::new(
                "Clipping",
                Status::Pass,
                format!(
                    "no run of {}+ samples at or above {clip_db:.4} dBFS",
                    self.cfg.clip_min_run
                ),
            ));
        } else {
            let samples: u64 = self.clip.iter().map(|c| c.samples).sum();
            let chans: Vec<&str> = self
                .clip
                .iter()
                .zip(&self.channels)
                .filter(|(c, _)| c.runs > 0)
                .map(|(_, ch)| ch.label())
                .collect();
            out.push(Check::new(
                "Clipping",
                Status::Fail,
                format!(
                    "{}, {samples} samples, on {}; first at {}",
                    n_of(runs, "clipped run", "clipped runs"),
                    chans.join(", "),
                    first_tc(FindingKind::Clip)
                ),
            ));
        }
        // NaN / Inf.
        let bad: u64 = self.nan.iter().map(|c| c.samples).sum();
        out.push(if bad == 0 {
            Check::new("NaN / Inf samples", Status::Pass, "every sample is finite")
        } else {
            Check::new(
                "NaN / Inf samples",
                Status::Fail,
                format!(
                    "{}; first at {}",
                    n_of(bad, "non-finite sample", "non-finite samples"),
                    first_tc(FindingKind::NonFinite)
                ),
            )
        });
        // DC.
        if let Some((db, ch)) = dc_worst {
            let status = if db > self.cfg.dc_limit_dbfs {
                Status::Warn
            } else {
                Status::Pass
            };
            let v = if db.is_finite() {
                format!("{db:.1} dBFS")
            } else {
                "-inf dBFS".into()
            };
            out.push(Check::new(
                "DC offset",
                status,
                format!(
                    "largest programme mean {v} ({}), limit {:.0} dBFS",
                    self.channels[ch], self.cfg.dc_limit_dbfs
                ),
            ));
        }
        // Drop-outs and programme silence.
        let d = count(FindingKind::DropOut);
        out.push(if d == 0 {
            Check::new(
                "Drop-outs",
                Status::Pass,
                format!(
                    "no sound cut off into digital silence over {:.0} ms inside any channel's programme",
                    self.cfg.dropout_min_s * 1000.0
                ),
            )
        } else {
            Check::new(
                "Drop-outs",
                Status::Warn,
                format!(
                    "{} of digital silence over {:.0} ms that cut the sound off inside the programme; first at {}",
                    n_of(d, "stretch", "stretches"),
                    self.cfg.dropout_min_s * 1000.0,
                    first_tc(FindingKind::DropOut)
                ),
            )
        });
        let ps = count(FindingKind::ProgrammeSilence);
        out.push(if ps == 0 {
            Check::new(
                "Programme silence",
                Status::Pass,
                format!(
                    "no silence on all channels over {:.1} s",
                    self.cfg.programme_silence_min_s
                ),
            )
        } else {
            Check::new(
                "Programme silence",
                Status::Warn,
                format!(
                    "{} on all channels over {:.1} s; first at {}",
                    n_of(ps, "silence", "silences"),
                    self.cfg.programme_silence_min_s,
                    first_tc(FindingKind::ProgrammeSilence)
                ),
            )
        });
        if !silent.is_empty() {
            out.push(Check::new(
                "Silent channels",
                Status::Info,
                format!("{} carry no signal", silent.join(", ")),
            ));
        }
        // Phase.
        for st in &self.phase {
            let detail = match st.min_r {
                None => "not judged (a channel is below the level floor throughout)".to_string(),
                Some(m) => format!(
                    "min correlation {m:+.2}; negative in {:.0} % of judged windows",
                    100.0 * st.negative as f64 / st.judged.max(1) as f64
                ),
            };
            let (status, detail) = if st.sustained > 0 {
                (
                    Status::Warn,
                    format!(
                        "{} below {:+.1} for over {:.1} s; {detail}",
                        n_of(st.sustained, "stretch", "stretches"),
                        self.cfg.phase_threshold,
                        self.cfg.phase_min_s
                    ),
                )
            } else if st.min_r.is_none() {
                (Status::Info, detail)
            } else {
                (Status::Pass, detail)
            };
            out.push(Check::new(format!("Phase {}", st.label), status, detail));
        }
        // LFE.
        if let Some(st) = &self.lfe {
            let ratio = if st.tot > 0.0 {
                format!(
                    "{:.1} dB of the LFE energy is above {:.0} Hz over the programme",
                    10.0 * (st.hp_tot / st.tot).log10(),
                    self.cfg.lfe_cutoff_hz
                )
            } else {
                "LFE is silent".to_string()
            };
            let check = if st.exceeded_windows > 0 {
                let worst = st
                    .worst
                    .map(|(r, s)| {
                        format!(
                            "; worst {:.1} dB at {}",
                            10.0 * r.log10(),
                            self.time.timecode(s)
                        )
                    })
                    .unwrap_or_default();
                Check::new(
                    "LFE above band",
                    Status::Warn,
                    format!(
                        "{} s with more than {:.0} dB above {:.0} Hz{worst}; {ratio}",
                        st.exceeded_windows, self.cfg.lfe_ratio_limit_db, self.cfg.lfe_cutoff_hz
                    ),
                )
            } else {
                Check::new("LFE above band", Status::Pass, ratio)
            };
            out.push(check);
        }
        out
    }
}

fn close_phase_run(
    st: &mut PhaseState,
    (w0, w1, min_r): (u64, u64, f64),
    origin: u64,
    min_windows: u64,
    hop_s: f64,
    time: &TimeBase,
    sink: &mut Sink,
) {
    let k = w1 - w0 + 1;
    if k < min_windows {
        return;
    }
    st.sustained += 1;
    // Each window stands for the hop at its centre, so a run of k windows
    // spans k hops centred on the windows' centres.
    let half = st.win_hops as u64 * st.hop_len / 2;
    let start = (origin + w0 * st.hop_len + half).saturating_sub(st.hop_len / 2);
    let end = start + k * st.hop_len;
    sink.push(Finding {
        kind: FindingKind::PhaseCorrelation,
        severity: Status::Warn,
        channel: Some(st.label.clone()),
        start_sample: start,
        end_sample: end,
        timecode: time.timecode(start),
        detail: format!(
            "correlation below the threshold for {:.1} s (min {min_r:+.2}): out of phase, collapses in mono",
            k as f64 * hop_s
        ),
    });
}

fn lfe_window(
    st: &mut LfeState,
    floor: f64,
    limit: f64,
    time: &TimeBase,
    sink: &mut Sink,
    cfg: &QcConfig,
) {
    let start = st.win_start.take().unwrap_or(0);
    let n = st.win_n as f64;
    st.tot += st.win_tot;
    st.hp_tot += st.win_hp;
    if st.win_tot / n >= floor {
        let r = st.win_hp / st.win_tot;
        if st.worst.is_none_or(|(w, _)| r > w) {
            st.worst = Some((r, start));
        }
        if r > limit {
            st.exceeded_windows += 1;
            let end = start + st.win_n;
            let prev_worst = st.event_worst;
            match st.merger.add(start, end, 0.0) {
                Some(done) => {
                    sink.push(lfe_finding(time, &done, prev_worst, cfg));
                    st.event_worst = r;
                }
                None if st.merger.cur.is_some_and(|e| e.runs == 1) => st.event_worst = r,
                None => st.event_worst = st.event_worst.max(r),
            }
        }
    }
    st.win_n = 0;
    st.win_tot = 0.0;
    st.win_hp = 0.0;
}

fn lfe_finding(time: &TimeBase, e: &Event, worst: f64, cfg: &QcConfig) -> Finding {
    Finding {
        kind: FindingKind::LfeBandwidth,
        severity: Status::Warn,
        channel: Some("LFE".into()),
        start_sample: e.start,
        end_sample: e.end,
        timecode: time.timecode(e.start),
        detail: format!(
            "{:.1} s with energy above {:.0} Hz (worst {:.1} dB of the LFE energy, limit {:.0} dB): full-range content in the LFE",
            time.seconds(e.end - e.start),
            cfg.lfe_cutoff_hz,
            10.0 * worst.log10(),
            cfg.lfe_ratio_limit_db
        ),
    }
}

fn clip_finding(time: &TimeBase, ch: &str, e: &Event) -> Finding {
    Finding {
        kind: FindingKind::Clip,
        severity: Status::Fail,
        channel: Some(ch.to_string()),
        start_sample: e.start,
        end_sample: e.end,
        timecode: time.timecode(e.start),
        detail: if e.runs == 1 {
            format!("{} consecutive samples at full scale", e.samples)
        } else {
            format!(
                "{} clipped runs ({} samples, longest {}) over {:.2} s",
                e.runs,
                e.samples,
                e.longest,
                time.seconds(e.end - e.start)
            )
        },
    }
}

fn nan_finding(time: &TimeBase, ch: &str, e: &Event) -> Finding {
    Finding {
        kind: FindingKind::NonFinite,
        severity: Status::Fail,
        channel: Some(ch.to_string()),
        start_sample: e.start,
        end_sample: e.end,
        timecode: time.timecode(e.start),
        detail: n_of(e.samples, "NaN/Inf sample", "NaN/Inf samples"),
    }
}

/// `"1 clipped run"`, `"3 clipped runs"`.
fn n_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
