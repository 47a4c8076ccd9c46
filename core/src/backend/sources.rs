//! The mix's sum of sources ([`SourceSum`]): stems and returns routed into the bus
//! outputs, some of them read straight from their WAV files as they are summed.
//!
//! [`Backend::sum_sources`](super::Backend::sum_sources) runs it. Its default
//! ([`planar_sum`]) decodes the file sources into planar buffers and hands one
//! [`SumJob`] to [`Backend::sum`](super::Backend::sum) (the GPU's `sum_stems` kernel);
//! the CPU backend overrides it with [`direct_sum`], which decodes each file piece by
//! piece as it is added, with the arithmetic and order of
//! [`sum_stems`](super::cpu::sum_stems), so both give the same bits.

use super::{Backend, SumJob};
use crate::io::{WavReader, first_non_finite};
use crate::{Error, Result};

/// Who builds the error for a NaN or infinite sample of a file source: `(frame of the
/// file, channel of the file)` (the engine names the stem and the timecode).
pub type NonFiniteError<'a> = dyn Fn(i64, usize) -> Error + Sync + 'a;

/// A stem read from its one WAV file, positionally, as the sum needs it.
#[derive(Clone, Copy)]
pub struct FileSource<'a> {
    /// The stem's id (read errors name it).
    pub id: &'a str,
    /// The file.
    pub wav: &'a WavReader,
    /// Reel sample of the file's first frame (may be negative).
    pub offset: i64,
    /// Frames of the file that belong to the stem.
    pub frames: u64,
    /// For each channel of the stem's layout (a route's input index), its channel in
    /// the file.
    pub file_channel: &'a [usize],
    /// The error for a NaN or infinite sample.
    pub non_finite: &'a NonFiniteError<'a>,
}

/// One source of a [`SourceSum`], in the order the sum adds them.
#[derive(Clone, Copy)]
pub enum SumSource<'a> {
    /// Planar buffers in layout order, holding the block (at least `frames` each): a stem
    /// read and processed before (inserts, sends), a return.
    Planar(&'a [Vec<f32>]),
    /// A plain stem, decoded from its file by the sum (silence outside the file).
    File(FileSource<'a>),
}

/// How the sources reach the outputs, built once per mix.
#[derive(Debug, Clone)]
pub struct Routing {
    outputs: usize,
    widths: Vec<usize>,
    matrix: Vec<f32>,
    envelope_of: Vec<usize>,
    routes: Vec<Vec<(usize, usize, f32)>>,
}

impl Routing {
    /// `matrix` is `outputs x Σ widths`, row-major: the sources' channels side by side,
    /// source `k` with `widths[k]` channels, scaled by envelope `k`.
    pub fn new(outputs: usize, widths: Vec<usize>, matrix: Vec<f32>) -> Result<Routing> {
        let ni: usize = widths.iter().sum();
        if matrix.len() != outputs * ni {
            return Err(Error::Backend(format!(
                "routing: {} coefficients for {outputs} outputs x {ni} inputs",
                matrix.len()
            )));
        }
        let mut envelope_of = Vec::with_capacity(ni);
        let mut routes = Vec::with_capacity(widths.len());
        let mut col = 0;
        for (k, &w) in widths.iter().enumerate() {
            envelope_of.extend(std::iter::repeat_n(k, w));
            let mut r = Vec::new();
            for o in 0..outputs {
                for i in 0..w {
                    let m = matrix[o * ni + col + i];
                    if m != 0.0 {
                        r.push((o, i, m));
                    }
                }
            }
            routes.push(r);
            col += w;
        }
        Ok(Routing {
            outputs,
            widths,
            matrix,
            envelope_of,
            routes,
        })
    }

    /// Output channels.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Channels of each source.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The dense `outputs x inputs` matrix (a [`SumJob::matrix`]).
    pub fn matrix(&self) -> &[f32] {
        &self.matrix
    }

    /// For each input channel, its source (a [`SumJob::envelope_of`]).
    pub fn envelope_of(&self) -> &[usize] {
        &self.envelope_of
    }

    /// Per source, its nonzero routes `(output, channel, gain)`, by output, then channel
    /// (the order in which [`sum_stems`](super::cpu::sum_stems) adds them per output).
    pub fn routes(&self) -> &[Vec<(usize, usize, f32)>] {
        &self.routes
    }
}

/// One block of the mix's sum: `out[o][t] = Σ_k Σ_(o,i,m) m · env_k[t] · x_k,i[t]` over
/// the sources `k` in order, as [`SumJob`] defines it for the same inputs (a file source
/// is silence outside its file).
#[derive(Clone, Copy)]
pub struct SourceSum<'a> {
    /// Reel sample of the block's first frame.
    pub t0: i64,
    /// Frames to produce.
    pub frames: usize,
    /// The sources (`routing.widths().len()` of them).
    pub sources: &'a [SumSource<'a>],
    /// One gain envelope per source, at least `frames` long.
    pub envelopes: &'a [&'a [f32]],
    /// The routing.
    pub routing: &'a Routing,
}

