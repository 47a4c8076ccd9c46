//! End-to-end tests of what makes a print trustworthy: the verdict and the exit
//! status, JSON on failure, a commit that never loses the previous print, the output
//! folder's lock, the sweep of stale temporaries, clean cancellation by SIGINT and
//! SIGTERM, and the CPU as the default backend.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SR: u32 = 48_000;

/// A PID no process can have (beyond Linux's largest pid_max, 2^22).
const DEAD_PID: u32 = 4_194_304 + 17;

/// A 4-second reel: a mono dialogue stem and a stereo music stem of noise.
fn session(dir: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(
        &dir.join("stems/dx.wav"),
        SR,
        &[noise(1, 4 * SR as usize, 0.3)],
    );
    write_f32(
        &dir.join("stems/mx.wav"),
        SR,
        &[
            noise(2, 4 * SR as usize, 0.2),
            noise(3, 4 * SR as usize, 0.2),
        ],
    );
    let s = format!(
        r#"
[reel]
title = "Trust"
reel = 1
frame_rate = "24"
start = "01:00:00:00"
ffoa = "01:00:00:00"

[output]
format = "float32"

[[bus]]
id = "DX"
dialogue = true

[[bus]]
id = "MX"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"

[[stem]]
id = "mx"
kind = "music"
source = "stems/mx.wav"
{extra}
"#
    );
    let p = dir.join("session.toml");
    std::fs::write(&p, s).unwrap();
    p
}

/// Runs `dubstage ARGS` with extra environment, returning (status, stdout, stderr).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dubstage"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("run dubstage");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn p(x: &Path) -> &str {
    x.to_str().expect("UTF-8 path")
}

/// Every entry of a folder, hidden ones included, sorted (subfolders as "name/").
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                let n = e.file_name().to_string_lossy().into_owned();
                if e.file_type().unwrap().is_dir() {
                    format!("{n}/")
                } else {
                    n
                }
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file under `dir` (relative path -> bytes).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for n in entries(dir) {
        if let Some(sub) = n.strip_suffix('/') {
            for (m, b) in snapshot(&dir.join(sub)) {
                v.push((format!("{sub}/{m}"), b));
            }
        } else {
            v.push((n.clone(), std::fs::read(dir.join(&n)).unwrap()));
        }
    }
    v
}

fn sha256sum_ok(dir: &Path) -> bool {
    Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(dir)
        .status()
        .unwrap()
        .success()
}

