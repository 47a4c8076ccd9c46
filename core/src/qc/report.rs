//! The QC report model: plain data, serialized to `qc/report.json` and
//! rendered to `qc/report.html`.
//!
//! Units are in the field names (`_lufs`, `_dbtp`, `_dbfs`, `_lu`, `_s`,
//! `_samples`). A level that is `None` is silent (−∞) or was not measured.
//! Sample positions count from the deliverable's first sample, which sits at
//! the session's start timecode.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A verdict. Ordered by severity for [`Status::worst`]: `Info < Pass < Warn < Fail`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A figure shown for information; never changes the overall verdict.
    Info,
    /// Meets the requirement.
    #[default]
    Pass,
    /// Deserves a listen; does not fail delivery by itself.
    Warn,
    /// Fails the delivery spec.
    Fail,
}

impl Status {
    /// The most severe status of `it`, or `Pass` when there is nothing to judge
    /// (`Info` counts as `Pass`).
    pub fn worst(it: impl IntoIterator<Item = Status>) -> Status {
        it.into_iter()
            .fold(Status::Pass, |a, b| a.max(b))
            .max(Status::Pass)
    }

    /// `"pass"`, `"warn"`, `"fail"` or `"info"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Info => "info",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One judged requirement, shown as a row of the pass/fail table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Short name ("Integrated loudness", "Clipping", ...).
    pub name: String,
    /// Verdict.
    pub status: Status,
    /// The measured value and the requirement, in one sentence.
    pub detail: String,
}

impl Check {
    /// A check.
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }
}

/// What a detector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Runs of consecutive full-scale samples.
    Clip,
    /// NaN or infinite samples.
    NonFinite,
    /// Programme mean of a channel above the DC limit.
    DcOffset,
    /// Digital silence inside a channel's programme.
    DropOut,
    /// Every channel silent inside the programme.
    ProgrammeSilence,
    /// A channel that is digital silence throughout (information).
    SilentChannel,
    /// Sustained negative correlation of a channel pair.
    PhaseCorrelation,
    /// Energy above the LFE band on the LFE channel.
    LfeBandwidth,
    /// Centre or surround lost in the passive decode of an Lt/Rt.
    MatrixFoldBack,
    /// Anything else (the pipeline's own findings).
    Other,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 10] = [
        FindingKind::Clip,
        FindingKind::NonFinite,
        FindingKind::DcOffset,
        FindingKind::DropOut,
        FindingKind::ProgrammeSilence,
        FindingKind::SilentChannel,
        FindingKind::PhaseCorrelation,
        FindingKind::LfeBandwidth,
        FindingKind::MatrixFoldBack,
        FindingKind::Other,
    ];

    /// Human label, used as the check name.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Clip => "Clipping",
            FindingKind::NonFinite => "NaN / Inf samples",
            FindingKind::DcOffset => "DC offset",
            FindingKind::DropOut => "Drop-outs",
            FindingKind::ProgrammeSilence => "Programme silence",
            FindingKind::SilentChannel => "Silent channels",
            FindingKind::PhaseCorrelation => "Phase correlation",
            FindingKind::LfeBandwidth => "LFE above band",
            FindingKind::MatrixFoldBack => "Matrix fold-back",
            FindingKind::Other => "Other",
        }
    }
}

/// One defect (or notable fact) at a place in a deliverable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of defect.
    pub kind: FindingKind,
    /// How bad.
    pub severity: Status,
    /// Channel label (`"L"`), pair (`"L/R"`), or `None` for all channels.
    pub channel: Option<String>,
    /// First sample concerned.
    pub start_sample: u64,
    /// One past the last sample concerned.
    pub end_sample: u64,
    /// Timecode of `start_sample` (session frame rate).
    pub timecode: String,
    /// What was measured, in one sentence.
    pub detail: String,
}

