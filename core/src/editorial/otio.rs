//! OpenTimelineIO JSON (`.otio`), read into the same [`EditList`] as an EDL.
//!
//! What is read: a `Timeline` (or the first one inside a
//! `SerializableCollection`, or a bare `Stack`/`Track`), its `Stack` of
//! `Track`s (`Sequence.1` in old files), each track's `Clip`s (`Clip.1`
//! with `media_reference`, `Clip.2` with `media_references` and
//! `active_media_reference_key`), `Gap`s, `Transition`s and nested
//! `Stack`/`Track` items (which take their length on the track; their
//! insides are not conformed and are reported). A clip's source range is its
//! `source_range`, else its media's `available_range`; `LinearTimeWarp`
//! gives its speed and `FreezeFrame` a speed of 0.
//!
//! RationalTimes at the list's nominal rate (24 for 23.976, the usual OTIO
//! practice) or at its real rate count frames; any other rate is converted
//! by time. The document is kept whole in [`EditList::otio_document`], so an
//! export keeps every field this reader does not use. OpenTimelineIO writes
//! `Inf`, `-Infinity` and `NaN` for non-finite floats (not JSON); they are
//! read as the strings `"Inf"`, `"-Infinity"`, `"NaN"`.
//!
//! ## Transitions on audio tracks
//!
//! An OTIO `Transition` takes no room on its track: it spans `in_offset`
//! before the cut and `out_offset` after it, the outgoing item continuing
//! under the incoming one. On an audio track it is read as a CMX 3600
//! dissolve, so that conform makes the same crossfades and fades from it as
//! from an EDL: the outgoing clip ends `in_offset` before the cut and its
//! continuation (a zero-length edit of the incoming clip's event, as an
//! EDL's) plays on under the incoming clip, which starts `in_offset` before
//! the cut (with `in_offset` more of its source) and dissolves in over
//! `in_offset + out_offset`. A `Gap`, the start or the end of the track on
//! either side is black (`BL`): a transition from a gap (or at the track's
//! start) is a fade in of the clip after it, one to a gap (or at the track's
//! end) a fade out of the clip before it, over the same length. The edits
//! made for this are marked [`Edit::from_transition`]. Video tracks keep their
//! clips as the file places them (the incoming clip marked a dissolve).

use super::{Edit, EditList, ListKind, ListTimecode, MotionEffect, Transition};
use crate::timecode::{FrameRate, Timecode};
use serde_json::Value;

