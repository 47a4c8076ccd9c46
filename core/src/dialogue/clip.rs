//! ADR alignment as a clip option: a timeline clip (`[[track.clip]]`) whose
//! source is an ADR take may name the production guide it must match, and the
//! render plays the take warped to the guide's timing ([`super::align`]).
//!
//! ```toml
//! [[track.clip]]
//! source = "adr/sc12_l3_t4.wav"   # the dub (mono, at the reel's rate)
//! source_in_samples = 0           # where the dub starts in its file
//! record_in = "01:00:10:00"
//! length = "00:00:03:00"          # the guide's span on the reel
//! align = "guide/sc12_l3.wav"     # a guide whose first sample sits at record_in
//! # or, with the guide inside a production file:
//! # align = { guide = "prod/sc12.wav", channel = 2, guide_in_samples = 480000,
//! #           dub_length_samples = 168000, tolerance_ms = 5 }
//! ```
//!
//! The clip's `length` is the guide's span (the aligned dub is as long as the
//! guide); the dub is read from the clip's first source sample to the end of
//! its file, or for `dub_length_samples`, so a dub slower or faster than the
//! guide fits. The warp is computed when the clip is first read, from the
//! guide's span and the dub alone (so it is the same in every pass and for any
//! block size), and the aligned clip is held while the clip plays: memory
//! bounded by the clip, not the reel.

use super::align::{AlignOptions, MAX_ALIGN_S, align};
use crate::io::AudioReader;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `align` key of a clip: a guide file, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ClipAlignSpec {
    /// A guide file whose first sample sits at the clip's `record_in`.
    Guide(String),
    /// A guide inside a longer file.
    Table(ClipAlignTable),
}

/// `align = { guide = ..., channel = ..., guide_in_samples = ..., ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipAlignTable {
    /// The guide file (the production sound of the line).
    pub guide: String,
    /// Its channel, 1-based (default 1: the boom, on most recorders).
    pub channel: Option<usize>,
    /// Where the guide's span starts in its file (default 0).
    pub guide_in_samples: Option<u64>,
    /// How much of the dub's file the take lasts (default: to its end).
    pub dub_length_samples: Option<u64>,
    /// Below this deviation from the guide's timing the dub is left alone, ms
    /// (default 5).
    pub tolerance_ms: Option<f64>,
}

/// A resolved `align` option.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipAlign {
    /// The guide file and its channel (0-based).
    pub guide: PathBuf,
    pub channel: usize,
    /// The guide's first sample in its file.
    pub guide_start: u64,
    /// The dub's frames from the clip's first source sample.
    pub dub_frames: u64,
    pub tolerance_ms: f64,
    /// The reel's (and so the guide's and the dub's) sample rate.
    pub rate: u32,
}

