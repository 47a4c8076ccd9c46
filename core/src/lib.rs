//! # dubstage-core
//!
//! The mix and printmaster pipeline of dubstage, in pure Rust (it also compiles
//! to wasm32). The modules follow the signal path:
//!
//! ```text
//! session (TOML) ──► io (WAV/RF64/BW64 decode, streamed in blocks)
//!        │
//!        ▼
//! stem: automation, gain/pan ──► mix: Backend::sum into buses (DX, MX, FX, ...)
//!        │                                   │
//!        │                   printmaster = Σ buses, M&E = Σ non-dialogue buses,
//!        │                   DME stems, downmixes (Lo/Ro)
//!        ▼                                   ▼
//! loudness (BS.1770-4 via Backend::analyzer) ──► master (normalize, true-peak limit)
//!                                                    │
//!                                                    ▼
//!                                 io (deliverables, atomic) ──► qc (report)
//! ```
//!
//! [`backend::Backend`] is the one seam between the CPU reference and the GPU.

pub mod backend;
pub mod conform;
pub mod demo;
pub mod editorial;
pub mod error;
pub mod io;
pub mod layout;
pub mod loudness;
pub mod master;
pub mod mix;
pub mod pipeline;
pub mod qc;
pub mod reconform;
pub mod render_report;
pub mod session;
pub mod spot;
pub mod stem;
pub mod timecode;
pub mod timeline;

pub use error::{Error, Result};
pub use layout::{Channel, Layout};
pub use timecode::{FrameRate, Timecode};

/// The version recorded in reports and in bext coding history.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
