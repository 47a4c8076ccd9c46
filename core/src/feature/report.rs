//! The feature's QC report: the feature's figures against the profile, every reel's
//! figures beside them, the reel breaks on the LP's loudness plot, the joins, every
//! reel's 2-pop check, and every file's SHA-256 (also in `SHA256SUMS` at the top of the
//! output folder).

use super::join::LongPlay;
use super::speed::SpeedLongPlay;
use super::{Feature, GainPlan, ReelRendered};
use crate::io::commit::Staged;
use crate::loudness::LoudnessSummary;
use crate::master::{Compliance, DeliveryProfile};
use crate::qc::html::escape;
use crate::qc::report::{QcReport, Status};
use crate::{Error, Result};
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One reel's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReelRow {
    pub reel: u32,
    pub session: PathBuf,
    /// Programme samples on the reel, and its length in seconds.
    pub programme: (u64, u64),
    pub duration_s: f64,
    /// The reel's programme as mixed (before the gain).
    pub measured: LoudnessSummary,
    pub gain_db: Option<f64>,
    /// The reel's own QC verdict (its report judges the reel alone).
    pub qc_status: String,
    pub qc_report: PathBuf,
    /// The 2-pop sync check of the reel's stems.
    pub two_pop: Status,
    pub two_pop_detail: String,
}

/// A file of the delivery with its hash.
#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    pub path: PathBuf,
    pub sha256: String,
}

/// The whole feature report (`feature/report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct FeatureReport {
    pub dubstage_version: String,
    pub title: String,
    pub feature_file: PathBuf,
    pub feature_sha256: String,
    pub profile: Option<String>,
    /// How the gain was decided, and why when per reel.
    pub gain_mode: super::GainMode,
    pub gain_reason: Option<String>,
    /// The feature's figures before the gain (merged reel histograms).
    pub feature_measured: LoudnessSummary,
    pub normalization: Option<super::NormalizationPlan>,
    /// The delivered printmaster LP, measured as written.
    pub delivered: Option<LoudnessSummary>,
    /// The delivered LP against the profile.
    pub compliance: Option<Compliance>,
    /// The dialogue-gated loudness of the delivery, from the reels' measurement and the
    /// gain (the LP file alone carries no dialogue bus).
    pub delivered_dialogue_lufs: Option<f64>,
    pub reels: Vec<ReelRow>,
    pub long_plays: Vec<LongPlay>,
    /// The long plays at other speeds (PAL, pull-down, pull-up), measured again.
    pub speed_versions: Vec<SpeedLongPlay>,
    /// Every delivered file (reels, long plays, speed versions) with its SHA-256; the
    /// plan and this report are listed in `SHA256SUMS` too.
    pub files: Vec<FileRow>,
    pub status: Status,
    pub notes: Vec<String>,
}

fn check_of(s: &LoudnessSummary, p: &DeliveryProfile) -> Compliance {
    crate::master::check(s, p)
}

