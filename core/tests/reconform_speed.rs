//! Re-conform of converted audio: the cut of `reconform.rs` followed on a
//! track of clips from a 44.1 kHz roll and on a 96 kHz whole-reel stem (both
//! converted to the 48 kHz reel as they play). Each piece keeps its source
//! position (at 25 fps a frame is 1764 source frames at 44.1 kHz, 3840 at 96
//! kHz: the cuts fall on source frames), so the new session's audio is the
//! old one moved by each piece's shift, to the resampler's precision.

use dubstage_core::FrameRate;
use dubstage_core::editorial::edl;
use dubstage_core::pipeline::StemReader;
use dubstage_core::reconform;
use dubstage_core::session::Session;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "dubstage-reconform-rs-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_tone(path: &Path, rate: u32, hz: f64, secs: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..secs * rate as usize {
        let t = i as f64 / rate as f64;
        // two tones, so a piece taken from the wrong place cannot match
        let v =
            0.3 * (TAU * hz * t).sin() + 0.2 * (TAU * 0.5 * t).sin() * (TAU * 3.0 * hz * t).sin();
        w.write_sample(v as f32).unwrap();
    }
    w.finalize().unwrap();
}

fn audio(session: &Path, id: &str) -> Vec<f32> {
    let s = Session::load(session).unwrap_or_else(|e| panic!("{e}"));
    let plan = s.resolve().unwrap_or_else(|e| panic!("{e}"));
    let st = plan.stems.iter().find(|s| s.id == id).unwrap();
    let mut r = StemReader::open(st, &plan, 0).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![Vec::new()];
    let mut t = 0u64;
    while t < plan.length {
        let n = 10_000.min(plan.length - t) as usize;
        r.read_block(t as i64, n, &mut buf).unwrap();
        out.extend_from_slice(&buf[0][..n]);
        t += n as u64;
    }
    out
}

const OLD: &str = "TITLE: OLD
001  ROLL     A     C        00:00:01:00 00:00:05:00 01:00:00:00 01:00:04:00
002  ROLL     A     C        00:00:10:00 00:00:14:00 01:00:04:00 01:00:08:00
003  ROLL     A     C        00:00:20:00 00:00:24:00 01:00:08:00 01:00:12:00
004  ROLL     A     C        00:00:30:00 00:00:34:00 01:00:12:00 01:00:16:00
";

// scene 1 trimmed by a second, scene 4 moved up, new material inserted,
// scene 2 after it, scene 3 removed
const NEW: &str = "TITLE: NEW
001  ROLL     A     C        00:00:01:00 00:00:04:00 01:00:00:00 01:00:03:00
002  ROLL     A     C        00:00:30:00 00:00:34:00 01:00:03:00 01:00:07:00
003  NEWROLL  A     C        00:00:00:00 00:00:02:00 01:00:07:00 01:00:09:00
004  ROLL     A     C        00:00:10:00 00:00:14:00 01:00:09:00 01:00:13:00
";

#[test]
fn converted_clips_and_stems_follow_the_cut() {
    let r = FrameRate::Fps25;
    let c = reconform::compare(&edl::parse(OLD, r).unwrap(), &edl::parse(NEW, r).unwrap()).unwrap();
    let h = 90_000; // 01:00:00:00 at 25 fps
    let dir = tmpdir("a");
    write_tone(&dir.join("roll.wav"), 44_100, 440.0, 40);
    write_tone(&dir.join("fx.wav"), 96_000, 1000.0, 16);
    let mut s = String::from(
        "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\nlength = \"00:00:16:00\"\n\n\
         [[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"fx.wav\"\nstart = \"01:00:00:00\"\n\n\
         [[track]]\nid = \"A1\"\nkind = \"dialogue\"\n",
    );
    for (src, rec) in [(1, 0), (10, 4), (20, 8), (30, 12)] {
        s.push_str(&format!(
            "\n[[track.clip]]\nsource = \"roll.wav\"\nsource_in_samples = {}\nrecord_in = \"01:00:{rec:02}:00\"\nlength_samples = {}\nhandles_samples = [44100, 44100]\n",
            src * 44_100,
            4 * 48_000
        ));
    }
    let old_path = dir.join("old.toml");
    std::fs::write(&old_path, &s).unwrap();
    let session = Session::load(&old_path).unwrap();
    let (text, _) = reconform::apply(&session, &c).unwrap();
    let new_path = dir.join("new.toml");
    std::fs::write(&new_path, &text).unwrap();
    // scene 2 (old 00:00:10:00 of the roll) now starts at 01:00:09:00: source 441000
    assert!(text.contains("source_in_samples = 441000"), "{text}");

    let fps = 1920i64; // reel samples a frame
    let x = 480usize; // the new-edit crossfade
    for id in ["A1", "fx"] {
        let a = audio(&old_path, id);
        let b = audio(&new_path, id);
        let mut compared = 0;
        for m in &c.moves {
            let n0 = ((m.new_in - h) * fps) as usize;
            let len = ((m.old_out - m.old_in) * fps) as usize;
            let d = m.shift * fps;
            let skip = if n0 == 0 { 0 } else { x };
            for (t, &got) in b.iter().enumerate().take(n0 + len - x).skip(n0 + skip) {
                let want = a[(t as i64 - d) as usize];
                assert!(
                    (got - want).abs() < 1e-4,
                    "{id}: new sample {t} (shift {d}): {got} vs {want}"
                );
                compared += (want.abs() > 0.01) as usize;
            }
        }
        assert!(compared > 10 * 48_000, "{id}: {compared}");
        let (g0, g1) = ((175 * fps) as usize, (225 * fps) as usize);
        assert!(
            b[g0 + x..g1].iter().all(|&v| v == 0.0),
            "{id}: gap not silent"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
