//! Avid Log Exchange (ALE): the picture department's clip log, which links
//! camera clips to the production sound. A tab-delimited text file in three
//! sections:
//!
//! ```text
//! Heading
//! FIELD_DELIM<TAB>TABS
//! VIDEO_FORMAT<TAB>1080
//! FPS<TAB>23.976
//!
//! Column
//! Name<TAB>Tape<TAB>Start<TAB>End<TAB>Soundroll<TAB>Sound TC<TAB>TRK1<TAB>TRK2
//!
//! Data
//! A005C001_160815_R1BY<TAB>A005R1BY<TAB>15:44:10:00<TAB>...<TAB>SR001<TAB>12:40:00:00<TAB>Boom<TAB>Lav
//! ```
//!
//! What conform takes from it ([`apply`]): for an edit whose reel, clip name
//! or source file names a row's `Name` (or its `Tape`, where the row's camera
//! `Start`..`End` holds the edit's source in; case-insensitive), the
//! row's sound roll (`Soundroll` or `Sound Roll`) becomes the edit's reel and
//! its source timecodes move by the row's sound timecode (`Sound TC` or
//! `Auxiliary TC1`) minus its camera `Start`, both at the ALE's `FPS`; the
//! row's audio track names (columns `TRK1`, `Track 1`, `Audio Track 1`, ...)
//! name the sound roll's channels where the recorder's files do not.

use super::{EditList, ListTimecode};
use crate::timecode::{FrameRate, Timecode};
use serde::Serialize;

/// One row of the `Data` section.
#[derive(Debug, Clone, PartialEq)]
pub struct AleRow {
    /// 1-based line in the file.
    pub line: usize,
    /// `Name`: the clip's name.
    pub name: Option<String>,
    /// `Tape`: the camera reel.
    pub tape: Option<String>,
    /// `Start`: the camera timecode of the clip's first frame.
    pub start: Option<ListTimecode>,
    /// `End`: the camera timecode after its last frame.
    pub end: Option<ListTimecode>,
    /// `Soundroll` / `Sound Roll`.
    pub sound_roll: Option<String>,
    /// `Sound TC` / `Auxiliary TC1`: the sound timecode at the clip's first frame.
    pub sound_tc: Option<ListTimecode>,
    /// Audio track names by channel (`""` where a column is empty).
    pub track_names: Vec<String>,
}

/// A parsed ALE file.
#[derive(Debug, Clone)]
pub struct Ale {
    /// `FPS` of the heading.
    pub rate: FrameRate,
    /// The column names, in order.
    pub columns: Vec<String>,
    pub rows: Vec<AleRow>,
}

/// Column names compared without case, spaces or underscores.
fn key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The channel (1-based) of an audio track name column: `TRK1`, `Track 1`,
/// `Audio Track 1`, `Track Name 1`.
fn track_column(name: &str) -> Option<usize> {
    let k = key(name);
    ["audiotrack", "trackname", "track", "trk"]
        .iter()
        .find_map(|p| k.strip_prefix(p))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| (1..=64).contains(&n))
}

/// The heading's `FPS` (Avid writes `23.976`, some tools `23.98`).
fn ale_rate(v: &str) -> Option<FrameRate> {
    match v.trim() {
        "23.98" => Some(FrameRate::Fps23_976),
        "29.97DF" | "29.97 DF" => Some(FrameRate::Fps29_97Df),
        t => t.parse().ok(),
    }
}

