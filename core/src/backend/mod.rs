//! The one seam between the CPU and the GPU.
//!
//! The pipeline calls a [`Backend`] on blocks of planar `f32` audio. The CPU
//! implementation ([`cpu::CpuBackend`]) is the reference; `dubstage-gpu`
//! implements the same trait with wgpu compute shaders. Not every shader has a CPU
//! function of its own name that reads like it: `sum_stems.wgsl` ([`cpu::sum_stems`])
//! and `fft.wgsl` (`dubstage_gpu::kernels::fft`) do; `true_peak.wgsl` reads like
//! `loudness::true_peak`; `k_weight.wgsl` and `convolve.wgsl` are parallel
//! reformulations checked against the CPU references (`loudness::HopAnalyzer`,
//! `stem::convolve::Convolver`). `dubstage_gpu`'s crate doc keeps the table and says why.
//!
//! The mix's sum goes through [`Backend::sum_sources`] ([`sources`]): the CPU backend
//! decodes plain stems straight into the sum, another backend gets planar inputs
//! through the default, with the same bits.

pub mod cpu;
pub mod sources;

use crate::Result;
use crate::stem::chain::{InsertChain, InsertSpec};
use crate::stem::convolve::{Convolver, ConvolverOptions, Ir, IrMap, load_ir};
use serde::Serialize;
use std::path::Path;

// The analyzer and convolution seams are defined where their CPU references live
// (the loudness and stem layers, below this one); a backend implements them.
pub use crate::loudness::{Analyzer, AnalyzerConfig, Hop};
pub use crate::stem::convolve::ConvolveEngine;
pub use sources::{FileSource, Routing, SourceSum, SumSource};

/// Who computed the figures, recorded in the QC report and `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendInfo {
    /// `"cpu"` or `"gpu"`.
    pub kind: String,
    /// Adapter or CPU name.
    pub name: String,
    /// Graphics API (Vulkan, Metal, Dx12, Gl) for a GPU; empty for the CPU.
    pub api: String,
    /// wgpu device type (DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other) or `"cpu"`.
    pub device_type: String,
    /// Driver name and version, when the adapter reports them.
    pub driver: String,
}

// The CPU description lives with the report model (a lower layer) that records it.
pub use crate::qc::report::CpuInfo;

/// A summing job: every output channel is a weighted sum of the input channels,
/// each input multiplied sample by sample by a gain envelope:
///
/// `out[o][t] = Σ_i matrix[o * inputs.len() + i] * envelopes[envelope_of[i]][t] * inputs[i][t]`
///
/// summed in increasing `i` (so the CPU and the GPU add in the same order).
#[derive(Debug, Clone, Copy)]
pub struct SumJob<'a> {
    /// Frames to produce; every input and envelope slice holds at least this many.
    pub frames: usize,
    /// Planar input channels (all stems' channels, one after the other).
    pub inputs: &'a [&'a [f32]],
    /// For each input channel, which envelope scales it.
    pub envelope_of: &'a [usize],
    /// Per-sample linear gains (automation, stem gain and bus gain folded in).
    pub envelopes: &'a [&'a [f32]],
    /// Routing and pan coefficients, `outputs x inputs.len()`, row-major.
    pub matrix: &'a [f32],
    /// Number of output channels.
    pub outputs: usize,
}

/// Places per-source routing matrices side by side: each `(width, m)` is an
/// `outputs x width` row-major matrix; the result is `outputs x Σ width` (the
/// [`SumJob::matrix`] of the sources' channels one after the other).
pub fn side_by_side(outputs: usize, sources: &[(usize, &[f32])]) -> Vec<f32> {
    let ni: usize = sources.iter().map(|(w, _)| w).sum();
    let mut matrix = vec![0f32; outputs * ni];
    let mut col = 0;
    for &(w, m) in sources {
        for o in 0..outputs {
            matrix[o * ni + col..o * ni + col + w].copy_from_slice(&m[o * w..(o + 1) * w]);
        }
        col += w;
    }
    matrix
}

