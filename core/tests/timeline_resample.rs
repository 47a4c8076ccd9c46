//! Clips and stems at another sample rate or speed, played through the one
//! resampler: checked against the analytic signal (a tone written at the
//! source's rate must come out as the same tone at the reel's rate, at the
//! right place on the reel to the sample, for the right length), and for
//! determinism (the same samples whatever the block size or where reading
//! starts).

use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "dubstage-timeline-rs-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A mono float WAV of `hz` at `rate`, amplitude 0.5, `n` frames.
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

/// Reel samples `from .. len` of stem `i`, read block by block from `from`.
fn read_stem(session: &Path, i: usize, block: usize, from: usize) -> (Vec<f32>, u64, u64) {
    let s = Session::load(session).unwrap_or_else(|e| panic!("{e}"));
    let plan = s.resolve().unwrap_or_else(|e| panic!("{e}"));
    let st = &plan.stems[i];
    let mut r = StemReader::open(st, &plan, from as i64).unwrap();
    let len = plan.length as usize;
    let mut out = Vec::with_capacity(len);
    let mut buf = vec![Vec::new(); st.layout.len()];
    let mut t = from;
    while t < len {
        let n = block.min(len - t);
        r.read_block(t as i64, n, &mut buf).unwrap();
        out.extend_from_slice(&buf[0][..n]);
        t += n;
    }
    (out, st.frames, st.offset as u64)
}

/// Residual of `y[a..b]` against `want(i)`, in dB relative to the signal.
fn residual_db(y: &[f32], a: usize, b: usize, want: impl Fn(usize) -> f64) -> f64 {
    let (mut e, mut s) = (0.0f64, 0.0f64);
    for (i, &v) in y.iter().enumerate().take(b).skip(a) {
        let w = want(i);
        e += (v as f64 - w).powi(2);
        s += w * w;
    }
    assert!(s > 0.0, "the compared signal is silence");
    10.0 * (e / s).log10()
}

const SESSION_HEAD: &str = "[reel]\ntitle = \"rs\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n";

