//! End-to-end tests of `dubstage render`: the mix against a naive oracle, the
//! M&E null test, Lo/Ro, determinism, and every kind of bad input.

#![allow(
    clippy::needless_range_loop,
    reason = "the oracle reads best as sample/channel index loops, like the formulas"
)]
mod common;
use common::*;
use std::f64::consts::FRAC_PI_2;
use std::path::Path;

const SR: u32 = 48_000;
/// 24 fps: 2000 samples per frame.
const FRAME: i64 = 2000;

struct Fixture {
    dx: Vec<f32>,
    adr: Vec<f32>,
    mx: [Vec<f32>; 2],
    fx: Vec<Vec<f32>>,
}

fn fixture(dir: &Path) -> Fixture {
    let f = Fixture {
        dx: noise(1, 72_000, 0.3),
        adr: noise(2, 50_000, 0.25),
        mx: [noise(3, 150_000, 0.2), noise(4, 150_000, 0.2)],
        fx: (0..6).map(|c| noise(10 + c, 168_000, 0.15)).collect(),
    };
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(&dir.join("stems/dx.wav"), SR, std::slice::from_ref(&f.dx));
    write_f32(&dir.join("stems/adr.wav"), SR, std::slice::from_ref(&f.adr));
    write_f32(&dir.join("stems/mx.wav"), SR, &f.mx);
    write_f32(&dir.join("stems/fx.wav"), SR, &f.fx);
    f
}

const SESSION: &str = r#"
[reel]
title = "Test Reel"
reel = 2
frame_rate = "24"
start = "01:00:00:00"
ffoa = "01:00:00:00"
length = "00:00:03:00"

[output]
format = "float32"

[[bus]]
id = "DX"
dialogue = true

[[bus]]
id = "MX"
automation = [ { at = "01:00:02:00", db = 0.0 }, { at = "01:00:02:12", db = -20.0 } ]

[[bus]]
id = "FX"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
start = "01:00:00:12"
automation = [ { at = "01:00:00:12", db = 0.0 }, { at = "01:00:01:12", db = -12.0 } ]

[[stem]]
id = "adr"
kind = "adr"
source = "stems/adr.wav"
start = "01:00:01:00"
gain_db = -3.0
pan = { position = -0.5, surround = 0.25 }

[[stem]]
id = "mx"
kind = "music"
source = "stems/mx.wav"
gain_db = -6.0
pan = { surround = 0.5 }

[[stem]]
id = "fx"
kind = "effects"
source = "stems/fx.wav"
layout = "5.1"
start = "00:59:59:12"
"#;

fn db(x: f64) -> f64 {
    10f64.powf(x / 20.0)
}

/// Linear-in-dB ramp between two breakpoints, held outside.
fn ramp(t: i64, (t0, d0): (i64, f64), (t1, d1): (i64, f64)) -> f64 {
    let d = if t <= t0 {
        d0
    } else if t >= t1 {
        d1
    } else {
        d0 + (d1 - d0) * (t - t0) as f64 / (t1 - t0) as f64
    };
    db(d)
}

fn at(x: &[f32], i: i64) -> f64 {
    if i < 0 || i as usize >= x.len() {
        0.0
    } else {
        x[i as usize] as f64
    }
}

/// The oracle: every bus of the session, sample by sample, in f64, from first principles.
fn oracle(f: &Fixture, n: usize) -> [Vec<Vec<f64>>; 3] {
    let mut dx = vec![vec![0.0; n]; 6];
    let mut mx = vec![vec![0.0; n]; 6];
    let mut fx = vec![vec![0.0; n]; 6];
    // 5.1 order: L R C LFE Ls Rs
    let (l, r, c, ls, rs) = (0, 1, 2, 4, 5);
    // adr pan: position -0.5 (between L and C), surround 0.25, constant power
    let depth = 0.25 * FRAC_PI_2;
    let th = 0.5 * FRAC_PI_2;
    let sp = 0.5 * FRAC_PI_2 / 2.0;
    let adr_g = [
        (l, th.cos() * depth.cos()),
        (c, th.sin() * depth.cos()),
        (ls, sp.cos() * depth.sin()),
        (rs, sp.sin() * depth.sin()),
    ];
    let mdepth = 0.5 * FRAC_PI_2;
    for t in 0..n as i64 {
        let ti = t as usize;
        let g_dx = ramp(t, (12 * FRAME, 0.0), (36 * FRAME, -12.0));
        dx[c][ti] += g_dx * at(&f.dx, t - 12 * FRAME);
        let a = db(-3.0) * at(&f.adr, t - 24 * FRAME);
        for (ch, g) in adr_g {
            dx[ch][ti] += g * a;
        }
        let g_mx = db(-6.0) * ramp(t, (48 * FRAME, 0.0), (60 * FRAME, -20.0));
        for (k, (front, back)) in [(l, ls), (r, rs)].into_iter().enumerate() {
            let x = g_mx * at(&f.mx[k], t);
            mx[front][ti] += mdepth.cos() * x;
            mx[back][ti] += mdepth.sin() * x;
        }
        for ch in 0..6 {
            fx[ch][ti] += at(&f.fx[ch], t + 12 * FRAME);
        }
    }
    [dx, mx, fx]
}

