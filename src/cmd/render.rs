//! `dubstage render SESSION`.

use super::progress::Progress;
use dubstage_core::pipeline::{self, RenderOptions, RenderSummary};
use dubstage_core::session::Session;
use dubstage_core::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The session file (TOML).
    pub session: PathBuf,
    /// Output folder (default: the session's folder / "print").
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar, no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Worker threads (default: all cores). Output is identical for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Frames per processing block (default: what the backend prefers).
    #[arg(long, hide = true)]
    pub block_frames: Option<usize>,
    /// A plain print: no loudness metering, no QC detectors, no qc/ report (files, peaks,
    /// SHA-256 and the manifest only). Refused when the session names a delivery profile.
    #[arg(long)]
    pub no_qc: bool,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

/// Sets the global thread pool size (once per process).
pub fn set_threads(n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        if n == 0 {
            return Err(Error::Invalid("--threads must be at least 1".into()));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| Error::Invalid(format!("--threads {n}: {e}")))?;
    }
    Ok(())
}

/// Exit status of a render that delivered its print but whose QC failed (e.g. a
/// delivery profile missed under `on_failure = "flag"`).
pub const EXIT_QC_FAILED: u8 = 3;

/// The exit status a render's outcome calls for: 0, or [`EXIT_QC_FAILED`].
pub fn exit_status(s: &RenderSummary) -> u8 {
    if s.qc_status == "fail" || !s.qc_problems.is_empty() {
        EXIT_QC_FAILED
    } else {
        0
    }
}

/// Loads, resolves and renders a session, printing the summary. SIGINT and SIGTERM
/// stop the render cleanly ([`super::signals`]). `threads` sizes the thread pool (after
/// the backend is chosen: a GPU may need the environment set first).
pub fn render_session(
    session: &Path,
    out: &Path,
    json: bool,
    quiet: bool,
    block_frames: Option<usize>,
    qc: bool,
    backend: &super::backend::BackendArgs,
    threads: Option<usize>,
) -> Result<RenderSummary> {
    let s = Session::load(session)?;
    let asked = match &s.file.output.backend {
        Some(b) => {
            super::backend::check_choice(b.get_ref())
                .map_err(|e| s.err_at(b.span(), format!("[output] backend: {e}")))?;
            Some(b.get_ref().trim().to_string())
        }
        None => None,
    };
    let mut plan = s.resolve()?;
    dubstage_core::pipeline::room_tone::learn(&mut plan)?;
    let mut backend = backend.open_for(asked.as_deref(), quiet || json)?;
    set_threads(threads)?;
    let bar = Progress::new(plan.length, "rendering", quiet || json);
    let opts = RenderOptions {
        out_dir: out.to_path_buf(),
        block_frames: block_frames.unwrap_or_else(|| backend.preferred_block_frames()),
        qc,
        cancel: Some(super::signals::install()),
    };
    let one_pass = plan.length;
    let progress = |d: u64, t: u64| {
        let label = if t > one_pass && d < one_pass {
            "measuring"
        } else {
            "rendering"
        };
        bar.set(d, t, label);
    };
    let summary = pipeline::render(&plan, backend.as_mut(), &opts, Some(&progress));
    bar.finish();
    let summary = summary?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serializable")
        );
    } else if !quiet {
        print_summary(&summary);
    }
    Ok(summary)
}

fn fmt_db(v: Option<f64>) -> String {
    v.map_or("-inf".to_string(), |x| format!("{x:.1}"))
}

