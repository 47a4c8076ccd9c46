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
use dubstage_core::conform::ConformOptions;
use dubstage_core::editorial::edl;
use dubstage_core::pipeline::StemReader;
use dubstage_core::reconform::{self, ApplyOptions, Move};
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
            let (want, got) = (
                db_to_lin(bo.db_at(t)),
                db_to_lin(bn.db_at(t + m.shift * 1920)),
            );
            assert!(
                (want - got).abs() < 1e-6,
                "bus at old sample {t}: {got} vs {want}"
            );
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

/// The old session of the insert/removal/trim/move case: the old list
/// conformed by hand (A1, from `roll.wav`) and a whole-reel stem `fx`.
fn old_session(dir: &Path) -> PathBuf {
    write_f32(&dir.join("roll.wav"), &noise(1, 40 * 48_000));
    write_f32(&dir.join("fx.wav"), &noise(2, 16 * 48_000));
    let mut s = String::from(
        "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\nlength = \"00:00:16:00\"\n\n\
         [[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"fx.wav\"\nstart = \"01:00:00:00\"\n\n\
         [[track]]\nid = \"A1\"\nkind = \"dialogue\"\n",
    );
    for (src, rec) in [(1, 0), (10, 4), (20, 8), (30, 12)] {
        s.push_str(&format!(
            "\n[[track.clip]]\nsource = \"roll.wav\"\nsource_in_samples = {}\nrecord_in = \"01:00:{rec:02}:00\"\nlength_samples = {}\nhandles_samples = [48000, 48000]\n",
            src * 48_000,
            4 * 48_000
        ));
    }
    let p = dir.join("old.toml");
    std::fs::write(&p, &s).unwrap();
    p
}

