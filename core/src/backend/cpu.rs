//! The CPU reference backend.

use super::{Analyzer, AnalyzerConfig, Backend, BackendInfo, SourceSum, SumJob};
use crate::Result;

/// Frames per render block on the CPU (about 0.68 s at 48 kHz): small enough that a
/// block's sums and output stay in the caches between stages (plain stems are decoded in
/// tiles of [`super::sources::DIRECT_TILE`] frames), large enough that the per-block
/// hand-offs between threads cost little. Measured on `bench/mix.sh` (2 cores): 16384
/// frames 1.30 s, 32768 1.24 s, 65536 1.28 s; with QC 2.74 s and 2.57 s at 16384 and
/// 32768. The output does not depend on it.
pub const BLOCK_FRAMES: usize = 1 << 15;

/// The reference implementation of [`Backend`]: plain Rust, multi-threaded with
/// rayon across output channels on native targets (deterministic: each output
/// is summed in the same order whatever the thread count).
#[derive(Debug, Default, Clone)]
pub struct CpuBackend;

impl CpuBackend {
    /// A CPU backend.
    pub fn new() -> Self {
        CpuBackend
    }
}

/// CPU twin of `shaders/sum_stems.wgsl`: one output channel of a [`SumJob`].
pub fn sum_stems(job: &SumJob<'_>, o: usize, out: &mut Vec<f32>) {
    let n = job.frames;
    // Every sample is written below: only a change of length touches memory.
    out.resize(n, 0.0);
    let ni = job.inputs.len();
    let mut first = true;
    for i in 0..ni {
        let m = job.matrix[o * ni + i];
        if m == 0.0 {
            continue;
        }
        let x = &job.inputs[i][..n];
        let env = &job.envelopes[job.envelope_of[i]][..n];
        if first {
            // `0.0 + ...` as the shader's accumulator starts (-0.0 becomes +0.0).
            for ((y, &xv), &g) in out.iter_mut().zip(x).zip(env) {
                *y = 0.0 + m * g * xv;
            }
            first = false;
        } else {
            for ((y, &xv), &g) in out.iter_mut().zip(x).zip(env) {
                *y += m * g * xv;
            }
        }
    }
    if first {
        out.fill(0.0);
    }
}

/// `y += m · g · x` per sample, `g` from the envelope `env`: one input's share of a
/// [`sum_stems`] output, with the same arithmetic (so an output zeroed, then given its
/// inputs in order, holds the bits [`sum_stems`] gives: `+0.0 + t` is `0.0 + t`).
pub fn accumulate(y: &mut [f32], m: f32, env: &[f32], x: &[f32]) {
    let n = y.len();
    for ((y, &g), &xv) in y.iter_mut().zip(&env[..n]).zip(&x[..n]) {
        *y += m * g * xv;
    }
}

/// `y = 0.0 + m · g · x` per sample: the first input of a [`sum_stems`] output.
pub fn assign(y: &mut [f32], m: f32, env: &[f32], x: &[f32]) {
    let n = y.len();
    for ((y, &g), &xv) in y.iter_mut().zip(&env[..n]).zip(&x[..n]) {
        *y = 0.0 + m * g * xv;
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "cpu".into(),
            name: cpu_name(),
            api: String::new(),
            device_type: "cpu".into(),
            driver: String::new(),
        }
    }

    fn preferred_block_frames(&self) -> usize {
        BLOCK_FRAMES
    }

    fn sum_sources(&mut self, job: &SourceSum<'_>, out: &mut [Vec<f32>]) -> Result<()> {
        super::sources::direct_sum(job, out)
    }

    fn sum(&mut self, job: &SumJob<'_>, out: &mut [Vec<f32>]) -> Result<()> {
        job.validate()?;
        if out.len() < job.outputs {
            return Err(crate::Error::Backend(format!(
                "sum: {} output buffers for {} outputs",
                out.len(),
                job.outputs
            )));
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            out[..job.outputs]
                .par_iter_mut()
                .enumerate()
                .for_each(|(o, buf)| sum_stems(job, o, buf));
        }
        #[cfg(target_arch = "wasm32")]
        for (o, buf) in out[..job.outputs].iter_mut().enumerate() {
            sum_stems(job, o, buf);
        }
        Ok(())
    }

    fn analyzer(&self, cfg: &AnalyzerConfig) -> Result<Box<dyn Analyzer>> {
        Ok(Box::new(crate::loudness::HopAnalyzer::new(cfg)?))
    }

    fn summary_analyzer(&self, cfg: &AnalyzerConfig) -> Result<Box<dyn Analyzer>> {
        Ok(Box::new(
            crate::loudness::HopAnalyzer::new(cfg)?.with_running_true_peak(),
        ))
    }
}

fn cpu_name() -> String {
    #[cfg(target_os = "linux")]
    if let Ok(s) = std::fs::read_to_string("/proc/cpuinfo") {
        if let Some(l) = s.lines().find(|l| l.starts_with("model name")) {
            if let Some((_, v)) = l.split_once(':') {
                return v.trim().to_string();
            }
        }
    }
    std::env::consts::ARCH.to_string()
}