/// Parses OTIO JSON text read at `rate`.
pub fn parse(text: &str, rate: FrameRate) -> Result<EditList, String> {
    let doc: Value = serde_json::from_str(&quote_non_finite(text))
        .map_err(|e| format!("not OpenTimelineIO JSON: {e}"))?;
    let mut list = EditList {
        kind: ListKind::Otio,
        title: String::new(),
        rate,
        drop_frame: rate.is_drop(),
        reel_width: 0,
        edits: Vec::new(),
        warnings: Vec::new(),
        otio_document: None,
    };
    let timeline = find_schema(&doc, "Timeline").ok_or_else(|| {
        "no Timeline in the file (expected an OTIO_SCHEMA \"Timeline.1\", a Stack or a Track)"
            .to_string()
    })?;
    list.title = timeline["name"].as_str().unwrap_or_default().to_string();
    let start = if schema(timeline) == "Timeline" {
        timeline
            .get("global_start_time")
            .and_then(|t| rational(t, rate))
            .unwrap_or(0)
    } else {
        0
    };
    let stack = if schema(timeline) == "Timeline" {
        &timeline["tracks"]
    } else {
        timeline
    };
    let tracks: Vec<&Value> = match schema(stack) {
        "Stack" => children(stack).iter().collect(),
        "Track" | "Sequence" => vec![stack],
        s => return Err(format!("the timeline's tracks are a '{s}', not a Stack")),
    };
    let mut audio_index = 0u32;
    let mut number = 0u32;
    for (ti, track) in tracks.iter().enumerate() {
        if !matches!(schema(track), "Track" | "Sequence") {
            list.warnings.push(format!(
                "track {}: a '{}' in the top-level stack is not a track, skipped",
                ti + 1,
                schema(track)
            ));
            continue;
        }
        let audio = track["kind"].as_str() == Some("Audio");
        if audio {
            audio_index += 1;
        }
        let track_name = track["name"].as_str().unwrap_or_default();
        let mut pos = start;
        // a video track: the dissolve length of the next clip
        let mut pending_transition: Option<u32> = None;
        // an audio track: the transition waiting for the item after it, and
        // the clip just before (its index, its record in and source out, in
        // frames)
        let mut pending: Option<Pending> = None;
        let mut last_clip: Option<(usize, i64, i64)> = None;
        for (ci, item) in children(track).iter().enumerate() {
            if audio && !matches!(schema(item), "Clip" | "Transition") {
                if let Some(p) = pending.take() {
                    fade_to_black(&mut list.edits, p, audio_index, rate);
                }
                last_clip = None;
            }
            match schema(item) {
                "Clip" => {
                    number += 1;
                    let media = media_reference(item);
                    let range = item
                        .get("source_range")
                        .filter(|v| !v.is_null())
                        .or_else(|| media.and_then(|m| m.get("available_range")))
                        .filter(|v| !v.is_null());
                    let Some((src_in, dur)) = range.and_then(|r| time_range(r, rate)) else {
                        return Err(format!(
                            "track {} ('{track_name}'), item {}: clip '{}' has neither a source_range nor an available_range",
                            ti + 1,
                            ci + 1,
                            item["name"].as_str().unwrap_or_default()
                        ));
                    };
                    let name = item["name"].as_str().map(str::to_string);
                    let url = media
                        .filter(|m| schema(m) == "ExternalReference")
                        .and_then(|m| m["target_url"].as_str())
                        .map(str::to_string);
                    let reel = item
                        .pointer("/metadata/cmx_3600/reel")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| name.clone())
                        .unwrap_or_default();
                    let motion = speed(item).map(|s| MotionEffect {
                        reel: reel.clone(),
                        fps: s * rate.nominal() as f64,
                        trigger: None,
                        line: ci + 1,
                    });
                    let frames = pending_transition.take().unwrap_or(0);
                    let mut e = Edit {
                        number,
                        line: ci + 1,
                        reel,
                        channels: if audio {
                            format!("A{audio_index}")
                        } else {
                            "V".into()
                        },
                        video: !audio,
                        tracks: if audio { vec![audio_index] } else { Vec::new() },
                        transition: if frames > 0 {
                            Transition::Dissolve
                        } else {
                            Transition::Cut
                        },
                        transition_frames: frames,
                        source_in: tc(src_in, rate),
                        source_out: tc(src_in + dur, rate),
                        record_in: tc(pos, rate),
                        record_out: tc(pos + dur, rate),
                        clip_name: name,
                        source_file: url.clone(),
                        source_path: url,
                        patch: Vec::new(),
                        motion,
                        split: None,
                        comments: Vec::new(),
                        from_transition: false,
                    };
                    if let Some(p) = pending.take() {
                        // a crossfade, or a fade in from black: the outgoing side
                        // first (same event), then this clip from `in_offset`
                        // before the cut, dissolving in
                        // (no earlier than midnight, nor than the clip's source)
                        let a = p.a.min(p.cut.max(0));
                        let early = if src_in < a {
                            list.warnings.push(format!(
                                "track {} ('{track_name}'), item {}: clip '{}' has {src_in} frames of source before its range, fewer than the transition's in_offset ({a}): its fade starts {src_in} frames before the cut",
                                ti + 1,
                                ci + 1,
                                e.clip_name.as_deref().unwrap_or_default(),
                            ));
                            src_in
                        } else {
                            a
                        };
                        let out = p.outgoing.unwrap_or_else(|| {
                            black(
                                number,
                                ci + 1,
                                audio_index,
                                p.cut - early,
                                p.cut - early,
                                rate,
                            )
                        });
                        list.edits.push(Edit { number, ..out });
                        e.record_in = tc(p.cut - early, rate);
                        e.source_in = tc(src_in - early, rate);
                        e.transition = Transition::Dissolve;
                        e.transition_frames = (early + p.b).max(0) as u32;
                    }
                    list.edits.push(e);
                    last_clip = audio.then(|| (list.edits.len() - 1, pos, src_in + dur));
                    pos += dur;
                }
                "Gap" => {
                    pos += item_duration(item, rate);
                    pending_transition = None;
                }
                "Transition" => {
                    let a = item
                        .get("in_offset")
                        .and_then(|t| rational(t, rate))
                        .unwrap_or(0)
                        .max(0);
                    let b = item
                        .get("out_offset")
                        .and_then(|t| rational(t, rate))
                        .unwrap_or(0)
                        .max(0);
                    if !audio {
                        pending_transition = Some((a + b) as u32);
                        continue;
                    }
                    if let Some(p) = pending.take() {
                        // two transitions in a row: the first ends in black
                        fade_to_black(&mut list.edits, p, audio_index, rate);
                    }
                    // the clip before ends `in_offset` before the cut (no
                    // earlier than its start); its continuation is kept for the
                    // item after
                    let mut a = a;
                    let outgoing = last_clip.take().map(|(k, rec_in, src_out)| {
                        let e = &mut list.edits[k];
                        a = a.min((pos - rec_in).max(0));
                        e.record_out = tc(pos - a, rate);
                        e.source_out = tc(src_out - a, rate);
                        Edit {
                            source_in: e.source_out,
                            record_in: e.record_out,
                            transition: Transition::Cut,
                            transition_frames: 0,
                            from_transition: true,
                            ..e.clone()
                        }
                    });
                    pending = Some(Pending {
                        cut: pos,
                        a,
                        b,
                        outgoing,
                        line: ci + 1,
                    });
                }
                "Stack" | "Track" | "Sequence" => {
                    let d = item_duration(item, rate);
                    list.warnings.push(format!(
                        "track {} ('{track_name}'), item {}: a nested {} ('{}') takes {d} frames; its clips are not conformed",
                        ti + 1,
                        ci + 1,
                        schema(item),
                        item["name"].as_str().unwrap_or_default()
                    ));
                    pos += d;
                }
                s => list.warnings.push(format!(
                    "track {} ('{track_name}'), item {}: '{s}' skipped",
                    ti + 1,
                    ci + 1
                )),
            }
        }
        if let Some(p) = pending.take() {
            fade_to_black(&mut list.edits, p, audio_index, rate);
        }
    }
    list.otio_document = Some(doc);
    Ok(list)
}

