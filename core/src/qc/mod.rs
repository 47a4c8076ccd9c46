//! The QC desk: streaming defect detectors, the report model, and its two
//! renderings (`qc/report.json` and `qc/report.html`).
//!
//! ```text
//! deliverable blocks ──► QcDetectors::push ──► finish_with_checks() ──► (Vec<Check>, Vec<Finding>)
//! stem blocks        ──► PopDetector::push ──► finish() ──► PopResult ─┐
//!                                                        sync_report() ◄┘──► SyncReport
//! printmaster, DX, M&E ──► NullTest::push ──► finish() ──► NullResult
//! printmaster + Lt/Rt ──► MatrixFoldBack::push ──► finish() ──► MatrixResult
//!                                   │
//!   (the pipeline fills loudness)   ▼
//!                    QcReport ──► write_report(dir) ──► report.json + report.html
//! ```
//!
//! Every detector is streaming: it keeps a bounded amount of state (a few
//! counters per channel, at most [`QcConfig::max_findings_per_kind`] findings
//! per kind, the 2-pop search window) and gives the same result whatever the
//! block size. Sample positions are counted from the first sample pushed
//! (sample 0 = the session's start timecode); [`TimeBase`] turns them into
//! timecodes.

pub mod detect;
pub mod html;
mod json;
pub mod matrix;
pub mod null;
pub mod report;
pub mod sync;