impl SourceSum<'_> {
    /// Checks the shapes; backends call this before running.
    pub fn validate(&self) -> Result<()> {
        let r = self.routing;
        let bad = |m: String| Err(Error::Backend(m));
        if self.sources.len() != r.widths.len() || self.envelopes.len() != r.widths.len() {
            return bad(format!(
                "source sum: {} sources and {} envelopes for {} routed sources",
                self.sources.len(),
                self.envelopes.len(),
                r.widths.len()
            ));
        }
        if self.envelopes.iter().any(|e| e.len() < self.frames) {
            return bad(format!(
                "source sum: an envelope is shorter than {} frames",
                self.frames
            ));
        }
        for (k, (s, &w)) in self.sources.iter().zip(&r.widths).enumerate() {
            let ok = match s {
                SumSource::Planar(b) => b.len() == w && b.iter().all(|c| c.len() >= self.frames),
                SumSource::File(f) => {
                    f.file_channel.len() == w
                        && f.file_channel
                            .iter()
                            .all(|&c| c < usize::from(f.wav.info().channels))
                }
            };
            if !ok {
                return bad(format!(
                    "source sum: source {k} does not match its {w} routed channels"
                ));
            }
        }
        Ok(())
    }
}

impl FileSource<'_> {
    /// The file's part of block frames `f0 .. f1` of a block starting at reel sample
    /// `t0`, in block frames (empty when the file has no sample there).
    fn span(&self, t0: i64, f0: usize, f1: usize) -> (usize, usize) {
        let a = (self.offset - t0).max(f0 as i64);
        let b = (self.offset + self.frames as i64 - t0).min(f1 as i64);
        if b <= a {
            (f0, f0)
        } else {
            (a as usize, b as usize)
        }
    }

    /// Decodes file frames `frame .. frame + k` into `planar` (file channel order),
    /// checking for NaN and infinity.
    fn read(
        &self,
        frame: u64,
        k: usize,
        planar: &mut [Vec<f32>],
        raw: &mut Vec<u32>,
    ) -> Result<()> {
        for p in planar.iter_mut() {
            p.resize(k, 0.0);
        }
        let maybe_bad = self
            .wav
            .read_planar_at(frame, k, planar, raw)
            .map_err(|e| Error::stem(self.id, e.to_string()))?;
        if maybe_bad {
            for (c, x) in planar.iter().enumerate() {
                if let Some(j) = first_non_finite(&x[..k]) {
                    return Err((self.non_finite)(frame as i64 + j as i64, c));
                }
            }
        }
        Ok(())
    }

    /// Fills `out` (layout order, `n` frames each) with reel samples `t0 .. t0 + n`:
    /// silence outside the file.
    pub fn read_block(&self, t0: i64, n: usize, out: &mut [Vec<f32>]) -> Result<()> {
        let ch = usize::from(self.wav.info().channels);
        let mut planar = vec![Vec::new(); ch];
        let mut raw = Vec::new();
        for o in out.iter_mut() {
            o.clear();
            o.resize(n, 0.0);
        }
        let (a, b) = self.span(t0, 0, n);
        if b > a {
            let frame = (t0 + a as i64 - self.offset) as u64;
            self.read(frame, b - a, &mut planar, &mut raw)?;
            for (o, &fc) in out.iter_mut().zip(self.file_channel) {
                o[a..b].copy_from_slice(&planar[fc][..b - a]);
            }
        }
        Ok(())
    }
}