#[test]
fn verdict_lines_and_exit_status_pass_then_flagged_fail() {
    let dir = tmpdir("trust-verdict");
    // A normalizing profile the render can meet: exit 0, the verdict last.
    let s = session(&dir, "[delivery]\nprofile = \"ebu-r128\"\n");
    let out = dir.join("pass");
    let (code, stdout, stderr) = run_env(&["render", p(&s), "--out", p(&out)], &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap();
    let report = out.join("qc/report.html");
    assert!(
        last.starts_with("QC: PASS") || last.starts_with("QC: WARN"),
        "{stdout}"
    );
    assert!(
        last.contains(p(&report)),
        "the verdict names the report: {last}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let status = r["status"].as_str().unwrap().to_uppercase();
    assert!(
        last.starts_with(&format!("QC: {status}")),
        "{last} vs {status}"
    );
    // The delivered loudness against the target (EBU R128: -23 LUFS ± 0.5 LU, -1 dBTP).
    let loud: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("loudness"))
        .collect();
    assert!(
        loud.iter().any(|l| l.contains("Integrated loudness")
            && l.contains("target -23.0 ± 0.5 LU")
            && l.ends_with("[PASS]")),
        "{stdout}"
    );
    assert!(
        loud.iter()
            .any(|l| l.contains("True peak") && l.contains("ceiling -1.0 dBTP")),
        "{stdout}"
    );
    // Every warned check of the report is a line of the summary.
    for d in r["deliverables"].as_array().unwrap() {
        for c in d["checks"].as_array().unwrap() {
            if c["status"] == "warn" || c["status"] == "fail" {
                let want = format!(
                    "  {}  {}  {}",
                    c["status"].as_str().unwrap().to_uppercase(),
                    d["name"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                );
                assert!(stdout.contains(&want), "missing {want:?} in\n{stdout}");
            }
        }
    }

    // The same reel checked, not normalized, against a target it misses, delivered
    // under on_failure = "flag": exit 3, FAIL with the figure, the files delivered.
    let s = session(
        &dir,
        "[delivery]\nprofile = \"ebu-r128\"\nmeasure_only = true\non_failure = \"flag\"\n",
    );
    let out = dir.join("flag");
    let (code, stdout, stderr) = run_env(&["render", p(&s), "--out", p(&out)], &[]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("QC: FAIL ("), "{stdout}");
    assert!(last.contains(p(&out.join("qc/report.html"))), "{last}");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("  FAIL  ") && l.contains("Integrated loudness"))
        .unwrap_or_else(|| panic!("no failed loudness line in\n{stdout}"));
    assert!(
        fail.contains("LUFS") && fail.contains("target -23.0"),
        "{fail}"
    );
    assert!(sha256sum_ok(&out), "the flagged print is delivered whole");
    // --json: the same verdict, exit 3 too.
    let out = dir.join("flag-json");
    let (code, stdout, _) = run_env(&["render", p(&s), "--out", p(&out), "--json"], &[]);
    assert_eq!(code, Some(3));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["qc_status"], "fail");
    assert!(
        v["qc_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["status"] == "fail" && l["check"] == "Integrated loudness"),
        "{stdout}"
    );
}

#[test]
fn json_errors_are_one_parseable_object() {
    let dir = tmpdir("trust-json");
    let s = session(&dir, "");
    // A session error: its kind, file and line.
    let text = std::fs::read_to_string(&s).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, text.replace("kind = \"music\"", "kind = \"musak\"")).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = run_env(&["render", p(&bad), "--out", p(&out), "--json"], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}"));
    assert_eq!(v["kind"], "session");
    assert_eq!(v["file"], p(&bad));
    let line = text
        .lines()
        .position(|l| l.contains("kind = \"music\""))
        .unwrap()
        + 1;
    assert_eq!(v["line"], line);
    assert!(v["error"].as_str().unwrap().contains("musak"), "{v}");
    assert!(!out.exists() || entries(&out).is_empty());
    // A stem whose file is missing.
    std::fs::write(&bad, text.replace("stems/mx.wav", "stems/gone.wav")).unwrap();
    let (code, stdout, _) = run_env(&["render", p(&bad), "--out", p(&out), "--json"], &[]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("gone.wav"), "{v}");
    assert!(v["kind"].is_string());
    // Other commands too: inspect of a file that is not audio.
    let (code, stdout, _) = run_env(&["inspect", p(&s), "--json"], &[]);
    assert_eq!(code, Some(1));
    let _: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspect --json: not one JSON document ({e}): {stdout:?}"));
    // A usage error: status 2, JSON of kind "usage".
    let (code, stdout, _) = run_env(&["render", p(&s), "--json", "--no-such-flag"], &[]);
    assert_eq!(code, Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["kind"], "usage");
    // The exit statuses are in --help.
    let (code, help, _) = run_env(&["--help"], &[]);
    assert_eq!(code, Some(0));
    for s in ["130", "143", "3 ", "QC failed"] {
        assert!(help.contains(s), "--help lacks {s:?}:\n{help}");
    }
}

