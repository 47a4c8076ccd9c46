//! The streaming reader of RIFF/RF64/BW64: the chunk walk, bulk and positional reads.

use super::decode::{Decode, decode_words};
use super::header::{DS64_LEN, Fmt, SIZE_IN_DS64, chunk_name, parse_fmt, u32le, u64le};
use super::{Container, WavInfo};
use crate::io::bext as bext_chunk;
use crate::io::ixml::{self, IXml};
use crate::{Error, Result};
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

/// Largest `bext` chunk read (a coding history longer than this is refused).
const MAX_BEXT: u64 = 16 << 20;

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

/// Bytes per read of [`WavReader::read_planar`] (fits in L2 with its decoded copy).
const READ_PIECE_BYTES: usize = 64 << 10;

/// Reads the header of a WAV/RF64/BW64 file (see [`WavReader::open`]).
pub fn read_info(path: &Path) -> Result<WavInfo> {
    Ok(WavReader::open(path)?.info)
}
