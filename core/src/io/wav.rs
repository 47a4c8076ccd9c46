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

use super::bext as bext_chunk;
use super::dither::{self, Rng};
use super::ixml::{self, IXml};
use crate::{Error, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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

/// Format tags (mmreg.h; RFC 2361).
const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 2..16 of the KSDATAFORMAT_SUBTYPE_* GUIDs
/// ({0000xxxx-0000-0010-8000-00AA00389B71}, ksmedia.h), as stored (little-endian
/// Data1..Data3); bytes 0..2 hold the format tag.
const KSDATAFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Size of a `ds64` body without a chunk table (EBU Tech 3306, 3.3: riffSize,
/// dataSize, sampleCount as u64, tableLength u32).
const DS64_LEN: u32 = 28;

/// The 32-bit size value meaning "see ds64" (EBU Tech 3306, 3.2).
const SIZE_IN_DS64: u32 = 0xFFFF_FFFF;

/// Highest sample rate read (768 kHz, 16x 48 kHz, the highest rate PCM converters
/// offer); anything above is a damaged header.
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Largest `bext` chunk read (a coding history longer than this is refused).
const MAX_BEXT: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    U8,
    I16,
    I24,
    I32,
    F32,
    F64,
}

/// A streaming WAV/RF64/BW64 reader (bounded memory: reads only what is asked,
/// one I/O call per [`WavReader::read_planar`]).
pub struct WavReader {
    file: File,
    info: WavInfo,
    decode: Decode,
    block_align: usize,
    data_start: u64,
    /// Next frame to read.
    pos: u64,
    /// The raw data of one read, in 4-byte words (so float data is aligned for `f32`).
    buf: Vec<u32>,
    /// Whether the last [`WavReader::read_planar`] may have returned NaN or infinity.
    maybe_non_finite: bool,
}

impl std::fmt::Debug for WavReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavReader")
            .field("info", &self.info)
            .field("pos", &self.pos)
            .finish()
    }
}

/// Parsed `fmt ` chunk.
struct Fmt {
    channels: u16,
    sample_rate: u32,
    format: SampleFormat,
    decode: Decode,
    block_align: u16,
    mask: Option<u32>,
}

fn u16le(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

fn parse_fmt(path: &Path, b: &[u8]) -> Result<Fmt> {
    let err = |m: String| Error::format(path, m);
    if b.len() < 16 {
        return Err(err(format!(
            "'fmt ' chunk is {} bytes, shorter than the 16 a WAV format needs",
            b.len()
        )));
    }
    let tag = u16le(b, 0);
    let channels = u16le(b, 2);
    let sample_rate = u32le(b, 4);
    let block_align = u16le(b, 12);
    let bits = u16le(b, 14);
    let (code, mask) = if tag == WAVE_FORMAT_EXTENSIBLE {
        if b.len() < 40 {
            return Err(err(format!(
                "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {} bytes, shorter than 40",
                b.len()
            )));
        }
        let mask = u32le(b, 20);
        let guid = &b[24..40];
        if guid[2..16] != KSDATAFORMAT_TAIL {
            return Err(err(format!(
                "unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID {} (only PCM and IEEE float are read)",
                guid.iter().map(|x| format!("{x:02x}")).collect::<String>()
            )));
        }
        (u16le(guid, 0), (mask != 0).then_some(mask))
    } else {
        (tag, None)
    };
    if channels == 0 {
        return Err(err("the format declares 0 channels".into()));
    }
    if sample_rate == 0 {
        return Err(err("the format declares a sample rate of 0 Hz".into()));
    }
    if sample_rate > MAX_SAMPLE_RATE {
        return Err(err(format!(
            "the format declares a sample rate of {sample_rate} Hz, above the {MAX_SAMPLE_RATE} Hz of any audio format: the header is damaged"
        )));
    }
    let (format, decode) = match (code, bits) {
        (WAVE_FORMAT_PCM, 8) => (SampleFormat::Int(8), Decode::U8),
        (WAVE_FORMAT_PCM, 16) => (SampleFormat::Int(16), Decode::I16),
        (WAVE_FORMAT_PCM, 24) => (SampleFormat::Int(24), Decode::I24),
        (WAVE_FORMAT_PCM, 32) => (SampleFormat::Int(32), Decode::I32),
        (WAVE_FORMAT_IEEE_FLOAT, 32) => (SampleFormat::Float(32), Decode::F32),
        (WAVE_FORMAT_IEEE_FLOAT, 64) => (SampleFormat::Float(64), Decode::F64),
        (WAVE_FORMAT_PCM, b) => {
            return Err(err(format!(
                "unsupported PCM sample size of {b} bits (8, 16, 24 and 32 are read)"
            )));
        }
        (WAVE_FORMAT_IEEE_FLOAT, b) => {
            return Err(err(format!(
                "unsupported float sample size of {b} bits (32 and 64 are read)"
            )));
        }
        (t, _) => {
            return Err(err(format!(
                "unsupported WAV format tag 0x{t:04X} (only PCM and IEEE float are read)"
            )));
        }
    };
    let expect = u32::from(channels) * u32::from(bits / 8);
    if u32::from(block_align) != expect {
        return Err(err(format!(
            "block align {block_align} does not match {channels} channel(s) of {bits} bits ({expect} bytes per frame)"
        )));
    }
    Ok(Fmt {
        channels,
        sample_rate,
        format,
        decode,
        block_align,
        mask,
    })
}

/// Reads `len` bytes at `pos`, mapping a short file to a "truncated" error.
fn read_at(file: &mut File, path: &Path, pos: u64, len: usize, what: &str) -> Result<Vec<u8>> {
    file.seek(SeekFrom::Start(pos))
        .map_err(|e| Error::io(path, e))?;
    let mut v = vec![0u8; len];
    file.read_exact(&mut v).map_err(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            Error::format(path, format!("truncated {what}"))
        } else {
            Error::io(path, e)
        }
    })?;
    Ok(v)
}