/// Where the report comes from: the session file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session file path as given.
    pub path: String,
    /// SHA-256 of the session file (hex).
    pub sha256: String,
    /// Programme title.
    pub title: String,
    /// Reel name or number.
    pub reel: String,
    /// Frame rate name (`"23.976"`, `"29.97df"`, ...; as [`crate::FrameRate::name`]).
    pub frame_rate: String,
    /// Timecode of every deliverable's first sample.
    pub start_tc: String,
    /// First frame of action.
    pub ffoa_tc: String,
    /// Sample rate (Hz).
    pub sample_rate: u32,
}

/// Who computed the figures (mirrors [`crate::backend::BackendInfo`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BackendReport {
    /// `"cpu"` or `"gpu"`.
    pub kind: String,
    /// Adapter or CPU name.
    pub name: String,
    /// Graphics API, empty for the CPU.
    pub api: String,
    /// Device type.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// The CPU the render ran on (architecture and SIMD features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuInfo>,
}

/// The delivery profile the programme was judged against.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProfileInfo {
    /// Profile name (`"netflix"`, `"ebu-r128"`, ...).
    pub name: String,
    /// Loudness target (LUFS / LKFS).
    pub target_lufs: f64,
    /// Allowed deviation from the target (± LU).
    pub tolerance_lu: f64,
    /// Maximum true peak (dBTP).
    pub true_peak_max_dbtp: f64,
    /// `true` when the target applies to dialogue-gated loudness.
    pub dialogue_gated: bool,
    /// Dialogue share (%) below which the full-programme target applies.
    pub dialogue_min_percent: Option<f64>,
    /// The full-programme target used then (LUFS).
    pub fallback_target_lufs: Option<f64>,
    /// Recommended loudness range (LU), when the profile has one.
    pub lra_min_lu: Option<f64>,
    /// Recommended loudness range upper bound (LU).
    pub lra_max_lu: Option<f64>,
    /// Free text shown under the profile.
    pub notes: String,
}

/// A loudness figure before and after normalization.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Normalization {
    /// Loudness measured before the gain (LUFS, the figure that was normalized).
    pub before_lufs: Option<f64>,
    /// The same figure after the gain and limiting.
    pub after_lufs: Option<f64>,
    /// Gain applied (dB).
    pub gain_db: f64,
    /// Maximum true peak before (dBTP).
    pub true_peak_before_dbtp: Option<f64>,
    /// Maximum true peak after (dBTP).
    pub true_peak_after_dbtp: Option<f64>,
    /// Largest limiter gain reduction (dB, positive), when a limiter ran.
    pub limiter_max_reduction_db: Option<f64>,
}

/// Loudness figures of one deliverable (BS.1770-4 / EBU R128 / Tech 3342).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoudnessFigures {
    /// Integrated programme loudness (LUFS).
    pub integrated_lufs: Option<f64>,
    /// Loudness range (LU).
    pub lra_lu: Option<f64>,
    /// True peak per channel in channel order (dBTP).
    pub true_peak_dbtp: Vec<Option<f64>>,
    /// Maximum true peak over all channels (dBTP).
    pub true_peak_max_dbtp: Option<f64>,
    /// Sample peak per channel (dBFS).
    pub sample_peak_dbfs: Vec<Option<f64>>,
    /// Maximum sample peak (dBFS).
    pub sample_peak_max_dbfs: Option<f64>,
    /// Maximum momentary loudness (LUFS).
    pub max_momentary_lufs: Option<f64>,
    /// Maximum short-term loudness (LUFS).
    pub max_short_term_lufs: Option<f64>,
    /// Loudness gated on the dialogue bus (LUFS): blocks where the dialogue
    /// stem is active. Stem-gated, not Dolby Dialogue Intelligence.
    pub dialogue_gated_lufs: Option<f64>,
    /// Share of the programme's gated blocks that carry dialogue (%).
    pub dialogue_percent: Option<f64>,
    /// The before/after pair when the deliverable was normalized.
    pub normalization: Option<Normalization>,
}

