//! End-to-end tests of `dubstage dialogue` (sync, denoise) and of the
//! `denoise` insert in a render, on real speech: Debian's alsa-utils voice
//! recordings (`/usr/share/sounds/alsa/*.wav`, 48 kHz; CI installs the package).

mod common;
use common::*;
use dubstage_core::dialogue::Engine;
use dubstage_core::dialogue::denoise::{DenoiseOptions, Denoiser, NoiseProfile, denoise_buffer};
use std::path::Path;

const SR: u32 = 48_000;
const ALSA: &str = "/usr/share/sounds/alsa";

/// A real voice recording (mono, 48 kHz). Fails, never skips, without alsa-utils.
fn voice(name: &str) -> Vec<f32> {
    let p = Path::new(ALSA).join(name);
    assert!(
        p.exists(),
        "{} is missing: install Debian's alsa-utils (apt-get install alsa-utils)",
        p.display()
    );
    let (spec, ch) = read(&p);
    assert_eq!(spec.sample_rate, SR);
    ch.into_iter().next().unwrap()
}

/// `x` at fractional index `t`, Hann-windowed sinc with 64 taps a side (f64).
fn sinc_at(x: &[f32], t: f64) -> f32 {
    let c = t.floor() as i64;
    let mut s = 0.0f64;
    for k in c - 63..=c + 64 {
        if k < 0 || k >= x.len() as i64 {
            continue;
        }
        let d = t - k as f64;
        let pd = std::f64::consts::PI * d;
        let sinc = if d.abs() < 1e-12 { 1.0 } else { pd.sin() / pd };
        s += f64::from(x[k as usize]) * sinc * (0.5 + 0.5 * (pd / 64.0).cos());
    }
    s as f32
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn sync_finds_fractional_offsets_polarity_on_real_speech() {
    let d = tmpdir("dialogue-sync");
    let v = voice("Front_Center.wav");
    // the guide: the line with a second of silence around it
    let mut guide = vec![0.0f32; SR as usize];
    guide.extend_from_slice(&v);
    guide.extend(std::iter::repeat_n(0.0, SR as usize));
    let g = d.join("guide.wav");
    write_f32(&g, SR, std::slice::from_ref(&guide));
    for (i, &(offset, pol)) in [(1234.37f64, 1.0f32), (-40_000.81, -1.0), (95_000.5, 1.0)]
        .iter()
        .enumerate()
    {
        // the take: delayed by `offset` (negative: early), another "room" (a
        // treble cut by a one-pole low-pass) and hiss
        let len = guide.len() + 2 * SR as usize;
        let base = SR as f64; // the take starts a second earlier than the guide
        let mut take: Vec<f32> = (0..len)
            .map(|n| pol * sinc_at(&guide, n as f64 - base - offset))
            .collect();
        let mut y = 0.0f32;
        for s in take.iter_mut() {
            y += 0.5 * (*s - y);
            *s = y;
        }
        for (s, n) in take.iter_mut().zip(noise(40 + i as u64, len, 0.01)) {
            *s += n;
        }
        let t = d.join(format!("take{i}.wav"));
        write_f32(&t, SR, std::slice::from_ref(&take));
        let out = json(&ok(&[
            "dialogue",
            "sync",
            g.to_str().unwrap(),
            t.to_str().unwrap(),
            "--json",
        ]));
        let found = out["offset_samples"].as_f64().unwrap();
        // the one-pole low-pass delays speech by about a sample at its centre
        // of gravity; its group delay at 1 kHz is 0.97 samples
        let want = base + offset;
        assert!(
            (found - want).abs() < 1.5,
            "take {i}: found {found}, want {want} ({out})"
        );
        assert_eq!(out["polarity"].as_i64().unwrap(), pol as i64, "{out}");
        assert!(out["confidence"].as_f64().unwrap() > 0.5, "{out}");
    }
}

#[test]
fn sync_exact_delay_is_within_half_a_sample() {
    let d = tmpdir("dialogue-sync-exact");
    let v = voice("Rear_Left.wav");
    let g = d.join("guide.wav");
    write_f32(&g, SR, std::slice::from_ref(&v));
    let offset = 37_777.29;
    let take: Vec<f32> = (0..v.len() + 2 * SR as usize)
        .map(|n| -sinc_at(&v, n as f64 - offset))
        .collect();
    let t = d.join("take.wav");
    write_f32(&t, SR, std::slice::from_ref(&take));
    let out = json(&ok(&[
        "dialogue",
        "sync",
        g.to_str().unwrap(),
        t.to_str().unwrap(),
        "--json",
    ]));
    let found = out["offset_samples"].as_f64().unwrap();
    assert!((found - offset).abs() < 0.5, "found {found}, want {offset}");
    assert_eq!(out["polarity"].as_i64().unwrap(), -1);
}

#[test]
fn sync_refuses_unrelated_recordings_with_json_error() {
    let d = tmpdir("dialogue-sync-refuse");
    let g = d.join("a.wav");
    let t = d.join("b.wav");
    write_f32(&g, SR, &[voice("Front_Left.wav")]);
    write_f32(&t, SR, &[voice("Rear_Right.wav")]);
    let o = dubstage(&[
        "dialogue",
        "sync",
        g.to_str().unwrap(),
        t.to_str().unwrap(),
        "--json",
    ]);
    assert!(!o.status.success());
    let v = json(&String::from_utf8_lossy(&o.stdout));
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("no reliable sync") && e.contains("b.wav"), "{e}");
}

