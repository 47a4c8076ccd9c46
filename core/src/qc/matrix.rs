//! Matrix fold-back: the passive decode of an Lt/Rt deliverable compared with
//! the printmaster it was encoded from.
//!
//! The 4:2:4 matrix ([`crate::mix::matrix`]) folds L, C, R and a mono
//! surround `S` into two channels. A passive decoder takes them back out:
//!
//! ```text
//! C' = 0.7071 · A[Lt + Rt] = A∘A[C + 0.7071 (L + R)]
//! S' = 0.7071 · B[Lt − Rt] = −B∘B[S] + 0.7071 · A∘B[L − R]
//! ```
//!
//! (`A`, `B` the Hilbert all-pass pair; `−B∘B ≈ A∘A`, two 90° lags.) The
//! check runs the decoder on the Lt/Rt as written and, beside it, the same
//! all-pass networks on the printmaster's own channels, so every signal
//! shares one phase response and can be compared sample for sample:
//!
//! - **Centre recovered**: the gain of the printmaster's centre `A∘A[C]`
//!   inside the decoded `C'` (least-squares projection), in dB. 0 dB when the
//!   fronts are uncorrelated with C; more when L/R carry the centre's content
//!   in phase (a phantom centre folds into C); less when they carry it out of
//!   phase, which cancels the dialogue in `Lt + Rt` (and in mono).
//! - **Surround recovered**: the energy of the printmaster's surround
//!   `−B∘B[S]` inside the decoded `S'`, against the surrounds' own power
//!   (`k² Σ |surround_i|²`, band-limited as the encoder does; the mono sum of
//!   uncorrelated channels), in dB. 0 dB for uncorrelated surrounds, +3 dB
//!   for identical Ls/Rs, −∞ when the surrounds cancel in the mono sum (Ls
//!   and Rs out of phase: the Lt/Rt carries no surround at all). A surround
//!   that returns inverted (negative projection) means the Lt/Rt's polarity
//!   or channel order is wrong.
//! - **Decode error**: the energy of `C' − A∘A[C + 0.7071 (L+R)]` and of
//!   `S' − (−B∘B[S] + 0.7071 A∘B[L − R])` against the expected signals, in
//!   dB: how far the Lt/Rt is from the 4:2:4 encode of this printmaster
//!   (f32 rounding leaves about −130 dB; a missing 90° shift, swapped
//!   polarity or a different mix gives about 0 dB).
//!
//! Front content leaking into `S'` (and `C'`) at −3 dB is the passive
//! format, not an error; it is in the expected signals and leaves the
//! recovery figures alone (the surround reference is in quadrature with it).
//!
//! Figures are computed per window ([`QcConfig::matrix_window_s`]) and over
//! the programme (the judged windows summed). A window is judged for the
//! centre (surround) when the printmaster's centre (surround power) is at or
//! above [`QcConfig::matrix_floor_dbfs`] RMS. Windows that fail raise
//! findings with their timecodes; the check fails when a programme figure
//! fails. Streaming: fixed state, any block size gives the same result.

use super::report::{Check, Finding, FindingKind, Status};
use super::{QcConfig, TimeBase, from_dbfs};
use crate::layout::Layout;
use crate::mix::matrix::{AllpassChain, MatrixOptions, matrix_gains, surround_band};
use crate::stem::eq::Eq;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

/// dB figures are clamped to this floor so the report holds finite numbers
/// (−120 dB: nothing came back).
pub const FLOOR_DB: f64 = -120.0;

/// The figures of the check, as `report.json` carries them on the Lt/Rt
/// deliverable. `None`: not judged (no content above the floor).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MatrixFigures {
    /// Layout of the printmaster the Lt/Rt was encoded from.
    pub source_layout: String,
    /// Gain of the printmaster's centre in the decoded C' (dB, programme).
    pub centre_recovery_db: Option<f64>,
    /// Gain of the printmaster's surround in the decoded S' (dB, programme).
    pub surround_recovery_db: Option<f64>,
    /// What the printmaster itself allows: the centre's gain in
    /// `C + 0.7071 (L + R)` (dB); below the limit, the fronts cancel the centre.
    pub centre_source_db: Option<f64>,
    /// What the printmaster itself allows: the mono surround sum's energy
    /// against the surrounds' power (dB); below the limit, the surrounds
    /// cancel in the sum.
    pub surround_source_db: Option<f64>,
    /// Decoded C' against the expected passive decode (dB, residual energy).
    pub centre_error_db: Option<f64>,
    /// Decoded S' against the expected passive decode (dB, residual energy).
    pub surround_error_db: Option<f64>,
    /// The surround comes back inverted.
    pub surround_inverted: bool,
    /// The centre comes back inverted.
    pub centre_inverted: bool,
    /// Seconds of programme judged for the centre.
    pub centre_judged_s: f64,
    /// Seconds of programme judged for the surround.
    pub surround_judged_s: f64,
    /// Windows that failed (each is in a finding, up to the per-kind cap).
    pub windows_failed: u64,
    /// Thresholds used: minimum recovery (dB).
    pub min_recovery_db: f64,
    /// Maximum decode error (dB).
    pub max_error_db: f64,
    /// Window length (s).
    pub window_s: f64,
    /// Content floor (dBFS RMS).
    pub floor_dbfs: f64,
}