#[test]
fn a_failed_commit_keeps_the_previous_print_byte_for_byte() {
    let dir = tmpdir("trust-commit");
    let s = session(&dir, "");
    let out = dir.join("print");
    render_ok(&s, &out, &["--quiet"]);
    let before = snapshot(&out);
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"SHA256SUMS") && names.contains(&"qc/report.json"));
    let files = before.len();
    assert!(sha256sum_ok(&out));
    // A different mix, so that every new file differs from the old one.
    let text = std::fs::read_to_string(&s).unwrap();
    std::fs::write(
        &s,
        text.replace(
            "source = \"stems/mx.wav\"",
            "source = \"stems/mx.wav\"\ngain_db = -6.0",
        ),
    )
    .unwrap();
    // The commit fails at its first file, in the middle, and at its last (the report).
    for k in [0, files / 2, files - 1] {
        let k = k.to_string();
        let (code, stdout, stderr) = run_env(
            &["render", p(&s), "--out", p(&out), "--quiet"],
            &[("DUBSTAGE_TEST_FAIL_COMMIT", &k)],
        );
        assert_eq!(code, Some(1), "{stdout}\n{stderr}");
        assert!(stderr.contains("simulated failure"), "{stderr}");
        let after = snapshot(&out);
        assert_eq!(
            after.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            before.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "failure at file {k}: files added or lost (temporaries, backups, lock)"
        );
        for ((n, a), (_, b)) in after.iter().zip(&before) {
            assert!(a == b, "failure at file {k}: {n} changed");
        }
        assert!(sha256sum_ok(&out));
    }
    // Without the fault the new print replaces the old one whole.
    render_ok(&s, &out, &["--quiet"]);
    let after = snapshot(&out);
    assert_eq!(after.len(), files, "{:?}", entries(&out));
    for ((n, a), (_, b)) in after.iter().zip(&before) {
        assert!(a != b, "{n} was not replaced");
    }
    assert!(sha256sum_ok(&out));
    // A plain print retires the old QC report, which would not describe it.
    render_ok(&s, &out, &["--quiet", "--no-qc"]);
    assert!(!out.join("qc/report.json").exists() && !out.join("qc/report.html").exists());
    assert!(sha256sum_ok(&out));
}

#[test]
fn a_locked_folder_is_refused_naming_the_pid_and_a_stale_lock_is_taken_over() {
    let dir = tmpdir("trust-lock");
    let s = session(&dir, "");
    let out = dir.join("print");
    std::fs::create_dir_all(&out).unwrap();
    // A live process holds the lock.
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = holder.id();
    std::fs::write(out.join(".dubstage.lock"), format!("{pid}\n")).unwrap();
    let (code, _, stderr) = run_env(&["render", p(&s), "--out", p(&out), "--quiet"], &[]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("PID {pid}")), "{stderr}");
    assert_eq!(
        entries(&out),
        [".dubstage.lock"],
        "the refused render wrote nothing"
    );
    // The process is gone: its lock is stale and taken over; released at the end.
    render_ok(&s, &out, &["--quiet"]);
    assert!(!out.join(".dubstage.lock").exists());
    assert!(sha256sum_ok(&out));
}

#[test]
fn stale_temporaries_of_dead_processes_are_swept() {
    let dir = tmpdir("trust-sweep");
    let s = session(&dir, "");
    let out = dir.join("print");
    std::fs::create_dir_all(out.join("qc")).unwrap();
    let me = std::process::id();
    let dead = [
        format!(".Trust_r1_printmaster.wav.{DEAD_PID}-0.partial"),
        format!(".SHA256SUMS.{DEAD_PID}-7.partial"),
        format!("qc/.report.json.{DEAD_PID}-8.partial"),
    ];
    // A temporary of a live process (this test) is not touched.
    let live = format!(".other.wav.{me}-0.partial");
    for n in dead.iter().chain([&live]) {
        std::fs::write(out.join(n), vec![0u8; 4096]).unwrap();
    }
    // A previous file that a killed commit had moved aside comes back.
    std::fs::write(out.join(format!(".notes.txt.{DEAD_PID}-2.prev")), b"notes").unwrap();
    render_ok(&s, &out, &["--quiet"]);
    for n in &dead {
        assert!(!out.join(n).exists(), "{n} was not swept");
    }
    assert!(out.join(&live).exists());
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"notes");
    assert!(sha256sum_ok(&out));
    let hidden: Vec<String> = entries(&out)
        .into_iter()
        .chain(entries(&out.join("qc")))
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(hidden, [live]);
}

