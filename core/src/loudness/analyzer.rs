//! The analyzer seam of loudness: what a backend's analyzer produces (a [`Hop`] per
//! 100 ms) and the trait it implements. The CPU analyzer is [`super::HopAnalyzer`];
//! `dubstage-gpu` implements [`Analyzer`] with `shaders/k_weight.wgsl`. These types
//! live here, below the backend, because the meter (f64 gating) reads them whoever
//! produced them.

use crate::Result;

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

/// Builds an [`Analyzer`] for a configuration: how code below the backend layer asks
/// for one (`&|cfg| backend.summary_analyzer(cfg)`).
pub type AnalyzerFactory<'a> = dyn Fn(&AnalyzerConfig) -> Result<Box<dyn Analyzer>> + 'a;
