//! Long plays: the reels' deliverables joined at their programme boundaries.
//!
//! Each reel contributes its programme, from its FFOA to the end of its LFOA frame (reel
//! 1 from its first sample when the leader is kept): head leaders with their 2-pops and
//! everything after the LFOA (the tail pop) stay out. The samples are copied as they lie
//! in the reel files (PCM without new dither, so the codes are the reels' own): the LP
//! nulls against every reel over its programme. Then every join is read back from the LP
//! and compared with the reels on both sides, sample for sample.

use super::Feature;
use crate::backend::{Analyzer, AnalyzerConfig};
use crate::io::commit::Staged;
pub use crate::io::commit::staged_tmp;
use crate::io::{Rf64Mode, WavReader, WavSpec, WavWriter, WrittenFile};
use crate::loudness::{
    DialogueGate, HopAnalyzer, LoudnessSummary, Meter, default_true_peak_factor,
};
use crate::pipeline::deliverable_files;
use crate::pipeline::speed::output_format;
use crate::session::{DeliverableKind, Plan, PlanDeliverable};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Frames copied per read.
const BLOCK: usize = 1 << 15;

/// One reel's place in a long play.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Join {
    pub reel: u32,
    /// First LP sample of the reel's part.
    pub lp_sample: u64,
    /// Its LP timecode.
    pub lp_tc: String,
    /// The reel samples taken, `[from, to)` (from = FFOA, to = end of the LFOA frame).
    pub reel_from: u64,
    pub reel_to: u64,
    /// The reel timecodes of those samples (FFOA, LFOA).
    pub reel_ffoa_tc: String,
    pub reel_lfoa_tc: String,
    /// The read-back check of the join: LP samples around `lp_sample` equal the reels'.
    pub verified: bool,
    pub detail: String,
}

/// One long play.
#[derive(Debug, Clone, Serialize)]
pub struct LongPlay {
    pub label: String,
    pub kind: DeliverableKind,
    pub layout: String,
    pub files: Vec<WrittenFile>,
    pub frames: u64,
    pub start_tc: String,
    pub joins: Vec<Join>,
    /// The LP as written, measured (interleaved LPs; 100 ms timeline included).
    pub loudness: Option<LoudnessSummary>,
}

/// The reel's deliverable with `label`.
pub(super) fn find<'a>(p: &'a Plan, label: &str) -> Result<&'a PlanDeliverable> {
    p.deliverables
        .iter()
        .find(|d| super::deliverable_label(p, &d.name) == label)
        .ok_or_else(|| Error::Invalid(format!("reel {} has no deliverable '{label}'", p.reel)))
}

/// The samples of reel `i` that go into the LP.
pub fn reel_span(f: &Feature, i: usize) -> (u64, u64) {
    let (a, b) = f.reels[i].programme();
    if i == 0 && f.keep_leader {
        (0, b)
    } else {
        (a, b)
    }
}