fn render_fixture(name: &str, extra: &[&str]) -> (std::path::PathBuf, Fixture) {
    let dir = tmpdir(name);
    let f = fixture(&dir);
    std::fs::write(dir.join("session.toml"), SESSION).unwrap();
    let out = dir.join("out");
    let mut args = vec!["--quiet"];
    args.extend_from_slice(extra);
    render_ok(&dir.join("session.toml"), &out, &args);
    (out, f)
}

#[test]
fn mix_matches_the_per_sample_oracle_and_nulls() {
    let (out, f) = render_fixture("oracle", &["--block-frames", "4096"]);
    let n = 144_000;
    let [dx, mx, fx] = oracle(&f, n);
    let (spec, pm) = read(&out.join("Test_Reel_R2_PM_5.1.wav"));
    assert_eq!(spec.channels, 6);
    assert_eq!(pm[0].len(), n);
    let (_, me) = read(&out.join("Test_Reel_R2_ME_5.1.wav"));
    let (_, sdx) = read(&out.join("Test_Reel_R2_DX_5.1.wav"));
    let (_, smx) = read(&out.join("Test_Reel_R2_MX_5.1.wav"));
    let (_, sfx) = read(&out.join("Test_Reel_R2_FX_5.1.wav"));
    let mut worst = 0.0f64;
    for c in 0..6 {
        for t in 0..n {
            let e_pm = dx[c][t] + mx[c][t] + fx[c][t];
            for (got, want) in [
                (pm[c][t], e_pm),
                (me[c][t], mx[c][t] + fx[c][t]),
                (sdx[c][t], dx[c][t]),
                (smx[c][t], mx[c][t]),
                (sfx[c][t], fx[c][t]),
            ] {
                let d = (got as f64 - want).abs();
                assert!(d < 2e-6, "channel {c} sample {t}: got {got}, oracle {want}");
                worst = worst.max(d);
            }
            // The M&E null test: printmaster - M&E - dialogue is zero to f32 rounding.
            let resid = pm[c][t] - me[c][t] - sdx[c][t];
            assert!(
                resid.abs() <= 4.0 * f32::EPSILON * pm[c][t].abs().max(1e-3),
                "null test fails at {c}/{t}: {resid}"
            );
        }
    }
    // every stem really contributes (the oracle is not trivially zero)
    assert!(dx[2].iter().any(|&x| x.abs() > 0.1) && fx[3].iter().any(|&x| x.abs() > 0.1));
    eprintln!("worst deviation from the oracle: {worst:e}");
}

#[test]
fn loro_follows_bs775() {
    let (out, _) = render_fixture("loro", &[]);
    let (_, pm) = read(&out.join("Test_Reel_R2_PM_5.1.wav"));
    let (spec, lr) = read(&out.join("Test_Reel_R2_LoRo_2.0.wav"));
    assert_eq!(spec.channels, 2);
    let k = std::f64::consts::FRAC_1_SQRT_2;
    for t in 0..pm[0].len() {
        let p = |c: usize| pm[c][t] as f64;
        let lo = p(0) + k * p(2) + k * p(4);
        let ro = p(1) + k * p(2) + k * p(5);
        assert!((lr[0][t] as f64 - lo).abs() < 1e-6, "Lo at {t}");
        assert!((lr[1][t] as f64 - ro).abs() < 1e-6, "Ro at {t}");
    }
}

