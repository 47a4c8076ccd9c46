//! `select_backend`: cpu, gpu, auto, adapter choice, and the errors.

use dubstage_gpu::testing::gpu_test_may_run;
use dubstage_gpu::{GpuBackend, GpuOptions, list_adapters, select_backend};

#[test]
fn cpu_is_always_available() {
    let (b, notice) = select_backend("cpu", None).expect("cpu");
    assert_eq!(b.info().kind, "cpu");
    assert!(notice.is_none());
}

#[test]
fn unknown_choice_is_an_error() {
    let e = select_backend("tpu", None)
        .err()
        .expect("error")
        .to_string();
    assert!(e.contains("unknown backend 'tpu'"), "{e}");
}

#[test]
fn auto_takes_hardware_or_says_why() {
    let adapters = list_adapters();
    let (b, notice) = select_backend("auto", None).expect("auto never fails");
    if adapters.iter().any(|a| a.hardware) {
        assert_eq!(b.info().kind, "gpu");
        assert!(notice.is_none());
        assert_ne!(b.info().device_type, "Cpu");
    } else {
        assert_eq!(b.info().kind, "cpu");
        let n = notice.expect("a notice when falling back");
        assert!(n.starts_with("using the CPU backend"), "{n}");
    }
}

#[test]
fn gpu_takes_any_adapter_including_software() {
    let adapters = list_adapters();
    let r = select_backend("gpu", None);
    if adapters.is_empty() {
        let e = r.err().expect("no adapter").to_string();
        assert!(e.contains("no GPU adapter"), "{e}");
        assert!(!gpu_test_may_run("gpu backend selection"));
        return;
    }
    let (b, notice) = r.expect("gpu");
    let info = b.info();
    assert_eq!(info.kind, "gpu");
    assert!(notice.is_none());
    assert!(!info.name.is_empty() && !info.api.is_empty(), "{info:?}");
    eprintln!("gpu backend: {info:?}");
}

#[test]
fn adapter_by_index_and_name() {
    let adapters = list_adapters();
    let Some(first) = adapters.first() else {
        assert!(!gpu_test_may_run("adapter selection"));
        return;
    };
    let by_index = GpuBackend::new(&GpuOptions {
        adapter: Some(first.index.to_string()),
        ..Default::default()
    })
    .expect("by index");
    assert_eq!(
        dubstage_core::backend::Backend::info(&by_index).name,
        first.name
    );
    let word = first
        .name
        .split_whitespace()
        .next()
        .expect("a name")
        .to_uppercase();
    let (b, _) = select_backend("gpu", Some(&word)).expect("by name substring, any case");
    assert!(b.info().name.to_uppercase().contains(&word));
    let e = select_backend("gpu", Some("no-such-adapter-xyz"))
        .err()
        .expect("error")
        .to_string();
    assert!(
        e.contains("no GPU adapter matches 'no-such-adapter-xyz'") && e.contains("available:"),
        "{e}"
    );
}
