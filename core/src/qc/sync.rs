//! The 2-pop sync check.
//!
//! Every stem carries a 2-pop: one frame of 1 kHz tone starting exactly 2 s
//! before the first frame of action (FFOA). [`PopDetector`] keeps only the
//! samples within [`QcConfig::pop_search_s`] of the expected start, then finds
//! the burst to the sample:
//!
//! 1. a one-frame matched filter at the tone frequency (quadrature sums over a
//!    sliding frame, from prefix sums) locates the burst;
//! 2. a least-squares fit of `a cos ωn + b sin ωn` over the burst's middle
//!    half gives the tone's amplitude and phase;
//! 3. the onset is the earliest `s` minimising the squared error of the model
//!    "silence before `s`, the fitted tone from `s`", which is exact even when
//!    the tone starts at a zero crossing (its first sample is then 0); the end
//!    is found the same way.
//!
//! The onset is a whole sample; a stem moved by a fraction of one (resampled,
//! or slid by a sub-sample delay) is measured finer by the GCC-PHAT of
//! [`crate::dialogue::sync`] against an ideal pop at the expected sample
//! ([`fine_offset`]).
//!
//! [`sync_report`] then compares every stem's onset with FFOA - 2 s
//! ([`expected_pop_sample`]: two timecode seconds, so the pop starts on a
//! frame boundary at every rate).

use super::QcConfig;
use super::dbfs;
use super::detect::TimeBase;
use super::report::{Check, Status, SyncReport, SyncRow};
use crate::layout::Channel;
use crate::timecode::Timecode;
use crate::{Error, Result};

/// Where the 2-pop belongs, in samples from the session start `start`: two
/// timecode seconds before `ffoa` (48 frames at 24 and 23.976, 50 at 25, 60 at
/// 29.97), the frame the pop occupies on the leader. At 23.976 that is 2.002 s
/// of real time (96 096 samples at 48 kHz), not 2 s.
///
/// Fails when the pop would fall before the session start.
pub fn expected_pop_sample(start: Timecode, ffoa: Timecode, sample_rate: u32) -> Result<u64> {
    let rate = ffoa.rate;
    let pop_frame = ffoa.to_frames() - 2 * rate.nominal() as i64;
    let pop = rate.frames_to_samples(pop_frame, sample_rate);
    let origin = start.to_samples(sample_rate);
    u64::try_from(pop - origin).map_err(|_| {
        Error::Invalid(format!(
            "2-pop check: FFOA {ffoa} leaves no room for a 2-pop after the start {start} (the pop sits 2 s before FFOA)"
        ))
    })
}

/// Finds one stem's 2-pop in a stream of planar blocks.
#[derive(Debug)]
pub struct PopDetector {
    stem: String,
    channels: Vec<Channel>,
    time: TimeBase,
    expected: u64,
    win_start: u64,
    win_end: u64,
    frame_len: usize,
    omega: f64,
    min_level: f64,
    pos: u64,
    buf: Vec<Vec<f32>>,
}

/// Where one stem's pop was found.
#[derive(Debug, Clone, PartialEq)]
pub struct PopResult {
    /// Stem name.
    pub stem: String,
    /// Expected onset (FFOA - 2 s, samples from the session start).
    pub expected: u64,
    /// Onset of the pop on its loudest channel.
    pub sample: Option<u64>,
    /// Burst length (samples).
    pub length: Option<u64>,
    /// Peak level (dBFS).
    pub level_dbfs: Option<f64>,
    /// Onset per channel that carries a pop: (label, sample).
    pub channel_onsets: Vec<(String, u64)>,
    /// The loudest channel's pop against the expected sample to a fraction of
    /// a sample (positive: late), where GCC-PHAT measured it ([`fine_offset`]).
    pub fine_offset: Option<f64>,
    /// Why no pop was found, or other remarks.
    pub note: String,
}

