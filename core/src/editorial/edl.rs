//! CMX 3600 edit decision lists, with the variants editors meet in practice.
//!
//! An event line is
//! `NNN  REEL  CHANNELS  TRANSITION [DURATION]  SRC-IN SRC-OUT REC-IN REC-OUT`.
//! CMX 3600 gives the reel 8 characters and the event number 3; File32 and
//! File128 lists (Avid, Premiere, Resolve) widen the reel to 32 or 128
//! characters, and long lists widen the number (6 digits). The line is read
//! by its fields, not its columns: the four timecodes from the right, then
//! the transition (and its duration), then the channels; the reel is what
//! lies between the number and the channels, so any width reads.
//!
//! Channels: `V`, `A` (A1), `A2`, `AA` (A1+A2), `B` (V+A1), `AA/V`, `A2/V`,
//! `NONE`, `A3`…`A99` (Avid), with `AUD 3`, `AUD 4` or `AUD 3 4` lines after
//! the event adding tracks 3 and 4. Comments (`*`) after the event line
//! belong to its event: `FROM CLIP NAME`, `TO CLIP NAME`, `SOURCE FILE`,
//! `FROM CLIP` / `FROM FILE` paths, `PATCH REEL: FROM SOURCE n TO RECORD m`.
//! `FCM:` may appear anywhere and applies to the lines after it; `M2` lines
//! give the speed of the edit with the same reel; `SPLIT:` lines give the
//! audio/video delay of the edit after them.
//!
//! The assignment of clip-name and source-file comments to the edits of a
//! two-edit event (a dissolve) follows pycmx (`FROM` to the outgoing edit,
//! `TO` to the incoming one), so the two readers agree event by event.

use super::{Edit, EditList, ListKind, ListTimecode, MotionEffect, Split, Transition};
use crate::timecode::FrameRate;

/// A parse error: the 1-based line (when it concerns one) and what is wrong.
pub type ParseError = (Option<usize>, String);

/// One remark of an event, before it is given to an edit.
enum Remark {
    FromClip(String),
    ToClip(String),
    SourceFile(String),
    SourcePath(String),
    Patch { reel: String, src: u32, rec: u32 },
    Motion(MotionEffect),
    Other(String),
}

struct Pending {
    edits: Vec<Edit>,
    remarks: Vec<Remark>,
}

