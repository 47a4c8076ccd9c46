//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, minimized) and
//! every input that once crashed a parser (`fuzz/regressions/<target>/`)
//! through the same functions the libFuzzer targets run (`fuzz/replay.rs`),
//! so that the fixes stay fixed on stable Rust, without fuzzing.

#[path = "../fuzz/replay.rs"]
mod replay;

use std::path::Path;

/// Runs `f` on every file of `fuzz/corpus/<target>` and
/// `fuzz/regressions/<target>`; fails if the corpus is missing or empty (a
/// replay that finds nothing to replay must not pass).
fn replay_all(target: &str, f: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let d = root.join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&d) else {
            assert_ne!(dir, "corpus", "no corpus at {}", d.display());
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let data = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| f(&data));
            assert!(r.is_ok(), "{target}: {} panics", p.display());
            n += 1;
        }
    }
    assert!(n >= 5, "{target}: only {n} corpus inputs");
}

#[test]
fn wav_corpus() {
    replay_all("wav", |d| replay::audio(d, "wav"));
}

#[test]
fn flac_corpus() {
    replay_all("flac", |d| replay::audio(d, "flac"));
}

#[test]
fn session_corpus() {
    replay_all("session", replay::session);
}

#[test]
fn spot_csv_corpus() {
    replay_all("spot_csv", replay::spot_csv);
}

#[test]
fn spot_json_corpus() {
    replay_all("spot_json", replay::spot_json);
}

#[test]
fn manifest_corpus() {
    replay_all("manifest", replay::manifest);
}

#[test]
fn http_corpus() {
    replay_all("http", replay::http);
}
