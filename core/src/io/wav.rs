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
    buf: Vec<u8>,
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
        for o in out.iter_mut() {
            o.clear();
        }
        let n = (frames as u64).min(self.info.frames - self.pos) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.buf.resize(n * self.block_align, 0);
        let path = &self.info.path;
        self.file.read_exact(&mut self.buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                Error::format(path, "truncated: the file ended inside the audio data (was it cut while being read?)")
            } else {
                Error::io(path, e)
            }
        })?;
        decode_planar(self.decode, &self.buf, out);
        self.pos += n as u64;
        Ok(n)
    }
}

/// Frames per tile when converting between interleaved bytes and planar f32:
/// the tile's bytes stay in L1/L2 while each channel passes over it.
const IO_TILE_FRAMES: usize = 2048;

/// The largest |x| over the finite samples of `x` (0 if none), written so
/// that it vectorizes (eight running maxima, NaN and ±Inf skipped by the
/// comparisons).
fn finite_peak(x: &[f32]) -> f32 {
    let mut m = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (m, &v) in m.iter_mut().zip(c) {
            let a = v.abs();
            if a < f32::INFINITY && a > *m {
                *m = a;
            }
        }
    }
    for &v in chunks.remainder() {
        let a = v.abs();
        if a < f32::INFINITY && a > m[0] {
            m[0] = a;
        }
    }
    m.iter().fold(0.0, |a, &b| a.max(b))
}