impl PopDetector {
    /// A detector for stem `stem` with `channels`, whose pop should start at
    /// sample `expected` (from [`expected_pop_sample`], counted from the
    /// stream's first sample).
    pub fn new(
        stem: &str,
        channels: &[Channel],
        time: TimeBase,
        expected: u64,
        cfg: &QcConfig,
    ) -> Result<PopDetector> {
        cfg.validate(time.sample_rate)?;
        if channels.is_empty() {
            return Err(Error::stem(stem, "2-pop check: the stem has no channels"));
        }
        let frame_len = (time.sample_rate as f64 / time.rate.fps()).round() as usize;
        let search = time.samples(cfg.pop_search_s);
        let win_start = expected.saturating_sub(search);
        // Room for a pop that starts at the far edge, plus one frame to spare.
        let win_end = expected + search + 2 * frame_len as u64;
        Ok(PopDetector {
            stem: stem.to_string(),
            channels: channels.to_vec(),
            time,
            expected,
            win_start,
            win_end,
            frame_len,
            omega: 2.0 * std::f64::consts::PI * cfg.pop_freq_hz / time.sample_rate as f64,
            min_level: super::from_dbfs(cfg.pop_min_dbfs),
            pos: 0,
            buf: vec![Vec::new(); channels.len()],
        })
    }

    /// The stream samples the detector keeps (`win_start .. win_end`): a caller may
    /// read just these and hand them to [`PopDetector::push_at`].
    pub fn window(&self) -> std::ops::Range<u64> {
        self.win_start..self.win_end
    }

    /// Feeds a block that starts at stream sample `at`: blocks come in order, and the
    /// samples skipped since the last one must lie outside [`PopDetector::window`].
    pub fn push_at(&mut self, at: u64, planar: &[&[f32]]) -> Result<()> {
        let gap = at > self.pos && self.pos < self.win_end && at > self.win_start;
        if at < self.pos || gap {
            return Err(Error::stem(
                &self.stem,
                format!(
                    "2-pop check: a block at sample {at} does not follow sample {} (the \
                     window {}..{} must be pushed whole)",
                    self.pos, self.win_start, self.win_end
                ),
            ));
        }
        self.pos = at;
        self.push(planar)
    }

    /// Feeds one block (one slice per channel, equal lengths).
    pub fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        if planar.len() != self.channels.len() {
            return Err(Error::stem(
                &self.stem,
                format!(
                    "2-pop check: block has {} channels, the stem has {}",
                    planar.len(),
                    self.channels.len()
                ),
            ));
        }
        let n = planar[0].len();
        if planar.iter().any(|c| c.len() != n) {
            return Err(Error::stem(
                &self.stem,
                "2-pop check: channels of unequal length",
            ));
        }
        let (base, end) = (self.pos, self.pos + n as u64);
        let lo = self.win_start.clamp(base, end);
        let hi = self.win_end.clamp(lo, end);
        if hi > lo {
            for (b, c) in self.buf.iter_mut().zip(planar) {
                b.extend_from_slice(&c[(lo - base) as usize..(hi - base) as usize]);
            }
        }
        self.pos = end;
        Ok(())
    }

    /// Ends the stream and locates the pop.
    pub fn finish(self) -> PopResult {
        let mut hits = Vec::new();
        for (ch, x) in self.buf.iter().enumerate() {
            if let Some(h) = find_pop(x, self.frame_len, self.omega, self.min_level) {
                hits.push((ch, h));
            }
        }
        let mut res = PopResult {
            stem: self.stem.clone(),
            expected: self.expected,
            sample: None,
            length: None,
            level_dbfs: None,
            channel_onsets: hits
                .iter()
                .map(|(ch, h)| {
                    (
                        self.channels[*ch].label().to_string(),
                        self.win_start + h.onset as u64,
                    )
                })
                .collect(),
            note: String::new(),
            fine_offset: None,
        };
        let loudest = hits.iter().max_by(|a, b| a.1.peak.total_cmp(&b.1.peak));
        match loudest {
            Some((ch, h)) => {
                res.sample = Some(self.win_start + h.onset as u64);
                let at = (self.expected - self.win_start) as usize;
                res.fine_offset = fine_offset(
                    &self.buf[*ch],
                    at,
                    h.onset,
                    self.frame_len,
                    self.omega,
                    self.time.sample_rate,
                )
                .filter(|f| (f - (h.onset as f64 - at as f64)).abs() <= 1.5);
                res.length = Some(h.length as u64);
                res.level_dbfs = Some(dbfs(h.peak as f64));
            }
            None => {
                let have = self.buf.first().map_or(0, |b| b.len()) as u64;
                res.note = if have == 0 {
                    "the stem ends before the 2-pop search window".into()
                } else {
                    format!(
                        "no 1 kHz burst between {} and {}",
                        self.time.timecode(self.win_start),
                        self.time.timecode(self.win_start + have)
                    )
                };
            }
        }
        res
    }
}

