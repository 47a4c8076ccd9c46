//! The picture editor's lists: CMX 3600 EDLs (with the Avid and Premiere
//! audio variants) and OpenTimelineIO JSON, read into one model, an
//! [`EditList`] of [`Edit`]s, that conform works from.
//!
//! - [`edl`]: CMX 3600 (`TITLE`, `FCM` anywhere, event lines with 8-, 32- or
//!   128-character reels and any event-number width, `AUD 3/4`, `* PATCH`,
//!   `* FROM CLIP NAME` / `* TO CLIP NAME` / `* SOURCE FILE` comments,
//!   dissolves, wipes and keys, `M2` speed lines, `SPLIT` lines).
//! - [`otio`]: OpenTimelineIO JSON (`Timeline`, `Stack`, `Track`, `Clip`,
//!   `Gap`, `Transition`, `ExternalReference`; schema versions 1 and 2 of
//!   `Clip`, `Sequence.1`), keeping the whole document so that nothing the
//!   file holds is lost.
//! - [`ale`]: Avid Log Exchange clip logs, which send edits that name camera
//!   clips to their sound rolls and sound timecode.
//!
//! Timecodes in a list are kept as written ([`ListTimecode`]) and read at a
//! frame rate only where one is known: the record side at the list's rate
//! (`--fps`, with `FCM` choosing drop-frame), the source side at the rate
//! of the source itself (a sound roll is often recorded at another rate than
//! the picture, so its frame numbers may pass the list's rate).

pub mod ale;
pub mod edl;
pub mod otio;

use crate::timecode::{FrameRate, Timecode};
use serde::Serialize;
use std::fmt;

/// A timecode as a list writes it: four digit groups and whether it was
/// written drop-frame (`;` before the frames). It is interpreted at a
/// [`FrameRate`] by [`ListTimecode::frames_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListTimecode {
    pub hours: u32,
    pub minutes: u32,
    pub seconds: u32,
    pub frames: u32,
    /// Written with `;` (or `,`) before the frames: drop-frame.
    pub drop: bool,
}

impl ListTimecode {
    /// Reads `hh:mm:ss:ff` (`;`, `.` or `,` before the frames for
    /// drop-frame; one- or two-digit groups). `None` when `text` is not
    /// timecode-shaped. Ranges are checked by [`ListTimecode::frames_at`].
    pub fn parse(text: &str) -> Option<ListTimecode> {
        let b = text.as_bytes();
        let mut groups = [0u32; 4];
        let mut g = 0;
        let mut digits = 0;
        let mut drop = false;
        for &c in b {
            match c {
                b'0'..=b'9' => {
                    digits += 1;
                    if digits > 2 {
                        return None;
                    }
                    groups[g] = groups[g] * 10 + (c - b'0') as u32;
                }
                b':' | b';' | b'.' | b',' => {
                    if digits == 0 || g == 3 {
                        return None;
                    }
                    if g == 2 && c != b':' {
                        drop = true;
                    }
                    g += 1;
                    digits = 0;
                }
                _ => return None,
            }
        }
        if g != 3 || digits == 0 {
            return None;
        }
        Some(ListTimecode {
            hours: groups[0],
            minutes: groups[1],
            seconds: groups[2],
            frames: groups[3],
            drop,
        })
    }

    /// The rate this timecode is read at when the list's rate is `rate`: a
    /// timecode written drop-frame, or a list whose `FCM` says DROP FRAME,
    /// reads 29.97 and 59.94 as drop-frame.
    pub fn rate_in(self, rate: FrameRate, fcm_drop: bool) -> FrameRate {
        if self.drop || fcm_drop {
            match rate {
                FrameRate::Fps29_97Ndf => FrameRate::Fps29_97Df,
                FrameRate::Fps59_94Ndf => FrameRate::Fps59_94Df,
                r => r,
            }
        } else {
            rate
        }
    }

    /// This timecode at `rate` (ranges and dropped frame numbers checked).
    pub fn at(self, rate: FrameRate) -> Result<Timecode, String> {
        let sep = if rate.is_drop() { ';' } else { ':' };
        let text = format!(
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        );
        Timecode::parse(&text, rate).map_err(|e| match e {
            crate::Error::Timecode { msg, .. } => format!("timecode {self}: {msg}"),
            e => e.to_string(),
        })
    }

    /// Frames since midnight at `rate` (drop-frame aware).
    pub fn frames_at(self, rate: FrameRate) -> Result<i64, String> {
        self.at(rate).map(Timecode::to_frames)
    }

    /// Frames since midnight counted at `nominal` frames per second, with no
    /// range check on the frame number (for a source recorded at a rate the
    /// list does not say: `seconds * nominal + frames`).
    pub fn frames_nominal(self, nominal: u64) -> i64 {
        ((self.hours as i64 * 60 + self.minutes as i64) * 60 + self.seconds as i64) * nominal as i64
            + self.frames as i64
    }
}