impl ClipAlign {
    /// Checks the option against the files: the guide at the reel's rate
    /// `rate`, its span (`length` samples from `guide_in_samples`) inside it;
    /// the dub one channel, played as it is (not `converted` to another rate
    /// or speed), with `dub_available` frames after the clip's first source
    /// sample. `resolve` maps a session path to a file.
    /// Errors are sentences for the clip's label.
    pub fn resolve(
        spec: &ClipAlignSpec,
        resolve: impl Fn(&str) -> PathBuf,
        rate: u32,
        length: u64,
        dub_channels: usize,
        converted: bool,
        dub_available: u64,
    ) -> std::result::Result<ClipAlign, String> {
        let t = match spec {
            ClipAlignSpec::Guide(g) => ClipAlignTable {
                guide: g.clone(),
                channel: None,
                guide_in_samples: None,
                dub_length_samples: None,
                tolerance_ms: None,
            },
            ClipAlignSpec::Table(t) => t.clone(),
        };
        if dub_channels != 1 {
            return Err(format!(
                "align: the dub plays {dub_channels} channels; alignment warps one (take one \
                 channel of the take, or one clip per channel)"
            ));
        }
        if converted {
            return Err(format!(
                "align: the dub would be converted (another rate than the reel's {rate} Hz, or a \
                 speed); an aligned clip plays its take as it is (convert the take first)"
            ));
        }
        let guide = resolve(&t.guide);
        let info = AudioReader::open(&guide)
            .map_err(|e| format!("align: {e}"))?
            .info()
            .clone();
        if info.sample_rate != rate {
            return Err(format!(
                "align: the guide {} is at {} Hz, the reel at {rate} Hz",
                guide.display(),
                info.sample_rate
            ));
        }
        let channel = t.channel.unwrap_or(1);
        if channel == 0 || channel > usize::from(info.channels) {
            return Err(format!(
                "align: channel {channel} of the guide {}, which has {} (channels count from 1)",
                guide.display(),
                info.channels
            ));
        }
        let guide_start = t.guide_in_samples.unwrap_or(0);
        if guide_start + length > info.frames {
            return Err(format!(
                "align: the guide's span is samples {guide_start}..{} of {}, which has {}",
                guide_start + length,
                guide.display(),
                info.frames
            ));
        }
        let dub_frames = t.dub_length_samples.unwrap_or(dub_available);
        if dub_frames == 0 || dub_frames > dub_available {
            return Err(format!(
                "align: the dub lasts {dub_frames} samples but its file has {dub_available} \
                 after the clip's first source sample"
            ));
        }
        let max = (MAX_ALIGN_S * f64::from(rate)) as u64;
        if length > max || dub_frames > max {
            return Err(format!(
                "align: a clip of at most {MAX_ALIGN_S} s can be aligned (give \
                 dub_length_samples, or cut the line out first)"
            ));
        }
        let tolerance_ms = t
            .tolerance_ms
            .unwrap_or(AlignOptions::default().tolerance_ms);
        if !(tolerance_ms.is_finite() && tolerance_ms >= 0.0) {
            return Err(format!(
                "align: tolerance_ms {tolerance_ms} (give a number of ms, 0 or more)"
            ));
        }
        Ok(ClipAlign {
            guide,
            channel: channel - 1,
            guide_start,
            dub_frames,
            tolerance_ms,
            rate,
        })
    }

    /// The clip's `length` samples: channel `dub_channel` of `dub` from
    /// `dub_start`, warped to the guide's span (the dub as it is, cut or padded
    /// with silence to the length, when it is within the tolerance).
    pub fn render(
        &self,
        dub: &Path,
        dub_channel: usize,
        dub_start: u64,
        length: u64,
    ) -> std::result::Result<Vec<f32>, String> {
        let guide = read_channel(&self.guide, self.channel, self.guide_start, length)?;
        let take = read_channel(dub, dub_channel, dub_start, self.dub_frames)?;
        let opts = AlignOptions {
            tolerance_ms: self.tolerance_ms,
            ..AlignOptions::default()
        };
        let (mut out, _) = align(&guide, &take, self.rate, &opts).map_err(|e| {
            format!(
                "align to {} (channel {}): {e}",
                self.guide.display(),
                self.channel + 1
            )
        })?;
        out.resize(length as usize, 0.0);
        Ok(out)
    }
}

/// `frames` samples of channel `ch` of `path` from `start` (all inside the
/// file: checked when the plan resolved); refuses non-finite samples.
fn read_channel(
    path: &Path,
    ch: usize,
    start: u64,
    frames: u64,
) -> std::result::Result<Vec<f32>, String> {
    read_frames(path, Some(ch), start, frames)
}

/// `frames` samples of channel `ch` of `path` from `start` (`None`: the mean
/// of the channels), all inside the file; refuses non-finite samples.
pub(crate) fn read_frames(
    path: &Path,
    ch: Option<usize>,
    start: u64,
    frames: u64,
) -> std::result::Result<Vec<f32>, String> {
    let mut r = AudioReader::open(path).map_err(|e| e.to_string())?;
    r.seek(start).map_err(|e| e.to_string())?;
    let nch = usize::from(r.info().channels);
    let mut buf = vec![Vec::new(); nch];
    let mut out = Vec::with_capacity(frames as usize);
    while (out.len() as u64) < frames {
        let want = ((frames - out.len() as u64) as usize).min(1 << 16);
        let got = r.read_planar(&mut buf, want).map_err(|e| e.to_string())?;
        if got == 0 {
            return Err(format!("{} ended early (truncated?)", path.display()));
        }
        match ch {
            Some(c) => out.extend_from_slice(&buf[c][..got]),
            None => {
                let inv = 1.0 / nch as f32;
                out.extend((0..got).map(|i| buf.iter().map(|b| b[i]).sum::<f32>() * inv));
            }
        }
    }
    if let Some(j) = out.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "{} holds a non-finite sample at frame {}",
            path.display(),
            start + j as u64
        ));
    }
    Ok(out)
}
