//! # dubstage-gpu
//!
//! The wgpu compute backend of dubstage: [`GpuBackend`] implements
//! `dubstage_core::backend::Backend` with the WGSL shaders in `shaders/`. Each has a CPU
//! counterpart and GPU tests that compare the two; only some are line-by-line twins:
//!
//! | shader | entry points | CPU counterpart | twin? | one test body on both backends |
//! |---|---|---|---|---|
//! | `sum_stems.wgsl` | `main` | `dubstage_core::backend::cpu::sum_stems` | yes: same name, same order of additions (bit-identical) | `tests/parity.rs` `sum_*` (every `dyn Backend` against an f64 oracle) |
//! | `k_weight.wgsl` | `zero_state`, `carry`, `hop_figures` | `dubstage_core::loudness::HopAnalyzer` | no: the GPU runs the K-weighting as a segmented scan of an SVF form in f32 (parallel over time), the CPU the sequential biquads in f64, the best algorithm for each; the SVF step's f64 twin is [`kernels::k_weight::k_step`], the energy sum's is `loudness::block_energy` (there is no `block_energy.wgsl`) | `tests/parity.rs` `analyzer_*` (every `dyn Analyzer` against an f64 oracle) |
//! | `true_peak.wgsl` | `true_peak_max` (appended to `k_weight.wgsl`) | `dubstage_core::loudness::true_peak` | reads like it (same phase and tap order); not the same name | through the analyzer tests |
//! | `convolve.wgsl` | `mac`, `push`, `extract` (with `fft.wgsl`) | `dubstage_core::stem::convolve::Convolver` ([`GpuConvolver`]) | no: the same uniformly partitioned overlap-save, with rustfft's transforms on the CPU and `fft.wgsl`'s batched ones on the GPU, each the fastest form for its device | `tests/convolve.rs` (both against the f64 reference, any chunking) |
//! | `fft.wgsl` | `fft_pass`, `fft_local`, `real_post`, `real_pre` | [`kernels::fft::fft_pass`], [`kernels::fft::real_post`], [`kernels::fft::real_pre`] ([`kernels::fft::fft`], [`kernels::fft::rfft`], [`kernels::fft::irfft`]) | yes (the CPU twins live here, not in core: the CPU convolver uses rustfft) | `tests/fft.rs` |
//!
//! ```text
//! select_backend("auto" | "gpu" | "cpu", adapter) ──► Box<dyn Backend>
//!   GpuBackend::new(&GpuOptions) ── context.rs: adapter by index / name / DUBSTAGE_ADAPTER,
//!        │                          device with the adapter's own limits
//!        ├── sum      ──► kernels/sum_stems.rs: chunks within the binding limit, 2-D grid,
//!        │                two buffer sets (upload k+1 while k computes)
//!        ├── analyzer ──► kernels/k_weight.rs: GpuAnalyzer, a ring of 3 chunks in flight,
//!        │                filter state kept on the GPU between chunks
//!        ├── convolver ─► kernels/convolve.rs: GpuConvolver, IR spectra and FDL on the GPU,
//!        │                spans of K blocks x all channels per submission
//!        └── fft()    ──► kernels/fft.rs: GpuFft (complex, real and inverse real, batched, to 2^20)
//! ```
//!
//! [`select_backend`] is what the CLI's `--backend cpu|gpu|auto` calls. wgpu errors
//! (validation, out of memory, device lost) come back as `Error::Backend`, not panics.

mod backend;
mod context;
pub mod kernels;
pub mod testing;

pub use backend::GpuBackend;
pub use context::{ADAPTER_ENV, AdapterSummary, GpuOptions, list_adapters};
pub use kernels::convolve::GpuConvolver;
pub use kernels::fft::GpuFft;
pub use kernels::k_weight::GpuAnalyzer;
pub use kernels::sum_stems::Timings;

use dubstage_core::backend::Backend;
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::{Error, Result};

/// Picks the processing backend for `--backend` and `--adapter`.
///
/// * `"cpu"`: the CPU reference.
/// * `"gpu"`: any adapter, software ones (lavapipe, llvmpipe) included; an error
///   if none can be opened.
/// * `"auto"`: a hardware GPU (discrete, integrated or virtual) when there is one,
///   else the CPU, with a one-line notice saying why.
///
/// `adapter` is an index or a name substring (see [`GpuOptions::adapter`]);
/// `None` reads `DUBSTAGE_ADAPTER`. Returns the backend and, when the choice was
/// not the one asked for, a notice to print.
pub fn select_backend(
    choice: &str,
    adapter: Option<&str>,
) -> Result<(Box<dyn Backend>, Option<String>)> {
    let opts = |hardware_only| GpuOptions {
        adapter: adapter.map(str::to_string),
        hardware_only,
        max_chunk_frames: None,
    };
    match choice.trim().to_ascii_lowercase().as_str() {
        "cpu" => Ok((Box::new(CpuBackend::new()), None)),
        "gpu" => Ok((Box::new(GpuBackend::new(&opts(false))?), None)),
        "auto" => match GpuBackend::new(&opts(true)) {
            Ok(g) => Ok((Box::new(g), None)),
            Err(e) => {
                let why = match e {
                    Error::Backend(m) => m,
                    other => other.to_string(),
                };
                Ok((
                    Box::new(CpuBackend::new()),
                    Some(format!("using the CPU backend: {why}")),
                ))
            }
        },
        other => Err(Error::Invalid(format!(
            "unknown backend '{other}' (expected cpu, gpu or auto)"
        ))),
    }
}