/// The default [`Backend::sum_sources`](super::Backend::sum_sources): the file sources
/// decoded into planar buffers (in parallel on native targets), then one [`SumJob`]
/// through `backend.sum`.
pub fn planar_sum<B: Backend + ?Sized>(
    backend: &mut B,
    job: &SourceSum<'_>,
    out: &mut [Vec<f32>],
) -> Result<()> {
    job.validate()?;
    let n = job.frames;
    let files: Vec<(usize, &FileSource<'_>)> = job
        .sources
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match s {
            SumSource::File(f) => Some((k, f)),
            SumSource::Planar(_) => None,
        })
        .collect();
    let read = |(k, f): &(usize, &FileSource<'_>)| -> Result<Vec<Vec<f32>>> {
        let mut b = vec![Vec::new(); job.routing.widths[*k]];
        f.read_block(job.t0, n, &mut b)?;
        Ok(b)
    };
    #[cfg(not(target_arch = "wasm32"))]
    let decoded: Vec<Vec<Vec<f32>>> = {
        use rayon::prelude::*;
        files.par_iter().map(read).collect::<Result<_>>()?
    };
    #[cfg(target_arch = "wasm32")]
    let decoded: Vec<Vec<Vec<f32>>> = files.iter().map(read).collect::<Result<_>>()?;
    let mut next = decoded.iter();
    let mut inputs: Vec<&[f32]> = Vec::with_capacity(job.routing.envelope_of.len());
    for s in job.sources {
        let bufs: &[Vec<f32>] = match s {
            SumSource::Planar(b) => b,
            SumSource::File(_) => next.next().expect("one decoded block per file source"),
        };
        inputs.extend(bufs.iter().map(|c| &c[..n]));
    }
    let sum = SumJob {
        frames: n,
        inputs: &inputs,
        envelope_of: &job.routing.envelope_of,
        envelopes: job.envelopes,
        matrix: &job.routing.matrix,
        outputs: job.routing.outputs,
    };
    backend.sum(&sum, out)
}

/// Frames per tile of [`direct_sum`] (tiles run in parallel; fixed, so that what is
/// found first in a block does not depend on the thread count). 8192 measured best
/// against 2048, 4096 and 16384 on `bench/mix.sh`.
pub const DIRECT_TILE: usize = 8192;

/// Bytes of a file decoded at once in [`direct_sum`] (the raw piece and its planar copy
/// stay in L2 while they are summed).
const DIRECT_PIECE_BYTES: usize = 256 << 10;

/// One tile's buffers in [`direct_sum`] (kept per thread between blocks).
#[derive(Default)]
struct TileScratch {
    raw: Vec<u32>,
    planar: Vec<Vec<f32>>,
    /// Per output: has an input reached it yet in this tile?
    touched: Vec<bool>,
    /// Per route of the current source: does it reach its output first?
    first: Vec<bool>,
    /// Per output: written in the current piece?
    done: Vec<bool>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<TileScratch> = std::cell::RefCell::default();
}

