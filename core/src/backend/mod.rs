//! The one seam between the CPU and the GPU.
//!
//! The pipeline calls a [`Backend`] on blocks of planar `f32` audio. The CPU
//! implementation ([`cpu::CpuBackend`]) is the reference; `dubstage-gpu`
//! implements the same trait with wgpu compute shaders, and every shader
//! `shaders/X.wgsl` has a CPU twin named `X` here, so one test body runs on both.

pub mod cpu;

use crate::Result;
use crate::stem::convolve::{Convolver, ConvolverOptions, Ir, IrMap};
use serde::Serialize;

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

/// The CPU a render ran on: its architecture and the SIMD features that matter to
/// floating-point results (vector width, fused multiply-add), recorded in the QC
/// report and `--json` so that two prints can be compared knowing where each was made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct CpuInfo {
    /// `std::env::consts::ARCH` (`x86_64`, `aarch64`, `wasm32`, ...).
    pub arch: String,
    /// The features detected at run time (x86: sse4.1, avx, avx2, fma, avx512f;
    /// aarch64: neon; wasm32: simd128 when compiled in).
    pub features: Vec<String>,
}

impl CpuInfo {
    /// The CPU this process runs on.
    pub fn detect() -> CpuInfo {
        #[allow(unused_mut)]
        let mut features: Vec<&str> = Vec::new();
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        {
            let found = [
                ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
                ("avx", std::arch::is_x86_feature_detected!("avx")),
                ("avx2", std::arch::is_x86_feature_detected!("avx2")),
                ("fma", std::arch::is_x86_feature_detected!("fma")),
                ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ];
            features.extend(found.iter().filter(|f| f.1).map(|f| f.0));
        }
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("neon") {
            features.push("neon");
        }
        #[cfg(target_arch = "wasm32")]
        if cfg!(target_feature = "simd128") {
            features.push("simd128");
        }
        CpuInfo {
            arch: std::env::consts::ARCH.to_string(),
            features: features.into_iter().map(str::to_string).collect(),
        }
    }

    /// `x86_64 (sse4.1, avx, avx2, fma)`.
    pub fn describe(&self) -> String {
        if self.features.is_empty() {
            self.arch.clone()
        } else {
            format!("{} ({})", self.arch, self.features.join(", "))
        }
    }
}

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

/// What an [`Analyzer`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerConfig {
    /// Channels pushed per call.
    pub channels: usize,
    /// Sample rate in Hz; 100 ms must be a whole number of samples.
    pub sample_rate: u32,
    /// True-peak oversampling factor (0 = no true peak; 4 is BS.1770-4 at 48 kHz;
    /// 2 at 96 kHz; 8 or 16 for a closer estimate).
    pub true_peak_oversample: u32,
}

/// Figures for one 100 ms hop (the BS.1770 gating step), per channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hop {
    /// Frames in this hop: `sample_rate / 10`, fewer only for the last one.
    pub frames: usize,
    /// Sum of squares of the K-weighted signal over the hop (not yet divided).
    pub energy: Vec<f64>,
    /// Maximum absolute sample value.
    pub sample_peak: Vec<f32>,
    /// Maximum absolute value of the oversampled signal (0 when true peak is off).
    pub true_peak: Vec<f32>,
}

/// Streaming loudness analysis: K-weighted hop energies and peaks.
/// Filter state is carried across `push` calls, so the hops are the same
/// whatever the block size.
pub trait Analyzer: Send {
    /// Feeds planar audio (one slice per channel, equal lengths).
    fn push(&mut self, planar: &[&[f32]]) -> Result<()>;
    /// Completed hops since the last call, in order.
    fn take_hops(&mut self) -> Result<Vec<Hop>>;
    /// Ends the stream: the remaining hops, the last one possibly partial.
    fn finish(&mut self) -> Result<Vec<Hop>>;
}

/// A streaming, zero-latency multi-channel convolution (an insert's reverb or
/// futz IR). [`Convolver`] is the CPU reference; `dubstage-gpu` runs the same
/// uniformly partitioned overlap-save on the GPU (`shaders/convolve.wgsl`).
/// State is carried across calls: any chunking gives the same output.
pub trait ConvolveEngine: Send {
    /// Convolves the first `frames` samples of each channel in place
    /// (`planar.len()` = the channel count it was built for).
    fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()>;
    /// Frames the output keeps ringing after the input stops (IR length − 1 +
    /// predelay): feed that many zeros to get the whole tail.
    fn tail_frames(&self) -> usize;
    /// The partition size `B`: chunks that are multiples of it cost the least.
    fn block_frames(&self) -> usize;
}

impl ConvolveEngine for Convolver {
    fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()> {
        if planar.len() != self.channels() || planar.iter().any(|c| c.len() < frames) {
            return Err(crate::Error::Backend(format!(
                "convolve: {} channel buffers (need {} of at least {frames} frames)",
                planar.len(),
                self.channels()
            )));
        }
        Convolver::process_planar(self, planar, frames);
        Ok(())
    }
    fn tail_frames(&self) -> usize {
        Convolver::tail_frames(self)
    }
    fn block_frames(&self) -> usize {
        Convolver::block_frames(self)
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
    /// Frames per render block that suit this backend (the render's output does not
    /// depend on it): the CPU wants blocks that stay in its caches, a GPU wants fewer,
    /// larger dispatches.
    fn preferred_block_frames(&self) -> usize {
        crate::pipeline::DEFAULT_BLOCK_FRAMES
    }
    /// Whether [`Backend::sum`] is the CPU's [`cpu::sum_stems`]: then the mixer may
    /// decode plain stems (no inserts, sends or 2-pop check) straight into the sum with
    /// [`cpu::accumulate`], the same arithmetic in the same order per output sample,
    /// without a planar copy of them in memory. Other backends get planar inputs.
    fn sums_on_cpu(&self) -> bool {
        false
    }
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
