//! API STUB: the loudness helper replaces this with BS.1770-4 measurement.
#![allow(unused_variables, dead_code)]

use crate::Result;
use crate::backend::{Analyzer, AnalyzerConfig, Hop};

/// CPU twin of the GPU analysis kernels (k_weight, block_energy, true_peak).
pub struct HopAnalyzer {}

impl HopAnalyzer {
    pub fn new(cfg: &AnalyzerConfig) -> Result<Self> {
        unimplemented!()
    }
}

impl Analyzer for HopAnalyzer {
    fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        unimplemented!()
    }
    fn take_hops(&mut self) -> Result<Vec<Hop>> {
        unimplemented!()
    }
    fn finish(&mut self) -> Result<Vec<Hop>> {
        unimplemented!()
    }
}

/// A biquad's coefficients normalized so that a0 = 1:
/// `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// BS.1770-4 K-weighting at `sample_rate`: `[stage 1 high shelf, stage 2 RLB high-pass]`,
/// derived from the analog prototypes (at 48 kHz equal to the published coefficients).
pub fn k_weighting(sample_rate: u32) -> [Biquad; 2] {
    unimplemented!()
}

/// A polyphase true-peak interpolation filter (BS.1770-4 Annex 2).
///
/// Output sample `n * factor + p` (phase `p` in `0..factor`) is
/// `Σ_k coeffs[p * taps_per_phase + k] * x[n - k]` for `k` in `0..taps_per_phase`
/// (x before the first sample is 0). The same bank drives the CPU analyzer and the GPU shader.
#[derive(Debug, Clone, PartialEq)]
pub struct TruePeakFir {
    pub factor: usize,
    pub taps_per_phase: usize,
    pub coeffs: Vec<f32>,
}

/// The interpolation filter for an oversampling `factor` (2, 4, 8 or 16).
pub fn true_peak_fir(factor: u32) -> Result<TruePeakFir> {
    unimplemented!()
}

/// The BS.1770-4 oversampling factor for a sample rate: 4x at 48 kHz, 2x at 96 kHz
/// (so that the oversampled rate is at least 192 kHz), 1 at 192 kHz and above.
pub fn default_true_peak_factor(sample_rate: u32) -> u32 {
    unimplemented!()
}