/// How late the pop in `x` (whose onset is near `onset`) is against one
/// starting at `at`, to a fraction of a sample: the GCC-PHAT of
/// [`crate::dialogue::sync::sync`] between `x` and an ideal pop (`frame`
/// samples of tone at `omega`, 200 Hz–3 kHz). A leader fixes no starting
/// phase, and a pop whose tone starts at another phase is no delayed copy of
/// the ideal one, so the ideal pop takes the phase the stem's pop would have
/// had at `at`: from the tone's phase fitted in the burst and the offset found
/// so far (the whole-sample onset first, then twice the fine one; each pass
/// shrinks the phase error by about ω times the offset error). `None` when
/// GCC-PHAT finds no clear peak.
pub fn fine_offset(
    x: &[f32],
    at: usize,
    onset: usize,
    frame: usize,
    omega: f64,
    sample_rate: u32,
) -> Option<f64> {
    use crate::dialogue::sync::{SyncOptions, sync};
    // the tone's phase: x ≈ A sin(ωn + ψ) over the burst's middle half
    let (mut sc, mut ss) = (0.0, 0.0);
    let (lo, hi) = (onset + frame / 4, (onset + 3 * frame / 4).min(x.len()));
    for (n, &v) in x.iter().enumerate().take(hi).skip(lo) {
        let p = omega * n as f64;
        sc += f64::from(v) * p.cos();
        ss += f64::from(v) * p.sin();
    }
    let psi = sc.atan2(ss);
    let opts = SyncOptions {
        low_hz: 200.0,
        high_hz: 3000.0,
        max_offset_s: Some(x.len() as f64 / f64::from(sample_rate)),
        ..SyncOptions::default()
    };
    let mut d = onset as f64 - at as f64;
    for _ in 0..3 {
        // the stem's tone, sin(ω(n − at − d) + φ), has φ = ψ + ω(at + d)
        let phi = psi + omega * (at as f64 + d);
        let ideal: Vec<f32> = (0..x.len())
            .map(|n| {
                if (at..at + frame).contains(&n) {
                    (omega * (n - at) as f64 + phi).sin() as f32
                } else {
                    0.0
                }
            })
            .collect();
        let r = sync(&ideal, x, sample_rate, &opts).ok()?;
        if r.polarity != 1 {
            return None;
        }
        d = r.offset_samples;
    }
    Some(d)
}

/// A tone burst found in one channel's search window.
#[derive(Debug, Clone, Copy)]
struct PopHit {
    onset: usize,
    length: usize,
    peak: f32,
}

