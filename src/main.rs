//! The `dubstage` command-line interface.
use clap::{Parser, Subcommand};

mod cmd;

/// dubstage: GPU-accelerated offline printmaster for film and TV sound.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write (and optionally serve) a browser preview package for review and spotting.
    Preview(cmd::preview::Args),
    /// Check a spotting list against a session's reel and print it as a cue sheet.
    Spot(cmd::spot::Args),
}

fn main() {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        Cmd::Preview(a) => cmd::preview::run(a),
        Cmd::Spot(a) => cmd::spot::run(a),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
