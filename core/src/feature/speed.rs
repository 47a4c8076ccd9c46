//! International speed versions of the long plays: the PAL speed-up of a 24 fps feature
//! (`speed = "24/25"`), the 0.1 % pull-down (24 → 23.976 fps) or pull-up (23.976 →
//! 24 fps), with the pitch following the speed or corrected. What a speed version is
//! (frames keep their numbers; every sample position is multiplied by the duration
//! factor) is [`crate::resample::version`]; the conversion of a set of written files, with
//! the printmaster measured again, is the engine's [`crate::pipeline::speed`], shared with
//! the speed versions of a single session's deliverables.

use super::Feature;
use super::join::{Join, LongPlay, find, staged_tmp};
use crate::io::WrittenFile;
use crate::io::commit::Staged;
use crate::loudness::LoudnessSummary;
use crate::master::Compliance;
use crate::pipeline::speed::{SpeedSet, convert};
use crate::session::DeliverableKind;
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use crate::resample::version::{Pitch, SpeedVersion, rate_after};

/// One long play at another speed.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedLongPlay {
    pub version: SpeedVersion,
    pub label: String,
    pub kind: DeliverableKind,
    pub files: Vec<WrittenFile>,
    pub frames: u64,
    pub start_tc: String,
    /// The reel breaks at the new speed (LP samples scaled by the duration factor).
    pub joins: Vec<Join>,
    /// The converted printmaster, measured as written (interleaved printmaster only).
    pub loudness: Option<LoudnessSummary>,
    /// The converted printmaster against the feature's profile.
    pub compliance: Option<Compliance>,
    pub notes: Vec<String>,
}

/// The folder of a speed version's long plays: `LP_<tag>/`.
pub fn dir_of(out: &Path, v: &SpeedVersion) -> PathBuf {
    out.join(format!("LP_{}", v.tag))
}

/// Writes every speed version of the long plays (those of the kinds it names, or all),
/// staged like the long plays (for the caller's commit); reads the long plays from their
/// staged temporaries. Every file of a version is converted in one pass, block by block.
pub fn write_speed_versions(
    f: &Feature,
    out: &Path,
    lps: &[LongPlay],
    lp_staged: &[Staged],
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<(Vec<SpeedLongPlay>, Vec<Staged>)> {
    let lp_frames = lps.first().map_or(0, |l| l.frames);
    let total = lp_frames * f.speed_versions.len() as u64;
    let mut done_before = 0u64;
    let mut result = Vec::new();
    let mut staged = Vec::new();
    let r1 = &f.reels[0];
    let sr = r1.sample_rate;
    for pv in &f.speed_versions {
        let v = &pv.version;
        let dir = dir_of(out, v);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lp_start = r1.start_samples + super::join::reel_span(f, 0).0 as i64;
        let start = v.carry(lp_start, sr);
        let mut set = SpeedSet {
            version: v,
            sample_rate: sr,
            layout: r1.layout,
            start,
            rf64_threshold: r1.rf64_threshold,
            bw64: r1.bw64,
            frames: lp_frames,
            files: Vec::new(),
            printmaster: None,
            dialogue: Vec::new(),
        };
        // (long play, its files' indices in the set)
        let mut taken: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
        for (li, lp) in lps.iter().enumerate() {
            if !pv.covers(lp.kind) {
                continue;
            }
            let d0 = find(r1, &lp.label)?;
            let d = crate::session::PlanDeliverable {
                name: format!(
                    "{}_LP_{}_{}",
                    crate::session::sanitize(&f.title),
                    v.tag,
                    lp.label
                ),
                ..d0.clone()
            };
            let names = crate::pipeline::deliverable_files(&d);
            let first = set.files.len();
            if lp.loudness.is_some() && !d0.multi_mono {
                set.printmaster = Some(first);
            }
            if d0.is_dialogue_stem(r1) {
                set.dialogue.push(first);
            }
            for (k, w0) in lp.files.iter().enumerate() {
                let src = staged_tmp(lp_staged, &out.join(&w0.path))?;
                set.files.push((src.to_path_buf(), dir.join(&names[k])));
            }
            taken.push((li, first..set.files.len()));
        }
        let converted = convert(&set, &mut |d| {
            if let Some(p) = progress {
                p(done_before + d, total);
            }
            Ok(())
        })?;
        done_before += lp_frames;
        let loudness = converted.loudness;
        let want = v.samples(lp_frames);
        let mut written: Vec<WrittenFile> = Vec::new();
        for fin in converted.files {
            let (st, mut w) = fin.into_staged();
            w.path = w.path.strip_prefix(out).unwrap_or(&w.path).to_path_buf();
            written.push(w);
            staged.push(st);
        }
        for (li, range) in taken {
            let lp = &lps[li];
            let is_pm = set.printmaster.is_some_and(|p| range.contains(&p));
            let joins = lp
                .joins
                .iter()
                .zip(&f.reels)
                .map(|(j, p)| {
                    let at = v.samples(j.lp_sample);
                    let reel0 = v.carry(p.start_samples, sr);
                    Join {
                        reel: j.reel,
                        lp_sample: at,
                        lp_tc: v.tc(start + at as i64, sr),
                        reel_from: v.samples(j.reel_from),
                        reel_to: v.samples(j.reel_to),
                        reel_ffoa_tc: v.tc(reel0 + v.samples(j.reel_from) as i64, sr),
                        reel_lfoa_tc: v.tc(reel0 + v.samples(p.lfoa.max(0) as u64) as i64, sr),
                        verified: j.verified,
                        detail: format!(
                            "reel {} at LP sample {at} (the {} fps LP's {} × {}/{})",
                            j.reel,
                            v.from_rate.name(),
                            j.lp_sample,
                            v.ratio.length_num,
                            v.ratio.length_den
                        ),
                    }
                })
                .collect();
            let (loud, compliance, mut notes) = if is_pm {
                let s = loudness.clone();
                let c = match (&f.profile, &s) {
                    (Some(p), Some(s)) => Some(crate::master::check(s, p)),
                    _ => None,
                };
                let mut notes = Vec::new();
                if set.dialogue.is_empty() {
                    notes.push(
                        "no dialogue stem long play: the dialogue-gated loudness of this \
                         version is not measured"
                            .to_string(),
                    );
                }
                (s, c, notes)
            } else {
                (None, None, Vec::new())
            };
            notes.push(v.describe());
            result.push(SpeedLongPlay {
                version: v.clone(),
                label: lp.label.clone(),
                kind: lp.kind,
                files: written[range].to_vec(),
                frames: want,
                start_tc: v.tc(start, sr),
                joins,
                loudness: loud,
                compliance,
                notes,
            });
        }
    }
    Ok((result, staged))
}
