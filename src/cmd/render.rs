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

/// Loads, resolves and renders a session, printing the summary.
pub fn render_session(
    session: &Path,
    out: &Path,
    json: bool,
    quiet: bool,
    block_frames: Option<usize>,
    qc: bool,
    backend: &super::backend::BackendArgs,
) -> Result<RenderSummary> {
    let s = Session::load(session)?;
    let plan = s.resolve()?;
    let mut backend = backend.open(quiet || json)?;
    let bar = Progress::new(plan.length, "render", quiet || json);
    let opts = RenderOptions {
        out_dir: out.to_path_buf(),
        block_frames: block_frames.unwrap_or_else(|| backend.preferred_block_frames()),
        qc,
    };
    let progress = |d: u64, t: u64| bar.set(d, t);
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
    println!(
        "backend {} ({}); wall {:.2} s, {:.1}x realtime",
        s.backend.kind, s.backend.name, s.wall_s, s.x_realtime
    );
}

pub fn run(a: &Args) -> Result<()> {
    // A feature session (a [feature] table naming reel sessions) renders as a feature.
    if dubstage_core::feature::is_feature_file(&a.session) {
        return super::feature::render(a);
    }
    set_threads(a.threads)?;
    let out = a.out.clone().unwrap_or_else(|| {
        a.session
            .parent()
            .map(|p| p.join("print"))
            .unwrap_or_else(|| PathBuf::from("print"))
    });
    render_session(
        &a.session,
        &out,
        a.json,
        a.quiet,
        a.block_frames,
        !a.no_qc,
        &a.backend,
    )
    .map(|_| ())
}