fn chunk_name(id: &[u8]) -> String {
    id.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

impl WavReader {
    /// Opens and parses the header; errors name the file and what is wrong
    /// (not RIFF/RF64/BW64, missing fmt or data, unsupported format, truncated data).
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if file_len < 12 {
            return Err(Error::format(
                path,
                format!("not a WAV file ({file_len} bytes, too short for a RIFF header)"),
            ));
        }
        let hdr = read_at(&mut file, path, 0, 12, "RIFF header")?;
        let container = match &hdr[0..4] {
            b"RIFF" => Container::Riff,
            b"RF64" => Container::Rf64,
            b"BW64" => Container::Bw64,
            other => {
                return Err(Error::format(
                    path,
                    format!(
                        "not a WAV file (starts with '{}', expected RIFF, RF64 or BW64)",
                        chunk_name(other)
                    ),
                ));
            }
        };
        if &hdr[8..12] != b"WAVE" {
            return Err(Error::format(
                path,
                format!(
                    "not a WAV file (RIFF form type '{}', expected WAVE)",
                    chunk_name(&hdr[8..12])
                ),
            ));
        }
        let wide = container != Container::Riff;
        // ds64 sizes: data size, and the table of other chunks' 64-bit sizes.
        let mut ds64_data: Option<u64> = None;
        let mut ds64_table: Vec<([u8; 4], u64)> = Vec::new();
        let mut fmt: Option<Fmt> = None;
        let mut bext = None;
        let mut ixml_chunk: Option<IXml> = None;
        let mut data: Option<(u64, u64)> = None;
        let mut pos = 12u64;
        while pos + 8 <= file_len {
            let ch = read_at(&mut file, path, pos, 8, "chunk header")?;
            let id: [u8; 4] = ch[0..4].try_into().expect("4 bytes");
            let size32 = u32le(&ch, 4);
            let mut size = u64::from(size32);
            if wide && &id == b"data" {
                // The 64-bit size in ds64 rules (EBU Tech 3306, 3.3); some
                // writers put the low 32 bits rather than 0xFFFFFFFF here.
                match ds64_data {
                    Some(d) => size = d,
                    None if size32 == SIZE_IN_DS64 => {
                        return Err(Error::format(
                            path,
                            "RF64/BW64 'data' size is 0xFFFFFFFF but no 'ds64' chunk precedes it",
                        ));
                    }
                    None => {}
                }
            } else if wide && size32 == SIZE_IN_DS64 {
                if let Some((_, s)) = ds64_table.iter().find(|(i, _)| *i == id) {
                    size = *s;
                }
            }
            let body = pos + 8;
            let avail = file_len - body;
            match &id {
                b"data" => {
                    if size > avail {
                        return Err(Error::format(
                            path,
                            format!(
                                "truncated: the header says {size} bytes of audio data but the file holds {avail}"
                            ),
                        ));
                    }
                    if data.is_none() {
                        data = Some((body, size));
                    }
                }
                b"iXML" if ixml_chunk.is_none() && size <= avail => {
                    ixml_chunk = Some(if size > ixml::MAX_IXML {
                        IXml {
                            problem: Some(format!(
                                "'iXML' chunk of {size} bytes is implausibly large"
                            )),
                            ..Default::default()
                        }
                    } else {
                        ixml::parse(&read_at(
                            &mut file,
                            path,
                            body,
                            size as usize,
                            "iXML chunk",
                        )?)
                    });
                }
                b"ds64" | b"fmt " | b"bext" => {
                    if size > avail {
                        return Err(Error::format(
                            path,
                            format!(
                                "truncated '{}' chunk: {size} bytes declared, {avail} in the file",
                                chunk_name(&id)
                            ),
                        ));
                    }
                    if &id == b"bext" && size > MAX_BEXT {
                        return Err(Error::format(
                            path,
                            format!("'bext' chunk of {size} bytes is implausibly large"),
                        ));
                    }
                    if &id != b"bext" && size > 1 << 20 {
                        return Err(Error::format(
                            path,
                            format!(
                                "'{}' chunk of {size} bytes is implausibly large",
                                chunk_name(&id)
                            ),
                        ));
                    }
                    let b = read_at(&mut file, path, body, size as usize, "chunk")?;
                    match &id {
                        b"ds64" if wide => {
                            if b.len() < DS64_LEN as usize {
                                return Err(Error::format(
                                    path,
                                    format!("'ds64' chunk is {} bytes, shorter than 28", b.len()),
                                ));
                            }
                            ds64_data = Some(u64le(&b, 8));
                            let n = u32le(&b, 24) as usize;
                            for i in 0..n {
                                let o = 28 + 12 * i;
                                if o + 12 > b.len() {
                                    break;
                                }
                                ds64_table
                                    .push((b[o..o + 4].try_into().expect("4"), u64le(&b, o + 4)));
                            }
                        }
                        b"fmt " if fmt.is_none() => fmt = Some(parse_fmt(path, &b)?),
                        b"bext" if bext.is_none() => {
                            bext = Some(bext_chunk::parse(&b).ok_or_else(|| {
                                Error::format(
                                    path,
                                    format!(
                                        "'bext' chunk is {} bytes, shorter than the 602 of EBU Tech 3285",
                                        b.len()
                                    ),
                                )
                            })?);
                        }
                        _ => {}
                    }
                }
                _ => {
                    if size > avail {
                        // A damaged chunk after everything we need: stop here.
                        break;
                    }
                }
            }
            // Chunks are word aligned: an odd size is followed by one pad byte.
            pos = body + size + (size & 1);
        }
        let fmt =
            fmt.ok_or_else(|| Error::format(path, "not a usable WAV file: no 'fmt ' chunk"))?;
        let (data_start, data_bytes) =
            data.ok_or_else(|| Error::format(path, "not a usable WAV file: no 'data' chunk"))?;
        let block_align = usize::from(fmt.block_align);
        let info = WavInfo {
            path: path.to_path_buf(),
            container,
            channels: fmt.channels,
            sample_rate: fmt.sample_rate,
            format: fmt.format,
            channel_mask: fmt.mask,
            frames: data_bytes / block_align as u64,
            bext,
            ixml: ixml_chunk,
        };
        file.seek(SeekFrom::Start(data_start))
            .map_err(|e| Error::io(path, e))?;
        Ok(WavReader {
            file,
            info,
            decode: fmt.decode,
            block_align,
            data_start,
            pos: 0,
            buf: Vec::new(),
            maybe_non_finite: false,
        })
    }

    /// What the header says.
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// The next frame [`WavReader::read_planar`] returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes per frame of the data.
    pub fn block_align(&self) -> usize {
        self.block_align
    }

    /// Positions the next read at `frame` (clamped to the end).
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        let frame = frame.min(self.info.frames);
        self.file
            .seek(SeekFrom::Start(
                self.data_start + frame * self.block_align as u64,
            ))
            .map_err(|e| Error::io(&self.info.path, e))?;
        self.pos = frame;
        Ok(())
    }

    /// False when the last [`WavReader::read_planar`] certainly returned finite samples
    /// only (integer data always; float data checked while decoded).
    pub fn may_hold_non_finite(&self) -> bool {
        self.maybe_non_finite
    }

    /// Decodes frames `frame .. frame + n` into `out` (one Vec per channel, each at
    /// least `n` long) as [`WavReader::read_planar`] does, but positionally: the
    /// reader's position is untouched, so several threads may read one file at once.
    /// `raw` is scratch for the file's bytes. Returns whether a sample may be NaN or
    /// infinite (float data only; then the caller looks).
    pub fn read_planar_at(
        &self,
        frame: u64,
        n: usize,
        out: &mut [Vec<f32>],
        raw: &mut Vec<u32>,
    ) -> Result<bool> {
        let ch = usize::from(self.info.channels);
        if out.len() != ch || out.iter().any(|o| o.len() < n) {
            return Err(Error::Invalid(format!(
                "{}: read_planar_at needs {ch} channel buffers of {n} frames",
                self.info.path.display()
            )));
        }
        if frame + n as u64 > self.info.frames {
            return Err(Error::Invalid(format!(
                "{}: frames {frame}..{} are past the end ({} frames)",
                self.info.path.display(),
                frame + n as u64,
                self.info.frames
            )));
        }
        let bytes = n * self.block_align;
        raw.resize(bytes.div_ceil(4), 0);
        let buf = &mut bytemuck::cast_slice_mut::<u32, u8>(raw)[..bytes];
        let at = self.data_start + frame * self.block_align as u64;
        read_exact_at(&self.file, buf, at).map_err(|e| read_error(&self.info.path, e))?;
        Ok(decode_words(self.decode, raw, bytes, out, 0))
    }

    /// Reads up to `frames` frames into `out` (one Vec per channel; each is
    /// cleared and filled), converting to f32 in [-1, 1). Returns frames read,
    /// 0 at the end. Fewer than asked only at the end of the data.
    ///
    /// Integers are scaled by 1/2^(bits-1) (8-bit WAV is unsigned, offset 128);
    /// float samples are passed through (64-bit rounded to f32).
    pub fn read_planar(&mut self, out: &mut [Vec<f32>], frames: usize) -> Result<usize> {
        let ch = usize::from(self.info.channels);
        if out.len() != ch {
            return Err(Error::Invalid(format!(
                "{}: read_planar needs {ch} channel buffers, got {}",
                self.info.path.display(),
                out.len()
            )));
        }
        let n = (frames as u64).min(self.info.frames - self.pos) as usize;
        if n == 0 {
            out.iter_mut().for_each(Vec::clear);
            return Ok(0);
        }
        for o in out.iter_mut() {
            // Every sample is overwritten: only a change of length touches memory.
            o.resize(n, 0.0);
        }
        // Read and decode in pieces of about 64 KiB: the raw piece stays in cache between
        // the kernel's copy and the decode, so the data crosses memory once.
        let piece = (READ_PIECE_BYTES / self.block_align).max(1);
        let path = &self.info.path;
        let mut at = 0;
        self.maybe_non_finite = false;
        while at < n {
            let m = piece.min(n - at);
            let bytes = m * self.block_align;
            self.buf.resize(bytes.div_ceil(4), 0);
            let raw = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut self.buf)[..bytes];
            self.file.read_exact(raw).map_err(|e| read_error(path, e))?;
            self.maybe_non_finite |= decode_words(self.decode, &self.buf, bytes, out, at);
            at += m;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The error for a failed read of `path`'s audio data (an early end is a truncation).
fn read_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::UnexpectedEof {
        Error::format(
            path,
            "truncated: the file ended inside the audio data (was it cut while being read?)",
        )
    } else {
        Error::io(path, e)
    }
}

