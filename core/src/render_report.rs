//! Builds the QC report of a render from what the pipeline measured, and defines the
//! per-deliverable results the engine hands it ([`DeliverableResult`]).

use crate::backend::BackendInfo;
use crate::io::{OutputFormat, WrittenFile};
use crate::loudness::LoudnessSummary;
use crate::master::{GatingMode, LimiterStats, Normalization as NormPlan};
use crate::qc::{
    BackendReport, Check, DeliverableQc, LoudnessFigures, ManifestEntry, Normalization, NullResult,
    PopResult, ProfileInfo, QcDetectors, QcReport, SessionInfo, Status, TimeBase, Timelines,
    loudness_checks, sync_report,
};
use crate::session::{DeliverableKind, Plan};
use serde::Serialize;

/// One rendered deliverable.
#[derive(Debug, Clone, Serialize)]
pub struct DeliverableResult {
    pub name: String,
    pub kind: DeliverableKind,
    /// The bus of a DME stem.
    pub bus: Option<String>,
    pub layout: String,
    pub channels: Vec<String>,
    pub format: OutputFormat,
    pub frames: u64,
    pub duration_s: f64,
    /// One file, or one per channel for multi-mono.
    pub files: Vec<WrittenFile>,
    /// Peak per channel in dBFS (after quantization), `None` for digital silence.
    pub peak_dbfs: Vec<Option<f64>>,
    /// BS.1770-4 figures of the file as written.
    pub loudness: LoudnessBrief,
}

/// The headline loudness figures of a deliverable (the full set is in the QC report).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoudnessBrief {
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_short_term_lufs: Option<f64>,
    pub dialogue_gated_lufs: Option<f64>,
    pub dialogue_percent: Option<f64>,
}

impl From<&LoudnessSummary> for LoudnessBrief {
    fn from(s: &LoudnessSummary) -> Self {
        LoudnessBrief {
            integrated_lufs: s.integrated_lufs,
            loudness_range_lu: s.loudness_range_lu,
            true_peak_dbtp: s.true_peak_dbtp,
            max_momentary_lufs: s.max_momentary_lufs,
            max_short_term_lufs: s.max_short_term_lufs,
            dialogue_gated_lufs: s.dialogue.as_ref().and_then(|d| d.gated_lufs),
            dialogue_percent: s.dialogue.as_ref().map(|d| d.dialogue_percent),
        }
    }
}

/// A speed version of a render's deliverables (`[[speed_version]]`), as the engine
/// wrote it in `<out>/<tag>/`.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedVersionResult {
    /// What the version is: speed, pitch, the rates, the tag.
    pub version: crate::resample::version::SpeedVersion,
    /// Its start, a timecode of the new rate (frames keep their numbers).
    pub start_tc: String,
    /// The converted deliverables (named `<name>_<tag>`).
    pub deliverables: Vec<DeliverableResult>,
    /// The converted printmaster's index in `deliverables` and its loudness as
    /// written (QC renders).
    #[serde(skip)]
    pub printmaster: Option<(usize, LoudnessSummary)>,
}

/// Everything the report is made from.
pub struct ReportInputs<'a> {
    pub plan: &'a Plan,
    pub backend: &'a BackendInfo,
    pub results: &'a [DeliverableResult],
    pub summaries: &'a [LoudnessSummary],
    pub watches: Vec<QcDetectors>,
    pub null: NullResult,
    pub pops: Vec<PopResult>,
    /// The printmaster's pass-1 measurement, when the render normalized.
    pub before: Option<&'a LoudnessSummary>,
    pub normalization: Option<&'a NormPlan>,
    pub limiter: Option<LimiterStats>,
    /// The spotting list's cues.
    pub cues: Vec<crate::qc::CueRow>,
    /// The speed versions of the deliverables.
    pub speeds: &'a [SpeedVersionResult],
}

// The report model (qc) sits below the backend layer, so the conversion lives here.
impl From<&BackendInfo> for BackendReport {
    fn from(b: &BackendInfo) -> Self {
        BackendReport {
            kind: b.kind.clone(),
            name: b.name.clone(),
            api: b.api.clone(),
            device_type: b.device_type.clone(),
            driver: b.driver.clone(),
            cpu: None,
        }
    }
}

