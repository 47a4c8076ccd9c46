//! The streaming render: stems -> buses -> deliverables, block by block.
//!
//! Memory is bounded by the block size, the number of channels and the
//! processing state, never by the reel's length. Every deliverable is written
//! to a temporary file beside its final path and renamed only when the whole
//! render succeeded, so a failed render leaves nothing at a final path.
//! Work is spread over threads per stem, per output channel and per file, and
//! each unit is computed in a fixed order, so the bytes do not depend on the
//! thread count.
//!
//! Two halves overlap: while one block is written, metered and checked, the next
//! is read and mixed. On the CPU backend, stems without inserts, sends or a 2-pop
//! check are decoded from their files (positional reads, tiles of the block in
//! parallel) straight into the bus sums, with the arithmetic and order of
//! `cpu::sum_stems`: the same bytes as through [`crate::backend::Backend::sum`], without
//! a planar copy of every stem crossing memory.
//!
//! The modules follow the signal path: `sources` (stems read onto the reel timeline),
//! `mixer` (the mix graph: inserts, sends and returns, buses, dialogue/M&E/printmaster),
//! `level` (gain and limiter: the producer half of pass 2), `output` (the deliverables'
//! writers: the consumer half), `measure` (meters and detectors, the measuring pass, the
//! 2-pop check), `passes` (the render from start to commit), `speed` (speed versions of written
//! files), `summary` (what it did).

mod graph;
mod level;
mod measure;
mod mixer;
mod output;
mod passes;
pub mod room_tone;
mod sources;
pub mod speed;
mod summary;

pub use graph::{BusNode, Controls, Graph, GraphSpec, MixBlock, ReturnNode, SendNode, StemNode};
pub use measure::measure_mix;
pub use mixer::Mixer;
pub use output::deliverable_files;
pub use passes::{render, render_with_normalization};
pub use sources::StemReader;
pub use summary::{MANIFEST, NormalizationResult, RenderSummary, peak_db};

// The results the report reads are defined in the report layer, below the engine.
pub use crate::render_report::{DeliverableResult, LoudnessBrief, SpeedVersionResult};
use std::path::PathBuf;

/// Frames per block unless the caller asks otherwise: the CPU backend's
/// [`crate::backend::cpu::BLOCK_FRAMES`] (a caller with another backend asks it,
/// [`crate::backend::Backend::preferred_block_frames`]). The output does not depend on it.
pub const DEFAULT_BLOCK_FRAMES: usize = crate::backend::cpu::BLOCK_FRAMES;

/// Render settings.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Where deliverables go (created if missing).
    pub out_dir: PathBuf,
    /// Frames per processing block.
    pub block_frames: usize,
    /// Meter and check every deliverable and write `qc/report.{json,html}` (the default).
    /// Off, the render is a plain print: files, peaks, hashes and the manifest, no
    /// loudness, no QC report (refused when the session names a delivery profile).
    pub qc: bool,
    /// Set (by a signal handler) to stop the render: it is checked once per block, and
    /// the render then returns [`crate::Error::Cancelled`] having removed its temporary files.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl RenderOptions {
    /// Default options writing into `out_dir`, with QC.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        RenderOptions {
            out_dir: out_dir.into(),
            block_frames: DEFAULT_BLOCK_FRAMES,
            qc: true,
            cancel: None,
        }
    }
}

/// A progress callback: (frames done, frames total).
pub type ProgressFn<'a> = &'a (dyn Fn(u64, u64) + Sync);
