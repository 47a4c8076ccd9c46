//! Per-stem processing: automation and gain envelopes (pan lives in
//! [`crate::mix::route_matrix`]; inserts in the submodules).

pub mod automation;
pub mod chain;
pub mod convolve;
pub mod eq;

pub use automation::Envelope;