/// Finds a one-frame tone burst of angular frequency `omega` in `x`.
fn find_pop(x: &[f32], frame: usize, omega: f64, min_level: f64) -> Option<PopHit> {
    let n = x.len();
    if frame < 4 || n < frame {
        return None;
    }
    // 1. Matched filter from prefix sums of x·cos and x·sin.
    let mut pc = vec![0.0f64; n + 1];
    let mut ps = vec![0.0f64; n + 1];
    for (i, &v) in x.iter().enumerate() {
        let v = if v.is_finite() { v as f64 } else { 0.0 };
        let (s, c) = (omega * i as f64).sin_cos();
        pc[i + 1] = pc[i] + v * c;
        ps[i + 1] = ps[i] + v * s;
    }
    let mut best = (0usize, -1.0f64);
    for t in 0..=n - frame {
        let c = pc[t + frame] - pc[t];
        let s = ps[t + frame] - ps[t];
        let e = c * c + s * s;
        if e > best.1 {
            best = (t, e);
        }
    }
    let t = best.0;
    // 2. Fit a cos ωn + b sin ωn over the middle half of the best frame.
    let (f0, f1) = (t + frame / 4, t + 3 * frame / 4);
    let (mut scc, mut sss, mut scs, mut sxc, mut sxs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate().take(f1).skip(f0) {
        let (s, c) = (omega * i as f64).sin_cos();
        let v = v as f64;
        scc += c * c;
        sss += s * s;
        scs += c * s;
        sxc += v * c;
        sxs += v * s;
    }
    let det = scc * sss - scs * scs;
    if det.abs() < 1e-12 {
        return None;
    }
    let a = (sxc * sss - sxs * scs) / det;
    let b = (sxs * scc - sxc * scs) / det;
    let amp = (a * a + b * b).sqrt();
    if amp < min_level {
        return None;
    }
    let model = |i: usize| {
        let (s, c) = (omega * i as f64).sin_cos();
        a * c + b * s
    };
    let eps = 1e-4 * amp * amp;
    // 3. Onset: minimise Σ_{lo≤n<s} x² + Σ_{s≤n<f0} (x - m)² over s in [lo, f0].
    let lo = t.saturating_sub(frame);
    let mut cost = (lo..f0)
        .map(|i| {
            let d = x[i] as f64 - model(i);
            d * d
        })
        .sum::<f64>();
    let mut costs = Vec::with_capacity(f0 - lo + 1);
    costs.push(cost);
    for (i, &v) in x.iter().enumerate().take(f0).skip(lo) {
        let v = v as f64;
        let d = v - model(i);
        cost += v * v - d * d;
        costs.push(cost);
    }
    let min = costs.iter().copied().fold(f64::INFINITY, f64::min);
    let onset = lo + costs.iter().position(|&c| c <= min + eps)?;
    // End: minimise Σ_{f1≤n<e} (x - m)² + Σ_{e≤n<hi} x² over e in [f1, hi].
    let hi = (t + 2 * frame).min(n);
    let mut cost = (f1..hi).map(|i| (x[i] as f64).powi(2)).sum::<f64>();
    let mut costs = Vec::with_capacity(hi - f1 + 1);
    costs.push(cost);
    for (i, &v) in x.iter().enumerate().take(hi).skip(f1) {
        let v = v as f64;
        let d = v - model(i);
        cost += d * d - v * v;
        costs.push(cost);
    }
    let min = costs.iter().copied().fold(f64::INFINITY, f64::min);
    let end = f1 + costs.iter().position(|&c| c <= min + eps)?;
    // The burst must be a tone: the model explains most of its energy.
    let (mut energy, mut resid) = (0.0, 0.0);
    let mut peak = 0.0f32;
    for (i, &v) in x.iter().enumerate().take(end).skip(onset) {
        let d = v as f64 - model(i);
        energy += (v as f64).powi(2);
        resid += d * d;
        peak = peak.max(v.abs());
    }
    if energy <= 0.0 || resid > 0.5 * energy {
        return None;
    }
    Some(PopHit {
        onset,
        length: end - onset,
        peak,
    })
}

/// Compares every stem's pop with `expected` (FFOA - 2 s): a stem passes when
/// its pop is found, its channels agree, and it starts within
/// [`QcConfig::sync_tolerance_samples`] of `expected`. The check fails naming
/// every stem out of sync or without a pop; when no stem has a pop at all it
/// warns that sync could not be verified.
pub fn sync_report(
    results: &[PopResult],
    time: &TimeBase,
    expected: u64,
    cfg: &QcConfig,
) -> SyncReport {
    let tol = cfg.sync_tolerance_samples;
    let frame = time.sample_rate as f64 / time.rate.fps();
    let any_found = results.iter().any(|r| r.sample.is_some());
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for r in results {
        let mut row = SyncRow {
            stem: r.stem.clone(),
            pop_sample: r.sample,
            pop_tc: r.sample.map(|s| time.timecode(s)),
            offset_samples: None,
            offset_fine_samples: None,
            offset_ms: None,
            length_samples: r.length,
            level_dbfs: r.level_dbfs,
            status: Status::Pass,
            detail: String::new(),
        };
        match r.sample {
            Some(s) => {
                let off = s as i64 - expected as i64;
                row.offset_samples = Some(off);
                row.offset_ms = Some(off as f64 * 1000.0 / time.sample_rate as f64);
                row.offset_fine_samples = r.fine_offset;
                let disagree: Vec<String> = r
                    .channel_onsets
                    .iter()
                    .filter(|(_, o)| *o != s)
                    .map(|(c, o)| format!("{c} {:+}", *o as i64 - s as i64))
                    .collect();
                if off.unsigned_abs() > tol {
                    row.status = Status::Fail;
                    row.detail = format!(
                        "pop {} by {} samples ({:+.2} ms, {:.2} frame)",
                        if off > 0 { "late" } else { "early" },
                        off.abs(),
                        off as f64 * 1000.0 / time.sample_rate as f64,
                        off.abs() as f64 / frame
                    );
                    if let Some(f) = r.fine_offset {
                        row.detail = format!(
                            "{}; measured {f:+.2} samples: slide the stem {:.2} samples {}",
                            row.detail,
                            f.abs(),
                            if f > 0.0 { "earlier" } else { "later" }
                        );
                    }
                    bad.push(format!("{} {off:+} samples", r.stem));
                } else {
                    row.detail = if off == 0 {
                        "on the sample".into()
                    } else {
                        format!("{off:+} samples, within ±{tol}")
                    };
                }
                if !disagree.is_empty() {
                    row.status = Status::Fail;
                    row.detail = format!(
                        "{}; channels disagree (samples vs the loudest): {}",
                        row.detail,
                        disagree.join(", ")
                    );
                    if off.unsigned_abs() <= tol {
                        bad.push(format!("{} channels disagree", r.stem));
                    }
                }
                if let Some(len) = r.length {
                    let frames = len as f64 / frame;
                    if (frames - 1.0).abs() > 0.1 {
                        row.detail = format!(
                            "{}; burst lasts {frames:.2} frames (expected 1)",
                            row.detail
                        );
                    }
                }
            }
            None => {
                row.status = if any_found {
                    Status::Fail
                } else {
                    Status::Warn
                };
                row.detail = r.note.clone();
                if any_found {
                    bad.push(format!("{} no pop", r.stem));
                }
            }
        }
        rows.push(row);
    }
    let exp_tc = time.timecode(expected);
    let check = if results.is_empty() {
        Check::new("2-pop sync", Status::Info, "no stems checked")
    } else if !any_found {
        Check::new(
            "2-pop sync",
            Status::Warn,
            format!("no 2-pop found on any stem near {exp_tc}: sync not verified"),
        )
    } else if bad.is_empty() {
        Check::new(
            "2-pop sync",
            Status::Pass,
            format!(
                "all {} stems pop at {exp_tc} (sample {expected}){}",
                results.len(),
                if tol > 0 {
                    format!(" within ±{tol} samples")
                } else {
                    String::new()
                }
            ),
        )
    } else {
        Check::new(
            "2-pop sync",
            Status::Fail,
            format!("out of sync vs {exp_tc}: {}", bad.join("; ")),
        )
    };
    SyncReport {
        expected_sample: expected,
        expected_tc: exp_tc,
        tolerance_samples: tol,
        stems: rows,
        check,
    }
}
