//! The OTIO export of a conform with a dissolve, read back by OpenTimelineIO
//! (PyPI): the outgoing and incoming clips with a `Transition` between them
//! whose `out_offset` is the dissolve's length, the incoming clip at its
//! record position (a transition takes no room on an OTIO track).

use dubstage_core::FrameRate;
use dubstage_core::conform::{self, ConformOptions};
use dubstage_core::editorial::edl;
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
    let out = Command::new("python3")
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
