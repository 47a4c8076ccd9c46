//! Tracks of clips: sessions over the real recorder files of `../shared/real`
//! (Sound Devices 702T, 23.976 NDF, TimeReference 12:39:59:00 + 1 sample),
//! checked sample for sample against the files read by an independent WAV
//! reader (hound): the right file, channel and offset at the right record
//! sample; and crossfades of the same audio that sum back to it.

use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::path::{Path, PathBuf};

fn real() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let r = shared.join("real/recorders/sounddevices");
    assert!(
        r.join("A101_1.WAV").is_file(),
        "the shared real material is missing at {} (set DUBSTAGE_SHARED to the shared folder)",
        r.display()
    );
    r
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dubstage-timeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Planar samples of a WAV file, by hound, scaled as integers / 2^(bits-1).
fn hound_read(p: &Path) -> Vec<Vec<f32>> {
    let mut r = hound::WavReader::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let spec = r.spec();
    let n = spec.channels as usize;
    let mut out = vec![Vec::new(); n];
    match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            for (i, s) in r.samples::<i32>().enumerate() {
                out[i % n].push((s.unwrap() as f64 * scale) as f32);
            }
        }
        hound::SampleFormat::Float => {
            for (i, s) in r.samples::<f32>().enumerate() {
                out[i % n].push(s.unwrap());
            }
        }
    }
    out
}

/// The whole reel of stem `i`, read block by block as the render does.
fn render_stem(session: &Path, i: usize, block: usize) -> Vec<Vec<f32>> {
    let s = Session::load(session).unwrap_or_else(|e| panic!("{e}"));
    let plan = s.resolve().unwrap_or_else(|e| panic!("{e}"));
    let st = &plan.stems[i];
    let mut r = StemReader::open(st, &plan, 0).unwrap();
    let len = plan.length as usize;
    let mut out = vec![Vec::with_capacity(len); st.layout.len()];
    let mut buf = vec![Vec::new(); st.layout.len()];
    let mut t = 0;
    while t < len {
        let n = block.min(len - t);
        r.read_block(t as i64, n, &mut buf).unwrap();
        for (o, b) in out.iter_mut().zip(&buf) {
            o.extend_from_slice(&b[..n]);
        }
        t += n;
    }
    out
}

const FRAME: i64 = 2002; // samples per frame at 23.976 and 48 kHz
const TR: i64 = 2_190_940_753; // A101_1's TimeReference: 12:39:59:00 + 1 sample

#[test]
fn clips_land_at_the_right_record_sample_from_the_right_file_and_channel() {
    let sd = real();
    let dir = tmpdir("real");
    let session = dir.join("s.toml");
    let p = |f: &str| sd.join(f).display().to_string().replace('\\', "/");
    std::fs::write(
        &session,
        format!(
            r#"
[reel]
title = "conform"
frame_rate = "23.976"
start = "01:00:00:00"
length = "00:00:10:00"

[[track]]
id = "boom"
kind = "dialogue"

[[track.clip]]
name = "poly, by name"
source = "{a1}"
channels = ["Boom"]
source_in = "12:39:59:06"
record_in = "01:00:01:00"
length = "00:00:02:00"

[[track.clip]]
name = "split mono family, by name, any case"
sources = ["{a1_1}", "{a1_2}"]
channels = ["boom"]
source_in = "12:40:01:00"
record_in = "01:00:03:12"
length_samples = 48000

[[track]]
id = "mkh"
kind = "dialogue"

[[track.clip]]
name = "by number, samples"
source = "{a2}"
channels = [1]
source_in_samples = 1000
record_in = "01:00:00:12"
length = "00:00:04:00"
gain_db = -6.0
"#,
            a1 = p("A101_1.WAV"),
            a1_1 = p("A101_1_1.WAV"),
            a1_2 = p("A101_1_2.WAV"),
            a2 = p("A101_2.WAV"),
        ),
    )
    .unwrap();
    let a1 = hound_read(&sd.join("A101_1.WAV"));
    let a1_2 = hound_read(&sd.join("A101_1_2.WAV"));
    let a2 = hound_read(&sd.join("A101_2.WAV"));
    assert_eq!(
        a1[1], a1_2[0],
        "the split mono Boom is the poly's channel 2"
    );
    let len = 10 * 24 * FRAME as usize;
    for block in [4096, 1000] {
        let boom = render_stem(&session, 0, block);
        let mkh = render_stem(&session, 1, block);
        assert_eq!(boom[0].len(), len);
        // oracle: clip 1 from 12:39:59:06 = 6 frames after the TC of the file's
        // first sample, which is one sample past 12:39:59:00
        let c1_in = 6 * FRAME - 1;
        let c1_rec = 24 * FRAME;
        let c1_len = 48 * FRAME;
        let c2_in = 2 * 24 * FRAME - 1; // 12:40:01:00
        let c2_rec = (3 * 24 + 12) * FRAME;
        let c2_len = 48_000;
        let mut nonzero = 0;
        for r in 0..len as i64 {
            let mut want = 0.0f32;
            if (c1_rec..c1_rec + c1_len).contains(&r) {
                want = a1[1][(c1_in + r - c1_rec) as usize];
            }
            if (c2_rec..c2_rec + c2_len).contains(&r) {
                want = a1_2[0][(c2_in + r - c2_rec) as usize];
            }
            assert_eq!(
                boom[0][r as usize], want,
                "boom at reel sample {r} (block {block})"
            );
            if want != 0.0 {
                nonzero += 1;
            }
        }
        assert!(
            nonzero > 100_000,
            "the compared audio is not silence ({nonzero})"
        );
        let g = 10f64.powf(-6.0 / 20.0) as f32;
        let m_rec = 12 * FRAME;
        let m_len = 96 * FRAME;
        for r in 0..len as i64 {
            let want = if (m_rec..m_rec + m_len).contains(&r) {
                g * a2[0][(1000 + r - m_rec) as usize]
            } else {
                0.0
            };
            assert_eq!(mkh[0][r as usize], want, "mkh at reel sample {r}");
        }
    }
    // the offsets above follow from the file's TimeReference
    assert_eq!(TR % FRAME, 1);
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

fn noise(n: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
        })
        .collect()
}