/// Parses ALE text. Errors carry the 1-based line (`None`: the whole file).
pub fn parse(text: &str) -> Result<Ale, (Option<usize>, String)> {
    #[derive(PartialEq)]
    enum Sec {
        None,
        Heading,
        Column,
        Data,
    }
    let mut sec = Sec::None;
    let mut delim_ok = false;
    let mut rate: Option<FrameRate> = None;
    let mut columns: Option<(usize, Vec<String>)> = None;
    let mut raw_rows: Vec<(usize, Vec<&str>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        let word = line.trim();
        if word.is_empty() {
            continue;
        }
        match word.to_ascii_lowercase().as_str() {
            "heading" => {
                sec = Sec::Heading;
                continue;
            }
            "column" => {
                if rate.is_none() {
                    return Err((Some(n), "the Heading section gives no FPS".into()));
                }
                sec = Sec::Column;
                continue;
            }
            "data" => {
                if columns.is_none() {
                    return Err((Some(n), "Data before a Column header row".into()));
                }
                sec = Sec::Data;
                continue;
            }
            _ => {}
        }
        match sec {
            Sec::None => {
                return Err((
                    Some(n),
                    format!("expected the `Heading` line of an ALE file, found '{word}'"),
                ));
            }
            Sec::Heading => {
                let (k, v) = word.split_once('\t').unwrap_or((word, ""));
                match k.trim().to_ascii_uppercase().as_str() {
                    "FIELD_DELIM" => {
                        if !v.trim().eq_ignore_ascii_case("TABS") {
                            return Err((
                                Some(n),
                                format!(
                                    "FIELD_DELIM '{}': only TABS is an ALE delimiter",
                                    v.trim()
                                ),
                            ));
                        }
                        delim_ok = true;
                    }
                    "FPS" => {
                        rate = Some(ale_rate(v).ok_or_else(|| {
                            (Some(n), format!("FPS '{}' is not a frame rate", v.trim()))
                        })?);
                    }
                    _ => {}
                }
            }
            Sec::Column => {
                if columns.is_some() {
                    return Err((Some(n), "a second Column header row".into()));
                }
                if !delim_ok {
                    return Err((
                        Some(n),
                        "the Heading section has no `FIELD_DELIM<TAB>TABS` line".into(),
                    ));
                }
                let cols: Vec<String> = line.split('\t').map(|c| c.trim().to_string()).collect();
                columns = Some((n, cols));
            }
            Sec::Data => raw_rows.push((n, line.split('\t').collect())),
        }
    }
    let rate = rate.ok_or((None, "no Heading section with an FPS line".to_string()))?;
    let (cline, columns) = columns.ok_or((None, "no Column section".to_string()))?;
    let find = |names: &[&str]| {
        columns
            .iter()
            .position(|c| names.iter().any(|n| key(c) == key(n)))
    };
    let c_name = find(&["Name"]);
    let c_tape = find(&["Tape"]);
    if c_name.is_none() && c_tape.is_none() {
        return Err((
            Some(cline),
            "the Column row has neither `Name` nor `Tape`: no clip can be looked up".into(),
        ));
    }
    let c_start = find(&["Start"]);
    let c_end = find(&["End"]);
    let c_roll = find(&["Soundroll", "Sound Roll"]);
    let c_stc = find(&["Sound TC", "Auxiliary TC1"]);
    let tracks: Vec<(usize, usize)> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| track_column(c).map(|ch| (i, ch)))
        .collect();
    let mut rows = Vec::new();
    for (n, fields) in raw_rows {
        if fields.len() > columns.len() {
            return Err((
                Some(n),
                format!(
                    "{} fields, the Column row names {}",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let field = |c: Option<usize>| {
            c.and_then(|c| fields.get(c))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let tc = |c: Option<usize>| -> Result<Option<ListTimecode>, (Option<usize>, String)> {
            match field(c) {
                None => Ok(None),
                Some(s) => {
                    let t = ListTimecode::parse(s).ok_or_else(|| {
                        (
                            Some(n),
                            format!("{} '{s}' is not a timecode", columns[c.unwrap_or(0)]),
                        )
                    })?;
                    t.at(t.rate_in(rate, false))
                        .map_err(|m| (Some(n), format!("{}: {m}", columns[c.unwrap_or(0)])))?;
                    Ok(Some(t))
                }
            }
        };
        let channels = tracks.iter().map(|t| t.1).max().unwrap_or(0);
        let mut track_names = vec![String::new(); channels];
        for &(c, ch) in &tracks {
            track_names[ch - 1] = field(Some(c)).unwrap_or_default().to_string();
        }
        rows.push(AleRow {
            line: n,
            name: field(c_name).map(str::to_string),
            tape: field(c_tape).map(str::to_string),
            start: tc(c_start)?,
            end: tc(c_end)?,
            sound_roll: field(c_roll).map(str::to_string),
            sound_tc: tc(c_stc)?,
            track_names,
        });
    }
    Ok(Ale {
        rate,
        columns,
        rows,
    })
}

/// An edit sent to its sound roll by an ALE row.
#[derive(Debug, Clone, Serialize)]
pub struct AleLink {
    /// The event number.
    pub number: u32,
    /// The camera clip or reel the list named.
    pub clip: String,
    /// The sound roll it now names.
    pub sound_roll: String,
    /// Frames (at the ALE's FPS) added to its source timecodes.
    pub shift_frames: i64,
    /// The ALE file's index (in the order given) and its row's line.
    pub file: usize,
    pub line: usize,
}

impl AleRow {
    /// The first of `keys` that this row's `Name` (or `Tape`) is.
    fn named<'k>(&self, keys: &'k [String], tape: bool) -> Option<&'k String> {
        let field = if tape { &self.tape } else { &self.name };
        let f = field.as_deref()?;
        keys.iter().find(|k| k.trim().eq_ignore_ascii_case(f))
    }

    /// Does the camera range `Start..End` hold source timecode `src`? (No
    /// `End`: from `Start` on.)
    fn covers(&self, src: ListTimecode, rate: FrameRate) -> bool {
        let f = |t: ListTimecode| t.frames_at(t.rate_in(rate, false)).ok();
        match (self.start.and_then(f), self.end.and_then(f), f(src)) {
            (Some(a), Some(b), Some(x)) => a <= x && x < b,
            (Some(a), None, Some(x)) => a <= x,
            _ => false,
        }
    }

    /// Sound timecode minus camera start, in frames at `rate`.
    fn shift(&self, rate: FrameRate) -> Option<i64> {
        let f = |t: ListTimecode| t.frames_at(t.rate_in(rate, false)).ok();
        Some(f(self.sound_tc?)? - f(self.start?)?)
    }
}

/// Sends each edit of `list` that an ALE row names (by its reel, clip name or
/// source file; the first file and row that do) to the row's sound roll, its
/// source timecodes moved by the row's sound TC − camera start. Rows without
/// a sound roll, sound TC or start are not used. Returns the edits relinked
/// and what could not be done.
pub fn apply(list: &mut EditList, ales: &[Ale]) -> (Vec<AleLink>, Vec<String>) {
    let mut links = Vec::new();
    let mut warnings = Vec::new();
    for e in list.edits.iter_mut() {
        if e.is_black() || e.tracks.is_empty() {
            continue;
        }
        let keys: Vec<String> = [Some(&e.reel), e.clip_name.as_ref(), e.source_file.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        // a row of the clip's name; else, of its tape, the clip whose camera
        // range holds the edit's source in
        let hit = ales.iter().enumerate().find_map(|(fi, a)| {
            let rolls = || a.rows.iter().filter(|r| r.sound_roll.is_some());
            rolls()
                .find_map(|r| r.named(&keys, false).map(|k| (r, k)))
                .or_else(|| {
                    rolls()
                        .filter(|r| r.covers(e.source_in, a.rate))
                        .find_map(|r| r.named(&keys, true).map(|k| (r, k)))
                })
                .map(|(r, k)| (fi, a, r, k.clone()))
        });
        let Some((fi, a, row, clip)) = hit else {
            continue;
        };
        let Some(shift) = row.shift(a.rate) else {
            warnings.push(format!(
                "event {}: ALE row at line {} names '{}' but gives no Sound TC or Start; left on reel '{}'",
                e.number,
                row.line,
                row.name.as_deref().or(row.tape.as_deref()).unwrap_or_default(),
                e.reel
            ));
            continue;
        };
        let moved = |t: ListTimecode| -> Option<ListTimecode> {
            let r = t.rate_in(a.rate, false);
            let f = t.frames_at(r).ok()? + shift;
            let tc = Timecode::from_frames(f, r);
            Some(ListTimecode {
                hours: tc.hours,
                minutes: tc.minutes,
                seconds: tc.seconds,
                frames: tc.frames,
                drop: r.is_drop(),
            })
        };
        let (Some(si), Some(so)) = (moved(e.source_in), moved(e.source_out)) else {
            warnings.push(format!(
                "event {}: source {} is not a timecode at the ALE's {} fps; left on reel '{}'",
                e.number, e.source_in, a.rate, e.reel
            ));
            continue;
        };
        let roll = row.sound_roll.clone().unwrap_or_default();
        links.push(AleLink {
            number: e.number,
            clip,
            sound_roll: roll.clone(),
            shift_frames: shift,
            file: fi,
            line: row.line,
        });
        e.reel = roll;
        e.source_in = si;
        e.source_out = so;
    }
    (links, warnings)
}

/// The audio track names the ALE files give for `roll` (the first row of
/// that sound roll that names any), by channel.
pub fn track_names<'a>(ales: &'a [Ale], roll: &str) -> Option<&'a [String]> {
    ales.iter()
        .flat_map(|a| &a.rows)
        .find(|r| {
            r.sound_roll
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(roll.trim()))
                && r.track_names.iter().any(|n| !n.is_empty())
        })
        .map(|r| r.track_names.as_slice())
}

/// Reads an ALE file; errors name the file and line.
pub fn read(path: &std::path::Path) -> crate::Result<Ale> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
    parse(&super::decode_text(&bytes)).map_err(|(line, msg)| crate::Error::Session {
        path: path.to_path_buf(),
        line,
        col: None,
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_columns_are_recognized() {
        assert_eq!(track_column("TRK1"), Some(1));
        assert_eq!(track_column("Track 2"), Some(2));
        assert_eq!(track_column("Audio Track 12"), Some(12));
        assert_eq!(track_column("Tracks"), None);
        assert_eq!(track_column("Track"), None);
    }
}