impl fmt::Display for ListTimecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.drop { ';' } else { ':' };
        write!(
            f,
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        )
    }
}

/// How an edit begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `C`: a cut.
    Cut,
    /// `D`: a dissolve (for audio, a crossfade) of `Edit::transition_frames`.
    Dissolve,
    /// `Wnnn`: a wipe, with its SMPTE wipe number (for audio, a crossfade).
    Wipe(u32),
    /// `K`, `KB`, `KO` (keys: picture only; audio treats them as cuts).
    Key(String),
}

impl Transition {
    /// The code as a list writes it: `C`, `D`, `W001`, `K`, `KB`, `KO`.
    pub fn code(&self) -> String {
        match self {
            Transition::Cut => "C".into(),
            Transition::Dissolve => "D".into(),
            Transition::Wipe(n) => format!("W{n:03}"),
            Transition::Key(k) => k.clone(),
        }
    }
}

/// An `M2` motion-memory line: the source plays at `fps` frames per second
/// (0 = freeze frame, negative = reverse) from `trigger`.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionEffect {
    /// The reel the line names.
    pub reel: String,
    /// Source frames per second (as written, e.g. 47.6).
    pub fps: f64,
    /// The source timecode where the effect starts.
    pub trigger: Option<ListTimecode>,
    /// 1-based line number.
    pub line: usize,
}

/// A `SPLIT:` line: the audio (or video) of the next edit starts `delay`
/// after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// `VIDEO DELAY` (true) or `AUDIO DELAY` (false).
    pub video: bool,
    /// The delay as written.
    pub delay: Option<ListTimecode>,
}

/// One source-to-record operation: an event line of an EDL (a dissolve's
/// event has two: the outgoing, often zero-length, and the incoming), or a
/// clip of an OTIO track.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The event number (shared by the edits of one event).
    pub number: u32,
    /// 1-based line of the event line (OTIO: the clip's index in its track).
    pub line: usize,
    /// The source reel: a tape, a sound roll (Avid dialogue lists), a clip
    /// name (File32/File128 lists); `BL` = black/silence, `AX` = auxiliary.
    pub reel: String,
    /// The channel field as written (`V`, `A`, `A2`, `AA`, `B`, `AA/V`,
    /// `NONE`, `A3`, ...).
    pub channels: String,
    /// The edit carries picture.
    pub video: bool,
    /// The record (timeline) audio tracks, 1-based, in increasing order.
    pub tracks: Vec<u32>,
    /// How it begins.
    pub transition: Transition,
    /// The transition's length in record frames (0 for a cut).
    pub transition_frames: u32,
    pub source_in: ListTimecode,
    pub source_out: ListTimecode,
    pub record_in: ListTimecode,
    pub record_out: ListTimecode,
    /// `* FROM CLIP NAME:` (or `* TO CLIP NAME:` for a transition's incoming edit).
    pub clip_name: Option<String>,
    /// `* SOURCE FILE:` (Avid: the camera clip).
    pub source_file: Option<String>,
    /// `* FROM CLIP:` / `* FROM FILE:` paths (Avid, Nucoda), or an OTIO
    /// `ExternalReference`'s `target_url`.
    pub source_path: Option<String>,
    /// `* PATCH ... FROM SOURCE n TO RECORD m`: (source channel, record track).
    pub patch: Vec<(u32, u32)>,
    /// The `M2` line that applies to this edit.
    pub motion: Option<MotionEffect>,
    /// The `SPLIT:` line before this edit.
    pub split: Option<Split>,
    /// Other comment lines of the event, as written (without the `*`).
    pub comments: Vec<String>,
    /// Made by the OTIO reader from an audio track's `Transition` (the
    /// outgoing side of a crossfade or of a fade to black, or the black of a
    /// fade from black), not a clip of the list: see [`otio`].
    pub from_transition: bool,
}

impl Edit {
    /// Source is black (video) or silence (audio): `BL`.
    pub fn is_black(&self) -> bool {
        self.reel.eq_ignore_ascii_case("BL")
    }

    /// Playback speed relative to normal (1.0), from the `M2` line and the
    /// list's rate: 0 is a freeze frame, negative is reverse.
    pub fn speed(&self, rate: FrameRate) -> Option<f64> {
        self.motion.as_ref().map(|m| m.fps / rate.nominal() as f64)
    }
}

/// Where a list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// A CMX 3600 EDL.
    Cmx3600,
    /// An OpenTimelineIO file.
    Otio,
}

/// A parsed list.
#[derive(Debug, Clone)]
pub struct EditList {
    pub kind: ListKind,
    /// `TITLE:` (OTIO: the timeline's name).
    pub title: String,
    /// The rate the list was read at (`--fps`).
    pub rate: FrameRate,
    /// The first `FCM:` said DROP FRAME.
    pub drop_frame: bool,
    /// Reel field width of the first event: 8 (CMX 3600), 32 (File32), 128
    /// (File128), or another number for lists that follow none.
    pub reel_width: usize,
    /// Every edit, in list order.
    pub edits: Vec<Edit>,
    /// Lines that were not understood and were skipped, and other remarks
    /// (`line N: ...`).
    pub warnings: Vec<String>,
    /// An OTIO document as read (for export with unknown fields kept).
    pub otio_document: Option<serde_json::Value>,
}