/// Decodes the first `bytes` bytes of `words` (interleaved `decode` samples) into planar
/// f32 from frame `at` of every channel. Returns whether a sample may be NaN or infinite
/// (f32 data checked while decoded; f64 may overflow f32; integers never).
fn decode_words(
    decode: Decode,
    words: &[u32],
    bytes: usize,
    out: &mut [Vec<f32>],
    at: usize,
) -> bool {
    match decode {
        Decode::F32 => deinterleave_f32(&words[..bytes / 4], out, at),
        d => {
            decode_planar(d, &bytemuck::cast_slice::<u32, u8>(words)[..bytes], out, at);
            d == Decode::F64
        }
    }
}

/// `pread`: fills `buf` from byte `at` of `file` without moving its position.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

/// Positional read on Windows (`seek_read` moves the handle's position, which
/// [`WavReader::read_planar`] does not rely on between calls of its own).
#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(k) => {
                buf = &mut buf[k..];
                at += k as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn read_exact_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(
        ErrorKind::Unsupported,
        "positional reads are not available on this platform",
    ))
}

/// Whether [`WavReader::read_planar_at`] works on this platform.
pub const POSITIONAL_READS: bool = cfg!(any(unix, windows));

/// Splits interleaved little-endian f32 words into planar channels, with the channel
/// count known at compile time for the common layouts (the loop then moves whole frames).
/// Returns whether any sample is NaN or infinite (all exponent bits set).
fn deinterleave_f32(words: &[u32], out: &mut [Vec<f32>], at: usize) -> bool {
    const EXP: u32 = 0x7F80_0000;
    fn fixed<const C: usize>(words: &[u32], out: &mut [Vec<f32>], at: usize) -> bool {
        let out: &mut [Vec<f32>; C] = out.try_into().expect("C channels");
        let n = words.len() / C;
        let dst: [&mut [f32]; C] = out.each_mut().map(|v| &mut v[at..at + n]);
        let mut bad = 0u32;
        for (i, frame) in words.chunks_exact(C).enumerate() {
            for c in 0..C {
                let w = u32::from_le(frame[c]);
                bad |= u32::from(w & EXP == EXP);
                dst[c][i] = f32::from_bits(w);
            }
        }
        bad != 0
    }
    match out.len() {
        1 => fixed::<1>(words, out, at),
        2 => fixed::<2>(words, out, at),
        6 => fixed::<6>(words, out, at),
        8 => fixed::<8>(words, out, at),
        _ => {
            decode_planar(Decode::F32, bytemuck::cast_slice(words), out, at);
            words.iter().any(|w| u32::from_le(*w) & EXP == EXP)
        }
    }
}

/// Interleaves `C` planar channels into little-endian f32 words (NaN/Inf written as 0),
/// raising `peak` per channel; returns the count of non-finite samples. `None` when
/// `chans` does not hold `C` channels.
fn interleave_f32<const C: usize>(
    chans: &[&[f32]],
    words: &mut [u32],
    peak: &mut [f32],
) -> Option<u64> {
    let src: &[&[f32]; C] = chans.try_into().ok()?;
    let pk: &mut [f32; C] = peak.try_into().ok()?;
    let n = words.len() / C;
    let src: [&[f32]; C] = src.map(|c| &c[..n]);
    // One pass per channel for the peak and the non-finite count (8 lanes, so it
    // vectorizes; max is exact in any order), then a plain interleave.
    let mut bad = 0u64;
    for (x, p) in src.iter().zip(pk.iter_mut()) {
        let (m, b) = scan_peak(x);
        *p = p.max(m);
        bad += b;
    }
    for (i, frame) in words.chunks_exact_mut(C).enumerate() {
        for c in 0..C {
            frame[c] = src[c][i].to_bits().to_le();
        }
    }
    if bad > 0 {
        // NaN/Inf are written as 0 (and counted above).
        for w in words.iter_mut() {
            if !f32::from_bits(u32::from_le(*w)).is_finite() {
                *w = 0;
            }
        }
    }
    Some(bad)
}

/// The largest finite `|x|` and the count of non-finite samples of `x`.
fn scan_peak(x: &[f32]) -> (f32, u64) {
    const EXP: u32 = 0x7F80_0000;
    // |x| as bits orders like |x| for finite floats, and NaN/Inf lie above all of
    // them: one integer max (8 lanes, so it vectorizes) settles the common case.
    // (As i32: the bits are below 2^31, and a signed compare is what SSE2 has.)
    let mut m = [0i32; 8];
    let mut lanes = x.chunks_exact(8);
    for v in &mut lanes {
        for l in 0..8 {
            m[l] = m[l].max((v[l].to_bits() & 0x7FFF_FFFF) as i32);
        }
    }
    let top = lanes
        .remainder()
        .iter()
        .fold(m.into_iter().max().unwrap_or(0), |a, v| {
            a.max((v.to_bits() & 0x7FFF_FFFF) as i32)
        }) as u32;
    if top < EXP {
        return (f32::from_bits(top), 0);
    }
    // Rare: some samples are NaN or infinite (they count as 0 for the peak).
    x.iter().fold((0f32, 0u64), |(p, b), v| {
        if v.is_finite() {
            (p.max(v.abs()), b)
        } else {
            (p, b + 1)
        }
    })
}

/// Bytes per read of [`WavReader::read_planar`] (fits in L2 with its decoded copy).
const READ_PIECE_BYTES: usize = 64 << 10;

/// Converts interleaved bytes of `decode` samples into planar f32, written from frame
/// `base` of every channel on.
fn decode_planar(decode: Decode, buf: &[u8], out: &mut [Vec<f32>], base: usize) {
    // Tiles of TILE frames: one tile of interleaved bytes stays in L1 while every
    // channel is taken out of it, so the buffer is read from memory once.
    const TILE: usize = 512;
    fn run<const W: usize>(
        buf: &[u8],
        out: &mut [Vec<f32>],
        base: usize,
        f: impl Fn([u8; W]) -> f32,
    ) {
        let stride = W * out.len();
        for (t, tile) in buf.chunks(stride * TILE).enumerate() {
            let at = base + t * TILE;
            for (c, o) in out.iter_mut().enumerate() {
                for (dst, frame) in o[at..].iter_mut().zip(tile.chunks_exact(stride)) {
                    let s: [u8; W] = frame[c * W..c * W + W].try_into().expect("W bytes");
                    *dst = f(s);
                }
            }
        }
    }
    const S8: f32 = 1.0 / 128.0;
    const S16: f32 = 1.0 / 32768.0;
    const S32: f32 = 1.0 / 2_147_483_648.0;
    match decode {
        Decode::U8 => run::<1>(buf, out, base, |[b]| (f32::from(b) - 128.0) * S8),
        Decode::I16 => run::<2>(buf, out, base, |b| f32::from(i16::from_le_bytes(b)) * S16),
        // The 24-bit code placed in the top of an i32 is exact in f32 (24
        // significant bits), so scaling by 2^-31 equals scaling the code by 2^-23.
        Decode::I24 => run::<3>(buf, out, base, |[a, b, c]| {
            i32::from_le_bytes([0, a, b, c]) as f32 * S32
        }),
        Decode::I32 => run::<4>(buf, out, base, |b| i32::from_le_bytes(b) as f32 * S32),
        Decode::F32 => run::<4>(buf, out, base, f32::from_le_bytes),
        Decode::F64 => run::<8>(buf, out, base, |b| f64::from_le_bytes(b) as f32),
    }
}

/// Reads the header of a WAV/RF64/BW64 file (see [`WavReader::open`]).
pub fn read_info(path: &Path) -> Result<WavInfo> {
    Ok(WavReader::open(path)?.info)
}

/// Sample format of a deliverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OutputFormat {
    /// 16-bit PCM with TPDF dither (exact zeros stay zero, see [`super::dither::quantize`]).
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

/// Room left after the initial coding history so that [`WavWriter::set_bext`]
/// may write a longer one (the unused tail is NUL padding, which EBU Tech
/// 3285 readers ignore).
pub const BEXT_CODING_HISTORY_RESERVE: usize = 1024;

/// Room left in the `iXML` chunk beyond its text at [`WavWriter::with_ixml`],
/// for a `BEXT` mirror that grows when the bext is replaced (the unused tail
/// is spaces, whitespace after the root element). The mirror holds at most
/// the bext's 338 bytes of text fields (256 + 32 + 32 + 10 + 8), each byte
/// at most 6 once escaped (`&quot;`): 2028 bytes, plus 226 bytes of element
/// tags for fields that were empty: 2254, so any later bext fits.
pub const IXML_RESERVE: usize = 2560;

