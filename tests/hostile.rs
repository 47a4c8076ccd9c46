//! Hostile and surprising input (issue #13): each refused with a message naming
//! the file, stem or session entry and what is wrong, exit status 1, nothing at a
//! final path; `inspect` flags implausible headers and returns at once on values
//! that used to hang or panic it; `measure` reports NaN/Inf samples.
//!
//! The WAV files are built byte by byte here (RIFF, `fmt `, `bext` per EBU Tech
//! 3285, `iXML`, `data`), independently of dubstage's writer, so that any header
//! field can be set to what a damaged or hostile file holds.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One hour of 48 kHz samples: 01:00:00:00 as a TimeReference.
const HOUR: u64 = 3600 * 48_000;

/// A WAV header and data as bytes, every field chosen by the test.
struct Wav {
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    block_align: Option<u16>,
    mask: Option<u32>,
    time_reference: Option<u64>,
    ixml: Option<String>,
    data: Vec<u8>,
    /// Extra zero data bytes appended as a hole (a sparse file: long, but free).
    hole: u64,
}

impl Wav {
    /// 16-bit PCM of `frames` frames of a quiet ramp.
    fn pcm16(channels: u16, frames: usize) -> Wav {
        let data = (0..frames * channels as usize)
            .flat_map(|i| (((i % 200) as i16 - 100) * 30).to_le_bytes())
            .collect();
        Wav {
            format_tag: 1,
            channels,
            sample_rate: 48_000,
            bits: 16,
            block_align: None,
            mask: None,
            time_reference: None,
            ixml: None,
            data,
            hole: 0,
        }
    }

    /// 32-bit float of the given interleaved samples.
    fn f32(channels: u16, samples: &[f32]) -> Wav {
        Wav {
            format_tag: 3,
            bits: 32,
            data: samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
            ..Wav::pcm16(channels, 0)
        }
    }

    fn write(&self, path: &Path) {
        let mut fmt = Vec::new();
        let block_align = self
            .block_align
            .unwrap_or(self.channels.wrapping_mul(self.bits / 8));
        let tag = if self.mask.is_some() {
            0xFFFE
        } else {
            self.format_tag
        };
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&self.channels.to_le_bytes());
        fmt.extend_from_slice(&self.sample_rate.to_le_bytes());
        fmt.extend_from_slice(
            &self
                .sample_rate
                .wrapping_mul(u32::from(block_align))
                .to_le_bytes(),
        );
        fmt.extend_from_slice(&block_align.to_le_bytes());
        fmt.extend_from_slice(&self.bits.to_le_bytes());
        if let Some(m) = self.mask {
            // WAVE_FORMAT_EXTENSIBLE: cbSize 22, valid bits, mask, sub-format GUID
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&self.bits.to_le_bytes());
            fmt.extend_from_slice(&m.to_le_bytes());
            fmt.extend_from_slice(&self.format_tag.to_le_bytes());
            fmt.extend_from_slice(&[
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        }
        let mut chunks: Vec<(&[u8; 4], Vec<u8>)> = vec![(b"fmt ", fmt)];
        if let Some(t) = self.time_reference {
            // EBU Tech 3285: 602 fixed bytes; TimeReference low/high u32 at 338/342.
            let mut b = vec![0u8; 602];
            b[..7].copy_from_slice(b"hostile");
            b[338..342].copy_from_slice(&(t as u32).to_le_bytes());
            b[342..346].copy_from_slice(&((t >> 32) as u32).to_le_bytes());
            b[346..348].copy_from_slice(&1u16.to_le_bytes());
            chunks.push((b"bext", b));
        }
        if let Some(x) = &self.ixml {
            chunks.push((b"iXML", x.as_bytes().to_vec()));
        }
        let mut body = b"WAVE".to_vec();
        for (id, c) in &chunks {
            body.extend_from_slice(*id);
            body.extend_from_slice(&(c.len() as u32).to_le_bytes());
            body.extend_from_slice(c);
            if c.len() % 2 == 1 {
                body.push(0);
            }
        }
        let data_len = self.data.len() as u64 + self.hole;
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(data_len as u32).to_le_bytes());
        let riff_len = body.len() as u64 + data_len;
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(riff_len as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&self.data);
        std::fs::write(path, &out).unwrap();
        if self.hole > 0 {
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(out.len() as u64 + self.hole).unwrap();
        }
    }
}

