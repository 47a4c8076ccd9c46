//! End-to-end: previews that never destroy or leak a user's files, the
//! hardened `--serve`, the demo's output folder, spreadsheet-safe spotting
//! lists, terminal-safe output and a manifest with absurd numbers. Each runs
//! the release binary.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A 2-second stereo session in `dir`: `session.toml`, `stems/dx.wav`.
fn session(dir: &Path, extra_reel: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(
        &dir.join("stems/dx.wav"),
        48_000,
        &[noise(1, 96_000, 0.1), noise(2, 96_000, 0.1)],
    );
    let s = dir.join("session.toml");
    std::fs::write(
        &s,
        format!(
            "[reel]\ntitle = \"Safe\"\nframe_rate = \"24\"\n{extra_reel}\n\n[[stem]]\nid = \"dx\"\nkind = \"dialogue\"\nsource = \"stems/dx.wav\"\n"
        ),
    )
    .unwrap();
    s
}

/// Every file under `dir` (relative path, contents), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// No temporary package folders left beside `dir`.
fn no_leftovers(parent: &Path) {
    for e in std::fs::read_dir(parent).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".dubstage-"), "left over: {n}");
    }
}

#[test]
fn preview_refuses_a_folder_of_unrelated_files_and_leaves_them_untouched() {
    let d = tmpdir("preview_unrelated");
    let sess = session(&d.join("project"), "");
    let out = d.join("work");
    std::fs::create_dir_all(out.join("irs")).unwrap();
    std::fs::create_dir_all(out.join("audio")).unwrap();
    std::fs::write(out.join("irs/hall.wav"), b"an IR library").unwrap();
    std::fs::write(out.join("audio/take1.wav"), b"a recording").unwrap();
    std::fs::write(out.join("index.html"), b"my own page").unwrap();
    std::fs::write(out.join("README.md"), b"notes").unwrap();
    let before = tree(&out);
    let e = fails(&["preview", s(&sess), "--out", s(&out)]);
    assert!(
        e.contains("not a dubstage preview package") && e.contains("work"),
        "{e}"
    );
    assert_eq!(tree(&out), before, "the folder's files changed");
    no_leftovers(&d);
    // A manifest that is not a package's does not make it one.
    std::fs::write(
        out.join("manifest.json"),
        br#"{"format":"something-else/1"}"#,
    )
    .unwrap();
    fails(&["preview", s(&sess), "--out", s(&out)]);
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    assert_eq!(tree(&out), before);
}

#[test]
fn preview_refuses_a_folder_holding_the_sessions_inputs() {
    let d = tmpdir("preview_inputs");
    let proj = d.join("project");
    let sess = session(&proj, "");
    let before = tree(&proj);
    for out in [proj.clone(), proj.join("stems"), d.clone()] {
        let e = fails(&["preview", s(&sess), "--out", s(&out)]);
        assert!(e.contains("which the session reads"), "{e}");
    }
    // `.` inside the project, the way a facility would type it.
    let o = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(["preview", "session.toml", "--out", "."])
        .current_dir(&proj)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("which the session reads"));
    assert_eq!(tree(&proj), before, "an input changed");
    no_leftovers(&d);
}

#[test]
fn preview_over_an_earlier_package_replaces_it_whole() {
    let d = tmpdir("preview_replace");
    let sess = session(&d.join("project"), "");
    let out = d.join("pkg");
    let first = ok(&["preview", s(&sess), "--out", s(&out), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["dir"].as_str().unwrap(), s(&out));
    let m1 = std::fs::read(out.join("manifest.json")).unwrap();
    assert!(out.join("audio/dx/000000.pcm").is_file());
    std::fs::create_dir_all(out.join("audio/old_stem")).unwrap();
    std::fs::write(out.join("audio/old_stem/000000.pcm"), b"stale").unwrap();
    std::fs::write(out.join("stray.txt"), b"stale").unwrap();
    ok(&["preview", s(&sess), "--out", s(&out)]);
    assert!(!out.join("audio/old_stem").exists(), "stale stem kept");
    assert!(!out.join("stray.txt").exists(), "stray file kept");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), m1);
    assert!(out.join("audio/dx/000000.pcm").is_file());
    no_leftovers(&d);
    // An empty folder is fine too.
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    ok(&["preview", s(&sess), "--out", s(&empty)]);
    assert!(empty.join("manifest.json").is_file());
}

/// A minimal WebM (EBML header, DocType "webm") and a minimal MP4 (`ftyp` box).
const WEBM: &[u8] = &[
    0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm',
];
const MP4: &[u8] = b"\0\0\0\x18ftypisom\0\0\x02\0isommp41";