/// One edit of `conform --dry-run --json`: the shape.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunEvent {
    pub number: u32,
    pub reel: String,
    pub tracks: Vec<u32>,
    pub transition: String,
    pub transition_frames: u32,
    pub source_in: String,
    pub source_out: String,
    pub record_in: String,
    pub record_out: String,
    pub clip_name: Option<String>,
    pub source_file: Option<String>,
    pub speed: Option<f64>,
}

/// `conform --dry-run --json`: the list as parsed.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub title: String,
    pub format: ListKind,
    pub frame_rate: String,
    pub events: Vec<DryRunEvent>,
    pub warnings: Vec<String>,
}

impl EditList {
    /// The timecode `tc` of a record position, printed at the list's rate.
    pub fn record_text(&self, tc: ListTimecode) -> String {
        match tc.at(tc.rate_in(self.rate, self.drop_frame)) {
            Ok(t) => t.to_string(),
            Err(_) => tc.to_string(),
        }
    }

    /// The dry-run view: one entry per edit (EDL) or per clip on an audio
    /// track (OTIO). `speed` is the playback speed relative to normal
    /// (`M2` frames per second / the list's rate; 0 = freeze), `null` when
    /// the edit has no speed change. Source timecodes that are not valid at
    /// the list's rate (a sound roll at another rate) are printed as written.
    pub fn dry_run(&self) -> DryRun {
        let events = self
            .edits
            .iter()
            .filter(|e| {
                self.kind == ListKind::Cmx3600 || (!e.tracks.is_empty() && !e.from_transition)
            })
            .map(|e| DryRunEvent {
                number: e.number,
                reel: e.reel.clone(),
                tracks: e.tracks.clone(),
                transition: e.transition.code(),
                transition_frames: e.transition_frames,
                source_in: self.record_text(e.source_in),
                source_out: self.record_text(e.source_out),
                record_in: self.record_text(e.record_in),
                record_out: self.record_text(e.record_out),
                clip_name: e.clip_name.clone(),
                source_file: e.source_file.clone(),
                speed: e.speed(self.rate),
            })
            .collect();
        DryRun {
            title: self.title.clone(),
            format: self.kind,
            frame_rate: self.rate.name().to_string(),
            events,
            warnings: self.warnings.clone(),
        }
    }
}

/// Reads a list file: OTIO when its name ends in `.otio` or its text starts
/// with `{`, CMX 3600 otherwise.
pub fn read_list(path: &std::path::Path, rate: FrameRate) -> crate::Result<EditList> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
    let text = decode_text(&bytes);
    let is_otio = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("otio"))
        || text.trim_start().starts_with('{');
    if is_otio {
        otio::parse(&text, rate).map_err(|m| crate::Error::format(path, m))
    } else {
        edl::parse(&text, rate).map_err(|(line, msg)| crate::Error::Session {
            path: path.to_path_buf(),
            line,
            col: None,
            msg,
        })
    }
}

/// Text of a list: UTF-8 (a BOM dropped), else Latin-1 (older Avid and
/// CMX systems), so that no list is refused for its encoding.
pub fn decode_text(bytes: &[u8]) -> String {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_timecodes_parse_as_written() {
        let t = ListTimecode::parse("01:02:03:27").unwrap();
        assert_eq!((t.hours, t.minutes, t.seconds, t.frames), (1, 2, 3, 27));
        assert!(!t.drop);
        assert!(ListTimecode::parse("01:00:00;02").unwrap().drop);
        assert!(ListTimecode::parse("01:00:00.02").unwrap().drop);
        for bad in [
            "01:00:00",
            "001:00:00:00",
            "aa:00:00:00",
            "01:00:00:00:00",
            "",
        ] {
            assert!(ListTimecode::parse(bad).is_none(), "{bad}");
        }
        // a sound roll at 30 fps in a 24 fps list: kept, refused only at 24
        assert!(t.frames_at(FrameRate::Fps24).is_err());
        assert_eq!(t.frames_at(FrameRate::Fps30).unwrap(), t.frames_nominal(30));
    }

    #[test]
    fn fcm_drop_frame_reads_29_97_as_drop() {
        let t = ListTimecode::parse("00:10:00:00").unwrap();
        assert_eq!(
            t.rate_in(FrameRate::Fps29_97Ndf, true),
            FrameRate::Fps29_97Df
        );
        assert_eq!(
            t.frames_at(t.rate_in(FrameRate::Fps29_97Ndf, true))
                .unwrap(),
            17_982
        );
        assert_eq!(t.rate_in(FrameRate::Fps25, true), FrameRate::Fps25);
    }
}