/// Momentary and short-term loudness over time.
///
/// Value `i` is the loudness of the window that ends at `(i + 1) * hop_s`
/// seconds after the deliverable's first sample. Silence (below any gate) is
/// `f32::NEG_INFINITY`, written as `null` in JSON; values are written with two
/// decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timelines {
    /// Step between values (seconds), 0.1 per BS.1770.
    pub hop_s: f64,
    /// Momentary loudness (400 ms window, LUFS).
    #[serde(with = "lufs_series")]
    pub momentary: Vec<f32>,
    /// Short-term loudness (3 s window, LUFS).
    #[serde(with = "lufs_series")]
    pub short_term: Vec<f32>,
}

impl Default for Timelines {
    fn default() -> Self {
        Timelines {
            hop_s: 0.1,
            momentary: Vec::new(),
            short_term: Vec::new(),
        }
    }
}

impl From<&crate::loudness::meter::Timeline> for Timelines {
    /// The meter's timeline, silence (`None`) as `-inf`.
    fn from(t: &crate::loudness::meter::Timeline) -> Self {
        let conv = |v: &[Option<f64>]| {
            v.iter()
                .map(|x| x.map_or(f32::NEG_INFINITY, |x| x as f32))
                .collect()
        };
        Timelines {
            hop_s: t.step_s,
            momentary: conv(&t.momentary_lufs),
            short_term: conv(&t.short_term_lufs),
        }
    }
}

impl From<&crate::loudness::LoudnessSummary> for LoudnessFigures {
    /// Every figure of a meter summary; `normalization` is left `None` for the
    /// pipeline to fill.
    fn from(s: &crate::loudness::LoudnessSummary) -> Self {
        LoudnessFigures {
            integrated_lufs: s.integrated_lufs,
            lra_lu: s.loudness_range_lu,
            true_peak_dbtp: s.true_peak_dbtp_per_channel.clone(),
            true_peak_max_dbtp: s.true_peak_dbtp,
            sample_peak_dbfs: s.sample_peak_dbfs_per_channel.clone(),
            sample_peak_max_dbfs: s.sample_peak_dbfs,
            max_momentary_lufs: s.max_momentary_lufs,
            max_short_term_lufs: s.max_short_term_lufs,
            dialogue_gated_lufs: s.dialogue.as_ref().and_then(|d| d.gated_lufs),
            dialogue_percent: s.dialogue.as_ref().map(|d| d.dialogue_percent),
            normalization: None,
        }
    }
}

/// QC of one written file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliverableQc {
    /// Deliverable name (`"printmaster"`, `"M&E"`, `"DX stem"`, ...).
    pub name: String,
    /// File path as written.
    pub path: String,
    /// Layout name (`"5.1"`, `"2.0"`, ...).
    pub layout: String,
    /// Channel labels in file order (`["L", "R", "C", "LFE", "Ls", "Rs"]`).
    pub channels: Vec<String>,
    /// File format in words (`"BWF PCM 24-bit 48 kHz"`).
    pub format: String,
    /// Sample frames.
    pub frames: u64,
    /// Duration (seconds).
    pub duration_s: f64,
    /// SHA-256 of the file (hex).
    pub sha256: String,
    /// Loudness figures.
    pub loudness: LoudnessFigures,
    /// Loudness over time, for the plot.
    pub timelines: Timelines,
    /// The pass/fail table.
    pub checks: Vec<Check>,
    /// Defects found, in time order per detector.
    pub findings: Vec<Finding>,
    /// The matrix fold-back figures of an Lt/Rt deliverable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<crate::qc::MatrixFigures>,
    /// Worst status of `checks`.
    pub status: Status,
}

impl DeliverableQc {
    /// The worst status of the checks (and of findings, in case a finding has
    /// no check of its own).
    pub fn compute_status(&self) -> Status {
        Status::worst(
            self.checks
                .iter()
                .map(|c| c.status)
                .chain(self.findings.iter().map(|f| f.severity)),
        )
    }
}