/// The check's outcome: the table row, the findings and the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixResult {
    /// The "Matrix fold-back" row of the pass/fail table.
    pub check: Check,
    /// Windows that failed, merged into runs, in time order.
    pub findings: Vec<Finding>,
    /// The figures.
    pub figures: MatrixFigures,
}

/// Energy and cross sums over a stretch of samples (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    n: u64,
    /// Σ c², c = A∘A[C].
    ec: f64,
    /// Σ C'·c.
    dc: f64,
    /// Σ (c + f)·c, f = A∘A[0.7071 (L + R)].
    xc: f64,
    /// Σ (c + f)².
    ex: f64,
    /// Σ (C' − c − f)².
    rc: f64,
    /// Σ s², s = −B∘B[S].
    es: f64,
    /// Σ S'·s.
    ds: f64,
    /// Σ (s + g)², g = 0.7071 A∘B[L − R].
    ey: f64,
    /// Σ (S' − s − g)².
    rs: f64,
    /// k² Σ_i Σ band(surround_i)².
    ps: f64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.n += o.n;
        self.ec += o.ec;
        self.dc += o.dc;
        self.xc += o.xc;
        self.ex += o.ex;
        self.rc += o.rc;
        self.es += o.es;
        self.ds += o.ds;
        self.ey += o.ey;
        self.rs += o.rs;
        self.ps += o.ps;
    }
}

