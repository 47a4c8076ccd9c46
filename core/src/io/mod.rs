//! Reading and writing audio files: WAV (PCM 8/16/24/32, float 32/64,
//! WAVE_FORMAT_EXTENSIBLE with channel masks), RF64/BW64, Broadcast Wave `bext`.
//!
//! - [`WavReader`]: streaming, bulk-decoding reader of RIFF/RF64/BW64.
//! - [`WavWriter`]: atomic (temporary file + rename), dithering writer that
//!   upgrades to RF64/BW64 at finish when the data needs 64-bit sizes.
//! - [`bext`]: EBU Tech 3285 chunk parse/serialize; [`dither`]: TPDF dither.

pub mod bext;
pub mod dither;
pub mod wav;

pub use wav::{
    BEXT_CODING_HISTORY_RESERVE, Bext, BextLoudness, Container, OutputFormat, Rf64Mode,
    SampleFormat, WavInfo, WavReader, WavSpec, WavWriter, WrittenFile, read_info,
};
