//! End-to-end tests of a feature through the CLI: `dubstage demo --feature`, `render
//! FEATURE.toml` against the four steps (`feature measure|plan|render|finish`, the same
//! bytes), and bad inputs.

mod common;
use common::*;

fn sums(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap()
}

#[test]
fn demo_feature_renders_and_the_steps_give_the_same_bytes() {
    let dir = tmpdir("feature-demo");
    let d = dir.to_str().unwrap();
    let out = ok(&[
        "demo",
        "--feature",
        "--minutes",
        "0.3",
        "--out",
        d,
        "--json",
        "--backend",
        "cpu",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(v["report"]["reels"].as_array().unwrap().len(), 3);
    let pass = v["report"]["compliance"]["passed"].as_bool();
    assert_eq!(pass, Some(true), "{}", v["report"]["compliance"]);
    let whole = sums(&dir.join("print"));
    assert!(whole.contains("LP/Demo_Feature_LP_PM_5.1.wav"), "{whole}");
    for f in [
        "R1/Demo_R1_PM_5.1.wav",
        "R3/Demo_R3_ME_5.1.wav",
        "feature/report.html",
        "feature/plan.json",
    ] {
        assert!(dir.join("print").join(f).exists(), "{f}");
    }
    // The same feature in steps, into another folder: the same files, the same bytes.
    let ft = dir.join("feature.toml");
    let ft = ft.to_str().unwrap();
    let steps = dir.join("steps");
    let s = steps.to_str().unwrap();
    let common = ["--out", s, "--quiet", "--backend", "cpu"];
    for r in ["3", "1", "2"] {
        let mut a = vec!["feature", "measure", ft, "--reel", r];
        a.extend_from_slice(&common);
        ok(&a);
    }
    let mut a = vec!["feature", "plan", ft];
    a.extend_from_slice(&common);
    ok(&a);
    for r in ["2", "1", "3"] {
        let mut a = vec!["feature", "render", ft, "--reel", r];
        a.extend_from_slice(&common);
        ok(&a);
    }
    let mut a = vec!["feature", "finish", ft];
    a.extend_from_slice(&common);
    ok(&a);
    assert_eq!(sums(&steps), whole);
}

#[test]
fn feature_errors_are_clear() {
    let dir = tmpdir("feature-errors");
    let ft = dir.join("feature.toml");
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"X\"\nreels = [\"nope/session.toml\"]\n",
    )
    .unwrap();
    let out = dir.join("print");
    let e = render_fails(&ft, &out, &["--backend", "cpu"]);
    assert!(e.contains("nope/session.toml"), "{e}");
    assert!(!out.join("LP").exists());
    // --json: the failure is JSON too.
    let o = dubstage(&["render", ft.to_str().unwrap(), "--json", "--backend", "cpu"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON error");
    assert!(v["error"].as_str().unwrap().contains("nope/session.toml"));
    // A step without its input names the step to run first.
    std::fs::write(&ft, "[feature]\ntitle = \"X\"\nreels = []\n").unwrap();
    let e = fails(&["feature", "plan", ft.to_str().unwrap()]);
    assert!(e.contains("reels is empty"), "{e}");
    // An unknown key is refused with its line.
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"X\"\nreels = [\"a.toml\"]\nreel_gain = 3\n",
    )
    .unwrap();
    let e = fails(&["feature", "plan", ft.to_str().unwrap()]);
    assert!(
        e.contains("feature.toml:4:") && e.contains("reel_gain"),
        "{e}"
    );
}