/// Builds the report, and stages (for the caller's commit) `feature/report.{json,html}`
/// and `SHA256SUMS`: every file of the delivery, then the plan and the report.
pub fn build(
    f: &Feature,
    out: &Path,
    gp: &GainPlan,
    plan_sha256: &str,
    rendered: &[ReelRendered],
    lps: &[LongPlay],
    speeds: &[SpeedLongPlay],
) -> Result<(FeatureReport, Vec<Staged>)> {
    let mut notes = Vec::new();
    let mut reels = Vec::new();
    for (i, (p, rp)) in f.reels.iter().zip(&gp.reels).enumerate() {
        let rr = &rendered[i];
        let qc_path = f.reel_dir(out, i).join("qc").join("report.json");
        let (two_pop, two_pop_detail) = match std::fs::read_to_string(&qc_path)
            .ok()
            .and_then(|t| serde_json::from_str::<QcReport>(&t).ok())
        {
            Some(q) => match q.sync {
                Some(s) => (s.check.status, s.check.detail.clone()),
                None => (
                    Status::Info,
                    "no 2-pop expected (FFOA within 2 s of the start)".into(),
                ),
            },
            None => (
                Status::Warn,
                format!("{} could not be read", qc_path.display()),
            ),
        };
        reels.push(ReelRow {
            reel: p.reel,
            session: f.relative(&p.session_path),
            programme: rp.programme,
            duration_s: (rp.programme.1 - rp.programme.0) as f64 / p.sample_rate as f64,
            measured: rp.measured.clone(),
            gain_db: rp.normalization.as_ref().map(|n| n.gain_db),
            qc_status: rr.qc_status.clone(),
            qc_report: qc_path.strip_prefix(out).unwrap_or(&qc_path).to_path_buf(),
            two_pop,
            two_pop_detail,
        });
    }
    let pm = lps
        .iter()
        .find(|l| l.kind == crate::session::DeliverableKind::Printmaster && l.loudness.is_some());
    let delivered = pm.and_then(|l| l.loudness.clone());
    let compliance = match (&f.profile, &delivered) {
        (Some(p), Some(d)) => {
            // Judge the LP on the loudness the profile asks for: the delivered programme,
            // with the dialogue-gated figure carried over from the reels' measurement.
            let mut s = d.clone();
            if let (Some(dm), Some(n)) = (&gp.feature.dialogue, &gp.normalization) {
                let mut dd = dm.clone();
                let g = if f.gain == super::GainMode::Feature {
                    n.gain_db
                } else {
                    0.0
                };
                dd.gated_lufs = dd.gated_lufs.map(|v| v + g);
                dd.loudness_lufs = if dd.fallback {
                    s.integrated_lufs
                } else {
                    dd.gated_lufs
                };
                s.dialogue = Some(dd);
            }
            Some(check_of(&s, p))
        }
        _ => None,
    };
    let delivered_dialogue_lufs = match (&gp.feature.dialogue, &gp.normalization, f.gain) {
        (Some(d), Some(n), super::GainMode::Feature) => d.gated_lufs.map(|v| v + n.gain_db),
        _ => None,
    };
    if f.gain == super::GainMode::PerReel {
        notes.push(format!(
            "each reel was normalized on its own: {}",
            f.reason.as_deref().unwrap_or("")
        ));
    }
    if pm.is_none() {
        notes.push(
            "no interleaved printmaster long play: the feature was not measured as delivered"
                .into(),
        );
    }
    notes.push(
        "each reel's own QC report judges the reel alone against the profile; the feature is \
         judged here, on the long play"
            .into(),
    );
    // Every file: the reels' (from their render records) and the LPs'.
    let mut files = Vec::new();
    for r in rendered {
        for (_, fs) in &r.files {
            for (p, h) in fs {
                files.push(FileRow {
                    path: p.clone(),
                    sha256: h.clone(),
                });
            }
        }
    }
    for w in lps
        .iter()
        .flat_map(|l| &l.files)
        .chain(speeds.iter().flat_map(|s| &s.files))
    {
        files.push(FileRow {
            path: w.path.strip_prefix(out).unwrap_or(&w.path).to_path_buf(),
            sha256: w.sha256.clone(),
        });
    }
    let status = Status::worst(
        compliance
            .iter()
            .map(|c| if c.passed { Status::Pass } else { Status::Fail })
            .chain(reels.iter().map(|r| r.two_pop))
            .chain(lps.iter().flat_map(|l| &l.joins).map(|j| {
                if j.verified {
                    Status::Pass
                } else {
                    Status::Fail
                }
            }))
            .chain(
                speeds
                    .iter()
                    .filter_map(|s| s.compliance.as_ref())
                    .map(|c| if c.passed { Status::Pass } else { Status::Fail }),
            ),
    );
    let report = FeatureReport {
        dubstage_version: crate::VERSION.to_string(),
        title: f.title.clone(),
        feature_file: f
            .path
            .file_name()
            .map_or_else(|| f.path.clone(), PathBuf::from),
        feature_sha256: f.sha256.clone(),
        profile: gp.profile.clone(),
        gain_mode: f.gain,
        gain_reason: f.reason.clone(),
        feature_measured: gp.feature.clone(),
        normalization: gp.normalization.clone(),
        delivered,
        compliance,
        delivered_dialogue_lufs,
        reels,
        long_plays: lps.to_vec(),
        speed_versions: speeds.to_vec(),
        files,
        status,
        notes,
    };
    let dir = super::work_dir(out);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Invalid(e.to_string()))?;
    let page = html(&report);
    let mut sums = String::new();
    for r in &report.files {
        let _ = writeln!(sums, "{}  {}", r.sha256, r.path.display());
    }
    let rel = |p: &Path| p.strip_prefix(out).unwrap_or(p).display().to_string();
    let _ = writeln!(sums, "{plan_sha256}  {}", rel(&super::plan_path(out)));
    let mut staged = Vec::new();
    for (name, bytes) in [
        ("report.json", json.as_bytes()),
        ("report.html", page.as_bytes()),
    ] {
        let p = dir.join(name);
        let _ = writeln!(sums, "{}  {}", crate::sha256_hex(bytes), rel(&p));
        staged.push(Staged::write(&p, bytes)?);
    }
    staged.push(Staged::write(&out.join("SHA256SUMS"), sums.as_bytes())?);
    Ok((report, staged))
}

