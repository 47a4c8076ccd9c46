//! Per-stem processing: automation, gain and pan.

pub mod chain;
pub mod convolve;
pub mod eq;
