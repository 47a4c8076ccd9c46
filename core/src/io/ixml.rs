//! The `iXML` chunk of a Broadcast Wave file (the iXML specification, v2.10,
//! ixml.info): production metadata as UTF-8 XML under a `<BWFXML>` root.
//!
//! dubstage writes, on every deliverable:
//!
//! ```text
//! <BWFXML>
//!   <IXML_VERSION>2.10</IXML_VERSION>
//!   <PROJECT>title</PROJECT>  <SCENE>…</SCENE> <TAKE>…</TAKE> (when the session gives them)
//!   <TAPE>reel</TAPE>
//!   <SPEED> MASTER_SPEED, CURRENT_SPEED, TIMECODE_RATE ("24000/1001"), TIMECODE_FLAG (DF/NDF),
//!           FILE_SAMPLE_RATE, AUDIO_BIT_DEPTH, DIGITIZER_SAMPLE_RATE,
//!           TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI/_LO (= bext TimeReference), TIMESTAMP_SAMPLE_RATE </SPEED>
//!   <TRACK_LIST> TRACK_COUNT, one TRACK per channel: CHANNEL_INDEX (the channel's place in
//!           the deliverable), INTERLEAVE_INDEX (its place in this file), NAME (L, R, C, LFE, Ls, …) </TRACK_LIST>
//!   <BEXT> the bext text fields and TimeReference, mirrored </BEXT>
//! </BWFXML>
//! ```
//!
//! Every text is XML-escaped (`& < > " '`, and characters XML 1.0 forbids are
//! dropped). The reader ([`parse`]) accepts any well-formed iXML (field
//! recorders write many more elements; the ones above are picked out) and
//! ignores trailing NUL padding, which many recorders leave.

use super::wav::Bext;
use serde::Serialize;

/// The iXML version dubstage writes.
pub const IXML_VERSION: &str = "2.10";

/// Largest `iXML` chunk read (16 MiB; a recorder's history rarely passes a few kB).
pub const MAX_IXML: u64 = 16 << 20;

/// One `TRACK` of the `TRACK_LIST`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct IXmlTrack {
    /// `CHANNEL_INDEX`: the track's number in the recording (1-based).
    pub channel_index: u32,
    /// `INTERLEAVE_INDEX`: the channel's place in this file (1-based).
    pub interleave_index: u32,
    /// `NAME`: the channel label (`L`, `R`, `C`, `LFE`, `Ls`, ...); `FUNCTION` when the
    /// track has no `NAME` (Nuendo writes `L-7.1_PROXIMITY`, `ACN0-FOA`, ...).
    pub name: String,
}

/// The `SPEED` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct IXmlSpeed {
    /// `MASTER_SPEED` (and `CURRENT_SPEED`): frames per second as `n/d`.
    pub master_speed: String,
    /// `TIMECODE_RATE` as `n/d` (`24/1`, `24000/1001`, `30000/1001`, ...).
    pub timecode_rate: String,
    /// `TIMECODE_FLAG`: `DF` or `NDF`.
    pub timecode_flag: String,
    /// `FILE_SAMPLE_RATE` (Hz).
    pub file_sample_rate: Option<u32>,
    /// `AUDIO_BIT_DEPTH`.
    pub audio_bit_depth: Option<u16>,
    /// `TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI`·2³² + `_LO`: the first sample's
    /// place in the day, as the bext TimeReference.
    pub timestamp_samples_since_midnight: Option<u64>,
    /// `TIMESTAMP_SAMPLE_RATE` (Hz) of that count.
    pub timestamp_sample_rate: Option<u32>,
}

/// The `BEXT` element: a mirror of the bext chunk's text fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct IXmlBext {
    /// `BWF_DESCRIPTION`.
    pub description: String,
    /// `BWF_ORIGINATOR`.
    pub originator: String,
    /// `BWF_ORIGINATOR_REFERENCE`.
    pub originator_reference: String,
    /// `BWF_ORIGINATION_DATE`.
    pub origination_date: String,
    /// `BWF_ORIGINATION_TIME`.
    pub origination_time: String,
    /// `BWF_TIME_REFERENCE_HIGH`·2³² + `BWF_TIME_REFERENCE_LOW`.
    pub time_reference: Option<u64>,
}

