//! `dubstage demo`: synthesize a reel and render every deliverable.

use dubstage_core::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Folder for the stems, the session and the deliverables.
    #[arg(long, default_value = "dubstage-demo")]
    pub out: PathBuf,
    /// Write into a non-empty folder that is not a demo folder (its
    /// session.toml, stems/ and print/ are overwritten).
    #[arg(long)]
    pub force: bool,
    /// Reel length in minutes (leader included).
    #[arg(long, default_value_t = 1.5)]
    pub minutes: f64,
    /// A 3-reel feature instead (each reel `--minutes` long), rendered with its long plays.
    #[arg(long)]
    pub feature: bool,
    /// An editorial timeline instead: a recorder's takes and a picture list
    /// (reel1.edl) conformed into a session of tracks of clips (the conform's
    /// report printed), then rendered.
    #[arg(long, conflicts_with = "feature")]
    pub timeline: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar, no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

/// Synthesizes and renders; the exit status as `render`'s.
pub fn run(a: &Args) -> Result<u8> {
    super::render::set_threads(a.threads)?;
    super::outdir::check_demo_out(&a.out, a.force)?;
    if a.feature {
        if !a.quiet && !a.json {
            println!(
                "synthesizing a 3-reel demo feature ({:.2} minutes a reel) into {} ...",
                a.minutes,
                a.out.display()
            );
        }
        let path = dubstage_core::feature::demo::write_demo_feature(&a.out, a.minutes)?;
        let f = dubstage_core::feature::Feature::load(&path)?;
        return super::feature::render_feature_at(
            &f,
            &a.out.join("print"),
            a.json,
            a.quiet,
            None,
            &a.backend,
        )
        .map(|()| 0);
    }
    if a.timeline {
        if !a.quiet && !a.json {
            println!(
                "synthesizing recorder takes and a picture list into {} ...",
                a.out.display()
            );
        }
        let t = dubstage_core::demo::write_demo_timeline(&a.out)?;
        if !a.quiet && !a.json {
            println!("conform of {}:", t.list.display());
            print!("{}", t.report);
            println!("session: {}", t.session.display());
        }
        let s = super::render::render_session(
            &t.session,
            &a.out.join("print"),
            a.json,
            a.quiet,
            None,
            true,
            &a.backend,
            None,
        )?;
        return Ok(super::render::exit_status(&s));
    }
    if !a.quiet && !a.json {
        println!(
            "synthesizing a {:.2}-minute demo reel into {} ...",
            a.minutes,
            a.out.display()
        );
    }
    let files = dubstage_core::demo::write_demo(&a.out, a.minutes)?;
    if !a.quiet && !a.json {
        println!("session: {}", files.session.display());
    }
    let out = a.out.join("print");
    let s = super::render::render_session(
        &files.session,
        &out,
        a.json,
        a.quiet,
        None,
        true,
        &a.backend,
        None,
    )?;
    Ok(super::render::exit_status(&s))
}