#[test]
fn a_44k1_clip_on_a_48k_reel_is_the_analytic_tone_at_the_right_sample() {
    let dir = tmpdir("44k1");
    // 3 s of tone at 44.1 kHz; the clip plays 1 s of it from 0.5 s in
    // (22050 source frames), landing 1 s (25 frames, 48000 samples) into the reel
    for hz in [997.0, 15_000.0] {
        write_tone(&dir.join("music.wav"), 44_100, hz, 3 * 44_100);
        let session = dir.join("s.toml");
        std::fs::write(
            &session,
            format!(
                "{SESSION_HEAD}length = \"00:00:03:00\"\n\n[[track]]\nid = \"mx\"\nkind = \"music\"\n\n[[track.clip]]\nsource = \"music.wav\"\nsource_in_samples = 22050\nrecord_in = \"01:00:01:00\"\nlength_samples = 48000\n"
            ),
        )
        .unwrap();
        for block in [4096, 1000] {
            let (y, _, _) = read_stem(&session, 0, block, 0);
            assert_eq!(y.len(), 3 * 48_000);
            // silence before and after, exactly
            assert!(y[..48_000].iter().all(|&v| v == 0.0));
            assert!(y[96_000..].iter().all(|&v| v == 0.0));
            // reel sample 48000 + j is source time 0.5 s + j / 48000 s
            let want = |i: usize| {
                let t = 0.5 + (i - 48_000) as f64 / 48_000.0;
                0.5 * (TAU * hz * t).sin()
            };
            let db = residual_db(&y, 48_000, 96_000, want);
            assert!(db < -100.0, "{hz} Hz, block {block}: residual {db:.1} dB");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_96k_stem_and_a_pal_speed_stem_have_exact_lengths_and_frequencies() {
    let dir = tmpdir("stems");
    write_tone(&dir.join("fx96.wav"), 96_000, 1000.0, 96_000 * 2);
    write_tone(&dir.join("pal.wav"), 48_000, 1000.0, 48_000 * 2);
    write_tone(&dir.join("pd.wav"), 48_000, 1000.0, 48_048);
    let session = dir.join("s.toml");
    std::fs::write(
        &session,
        format!(
            "{SESSION_HEAD}length = \"00:00:03:00\"\n\n\
             [[stem]]\nid = \"fx\"\nkind = \"effects\"\nsource = \"fx96.wav\"\nstart = \"01:00:00:00\"\n\n\
             [[stem]]\nid = \"pal\"\nkind = \"music\"\nsource = \"pal.wav\"\nstart = \"01:00:00:10\"\nspeed = \"24/25\"\n\n\
             [[stem]]\nid = \"pd\"\nkind = \"effects\"\nsource = \"pd.wav\"\nstart = \"01:00:00:00\"\nspeed = \"pull-down\"\n"
        ),
    )
    .unwrap();
    // 96 kHz -> 48 kHz: 2 s, the same tone
    let (y, frames, off) = read_stem(&session, 0, 4096, 0);
    assert_eq!((frames, off), (96_000, 0));
    let db = residual_db(&y, 4800, 96_000 - 4800, |i| {
        0.5 * (TAU * 1000.0 * i as f64 / 48_000.0).sin()
    });
    assert!(db < -100.0, "96k: residual {db:.1} dB");
    assert!(y[96_000..].iter().all(|&v| v == 0.0));
    // PAL speed-up: 2 s last 1.92 s (92160 samples) and the tone is 25/24 higher,
    // from 10 frames (19200 samples) into the reel
    let (y, frames, off) = read_stem(&session, 1, 4096, 0);
    assert_eq!((frames, off), (92_160, 19_200));
    assert!(y[..19_200].iter().all(|&v| v == 0.0));
    assert!(y[19_200 + 92_160..].iter().all(|&v| v == 0.0));
    let f = 1000.0 * 25.0 / 24.0;
    let db = residual_db(&y, 19_200 + 4800, 19_200 + 92_160 - 4800, |i| {
        0.5 * (TAU * f * (i - 19_200) as f64 / 48_000.0).sin()
    });
    assert!(db < -100.0, "24/25: residual {db:.1} dB");
    // pull-down: 48048 frames last 48096, the tone 1000/1001 as high
    let (y, frames, _) = read_stem(&session, 2, 4096, 0);
    assert_eq!(frames, 48_096);
    assert!(y[48_096..].iter().all(|&v| v == 0.0));
    assert_ne!(y[48_095 - 100], 0.0);
    let f = 1000.0 * 1000.0 / 1001.0;
    let db = residual_db(&y, 4800, 48_096 - 4800, |i| {
        0.5 * (TAU * f * i as f64 / 48_000.0).sin()
    });
    assert!(db < -100.0, "pull-down: residual {db:.1} dB");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_converted_clip_reads_the_same_whatever_the_block_or_the_starting_point() {
    let dir = tmpdir("seek");
    write_tone(&dir.join("a.wav"), 48_000, 440.0, 5 * 48_000);
    let session = dir.join("s.toml");
    std::fs::write(
        &session,
        format!(
            "{SESSION_HEAD}length = \"00:00:05:00\"\n\n[[track]]\nid = \"t\"\nkind = \"effects\"\n\n[[track.clip]]\nsource = \"a.wav\"\nsource_in_samples = 1000\nrecord_in = \"01:00:00:05\"\nlength_samples = 180000\nspeed = \"pull-up\"\nfade_in = {{ samples = 480 }}\n"
        ),
    )
    .unwrap();
    let (whole, _, _) = read_stem(&session, 0, 65_536, 0);
    let (small, _, _) = read_stem(&session, 0, 997, 0);
    assert_eq!(whole, small, "block size changed the samples");
    for from in [9600, 9601, 50_000, 123_457, 189_000] {
        let (tail, _, _) = read_stem(&session, 0, 4096, from);
        if let Some(i) = (0..tail.len()).find(|&i| tail[i] != whole[from + i]) {
            panic!(
                "read from {from}: reel sample {} differs: {} vs {}",
                from + i,
                tail[i],
                whole[from + i]
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_converted_clip_split_in_two_plays_as_one() {
    // Cutting a clip (as a re-conform does) keeps the audio: each piece is
    // filtered with the real source audio around it.
    let dir = tmpdir("split");
    write_tone(&dir.join("a.wav"), 44_100, 3000.0, 2 * 44_100);
    let session = dir.join("s.toml");
    let clip = |src: u64, rec: &str, len: u64| {
        format!(
            "\n[[track.clip]]\nsource = \"a.wav\"\nsource_in_samples = {src}\nrecord_in = \"{rec}\"\nlength_samples = {len}\n"
        )
    };
    // 147 source frames are 160 reel frames: a cut at reel sample 19200
    // (10 frames) is source frame 17640
    std::fs::write(
        &session,
        format!(
            "{SESSION_HEAD}length = \"00:00:02:00\"\n\n[[track]]\nid = \"one\"\nkind = \"effects\"\n{}\n[[track]]\nid = \"two\"\nkind = \"effects\"\n{}{}",
            clip(4410, "01:00:00:00", 48_000),
            clip(4410, "01:00:00:00", 19_200),
            clip(4410 + 17_640, "01:00:00:10", 48_000 - 19_200),
        ),
    )
    .unwrap();
    let (one, _, _) = read_stem(&session, 0, 4096, 0);
    let (two, _, _) = read_stem(&session, 1, 4096, 0);
    let worst = one
        .iter()
        .zip(&two)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 5e-5, "the split differs by up to {worst}");
    assert!(one[19_199] != 0.0 && one[19_200] != 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_speeds_and_sources_too_short_for_the_speed_are_refused() {
    let dir = tmpdir("bad");
    write_tone(&dir.join("a.wav"), 44_100, 440.0, 44_100);
    let session = dir.join("s.toml");
    for (extra, want) in [
        ("length_samples = 100\nspeed = \"fast\"", "speed \"fast\""),
        // 1 s at 44.1 kHz is 48000 reel samples; slowed down 25/24 it is 50000
        ("length_samples = 48001", "plays source samples 0..44101"),
        ("length_samples = 50001\nspeed = \"25/24\"", "but"),
    ] {
        std::fs::write(
            &session,
            format!(
                "{SESSION_HEAD}\n[[track]]\nid = \"t\"\nkind = \"effects\"\n\n[[track.clip]]\nsource = \"a.wav\"\nrecord_in = \"01:00:00:00\"\n{extra}\n"
            ),
        )
        .unwrap();
        let e = Session::load(&session)
            .and_then(|s| s.resolve())
            .unwrap_err()
            .to_string();
        assert!(e.contains("track 't' clip 1"), "{e}");
        assert!(e.contains(want), "{want}: {e}");
    }
    // the longest clips the source allows are accepted
    for extra in [
        "length_samples = 48000",
        "length_samples = 50000\nspeed = \"25/24\"",
    ] {
        std::fs::write(
            &session,
            format!(
                "{SESSION_HEAD}\n[[track]]\nid = \"t\"\nkind = \"effects\"\n\n[[track.clip]]\nsource = \"a.wav\"\nrecord_in = \"01:00:00:00\"\n{extra}\n"
            ),
        )
        .unwrap();
        Session::load(&session)
            .and_then(|s| s.resolve())
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
