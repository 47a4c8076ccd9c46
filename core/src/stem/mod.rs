//! Per-stem processing: automation and gain envelopes (pan lives in
//! [`crate::mix::route_matrix`]; inserts in the submodules).

pub mod automation;

pub use automation::Envelope;
