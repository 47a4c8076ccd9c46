//! Lt/Rt (4:2:4 matrix) deliverables: a centre-only and a surround-only programme
//! are encoded by `render`, then decoded with a passive decoder: centre and
//! surround come back where they belong.

mod common;
use common::*;
use dubstage_core::mix::matrix::PassiveDecoder;

const SR: u32 = 48_000;

fn sine(n: usize, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|t| amp * (std::f32::consts::TAU * 1000.0 * t as f32 / SR as f32).sin())
        .collect()
}

fn rms_db(x: &[f32]) -> f64 {
    let e: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    10.0 * e.log10()
}

/// Renders a 5.1 stem as Lt/Rt and returns the passive decode [L, R, C, S].
fn encode_decode(name: &str, stem: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let dir = tmpdir(name);
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(&dir.join("stems/s.wav"), SR, &stem);
    let session = "[reel]\ntitle = \"M\"\nframe_rate = \"24\"\nstart = \"01:00:00:00\"\nffoa = \"01:00:00:00\"\n\
                   [output]\nformat = \"float32\"\n\
                   [[stem]]\nid = \"s\"\nkind = \"effects\"\nsource = \"stems/s.wav\"\nlayout = \"5.1\"\n\
                   [[deliverable]]\nkind = \"ltrt\"\n";
    std::fs::write(dir.join("session.toml"), session).unwrap();
    let out = dir.join("out");
    ok(&[
        "render",
        dir.join("session.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--backend",
        "cpu",
    ]);
    let (spec, lr) = read(&out.join("M_R1_LtRt_2.0.wav"));
    assert_eq!(spec.channels, 2);
    let n = lr[0].len();
    let mut dec = vec![vec![0.0f32; n]; 4];
    let [l, r, c, s] = &mut dec[..] else {
        unreachable!()
    };
    PassiveDecoder::new(SR).process(&lr[0], &lr[1], [l, r, c, s]);
    // skip the all-pass networks' settling
    dec.into_iter().map(|v| v[4800..].to_vec()).collect()
}

#[test]
fn centre_comes_back_in_c_and_not_in_s() {
    let n = 48_000;
    let x = sine(n, 0.25);
    let mut stem = vec![vec![0.0f32; n]; 6];
    stem[2] = x.clone();
    let d = encode_decode("ltrt-c", stem);
    let want = rms_db(&x[4800..]);
    let (c, s) = (rms_db(&d[2]), rms_db(&d[3]));
    assert!(
        (c - want).abs() < 0.1,
        "decoded C {c:.2} dB vs centre {want:.2} dB"
    );
    assert!(s < want - 60.0, "centre leaks into S: {s:.1} dB");
}

#[test]
fn surround_comes_back_in_s_and_not_in_c() {
    let n = 48_000;
    let x = sine(n, 0.25);
    let mut stem = vec![vec![0.0f32; n]; 6];
    stem[4] = x.clone();
    stem[5] = x.clone();
    let d = encode_decode("ltrt-s", stem);
    // Ls = Rs = x: the mono surround sum is (Ls + Rs) / sqrt 2 = sqrt 2 x (+3 dB).
    let want = rms_db(&x[4800..]) + 10.0 * 2f64.log10();
    let (c, s) = (rms_db(&d[2]), rms_db(&d[3]));
    assert!(
        (s - want).abs() < 0.2,
        "decoded S {s:.2} dB vs surround sum {want:.2} dB"
    );
    assert!(c < want - 40.0, "surround leaks into C: {c:.1} dB");
}
