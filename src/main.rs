//! `dubstage`: the offline printmaster command line.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// GPU-accelerated offline printmaster for film and TV sound.
#[derive(Parser)]
#[command(name = "dubstage", version, about, long_about = None)]
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
    /// Render a session's deliverables.
    Render(cmd::render::Args),
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
    /// Read a picture editor's list (CMX 3600 EDL or OTIO) for conform.
    Conform(cmd::conform::Args),
    /// Follow a changed cut: compare two lists and move a session's tracks and stems.
    Reconform(cmd::conform::ReconformArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Convolve(a) => cmd::convolve::run(a),
        Command::Render(a) => cmd::render::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Measure(a) => cmd::measure::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Preview(a) => cmd::preview::run(a),
        Command::Spot(a) => cmd::spot::run(a),
        Command::Conform(a) => cmd::conform::run(a),
        Command::Reconform(a) => cmd::conform::run_reconform(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