/// Parses the text of a CMX 3600 list read at `rate` (the picture's rate;
/// `FCM: DROP FRAME` or `;` timecodes make 29.97 and 59.94 drop-frame).
///
/// Errors name the line: an event line whose fields cannot be read, a record
/// timecode that does not exist at `rate`, a record out before its in.
/// Lines that are neither events nor known statements are skipped with a
/// warning in [`EditList::warnings`].
pub fn parse(text: &str, rate: FrameRate) -> Result<EditList, ParseError> {
    let mut list = EditList {
        kind: ListKind::Cmx3600,
        title: String::new(),
        rate,
        drop_frame: false,
        reel_width: 0,
        edits: Vec::new(),
        warnings: Vec::new(),
        otio_document: None,
    };
    let mut fcm_seen = false;
    let mut fcm_drop = false;
    let mut pending: Option<Pending> = None;
    let mut split: Option<Split> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        let first = line.split_whitespace().next().unwrap_or("");
        if first.bytes().all(|b| b.is_ascii_digit()) {
            let mut e = event_line(line, n, rate, fcm_drop)?;
            if list.reel_width == 0 {
                list.reel_width = line.len().saturating_sub(first.len() + 65);
            }
            e.split = split.take();
            match &mut pending {
                Some(p) if p.edits.last().is_some_and(|l| l.number == e.number) => {
                    p.edits.push(e);
                }
                _ => {
                    if let Some(p) = pending.take() {
                        close(p, &mut list);
                    }
                    pending = Some(Pending {
                        edits: vec![e],
                        remarks: Vec::new(),
                    });
                }
            }
        } else if upper.starts_with("TITLE:") {
            if list.title.is_empty() {
                list.title = line[6..].trim().to_string();
            }
        } else if upper.starts_with("FCM:") {
            let v = upper.strip_prefix("FCM:").unwrap_or_default().trim();
            fcm_drop = v.starts_with("DROP");
            if !fcm_drop && !v.starts_with("NON") {
                list.warnings.push(format!(
                    "line {n}: FCM '{}' not understood",
                    line[4..].trim()
                ));
            }
            if !fcm_seen {
                list.drop_frame = fcm_drop;
                fcm_seen = true;
            }
            if fcm_drop && !matches!(rate.nominal(), 30 | 60) {
                list.warnings.push(format!(
                    "line {n}: FCM DROP FRAME in a list read at {rate} fps (only 29.97 and 59.94 drop frames)"
                ));
            }
        } else if upper.starts_with("AUD") {
            let rest = upper.strip_prefix("AUD").unwrap_or_default();
            let p = pending.as_mut().and_then(|p| p.edits.last_mut());
            match p {
                Some(e) => {
                    for t in rest.split(|c: char| !c.is_ascii_digit()) {
                        if let Ok(k @ 3..=4) = t.parse::<u32>() {
                            if !e.tracks.contains(&k) {
                                e.tracks.push(k);
                            }
                        }
                    }
                    e.tracks.sort_unstable();
                }
                None => list
                    .warnings
                    .push(format!("line {n}: AUD line before any event, skipped")),
            }
        } else if upper.starts_with("M2 ") || upper == "M2" {
            let m = motion_line(line, n, fcm_drop)?;
            match &mut pending {
                Some(p) => p.remarks.push(Remark::Motion(m)),
                None => list
                    .warnings
                    .push(format!("line {n}: M2 line before any event, skipped")),
            }
        } else if upper.starts_with("SPLIT:") {
            let body = upper.strip_prefix("SPLIT:").unwrap_or_default();
            split = Some(Split {
                video: body.trim_start().starts_with("VIDEO"),
                delay: body
                    .split_whitespace()
                    .rev()
                    .find_map(ListTimecode::parse)
                    .map(|t| with_fcm(t, fcm_drop)),
            });
        } else if line.starts_with('*')
            || upper.starts_with("FROM CLIP")
            || upper.starts_with("TO CLIP NAME")
            || upper.starts_with("SOURCE FILE")
            || upper.starts_with("EFFECTS NAME IS")
        {
            let body = line.trim_start_matches('*').trim();
            if let Some(p) = &mut pending {
                p.remarks.push(remark(body));
            }
        } else if upper.starts_with("REM") || upper.starts_with(">>>") {
            // REM lines and >>> SOURCE (UMID) lines: nothing for the timeline.
        } else {
            list.warnings
                .push(format!("line {n}: not understood, skipped: '{line}'"));
        }
    }
    if let Some(p) = pending.take() {
        close(p, &mut list);
    }
    if split.is_some() {
        list.warnings
            .push("a SPLIT line at the end of the list has no edit after it".into());
    }
    Ok(list)
}

fn with_fcm(mut t: ListTimecode, fcm_drop: bool) -> ListTimecode {
    t.drop |= fcm_drop;
    t
}

fn remark(body: &str) -> Remark {
    let upper = body.to_ascii_uppercase();
    let after = |k: &str| body[k.len()..].trim().to_string();
    if upper.starts_with("FROM CLIP NAME:") {
        Remark::FromClip(after("FROM CLIP NAME:"))
    } else if upper.starts_with("TO CLIP NAME:") {
        Remark::ToClip(after("TO CLIP NAME:"))
    } else if upper.starts_with("SOURCE FILE:") {
        Remark::SourceFile(after("SOURCE FILE:"))
    } else if upper.starts_with("FROM CLIP:") {
        Remark::SourcePath(after("FROM CLIP:"))
    } else if upper.starts_with("FROM FILE:") {
        Remark::SourcePath(after("FROM FILE:"))
    } else if let Some(p) = patch(body) {
        p
    } else {
        Remark::Other(body.to_string())
    }
}

