//! `dubstage feature slurm FEATURE.toml` and `dubstage feature status FEATURE.toml`: a
//! feature's steps as Slurm jobs.
//!
//! The feature render falls into a map, a reduce, a map and a reduce (measure every reel,
//! plan the gain from the merged histograms, render every reel with it, join the long
//! plays). Each step is a `dubstage feature …` command that communicates only through
//! files under the output folder, so each becomes a Slurm job: an array job for the
//! measurements, a plan job that waits for all of them (`--dependency=afterok:`), an
//! array job for the renders, and a finish job. A failed task cancels what depends on it
//! (`--kill-on-invalid-dep=yes`) instead of leaving it pending for ever; jobs are
//! requeued when a node is lost (`--requeue`). The scripts are plain files in
//! `feature/slurm/` for the user to read, edit or submit by hand.

use dubstage_core::feature::{self, Feature};
use dubstage_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct SlurmArgs {
    /// The feature file (TOML with a [feature] table). Every node must see it at this path.
    pub feature: PathBuf,
    /// Output folder (default: the feature's folder / "print"), on storage every node shares.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Slurm partition to run in (default: the cluster's default partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// Cores per job.
    #[arg(long, default_value_t = 2)]
    pub cpus: u32,
    /// Only these reels (comma-separated reel numbers), e.g. to rerun the one that failed;
    /// the plan and finish jobs always run.
    #[arg(long, value_delimiter = ',')]
    pub reels: Vec<u32>,
    /// Submit the jobs with sbatch (otherwise write the scripts and say how to submit them).
    #[arg(long)]
    pub submit: bool,
    /// With --submit: wait at most SECONDS for the jobs, then report as `feature status`
    /// does (non-zero exit when a job failed or time ran out).
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// With --submit: submit the measurements held (`scontrol release ID` starts them), so
    /// the chain can be inspected or its inputs checked first.
    #[arg(long)]
    pub hold: bool,
    /// The dubstage binary the jobs run (default: this one); every node must reach it.
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The feature file.
    pub feature: PathBuf,
    /// Output folder (default: the feature's folder / "print").
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The jobs of the last submission, kept in `feature/slurm/jobs.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Jobs {
    measure: Option<String>,
    plan: String,
    render: Option<String>,
    finish: String,
    reels: Vec<u32>,
}

fn slurm_dir(out: &Path) -> PathBuf {
    feature::work_dir(out).join("slurm")
}

fn abs(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).map_err(|e| Error::io(p, e))
}

/// Shell-quotes a path for a job script.
fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Memory for one job: the render streams in blocks, so memory does not grow with the
/// reel; what grows is the per-100 ms loudness history kept for the report's plots
/// (8 bytes × channels × 10 per second) and the histograms (fixed). 1 GiB covers the
/// engine's buffers and the convolvers; the history adds well under 1 MB per minute,
/// rounded up generously to 4 MB.
fn mem_mb(frames: u64, rate: u32) -> u64 {
    let minutes = frames / (rate.max(1) as u64 * 60) + 1;
    1024 + 4 * minutes
}

struct Script<'a> {
    name: &'a str,
    array: Option<String>,
    cpus: u32,
    mem: u64,
    body: String,
}

fn write_script(dir: &Path, partition: Option<&str>, s: &Script) -> Result<PathBuf> {
    let logs = dir.join("logs");
    let log = match &s.array {
        Some(_) => logs.join(format!("{}-%a.out", s.name)),
        None => logs.join(format!("{}.out", s.name)),
    };
    let mut t = String::from("#!/bin/bash\n");
    t += &format!("#SBATCH --job-name=dubstage-{}\n", s.name);
    if let Some(a) = &s.array {
        t += &format!("#SBATCH --array={a}\n");
    }
    t += &format!("#SBATCH --cpus-per-task={}\n", s.cpus);
    t += &format!("#SBATCH --mem={}M\n", s.mem);
    t += &format!("#SBATCH --output={}\n", log.display());
    t += "#SBATCH --requeue\n#SBATCH --kill-on-invalid-dep=yes\n";
    if let Some(p) = partition {
        t += &format!("#SBATCH --partition={p}\n");
    }
    t += "set -euo pipefail\n";
    t += &s.body;
    let path = dir.join(format!("{}.sh", s.name));
    dubstage_core::qc::write_atomic(&path, t.as_bytes())?;
    Ok(path)
}

/// Runs sbatch and returns the job id.
fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot run sbatch ({e}): is Slurm's client installed and SLURM_CONF set?"
            ))
        })?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "sbatch {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let id = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints "jobid" or "jobid;cluster".
    Ok(id.trim().split(';').next().unwrap_or("").to_string())
}

/// Under `--json`, `main` prints a failure as a JSON object.
pub fn run_slurm(a: &SlurmArgs) -> Result<()> {
    if a.cpus == 0 {
        return Err(Error::Invalid("--cpus must be at least 1".into()));
    }
    let path = abs(&a.feature)?;
    let f = Feature::load(&path)?;
    let out = a.out.clone().unwrap_or_else(|| f.default_out());
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let out = abs(&out)?;
    let bin = match &a.bin {
        Some(b) => abs(b)?,
        None => std::env::current_exe().map_err(|e| Error::Invalid(format!("this binary: {e}")))?,
    };
    let reels: Vec<u32> = if a.reels.is_empty() {
        f.reels.iter().map(|p| p.reel).collect()
    } else {
        for &r in &a.reels {
            f.reel_index(r)?;
        }
        a.reels.clone()
    };
    let list = reels
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let longest = f
        .reels
        .iter()
        .map(|p| mem_mb(p.length, p.sample_rate))
        .max()
        .unwrap_or(1024);
    let dir = slurm_dir(&out);
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(&dir, e))?;
    let step = |s: &str, reel: bool| {
        format!(
            "exec {} feature {s} {}{} --out {} --quiet --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
            q(&bin),
            q(&path),
            if reel {
                " --reel \"$SLURM_ARRAY_TASK_ID\""
            } else {
                ""
            },
            q(&out)
        )
    };
    let part = a.partition.as_deref();
    let measure = write_script(
        &dir,
        part,
        &Script {
            name: "measure",
            array: Some(list.clone()),
            cpus: a.cpus,
            mem: longest,
            body: step("measure", true),
        },
    )?;
    let plan = write_script(
        &dir,
        part,
        &Script {
            name: "plan",
            array: None,
            cpus: 1,
            mem: 512,
            body: step("plan", false),
        },
    )?;
    let render = write_script(
        &dir,
        part,
        &Script {
            name: "render",
            array: Some(list.clone()),
            cpus: a.cpus,
            mem: longest,
            body: step("render", true),
        },
    )?;
    let finish = write_script(
        &dir,
        part,
        &Script {
            name: "finish",
            array: None,
            cpus: a.cpus,
            mem: 1024,
            body: step("finish", false),
        },
    )?;
    let submit_sh = format!(
        "#!/bin/bash\n# Submits the feature's jobs in order; each waits for the one before.\n\
         set -euo pipefail\ncd {dir}\n\
         m=$(sbatch --parsable measure.sh)\n\
         p=$(sbatch --parsable --dependency=afterok:$m plan.sh)\n\
         r=$(sbatch --parsable --dependency=afterok:$p render.sh)\n\
         f=$(sbatch --parsable --dependency=afterok:$r finish.sh)\n\
         echo \"measure $m, plan $p, render $r, finish $f\"\n",
        dir = q(&dir)
    );
    dubstage_core::qc::write_atomic(&dir.join("submit.sh"), submit_sh.as_bytes())?;

    if !a.submit {
        if a.json && !a.quiet {
            println!(
                "{}",
                serde_json::json!({"status": "written", "scripts": dir, "reels": reels})
            );
        } else if !a.quiet {
            println!("Slurm job scripts written to {}", dir.display());
            println!(
                "  measure.sh (array {list}) → plan.sh → render.sh (array {list}) → finish.sh"
            );
            println!("Submit them with: bash {}", dir.join("submit.sh").display());
            println!("or run this command again with --submit.");
        }
        return Ok(());
    }
    let hold: Vec<String> = if a.hold {
        vec!["--hold".into()]
    } else {
        Vec::new()
    };
    let m = sbatch(&hold, &measure)?;
    let p = sbatch(&[format!("--dependency=afterok:{m}")], &plan)?;
    let r = sbatch(&[format!("--dependency=afterok:{p}")], &render)?;
    let fin = sbatch(&[format!("--dependency=afterok:{r}")], &finish)?;
    let jobs = Jobs {
        measure: Some(m.clone()),
        plan: p.clone(),
        render: Some(r.clone()),
        finish: fin.clone(),
        reels: reels.clone(),
    };
    let text = serde_json::to_string_pretty(&jobs).map_err(|e| Error::Invalid(e.to_string()))?;
    dubstage_core::qc::write_atomic(&dir.join("jobs.json"), text.as_bytes())?;
    if !a.json && !a.quiet {
        println!("submitted: measure {m} (reels {list}), plan {p}, render {r}, finish {fin}");
        println!(
            "follow with: squeue -j {m},{p},{r},{fin}   or: dubstage feature status {}",
            path.display()
        );
    }
    let Some(limit) = a.wait else {
        if a.json && !a.quiet {
            println!(
                "{}",
                serde_json::json!({"status": "submitted", "jobs": jobs})
            );
        }
        return Ok(());
    };
    let ids = [m, p, r, fin];
    let t0 = Instant::now();
    while queued(&ids)? {
        if t0.elapsed() > Duration::from_secs(limit) {
            return Err(Error::Invalid(format!(
                "the jobs were still queued or running after {limit} s (squeue -j {})",
                ids.join(",")
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let st = status(&f, &out)?;
    print_status(&st, &path, a.json);
    if st.done {
        Ok(())
    } else {
        Err(Error::Invalid(st.summary.clone()))
    }
}

/// True while any of the jobs is pending or running.
fn queued(ids: &[String]) -> Result<bool> {
    let o = Command::new("squeue")
        .args(["-h", "-o", "%i", "-j", &ids.join(",")])
        .output()
        .map_err(|e| Error::Invalid(format!("cannot run squeue: {e}")))?;
    // squeue exits non-zero once every job id has left the queue.
    Ok(o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
}

#[derive(Debug, Serialize)]
struct ReelStatus {
    reel: u32,
    measured: bool,
    rendered: bool,
    /// The last error line of a failed task's log.
    error: Option<String>,
    log: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Status {
    reels: Vec<ReelStatus>,
    planned: bool,
    done: bool,
    summary: String,
    rerun: Option<String>,
}

fn last_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| l.contains("error") || l.contains("CANCELLED") || l.contains("Killed"))
        .map(|l| l.trim().to_string())
}

fn status(f: &Feature, out: &Path) -> Result<Status> {
    let work = feature::work_dir(out);
    let dir = slurm_dir(out);
    let mut reels = Vec::new();
    for p in &f.reels {
        let measured = work
            .join("measure")
            .join(format!("r{}.json", p.reel))
            .is_file();
        let rendered = work
            .join("render")
            .join(format!("r{}.json", p.reel))
            .is_file();
        let step = if !measured { "measure" } else { "render" };
        let log = dir.join("logs").join(format!("{step}-{}.out", p.reel));
        let error = if measured && rendered {
            None
        } else {
            last_error(&log)
        };
        let log = log.is_file().then_some(log);
        reels.push(ReelStatus {
            reel: p.reel,
            measured,
            rendered,
            error,
            log,
        });
    }
    let planned = work.join("plan.json").is_file();
    let done = work.join("report.json").is_file()
        && out.join("SHA256SUMS").is_file()
        && reels.iter().all(|r| r.rendered);
    let failed: Vec<u32> = reels
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.reel)
        .collect();
    let missing: Vec<u32> = reels
        .iter()
        .filter(|r| !r.rendered)
        .map(|r| r.reel)
        .collect();
    let (summary, rerun) = if done {
        (
            "the feature is finished: every reel rendered, long plays joined".to_string(),
            None,
        )
    } else if !failed.is_empty() {
        let l = failed
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // The reels the cancelled render array never reached need their render too.
        let r = missing
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        (
            format!("reel(s) {l} failed (see the log); the jobs after them were cancelled"),
            Some(format!(
                "dubstage feature slurm {} --reels {r} --submit",
                f.path.display()
            )),
        )
    } else if !missing.is_empty() {
        let l = missing
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        (
            format!("reel(s) {l} not rendered yet"),
            Some(format!(
                "dubstage feature slurm {} --reels {l} --submit",
                f.path.display()
            )),
        )
    } else {
        (
            "every reel rendered; the finish job has not completed".to_string(),
            Some(format!("sbatch {}", dir.join("finish.sh").display())),
        )
    };
    Ok(Status {
        reels,
        planned,
        done,
        summary,
        rerun,
    })
}

fn print_status(st: &Status, feature: &Path, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(st).unwrap_or_default());
        return;
    }
    println!("feature {}:", feature.display());
    for r in &st.reels {
        let state = match (r.measured, r.rendered) {
            (_, true) => "rendered",
            (true, false) => "measured",
            _ => "not measured",
        };
        print!("  reel {}: {state}", r.reel);
        if let Some(e) = &r.error {
            print!(" — failed: {e}");
            if let Some(l) = &r.log {
                print!(" (log: {})", l.display());
            }
        }
        println!();
    }
    println!("  plan: {}", if st.planned { "written" } else { "not yet" });
    println!("{}", st.summary);
    if let Some(r) = &st.rerun {
        println!("rerun only that: {r}");
    }
}

pub fn run_status(a: &StatusArgs) -> Result<()> {
    let f = Feature::load(&a.feature)?;
    let out = a.out.clone().unwrap_or_else(|| f.default_out());
    let st = status(&f, &out)?;
    print_status(&st, &a.feature, a.json);
    Ok(())
}