/// Speech from the alsa recordings with white noise at about 10 dB SNR, a
/// second of noise first, and a click at `click`.
fn noisy_speech(click: usize) -> (Vec<f32>, Vec<f32>) {
    let v = voice("Front_Right.wav");
    let mut clean = vec![0.0f32; SR as usize];
    clean.extend_from_slice(&v);
    let nz = noise(77, clean.len(), 0.03);
    let mut x: Vec<f32> = clean.iter().zip(&nz).map(|(a, b)| a + b).collect();
    x[click] = 0.9;
    (clean, x)
}

#[test]
fn denoise_cli_zero_delay_noise_only_sums_back_and_refusals() {
    let d = tmpdir("dialogue-denoise");
    let click = 20_011;
    let (_, x) = noisy_speech(click);
    let inp = d.join("in.wav");
    write_f32(&inp, SR, std::slice::from_ref(&x));
    let out = d.join("out.wav");
    let rem = d.join("removed.wav");
    for engine in ["spectral", "rnnoise"] {
        let j = json(&ok(&[
            "dialogue",
            "denoise",
            inp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--engine",
            engine,
            "--reduction",
            "15",
            "--json",
        ]));
        assert_eq!(j["frames"].as_u64().unwrap(), x.len() as u64, "{j}");
        ok(&[
            "dialogue",
            "denoise",
            inp.to_str().unwrap(),
            "--out",
            rem.to_str().unwrap(),
            "--engine",
            engine,
            "--reduction",
            "15",
            "--noise-only",
            "--quiet",
        ]);
        let (spec, y) = read(&out);
        assert_eq!(spec.sample_format, hound::SampleFormat::Float);
        let (_, r) = read(&rem);
        assert_eq!(y[0].len(), x.len());
        // zero delay: the click comes out where it went in
        let seg = &y[0][click - 2000..click + 2000];
        let peak = seg
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert_eq!(click - 2000 + peak, click, "{engine}");
        // output + noise only = input
        for (i, ((&a, &b), &v)) in y[0].iter().zip(&r[0]).zip(&x).enumerate() {
            let tol = 1.2e-7 * v.abs().max(a.abs()).max(b.abs()).max(1e-3);
            assert!(
                (f64::from(a) + f64::from(b) - f64::from(v)).abs() <= f64::from(tol),
                "{engine} sample {i}: {a} + {b} != {v}"
            );
        }
        // the noise in the first second is reduced, never by more than 15 dB
        // (RNNoise itself takes only a few dB off white noise)
        let e = |s: &[f32]| s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        let lead = 12_000..SR as usize - 2000;
        let red = 10.0 * (e(&y[0][lead.clone()]) / e(&x[lead])).log10();
        let least = if engine == "spectral" { 10.0 } else { 1.0 };
        assert!(
            (-15.01..=-least).contains(&red),
            "{engine}: lead-in reduced by {red:.2} dB"
        );
    }
    // --learn range
    ok(&[
        "dialogue",
        "denoise",
        inp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--learn",
        "0-0.9",
        "--quiet",
    ]);
    // refusals: the input as output, a range outside the file
    let before = sha256(&inp);
    let e = fails(&[
        "dialogue",
        "denoise",
        inp.to_str().unwrap(),
        "--out",
        inp.to_str().unwrap(),
    ]);
    assert!(e.contains("is the input"), "{e}");
    assert_eq!(sha256(&inp), before);
    let e = fails(&[
        "dialogue",
        "denoise",
        inp.to_str().unwrap(),
        "--out",
        d.join("x.wav").to_str().unwrap(),
        "--learn",
        "30-31",
    ]);
    assert!(
        e.contains("in.wav") && e.contains("outside the file"),
        "{e}"
    );
    assert!(!d.join("x.wav").exists());
    // rnnoise at 44.1 kHz (converted to 48 kHz and back): same length, the
    // click on its sample, the lead-in noise reduced, the rate kept
    let i44 = d.join("in44.wav");
    write_f32(&i44, 44_100, std::slice::from_ref(&x));
    let o44 = d.join("out44.wav");
    ok(&[
        "dialogue",
        "denoise",
        i44.to_str().unwrap(),
        "--out",
        o44.to_str().unwrap(),
        "--engine",
        "rnnoise",
        "--reduction",
        "15",
        "--quiet",
    ]);
    let (spec, y) = read(&o44);
    assert_eq!(spec.sample_rate, 44_100);
    assert_eq!(y[0].len(), x.len());
    let seg = &y[0][click - 2000..click + 2000];
    let peak = seg
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    assert_eq!(click - 2000 + peak, click, "rnnoise at 44.1 kHz");
    let e = |s: &[f32]| s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let lead = 12_000..44_100 - 2000;
    let red = 10.0 * (e(&y[0][lead.clone()]) / e(&x[lead])).log10();
    assert!(
        (-15.01..=-1.0).contains(&red),
        "rnnoise at 44.1 kHz: lead-in reduced by {red:.2} dB"
    );
}