#[test]
fn pcm24_nulls_within_dither_and_is_deterministic_across_threads() {
    let dir = tmpdir("det");
    fixture(&dir);
    let s = SESSION.replace("format = \"float32\"", "format = \"pcm24\"");
    std::fs::write(dir.join("session.toml"), s).unwrap();
    let sess = dir.join("session.toml");
    let (o1, o2) = (dir.join("t1"), dir.join("t2"));
    render_ok(&sess, &o1, &["--quiet", "--threads", "1"]);
    render_ok(
        &sess,
        &o2,
        &["--quiet", "--threads", "2", "--block-frames", "3000"],
    );
    let names = files_in(&o1);
    assert_eq!(names.len(), 7, "six deliverables and SHA256SUMS: {names:?}");
    assert_eq!(names, files_in(&o2));
    for n in &names {
        assert_eq!(
            sha256(&o1.join(n)),
            sha256(&o2.join(n)),
            "{n} differs between 1 and 2 threads"
        );
    }
    let (spec, pm) = read(&o1.join("Test_Reel_R2_PM_5.1.wav"));
    assert_eq!(spec.bits_per_sample, 24);
    let (_, me) = read(&o1.join("Test_Reel_R2_ME_5.1.wav"));
    let (_, dx) = read(&o1.join("Test_Reel_R2_DX_5.1.wav"));
    let lsb = 1.0 / (1 << 23) as f32;
    for c in 0..6 {
        for t in 0..pm[c].len() {
            let r = pm[c][t] - me[c][t] - dx[c][t];
            assert!(r.abs() <= 5.0 * lsb, "24-bit null residual {r} at {c}/{t}");
        }
    }
}

#[test]
fn json_summary_lists_every_deliverable_with_hashes() {
    let (out, _) = render_fixture("json", &[]);
    let dir = out.parent().unwrap();
    let o = render_ok(&dir.join("session.toml"), &dir.join("out2"), &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    let d = v["deliverables"].as_array().unwrap();
    assert_eq!(d.len(), 6);
    for x in d {
        let f = &x["files"][0];
        let p = std::path::PathBuf::from(f["path"].as_str().unwrap());
        assert_eq!(f["sha256"].as_str().unwrap(), sha256(&p));
        assert_eq!(x["frames"], 144_000);
    }
    assert!(v["x_realtime"].as_f64().unwrap() > 0.0);
    // the manifest is what `sha256sum -c` checks
    let m = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(dir.join("out2"))
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stdout));
    assert_eq!(
        String::from_utf8_lossy(&m.stdout).matches(": OK").count(),
        6
    );
}

#[test]
fn multi_mono_and_fold_down_deliverables() {
    let dir = tmpdir("multimono");
    fixture(&dir);
    let s = format!(
        "{SESSION}\n[[deliverable]]\nkind = \"printmaster\"\nmulti_mono = true\n\n[[deliverable]]\nkind = \"me\"\nlayout = \"2.0\"\n"
    );
    std::fs::write(dir.join("session.toml"), s).unwrap();
    let out = dir.join("out");
    render_ok(&dir.join("session.toml"), &out, &["--quiet"]);
    let names = files_in(&out);
    for c in ["L", "R", "C", "LFE", "Ls", "Rs"] {
        assert!(
            names.contains(&format!("Test_Reel_R2_PM_5.1_{c}.wav")),
            "{names:?}"
        );
    }
    // the mono files carry exactly the interleaved printmaster's channels
    let (_, pm) = {
        let d2 = tmpdir("multimono-ref");
        fixture(&d2);
        std::fs::write(d2.join("session.toml"), SESSION).unwrap();
        render_ok(&d2.join("session.toml"), &d2.join("o"), &["--quiet"]);
        read(&d2.join("o/Test_Reel_R2_PM_5.1.wav"))
    };
    let (spec, lfe) = read(&out.join("Test_Reel_R2_PM_5.1_LFE.wav"));
    assert_eq!(spec.channels, 1);
    assert_eq!(lfe[0], pm[3]);
    // a stereo M&E is the BS.775 fold-down of the 5.1 M&E
    let (spec, me2) = read(&out.join("Test_Reel_R2_ME_2.0.wav"));
    assert_eq!(spec.channels, 2);
    assert_eq!(me2[0].len(), 144_000);
}

// ---------------------------------------------------------------- bad input