/// `PATCH REEL:  FROM SOURCE n TO RECORD m` (Avid).
fn patch(body: &str) -> Option<Remark> {
    let upper = body.to_ascii_uppercase();
    let rest = upper.strip_prefix("PATCH")?;
    let colon = rest.find(':')?;
    let reel = body[5..5 + colon].trim().to_string();
    let tail = &rest[colon + 1..];
    let src_at = tail.find("FROM SOURCE")? + "FROM SOURCE".len();
    let rec_at = tail.find("TO RECORD")?;
    let src = tail.get(src_at..rec_at)?.trim().parse().ok()?;
    let rec = tail[rec_at + "TO RECORD".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Remark::Patch { reel, src, rec })
}

/// `M2   REEL   FPS   TRIGGER`.
fn motion_line(line: &str, n: usize, fcm_drop: bool) -> Result<MotionEffect, ParseError> {
    let toks: Vec<&str> = line.split_whitespace().collect();
    let bad = || {
        (
            Some(n),
            format!("M2 line not understood (expected 'M2 REEL FPS SOURCE-TC'): '{line}'"),
        )
    };
    let mut end = toks.len();
    let trigger = match toks.last().and_then(|t| ListTimecode::parse(t)) {
        Some(t) => {
            end -= 1;
            Some(with_fcm(t, fcm_drop))
        }
        None => None,
    };
    if end < 3 {
        return Err(bad());
    }
    let fps: f64 = toks[end - 1].parse().map_err(|_| bad())?;
    if !fps.is_finite() {
        return Err(bad());
    }
    Ok(MotionEffect {
        reel: toks[1..end - 1].join(" "),
        fps,
        trigger,
        line: n,
    })
}

/// Record tracks and picture of a channel field.
fn channels(field: &str) -> Option<(bool, Vec<u32>)> {
    let f = field.to_ascii_uppercase();
    let (mut video, audio) = match f.strip_suffix("/V") {
        Some(a) => (true, a.to_string()),
        None => (false, f.clone()),
    };
    let mut tracks = Vec::new();
    match audio.as_str() {
        "V" => video = true,
        "B" => {
            video = true;
            tracks.push(1);
        }
        "NONE" => {}
        "AA" => tracks.extend([1, 2]),
        a => {
            // A, A2, A3 ... A99, and runs like A1A2 (written by some systems)
            let mut rest = a;
            if rest.is_empty() {
                return None;
            }
            while !rest.is_empty() {
                rest = rest.strip_prefix('A')?;
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let k = if digits == 0 {
                    1
                } else {
                    rest[..digits].parse().ok()?
                };
                if k == 0 {
                    return None;
                }
                tracks.push(k);
                rest = &rest[digits..];
            }
        }
    }
    tracks.sort_unstable();
    tracks.dedup();
    Some((video, tracks))
}

fn transition(code: &str) -> Option<Transition> {
    let c = code.to_ascii_uppercase();
    match c.as_str() {
        "C" => Some(Transition::Cut),
        "D" => Some(Transition::Dissolve),
        "K" | "KB" | "KO" => Some(Transition::Key(c)),
        w if w.starts_with('W') && w.len() > 1 && w[1..].bytes().all(|b| b.is_ascii_digit()) => {
            w[1..].parse().ok().map(Transition::Wipe)
        }
        _ => None,
    }
}