/// One stem's 2-pop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRow {
    /// Stem name.
    pub stem: String,
    /// Sample where the pop starts (counted from the session start), if found.
    pub pop_sample: Option<u64>,
    /// Timecode of the pop's start.
    pub pop_tc: Option<String>,
    /// `pop_sample - expected_sample`.
    pub offset_samples: Option<i64>,
    /// The same to a fraction of a sample (GCC-PHAT of the pop's envelope):
    /// slide the stem earlier by this much to put the pop on its sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_fine_samples: Option<f64>,
    /// The same in milliseconds.
    pub offset_ms: Option<f64>,
    /// Length of the tone burst (samples).
    pub length_samples: Option<u64>,
    /// Peak level of the pop (dBFS).
    pub level_dbfs: Option<f64>,
    /// Verdict for this stem.
    pub status: Status,
    /// Explanation.
    pub detail: String,
}

/// The 2-pop sync check over all stems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Where every pop should start: FFOA - 2 s (samples from the session start).
    pub expected_sample: u64,
    /// Timecode of `expected_sample`.
    pub expected_tc: String,
    /// Allowed |offset| (samples).
    pub tolerance_samples: u64,
    /// One row per stem.
    pub stems: Vec<SyncRow>,
    /// Overall verdict, naming the stems out of sync.
    pub check: Check,
}

/// A spotting cue (ADR, Foley, note, ...), shown as a plain row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CueRow {
    /// Cue number.
    pub number: String,
    /// Type (ADR, Foley, SFX, music, note).
    pub kind: String,
    /// In timecode.
    pub tc_in: String,
    /// Out timecode.
    pub tc_out: String,
    /// Character.
    pub character: String,
    /// Line or description.
    pub text: String,
    /// Reason.
    pub reason: String,
    /// Notes.
    pub notes: String,
}

/// A file written by the render, with its hash.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path as written.
    pub path: String,
    /// Size (bytes).
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// One coefficient of a channel fold (see the README's "Channel layouts").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FoldRow {
    /// The source channel the mix lacks (`Lc`, `Ltf`, ...).
    pub input: String,
    /// Where it goes.
    pub output: String,
    /// Linear gain.
    pub gain: f64,
    /// The same in dB.
    pub gain_db: f64,
    /// Where the coefficient comes from (a standard, or "dubstage's choice").
    pub source: String,
}

/// How a stem (or a deliverable, from the mix) was folded into a narrower layout.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FoldReport {
    /// `stem 'id'` or `deliverable NAME`.
    pub what: String,
    /// Its layout.
    pub from: String,
    /// The layout it was folded into.
    pub to: String,
    /// Every coefficient of the channels `to` lacks (the others go where they are).
    pub rows: Vec<FoldRow>,
}

/// A source converted as it played: recorded at another sample rate than the
/// reel's, or played at another speed (a pull-up, a pull-down, a PAL speed
/// change), or both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Conversion {
    /// `stem 'id'` or `track 'id' clip n ('name')`.
    pub what: String,
    /// The source file (the files of a family of mono files, `, `-separated).
    pub file: String,
    /// The source's sample rate, Hz.
    pub from_hz: u32,
    /// The reel's sample rate, Hz.
    pub to_hz: u32,
    /// The speed change as a session writes it (`pull-down`, `pull-up`,
    /// `24/25`), `None` when the speed is unchanged.
    pub speed: Option<String>,
    /// The resampler that converted it.
    pub resampler: String,
}