/// Writes the fixture, applies `edit` to the session text, renders, and checks
/// the error names what is wrong and that nothing was written.
fn bad(name: &str, edit: impl Fn(&str) -> String, prep: impl Fn(&Path), expect: &[&str]) {
    let dir = tmpdir(name);
    fixture(&dir);
    prep(&dir);
    std::fs::write(dir.join("session.toml"), edit(SESSION)).unwrap();
    let out = dir.join("out");
    let err = render_fails(&dir.join("session.toml"), &out, &[]);
    for e in expect {
        assert!(
            err.contains(e),
            "[{name}] error should contain {e:?}:\n{err}"
        );
    }
    assert!(
        files_in(&out).is_empty(),
        "[{name}] left files behind: {:?}",
        files_in(&out)
    );
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    bad(
        "syntax",
        |s| s.replace("title = \"Test Reel\"", "title = \"Test Reel"),
        |_| {},
        &["session.toml:3:19", "invalid basic string"],
    );
}

#[test]
fn unknown_key_suggests_the_nearest() {
    bad(
        "unknown",
        |s| s.replace("gain_db = -3.0", "gian_db = -3.0"),
        |_| {},
        &["gian_db", "did you mean `gain_db`"],
    );
}

#[test]
fn missing_file_is_named() {
    bad(
        "missing",
        |s| s.replace("stems/adr.wav", "stems/nope.wav"),
        |_| {},
        &["stem 'adr'", "nope.wav", "does not exist"],
    );
}

#[test]
fn truncated_wav_is_an_error() {
    bad(
        "truncated",
        |s| s.to_string(),
        |d| {
            let p = d.join("stems/mx.wav");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() / 2]).unwrap();
        },
        &["stem 'mx'", "mx.wav", "truncated"],
    );
}

#[test]
fn garbage_wav_is_an_error() {
    bad(
        "garbage",
        |s| s.to_string(),
        |d| std::fs::write(d.join("stems/fx.wav"), b"not a wav at all").unwrap(),
        &["stem 'fx'", "fx.wav"],
    );
}

/// A stem at another sample rate is converted to the reel's (the timeline's resampler):
/// a 1 kHz tone in a 44.1 kHz ADR stem comes out of the DX stem as 1 kHz for exactly the
/// converted length (the render with the same stem silent is the reference to subtract).
#[test]
fn a_stem_at_another_sample_rate_is_converted() {
    let render = |name: &str, amp: f32| {
        let dir = tmpdir(name);
        fixture(&dir);
        let tone: Vec<f32> = (0..44_100)
            .map(|i| amp * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() as f32)
            .collect();
        write_f32(&dir.join("stems/adr.wav"), 44_100, &[tone.clone(), tone]);
        std::fs::write(dir.join("session.toml"), SESSION).unwrap();
        render_ok(&dir.join("session.toml"), &dir.join("o"), &["--quiet"]);
        read(&dir.join("o/Test_Reel_R2_DX_5.1.wav")).1
    };
    let (with, without) = (render("rate-tone", 0.25), render("rate-silent", 0.0));
    assert_eq!(with[0].len(), 144_000);
    // the channel the ADR lands in most
    let diff: Vec<Vec<f64>> = with
        .iter()
        .zip(&without)
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| f64::from(*x) - f64::from(*y))
                .collect()
        })
        .collect();
    let energy = |c: &Vec<f64>| c.iter().map(|x| x * x).sum::<f64>();
    let ch = (0..diff.len())
        .max_by(|&a, &b| energy(&diff[a]).total_cmp(&energy(&diff[b])))
        .unwrap();
    let d = &diff[ch];
    let loud: Vec<usize> = (0..d.len()).filter(|&i| d[i].abs() > 1e-3).collect();
    let (first, last) = (loud[0], *loud.last().unwrap());
    // one second of 44.1 kHz is 48 000 samples at 48 kHz (a few edge samples are near zero)
    assert!(
        (47_900..=48_000).contains(&(last - first + 1)),
        "tone spans {first}..={last}"
    );
    // 1 kHz: rising zero crossings over the middle 0.8 s
    let (a, b) = (first + 4_800, first + 43_200);
    let ups = (a..b).filter(|&i| d[i - 1] < 0.0 && d[i] >= 0.0).count();
    assert!(
        (799..=801).contains(&ups),
        "{ups} rising zero crossings in 0.8 s"
    );
}