/// Runs dubstage with a generous deadline, so that a hang fails the test instead of
/// stalling the suite (this is a guard, not a timing: the work takes milliseconds).
fn run_guarded(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dubstage"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("dubstage {args:?} did not return (hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
}

/// A session with one stem `a` from `a.wav` (and optional extra text), 24 fps,
/// reel start 01:00:00:00.
fn session(dir: &Path, reel_extra: &str, extra: &str) -> std::path::PathBuf {
    let p = dir.join("session.toml");
    std::fs::write(
        &p,
        format!(
            "[reel]\ntitle = \"H\"\nframe_rate = \"24\"\nstart = \"01:00:00:00\"\n{reel_extra}\n\
             [[stem]]\nid = \"a\"\nkind = \"effects\"\nsource = \"a.wav\"\n{extra}\n"
        ),
    )
    .unwrap();
    p
}

/// The render fails with status 1, a message holding every `want`, and leaves
/// nothing in the output folder.
fn refused(session: &Path, out: &Path, want: &[&str]) -> String {
    let e = render_fails(session, out, &["--quiet", "--backend", "cpu"]);
    no_panic(&e);
    for w in want {
        assert!(e.contains(w), "'{w}' missing from: {e}");
    }
    assert!(
        files_in(out).is_empty() && !out.join("qc").exists(),
        "files left in {}: {:?}",
        out.display(),
        files_in(out)
    );
    e
}

#[test]
fn inspect_returns_at_once_on_a_time_reference_near_2_pow_63() {
    let dir = tmpdir("hostile-inspect-tr");
    for (i, tr) in [0x8000_0000_0000_0000u64, i64::MAX as u64, u64::MAX]
        .into_iter()
        .enumerate()
    {
        let f = dir.join(format!("tr{i}.wav"));
        Wav {
            time_reference: Some(tr),
            ..Wav::pcm16(2, 480)
        }
        .write(&f);
        let fs = f.to_str().unwrap();
        let (code, out, err) = run_guarded(&["inspect", fs]);
        no_panic(&err);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(
            out.contains(&format!(
                "IMPLAUSIBLE  bext TimeReference {tr} samples is beyond one day"
            )),
            "{out}"
        );
        assert!(out.contains("(not a time of day)"), "{out}");
        let (code, out, err) = run_guarded(&["inspect", fs, "--json", "--fps", "29.97df"]);
        no_panic(&err);
        assert_eq!(code, Some(0), "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["start_timecode"], "(not a time of day)");
        assert_eq!(v[0]["bext"]["time_reference"], tr);
        let p = v[0]["problems"].as_array().unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
    }
    // A real time of day is printed and not flagged.
    let f = dir.join("ok.wav");
    Wav {
        time_reference: Some(HOUR),
        ..Wav::pcm16(2, 480)
    }
    .write(&f);
    let out = ok(&["inspect", f.to_str().unwrap()]);
    assert!(
        out.contains("= 01:00:00:00 at 24") && !out.contains("IMPLAUSIBLE"),
        "{out}"
    );
}

#[test]
fn inspect_does_not_panic_on_a_zero_ixml_timestamp_rate() {
    let dir = tmpdir("hostile-inspect-ixml");
    let f = dir.join("ixml0.wav");
    Wav {
        time_reference: Some(HOUR),
        ixml: Some(
            "<BWFXML><IXML_VERSION>2.10</IXML_VERSION><PROJECT>P</PROJECT><SPEED>\
             <TIMECODE_RATE>24/1</TIMECODE_RATE><TIMECODE_FLAG>NDF</TIMECODE_FLAG>\
             <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>0</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\
             <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>172800000</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\
             <TIMESTAMP_SAMPLE_RATE>0</TIMESTAMP_SAMPLE_RATE></SPEED></BWFXML>"
                .into(),
        ),
        ..Wav::pcm16(1, 480)
    }
    .write(&f);
    let (code, out, err) = run_guarded(&["inspect", f.to_str().unwrap()]);
    no_panic(&err);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("IMPLAUSIBLE  iXML TIMESTAMP_SAMPLE_RATE is 0 Hz"),
        "{out}"
    );
    assert!(out.contains("(not a time of day)"), "{out}");
    let (code, out, err) = run_guarded(&["inspect", f.to_str().unwrap(), "--json"]);
    no_panic(&err);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v[0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("TIMESTAMP_SAMPLE_RATE is 0 Hz")
    );
}

#[test]
fn inspect_flags_or_refuses_implausible_headers() {
    let dir = tmpdir("hostile-inspect-header");
    // Unreadable: a 4 294 967 295 Hz rate, 0 channels, a block align that does not
    // match the format. Each an error naming the file and the field.
    let cases: [(&str, Wav, &str); 3] = [
        (
            "rate.wav",
            Wav {
                sample_rate: u32::MAX,
                ..Wav::pcm16(2, 10)
            },
            "sample rate of 4294967295 Hz",
        ),
        (
            "zero.wav",
            Wav {
                channels: 0,
                ..Wav::pcm16(1, 10)
            },
            "0 channels",
        ),
        (
            "align.wav",
            Wav {
                block_align: Some(60_000),
                ..Wav::pcm16(2, 10)
            },
            "block align 60000",
        ),
    ];
    for (name, w, want) in cases {
        let f = dir.join(name);
        w.write(&f);
        let (code, out, err) = run_guarded(&["inspect", f.to_str().unwrap()]);
        no_panic(&err);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
        assert!(!out.contains("sample rate  4294967295"), "{out}");
    }
    // Readable but implausible: more channels than a stem may have, and a mask
    // naming more speakers than the file has channels. Flagged, not printed as valid.
    let f = dir.join("wide.wav");
    Wav::pcm16(80, 10).write(&f);
    let out = ok(&["inspect", f.to_str().unwrap()]);
    assert!(out.contains("IMPLAUSIBLE  80 channels"), "{out}");
    let f = dir.join("mask.wav");
    Wav {
        mask: Some(0x3F),
        ..Wav::pcm16(2, 10)
    }
    .write(&f);
    let out = ok(&["inspect", f.to_str().unwrap()]);
    assert!(
        out.contains("IMPLAUSIBLE  channel mask 0x3F names 6 speakers but the file has 2"),
        "{out}"
    );
}

#[test]
fn render_refuses_a_time_reference_beyond_one_day() {
    let dir = tmpdir("hostile-render-tr");
    Wav {
        time_reference: Some(0x8000_0000_0000_0000),
        ..Wav::pcm16(2, 4800)
    }
    .write(&dir.join("a.wav"));
    let s = session(&dir, "", "");
    refused(
        &s,
        &dir.join("out"),
        &[
            "stem 'a'",
            "a.wav",
            "bext TimeReference 9223372036854775808 samples is beyond one day",
        ],
    );
    // With `start` the TimeReference is not used: the render goes through.
    let s = session(&dir, "", "start = \"01:00:00:00\"");
    render_ok(
        &s,
        &dir.join("out2"),
        &["--quiet", "--backend", "cpu", "--no-qc"],
    );
}

#[test]
fn render_refuses_a_stem_outside_the_reel() {
    let dir = tmpdir("hostile-render-outside");
    // A real time-of-day TimeReference (10:00:00:00) far from a one-minute reel
    // at 01:00:00:00: the stem would be dropped without a word.
    Wav {
        time_reference: Some(10 * HOUR),
        ..Wav::pcm16(2, 4800)
    }
    .write(&dir.join("a.wav"));
    let s = session(&dir, "length = \"00:01:00:00\"", "");
    refused(
        &s,
        &dir.join("out"),
        &[
            "stem 'a'",
            "outside the reel",
            "10:00:00:00",
            "bext TimeReference",
        ],
    );
    // A second stem placed before the reel start, with the reel's length by default.
    Wav::pcm16(2, 4800).write(&dir.join("b.wav"));
    let s = session(
        &dir,
        "",
        "start = \"01:00:00:00\"\n[[stem]]\nid = \"early\"\nkind = \"music\"\nsource = \"b.wav\"\nstart = \"00:59:00:00\"",
    );
    refused(
        &s,
        &dir.join("out2"),
        &["stem 'early'", "outside the reel", "00:59:00:00", "`start`"],
    );
}

#[test]
fn render_refuses_a_time_of_day_time_reference_that_stretches_the_reel() {
    let dir = tmpdir("hostile-render-time-of-day");
    // The reel starts at 01:00:00:00 and has no length; one stem is placed at the reel
    // start, the other by a recorder's time-of-day TimeReference, 18:00:00:00 (a sparse
    // one-minute file): the default reel would be 17 hours of silence around one line.
    Wav::pcm16(2, 4800).write(&dir.join("a.wav"));
    Wav {
        time_reference: Some(18 * HOUR),
        hole: 60 * 48_000 * 2,
        ..Wav::pcm16(1, 0)
    }
    .write(&dir.join("line.wav"));
    let line = "[[stem]]\nid = \"line\"\nkind = \"dialogue\"\nsource = \"line.wav\"";
    let s = session(&dir, "", &format!("start = \"01:00:00:00\"\n{line}"));
    refused(
        &s,
        &dir.join("out"),
        &[
            "stem 'line'",
            "bext TimeReference places it at 18:00:00:00",
            "17.0 hours after the reel start 01:00:00:00",
            "looks like a time of day",
        ],
    );
    // With `start` on the line (the editor's placement) the same files render.
    let s = session(
        &dir,
        "",
        &format!("start = \"01:00:00:00\"\n{line}\nstart = \"01:00:00:12\""),
    );
    render_ok(
        &s,
        &dir.join("out2"),
        &["--quiet", "--backend", "cpu", "--no-qc"],
    );
    // A stem placed by a TimeReference a few seconds into the reel is ordinary.
    Wav {
        time_reference: Some(HOUR + 5 * 48_000),
        ..Wav::pcm16(2, 4800)
    }
    .write(&dir.join("near.wav"));
    let near = "[[stem]]\nid = \"near\"\nkind = \"music\"\nsource = \"near.wav\"";
    let s = session(&dir, "", &format!("start = \"01:00:00:00\"\n{near}"));
    render_ok(
        &s,
        &dir.join("out3"),
        &["--quiet", "--backend", "cpu", "--no-qc"],
    );
}

#[test]
fn render_refuses_a_default_reel_longer_than_a_day() {
    let dir = tmpdir("hostile-render-day");
    // Two hours of 8-bit mono (a sparse file: no disk used) starting at 23:00:00:00
    // on a reel that starts at midnight: 25 hours.
    Wav {
        bits: 8,
        time_reference: Some(23 * HOUR),
        hole: 2 * HOUR,
        ..Wav::pcm16(1, 0)
    }
    .write(&dir.join("a.wav"));
    let p = dir.join("session.toml");
    std::fs::write(
        &p,
        "[reel]\ntitle = \"H\"\nframe_rate = \"24\"\nstart = \"00:00:00:00\"\n\
         [[stem]]\nid = \"a\"\nkind = \"effects\"\nsource = \"a.wav\"\n",
    )
    .unwrap();
    refused(
        &p,
        &dir.join("out"),
        &[
            "stem 'a'",
            "25.0 hours",
            "more than 24 hours",
            "give [reel] length",
        ],
    );
}

#[test]
fn render_refuses_non_finite_and_absurd_gains() {
    let dir = tmpdir("hostile-render-gains");
    Wav::pcm16(2, 4800).write(&dir.join("a.wav"));
    let ret = "[[return]]\nid = \"verb\"\nbus = \"FX\"";
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "",
            "gain_db = nan",
            &["stem 'a': gain_db: NaN dB is not a finite gain"],
        ),
        (
            "",
            "gain_db = -inf",
            &["stem 'a': gain_db: -inf dB is not a finite gain"],
        ),
        (
            "",
            "\n[[bus]]\nid = \"FX\"\ngain_db = inf",
            &["bus 'FX': gain_db: inf dB is not a finite gain"],
        ),
        (
            "",
            "\n[[bus]]\nid = \"FX\"\ngain_db = 300.0",
            &["bus 'FX': gain_db: 300 dB is outside -200..+40 dB"],
        ),
        (
            "",
            &format!("sends = [ {{ to = \"verb\", db = nan }} ]\n{ret}"),
            &["stem 'a' send to 'verb': db: NaN dB is not a finite gain"],
        ),
        (
            "",
            &format!("\n{ret}\ngain_db = -1000.0"),
            &["return 'verb': gain_db: -1000 dB is outside -200..+40 dB"],
        ),
        (
            "",
            "automation = [ { at = \"01:00:01:00\", db = 0.0 }, { at = \"01:00:02:00\", db = 1e308 } ]",
            &[
                "session.toml:",
                "stem 'a': automation gain at 01:00:02:00: 100000000000000000000",
            ],
        ),
    ];
    for (i, (reel, extra, want)) in cases.into_iter().enumerate() {
        let s = session(&dir, reel, extra);
        refused(&s, &dir.join(format!("out{i}")), want);
    }
}

