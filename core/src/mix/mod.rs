//! Bus summing and downmixes.

pub mod matrix;