fn profile_info(plan: &Plan) -> ProfileInfo {
    match &plan.profile {
        Some(p) => ProfileInfo {
            name: p.name.clone(),
            target_lufs: p.target_lufs,
            tolerance_lu: p.tolerance_lu,
            true_peak_max_dbtp: p.true_peak_ceiling_dbtp,
            dialogue_gated: p.gating == GatingMode::Dialogue,
            dialogue_min_percent: p.fallback.map(|f| f.below_percent),
            fallback_target_lufs: p.fallback.map(|f| f.target_lufs),
            lra_min_lu: p.loudness_range_lu.map(|r| r.0),
            lra_max_lu: p.loudness_range_lu.map(|r| r.1),
            notes: if p.gating == GatingMode::Dialogue {
                "Dialogue loudness is gated on the session's dialogue stems (stem-gated), \
                 not on Dolby's proprietary Dialogue Intelligence speech detector."
                    .into()
            } else {
                String::new()
            },
        },
        None => ProfileInfo {
            name: "none".into(),
            notes: "No delivery profile in the session: loudness is measured and reported, \
                    not judged or normalized."
                .into(),
            ..Default::default()
        },
    }
}

/// The cues of the session's spotting list, checked against the reel.
pub fn cues(plan: &Plan) -> crate::Result<Vec<crate::qc::CueRow>> {
    let Some(path) = &plan.spotting else {
        return Ok(Vec::new());
    };
    let mut markers = crate::spot::read_list(path)?;
    crate::spot::number_cues(&mut markers, plan.reel);
    let reel = crate::spot::SpotReel {
        reel: plan.reel,
        rate: plan.frame_rate,
        sample_rate: plan.sample_rate,
        start: plan.start_tc,
        length: plan.length,
    };
    let name = path.display().to_string();
    let cues = crate::spot::validate(&markers, &reel, &name)?;
    Ok(cues
        .into_iter()
        .map(|c| {
            let m = c.marker;
            crate::qc::CueRow {
                number: m.cue,
                kind: m.kind.name().to_string(),
                tc_out: if m.tc_out.is_empty() {
                    m.tc_in.clone()
                } else {
                    m.tc_out
                },
                tc_in: m.tc_in,
                character: m.character,
                text: m.line,
                reason: m.reason,
                notes: m.note,
            }
        })
        .collect())
}

/// The report.
pub fn build_report(i: ReportInputs<'_>) -> QcReport {
    let plan = i.plan;
    let profile = profile_info(plan);
    let time = TimeBase::new(plan.sample_rate, plan.start_tc);
    let mut deliverables = Vec::new();
    for ((r, s), mut det) in i.results.iter().zip(i.summaries).zip(i.watches) {
        let matrix = det.take_matrix().map(|m| m.finish());
        let (mut checks, mut findings) = det.finish_with_checks();
        if let Some(m) = &matrix {
            checks.push(m.check.clone());
            findings.extend(m.findings.iter().cloned());
            findings.sort_by_key(|f| f.start_sample);
        }
        let mut loud = LoudnessFigures::from(s);
        let judged = plan.profile.is_some() && r.kind == DeliverableKind::Printmaster;
        if judged {
            if let (Some(b), Some(n)) = (i.before, i.normalization) {
                let after = if n.measured_gating == GatingMode::Dialogue && !n.used_fallback {
                    loud.dialogue_gated_lufs
                } else {
                    loud.integrated_lufs
                };
                loud.normalization = Some(Normalization {
                    before_lufs: Some(n.measured_lufs),
                    after_lufs: after,
                    gain_db: n.gain_db,
                    true_peak_before_dbtp: b.true_peak_dbtp,
                    true_peak_after_dbtp: loud.true_peak_max_dbtp,
                    limiter_max_reduction_db: i.limiter.map(|l| l.max_gain_reduction_db),
                });
            }
            let mut l = loudness_checks(&loud, &profile);
            l.append(&mut checks);
            checks = l;
        } else {
            checks.insert(
                0,
                Check::new(
                    "Loudness",
                    Status::Info,
                    format!(
                        "integrated {}, LRA {}, true peak {}{}",
                        fmt(s.integrated_lufs, "LUFS"),
                        fmt(s.loudness_range_lu, "LU"),
                        fmt(loud.true_peak_max_dbtp, "dBTP"),
                        if plan.profile.is_some() {
                            " (the profile judges the printmaster; this deliverable carries the same gain)"
                        } else {
                            " (no delivery profile)"
                        }
                    ),
                ),
            );
        }
        let mut d = deliverable_qc(r, loud, s.timeline.as_ref(), checks);
        d.findings = findings;
        d.matrix = matrix.map(|m| m.figures);
        deliverables.push(d);
    }
    let sync = plan
        .two_pop_sample()
        .filter(|_| !i.pops.is_empty())
        .map(|at| sync_report(&i.pops, &time, at, &plan.qc));
    // The speed versions: their files (with SHA-256), the converted printmaster judged
    // against the profile; the detectors ran on the originals.
    for sv in i.speeds {
        for (k, r) in sv.deliverables.iter().enumerate() {
            let pm = sv
                .printmaster
                .as_ref()
                .filter(|(p, _)| *p == k)
                .map(|(_, s)| s);
            let loud = pm.map(LoudnessFigures::from).unwrap_or_default();
            let mut checks = vec![Check::new(
                "Speed version",
                Status::Info,
                format!(
                    "{}, starting {}; {} frames; the defect detectors ran on the original",
                    sv.version.describe(),
                    sv.start_tc,
                    r.frames
                ),
            )];
            match pm {
                Some(_) if plan.profile.is_some() => {
                    let mut l = loudness_checks(&loud, &profile);
                    l.append(&mut checks);
                    checks = l;
                }
                Some(s) => checks.insert(
                    0,
                    Check::new(
                        "Loudness",
                        Status::Info,
                        format!(
                            "integrated {}, LRA {}, true peak {} (measured as converted; no \
                             delivery profile)",
                            fmt(s.integrated_lufs, "LUFS"),
                            fmt(s.loudness_range_lu, "LU"),
                            fmt(loud.true_peak_max_dbtp, "dBTP"),
                        ),
                    ),
                ),
                None => {}
            }
            deliverables.push(deliverable_qc(
                r,
                loud,
                pm.and_then(|s| s.timeline.as_ref()),
                checks,
            ));
        }
    }
    let manifest = i
        .results
        .iter()
        .chain(i.speeds.iter().flat_map(|s| &s.deliverables))
        .flat_map(|r| &r.files)
        .map(|f| ManifestEntry {
            path: f.path.display().to_string(),
            bytes: f.bytes,
            sha256: f.sha256.clone(),
        })
        .collect();
    let mut report = QcReport {
        dubstage_version: crate::VERSION.to_string(),
        session: SessionInfo {
            path: plan.session_path.display().to_string(),
            sha256: plan.session_sha256.clone(),
            title: plan.title.clone(),
            reel: plan.reel.to_string(),
            frame_rate: plan.frame_rate.name().to_string(),
            start_tc: plan.start_tc.to_string(),
            ffoa_tc: plan.ffoa_tc.to_string(),
            sample_rate: plan.sample_rate,
        },
        backend: BackendReport::from(i.backend),
        profile,
        deliverables,
        sync,
        null_test: Some(i.null),
        cues: i.cues,
        manifest,
        folds: fold_reports(plan),
        conversions: conversions(plan),
        thresholds: plan.qc.clone(),
        status: Status::Pass,
    };
    report.finalize();
    report
}

