//! WAV, RF64 and BW64 files: a streaming reader and an atomic, dithering writer.
//!
//! Containers: RIFF/WAVE (Microsoft/IBM Multimedia Programming Interface and
//! Data Specifications 1.0, 1991), RF64 (EBU Tech 3306) and BW64 (ITU-R
//! BS.2088), whose `ds64` chunk carries the 64-bit RIFF size, data size and
//! sample count while the 32-bit fields hold `0xFFFFFFFF`. Formats:
//! `WAVE_FORMAT_PCM` (1), `WAVE_FORMAT_IEEE_FLOAT` (3) and
//! `WAVE_FORMAT_EXTENSIBLE` (0xFFFE) with the PCM or float sub-format GUID;
//! the extensible `dwChannelMask` is kept (hound drops it, which is why
//! dubstage parses WAV itself). Broadcast Wave `bext` (EBU Tech 3285) is read
//! and written by [`super::bext`].
//!
//! Both directions work in bulk: a block of frames is read (or written) with
//! one I/O call and converted in memory, so memory stays bounded by the block
//! size the caller asks for.
//!
//! The modules: `header` (the chunks' bytes, both ways), `read` (the streaming
//! reader), `decode` (file bytes to planar f32), `encode` (planar f32 to file bytes),
//! `spec` (what to write), `write` (the atomic writer); the writer's platform I/O (the hashing thread,
//! background sync, `O_DIRECT`) lives in `io::sink`.

mod decode;
mod encode;
mod header;
mod read;
mod spec;
mod write;

pub use header::MAX_SAMPLE_RATE;
pub use read::{POSITIONAL_READS, WavReader, read_info};
pub use spec::{OutputFormat, Rf64Mode, WavSpec, WrittenFile};
pub use write::{BEXT_CODING_HISTORY_RESERVE, FinishedFile, IXML_RESERVE, WavWriter};

use super::ixml::IXml;
use serde::Serialize;
use std::path::PathBuf;

/// The container that holds the data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Container {
    /// Plain RIFF/WAVE (32-bit sizes, files below 4 GiB).
    Riff,
    /// RF64 (EBU Tech 3306): 64-bit sizes in a `ds64` chunk.
    Rf64,
    /// BW64 (ITU-R BS.2088): as RF64 with the 'BW64' identifier.
    Bw64,
    /// FLAC (read only, see [`super::AudioReader`]).
    Flac,
}

/// How samples are stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SampleFormat {
    /// Integer PCM of this many bits (8, 16, 24, 32; 8 is unsigned in WAV).
    Int(u16),
    /// IEEE float of this many bits (32, 64).
    Float(u16),
}

/// bext v2 loudness fields (EBU Tech 3285 v2), in their natural units.
/// `None` is stored as 0x7FFF ("not set").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct BextLoudness {
    /// LoudnessValue: integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// LoudnessRange, LU.
    pub range_lu: Option<f64>,
    /// MaxTruePeakLevel, dBTP.
    pub max_true_peak_dbtp: Option<f64>,
    /// MaxMomentaryLoudness, LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// MaxShortTermLoudness, LUFS.
    pub max_short_term_lufs: Option<f64>,
}

/// A Broadcast Wave `bext` chunk (EBU Tech 3285). Text fields longer than
/// their fixed sizes (256, 32, 32, 10, 8 bytes) are truncated when written.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Bext {
    /// Description (256 bytes).
    pub description: String,
    /// Originator (32 bytes).
    pub originator: String,
    /// OriginatorReference (32 bytes).
    pub originator_reference: String,
    /// yyyy-mm-dd
    pub origination_date: String,
    /// hh:mm:ss (written as hh-mm-ss or hh:mm:ss as read)
    pub origination_time: String,
    /// Samples since midnight of the first sample.
    pub time_reference: u64,
    /// Version as read (0, 1, 2); dubstage always writes 2.
    pub version: u16,
    /// v2 loudness fields (all `None` for v0/v1 files).
    pub loudness: BextLoudness,
    /// CodingHistory (CR/LF separated lines), trailing NULs removed.
    pub coding_history: String,
}

/// What a WAV header says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WavInfo {
    /// The file as opened.
    pub path: PathBuf,
    /// RIFF, RF64, BW64 (or FLAC through [`super::AudioReader`]).
    pub container: Container,
    /// Interleaved channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// The stored sample format.
    pub format: SampleFormat,
    /// dwChannelMask when the file is WAVE_FORMAT_EXTENSIBLE and the mask is non-zero.
    pub channel_mask: Option<u32>,
    /// Length in sample frames.
    pub frames: u64,
    /// The Broadcast Wave chunk, when present.
    pub bext: Option<Bext>,
    /// The iXML chunk, when present (see [`super::ixml`]).
    pub ixml: Option<IXml>,
}

impl WavInfo {
    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

impl SampleFormat {
    /// Bits per stored sample.
    pub fn bits(self) -> u16 {
        match self {
            SampleFormat::Int(b) | SampleFormat::Float(b) => b,
        }
    }
}