fn event_line(line: &str, n: usize, rate: FrameRate, fcm_drop: bool) -> Result<Edit, ParseError> {
    let toks: Vec<&str> = line.split_whitespace().collect();
    let bad = |why: &str| {
        (
            Some(n),
            format!("event line not understood ({why}): '{line}'"),
        )
    };
    if toks.len() < 8 {
        return Err(bad(
            "expected NUMBER REEL CHANNELS TRANSITION [DURATION] and four timecodes",
        ));
    }
    let number: u32 = toks[0]
        .parse()
        .map_err(|_| bad("the event number is too large"))?;
    let k = toks.len();
    let mut tcs = [ListTimecode::parse("00:00:00:00").unwrap(); 4];
    for (j, t) in toks[k - 4..].iter().enumerate() {
        tcs[j] = ListTimecode::parse(t)
            .map(|t| with_fcm(t, fcm_drop))
            .ok_or_else(|| bad(&format!("'{t}' is not a timecode")))?;
    }
    // transition [duration]
    let mut idx = k - 5;
    let mut frames = 0u32;
    let key_b = |i: usize| {
        i >= 4 && toks[i].eq_ignore_ascii_case("B") && toks[i - 1].eq_ignore_ascii_case("K")
    };
    if toks[idx].bytes().all(|b| b.is_ascii_digit())
        && idx >= 3
        && (transition(toks[idx - 1]).is_some() || key_b(idx - 1))
    {
        frames = toks[idx]
            .parse()
            .map_err(|_| bad("transition duration too large"))?;
        idx -= 1;
    }
    let mut code = toks[idx].to_string();
    if code.eq_ignore_ascii_case("B") && idx >= 3 && toks[idx - 1].eq_ignore_ascii_case("K") {
        // "K B": key background, written with a space
        code = "KB".into();
        idx -= 1;
    }
    let trans = transition(&code).ok_or_else(|| bad(&format!("unknown transition '{code}'")))?;
    if idx < 3 {
        return Err(bad("no reel or channels"));
    }
    let chan = toks[idx - 1];
    let (video, tracks) =
        channels(chan).ok_or_else(|| bad(&format!("unknown channels '{chan}'")))?;
    let reel = toks[1..idx - 1].join(" ");
    let [source_in, source_out, record_in, record_out] = tcs;
    let rec_rate = record_in.rate_in(rate, false);
    let rin = record_in.frames_at(rec_rate).map_err(|m| {
        (
            Some(n),
            format!("record in: {m} (is the list at another rate? see --fps)"),
        )
    })?;
    let rout = record_out
        .frames_at(record_out.rate_in(rate, false))
        .map_err(|m| {
            (
                Some(n),
                format!("record out: {m} (is the list at another rate? see --fps)"),
            )
        })?;
    if rout < rin {
        return Err((
            Some(n),
            format!("record out {record_out} is before record in {record_in}"),
        ));
    }
    if trans == Transition::Cut && frames != 0 {
        // "C   000" is harmless; a cut has no length
        frames = 0;
    }
    Ok(Edit {
        number,
        line: n,
        reel,
        channels: chan.to_string(),
        video,
        tracks,
        transition: trans,
        transition_frames: frames,
        source_in,
        source_out,
        record_in,
        record_out,
        clip_name: None,
        source_file: None,
        source_path: None,
        patch: Vec::new(),
        motion: None,
        split: None,
        comments: Vec::new(),
        from_transition: false,
    })
}

/// Reels match when equal, or when one is the other cut to the 8 characters
/// of a CMX 3600 field (M2 and PATCH lines often truncate).
fn same_reel(a: &str, b: &str) -> bool {
    let a = a.trim();
    let b = b.trim();
    a.eq_ignore_ascii_case(b)
        || (a.len() >= 8 && b.len() >= 8 && a[..8].eq_ignore_ascii_case(&b[..8]))
}