/// A one-hour reel (one short stem, the rest silence): long enough to be interrupted.
fn long_session(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(&dir.join("stems/dx.wav"), SR, &[noise(5, SR as usize, 0.3)]);
    let s = r#"
[reel]
title = "Long"
frame_rate = "25"
start = "01:00:00:00"
ffoa = "01:00:00:00"
length = "01:00:00:00"
layout = "stereo"

[output]
format = "pcm16"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"

[[deliverable]]
kind = "printmaster"

[delivery]
profile = "ebu-r128"
on_failure = "flag"
"#;
    let p = dir.join("session.toml");
    std::fs::write(&p, s).unwrap();
    p
}

/// Starts a long render, waits until it holds the folder's lock, checks that a second
/// render into the folder is refused naming it, sends `signal` (in the measuring pass,
/// or once the deliverables are being written when `writing`), and checks that it
/// exits `status` leaving nothing behind.
fn interrupt(name: &str, signal: &str, status: i32, writing: bool) {
    let dir = tmpdir(name);
    let s = long_session(&dir);
    let out = dir.join("print");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(["render", p(&s), "--out", p(&out), "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let lock = out.join(".dubstage.lock");
    let t0 = Instant::now();
    while !lock.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the render ended before it could be interrupted"
        );
        assert!(t0.elapsed() < Duration::from_secs(120), "no lock appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, _, stderr) = run_env(&["render", p(&s), "--out", p(&out), "--quiet"], &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("PID {pid}")),
        "second render: {stderr}"
    );
    // In the second case, wait until a partial deliverable exists.
    let t1 = Instant::now();
    while writing
        && !entries(&out).iter().any(|n| n.ends_with(".partial"))
        && t1.elapsed() < Duration::from_secs(60)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let saw_partial = entries(&out).iter().any(|n| n.ends_with(".partial"));
    assert!(!writing || saw_partial, "no partial file appeared");
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(status), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(entries(&out).is_empty(), "left behind: {:?}", entries(&out));
}

#[test]
fn sigint_stops_a_render_cleanly_with_status_130() {
    // In the measuring pass of a profile render.
    interrupt("trust-sigint", "INT", 130, false);
}

#[test]
fn sigterm_stops_a_render_cleanly_with_status_143() {
    // While the deliverables are being written.
    interrupt("trust-sigterm", "TERM", 143, true);
}

#[test]
fn the_cpu_is_the_default_backend_and_is_recorded_with_its_features() {
    let dir = tmpdir("trust-backend");
    let s = session(&dir, "");
    let out = dir.join("print");
    // No XDG_RUNTIME_DIR: no GPU instance is made, so Mesa says nothing.
    let mut c = Command::new(env!("CARGO_BIN_EXE_dubstage"));
    c.args(["render", p(&s), "--out", p(&out), "--json"])
        .env_remove("XDG_RUNTIME_DIR");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"]["kind"], "cpu");
    assert_eq!(v["cpu"]["arch"], std::env::consts::ARCH);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    assert_eq!(r["backend"]["kind"], "cpu");
    assert_eq!(r["backend"]["cpu"], v["cpu"]);
    #[cfg(target_arch = "x86_64")]
    {
        // x86-64 always has SSE2; the features listed are the detected ones.
        let f: Vec<&str> = v["cpu"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(
            f.contains(&"avx2"),
            std::arch::is_x86_feature_detected!("avx2")
        );
        assert_eq!(
            f.contains(&"fma"),
            std::arch::is_x86_feature_detected!("fma")
        );
    }
    // measure: no GPU unless asked, no Mesa line.
    let wav = out.join(v["deliverables"][0]["files"][0]["path"].as_str().unwrap());
    let o = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(["measure", p(&wav)])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("XDG_RUNTIME_DIR"));
    // Asked for a GPU with XDG_RUNTIME_DIR unset: a private folder is used, and Mesa
    // stays quiet whether or not an adapter is found.
    let o = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(["measure", p(&wav), "--backend", "gpu"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
    // A session that names an unknown backend is refused at its line.
    let text = std::fs::read_to_string(&s).unwrap();
    std::fs::write(
        &s,
        text.replace(
            "format = \"float32\"",
            "format = \"float32\"\nbackend = \"fpga\"",
        ),
    )
    .unwrap();
    let e = render_fails(&s, &dir.join("x"), &[]);
    assert!(e.contains("fpga") && e.contains("session.toml:"), "{e}");
}
