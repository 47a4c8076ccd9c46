//! For tests: may a GPU test run on this machine, and the rule that CI never
//! skips one. One helper for every GPU test (gpu/tests/*.rs and the CLI's
//! tests/gpu_render.rs).

use crate::list_adapters;

/// Whether the environment says this is a CI run: `CI` set to anything but
/// empty, `0` or `false` (`.ci/run` exports `CI=true`).
pub fn under_ci() -> bool {
    ci_value_is_set(std::env::var("CI").ok().as_deref())
}

fn ci_value_is_set(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// What a GPU test does on this machine: `Ok(true)` run, `Ok(false)` skip (no
/// adapter, not under CI), `Err(message)` fail (no adapter under CI).
fn decide(has_adapter: bool, ci: bool, what: &str) -> Result<bool, String> {
    match (has_adapter, ci) {
        (true, _) => Ok(true),
        (false, false) => Ok(false),
        (false, true) => Err(format!(
            "{what}: no GPU adapter, and CI must run the GPU tests: lavapipe (Debian's \
             mesa-vulkan-drivers, Mesa's CPU Vulkan driver) is missing; install it \
             (`apt-get install mesa-vulkan-drivers`, as .ci/run and scripts/test-all.sh do)"
        )),
    }
}

/// Call first in a GPU test: `true` when a wgpu adapter exists (run the test).
/// Without one it prints `SKIP: <what>` and returns `false` on a developer's
/// machine, and **panics** under CI (see [`under_ci`]), saying lavapipe is
/// missing, so CI cannot pass by skipping.
pub fn gpu_test_may_run(what: &str) -> bool {
    match decide(!list_adapters().is_empty(), under_ci(), what) {
        Ok(true) => true,
        Ok(false) => {
            eprintln!(
                "SKIP: {what}: no GPU adapter on this machine, not even lavapipe \
                 (install mesa-vulkan-drivers); under CI this fails"
            );
            false
        }
        Err(m) => panic!("{m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_fails_where_a_laptop_skips() {
        assert_eq!(decide(true, true, "x"), Ok(true));
        assert_eq!(decide(true, false, "x"), Ok(true));
        assert_eq!(decide(false, false, "x"), Ok(false));
        let e = decide(false, true, "GPU FFT").unwrap_err();
        assert!(
            e.starts_with("GPU FFT: no GPU adapter")
                && e.contains("lavapipe")
                && e.contains("mesa-vulkan-drivers"),
            "{e}"
        );
    }

    #[test]
    fn ci_variable_values() {
        for v in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value_is_set(Some(v)), "{v}");
        }
        for v in [None, Some(""), Some("0"), Some("false"), Some("False")] {
            assert!(!ci_value_is_set(v), "{v:?}");
        }
    }
}
