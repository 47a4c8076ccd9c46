//! A whole render of the demo reel on the CPU and on the GPU backend (lavapipe in
//! CI): the QC figures and the deliverables must agree within the backends'
//! tolerances. Skips only on a machine with no wgpu adapter at all, and says why;
//! under CI it fails instead.

mod common;
use common::*;

#[test]
fn demo_render_on_cpu_and_gpu_agree() {
    if !dubstage_gpu::testing::gpu_test_may_run("CPU/GPU demo render") {
        return;
    }
    let dir = tmpdir("gpu-render");
    let demo = dir.join("demo");
    // A short demo keeps lavapipe (a CPU pretending to be a GPU) quick.
    ok(&[
        "demo",
        "--out",
        demo.to_str().unwrap(),
        "--minutes",
        "0.3",
        "--quiet",
        "--backend",
        "cpu",
    ]);
    let session = demo.join("session.toml");
    let (c, g) = (dir.join("cpu"), dir.join("gpu"));
    let jc = render_ok(&session, &c, &["--json", "--backend", "cpu"]);
    let jg = render_ok(&session, &g, &["--json", "--backend", "gpu"]);
    let (vc, vg): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&jc).unwrap(),
        serde_json::from_str(&jg).unwrap(),
    );
    assert_eq!(vg["backend"]["kind"], "gpu");
    assert_eq!(vc["qc_status"], vg["qc_status"]);
    let lu = |v: &serde_json::Value| v.as_f64();
    for (dc, dg) in vc["deliverables"]
        .as_array()
        .unwrap()
        .iter()
        .zip(vg["deliverables"].as_array().unwrap())
    {
        let name = dc["name"].as_str().unwrap();
        for key in [
            "integrated_lufs",
            "loudness_range_lu",
            "dialogue_gated_lufs",
        ] {
            match (lu(&dc["loudness"][key]), lu(&dg["loudness"][key])) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() <= 0.01, "{name} {key}: cpu {a} gpu {b}")
                }
                (a, b) => assert_eq!(a.is_some(), b.is_some(), "{name} {key}"),
            }
        }
        if let (Some(a), Some(b)) = (
            lu(&dc["loudness"]["true_peak_dbtp"]),
            lu(&dg["loudness"]["true_peak_dbtp"]),
        ) {
            assert!((a - b).abs() <= 0.01, "{name} true peak: cpu {a} gpu {b}");
        }
        // The audio itself: within one 24-bit step plus dither of each other.
        let f = dc["files"][0]["path"].as_str().unwrap();
        let fg = dg["files"][0]["path"].as_str().unwrap();
        let ((_, a), (_, b)) = (
            read(std::path::Path::new(f)),
            read(std::path::Path::new(fg)),
        );
        let worst = a
            .iter()
            .zip(&b)
            .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 4.0 / (1 << 23) as f32,
            "{name}: CPU and GPU deliverables differ by {worst}"
        );
    }
    // The QC reports name their backend.
    let rg = std::fs::read_to_string(g.join("qc/report.json")).unwrap();
    assert!(
        rg.contains("\"kind\": \"gpu\""),
        "GPU report does not record the GPU backend"
    );
}