fn db10(x: f64) -> f64 {
    if x > 0.0 {
        (10.0 * x.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

/// Centre gain in C' (dB) and whether it is inverted.
/// (Inverted only when it comes back at a level that counts: a lost centre
/// has a random sign.)
fn centre_db(a: &Acc, min_db: f64) -> (f64, bool) {
    let g = a.dc / a.ec;
    let db = db10(g * g);
    (db, g < 0.0 && db >= min_db)
}

/// Surround energy in S' against the surround power (dB), and inversion.
fn surround_db(a: &Acc, min_db: f64) -> (f64, bool) {
    if a.es <= 0.0 {
        return (FLOOR_DB, false);
    }
    let db = db10(a.ds * a.ds / (a.es * a.ps));
    (db, a.ds < 0.0 && db >= min_db)
}

/// The six filtered signals of a block, in `MatrixFoldBack::bufs` order:
/// decoded C' and S', then the printmaster's `A∘A[C]`, `A∘A[0.7071 (L+R)]`,
/// `−B∘B[S]` and `0.7071 A∘B[L − R]`. Each is its input through the
/// networks of [`NETS`] (`false` = A, `true` = B), times [`NET_GAINS`].
const NETS: [&[bool]; 6] = [
    &[false],
    &[true],
    &[false, false],
    &[false, false],
    &[true, true],
    &[false, true],
];
/// Output gains of the six signals (see [`NETS`]).
const NET_GAINS: [f64; 6] = [FRAC_1_SQRT_2, FRAC_1_SQRT_2, 1.0, 1.0, -1.0, FRAC_1_SQRT_2];

/// Runs one signal's networks over its block, in place.
fn filter(buf: &mut [f64], chains: &mut [AllpassChain], gain: f64) {
    for v in buf.iter_mut() {
        let mut x = *v;
        for c in chains.iter_mut() {
            x = c.tick(x);
        }
        *v = gain * x;
    }
}

/// Why a window (or the programme) fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    CentreLost,
    SurroundLost,
    Mismatch,
}

/// An open run of failing windows of one cause.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
    windows: u64,
    /// Worst figure (lowest recovery or highest error).
    worst: f64,
    /// The printmaster itself cancels (content, not encoding).
    source: bool,
    inverted: bool,
}

/// The streaming matrix fold-back check; see the module documentation.
#[derive(Debug)]
pub struct MatrixFoldBack {
    cfg: QcConfig,
    time: TimeBase,
    source: Layout,
    gains: Vec<(f64, f64, f64)>,
    k: f64,
    /// Index of each surround channel of the source.
    surrounds: Vec<usize>,
    band_sum: Eq,
    band_each: Eq,
    /// The all-pass networks of the six signals ([`NETS`]).
    nets: [Vec<AllpassChain>; 6],
    /// One block of the six signals.
    bufs: [Vec<f64>; 6],
    pos: u64,
    prog_start: u64,
    prog_end: Option<u64>,
    win_len: u64,
    win: Acc,
    win_start: Option<u64>,
    floor2: f64,
    prog_c: Acc,
    prog_s: Acc,
    prog_xc: Acc,
    prog_xs: Acc,
    runs: [Option<Run>; 3],
    findings: Vec<Finding>,
    dropped: u64,
    failed_windows: u64,
    m_buf: Vec<f32>,
    each: Vec<Vec<f32>>,
}

impl MatrixFoldBack {
    /// A check of an Lt/Rt encoded (with `opts`) from a printmaster in
    /// `source` layout, sample 0 at `time`'s start.
    pub fn new(
        cfg: &QcConfig,
        source: Layout,
        time: TimeBase,
        opts: &MatrixOptions,
    ) -> Result<MatrixFoldBack> {
        cfg.validate(time.sample_rate)?;
        let sr = time.sample_rate;
        let gains = matrix_gains(source, opts)?;
        let surrounds: Vec<usize> = gains
            .iter()
            .enumerate()
            .filter(|(_, g)| g.2 != 0.0)
            .map(|(i, _)| i)
            .collect();
        let k = surrounds.first().map_or(0.0, |&i| gains[i].2);
        Ok(MatrixFoldBack {
            band_sum: surround_band(opts, sr, 1)?,
            band_each: surround_band(opts, sr, surrounds.len())?,
            each: vec![Vec::new(); surrounds.len()],
            cfg: cfg.clone(),
            time,
            source,
            gains,
            k,
            surrounds,
            nets: NETS.map(|n| n.iter().map(|&b| AllpassChain::new(sr, b)).collect()),
            bufs: Default::default(),
            pos: 0,
            prog_start: 0,
            prog_end: None,
            win_len: time.samples(cfg.matrix_window_s).max(1),
            win: Acc::default(),
            win_start: None,
            floor2: from_dbfs(cfg.matrix_floor_dbfs).powi(2),
            prog_c: Acc::default(),
            prog_s: Acc::default(),
            prog_xc: Acc::default(),
            prog_xs: Acc::default(),
            runs: [None; 3],
            findings: Vec::new(),
            dropped: 0,
            failed_windows: 0,
            m_buf: Vec::new(),
        })
    }

    /// Judges only samples `start..end` (FFOA to the end: the leader is left out).
    pub fn with_programme(mut self, start: u64, end: Option<u64>) -> MatrixFoldBack {
        self.prog_start = start;
        self.prog_end = end;
        self
    }

    /// The source layout.
    pub fn source(&self) -> Layout {
        self.source
    }

    /// Feeds one block: the printmaster's channels (source layout order) and
    /// the Lt/Rt made from them, all the same length.
    pub fn push(&mut self, source: &[&[f32]], lt: &[f32], rt: &[f32]) -> Result<()> {
        if source.len() != self.gains.len() {
            return Err(Error::Invalid(format!(
                "matrix fold-back: block has {} source channels, the {} printmaster has {}",
                source.len(),
                self.source.name(),
                self.gains.len()
            )));
        }
        let n = lt.len();
        if rt.len() != n || source.iter().any(|c| c.len() != n) {
            return Err(Error::Invalid(
                "matrix fold-back: the source and Lt/Rt blocks differ in length".into(),
            ));
        }
        // The band-limited mono surround sum, as the encoder computes it, and
        // each surround band-limited alone (for the power reference).
        self.m_buf.clear();
        self.m_buf.resize(n, 0.0);
        for (t, m) in self.m_buf.iter_mut().enumerate() {
            let mut s = 0.0f64;
            for (c, g) in source.iter().zip(&self.gains) {
                if g.2 != 0.0 {
                    s += c[t] as f64 * g.2;
                }
            }
            *m = s as f32;
        }
        self.band_sum.process_channel(0, &mut self.m_buf);
        for (e, &i) in self.each.iter_mut().zip(&self.surrounds) {
            e.clear();
            e.extend_from_slice(source[i]);
        }
        self.band_each.process(&mut self.each, n);
        for b in &mut self.bufs {
            b.clear();
            b.resize(n, 0.0);
        }
        for t in 0..n {
            let (mut l, mut r, mut c) = (0.0f64, 0.0f64, 0.0f64);
            for (x, g) in source.iter().zip(&self.gains) {
                let x = x[t] as f64;
                if g.0 != 0.0 && g.1 != 0.0 {
                    // a centre: 0.7071 into both sides
                    c += x * g.0 * SQRT_2;
                } else {
                    l += x * g.0;
                    r += x * g.1;
                }
            }
            let (x, y) = (lt[t] as f64, rt[t] as f64);
            let b = &mut self.bufs;
            b[0][t] = x + y;
            b[1][t] = x - y;
            b[2][t] = c;
            b[3][t] = FRAC_1_SQRT_2 * (l + r);
            b[4][t] = self.m_buf[t] as f64;
            b[5][t] = l - r;
        }
        // The six networks are independent: one task each on native targets.
        {
            let work = self
                .bufs
                .iter_mut()
                .zip(self.nets.iter_mut())
                .zip(NET_GAINS);
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                let v: Vec<_> = work.collect();
                v.into_par_iter().for_each(|((b, c), g)| filter(b, c, g));
            }
            #[cfg(target_arch = "wasm32")]
            for ((b, c), g) in work {
                filter(b, c, g);
            }
        }
        let k2 = self.k * self.k;
        for t in 0..n {
            let [dc, ds, rc, rf, rs, rg] = [0, 1, 2, 3, 4, 5].map(|i| self.bufs[i][t]);
            let pos = self.pos + t as u64;
            if pos < self.prog_start || self.prog_end.is_some_and(|e| pos >= e) {
                continue;
            }
            let ps: f64 = self.each.iter().map(|e| (e[t] as f64).powi(2)).sum();
            let w = &mut self.win;
            if self.win_start.is_none() {
                self.win_start = Some(pos);
            }
            w.n += 1;
            w.ec += rc * rc;
            w.dc += dc * rc;
            w.xc += (rc + rf) * rc;
            w.ex += (rc + rf) * (rc + rf);
            w.rc += (dc - rc - rf) * (dc - rc - rf);
            w.es += rs * rs;
            w.ds += ds * rs;
            w.ey += (rs + rg) * (rs + rg);
            w.rs += (ds - rs - rg) * (ds - rs - rg);
            w.ps += k2 * ps;
            if w.n == self.win_len {
                self.close_window();
            }
        }
        self.pos += n as u64;
        Ok(())
    }

    /// Judges the current window, adds it to the programme sums and resets it.
    fn close_window(&mut self) {
        let w = std::mem::take(&mut self.win);
        let Some(start) = self.win_start.take() else {
            return;
        };
        if w.n == 0 {
            return;
        }
        let end = start + w.n;
        let floor = self.floor2 * w.n as f64;
        let min = self.cfg.matrix_min_recovery_db;
        let max_err = self.cfg.matrix_max_error_db;
        let mut fail: [Option<(f64, bool, bool)>; 3] = [None; 3];
        if w.ec >= floor {
            self.prog_c.add(&w);
            let (db, inv) = centre_db(&w, min);
            if db < min || inv {
                let src = db10((w.xc / w.ec).powi(2)) < min || w.xc < 0.0;
                fail[0] = Some((db, src, inv));
            }
        }
        if w.ps >= floor {
            self.prog_s.add(&w);
            let (db, inv) = surround_db(&w, min);
            if db < min || inv {
                let src = db10(w.es / w.ps) < min;
                fail[1] = Some((db, src, inv));
            }
        }
        let mut err = f64::NEG_INFINITY;
        if w.ex >= floor {
            self.prog_xc.add(&w);
            err = err.max(db10(w.rc / w.ex));
        }
        if w.ey >= floor {
            self.prog_xs.add(&w);
            err = err.max(db10(w.rs / w.ey));
        }
        if err > max_err {
            fail[2] = Some((err, false, false));
        }
        if fail.iter().any(Option::is_some) {
            self.failed_windows += 1;
        }
        for (i, f) in fail.into_iter().enumerate() {
            match (f, &mut self.runs[i]) {
                (Some((v, src, inv)), Some(run)) if run.end == start => {
                    run.end = end;
                    run.windows += 1;
                    run.worst = if i == 2 {
                        run.worst.max(v)
                    } else {
                        run.worst.min(v)
                    };
                    run.source &= src;
                    run.inverted |= inv;
                }
                (f, slot) => {
                    if let Some(done) = slot.take() {
                        self.emit(i, done);
                    }
                    self.runs[i] = f.map(|(v, src, inv)| Run {
                        start,
                        end,
                        windows: 1,
                        worst: v,
                        source: src,
                        inverted: inv,
                    });
                }
            }
        }
    }

    fn emit(&mut self, cause: usize, run: Run) {
        if self.findings.len() >= self.cfg.max_findings_per_kind {
            self.dropped += 1;
            return;
        }
        let cause = [Cause::CentreLost, Cause::SurroundLost, Cause::Mismatch][cause];
        let min = self.cfg.matrix_min_recovery_db;
        let dur = self.time.seconds(run.end - run.start);
        let detail = match cause {
            Cause::CentreLost if run.inverted => format!(
                "the centre comes back inverted in the passive decode for {dur:.1} s: \
                 the Lt/Rt's polarity is wrong"
            ),
            Cause::CentreLost if run.source => format!(
                "the centre comes back at {:.1} dB in the passive decode for {dur:.1} s \
                 (limit {min:.1} dB): L/R content out of phase with C cancels it in Lt + Rt \
                 (and in mono)",
                run.worst
            ),
            Cause::CentreLost => format!(
                "the centre comes back at {:.1} dB in the passive decode for {dur:.1} s \
                 (limit {min:.1} dB): the Lt/Rt does not carry C in phase on both channels",
                run.worst
            ),
            Cause::SurroundLost if run.inverted => format!(
                "the surround comes back inverted in the passive decode for {dur:.1} s: \
                 Lt and Rt are swapped or one is inverted"
            ),
            Cause::SurroundLost if run.source => format!(
                "the surround comes back at {:.1} dB in the passive decode for {dur:.1} s \
                 (limit {min:.1} dB): the surround channels cancel in the mono surround sum \
                 (out of phase with each other), so the matrix carries no surround",
                run.worst
            ),
            Cause::SurroundLost => format!(
                "the surround comes back at {:.1} dB in the passive decode for {dur:.1} s \
                 (limit {min:.1} dB): the Lt/Rt does not carry S in antiphase with the \
                 90° shift (Lt − 0.7071 S', Rt + 0.7071 S')",
                run.worst
            ),
            Cause::Mismatch => format!(
                "the passive decode differs from the printmaster's 4:2:4 matrix by {:.1} dB \
                 for {dur:.1} s (limit {:.1} dB): the Lt/Rt is not the encode of this mix \
                 (polarity, channel order or the 90° shift)",
                run.worst, self.cfg.matrix_max_error_db
            ),
        };
        self.findings.push(Finding {
            kind: FindingKind::MatrixFoldBack,
            severity: match cause {
                Cause::Mismatch => Status::Fail,
                _ => Status::Warn,
            },
            channel: Some(
                match cause {
                    Cause::CentreLost => "C'",
                    Cause::SurroundLost => "S'",
                    Cause::Mismatch => "Lt/Rt",
                }
                .into(),
            ),
            start_sample: run.start,
            end_sample: run.end,
            timecode: self.time.timecode(run.start),
            detail,
        });
    }

    /// Ends the stream: the check, the findings and the figures.
    pub fn finish(mut self) -> MatrixResult {
        self.close_window();
        for i in 0..3 {
            if let Some(r) = self.runs[i].take() {
                self.emit(i, r);
            }
        }
        let min = self.cfg.matrix_min_recovery_db;
        let max_err = self.cfg.matrix_max_error_db;
        let (c, s) = (&self.prog_c, &self.prog_s);
        let centre = (c.n > 0).then(|| centre_db(c, min));
        let surround = (s.n > 0).then(|| surround_db(s, min));
        let c_err = (self.prog_xc.n > 0).then(|| db10(self.prog_xc.rc / self.prog_xc.ex));
        let s_err = (self.prog_xs.n > 0).then(|| db10(self.prog_xs.rs / self.prog_xs.ey));
        let figures = MatrixFigures {
            source_layout: self.source.name().to_string(),
            centre_recovery_db: centre.map(|x| x.0),
            surround_recovery_db: surround.map(|x| x.0),
            centre_source_db: (c.n > 0).then(|| db10((c.xc / c.ec).powi(2))),
            surround_source_db: (s.n > 0).then(|| db10(s.es / s.ps)),
            centre_error_db: c_err,
            surround_error_db: s_err,
            centre_inverted: centre.is_some_and(|x| x.1),
            surround_inverted: surround.is_some_and(|x| x.1),
            centre_judged_s: self.time.seconds(c.n),
            surround_judged_s: self.time.seconds(s.n),
            windows_failed: self.failed_windows,
            min_recovery_db: min,
            max_error_db: max_err,
            window_s: self.cfg.matrix_window_s,
            floor_dbfs: self.cfg.matrix_floor_dbfs,
        };
        if self.dropped > 0 {
            let at = self.findings.last().map_or(0, |f| f.end_sample);
            self.findings.push(Finding {
                kind: FindingKind::MatrixFoldBack,
                severity: Status::Info,
                channel: None,
                start_sample: at,
                end_sample: self.pos,
                timecode: self.time.timecode(at),
                detail: format!(
                    "{} more matrix fold-back findings not listed (at most {} per kind)",
                    self.dropped, self.cfg.max_findings_per_kind
                ),
            });
        }
        self.findings.sort_by_key(|f| f.start_sample);
        let check = judge(&figures, &self.findings);
        MatrixResult {
            check,
            findings: self.findings,
            figures,
        }
    }
}

