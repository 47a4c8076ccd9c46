//! Helpers shared by the end-to-end tests: fixtures written with hound (an
//! independent WAV implementation), the CLI run as a process, outputs read back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh, empty temporary folder for one test, under `$TMPDIR/dubstage-tests/run-<pid>/`.
/// The folders of earlier runs whose process has ended are removed on the first call,
/// so test runs do not pile up in the temporary folder.
pub fn tmpdir(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    let root = std::env::temp_dir().join("dubstage-tests");
    SWEEP.call_once(|| sweep_stale_runs(&root));
    let d = root.join(format!("run-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sweep_stale_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("run-")) else {
            continue;
        };
        let alive = pid == std::process::id().to_string()
            || Path::new("/proc").join(pid).exists()
            || !Path::new("/proc/self").exists();
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs the `dubstage` binary.
pub fn dubstage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(args)
        .output()
        .expect("run dubstage")
}

/// Runs and asserts success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let o = dubstage(args);
    assert!(
        o.status.success(),
        "dubstage {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs, asserts failure, returns stderr.
pub fn fails(args: &[&str]) -> String {
    let o = dubstage(args);
    assert!(
        !o.status.success(),
        "dubstage {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(o.status.code(), Some(1));
    String::from_utf8(o.stderr).unwrap()
}

/// Runs `dubstage render SESSION --out OUT EXTRA...`, asserts success, returns stdout.
pub fn render_ok(session: &Path, out: &Path, extra: &[&str]) -> String {
    ok(&render_args(session, out, extra))
}

/// Runs `dubstage render SESSION --out OUT EXTRA...`, asserts failure, returns stderr.
pub fn render_fails(session: &Path, out: &Path, extra: &[&str]) -> String {
    fails(&render_args(session, out, extra))
}

fn render_args<'a>(session: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "render",
        session.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ];
    a.extend_from_slice(extra);
    a
}

/// A deterministic pseudo-random signal in [-a, a).
pub fn noise(seed: u64, n: usize, a: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
            (u * 2.0 - 1.0) * a
        })
        .collect()
}

/// Writes planar float data as a 32-bit float WAV with hound.
pub fn write_f32(path: &Path, rate: u32, chans: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: chans.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..chans[0].len() {
        for c in chans {
            w.write_sample(c[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Reads any WAV hound understands into planar f32 (ints scaled to [-1, 1)).
pub fn read(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let nch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 * scale)
                .collect()
        }
    };
    let mut out = vec![Vec::with_capacity(inter.len() / nch); nch];
    for (i, s) in inter.into_iter().enumerate() {
        out[i % nch].push(s);
    }
    (spec, out)
}

/// The files in a folder (names), sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let b = std::fs::read(path).unwrap();
    Sha256::digest(&b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Runs `dubstage render SESSION --out OUT EXTRA...` of a print that is delivered
/// whatever its QC says: asserts exit status 0 when `qc/report.json` passes (or warns)
/// and 3 when it fails; returns stdout.
pub fn render_delivered(session: &Path, out: &Path, extra: &[&str]) -> String {
    let o = dubstage(&render_args(session, out, extra));
    let report = std::fs::read_to_string(out.join("qc/report.json")).unwrap_or_else(|e| {
        panic!(
            "no QC report ({e}):\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let r: serde_json::Value = serde_json::from_str(&report).unwrap();
    let want = if r["status"] == "fail" { 3 } else { 0 };
    assert_eq!(
        o.status.code(),
        Some(want),
        "QC status {}:\n{}",
        r["status"],
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
