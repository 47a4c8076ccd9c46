//! [`GpuBackend`]: `dubstage_core::backend::Backend` on wgpu compute shaders.

use crate::context::{GpuContext, GpuOptions};
use crate::kernels::convolve::{ConvolvePipelines, GpuConvolver};
use crate::kernels::k_weight::{GpuAnalyzer, KWeightPipelines};
use crate::kernels::sum_stems::{SumKernel, Timings};
use dubstage_core::backend::{
    Analyzer, AnalyzerConfig, Backend, BackendInfo, ConvolveEngine, SumJob,
};
use dubstage_core::loudness::{Biquad, TruePeakFir, k_weighting, true_peak_fir};
use dubstage_core::stem::convolve::{ConvolverOptions, Ir, IrMap};
use dubstage_core::{Error, Result};
use std::sync::{Arc, OnceLock};

/// The wgpu implementation of [`Backend`].
///
/// * `sum` runs `shaders/sum_stems.wgsl` (CPU twin `backend::cpu::sum_stems`),
///   in chunks sized from the adapter's limits (storage binding size, 65,535
///   workgroups per dimension through a 2-D grid).
/// * `analyzer` returns a [`GpuAnalyzer`] running `shaders/k_weight.wgsl`, the
///   twin of `loudness::HopAnalyzer`.
///
/// Construction is fallible: with no usable adapter, [`GpuBackend::new`] returns
/// `Error::Backend` and the caller chooses the fallback ([`crate::select_backend`]).
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
    sum: SumKernel,
    kw: Arc<KWeightPipelines>,
    max_chunk: Option<usize>,
    /// `convolve.wgsl` and the FFT, compiled on the first `convolver` call.
    conv: OnceLock<Arc<ConvolvePipelines>>,
}

impl GpuBackend {
    /// Opens the adapter chosen by `opts` (or `DUBSTAGE_ADAPTER`, or wgpu's
    /// preference) and compiles the shaders.
    pub fn new(opts: &GpuOptions) -> Result<GpuBackend> {
        let ctx = Arc::new(GpuContext::open(opts)?);
        let sum = SumKernel::new(&ctx);
        let kw = Arc::new(KWeightPipelines::new(&ctx));
        // Shader compilation errors surface here rather than at first use.
        ctx.wait()?;
        Ok(GpuBackend {
            ctx,
            sum,
            kw,
            max_chunk: opts.max_chunk_frames,
            conv: OnceLock::new(),
        })
    }

    /// Batched FFTs on this backend's device (`shaders/fft.wgsl`); compiles the
    /// shader (an error if the adapter rejects it).
    pub fn fft(&self) -> Result<crate::kernels::fft::GpuFft> {
        let f = crate::kernels::fft::GpuFft::new(self.ctx.clone());
        self.ctx.wait()?;
        Ok(f)
    }

    /// A [`GpuConvolver`] (`shaders/convolve.wgsl`): the concrete type behind
    /// [`Backend::convolver`], with its timings. Errors as the CPU `Convolver`
    /// (naming the IR file), plus `Error::Backend` when the IR does not fit the
    /// adapter's buffers.
    pub fn gpu_convolver(
        &self,
        ir: &Ir,
        channels: usize,
        map: &IrMap,
        opts: &ConvolverOptions,
    ) -> Result<GpuConvolver> {
        let pipes = self
            .conv
            .get_or_init(|| Arc::new(ConvolvePipelines::new(&self.ctx)))
            .clone();
        self.ctx.wait()?;
        GpuConvolver::new(
            self.ctx.clone(),
            pipes,
            ir,
            channels,
            map,
            opts,
            self.max_chunk,
        )
    }

    /// Upload / compute / readback times of the last [`Backend::sum`] call.
    pub fn last_sum_timings(&self) -> Timings {
        self.sum.timings
    }

    /// A [`GpuAnalyzer`] with explicit filters: `k` is the K-weighting cascade,
    /// `fir` the true-peak interpolator (`None`: no true peak). [`Backend::analyzer`]
    /// calls this with `loudness::k_weighting` and `loudness::true_peak_fir`.
    pub fn analyzer_with(
        &self,
        cfg: &AnalyzerConfig,
        k: [Biquad; 2],
        fir: Option<TruePeakFir>,
    ) -> Result<GpuAnalyzer> {
        GpuAnalyzer::new(
            self.ctx.clone(),
            self.kw.clone(),
            cfg,
            k,
            fir,
            self.max_chunk,
        )
    }
}

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        self.ctx.info.clone()
    }

    fn preferred_block_frames(&self) -> usize {
        // Fewer, larger dispatches and read-backs (about 1.4 s at 48 kHz).
        1 << 16
    }

    fn sum(&mut self, job: &SumJob<'_>, out: &mut [Vec<f32>]) -> Result<()> {
        job.validate()?;
        if out.len() < job.outputs {
            return Err(Error::Backend(format!(
                "sum: {} output buffers for {} outputs",
                out.len(),
                job.outputs
            )));
        }
        self.sum.run(&self.ctx, job, out, self.max_chunk)
    }

    fn analyzer(&self, cfg: &AnalyzerConfig) -> Result<Box<dyn Analyzer>> {
        let fir = match cfg.true_peak_oversample {
            0 => None,
            f => Some(true_peak_fir(f)?),
        };
        Ok(Box::new(self.analyzer_with(
            cfg,
            k_weighting(cfg.sample_rate),
            fir,
        )?))
    }

    fn convolver(
        &self,
        ir: &Ir,
        channels: usize,
        map: &IrMap,
        opts: &ConvolverOptions,
    ) -> Result<Box<dyn ConvolveEngine>> {
        Ok(Box::new(self.gpu_convolver(ir, channels, map, opts)?))
    }
}