#[test]
fn render_refuses_deliverable_names_that_collide() {
    let dir = tmpdir("hostile-render-names");
    Wav::pcm16(2, 4800).write(&dir.join("a.wav"));
    // A multi-mono deliverable `A` writes A_L.wav and A_R.wav; another named `A_L`
    // would replace the first.
    let s = session(
        &dir,
        "",
        "[[deliverable]]\nkind = \"printmaster\"\nname = \"A\"\nmulti_mono = true\n\
         [[deliverable]]\nkind = \"me\"\nname = \"A_L\"",
    );
    refused(
        &s,
        &dir.join("out"),
        &["two deliverables ('A' and 'A_L') would both write 'A_L.wav'"],
    );
    // Names that differ only in case are one file on a case-insensitive disk.
    let s = session(
        &dir,
        "",
        "[[deliverable]]\nkind = \"printmaster\"\nname = \"Mix\"\n\
         [[deliverable]]\nkind = \"me\"\nname = \"MIX\"",
    );
    refused(
        &s,
        &dir.join("out2"),
        &[
            "two deliverables ('Mix' and 'MIX') would write 'Mix.wav' and 'MIX.wav', one file on a case-insensitive disk",
        ],
    );
}

#[test]
fn render_refuses_too_many_channels_and_entries() {
    let dir = tmpdir("hostile-render-limits");
    Wav::pcm16(80, 100).write(&dir.join("a.wav"));
    let s = session(&dir, "", "layout = \"stereo\"");
    refused(
        &s,
        &dir.join("out"),
        &["stem 'a'", "a.wav has 80 channels; a stem has at most 64"],
    );
    Wav::pcm16(1, 100).write(&dir.join("m.wav"));
    let sources = vec!["\"m.wav\""; 65].join(", ");
    let p = dir.join("multi.toml");
    std::fs::write(
        &p,
        format!(
            "[reel]\ntitle = \"H\"\nframe_rate = \"24\"\n[[stem]]\nid = \"wide\"\nkind = \"music\"\nsources = [{sources}]\n"
        ),
    )
    .unwrap();
    refused(
        &p,
        &dir.join("out2"),
        &["stem 'wide': 65 multi-mono sources; a stem has at most 64 channels"],
    );
    let mut text = String::from("[reel]\ntitle = \"H\"\nframe_rate = \"24\"\n");
    for i in 0..1025 {
        text.push_str(&format!(
            "[[stem]]\nid = \"s{i}\"\nkind = \"music\"\nsource = \"m.wav\"\n"
        ));
    }
    let p = dir.join("many.toml");
    std::fs::write(&p, text).unwrap();
    refused(
        &p,
        &dir.join("out3"),
        &["the session has 1025 [[stem]] entries; at most 1024 are supported"],
    );
}

