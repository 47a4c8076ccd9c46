//! What a render did: the summary, the normalization result and the checksum manifest.

use super::DeliverableResult;
use crate::backend::BackendInfo;
use crate::master::Normalization;
use serde::Serialize;
use std::path::PathBuf;

/// What a render did.
#[derive(Debug, Clone, Serialize)]
pub struct RenderSummary {
    pub title: String,
    pub reel: u32,
    pub session: PathBuf,
    pub session_sha256: String,
    pub sample_rate: u32,
    pub frame_rate: String,
    pub start_timecode: String,
    pub frames: u64,
    pub duration_s: f64,
    pub backend: BackendInfo,
    pub deliverables: Vec<DeliverableResult>,
    /// The speed versions of the deliverables (`[[speed_version]]`), in `<out>/<tag>/`.
    pub speed_versions: Vec<crate::render_report::SpeedVersionResult>,
    /// The checksum file (`sha256sum -c` format) beside the deliverables.
    pub manifest: PathBuf,
    /// `qc/report.html` (with `qc/report.json` beside it); `None` when QC was off.
    pub qc_report: Option<PathBuf>,
    /// Overall QC status: pass, warn, fail (or "not checked" when QC was off).
    pub qc_status: String,
    /// Deliverables that miss the delivery profile (rendered anyway under `on_failure = "flag"`).
    pub qc_problems: Vec<String>,
    /// What loudness normalization did, when the session names a profile.
    pub normalization: Option<NormalizationResult>,
    /// Every failed or warned QC check, one line each (the verdict's reasons).
    pub qc_issues: Vec<crate::render_report::QcLine>,
    /// The printmaster's loudness checks against the delivery profile (pass or not),
    /// or its figures when there is no profile.
    pub qc_loudness: Vec<crate::render_report::QcLine>,
    /// Every source converted as it played (another sample rate, a speed change):
    /// what, file, from and to rate, speed, resampler.
    pub conversions: Vec<crate::qc::Conversion>,
    /// The CPU the render ran on (its features can change float results on some
    /// backends; the CPU reference gives the same bytes everywhere).
    pub cpu: crate::backend::CpuInfo,
    pub wall_s: f64,
    pub x_realtime: f64,
}

/// Converts a linear peak to dBFS (`None` for zero).
pub fn peak_db(p: f32) -> Option<f64> {
    (p > 0.0).then(|| 20.0 * (p as f64).log10())
}

/// What normalization did, for the summary and the report.
#[derive(Debug, Clone, Serialize)]
pub struct NormalizationResult {
    /// The profile's decision from the pass-1 measurement.
    pub plan: Normalization,
    /// The limiter's statistics, when it ran.
    pub limiter: Option<crate::master::LimiterStats>,
}

/// Name of the checksum manifest written beside the deliverables.
pub const MANIFEST: &str = "SHA256SUMS";

/// The text of `SHA256SUMS` (the `sha256sum -c` format: hash, two spaces, the file's
/// path relative to the output folder: `25fps/..._25fps.wav` for a speed version).
pub(super) fn manifest_text<'a>(
    out_dir: &std::path::Path,
    results: impl IntoIterator<Item = &'a DeliverableResult>,
) -> String {
    let mut text = String::new();
    for f in results.into_iter().flat_map(|d| &d.files) {
        let name = match f.path.strip_prefix(out_dir) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        text.push_str(&format!("{}  {}\n", f.sha256, name));
    }
    text
}
