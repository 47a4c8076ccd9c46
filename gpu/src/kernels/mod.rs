//! One module per shader in `shaders/`.

pub mod k_weight;
pub mod sum_stems;
