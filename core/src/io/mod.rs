//! Reading and writing audio files: WAV (PCM 8/16/24/32, float 32/64,
//! WAVE_FORMAT_EXTENSIBLE with channel masks), RF64/BW64, Broadcast Wave
//! `bext`, and FLAC input.
//!
//! - [`AudioReader`]: opens a file by its content (RIFF/RF64/BW64 or FLAC)
//!   and streams it as planar f32.
//! - [`WavReader`]: streaming, bulk-decoding reader of RIFF/RF64/BW64.
//! - [`FlacFileReader`]: streaming FLAC reader (Symphonia).
//! - [`WavWriter`]: atomic (temporary file + rename), dithering writer that
//!   upgrades to RF64/BW64 at finish when the data needs 64-bit sizes.
//! - [`bext`]: EBU Tech 3285 chunk parse/serialize; [`ixml`]: the iXML chunk; [`dither`]: TPDF dither.

pub mod bext;
pub mod commit;
pub mod dither;
pub mod flac;
pub mod ixml;
pub mod plausible;
pub mod recorder;
mod sink;
pub mod wav;

pub use flac::FlacFileReader;
pub use ixml::{IXml, IXmlBext, IXmlSpeed, IXmlTrack};
pub use wav::{
    BEXT_CODING_HISTORY_RESERVE, Bext, BextLoudness, Container, FinishedFile, OutputFormat,
    Rf64Mode, SampleFormat, WavInfo, WavReader, WavSpec, WavWriter, WrittenFile,
};

use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// A streaming reader of any supported input, chosen by the file's first
/// bytes (not its extension): 'RIFF', 'RF64', 'BW64' -> [`WavReader`],
/// 'fLaC' -> [`FlacFileReader`].
#[derive(Debug)]
pub struct AudioReader {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Wav(Box<WavReader>),
    Flac(Box<FlacFileReader>),
}

impl AudioReader {
    /// Opens `path`, identifying it by content; errors name the file.
    pub fn open(path: &Path) -> Result<Self> {
        let (magic, got) = read_magic(path)?;
        let inner = match &magic[..got] {
            b"RIFF" | b"RF64" | b"BW64" => Inner::Wav(Box::new(WavReader::open(path)?)),
            b"fLaC" => Inner::Flac(Box::new(FlacFileReader::open(path)?)),
            b"ID3\x03" | b"ID3\x04" | b"ID3\x02" => {
                return Err(Error::format(
                    path,
                    "starts with an ID3 tag: not a WAV or FLAC file dubstage reads (strip the tag or convert to WAV)",
                ));
            }
            _ => {
                return Err(Error::format(
                    path,
                    "not a WAV (RIFF/RF64/BW64) or FLAC file",
                ));
            }
        };
        Ok(AudioReader { inner })
    }

    /// What the header says.
    pub fn info(&self) -> &WavInfo {
        match &self.inner {
            Inner::Wav(r) => r.info(),
            Inner::Flac(r) => r.info(),
        }
    }

    /// The next frame [`AudioReader::read_planar`] returns.
    pub fn position(&self) -> u64 {
        match &self.inner {
            Inner::Wav(r) => r.position(),
            Inner::Flac(r) => r.position(),
        }
    }

    /// The WAV reader, for positional reads ([`WavReader::read_planar_at`]); `None`
    /// for FLAC.
    pub fn as_wav(&self) -> Option<&WavReader> {
        match &self.inner {
            Inner::Wav(r) => Some(r),
            Inner::Flac(_) => None,
        }
    }

    /// Positions the next read at `frame` (clamped to the end).
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        match &mut self.inner {
            Inner::Wav(r) => r.seek(frame),
            Inner::Flac(r) => r.seek(frame),
        }
    }

    /// False when the last [`AudioReader::read_planar`] certainly returned finite
    /// samples only (so callers may skip their own NaN/Inf scan).
    pub fn may_hold_non_finite(&self) -> bool {
        match &self.inner {
            Inner::Wav(r) => r.may_hold_non_finite(),
            // FLAC holds integers.
            Inner::Flac(_) => false,
        }
    }

    /// Reads up to `frames` frames into `out` (one Vec per channel; each is
    /// cleared and filled) as f32. Returns frames read, 0 at the end.
    pub fn read_planar(&mut self, out: &mut [Vec<f32>], frames: usize) -> Result<usize> {
        match &mut self.inner {
            Inner::Wav(r) => r.read_planar(out, frames),
            Inner::Flac(r) => r.read_planar(out, frames),
        }
    }
}

/// The first (up to) 4 bytes of `path` and how many there are.
fn read_magic(path: &Path) -> Result<([u8; 4], usize)> {
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut got = 0;
    while got < 4 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok((magic, got))
}

/// Reads the header of any supported input (WAV/RF64/BW64/FLAC), by content.
pub fn read_info(path: &Path) -> Result<WavInfo> {
    Ok(match AudioReader::open(path)?.inner {
        Inner::Wav(r) => r.info().clone(),
        Inner::Flac(r) => r.info().clone(),
    })
}

/// The index of the first NaN or infinite sample (a branch-free scan per chunk, so the
/// common all-finite case runs at memory speed).
pub fn first_non_finite(x: &[f32]) -> Option<usize> {
    const CHUNK: usize = 1024;
    x.chunks(CHUNK).enumerate().find_map(|(i, c)| {
        let bad = c.iter().fold(false, |b, v| b | !v.is_finite());
        bad.then(|| i * CHUNK + c.iter().position(|v| !v.is_finite()).expect("found"))
    })
}