/// A streaming writer that writes to a temporary file in the target folder and
/// renames it to the final path in [`WavWriter::finish`]; dropping it unfinished
/// removes the temporary file.
///
/// Layout: `RIFF` header, `JUNK` (28 bytes, becomes `ds64` when the file
/// needs RF64/BW64: EBU Tech 3306, 3.5), `fmt `, `bext` (optional), `iXML`
/// (optional, [`WavWriter::with_ixml`]), `fact` (float only), `data`.
pub struct WavWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    spec: WavSpec,
    bext: Option<Bext>,
    /// Reserved `bext` body size (even).
    bext_len: usize,
    /// The iXML written at finish (its `BEXT` mirror from `bext`).
    ixml: Option<IXml>,
    /// Reserved `iXML` body size (even).
    ixml_len: usize,
    header_len: u64,
    data_bytes: u64,
    frames: u64,
    rngs: Vec<Rng>,
    /// TPDF dither on PCM (off: see [`WavWriter::without_dither`]).
    dither: bool,
    peak: Vec<f32>,
    clipped: u64,
    non_finite: u64,
    /// Interleaved bytes of one write, in 4-byte words (aligned for `f32`).
    buf: Vec<u32>,
    /// Set by [`WavWriter::expect_frames`]: the final header, already on disk, and the
    /// running hash of everything written since (header first).
    early: Option<(Vec<u8>, RunningHash)>,
    /// Data bytes between two background writebacks (see [`WavWriter::sync_as_you_go`]).
    #[cfg(not(target_arch = "wasm32"))]
    flush_every: u64,
    /// Background writeback of long files (so the final sync has little left to do).
    #[cfg(not(target_arch = "wasm32"))]
    flusher: Option<Flusher>,
    /// Long files on Linux: the data goes to disk unbuffered (see [`Unbuffered`]).
    #[cfg(target_os = "linux")]
    direct: Option<Unbuffered>,
}

/// Data bytes between two background writebacks of a long file, by default.
#[cfg(not(target_arch = "wasm32"))]
const FLUSH_EVERY: u64 = 64 << 20;

/// The SHA-256 of a file whose header is final before its data: the bytes are copied
/// into recycled buffers and hashed on a thread of their own where threads exist (so the
/// writer's thread does not wait for the hash), else inline.
struct RunningHash {
    inline: Option<Sha256>,
    #[cfg(not(target_arch = "wasm32"))]
    worker: Option<HashWorker>,
}

#[cfg(not(target_arch = "wasm32"))]
struct HashWorker {
    tx: std::sync::mpsc::SyncSender<(Vec<u32>, usize)>,
    back: std::sync::mpsc::Receiver<Vec<u32>>,
    thread: std::thread::JoinHandle<Sha256>,
}

impl RunningHash {
    fn new(header: &[u8]) -> RunningHash {
        let mut hasher = Sha256::new();
        hasher.update(header);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u32>, usize)>(2);
            let (back_tx, back) = std::sync::mpsc::channel::<Vec<u32>>();
            let mut h = hasher.clone();
            let spawned = std::thread::Builder::new()
                .name("dubstage-sha256".into())
                .spawn(move || {
                    for (v, bytes) in rx {
                        h.update(&bytemuck::cast_slice::<u32, u8>(&v)[..bytes]);
                        let _ = back_tx.send(v);
                    }
                    h
                });
            if let Ok(thread) = spawned {
                return RunningHash {
                    inline: None,
                    worker: Some(HashWorker { tx, back, thread }),
                };
            }
        }
        RunningHash {
            inline: Some(hasher),
            #[cfg(not(target_arch = "wasm32"))]
            worker: None,
        }
    }

    /// Hashes the first `bytes` bytes of `buf` next. With a worker thread the buffer
    /// itself goes to the worker (no copy) and `buf` becomes a recycled one (contents
    /// unspecified). `false` when the worker is gone (then the file is read back).
    // A Vec (not a slice): with a worker thread the buffer itself is handed over.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::ptr_arg))]
    fn update(&mut self, buf: &mut Vec<u32>, bytes: usize) -> bool {
        if let Some(h) = &mut self.inline {
            h.update(&bytemuck::cast_slice::<u32, u8>(buf)[..bytes]);
            return true;
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(w) = &self.worker {
            let spare = w.back.try_recv().unwrap_or_default();
            let full = std::mem::replace(buf, spare);
            return w.tx.send((full, bytes)).is_ok();
        }
        false
    }

    /// The hasher after every update (`None` if the worker failed).
    fn into_hasher(self) -> Option<Sha256> {
        if let Some(h) = self.inline {
            return Some(h);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(w) = self.worker {
            drop(w.tx);
            return w.thread.join().ok();
        }
        None
    }
}

/// A thread that syncs a file's data to disk while the file is still being written:
/// the disk works during the render instead of after it. Safe std only: `sync_data` on
/// a second handle of the same file.
#[cfg(not(target_arch = "wasm32"))]
struct Flusher {
    tx: std::sync::mpsc::SyncSender<()>,
    handle: std::thread::JoinHandle<std::io::Result<()>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Flusher {
    fn start(file: &File) -> std::io::Result<Flusher> {
        let f = file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("dubstage-writeback".into())
            .spawn(move || {
                for () in rx {
                    f.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Flusher { tx, handle })
    }

    /// Asks for a writeback unless one is already pending.
    fn poke(&self) {
        let _ = self.tx.try_send(());
    }

    /// Waits for the thread; its first error, if any.
    fn stop(self) -> std::io::Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writeback thread panicked")))
    }
}

/// Files whose data will pass this size are written unbuffered (see [`Unbuffered`]).
#[cfg(target_os = "linux")]
const UNBUFFERED_MIN_BYTES: u64 = 64 << 20;

/// Offsets, lengths and buffer addresses of unbuffered writes are multiples of this
/// (the largest logical block size of common disks).
#[cfg(target_os = "linux")]
const UNBUFFERED_ALIGN: usize = 4096;

/// Bytes per unbuffered write (up to four such buffers per file: one filling, two queued,
/// one being written).
#[cfg(target_os = "linux")]
const UNBUFFERED_STAGE: usize = 1 << 20;

/// A deliverable's data written with `O_DIRECT` (Linux), from aligned buffers, by a
/// thread of its own: the disk works while the render goes on, the bytes are not
/// copied into the page cache, and no page-cache memory is taken for files that are
/// not read back soon (on a VM, fresh page-cache pages can cost more than the write
/// itself). The bytes before the first aligned offset and after the last one (the
/// header's page and the tail) go through the page cache as usual. Where the file
/// system refuses `O_DIRECT` (tmpfs), the writer stays buffered. Safe std only: an
/// aligned window of an over-allocated `Vec`, `pwrite` through `FileExt`.
#[cfg(target_os = "linux")]
struct Unbuffered {
    /// Dropped (`None`) to end the thread.
    tx: Option<std::sync::mpsc::SyncSender<(AlignedBuf, u64, usize)>>,
    back: std::sync::mpsc::Receiver<AlignedBuf>,
    /// Taken when it is joined (at the end, or on its error).
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    stage: AlignedBuf,
    fill: usize,
    /// File offset of the stage's first byte (aligned).
    at: u64,
    /// Bytes still to be written through the page cache before `at`, from `head_at`.
    head_left: usize,
    head_at: u64,
}

/// `UNBUFFERED_STAGE` bytes at an `UNBUFFERED_ALIGN`-aligned address.
#[cfg(target_os = "linux")]
struct AlignedBuf {
    v: Vec<u8>,
    off: usize,
}

#[cfg(target_os = "linux")]
impl AlignedBuf {
    fn new() -> Option<AlignedBuf> {
        let v = vec![0u8; UNBUFFERED_STAGE + UNBUFFERED_ALIGN];
        let off = v.as_ptr().align_offset(UNBUFFERED_ALIGN);
        (off < UNBUFFERED_ALIGN).then_some(AlignedBuf { v, off })
    }
    fn bytes(&self) -> &[u8] {
        &self.v[self.off..self.off + UNBUFFERED_STAGE]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + UNBUFFERED_STAGE]
    }
}

#[cfg(target_os = "linux")]
impl Unbuffered {
    /// Opens `tmp` a second time, unbuffered, for data from `data_start` on; `None`
    /// where that is not possible (the writer then stays buffered).
    fn open(tmp: &Path, data_start: u64) -> Option<Unbuffered> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(tmp)
            .ok()?;
        let align = UNBUFFERED_ALIGN as u64;
        let at = data_start.div_ceil(align) * align;
        let stage = AlignedBuf::new()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<(AlignedBuf, u64, usize)>(2);
        let (back_tx, back) = std::sync::mpsc::channel::<AlignedBuf>();
        let thread = std::thread::Builder::new()
            .name("dubstage-direct".into())
            .spawn(move || -> std::io::Result<()> {
                for (buf, at, len) in rx {
                    file.write_all_at(&buf.bytes()[..len], at)?;
                    let _ = back_tx.send(buf);
                }
                Ok(())
            })
            .ok()?;
        Some(Unbuffered {
            tx: Some(tx),
            back,
            thread: Some(thread),
            stage,
            fill: 0,
            at,
            head_left: (at - data_start) as usize,
            head_at: data_start,
        })
    }

    /// Appends `bytes` of data; `file` is the page-cache handle (for the head).
    fn push(&mut self, file: &File, mut bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.head_left > 0 {
            let k = self.head_left.min(bytes.len());
            file.write_all_at(&bytes[..k], self.head_at)?;
            self.head_left -= k;
            self.head_at += k as u64;
            bytes = &bytes[k..];
        }
        while !bytes.is_empty() {
            let k = (UNBUFFERED_STAGE - self.fill).min(bytes.len());
            self.stage.bytes_mut()[self.fill..self.fill + k].copy_from_slice(&bytes[..k]);
            self.fill += k;
            bytes = &bytes[k..];
            if self.fill == UNBUFFERED_STAGE {
                let next = match self.back.try_recv() {
                    Ok(b) => b,
                    Err(_) => AlignedBuf::new()
                        .ok_or_else(|| std::io::Error::other("cannot align a write buffer"))?,
                };
                let full = std::mem::replace(&mut self.stage, next);
                self.send(full, UNBUFFERED_STAGE)?;
                self.at += UNBUFFERED_STAGE as u64;
                self.fill = 0;
            }
        }
        Ok(())
    }

    fn send(&mut self, buf: AlignedBuf, len: usize) -> std::io::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send((buf, self.at, len)));
        if !matches!(sent, Some(Ok(()))) {
            // The thread stopped on an error (a full disk, say): that error.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the unbuffered writer stopped")));
        }
        Ok(())
    }

    /// Waits for the thread (once); its first error, if any.
    fn join(&mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("unbuffered writer panicked"))),
            None => Ok(()),
        }
    }

    /// Writes what is staged (the aligned part unbuffered, the rest through `file`) and
    /// waits for the thread; its first error, if any.
    fn finish(mut self, file: &File) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let aligned = self.fill / UNBUFFERED_ALIGN * UNBUFFERED_ALIGN;
        let tail = self.stage.bytes()[aligned..self.fill].to_vec();
        let tail_at = self.at + aligned as u64;
        let stage = std::mem::replace(
            &mut self.stage,
            AlignedBuf {
                v: Vec::new(),
                off: 0,
            },
        );
        let sent = if aligned > 0 {
            self.send(stage, aligned)
        } else {
            Ok(())
        };
        self.tx = None;
        self.join()?;
        sent?;
        if !tail.is_empty() {
            file.write_all_at(&tail, tail_at)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for WavWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish()
    }
}