/// Every source the render converts as it plays: each converted clip of a track,
/// each stem at another sample rate or speed (played as one converted clip), in
/// session order.
pub fn conversions(plan: &Plan) -> Vec<crate::qc::Conversion> {
    plan.stems
        .iter()
        .flat_map(|s| &s.clips)
        .filter(|c| c.ratio != (1, 1))
        .map(|c| {
            let mut files: Vec<String> = Vec::new();
            for ch in &c.channels {
                let f = ch.path.display().to_string();
                if !files.contains(&f) {
                    files.push(f);
                }
            }
            crate::qc::Conversion {
                what: c.label.clone(),
                file: files.join(", "),
                from_hz: c.source_rate,
                to_hz: plan.sample_rate,
                speed: (!c.speed.is_unity()).then(|| c.speed.label()),
                resampler: crate::resample::RESAMPLER.to_string(),
            }
        })
        .collect()
}

/// A deliverable's entry in the report: its files, figures and `checks` (a clipping
/// check added when the writer had to clip); no findings, no matrix figures.
fn deliverable_qc(
    r: &DeliverableResult,
    loudness: LoudnessFigures,
    timeline: Option<&crate::loudness::Timeline>,
    mut checks: Vec<Check>,
) -> DeliverableQc {
    let clipped: u64 = r.files.iter().map(|f| f.clipped).sum();
    if clipped > 0 {
        checks.push(Check::new(
            "Clipping at quantization",
            Status::Fail,
            format!("{clipped} samples exceeded full scale and were clipped when written"),
        ));
    }
    DeliverableQc {
        name: r.name.clone(),
        path: r.files[0].path.display().to_string(),
        layout: r.layout.clone(),
        channels: r.channels.clone(),
        format: format!("{:?}", r.format),
        frames: r.frames,
        duration_s: r.duration_s,
        sha256: r
            .files
            .iter()
            .map(|f| f.sha256.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        loudness,
        timelines: timeline.map(Timelines::from).unwrap_or_default(),
        checks,
        findings: Vec::new(),
        matrix: None,
        status: Status::Pass,
    }
}

/// The folds of the render: every stem whose layout has channels the mix lacks, and
/// every deliverable folded from the mix (Lt/Rt has its own section).
fn fold_reports(plan: &Plan) -> Vec<crate::qc::report::FoldReport> {
    use crate::qc::report::{FoldReport, FoldRow};
    let report = |what: String, from: crate::Layout, to: crate::Layout| {
        let rows: Vec<FoldRow> = crate::mix::downmix::fold_terms(from, to)
            .into_iter()
            .map(|t| FoldRow {
                input: t.input.label().to_string(),
                output: t.output.label().to_string(),
                gain: t.gain,
                gain_db: 20.0 * t.gain.log10(),
                source: t
                    .sources
                    .iter()
                    .map(|s| s.cite())
                    .collect::<Vec<_>>()
                    .join("; then "),
            })
            .collect();
        (!rows.is_empty()).then(|| FoldReport {
            what,
            from: from.name().to_string(),
            to: to.name().to_string(),
            rows,
        })
    };
    let stems = plan
        .stems
        .iter()
        .filter_map(|s| report(format!("stem '{}'", s.id), s.layout, plan.layout));
    let outs = plan
        .deliverables
        .iter()
        .filter(|d| d.kind != DeliverableKind::Ltrt)
        .filter_map(|d| report(format!("deliverable {}", d.name), plan.layout, d.layout));
    stems.chain(outs).collect()
}

fn fmt(v: Option<f64>, unit: &str) -> String {
    v.map_or(format!("-inf {unit}"), |x| format!("{x:.1} {unit}"))
}

/// One line of a render's verdict: a check of a deliverable, or of the whole reel
/// (the 2-pop sync, the M&E null test).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QcLine {
    /// Verdict of the check.
    pub status: Status,
    /// The deliverable's name, or `2-pop sync` / `M&E null test`.
    pub scope: String,
    /// The check's name ("True peak", "Clipping", ...).
    pub check: String,
    /// The figure and the requirement, in one sentence.
    pub detail: String,
    /// Where: the first finding of the check (its timecode), when it has findings.
    pub timecode: Option<String>,
}

