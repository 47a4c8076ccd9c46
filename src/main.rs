//! `dubstage`: the offline printmaster command line.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// GPU-accelerated offline printmaster for film and TV sound.
#[derive(Parser)]
#[command(name = "dubstage", version, about, long_about = None, after_help = EXIT_STATUS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Synthesize a demo reel (six stems, 5.1) and render every deliverable.
    Demo(cmd::demo::Args),
    /// Convolve a file with an impulse response (benchmarks, checks).
    #[command(hide = true)]
    Convolve(cmd::convolve::Args),
    /// Render a session's deliverables (or a feature's: reels and long plays).
    Render(cmd::render::Args),
    /// A feature's render in steps (measure, plan, render, finish) that talk through files.
    Feature(cmd::feature::Args),
    /// Describe audio files: format, layout, length, timecode, bext.
    Inspect(cmd::inspect::Args),
    /// Measure loudness (BS.1770-4 / EBU R128): integrated, LRA, true peak, maxima.
    Measure(cmd::measure::Args),
    /// Time every stage (sum, loudness, true peak) on every backend and check CPU/GPU parity.
    Bench(cmd::bench::Args),
    /// Write (and optionally serve) a browser preview package for review and spotting.
    Preview(cmd::preview::Args),
    /// Check a spotting list against a session's reel and print it as a cue sheet.
    Spot(cmd::spot::Args),
    /// Dialogue editing: sync a take to a guide, reduce noise.
    Dialogue(cmd::dialogue::Args),
    /// Read a picture editor's list (CMX 3600 EDL or OTIO) for conform.
    Conform(cmd::conform::Args),
    /// Follow a changed cut: compare two lists and move a session's tracks and stems.
    Reconform(cmd::conform::ReconformArgs),
}

/// The exit statuses, shown under `--help` (and in the README's "Exit status").
const EXIT_STATUS: &str = "\
Exit status:
  0    success (render/demo: delivered, and the QC passed or only warned)
  1    error: nothing was delivered (the message names the file, stem or line)
  2    usage error (unknown option, missing argument)
  3    render/demo: delivered, but the QC failed (e.g. on_failure = \"flag\")
  130  interrupted by SIGINT (Ctrl-C): temporary files removed, nothing delivered
  143  interrupted by SIGTERM: temporary files removed, nothing delivered
With --json, a failure prints {\"error\", \"kind\", \"file\"/\"stem\"/\"line\"} on stdout.";

impl Command {
    /// Whether the command was asked for JSON output.
    fn json(&self) -> bool {
        match self {
            Command::Demo(a) => a.json,
            Command::Convolve(a) => a.json,
            Command::Render(a) => a.json,
            Command::Dialogue(a) => a.json(),
            Command::Conform(a) => a.json,
            Command::Reconform(a) => a.json,
            Command::Feature(a) => a.json(),
            Command::Inspect(a) => a.json,
            Command::Measure(a) => a.json,
            Command::Bench(a) => a.json,
            Command::Preview(a) => a.json,
            Command::Spot(a) => a.json,
        }
    }

    /// Whether the command line asks for a GPU (its instance needs the environment
    /// prepared before any thread starts).
    fn wants_gpu(&self) -> bool {
        match self {
            Command::Demo(a) => a.backend.wants_gpu(),
            Command::Render(a) => a.backend.wants_gpu(),
            Command::Measure(a) => a.backend.wants_gpu(),
            Command::Bench(a) => a.backend.trim() != "cpu",
            _ => false,
        }
    }
}

/// An error as one JSON object: its message, its kind, and the file, stem or session
/// line it names.
fn error_json(e: &dubstage_core::Error) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("error".into(), e.to_string().into());
    o.insert("kind".into(), e.kind().into());
    if let Some(f) = e.file() {
        o.insert("file".into(), f.display().to_string().into());
    }
    if let Some(s) = e.stem_id() {
        o.insert("stem".into(), s.into());
    }
    if let Some(l) = e.line() {
        o.insert("line".into(), l.into());
    }
    serde_json::Value::Object(o)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let asked_json = std::env::args_os().any(|a| a == "--json");
            if asked_json && e.use_stderr() {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                println!("{}", serde_json::json!({ "error": first, "kind": "usage" }));
            }
            e.exit();
        }
    };
    if cli.command.wants_gpu() {
        cmd::backend::prepare_gpu_runtime_dir();
    }
    let r = match &cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Convolve(a) => cmd::convolve::run(a).map(|()| 0),
        Command::Render(a) => cmd::render::run(a),
        Command::Feature(a) => cmd::feature::run(a).map(|()| 0),
        Command::Dialogue(a) => cmd::dialogue::run(a).map(|()| 0),
        Command::Conform(a) => cmd::conform::run(a).map(|()| 0),
        Command::Reconform(a) => cmd::conform::run_reconform(a).map(|()| 0),
        Command::Inspect(a) => cmd::inspect::run(a).map(|()| 0),
        Command::Measure(a) => cmd::measure::run(a).map(|()| 0),
        Command::Bench(a) => cmd::bench::run(a).map(|()| 0),
        Command::Preview(a) => cmd::preview::run(a).map(|()| 0),
        Command::Spot(a) => cmd::spot::run(a).map(|()| 0),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors quote text from files (cue names, bext, paths): no control sequences.
            let text = e.to_string();
            let lines: Vec<String> = text.lines().map(dubstage_core::text::printable).collect();
            eprintln!("error: {}", lines.join("\n"));
            let printed = cmd::JSON_PRINTED.load(std::sync::atomic::Ordering::SeqCst);
            if cli.command.json() && !printed {
                println!("{}", error_json(&e));
            }
            let code = match &e {
                dubstage_core::Error::Cancelled(_) => {
                    cmd::signals::exit_status().unwrap_or(cmd::signals::EXIT_SIGINT)
                }
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}
