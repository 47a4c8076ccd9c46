//! A synthesized 3-reel demo feature: three demo reels (each with its leader, 2-pop,
//! LFOA and tail pop; the music a little louder or softer from reel to reel) and
//! `feature.toml`.

use crate::demo::{DemoReel, write_demo_reel};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Extra music level of each demo reel, dB: the reels differ in loudness, so a gain per
/// reel would differ from the feature's.
pub const MUSIC_DB: [f64; 3] = [0.0, 5.0, -4.0];

/// Writes `dir/r1`, `dir/r2`, `dir/r3` (stems and sessions) and `dir/feature.toml`;
/// returns the feature file.
pub fn write_demo_feature(dir: &Path, minutes_per_reel: f64) -> Result<PathBuf> {
    let mut reels = Vec::new();
    for (i, &music_db) in MUSIC_DB.iter().enumerate() {
        let reel = i as u32 + 1;
        let name = format!("r{reel}");
        write_demo_reel(
            &dir.join(&name),
            &DemoReel {
                reel,
                minutes: minutes_per_reel,
                music_db,
                tail_pop: true,
            },
        )?;
        reels.push(format!("\"{name}/session.toml\""));
    }
    let path = dir.join("feature.toml");
    let text = format!(
        "# dubstage demo feature (synthesized by `dubstage demo --feature`)\n\
         [feature]\n\
         title = \"Demo Feature\"\n\
         reels = [{}]\n\
         keep_leader = false      # reel 1's head leader stays out of the long play\n\
         gain = \"feature\"         # one gain from the whole feature's loudness\n\n\
         # the whole feature's delivery profile (each reel is rendered to it)\n\
         [delivery]\n\
         profile = \"netflix\"\n\n\
         # International versions: uncomment for the long plays at PAL speed (25 fps, 4 %\n\
         # faster, the pitch following as in a telecine transfer; pitch = \"corrected\" keeps it)\n\
         # [[speed_version]]\n\
         # speed = \"24/25\"\n",
        reels.join(", ")
    );
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}
