//! The reference readers of PyPI (`pycmx`, `opentimelineio`), run at test time by
//! the scripts beside this file; shared by the editorial tests.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The Python with pycmx and opentimelineio: `DUBSTAGE_PYTHON`, else the virtual
/// environment `scripts/test-deps.sh` makes where the system's pip refuses (PEP 668),
/// else `python3`.
pub fn python3() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("DUBSTAGE_PYTHON") {
        return p.into();
    }
    let venv = std::env::var_os("DUBSTAGE_PYREF")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/dubstage/pyref")))
        .map(|d| d.join("bin/python3"));
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import pycmx, opentimelineio"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match venv {
        Some(v) if !has(Path::new("python3")) && has(&v) => v,
        _ => "python3".into(),
    }
}

/// Runs a reference script; fails (never skips) when Python or the package is missing.
pub fn python(script: &str, args: &[String]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/editorial")
        .join(script);
    let out = Command::new(python3())
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "{script} failed (bash scripts/test-deps.sh installs pycmx and opentimelineio): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}
