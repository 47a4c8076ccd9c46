//! Mastering: delivery profiles, static loudness normalization and the true-peak limiter.
//!
//! ```text
//! LoudnessSummary ──► normalize::normalization(profile) ──► static gain
//!                                                              │
//! printmaster × gain ──► Limiter (true-peak, lookahead) ──► deliverable
//!                            └── gain envelope ──► M&E, stems × same gain
//! ```

pub mod limiter;
pub mod normalize;
pub mod profile;

pub use limiter::{GainFollower, Limiter, LimiterOptions, LimiterStats};
pub use normalize::{Compliance, Normalization, check, normalization};
pub use profile::{DeliveryProfile, DialogueFallback, GatingMode, OnFailure, PRESETS};
