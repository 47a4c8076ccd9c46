//! Re-conform: an insert, a removal, a trim and a moved scene, followed on a
//! track of clips, a whole-reel stem and volume automation. The new session's
//! audio is checked against the old session's audio moved by each piece's
//! shift (outside the 10 ms crossfades at the new edit points), and the gap of
//! new material against silence. The same cut is then followed on converted
//! audio: a track of clips from a 44.1 kHz roll and a 96 kHz whole-reel stem (both
//! converted to the 48 kHz reel as they play). Each piece keeps its source position
//! (at 25 fps a frame is 1764 source frames at 44.1 kHz, 3840 at 96 kHz: the cuts
//! fall on source frames), so the new audio is the old moved by each piece's shift,
//! to the resampler's precision.

use dubstage_core::FrameRate;
use dubstage_core::editorial::edl;
use dubstage_core::pipeline::StemReader;
use dubstage_core::reconform::{self, Move};
use dubstage_core::session::Session;
use dubstage_core::stem::Envelope;
use dubstage_core::stem::automation::db_to_lin;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dubstage-reconform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
        })
        .collect()
}

fn write_f32(path: &Path, x: &[f32]) {
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
fn insert_removal_trim_and_moved_scene() {
    let r = FrameRate::Fps25;
    let old = edl::parse(OLD, r).unwrap();
    let new = edl::parse(NEW, r).unwrap();
    let c = reconform::compare(&old, &new).unwrap();
    let h = 90_000; // 01:00:00:00 at 25 fps
    let mv = |o: i64, oo: i64, n: i64| Move {
        old_in: h + o,
        old_out: h + oo,
        new_in: h + n,
        shift: n - o,
    };
    assert_eq!(
        c.moves,
        vec![mv(0, 75, 0), mv(300, 400, 75), mv(100, 200, 225)]
    );
    assert_eq!(c.inserted, vec![(h + 175, h + 225)]);
    assert_eq!(c.removed, vec![(h + 75, h + 100), (h + 200, h + 300)]);
    let e = c.to_edl("CHANGES");
    let back = edl::parse(&e, r).unwrap();
    assert_eq!(back.edits.len(), 4, "{e}");
    assert!(back.edits.iter().any(|x| x.is_black()), "{e}");

    // the old session: the old list conformed by hand, a whole-reel stem, automation
    let dir = tmpdir("a");
    let roll = noise(1, 40 * 48_000);
    let fx = noise(2, 16 * 48_000);
    write_f32(&dir.join("roll.wav"), &roll);
    write_f32(&dir.join("fx.wav"), &fx);
    let mut s = String::from(
        "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\nlength = \"00:00:16:00\"\n\n\
         [[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"fx.wav\"\nstart = \"01:00:00:00\"\n\n\
         [[track]]\nid = \"A1\"\nkind = \"dialogue\"\n\
         automation = [ { at = \"01:00:10:00\", db = -3.0 }, { at = \"01:00:12:12\", db = 0.0 }, { at = \"01:00:13:00\", db = -6.0 } ]\n",
    );
    for (src, rec) in [(1, 0), (10, 4), (20, 8), (30, 12)] {
        s.push_str(&format!(
            "\n[[track.clip]]\nsource = \"roll.wav\"\nsource_in_samples = {}\nrecord_in = \"01:00:{rec:02}:00\"\nlength_samples = {}\nhandles_samples = [48000, 48000]\n",
            src * 48_000,
            4 * 48_000
        ));
    }
    let old_path = dir.join("old.toml");
    std::fs::write(&old_path, &s).unwrap();
    let session = Session::load(&old_path).unwrap();
    let (text, warnings) = reconform::apply(&session, &c).unwrap();
    let new_path = dir.join("new.toml");
    std::fs::write(&new_path, &text).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("01:00:10:00")),
        "the breakpoint on removed material is reported: {warnings:?}"
    );

    let fps = 1920i64; // samples a frame
    let x = 480usize; // the new-edit crossfade
    for id in ["A1", "fx"] {
        let a = audio(&old_path, id);
        let b = audio(&new_path, id);
        for m in &c.moves {
            let n0 = ((m.new_in - h) * fps) as usize;
            let len = ((m.old_out - m.old_in) * fps) as usize;
            let d = m.shift * fps;
            let skip = if n0 == 0 { 0 } else { x };
            // at a new edit point a piece may fade out within its last 10 ms
            // (where its source has no material after it)
            // (the stem reader gives the audio before automation)
            for (t, &got) in b.iter().enumerate().take(n0 + len - x).skip(n0 + skip) {
                let want = a[(t as i64 - d) as usize];
                assert!(
                    (got - want).abs() < 1e-6,
                    "{id}: new sample {t} (shift {d}): {got} vs {want}"
                );
            }
        }
        // new material: silence after the outgoing piece's fade
        let (g0, g1) = (((175) * fps) as usize, ((225) * fps) as usize);
        assert!(
            b[g0 + x..g1].iter().all(|&v| v == 0.0),
            "{id}: gap not silent"
        );
        if id == "A1" {
            // scene 4's clip has a handle: it continues into the gap, fading out
            assert!(
                b[g0..g0 + x].iter().any(|&v| v != 0.0),
                "{id}: no fade into the gap"
            );
        }
    }
    // the automation moved with scene 4 (01:00:12:12 -> 01:00:03:12), and the
    // ramp from 01:00:10:00 (removed) to 01:00:12:12 keeps its level where scene
    // 4 starts
    assert_gain_follows(&old_path, &new_path, "A1", &c.moves);
    let plan = Session::load(&new_path).unwrap().resolve().unwrap();
    let a1 = plan.stems.iter().find(|s| s.id == "A1").unwrap();
    assert!(a1.automation.contains(&((3 * 25 + 12) * fps, 0.0)));
    assert!(a1.automation.contains(&(4 * 25 * fps, -6.0)));
}