pub use detect::{QcDetectors, TimeBase};
pub use matrix::{MatrixFigures, MatrixFoldBack, MatrixResult};
pub use null::{NullResult, NullTest};
pub use report::{
    BackendReport, Check, Conversion, CueRow, DeliverableQc, Finding, FindingKind, LoudnessFigures,
    ManifestEntry, Normalization, ProfileInfo, QcReport, SessionInfo, Status, SyncReport, SyncRow,
    Timelines, loudness_checks,
};
pub use sync::{PopDetector, PopResult, expected_pop_sample, sync_report};

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Thresholds of every detector. [`QcConfig::default`] holds the values
/// dubstage ships with; each field says why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QcConfig {
    /// A sample is "at full scale" when `|x| >= clip_level`. Default
    /// `32767/32768` (≈ -0.0003 dBFS): the largest positive 16-bit value, so the
    /// clipped positive peaks of a 16-bit file count as well as those of a
    /// 24-bit or float file.
    pub clip_level: f32,
    /// A clip is a run of at least this many consecutive samples at full scale
    /// (default 3: one or two full-scale samples can be a legitimate peak, three
    /// in a row are a flat top).
    pub clip_min_run: u32,
    /// Clip and NaN/Inf runs closer than this (seconds) on one channel are
    /// reported as one finding with a run count (default 0.5 s), so a
    /// distorted passage is one line, not thousands.
    pub event_merge_s: f64,
    /// At most this many findings per kind are kept (default 100); the rest
    /// are counted in a final summary finding. Bounds memory on a bad reel.
    pub max_findings_per_kind: usize,
    /// DC offset: warn when the programme mean of a channel exceeds this
    /// (dBFS, default -50 = 0.32 % of full scale). Programme audio through
    /// AC-coupled converters and high-passed chains has a long-term mean far
    /// below -80 dBFS, so this flags only real offsets (a DC-coupled
    /// converter fault, a broken plug-in) without tripping on short,
    /// asymmetric material.
    pub dc_limit_dbfs: f64,
    /// A sample is digital silence when `|x| <= silence_level` (default 0.0:
    /// exact zeros only; dithered silence is signal).
    pub silence_level: f32,
    /// Drop-out: digital silence longer than this (seconds, default 0.050,
    /// about one frame) on a channel, between that channel's first and last
    /// non-silent samples inside the programme, that cuts the sound off
    /// ([`QcConfig::dropout_edge_dbfs`]).
    pub dropout_min_s: f64,
    /// A silence is only a drop-out when it cuts the sound off: the last
    /// 0.25 ms of sound before it ([`detect::DROPOUT_EDGE_S`]) peaks at or above
    /// this level (dBFS, default -40) and at no less than half the peak of the
    /// 10 ms before that ([`detect::DROPOUT_CONTEXT_S`]), i.e. without a fade.
    /// Sound that fades (even over half a millisecond) or decays into silence
    /// (an LFE boom, the end of a line) is not a drop-out.
    pub dropout_edge_dbfs: f64,
    /// Programme silence: every channel silent for longer than this
    /// (seconds, default 2.0), between the programme's first and last
    /// non-silent samples.
    pub programme_silence_min_s: f64,
    /// Phase correlation window (seconds, default 0.4, as the momentary
    /// loudness window of BS.1770), stepped every [`QcConfig::phase_hop_s`].
    pub phase_window_s: f64,
    /// Step between correlation windows (seconds, default 0.1).
    pub phase_hop_s: f64,
    /// A window is "negative" when its correlation coefficient is below this
    /// (default -0.3: clearly out of phase, not just wide).
    pub phase_threshold: f64,
    /// Warn when negative windows span more than this (seconds, default 1.0).
    pub phase_min_s: f64,
    /// Windows where either channel's RMS is below this (dBFS, default -60)
    /// are not judged: the correlation of near-silence means nothing.
    pub phase_floor_dbfs: f64,
    /// LFE: cutoff (Hz) of the 8th-order Butterworth high-pass that measures
    /// out-of-band energy. Default 150 Hz: content at 120 Hz (the top of the
    /// LFE band) is attenuated 15.5 dB, at 100 Hz 28 dB, at 60 Hz 64 dB, so
    /// legitimate LFE stays far below the limit while voice, music or a
    /// mis-routed full-range channel passes straight through.
    pub lfe_cutoff_hz: f64,
    /// LFE: warn when the high-passed energy over a 1 s window (with the LFE
    /// above [`QcConfig::lfe_floor_dbfs`]) exceeds this ratio of the window's
    /// total LFE energy (dB, default -20 = 1 %).
    pub lfe_ratio_limit_db: f64,
    /// LFE windows quieter than this RMS (dBFS, default -60) are not judged.
    pub lfe_floor_dbfs: f64,
    /// 2-pop tone frequency (Hz, default 1000).
    pub pop_freq_hz: f64,
    /// The 2-pop is searched this far (seconds, default 1.0) either side of
    /// its expected position (FFOA - 2 s).
    pub pop_search_s: f64,
    /// A 2-pop must reach this peak level (dBFS, default -50; pops are
    /// usually -20 dBFS) to count as found.
    pub pop_min_dbfs: f64,
    /// Sync passes when every stem's pop is within this many samples of
    /// FFOA - 2 s (default 0: sample-exact).
    pub sync_tolerance_samples: u64,
    /// M&E null test: pass when the residual's maximum absolute value is
    /// below this (dBFS, default -100). 24-bit files null to a few LSB
    /// (2^-23 ≈ -138 dBFS each); -100 leaves room for float rounding and
    /// still catches any real mix difference. Use about -80 for 16-bit.
    pub null_max_dbfs: f64,
    /// Matrix fold-back (Lt/Rt deliverables, [`matrix`]): the centre and the
    /// surround must come back from the passive decode at no less than this
    /// (dB, default -3). The matrix returns both at 0 dB (uncorrelated
    /// content) or more (correlated content adds in phase); losing more than
    /// half their power means cancellation: fronts out of phase with the
    /// centre, surrounds out of phase with each other, or a wrong encode.
    pub matrix_min_recovery_db: f64,
    /// Matrix fold-back: the decoded centre and surround may differ from the
    /// printmaster's 4:2:4 matrix by at most this (dB residual energy,
    /// default -40). The encode itself leaves about -130 dB (f32 rounding);
    /// a missing 90° shift, an inverted or swapped channel or a different
    /// mix gives about 0 dB.
    pub matrix_max_error_db: f64,
    /// Matrix fold-back window (seconds, default 3.0, the short-term loudness
    /// window of EBU Tech 3341: long enough to hear, short enough to place).
    pub matrix_window_s: f64,
    /// Matrix fold-back: windows whose centre (surround power) is below this
    /// RMS (dBFS, default -50) are not judged for the centre (surround).
    pub matrix_floor_dbfs: f64,
}

impl Default for QcConfig {
    fn default() -> Self {
        QcConfig {
            clip_level: 32767.0 / 32768.0,
            clip_min_run: 3,
            event_merge_s: 0.5,
            max_findings_per_kind: 100,
            dc_limit_dbfs: -50.0,
            silence_level: 0.0,
            dropout_min_s: 0.050,
            dropout_edge_dbfs: -40.0,
            programme_silence_min_s: 2.0,
            phase_window_s: 0.4,
            phase_hop_s: 0.1,
            phase_threshold: -0.3,
            phase_min_s: 1.0,
            phase_floor_dbfs: -60.0,
            lfe_cutoff_hz: 150.0,
            lfe_ratio_limit_db: -20.0,
            lfe_floor_dbfs: -60.0,
            pop_freq_hz: 1000.0,
            pop_search_s: 1.0,
            pop_min_dbfs: -50.0,
            sync_tolerance_samples: 0,
            null_max_dbfs: -100.0,
            matrix_min_recovery_db: -3.0,
            matrix_max_error_db: -40.0,
            matrix_window_s: 3.0,
            matrix_floor_dbfs: -50.0,
        }
    }
}

