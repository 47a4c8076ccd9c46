//! A [`WavWriter`] built in the order its file is laid out: the header's chunks first
//! (the `bext` in the [`WavSpec`], an `iXML`), then, optionally, the file's length (which
//! makes the header final: it is written once and the file is hashed as it is written),
//! and only then a writer that takes audio. The order is in the types: the length is
//! declared by [`WavWriterBuilder::expect_frames`], which returns a builder without
//! [`WavWriterBuilder::ixml`], and no builder writes audio. So an iXML chunk set after
//! the length, which would change a header already on disk, does not compile:
//!
//! ```compile_fail,E0599
//! # use dubstage_core::io::{IXml, OutputFormat, WavSpec, WavWriter};
//! let spec = WavSpec::new(2, 48_000, OutputFormat::Pcm24);
//! let w = WavWriter::builder("late.wav".as_ref(), spec)
//!     .expect_frames(48_000)
//!     .ixml(IXml::default());
//! ```
//!
//! and neither does an iXML chunk after audio:
//!
//! ```compile_fail,E0624
//! # use dubstage_core::io::{IXml, OutputFormat, WavSpec, WavWriter};
//! # fn f() -> dubstage_core::Result<()> {
//! let spec = WavSpec::new(1, 48_000, OutputFormat::Pcm24);
//! let mut w = WavWriter::builder("late.wav".as_ref(), spec).create()?;
//! w.write_planar(&[&[0.0; 4]])?;
//! let w = w.with_ixml(IXml::default())?;
//! # Ok(()) }
//! ```
//!
//! The order that compiles (the same calls, iXML first):
//!
//! ```
//! # use dubstage_core::io::{IXml, OutputFormat, WavReader, WavSpec, WavWriter};
//! # fn main() -> dubstage_core::Result<()> {
//! let dir = std::env::temp_dir().join(format!("dubstage-builder-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let spec = WavSpec::new(2, 48_000, OutputFormat::Pcm24);
//! let ixml = IXml { project: "Reel 1".into(), ..Default::default() };
//! let mut w = WavWriter::builder(&dir.join("a.wav"), spec)
//!     .ixml(ixml)
//!     .expect_frames(4)
//!     .create()?;
//! w.write_planar(&[&[0.25; 4], &[-0.25; 4]])?;
//! let written = w.finish()?;
//! let r = WavReader::open(&written.path)?;
//! assert_eq!(r.info().ixml.as_ref().unwrap().project, "Reel 1");
//! std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```

use super::spec::WavSpec;
use super::write::WavWriter;
use crate::Result;
use crate::io::ixml::IXml;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Builder state: chunks may still be added to the header.
#[derive(Debug)]
pub struct Chunks;

/// Builder state: the file's length is declared, so its header is final.
#[derive(Debug)]
pub struct Announced;

/// A [`WavWriter`] to be created (see the module doc): `WavWriter::builder(path, spec)`,
/// then [`WavWriterBuilder::ixml`], then [`WavWriterBuilder::expect_frames`], each
/// optional, in that order; [`WavWriterBuilder::create`] opens the file.
#[derive(Debug)]
pub struct WavWriterBuilder<State = Chunks> {
    path: PathBuf,
    spec: WavSpec,
    ixml: Option<IXml>,
    dither: bool,
    sync_every: Option<u64>,
    frames: Option<u64>,
    state: PhantomData<State>,
}

impl WavWriter {
    /// A builder of a writer of `spec` to `path` (see [`WavWriterBuilder`]).
    pub fn builder(path: &Path, spec: WavSpec) -> WavWriterBuilder<Chunks> {
        WavWriterBuilder {
            path: path.to_path_buf(),
            spec,
            ixml: None,
            dither: true,
            sync_every: None,
            frames: None,
            state: PhantomData,
        }
    }
}

impl WavWriterBuilder<Chunks> {
    /// Adds an `iXML` chunk (before `data`; see [`crate::io::ixml`]) whose `BEXT`
    /// mirror is taken from the file's bext at finish, with room for
    /// [`super::IXML_RESERVE`] more bytes (so the header keeps its length when the bext
    /// changes).
    pub fn ixml(mut self, ixml: IXml) -> Self {
        self.ixml = Some(ixml);
        self
    }

    /// Declares the file's final length: the header (RIFF or RF64/BW64 for that length)
    /// is written final at create, and the file is hashed as it is written, so
    /// [`WavWriter::finish`] need not read it back. Should the file end with another
    /// length, or [`WavWriter::set_bext`] change the header, `finish` falls back to
    /// rewriting the header and hashing the file from disk. No chunk may be added after.
    pub fn expect_frames(self, frames: u64) -> WavWriterBuilder<Announced> {
        WavWriterBuilder {
            path: self.path,
            spec: self.spec,
            ixml: self.ixml,
            dither: self.dither,
            sync_every: self.sync_every,
            frames: Some(frames),
            state: PhantomData,
        }
    }
}

impl<State> WavWriterBuilder<State> {
    /// Writes PCM without dither (see [`WavWriter::without_dither`]).
    pub fn without_dither(mut self) -> Self {
        self.dither = false;
        self
    }

    /// Data bytes between two background writebacks (see [`WavWriter::sync_as_you_go`]).
    pub fn sync_every(mut self, bytes: u64) -> Self {
        self.sync_every = Some(bytes);
        self
    }

    /// Creates the temporary file beside the path with its header (see
    /// [`WavWriter::create`]), ready for audio.
    pub fn create(self) -> Result<WavWriter> {
        let mut w = WavWriter::create(&self.path, self.spec)?;
        if let Some(x) = self.ixml {
            w = w.with_ixml(x)?;
        }
        if !self.dither {
            w = w.without_dither();
        }
        if let Some(b) = self.sync_every {
            w.sync_as_you_go(b)?;
        }
        if let Some(n) = self.frames {
            w.expect_frames(n)?;
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Bext, OutputFormat, WavReader};

    /// iXML, then the length: the header written at create is final (the file is hashed
    /// as it is written), and the file is byte for byte the one written without the
    /// announcement, whose header is completed at finish.
    #[test]
    fn ixml_then_length_hashes_as_it_writes_and_gives_the_same_file() {
        let dir = std::env::temp_dir().join(format!("dubstage-builder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut spec = WavSpec::new(2, 48_000, OutputFormat::Pcm24);
        spec.bext = Some(Bext {
            description: "builder".into(),
            version: 2,
            ..Default::default()
        });
        let x = IXml {
            project: "Reel <1>".into(),
            ..Default::default()
        };
        let left: Vec<f32> = (0..1001).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let right: Vec<f32> = left.iter().map(|v| -v).collect();
        let mut out = Vec::new();
        for announce in [true, false] {
            let p = dir.join(format!("a{announce}.wav"));
            let b = WavWriter::builder(&p, spec.clone()).ixml(x.clone());
            let mut w = if announce {
                b.expect_frames(1001).create().unwrap()
            } else {
                b.create().unwrap()
            };
            assert_eq!(w.hashes_as_it_writes(), announce);
            for k in (0..1001).step_by(300) {
                let e = (k + 300).min(1001);
                w.write_planar(&[&left[k..e], &right[k..e]]).unwrap();
            }
            let f = w.finish().unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(f.sha256, crate::sha256_hex(&bytes));
            let r = WavReader::open(&p).unwrap();
            assert_eq!(r.info().frames, 1001);
            assert_eq!(r.info().ixml.as_ref().unwrap().project, "Reel <1>");
            out.push(bytes);
        }
        assert!(out[0] == out[1], "the announced file differs");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
