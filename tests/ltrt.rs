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

/// Renders a 5.1 stem as a printmaster and an Lt/Rt into `dir/out`.
fn render(dir: &std::path::Path, stem: &[Vec<f32>]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("stems")).unwrap();
    write_f32(&dir.join("stems/s.wav"), SR, stem);
    let session = "[reel]\ntitle = \"M\"\nframe_rate = \"24\"\nstart = \"01:00:00:00\"\nffoa = \"01:00:00:00\"\n\
                   [output]\nformat = \"float32\"\n\
                   [[stem]]\nid = \"s\"\nkind = \"effects\"\nsource = \"stems/s.wav\"\nlayout = \"5.1\"\n\
                   [[deliverable]]\nkind = \"printmaster\"\n\
                   [[deliverable]]\nkind = \"ltrt\"\n";
    std::fs::write(dir.join("session.toml"), session).unwrap();
    let out = dir.join("out");
    render_delivered(
        &dir.join("session.toml"),
        &out,
        &["--quiet", "--backend", "cpu"],
    );
    out
}

/// Renders a 5.1 stem as Lt/Rt and returns the passive decode [L, R, C, S].
fn encode_decode(name: &str, stem: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let dir = tmpdir(name);
    let out = render(&dir, &stem);
    let (spec, lr) = read(&out.join("M_R1_LtRt_2.0.wav"));
    std::fs::remove_dir_all(&dir).unwrap();
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

/// The QC report of a render, as JSON, and the Lt/Rt deliverable in it.
fn report(out: &std::path::Path) -> (serde_json::Value, serde_json::Value) {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let d = r["deliverables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with("LtRt_2.0.wav"))
        .expect("the Lt/Rt deliverable")
        .clone();
    (r, d)
}

fn matrix_check(d: &serde_json::Value) -> serde_json::Value {
    d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Matrix fold-back")
        .expect("a matrix fold-back check")
        .clone()
}

#[test]
fn report_carries_the_matrix_fold_back_check() {
    let n = 6 * SR as usize;
    // Independent noises on every channel (−20 dBFS peak): a clean mix.
    let stem: Vec<Vec<f32>> = (0..6).map(|c| noise(c + 1, n, 0.1)).collect();
    let dir = tmpdir("ltrt-qc");
    let out = render(&dir, &stem);
    let (r, d) = report(&out);
    let c = matrix_check(&d);
    assert_eq!(c["status"], "pass", "{c}");
    let m = &d["matrix"];
    assert_eq!(m["source_layout"], "5.1");
    let (cr, sr) = (
        m["centre_recovery_db"].as_f64().unwrap(),
        m["surround_recovery_db"].as_f64().unwrap(),
    );
    // The stated limit is −3 dB; a clean encode returns both at 0 dB.
    assert_eq!(m["min_recovery_db"], -3.0);
    assert!(
        cr.abs() < 0.1 && sr.abs() < 0.1,
        "centre {cr} surround {sr}"
    );
    assert!(m["centre_error_db"].as_f64().unwrap() < -100.0, "{m}");
    assert!(m["surround_error_db"].as_f64().unwrap() < -100.0, "{m}");
    // The printmaster itself has no matrix check.
    let pm = r["deliverables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["layout"] == "5.1")
        .unwrap();
    assert!(pm.get("matrix").is_none());
    assert!(
        pm["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "Matrix fold-back")
    );
    let html = std::fs::read_to_string(out.join("qc/report.html")).unwrap();
    assert!(html.contains("Matrix fold-back (passive decode)"));
    // The Lt/Rt's iXML names its tracks Lt and Rt.
    let i: serde_json::Value = serde_json::from_str(&ok(&[
        "inspect",
        "--json",
        out.join("M_R1_LtRt_2.0.wav").to_str().unwrap(),
    ]))
    .unwrap();
    let names: Vec<&str> = i[0]["ixml"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Lt", "Rt"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn surrounds_out_of_phase_fail_the_fold_back() {
    let n = 6 * SR as usize;
    let mut stem: Vec<Vec<f32>> = (0..6).map(|c| noise(c + 21, n, 0.1)).collect();
    // Rs = −Ls: the mono surround sum of the matrix is silent.
    stem[5] = stem[4].iter().map(|x| -x).collect();
    let dir = tmpdir("ltrt-qc-fail");
    let out = render(&dir, &stem);
    let (r, d) = report(&out);
    let c = matrix_check(&d);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("cancel in the mono surround sum"),
        "{c}"
    );
    assert_eq!(d["status"], "fail");
    assert_eq!(r["status"], "fail");
    let f: Vec<_> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "matrix_fold_back")
        .collect();
    assert!(!f.is_empty(), "{d}");
    assert_eq!(f[0]["channel"], "S'");
    std::fs::remove_dir_all(&dir).unwrap();
}
