//! `dubstage spot SESSION LIST`: checks a spotting list (CSV or JSON) against
//! the session's reel and prints it as a cue sheet.
//!
//! SESSION may also be a preview package's `manifest.json`, so that a list
//! exported from the page can be checked against the package it came from.

use dubstage_core::spot::{self, SpotReel};
use dubstage_core::{Error, FrameRate, Result, Timecode};
use std::path::{Path, PathBuf};

/// `dubstage spot` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The session file (TOML), or a preview package's manifest.json.
    pub session: PathBuf,
    /// The spotting list: CSV (header row: cue,type,in,out,character,line,reason,note) or JSON.
    pub list: PathBuf,
    /// Print the validated cues as one JSON document instead of a cue sheet.
    #[arg(long)]
    pub json: bool,
}

/// The reel (and title) a list is checked against.
pub fn reel_of(path: &Path) -> Result<(SpotReel, String)> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let m = dubstage_core::preview::Manifest::from_json(&text)
            .map_err(|e| Error::format(path, e.to_string()))?;
        let rate: FrameRate = m
            .frame_rate
            .parse()
            .map_err(|e: String| Error::format(path, e))?;
        let start = Timecode::parse(&m.start, rate)?;
        return Ok((
            SpotReel {
                reel: m.reel_number,
                rate,
                sample_rate: m.sample_rate,
                start,
                length: m.length,
            },
            m.title,
        ));
    }
    crate::cmd::preview::spot_reel_of_session(path)
}

/// Runs `dubstage spot`.
pub fn run(args: &Args) -> Result<()> {
    let (reel, title) = reel_of(&args.session)?;
    let text = std::fs::read_to_string(&args.list).map_err(|e| Error::io(&args.list, e))?;
    let name = args.list.display().to_string();
    let markers = spot::parse_any(&text, &name)?;
    let cues = spot::validate(&markers, &reel, &name)?;
    if args.json {
        let doc = serde_json::json!({
            "title": title,
            "reel": reel.reel,
            "frame_rate": reel.rate.name(),
            "start": reel.start.to_string(),
            "end": reel.end().to_string(),
            "cues": cues,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| Error::Invalid(e.to_string()))?
        );
    } else {
        print!("{}", spot::cue_sheet(&cues, &title, &reel));
    }
    Ok(())
}