/// An audio track's transition waiting for the item after it.
struct Pending {
    /// Where the cut is (record frames).
    cut: i64,
    /// `in_offset` and `out_offset` (frames).
    a: i64,
    b: i64,
    /// The zero-length continuation of the clip before, `None` for black.
    outgoing: Option<Edit>,
    /// The transition's index in its track (1-based).
    line: usize,
}

/// A `BL` (silence) edit of audio track `track` over record frames `from .. to`.
fn black(number: u32, line: usize, track: u32, from: i64, to: i64, rate: FrameRate) -> Edit {
    Edit {
        number,
        line,
        reel: "BL".into(),
        channels: format!("A{track}"),
        video: false,
        tracks: vec![track],
        transition: Transition::Cut,
        transition_frames: 0,
        source_in: tc(0, rate),
        source_out: tc(to - from, rate),
        record_in: tc(from, rate),
        record_out: tc(to, rate),
        clip_name: None,
        source_file: None,
        source_path: None,
        patch: Vec::new(),
        motion: None,
        split: None,
        comments: Vec::new(),
        from_transition: true,
    }
}

/// A transition with black after it: the clip before (if any) fades out, as an
/// EDL's dissolve to `BL` (its continuation, then black dissolving in, in one
/// event); black to black is nothing.
fn fade_to_black(edits: &mut Vec<Edit>, p: Pending, track: u32, rate: FrameRate) {
    let Some(out) = p.outgoing else {
        return;
    };
    let number = out.number;
    edits.push(out);
    edits.push(Edit {
        transition: Transition::Dissolve,
        transition_frames: (p.a + p.b) as u32,
        ..black(number, p.line, track, p.cut - p.a, p.cut + p.b, rate)
    });
}

