//! Sources: each stem read onto the reel timeline, block after block, with the checks
//! that its files are still what the session checked and hold finite samples.

use crate::io::{AudioReader, WavReader, first_non_finite};
use crate::session::{Plan, PlanStem};
use crate::{Error, Result};

/// Reads one stem onto the reel timeline, block after block.
pub struct StemReader {
    pub(super) id: String,
    readers: Vec<AudioReader>,
    /// file channel -> layout index
    map: Vec<usize>,
    pub(super) frames: u64,
    pub(super) offset: i64,
    channels: usize,
    scratch: Vec<Vec<f32>>,
    start_samples: i64,
    plan_rate: (crate::FrameRate, u32),
    /// layout index -> file channel (one file; the inverse of `map`).
    pub(super) file_channel: Vec<usize>,
    /// A track's clips, read in place of the stem's files.
    track: Option<crate::timeline::TrackReader>,
}

impl StemReader {
    /// Opens the stem's files, positioned for reel sample `t0`.
    pub fn open(stem: &PlanStem, plan: &Plan, t0: i64) -> Result<StemReader> {
        let track = (!stem.clips.is_empty())
            .then(|| crate::timeline::TrackReader::open(stem))
            .transpose()?;
        let mut readers = Vec::new();
        for p in stem.paths.iter().filter(|_| track.is_none()) {
            readers.push(AudioReader::open(p).map_err(|e| Error::stem(&stem.id, e.to_string()))?);
        }
        check_unchanged(stem, plan, &readers)?;
        let local = (t0 - stem.offset).clamp(0, stem.frames as i64) as u64;
        for r in &mut readers {
            r.seek(local)
                .map_err(|e| Error::stem(&stem.id, e.to_string()))?;
        }
        Ok(StemReader {
            id: stem.id.clone(),
            readers,
            map: stem.file_to_layout.clone(),
            frames: stem.frames,
            offset: stem.offset,
            channels: stem.layout.len(),
            scratch: vec![Vec::new(); stem.layout.len()],
            start_samples: plan.start_samples,
            plan_rate: (plan.frame_rate, plan.sample_rate),
            file_channel: {
                let mut inv = vec![0; stem.file_to_layout.len()];
                for (c, &li) in stem.file_to_layout.iter().enumerate() {
                    if let Some(v) = inv.get_mut(li) {
                        *v = c;
                    }
                }
                inv
            },
            track,
        })
    }

    /// The stem's one WAV file, for positional reads (`None` for FLAC or multi-mono).
    pub(super) fn direct(&self) -> Option<&WavReader> {
        if self.track.is_some() {
            return None;
        }
        match self.readers.as_slice() {
            [r] if self.map.len() == self.channels => r.as_wav(),
            _ => None,
        }
    }

    /// The error for a NaN or infinite sample at `frame` of the file `info`, channel
    /// `c` (0-based).
    pub(super) fn non_finite(&self, info: &crate::io::WavInfo, frame: i64, c: usize) -> Error {
        non_finite_error(
            &self.id,
            self.start_samples + self.offset,
            self.plan_rate,
            info,
            frame,
            c,
        )
    }

    /// Fills `out` (layout order, `n` frames each) with reel samples `t0 .. t0 + n`
    /// (silence outside the stem). Calls must be consecutive.
    pub fn read_block(&mut self, t0: i64, n: usize, out: &mut [Vec<f32>]) -> Result<()> {
        if let Some(t) = &mut self.track {
            return t.read_block(t0, n, out);
        }
        let a = (t0 - self.offset).max(0);
        let b = (t0 + n as i64 - self.offset).min(self.frames as i64);
        let want = (b - a).max(0) as usize;
        let dst = (a + self.offset - t0).max(0) as usize;
        // A block wholly inside the stem takes the decoded buffers as they are;
        // otherwise the block is silence around the stem's part.
        let whole = dst == 0 && want == n;
        if !whole {
            for ch in out.iter_mut() {
                ch.clear();
                ch.resize(n, 0.0);
            }
        }
        if b <= a {
            return Ok(());
        }
        let mut file_ch = 0;
        for r in &mut self.readers {
            let nch = r.info().channels as usize;
            let got = r
                .read_planar(&mut self.scratch[..nch], want)
                .map_err(|e| Error::stem(&self.id, e.to_string()))?;
            if got != want {
                return Err(Error::stem(
                    &self.id,
                    format!(
                        "{} ended after {} of {} frames (truncated?)",
                        r.info().path.display(),
                        a as usize + got,
                        self.frames
                    ),
                ));
            }
            for c in 0..nch {
                let li = self.map[file_ch + c];
                let src = &self.scratch[c][..want];
                let found = if r.may_hold_non_finite() {
                    first_non_finite(src)
                } else {
                    None
                };
                if let Some(k) = found {
                    return Err(non_finite_error(
                        &self.id,
                        self.start_samples + self.offset,
                        self.plan_rate,
                        r.info(),
                        a + k as i64,
                        c,
                    ));
                }
                if whole {
                    std::mem::swap(&mut out[li], &mut self.scratch[c]);
                } else {
                    out[li][dst..dst + want].copy_from_slice(src);
                }
            }
            file_ch += nch;
        }
        debug_assert_eq!(file_ch, self.channels);
        Ok(())
    }
}

/// A stem's files must still be what [`crate::Session::resolve`] checked (a file
/// re-bounced during a long render would otherwise be read at the wrong speed, or
/// with channels the plan has no place for).
fn check_unchanged(stem: &PlanStem, plan: &Plan, readers: &[AudioReader]) -> Result<()> {
    let per_file = if readers.len() == 1 {
        stem.layout.len()
    } else {
        1
    };
    for r in readers {
        let i = r.info();
        if usize::from(i.channels) != per_file
            || i.sample_rate != plan.sample_rate
            || i.frames != stem.frames
        {
            return Err(Error::stem(
                &stem.id,
                format!(
                    "{} changed after the session was checked: it now holds {} channel(s) at {} Hz, {} frames, where {per_file} channel(s) at {} Hz, {} frames were checked; render again",
                    i.path.display(),
                    i.channels,
                    i.sample_rate,
                    i.frames,
                    plan.sample_rate,
                    stem.frames
                ),
            ));
        }
    }
    Ok(())
}

/// The error for a NaN or infinite sample of stem `id` at `frame` of its file `info`,
/// channel `c` (0-based); `start` is the file's first sample on the timecode scale.
fn non_finite_error(
    id: &str,
    start: i64,
    rate: (crate::FrameRate, u32),
    info: &crate::io::WavInfo,
    frame: i64,
    c: usize,
) -> Error {
    let tc = crate::Timecode::from_samples(start + frame, rate.0, rate.1);
    Error::stem(
        id,
        format!(
            "{} holds a NaN or infinite sample at {tc} (frame {frame} of the file, channel {})",
            info.path.display(),
            c + 1
        ),
    )
}