#[test]
fn the_video_proxy_must_be_media_from_inside_the_session_folder() {
    let d = tmpdir("preview_video");
    std::fs::write(d.join("secret.mp4"), MP4).unwrap();
    let key = d.join("id_ed25519");
    std::fs::write(&key, b"-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let proj = d.join("project");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("notes.txt"), b"not a video").unwrap();
    std::fs::write(proj.join("proxy.webm"), WEBM).unwrap();
    let cases = [
        ("video = \"notes.txt\"", "not an MP4, MOV or WebM"),
        ("video = \"../secret.mp4\"", "outside the session's folder"),
        (
            &format!("video = \"{}\"", key.display()) as &str,
            "outside the session's folder",
        ),
    ];
    for (line, want) in cases {
        let sess = session(&proj, line);
        let out = d.join("pkg");
        let e = fails(&["preview", s(&sess), "--out", s(&out)]);
        assert!(e.contains(want), "{line}: {e}");
        assert!(!out.exists(), "{line}: a package was written");
    }
    // --video names the user's own file, but it must still be a video.
    let sess = session(&proj, "");
    let e = fails(&[
        "preview",
        s(&sess),
        "--out",
        s(&d.join("pkg")),
        "--video",
        s(&key),
    ]);
    assert!(e.contains("not an MP4, MOV or WebM"), "{e}");
    // A real proxy inside the folder is copied, under a name of its kind.
    let sess = session(&proj, "video = \"proxy.webm\"");
    ok(&["preview", s(&sess), "--out", s(&d.join("pkg"))]);
    assert_eq!(std::fs::read(d.join("pkg/video/proxy.webm")).unwrap(), WEBM);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("pkg/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["video"]["src"], "video/proxy.webm");
    // Re-running with a --video that lives in the package is refused, and the
    // package's copy keeps its bytes.
    let e = fails(&[
        "preview",
        s(&sess),
        "--out",
        s(&d.join("pkg")),
        "--video",
        s(&d.join("pkg/video/proxy.webm")),
    ]);
    assert!(e.contains("which the session reads"), "{e}");
    assert_eq!(std::fs::read(d.join("pkg/video/proxy.webm")).unwrap(), WEBM);
}

#[test]
fn demo_refuses_a_folder_that_is_not_a_demo_unless_forced() {
    let d = tmpdir("demo_out");
    let out = d.join("mine");
    std::fs::create_dir_all(out.join("stems")).unwrap();
    std::fs::write(out.join("session.toml"), b"[reel]\ntitle = \"My film\"\n").unwrap();
    std::fs::write(out.join("stems/dx.wav"), b"my dialogue").unwrap();
    let before = tree(&out);
    let e = fails(&["demo", "--out", s(&out), "--minutes", "0.25", "--quiet"]);
    assert!(
        e.contains("not a dubstage demo folder") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(tree(&out), before);
    // An earlier demo folder is rewritten without --force; --force writes anywhere.
    let demo = d.join("demo");
    ok(&["demo", "--out", s(&demo), "--minutes", "0.25", "--quiet"]);
    ok(&["demo", "--out", s(&demo), "--minutes", "0.25", "--quiet"]);
    ok(&[
        "demo",
        "--out",
        s(&out),
        "--minutes",
        "0.25",
        "--quiet",
        "--force",
    ]);
    assert!(
        std::fs::read_to_string(out.join("session.toml"))
            .unwrap()
            .starts_with("# dubstage demo session")
    );
}

/// A served package: the child process, its URL parts.
struct Served {
    child: Child,
    /// Kept open: the server prints more after the URL.
    _out: BufReader<std::process::ChildStdout>,
    port: u16,
    token: String,
    pkg: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(name: &str) -> Served {
    let d = tmpdir(name);
    let sess = session(&d.join("project"), "");
    let pkg = d.join("pkg");
    ok(&["preview", s(&sess), "--out", s(&pkg)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args([
            "preview",
            s(&sess),
            "--out",
            s(&pkg),
            "--no-write",
            "--serve",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    // serving DIR at http://127.0.0.1:PORT/TOKEN/  (Ctrl-C to stop)
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"));
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .expect("loopback by default");
    let (port, token) = rest.split_once('/').unwrap();
    let token = token.trim_end_matches('/').to_string();
    assert_eq!(token.len(), 32, "{url}");
    Served {
        child,
        _out: out,
        port: port.parse().unwrap(),
        token,
        pkg,
    }
}

/// Sends `req` and reads the whole response (status line, headers, body),
/// within a generous bound (a hang fails the test instead of stalling it).
fn exchange(port: u16, req: &str) -> (String, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&all)));
    (
        String::from_utf8(all[..end].to_vec()).unwrap(),
        all[end + 4..].to_vec(),
    )
}

fn get(port: u16, path: &str, host: &str) -> (String, Vec<u8>) {
    exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

fn assert_security_headers(head: &str) {
    let h = head.to_ascii_lowercase();
    for want in [
        "content-security-policy: default-src 'self'",
        "x-content-type-options: nosniff",
        "cross-origin-resource-policy: same-origin",
        "referrer-policy: no-referrer",
    ] {
        assert!(h.contains(want), "missing {want:?} in\n{head}");
    }
}

#[test]
fn the_server_wants_its_token_and_its_own_host_and_sends_the_headers() {
    let sv = serve("serve_basics");
    let p = sv.port;
    let host = format!("127.0.0.1:{p}");
    let t = &sv.token;
    let (h, body) = get(p, &format!("/{t}/"), &host);
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    assert_eq!(body, std::fs::read(sv.pkg.join("index.html")).unwrap());
    assert_security_headers(&h);
    let (h, body) = get(p, &format!("/{t}/manifest.json"), &format!("localhost:{p}"));
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    assert_eq!(body, std::fs::read(sv.pkg.join("manifest.json")).unwrap());
    // No token, a wrong token: nothing.
    for path in [
        "/manifest.json",
        "/index.html",
        "/0123456789abcdef0123456789abcdef/manifest.json",
    ] {
        let (h, body) = get(p, path, &host);
        assert!(h.starts_with("HTTP/1.1 404"), "{path}: {h}");
        assert_security_headers(&h);
        assert!(!String::from_utf8_lossy(&body).contains("dubstage-preview"));
    }
    // DNS rebinding: a foreign Host is refused even with the token.
    for bad in [
        format!("evil.example:{p}"),
        format!("127.0.0.1.nip.io:{p}"),
        "127.0.0.1:1".to_string(),
    ] {
        let (h, body) = get(p, &format!("/{t}/manifest.json"), &bad);
        assert!(h.starts_with("HTTP/1.1 403"), "{bad}: {h}");
        assert_security_headers(&h);
        assert!(!String::from_utf8_lossy(&body).contains("dubstage-preview"));
    }
    let (h, _) = exchange(p, &format!("GET /{t}/manifest.json HTTP/1.1\r\n\r\n"));
    assert!(h.starts_with("HTTP/1.1 400"), "no Host: {h}");
    // Only the package's files, only the package's file types.
    std::fs::write(sv.pkg.join("session.toml"), "secret").unwrap();
    std::fs::write(sv.pkg.parent().unwrap().join("secret.json"), "secret").unwrap();
    for path in [
        format!("/{t}/session.toml"),
        format!("/{t}/../secret.json"),
        format!("/{t}/%2e%2e/secret.json"),
        format!("/{t}/audio/..%2f..%2fsecret.json"),
    ] {
        let (h, body) = get(p, &path, &host);
        assert!(h.starts_with("HTTP/1.1 404"), "{path}: {h}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "{path}");
    }
    // Ranges, as the page's video and audio fetches use them.
    let (h, body) = exchange(
        p,
        &format!("GET /{t}/manifest.json HTTP/1.1\r\nHost: {host}\r\nRange: bytes=0-9\r\n\r\n"),
    );
    assert!(h.starts_with("HTTP/1.1 206"), "{h}");
    assert_eq!(
        body,
        std::fs::read(sv.pkg.join("manifest.json")).unwrap()[..10]
    );
    let (h, _) = exchange(p, &format!("POST /{t}/ HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    assert!(h.starts_with("HTTP/1.1 405"), "{h}");
    // Oversized heads are refused, not buffered without end.
    let mut big = format!("GET /{t}/ HTTP/1.1\r\nHost: {host}\r\n");
    for i in 0..100 {
        big.push_str(&format!("X-Pad-{i}: {}\r\n", "y".repeat(100)));
    }
    big.push_str("\r\n");
    let (h, _) = exchange(p, &big);
    assert!(h.starts_with("HTTP/1.1 431"), "{h}");
}

#[test]
fn the_server_survives_300_idle_connections() {
    let sv = serve("serve_idle");
    let p = sv.port;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(("127.0.0.1", p)).unwrap());
    }
    // A few more that send half a head and stop.
    for _ in 0..20 {
        let mut c = TcpStream::connect(("127.0.0.1", p)).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: 127.").unwrap();
        idle.push(c);
    }
    // A normal request still gets its answer while they hang on (the bound
    // is generous: a stalled server would never answer at all).
    let started = Instant::now();
    let (h, body) = get(
        p,
        &format!("/{}/manifest.json", sv.token),
        &format!("127.0.0.1:{p}"),
    );
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    assert_eq!(body, std::fs::read(sv.pkg.join("manifest.json")).unwrap());
    assert!(started.elapsed() < Duration::from_secs(60));
    drop(idle);
    let (h, _) = get(p, &format!("/{}/", sv.token), &format!("127.0.0.1:{p}"));
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
}

#[test]
fn spreadsheet_formulas_in_spotting_lists_round_trip_escaped() {
    let d = tmpdir("spot_csv_injection");
    let sess = session(&d.join("project"), "");
    let list = d.join("list.csv");
    // As the page exports it: formula-leading cells escaped with a quote.
    std::fs::write(
        &list,
        "cue,type,in,out,character,line,reason,note\r\n\
         ,Note,01:00:00:10,,'@MARY,\"'=HYPERLINK(\"\"http://x.invalid\"\",\"\"x\"\")\",'-6 dB dip,''+kept\r\n",
    )
    .unwrap();
    let out = ok(&["spot", s(&sess), s(&list), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["cues"][0];
    assert_eq!(c["character"], "@MARY");
    assert_eq!(c["line"], "=HYPERLINK(\"http://x.invalid\",\"x\")");
    assert_eq!(c["reason"], "-6 dB dip");
    assert_eq!(c["note"], "'+kept");
}

#[test]
fn terminal_output_carries_no_control_sequences() {
    let d = tmpdir("terminal_controls");
    let sess = session(&d.join("project"), "");
    let list = d.join("list.csv");
    std::fs::write(
        &list,
        "type,in,character,line\nADR,01:00:00:10,\u{1b}]0;owned\u{7}MARY,\u{1b}[2J\u{9b}1mHello\n",
    )
    .unwrap();
    let out = ok(&["spot", s(&sess), s(&list)]);
    assert!(out.contains("MARY") && out.contains("Hello"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{9b}'));
    // A bext description with escape sequences, through `inspect`.
    let wav = d.join("bext.wav");
    std::fs::write(&wav, bext_wav("\u{1b}]2;pwned\u{7}Scene 4\u{1b}[31m")).unwrap();
    let out = ok(&["inspect", s(&wav)]);
    assert!(out.contains("Scene 4"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
}

/// A 16-bit mono WAV with a bext chunk (EBU Tech 3285) carrying `description`.
fn bext_wav(description: &str) -> Vec<u8> {
    let mut bext = vec![0u8; 602];
    bext[..description.len()].copy_from_slice(description.as_bytes());
    bext[256..256 + 7].copy_from_slice(b"fuzzer ");
    let fmt: [u8; 16] = {
        let mut f = [0u8; 16];
        f[0..2].copy_from_slice(&1u16.to_le_bytes());
        f[2..4].copy_from_slice(&1u16.to_le_bytes());
        f[4..8].copy_from_slice(&48_000u32.to_le_bytes());
        f[8..12].copy_from_slice(&96_000u32.to_le_bytes());
        f[12..14].copy_from_slice(&2u16.to_le_bytes());
        f[14..16].copy_from_slice(&16u16.to_le_bytes());
        f
    };
    let data = [0u8; 200];
    let mut body = b"WAVE".to_vec();
    for (id, c) in [
        (b"fmt ", &fmt[..]),
        (b"bext", &bext[..]),
        (b"data", &data[..]),
    ] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(c.len() as u32).to_le_bytes());
        body.extend_from_slice(c);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_manifest_with_absurd_numbers_is_refused_promptly() {
    let d = tmpdir("absurd_manifest");
    let sess = session(&d.join("project"), "");
    let pkg = d.join("pkg");
    ok(&["preview", s(&sess), "--out", s(&pkg)]);
    let text = std::fs::read_to_string(pkg.join("manifest.json")).unwrap();
    let list = d.join("list.csv");
    std::fs::write(&list, "type,in\nNote,01:00:00:10\n").unwrap();
    // The real manifest is accepted by `dubstage spot`.
    ok(&["spot", s(&pkg.join("manifest.json")), s(&list)]);
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["length"] = serde_json::json!(9_223_372_036_854_775_807u64);
    let bad = d.join("manifest.json");
    std::fs::write(&bad, v.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(["spot", s(&bad), s(&list)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A generous bound: the old code never returned at all.
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("dubstage spot did not return on an absurd manifest");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut e = String::new();
    child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
    assert_eq!(status.code(), Some(1), "{e}");
    assert!(e.contains("manifest.json") && e.contains("length"), "{e}");
}