/// The CPU's [`SourceSum`]: file sources decoded piece by piece as they are added (no
/// planar copy of them crosses memory), the others taken from their buffers. Per
/// output sample the arithmetic and order are those of
/// [`sum_stems`](super::cpu::sum_stems) (sources in order, each input's `m · g · x`
/// added to a sum that starts at `+0.0`), so the bytes are those of [`planar_sum`] on
/// the CPU. Tiles of [`DIRECT_TILE`] frames run in parallel; the first error in tile
/// order is returned.
pub fn direct_sum(job: &SourceSum<'_>, out: &mut [Vec<f32>]) -> Result<()> {
    job.validate()?;
    let n = job.frames;
    let outputs = job.routing.outputs;
    if out.len() < outputs {
        return Err(Error::Backend(format!(
            "source sum: {} output buffers for {outputs} outputs",
            out.len()
        )));
    }
    let tiles = n.div_ceil(DIRECT_TILE);
    let mut rows: Vec<Vec<&mut [f32]>> = (0..tiles).map(|_| Vec::new()).collect();
    for o in out[..outputs].iter_mut() {
        // Every sample is written by `sum_tile`: only a change of length touches memory.
        o.resize(n, 0.0);
        for (t, c) in o.chunks_mut(DIRECT_TILE).enumerate() {
            rows[t].push(c);
        }
    }
    let tile = |(t, ys): (usize, Vec<&mut [f32]>)| {
        SCRATCH.with_borrow_mut(|sc| sum_tile(job, t * DIRECT_TILE, ys, sc))
    };
    #[cfg(not(target_arch = "wasm32"))]
    let results: Vec<Result<()>> = {
        use rayon::prelude::*;
        rows.into_par_iter().enumerate().map(tile).collect()
    };
    #[cfg(target_arch = "wasm32")]
    let results: Vec<Result<()>> = rows.into_iter().enumerate().map(tile).collect();
    results.into_iter().collect()
}

/// One tile of [`direct_sum`]: block frames `f0 .. f0 + ys[0].len()` of every output,
/// all sources in order. An output's first input over the whole tile is assigned
/// (`0.0 + m·g·x`), later ones added; an output that no input reaches is 0.
fn sum_tile(
    job: &SourceSum<'_>,
    f0: usize,
    mut ys: Vec<&mut [f32]>,
    sc: &mut TileScratch,
) -> Result<()> {
    use super::cpu::{accumulate, assign};
    let len = ys.first().map_or(0, |y| y.len());
    let f1 = f0 + len;
    sc.touched.clear();
    sc.touched.resize(ys.len(), false);
    let sources = job.sources.iter().zip(job.routing.routes.iter());
    for ((src, route), env) in sources.zip(job.envelopes) {
        let env = &env[f0..f1];
        match src {
            SumSource::Planar(bufs) => {
                for &(o, i, m) in route {
                    let x = &bufs[i][f0..f1];
                    if sc.touched[o] {
                        accumulate(ys[o], m, env, x);
                    } else {
                        assign(ys[o], m, env, x);
                        sc.touched[o] = true;
                    }
                }
            }
            SumSource::File(file) => {
                let (a, b) = file.span(job.t0, f0, f1);
                if b <= a {
                    continue;
                }
                // Outputs this source reaches first: assigned where it covers the whole
                // tile, else zeroed first.
                let whole = a == f0 && b == f1;
                let mut first = std::mem::take(&mut sc.first);
                first.clear();
                first.extend(route.iter().map(|&(o, _, _)| !sc.touched[o] && whole));
                for &(o, _, _) in route {
                    if !sc.touched[o] && !whole {
                        ys[o].fill(0.0);
                    }
                    sc.touched[o] = true;
                }
                let ch = usize::from(file.wav.info().channels);
                if sc.planar.len() < ch {
                    sc.planar.resize(ch, Vec::new());
                }
                let piece = (DIRECT_PIECE_BYTES / file.wav.block_align()).max(1);
                let mut f = a;
                while f < b {
                    let k = piece.min(b - f);
                    let frame = (job.t0 + f as i64 - file.offset) as u64;
                    file.read(frame, k, &mut sc.planar[..ch], &mut sc.raw)?;
                    // `first` per route: the first route into an output assigns it;
                    // a later route into the same output (a pan) adds.
                    let mut done = std::mem::take(&mut sc.done);
                    done.clear();
                    done.resize(ys.len(), false);
                    for (&(o, i, m), &fst) in route.iter().zip(&first) {
                        let x = &sc.planar[file.file_channel[i]][..k];
                        let y = &mut ys[o][f - f0..f - f0 + k];
                        if fst && !done[o] {
                            assign(y, m, &env[f - f0..], x);
                        } else {
                            accumulate(y, m, &env[f - f0..], x);
                        }
                        done[o] = true;
                    }
                    sc.done = done;
                    f += k;
                }
                sc.first = first;
            }
        }
    }
    for (y, &t) in ys.iter_mut().zip(&sc.touched) {
        if !t {
            y.fill(0.0);
        }
    }
    Ok(())
}
