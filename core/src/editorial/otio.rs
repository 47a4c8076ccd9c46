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
        let mut pending_transition: Option<u32> = None;
        for (ci, item) in children(track).iter().enumerate() {
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
                    list.edits.push(Edit {
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
                    });
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
                        .unwrap_or(0);
                    let b = item
                        .get("out_offset")
                        .and_then(|t| rational(t, rate))
                        .unwrap_or(0);
                    pending_transition = Some((a + b).max(0) as u32);
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
    }
    list.otio_document = Some(doc);
    Ok(list)
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
                    {"OTIO_SCHEMA": "Clip.1", "name": "c", "source_range": range(0, 24)}
                ]}
            ]}
        });
        let l = parse(&doc.to_string(), FrameRate::Fps24).unwrap();
        assert_eq!(l.edits.len(), 3);
        let a = &l.edits[0];
        assert_eq!(a.tracks, vec![1]);
        assert_eq!(a.record_in.to_string(), "01:00:00:00");
        assert_eq!(a.record_out.to_string(), "01:00:02:00");
        assert_eq!(a.source_in.to_string(), "00:00:04:04");
        assert_eq!(a.source_file.as_deref(), Some("file:///a.wav"));
        assert_eq!(l.edits[1].record_in.to_string(), "01:00:03:00");
        assert_eq!(l.edits[1].speed(FrameRate::Fps24), Some(2.0));
        assert_eq!(l.edits[2].transition, Transition::Dissolve);
        assert_eq!(l.edits[2].transition_frames, 12);
        assert_eq!(l.otio_document.unwrap()["future_field"]["kept"], true);
    }
}