impl QcConfig {
    /// Checks that every threshold makes sense for `sample_rate`.
    pub fn validate(&self, sample_rate: u32) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(format!("QC config: {m}")));
        if sample_rate == 0 {
            return bad("sample rate is 0".into());
        }
        if !(self.clip_level > 0.0 && self.clip_level.is_finite()) {
            return bad(format!("clip_level {} must be > 0", self.clip_level));
        }
        if self.clip_min_run == 0 {
            return bad("clip_min_run must be at least 1".into());
        }
        for (name, v) in [
            ("event_merge_s", self.event_merge_s),
            ("dropout_min_s", self.dropout_min_s),
            ("programme_silence_min_s", self.programme_silence_min_s),
            ("phase_min_s", self.phase_min_s),
            ("pop_search_s", self.pop_search_s),
            ("matrix_window_s", self.matrix_window_s),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(format!("{name} = {v} must be a finite number >= 0"));
            }
        }
        let hop = (self.phase_hop_s * sample_rate as f64).round();
        let win = (self.phase_window_s * sample_rate as f64).round();
        if !(hop >= 1.0 && win >= hop && hop.is_finite() && win.is_finite()) {
            return bad(format!(
                "phase_hop_s {} and phase_window_s {} must give a hop of at least one sample and a window of at least one hop",
                self.phase_hop_s, self.phase_window_s
            ));
        }
        let nyq = sample_rate as f64 / 2.0;
        if !(self.lfe_cutoff_hz > 0.0 && self.lfe_cutoff_hz < nyq) {
            return bad(format!(
                "lfe_cutoff_hz {} must be between 0 and {nyq} Hz",
                self.lfe_cutoff_hz
            ));
        }
        if !(self.pop_freq_hz > 0.0 && self.pop_freq_hz < nyq) {
            return bad(format!(
                "pop_freq_hz {} must be between 0 and {nyq} Hz",
                self.pop_freq_hz
            ));
        }
        if (self.matrix_window_s * sample_rate as f64).round() < 1.0 {
            return bad(format!(
                "matrix_window_s {} must be at least one sample",
                self.matrix_window_s
            ));
        }
        for (name, v) in [
            ("matrix_min_recovery_db", self.matrix_min_recovery_db),
            ("matrix_max_error_db", self.matrix_max_error_db),
            ("matrix_floor_dbfs", self.matrix_floor_dbfs),
        ] {
            if !v.is_finite() {
                return bad(format!("{name} = {v} must be a finite number"));
            }
        }
        if !(self.silence_level >= 0.0 && self.silence_level.is_finite()) {
            return bad(format!("silence_level {} must be >= 0", self.silence_level));
        }
        Ok(())
    }
}

/// `20 log10(x)` in dBFS; `-inf` for 0.
pub fn dbfs(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Linear amplitude of a dBFS value.
pub fn from_dbfs(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Serializes `report` to JSON: objects one key per line, arrays of numbers
/// and strings (the loudness timelines) on one line.
pub fn to_json(report: &QcReport) -> Result<String> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut buf, json::ReportFormatter::default());
    report
        .serialize(&mut ser)
        .map_err(|e| Error::Invalid(format!("QC report: cannot serialize: {e}")))?;
    buf.push(b'\n');
    String::from_utf8(buf).map_err(|e| Error::Invalid(format!("QC report: {e}")))
}

/// Parses a `report.json`.
pub fn from_json(text: &str) -> Result<QcReport> {
    serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("QC report: malformed JSON: {e}")))
}

/// Writes `dir/report.json` and `dir/report.html` (creating `dir`), each
/// atomically: written to a hidden temporary file in `dir`, flushed to disk,
/// then renamed over the final name, so a reader never sees half a report.
pub fn write_report(dir: &Path, report: &QcReport) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(&dir.join("report.json"), to_json(report)?.as_bytes())?;
    write_atomic(&dir.join("report.html"), html::render(report).as_bytes())?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Output {
            path: path.to_path_buf(),
            msg: "not a file path".into(),
        })?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = (|| {
        // The file is closed when this closure returns, before the rename.
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