/// A 48 kHz mono float WAV of `x` whose bext TimeReference is `tr` samples since midnight.
fn write_with_time_reference(path: &Path, x: &[f32], tr: u64) {
    use dubstage_core::io::{Bext, OutputFormat, Rf64Mode, WavSpec, WavWriter};
    let spec = WavSpec {
        channels: 1,
        sample_rate: SR,
        format: OutputFormat::Float32,
        channel_mask: 0,
        bext: Some(Bext {
            time_reference: tr,
            version: 2,
            ..Default::default()
        }),
        rf64: Rf64Mode::AUTO,
        bw64: false,
        dither_seed: 1,
    };
    let mut w = WavWriter::create(path, spec).unwrap();
    w.write_planar(&[x]).unwrap();
    w.finish().unwrap();
}

/// The session of the converted-stem tests: a 23.976 reel from 01:00:00:00, 20 s.
const SPEED_SESSION: &str = r#"
[reel]
title = "Speed"
frame_rate = "23.976"
start = "01:00:00:00"
length = "00:00:20:00"

[output]
format = "float32"

[[stem]]
id = "fx"
kind = "effects"
source = "fx.wav"
speed = "pull-down"
"#;

/// A pulled-down stem placed by its TimeReference keeps its frame numbers (a telecine
/// transfer): recorded at 24 fps from 01:00:10:00 (TimeReference 173 280 000), it lands
/// at 01:00:10:00 on the 23.976 reel, 480 480 samples after the reel's start (10 s ×
/// 1001/1000), and a click 24 000 samples into the file sounds 24 024 samples later.
#[test]
fn a_pulled_down_stem_placed_by_its_time_reference_lands_at_its_timecode() {
    let dir = tmpdir("speed-tr");
    let mut x = vec![0.0f32; 48_000];
    x[24_000] = 0.5;
    let tr = (3600 + 10) * 24 * 2000; // 01:00:10:00 at 24 fps, 48 kHz
    write_with_time_reference(&dir.join("fx.wav"), &x, tr);
    std::fs::write(dir.join("session.toml"), SPEED_SESSION).unwrap();
    render_ok(&dir.join("session.toml"), &dir.join("o"), &["--quiet"]);
    let (_, pm) = read(&dir.join("o/Speed_R1_PM_2.0.wav"));
    let (mut at, mut peak) = (0, 0.0f32);
    for c in &pm {
        for (i, &v) in c.iter().enumerate() {
            if v.abs() > peak {
                (at, peak) = (i, v.abs());
            }
        }
    }
    assert!(peak > 0.1, "the click is missing (peak {peak})");
    assert_eq!(at, 480_480 + 24_024, "the click is at reel sample {at}");
}

