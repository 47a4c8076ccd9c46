//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! network) that a producer can read: the verdict first, then what needs
//! attention, then each deliverable's figures and plots, sync, the null test,
//! cues and the file manifest.
//!
//! Every piece of text from the report goes through [`escape`]. Loudness
//! timelines are reduced to one min/max pair per plot column, so a two-hour
//! reel gives a page of a few hundred kilobytes.
//!
//! One concern in one file (over 800 lines): the page, its sections as functions in the
//! order they appear, and the one escaping rule they all share.

use super::report::{
    Check, DeliverableQc, Finding, LoudnessFigures, ProfileInfo, QcReport, Status, Timelines,
};
use crate::timecode::{FrameRate, Timecode};
use std::fmt::Write;

/// Escapes `s` for HTML text and attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Findings listed per deliverable in the page (all are in report.json).
const MAX_FINDING_ROWS: usize = 300;
/// Plot width in SVG user units (pixels at 100 %).
const PLOT_W: f64 = 1000.0;

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1c2127;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 2px}
h2{font-size:18px;margin:0 0 10px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h3{font-size:14px;margin:18px 0 6px;color:#3a4350;text-transform:uppercase;letter-spacing:.04em}
.sub{color:#59636e;margin:0 0 14px}
.card{background:#fff;border:1px solid #dce0e5;border-radius:8px;padding:16px 20px;margin:14px 0}
.verdict{border-radius:8px;padding:14px 20px;margin:14px 0;display:flex;gap:16px;align-items:center;font-size:16px}
.verdict b{font-size:22px;letter-spacing:.06em}
.verdict.pass{background:#dcf5e3;border:1px solid #9fd8ae;color:#0d5424}
.verdict.warn{background:#fff3cd;border:1px solid #f0d27a;color:#6b4a00}
.verdict.fail{background:#ffe0dc;border:1px solid #f3a59c;color:#8f1409}
.pill{display:inline-block;min-width:46px;text-align:center;padding:1px 9px;border-radius:999px;font-weight:700;font-size:11.5px;letter-spacing:.05em;text-transform:uppercase;white-space:nowrap}
.pill.pass{background:#d3f2dc;color:#0b5f27}.pill.warn{background:#ffebb0;color:#6e4b00}
.pill.fail{background:#ffd3ce;color:#9b1409}.pill.info{background:#e4e8ee;color:#3b4452}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaedf1;vertical-align:top}
th{font-size:11.5px;color:#59636e;font-weight:600;text-transform:uppercase;letter-spacing:.04em;border-bottom:1px solid #cfd5dc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td{background:#fff5f4}tr.warn td{background:#fffbea}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.hash{word-break:break-all;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;color:#3a4350}
.meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:3px 14px;margin:0}
.meta dt{color:#59636e}.meta dd{margin:0}
ul.attn{margin:6px 0 0;padding-left:0;list-style:none}
ul.attn li{padding:4px 0;border-bottom:1px solid #f0f2f5}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:8px 0}
.fig{background:#f7f8fa;border-radius:6px;padding:7px 10px}
.fig .k{font-size:11px;color:#59636e;text-transform:uppercase;letter-spacing:.04em}
.fig .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
svg{display:block;width:100%;height:auto;margin:6px 0}
.note{color:#59636e;font-size:12.5px}
.more{color:#59636e;font-style:italic}
.r-fail{color:#a3160b;font-weight:600}.r-warn{color:#6e4b00;font-weight:600}
.tw{overflow-x:auto}.nw{white-space:nowrap}
table.kv th{width:11em}
@media (max-width:760px){.meta{grid-template-columns:max-content 1fr}main{padding:12px}}
@media print{body{background:#fff}.card{break-inside:avoid;border-color:#bbb}}
"#;

/// Renders the whole page.
pub fn render(r: &QcReport) -> String {
    let axis = TimeAxis::new(r);
    let mut h = String::with_capacity(64 * 1024);
    let title = if r.session.title.is_empty() {
        "Untitled".to_string()
    } else {
        r.session.title.clone()
    };
    let reel = if r.session.reel.is_empty() {
        String::new()
    } else {
        format!(" — Reel {}", r.session.reel)
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>QC {} — {}{}</title><style>{CSS}</style></head><body><main>\n",
        escape(r.status.as_str()).to_uppercase(),
        escape(&title),
        escape(&reel)
    );
    let _ = write!(
        h,
        "<h1>{}{}</h1><p class=\"sub\">Printmaster QC report · dubstage {} · profile {}</p>",
        escape(&title),
        escape(&reel),
        escape(&r.dubstage_version),
        escape(&r.profile.name)
    );
    verdict(&mut h, r);
    attention(&mut h, r);
    header_meta(&mut h, r);
    summary_table(&mut h, r);
    for (i, d) in r.deliverables.iter().enumerate() {
        deliverable(&mut h, r, d, i, &axis);
    }
    sync_section(&mut h, r);
    folds_section(&mut h, r);
    conversions_section(&mut h, r);
    null_section(&mut h, r);
    cues_section(&mut h, r);
    manifest_section(&mut h, r);
    notes_section(&mut h, r);
    h.push_str("</main></body></html>\n");
    h
}

/// Whether the report has a delivery target to draw (a profile that targets
/// 0 LUFS ± 0 LU is the "no profile" placeholder).
fn judged(p: &ProfileInfo) -> bool {
    !(p.target_lufs == 0.0 && p.tolerance_lu == 0.0)
}

fn pill(s: Status) -> String {
    format!("<span class=\"pill {0}\">{0}</span>", s.as_str())
}

fn fmt_v(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.1} {unit}"),
        Some(_) | None => "—".into(),
    }
}

fn verdict(h: &mut String, r: &QcReport) {
    let s = r.status.max(Status::Pass);
    let n = r.deliverables.len();
    let failing = r
        .deliverables
        .iter()
        .filter(|d| d.status == Status::Fail)
        .count();
    let warning = r
        .deliverables
        .iter()
        .filter(|d| d.status == Status::Warn)
        .count();
    let mut parts = vec![format!("{n} deliverable{}", if n == 1 { "" } else { "s" })];
    if failing > 0 {
        parts.push(format!("{failing} fail"));
    }
    if warning > 0 {
        parts.push(format!("{warning} with warnings"));
    }
    if let Some(sy) = &r.sync {
        parts.push(format!("sync {}", sy.check.status));
    }
    if let Some(nt) = &r.null_test {
        parts.push(format!("null test {}", nt.status));
    }
    let word = match s {
        Status::Fail => "FAIL",
        Status::Warn => "PASS WITH WARNINGS",
        _ => "PASS",
    };
    let _ = writeln!(
        h,
        "<div class=\"verdict {}\"><b>{word}</b><span>{}</span></div>",
        s.as_str(),
        escape(&parts.join(" · "))
    );
}

/// Every failing or warning item, in one list, first thing on the page.
fn attention(h: &mut String, r: &QcReport) {
    let mut items: Vec<(Status, String, String)> = Vec::new();
    for d in &r.deliverables {
        for c in &d.checks {
            if c.status >= Status::Warn {
                items.push((
                    c.status,
                    format!("{} · {}", d.name, c.name),
                    c.detail.clone(),
                ));
            }
        }
    }
    if let Some(sy) = r.sync.as_ref().filter(|s| s.check.status >= Status::Warn) {
        items.push((
            sy.check.status,
            "Sync · 2-pop".into(),
            sy.check.detail.clone(),
        ));
    }
    if let Some(nt) = r.null_test.as_ref().filter(|n| n.status >= Status::Warn) {
        items.push((
            nt.status,
            format!("Null test · {}", nt.name),
            nt.detail.clone(),
        ));
    }
    if items.is_empty() {
        return;
    }
    items.sort_by_key(|a| std::cmp::Reverse(a.0));
    h.push_str("<section class=\"card\"><h2>Needs attention</h2><ul class=\"attn\">");
    for (s, what, detail) in items {
        let _ = write!(
            h,
            "<li>{} <b>{}</b> — {}</li>",
            pill(s),
            escape(&what),
            escape(&detail)
        );
    }
    h.push_str("</ul></section>\n");
}

fn header_meta(h: &mut String, r: &QcReport) {
    let s = &r.session;
    let b = &r.backend;
    let p = &r.profile;
    let cpu = b.cpu.as_ref().map(|c| c.describe()).unwrap_or_default();
    let backend = [
        b.kind.as_str(),
        b.name.as_str(),
        b.api.as_str(),
        b.device_type.as_str(),
        b.driver.as_str(),
        cpu.as_str(),
    ]
    .iter()
    .filter(|x| !x.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" · ");
    let mut target = if !judged(p) {
        "not judged (no delivery profile)".to_string()
    } else {
        format!(
            "{:.1} LUFS ± {:.1} LU{}, true peak ≤ {:.1} dBTP",
            p.target_lufs,
            p.tolerance_lu,
            if p.dialogue_gated {
                " dialogue-gated"
            } else {
                " integrated"
            },
            p.true_peak_max_dbtp
        )
    };
    if let (Some(pct), Some(fb)) = (p.dialogue_min_percent, p.fallback_target_lufs) {
        let _ = write!(
            target,
            " (below {pct:.0} % dialogue: {fb:.1} LUFS integrated)"
        );
    }
    if p.lra_min_lu.is_some() || p.lra_max_lu.is_some() {
        let _ = write!(
            target,
            ", LRA {}–{} LU",
            p.lra_min_lu.map_or("0".into(), |x| format!("{x:.0}")),
            p.lra_max_lu.map_or("∞".into(), |x| format!("{x:.0}"))
        );
    }
    h.push_str("<section class=\"card\"><h2>Session</h2><dl class=\"meta\">");
    let rows: [(&str, String, bool); 10] = [
        ("Title", s.title.clone(), false),
        ("Reel", s.reel.clone(), false),
        ("Session file", s.path.clone(), true),
        ("Frame rate", format!("{} fps", s.frame_rate), false),
        ("Session SHA-256", s.sha256.clone(), true),
        (
            "Sample rate",
            format!("{} kHz", s.sample_rate as f64 / 1000.0),
            false,
        ),
        ("dubstage", r.dubstage_version.clone(), false),
        ("Start TC", s.start_tc.clone(), true),
        ("Backend", backend, false),
        ("FFOA", s.ffoa_tc.clone(), true),
    ];
    for (k, v, mono) in rows {
        let _ = write!(
            h,
            "<dt>{}</dt><dd{}>{}</dd>",
            escape(k),
            if mono { " class=\"hash\"" } else { "" },
            escape(&v)
        );
    }
    let _ = write!(
        h,
        "<dt>Profile</dt><dd>{}</dd><dt>Target</dt><dd>{}</dd></dl>",
        escape(&p.name),
        escape(&target)
    );
    if !p.notes.is_empty() {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(&p.notes));
    }
    h.push_str("</section>\n");
}

fn summary_table(h: &mut String, r: &QcReport) {
    h.push_str(
        "<section class=\"card\"><h2>Deliverables</h2><div class=\"tw\"><table><thead><tr><th>Deliverable</th>\
         <th>Layout</th><th class=\"num\">Integrated</th><th class=\"num\">Dialogue</th>\
         <th class=\"num\">True peak</th><th class=\"num\">LRA</th><th>Status</th><th>Reasons</th></tr></thead><tbody>",
    );
    for (i, d) in r.deliverables.iter().enumerate() {
        let l = &d.loudness;
        // Names only, worst first: the details are under "Needs attention".
        let mut bad: Vec<&Check> = d
            .checks
            .iter()
            .filter(|c| c.status >= Status::Warn)
            .collect();
        bad.sort_by_key(|c| std::cmp::Reverse(c.status));
        let reasons: Vec<String> = bad
            .iter()
            .map(|c| {
                format!(
                    "<span class=\"r-{}\" title=\"{}\">{}</span>",
                    c.status.as_str(),
                    escape(&c.detail),
                    escape(&c.name)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr class=\"{}\"><td><a href=\"#d{i}\">{}</a></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            d.status.as_str(),
            escape(&d.name),
            escape(&d.layout),
            fmt_v(l.integrated_lufs, "LUFS"),
            fmt_v(l.dialogue_gated_lufs, "LUFS"),
            fmt_v(l.true_peak_max_dbtp, "dBTP"),
            fmt_v(l.lra_lu, "LU"),
            pill(d.status),
            if reasons.is_empty() {
                "all checks pass".to_string()
            } else {
                reasons.join(", ")
            }
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn deliverable(h: &mut String, r: &QcReport, d: &DeliverableQc, i: usize, axis: &TimeAxis) {
    let _ = write!(
        h,
        "<section class=\"card\" id=\"d{i}\"><h2>{} {}</h2>\
         <div class=\"note\"><span class=\"mono\">{}</span> · {} · {} · {} frames · {} · SHA-256 <span class=\"hash\">{}</span></div>",
        escape(&d.name),
        pill(d.status),
        escape(&d.path),
        escape(&d.layout),
        escape(&d.format),
        d.frames,
        escape(&fmt_duration(d.duration_s)),
        escape(&d.sha256)
    );
    figures(h, &d.loudness);
    h.push_str("<h3>Checks</h3>");
    checks_table(h, &d.checks);
    if let Some(m) = &d.matrix {
        matrix_figures(h, m);
    }
    h.push_str("<h3>Loudness over time</h3>");
    loudness_svg(h, r, d, axis);
    if !d.loudness.true_peak_dbtp.is_empty() {
        h.push_str("<h3>True peak per channel</h3>");
        peak_svg(h, r, d);
    }
    findings_table(h, d, axis);
    h.push_str("</section>\n");
}

fn figures(h: &mut String, l: &LoudnessFigures) {
    let mut figs: Vec<(&str, String)> = vec![
        ("Integrated", fmt_v(l.integrated_lufs, "LUFS")),
        ("Dialogue-gated", fmt_v(l.dialogue_gated_lufs, "LUFS")),
        (
            "Dialogue share",
            l.dialogue_percent
                .map_or("—".into(), |p| format!("{p:.0} %")),
        ),
        ("Loudness range", fmt_v(l.lra_lu, "LU")),
        ("True peak max", fmt_v(l.true_peak_max_dbtp, "dBTP")),
        ("Sample peak max", fmt_v(l.sample_peak_max_dbfs, "dBFS")),
        ("Max momentary", fmt_v(l.max_momentary_lufs, "LUFS")),
        ("Max short-term", fmt_v(l.max_short_term_lufs, "LUFS")),
    ];
    if let Some(n) = &l.normalization {
        figs.push((
            "Before → after",
            format!(
                "{} → {}",
                fmt_v(n.before_lufs, ""),
                fmt_v(n.after_lufs, "LUFS")
            ),
        ));
        figs.push(("Gain applied", format!("{:+.2} dB", n.gain_db)));
        if let Some(lim) = n.limiter_max_reduction_db {
            figs.push(("Limiter max GR", format!("{lim:.1} dB")));
        }
    }
    fig_grid(h, figs);
}

/// The matrix fold-back figures of an Lt/Rt deliverable.
fn matrix_figures(h: &mut String, m: &crate::qc::MatrixFigures) {
    let db = |v: Option<f64>| v.map_or("not judged".to_string(), |x| format!("{x:+.1} dB"));
    let _ = write!(
        h,
        "<h3>Matrix fold-back (passive decode)</h3><p class=\"note\">C' = 0.707·(Lt + Rt), \
         S' = 0.707·(Lt − Rt) through the decoder's 90° network, compared with the {} printmaster. \
         Recovery must be at least {:+.1} dB; the decode may differ from the printmaster's 4:2:4 matrix \
         by at most {:.1} dB; {:.0} s windows, content below {:.0} dBFS not judged.</p>",
        escape(&m.source_layout),
        m.min_recovery_db,
        m.max_error_db,
        m.window_s,
        m.floor_dbfs
    );
    let figs = [
        (
            "Centre recovered",
            format!(
                "{}{}",
                db(m.centre_recovery_db),
                if m.centre_inverted { " inverted" } else { "" }
            ),
        ),
        (
            "Surround recovered",
            format!(
                "{}{}",
                db(m.surround_recovery_db),
                if m.surround_inverted { " inverted" } else { "" }
            ),
        ),
        ("Centre in C + 0.7(L+R)", db(m.centre_source_db)),
        ("Surround mono sum", db(m.surround_source_db)),
        ("C' decode error", db(m.centre_error_db)),
        ("S' decode error", db(m.surround_error_db)),
        ("Windows failed", m.windows_failed.to_string()),
    ];
    fig_grid(h, figs);
}

fn checks_table(h: &mut String, checks: &[Check]) {
    if checks.is_empty() {
        h.push_str("<p class=\"note\">No checks recorded.</p>");
        return;
    }
    h.push_str("<div class=\"tw\"><table><thead><tr><th style=\"width:7em\">Status</th><th style=\"width:14em\">Check</th><th>Result</th></tr></thead><tbody>");
    for c in checks {
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.status.as_str(),
            pill(c.status),
            escape(&c.name),
            escape(&c.detail)
        );
    }
    h.push_str("</tbody></table></div>");
}

fn findings_table(h: &mut String, d: &DeliverableQc, axis: &TimeAxis) {
    let _ = write!(h, "<h3>Findings ({})</h3>", d.findings.len());
    if d.findings.is_empty() {
        h.push_str("<p class=\"note\">No defects found.</p>");
        return;
    }
    h.push_str("<div class=\"tw\"><table><thead><tr><th style=\"width:6em\"></th><th>Timecode</th><th class=\"num\">Duration</th><th>What</th><th>Channel</th><th>Detail</th></tr></thead><tbody>");
    for f in d.findings.iter().take(MAX_FINDING_ROWS) {
        let dur = axis.seconds(f.end_sample.saturating_sub(f.start_sample));
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td>{}</td></tr>",
            f.severity.as_str(),
            pill(f.severity),
            escape(&f.timecode),
            escape(&fmt_short_duration(dur)),
            escape(f.kind.label()),
            escape(f.channel.as_deref().unwrap_or("all")),
            escape(&f.detail)
        );
    }
    h.push_str("</tbody></table></div>");
    if d.findings.len() > MAX_FINDING_ROWS {
        let _ = write!(
            h,
            "<p class=\"more\">{} more findings are listed in report.json.</p>",
            d.findings.len() - MAX_FINDING_ROWS
        );
    }
}

fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "—".into();
    }
    let t = s.round() as u64;
    if t >= 3600 {
        format!("{}h {:02}m {:02}s", t / 3600, (t / 60) % 60, t % 60)
    } else if t >= 60 {
        format!("{}m {:02}s", t / 60, t % 60)
    } else {
        format!("{s:.2} s")
    }
}

fn fmt_short_duration(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        fmt_duration(s)
    }
}

/// Seconds from a deliverable's first sample to timecode labels.
struct TimeAxis {
    sample_rate: u32,
    tc: Option<(FrameRate, i64)>,
}

impl TimeAxis {
    fn new(r: &QcReport) -> TimeAxis {
        let sr = r.session.sample_rate.max(1);
        let tc = r
            .session
            .frame_rate
            .parse::<FrameRate>()
            .ok()
            .and_then(|rate| {
                Timecode::parse(&r.session.start_tc, rate)
                    .ok()
                    .map(|t| (rate, t.to_samples(sr)))
            });
        TimeAxis {
            sample_rate: sr,
            tc,
        }
    }

    fn seconds(&self, samples: u64) -> f64 {
        samples as f64 / self.sample_rate as f64
    }

    /// Axis ticks over `span` seconds: (seconds from the first sample, label),
    /// at round timecodes (whole timecode seconds, minutes, hours) when the
    /// session's timecode is known, else at round elapsed times.
    fn ticks(&self, span: f64, max_ticks: f64) -> Vec<(f64, String)> {
        let step = tick_step(span, max_ticks);
        let sr = self.sample_rate as f64;
        let mut out = Vec::new();
        let Some((rate, start)) = self.tc else {
            let mut t = 0.0;
            while t <= span + 1e-9 {
                let s = t.round() as u64;
                out.push((
                    t,
                    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60),
                ));
                t += step;
            }
            return out;
        };
        let step = step as i64;
        let nominal = rate.nominal() as u32;
        let tc_at = |secs: i64| Timecode {
            hours: (secs / 3600 % 24) as u32,
            minutes: (secs / 60 % 60) as u32,
            seconds: (secs % 60) as u32,
            frames: 0,
            rate,
        };
        let per_day = Timecode {
            hours: 23,
            minutes: 59,
            seconds: 59,
            frames: nominal - 1,
            rate,
        }
        .to_frames()
            + 1;
        let t0 = Timecode::from_samples(start, rate, self.sample_rate);
        let first_frame = rate.samples_to_frames(start, self.sample_rate);
        let day0 = first_frame.div_euclid(per_day);
        let digits =
            (t0.hours * 3600 + t0.minutes * 60 + t0.seconds) as i64 + i64::from(t0.frames > 0);
        let mut secs = (digits + step - 1).div_euclid(step) * step;
        loop {
            let tc = tc_at(secs);
            let frames = tc.to_frames() + (day0 + secs / 86_400) * per_day;
            let t = (rate.frames_to_samples(frames, self.sample_rate) - start) as f64 / sr;
            if t > span + 1e-9 || out.len() > 100 {
                break;
            }
            if t >= 0.0 {
                out.push((t, tc.to_string()));
            }
            secs += step;
        }
        out
    }
}

/// A "nice" tick step (seconds) giving at most about `max_ticks` ticks over `span`.
fn tick_step(span: f64, max_ticks: f64) -> f64 {
    const STEPS: [f64; 16] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        14400.0, 43200.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|&s| span / s <= max_ticks)
        .unwrap_or(86400.0)
}

/// One plot column: x (user units) and the min/max of the finite values there.
type Column = (f64, Option<(f32, f32)>);

/// Reduces `v` (value i at time `(i + 1) * hop`) to at most one min/max pair per
/// unit of plot width; non-finite values leave gaps.
fn columns(v: &[f32], hop: f64, span: f64, x0: f64, width: f64) -> Vec<Column> {
    let n = v.len();
    if n == 0 || span <= 0.0 {
        return Vec::new();
    }
    let x_of = |t: f64| x0 + (t / span).clamp(0.0, 1.0) * width;
    let cols = width.floor().max(1.0) as usize;
    if n <= cols {
        return v
            .iter()
            .enumerate()
            .map(|(i, &y)| {
                let x = x_of((i + 1) as f64 * hop);
                (x, y.is_finite().then_some((y, y)))
            })
            .collect();
    }
    let mut out: Vec<Column> = Vec::with_capacity(cols);
    let mut cur_col = usize::MAX;
    for (i, &y) in v.iter().enumerate() {
        let t = (i + 1) as f64 * hop;
        let c = (((t / span) * cols as f64) as usize).min(cols - 1);
        if c != cur_col {
            out.push((x0 + (c as f64 + 0.5) / cols as f64 * width, None));
            cur_col = c;
        }
        if y.is_finite() {
            let last = &mut out.last_mut().expect("pushed above").1;
            *last = Some(match *last {
                Some((a, b)) => (a.min(y), b.max(y)),
                None => (y, y),
            });
        }
    }
    out
}

/// An SVG path of filled min/max envelopes, one sub-path per run of columns
/// with values.
fn envelope_path(cols: &[Column], y_of: &dyn Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut i = 0;
    while i < cols.len() {
        if cols[i].1.is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < cols.len() && cols[j].1.is_some() {
            j += 1;
        }
        let seg = &cols[i..j];
        for (k, (x, mm)) in seg.iter().enumerate() {
            let (_, hi) = mm.expect("segment has values");
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if k == 0 { "M" } else { "L" },
                x,
                y_of(hi as f64)
            );
        }
        for (x, mm) in seg.iter().rev() {
            let (lo, _) = mm.expect("segment has values");
            let _ = write!(d, "L{:.1} {:.1}", x, y_of(lo as f64));
        }
        d.push('Z');
        i = j;
    }
    d
}

fn severity_colour(s: Status) -> &'static str {
    match s {
        Status::Fail => "#d7261b",
        Status::Warn => "#e0a100",
        Status::Pass => "#2e9e4f",
        Status::Info => "#8a94a3",
    }
}

fn loudness_svg(h: &mut String, r: &QcReport, d: &DeliverableQc, axis: &TimeAxis) {
    let tl: &Timelines = &d.timelines;
    let hop = if tl.hop_s > 0.0 { tl.hop_s } else { 0.1 };
    let n = tl.momentary.len().max(tl.short_term.len());
    let span = d.duration_s.max(n as f64 * hop);
    if n == 0 || span <= 0.0 {
        h.push_str("<p class=\"note\">No loudness timeline recorded.</p>");
        return;
    }
    let p = &r.profile;
    let (ml, mr, mt, mb) = (56.0, 14.0, 32.0, 40.0);
    let (w, ht) = (PLOT_W, 300.0);
    let (pw, ph) = (w - ml - mr, ht - mt - mb);
    // Vertical range: 5 LU grid, 45 LU tall, top above the loudest value and the band.
    let vmax = tl
        .momentary
        .iter()
        .chain(&tl.short_term)
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
    let has_band = judged(p);
    let band_top = p.target_lufs + p.tolerance_lu;
    let top_raw = match (vmax.is_finite(), has_band) {
        (true, true) => vmax.max(band_top),
        (true, false) => vmax,
        (false, true) => band_top,
        (false, false) => -20.0,
    };
    let y_top = ((top_raw + 2.0) / 5.0).ceil() * 5.0;
    let y_bot = y_top - 45.0;
    let y_of = |v: f64| mt + (y_top - v.clamp(y_bot, y_top)) / (y_top - y_bot) * ph;
    let x_of = |t: f64| ml + (t / span).clamp(0.0, 1.0) * pw;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"Loudness of {} over time\" font-family=\"system-ui,sans-serif\" font-size=\"11\">",
        escape(&d.name)
    );
    let _ = write!(
        h,
        "<rect x=\"{ml}\" y=\"{mt}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fbfcfd\" stroke=\"#cfd5dc\"/>"
    );
    // Target band.
    let (b0, b1) = (y_of(band_top), y_of(p.target_lufs - p.tolerance_lu));
    if has_band {
        let _ = write!(
            h,
            "<rect x=\"{ml}\" y=\"{b0:.1}\" width=\"{pw}\" height=\"{:.1}\" fill=\"#2e9e4f\" fill-opacity=\"0.13\"/>\
         <line x1=\"{ml}\" x2=\"{:.1}\" y1=\"{2:.1}\" y2=\"{2:.1}\" stroke=\"#2e9e4f\" stroke-dasharray=\"5 4\" stroke-width=\"1\"/>",
            (b1 - b0).max(1.0),
            ml + pw,
            y_of(p.target_lufs)
        );
    }
    // Horizontal grid and LUFS labels.
    let mut v = y_bot;
    while v <= y_top + 1e-9 {
        let y = y_of(v);
        let _ = write!(
            h,
            "<line x1=\"{ml}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e7ec\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#59636e\">{v:.0}</text>",
            ml + pw,
            ml - 6.0,
            y + 3.5
        );
        v += 5.0;
    }
    let _ = write!(
        h,
        "<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {0:.1})\" text-anchor=\"middle\" fill=\"#59636e\">LUFS</text>",
        mt + ph / 2.0
    );
    // Timecode axis: ticks at round timecodes.
    for (t, label) in axis.ticks(span, 8.0) {
        let x = x_of(t);
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{mt}\" y2=\"{:.1}\" stroke=\"#e9edf1\"/>\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#8a94a3\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#3a4350\" font-family=\"ui-monospace,Menlo,Consolas,monospace\">{}</text>",
            mt + ph,
            mt + ph,
            mt + ph + 4.0,
            mt + ph + 16.0,
            escape(&label)
        );
    }
    let _ = write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#59636e\">timecode →</text>",
        ml + pw,
        ht - 6.0
    );
    // Momentary (light envelope) and short-term (dark envelope).
    let mcols = columns(&tl.momentary, hop, span, ml, pw);
    let scols = columns(&tl.short_term, hop, span, ml, pw);
    let _ = write!(
        h,
        "<path d=\"{}\" fill=\"#7aa7e0\" fill-opacity=\"0.45\" stroke=\"#7aa7e0\" stroke-opacity=\"0.6\" stroke-width=\"0.6\" stroke-linejoin=\"round\"/>",
        envelope_path(&mcols, &y_of)
    );
    let _ = write!(
        h,
        "<path d=\"{}\" fill=\"#1f4e96\" fill-opacity=\"0.8\" stroke=\"#1f4e96\" stroke-width=\"1.4\" stroke-linejoin=\"round\"/>",
        envelope_path(&scols, &y_of)
    );
    // Findings strip above the plot.
    let _ = write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#59636e\">findings</text>",
        ml - 6.0,
        mt - 8.0
    );
    for f in d.findings.iter().filter(|f| f.severity >= Status::Warn) {
        finding_marker(h, f, axis, span, &x_of, mt, ph);
    }
    // Legend, under the axis on the left.
    let _ = write!(
        h,
        "<g transform=\"translate({ml},{:.1})\" fill=\"#3a4350\">\
         <rect x=\"0\" y=\"-9\" width=\"14\" height=\"9\" fill=\"#7aa7e0\" fill-opacity=\"0.6\"/><text x=\"18\" y=\"0\">momentary</text>\
         <rect x=\"92\" y=\"-6\" width=\"14\" height=\"3\" fill=\"#1f4e96\"/><text x=\"110\" y=\"0\">short-term</text>\
         {}\
         <g transform=\"translate({},0)\"><rect x=\"0\" y=\"-9\" width=\"6\" height=\"9\" fill=\"#d7261b\"/><text x=\"10\" y=\"0\">fail</text>\
         <rect x=\"40\" y=\"-9\" width=\"6\" height=\"9\" fill=\"#e0a100\"/><text x=\"50\" y=\"0\">warn (findings)</text></g></g>",
        ht - 6.0,
        if has_band {
            format!(
                "<rect x=\"182\" y=\"-9\" width=\"14\" height=\"9\" fill=\"#2e9e4f\" fill-opacity=\"0.3\"/><text x=\"200\" y=\"0\">target {}</text>",
                escape(&format!("{:.0} ± {:.0} LU", p.target_lufs, p.tolerance_lu))
            )
        } else {
            String::new()
        },
        if has_band { 316 } else { 182 }
    );
    h.push_str("</svg>");
}

fn finding_marker(
    h: &mut String,
    f: &Finding,
    axis: &TimeAxis,
    span: f64,
    x_of: &dyn Fn(f64) -> f64,
    mt: f64,
    ph: f64,
) {
    let t0 = axis.seconds(f.start_sample);
    let t1 = axis.seconds(f.end_sample).max(t0);
    if t0 > span {
        return;
    }
    let (x0, x1) = (x_of(t0), x_of(t1));
    let wdt = (x1 - x0).max(3.0);
    let col = severity_colour(f.severity);
    let tip = format!(
        "{} {} {}: {}",
        f.timecode,
        f.kind.label(),
        f.channel.as_deref().unwrap_or("all channels"),
        f.detail
    );
    let _ = write!(
        h,
        "<g><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{wdt:.1}\" height=\"10\" rx=\"2\" fill=\"{col}\"/>\
         <rect x=\"{1:.1}\" y=\"{mt}\" width=\"{wdt:.1}\" height=\"{ph}\" fill=\"{col}\" fill-opacity=\"0.12\"/></g>",
        escape(&tip),
        x0 - if wdt > x1 - x0 { 1.5 } else { 0.0 },
        mt - 14.0 + 1.0,
    );
}

fn peak_svg(h: &mut String, r: &QcReport, d: &DeliverableQc) {
    let l = &d.loudness;
    let has_ceiling = judged(&r.profile);
    let ceiling = if has_ceiling {
        r.profile.true_peak_max_dbtp
    } else {
        f64::INFINITY
    };
    let n = l.true_peak_dbtp.len();
    let (ml, mr, mt, mb, row) = (56.0, 110.0, 24.0, 30.0, 22.0);
    let w = PLOT_W;
    let ht = mt + mb + row * n as f64;
    let pw = w - ml - mr;
    let (lo, hi) = (-40.0, 3.0);
    let x_of = |v: f64| ml + (v.clamp(lo, hi) - lo) / (hi - lo) * pw;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"True peak per channel of {}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">",
        escape(&d.name)
    );
    let mut v = lo;
    while v <= hi + 1e-9 {
        let x = x_of(v);
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{mt}\" y2=\"{:.1}\" stroke=\"#e3e7ec\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">{v:.0}</text>",
            ht - mb,
            ht - mb + 14.0
        );
        v += 5.0;
    }
    let _ = write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">dBTP (bar) · dBFS sample peak (tick)</text>",
        ml + pw / 2.0,
        ht - 3.0
    );
    for (i, tp) in l.true_peak_dbtp.iter().enumerate() {
        let y = mt + row * i as f64 + 4.0;
        let label = d
            .channels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("ch {}", i + 1));
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1c2127\" font-weight=\"600\">{}</text>",
            ml - 8.0,
            y + 11.0,
            escape(&label)
        );
        match tp {
            Some(tp) if tp.is_finite() => {
                let over = *tp > ceiling + 1e-9;
                let col = match (over, has_ceiling) {
                    (true, _) => "#d7261b",
                    (false, true) => "#3f8f5a",
                    (false, false) => "#5b7fa8",
                };
                let x1 = x_of(*tp);
                let _ = write!(
                    h,
                    "<rect x=\"{ml}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"14\" rx=\"2\" fill=\"{col}\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\" font-weight=\"600\">{tp:.1} dBTP{}</text>",
                    (x1 - ml).max(1.0),
                    ml + pw + 8.0,
                    y + 11.0,
                    if over { "#b3170d" } else { "#1c2127" },
                    if over { " over" } else { "" }
                );
            }
            _ => {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#59636e\">silent</text>",
                    ml + pw + 8.0,
                    y + 11.0
                );
            }
        }
        if let Some(sp) = l
            .sample_peak_dbfs
            .get(i)
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
        {
            let x = x_of(sp);
            let _ = write!(
                h,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1c2127\" stroke-width=\"2\"/>",
                y - 2.0,
                y + 16.0
            );
        }
    }
    if !has_ceiling {
        h.push_str("</svg>");
        return;
    }
    let xc = x_of(ceiling);
    let _ = write!(
        h,
        "<line x1=\"{xc:.1}\" x2=\"{xc:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d7261b\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d7261b\" text-anchor=\"middle\">ceiling {ceiling:.1} dBTP</text></svg>",
        mt - 4.0,
        ht - mb,
        xc,
        mt - 9.0
    );
}

fn sync_section(h: &mut String, r: &QcReport) {
    let Some(s) = &r.sync else {
        return;
    };
    let _ = write!(
        h,
        "<section class=\"card\"><h2>Sync: 2-pop {}</h2><p>{}</p>\
         <p class=\"note\">Every stem's 2-pop must start at FFOA − 2 s = <span class=\"mono\">{}</span> \
         (sample {}), tolerance ±{} samples.</p>",
        pill(s.check.status),
        escape(&s.check.detail),
        escape(&s.expected_tc),
        s.expected_sample,
        s.tolerance_samples
    );
    h.push_str(
        "<div class=\"tw\"><table><thead><tr><th>Stem</th><th>Pop at</th><th class=\"num\">Sample</th>\
         <th class=\"num\">Offset (samples)</th><th class=\"num\">Offset (ms)</th><th class=\"num\">Level</th><th>Status</th><th>Detail</th></tr></thead><tbody>",
    );
    for row in &s.stems {
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            row.status.as_str(),
            escape(&row.stem),
            escape(row.pop_tc.as_deref().unwrap_or("—")),
            row.pop_sample.map_or("—".into(), |v| v.to_string()),
            row.offset_samples.map_or("—".into(), |v| format!("{v:+}")),
            row.offset_ms.map_or("—".into(), |v| format!("{v:+.2} ms")),
            fmt_v(row.level_dbfs, "dBFS"),
            pill(row.status),
            escape(&row.detail)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn folds_section(h: &mut String, r: &QcReport) {
    if r.folds.is_empty() {
        return;
    }
    h.push_str(
        "<section class=\"card\"><h2>Channel folds</h2><p class=\"note\">Channels a layout \
         lacks, and where they went: the channels the mix has go where they are (gain 1). \
         Coefficients are linear gains (0.7071 = −3 dB).</p>",
    );
    for f in &r.folds {
        let _ = write!(
            h,
            "<h3>{}: {} → {}</h3><div class=\"tw\"><table><thead><tr><th>From</th><th>To</th>\
             <th class=\"num\">Gain</th><th class=\"num\">dB</th><th>Source</th></tr></thead><tbody>",
            escape(&f.what),
            escape(&f.from),
            escape(&f.to)
        );
        for row in &f.rows {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\">{:.4}</td>\
                 <td class=\"num\">{:+.1}</td><td>{}</td></tr>",
                escape(&row.input),
                escape(&row.output),
                row.gain,
                row.gain_db,
                escape(&row.source)
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>\n");
}

fn conversions_section(h: &mut String, r: &QcReport) {
    if r.conversions.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<section class=\"card\"><h2>Converted sources ({})</h2><p class=\"note\">Sources at \
         another sample rate than the reel's, or played at another speed (the pitch follows \
         the speed, as in a film transfer), converted as they played by {}.</p>\
         <div class=\"tw\"><table><thead><tr><th>What</th><th>File</th><th class=\"num\">From</th>\
         <th class=\"num\">To</th><th>Speed</th></tr></thead><tbody>",
        r.conversions.len(),
        escape(&r.conversions[0].resampler)
    );
    for c in &r.conversions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{} Hz</td>\
             <td class=\"num\">{} Hz</td><td>{}</td></tr>",
            escape(&c.what),
            escape(&c.file),
            c.from_hz,
            c.to_hz,
            escape(c.speed.as_deref().unwrap_or("unchanged"))
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn null_section(h: &mut String, r: &QcReport) {
    let Some(n) = &r.null_test else {
        return;
    };
    let db = |v: Option<f64>| v.map_or("−∞ (bit-exact)".into(), |d| format!("{d:.1} dBFS"));
    let _ = write!(
        h,
        "<section class=\"card\"><h2>Null test {}</h2><p>{}</p><div class=\"tw\"><table class=\"kv\"><tbody>\
         <tr><th>Residual</th><td>{}</td></tr>\
         <tr><th>Peak</th><td class=\"mono\">{}</td></tr>\
         <tr><th>RMS</th><td class=\"mono\">{}</td></tr>\
         <tr><th>Largest at</th><td class=\"mono\">{}</td></tr>\
         <tr><th>Limit</th><td class=\"mono\">peak below {:.0} dBFS</td></tr>\
         <tr><th>Compared</th><td class=\"mono\">{} frames</td></tr></tbody></table></div></section>",
        pill(n.status),
        escape(&n.detail),
        escape(&n.name),
        escape(&db(n.max_abs_dbfs)),
        escape(&db(n.rms_dbfs)),
        escape(&match (&n.max_tc, &n.max_channel) {
            (Some(t), Some(c)) => format!("{t} ({c})"),
            _ => "—".into(),
        }),
        n.threshold_dbfs,
        n.frames
    );
}

fn cues_section(h: &mut String, r: &QcReport) {
    if r.cues.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<section class=\"card\"><h2>Cues ({})</h2><div class=\"tw\"><table><thead><tr><th>#</th><th>Type</th><th>In</th><th>Out</th>\
         <th>Character</th><th>Line / description</th><th>Reason</th><th>Notes</th></tr></thead><tbody>",
        r.cues.len()
    );
    for c in &r.cues {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.number),
            escape(&c.kind),
            escape(&c.tc_in),
            escape(&c.tc_out),
            escape(&c.character),
            escape(&c.text),
            escape(&c.reason),
            escape(&c.notes)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn manifest_section(h: &mut String, r: &QcReport) {
    h.push_str(
        "<section class=\"card\"><h2>Manifest</h2><div class=\"tw\"><table><thead><tr><th>File</th>\
         <th class=\"num\">Size</th><th>SHA-256</th></tr></thead><tbody>",
    );
    if r.manifest.is_empty() {
        for d in &r.deliverables {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"num\">—</td><td class=\"hash\">{}</td></tr>",
                escape(&d.path),
                escape(&d.sha256)
            );
        }
    } else {
        for m in &r.manifest {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"hash\">{}</td></tr>",
                escape(&m.path),
                escape(&fmt_bytes(m.bytes)),
                escape(&m.sha256)
            );
        }
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn fmt_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < U.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[u])
    }
}

fn notes_section(h: &mut String, r: &QcReport) {
    let t = &r.thresholds;
    let _ = write!(
        h,
        "<section class=\"card note\"><h2>Notes</h2><ul>\
         <li>Loudness per ITU-R BS.1770-4 and EBU R128: momentary = 400 ms window, short-term = 3 s window, \
         integrated with the -70 LUFS absolute and -10 LU relative gates; loudness range per EBU Tech 3342; \
         true peak with {}× oversampling per BS.1770-4 Annex 2.</li>\
         <li><b>Dialogue-gated loudness is stem-gated</b>: dubstage measures the programme only where its own \
         dialogue bus is active. It is not Dolby Dialogue Intelligence, whose figure can differ.</li>\
         <li>Clipping = {}+ consecutive samples at or above {:.4} dBFS; drop-out = digital silence over {:.0} ms inside a \
         channel's programme that cuts the sound off without a fade (still above {:.0} dBFS in its last 0.25 ms); phase warning = correlation below {:+.1} for over {:.1} s; LFE warning = more than {:.0} dB of \
         a 1 s window's LFE energy above {:.0} Hz; DC warning = programme mean above {:.0} dBFS.</li>\
         <li>Matrix fold-back (Lt/Rt): the passive decode must return the printmaster's centre and \
         surround at no less than {:+.1} dB and match its 4:2:4 matrix to {:.0} dB.</li>\
         <li>Timecodes are the frame containing the sample, at {} fps from start {}.</li>\
         <li>Generated by dubstage {}. The machine-readable twin of this page is report.json.</li></ul></section>",
        if r.session.sample_rate >= 96_000 {
            2
        } else {
            4
        },
        t.clip_min_run,
        20.0 * (t.clip_level as f64).log10(),
        t.dropout_min_s * 1000.0,
        t.dropout_edge_dbfs,
        t.phase_threshold,
        t.phase_min_s,
        t.lfe_ratio_limit_db,
        t.lfe_cutoff_hz,
        t.dc_limit_dbfs,
        t.matrix_min_recovery_db,
        t.matrix_max_error_db,
        escape(&r.session.frame_rate),
        escape(&r.session.start_tc),
        escape(&r.dubstage_version)
    );
}

/// A grid of labelled figures.
fn fig_grid(h: &mut String, figs: impl IntoIterator<Item = (&'static str, String)>) {
    h.push_str("<div class=\"figs\">");
    for (k, v) in figs {
        let _ = write!(
            h,
            "<div class=\"fig\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
            escape(k),
            escape(&v)
        );
    }
    h.push_str("</div>");
}