fn fmt_db(v: Option<f64>) -> String {
    v.map_or("not judged".into(), |x| format!("{x:+.1} dB"))
}

/// The pass/fail row from the programme figures and the windows' findings.
fn judge(f: &MatrixFigures, findings: &[Finding]) -> Check {
    const NAME: &str = "Matrix fold-back";
    let min = f.min_recovery_db;
    let err = match (f.centre_error_db, f.surround_error_db) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let figures = format!(
        "passive decode of the Lt/Rt against the {} printmaster: centre {}, surround {} \
         (limit {min:.1} dB); decode error {} (limit {:.1} dB)",
        f.source_layout,
        fmt_db(f.centre_recovery_db),
        fmt_db(f.surround_recovery_db),
        err.map_or("not judged".into(), |e| format!("{e:.1} dB")),
        f.max_error_db
    );
    let mut why = Vec::new();
    if f.centre_inverted {
        why.push("the centre comes back inverted".to_string());
    } else if f.centre_recovery_db.is_some_and(|x| x < min) {
        why.push(if f.centre_source_db.is_some_and(|x| x < min) {
            "front content out of phase with the centre cancels it in Lt + Rt".to_string()
        } else {
            "the Lt/Rt does not carry the centre in phase on both channels".to_string()
        });
    }
    if f.surround_inverted {
        why.push("the surround comes back inverted (Lt/Rt swapped or one inverted)".into());
    } else if f.surround_recovery_db.is_some_and(|x| x < min) {
        why.push(if f.surround_source_db.is_some_and(|x| x < min) {
            "the surrounds cancel in the mono surround sum (out of phase with each other)"
                .to_string()
        } else {
            "the Lt/Rt does not carry the surround in antiphase with the 90° shift".to_string()
        });
    }
    if err.is_some_and(|e| e > f.max_error_db) {
        why.push("the Lt/Rt is not the 4:2:4 encode of this printmaster".into());
    }
    if !why.is_empty() {
        return Check::new(NAME, Status::Fail, format!("{}: {figures}", why.join("; ")));
    }
    if f.centre_recovery_db.is_none() && f.surround_recovery_db.is_none() && err.is_none() {
        return Check::new(
            NAME,
            Status::Info,
            format!(
                "no centre or surround content above {:.0} dBFS to judge",
                f.floor_dbfs
            ),
        );
    }
    let worst = Status::worst(findings.iter().map(|x| x.severity));
    if worst > Status::Pass {
        let n = findings
            .iter()
            .filter(|x| x.severity > Status::Pass)
            .count();
        return Check::new(
            NAME,
            worst,
            format!(
                "{figures}; {n} passage{} fold{} back badly (see the findings)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            ),
        );
    }
    Check::new(NAME, Status::Pass, figures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timecode;
    use crate::mix::matrix::LtRtEncoder;

    const SR: u32 = 48_000;

    fn time() -> TimeBase {
        TimeBase::new(
            SR,
            Timecode::parse("01:00:00:00", crate::FrameRate::Fps24).unwrap(),
        )
    }

    /// Deterministic white noise in [-a, a] (xorshift).
    fn noise(n: usize, a: f32, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                a * ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
            })
            .collect()
    }

    /// How the planted Lt/Rt is made from the source.
    #[derive(Clone, Copy, PartialEq)]
    enum Plant {
        Clean,
        /// Rt inverted.
        RtInverted,
        /// Lt and Rt swapped.
        Swapped,
        /// Surround in phase on both sides, without the 90° shift (through
        /// the fronts' all-pass `A`, not `B`):
        /// Lt = A[L + 0.7071 C + 0.7071 S], Rt = A[R + 0.7071 C + 0.7071 S].
        NoShift,
    }

    /// Runs the check over `src` (5.1) in blocks of `block` frames.
    fn run(src: &[Vec<f32>], layout: Layout, plant: Plant, block: usize) -> MatrixResult {
        let n = src[0].len();
        let opts = MatrixOptions::default();
        let mut enc = LtRtEncoder::new(layout, SR, &opts).unwrap();
        let mut chk = MatrixFoldBack::new(&QcConfig::default(), layout, time(), &opts).unwrap();
        let gains = matrix_gains(layout, &opts).unwrap();
        let mut band = surround_band(&opts, SR, 1).unwrap();
        let mut a = [AllpassChain::new(SR, false), AllpassChain::new(SR, false)];
        let mut t = 0;
        while t < n {
            let m = block.min(n - t);
            let blk: Vec<&[f32]> = src.iter().map(|c| &c[t..t + m]).collect();
            let (mut lt, mut rt) = (vec![0.0f32; m], vec![0.0f32; m]);
            match plant {
                Plant::NoShift => {
                    let mut s: Vec<f32> = (0..m)
                        .map(|i| {
                            blk.iter()
                                .zip(&gains)
                                .map(|(c, g)| c[i] as f64 * g.2)
                                .sum::<f64>() as f32
                        })
                        .collect();
                    band.process_channel(0, &mut s);
                    for i in 0..m {
                        let (mut fl, mut fr) = (0.0, 0.0);
                        for (c, g) in blk.iter().zip(&gains) {
                            fl += c[i] as f64 * g.0;
                            fr += c[i] as f64 * g.1;
                        }
                        let s = FRAC_1_SQRT_2 * s[i] as f64;
                        lt[i] = a[0].tick(fl + s) as f32;
                        rt[i] = a[1].tick(fr + s) as f32;
                    }
                }
                _ => enc.process(&blk, &mut lt, &mut rt),
            }
            match plant {
                Plant::RtInverted => rt.iter_mut().for_each(|x| *x = -*x),
                Plant::Swapped => std::mem::swap(&mut lt, &mut rt),
                _ => {}
            }
            chk.push(&blk, &lt, &rt).unwrap();
            t += m;
        }
        chk.finish()
    }

    /// A 5.1 mix of independent noises: L, R, C, LFE, Ls, Rs.
    fn clean_51(n: usize) -> Vec<Vec<f32>> {
        (0..6).map(|c| noise(n, 0.2, c as u64 + 1)).collect()
    }

    #[test]
    fn clean_mix_recovers_centre_and_surround() {
        let r = run(
            &clean_51(10 * SR as usize),
            Layout::FiveOne,
            Plant::Clean,
            4096,
        );
        let f = &r.figures;
        let (c, s) = (
            f.centre_recovery_db.unwrap(),
            f.surround_recovery_db.unwrap(),
        );
        // Independent noises: the centre returns at unity and the surround at
        // the power of its channels; the fronts' −3 dB leakage is in
        // quadrature or uncorrelated and moves neither by more than 0.1 dB.
        assert!(c.abs() < 0.1, "centre {c}");
        assert!(s.abs() < 0.1, "surround {s}");
        assert!(f.centre_error_db.unwrap() < -100.0, "{f:?}");
        assert!(f.surround_error_db.unwrap() < -100.0, "{f:?}");
        assert_eq!(r.check.status, Status::Pass, "{:?}", r.check);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert!((f.centre_judged_s - 10.0).abs() < 1e-9);
    }

    #[test]
    fn clean_71_mix_passes() {
        let n = 6 * SR as usize;
        let src: Vec<Vec<f32>> = (0..8).map(|c| noise(n, 0.2, c as u64 + 11)).collect();
        let r = run(&src, Layout::SevenOne, Plant::Clean, 1000);
        assert_eq!(r.check.status, Status::Pass, "{:?}", r.check);
        assert!(r.figures.surround_recovery_db.unwrap().abs() < 0.1);
    }

    #[test]
    fn block_size_does_not_change_the_result() {
        let src = clean_51(4 * SR as usize);
        let a = run(&src, Layout::FiveOne, Plant::Clean, 65_536);
        let b = run(&src, Layout::FiveOne, Plant::Clean, 777);
        assert_eq!(a, b);
    }

    #[test]
    fn identical_surrounds_come_back_3_db_up() {
        let n = 6 * SR as usize;
        let mut src = clean_51(n);
        src[5] = src[4].clone();
        let r = run(&src, Layout::FiveOne, Plant::Clean, 4096);
        let s = r.figures.surround_recovery_db.unwrap();
        // (Ls + Rs)/√2 of Ls = Rs is √2·Ls: +3.01 dB against the mean power.
        assert!((s - 10.0 * 2f64.log10()).abs() < 0.1, "{s}");
        assert_eq!(r.check.status, Status::Pass);
    }

    #[test]
    fn rt_inverted_fails() {
        let r = run(
            &clean_51(6 * SR as usize),
            Layout::FiveOne,
            Plant::RtInverted,
            4096,
        );
        assert_eq!(r.check.status, Status::Fail, "{:?}", r.check);
        assert!(
            r.check.detail.contains("not the 4:2:4 encode"),
            "{}",
            r.check.detail
        );
        // C' now holds L − R and S; the centre is gone (not "inverted").
        assert!(r.figures.centre_recovery_db.unwrap() < -20.0);
        assert!(!r.figures.centre_inverted);
        assert!(
            r.check.detail.contains("does not carry the centre"),
            "{}",
            r.check.detail
        );
        assert!(r.figures.centre_error_db.unwrap() > -3.0);
        assert!(r.findings.iter().any(|f| f.severity == Status::Fail));
    }

    #[test]
    fn swapped_lt_rt_returns_an_inverted_surround() {
        let r = run(
            &clean_51(6 * SR as usize),
            Layout::FiveOne,
            Plant::Swapped,
            4096,
        );
        assert_eq!(r.check.status, Status::Fail);
        assert!(r.figures.surround_inverted, "{:?}", r.figures);
        assert!(r.check.detail.contains("inverted"), "{}", r.check.detail);
    }

    #[test]
    fn surround_without_the_shift_fails() {
        let r = run(
            &clean_51(6 * SR as usize),
            Layout::FiveOne,
            Plant::NoShift,
            4096,
        );
        assert_eq!(r.check.status, Status::Fail, "{:?}", r.check);
        // In phase on both sides the surround cancels in Lt − Rt entirely
        // (and lands in C', which the decode error sees).
        assert!(
            r.figures.surround_recovery_db.unwrap() < -40.0,
            "{:?}",
            r.figures
        );
        assert!(r.figures.centre_recovery_db.unwrap().abs() < 0.1);
        assert!(r.figures.centre_error_db.unwrap() > -10.0);
        assert!(!r.figures.surround_inverted);
        assert!(
            r.check.detail.contains("does not carry the surround"),
            "{}",
            r.check.detail
        );
    }

    #[test]
    fn surrounds_out_of_phase_fail_as_content() {
        let n = 6 * SR as usize;
        let mut src = clean_51(n);
        src[5] = src[4].iter().map(|x| -x).collect();
        let r = run(&src, Layout::FiveOne, Plant::Clean, 4096);
        assert_eq!(r.check.status, Status::Fail, "{:?}", r.check);
        assert!(r.figures.surround_recovery_db.unwrap() <= -100.0);
        // The encode is right: the decode matches the matrix of this mix.
        assert!(r.figures.surround_error_db.unwrap() < -100.0);
        assert!(
            r.check.detail.contains("cancel in the mono surround sum"),
            "{}",
            r.check.detail
        );
        let f = &r.findings[0];
        assert_eq!(f.kind, FindingKind::MatrixFoldBack);
        assert_eq!(f.timecode, "01:00:00:00");
        assert_eq!(f.end_sample, n as u64);
    }

    #[test]
    fn out_of_phase_fronts_cancel_the_centre_in_a_passage() {
        // 15 s; from 3 s to 6 s L = R = −0.7071 C: the centre cancels in Lt + Rt.
        let n = 15 * SR as usize;
        let mut src = clean_51(n);
        let (a, b) = (3 * SR as usize, 6 * SR as usize);
        let anti: Vec<f32> = src[2][a..b]
            .iter()
            .map(|x| -FRAC_1_SQRT_2 as f32 * x)
            .collect();
        src[0][a..b].copy_from_slice(&anti);
        src[1][a..b].copy_from_slice(&anti);
        let r = run(&src, Layout::FiveOne, Plant::Clean, 4096);
        let c: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.channel.as_deref() == Some("C'"))
            .collect();
        assert_eq!(c.len(), 1, "{:?}", r.findings);
        assert_eq!((c[0].start_sample, c[0].end_sample), (a as u64, b as u64));
        assert_eq!(c[0].timecode, "01:00:03:00");
        assert!(c[0].detail.contains("out of phase"), "{}", c[0].detail);
        // A fifth of the programme (−1.9 dB over it): the programme figure
        // holds, the passage warns.
        assert_eq!(r.check.status, Status::Warn, "{:?}", r.check);
    }

    #[test]
    fn silence_is_not_judged() {
        let src = vec![vec![0.0f32; SR as usize]; 6];
        let r = run(&src, Layout::FiveOne, Plant::Clean, 4096);
        assert_eq!(r.check.status, Status::Info);
        assert_eq!(r.figures.centre_recovery_db, None);
    }

    #[test]
    fn stereo_source_judges_the_decode_only() {
        let n = 4 * SR as usize;
        let src: Vec<Vec<f32>> = (0..2).map(|c| noise(n, 0.2, c as u64 + 5)).collect();
        let r = run(&src, Layout::Stereo, Plant::Clean, 4096);
        assert_eq!(r.figures.centre_recovery_db, None);
        assert_eq!(r.figures.surround_recovery_db, None);
        assert!(r.figures.centre_error_db.unwrap() < -100.0);
        assert_eq!(r.check.status, Status::Pass, "{:?}", r.check);
    }

    #[test]
    fn wrong_channel_count_is_an_error() {
        let opts = MatrixOptions::default();
        let mut chk =
            MatrixFoldBack::new(&QcConfig::default(), Layout::FiveOne, time(), &opts).unwrap();
        let x = vec![0.0f32; 10];
        let e = chk.push(&[&x, &x], &x, &x).unwrap_err().to_string();
        assert!(e.contains("5.1"), "{e}");
    }
}
