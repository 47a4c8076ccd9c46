//! The conform's sync check: each conformed clip's placement measured against
//! the picture editor's guide track (the cut's audio at reel position) by
//! GCC-PHAT ([`crate::dialogue::sync`]), and optionally fixed.
//!
//! - The guide's first sample sits at its bext TimeReference when it has a
//!   non-zero one, else at the reel's start (the hour of the first edit, as
//!   the session is written); it must be at the conform's sample rate.
//! - Per clip, the guide over the clip's reel range (its first
//!   [`VerifyOptions::max_len_s`] seconds) is correlated with the same range
//!   of the clip's source channel as placed, within ±[`VerifyOptions::search_s`].
//!   The offset is in samples, fractional (positive: the clip is heard late),
//!   with polarity and confidence; below [`VerifyOptions::min_confidence`] the
//!   clip is "not verified" (never a guess), as are clips with a speed change,
//!   at another sample rate, shorter than 0.2 s or outside the guide.
//! - Fixing slides a clip found off by more than half a sample by the offset
//!   rounded to whole samples (its source in moves; its place on the reel,
//!   length and fades stay) and inverts a clip found out of polarity. A slide
//!   that would read outside the file is refused (the clip is reported "off").

use super::{ConformClip, Conformed};
use crate::dialogue::clip::read_frames;
use crate::dialogue::sync::{SyncOptions, sync};
use crate::io::read_info;
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Settings of [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    /// Largest |offset| searched, seconds.
    pub search_s: f64,
    /// At most this much of each clip is analysed (its start), seconds.
    pub max_len_s: f64,
    /// Below this confidence a clip is "not verified".
    pub min_confidence: f64,
    /// Slide clips found off and invert clips found inverted.
    pub fix: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            search_s: 0.5,
            max_len_s: 30.0,
            min_confidence: SyncOptions::default().min_confidence,
            fix: false,
        }
    }
}

/// The check of one clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipSync {
    /// The EDL event and the session track.
    pub event: u32,
    pub track: String,
    pub clip: String,
    /// `in sync`, `off`, `fixed` or `not verified`.
    pub status: &'static str,
    /// The clip as placed is heard late by this many samples (negative:
    /// early); `None` when not verified.
    pub offset_samples: Option<f64>,
    /// 1, or −1 when the clip is inverted against the guide.
    pub polarity: Option<i8>,
    /// `1 − second / main` correlation peak (0..1); given when measured.
    pub confidence: Option<f64>,
    /// Samples the clip's source in was moved by (fixed only).
    pub slid_samples: i64,
    /// The clip was set to play inverted (fixed only).
    pub inverted: bool,
    /// Why it was not verified or not fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The sync check of a conform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncCheck {
    pub guide: PathBuf,
    /// Reel sample of the guide's first sample, and where that came from.
    pub guide_start: i64,
    pub guide_start_from: &'static str,
    pub clips: Vec<ClipSync>,
    pub in_sync: usize,
    pub off: usize,
    pub fixed: usize,
    pub not_verified: usize,
}

/// Checks (and with `opts.fix`, fixes) every clip of `c` against `guide`.
/// Errors: the guide unreadable, at another sample rate, or nothing matched.
pub fn verify(c: &mut Conformed, guide: &Path, opts: &VerifyOptions) -> Result<SyncCheck> {
    let info = read_info(guide)?;
    if info.sample_rate != c.sample_rate {
        return Err(Error::format(
            guide,
            format!(
                "the guide is at {} Hz, the conform at {} Hz: give a guide at the conform's rate",
                info.sample_rate, c.sample_rate
            ),
        ));
    }
    let (guide_start, from) = match info.bext.as_ref().map(|b| b.time_reference) {
        Some(t) if t > 0 => (t as i64, "its bext TimeReference"),
        _ => (c.reel_start()?.to_samples(c.sample_rate), "the reel start"),
    };
    let mut clips = Vec::new();
    for (track, list) in &mut c.tracks {
        for clip in list.iter_mut() {
            let before = clip.offset;
            let mut r = check_clip(clip, guide, guide_start, info.frames, c.sample_rate, opts);
            r.track = track.clone();
            if r.slid_samples != 0 {
                // the conform report's offset follows the slide
                let same = |e: &&mut super::EventReport| {
                    e.number == clip.event && e.track == *track && e.offset == Some(before)
                };
                if let Some(e) = c.events.iter_mut().find(same) {
                    e.offset = Some(clip.offset);
                }
            }
            clips.push(r);
        }
    }
    let count = |s: &str| clips.iter().filter(|r| r.status == s).count();
    Ok(SyncCheck {
        guide: guide.to_path_buf(),
        guide_start,
        guide_start_from: from,
        in_sync: count("in sync"),
        off: count("off"),
        fixed: count("fixed"),
        not_verified: count("not verified"),
        clips,
    })
}

