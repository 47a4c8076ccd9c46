//! Helpers shared by the io_* integration tests (and mix_direct).
#![allow(dead_code)]

use dubstage_core::io::{OutputFormat, Rf64Mode, WavSpec};
use std::path::PathBuf;
use std::process::Command;

/// A fresh, empty directory under Cargo's per-target temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("io_tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Deterministic test signal in [-amp, amp] (xorshift64, Marsaglia 2003).
pub fn noise(seed: u64, n: usize, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

/// `channels` of noise, each from its own seed.
pub fn signal(channels: usize, n: usize, amp: f32) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| noise(c as u64 + 11, n, amp))
        .collect()
}

pub fn spec(channels: u16, format: OutputFormat) -> WavSpec {
    WavSpec {
        channels,
        sample_rate: 48_000,
        format,
        channel_mask: 0,
        bext: None,
        rf64: Rf64Mode::AUTO,
        bw64: false,
        dither_seed: 1,
    }
}

/// Whether an external tool (ffprobe, ffmpeg, sox) can be run. When it
/// cannot: panics under CI (CI installs them), prints a skip note otherwise.
pub fn have(tool: &str) -> bool {
    let arg = if tool == "sox" {
        "--version"
    } else {
        "-version"
    };
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required when CI is set (CI installs ffmpeg and sox)");
        }
        eprintln!("skip: {tool} not found");
    }
    ok
}

/// Runs a command and returns its stdout, panicking with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Reads a whole file with our reader, in blocks of `block` frames.
pub fn read_all(path: &std::path::Path, block: usize) -> Vec<Vec<f32>> {
    let mut r = dubstage_core::io::WavReader::open(path).unwrap();
    let ch = r.info().channels as usize;
    let mut all = vec![Vec::new(); ch];
    let mut buf = vec![Vec::new(); ch];
    loop {
        let n = r.read_planar(&mut buf, block).unwrap();
        if n == 0 {
            break;
        }
        for c in 0..ch {
            all[c].extend_from_slice(&buf[c]);
        }
    }
    all
}