impl SumJob<'_> {
    /// Checks the shapes; backends call this before running.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(crate::Error::Backend(m));
        if self.envelope_of.len() != self.inputs.len() {
            return bad(format!(
                "sum: {} inputs but {} envelope indices",
                self.inputs.len(),
                self.envelope_of.len()
            ));
        }
        if self.matrix.len() != self.outputs * self.inputs.len() {
            return bad(format!(
                "sum: matrix has {} coefficients, expected {} x {}",
                self.matrix.len(),
                self.outputs,
                self.inputs.len()
            ));
        }
        if let Some(i) = self.inputs.iter().position(|x| x.len() < self.frames) {
            return bad(format!(
                "sum: input {i} shorter than {} frames",
                self.frames
            ));
        }
        if let Some(e) = self.envelopes.iter().position(|x| x.len() < self.frames) {
            return bad(format!(
                "sum: envelope {e} shorter than {} frames",
                self.frames
            ));
        }
        if let Some(&e) = self
            .envelope_of
            .iter()
            .find(|&&e| e >= self.envelopes.len())
        {
            return bad(format!("sum: envelope index {e} out of range"));
        }
        Ok(())
    }
}

/// The stage operations the pipeline runs on blocks of audio.
pub trait Backend: Send {
    /// Who runs the work.
    fn info(&self) -> BackendInfo;
    /// Runs a [`SumJob`]; `out` gets `job.outputs` channels of `job.frames` samples
    /// (resized as needed).
    fn sum(&mut self, job: &SumJob<'_>, out: &mut [Vec<f32>]) -> Result<()>;
    /// A new streaming analyzer.
    fn analyzer(&self, cfg: &AnalyzerConfig) -> Result<Box<dyn Analyzer>>;
    /// Runs one block of the mix's [`SourceSum`] (stems and returns into the bus
    /// outputs, plain stems read straight from their files); `out` gets
    /// `job.routing.outputs()` channels of `job.frames` samples. The result must be the
    /// bits [`Backend::sum`] gives for the same inputs decoded into planar buffers. The
    /// default does exactly that ([`sources::planar_sum`]); the CPU backend decodes the
    /// files into the sum as it adds them ([`sources::direct_sum`]).
    fn sum_sources(&mut self, job: &SourceSum<'_>, out: &mut [Vec<f32>]) -> Result<()> {
        sources::planar_sum(self, job, out)
    }
    /// Frames per render block that suit this backend (the render's output does not
    /// depend on it): the CPU wants blocks that stay in its caches
    /// ([`cpu::BLOCK_FRAMES`]), a GPU wants fewer, larger dispatches.
    fn preferred_block_frames(&self) -> usize;
    /// An analyzer for callers that keep only the maximum true peak per channel over
    /// the stream (the loudness meter): each hop's `true_peak` may be a lower bound as
    /// long as the maximum over all hops is exact. Energies and sample peaks are as
    /// [`Backend::analyzer`]'s. The default is [`Backend::analyzer`].
    fn summary_analyzer(&self, cfg: &AnalyzerConfig) -> Result<Box<dyn Analyzer>> {
        self.analyzer(cfg)
    }
    /// A streaming convolution of a `channels`-channel stem with `ir` (routes
    /// from `map`, levels and predelay from `opts`). The default is the CPU
    /// reference [`Convolver`]; errors name the IR file.
    fn convolver(
        &self,
        ir: &Ir,
        channels: usize,
        map: &IrMap,
        opts: &ConvolverOptions,
    ) -> Result<Box<dyn ConvolveEngine>> {
        Ok(Box::new(Convolver::new(ir, channels, map, opts)?))
    }
}

/// [`InsertChain::build`] with the convolutions run by `backend`
/// ([`Backend::convolver`]: the GPU engine on `dubstage_gpu::GpuBackend`, the CPU
/// [`Convolver`] elsewhere). Same errors as [`InsertChain::build`].
pub fn insert_chain(
    backend: &dyn Backend,
    specs: &[InsertSpec],
    sample_rate: u32,
    channels: usize,
    base_dir: &Path,
    stem_id: &str,
) -> Result<InsertChain> {
    InsertChain::build_with(
        specs,
        sample_rate,
        channels,
        base_dir,
        stem_id,
        &|p| load_ir(p, sample_rate),
        &|ir, c, m, o| backend.convolver(ir, c, m, o),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn side_by_side_places_each_matrix_in_its_columns() {
        // 2 outputs: a mono source (gains 1, 2) and a stereo one ([[3, 4], [5, 6]]).
        let m = super::side_by_side(2, &[(1, &[1.0, 2.0]), (2, &[3.0, 4.0, 5.0, 6.0])]);
        assert_eq!(m, vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
        assert!(super::side_by_side(3, &[]).is_empty());
    }
}
