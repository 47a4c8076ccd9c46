//! API STUB: the io helper replaces this file with the real implementation.
#![allow(unused_variables, dead_code)]

use crate::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The container that holds the data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Container {
    Riff,
    Rf64,
    Bw64,
}

/// How samples are stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SampleFormat {
    /// Integer PCM of this many bits (8, 16, 24, 32).
    Int(u16),
    /// IEEE float of this many bits (32, 64).
    Float(u16),
}

/// bext v2 loudness fields (EBU Tech 3285 v2), in their natural units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct BextLoudness {
    pub integrated_lufs: Option<f64>,
    pub range_lu: Option<f64>,
    pub max_true_peak_dbtp: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_short_term_lufs: Option<f64>,
}

/// A Broadcast Wave `bext` chunk (EBU Tech 3285).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Bext {
    pub description: String,
    pub originator: String,
    pub originator_reference: String,
    /// yyyy-mm-dd
    pub origination_date: String,
    /// hh:mm:ss (written as hh-mm-ss or hh:mm:ss as read)
    pub origination_time: String,
    /// Samples since midnight of the first sample.
    pub time_reference: u64,
    pub version: u16,
    pub loudness: BextLoudness,
    pub coding_history: String,
}

/// What a WAV header says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WavInfo {
    pub path: PathBuf,
    pub container: Container,
    pub channels: u16,
    pub sample_rate: u32,
    pub format: SampleFormat,
    /// dwChannelMask when the file is WAVE_FORMAT_EXTENSIBLE and the mask is non-zero.
    pub channel_mask: Option<u32>,
    /// Length in sample frames.
    pub frames: u64,
    pub bext: Option<Bext>,
}

/// A streaming reader (bounded memory: reads only what is asked).
pub struct WavReader {}

impl WavReader {
    /// Opens and parses the header; errors name the file and what is wrong
    /// (not RIFF/RF64/BW64, missing fmt or data, unsupported format, truncated data).
    pub fn open(path: &Path) -> Result<Self> {
        unimplemented!()
    }
    pub fn info(&self) -> &WavInfo {
        unimplemented!()
    }
    /// Positions the next read at `frame` (clamped to the end).
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        unimplemented!()
    }
    /// Reads up to `frames` frames into `out` (one Vec per channel; each is
    /// cleared and filled), converting to f32 in [-1, 1). Returns frames read,
    /// 0 at the end. Fewer than asked only at the end of the data.
    pub fn read_planar(&mut self, out: &mut [Vec<f32>], frames: usize) -> Result<usize> {
        unimplemented!()
    }
}

/// Sample format of a deliverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OutputFormat {
    /// 16-bit PCM with TPDF dither.
    Pcm16,
    /// 24-bit PCM with TPDF dither.
    Pcm24,
    /// 32-bit IEEE float.
    Float32,
}

/// When to write RF64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rf64Mode {
    /// Plain RIFF up to `threshold` bytes of data, RF64 (or BW64) past it.
    Auto {
        threshold: u64,
    },
    Always,
    Never,
}

/// What to write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WavSpec {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: OutputFormat,
    pub channel_mask: u32,
    pub bext: Option<Bext>,
    pub rf64: Rf64Mode,
    /// Write 'BW64' instead of 'RF64' when the file needs 64-bit sizes.
    pub bw64: bool,
    /// Seed of the TPDF dither (one independent stream per channel derived from it).
    pub dither_seed: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub container: Container,
    pub frames: u64,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the whole file as it lies on disk.
    pub sha256: String,
    /// Per-channel absolute peak of the samples as written (after quantization).
    pub peak: Vec<f32>,
    /// Samples that had to be clipped to full scale (PCM only).
    pub clipped: u64,
    /// NaN or Inf samples found (written as 0).
    pub non_finite: u64,
}

/// A streaming writer that writes to a temporary file in the target folder and
/// renames it to the final path in [`WavWriter::finish`]; dropping it unfinished
/// removes the temporary file.
pub struct WavWriter {}

impl WavWriter {
    pub fn create(path: &Path, spec: WavSpec) -> Result<Self> {
        unimplemented!()
    }
    /// Appends planar frames (one slice per channel, equal lengths).
    pub fn write_planar(&mut self, chans: &[&[f32]]) -> Result<()> {
        unimplemented!()
    }
    pub fn finish(self) -> Result<WrittenFile> {
        unimplemented!()
    }
}