/// An iXML chunk: what dubstage writes and reads. Empty texts are not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct IXml {
    /// `IXML_VERSION`.
    pub version: String,
    /// `PROJECT`: the programme title.
    pub project: String,
    /// `SCENE`.
    pub scene: String,
    /// `TAKE`.
    pub take: String,
    /// `TAPE`: the reel.
    pub tape: String,
    /// `NOTE`.
    pub note: String,
    /// `SPEED`.
    pub speed: Option<IXmlSpeed>,
    /// `TRACK_LIST`.
    pub tracks: Vec<IXmlTrack>,
    /// `FILE_SET/FAMILY_UID`: the take's files (a poly file, its split mono
    /// files) share it (read, not written).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub family_uid: String,
    /// `FILE_SET/FILE_SET_INDEX`: the file's place in its family (`1`, `2`, ...;
    /// Sound Devices writes `A` for a poly file).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_set_index: String,
    /// `BEXT` (written from the file's bext chunk).
    pub bext: Option<IXmlBext>,
    /// Set by [`parse`] when the chunk is not usable iXML (the audio is read
    /// all the same); `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Escapes `s` for XML text and attribute values: `&`, `<`, `>`, `"`, `'`
/// become entities; control characters that XML 1.0 does not allow (all
/// below U+0020 except tab, LF, CR; U+FFFE, U+FFFF) are dropped.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

fn elem(out: &mut String, indent: usize, name: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    for _ in 0..indent {
        out.push('\t');
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// The longest prefix of `s` (whole characters) of at most `n` bytes: what
/// the bext chunk's fixed-size field of `n` bytes holds (EBU Tech 3285).
fn fit(s: &str, n: usize) -> String {
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() > n {
            break;
        }
        end = i + c.len_utf8();
    }
    s[..end].to_string()
}

/// The XML text of `x`, with its `BEXT` mirror (the text as the bext chunk
/// holds it: cut to the field sizes) taken from `bext` (when
/// given; otherwise from `x.bext`).
pub fn serialize(x: &IXml, bext: Option<&Bext>) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n");
    let version = if x.version.is_empty() {
        IXML_VERSION
    } else {
        &x.version
    };
    elem(&mut o, 1, "IXML_VERSION", version);
    elem(&mut o, 1, "PROJECT", &x.project);
    elem(&mut o, 1, "SCENE", &x.scene);
    elem(&mut o, 1, "TAKE", &x.take);
    elem(&mut o, 1, "TAPE", &x.tape);
    elem(&mut o, 1, "NOTE", &x.note);
    if let Some(s) = &x.speed {
        o.push_str("\t<SPEED>\n");
        elem(&mut o, 2, "MASTER_SPEED", &s.master_speed);
        elem(&mut o, 2, "CURRENT_SPEED", &s.master_speed);
        elem(&mut o, 2, "TIMECODE_RATE", &s.timecode_rate);
        elem(&mut o, 2, "TIMECODE_FLAG", &s.timecode_flag);
        let num = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        elem(
            &mut o,
            2,
            "FILE_SAMPLE_RATE",
            &num(s.file_sample_rate.map(u64::from)),
        );
        elem(
            &mut o,
            2,
            "AUDIO_BIT_DEPTH",
            &num(s.audio_bit_depth.map(u64::from)),
        );
        elem(
            &mut o,
            2,
            "DIGITIZER_SAMPLE_RATE",
            &num(s.file_sample_rate.map(u64::from)),
        );
        if let Some(t) = s.timestamp_samples_since_midnight {
            elem(
                &mut o,
                2,
                "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI",
                &(t >> 32).to_string(),
            );
            elem(
                &mut o,
                2,
                "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO",
                &(t & 0xFFFF_FFFF).to_string(),
            );
        }
        elem(
            &mut o,
            2,
            "TIMESTAMP_SAMPLE_RATE",
            &num(s.timestamp_sample_rate.map(u64::from)),
        );
        o.push_str("\t</SPEED>\n");
    }
    if !x.tracks.is_empty() {
        o.push_str("\t<TRACK_LIST>\n");
        elem(&mut o, 2, "TRACK_COUNT", &x.tracks.len().to_string());
        for t in &x.tracks {
            o.push_str("\t\t<TRACK>\n");
            elem(&mut o, 3, "CHANNEL_INDEX", &t.channel_index.to_string());
            elem(
                &mut o,
                3,
                "INTERLEAVE_INDEX",
                &t.interleave_index.to_string(),
            );
            elem(&mut o, 3, "NAME", &t.name);
            o.push_str("\t\t</TRACK>\n");
        }
        o.push_str("\t</TRACK_LIST>\n");
    }
    let mirror = bext
        .map(|b| IXmlBext {
            description: fit(&b.description, 256),
            originator: fit(&b.originator, 32),
            originator_reference: fit(&b.originator_reference, 32),
            origination_date: fit(&b.origination_date, 10),
            origination_time: fit(&b.origination_time, 8),
            time_reference: Some(b.time_reference),
        })
        .or_else(|| x.bext.clone());
    if let Some(b) = mirror {
        o.push_str("\t<BEXT>\n");
        elem(&mut o, 2, "BWF_DESCRIPTION", &b.description);
        elem(&mut o, 2, "BWF_ORIGINATOR", &b.originator);
        elem(
            &mut o,
            2,
            "BWF_ORIGINATOR_REFERENCE",
            &b.originator_reference,
        );
        elem(&mut o, 2, "BWF_ORIGINATION_DATE", &b.origination_date);
        elem(&mut o, 2, "BWF_ORIGINATION_TIME", &b.origination_time);
        if let Some(t) = b.time_reference {
            elem(
                &mut o,
                2,
                "BWF_TIME_REFERENCE_LOW",
                &(t & 0xFFFF_FFFF).to_string(),
            );
            elem(&mut o, 2, "BWF_TIME_REFERENCE_HIGH", &(t >> 32).to_string());
        }
        o.push_str("\t</BEXT>\n");
    }
    o.push_str("</BWFXML>\n");
    o
}