/// The text summary.
pub fn print_summary(s: &RenderSummary) {
    println!(
        "{} reel {}: {} frames ({:.1} s) at {} Hz, {} fps, from {}",
        s.title, s.reel, s.frames, s.duration_s, s.sample_rate, s.frame_rate, s.start_timecode
    );
    for d in &s.deliverables {
        for f in &d.files {
            println!(
                "  {}  [{} {:?}, {} frames, {:.1} s]",
                f.path.display(),
                d.layout,
                d.format,
                f.frames,
                d.duration_s
            );
            println!("    sha256 {}", f.sha256);
            if f.clipped > 0 {
                println!("    WARNING: {} samples clipped at full scale", f.clipped);
            }
        }
        let peaks: Vec<String> = d
            .channels
            .iter()
            .zip(&d.peak_dbfs)
            .map(|(c, p)| format!("{c} {}", fmt_db(*p)))
            .collect();
        println!("    peak dBFS: {}", peaks.join(", "));
    }
    for v in &s.speed_versions {
        println!(
            "  speed version {}: {}, from {}",
            v.version.tag,
            v.version.describe(),
            v.start_tc
        );
        for d in &v.deliverables {
            for f in &d.files {
                println!("    {}  [{} frames]", f.path.display(), f.frames);
                println!("      sha256 {}", f.sha256);
            }
            if let Some(l) = d.loudness.integrated_lufs {
                println!(
                    "      measured as converted: {l:.1} LUFS, true peak {}",
                    fmt_db(d.loudness.true_peak_dbtp)
                );
            }
        }
    }
    for c in &s.conversions {
        println!(
            "converted {} ({}): {} Hz -> {} Hz{}",
            c.what,
            c.file,
            c.from_hz,
            c.to_hz,
            c.speed
                .as_ref()
                .map(|sp| format!(", speed {sp}"))
                .unwrap_or_default()
        );
    }
    if let Some(c) = s.conversions.first() {
        println!("  resampler: {}", c.resampler);
    }
    println!(
        "backend {} ({}), CPU {}; wall {:.2} s, {:.1}x realtime",
        s.backend.kind,
        s.backend.name,
        s.cpu.describe(),
        s.wall_s,
        s.x_realtime
    );
    print_verdict(s);
}

/// The end of the summary: the delivered loudness against the target, every failed
/// or warned check (one line each, with its figure and timecode), the verdict and the
/// QC report's path.
pub fn print_verdict(s: &RenderSummary) {
    for l in &s.qc_loudness {
        println!(
            "loudness  {}  {}: {}  [{}]",
            l.scope,
            l.check,
            l.detail,
            l.status.as_str().to_uppercase()
        );
    }
    for p in &s.qc_problems {
        println!("  FAIL  delivery profile: {p}");
    }
    for l in &s.qc_issues {
        let at = l
            .timecode
            .as_ref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default();
        println!(
            "  {}  {}  {}{at}: {}",
            l.status.as_str().to_uppercase(),
            l.scope,
            l.check,
            l.detail
        );
    }
    let count = |st: &str| {
        s.qc_issues
            .iter()
            .filter(|l| l.status.as_str() == st)
            .count()
    };
    let (failed, warned) = (count("fail"), count("warn"));
    let tally = match (failed, warned) {
        (0, 0) => String::new(),
        (f, 0) => format!(" ({f} failed)"),
        (0, w) => format!(" ({w} warned)"),
        (f, w) => format!(" ({f} failed, {w} warned)"),
    };
    let verdict = match s.qc_status.as_str() {
        "pass" | "warn" | "fail" => s.qc_status.to_uppercase(),
        other => other.to_string(),
    };
    match &s.qc_report {
        Some(r) => println!("QC: {verdict}{tally}; report {}", r.display()),
        None => println!("QC: {verdict} (--no-qc: no QC report)"),
    }
}

/// Renders; the exit status is 0, or [`EXIT_QC_FAILED`] when the print was delivered
/// but its QC failed.
pub fn run(a: &Args) -> Result<u8> {
    // A feature session (a [feature] table naming reel sessions) renders as a feature.
    if dubstage_core::feature::is_feature_file(&a.session) {
        return super::feature::render(a).map(|()| 0);
    }
    let out = a.out.clone().unwrap_or_else(|| {
        a.session
            .parent()
            .map(|p| p.join("print"))
            .unwrap_or_else(|| PathBuf::from("print"))
    });
    let s = render_session(
        &a.session,
        &out,
        a.json,
        a.quiet,
        a.block_frames,
        !a.no_qc,
        &a.backend,
        a.threads,
    )?;
    Ok(exit_status(&s))
}