fn check_clip(
    clip: &mut ConformClip,
    guide: &Path,
    guide_start: i64,
    guide_frames: u64,
    sample_rate: u32,
    opts: &VerifyOptions,
) -> ClipSync {
    let mut r = ClipSync {
        event: clip.event,
        track: String::new(),
        clip: clip.name.clone(),
        status: "not verified",
        offset_samples: None,
        polarity: None,
        confidence: None,
        slid_samples: 0,
        inverted: false,
        reason: None,
    };
    let sr = f64::from(sample_rate);
    let why = if clip.speed.is_some() {
        Some("the clip has a speed change".to_string())
    } else if clip.source_rate != sample_rate {
        Some(format!(
            "the file is at {} Hz, the guide at {sample_rate} Hz",
            clip.source_rate
        ))
    } else {
        None
    };
    if let Some(w) = why {
        r.reason = Some(w);
        return r;
    }
    // the clip's reel range inside the guide, at most max_len_s of it
    let g0 = (clip.record - guide_start).max(0);
    let g1 = (clip.record + clip.length as i64 - guide_start)
        .min(guide_frames as i64)
        .min(g0 + (opts.max_len_s * sr) as i64);
    if g1 - g0 < (0.2 * sr) as i64 {
        r.reason = Some("less than 0.2 s of the clip lies inside the guide".into());
        return r;
    }
    let n = (g1 - g0) as u64;
    let src = clip.offset + (guide_start + g0 - clip.record) as u64;
    let audio = read_frames(guide, None, g0 as u64, n)
        .and_then(|g| read_frames(&clip.file, Some(clip.channel), src, n).map(|t| (g, t)));
    let (g, t) = match audio {
        Ok(v) => v,
        Err(e) => {
            r.reason = Some(e);
            return r;
        }
    };
    let so = SyncOptions {
        max_offset_s: Some(opts.search_s),
        min_confidence: 0.0,
        drift_window_s: f64::INFINITY,
        ..SyncOptions::default()
    };
    let found = match sync(&g, &t, sample_rate, &so) {
        Ok(f) => f,
        Err(e) => {
            r.reason = Some(e.to_string());
            return r;
        }
    };
    r.confidence = Some(found.confidence);
    if found.confidence < opts.min_confidence {
        r.reason = Some(format!(
            "confidence {:.2} is below {:.2} (does the guide hold this take here?)",
            found.confidence, opts.min_confidence
        ));
        return r;
    }
    let d = found.offset_samples;
    r.offset_samples = Some(d);
    r.polarity = Some(found.polarity);
    let off = d.abs() > 0.5;
    let inverted = found.polarity < 0;
    if !off && !inverted {
        r.status = "in sync";
        return r;
    }
    r.status = "off";
    if !opts.fix {
        return r;
    }
    let shift = if off { d.round() as i64 } else { 0 };
    let new_off = clip.offset as i64 + shift;
    let file_frames = read_info(&clip.file).map(|i| i.frames).unwrap_or(0);
    if new_off < 0 || new_off as u64 + clip.length > file_frames {
        r.reason = Some(format!(
            "cannot slide by {shift} samples: {} has no audio there",
            clip.file.display()
        ));
        return r;
    }
    clip.offset = new_off as u64;
    clip.handles = [
        (clip.handles[0] as i64 + shift).clamp(0, new_off) as u64,
        (clip.handles[1] as i64 - shift).max(0) as u64,
    ];
    if inverted {
        clip.invert_polarity = !clip.invert_polarity;
    }
    r.slid_samples = shift;
    r.inverted = inverted;
    r.status = "fixed";
    r
}

impl SyncCheck {
    /// One line per clip.
    pub fn report_text(&self) -> String {
        let mut o = format!(
            "sync against {} (first sample at reel sample {}, {}): {} in sync, {} off, {} fixed, {} not verified\n",
            self.guide.display(),
            self.guide_start,
            self.guide_start_from,
            self.in_sync,
            self.off,
            self.fixed,
            self.not_verified
        );
        for c in &self.clips {
            o.push_str(&format!("{:>4} {:<8} {:<12}", c.event, c.track, c.status));
            if let (Some(d), Some(p), Some(q)) = (c.offset_samples, c.polarity, c.confidence) {
                o.push_str(&format!(
                    " {d:+.2} samples, polarity {}, confidence {q:.2}",
                    if p < 0 { "inverted" } else { "normal" }
                ));
            }
            if c.status == "fixed" {
                let mut did = Vec::new();
                if c.slid_samples != 0 {
                    did.push(format!("slid {:+} samples", c.slid_samples));
                }
                if c.inverted {
                    did.push("inverted".to_string());
                }
                o.push_str(&format!(": {}", did.join(", ")));
            }
            if let Some(w) = &c.reason {
                o.push_str(&format!(" ({w})"));
            }
            o.push('\n');
        }
        o
    }
}