/// The schema name without its version: `"Clip.2"` -> `"Clip"`.
fn schema(v: &Value) -> &str {
    v["OTIO_SCHEMA"]
        .as_str()
        .map(|s| s.split('.').next().unwrap_or(s))
        .unwrap_or("")
}

fn children(v: &Value) -> &[Value] {
    v["children"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The first object of schema `name` (depth first), or a bare Stack/Track root.
fn find_schema<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    if schema(v) == name {
        return Some(v);
    }
    if let Some(c) = v["children"].as_array() {
        if let Some(t) = c.iter().find_map(|c| find_schema(c, name)) {
            return Some(t);
        }
    }
    matches!(schema(v), "Stack" | "Track" | "Sequence").then_some(v)
}

fn media_reference(clip: &Value) -> Option<&Value> {
    if let Some(refs) = clip.get("media_references").and_then(Value::as_object) {
        let key = clip["active_media_reference_key"]
            .as_str()
            .unwrap_or("DEFAULT_MEDIA");
        return refs.get(key).or_else(|| refs.values().next());
    }
    clip.get("media_reference").filter(|m| !m.is_null())
}

/// A RationalTime as frames at `rate` (rounded to the nearest frame).
fn rational(t: &Value, rate: FrameRate) -> Option<i64> {
    let value = t["value"].as_f64()?;
    let r = t["rate"].as_f64()?;
    if !value.is_finite() || !r.is_finite() || r <= 0.0 {
        return None;
    }
    let frames = if (r - rate.nominal() as f64).abs() < 1e-3 || (r - rate.fps()).abs() < 1e-3 {
        value
    } else {
        value / r * rate.fps()
    };
    Some(frames.round() as i64)
}

/// A TimeRange as (start, duration) in frames at `rate`.
fn time_range(r: &Value, rate: FrameRate) -> Option<(i64, i64)> {
    Some((
        rational(&r["start_time"], rate)?,
        rational(&r["duration"], rate)?,
    ))
}

/// The length an item takes on its track, in frames at `rate`.
fn item_duration(v: &Value, rate: FrameRate) -> i64 {
    if let Some((_, d)) = v
        .get("source_range")
        .filter(|r| !r.is_null())
        .and_then(|r| time_range(r, rate))
    {
        return d;
    }
    match schema(v) {
        "Stack" => children(v)
            .iter()
            .map(|c| item_duration(c, rate))
            .max()
            .unwrap_or(0),
        "Track" | "Sequence" => children(v)
            .iter()
            .filter(|c| schema(c) != "Transition")
            .map(|c| item_duration(c, rate))
            .sum(),
        "Clip" => media_reference(v)
            .and_then(|m| m.get("available_range"))
            .and_then(|r| time_range(r, rate))
            .map_or(0, |(_, d)| d),
        _ => 0,
    }
}

/// Speed relative to normal from the clip's effects.
fn speed(clip: &Value) -> Option<f64> {
    let fx = clip["effects"].as_array()?;
    let mut s: Option<f64> = None;
    for e in fx {
        match schema(e) {
            "FreezeFrame" => s = Some(0.0),
            "LinearTimeWarp" => {
                let k = e["time_scalar"].as_f64().unwrap_or(1.0);
                s = Some(s.unwrap_or(1.0) * k);
            }
            _ => {}
        }
    }
    s
}

fn tc(frames: i64, rate: FrameRate) -> ListTimecode {
    let t = Timecode::from_frames(frames, rate);
    ListTimecode {
        hours: t.hours,
        minutes: t.minutes,
        seconds: t.seconds,
        frames: t.frames,
        drop: rate.is_drop(),
    }
}

/// Replaces the bare `Inf`, `Infinity`, `-Inf`, `-Infinity` and `NaN` that
/// OpenTimelineIO writes for non-finite floats (outside strings) with JSON
/// strings of the same text.
fn quote_non_finite(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_str = false;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        for word in ["-Infinity", "Infinity", "-Inf", "Inf", "NaN"] {
            let w = word.as_bytes();
            let ends = b
                .get(i + w.len())
                .is_none_or(|&n| !(n.is_ascii_alphanumeric() || n == b'_'));
            if b[i..].starts_with(w) && ends {
                out.push_str(&text[last..i]);
                out.push('"');
                out.push_str(word);
                out.push('"');
                i += w.len();
                last = i;
                break;
            }
        }
        i += 1;
    }
    if last < text.len() {
        out.push_str(&text[last..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_are_quoted_outside_strings() {
        let t = r#"{"a": Inf, "b": -Infinity, "c": NaN, "d": "Inf NaN", "e": [1, -Inf]}"#;
        let v: Value = serde_json::from_str(&quote_non_finite(t)).unwrap();
        assert_eq!(v["a"], "Inf");
        assert_eq!(v["b"], "-Infinity");
        assert_eq!(v["c"], "NaN");
        assert_eq!(v["d"], "Inf NaN");
        assert_eq!(v["e"][1], "-Inf");
    }

    #[test]
    fn audio_track_with_gap_and_transition() {
        let rt =
            |v: i64| serde_json::json!({"OTIO_SCHEMA": "RationalTime.1", "value": v, "rate": 24});
        let range = |s: i64, d: i64| serde_json::json!({"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(s), "duration": rt(d)});
        let doc = serde_json::json!({
            "OTIO_SCHEMA": "Timeline.1", "name": "t", "future_field": {"kept": true},
            "global_start_time": rt(86400),
            "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
                {"OTIO_SCHEMA": "Track.1", "kind": "Video", "children": []},
                {"OTIO_SCHEMA": "Track.1", "kind": "Audio", "children": [
                    {"OTIO_SCHEMA": "Clip.2", "name": "a", "source_range": range(100, 48),
                     "active_media_reference_key": "DEFAULT_MEDIA",
                     "media_references": {"DEFAULT_MEDIA": {"OTIO_SCHEMA": "ExternalReference.1", "target_url": "file:///a.wav"}}},
                    {"OTIO_SCHEMA": "Gap.1", "source_range": range(0, 24)},
                    {"OTIO_SCHEMA": "Clip.1", "name": "b", "source_range": range(0, 24),
                     "effects": [{"OTIO_SCHEMA": "LinearTimeWarp.1", "time_scalar": 2.0}]},
                    {"OTIO_SCHEMA": "Transition.1", "in_offset": rt(6), "out_offset": rt(6)},
                    {"OTIO_SCHEMA": "Clip.1", "name": "c", "source_range": range(10, 24)}
                ]}
            ]}
        });
        let l = parse(&doc.to_string(), FrameRate::Fps24).unwrap();
        assert_eq!(l.edits.len(), 4);
        let a = &l.edits[0];
        assert_eq!(a.tracks, vec![1]);
        assert_eq!(a.record_in.to_string(), "01:00:00:00");
        assert_eq!(a.record_out.to_string(), "01:00:02:00");
        assert_eq!(a.source_in.to_string(), "00:00:04:04");
        assert_eq!(a.source_file.as_deref(), Some("file:///a.wav"));
        assert_eq!(l.edits[1].record_in.to_string(), "01:00:03:00");
        assert_eq!(l.edits[1].speed(FrameRate::Fps24), Some(2.0));
        // the crossfade, as an EDL's dissolve: b ends 6 frames before the cut
        // (01:00:04:00), its continuation opens c's event, and c starts there
        // with 6 more frames of its source, dissolving in over 12
        let (b, out, c) = (&l.edits[1], &l.edits[2], &l.edits[3]);
        assert_eq!(b.record_out.to_string(), "01:00:03:18");
        assert_eq!(b.source_out.to_string(), "00:00:00:18");
        assert!(!b.from_transition);
        assert_eq!((out.number, out.reel.as_str()), (c.number, "b"));
        assert!(out.from_transition);
        assert_eq!(out.record_in, out.record_out);
        assert_eq!(out.record_in.to_string(), "01:00:03:18");
        assert_eq!(out.source_in.to_string(), "00:00:00:18");
        assert_eq!(c.transition, Transition::Dissolve);
        assert_eq!(c.transition_frames, 12);
        assert_eq!(c.record_in.to_string(), "01:00:03:18");
        assert_eq!(c.source_in.to_string(), "00:00:00:04");
        assert_eq!(c.record_out.to_string(), "01:00:05:00");
        // the dry run lists the clips only
        let names: Vec<_> = l.dry_run().events.into_iter().map(|e| e.reel).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(l.otio_document.unwrap()["future_field"]["kept"], true);
    }

    #[test]
    fn transitions_from_and_to_gaps_and_track_ends_are_fades() {
        let rt =
            |v: i64| serde_json::json!({"OTIO_SCHEMA": "RationalTime.1", "value": v, "rate": 25});
        let range = |s: i64, d: i64| serde_json::json!({"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(s), "duration": rt(d)});
        let tr = |a: i64, b: i64| serde_json::json!({"OTIO_SCHEMA": "Transition.1", "in_offset": rt(a), "out_offset": rt(b)});
        let doc = serde_json::json!({
            "OTIO_SCHEMA": "Timeline.1", "name": "fades",
            "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
                {"OTIO_SCHEMA": "Track.1", "kind": "Audio", "children": [
                    tr(0, 10),
                    {"OTIO_SCHEMA": "Clip.1", "name": "one", "source_range": range(25, 50)},
                    tr(5, 5),
                    {"OTIO_SCHEMA": "Gap.1", "source_range": range(0, 25)},
                    tr(4, 6),
                    {"OTIO_SCHEMA": "Clip.1", "name": "two", "source_range": range(100, 50)},
                    tr(3, 0)
                ]}
            ]}
        });
        let l = parse(&doc.to_string(), FrameRate::Fps25).unwrap();
        let f = |t: ListTimecode| t.frames_at(FrameRate::Fps25).unwrap();
        let got: Vec<_> = l
            .edits
            .iter()
            .map(|e| {
                (
                    e.number,
                    e.reel.as_str(),
                    e.transition_frames,
                    f(e.record_in),
                    f(e.record_out),
                    f(e.source_in),
                    e.from_transition,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // a fade in from black at the track's start: 0 + 10 frames
                (1, "BL", 0, 0, 0, 0, true),
                (1, "one", 10, 0, 45, 25, false),
                // a fade out to the gap: "one" ends 5 before the cut at 50 and
                // goes on under black dissolving in over 10
                (1, "one", 0, 45, 45, 70, true),
                (1, "BL", 10, 45, 55, 0, true),
                // a fade in from the gap: "two" starts 4 before the cut at 75
                (2, "BL", 0, 71, 71, 0, true),
                (2, "two", 10, 71, 122, 96, false),
                // a fade out at the track's end, 3 + 0 frames
                (2, "two", 0, 122, 122, 147, true),
                (2, "BL", 3, 122, 125, 0, true),
            ]
        );
        assert!(l.edits.iter().all(|e| e.tracks == [1]));
        assert!(
            l.edits
                .iter()
                .filter(|e| e.transition_frames > 0)
                .all(|e| e.transition == Transition::Dissolve)
        );
        assert_eq!(l.dry_run().events.len(), 2);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }
}