/// The lines of a render's verdict from its QC report: every failed or warned check,
/// one line each with its figure and the timecode of its first finding; and the
/// printmaster's loudness against the delivery profile (its figures when the session
/// has no profile).
pub fn verdict_lines(r: &QcReport) -> (Vec<QcLine>, Vec<QcLine>) {
    let bad = |s: Status| s >= Status::Warn;
    let mut issues = Vec::new();
    for d in &r.deliverables {
        for c in d.checks.iter().filter(|c| bad(c.status)) {
            let first = d.findings.iter().find(|f| f.kind.label() == c.name);
            issues.push(QcLine {
                status: c.status,
                scope: d.name.clone(),
                check: c.name.clone(),
                detail: c.detail.clone(),
                timecode: first.map(|f| f.timecode.clone()),
            });
        }
        // A finding that judges without a check of its own still says why.
        for f in d.findings.iter().filter(|f| bad(f.severity)) {
            let label = f.kind.label();
            let known = d.checks.iter().any(|c| c.name == label)
                || issues
                    .iter()
                    .any(|l: &QcLine| l.scope == d.name && l.check == label);
            if !known {
                let more = d.findings.iter().filter(|g| g.kind == f.kind).count() - 1;
                issues.push(QcLine {
                    status: f.severity,
                    scope: d.name.clone(),
                    check: label.to_string(),
                    detail: if more > 0 {
                        format!("{} (and {more} more)", f.detail)
                    } else {
                        f.detail.clone()
                    },
                    timecode: Some(f.timecode.clone()),
                });
            }
        }
    }
    if let Some(s) = r.sync.as_ref().filter(|s| bad(s.check.status)) {
        issues.push(QcLine {
            status: s.check.status,
            scope: "2-pop sync".into(),
            check: s.check.name.clone(),
            detail: s.check.detail.clone(),
            timecode: Some(s.expected_tc.clone()),
        });
    }
    if let Some(n) = r.null_test.as_ref().filter(|n| bad(n.status)) {
        issues.push(QcLine {
            status: n.status,
            scope: "M&E null test".into(),
            check: n.name.clone(),
            detail: n.detail.clone(),
            timecode: n.max_tc.clone(),
        });
    }
    const LOUDNESS: [&str; 5] = [
        "Dialogue loudness",
        "Integrated loudness",
        "True peak",
        "Loudness range",
        "Normalization",
    ];
    let line = |d: &DeliverableQc, c: &Check| QcLine {
        status: c.status,
        scope: d.name.clone(),
        check: c.name.clone(),
        detail: c.detail.clone(),
        timecode: None,
    };
    let mut loudness: Vec<QcLine> = r
        .deliverables
        .iter()
        .flat_map(|d| {
            d.checks
                .iter()
                .filter(|c| LOUDNESS.contains(&c.name.as_str()))
                .map(move |c| line(d, c))
        })
        .collect();
    if loudness.is_empty() {
        // No profile: the printmaster's (the first deliverable's) figures.
        if let Some(d) = r.deliverables.first() {
            loudness.extend(
                d.checks
                    .iter()
                    .filter(|c| c.name == "Loudness")
                    .map(|c| line(d, c)),
            );
        }
    }
    (issues, loudness)
}
