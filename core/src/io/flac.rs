//! FLAC input, decoded with Symphonia 0.6 (`symphonia-bundle-flac`) in the
//! same streaming way as [`super::WavReader`]: one FLAC frame (at most 65535
//! sample frames, RFC 9639 section 9.1) is held decoded at a time.

use super::wav::{Container, SampleFormat, WavInfo};
use crate::{Error, Result};
use std::fs::File;
use std::path::Path;
use symphonia::core::audio::{Audio, Channels, GenericAudioBufferRef};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::units::Timestamp;
use symphonia::default::codecs::FlacDecoder;
use symphonia::default::formats::FlacReader;

/// WAVE channel-mask bits that Symphonia's `Position` shares with
/// `dwChannelMask` (speaker positions 0..=17 of the WAVE_FORMAT_EXTENSIBLE
/// definition, ksmedia.h).
const WAVE_MASK_BITS: u64 = (1 << 18) - 1;

/// A streaming FLAC reader with the interface of [`super::WavReader`].
pub struct FlacFileReader {
    format: FlacReader<'static>,
    decoder: FlacDecoder,
    track_id: u32,
    info: WavInfo,
    /// Decoded frames not yet returned (planar), starting at `pending_off`.
    pending: Vec<Vec<f32>>,
    pending_off: usize,
    /// Next frame [`FlacFileReader::read_planar`] returns.
    pos: u64,
    /// Frames still to discard after a seek (the seek lands on a FLAC frame start).
    skip: u64,
    /// The stream has been decoded from its start without seeking, so its
    /// STREAMINFO MD5 can be verified at the end.
    verify: bool,
    done: bool,
    /// First frame of the next packet expected from the demuxer; a packet
    /// starting elsewhere means frames were lost to corruption.
    next_ts: u64,
    /// The file's SEEKTABLE cannot be trusted ([`seek_table_is_sane`]): seeks decode
    /// from the start instead of asking the demuxer.
    seek_by_decoding: bool,
}

/// False when the file's SEEKTABLE (RFC 9639 section 8.5) is not one the demuxer's seek
/// can trust: seek points (placeholders aside) not in increasing sample order, byte
/// offsets going backwards, or offsets (counted from the first frame) past the file's
/// end. Symphonia 0.6 binary-searches the bytes between two seek points and underflows
/// on such a table (found by fuzzing: `fuzz/regressions/flac/`). Anything else odd in
/// the metadata is left to the demuxer.
fn seek_table_is_sane(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let check = || -> std::io::Result<bool> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        let mut magic = [0u8; 4];
        f.read_exact(&mut magic)?;
        if &magic != b"fLaC" {
            return Ok(true);
        }
        let mut points: Vec<(u64, u64)> = Vec::new();
        // (a FLAC has at most a few metadata blocks; 1024 is far past any real file)
        for _ in 0..1024 {
            let mut h = [0u8; 4];
            f.read_exact(&mut h)?;
            let n = u32::from_be_bytes([0, h[1], h[2], h[3]]) as u64;
            if h[0] & 0x7f == 3 {
                let mut table = vec![0u8; n as usize];
                f.read_exact(&mut table)?;
                for p in table.chunks_exact(18) {
                    let sample = u64::from_be_bytes(p[..8].try_into().expect("8 bytes"));
                    let offset = u64::from_be_bytes(p[8..16].try_into().expect("8 bytes"));
                    if sample != u64::MAX {
                        points.push((sample, offset)); // (u64::MAX: a placeholder point)
                    }
                }
            } else {
                f.seek(SeekFrom::Current(n as i64))?;
            }
            if h[0] & 0x80 != 0 {
                break;
            }
        }
        // The offsets count from the first frame, which follows the last metadata block.
        let first_frame = f.stream_position()?;
        let mut prev: Option<(u64, u64)> = None;
        for &(sample, offset) in &points {
            let inside = first_frame.checked_add(offset).is_some_and(|at| at < len);
            if !inside || prev.is_some_and(|(s, o)| sample <= s || offset < o) {
                return Ok(false);
            }
            prev = Some((sample, offset));
        }
        Ok(true)
    };
    // a file too short to read is the demuxer's to refuse
    check().unwrap_or(true)
}

impl std::fmt::Debug for FlacFileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacFileReader")
            .field("info", &self.info)
            .field("pos", &self.pos)
            .finish()
    }
}

fn sym_err(path: &Path, e: SymError) -> Error {
    match e {
        SymError::IoError(io) => Error::io(path, io),
        other => Error::format(path, format!("FLAC: {other}")),
    }
}

