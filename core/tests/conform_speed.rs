//! Conform with `M2` motion effects and takes at another sample rate: the
//! edit plays at the line's speed through the timeline's resampler, and a
//! 44.1 kHz take is converted on a 48 kHz reel. The conformed session, read as
//! the render reads it, is checked against the analytic tones the media were
//! written from (frequency, length and place on the reel to the sample).

use dubstage_core::FrameRate;
use dubstage_core::conform::{self, ConformOptions};
use dubstage_core::editorial::edl;
use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "dubstage-conform-speed-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_tone(path: &Path, rate: u32, hz: f64, n: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n {
        w.write_sample((0.5 * (TAU * hz * i as f64 / rate as f64).sin()) as f32)
            .unwrap();
    }
    w.finalize().unwrap();
}

fn residual_db(y: &[f32], a: usize, b: usize, want: impl Fn(usize) -> f64) -> f64 {
    let (mut e, mut s) = (0.0f64, 0.0f64);
    for (i, &v) in y.iter().enumerate().take(b).skip(a) {
        let w = want(i);
        e += (v as f64 - w).powi(2);
        s += w * w;
    }
    assert!(s > 0.0);
    10.0 * (e / s).log10()
}

// Files without recorder metadata: the roll is the file's name, the take
// starts at 00:00:00:00. At 25 fps a second is 48000 samples.
const EDL: &str = "TITLE: SPEED
FCM: NON-DROP FRAME

001  TONE44   A     C        00:00:01:00 00:00:03:00 01:00:00:00 01:00:02:00
002  TONE48   A     C        00:00:01:00 00:00:02:00 01:00:02:00 01:00:04:00
M2   TONE48       012.5                00:00:01:00
003  TONE48   A     C        00:00:04:00 00:00:06:00 01:00:04:00 01:00:05:00
M2   TONE48       050.0                00:00:04:00
004  TONE48   A     C        00:00:08:00 00:00:08:00 01:00:05:00 01:00:06:00
M2   TONE48       000.0                00:00:08:00
005  TONE48   A     C        00:00:08:00 00:00:08:00 01:00:06:00 01:00:07:00
M2   TONE48       -025.0               00:00:08:00
";