type Node<'a, 'i> = roxmltree::Node<'a, 'i>;

/// The first child element of `n` named `name`.
fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of child `name` of `n` (empty when absent).
fn text_of(n: Node<'_, '_>, name: &str) -> String {
    child(n, name)
        .map(|c| {
            c.children()
                .filter_map(|t| t.text())
                .collect::<String>()
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Child `name` of `n` as an unsigned number.
fn num(n: Node<'_, '_>, name: &str) -> Option<u64> {
    text_of(n, name).parse::<u64>().ok()
}

/// A 64-bit count split in two 32-bit children.
fn hi_lo(n: Node<'_, '_>, hi: &str, lo: &str) -> Option<u64> {
    match (num(n, hi), num(n, lo)) {
        (None, None) => None,
        (h, l) => Some((h.unwrap_or(0) << 32) | (l.unwrap_or(0) & 0xFFFF_FFFF)),
    }
}

/// Reads an `iXML` chunk body. Never fails: a chunk that is not UTF-8, not
/// well-formed XML or not rooted at `BWFXML` gives an [`IXml`] whose
/// `problem` says so (the file's audio stays readable).
pub fn parse(body: &[u8]) -> IXml {
    let end = body
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let bad = |m: String| IXml {
        problem: Some(m),
        ..Default::default()
    };
    let text = match std::str::from_utf8(&body[..end]) {
        Ok(t) => t.trim_start_matches('\u{FEFF}'),
        Err(e) => return bad(format!("not UTF-8 text ({e})")),
    };
    let doc = match roxmltree::Document::parse(text) {
        Ok(d) => d,
        Err(e) => return bad(format!("not well-formed XML: {e}")),
    };
    let root = doc.root_element();
    if root.tag_name().name() != "BWFXML" {
        return bad(format!(
            "root element is <{}>, not <BWFXML>",
            root.tag_name().name()
        ));
    }
    let speed = child(root, "SPEED").map(|s| IXmlSpeed {
        master_speed: text_of(s, "MASTER_SPEED"),
        timecode_rate: text_of(s, "TIMECODE_RATE"),
        timecode_flag: text_of(s, "TIMECODE_FLAG"),
        file_sample_rate: num(s, "FILE_SAMPLE_RATE").and_then(|v| u32::try_from(v).ok()),
        audio_bit_depth: num(s, "AUDIO_BIT_DEPTH").and_then(|v| u16::try_from(v).ok()),
        timestamp_samples_since_midnight: hi_lo(
            s,
            "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI",
            "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO",
        ),
        timestamp_sample_rate: num(s, "TIMESTAMP_SAMPLE_RATE").and_then(|v| u32::try_from(v).ok()),
    });
    let tracks = child(root, "TRACK_LIST")
        .map(|l| {
            l.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "TRACK")
                .map(|t| IXmlTrack {
                    channel_index: num(t, "CHANNEL_INDEX").unwrap_or(0) as u32,
                    interleave_index: num(t, "INTERLEAVE_INDEX").unwrap_or(0) as u32,
                    // Nuendo and others name a track's speaker only in FUNCTION.
                    name: Some(text_of(t, "NAME"))
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| text_of(t, "FUNCTION")),
                })
                .collect()
        })
        .unwrap_or_default();
    let bext = child(root, "BEXT").map(|b| IXmlBext {
        description: text_of(b, "BWF_DESCRIPTION"),
        originator: text_of(b, "BWF_ORIGINATOR"),
        originator_reference: text_of(b, "BWF_ORIGINATOR_REFERENCE"),
        origination_date: text_of(b, "BWF_ORIGINATION_DATE"),
        origination_time: text_of(b, "BWF_ORIGINATION_TIME"),
        time_reference: hi_lo(b, "BWF_TIME_REFERENCE_HIGH", "BWF_TIME_REFERENCE_LOW"),
    });
    IXml {
        version: text_of(root, "IXML_VERSION"),
        project: text_of(root, "PROJECT"),
        scene: text_of(root, "SCENE"),
        take: text_of(root, "TAKE"),
        tape: text_of(root, "TAPE"),
        note: text_of(root, "NOTE"),
        speed,
        tracks,
        family_uid: child(root, "FILE_SET")
            .map(|f| text_of(f, "FAMILY_UID"))
            .unwrap_or_default(),
        file_set_index: child(root, "FILE_SET")
            .map(|f| text_of(f, "FILE_SET_INDEX"))
            .unwrap_or_default(),
        bext,
        problem: None,
    }
}

/// `n/d` of a frame rate, as iXML writes speeds (`24/1`, `24000/1001`).
pub fn rate_text(rate: crate::FrameRate) -> String {
    let (n, d) = rate.rational();
    format!("{n}/{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IXml {
        IXml {
            version: IXML_VERSION.into(),
            project: "Tom & Jerry's <\"Big\"> Day".into(),
            scene: "12A".into(),
            take: "3".into(),
            tape: "2".into(),
            note: String::new(),
            speed: Some(IXmlSpeed {
                master_speed: "24000/1001".into(),
                timecode_rate: "24000/1001".into(),
                timecode_flag: "NDF".into(),
                file_sample_rate: Some(48_000),
                audio_bit_depth: Some(24),
                timestamp_samples_since_midnight: Some(5 << 32 | 7),
                timestamp_sample_rate: Some(48_000),
            }),
            tracks: ["L", "R", "C", "LFE", "Ls", "Rs"]
                .iter()
                .enumerate()
                .map(|(i, n)| IXmlTrack {
                    channel_index: i as u32 + 1,
                    interleave_index: i as u32 + 1,
                    name: n.to_string(),
                })
                .collect(),
            bext: None,
            problem: None,
            ..Default::default()
        }
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape("a<b>&\"c\"'d'\u{1}\te"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\te"
        );
    }

    #[test]
    fn round_trips_and_is_well_formed() {
        let x = sample();
        let b = Bext {
            description: "d <1>".into(),
            originator: "dubstage".into(),
            time_reference: 172_800_000,
            ..Default::default()
        };
        let text = serialize(&x, Some(&b));
        assert!(
            text.contains("<PROJECT>Tom &amp; Jerry&apos;s &lt;&quot;Big&quot;&gt; Day</PROJECT>")
        );
        // An independent XML parser accepts it.
        let doc = roxmltree::Document::parse(&text).expect("well-formed");
        assert_eq!(doc.root_element().tag_name().name(), "BWFXML");
        let mut padded = text.into_bytes();
        padded.extend_from_slice(b"   \0\0");
        let y = parse(&padded);
        let mut want = x.clone();
        want.bext = Some(IXmlBext {
            description: "d <1>".into(),
            originator: "dubstage".into(),
            time_reference: Some(172_800_000),
            ..Default::default()
        });
        assert_eq!(y, want);
        assert_eq!(
            y.speed.unwrap().timestamp_samples_since_midnight,
            Some((5 << 32) | 7)
        );
    }

    #[test]
    fn malformed_chunks_are_reported_not_fatal() {
        assert!(
            parse(b"<BWFXML><PROJECT>x</BWFXML>")
                .problem
                .unwrap()
                .contains("not well-formed")
        );
        assert!(parse(b"<OTHER/>").problem.unwrap().contains("BWFXML"));
        assert!(parse(&[0xFF, 0xFE, 0x00]).problem.is_some());
    }
}