fn fmt(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_string(), |x| format!("{x:.1} {unit}"))
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Info => "info",
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

/// The report page: self-contained (inline CSS and SVG).
pub fn html(r: &FeatureReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{t} — feature QC</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1080px;margin:0 auto;padding:20px}}\
         table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd}}\
         .pass{{color:#0b5f27}}.fail{{color:#9b1409}}.warn{{color:#6e4b00}}.hash{{font-family:monospace;font-size:12px}}</style>\
         <h1>{t}: feature QC</h1><p class=\"{s}\"><b>{S}</b> — profile {p}, gain {g}</p>",
        t = escape(&r.title),
        s = status_text(r.status),
        S = status_text(r.status).to_uppercase(),
        p = escape(r.profile.as_deref().unwrap_or("none")),
        g = match r.gain_mode {
            super::GainMode::Feature => "one for the feature".to_string(),
            super::GainMode::PerReel => format!(
                "per reel ({})",
                escape(r.gain_reason.as_deref().unwrap_or(""))
            ),
        }
    );
    h.push_str("<h2>Feature</h2><table><tr><th></th><th>integrated</th><th>dialogue-gated</th><th>LRA</th><th>true peak</th><th>max short-term</th></tr>");
    let row = |h: &mut String, name: &str, s: &LoudnessSummary, dial: Option<f64>| {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            fmt(s.integrated_lufs, "LUFS"),
            fmt(dial, "LUFS"),
            fmt(s.loudness_range_lu, "LU"),
            fmt(s.true_peak_dbtp, "dBTP"),
            fmt(s.max_short_term_lufs, "LUFS")
        );
    };
    row(
        &mut h,
        "feature as mixed (merged reels)",
        &r.feature_measured,
        r.feature_measured
            .dialogue
            .as_ref()
            .and_then(|d| d.gated_lufs),
    );
    if let Some(d) = &r.delivered {
        row(
            &mut h,
            "long play as delivered",
            d,
            r.delivered_dialogue_lufs,
        );
    }
    for x in &r.reels {
        row(
            &mut h,
            &format!(
                "reel {} as mixed{}",
                x.reel,
                x.gain_db
                    .map_or(String::new(), |g| format!(" (gain {g:+.2} dB)"))
            ),
            &x.measured,
            x.measured.dialogue.as_ref().and_then(|d| d.gated_lufs),
        );
    }
    h.push_str("</table>");
    if let Some(c) = &r.compliance {
        let _ = write!(
            h,
            "<p class=\"{}\">Against {}: loudness {} (target {:.1} LUFS), true peak {}. {}</p>",
            if c.passed { "pass" } else { "fail" },
            escape(&c.profile),
            fmt(c.loudness_lufs, "LUFS"),
            c.target_lufs,
            fmt(c.true_peak_dbtp, "dBTP"),
            escape(&c.messages.join("; "))
        );
    }
    if let Some(lp) = r.long_plays.iter().find(|l| l.loudness.is_some()) {
        plot(&mut h, lp);
    }
    h.push_str("<h2>Reels</h2><table><tr><th>reel</th><th>programme</th><th>2-pop</th><th>reel QC</th></tr>");
    for x in &r.reels {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.2} s</td><td class=\"{}\">{}: {}</td><td>{} ({})</td></tr>",
            x.reel,
            x.duration_s,
            status_text(x.two_pop),
            status_text(x.two_pop),
            escape(&x.two_pop_detail),
            escape(&x.qc_status),
            escape(&x.qc_report.display().to_string())
        );
    }
    h.push_str("</table><h2>Long plays and joins</h2>");
    for l in &r.long_plays {
        let _ = write!(
            h,
            "<h3>{} ({} frames, from {})</h3><table><tr><th>reel</th><th>LP sample</th><th>LP TC</th><th>reel FFOA</th><th>reel LFOA</th><th>check</th></tr>",
            escape(&l.label),
            l.frames,
            escape(&l.start_tc)
        );
        for j in &l.joins {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                j.reel,
                j.lp_sample,
                escape(&j.lp_tc),
                escape(&j.reel_ffoa_tc),
                escape(&j.reel_lfoa_tc),
                if j.verified { "pass" } else { "fail" },
                escape(&j.detail)
            );
        }
        h.push_str("</table>");
    }
    if !r.speed_versions.is_empty() {
        h.push_str(
            "<h2>Speed versions</h2><table><tr><th>long play</th><th>version</th><th>frames</th>\
             <th>from</th><th>integrated</th><th>true peak</th><th>reel breaks (LP sample)</th>\
             <th>against the profile</th></tr>",
        );
        for v in &r.speed_versions {
            let (cls, verdict) = match &v.compliance {
                Some(c) if c.passed => ("pass", "pass".to_string()),
                Some(c) => ("fail", c.messages.join("; ")),
                None => ("", "—".to_string()),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"{cls}\">{}</td></tr>",
                escape(&v.label),
                escape(&v.version.describe()),
                v.frames,
                escape(&v.start_tc),
                fmt(v.loudness.as_ref().and_then(|l| l.integrated_lufs), "LUFS"),
                fmt(v.loudness.as_ref().and_then(|l| l.true_peak_dbtp), "dBTP"),
                escape(
                    &v.joins
                        .iter()
                        .map(|j| format!("R{} {} ({})", j.reel, j.lp_sample, j.lp_tc))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                escape(&verdict)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Files</h2><table>");
    for f in &r.files {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"hash\">{}</td></tr>",
            escape(&f.path.display().to_string()),
            escape(&f.sha256)
        );
    }
    h.push_str("</table><h2>Notes</h2><ul>");
    for n in &r.notes {
        let _ = write!(h, "<li>{}</li>", escape(n));
    }
    h.push_str("</ul></html>\n");
    h
}

/// The LP's short-term loudness (min/max per column), with the reel breaks.
fn plot(h: &mut String, lp: &LongPlay) {
    let Some(tl) = lp.loudness.as_ref().and_then(|s| s.timeline.as_ref()) else {
        return;
    };
    let (w, ht, lo, hi) = (1000.0, 220.0, -60.0, 0.0);
    let n = tl.short_term_lufs.len().max(1);
    let cols = 500usize.min(n);
    let y = |v: f64| ht - (v.clamp(lo, hi) - lo) / (hi - lo) * ht;
    let _ = write!(
        h,
        "<h2>Long play {}: short-term loudness, reel breaks</h2><svg viewBox=\"0 0 {w} {t}\" width=\"100%\" role=\"img\">\
         <rect width=\"{w}\" height=\"{ht}\" fill=\"#f7f8fa\"/>",
        escape(&lp.label),
        t = ht + 20.0
    );
    let mut path = String::new();
    for c in 0..cols {
        let a = c * n / cols;
        let b = ((c + 1) * n / cols).max(a + 1).min(n);
        let vals: Vec<f64> = tl.short_term_lufs[a..b].iter().flatten().copied().collect();
        if vals.is_empty() {
            continue;
        }
        let mx = vals.iter().copied().fold(f64::MIN, f64::max);
        let mn = vals.iter().copied().fold(f64::MAX, f64::min);
        let x = c as f64 * w / cols as f64;
        let _ = write!(path, "M{x:.1},{:.1}V{:.1}", y(mx), y(mn) + 0.5);
    }
    let _ = write!(h, "<path d=\"{path}\" stroke=\"#2b6cb0\" fill=\"none\"/>");
    let total = lp.frames.max(1) as f64;
    for j in &lp.joins {
        let x = j.lp_sample as f64 / total * w;
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"0\" y2=\"{ht}\" stroke=\"#c53030\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#c53030\">R{} {}</text>",
            x + 3.0,
            ht + 14.0,
            j.reel,
            escape(&j.lp_tc)
        );
    }
    h.push_str("</svg>");
}