/// Writes every long play for `out/LP/`, staged (complete and hashed at temporary paths,
/// for the caller to commit with the rest of the delivery), then verifies every join on
/// the staged files. Returns the long plays (paths: the final ones) and the staged files.
pub fn write_long_plays(
    f: &Feature,
    out: &Path,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<(Vec<LongPlay>, Vec<Staged>)> {
    let dir = out.join("LP");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let r1 = &f.reels[0];
    let lp_len: u64 = (0..f.reels.len())
        .map(|i| reel_span(f, i))
        .map(|(a, b)| b - a)
        .sum();
    let start_samples = r1.start_samples + reel_span(f, 0).0 as i64;
    let start_tc = crate::Timecode::from_samples(start_samples, r1.frame_rate, r1.sample_rate);
    let total = lp_len * f.long_plays.len() as u64;
    let mut done = 0u64;
    let mut lps = Vec::new();
    let mut staged = Vec::new();
    for label in &f.long_plays {
        let d0 = find(r1, label)?;
        let lp_d = PlanDeliverable {
            name: format!("{}_LP_{}", crate::session::sanitize(&f.title), label),
            ..d0.clone()
        };
        let lp_names = deliverable_files(&lp_d);
        let mut files = Vec::new();
        let mut loudness = None;
        for (k, lp_name) in lp_names.iter().enumerate() {
            let reel_files: Vec<PathBuf> = f
                .reels
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let d = find(p, label)?;
                    Ok(f.reel_dir(out, i).join(&deliverable_files(d)[k]))
                })
                .collect::<Result<_>>()?;
            let first = WavReader::open(&reel_files[0])?;
            let info = first.info().clone();
            drop(first);
            let mut bext = info.bext.clone().unwrap_or_default();
            bext.description = format!(
                "{} long play {}",
                f.title,
                bext.description
                    .split_once(&format!(" reel {} ", r1.reel))
                    .map_or(label.as_str(), |x| x.1)
            );
            bext.originator = "dubstage".into();
            bext.originator_reference = format!("dubstage-{}", &f.sha256[..12]);
            bext.time_reference = start_samples.max(0) as u64;
            bext.loudness = Default::default();
            let spec = WavSpec {
                channels: info.channels,
                sample_rate: info.sample_rate,
                format: output_format(info.format, &reel_files[0])?,
                channel_mask: info.channel_mask.unwrap_or(0),
                bext: Some(bext),
                rf64: Rf64Mode::Auto {
                    threshold: r1.rf64_threshold,
                },
                bw64: r1.bw64,
                dither_seed: 0,
            };
            let lp_path = dir.join(lp_name);
            let mut w = WavWriter::builder(&lp_path, spec).without_dither();
            if let Some(mut x) = info.ixml.clone() {
                x.project = f.title.clone();
                x.tape = "LP".into();
                x.problem = None;
                if let Some(s) = &mut x.speed {
                    s.timestamp_samples_since_midnight = Some(start_samples.max(0) as u64);
                }
                w = w.ixml(x);
            }
            let mut w = w.create()?;
            // The interleaved printmaster LP is metered as it is written (the feature's
            // delivered figures, its bext loudness); the other LPs' bext loudness is left
            // unset (their reels' files carry theirs).
            let chans = d0.layout.channels();
            let mut meter = if d0.multi_mono || d0.kind != DeliverableKind::Printmaster {
                None
            } else {
                let a = HopAnalyzer::new(&AnalyzerConfig {
                    channels: chans.len(),
                    sample_rate: info.sample_rate,
                    true_peak_oversample: default_true_peak_factor(info.sample_rate),
                })?
                .with_running_true_peak();
                Some((a, Meter::new(info.sample_rate, chans)?))
            };
            let nch = info.channels as usize;
            let mut bufs = vec![Vec::with_capacity(BLOCK); nch];
            for (i, rf) in reel_files.iter().enumerate() {
                let (a, b) = reel_span(f, i);
                let mut r = WavReader::open(rf)?;
                let ri = r.info();
                if ri.channels != info.channels
                    || ri.sample_rate != info.sample_rate
                    || ri.format != info.format
                {
                    return Err(Error::format(
                        rf,
                        format!("does not match reel 1's {}", reel_files[0].display()),
                    ));
                }
                if ri.frames < b {
                    return Err(Error::format(
                        rf,
                        format!(
                            "{} frames, but the reel's LFOA ends at frame {b}: render the reel again",
                            ri.frames
                        ),
                    ));
                }
                r.seek(a)?;
                let mut left = b - a;
                while left > 0 {
                    let n = r.read_planar(&mut bufs, (left as usize).min(BLOCK))?;
                    if n == 0 {
                        return Err(Error::format(rf, "ended early"));
                    }
                    let planar: Vec<&[f32]> = bufs.iter().map(|v| &v[..n]).collect();
                    w.write_planar(&planar)?;
                    if let Some((an, m)) = &mut meter {
                        an.push(&planar)?;
                        m.push_hops(&an.take_hops()?)?;
                    }
                    left -= n as u64;
                    done += n as u64 / lp_names.len() as u64;
                    if let Some(p) = progress {
                        p(done, total);
                    }
                }
            }
            if let Some((mut an, mut m)) = meter {
                m.push_hops(&an.finish()?)?;
                let s = m.summary(&DialogueGate::default(), true);
                if let Some(mut b) = w.bext().cloned() {
                    b.loudness = s.bext();
                    w.set_bext(b)?;
                }
                loudness = Some(s);
            }
            let (st, written) = w.finish_unrenamed()?.into_staged();
            if written.frames != lp_len {
                return Err(Error::Output {
                    path: lp_path,
                    msg: format!("{} frames written, expected {lp_len}", written.frames),
                });
            }
            files.push((written, reel_files, st.tmp().to_path_buf()));
            staged.push(st);
        }
        // The joins, read back from the first file of the LP (still at its temporary path).
        let joins = check_joins(f, &files[0].2, &files[0].1)?;
        lps.push(LongPlay {
            label: label.clone(),
            kind: d0.kind,
            layout: d0.layout.name().to_string(),
            // Paths relative to the output folder: the report does not depend on where
            // the feature was rendered.
            files: files
                .into_iter()
                .map(|(mut w, _, _)| {
                    w.path = w.path.strip_prefix(out).unwrap_or(&w.path).to_path_buf();
                    w
                })
                .collect(),
            frames: lp_len,
            start_tc: start_tc.to_string(),
            joins,
            loudness,
        });
    }
    Ok((lps, staged))
}

