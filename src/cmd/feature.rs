//! `dubstage render FEATURE.toml` and `dubstage feature measure|plan|render|finish`: a
//! feature's reels measured, planned (one gain from the merged histograms), rendered and
//! joined into long plays. Each step reads and writes only files under the output folder
//! (`feature/`), so the steps can run as separate jobs.

use super::progress::Progress;
use dubstage_core::feature::{self, Feature};
use dubstage_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub step: Step,
}

#[derive(clap::Subcommand)]
pub enum Step {
    /// Measure one reel's programme (FFOA to LFOA): writes feature/measure/r<N>.json.
    Measure(StepArgs),
    /// Merge the reels' measurements and decide the gain: writes feature/plan.json.
    Plan(StepArgs),
    /// Render one reel's deliverables with the plan's gain into R<N>/.
    Render(StepArgs),
    /// Join the long plays, check the joins, write the feature report and SHA256SUMS.
    Finish(StepArgs),
    /// Write (with --submit, submit) the steps as Slurm jobs: a measure array, a plan job,
    /// a render array and a finish job, each waiting for the one before.
    Slurm(super::slurm::SlurmArgs),
    /// Which reels are measured and rendered, which task failed, and how to rerun it.
    Status(super::slurm::StatusArgs),
}

impl Args {
    /// Whether the step was asked for JSON output.
    pub fn json(&self) -> bool {
        match &self.step {
            Step::Measure(s) | Step::Plan(s) | Step::Render(s) | Step::Finish(s) => s.json,
            Step::Slurm(s) => s.json,
            Step::Status(s) => s.json,
        }
    }
}

#[derive(clap::Args)]
pub struct StepArgs {
    /// The feature file (TOML with a [feature] table).
    pub feature: PathBuf,
    /// The reel number (measure and render).
    #[arg(long)]
    pub reel: Option<u32>,
    /// Output folder (default: the feature's folder / "print").
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
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

/// A bar per stage ("measure", "render", "long play").
struct Bars {
    quiet: bool,
    cur: Mutex<Option<(String, Progress)>>,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            cur: Mutex::new(None),
        }
    }
    fn set(&self, what: &str, done: u64, total: u64) {
        let mut g = self.cur.lock().expect("not poisoned");
        if g.as_ref().is_none_or(|(w, _)| w != what) {
            if let Some((_, p)) = g.take() {
                p.finish();
            }
            *g = Some((what.to_string(), Progress::new(total, what, self.quiet)));
        }
        if let Some((_, p)) = g.as_ref() {
            p.set(done, total, what);
        }
    }
    fn finish(&self) {
        if let Some((_, p)) = self.cur.lock().expect("not poisoned").take() {
            p.finish();
        }
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.1}"))
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

/// Under `--json`, a failure is a JSON object too.
/// (`main` prints it, with the error's kind and the file or line it names.)
fn report_error(_json: bool, r: Result<()>) -> Result<()> {
    r
}

/// `dubstage render FEATURE.toml`: every step on this machine.
pub fn render(a: &super::render::Args) -> Result<()> {
    report_error(a.json, render_inner(a))
}

fn render_inner(a: &super::render::Args) -> Result<()> {
    super::render::set_threads(a.threads)?;
    if a.no_qc {
        return Err(Error::Invalid(
            "a feature is rendered with QC (its gain comes from the reels' loudness): drop --no-qc"
                .into(),
        ));
    }
    let f = Feature::load(&a.session)?;
    let out = a.out.clone().unwrap_or_else(|| f.default_out());
    render_feature_at(&f, &out, a.json, a.quiet, a.block_frames, &a.backend)
}

/// Renders a loaded feature into `out` and prints the summary.
pub fn render_feature_at(
    f: &Feature,
    out: &Path,
    json: bool,
    quiet: bool,
    block_frames: Option<usize>,
    backend: &super::backend::BackendArgs,
) -> Result<()> {
    // Reels are measured in parallel when there are cores for two analyses at once.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = (cores / 4).clamp(1, f.reels.len());
    let mut backends = Vec::new();
    for k in 0..parallel {
        backends.push(backend.open(quiet || json || k > 0)?);
    }
    let bf = block_frames.unwrap_or_else(|| backends[0].preferred_block_frames());
    let bars = Bars::new(quiet || json);
    let progress = |what: &str, d: u64, t: u64| bars.set(what, d, t);
    let r = feature::render_feature(f, &mut backends, out, bf, Some(&progress));
    bars.finish();
    let s = r?;
    if json {
        print_json(&s);
    } else if !quiet {
        print_report(&s.report);
        println!("wall {:.2} s", s.wall_s);
    }
    Ok(())
}