fn temp_path(path: &Path) -> PathBuf {
    super::commit::temp_path(path, "partial")
}

/// Builds the header for `container` with the given sizes. Its length depends
/// only on the spec and the reserved bext size, so a header written at create
/// can be overwritten in place at finish.
fn build_header(
    spec: &WavSpec,
    bext: Option<(&Bext, usize)>,
    ixml_body: Option<&[u8]>,
    container: Container,
    data_bytes: u64,
    frames: u64,
) -> Vec<u8> {
    let bits = spec.format.bits();
    let float = spec.format == OutputFormat::Float32;
    let block_align = spec.channels * bits / 8;
    let extensible = spec.channels > 2 || bits > 16;
    let tag = if float {
        WAVE_FORMAT_IEEE_FLOAT
    } else {
        WAVE_FORMAT_PCM
    };
    let mut h = Vec::with_capacity(256);
    h.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    // ds64 / JUNK
    let wide = container != Container::Riff;
    h.extend_from_slice(if wide { b"ds64" } else { b"JUNK" });
    h.extend_from_slice(&DS64_LEN.to_le_bytes());
    let ds64_at = h.len();
    h.extend_from_slice(&[0u8; DS64_LEN as usize]);
    // fmt
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&(if extensible { 40u32 } else { 16 }).to_le_bytes());
    h.extend_from_slice(
        &(if extensible {
            WAVE_FORMAT_EXTENSIBLE
        } else {
            tag
        })
        .to_le_bytes(),
    );
    h.extend_from_slice(&spec.channels.to_le_bytes());
    h.extend_from_slice(&spec.sample_rate.to_le_bytes());
    h.extend_from_slice(&(spec.sample_rate * u32::from(block_align)).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        h.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        h.extend_from_slice(&bits.to_le_bytes()); // wValidBitsPerSample
        h.extend_from_slice(&spec.channel_mask.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&KSDATAFORMAT_TAIL);
    }
    if let Some((b, len)) = bext {
        h.extend_from_slice(b"bext");
        h.extend_from_slice(&(len as u32).to_le_bytes());
        h.extend_from_slice(&bext_chunk::serialize(b, len));
    }
    if let Some(x) = ixml_body {
        h.extend_from_slice(b"iXML");
        h.extend_from_slice(&(x.len() as u32).to_le_bytes());
        h.extend_from_slice(x);
    }
    if float {
        // fact: dwSampleLength (frames); 0xFFFFFFFF when it needs ds64's sampleCount.
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        let n = if frames >= u64::from(SIZE_IN_DS64) {
            SIZE_IN_DS64
        } else {
            frames as u32
        };
        h.extend_from_slice(&n.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    let data_size_at = h.len();
    h.extend_from_slice(&[0u8; 4]);
    let riff_size = h.len() as u64 + data_bytes + (data_bytes & 1) - 8;
    if wide {
        h[0..4].copy_from_slice(if container == Container::Bw64 {
            b"BW64"
        } else {
            b"RF64"
        });
        h[4..8].copy_from_slice(&SIZE_IN_DS64.to_le_bytes());
        h[data_size_at..data_size_at + 4].copy_from_slice(&SIZE_IN_DS64.to_le_bytes());
        h[ds64_at..ds64_at + 8].copy_from_slice(&riff_size.to_le_bytes());
        h[ds64_at + 8..ds64_at + 16].copy_from_slice(&data_bytes.to_le_bytes());
        h[ds64_at + 16..ds64_at + 24].copy_from_slice(&frames.to_le_bytes());
        // tableLength stays 0.
    } else {
        h[4..8].copy_from_slice(&(riff_size as u32).to_le_bytes());
        h[data_size_at..data_size_at + 4].copy_from_slice(&(data_bytes as u32).to_le_bytes());
    }
    h
}

/// The container for `data_bytes` of audio after a header of `header_len`
/// bytes: RF64/BW64 when `mode` asks for it or when the RIFF size would not
/// fit 32 bits (0xFFFFFFFF itself being the RF64 marker).
fn choose_container(mode: Rf64Mode, bw64: bool, header_len: u64, data_bytes: u64) -> Container {
    let riff_size = header_len + data_bytes + (data_bytes & 1) - 8;
    let too_big = riff_size >= u64::from(SIZE_IN_DS64);
    let wide = match mode {
        Rf64Mode::Always => true,
        Rf64Mode::Never => false,
        Rf64Mode::Auto { threshold } => data_bytes > threshold || too_big,
    };
    match (wide, bw64) {
        (false, _) => Container::Riff,
        (true, false) => Container::Rf64,
        (true, true) => Container::Bw64,
    }
}

impl WavWriter {
    /// Creates the temporary file `.<name>.<pid>-<n>.partial` beside `path`
    /// and writes a provisional header.
    pub fn create(path: &Path, spec: WavSpec) -> Result<Self> {
        if spec.channels == 0 {
            return Err(Error::Output {
                path: path.into(),
                msg: "cannot write a WAV file with 0 channels".into(),
            });
        }
        if spec.sample_rate == 0 {
            return Err(Error::Output {
                path: path.into(),
                msg: "cannot write a WAV file at 0 Hz".into(),
            });
        }
        let block_align = u32::from(spec.channels) * u32::from(spec.format.bits() / 8);
        if block_align > u32::from(u16::MAX) || spec.sample_rate.checked_mul(block_align).is_none()
        {
            return Err(Error::Output {
                path: path.into(),
                msg: format!(
                    "{} channels at {} Hz do not fit a WAV header",
                    spec.channels, spec.sample_rate
                ),
            });
        }
        let bext = spec.bext.clone();
        let bext_len = bext.as_ref().map_or(0, |b| {
            let n = bext_chunk::serialized_len(b) + BEXT_CODING_HISTORY_RESERVE;
            n + (n & 1)
        });
        let tmp = temp_path(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::Output {
                path: path.into(),
                msg: format!("cannot create temporary file {}: {e}", tmp.display()),
            })?;
        let header = build_header(
            &spec,
            bext.as_ref().map(|b| (b, bext_len)),
            None,
            Container::Riff,
            0,
            0,
        );
        let ch = usize::from(spec.channels);
        let mut w = WavWriter {
            path: path.into(),
            tmp,
            file: Some(file),
            rngs: (0..spec.channels)
                .map(|c| Rng::for_channel(spec.dither_seed, c))
                .collect(),
            dither: true,
            spec,
            bext,
            bext_len,
            ixml: None,
            ixml_len: 0,
            header_len: header.len() as u64,
            data_bytes: 0,
            frames: 0,
            peak: vec![0.0; ch],
            clipped: 0,
            non_finite: 0,
            buf: Vec::new(),
            early: None,
            #[cfg(not(target_arch = "wasm32"))]
            flush_every: FLUSH_EVERY,
            #[cfg(not(target_arch = "wasm32"))]
            flusher: None,
            #[cfg(target_os = "linux")]
            direct: None,
        };
        // On failure `w` is dropped, which removes the temporary file.
        w.file
            .as_mut()
            .expect("just opened")
            .write_all(&header)
            .map_err(|e| Error::io(path, e))?;
        Ok(w)
    }

    /// The header (and its container) for `data_bytes` of audio holding `frames`.
    fn header_for(&self, data_bytes: u64, frames: u64) -> Result<(Vec<u8>, Container)> {
        let container =
            choose_container(self.spec.rf64, self.spec.bw64, self.header_len, data_bytes);
        let ixml_body = self.ixml_body()?;
        let header = build_header(
            &self.spec,
            self.bext.as_ref().map(|b| (b, self.bext_len)),
            ixml_body.as_deref(),
            container,
            data_bytes,
            frames,
        );
        debug_assert_eq!(header.len() as u64, self.header_len);
        Ok((header, container))
    }

    /// Declares the file's final length, before any audio is written: the final header
    /// (RIFF or RF64/BW64 for that length) is written now, and the file is hashed as it
    /// is written, so [`WavWriter::finish`] need not read it back. Should the file end
    /// with another length, or [`WavWriter::set_bext`] change the header, `finish` falls
    /// back to rewriting the header and hashing the file from disk.
    pub fn expect_frames(&mut self, frames: u64) -> Result<()> {
        if self.frames != 0 {
            return Err(Error::Invalid(format!(
                "{}: expect_frames after audio was written",
                self.path.display()
            )));
        }
        let block_align = u64::from(self.spec.channels) * u64::from(self.spec.format.bits() / 8);
        let (header, _) = self.header_for(frames.saturating_mul(block_align), frames)?;
        debug_assert_eq!(header.len() as u64, self.header_len);
        let file = self.file.as_mut().expect("open until finish");
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .map_err(|e| Error::io(&self.path, e))?;
        let hash = RunningHash::new(&header);
        self.early = Some((header, hash));
        #[cfg(target_os = "linux")]
        if frames.saturating_mul(block_align) >= UNBUFFERED_MIN_BYTES {
            self.direct = Unbuffered::open(&self.tmp, self.header_len);
        }
        Ok(())
    }

    /// Writes the data of a file of any length unbuffered where the platform and the
    /// file system allow (tests; long files do by themselves). After
    /// [`WavWriter::expect_frames`].
    #[doc(hidden)]
    pub fn force_unbuffered(&mut self) -> bool {
        #[cfg(target_os = "linux")]
        if self.early.is_some() && self.frames == 0 && self.direct.is_none() {
            self.direct = Unbuffered::open(&self.tmp, self.header_len);
        }
        #[cfg(target_os = "linux")]
        return self.direct.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Sets how many data bytes may accumulate before a background writeback starts
    /// (64 MiB by default; a thread syncs the file while the rest is written, so the final
    /// sync in [`WavWriter::finish`] has little left to do). Without threads, a no-op.
    pub fn sync_as_you_go(&mut self, every_bytes: u64) -> Result<()> {
        if every_bytes == 0 {
            return Err(Error::Invalid(format!(
                "{}: sync_as_you_go needs a positive byte count",
                self.path.display()
            )));
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.flush_every = every_bytes;
        }
        Ok(())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Adds an `iXML` chunk (before `data`; see [`super::ixml`]) whose `BEXT`
    /// mirror is taken from the file's bext at finish. Must come before any
    /// audio is written: the header is rewritten with room for the chunk
    /// plus [`IXML_RESERVE`] bytes (the text is padded with spaces to that
    /// size, so the header keeps its length when the bext changes).
    pub fn with_ixml(mut self, ixml: IXml) -> Result<Self> {
        if self.frames > 0 {
            return Err(Error::Output {
                path: self.path.clone(),
                msg: "the iXML chunk must be added before any audio is written".into(),
            });
        }
        let n = ixml::serialize(&ixml, self.bext.as_ref()).len() + IXML_RESERVE;
        self.ixml_len = n + (n & 1);
        self.ixml = Some(ixml);
        // The header changes: an earlier expect_frames no longer holds.
        self.early = None;
        let body = self.ixml_body()?;
        let header = build_header(
            &self.spec,
            self.bext.as_ref().map(|b| (b, self.bext_len)),
            body.as_deref(),
            Container::Riff,
            0,
            0,
        );
        let path = self.path.clone();
        let file = self.file.as_mut().expect("open until finish");
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(&header).map_err(|e| Error::io(&path, e))?;
        self.header_len = header.len() as u64;
        Ok(self)
    }

    /// The iXML chunk body as it will be written: the XML padded with spaces
    /// to the reserved size.
    fn ixml_body(&self) -> Result<Option<Vec<u8>>> {
        let Some(x) = &self.ixml else {
            return Ok(None);
        };
        let mut b = ixml::serialize(x, self.bext.as_ref()).into_bytes();
        if b.len() > self.ixml_len {
            return Err(Error::Output {
                path: self.path.clone(),
                msg: format!(
                    "the iXML chunk needs {} bytes but {} were reserved",
                    b.len(),
                    self.ixml_len
                ),
            });
        }
        b.resize(self.ixml_len, b' ');
        Ok(Some(b))
    }

    /// The `bext` that [`WavWriter::finish`] will write.
    pub fn bext(&self) -> Option<&Bext> {
        self.bext.as_ref()
    }

    /// Replaces the `bext` written at finish (e.g. to fill the loudness fields
    /// once measured). The chunk must have been reserved by `WavSpec::bext`,
    /// and the new coding history may exceed the original by at most
    /// [`BEXT_CODING_HISTORY_RESERVE`] bytes.
    pub fn set_bext(&mut self, bext: Bext) -> Result<()> {
        if self.bext.is_none() {
            return Err(Error::Output {
                path: self.path.clone(),
                msg: "no 'bext' chunk was reserved (WavSpec::bext was None at create)".into(),
            });
        }
        let need = bext_chunk::serialized_len(&bext);
        if need > self.bext_len {
            return Err(Error::Output {
                path: self.path.clone(),
                msg: format!(
                    "the 'bext' chunk needs {need} bytes but {} were reserved (coding history too long)",
                    self.bext_len
                ),
            });
        }
        let changed = self.bext.as_ref() != Some(&bext);
        let old = self.bext.replace(bext);
        if let Err(e) = self.ixml_body() {
            // the iXML mirror of the new bext would not fit: keep the old one
            self.bext = old;
            return Err(e);
        }
        if changed {
            // The header changes after the audio: finish hashes the file from disk.
            self.early = None;
        }
        Ok(())
    }

    /// Writes PCM without dither: each sample is rounded to its nearest code. For
    /// samples already on the format's grid (read from a file of the same format, as
    /// when reels are joined into a long play) this writes exactly the codes read.
    pub fn without_dither(mut self) -> Self {
        self.dither = false;
        self
    }

    /// Appends planar frames (one slice per channel, equal lengths).
    ///
    /// PCM output gets TPDF dither of ±1 LSB ; samples beyond full scale are
    /// clipped and counted, NaN/Inf are written as 0 and counted.
    pub fn write_planar(&mut self, chans: &[&[f32]]) -> Result<()> {
        let ch = usize::from(self.spec.channels);
        if chans.len() != ch {
            return Err(Error::Invalid(format!(
                "{}: write_planar got {} channels, the file has {ch}",
                self.path.display(),
                chans.len()
            )));
        }
        let n = chans[0].len();
        if let Some(c) = chans.iter().position(|c| c.len() != n) {
            return Err(Error::Invalid(format!(
                "{}: write_planar channel {c} has {} frames, channel 0 has {n}",
                self.path.display(),
                chans[c].len()
            )));
        }
        if n == 0 {
            return Ok(());
        }
        let width = usize::from(self.spec.format.bits() / 8);
        let stride = width * ch;
        let add = (n * stride) as u64;
        let total = self.data_bytes + add;
        if self.spec.rf64 == Rf64Mode::Never
            && self.header_len + total + (total & 1) - 8 >= u64::from(SIZE_IN_DS64)
        {
            return Err(Error::Output {
                path: self.path.clone(),
                msg: "the file would exceed the 4 GiB a RIFF WAV can hold and RF64 is disabled"
                    .into(),
            });
        }
        let bytes = n * stride;
        self.buf.resize(bytes.div_ceil(4), 0);
        if self.spec.format == OutputFormat::Float32 {
            let words = &mut self.buf[..bytes / 4];
            let nf = match ch {
                1 => interleave_f32::<1>(chans, words, &mut self.peak),
                2 => interleave_f32::<2>(chans, words, &mut self.peak),
                6 => interleave_f32::<6>(chans, words, &mut self.peak),
                8 => interleave_f32::<8>(chans, words, &mut self.peak),
                _ => None,
            };
            if let Some(nf) = nf {
                return self.append(bytes, n, nf, 0, total);
            }
        }
        let buf = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut self.buf)[..bytes];
        let mut non_finite = 0u64;
        let mut clipped = 0u64;
        // Tiles of TILE frames, each channel in turn: a tile of the interleaved buffer
        // stays in L1. Per channel the samples (and the dither sequence) go in order.
        const TILE: usize = 512;
        let bits = u32::from(self.spec.format.bits());
        let inv = 1.0 / (1u64 << (bits - 1)) as f32;
        for (t, tile) in buf.chunks_mut(stride * TILE).enumerate() {
            let at = t * TILE;
            match self.spec.format {
                OutputFormat::Float32 => {
                    for (c, src) in chans.iter().enumerate() {
                        let mut peak = self.peak[c];
                        for (frame, &x) in tile.chunks_exact_mut(stride).zip(&src[at..]) {
                            let v = if x.is_finite() {
                                x
                            } else {
                                non_finite += 1;
                                0.0
                            };
                            peak = peak.max(v.abs());
                            frame[c * 4..c * 4 + 4].copy_from_slice(&v.to_le_bytes());
                        }
                        self.peak[c] = peak;
                    }
                }
                OutputFormat::Pcm16 | OutputFormat::Pcm24 => {
                    let amount = if self.dither { 1.0 } else { 0.0 };
                    for (c, src) in chans.iter().enumerate() {
                        let rng = &mut self.rngs[c];
                        let (src, o) = (&src[at..], c * width);
                        let q = if width == 3 {
                            dither::quantize_channel::<3>(src, rng, bits, amount, tile, stride, o)
                        } else {
                            dither::quantize_channel::<2>(src, rng, bits, amount, tile, stride, o)
                        };
                        non_finite += q.non_finite;
                        clipped += q.clipped;
                        self.peak[c] = self.peak[c].max(q.peak_code as f32 * inv);
                    }
                }
            }
        }
        self.append(bytes, n, non_finite, clipped, total)
    }

    /// Writes the first `bytes` of the buffer (`n` frames, ending at data byte `total`)
    /// and counts them.
    fn append(
        &mut self,
        bytes: usize,
        n: usize,
        non_finite: u64,
        clipped: u64,
        total: u64,
    ) -> Result<()> {
        let buf = &bytemuck::cast_slice::<u32, u8>(&self.buf)[..bytes];
        let file = self.file.as_mut().expect("open until finish");
        #[cfg(target_os = "linux")]
        let direct = self.direct.is_some();
        #[cfg(not(target_os = "linux"))]
        let direct = false;
        if direct {
            #[cfg(target_os = "linux")]
            if let Some(d) = &mut self.direct {
                d.push(file, buf).map_err(|e| Error::io(&self.path, e))?;
            }
        } else {
            file.write_all(buf).map_err(|e| Error::io(&self.path, e))?;
        }
        if let Some((_, h)) = &mut self.early {
            if !h.update(&mut self.buf, bytes) {
                self.early = None;
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        if !direct && total / self.flush_every != self.data_bytes / self.flush_every {
            if self.flusher.is_none() {
                // Without the thread the final sync still does it all.
                self.flusher = Flusher::start(file).ok();
            }
            if let Some(f) = &self.flusher {
                f.poke();
            }
        }
        self.data_bytes = total;
        self.frames += n as u64;
        self.non_finite += non_finite;
        self.clipped += clipped;
        Ok(())
    }

    /// Completes the header (RIFF, or RF64/BW64 per [`Rf64Mode`]), syncs the file and
    /// hashes it, leaving it at its temporary path: commit it with [`FinishedFile::commit`]
    /// (so a set of files can be renamed together once all of them are complete).
    pub fn finish_unrenamed(mut self) -> Result<FinishedFile> {
        let path = self.path.clone();
        let ioe = |e| Error::io(&path, e);
        let file_len = self.header_len + self.data_bytes + (self.data_bytes & 1);
        let (header, container) = self.header_for(self.data_bytes, self.frames)?;
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(f) = self.flusher.take() {
            f.stop().map_err(ioe)?;
        }
        #[cfg(target_os = "linux")]
        if let Some(d) = self.direct.take() {
            let file = self.file.as_mut().expect("open until finish");
            d.finish(file).map_err(ioe)?;
            // The page-cache handle's position is still after the header.
            file.seek(SeekFrom::Start(self.header_len + self.data_bytes))
                .map_err(ioe)?;
        }
        let early = self
            .early
            .take()
            .filter(|(h, _)| *h == header)
            .and_then(|(_, h)| h.into_hasher());
        let (hasher, total) = if let Some(mut hasher) = early {
            // The header on disk is final and everything was hashed as it was written.
            let file = self.file.take().expect("open until finish");
            let mut file = file;
            if self.data_bytes & 1 == 1 {
                file.write_all(&[0]).map_err(ioe)?;
                hasher.update([0u8]);
            }
            file.sync_all().map_err(ioe)?;
            let total = file.stream_position().map_err(ioe)?;
            (hasher, total)
        } else {
            let mut file = self.file.take().expect("open until finish");
            if self.data_bytes & 1 == 1 {
                file.write_all(&[0]).map_err(ioe)?;
            }
            file.seek(SeekFrom::Start(0)).map_err(ioe)?;
            file.write_all(&header).map_err(ioe)?;
            file.sync_all().map_err(ioe)?;
            // Hash what lies on disk, read back in large blocks.
            file.seek(SeekFrom::Start(0)).map_err(ioe)?;
            let mut hasher = Sha256::new();
            let mut block = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                let k = file.read(&mut block).map_err(ioe)?;
                if k == 0 {
                    break;
                }
                hasher.update(&block[..k]);
                total += k as u64;
            }
            (hasher, total)
        }; // the file is closed here, before the rename
        if total != file_len {
            return Err(Error::Output {
                path,
                msg: format!("wrote {file_len} bytes but read back {total}"),
            });
        }
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The temporary file now belongs to the FinishedFile (this writer's Drop must not
        // remove it).
        let tmp = std::mem::take(&mut self.tmp);
        Ok(FinishedFile {
            tmp,
            file: WrittenFile {
                path,
                container,
                frames: self.frames,
                bytes: file_len,
                sha256,
                peak: std::mem::take(&mut self.peak),
                clipped: self.clipped,
                non_finite: self.non_finite,
            },
        })
    }
}

/// A complete, synced and hashed file still at its temporary path (see
/// [`WavWriter::finish_unrenamed`]): [`FinishedFile::commit`] renames it into place;
/// dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct FinishedFile {
    tmp: PathBuf,
    file: WrittenFile,
}

impl FinishedFile {
    /// What the file will be once committed.
    pub fn written(&self) -> &WrittenFile {
        &self.file
    }

    /// Renames the file to its final path (and syncs the folder on Unix).
    pub fn commit(mut self) -> Result<WrittenFile> {
        let path = self.file.path.clone();
        std::fs::rename(&self.tmp, &path).map_err(|e| Error::Output {
            path: path.clone(),
            msg: format!("cannot rename {} into place: {e}", self.tmp.display()),
        })?;
        self.tmp = PathBuf::new();
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Make the rename durable; failure to sync a directory is not fatal.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.file.clone())
    }
}

impl FinishedFile {
    /// The temporary file, to be committed with others by [`super::commit::commit`],
    /// and what it will be.
    pub fn into_staged(mut self) -> (super::commit::Staged, WrittenFile) {
        let tmp = std::mem::take(&mut self.tmp);
        let file = self.file.clone();
        (super::commit::Staged::new(tmp, file.path.clone()), file)
    }
}

impl Drop for FinishedFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl WavWriter {
    /// Completes the header (RIFF, or RF64/BW64 per [`Rf64Mode`]), syncs the
    /// file, hashes it and renames it to the final path.
    pub fn finish(self) -> Result<WrittenFile> {
        self.finish_unrenamed()?.commit()
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        // Unfinished (or failed in finish before the rename): remove the
        // temporary file. After a successful rename it no longer exists.
        self.file = None;
        if self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorized interleave against a naive one: same words (NaN/Inf written as
    /// 0), peaks and non-finite count, for lengths that are not multiples of 8.
    #[test]
    fn interleave_matches_naive() {
        for n in [0usize, 1, 7, 8, 9, 1000, 1003] {
            let mut chans: Vec<Vec<f32>> = (0..6)
                .map(|c| {
                    (0..n)
                        .map(|i| ((i * 7 + c * 13) % 97) as f32 / 50.0 - 0.97)
                        .collect()
                })
                .collect();
            if n > 5 {
                chans[1][3] = f32::NAN;
                chans[4][n - 1] = f32::INFINITY;
                chans[5][n / 2] = f32::NEG_INFINITY;
                chans[0][n - 2] = -3.5;
            }
            let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
            let mut words = vec![1u32; n * 6];
            let mut peak = vec![0.25f32; 6];
            let bad = interleave_f32::<6>(&refs, &mut words, &mut peak).unwrap();
            let mut want_peak = vec![0.25f32; 6];
            let mut want_bad = 0;
            for i in 0..n {
                for c in 0..6 {
                    let x = chans[c][i];
                    let v = if x.is_finite() { x } else { 0.0 };
                    want_bad += u64::from(!x.is_finite());
                    want_peak[c] = want_peak[c].max(v.abs());
                    assert_eq!(
                        words[i * 6 + c],
                        v.to_bits().to_le(),
                        "n {n} frame {i} ch {c}"
                    );
                }
            }
            assert_eq!(bad, want_bad, "n {n}");
            assert_eq!(peak, want_peak, "n {n}");
        }
    }

    #[test]
    fn container_choice() {
        let four_gib = 1u64 << 32;
        let auto = Rf64Mode::AUTO;
        assert_eq!(choose_container(auto, false, 100, 1000), Container::Riff);
        // Largest RIFF: riff size 0xFFFFFFFE.
        let max_data = u64::from(u32::MAX) - 1 + 8 - 100;
        assert_eq!(
            choose_container(auto, false, 100, max_data),
            Container::Riff
        );
        assert_eq!(
            choose_container(auto, false, 100, max_data + 2),
            Container::Rf64
        );
        assert_eq!(choose_container(auto, true, 100, four_gib), Container::Bw64);
        let small = Rf64Mode::Auto { threshold: 10 };
        assert_eq!(choose_container(small, false, 100, 10), Container::Riff);
        assert_eq!(choose_container(small, false, 100, 11), Container::Rf64);
        assert_eq!(
            choose_container(Rf64Mode::Always, true, 100, 0),
            Container::Bw64
        );
        assert_eq!(
            choose_container(Rf64Mode::Never, false, 100, 10),
            Container::Riff
        );
    }

    #[test]
    fn never_refuses_to_pass_4_gib() {
        let dir = std::env::temp_dir().join(format!("dubstage-never-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("n.wav");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: OutputFormat::Pcm16,
            channel_mask: 0,
            bext: None,
            rf64: Rf64Mode::Never,
            bw64: false,
            dither_seed: 0,
        };
        let mut w = WavWriter::create(&p, spec).unwrap();
        w.write_planar(&[&[0.0; 4]]).unwrap();
        // Pretend almost 4 GiB were written (white box: no 4 GiB file needed).
        // After the next 4 frames (8 bytes) the RIFF size is 0xFFFFFFFE: allowed.
        w.data_bytes = 0xFFFF_FFFE - w.header_len;
        w.write_planar(&[&[0.0; 4]]).unwrap();
        let e = w.write_planar(&[&[0.0; 1]]).unwrap_err();
        assert!(e.to_string().contains("RF64 is disabled"), "{e}");
        drop(w);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ixml_chunk_sits_before_data_and_follows_bext_changes() {
        let dir = std::env::temp_dir().join(format!("dubstage-ixml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.wav");
        let mut spec = WavSpec::new(2, 48_000, OutputFormat::Float32);
        spec.bext = Some(Bext {
            description: "first".into(),
            time_reference: 42,
            version: 2,
            ..Default::default()
        });
        spec.rf64 = Rf64Mode::Always;
        let x = IXml {
            project: "P <1>".into(),
            tracks: vec![super::super::ixml::IXmlTrack {
                channel_index: 1,
                interleave_index: 1,
                name: "L".into(),
            }],
            ..Default::default()
        };
        let mut w = WavWriter::create(&p, spec).unwrap().with_ixml(x).unwrap();
        w.write_planar(&[&[0.25; 10], &[-0.25; 10]]).unwrap();
        // A longer description: the mirror grows inside the reserved room.
        let mut b = w.bext().unwrap().clone();
        b.description = "a much longer description than before".into();
        w.set_bext(b).unwrap();
        // The largest bext text there is, all of it escaped: still fits.
        let mut huge = w.bext().unwrap().clone();
        huge.description = "\"".repeat(400);
        huge.originator = "&".repeat(40);
        huge.originator_reference = "<".repeat(40);
        huge.origination_date = "'".repeat(10);
        huge.origination_time = ">".repeat(8);
        w.set_bext(huge).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(f.container, Container::Rf64);
        let r = WavReader::open(&p).unwrap();
        let i = r.info();
        assert_eq!(i.frames, 10);
        let x = i.ixml.as_ref().unwrap();
        assert_eq!(x.problem, None);
        assert_eq!(x.project, "P <1>");
        let (m, b) = (x.bext.as_ref().unwrap(), i.bext.as_ref().unwrap());
        assert_eq!(m.time_reference, Some(42));
        // The mirror holds what the bext fields hold (cut to 256, 32, ... bytes).
        assert_eq!(m.description, "\"".repeat(256));
        assert_eq!(m.description, b.description);
        assert_eq!(m.originator, b.originator);
        assert_eq!(m.originator_reference, b.originator_reference);
        assert_eq!(m.origination_date, b.origination_date);
        assert_eq!(m.origination_time, b.origination_time);
        // Audio is intact after the header rewrite.
        let mut out = vec![Vec::new(), Vec::new()];
        let mut r = r;
        r.read_planar(&mut out, 10).unwrap();
        assert_eq!(out[0], vec![0.25f32; 10]);
        // iXML must come before any audio.
        let p2 = dir.join("y.wav");
        let mut w = WavWriter::create(&p2, WavSpec::new(1, 48_000, OutputFormat::Pcm16)).unwrap();
        w.write_planar(&[&[0.0; 4]]).unwrap();
        assert!(w.with_ixml(IXml::default()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