impl FlacFileReader {
    /// Opens a FLAC file and reads its metadata blocks.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let format =
            FlacReader::try_new(mss, FormatOptions::default()).map_err(|e| sym_err(path, e))?;
        let track = format
            .tracks()
            .first()
            .ok_or_else(|| Error::format(path, "FLAC: no audio stream"))?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| Error::format(path, "FLAC: no audio codec parameters"))?;
        let decoder = FlacDecoder::try_new(params, &AudioDecoderOptions::default().verify(true))
            .map_err(|e| sym_err(path, e))?;
        let params = decoder.codec_params();
        let sample_rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| Error::format(path, "FLAC: no sample rate (0 Hz)"))?;
        let bits = params
            .bits_per_sample
            .ok_or_else(|| Error::format(path, "FLAC: no bits per sample"))?;
        let (channels, mask) = match params.channels.as_ref() {
            Some(c @ Channels::Positioned(p)) => {
                (c.count() as u16, Some((p.bits() & WAVE_MASK_BITS) as u32))
            }
            Some(c) => (c.count() as u16, None),
            None => return Err(Error::format(path, "FLAC: no channel layout")),
        };
        let frames = track.num_frames.ok_or_else(|| {
            Error::format(
                path,
                "FLAC: STREAMINFO does not state the number of samples (a streamed FLAC); re-encode it",
            )
        })?;
        let info = WavInfo {
            path: path.to_path_buf(),
            container: Container::Flac,
            channels,
            sample_rate,
            format: SampleFormat::Int(bits as u16),
            channel_mask: mask.filter(|&m| m != 0),
            frames,
            bext: None,
            ixml: None,
        };
        let track_id = track.id;
        Ok(FlacFileReader {
            format,
            decoder,
            track_id,
            pending: vec![Vec::new(); usize::from(channels)],
            pending_off: 0,
            info,
            pos: 0,
            skip: 0,
            verify: true,
            done: false,
            next_ts: 0,
            seek_by_decoding: !seek_table_is_sane(path),
        })
    }

    /// What the stream header says (`container` is [`Container::Flac`]).
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// The next frame [`FlacFileReader::read_planar`] returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Positions the next read at `frame` (clamped to the end). Sample accurate:
    /// the demuxer lands on the FLAC frame holding `frame` and the frames
    /// before it are decoded and dropped.
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        let frame = frame.min(self.info.frames);
        self.verify = false;
        for p in &mut self.pending {
            p.clear();
        }
        self.pending_off = 0;
        self.pos = frame;
        if frame == self.info.frames {
            self.done = true;
            self.skip = 0;
            return Ok(());
        }
        self.done = false;
        if self.seek_by_decoding {
            // from the start again, the frames before `frame` decoded and dropped
            let fresh = FlacFileReader::open(&self.info.path)?;
            self.format = fresh.format;
            self.decoder = fresh.decoder;
            self.skip = frame;
            self.next_ts = 0;
            return Ok(());
        }
        let to = SeekTo::Timestamp {
            ts: Timestamp::new(frame as i64),
            track_id: self.track_id,
        };
        let seeked = self
            .format
            .seek(SeekMode::Accurate, to)
            .map_err(|e| sym_err(&self.info.path, e))?;
        self.decoder.reset();
        let actual = seeked.actual_ts.get().max(0) as u64;
        self.skip = frame.saturating_sub(actual);
        self.next_ts = actual;
        Ok(())
    }

    /// Decodes the next packet into `pending`; false at the end of the stream.
    fn decode_next(&mut self) -> Result<bool> {
        let path = &self.info.path;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false);
                }
                Err(e) => return Err(sym_err(path, e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let pts = packet.pts.get();
            if pts != self.next_ts as i64 {
                return Err(Error::format(
                    path,
                    format!(
                        "FLAC: corrupt or missing audio at frame {} (the next valid FLAC frame starts at {pts})",
                        self.next_ts
                    ),
                ));
            }
            let buf = self.decoder.decode(&packet).map_err(|e| sym_err(path, e))?;
            let GenericAudioBufferRef::S32(b) = buf else {
                return Err(Error::format(
                    path,
                    "FLAC: the decoder returned an unexpected sample type",
                ));
            };
            // Symphonia left-justifies FLAC samples in i32 (full scale = 2^31),
            // so 2^-31 gives the same scaling as the WAV reader.
            const S32: f32 = 1.0 / 2_147_483_648.0;
            let n = b.frames();
            self.next_ts += n as u64;
            for (c, p) in self.pending.iter_mut().enumerate() {
                p.clear();
                let plane = b.plane(c).ok_or_else(|| {
                    Error::format(path, format!("FLAC: decoded frame lacks channel {c}"))
                })?;
                p.extend(plane[..n].iter().map(|&s| s as f32 * S32));
            }
            self.pending_off = 0;
            return Ok(true);
        }
    }

    /// Reads up to `frames` frames into `out` (one Vec per channel; each is
    /// cleared and filled) as f32 in [-1, 1). Returns frames read, 0 at the
    /// end; fewer than asked only at the end. A stream that ends before the
    /// length STREAMINFO states, or whose MD5 does not match, is an error.
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
        let want = (frames as u64).min(self.info.frames - self.pos) as usize;
        let mut got = 0;
        while got < want {
            let avail = self.pending[0].len() - self.pending_off;
            if avail == 0 {
                if self.done || !self.decode_next()? {
                    self.done = true;
                    return Err(Error::format(
                        &self.info.path,
                        format!(
                            "truncated: STREAMINFO says {} frames but the stream ends after {} (cut short or corrupt)",
                            self.info.frames, self.pos
                        ),
                    ));
                }
                continue;
            }
            if self.skip > 0 {
                let k = (self.skip as usize).min(avail);
                self.pending_off += k;
                self.skip -= k as u64;
                continue;
            }
            let k = avail.min(want - got);
            let o = self.pending_off;
            for (dst, src) in out.iter_mut().zip(&self.pending) {
                dst.extend_from_slice(&src[o..o + k]);
            }
            self.pending_off += k;
            got += k;
            self.pos += k as u64;
        }
        if self.pos == self.info.frames && self.verify {
            self.verify = false;
            if self.decoder.finalize().verify_ok == Some(false) {
                return Err(Error::format(
                    &self.info.path,
                    "FLAC: decoded audio does not match the MD5 signature in STREAMINFO (corrupt file)",
                ));
            }
        }
        Ok(got)
    }
}