/// Gives an event's remarks to its edits and appends them to the list.
fn close(p: Pending, list: &mut EditList) {
    let Pending { mut edits, remarks } = p;
    let k = edits.len();
    let mut from = Vec::new();
    let mut to = Vec::new();
    let mut names = Vec::new();
    let mut files = Vec::new();
    let mut paths = Vec::new();
    for r in remarks {
        match r {
            Remark::FromClip(s) => {
                names.push(s.clone());
                from.push(s);
            }
            Remark::ToClip(s) => {
                names.push(s.clone());
                to.push(s);
            }
            Remark::SourceFile(s) => files.push(s),
            Remark::SourcePath(s) => paths.push(s),
            Remark::Patch { reel, src, rec } => {
                let hits: Vec<usize> = (0..k)
                    .filter(|&i| same_reel(&edits[i].reel, &reel))
                    .collect();
                let targets = if hits.is_empty() {
                    (0..k).collect()
                } else {
                    hits
                };
                for i in targets {
                    edits[i].patch.push((src, rec));
                }
            }
            Remark::Motion(m) => {
                let i = (0..k)
                    .rev()
                    .find(|&i| same_reel(&edits[i].reel, &m.reel))
                    .unwrap_or_else(|| {
                        list.warnings.push(format!(
                            "line {}: M2 names reel '{}', which event {} does not use; applied to its last edit",
                            m.line, m.reel, edits[k - 1].number
                        ));
                        k - 1
                    });
                edits[i].motion = Some(m);
            }
            Remark::Other(s) => {
                for e in edits.iter_mut() {
                    e.comments.push(s.clone());
                }
            }
        }
    }
    if k == 2 && (!from.is_empty() || !to.is_empty()) {
        edits[0].clip_name = from.first().cloned();
        edits[1].clip_name = to.first().cloned();
    } else if names.len() == k {
        for (e, s) in edits.iter_mut().zip(names) {
            e.clip_name = Some(s);
        }
    } else if let Some(f) = from.first() {
        edits[0].clip_name = Some(f.clone());
    }
    if files.len() == k {
        for (e, s) in edits.iter_mut().zip(files) {
            e.source_file = Some(s);
        }
    } else if files.len() == 1 {
        for e in edits.iter_mut() {
            e.source_file = Some(files[0].clone());
        }
    }
    if paths.len() == k {
        for (e, s) in edits.iter_mut().zip(paths) {
            e.source_path = Some(s);
        }
    } else if let Some(s) = paths.first() {
        edits[0].source_path = Some(s.clone());
    }
    list.edits.extend(edits);
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVID: &str = "TITLE:   INS4_R2_092117 \r\n\
FCM: NON-DROP FRAME\r\n\
004  SR001    A2    C        15:44:11:13 15:44:13:01 02:00:11:12 02:00:12:23 \r\n\
* FROM CLIP NAME:  16E-2A \r\n\
* PATCH SR001:  FROM SOURCE 1 TO RECORD 2 \r\n\
* SOURCE FILE: A005C001_160815_R1BY\r\n\
005  SR39     A     C        17:52:28:26 17:52:29:22 02:00:13:16 02:00:15:03 \r\n\
006  AX       AA    C        00:00:00:00 00:00:30:01 00:00:59:23 00:01:30:00\r\n\
AUD  3    4\r\n";

    #[test]
    fn avid_dialogue_list() {
        let l = parse(AVID, FrameRate::Fps23_976).unwrap();
        assert_eq!(l.title, "INS4_R2_092117");
        assert_eq!(l.reel_width, 8);
        assert_eq!(l.edits.len(), 3);
        let e = &l.edits[0];
        assert_eq!((e.number, e.line), (4, 3));
        assert_eq!(e.reel, "SR001");
        assert_eq!(e.tracks, vec![2]);
        assert_eq!(e.patch, vec![(1, 2)]);
        assert_eq!(e.clip_name.as_deref(), Some("16E-2A"));
        assert_eq!(e.source_file.as_deref(), Some("A005C001_160815_R1BY"));
        // a 30 fps sound roll's frame 26 is kept as written
        assert_eq!(l.edits[1].source_in.frames, 26);
        assert_eq!(l.edits[2].tracks, vec![1, 2, 3, 4]);
        let d = l.dry_run();
        assert_eq!(d.events[0].record_in, "02:00:11:12");
        assert_eq!(d.events[1].source_in, "17:52:28:26");
    }

    #[test]
    fn channel_fields() {
        for (f, v, t) in [
            ("V", true, vec![]),
            ("A", false, vec![1]),
            ("A2", false, vec![2]),
            ("AA", false, vec![1, 2]),
            ("B", true, vec![1]),
            ("AA/V", true, vec![1, 2]),
            ("A2/V", true, vec![2]),
            ("NONE", false, vec![]),
            ("A12", false, vec![12]),
            ("A1A2", false, vec![1, 2]),
        ] {
            assert_eq!(channels(f), Some((v, t)), "{f}");
        }
        assert_eq!(channels("X"), None);
        assert_eq!(channels("A0"), None);
    }

    #[test]
    fn dissolve_wipe_fade_and_speed() {
        let text = "TITLE: t\n\
001  TST V     C        01:00:04:05 01:00:04:14 01:00:00:00 01:00:00:09\n\
002  TST A     C        01:00:04:14 01:00:04:14 01:00:00:09 01:00:00:09\n\
002  TST A     D    010 01:00:08:08 01:00:08:18 01:00:00:09 01:00:00:19\n\
* FROM CLIP NAME:  clip_A\n\
* TO CLIP NAME:  clip_B\n\
003  AX       AA    C        00:00:29:01 00:00:29:01 00:01:59:01 00:01:59:01\n\
003  BL       AA    W001 025 00:00:00:00 00:00:10:20 00:01:59:01 00:02:10:21\n\
SPLIT:    AUDIO DELAY=  00:00:00:05\n\
004  Z686_5A. A     C        01:00:06:00 01:00:08:22 01:11:31:16 01:11:33:04\n\
M2   Z686_5A.       047.6                01:00:06:00\n\
FCM: DROP FRAME\n\
005  R A K B 000 01:00:06:00 01:00:08:22 01:11:33:04 01:11:35:04\n";
        let l = parse(text, FrameRate::Fps24).unwrap();
        assert_eq!(l.edits.len(), 7);
        assert_eq!(l.edits[1].clip_name.as_deref(), Some("clip_A"));
        assert_eq!(l.edits[2].clip_name.as_deref(), Some("clip_B"));
        assert_eq!(l.edits[2].transition, Transition::Dissolve);
        assert_eq!(l.edits[2].transition_frames, 10);
        assert_eq!(l.edits[4].transition, Transition::Wipe(1));
        assert_eq!(l.edits[4].transition_frames, 25);
        assert!(l.edits[4].is_black());
        let e = &l.edits[5];
        assert_eq!(e.split.as_ref().unwrap().delay.unwrap().frames, 5);
        assert!((e.speed(FrameRate::Fps24).unwrap() - 47.6 / 24.0).abs() < 1e-12);
        assert_eq!(l.edits[6].transition, Transition::Key("KB".into()));
        assert!(
            l.edits[6].record_in.drop,
            "FCM applies to the lines after it"
        );
        let d = l.dry_run();
        assert_eq!(d.events[4].transition, "W001");
        assert_eq!(d.events[0].speed, None);
    }

    #[test]
    fn file128_reels_and_six_digit_numbers() {
        let text = "000002  UNILOGO_2012_S235_MONO_DNX175X.M V     C        00:00:00:00 00:00:24:00 01:00:08:00 01:00:32:00 \n";
        let l = parse(text, FrameRate::Fps24).unwrap();
        assert_eq!(l.edits[0].number, 2);
        assert_eq!(l.edits[0].reel, "UNILOGO_2012_S235_MONO_DNX175X.M");
        assert_eq!(l.reel_width, 32);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = parse(
            "TITLE: x\n001  R  A  C  01:00:00:00 01:00:01:00 01:00:00:00\n",
            FrameRate::Fps24,
        )
        .unwrap_err();
        assert_eq!(e.0, Some(2));
        let e = parse(
            "001  R  A  C  01:00:00:00 01:00:01:00 01:00:00:24 01:00:01:00\n",
            FrameRate::Fps24,
        )
        .unwrap_err();
        assert!(
            e.1.contains("record in") && e.1.contains("--fps"),
            "{}",
            e.1
        );
        let e = parse(
            "001  R  A  C  01:00:00:00 01:00:01:00 01:00:02:00 01:00:01:00\n",
            FrameRate::Fps24,
        )
        .unwrap_err();
        assert!(e.1.contains("before record in"), "{}", e.1);
        let e = parse(
            "001  R  Q  C  01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\n",
            FrameRate::Fps24,
        )
        .unwrap_err();
        assert!(e.1.contains("unknown channels 'Q'"), "{}", e.1);
        let l = parse("GARBAGE LINE\n", FrameRate::Fps24).unwrap();
        assert!(l.warnings[0].starts_with("line 1:"));
    }
}