fn print_report(r: &feature::report::FeatureReport) {
    println!(
        "{}: {} reels, profile {}",
        r.title,
        r.reels.len(),
        r.profile.as_deref().unwrap_or("none")
    );
    println!(
        "  feature as mixed: {} LUFS integrated, dialogue-gated {} LUFS, LRA {} LU, true peak {} dBTP",
        fmt(r.feature_measured.integrated_lufs),
        fmt(r
            .feature_measured
            .dialogue
            .as_ref()
            .and_then(|d| d.gated_lufs)),
        fmt(r.feature_measured.loudness_range_lu),
        fmt(r.feature_measured.true_peak_dbtp)
    );
    if let Some(n) = &r.normalization {
        println!(
            "  gain {:+.2} dB ({:?}) to {:.1} LUFS",
            n.gain_db, r.gain_mode, n.target_lufs
        );
    }
    for x in &r.reels {
        println!(
            "  reel {}: {:.1} s, {} LUFS as mixed, gain {}, 2-pop {:?}, reel QC {}",
            x.reel,
            x.duration_s,
            fmt(x.measured.integrated_lufs),
            x.gain_db.map_or("-".into(), |g| format!("{g:+.2} dB")),
            x.two_pop,
            x.qc_status
        );
    }
    for l in &r.long_plays {
        for w in &l.files {
            println!("  {}  [{} frames]", w.path.display(), l.frames);
            println!("    sha256 {}", w.sha256);
        }
    }
    for v in &r.speed_versions {
        for w in &v.files {
            println!(
                "  {}  [{} frames, {}]",
                w.path.display(),
                v.frames,
                v.version.describe()
            );
        }
        if let Some(l) = &v.loudness {
            println!(
                "    measured again: {} LUFS, true peak {} dBTP{}",
                fmt(l.integrated_lufs),
                fmt(l.true_peak_dbtp),
                v.compliance.as_ref().map_or(String::new(), |c| format!(
                    ", {} against {}",
                    if c.passed { "PASS" } else { "FAIL" },
                    c.profile
                ))
            );
        }
    }
    if let Some(d) = &r.delivered {
        println!(
            "  long play as delivered: {} LUFS, dialogue-gated {} LUFS, true peak {} dBTP",
            fmt(d.integrated_lufs),
            fmt(r.delivered_dialogue_lufs),
            fmt(d.true_peak_dbtp)
        );
    }
    if let Some(c) = &r.compliance {
        println!(
            "  {} against {}{}",
            if c.passed { "PASS" } else { "FAIL" },
            c.profile,
            if c.messages.is_empty() {
                String::new()
            } else {
                format!(": {}", c.messages.join("; "))
            }
        );
    }
    println!("  QC {:?}", r.status);
}

pub fn run(a: &Args) -> Result<()> {
    let s = match &a.step {
        Step::Measure(s) | Step::Plan(s) | Step::Render(s) | Step::Finish(s) => s,
        Step::Slurm(s) => return super::slurm::run_slurm(s),
        Step::Status(s) => return super::slurm::run_status(s),
    };
    report_error(s.json, run_step(a, s))
}

fn run_step(a: &Args, s: &StepArgs) -> Result<()> {
    super::render::set_threads(s.threads)?;
    let f = Feature::load(&s.feature)?;
    let out = s.out.clone().unwrap_or_else(|| f.default_out());
    let reel = || -> Result<usize> {
        let n = s
            .reel
            .ok_or_else(|| Error::Invalid("this step works on one reel: give --reel N".into()))?;
        f.reel_index(n)
    };
    let quiet = s.quiet || s.json;
    match &a.step {
        Step::Measure(_) => {
            let i = reel()?;
            let mut b = s.backend.open(quiet)?;
            let bf = b.preferred_block_frames();
            let total = f.reels[i].programme().1;
            let bar = Progress::new(total, "measure", quiet);
            let m = feature::measure_reel(&f, i, b.as_mut(), &out, bf, &|p| {
                bar.set(p, total, "measure")
            });
            bar.finish();
            let m = m?;
            let sum = m.state.summary(&Default::default());
            if s.json {
                print_json(
                    &serde_json::json!({"reel": m.reel, "programme": m.programme, "loudness": sum}),
                );
            } else if !s.quiet {
                println!(
                    "reel {}: programme samples {}..{}, {} LUFS integrated",
                    m.reel,
                    m.programme.0,
                    m.programme.1,
                    fmt(sum.integrated_lufs)
                );
            }
        }
        Step::Plan(_) => {
            let p = feature::plan(&f, &out)?;
            if s.json {
                print_json(&p);
            } else if !s.quiet {
                println!(
                    "feature: {} LUFS integrated; {}",
                    fmt(p.feature.integrated_lufs),
                    p.normalization
                        .as_ref()
                        .map_or("no normalization".into(), |n| format!(
                            "gain {:+.2} dB to {:.1} LUFS",
                            n.gain_db, n.target_lufs
                        ))
                );
            }
        }
        Step::Render(_) => {
            let i = reel()?;
            let mut b = s.backend.open(quiet)?;
            let bf = b.preferred_block_frames();
            let bar = Progress::new(f.reels[i].length, "render", quiet);
            let progress = |d: u64, t: u64| bar.set(d, t, "render");
            let r = feature::render_reel(&f, i, b.as_mut(), &out, bf, Some(&progress));
            bar.finish();
            let r = r?;
            if s.json {
                print_json(&r);
            } else if !s.quiet {
                super::render::print_summary(&r);
            }
        }
        Step::Finish(_) => {
            let r = feature::finish(&f, &out, None)?;
            if s.json {
                print_json(&r);
            } else if !s.quiet {
                print_report(&r);
            }
        }
        // Dispatched in `run` before the feature is loaded here.
        Step::Slurm(_) | Step::Status(_) => {}
    }
    Ok(())
}
