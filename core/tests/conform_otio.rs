//! OTIO and conform, against OpenTimelineIO (PyPI): the export of a conform
//! with a dissolve, read back (the outgoing and incoming clips with a
//! `Transition` between them whose `out_offset` is the dissolve's length, the
//! incoming clip at its record position: a transition takes no room on an OTIO
//! track); and an OTIO file's transitions to and from black (a gap, the
//! track's start or end) read as fades of the lengths and at the places
//! OpenTimelineIO gives them, conformed into fades heard at those samples.

#[path = "editorial/reference.rs"]
mod reference;

use dubstage_core::FrameRate;
use dubstage_core::conform::{self, ConformOptions};
use dubstage_core::editorial::{self, edl};
use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use serde_json::Value;
use std::process::Command;

const EDL: &str = "TITLE: DISSOLVE
FCM: NON-DROP FRAME

001  TONE48   A     C        00:00:01:00 00:00:03:00 01:00:00:00 01:00:02:00
002  TONE48   A     C        00:00:03:00 00:00:03:00 01:00:02:00 01:00:02:00
002  TONE48   A     D    010 00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00
";

#[test]
fn a_dissolve_is_exported_as_an_otio_transition() {
    let dir = std::env::temp_dir().join(format!("dubstage-conform-otio-{}", std::process::id()));
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(media.join("TONE48.wav"), spec).unwrap();
    for i in 0..20 * 48_000 {
        w.write_sample(((i % 100) as i16 - 50) * 100).unwrap();
    }
    w.finalize().unwrap();
    let list = edl::parse(EDL, FrameRate::Fps25).unwrap();
    let c = conform::conform(
        &list,
        &ConformOptions {
            media: vec![media],
            handles_s: 1.0,
            channel_names: Vec::new(),
            session_dir: dir.clone(),
        },
    )
    .unwrap();
    assert_eq!(c.matched, 2, "{}", c.report_text());
    let path = dir.join("d.otio");
    std::fs::write(&path, serde_json::to_string_pretty(&c.to_otio()).unwrap()).unwrap();
    let script = r#"
import json, sys
import opentimelineio as otio
tl = otio.adapters.read_from_file(sys.argv[1])
out = []
for track in tl.tracks:
    for item in track:
        d = {"schema": item.schema_name()}
        if isinstance(item, otio.schema.Transition):
            d["in_offset"] = item.in_offset.value
            d["out_offset"] = item.out_offset.value
        else:
            r = item.range_in_parent()
            d["record_in"] = r.start_time.value
            d["duration"] = r.duration.value
            if isinstance(item, otio.schema.Clip):
                d["source_in"] = item.source_range.start_time.value
        out.append(d)
json.dump(out, sys.stdout)
"#;
    let out = Command::new(reference::python3())
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "OpenTimelineIO could not read the export (pip install opentimelineio): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = serde_json::json!([
        {"schema": "Clip", "record_in": 0.0, "duration": 96000.0, "source_in": 48000.0},
        {"schema": "Transition", "in_offset": 0.0, "out_offset": 19200.0},
        {"schema": "Clip", "record_in": 96000.0, "duration": 96000.0, "source_in": 480000.0},
    ]);
    assert_eq!(v, want);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An audio track at 25 fps from 01:00:00:00 (90 000 frames): a transition at
/// its start (0 + 10 frames), clip "TONE" (source 1 s, 2 s long), a transition
/// to a 1 s gap (5 + 5), a transition from the gap (4 + 6), the same take from
/// 4 s (2 s long), a transition at the track's end (3 + 0).
fn fades_otio() -> Value {
    let rt = |v: i64| serde_json::json!({"OTIO_SCHEMA": "RationalTime.1", "value": v, "rate": 25});
    let range = |s: i64, d: i64| serde_json::json!({"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(s), "duration": rt(d)});
    let tr = |a: i64, b: i64| serde_json::json!({"OTIO_SCHEMA": "Transition.1", "name": "", "transition_type": "SMPTE_Dissolve", "in_offset": rt(a), "out_offset": rt(b)});
    let clip = |s: i64, d: i64| {
        serde_json::json!({"OTIO_SCHEMA": "Clip.1", "name": "TONE", "source_range": range(s, d),
        "media_reference": {"OTIO_SCHEMA": "ExternalReference.1", "target_url": "media/TONE.wav", "available_range": range(0, 500)}})
    };
    serde_json::json!({
        "OTIO_SCHEMA": "Timeline.1", "name": "fades", "global_start_time": rt(90_000),
        "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "children": [
            {"OTIO_SCHEMA": "Track.1", "name": "A1", "kind": "Audio", "children": [
                tr(0, 10),
                clip(25, 50),
                tr(5, 5),
                {"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": range(0, 25)},
                tr(4, 6),
                clip(100, 50),
                tr(3, 0)
            ]}
        ]}
    })
}