/// The whole QC report of a render.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QcReport {
    /// [`crate::VERSION`].
    pub dubstage_version: String,
    /// The session rendered.
    pub session: SessionInfo,
    /// Who computed it.
    pub backend: BackendReport,
    /// The delivery profile.
    pub profile: ProfileInfo,
    /// One entry per deliverable.
    pub deliverables: Vec<DeliverableQc>,
    /// The 2-pop sync check, when stems were checked.
    pub sync: Option<SyncReport>,
    /// The M&E null test, when run.
    pub null_test: Option<crate::qc::NullResult>,
    /// Spotting cues (optional).
    #[serde(default)]
    pub cues: Vec<CueRow>,
    /// Every file written, with SHA-256 (the deliverables at least).
    #[serde(default)]
    pub manifest: Vec<ManifestEntry>,
    /// Stems and deliverables folded into a narrower layout, with their matrices.
    #[serde(default)]
    pub folds: Vec<FoldReport>,
    /// Every source converted as it played (another sample rate, a speed change).
    #[serde(default)]
    pub conversions: Vec<Conversion>,
    /// The detector thresholds used.
    #[serde(default)]
    pub thresholds: crate::qc::QcConfig,
    /// Overall verdict: the worst of every deliverable, sync and null test.
    pub status: Status,
}

impl QcReport {
    /// The worst status of everything judged.
    pub fn compute_status(&self) -> Status {
        Status::worst(
            self.deliverables
                .iter()
                .map(|d| d.compute_status())
                .chain(self.sync.iter().map(|s| s.check.status))
                .chain(self.null_test.iter().map(|n| n.status)),
        )
    }

    /// Sets every deliverable's `status` and the overall `status` from the checks.
    pub fn finalize(&mut self) {
        for d in &mut self.deliverables {
            d.status = d.compute_status();
        }
        self.status = self.compute_status();
    }
}

fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.1} {unit}"),
        _ => format!("-inf {unit}"),
    }
}

/// The loudness rows of the pass/fail table, from the figures and the profile:
/// integrated (or dialogue-gated) loudness within target ± tolerance (fail
/// outside), maximum true peak at or below the ceiling (fail above), loudness
/// range inside the recommended range (warn outside), and information rows for
/// dialogue share and the normalization pair.
pub fn loudness_checks(l: &LoudnessFigures, p: &ProfileInfo) -> Vec<Check> {
    let mut out = Vec::new();
    // Which figure is judged: dialogue-gated when the profile asks and the
    // dialogue share is high enough, else the full programme.
    let (figure, label, target) =
        match (p.dialogue_gated, l.dialogue_gated_lufs, l.dialogue_percent) {
            (true, Some(dg), Some(pct)) if p.dialogue_min_percent.is_none_or(|m| pct >= m) => {
                (Some(dg), "dialogue-gated", p.target_lufs)
            }
            (true, _, pct) => {
                let why = match (pct, p.dialogue_min_percent) {
                    (Some(pct), Some(m)) => format!("dialogue {pct:.0} % < {m:.0} %"),
                    _ => "no dialogue measured".to_string(),
                };
                let t = p.fallback_target_lufs.unwrap_or(p.target_lufs);
                out.push(Check::new(
                    "Dialogue gating",
                    Status::Info,
                    format!("{why}: full-programme loudness judged against {t:.1} LUFS"),
                ));
                (l.integrated_lufs, "integrated", t)
            }
            _ => (l.integrated_lufs, "integrated", p.target_lufs),
        };
    let name = if label == "dialogue-gated" {
        "Dialogue loudness"
    } else {
        "Integrated loudness"
    };
    match figure {
        Some(v) => {
            let d = v - target;
            let ok = d.abs() <= p.tolerance_lu + 1e-9;
            out.push(Check::new(
                name,
                if ok { Status::Pass } else { Status::Fail },
                format!(
                    "{v:.1} LUFS {label}, target {target:.1} ± {:.1} LU ({d:+.1} LU)",
                    p.tolerance_lu
                ),
            ));
        }
        None => out.push(Check::new(
            name,
            Status::Fail,
            format!("{label} loudness not measurable (programme below the -70 LUFS gate)"),
        )),
    }
    match l.true_peak_max_dbtp {
        Some(tp) => {
            let ok = tp <= p.true_peak_max_dbtp + 1e-9;
            out.push(Check::new(
                "True peak",
                if ok { Status::Pass } else { Status::Fail },
                format!("max {tp:.1} dBTP, ceiling {:.1} dBTP", p.true_peak_max_dbtp),
            ));
        }
        None => out.push(Check::new("True peak", Status::Pass, "silent (-inf dBTP)")),
    }
    if let Some(lra) = l.lra_lu {
        let lo = p.lra_min_lu.unwrap_or(f64::NEG_INFINITY);
        let hi = p.lra_max_lu.unwrap_or(f64::INFINITY);
        let (status, range) = match (p.lra_min_lu, p.lra_max_lu) {
            (None, None) => (Status::Info, String::new()),
            (a, b) => (
                if lra >= lo && lra <= hi {
                    Status::Pass
                } else {
                    Status::Warn
                },
                format!(
                    ", recommended {}-{} LU",
                    a.map_or("0".into(), |x| format!("{x:.0}")),
                    b.map_or("∞".into(), |x| format!("{x:.0}"))
                ),
            ),
        };
        out.push(Check::new(
            "Loudness range",
            status,
            format!("{lra:.1} LU{range}"),
        ));
    }
    if let Some(pct) = l.dialogue_percent {
        out.push(Check::new(
            "Dialogue share",
            Status::Info,
            format!(
                "dialogue in {pct:.0} % of the programme; dialogue-gated {} (stem-gated on the dialogue bus)",
                fmt_opt(l.dialogue_gated_lufs, "LUFS")
            ),
        ));
    }
    if let Some(n) = &l.normalization {
        out.push(Check::new(
            "Normalization",
            Status::Info,
            format!(
                "{} → {} ({:+.2} dB gain); true peak {} → {}",
                fmt_opt(n.before_lufs, "LUFS"),
                fmt_opt(n.after_lufs, "LUFS"),
                n.gain_db,
                fmt_opt(n.true_peak_before_dbtp, "dBTP"),
                fmt_opt(n.true_peak_after_dbtp, "dBTP"),
            ),
        ));
    }
    out
}

