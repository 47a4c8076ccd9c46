//! End-to-end tests of processing in a render: aux sends into a reverb return
//! against a direct-convolution oracle, reverb tails past a stem's end, dialogue
//! reverb kept out of the M&E, and the errors for bad routing.

mod common;
use common::*;

const SR: u32 = 48_000;

fn db(x: f64) -> f64 {
    10f64.powf(x / 20.0)
}

/// dx: a 0.25 s burst starting at 0.5 s; IR: 0.1 s decaying noise.
fn fixture(dir: &std::path::Path) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    let dx = noise(7, 12_000, 0.4);
    let ir: Vec<f32> = noise(8, 4_800, 0.5)
        .iter()
        .enumerate()
        .map(|(i, x)| x * (-(i as f32) / 900.0).exp())
        .collect();
    let fx: Vec<Vec<f32>> = (0..6).map(|c| noise(20 + c, 96_000, 0.1)).collect();
    write_f32(&dir.join("stems/dx.wav"), SR, std::slice::from_ref(&dx));
    write_f32(&dir.join("stems/room.wav"), SR, std::slice::from_ref(&ir));
    write_f32(&dir.join("stems/fx.wav"), SR, &fx);
    (dx, ir, fx)
}

const SESSION: &str = r#"
[reel]
title = "Proc"
frame_rate = "25"
start = "10:00:00:00"
ffoa = "10:00:00:00"
length = "00:00:02:00"

[output]
format = "float32"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
start = "10:00:00:12"
sends = [ { to = "room", db = -6.0, automation = [ { at = "10:00:00:15", db = 0.0 }, { at = "10:00:00:18", db = -12.0 } ] } ]

[[stem]]
id = "fx"
kind = "effects"
source = "stems/fx.wav"

[[return]]
id = "room"
bus = "DX"
layout = "mono"
inserts = [ { type = "convolve", ir = "stems/room.wav" } ]
"#;

fn render(dir: &std::path::Path, session: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("session.toml"), session).unwrap();
    let out = dir.join("out");
    render_delivered(
        &dir.join("session.toml"),
        &out,
        &["--quiet", "--backend", "cpu", "--block-frames", "5000"],
    );
    out
}

#[test]
fn reverb_send_matches_direct_convolution_and_rings_past_the_stem() {
    let dir = tmpdir("proc-send");
    let (dx, ir, _) = fixture(&dir);
    let out = render(&dir, SESSION);
    let (_, dxbus) = read(&out.join("Proc_R1_DX_5.1.wav"));
    let n = 96_000usize;
    assert_eq!(dxbus[2].len(), n);
    // Oracle, in f64: the dry stem in C, plus the send (post-fader, -6 dB, automated
    // 0 dB -> -12 dB from frame 15 to 18, linear in dB) convolved with the IR.
    let off = 12 * 1920; // 25 fps: 1920 samples a frame
    let (a0, a1) = (15 * 1920, 18 * 1920);
    let send_gain = |t: usize| {
        let d = if t <= a0 {
            0.0
        } else if t >= a1 {
            -12.0
        } else {
            -12.0 * (t - a0) as f64 / (a1 - a0) as f64
        };
        db(-6.0 + d)
    };
    let sent: Vec<f64> = (0..n)
        .map(|t| {
            if t >= off && t - off < dx.len() {
                send_gain(t) * dx[t - off] as f64
            } else {
                0.0
            }
        })
        .collect();
    let mut worst = 0.0f64;
    let mut peak = 0.0f64;
    for t in 0..n {
        let dry = if t >= off && t - off < dx.len() {
            dx[t - off] as f64
        } else {
            0.0
        };
        let lo = t.saturating_sub(ir.len() - 1).max(off);
        let wet: f64 = (lo..=t.min(off + dx.len() - 1))
            .map(|k| sent[k] * ir[t - k] as f64)
            .sum();
        let want = dry + wet;
        peak = peak.max(want.abs());
        worst = worst.max((dxbus[2][t] as f64 - want).abs());
        for c in [0, 1, 3, 4, 5] {
            assert_eq!(dxbus[c][t], 0.0, "a mono return feeds only C");
        }
    }
    let err_db = 20.0 * (worst / peak).log10();
    assert!(
        err_db < -120.0,
        "send + reverb differs from the oracle by {err_db:.1} dB re peak"
    );
    // The tail rings past the stem's last sample (0.75 s) for the IR's length.
    let end = off + dx.len();
    let tail: f64 = dxbus[2][end + 100..end + 4_000]
        .iter()
        .map(|&x| (x as f64).abs())
        .sum();
    assert!(tail > 1.0, "no reverb tail after the stem ends");
}

