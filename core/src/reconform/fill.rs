//! New material of a re-conform conformed fresh from the recorder's files
//! (`reconform --media`). Each inserted record range of the new list is cut
//! out of the new list's edits (record and source timecodes moved by the same
//! frames, at the list's nominal rate, as [`super::compare`] reads them; each
//! a cut) and relinked by [`crate::conform`], the relinker of `dubstage
//! conform`: the same takes, channels, handles and report. At a boundary with
//! a moved piece the usual new-edit crossfade is made: the filled clip fades in
//! under the outgoing piece's handle, and at its end continues for
//! [`NEW_EDIT_XFADE_S`] into its own handle, fading out under the piece that
//! follows (which fades in). Edits with a speed change (`M2`) are filled only
//! where all of the edit is new.

use super::{ChangeList, NEW_EDIT_XFADE_S};
use crate::Result;
use crate::conform::{self, ConformOptions, EventReport};
use crate::editorial::{EditList, ListTimecode, Transition};
use crate::timecode::{FrameRate, Timecode};
use serde::Serialize;

/// One inserted range of the new list and what filled it.
#[derive(Debug, Clone, Serialize)]
pub struct FillRange {
    /// The range on the new reel (the list's rate).
    pub record_in: String,
    pub record_out: String,
    /// `filled` (every edit in it matched), `partly filled` or `gap`.
    pub status: &'static str,
    /// One per edit and record track in the range, as `conform` reports them:
    /// `matched` (file, channel, offset in samples), `unmatched` (with the
    /// reason) or `ambiguous` (with the candidates).
    pub events: Vec<EventReport>,
    /// The range in record frames since midnight.
    #[serde(skip)]
    pub frames: (i64, i64),
}

/// New material conformed from the recorder's files.
#[derive(Debug, Clone, Serialize)]
pub struct Fill {
    /// Every inserted range, in order.
    pub ranges: Vec<FillRange>,
    /// The filled clips by track id (`A1`, `A2_boom`), as `[[track.clip]]`
    /// tables of the conform's session, paths relative to the session folder.
    #[serde(skip)]
    pub tracks: Vec<(String, Vec<toml::Value>)>,
    pub warnings: Vec<String>,
}

impl Fill {
    /// The ranges that received audio (record frames since midnight).
    pub fn filled_ranges(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ranges
            .iter()
            .filter(|r| r.status != "gap")
            .map(|r| r.frames)
    }
}

/// `tc` moved by `by` frames: at the list's drop-frame rate where it is written
/// drop-frame, else counted at the nominal rate (a source timecode may pass
/// the list's rate).
fn shift(tc: ListTimecode, by: i64, rate: FrameRate) -> ListTimecode {
    let r = tc.rate_in(rate, false);
    if tc.drop && r.is_drop() {
        if let Ok(f) = tc.frames_at(r) {
            return of(Timecode::from_frames(f + by, r));
        }
    }
    let n = rate.nominal() as i64;
    let f = (tc.frames_nominal(rate.nominal()) + by).max(0);
    ListTimecode {
        hours: (f / (3600 * n)) as u32,
        minutes: (f / (60 * n) % 60) as u32,
        seconds: (f / n % 60) as u32,
        frames: (f % n) as u32,
        drop: false,
    }
}

fn of(t: Timecode) -> ListTimecode {
    ListTimecode {
        hours: t.hours,
        minutes: t.minutes,
        seconds: t.seconds,
        frames: t.frames,
        drop: t.rate.is_drop(),
    }
}