/// The gain the mixer gives stem `id` at reel sample `t` (its automation as
/// the mixer's envelope, linear).
fn gain(session: &Path, id: &str) -> impl Fn(i64) -> f64 {
    let plan = Session::load(session).unwrap().resolve().unwrap();
    let st = plan.stems.iter().find(|s| s.id == id).unwrap();
    let env = Envelope {
        points: st.automation.clone(),
        ..Default::default()
    };
    move |t| db_to_lin(env.db_at(t))
}

/// At every sample of every moved piece, the new gain equals the old gain at
/// the piece's old sample (to 1e-6).
fn assert_gain_follows(old: &Path, new: &Path, id: &str, moves: &[Move]) {
    let (g_old, g_new) = (gain(old, id), gain(new, id));
    let h = 90_000; // 01:00:00:00 at 25 fps
    let fps = 1920i64;
    for m in moves {
        let d = m.shift * fps;
        for t in (m.old_in - h) * fps..(m.old_out - h) * fps {
            let (want, got) = (g_old(t), g_new(t + d));
            assert!(
                (want - got).abs() < 1e-6,
                "{id}: old sample {t} moved by {d}: gain {got} vs {want}"
            );
        }
    }
}

#[test]
fn a_ramp_across_removed_and_moved_material_keeps_its_gains() {
    let r = FrameRate::Fps25;
    let c = reconform::compare(&edl::parse(OLD, r).unwrap(), &edl::parse(NEW, r).unwrap()).unwrap();
    let dir = tmpdir("ramp");
    write_f32(&dir.join("roll.wav"), &noise(1, 40 * 48_000));
    // one ramp over scenes 2, 3 (removed) and 4 (moved up), another over the
    // cut between scenes 1 and 2, and a bus ramp over the whole reel
    let mut s = String::from(
        "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n\n\
         [[bus]]\nid = \"DX\"\ndialogue = true\n\
         automation = [ { at = \"01:00:00:00\", db = 0.0 }, { at = \"01:00:16:00\", db = -12.0 } ]\n\n\
         [[track]]\nid = \"A1\"\nkind = \"dialogue\"\nbus = \"DX\"\n\
         automation = [ { at = \"01:00:02:00\", db = 0.0 }, { at = \"01:00:05:07\", db = -9.0 }, { at = \"01:00:06:00\", db = -3.0 }, { at = \"01:00:15:13\", db = -30.0 } ]\n",
    );
    for (src, rec) in [(1, 0), (10, 4), (20, 8), (30, 12)] {
        s.push_str(&format!(
            "\n[[track.clip]]\nsource = \"roll.wav\"\nsource_in_samples = {}\nrecord_in = \"01:00:{rec:02}:00\"\nlength_samples = {}\nhandles_samples = [48000, 48000]\n",
            src * 48_000,
            4 * 48_000
        ));
    }
    let old_path = dir.join("old.toml");
    std::fs::write(&old_path, &s).unwrap();
    let (text, _) = reconform::apply(&Session::load(&old_path).unwrap(), &c).unwrap();
    let new_path = dir.join("new.toml");
    std::fs::write(&new_path, &text).unwrap();
    assert_gain_follows(&old_path, &new_path, "A1", &c.moves);
    // the bus hears every track: its automation follows the same pieces
    let bus = |p: &Path| {
        let plan = Session::load(p).unwrap().resolve().unwrap();
        let b = plan.buses.iter().find(|b| b.id == "DX").unwrap();
        Envelope {
            points: b.automation.clone(),
            ..Default::default()
        }
    };
    let (bo, bn) = (bus(&old_path), bus(&new_path));
    let h = 90_000;
    for m in &c.moves {
        for t in (m.old_in - h) * 1920..(m.old_out - h) * 1920 {
            let (want, got) = (db_to_lin(bo.db_at(t)), db_to_lin(bn.db_at(t + m.shift * 1920)));
            assert!((want - got).abs() < 1e-6, "bus at old sample {t}: {got} vs {want}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}


#[test]
fn converted_clips_and_stems_follow_the_cut() {
    let r = FrameRate::Fps25;
    let c = reconform::compare(&edl::parse(OLD, r).unwrap(), &edl::parse(NEW, r).unwrap()).unwrap();
    let h = 90_000; // 01:00:00:00 at 25 fps
    let dir = tmpdir("converted");
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
