//! The atomic, dithering writer: a temporary file beside the final path, the header
//! completed (RIFF or RF64/BW64) at finish, then synced, hashed and renamed.

use super::encode::interleave_f32;
use super::header::{SIZE_IN_DS64, build_header, choose_container};
use super::spec::{OutputFormat, Rf64Mode, WavSpec, WrittenFile};
use super::{Bext, Container};
use crate::io::bext as bext_chunk;
use crate::io::dither::{self, Rng};
use crate::io::ixml::{self, IXml};
#[cfg(not(target_arch = "wasm32"))]
use crate::io::sink::{FLUSH_EVERY, Flusher};
use crate::io::sink::{RunningHash, sync_and_hash_back};
#[cfg(target_os = "linux")]
use crate::io::sink::{UNBUFFERED_MIN_BYTES, Unbuffered};
use crate::{Error, Result};
use sha2::Digest;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Room left after the initial coding history so that [`WavWriter::set_bext`]
/// may write a longer one (the unused tail is NUL padding, which EBU Tech
/// 3285 readers ignore).
pub const BEXT_CODING_HISTORY_RESERVE: usize = 1024;

/// Room left in the `iXML` chunk beyond its text at [`super::WavWriterBuilder::ixml`],
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
/// (optional, [`super::WavWriterBuilder::ixml`]), `fact` (float only), `data`.
///
/// [`WavWriter::create`] makes a writer without iXML and of a length found at finish;
/// [`WavWriter::builder`] sets up the header in file order (iXML, then the length), an
/// order the types enforce.
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
    /// TPDF dither on PCM (off: see [`super::WavWriterBuilder::without_dither`]).
    dither: bool,
    peak: Vec<f32>,
    clipped: u64,
    non_finite: u64,
    /// Interleaved bytes of one write, in 4-byte words (aligned for `f32`).
    buf: Vec<u32>,
    /// Set by [`super::WavWriterBuilder::expect_frames`]: the final header, already on disk, and the
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

impl std::fmt::Debug for WavWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish()
    }
}

fn temp_path(path: &Path) -> PathBuf {
    crate::io::commit::temp_path(path, "partial")
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
    /// back to rewriting the header and hashing the file from disk. Reached through
    /// [`super::WavWriterBuilder::expect_frames`], which allows no chunk after it.
    pub(super) fn expect_frames(&mut self, frames: u64) -> Result<()> {
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
    /// [`super::WavWriterBuilder::expect_frames`].
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

    /// Whether the header on disk is final and the file is hashed as it is written
    /// (see [`super::WavWriterBuilder::expect_frames`]).
    #[cfg(test)]
    pub(super) fn hashes_as_it_writes(&self) -> bool {
        self.early.is_some()
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Adds an `iXML` chunk (before `data`; see [`crate::io::ixml`]) whose `BEXT`
    /// mirror is taken from the file's bext at finish. Must come before any
    /// audio is written: the header is rewritten with room for the chunk
    /// plus [`IXML_RESERVE`] bytes (the text is padded with spaces to that
    /// size, so the header keeps its length when the bext changes). Reached through
    /// [`super::WavWriterBuilder::ixml`], before the length and any audio.
    pub(super) fn with_ixml(mut self, ixml: IXml) -> Result<Self> {
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
    /// Reached through [`super::WavWriterBuilder::without_dither`], before any audio.
    pub(super) fn without_dither(mut self) -> Self {
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
                    let dither = self.dither;
                    for (c, src) in chans.iter().enumerate() {
                        let rng = &mut self.rngs[c];
                        let (src, o) = (&src[at..], c * width);
                        // Mono, stereo, 5.1 and 7.1 get a loop specialized for their
                        // frame size (a constant stride); other layouts the general one.
                        use dither::quantize_channel as q;
                        let q = match (width, stride) {
                            (3, 3) => q::<3>(src, rng, dither, tile, 3, o),
                            (3, 6) => q::<3>(src, rng, dither, tile, 6, o),
                            (3, 18) => q::<3>(src, rng, dither, tile, 18, o),
                            (3, 24) => q::<3>(src, rng, dither, tile, 24, o),
                            (3, _) => q::<3>(src, rng, dither, tile, stride, o),
                            (_, 2) => q::<2>(src, rng, dither, tile, 2, o),
                            (_, 4) => q::<2>(src, rng, dither, tile, 4, o),
                            (_, 12) => q::<2>(src, rng, dither, tile, 12, o),
                            (_, 16) => q::<2>(src, rng, dither, tile, 16, o),
                            _ => q::<2>(src, rng, dither, tile, stride, o),
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
            // Sync, and hash the file as it now is, read back, at the same time.
            sync_and_hash_back(&mut file).map_err(ioe)?
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
    /// The temporary file, to be committed with others by [`crate::io::commit::commit`],
    /// and what it will be.
    pub fn into_staged(mut self) -> (crate::io::commit::Staged, WrittenFile) {
        let tmp = std::mem::take(&mut self.tmp);
        let file = self.file.clone();
        (crate::io::commit::Staged::new(tmp, file.path.clone()), file)
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
    use super::super::{Bext, Container, WavReader};
    use super::*;

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
            tracks: vec![crate::io::IXmlTrack {
                channel_index: 1,
                interleave_index: 1,
                name: "L".into(),
            }],
            ..Default::default()
        };
        let mut w = WavWriter::builder(&p, spec).ixml(x).create().unwrap();
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
        // iXML must come before any audio (the builder's types make this call
        // impossible outside this module; the writer refuses it too).
        let p2 = dir.join("y.wav");
        let mut w = WavWriter::create(&p2, WavSpec::new(1, 48_000, OutputFormat::Pcm16)).unwrap();
        w.write_planar(&[&[0.0; 4]]).unwrap();
        assert!(w.with_ixml(IXml::default()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
