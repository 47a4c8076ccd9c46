//! Per-stem processing: automation, gain and pan.
