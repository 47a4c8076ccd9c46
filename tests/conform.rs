//! End-to-end tests of `dubstage conform` and of `inspect` on real recorder
//! files (from `../shared/real`, or `DUBSTAGE_SHARED`).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn real() -> PathBuf {
    let shared = std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let r = shared.join("real");
    assert!(
        r.join("recorders").is_dir(),
        "the shared real material is missing at {} (set DUBSTAGE_SHARED)",
        r.display()
    );
    r
}

#[test]
fn inspect_shows_the_start_at_the_files_own_timecode_rate() {
    let sd = real().join("recorders/sounddevices/A101_1.WAV");
    let v: Value = serde_json::from_str(&ok(&["inspect", "--json", sd.to_str().unwrap()])).unwrap();
    // TimeReference 2190940753 = 12:39:59:00 + 1 sample at 23.976 (2002 samples a frame)
    assert_eq!(v[0]["start_timecode"], "12:39:59:00");
    assert_eq!(v[0]["timecode_rate"], "23.976");
    assert_eq!(v[0]["timecode_rate_from"], "file");
    // at 24 fps (what inspect assumed before) the same sample reads 45 s later
    let v: Value = serde_json::from_str(&ok(&[
        "inspect",
        "--json",
        "--fps",
        "24",
        sd.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v[0]["start_timecode"], "12:40:44:14");
    assert_eq!(v[0]["timecode_rate_from"], "--fps");
    let text = ok(&["inspect", sd.to_str().unwrap()]);
    assert!(
        text.contains("= 12:39:59:00 at 23.976 (the file's own rate)"),
        "{text}"
    );
}

#[test]
fn dry_run_prints_the_avid_dialogue_list_as_parsed() {
    let edl = real().join("edl/pycmx/INS4_R2_DX_092117.edl");
    let v: Value = serde_json::from_str(&ok(&[
        "conform",
        edl.to_str().unwrap(),
        "--fps",
        "23.976",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    let ev = v["events"].as_array().unwrap();
    assert_eq!(ev.len(), 458, "pycmx reads 458 edits in this list");
    let e = ev.iter().find(|e| e["number"] == 4).unwrap();
    let want: Value = serde_json::json!({
        "number": 4, "reel": "SR001", "tracks": [2], "transition": "C", "transition_frames": 0,
        "source_in": "15:44:11:13", "source_out": "15:44:13:01",
        "record_in": "02:00:11:12", "record_out": "02:00:12:23",
        "clip_name": "16E-2A", "source_file": "A005C001_160815_R1BY", "speed": null
    });
    assert_eq!(e, &want);
    let text = ok(&[
        "conform",
        edl.to_str().unwrap(),
        "--fps",
        "23.976",
        "--dry-run",
    ]);
    assert!(text.contains("SR001"), "{text}");
}

#[test]
fn dry_run_of_an_otio_file_and_errors_in_json() {
    let otio = real().join("otio/simple_cut.otio");
    let v: Value = serde_json::from_str(&ok(&[
        "conform",
        otio.to_str().unwrap(),
        "--fps",
        "24",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["format"], "otio");
    // only clips on audio tracks are events; this file has video tracks only
    assert_eq!(v["events"].as_array().unwrap().len(), 0);
    let dir = tmpdir("conform-bad");
    let bad = dir.join("bad.edl");
    std::fs::write(
        &bad,
        "TITLE: bad\n001  R1  A  C  01:00:00:00 01:00:01:00 01:00:00:24 01:00:01:00\n",
    )
    .unwrap();
    let o = dubstage(&[
        "conform",
        bad.to_str().unwrap(),
        "--fps",
        "24",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("bad.edl:2:") && e.contains("record in"), "{e}");
}

/// A list over the Sound Devices 702T takes of `../shared/real` (roll
/// 18Y12M31, 23.976 NDF): take 1 starts at 12:39:59:00 + 1 sample (poly and
/// split mono), take 2 at 12:40:04:00 + 4 samples.
const EDL: &str = "TITLE: CONFORM TEST\r
FCM: NON-DROP FRAME\r
\r
001  18Y12M31 A     C        12:39:59:06 12:40:01:06 01:00:01:00 01:00:03:00 \r
* FROM CLIP NAME:  A101-1\r
002  18Y12M31 A     C        12:40:05:00 12:40:07:00 01:00:03:00 01:00:05:00 \r
* FROM CLIP NAME:  A101-2\r
003  18Y12M31 A2    C        12:40:00:00 12:40:02:00 01:00:01:00 01:00:03:00 \r
* FROM CLIP NAME:  A101-1\r
* PATCH 18Y12M31:  FROM SOURCE 1 TO RECORD 2\r
004  18Y12M31 A     C        12:50:00:00 12:50:01:00 01:00:05:00 01:00:06:00 \r
005  SR999    A     C        12:40:00:00 12:40:01:00 01:00:06:00 01:00:07:00 \r
006  18Y12M31 A     C        12:40:07:00 12:40:07:00 01:00:07:00 01:00:07:00 \r
006  18Y12M31 A     D    012 12:40:08:00 12:40:10:00 01:00:07:00 01:00:09:00 \r
* FROM CLIP NAME:  A101-2\r
* TO CLIP NAME:  A101-2\r
";

fn hound_read(p: &Path) -> Vec<Vec<f32>> {
    let mut r = hound::WavReader::open(p).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
    let mut out = vec![Vec::new(); n];
    for (i, s) in r.samples::<i32>().enumerate() {
        out[i % n].push((s.unwrap() as f64 * scale) as f32);
    }
    out
}

fn stem_audio(session: &Path, id: &str) -> Vec<f32> {
    use dubstage_core::pipeline::StemReader;
    let s = dubstage_core::session::Session::load(session).unwrap();
    let plan = s.resolve().unwrap();
    let st = plan.stems.iter().find(|s| s.id == id).unwrap();
    let mut r = StemReader::open(st, &plan, 0).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![Vec::new()];
    let mut t = 0u64;
    while t < plan.length {
        let n = 7000.min(plan.length - t) as usize;
        r.read_block(t as i64, n, &mut buf).unwrap();
        out.extend_from_slice(&buf[0][..n]);
        t += n as u64;
    }
    out
}

#[test]
fn conform_relinks_the_recorder_files_sample_for_sample_and_renders() {
    let sd = real().join("recorders/sounddevices");
    let dir = tmpdir("conform-real");
    let edl = dir.join("reel1.edl");
    std::fs::write(&edl, EDL).unwrap();
    let session = dir.join("reel1.toml");
    let otio = dir.join("reel1.otio");
    let o = ok(&[
        "conform",
        edl.to_str().unwrap(),
        "--media",
        sd.to_str().unwrap(),
        "--fps",
        "23.976",
        "--out",
        session.to_str().unwrap(),
        "--otio",
        otio.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&o).unwrap();
    let ev = v["events"].as_array().unwrap();
    let by = |n: u64| -> Vec<&Value> { ev.iter().filter(|e| e["number"] == n).collect() };
    // event 1: take 1 (the poly file, not the split mono copy), channel 1, 6 frames in
    let e1 = by(1)[0];
    assert_eq!(e1["status"], "matched", "{e1}");
    assert!(e1["file"].as_str().unwrap().ends_with("A101_1.WAV"), "{e1}");
    assert_eq!(e1["channel"], 1);
    assert_eq!(e1["offset"], 6 * 2002 - 1);
    let e2 = by(2)[0];
    assert!(e2["file"].as_str().unwrap().ends_with("A101_2.WAV"), "{e2}");
    assert_eq!(e2["offset"], 24 * 2002 - 4);
    let e3 = by(3)[0];
    assert_eq!(
        (e3["track"].as_str(), e3["channel"].as_u64()),
        (Some("A2"), Some(1))
    );
    assert_eq!(e3["offset"], 24 * 2002 - 1);
    assert_eq!(by(4)[0]["status"], "unmatched");
    assert!(
        by(4)[0]["reason"]
            .as_str()
            .unwrap()
            .contains("timecode not covered")
    );
    assert_eq!(by(5)[0]["reason"], "no file for reel 'SR999'");
    assert_eq!(by(6)[0]["status"], "matched");
    assert_eq!(
        (v["matched"].as_u64(), v["unmatched"].as_u64()),
        (Some(4), Some(2))
    );

    // the written session, read as the render reads it, against the files
    let a1 = hound_read(&sd.join("A101_1.WAV"));
    let a2 = hound_read(&sd.join("A101_2.WAV"));
    let f = 2002usize; // a frame at 23.976, 48 kHz
    let track_a1 = stem_audio(&session, "A1");
    let track_a2 = stem_audio(&session, "A2");
    let mut want1 = vec![0.0f32; track_a1.len()];
    let mut want2 = vec![0.0f32; track_a2.len()];
    let sec = 24 * f;
    for i in 0..2 * sec {
        want1[sec + i] = a1[0][6 * f - 1 + i]; // event 1
        want1[3 * sec + i] = a2[0][24 * f - 4 + i]; // event 2
        want2[sec + i] = a1[0][24 * f - 1 + i]; // event 3
    }
    // event 6: take 2 from 12:40:07:00 dissolving (12 frames, equal gain) into 12:40:08:00
    let x = 12 * f;
    let out_at = 3 * 24 * f - 4; // 12:40:07:00 in take 2
    let in_at = 4 * 24 * f - 4; // 12:40:08:00
    for i in 0..2 * sec {
        let g_in = if i < x {
            (i as f64 + 0.5) / x as f64
        } else {
            1.0
        };
        let mut w = (g_in as f32) * a2[0][in_at + i];
        if i < x {
            w += ((1.0 - (i as f64 + 0.5) / x as f64) as f32) * a2[0][out_at + i];
        }
        want1[7 * sec + i] = w;
    }
    let mut nonzero = 0;
    for (i, (&y, &w)) in track_a1.iter().zip(&want1).enumerate() {
        assert!((y - w).abs() <= 1e-7, "A1 at reel sample {i}: {y} vs {w}");
        nonzero += (w != 0.0) as usize;
    }
    assert!(nonzero > 5 * sec, "{nonzero}");
    assert_eq!(track_a2, want2);
    // the reel starts at 01:00:00:00 (the hour of the first edit)
    let text = std::fs::read_to_string(&session).unwrap();
    assert!(text.contains("start = \"01:00:00:00\""), "{text}");
    // it renders
    let print = dir.join("print");
    render_ok(&session, &print, &["--no-qc", "--quiet"]);
    assert!(
        files_in(&print).iter().any(|f| f.contains("_PM_")),
        "{:?}",
        files_in(&print)
    );
    // the OTIO export is read by OpenTimelineIO's own JSON reader shape: a
    // Timeline with two audio tracks (checked here structurally)
    let ot: Value = serde_json::from_str(&std::fs::read_to_string(&otio).unwrap()).unwrap();
    let tracks = ot["tracks"]["children"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    assert!(tracks.iter().all(|t| t["kind"] == "Audio"));
}

#[test]
fn strict_conform_refuses_unmatched_edits_and_writes_nothing() {
    let sd = real().join("recorders/sounddevices");
    let dir = tmpdir("conform-strict");
    let edl = dir.join("r.edl");
    std::fs::write(&edl, EDL).unwrap();
    let session = dir.join("r.toml");
    let e = fails(&[
        "conform",
        edl.to_str().unwrap(),
        "--media",
        sd.to_str().unwrap(),
        "--fps",
        "23.976",
        "--out",
        session.to_str().unwrap(),
        "--strict",
    ]);
    assert!(e.contains("2 unmatched"), "{e}");
    assert!(!session.exists());
}

fn write_f32_mono(path: &Path, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A re-conform's inputs in `dir`: a 20 s roll (`roll.wav`), the old cut `old.edl` (two
/// 2 s scenes of it at 25 fps), the new cut `new.edl`, and `s.toml`, a session of one
/// dialogue track conformed to the old cut (1 s handles; `reel_extra` goes in `[reel]`).
fn two_scenes_to_reconform(dir: &Path, new_edl: &str, reel_extra: &str) {
    write_f32_mono(&dir.join("roll.wav"), &noise(3, 20 * 48_000, 0.25));
    let old = "TITLE: OLD\n\
001  ROLL     A     C        00:00:01:00 00:00:03:00 01:00:00:00 01:00:02:00\n\
002  ROLL     A     C        00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00\n";
    std::fs::write(dir.join("old.edl"), old).unwrap();
    std::fs::write(dir.join("new.edl"), new_edl).unwrap();
    let mut s = format!(
        "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n{reel_extra}\n[[track]]\nid = \"A1\"\nkind = \"dialogue\"\n",
    );
    for (src, rec) in [(1, 0), (10, 2)] {
        s.push_str(&format!(
            "\n[[track.clip]]\nsource = \"roll.wav\"\nsource_in_samples = {}\nrecord_in = \"01:00:{rec:02}:00\"\nlength_samples = 96000\nhandles_samples = [48000, 48000]\n",
            src * 48_000
        ));
    }
    std::fs::write(dir.join("s.toml"), s).unwrap();
}

#[test]
fn reconform_writes_the_change_list_and_a_session_that_renders() {
    let dir = tmpdir("reconform");
    let new = "TITLE: NEW\n\
001  ROLL     A     C        00:00:10:00 00:00:12:00 01:00:00:00 01:00:02:00\n\
002  ROLL     A     C        00:00:01:00 00:00:02:00 01:00:02:00 01:00:03:00\n";
    two_scenes_to_reconform(&dir, new, "");
    let p = |f: &str| dir.join(f).display().to_string();
    // the new session must sit beside the old one
    let other = tmpdir("reconform-elsewhere");
    let e = fails(&[
        "reconform",
        &p("old.edl"),
        &p("new.edl"),
        &p("s.toml"),
        "--fps",
        "25",
        "--out",
        &other.join("s2.toml").display().to_string(),
    ]);
    assert!(e.contains("beside"), "{e}");
    assert!(files_in(&other).is_empty());
    let v: Value = serde_json::from_str(&ok(&[
        "reconform",
        &p("old.edl"),
        &p("new.edl"),
        &p("s.toml"),
        "--fps",
        "25",
        "--out",
        &p("s2.toml"),
        "--json",
    ]))
    .unwrap();
    let moves = v["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 2, "{v}");
    assert_eq!(moves[0]["shift"], -50);
    assert_eq!(moves[1]["shift"], 50);
    assert_eq!(v["removed"].as_array().unwrap().len(), 1, "{v}");
    assert!(dir.join("s2.changes.edl").is_file() && dir.join("s2.changes.json").is_file());
    let print = dir.join("print");
    render_ok(&dir.join("s2.toml"), &print, &["--no-qc", "--quiet"]);
    assert!(files_in(&print).iter().any(|f| f.contains("_PM_")));
}

#[test]
fn conform_through_an_ale_relinks_camera_clips_and_refuses_a_malformed_ale() {
    let sd = real().join("recorders/sounddevices");
    let dir = tmpdir("conform-ale");
    // the list names the camera clip only; the ALE gives its sound roll and
    // the sound timecode of its first frame (the 702T's roll, 23.976)
    let edl = dir.join("cam.edl");
    std::fs::write(
        &edl,
        "TITLE: CAM\r\nFCM: NON-DROP FRAME\r\n\
001  A005C001 A     C        10:00:00:06 10:00:02:06 01:00:01:00 01:00:03:00 \r\n",
    )
    .unwrap();
    let ale = dir.join("day1.ale");
    let good = "Heading\r\nFIELD_DELIM\tTABS\r\nFPS\t23.976\r\n\r\nColumn\r\nName\tTape\tStart\tEnd\tSoundroll\tSound TC\r\n\r\nData\r\n\
A005C001\tA005\t10:00:00:00\t10:00:10:00\t18Y12M31\t12:39:59:00\r\n";
    std::fs::write(&ale, good).unwrap();
    let session = dir.join("cam.toml");
    let args = |ale: &Path| -> Vec<String> {
        [
            "conform",
            edl.to_str().unwrap(),
            "--media",
            sd.to_str().unwrap(),
            "--fps",
            "23.976",
            "--ale",
            ale.to_str().unwrap(),
            "--out",
            session.to_str().unwrap(),
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let bad = dir.join("bad.ale");
    std::fs::write(&bad, good.replace("\t12:39:59:00", "\t12:39:59:24")).unwrap();
    let a: Vec<String> = args(&bad);
    let o = dubstage(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("bad.ale:9") && e.contains("Sound TC"), "{e}");
    assert!(!session.exists());

    let a = args(&ale);
    let v: Value =
        serde_json::from_str(&ok(&a.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
    assert_eq!(v["ale"][0]["clip"], "A005C001", "{v}");
    assert_eq!(v["ale"][0]["sound_roll"], "18Y12M31");
    let e1 = &v["events"][0];
    assert_eq!(e1["status"], "matched", "{e1}");
    // 12:39:59:06 in take 1 (from 12:39:59:00 + 1 sample), as in the EDL of this file
    assert!(e1["file"].as_str().unwrap().ends_with("A101_1.WAV"), "{e1}");
    assert_eq!(e1["offset"], 6 * 2002 - 1);
    let a1 = hound_read(&sd.join("A101_1.WAV"));
    let track = stem_audio(&session, "A1");
    let sec = 24 * 2002;
    for i in 0..2 * sec {
        assert_eq!(
            track[sec + i],
            a1[0][6 * 2002 - 1 + i],
            "reel sample {}",
            sec + i
        );
    }
}

#[test]
fn reconform_fills_new_material_from_media_and_its_trims_are_not_heard() {
    let dir = tmpdir("reconform-media");
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    write_f32_mono(&media.join("NEWROLL.wav"), &noise(4, 10 * 48_000, 0.25));
    // scene 1 trimmed by a second, new material after it
    let new = "TITLE: NEW\n\
001  ROLL     A     C        00:00:01:00 00:00:02:00 01:00:00:00 01:00:01:00\n\
002  NEWROLL  A     C        00:00:03:00 00:00:04:00 01:00:01:00 01:00:02:00\n\
003  ROLL     A     C        00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00\n";
    two_scenes_to_reconform(&dir, new, "length = \"00:00:04:00\"\n");
    let p = |f: &str| dir.join(f).display().to_string();
    let run = |out: &str, extra: &[&str]| -> Value {
        let mut a = vec![
            "reconform".to_string(),
            p("old.edl"),
            p("new.edl"),
            p("s.toml"),
            "--fps".into(),
            "25".into(),
            "--media".into(),
            media.display().to_string(),
            "--out".into(),
            p(out),
            "--json".into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        serde_json::from_str(&ok(&a.iter().map(String::as_str).collect::<Vec<_>>())).unwrap()
    };
    let v = run("s2.toml", &[]);
    let f = &v["filled"][0];
    assert_eq!(
        (
            f["record_in"].as_str(),
            f["record_out"].as_str(),
            f["status"].as_str()
        ),
        (Some("01:00:01:00"), Some("01:00:02:00"), Some("filled")),
        "{v}"
    );
    let e = &f["events"][0];
    assert!(e["file"].as_str().unwrap().ends_with("NEWROLL.wav"), "{e}");
    assert_eq!(
        (e["channel"].as_u64(), e["offset"].as_u64()),
        (Some(1), Some(3 * 48_000))
    );
    let v3 = run("s3.toml", &["--trims"]);
    assert_eq!(v3["trims"], true);
    let s3 = std::fs::read_to_string(dir.join("s3.toml")).unwrap();
    assert!(
        s3.contains("id = \"trims_A1\"") && s3.contains("mute = true"),
        "{s3}"
    );
    // the printmaster with the trims track is the printmaster without it
    let pm = |session: &str, out: &str| {
        render_ok(&dir.join(session), &dir.join(out), &["--no-qc", "--quiet"]);
        let f = files_in(&dir.join(out))
            .into_iter()
            .find(|f| f.contains("_PM_") && f.ends_with(".wav"))
            .unwrap();
        read(&dir.join(out).join(f)).1
    };
    let (a, b) = (pm("s2.toml", "print2"), pm("s3.toml", "print3"));
    assert!(a[0].iter().any(|&x| x != 0.0));
    assert_eq!(a[0].len(), 4 * 48_000, "the reel ends with the new cut");
    assert!(a == b, "the trims track is heard in the printmaster");
}

/// A roll of white noise and a 3-event cut of it at 25 fps; the guide (the
/// cut's audio at reel position, from 01:00:00:00) holds event 1 placed 37
/// samples earlier than the list says (so the conformed clip is heard 37
/// samples late), event 2 inverted, and unrelated noise over event 3; all
/// under a quieter noise of another room.
fn sync_check_inputs(dir: &Path) -> (Vec<f32>, Vec<f32>) {
    let roll = noise(11, 20 * 48_000, 0.25);
    write_f32_mono(&dir.join("roll.wav"), &roll);
    let edl = "TITLE: SYNC\n\
001  ROLL     A     C        00:00:01:00 00:00:03:00 01:00:00:00 01:00:02:00\n\
002  ROLL     A     C        00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00\n\
003  ROLL     A     C        00:00:15:00 00:00:17:00 01:00:04:00 01:00:06:00\n";
    std::fs::write(dir.join("cut.edl"), edl).unwrap();
    let room = noise(12, 6 * 48_000, 0.02);
    let other = noise(13, 2 * 48_000, 0.25);
    let mut guide = vec![0.0f32; 6 * 48_000];
    for i in 0..96_000 {
        guide[i] = roll[48_000 + 37 + i];
        guide[96_000 + i] = -roll[480_000 + i];
        guide[192_000 + i] = other[i];
    }
    let clean = guide.clone();
    for (g, r) in guide.iter_mut().zip(&room) {
        *g += r;
    }
    write_f32_mono(&dir.join("guide.wav"), &guide);
    (roll, clean)
}

#[test]
fn conform_checks_each_event_against_the_guide_and_fixes_sync_and_polarity() {
    let dir = tmpdir("conform-sync");
    let (roll, clean) = sync_check_inputs(&dir);
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let conform = |extra: &[&str]| -> String {
        let mut a = vec![
            "conform".to_string(),
            p("cut.edl"),
            "--media".into(),
            dir.to_str().unwrap().into(),
            "--fps".into(),
            "25".into(),
            "--out".into(),
            p("s.toml"),
            "--guide".into(),
            p("guide.wav"),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // checked only: the offsets are reported, nothing moves
    let v: Value = serde_json::from_str(&conform(&["--json"])).unwrap();
    let s = &v["sync"];
    assert_eq!(s["guide_start_from"], "the reel start", "{s}");
    let c = s["clips"].as_array().unwrap();
    assert_eq!(c.len(), 3, "{s}");
    let d1 = c[0]["offset_samples"].as_f64().unwrap();
    assert!((d1 - 37.0).abs() < 0.05, "event 1 is 37 samples late: {d1}");
    assert_eq!(
        (c[0]["polarity"].as_i64(), c[0]["status"].as_str()),
        (Some(1), Some("off"))
    );
    assert!(c[0]["confidence"].as_f64().unwrap() > 0.5, "{s}");
    let d2 = c[1]["offset_samples"].as_f64().unwrap();
    assert!(d2.abs() < 0.05, "event 2 is in place: {d2}");
    assert_eq!(
        (c[1]["polarity"].as_i64(), c[1]["status"].as_str()),
        (Some(-1), Some("off"))
    );
    // event 3: the guide holds other audio there: not verified, no guess
    assert_eq!(c[2]["status"], "not verified", "{s}");
    assert!(
        c[2]["offset_samples"].is_null() && c[2]["polarity"].is_null(),
        "{s}"
    );
    assert!(
        c[2]["reason"].as_str().unwrap().contains("confidence"),
        "{s}"
    );
    let text = std::fs::read_to_string(dir.join("s.toml")).unwrap();
    assert!(text.contains("source_in_samples = 48000\n"), "{text}");
    assert!(!text.contains("invert_polarity"), "{text}");

    // fixed: event 1 slides 37 samples, event 2 plays inverted, event 3 stays
    let out = conform(&["--fix-sync"]);
    assert!(
        out.contains("fixed") && out.contains("+37.00 samples"),
        "{out}"
    );
    // the conform report's offset follows the slide
    assert!(out.contains("ch 1 +48037\n"), "{out}");
    assert!(
        out.contains("slid +37 samples") && out.contains("inverted"),
        "{out}"
    );
    assert!(out.contains("not verified"), "{out}");
    let text = std::fs::read_to_string(dir.join("s.toml")).unwrap();
    assert!(text.contains("source_in_samples = 48037\n"), "{text}");
    assert_eq!(text.matches("invert_polarity = true").count(), 1, "{text}");
    // the session as the render reads it now matches the guide's cut, sample for sample
    let a1 = stem_audio(&dir.join("s.toml"), "A1");
    assert_eq!(&a1[..192_000], &clean[..192_000]);
    assert_eq!(&a1[192_000..288_000], &roll[15 * 48_000..17 * 48_000]);

    // --fix-sync needs a guide; a guide at another rate is refused, naming it
    let e = fails(&[
        "conform",
        &p("cut.edl"),
        "--media",
        dir.to_str().unwrap(),
        "--fps",
        "25",
        "--out",
        &p("t.toml"),
        "--fix-sync",
    ]);
    assert!(e.contains("--guide"), "{e}");
    assert!(!dir.join("t.toml").exists());
    write_f32(&dir.join("g44.wav"), 44_100, &[vec![0.1; 44_100]]);
    let e = fails(&[
        "conform",
        &p("cut.edl"),
        "--media",
        dir.to_str().unwrap(),
        "--fps",
        "25",
        "--out",
        &p("t.toml"),
        "--guide",
        &p("g44.wav"),
    ]);
    assert!(e.contains("g44.wav") && e.contains("44100 Hz"), "{e}");
    assert!(!dir.join("t.toml").exists());
}
