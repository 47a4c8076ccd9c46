//! One module per shader in `shaders/`.

pub mod convolve;
pub mod fft;
pub mod k_weight;
pub mod sum_stems;