#[test]
fn new_material_is_conformed_from_the_media_with_crossfades() {
    let r = FrameRate::Fps25;
    // NEW, and new material on a reel no file has
    let new_text = format!(
        "{NEW}005  MISSING  A     C        00:00:00:00 00:00:01:00 01:00:13:00 01:00:14:00\n"
    );
    let new = edl::parse(&new_text, r).unwrap();
    let c = reconform::compare(&edl::parse(OLD, r).unwrap(), &new).unwrap();
    let h = 90_000;
    assert_eq!(c.inserted, vec![(h + 175, h + 225), (h + 325, h + 350)]);
    let dir = tmpdir("fill");
    let old_path = old_session(&dir);
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    // the new roll: a file named by its reel, no TimeReference (starts at 00:00:00:00)
    let newroll = noise(9, 10 * 48_000);
    write_f32(&media.join("NEWROLL.wav"), &newroll);
    let opts = ConformOptions {
        media: vec![media.clone()],
        handles_s: 8.0,
        channel_names: Vec::new(),
        session_dir: dir.clone(),
    };
    let fill = reconform::fill(&new, &c, 48_000, &opts).unwrap();
    assert_eq!(fill.ranges.len(), 2);
    let (f0, f1) = (&fill.ranges[0], &fill.ranges[1]);
    assert_eq!(
        (f0.record_in.as_str(), f0.status, f0.events.len()),
        ("01:00:07:00", "filled", 1)
    );
    let e = &f0.events[0];
    assert_eq!((e.status, e.number, e.track.as_str()), ("matched", 3, "A1"));
    assert!(e.file.as_ref().unwrap().ends_with("NEWROLL.wav"), "{e:?}");
    assert_eq!((e.channel, e.offset), (Some(1), Some(0)));
    assert_eq!((f1.status, f1.events[0].status), ("gap", "unmatched"));
    assert_eq!(
        f1.events[0].reason.as_deref(),
        Some("no file for reel 'MISSING'")
    );

    let session = Session::load(&old_path).unwrap();
    let (text, _) = reconform::apply_with(
        &session,
        &c,
        ApplyOptions {
            fill: Some(&fill),
            trims: false,
        },
    )
    .unwrap();
    let new_path = dir.join("new.toml");
    std::fs::write(&new_path, &text).unwrap();
    assert!(text.contains("media/NEWROLL.wav"), "{text}");
    let roll = noise(1, 40 * 48_000);
    let b = audio(&new_path, "A1");
    let fps = 1920usize;
    let x = 480usize;
    let (g0, g1) = (175 * fps, 225 * fps);
    let lin = |i: usize| (i as f64 + 0.5) / x as f64;
    for i in 0..g1 - g0 + x {
        let want = if i < x {
            // scene 4 (source 30 s, 4 s long) continues into its handle, fading
            // out, as the new material fades in
            (1.0 - lin(i)) * roll[34 * 48_000 + i] as f64 + lin(i) * newroll[i] as f64
        } else if i < g1 - g0 {
            newroll[i] as f64
        } else {
            // the new material continues into its handle, fading out, as scene 2
            // (source 10 s) fades in
            let k = i - (g1 - g0);
            (1.0 - lin(k)) * newroll[i] as f64 + lin(k) * roll[10 * 48_000 + k] as f64
        };
        let got = b[g0 + i] as f64;
        assert!(
            (got - want).abs() < 1e-6,
            "A1 at reel sample {}: {got} vs {want}",
            g0 + i
        );
    }
    // the unmatched range stays a gap (after scene 2's fade into its handle)
    assert!(b[325 * fps + x..].iter().all(|&v| v == 0.0));
    // the whole-reel stem has no new material
    let fx = audio(&new_path, "fx");
    assert!(fx[g0 + x..g1].iter().all(|&v| v == 0.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trims_are_kept_muted_at_their_old_place() {
    let r = FrameRate::Fps25;
    let c = reconform::compare(&edl::parse(OLD, r).unwrap(), &edl::parse(NEW, r).unwrap()).unwrap();
    let dir = tmpdir("trims");
    let old_path = old_session(&dir);
    let session = Session::load(&old_path).unwrap();
    let (text, _) = reconform::apply_with(
        &session,
        &c,
        ApplyOptions {
            fill: None,
            trims: true,
        },
    )
    .unwrap();
    let new_path = dir.join("new.toml");
    std::fs::write(&new_path, &text).unwrap();
    let plan = Session::load(&new_path).unwrap().resolve().unwrap();
    // the reel ends where the new cut does (01:00:13:00), though trims lie later
    assert_eq!(plan.length, 13 * 25 * 1920);
    let fps = 1920usize;
    let removed =
        |t: usize| (75 * fps..100 * fps).contains(&t) || (200 * fps..300 * fps).contains(&t);
    for id in ["A1", "fx"] {
        let st = plan
            .stems
            .iter()
            .find(|s| s.id == format!("trims_{id}"))
            .unwrap();
        assert!(st.mute, "trims_{id} is muted");
        let old = audio(&old_path, id);
        let trims = audio(&new_path, &format!("trims_{id}"));
        let mut n = 0;
        for (t, &v) in trims.iter().enumerate() {
            if removed(t) {
                assert_eq!(v, old[t], "trims_{id} at {t}");
                n += (v != 0.0) as usize;
            } else {
                assert_eq!(v, 0.0, "trims_{id} at {t}: only removed material");
            }
        }
        assert!(n > 100 * fps, "{n}");
    }
    // the trims keep their handles, to be dragged back
    // (scene 1's trim, source 4..5 s of a clip from 1 s with 1 s handles:
    // 4 s of source before it, 1 s after; scene 3's, the whole clip)
    let trims_a1 = text.split("id = \"trims_A1\"").nth(1).unwrap();
    for want in [
        "handles_samples = [192000, 48000]\nlength_samples = 48000\nrecord_in = \"01:00:03:00\"\nsource = \"roll.wav\"\nsource_in_samples = 192000\n",
        "handles_samples = [48000, 48000]\nlength_samples = 192000\nrecord_in = \"01:00:08:00\"\nsource = \"roll.wav\"\nsource_in_samples = 960000\n",
    ] {
        assert!(trims_a1.contains(want), "{want} in {trims_a1}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
