//! A stem reopened for a later pass (the second pass of a normalizing render, the
//! preview) must still be what `Session::resolve` checked: a file re-bounced in the
//! meantime with other channels, another rate or another length is an error naming
//! the file, never a panic or audio read at the wrong speed.

use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("stem_reopen")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `frames` of a quiet ramp as 16-bit PCM with hound (an independent writer).
fn write(path: &Path, channels: u16, rate: u32, frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames * channels as usize {
        w.write_sample(((i % 100) as i16 - 50) * 20).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_stem_changed_after_resolve_is_refused_when_reopened() {
    let dir = scratch("changed");
    let wav = dir.join("a.wav");
    let session = dir.join("s.toml");
    let text = "[reel]\ntitle = \"T\"\nframe_rate = \"24\"\n\
                [[stem]]\nid = \"a\"\nkind = \"music\"\nsource = \"a.wav\"\n";
    std::fs::write(&session, text).unwrap();
    write(&wav, 2, 48_000, 4800);
    let plan = Session::parse(&session, text).unwrap().resolve().unwrap();
    let stem = &plan.stems[0];
    StemReader::open(stem, &plan, 0).expect("unchanged: opens");

    for (channels, rate, frames, now) in [
        (
            6,
            48_000,
            4800,
            "now holds 6 channel(s) at 48000 Hz, 4800 frames",
        ),
        (
            2,
            44_100,
            4800,
            "now holds 2 channel(s) at 44100 Hz, 4800 frames",
        ),
        (
            2,
            48_000,
            9600,
            "now holds 2 channel(s) at 48000 Hz, 9600 frames",
        ),
    ] {
        write(&wav, channels, rate, frames);
        let e = StemReader::open(stem, &plan, 0)
            .err()
            .expect("a changed file must be refused")
            .to_string();
        assert!(
            e.starts_with("stem 'a': ")
                && e.contains("a.wav changed after the session was checked")
                && e.contains(now)
                && e.contains("where 2 channel(s) at 48000 Hz, 4800 frames were checked"),
            "{e}"
        );
    }
}
