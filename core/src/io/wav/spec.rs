//! What a writer is asked to write (format, container, channel mask, bext, dither seed)
//! and what it wrote.

use super::{Bext, Container, SampleFormat};
use serde::Serialize;
use std::path::PathBuf;

/// Sample format of a deliverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OutputFormat {
    /// 16-bit PCM with TPDF dither (exact zeros stay zero, see [`crate::io::dither::quantize`]).
    Pcm16,
    /// 24-bit PCM with TPDF dither (exact zeros stay zero).
    Pcm24,
    /// 32-bit IEEE float.
    Float32,
}

impl OutputFormat {
    /// Bits per sample.
    pub fn bits(self) -> u16 {
        match self {
            OutputFormat::Pcm16 => 16,
            OutputFormat::Pcm24 => 24,
            OutputFormat::Float32 => 32,
        }
    }
    /// The [`SampleFormat`] it is stored as.
    pub fn sample_format(self) -> SampleFormat {
        match self {
            OutputFormat::Pcm16 => SampleFormat::Int(16),
            OutputFormat::Pcm24 => SampleFormat::Int(24),
            OutputFormat::Float32 => SampleFormat::Float(32),
        }
    }
}

/// When to write RF64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rf64Mode {
    /// Plain RIFF up to `threshold` bytes of data, RF64 (or BW64) past it.
    /// A file too large for 32-bit sizes always becomes RF64/BW64.
    Auto {
        /// Bytes of audio data above which the file is written as RF64/BW64.
        threshold: u64,
    },
    /// Always RF64/BW64 (the `ds64` chunk is written even for small files).
    Always,
    /// Never: writing more than a RIFF can hold (4 GiB) is an error.
    Never,
}

impl Rf64Mode {
    /// `Auto` at the RIFF limit: RF64 only when 32-bit sizes do not suffice.
    pub const AUTO: Rf64Mode = Rf64Mode::Auto {
        threshold: u32::MAX as u64,
    };
}

/// What to write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WavSpec {
    /// Interleaved channels (WAV order, e.g. L R C LFE Ls Rs for 5.1).
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Sample format (PCM is TPDF-dithered).
    pub format: OutputFormat,
    /// dwChannelMask written in the WAVE_FORMAT_EXTENSIBLE header (used when
    /// the file has more than 2 channels or more than 16 bits).
    pub channel_mask: u32,
    /// A `bext` chunk to write; its space is reserved at create and its final
    /// contents (see [`WavWriter::set_bext`]) are written at finish.
    pub bext: Option<Bext>,
    /// When the file becomes RF64/BW64.
    pub rf64: Rf64Mode,
    /// Write 'BW64' instead of 'RF64' when the file needs 64-bit sizes.
    pub bw64: bool,
    /// Seed of the TPDF dither (one independent stream per channel derived from it).
    pub dither_seed: u64,
}

impl WavSpec {
    /// A spec with no channel mask, no bext, RF64 only past the RIFF limit
    /// ([`Rf64Mode::AUTO`]), 'RF64' rather than 'BW64', dither seed 0.
    pub fn new(channels: u16, sample_rate: u32, format: OutputFormat) -> Self {
        WavSpec {
            channels,
            sample_rate,
            format,
            channel_mask: 0,
            bext: None,
            rf64: Rf64Mode::AUTO,
            bw64: false,
            dither_seed: 0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WrittenFile {
    /// The final path (after the rename).
    pub path: PathBuf,
    /// RIFF, or RF64/BW64 when 64-bit sizes were written.
    pub container: Container,
    /// Sample frames written.
    pub frames: u64,
    /// Size of the file in bytes.
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
