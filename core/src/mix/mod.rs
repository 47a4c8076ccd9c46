//! Bus summing, routing and downmixes.
//!
//! Routing a stem into a bus is a `bus channels x stem channels` matrix; the
//! matrices of every stem are stacked into one [`crate::backend::SumJob`].

pub mod downmix;
pub mod matrix;

pub use downmix::{PanSpec, downmix_matrix, route_matrix};