/// Reads `frames` frames at `at` (planar).
fn read_at(path: &Path, at: u64, frames: usize) -> Result<Vec<Vec<f32>>> {
    let mut r = WavReader::open(path)?;
    let n = r.info().channels as usize;
    r.seek(at)?;
    let mut bufs = vec![Vec::new(); n];
    let got = r.read_planar(&mut bufs, frames)?;
    for b in &mut bufs {
        b.truncate(got);
    }
    Ok(bufs)
}

/// Checks every reel's part of the LP: one frame of samples on each side of each join
/// (and the LP's first and last frames) equal the reels' own samples there.
pub fn check_joins(f: &Feature, lp: &Path, reel_files: &[PathBuf]) -> Result<Vec<Join>> {
    let r1 = &f.reels[0];
    let frame = r1.frame_rate.frames_to_samples(1, r1.sample_rate).max(1) as u64;
    let lp_start = r1.start_samples + reel_span(f, 0).0 as i64;
    let mut at = 0u64;
    let mut joins = Vec::new();
    for (i, p) in f.reels.iter().enumerate() {
        let (a, b) = reel_span(f, i);
        let k = frame.min(b - a) as usize;
        let mut problems = Vec::new();
        // Head of the reel's part, and its tail.
        for (reel_at, lp_at, what) in [
            (a, at, "first"),
            (b - k as u64, at + (b - a) - k as u64, "last"),
        ] {
            let want = read_at(&reel_files[i], reel_at, k)?;
            let got = read_at(lp, lp_at, k)?;
            if want != got {
                problems.push(format!(
                    "the LP's samples {lp_at}..{} differ from the reel's {what} frame",
                    lp_at + k as u64
                ));
            }
        }
        let tc = |s: i64| crate::Timecode::from_samples(s, p.frame_rate, p.sample_rate).to_string();
        let lfoa = p.start_samples + p.lfoa;
        joins.push(Join {
            reel: p.reel,
            lp_sample: at,
            lp_tc: tc(lp_start + at as i64),
            reel_from: a,
            reel_to: b,
            reel_ffoa_tc: tc(p.start_samples + a as i64),
            reel_lfoa_tc: tc(lfoa),
            verified: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "reel {} samples {a}..{b} at LP sample {at}: first and last frames match the reel",
                    p.reel
                )
            } else {
                problems.join("; ")
            },
        });
        at += b - a;
    }
    if let Some(j) = joins.iter().find(|j| !j.verified) {
        return Err(Error::Output {
            path: lp.to_path_buf(),
            msg: format!("long play join of reel {} is wrong: {}", j.reel, j.detail),
        });
    }
    Ok(joins)
}