#[test]
fn dialogue_reverb_stays_out_of_the_m_and_e() {
    let dir = tmpdir("proc-me");
    let (_, _, fx) = fixture(&dir);
    let out = render(&dir, SESSION);
    let (_, pm) = read(&out.join("Proc_R1_PM_5.1.wav"));
    let (_, me) = read(&out.join("Proc_R1_ME_5.1.wav"));
    let (_, dx) = read(&out.join("Proc_R1_DX_5.1.wav"));
    for c in 0..6 {
        // The M&E is exactly the effects stem: no dialogue, no dialogue reverb.
        assert_eq!(me[c], fx[c], "M&E channel {c}");
        for t in 0..pm[c].len() {
            let r = pm[c][t] - me[c][t] - dx[c][t];
            assert!(
                r.abs() <= 4.0 * f32::EPSILON * pm[c][t].abs().max(1e-3),
                "null test at {c}/{t}: {r}"
            );
        }
    }
}

#[test]
fn eq_insert_changes_only_its_stem() {
    let dir = tmpdir("proc-eq");
    let (_, _, fx) = fixture(&dir);
    let s = SESSION.replace(
        "source = \"stems/fx.wav\"",
        "source = \"stems/fx.wav\"\ninserts = [ { type = \"eq\", bands = [ { kind = \"high_pass\", freq = 2000.0, slope = 24 } ] }, { type = \"trim\", db = -6.0 } ]",
    );
    let out = render(&dir, &s);
    let (_, me) = read(&out.join("Proc_R1_ME_5.1.wav"));
    // Trim alone would halve the level; the high-pass removes more energy still.
    let e_in: f64 = fx[0].iter().map(|&x| (x as f64).powi(2)).sum();
    let e_out: f64 = me[0].iter().map(|&x| (x as f64).powi(2)).sum();
    let ratio_db = 10.0 * (e_out / e_in).log10();
    // White noise through a 2 kHz high-pass keeps about (24 - 2) / 24 of its energy: -0.4 dB, plus -6 dB trim.
    assert!(
        (ratio_db - (-6.0 + 10.0 * (22.0f64 / 24.0).log10())).abs() < 0.3,
        "energy change {ratio_db:.2} dB"
    );
}

#[test]
fn dialogue_send_to_a_non_dialogue_return_is_refused() {
    let dir = tmpdir("proc-leak");
    fixture(&dir);
    std::fs::write(
        dir.join("session.toml"),
        SESSION.replace("bus = \"DX\"", "bus = \"FX\""),
    )
    .unwrap();
    let out = dir.join("out");
    let err = render_fails(&dir.join("session.toml"), &out, &["--backend", "cpu"]);
    assert!(
        err.contains("stem 'dx'") && err.contains("leak into the M&E"),
        "{err}"
    );
    assert!(files_in(&out).is_empty());
}

#[test]
fn send_to_unknown_return_names_it() {
    let dir = tmpdir("proc-unknown");
    fixture(&dir);
    std::fs::write(
        dir.join("session.toml"),
        SESSION.replace("to = \"room\"", "to = \"hall\""),
    )
    .unwrap();
    let err = render_fails(&dir.join("session.toml"), &dir.join("out"), &[]);
    assert!(
        err.contains("send to 'hall'") && err.contains("room"),
        "{err}"
    );
}

#[test]
fn missing_ir_names_the_stem_insert_and_file() {
    let dir = tmpdir("proc-ir");
    fixture(&dir);
    std::fs::write(
        dir.join("session.toml"),
        SESSION.replace("stems/room.wav", "stems/nope.wav"),
    )
    .unwrap();
    let err = render_fails(&dir.join("session.toml"), &dir.join("out"), &[]);
    assert!(err.contains("room") && err.contains("nope.wav"), "{err}");
}