#[test]
fn crossfades_of_the_same_audio_sum_to_the_source() {
    let dir = tmpdir("xfade");
    let x = noise(48_000);
    write_f32(&dir.join("take.wav"), &x);
    // At 25 fps a frame is 1920 samples. A plays take 0..11600 from reel 0;
    // B plays take 9600..19600 from reel 9600 (5 frames): over the 2000-sample
    // overlap both sides carry take 9600..11600.
    for (shape, explicit) in [("linear", false), ("linear", true), ("s-curve", true)] {
        let (fo, fi) = if explicit {
            (
                format!("fade_out = {{ samples = 2000, shape = \"{shape}\" }}"),
                format!("fade_in = {{ samples = 2000, shape = \"{shape}\" }}"),
            )
        } else {
            (String::new(), String::new())
        };
        let session = dir.join("x.toml");
        std::fs::write(
            &session,
            format!(
                r#"
[reel]
title = "x"
frame_rate = "25"
start = "01:00:00:00"

[[track]]
id = "t"
kind = "dialogue"

[[track.clip]]
source = "take.wav"
source_in_samples = 0
record_in = "01:00:00:00"
length_samples = 11600
{fo}

[[track.clip]]
source = "take.wav"
source_in_samples = 9600
record_in = "01:00:00:05"
length_samples = 10000
{fi}
"#
            ),
        )
        .unwrap();
        for block in [3000, 65_536] {
            let y = render_stem(&session, 0, block);
            assert_eq!(y[0].len(), 19_600);
            for (i, &v) in y[0].iter().enumerate() {
                assert!(
                    (v - x[i]).abs() < 1e-6,
                    "{shape} (explicit {explicit}): sample {i}: {v} vs {}",
                    x[i]
                );
            }
            // inside the crossfade both clips really contribute
            assert_ne!(y[0][10_600], 0.0);
        }
    }
}

#[test]
fn a_clip_past_the_end_of_its_source_or_a_missing_channel_is_refused() {
    let sd = real();
    let dir = tmpdir("bad");
    let session = dir.join("s.toml");
    let a1 = sd.join("A101_1.WAV").display().to_string();
    for (extra, want) in [
        (
            "channels = [\"Lav 9\"]\nlength_samples = 100",
            "channel 'Lav 9' is not in the source (channels: 1 'MKH516 A', 2 'Boom')",
        ),
        ("length = \"00:00:06:00\"", "but"),
        (
            "source_in = \"12:39:58:00\"\nlength_samples = 100",
            "is before the start of",
        ),
    ] {
        std::fs::write(
            &session,
            format!(
                "[reel]\ntitle = \"b\"\nframe_rate = \"23.976\"\nstart = \"01:00:00:00\"\n\n[[track]]\nid = \"t\"\nkind = \"dialogue\"\nlayout = \"stereo\"\n\n[[track.clip]]\nsource = \"{a1}\"\nrecord_in = \"01:00:00:00\"\n{extra}\n"
            ),
        )
        .unwrap();
        let e = Session::load(&session)
            .and_then(|s| s.resolve())
            .unwrap_err()
            .to_string();
        assert!(e.contains("track 't' clip 1"), "{e}");
        assert!(e.contains(want), "{e}");
    }
}