/// Conforms the inserted ranges of `changes` from `new` with the takes in
/// `opts.media`, at the session's `sample_rate`.
pub fn fill(
    new: &EditList,
    changes: &ChangeList,
    sample_rate: u32,
    opts: &ConformOptions,
) -> Result<Fill> {
    let rate = new.rate;
    let sr = sample_rate;
    let (takes, mut warnings) = conform::scan(&opts.media, rate)?;
    let xfade = (NEW_EDIT_XFADE_S * sr as f64).round() as u64;
    let samples = |f: i64| rate.frames_to_samples(f, sr);
    let piece_ends: Vec<i64> = changes
        .moves
        .iter()
        .map(|m| m.new_in + m.old_out - m.old_in)
        .collect();
    let piece_starts: Vec<i64> = changes.moves.iter().map(|m| m.new_in).collect();
    let mut ranges = Vec::new();
    let mut tracks: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for &(a, b) in &changes.inserted {
        let mut edits = Vec::new();
        let mut refused = 0;
        for e in &new.edits {
            if e.tracks.is_empty() || e.is_black() {
                continue;
            }
            let rr = |t: ListTimecode| t.frames_at(t.rate_in(rate, new.drop_frame));
            let (Ok(rin), Ok(rout)) = (rr(e.record_in), rr(e.record_out)) else {
                continue;
            };
            let (s, t) = (rin.max(a), rout.min(b));
            if s >= t {
                continue;
            }
            if e.motion.is_some() && (s, t) != (rin, rout) {
                refused += 1;
                warnings.push(format!(
                    "new event {}: only part of its speed change (M2) is new material; that part is left as a gap",
                    e.number
                ));
                continue;
            }
            let mut c = e.clone();
            c.transition = Transition::Cut;
            c.transition_frames = 0;
            c.source_in = shift(e.source_in, s - rin, rate);
            c.source_out = shift(e.source_in, t - rin, rate);
            let rec_rate = e.record_in.rate_in(rate, new.drop_frame);
            c.record_in = of(Timecode::from_frames(s, rec_rate));
            c.record_out = of(Timecode::from_frames(t, rec_rate));
            edits.push(c);
        }
        let sub = EditList {
            kind: new.kind,
            title: new.title.clone(),
            rate,
            drop_frame: new.drop_frame,
            reel_width: new.reel_width,
            edits,
            warnings: Vec::new(),
            otio_document: None,
        };
        let mut c = conform::conform_takes(&sub, opts, &takes, Vec::new(), Some(sr))?;
        let (sa, sb) = (samples(a), samples(b));
        for clip in c.tracks.iter_mut().flat_map(|(_, v)| v.iter_mut()) {
            if clip.record == sa && piece_ends.contains(&a) {
                clip.fade_in = clip.fade_in.max(xfade).min(clip.length);
            }
            if clip.record + clip.length as i64 == sb && piece_starts.contains(&b) {
                if clip.speed.is_none() && clip.source_rate == sr && clip.handles[1] >= xfade {
                    clip.length += xfade;
                    clip.handles[1] -= xfade;
                    clip.fade_out = xfade;
                } else {
                    clip.fade_out = clip.fade_out.max(xfade).min(clip.length);
                }
            }
        }
        if c.matched > 0 {
            let doc: toml::Table = toml::from_str(&c.session_toml(&opts.session_dir)?)
                .map_err(|e| crate::Error::Invalid(e.to_string()))?;
            let written = doc.get("track").and_then(|t| t.as_array());
            for t in written.into_iter().flatten() {
                let id = t.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                let clips = t.get("clip").and_then(|v| v.as_array()).cloned();
                let clips = clips.unwrap_or_default();
                match tracks.iter_mut().find(|(k, _)| k == id) {
                    Some((_, v)) => v.extend(clips),
                    None => tracks.push((id.to_string(), clips)),
                }
            }
        }
        for w in c.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        let tc = |f: i64| Timecode::from_frames(f, rate).to_string();
        ranges.push(FillRange {
            record_in: tc(a),
            record_out: tc(b),
            status: if c.matched == 0 {
                "gap"
            } else if c.unmatched + c.ambiguous + refused == 0 {
                "filled"
            } else {
                "partly filled"
            },
            events: c.events,
            frames: (a, b),
        });
    }
    Ok(Fill {
        ranges,
        tracks,
        warnings,
    })
}