#[test]
fn measure_reports_non_finite_samples() {
    let dir = tmpdir("hostile-measure");
    let mut x: Vec<f32> = noise(3, 2 * 48_000, 0.25);
    x[2 * 1000 + 1] = f32::NAN; // frame 1000, channel 2
    x[2 * 5000] = f32::INFINITY;
    x[2 * 7000] = f32::NEG_INFINITY;
    let f = dir.join("nan.wav");
    Wav::f32(2, &x).write(&f);
    let fs = f.to_str().unwrap();
    let out = ok(&["measure", fs, "--backend", "cpu"]);
    assert!(
        out.contains(
            "WARNING        3 NaN or infinite sample(s), the first at frame 1000 (0.021 s), channel 2"
        ),
        "{out}"
    );
    // The figures are of the finite audio (the bad samples read as silence).
    assert!(out.contains("sample peak    -12.0 dBFS"), "{out}");
    let out = ok(&["measure", fs, "--json", "--backend", "cpu"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["non_finite_samples"], 3);
    assert_eq!(v[0]["first_non_finite"]["frame"], 1000);
    assert_eq!(v[0]["first_non_finite"]["channel"], 2);
    // --strict: the same report, and a non-zero status.
    let o = dubstage(&["measure", fs, "--strict", "--json", "--backend", "cpu"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["non_finite_samples"], 3);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 of 1 file(s) hold NaN or infinite samples"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A clean float file: zero, no warning, --strict passes.
    let g = dir.join("clean.wav");
    Wav::f32(2, &noise(3, 2 * 48_000, 0.25)).write(&g);
    let out = ok(&[
        "measure",
        g.to_str().unwrap(),
        "--strict",
        "--backend",
        "cpu",
    ]);
    assert!(!out.contains("WARNING"), "{out}");
}