/// Serde for loudness series: two decimals, `-inf`/NaN as `null`.
mod lufs_series {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for &x in v {
            if x.is_finite() {
                seq.serialize_element(&Some(((x as f64) * 100.0).round() / 100.0))?;
            } else {
                seq.serialize_element(&None::<f64>)?;
            }
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let v: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(v.into_iter()
            .map(|x| x.map_or(f32::NEG_INFINITY, |x| x as f32))
            .collect())
    }
}

/// The CPU a render ran on: its architecture and the SIMD features that matter to
/// floating-point results (vector width, fused multiply-add), recorded in the QC
/// report and `--json` so that two prints can be compared knowing where each was made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuInfo {
    /// `std::env::consts::ARCH` (`x86_64`, `aarch64`, `wasm32`, ...).
    pub arch: String,
    /// The features detected at run time (x86: sse4.1, avx, avx2, fma, avx512f;
    /// aarch64: neon; wasm32: simd128 when compiled in).
    pub features: Vec<String>,
}

impl CpuInfo {
    /// The CPU this process runs on.
    pub fn detect() -> CpuInfo {
        #[allow(unused_mut)]
        let mut features: Vec<&str> = Vec::new();
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        {
            let found = [
                ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
                ("avx", std::arch::is_x86_feature_detected!("avx")),
                ("avx2", std::arch::is_x86_feature_detected!("avx2")),
                ("fma", std::arch::is_x86_feature_detected!("fma")),
                ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ];
            features.extend(found.iter().filter(|f| f.1).map(|f| f.0));
        }
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("neon") {
            features.push("neon");
        }
        #[cfg(target_arch = "wasm32")]
        if cfg!(target_feature = "simd128") {
            features.push("simd128");
        }
        CpuInfo {
            arch: std::env::consts::ARCH.to_string(),
            features: features.into_iter().map(str::to_string).collect(),
        }
    }

    /// `x86_64 (sse4.1, avx, avx2, fma)`.
    pub fn describe(&self) -> String {
        if self.features.is_empty() {
            self.arch.clone()
        } else {
            format!("{} ({})", self.arch, self.features.join(", "))
        }
    }
}