#[test]
fn otio_fades_to_and_from_black_are_read_conformed_and_heard() {
    let dir = std::env::temp_dir().join(format!("dubstage-otio-fades-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    // 20 s of 0.5 (no bext: the take starts at 00:00:00:00)
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(media.join("TONE.wav"), spec).unwrap();
    for _ in 0..20 * 48_000 {
        w.write_sample(0.5f32).unwrap();
    }
    w.finalize().unwrap();
    let path = dir.join("fades.otio");
    std::fs::write(&path, serde_json::to_string_pretty(&fades_otio()).unwrap()).unwrap();
    let r = FrameRate::Fps25;
    let list = editorial::read_list(&path, r).unwrap();
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);

    // the fades as read: (first record frame, length) of every dissolve,
    // against OpenTimelineIO's range of every transition
    let key = path.display().to_string();
    let reference = reference::python("otio_dump.py", &["25".into(), key.clone()]);
    let mut want: Vec<(i64, i64)> = reference[&key]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["record_in"].as_i64().unwrap(),
                t["duration"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut got: Vec<(i64, i64)> = list
        .edits
        .iter()
        .filter(|e| e.transition_frames > 0)
        .map(|e| {
            (
                e.record_in.frames_at(r).unwrap(),
                e.transition_frames as i64,
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(
        want,
        [(90_000, 10), (90_045, 10), (90_071, 10), (90_122, 3)],
        "OpenTimelineIO's transitions"
    );
    assert_eq!(got, want);

    // conformed: each clip fades in from black, each fades out into its
    // continuation, in samples (1920 a frame)
    let c = conform::conform(
        &list,
        &ConformOptions {
            media: vec![media],
            handles_s: 1.0,
            channel_names: Vec::new(),
            session_dir: dir.clone(),
        },
    )
    .unwrap();
    assert_eq!((c.matched, c.unmatched), (2, 0), "{}", c.report_text());
    let f = |n: i64| n * 1920;
    let clips: Vec<(i64, u64, u64, u64, u64)> = c.tracks[0]
        .1
        .iter()
        .map(|k| (k.record, k.offset, k.length, k.fade_in, k.fade_out))
        .collect();
    let u = |n: i64| f(n) as u64;
    assert_eq!(
        clips,
        [
            (f(90_000), u(25), u(45), u(10), 0),
            (f(90_045), u(70), u(10), 0, u(10)),
            (f(90_071), u(96), u(51), u(10), 0),
            (f(90_122), u(147), u(3), 0, u(3)),
        ]
    );

    // heard: the session's track, sample by sample where the fades are
    let session = dir.join("session.toml");
    std::fs::write(&session, c.session_toml(&dir).unwrap()).unwrap();
    let plan = Session::load(&session).unwrap().resolve().unwrap();
    let st = &plan.stems[0];
    let mut rd = StemReader::open(st, &plan, 0).unwrap();
    let mut buf = vec![Vec::new()];
    let mut y = Vec::new();
    while y.len() < plan.length as usize {
        let n = 4096.min(plan.length as usize - y.len());
        rd.read_block(y.len() as i64, n, &mut buf).unwrap();
        y.extend_from_slice(&buf[0][..n]);
    }
    // a linear fade in of L samples has gain (i + ½)/L at its sample i
    let ramp = |i: i64, l: i64| (i as f64 + 0.5) / l as f64;
    let checks = [
        (0, 0.5 * ramp(0, f(10))),
        (9_600, 0.5 * ramp(9_600, f(10))),
        (f(10) + 5, 0.5),
        (f(45) - 1, 0.5),
        (f(45) + 4_800, 0.5 * (1.0 - ramp(4_800, f(10)))),
        (f(55) - 1, 0.5 * (1.0 - ramp(f(10) - 1, f(10)))),
        (f(55) + 100, 0.0),
        (f(71), 0.5 * ramp(0, f(10))),
        (f(71) + 15_000, 0.5 * ramp(15_000, f(10))),
        (f(100), 0.5),
        (f(122) + 1_000, 0.5 * (1.0 - ramp(1_000, f(3)))),
    ];
    for (i, v) in checks {
        assert!(
            (y[i as usize] as f64 - v).abs() < 1e-6,
            "sample {i}: {} (want {v})",
            y[i as usize]
        );
    }
    assert_eq!(y.len() as i64, f(125));
    std::fs::remove_dir_all(&dir).unwrap();
}
