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