/// Converts interleaved bytes of `decode` samples into planar f32 (appended to
/// the cleared `out`, one `Vec` per channel).
fn decode_planar(decode: Decode, buf: &[u8], out: &mut [Vec<f32>]) {
    fn run<const W: usize>(buf: &[u8], out: &mut [Vec<f32>], f: impl Fn([u8; W]) -> f32) {
        let stride = W * out.len();
        let n = buf.len() / stride;
        for o in out.iter_mut() {
            o.reserve(n);
        }
        for tile in buf.chunks(stride * IO_TILE_FRAMES) {
            for (c, o) in out.iter_mut().enumerate() {
                o.extend(tile.chunks_exact(stride).map(|frame| {
                    let s: [u8; W] = frame[c * W..c * W + W].try_into().expect("W bytes");
                    f(s)
                }));
            }
        }
    }
    const S8: f32 = 1.0 / 128.0;
    const S16: f32 = 1.0 / 32768.0;
    const S32: f32 = 1.0 / 2_147_483_648.0;
    match decode {
        Decode::U8 => run::<1>(buf, out, |[b]| (f32::from(b) - 128.0) * S8),
        Decode::I16 => run::<2>(buf, out, |b| f32::from(i16::from_le_bytes(b)) * S16),
        // The 24-bit code placed in the top of an i32 is exact in f32 (24
        // significant bits), so scaling by 2^-31 equals scaling the code by 2^-23.
        Decode::I24 => run::<3>(buf, out, |[a, b, c]| {
            i32::from_le_bytes([0, a, b, c]) as f32 * S32
        }),
        Decode::I32 => run::<4>(buf, out, |b| i32::from_le_bytes(b) as f32 * S32),
        Decode::F32 => run::<4>(buf, out, f32::from_le_bytes),
        Decode::F64 => run::<8>(buf, out, |b| f64::from_le_bytes(b) as f32),
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

/// A streaming writer that writes to a temporary file in the target folder and
/// renames it to the final path in [`WavWriter::finish`]; dropping it unfinished
/// removes the temporary file.
///
/// Layout: `RIFF` header, `JUNK` (28 bytes, becomes `ds64` when the file
/// needs RF64/BW64: EBU Tech 3306, 3.5), `fmt `, `bext` (optional), `fact`
/// (float only), `data`.
pub struct WavWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    spec: WavSpec,
    bext: Option<Bext>,
    /// Reserved `bext` body size (even).
    bext_len: usize,
    header_len: u64,
    data_bytes: u64,
    frames: u64,
    rngs: Vec<Rng>,
    peak: Vec<f32>,
    clipped: u64,
    non_finite: u64,
    buf: Vec<u8>,
    /// Set by [`WavWriter::expect_frames`]: the file's SHA-256 computed while
    /// writing, valid if the length comes out as announced.
    running: Option<RunningHash>,
    /// Set by [`WavWriter::sync_as_you_go`].
    flusher: Option<Flusher>,
}

/// A thread that `fdatasync`s the temporary file (through its own handle)
/// whenever `every` more bytes were written, so that the data reaches the
/// disk while the rest is computed and the final sync in
/// [`WavWriter::finish`] has little left to do.
struct Flusher {
    tx: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    every: u64,
    since: u64,
}

/// SHA-256 of a file whose header is known before its data: on a thread of
/// its own where threads exist (the data buffers go there once written and
/// come back for reuse), else inline.
struct RunningHash {
    inline: Option<Sha256>,
    worker: Option<HashWorker>,
    header: Vec<u8>,
    frames: u64,
}

struct HashWorker {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: std::thread::JoinHandle<Sha256>,
}

impl RunningHash {
    fn new(header: Vec<u8>, frames: u64) -> RunningHash {
        let mut hasher = Sha256::new();
        hasher.update(&header);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (back_tx, back) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut h = hasher.clone();
        let spawned = std::thread::Builder::new()
            .name("wav-sha256".into())
            .spawn(move || {
                for v in rx {
                    h.update(&v);
                    let _ = back_tx.send(v);
                }
                h
            });
        match spawned {
            Ok(thread) => RunningHash {
                inline: None,
                worker: Some(HashWorker { tx, back, thread }),
                header,
                frames,
            },
            // no threads (wasm32): hash inline
            Err(_) => RunningHash {
                inline: Some(hasher),
                worker: None,
                header,
                frames,
            },
        }
    }

    /// Hashes `buf` next; with a worker, `buf` is handed over and replaced by
    /// a returned (or new) buffer.
    fn update(&mut self, buf: &mut Vec<u8>) {
        if let Some(h) = &mut self.inline {
            h.update(&*buf);
        } else if let Some(w) = &mut self.worker {
            let spare = w.back.try_recv().unwrap_or_default();
            let full = std::mem::replace(buf, spare);
            if w.tx.send(full).is_err() {
                self.worker = None; // the worker is gone: finish reads the file back
            }
        }
    }

    /// The hasher after all updates (None if the worker failed).
    fn into_hasher(self) -> Option<Sha256> {
        match (self.inline, self.worker) {
            (Some(h), _) => Some(h),
            (None, Some(w)) => {
                drop(w.tx);
                w.thread.join().ok()
            }
            (None, None) => None,
        }
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
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    #[cfg(not(target_arch = "wasm32"))]
    let pid = std::process::id();
    #[cfg(target_arch = "wasm32")]
    let pid = 0;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out.wav".into());
    path.with_file_name(format!(".{name}.{pid}-{n}.partial"))
}

/// Builds the header for `container` with the given sizes. Its length depends
/// only on the spec and the reserved bext size, so a header written at create
/// can be overwritten in place at finish.
fn build_header(
    spec: &WavSpec,
    bext: Option<(&Bext, usize)>,
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
            spec,
            bext,
            bext_len,
            header_len: header.len() as u64,
            data_bytes: 0,
            frames: 0,
            peak: vec![0.0; ch],
            clipped: 0,
            non_finite: 0,
            buf: Vec::new(),
            running: None,
            flusher: None,
        };
        // On failure `w` is dropped, which removes the temporary file.
        w.file
            .as_mut()
            .expect("just opened")
            .write_all(&header)
            .map_err(|e| Error::io(path, e))?;
        Ok(w)
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
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
        self.bext = Some(bext);
        self.running = None; // the header changed: hash the file in finish
        Ok(())
    }

    /// Announces the number of frames that will be written, before the first
    /// one: the header is then known up front and the SHA-256 is computed
    /// while writing (on the writing thread) instead of by reading the file
    /// back in [`WavWriter::finish`]. The result is the same; if a different
    /// number of frames is written, or the `bext` is replaced, `finish` falls
    /// back to reading the file back. Errors if frames were already written.
    pub fn expect_frames(&mut self, frames: u64) -> Result<()> {
        if self.frames > 0 {
            return Err(Error::Invalid(format!(
                "{}: expect_frames after {} frames were written",
                self.path.display(),
                self.frames
            )));
        }
        let stride = u64::from(self.spec.format.bits() / 8) * u64::from(self.spec.channels);
        let data_bytes = frames.saturating_mul(stride);
        let container =
            choose_container(self.spec.rf64, self.spec.bw64, self.header_len, data_bytes);
        let header = build_header(
            &self.spec,
            self.bext.as_ref().map(|b| (b, self.bext_len)),
            container,
            data_bytes,
            frames,
        );
        self.running = Some(RunningHash::new(header, frames));
        Ok(())
    }

    /// Syncs the data to disk in the background, whenever `every_bytes` more
    /// were written (on a thread of its own, through a second handle to the
    /// file), instead of all at once in [`WavWriter::finish`]: the disk writes
    /// overlap the computation of what follows. `finish` still syncs the
    /// whole file (header included) before the rename, and reports an error of
    /// a background sync. Where threads are not available (wasm32) this does
    /// nothing. Calling it again changes nothing.
    pub fn sync_as_you_go(&mut self, every_bytes: u64) -> Result<()> {
        if self.flusher.is_some() {
            return Ok(());
        }
        let file = self
            .file
            .as_ref()
            .expect("open until finish")
            .try_clone()
            .map_err(|e| Error::io(&self.tmp, e))?;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new().name("wav-sync".into()).spawn(
            move || -> std::io::Result<()> {
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {} // coalesce
                    file.sync_data()?;
                }
                Ok(())
            },
        );
        if let Ok(thread) = spawned {
            self.flusher = Some(Flusher {
                tx: Some(tx),
                thread: Some(thread),
                every: every_bytes.max(1),
                since: 0,
            });
        }
        Ok(())
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
        self.buf.resize(n * stride, 0);
        let buf = &mut self.buf;
        let mut non_finite = 0u64;
        let mut clipped = 0u64;
        match self.spec.format {
            OutputFormat::Float32 => {
                // tiles of frames, so each channel's pass stays in cache
                for (t, tile) in buf.chunks_mut(stride * IO_TILE_FRAMES).enumerate() {
                    let first = t * IO_TILE_FRAMES;
                    for (c, src) in chans.iter().enumerate() {
                        for (frame, &x) in tile.chunks_exact_mut(stride).zip(&src[first..]) {
                            let v = if x.is_finite() {
                                x
                            } else {
                                non_finite += 1;
                                0.0
                            };
                            frame[c * 4..c * 4 + 4].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
            OutputFormat::Pcm16 | OutputFormat::Pcm24 => {
                let bits = u32::from(self.spec.format.bits());
                let inv = 1.0 / (1u64 << (bits - 1)) as f32;
                for (c, src) in chans.iter().enumerate() {
                    let rng = &mut self.rngs[c];
                    let mut peak_code = 0u32;
                    for (frame, &x) in buf.chunks_exact_mut(stride).zip(src.iter()) {
                        let q = dither::quantize(x, bits, rng.tpdf());
                        non_finite += u64::from(q.non_finite);
                        clipped += u64::from(q.clipped);
                        peak_code = peak_code.max(q.code.unsigned_abs());
                        let b = q.code.to_le_bytes();
                        frame[c * width..c * width + width].copy_from_slice(&b[..width]);
                    }
                    self.peak[c] = self.peak[c].max(peak_code as f32 * inv);
                }
            }
        }
        if self.spec.format == OutputFormat::Float32 {
            for (p, src) in self.peak.iter_mut().zip(chans) {
                *p = p.max(finite_peak(src));
            }
        }
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(buf).map_err(|e| Error::io(&self.path, e))?;
        if let Some(h) = &mut self.running {
            h.update(&mut self.buf);
        }
        if let Some(f) = &mut self.flusher {
            f.since += add;
            if f.since >= f.every {
                f.since = 0;
                if let Some(tx) = &f.tx {
                    let _ = tx.send(());
                }
            }
        }
        self.data_bytes = total;
        self.frames += n as u64;
        self.non_finite += non_finite;
        self.clipped += clipped;
        Ok(())
    }

    /// Completes the header (RIFF, or RF64/BW64 per [`Rf64Mode`]), syncs the
    /// file, hashes it and renames it to the final path.
    pub fn finish(mut self) -> Result<WrittenFile> {
        let path = self.path.clone();
        let ioe = |e| Error::io(&path, e);
        let file_len = self.header_len + self.data_bytes + (self.data_bytes & 1);
        let container = choose_container(
            self.spec.rf64,
            self.spec.bw64,
            self.header_len,
            self.data_bytes,
        );
        let header = build_header(
            &self.spec,
            self.bext.as_ref().map(|b| (b, self.bext_len)),
            container,
            self.data_bytes,
            self.frames,
        );
        debug_assert_eq!(header.len() as u64, self.header_len);
        if let Some(mut f) = self.flusher.take() {
            drop(f.tx.take());
            if let Some(t) = f.thread.take() {
                match t.join() {
                    Ok(r) => r.map_err(ioe)?,
                    Err(_) => {
                        return Err(Error::Output {
                            path: path.clone(),
                            msg: "the background sync thread panicked".into(),
                        });
                    }
                }
            }
        }
        let running = self
            .running
            .take()
            .filter(|h| h.frames == self.frames && h.header == header)
            .and_then(RunningHash::into_hasher);
        let (hasher, total) = if let Some(mut hasher) = running {
            let mut file = self.file.take().expect("open until finish");
            if self.data_bytes & 1 == 1 {
                file.write_all(&[0]).map_err(ioe)?;
                hasher.update([0u8]);
            }
            file.seek(SeekFrom::Start(0)).map_err(ioe)?;
            file.write_all(&header).map_err(ioe)?;
            file.sync_all().map_err(ioe)?;
            let total = file.metadata().map_err(ioe)?.len();
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
        std::fs::rename(&self.tmp, &path).map_err(|e| Error::Output {
            path: path.clone(),
            msg: format!("cannot rename {} into place: {e}", self.tmp.display()),
        })?;
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
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(WrittenFile {
            path,
            container,
            frames: self.frames,
            bytes: file_len,
            sha256,
            peak: std::mem::take(&mut self.peak),
            clipped: self.clipped,
            non_finite: self.non_finite,
        })
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
}