/// The render says what it converted: the summary (text and `--json`) and the QC report
/// (JSON and HTML) list the pulled-down stem and a 44.1 kHz stem, each with its file, both
/// rates, its speed and the resampler; a stem at the reel's rate and speed is not listed.
#[test]
fn the_render_lists_every_converted_source() {
    let dir = tmpdir("speed-list");
    write_with_time_reference(&dir.join("fx.wav"), &vec![0.01; 48_000], 172_972_800);
    write_f32(&dir.join("mx.wav"), 44_100, &[vec![0.01; 44_100]]);
    write_f32(&dir.join("dx.wav"), SR, &[vec![0.01; 48_000]]);
    let session = format!(
        "{SPEED_SESSION}\n[[stem]]\nid = \"mx\"\nkind = \"music\"\nsource = \"mx.wav\"\nstart = \"01:00:01:00\"\n\n\
         [[stem]]\nid = \"dx\"\nkind = \"dialogue\"\nsource = \"dx.wav\"\nstart = \"01:00:01:00\"\n"
    );
    std::fs::write(dir.join("session.toml"), session).unwrap();
    let out = render_ok(&dir.join("session.toml"), &dir.join("o"), &["--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("o/qc/report.json")).unwrap())
            .unwrap();
    for (name, conv) in [
        ("summary", &summary["conversions"]),
        ("QC report", &report["conversions"]),
    ] {
        let conv = conv.as_array().unwrap_or_else(|| panic!("{name}: {conv}"));
        assert_eq!(conv.len(), 2, "{name}: {conv:?}");
        let (fx, mx) = (&conv[0], &conv[1]);
        assert_eq!(fx["what"], "stem 'fx'", "{name}");
        assert!(fx["file"].as_str().unwrap().ends_with("fx.wav"), "{name}");
        assert_eq!(
            (&fx["from_hz"], &fx["to_hz"]),
            (&48_000.into(), &48_000.into())
        );
        assert_eq!(fx["speed"], "pull-down", "{name}");
        assert_eq!(mx["what"], "stem 'mx'", "{name}");
        assert!(mx["file"].as_str().unwrap().ends_with("mx.wav"), "{name}");
        assert_eq!(
            (&mx["from_hz"], &mx["to_hz"]),
            (&44_100.into(), &48_000.into())
        );
        assert!(mx["speed"].is_null(), "{name}");
        for c in conv {
            assert!(
                c["resampler"].as_str().unwrap().starts_with("rubato"),
                "{name}"
            );
        }
    }
    let html = std::fs::read_to_string(dir.join("o/qc/report.html")).unwrap();
    assert!(html.contains("<h2>Converted sources (2)</h2>"));
    let text = render_ok(&dir.join("session.toml"), &dir.join("o2"), &[]);
    assert!(
        text.contains("converted stem 'fx' (")
            && text.contains("fx.wav): 48000 Hz -> 48000 Hz, speed pull-down\n")
            && text.contains("mx.wav): 44100 Hz -> 48000 Hz\n")
            && text.contains("resampler: rubato"),
        "{text}"
    );
    assert!(!text.contains("'dx'"), "{text}");
}

#[test]
fn channel_count_must_match_layout() {
    bad(
        "layout",
        |s| s.replace("layout = \"5.1\"", "layout = \"7.1\""),
        |_| {},
        &["stem 'fx'", "6 channel", "7.1"],
    );
}

#[test]
fn malformed_timecode_names_line() {
    bad(
        "tc",
        |s| s.replace("start = \"01:00:01:00\"", "start = \"01:00:01:30\""),
        |_| {},
        &["session.toml:", "01:00:01:30"],
    );
}

#[test]
fn automation_out_of_order_names_stem_and_line() {
    bad(
        "auto",
        |s| {
            s.replace(
                "{ at = \"01:00:01:12\", db = -12.0 }",
                "{ at = \"01:00:00:06\", db = -12.0 }",
            )
        },
        |_| {},
        &["session.toml:", "stem 'dx'", "out of order"],
    );
}

#[test]
fn nan_in_float_input_names_stem_and_timecode() {
    bad(
        "nan",
        |s| s.to_string(),
        |d| {
            let mut x = noise(3, 150_000, 0.2);
            x[100_000] = f32::NAN;
            write_f32(&d.join("stems/mx.wav"), SR, &[x, noise(4, 150_000, 0.2)]);
        },
        // 100000 samples = 50 frames = 01:00:02:02
        &["stem 'mx'", "NaN", "01:00:02:02"],
    );
}

#[test]
fn unwritable_output_folder_is_an_error() {
    let dir = tmpdir("unwritable");
    fixture(&dir);
    std::fs::write(dir.join("session.toml"), SESSION).unwrap();
    std::fs::write(dir.join("blocker"), b"x").unwrap();
    let out = dir.join("blocker/out");
    let err = render_fails(&dir.join("session.toml"), &out, &[]);
    assert!(
        err.contains("blocker/out") && err.contains("cannot create"),
        "{err}"
    );
}

#[test]
fn output_that_is_an_input_is_refused() {
    let dir = tmpdir("overwrite");
    fixture(&dir);
    let s = format!("{SESSION}\n[[deliverable]]\nkind = \"printmaster\"\nname = \"dx\"\n");
    std::fs::write(dir.join("session.toml"), s).unwrap();
    let before = sha256(&dir.join("stems/dx.wav"));
    let out = dir.join("stems");
    let err = render_fails(&dir.join("session.toml"), &out, &[]);
    assert!(err.contains("overwrite an input"), "{err}");
    assert_eq!(before, sha256(&dir.join("stems/dx.wav")));
    assert_eq!(
        files_in(&out),
        vec!["adr.wav", "dx.wav", "fx.wav", "mx.wav"]
    );
}

#[test]
fn spotting_list_cues_are_in_the_qc_report_and_bad_ones_are_refused() {
    let dir = tmpdir("spotting");
    fixture(&dir);
    let s = SESSION.replace(
        "length = \"00:00:03:00\"",
        "length = \"00:00:03:00\"\nspotting = \"spot.csv\"",
    );
    std::fs::write(dir.join("session.toml"), &s).unwrap();
    std::fs::write(
        dir.join("spot.csv"),
        "cue,type,in,out,character,line,reason,note\r\n,ADR,01:00:00:12,01:00:01:00,ANNA,\"<b>Where were you?</b>\",noise,\r\n,Foley,01:00:02:00,,,,footsteps,\r\n",
    )
    .unwrap();
    let out = dir.join("out");
    render_ok(
        &dir.join("session.toml"),
        &out,
        &["--quiet", "--backend", "cpu"],
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let cues = r["cues"].as_array().unwrap();
    assert_eq!(cues.len(), 2);
    assert_eq!(cues[0]["kind"], "ADR");
    assert_eq!(cues[0]["tc_in"], "01:00:00:12");
    assert!(
        !cues[0]["number"].as_str().unwrap().is_empty(),
        "cues are numbered"
    );
    // the line is text in the HTML, never markup
    let html = std::fs::read_to_string(out.join("qc/report.html")).unwrap();
    assert!(
        html.contains("&lt;b&gt;Where were you?&lt;/b&gt;")
            && !html.contains("<b>Where were you?</b>")
    );
    // a cue outside the reel is an error naming the list, and nothing is written
    std::fs::write(dir.join("spot.csv"), "type,in\r\nADR,01:00:09:00\r\n").unwrap();
    let out2 = dir.join("out2");
    let err = render_fails(&dir.join("session.toml"), &out2, &["--backend", "cpu"]);
    assert!(err.contains("spot.csv"), "{err}");
    assert!(files_in(&out2).is_empty());
}

#[test]
fn no_qc_is_a_plain_print_with_the_same_audio_and_true_hashes() {
    let (out, _) = render_fixture("noqc", &[]);
    let dir = out.parent().unwrap();
    let plain = dir.join("plain");
    let o = render_ok(
        &dir.join("session.toml"),
        &plain,
        &["--json", "--no-qc", "--threads", "1"],
    );
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["qc_status"], "not checked");
    assert!(v["qc_report"].is_null());
    assert!(!plain.join("qc").exists(), "no QC report without QC");
    assert!(out.join("qc/report.json").exists());
    let d = v["deliverables"].as_array().unwrap();
    assert_eq!(d.len(), 6);
    for x in d {
        assert!(x["loudness"]["integrated_lufs"].is_null());
        let f = &x["files"][0];
        let p = std::path::PathBuf::from(f["path"].as_str().unwrap());
        // hashed while written: the hash must still be the file's
        assert_eq!(f["sha256"].as_str().unwrap(), sha256(&p));
        // the same audio as the render with QC (only the bext loudness fields differ)
        let name = p.file_name().unwrap();
        let (sa, a) = read(&p);
        let (sb, b) = read(&out.join(name));
        assert_eq!(sa, sb);
        assert_eq!(
            a, b,
            "{name:?}: audio differs between --no-qc and QC renders"
        );
    }
    let m = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&plain)
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stdout));

    // A delivery profile needs the meter: refused, nothing written.
    let s = std::fs::read_to_string(dir.join("session.toml")).unwrap();
    std::fs::write(
        dir.join("profiled.toml"),
        format!("{s}\n[delivery]\nprofile = \"ebu-r128\"\n"),
    )
    .unwrap();
    let refused = dir.join("refused");
    let e = render_fails(&dir.join("profiled.toml"), &refused, &["--no-qc"]);
    assert!(e.contains("ebu-r128") && e.contains("--no-qc"), "{e}");
    assert!(!refused.exists() || std::fs::read_dir(&refused).unwrap().next().is_none());
}

#[test]
fn a_failed_rename_delivers_nothing() {
    let (out, _) = render_fixture("commit", &[]);
    let dir = out.parent().unwrap();
    let names: Vec<String> = std::fs::read_to_string(out.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    assert_eq!(names.len(), 6);
    // The last deliverable's final path is taken by a folder that is not empty: its
    // rename fails after the others have been renamed, and those must be taken back.
    let out2 = dir.join("out2");
    let blocker = out2.join(names.last().unwrap());
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), b"x").unwrap();
    let e = render_fails(&dir.join("session.toml"), &out2, &["--quiet"]);
    assert!(e.contains("cannot rename"), "{e}");
    for n in &names[..names.len() - 1] {
        assert!(!out2.join(n).exists(), "{n} was left at its final path");
    }
    let left: Vec<_> = std::fs::read_dir(&out2)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left,
        vec![names.last().unwrap().clone()],
        "only the blocker remains"
    );
    assert!(blocker.join("keep").exists());
}