#[test]
fn denoise_insert_renders_in_sync_with_the_core_denoiser() {
    let d = tmpdir("dialogue-insert");
    std::fs::create_dir_all(d.join("stems")).unwrap();
    let click = 30_007;
    let (_, x) = noisy_speech(click);
    write_f32(&d.join("stems/dx.wav"), SR, std::slice::from_ref(&x));
    let len_s = x.len() as f64 / f64::from(SR);
    for engine in [Engine::Spectral, Engine::Rnnoise] {
        let name = match engine {
            Engine::Spectral => "spectral",
            Engine::Rnnoise => "rnnoise",
        };
        let session = format!(
            r#"
[reel]
title = "Dn"
frame_rate = "25"
start = "10:00:00:00"
ffoa = "10:00:00:00"
length = "00:00:{:02}:00"
layout = "stereo"

[output]
format = "float32"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
pan = {{ position = -1.0 }}
inserts = [ {{ type = "denoise", reduction_db = 14, engine = "{name}" }} ]

[[deliverable]]
kind = "printmaster"
"#,
            len_s.ceil() as u64 + 1
        );
        let sp = d.join("s.toml");
        std::fs::write(&sp, session).unwrap();
        let out = d.join(format!("print-{name}"));
        render_ok(&sp, &out, &["--no-qc", "--quiet"]);
        let pm = files_in(&out)
            .into_iter()
            .find(|f| f.contains("_PM_"))
            .unwrap();
        let (_, y) = read(&out.join(pm));
        let opts = DenoiseOptions {
            reduction_db: 14.0,
            ..Default::default()
        };
        let mut want = vec![x.clone()];
        let mut den = Denoiser::with_engine(engine, SR, 1, &opts, None).unwrap();
        denoise_buffer(&mut den, &mut want);
        // hard left: L carries the stem at unity
        let diff = y[0][..x.len()]
            .iter()
            .zip(&want[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // the core's zero-delay output (see the CLI test's click): the render
        // reads the stem ahead by the insert's latency, so they agree
        assert!(diff < 1e-6, "{name}: max |render - core| = {diff:e}");
        assert!(want[0] != x, "{name}: the insert did something");
    }
}

/// ADR alignment on real speech: the line slowed by 6 % with sox's WSOLA
/// `tempo` (an independent stretcher), aligned back to the original: the
/// residual misalignment (cross-correlation lag in 200 ms windows) is within
/// the issue's goal (median ≤ 10 ms, 95th percentile ≤ 25 ms); a dub equal to
/// the guide comes out byte for byte.
#[test]
fn align_undoes_a_tempo_change_and_leaves_a_matching_dub_alone() {
    let d = tmpdir("dialogue-align");
    let v = voice("Front_Center.wav");
    let mut line = vec![0.0f32; SR as usize / 2];
    line.extend_from_slice(&v);
    let g = d.join("line.wav");
    write_f32(&g, SR, std::slice::from_ref(&line));
    let dub = d.join("dub.wav");
    let st = std::process::Command::new("sox")
        .args([
            g.to_str().unwrap(),
            dub.to_str().unwrap(),
            "tempo",
            "-s",
            "0.94",
        ])
        .status()
        .expect("sox is installed (apt-get install sox)");
    assert!(st.success());
    let out = d.join("aligned.wav");
    let j = json(&ok(&[
        "dialogue",
        "align",
        g.to_str().unwrap(),
        dub.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert!(j["warped"].as_bool().unwrap(), "{j}");
    let before = &j["residual_before"];
    let after = &j["residual_after"];
    assert!(before["median_ms"].as_f64().unwrap() > 20.0, "{j}");
    assert!(after["median_ms"].as_f64().unwrap() <= 10.0, "{j}");
    assert!(after["p95_ms"].as_f64().unwrap() <= 25.0, "{j}");
    assert!(after["windows"].as_u64().unwrap() >= 8, "{j}");
    let (_, y) = read(&out);
    assert_eq!(y[0].len(), line.len());
    // the guide as its own dub: left alone, the same bytes
    let same = d.join("same.wav");
    let j = json(&ok(&[
        "dialogue",
        "align",
        g.to_str().unwrap(),
        g.to_str().unwrap(),
        "--out",
        same.to_str().unwrap(),
        "--json",
    ]));
    assert!(!j["warped"].as_bool().unwrap(), "{j}");
    assert_eq!(sha256(&same), sha256(&g));
    // an output onto an input is refused
    let e = fails(&[
        "dialogue",
        "align",
        g.to_str().unwrap(),
        dub.to_str().unwrap(),
        "--out",
        dub.to_str().unwrap(),
    ]);
    assert!(e.contains("is an input"), "{e}");
}

/// ADR alignment as a clip option: a track whose clip is the line slowed by
/// 6 % (sox `tempo`) with `align` naming the production line renders the dub
/// where the guide has its words (median ≤ 10 ms, 95th percentile ≤ 25 ms of
/// the cross-correlation lag in 200 ms windows, as the CLI test measures),
/// where the dub played as it is misses by far more; a bad guide channel is
/// refused naming the clip.
#[test]
fn an_aligned_clip_renders_the_dub_on_the_guide_timing() {
    let d = tmpdir("dialogue-align-clip");
    let v = voice("Front_Center.wav");
    let mut line = vec![0.0f32; SR as usize / 2];
    line.extend_from_slice(&v);
    // the production file: a second of room before the line, the line on
    // channel 2 (channel 1 a lav that is silent here)
    let lead = SR as usize;
    let mut prod = vec![vec![0.0f32; lead + line.len() + lead]; 2];
    prod[1][lead..lead + line.len()].copy_from_slice(&line);
    write_f32(&d.join("prod.wav"), SR, &prod);
    let g = d.join("line.wav");
    write_f32(&g, SR, std::slice::from_ref(&line));
    let st = std::process::Command::new("sox")
        .args([
            g.to_str().unwrap(),
            d.join("dub.wav").to_str().unwrap(),
            "tempo",
            "-s",
            "0.94",
        ])
        .status()
        .expect("sox is installed (apt-get install sox)");
    assert!(st.success());
    let (_, dub) = read(&d.join("dub.wav"));
    let before = dubstage_core::dialogue::align::residual(&line, &dub[0], SR);
    assert!(before.median_ms > 20.0, "{before:?}");
    let session = |align: &str| {
        format!(
            r#"
[reel]
title = "Adr"
frame_rate = "25"
start = "10:00:00:00"
ffoa = "10:00:00:00"
length = "00:00:06:00"
layout = "stereo"

[output]
format = "float32"

[[track]]
id = "adr"
kind = "dialogue"
pan = {{ position = -1.0 }}

[[track.clip]]
source = "dub.wav"
record_in = "10:00:01:00"
length_samples = {}
{align}

[[deliverable]]
kind = "printmaster"
"#,
            line.len()
        )
    };
    let sp = d.join("s.toml");
    let out = d.join("print");
    std::fs::write(
        &sp,
        session(&format!(
            "align = {{ guide = \"prod.wav\", channel = 2, guide_in_samples = {lead} }}"
        )),
    )
    .unwrap();
    render_ok(&sp, &out, &["--no-qc", "--quiet"]);
    let pm = files_in(&out)
        .into_iter()
        .find(|f| f.contains("_PM_"))
        .unwrap();
    let (_, y) = read(&out.join(pm));
    let at = SR as usize; // record_in, a second into the reel
    let placed = &y[0][at..at + line.len()];
    let after = dubstage_core::dialogue::align::residual(&line, placed, SR);
    assert!(after.windows >= 8, "{after:?}");
    assert!(after.median_ms <= 10.0, "{after:?} (before: {before:?})");
    assert!(after.p95_ms <= 25.0, "{after:?}");
    // the same warp as `dubstage dialogue align` gives
    let cli = d.join("cli.wav");
    ok(&[
        "dialogue",
        "align",
        g.to_str().unwrap(),
        d.join("dub.wav").to_str().unwrap(),
        "--out",
        cli.to_str().unwrap(),
    ]);
    let (_, c) = read(&cli);
    let diff = placed
        .iter()
        .zip(&c[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-6, "max |render - CLI| = {diff:e}");
    // nothing before the clip
    assert!(y[0][..at].iter().all(|&s| s == 0.0));
    // the guide file alone (its first sample at record_in) gives the same bytes
    std::fs::write(&sp, session("align = \"line.wav\"")).unwrap();
    let out2 = d.join("print2");
    render_ok(&sp, &out2, &["--no-qc", "--quiet"]);
    let pm2 = files_in(&out2)
        .into_iter()
        .find(|f| f.contains("_PM_"))
        .unwrap();
    let (_, y2) = read(&out2.join(pm2));
    assert_eq!(y2, y);
    // a guide channel the file lacks: refused, naming the clip
    std::fs::write(
        &sp,
        session("align = { guide = \"prod.wav\", channel = 3 }"),
    )
    .unwrap();
    let e = render_fails(&sp, &d.join("print3"), &["--quiet"]);
    assert!(!d.join("print3").exists());
    assert!(
        e.contains("clip 1") && e.contains("channel 3") && e.contains("prod.wav"),
        "{e}"
    );
}

/// A session of one dialogue stem (hard left) with one `denoise` insert
/// with the extra fields `insert` (`", key = value"`), at 25 fps from 10:00:00:00.
fn denoise_session(d: &Path, len_s: u64, insert: &str) -> std::path::PathBuf {
    let session = format!(
        r#"
[reel]
title = "Rt"
frame_rate = "25"
start = "10:00:00:00"
ffoa = "10:00:00:00"
length = "00:00:{len_s:02}:00"
layout = "stereo"

[output]
format = "float32"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
pan = {{ position = -1.0 }}
inserts = [ {{ type = "denoise", reduction_db = 14{insert} }} ]

[[deliverable]]
kind = "printmaster"
"#
    );
    let sp = d.join("s.toml");
    std::fs::write(&sp, session).unwrap();
    sp
}

fn printmaster_left(out: &Path) -> Vec<f32> {
    let pm = files_in(out)
        .into_iter()
        .find(|f| f.contains("_PM_"))
        .unwrap();
    read(&out.join(pm)).1.swap_remove(0)
}

fn energy_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() + 1e-30).log10()
}

#[test]
fn denoise_insert_learns_its_room_tone_from_a_file_or_a_range_of_the_stem() {
    let d = tmpdir("dialogue-room-tone");
    std::fs::create_dir_all(d.join("stems")).unwrap();
    // the line starts at once (no room tone before it), then 2 s of room tone
    let v = voice("Front_Right.wav");
    let mut clean = v.clone();
    clean.resize(v.len() + 2 * SR as usize, 0.0);
    let nz = noise(5, clean.len(), 0.03);
    let x: Vec<f32> = clean.iter().zip(&nz).map(|(a, b)| a + b).collect();
    write_f32(&d.join("stems/dx.wav"), SR, std::slice::from_ref(&x));
    // room tone recorded apart: the same noise, another stretch of it
    let rt = noise(6, 2 * SR as usize, 0.03);
    write_f32(&d.join("rt.wav"), SR, std::slice::from_ref(&rt));
    let len_s = (x.len() as f64 / f64::from(SR)).ceil() as u64 + 1;
    let tail = v.len() as f64 / f64::from(SR);
    // a range of the stem's own room tone, after the line: 10:00:0S:FF, 1 s
    let from = (tail * 25.0).ceil() as u64 + 2;
    let tc = |f: u64| format!("10:00:{:02}:{:02}", f / 25, f % 25);
    let range = format!("{}-{}", tc(from), tc(from + 25));

    let opts = DenoiseOptions {
        reduction_db: 14.0,
        ..Default::default()
    };
    let core = |profile: Option<&[f32]>| -> Vec<f32> {
        let p = profile.map(|s| NoiseProfile::learn(&[s], SR).unwrap());
        let mut den = Denoiser::new(SR, 1, &opts, p.as_ref()).unwrap();
        let mut w = vec![x.clone()];
        denoise_buffer(&mut den, &mut w);
        w.swap_remove(0)
    };
    let mut outs = Vec::new();
    for (name, insert, profile) in [
        (
            "file",
            r#", room_tone = "rt.wav""#.to_string(),
            Some(&rt[..]),
        ),
        ("range", format!(r#", learn = "{range}""#), {
            let a = (from * SR as u64 / 25) as usize;
            Some(&x[a..a + SR as usize])
        }),
        ("tracking", String::new(), None),
    ] {
        let sp = denoise_session(&d, len_s, &insert);
        let out = d.join(format!("print-{name}"));
        render_ok(&sp, &out, &["--no-qc", "--quiet"]);
        let y = printmaster_left(&out);
        // the render starts from the profile learned from that audio alone
        let want = core(profile);
        let diff = y[..x.len()]
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-6, "{name}: max |render - core| = {diff:e}");
        outs.push(y);
    }
    // the first half second (the line, under noise): the learned room tone
    // leaves the voice closer to the clean line than tracking alone, which
    // takes its first frame (voice and noise) for noise
    let n = SR as usize / 2;
    let err = |y: &[f32]| {
        let e: Vec<f32> = y[..n].iter().zip(&clean[..n]).map(|(a, b)| a - b).collect();
        energy_db(&e)
    };
    let (e_file, e_range, e_track) = (err(&outs[0]), err(&outs[1]), err(&outs[2]));
    eprintln!(
        "first 0.5 s error: file {e_file:.1} dB, range {e_range:.1} dB, tracking {e_track:.1} dB"
    );
    assert!(
        e_file < e_track - 3.0 && e_range < e_track - 3.0,
        "error in the first 0.5 s: file {e_file:.1} dB, range {e_range:.1} dB, tracking {e_track:.1} dB"
    );
}

#[test]
fn denoise_insert_refuses_bad_room_tone_naming_the_stem_and_insert() {
    let d = tmpdir("dialogue-room-tone-bad");
    std::fs::create_dir_all(d.join("stems")).unwrap();
    write_f32(
        &d.join("stems/dx.wav"),
        SR,
        &[noise(8, 3 * SR as usize, 0.03)],
    );
    write_f32(&d.join("rt44.wav"), 44_100, &[noise(9, 44_100, 0.03)]);
    write_f32(&d.join("short.wav"), SR, &[noise(9, 1000, 0.03)]);
    write_f32(&d.join("zero.wav"), SR, &[vec![0.0; SR as usize]]);
    for (insert, want) in [
        (r#", room_tone = "nope.wav""#, "nope.wav"),
        (r#", room_tone = "rt44.wav""#, "44100 Hz"),
        (r#", room_tone = "short.wav""#, "too short"),
        (r#", room_tone = "zero.wav""#, "silent"),
        (
            r#", learn = "10:00:02:00-10:00:01:00""#,
            "not after the start",
        ),
        (r#", learn = "10:00:02:00-10:00:09:00""#, "outside the reel"),
        (r#", learn = "09:59:59:00-10:00:01:00""#, "outside the reel"),
        (r#", learn = "10:00:01:00""#, "START-END"),
        (r#", learn = "10:00:01:00-10:00:01:99""#, "learn = "),
        (r#", fixed = true"#, "needs a room tone"),
        (
            r#", engine = "rnnoise", room_tone = "short.wav""#,
            "too short",
        ),
    ] {
        let sp = denoise_session(&d, 3, insert);
        let out = d.join("print");
        let e = render_fails(&sp, &out, &["--no-qc", "--quiet"]);
        assert!(
            e.contains("dx") && e.contains("insert 1 (denoise)") && e.contains(want),
            "{insert}: {e}"
        );
        assert!(
            !out.exists() || files_in(&out).is_empty(),
            "{insert}: wrote {:?}",
            files_in(&out)
        );
    }
    // RNNoise learns nothing: a room tone for it is refused
    write_f32(&d.join("rt.wav"), SR, &[noise(10, SR as usize, 0.03)]);
    let sp = denoise_session(&d, 3, r#", engine = "rnnoise", room_tone = "rt.wav""#);
    let e = render_fails(&sp, &d.join("print"), &["--no-qc", "--quiet"]);
    assert!(
        e.contains("insert 1 (denoise)") && e.contains("rnnoise"),
        "{e}"
    );
}

/// The preview package carries each stem's inserts as JSON to the browser's
/// mixer: the learned room tone survives that trip exactly, so the browser's
/// denoise starts from the same numbers and gives the same bytes.
#[test]
fn learned_room_tone_travels_to_the_browser_mixer_exactly() {
    use dubstage_core::stem::chain::{InsertChain, InsertSpec};
    let d = tmpdir("dialogue-room-tone-json");
    std::fs::create_dir_all(d.join("stems")).unwrap();
    let (_, x) = noisy_speech(1000);
    write_f32(&d.join("stems/dx.wav"), SR, std::slice::from_ref(&x));
    write_f32(&d.join("rt.wav"), SR, &[noise(21, SR as usize, 0.03)]);
    let sp = denoise_session(
        &d,
        6,
        r#", room_tone = "rt.wav", learn = "10:00:00:05-10:00:00:20""#,
    );
    let mut plan = dubstage_core::session::Session::load(&sp)
        .unwrap()
        .resolve()
        .unwrap();
    dubstage_core::pipeline::room_tone::learn(&mut plan).unwrap();
    let ins = plan.stems[0].inserts.clone();
    let InsertSpec::Denoise {
        profile: Some(p), ..
    } = &ins[0]
    else {
        panic!("no profile learned: {ins:?}");
    };
    assert_eq!(p.len(), 1025);
    let back: Vec<InsertSpec> =
        serde_json::from_str(&serde_json::to_string(&ins).unwrap()).unwrap();
    assert_eq!(back, ins);
    let run = |specs: &[InsertSpec]| {
        let mut c = InsertChain::build(specs, SR, 1, Path::new(""), "dx").unwrap();
        let mut b = vec![x.clone()];
        c.process(&mut b, x.len()).unwrap();
        b.swap_remove(0)
    };
    let (a, b) = (run(&ins), run(&back));
    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    // and the profile is used: without it the chain's output differs
    let mut plain = ins.clone();
    if let InsertSpec::Denoise {
        profile,
        room_tone,
        learn,
        ..
    } = &mut plain[0]
    {
        (*profile, *room_tone, *learn) = (None, None, None);
    }
    assert_ne!(run(&plain), a);
}

/// A return's denoise insert learns its room tone from a file (the render runs it);
/// `learn`, a range of a stem's own audio, is refused on a return, naming it.
#[test]
fn a_returns_denoise_learns_from_a_room_tone_file_and_refuses_a_range() {
    let d = tmpdir("dialogue-room-tone-return");
    std::fs::create_dir_all(d.join("stems")).unwrap();
    write_f32(
        &d.join("stems/dx.wav"),
        SR,
        &[noise(11, 3 * SR as usize, 0.03)],
    );
    write_f32(&d.join("rt.wav"), SR, &[noise(12, SR as usize, 0.03)]);
    let session = |extra: &str| {
        let text = format!(
            r#"
[reel]
title = "Rt"
frame_rate = "25"
start = "10:00:00:00"
ffoa = "10:00:00:00"
length = "00:00:03:00"
layout = "stereo"

[output]
format = "float32"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
sends = [ {{ to = "room", db = -6.0 }} ]

[[return]]
id = "room"
bus = "DX"
layout = "stereo"
inserts = [ {{ type = "denoise", reduction_db = 12{extra} }} ]

[[deliverable]]
kind = "printmaster"
"#
        );
        let sp = d.join("s.toml");
        std::fs::write(&sp, text).unwrap();
        sp
    };
    let out = d.join("print");
    render_ok(
        &session(r#", room_tone = "rt.wav""#),
        &out,
        &["--no-qc", "--quiet"],
    );
    assert!(!files_in(&out).is_empty());
    let out2 = d.join("print2");
    let e = render_fails(
        &session(r#", learn = "10:00:00:00-10:00:01:00""#),
        &out2,
        &["--no-qc", "--quiet"],
    );
    assert!(
        e.contains("return 'room'") && e.contains("insert 1 (denoise)") && e.contains("room_tone"),
        "{e}"
    );
    assert!(!out2.exists() || files_in(&out2).is_empty());
}