#[test]
fn m2_speeds_and_a_44k1_take_play_as_the_analytic_tones() {
    let dir = tmpdir("m2");
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    write_tone(&media.join("TONE44.wav"), 44_100, 1000.0, 10 * 44_100);
    write_tone(&media.join("TONE48.wav"), 48_000, 500.0, 10 * 48_000);
    write_tone(&media.join("OTHER48.wav"), 48_000, 100.0, 48_000);
    let list = edl::parse(EDL, FrameRate::Fps25).unwrap();
    let c = conform::conform(
        &list,
        &ConformOptions {
            media: vec![media.clone()],
            handles_s: 1.0,
            channel_names: Vec::new(),
            session_dir: dir.clone(),
        },
    )
    .unwrap();
    // two 48 kHz takes against one at 44.1: the conform is at 48 kHz
    assert_eq!(c.sample_rate, 48_000);
    let ev = |n: u32| c.events.iter().find(|e| e.number == n).unwrap();
    assert_eq!(ev(1).status, "matched");
    assert_eq!(
        ev(1).offset,
        Some(44_100),
        "offsets count the take's own frames"
    );
    assert_eq!(ev(1).speed, None);
    assert_eq!(ev(2).status, "matched");
    assert_eq!(
        ev(2).speed.as_deref(),
        Some("2/1"),
        "12.5 fps on 25: half speed"
    );
    assert_eq!(
        ev(3).speed.as_deref(),
        Some("1/2"),
        "50 fps on 25: double speed"
    );
    assert_eq!(ev(4).status, "unmatched");
    assert!(ev(4).reason.as_deref().unwrap().contains("freeze frame"));
    assert_eq!(ev(5).status, "unmatched");
    assert!(ev(5).reason.as_deref().unwrap().contains("reverse"));
    // handles count source frames: 1 s of the take either side
    let a1 = &c.tracks[0].1;
    assert_eq!(a1[0].handles, [44_100, 44_100]);
    // event 2 plays 1 s of source over 2 s: 1 s of handle after 00:00:02:00
    assert_eq!(a1[1].handles, [48_000, 48_000]);

    // the OTIO export: the 44.1 kHz source in at its own rate, the speeds as
    // LinearTimeWarp effects (media taken = duration × time_scalar)
    let ot = c.to_otio();
    let clips: Vec<&serde_json::Value> = ot["tracks"]["children"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["OTIO_SCHEMA"] == "Clip.2")
        .collect();
    assert_eq!(clips.len(), 3);
    assert_eq!(clips[0]["source_range"]["start_time"]["rate"], 44_100.0);
    assert_eq!(clips[0]["source_range"]["start_time"]["value"], 44_100.0);
    assert_eq!(clips[0]["effects"], serde_json::json!([]));
    assert_eq!(clips[1]["effects"][0]["time_scalar"], 0.5);
    assert_eq!(clips[2]["effects"][0]["time_scalar"], 2.0);

    let text = c.session_toml(&dir).unwrap();
    assert!(text.contains("speed = \"2/1\""), "{text}");
    let session = dir.join("s.toml");
    std::fs::write(&session, &text).unwrap();
    let s = Session::load(&session).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = s.resolve().unwrap_or_else(|e| panic!("{e}"));
    let st = &plan.stems[0];
    let mut r = StemReader::open(st, &plan, 0).unwrap();
    let len = plan.length as usize;
    assert_eq!(len, 5 * 48_000, "the reel ends with event 3");
    let mut y = Vec::new();
    let mut buf = vec![Vec::new()];
    let mut t = 0;
    while t < len {
        let n = 5000.min(len - t);
        r.read_block(t as i64, n, &mut buf).unwrap();
        y.extend_from_slice(&buf[0][..n]);
        t += n;
    }
    let sec = 48_000usize;
    // event 1: 1 kHz from the 44.1 kHz take, 1 s in
    let db = residual_db(&y, 0, 2 * sec, |i| {
        0.5 * (TAU * 1000.0 * (1.0 + i as f64 / sec as f64)).sin()
    });
    assert!(db < -100.0, "event 1: {db:.1} dB");
    // event 2: half speed, from 1 s into the take: 250 Hz
    let db = residual_db(&y, 2 * sec, 4 * sec, |i| {
        0.5 * (TAU * 500.0 * (1.0 + (i - 2 * sec) as f64 / sec as f64 / 2.0)).sin()
    });
    assert!(db < -100.0, "event 2: {db:.1} dB");
    // event 3: double speed, from 4 s into the take: 1 kHz for 1 s
    let db = residual_db(&y, 4 * sec, 5 * sec, |i| {
        0.5 * (TAU * 500.0 * (4.0 + 2.0 * (i - 4 * sec) as f64 / sec as f64)).sin()
    });
    assert!(db < -100.0, "event 3: {db:.1} dB");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn m2_speeds_outside_half_to_double_are_reported_not_guessed() {
    let e = "TITLE: X\n\n001  R1   A     C        00:00:01:00 00:00:02:00 01:00:00:00 01:00:01:00\nM2   R1       075.0                00:00:01:00\n";
    let list = edl::parse(e, FrameRate::Fps25).unwrap();
    let why = conform::edit_speed(&list.edits[0], FrameRate::Fps25).unwrap_err();
    assert!(why.contains("M2 at 75 fps"), "{why}");
    let e = e.replace("075.0", "023.976");
    let list = edl::parse(&e, FrameRate::Fps24).unwrap();
    // 23.976 fps on a 24 fps list: the source plays 0.999 as fast, so the clip
    // lasts 24000/23976 as long (the fps as written, to the thousandth)
    let sp = conform::edit_speed(&list.edits[0], FrameRate::Fps24).unwrap();
    assert_eq!(
        (sp.length_num, sp.length_den),
        (1000, 999),
        "24000/23976 reduced"
    );
}
