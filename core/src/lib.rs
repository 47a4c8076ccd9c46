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
//!
//! ## Layers
//!
//! Imports run one way, down the signal path: a module may use its own layer and the
//! layers below it, never one above (`core/tests/layers.rs` scans every `crate::` and
//! `super::` path against this order). A type two layers need lives in the lower one;
//! a lower layer that needs behaviour from a higher one takes a value or a closure.
//!
//! ```text
//! top     jobs     `demo`, `feature` (reels and long plays), `conform`, `reconform`,
//!                  `preview` (the browser preview's manifest, mixer and meter)
//!         engine   `pipeline`: the mix graph (the one mixer: render and preview), sources,
//!                  the render's mixer, levelling, outputs, metering, the render's passes,
//!                  summary (one module each)
//!         report   `render_report`: the QC report of a render, the per-deliverable
//!                  results the engine hands it
//!         backend  `backend`: the Backend trait, the CPU reference, the sum of sources
//!         session  `session`: the parsed, validated plan (knows DSP configs, not the
//!                  engine); `timeline`: tracks of clips, played as stems
//!         dsp      `stem` (inserts), `mix` (routing, downmix, matrix), `loudness`
//!                  (filters, analyzer hops, meter, gating, histograms), `master`
//!                  (normalize, limiter), `qc` (detectors, the report model and its
//!                  renderings), `resample` (rate and speed), `dialogue` (sync,
//!                  denoise, align, takes)
//!         io       `io` (WAV/RF64/BW64/bext/iXML/FLAC, recorder metadata), `spot`
//!                  (spotting lists), `editorial` (CMX 3600 EDL, OpenTimelineIO)
//!         sink     `io::sink`: the writers' platform I/O (hashing thread, background
//!                  sync, `O_DIRECT`), knowing no file format
//! bottom  base     `error`, `timecode`, `layout`, `layout_detect`, `text`, and the
//!                  items of this file
//! ```

pub mod backend;
pub mod conform;
pub mod demo;
pub mod dialogue;
pub mod editorial;
pub mod error;
pub mod feature;
pub mod io;
pub mod layout;
pub mod layout_detect;
pub mod loudness;
pub mod master;
pub mod mix;
pub mod pipeline;
pub mod preview;
pub mod qc;
pub mod reconform;
pub mod render_report;
pub mod resample;
pub mod session;
pub mod spot;
pub mod stem;
pub mod text;
pub mod timecode;
pub mod timeline;

pub use error::{Error, Result};
pub use layout::{Channel, Layout};
pub use timecode::{FrameRate, Timecode};

/// The version recorded in reports and in bext coding history.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The index of the first sample of `x` from `from` on for which `hit` holds, or
/// `x.len()`: tested in groups without an early exit (so the test runs in vector lanes),
/// then sample by sample inside the group that hits. The QC detectors skip with it the
/// stretches where a sample changes no state.
#[inline]
pub(crate) fn first_where(x: &[f32], from: usize, hit: impl Fn(f32) -> bool) -> usize {
    const GROUP: usize = 32;
    let mut at = from;
    for g in x[from..].chunks(GROUP) {
        if g.iter().fold(false, |any, &v| any | hit(v)) {
            return at + g.iter().position(|&v| hit(v)).unwrap_or(g.len());
        }
        at += g.len();
    }
    x.len()
}

/// Whether `x` is digital silence (every sample ±0.0). The DSP that is at rest skips
/// such stretches where processing them would change nothing (K-weighting, the QC
/// detectors' sums and high-pass, the dither draws).
pub fn is_digital_silence(x: &[f32]) -> bool {
    first_where(x, 0, |v| v != 0.0) == x.len()
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
