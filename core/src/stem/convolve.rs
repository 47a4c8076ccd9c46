//! Offline, streaming, zero-latency FFT convolution (reverbs, room IRs, futz
//! speaker IRs) for multi-channel stems.
//!
//! # Algorithm: uniformly partitioned overlap-save (UPOLS)
//!
//! (Stockham, "High-speed convolution and correlation", AFIPS 1966, for
//! overlap-save; the uniform partitioning with a frequency-domain delay line is
//! the scheme of Soo & Pang, "Multidelay block frequency domain adaptive
//! filter", IEEE Trans. ASSP 38(2), 1990, and Wefers, *Partitioned convolution
//! algorithms for real-time auralization*, 2015, §5.)
//!
//! With block (partition) size `B` and FFT size `N = 2B`:
//!
//! * the IR `h` (after predelay and gain) is cut into `P = ceil(len / B)`
//!   partitions; partition `p` is `h[pB .. pB+B]` zero-padded to `N` and
//!   transformed once: `H[j][p] = FFT_N(h_j partition p) / N`
//!   (`B + 1` complex bins each; the `1/N` of the inverse FFT is folded in);
//! * per input channel `i`, block `k` of the input is windowed with the block
//!   before it, `w_k = [x_{k-1} | x_k]` (length `N`), and
//!   `X[i][k] = FFT_N(w_k)` is pushed into a ring of `R = P + SPAN − 1`
//!   spectra (the frequency-domain delay line, FDL; slot `k mod R`; the
//!   `SPAN − 1` extra slots hold a span of new blocks beside the `P − 1`
//!   blocks they reach back to);
//! * per output channel `o`, with routes `(i, j)` (input channel `i` through IR
//!   channel `j`): `Y[o][k] = Σ_(i,j) Σ_p X[i][k-p] · H[j][p]`, and the output
//!   block `y_k` is the **last** `B` samples of `IFFT_N(Y[o][k])` (the first `B`
//!   are circularly aliased and discarded).
//!
//! Zero latency: a block is computed as soon as part of it is known. The
//! unknown (future) samples of `x_k` are zero in `w_k`, which changes only
//! outputs at or after those samples, so the outputs for the samples already
//! given are exact. The sum over `p ≥ 1` depends only on finished blocks; it
//! is computed once per block, so a partial block costs one forward FFT per
//! input channel, one multiply-add and one inverse FFT per output channel. Feed
//! chunks that are multiples of [`Convolver::block_frames`] for the fewest FFTs
//! (any chunk size gives the same output within f32 FFT rounding, about
//! -130 dB re peak).
//!
//! # Throughput
//!
//! Whole blocks that arrive together (a chunk that starts on a block boundary
//! and spans up to `SPAN` = 8 blocks) are computed as a span, the GPU's shape
//! on one channel: all forward FFTs first, then the multiply-accumulate tiled
//! over bins (512 at a time) so that a tile of every `X` and `H` involved
//! stays in cache while all blocks of the span use it, then the inverse FFTs.
//! The sum per bin runs in the same order as block by block (partitions
//! `1, 2, …, P−1`, then `0`), so the output is bit-identical either way.
//! Spectra are f32, stored split (real parts, imaginary parts) so that the
//! multiply-accumulate vectorizes without shuffles; the IR spectra are
//! computed in f64 ([`prepare_ir`]) and rounded once. Error against a direct
//! f64 convolution: about -130 dB re peak (tests: below -120 dB).
//!
//! # Layout for the GPU twin (shaders/convolve.wgsl, `dubstage_gpu::GpuConvolver`)
//!
//! The GPU runs the same algorithm over a whole span of blocks at once (the
//! input is known offline): for `K` blocks of `C` input channels, one batched
//! real FFT of `C·K` windows of length `N` (window `(i, k)` = samples
//! `[(k-1)B, (k+1)B)` of channel `i`, zero before the start), giving spectra
//! laid out `X[i][k][bin]`, `bin = 0..=B`; `H[j][p][bin]` uploaded once; one
//! multiply-accumulate kernel per `(o, k, bin)` summing routes and
//! partitions (`X[i][k-p]`, zero for `k-p` before the first block);
//! one batched inverse FFT; keep samples `B..2B` of each result. Both use f32
//! spectra; the GPU's FFT has its own tolerance against this one.
//!
//! Memory: `P·(B+1)` complex f32 per IR channel and `(P+7)·(B+1)` per input
//! channel, plus `8·(B+1)` per output channel for a span (≈ 8 bytes per IR
//! sample, plus 8 blocks), so bounded by the IR and block sizes (30 s at
//! 48 kHz, B = 65 536: ≈ 12 MB per IR channel, 15 MB per input channel),
//! independent of the programme length.
//!
//! Channels are computed in parallel with rayon on native targets. When every
//! output reads only its own input channel (mono IR, one IR channel per
//! channel, any explicit map) the channels run independently over the whole
//! chunk passed in (one parallel region per call); true stereo synchronizes
//! per block (and does not use spans).
//!
//! # Pairs
//!
//! In that case two channels through the same IR channel share one complex FFT
//! of `N` (`z = x_a + i·x_b`; the IR is real, so the inverse gives `x_a∗h` in
//! the real part and `x_b∗h` in the imaginary part), which saves the real FFTs'
//! pre- and post-processing passes: about 11% of `dubstage convolve`'s CPU time
//! on the bench (5.1 through L,R,L,L,L,R: three pairs). The spectra then have all
//! `N` bins (`H[N−k] = conj H[k]`). The pair's rounding leaks each channel into
//! the other at about −130 dB re its peak, the engine's own error level; a
//! channel that has had no nonzero sample yet outputs exact zeros, as alone. Each channel's arithmetic is the same
//! whatever the thread count (deterministic: the same bytes for 1 or N
//! threads).
//!
//! One concern in one file (over 800 lines): the convolution engine, whose paths (diagonal,
//! routed, true stereo, paired channels) share one partition geometry and state layout.

use crate::io::WavReader;
use crate::{Error, Result};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

/// The longest IR accepted, in seconds (30 s: longer than any real room or
/// plate, short enough to bound memory).
pub const MAX_IR_SECONDS: f64 = 30.0;
/// The longest predelay accepted, in milliseconds.
pub const MAX_PREDELAY_MS: f64 = 10_000.0;

type C64 = Complex<f64>;
type C32 = Complex<f32>;

macro_rules! par_mut {
    ($e:expr) => {{
        #[cfg(not(target_arch = "wasm32"))]
        {
            $e.par_iter_mut()
        }
        #[cfg(target_arch = "wasm32")]
        {
            $e.iter_mut()
        }
    }};
}

/// An impulse response: planar samples, its rate and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    /// One `Vec` per IR channel, all of the same length.
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
    /// The file it was read from (or a name for in-memory IRs); errors name it.
    pub path: PathBuf,
}

impl Ir {
    /// Validates and wraps in-memory IR samples. Errors (`Error::Format`
    /// naming `path`): no channels, no samples, channels of unequal length,
    /// longer than [`MAX_IR_SECONDS`], NaN/Inf samples, all zeros.
    pub fn new(channels: Vec<Vec<f32>>, sample_rate: u32, path: impl Into<PathBuf>) -> Result<Ir> {
        let path = path.into();
        let bad = |msg: String| Err(Error::format(&path, msg));
        if channels.is_empty() {
            return bad("impulse response has no channels".into());
        }
        let len = channels[0].len();
        if channels.iter().any(|c| c.len() != len) {
            return bad("impulse response channels differ in length".into());
        }
        if len == 0 {
            return bad("impulse response is empty (0 samples)".into());
        }
        if sample_rate == 0 {
            return bad("impulse response sample rate is 0".into());
        }
        let max = max_ir_frames(sample_rate);
        if len > max {
            return bad(format!(
                "impulse response is {:.1} s long ({len} samples); the limit is {MAX_IR_SECONDS} s",
                len as f64 / sample_rate as f64
            ));
        }
        for (c, ch) in channels.iter().enumerate() {
            if let Some(n) = ch.iter().position(|v| !v.is_finite()) {
                return bad(format!(
                    "impulse response channel {} sample {n} is {} (not a finite number)",
                    c + 1,
                    ch[n]
                ));
            }
        }
        if channels.iter().all(|c| c.iter().all(|&v| v == 0.0)) {
            return bad("impulse response is silent (all samples are zero)".into());
        }
        Ok(Ir {
            channels,
            sample_rate,
            path,
        })
    }

    /// Length in frames.
    pub fn frames(&self) -> usize {
        self.channels[0].len()
    }
    /// Channel count.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

fn max_ir_frames(sample_rate: u32) -> usize {
    (MAX_IR_SECONDS * sample_rate as f64).round() as usize
}

/// Reads and validates an IR file (WAV/RF64/BW64 through [`WavReader`]).
///
/// Errors name the file: unreadable, a sample rate other than `sample_rate`
/// (dubstage does not resample IRs yet: convert the IR first), longer than
/// [`MAX_IR_SECONDS`], NaN/Inf, all zero.
pub fn load_ir(path: &Path, sample_rate: u32) -> Result<Ir> {
    let mut r = WavReader::open(path)?;
    let info = r.info().clone();
    if info.sample_rate != sample_rate {
        return Err(Error::format(
            path,
            format!(
                "impulse response is at {} Hz but the session runs at {sample_rate} Hz \
                 (IRs are not resampled: convert it to {sample_rate} Hz)",
                info.sample_rate
            ),
        ));
    }
    if info.frames as u128 > max_ir_frames(sample_rate) as u128 {
        return Err(Error::format(
            path,
            format!(
                "impulse response is {:.1} s long ({} samples); the limit is {MAX_IR_SECONDS} s",
                info.frames as f64 / sample_rate as f64,
                info.frames
            ),
        ));
    }
    let n = info.channels as usize;
    let mut chans: Vec<Vec<f32>> = vec![Vec::with_capacity(info.frames as usize); n];
    let mut buf: Vec<Vec<f32>> = vec![Vec::new(); n];
    loop {
        let got = r.read_planar(&mut buf, 65_536)?;
        if got == 0 {
            break;
        }
        for (c, b) in chans.iter_mut().zip(&buf) {
            c.extend_from_slice(&b[..got]);
        }
        if chans[0].len() > max_ir_frames(sample_rate) {
            break; // header lied about the length; Ir::new reports it
        }
    }
    Ir::new(chans, sample_rate, path)
}

/// How an IR's level is normalized before the wet gain is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// Use the IR's samples as they are.
    #[default]
    None,
    /// Scale so that the IR channel with the most energy has unit energy
    /// (`Σ h² = 1`): white noise keeps its level through the loudest channel.
    /// One factor for all channels keeps the IR's inter-channel balance.
    Energy,
    /// Scale so that the largest absolute sample over all channels is 1.
    Peak,
}

impl Normalize {
    /// The factor applied to every IR sample.
    pub fn factor(self, ir: &Ir) -> f64 {
        match self {
            Normalize::None => 1.0,
            Normalize::Energy => {
                let e = ir
                    .channels
                    .iter()
                    .map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>())
                    .fold(0.0, f64::max);
                1.0 / e.sqrt()
            }
            Normalize::Peak => {
                let p = ir
                    .channels
                    .iter()
                    .flat_map(|c| c.iter())
                    .fold(0.0f64, |m, &v| m.max((v as f64).abs()));
                1.0 / p
            }
        }
    }
}

/// Which IR channel feeds which output channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IrMap {
    /// A mono IR on every channel; an IR with as many channels as the stem one
    /// IR channel per stem channel; anything else needs an explicit map.
    #[default]
    Auto,
    /// `map[c]` = the IR channel (0-based) convolved with stem channel `c`
    /// (e.g. 5.1 stem, stereo IR: `[0, 1, 0, 0, 0, 1]` = L,R,L,L,L,R).
    Channels(Vec<usize>),
    /// True stereo: stereo stem, 4-channel IR ordered L→L, L→R, R→L, R→R;
    /// `out L = in L * h0 + in R * h2`, `out R = in L * h1 + in R * h3`.
    TrueStereo,
}

impl IrMap {
    /// Per output channel, the `(input channel, IR channel)` routes; errors name
    /// the IR file and the mismatch.
    pub fn routes(&self, ir: &Ir, channels: usize) -> Result<Vec<Vec<(usize, usize)>>> {
        let n_ir = ir.channel_count();
        let bad = |msg: String| Err(Error::format(&ir.path, msg));
        match self {
            IrMap::Auto => {
                if n_ir == 1 {
                    Ok((0..channels).map(|c| vec![(c, 0)]).collect())
                } else if n_ir == channels {
                    Ok((0..channels).map(|c| vec![(c, c)]).collect())
                } else {
                    bad(format!(
                        "impulse response has {n_ir} channels and the stem {channels}: \
                         give a map (one IR channel per stem channel, e.g. map = [\"L\", \"R\", \"L\", \"L\", \"L\", \"R\"])"
                    ))
                }
            }
            IrMap::Channels(m) => {
                if m.len() != channels {
                    return bad(format!(
                        "the map lists {} channels but the stem has {channels}",
                        m.len()
                    ));
                }
                if let Some(&j) = m.iter().find(|&&j| j >= n_ir) {
                    return bad(format!(
                        "the map uses IR channel {} but the impulse response has {n_ir} channel(s)",
                        j + 1
                    ));
                }
                Ok(m.iter().enumerate().map(|(c, &j)| vec![(c, j)]).collect())
            }
            IrMap::TrueStereo => {
                if n_ir != 4 || channels != 2 {
                    return bad(format!(
                        "true stereo needs a 4-channel IR (L→L, L→R, R→L, R→R) and a stereo stem; \
                         the IR has {n_ir} channel(s) and the stem {channels}"
                    ));
                }
                Ok(vec![vec![(0, 0), (1, 2)], vec![(0, 1), (1, 3)]])
            }
        }
    }
}

/// Level, normalization, predelay and block size of a [`Convolver`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConvolverOptions {
    /// Gain of the convolved (wet) signal in dB; `-inf` mutes it.
    pub wet_db: f64,
    /// Gain of the unprocessed (dry) signal in dB; `-inf` (the default) mutes it.
    pub dry_db: f64,
    pub normalize: Normalize,
    /// Delay of the wet signal in frames (the IR is shifted by this much).
    pub predelay_frames: usize,
    /// Partition size `B` (a power of two ≥ 64); `None` chooses from the IR length.
    pub block: Option<usize>,
}

impl Default for ConvolverOptions {
    fn default() -> Self {
        ConvolverOptions {
            wet_db: 0.0,
            dry_db: f64::NEG_INFINITY,
            normalize: Normalize::None,
            predelay_frames: 0,
            block: None,
        }
    }
}

/// The default partition size for an IR of `len` frames (predelay included):
/// `next_pow2(len / 8)` clamped to `[1024, 65536]`, so about 8 partitions.
/// Measured on the bench (10-min 5.1, 2-s IR, one core, engine CPU time,
/// f32 spans): B = 16384 (6 partitions) 1.75 s, 8192 2.0, 32768 2.0,
/// 65536 2.0, 131072 (one partition) 2.4: FFT cost per sample grows with
/// log B and cache misses, the frequency-domain multiply-adds with P. The
/// upper clamp keeps P ≈ 22 for a 30-s IR.
pub fn default_block(len: usize) -> usize {
    len.div_ceil(8).next_power_of_two().clamp(1024, 65536)
}

fn db_to_gain(db: f64) -> f64 {
    if db == f64::NEG_INFINITY {
        0.0
    } else {
        10f64.powf(db / 20.0)
    }
}

struct InState {
    /// `[previous block | current block]`, current zero past `fill`.
    win: Vec<f32>,
    /// FDL: a ring of `R = P + SPAN - 1` spectra of `B + 1` bins, slot
    /// `k mod R` holds block `k` (room for a whole span of new blocks next to
    /// the `P − 1` before it).
    fdl: Split,
    /// Spectrum of the current (partial) window, as the FFT writes it...
    cur: Vec<C32>,
    /// ... and split.
    cur_s: Split,
    tmp: Vec<f32>,
    scratch: Vec<C32>,
}

struct OutState {
    /// `Σ_routes Σ_{p≥1} X[i][k-p] H[j][p]` for the current block `k`.
    past: Split,
    past_valid: bool,
    /// One tile of `past` + partition 0.
    tile: Split,
    acc: Vec<C32>,
    /// The `Y` spectra of a span of whole blocks (allocated on first use).
    span: Vec<C32>,
    time: Vec<f32>,
    scratch: Vec<C32>,
}

/// A streaming multi-channel FFT convolver (see the module documentation).
pub struct Convolver {
    b: usize,
    parts: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    /// `ir[j][p * (B+1) + bin]`, scaled by normalization, wet gain and `1/N`.
    ir: Vec<Split>,
    routes: Vec<Vec<(usize, usize)>>,
    ins: Vec<InState>,
    outs: Vec<OutState>,
    dry: f32,
    fill: usize,
    slot: usize,
    tail: usize,
    /// Every output `o` has the single route `(o, j)`.
    diagonal: bool,
    /// Diagonal only: pairs of channels through the same IR channel, transformed
    /// together (their `ins`/`outs` entries are unused and empty).
    pairs: Vec<PairState>,
    /// Per IR channel used by a pair: its spectra over all `2B` bins.
    ir_full: Vec<Option<Split>>,
    cfft: Arc<dyn Fft<f32>>,
    cifft: Arc<dyn Fft<f32>>,
}

/// Two channels `a`, `b` through the same IR channel `j`, transformed together:
/// `z = x_a + i·x_b`, one complex FFT of `N = 2B` instead of two real ones (and no
/// real-FFT pre- and post-processing passes). The IR is real, so
/// `IFFT(FFT(z)·H) = x_a∗h + i·(x_b∗h)`: the real part is channel `a`'s output, the
/// imaginary part `b`'s. Spectra have all `N` bins (`H` extended by its Hermitian
/// symmetry `H[N−k] = conj H[k]`); the algorithm is otherwise that of the single
/// channels (same FDL ring, spans and sum order).
struct PairState {
    a: usize,
    b: usize,
    j: usize,
    /// Has channel `a` / `b` had a nonzero sample since the start (or reset)? A
    /// channel that has not outputs exact zeros, as a single channel would (the
    /// pair's rounding would otherwise leak the other channel into it at about
    /// −130 dB).
    heard: [bool; 2],
    /// `[previous block | current block]` of `x_a + i·x_b`.
    win: Vec<C32>,
    /// FDL: `R` spectra of `N` bins.
    fdl: Split,
    cur_s: Split,
    /// FFT buffer (`N`).
    buf: Vec<C32>,
    past: Split,
    past_valid: bool,
    tile: Split,
    acc: Vec<C32>,
    span: Vec<C32>,
    scratch: Vec<C32>,
}

/// An IR prepared for partitioned convolution: what [`Convolver::new`] and the
/// GPU engine (`dubstage-gpu`, `shaders/convolve.wgsl`) both start from, so
/// their validation, predelay, normalization and wet gain are identical.
#[derive(Debug, Clone)]
pub struct PreparedIr {
    /// Partition (block) size `B`; the FFT size is `2B`.
    pub block: usize,
    /// Number of partitions `P`.
    pub parts: usize,
    /// Per output channel, its `(input channel, IR channel)` routes.
    pub routes: Vec<Vec<(usize, usize)>>,
    /// `spectra[j][p * (B+1) + bin]`: partition `p` of IR channel `j`, shifted by
    /// the predelay, scaled by normalization, wet gain and `1/(2B)`, in f64.
    pub spectra: Vec<Vec<Complex<f64>>>,
    /// Linear dry gain (0 when muted).
    pub dry: f64,
    /// IR length − 1 + predelay.
    pub tail: usize,
}

/// Validates the options against `ir` and computes the partition spectra
/// (see the module documentation). Errors name the IR file.
pub fn prepare_ir(
    ir: &Ir,
    channels: usize,
    map: &IrMap,
    opts: &ConvolverOptions,
) -> Result<PreparedIr> {
    let routes = map.routes(ir, channels)?;
    let bad = |msg: String| Err(Error::format(&ir.path, msg));
    let max_pre = (MAX_PREDELAY_MS / 1000.0 * ir.sample_rate as f64) as usize;
    if opts.predelay_frames > max_pre {
        return bad(format!(
            "predelay of {} frames is longer than {MAX_PREDELAY_MS} ms",
            opts.predelay_frames
        ));
    }
    for (name, db) in [("wet_db", opts.wet_db), ("dry_db", opts.dry_db)] {
        if db.is_nan() || db > 40.0 {
            return bad(format!("{name} = {db} is not a level in dB (≤ +40)"));
        }
    }
    let len = ir.frames() + opts.predelay_frames;
    let b = opts.block.unwrap_or_else(|| default_block(len));
    if b < 64 || !b.is_power_of_two() {
        return bad(format!("block size {b} must be a power of two ≥ 64"));
    }
    let parts = len.div_ceil(b);
    let n = 2 * b;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let scale = opts.normalize.factor(ir) * db_to_gain(opts.wet_db) / n as f64;
    let bins = b + 1;

    let spectra: Vec<Vec<C64>> = {
        let one = |h: &Vec<f32>| {
            let mut spec = vec![C64::new(0.0, 0.0); parts * bins];
            let mut t = vec![0.0f64; n];
            let mut scratch = fft.make_scratch_vec();
            for p in 0..parts {
                t.fill(0.0);
                for (k, v) in t[..b].iter_mut().enumerate() {
                    let idx = (p * b + k) as isize - opts.predelay_frames as isize;
                    if idx >= 0 && (idx as usize) < h.len() {
                        *v = h[idx as usize] as f64 * scale;
                    }
                }
                fft.process_with_scratch(&mut t, &mut spec[p * bins..(p + 1) * bins], &mut scratch)
                    .expect("FFT buffer lengths are consistent");
            }
            spec
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            ir.channels.par_iter().map(one).collect()
        }
        #[cfg(target_arch = "wasm32")]
        {
            ir.channels.iter().map(one).collect()
        }
    };
    Ok(PreparedIr {
        block: b,
        parts,
        routes,
        spectra,
        dry: db_to_gain(opts.dry_db),
        tail: len - 1,
    })
}

impl Convolver {
    /// Builds a convolver for a stem of `channels` channels. Errors name the IR
    /// file: a sample-rate mismatch is not checked here (see [`load_ir`]), the
    /// map must fit, predelay ≤ [`MAX_PREDELAY_MS`], block a power of two ≥ 64.
    pub fn new(
        ir: &Ir,
        channels: usize,
        map: &IrMap,
        opts: &ConvolverOptions,
    ) -> Result<Convolver> {
        let PreparedIr {
            block: b,
            parts,
            routes,
            spectra,
            dry,
            tail,
        } = prepare_ir(ir, channels, map, opts)?;
        let n = 2 * b;
        let bins = b + 1;
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(n);
        let ifft = planner.plan_fft_inverse(n);

        let diagonal = routes
            .iter()
            .enumerate()
            .all(|(o, r)| r.len() == 1 && r[0].0 == o);
        // Diagonal: channels through the same IR channel go in pairs, in channel order.
        let mut paired = vec![false; channels];
        let mut pair_list = Vec::new();
        if diagonal {
            let mut waiting: Vec<Option<usize>> = vec![None; spectra.len()];
            for (o, r) in routes.iter().enumerate() {
                let j = r[0].1;
                match waiting[j].take() {
                    Some(a) => {
                        pair_list.push((a, o, j));
                        paired[a] = true;
                        paired[o] = true;
                    }
                    None => waiting[j] = Some(o),
                }
            }
        }
        let mut cplanner = FftPlanner::<f32>::new();
        let cfft = cplanner.plan_fft_forward(n);
        let cifft = cplanner.plan_fft_inverse(n);
        let ring = parts + SPAN - 1;
        let ins = paired
            .iter()
            .map(|&p| {
                let (nn, bb) = if p { (0, 0) } else { (n, bins) };
                InState {
                    win: vec![0.0; nn],
                    fdl: Split::zeros(ring * bb),
                    cur: vec![C32::new(0.0, 0.0); bb],
                    cur_s: Split::zeros(bb),
                    tmp: vec![0.0; nn],
                    scratch: if p {
                        Vec::new()
                    } else {
                        fft.make_scratch_vec()
                    },
                }
            })
            .collect();
        let outs = paired
            .iter()
            .map(|&p| {
                let (nn, bb) = if p { (0, 0) } else { (n, bins) };
                OutState {
                    past: Split::zeros(bb),
                    past_valid: false,
                    tile: Split::zeros(if p { 0 } else { MAC_TILE }),
                    acc: vec![C32::new(0.0, 0.0); bb],
                    span: Vec::new(),
                    time: vec![0.0; nn],
                    scratch: if p {
                        Vec::new()
                    } else {
                        ifft.make_scratch_vec()
                    },
                }
            })
            .collect();
        let scratch_len = cfft
            .get_inplace_scratch_len()
            .max(cifft.get_inplace_scratch_len());
        let zero = C32::new(0.0, 0.0);
        let pairs: Vec<PairState> = pair_list
            .iter()
            .map(|&(a, b2, j)| PairState {
                a,
                b: b2,
                j,
                heard: [false; 2],
                win: vec![zero; n],
                fdl: Split::zeros(ring * n),
                cur_s: Split::zeros(n),
                buf: vec![zero; n],
                past: Split::zeros(n),
                past_valid: false,
                tile: Split::zeros(MAC_TILE),
                acc: vec![zero; n],
                span: Vec::new(),
                scratch: vec![zero; scratch_len],
            })
            .collect();
        let mut ir_full: Vec<Option<Split>> = (0..spectra.len()).map(|_| None).collect();
        for &(_, _, j) in &pair_list {
            if ir_full[j].is_none() {
                let mut full = vec![C64::new(0.0, 0.0); parts * n];
                for p in 0..parts {
                    let h = &spectra[j][p * bins..(p + 1) * bins];
                    let f = &mut full[p * n..(p + 1) * n];
                    f[..bins].copy_from_slice(h);
                    for k in bins..n {
                        f[k] = h[n - k].conj();
                    }
                }
                ir_full[j] = Some(Split::from_complex(&full));
            }
        }
        Ok(Convolver {
            diagonal,
            b,
            parts,
            fft,
            ifft,
            ir: spectra.iter().map(|s| Split::from_complex(s)).collect(),
            routes,
            ins,
            outs,
            dry: dry as f32,
            fill: 0,
            slot: 0,
            tail,
            pairs,
            ir_full,
            cfft,
            cifft,
        })
    }

    /// Partition size `B`: chunks that are multiples of it cost the least.
    pub fn block_frames(&self) -> usize {
        self.b
    }
    /// Number of partitions `P`.
    pub fn partitions(&self) -> usize {
        self.parts
    }
    /// Channels in and out.
    pub fn channels(&self) -> usize {
        self.ins.len()
    }
    /// Latency in frames: always 0.
    pub fn latency(&self) -> usize {
        0
    }
    /// How many frames the output keeps ringing after the input stops:
    /// IR length − 1 + predelay. Feed that many zero frames to get the whole tail.
    pub fn tail_frames(&self) -> usize {
        self.tail
    }

    /// Forgets all past input (the next sample is the first).
    pub fn reset(&mut self) {
        for i in &mut self.ins {
            i.win.fill(0.0);
            i.fdl.re.fill(0.0);
            i.fdl.im.fill(0.0);
        }
        for o in &mut self.outs {
            o.past_valid = false;
        }
        for p in &mut self.pairs {
            p.heard = [false; 2];
            p.win.fill(C32::new(0.0, 0.0));
            p.fdl.re.fill(0.0);
            p.fdl.im.fill(0.0);
            p.past_valid = false;
        }
        self.fill = 0;
        self.slot = 0;
    }

    /// Convolves `input` into `output` (one slice per channel, all of the same
    /// length; any length, including 0). Panics if the channel counts or
    /// lengths differ (a programming error, not user input).
    pub fn process(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) {
        assert_eq!(input.len(), self.channels(), "input channel count");
        assert_eq!(output.len(), self.channels(), "output channel count");
        for (o, i) in output.iter_mut().zip(input) {
            o.copy_from_slice(i);
        }
        self.process_in_place(output);
    }

    /// Convolves the first `frames` samples of each `Vec` in place.
    pub fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) {
        let mut v: Vec<&mut [f32]> = planar.iter_mut().map(|b| &mut b[..frames]).collect();
        self.process_in_place(&mut v);
    }

    /// Convolves in place (one slice per channel, equal lengths).
    pub fn process_in_place(&mut self, bufs: &mut [&mut [f32]]) {
        assert_eq!(bufs.len(), self.channels(), "channel count");
        let n = bufs.first().map_or(0, |b| b.len());
        assert!(
            bufs.iter().all(|b| b.len() == n),
            "channels differ in length"
        );
        if n == 0 {
            return;
        }
        if self.diagonal {
            self.run_diagonal(bufs);
        } else {
            let mut pos = 0;
            while pos < n {
                let take = (self.b - self.fill).min(n - pos);
                self.step(bufs, pos, take);
                pos += take;
            }
        }
    }

    /// Every output reads only its own input channel: channels run
    /// independently over the whole chunk (one parallel region per call), two
    /// at a time where they share an IR channel ([`PairState`]).
    fn run_diagonal(&mut self, bufs: &mut [&mut [f32]]) {
        let n = bufs[0].len();
        let g = self.geometry();
        let (fill0, slot0) = (self.fill, self.slot);
        let (ir, ir_full, routes) = (&self.ir, &self.ir_full, &self.routes);
        let (cfft, cifft) = (&self.cfft, &self.cifft);
        // Work units: pairs first, then the channels left single.
        let mut slots: Vec<Option<&mut [f32]>> = bufs.iter_mut().map(|b| Some(&mut **b)).collect();
        let mut units: Vec<Unit<'_>> = Vec::new();
        for p in self.pairs.iter_mut() {
            let (xa, xb) = (slots[p.a].take(), slots[p.b].take());
            if let (Some(xa), Some(xb)) = (xa, xb) {
                units.push(Unit::Two(p, xa, xb));
            }
        }
        for (c, ((ist, ost), x)) in self
            .ins
            .iter_mut()
            .zip(self.outs.iter_mut())
            .zip(slots)
            .enumerate()
        {
            if let Some(x) = x {
                units.push(Unit::One(c, ist, ost, x));
            }
        }
        let run = |u: &mut Unit<'_>| match u {
            Unit::One(c, ist, ost, buf) => {
                let j = routes[*c][0].1;
                let (mut fill, mut slot, mut pos) = (fill0, slot0, 0);
                while pos < n {
                    if fill == 0 && n - pos >= g.b {
                        // whole blocks: one span, tiled over bins
                        let k = ((n - pos) / g.b).min(SPAN);
                        span(&g, ist, ost, &ir[j], &mut buf[pos..pos + k * g.b], slot);
                        slot = (slot + k) % g.ring;
                        pos += k * g.b;
                        continue;
                    }
                    let take = (g.b - fill).min(n - pos);
                    forward(&g, ist, &buf[pos..pos + take], fill);
                    let srcs = [(&**ist, j)];
                    output(
                        &g,
                        ost,
                        &srcs,
                        ist,
                        ir,
                        &mut buf[pos..pos + take],
                        fill,
                        slot,
                    );
                    fill += take;
                    pos += take;
                    if fill == g.b {
                        push(&g, ist, slot);
                        ost.past_valid = false;
                        slot = (slot + 1) % g.ring;
                        fill = 0;
                    }
                }
            }
            Unit::Two(st, xa, xb) => {
                for (h, x) in st.heard.iter_mut().zip([&**xa, &**xb]) {
                    *h = *h || x.iter().any(|&v| v != 0.0);
                }
                let pg = PairGeometry {
                    g: &g,
                    fft: &**cfft,
                    ifft: &**cifft,
                    h: ir_full[st.j]
                        .as_ref()
                        .expect("spectra of a paired IR channel"),
                };
                let (mut fill, mut slot, mut pos) = (fill0, slot0, 0);
                while pos < n {
                    if fill == 0 && n - pos >= g.b {
                        let k = ((n - pos) / g.b).min(SPAN);
                        let r = pos..pos + k * g.b;
                        pair_span(&pg, st, &mut xa[r.clone()], &mut xb[r], slot);
                        slot = (slot + k) % g.ring;
                        pos += k * g.b;
                        continue;
                    }
                    let take = (g.b - fill).min(n - pos);
                    let r = pos..pos + take;
                    pair_forward(&pg, st, &xa[r.clone()], &xb[r.clone()], fill);
                    pair_output(&pg, st, &mut xa[r.clone()], &mut xb[r], fill, slot);
                    fill += take;
                    pos += take;
                    if fill == g.b {
                        pair_push(&pg, st, slot);
                        st.past_valid = false;
                        slot = (slot + 1) % g.ring;
                        fill = 0;
                    }
                }
                for (&h, x) in st.heard.iter().zip([xa, xb]) {
                    if !h {
                        x.fill(0.0);
                    }
                }
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        units.par_iter_mut().for_each(run);
        #[cfg(target_arch = "wasm32")]
        units.iter_mut().for_each(run);
        let total = self.fill + n;
        self.slot = (self.slot + total / self.b) % (self.parts + SPAN - 1);
        self.fill = total % self.b;
    }

    fn geometry(&self) -> Geometry {
        Geometry {
            b: self.b,
            parts: self.parts,
            ring: self.parts + SPAN - 1,
            dry: self.dry,
            fft: self.fft.clone(),
            ifft: self.ifft.clone(),
        }
    }

    /// Adds `take` frames at `pos` of `bufs` to the current block and replaces
    /// them with the output (general routes: all inputs first, then all outputs).
    fn step(&mut self, bufs: &mut [&mut [f32]], pos: usize, take: usize) {
        let g = self.geometry();
        let (start, slot) = (self.fill, self.slot);
        par_mut!(self.ins)
            .zip(par_mut!(bufs))
            .for_each(|(st, buf)| forward(&g, st, &buf[pos..pos + take], start));
        let (ins, ir, routes) = (&self.ins, &self.ir, &self.routes);
        par_mut!(self.outs)
            .zip(par_mut!(bufs))
            .enumerate()
            .for_each(|(o, (st, buf))| {
                let srcs: Vec<(&InState, usize)> =
                    routes[o].iter().map(|&(i, j)| (&ins[i], j)).collect();
                output(
                    &g,
                    st,
                    &srcs,
                    &ins[o],
                    ir,
                    &mut buf[pos..pos + take],
                    start,
                    slot,
                );
            });
        self.fill += take;
        if self.fill == g.b {
            par_mut!(self.ins).for_each(|st| push(&g, st, slot));
            for o in &mut self.outs {
                o.past_valid = false;
            }
            self.slot = (self.slot + 1) % (self.parts + SPAN - 1);
            self.fill = 0;
        }
    }
}

/// What the per-channel kernels share.
struct Geometry {
    b: usize,
    parts: usize,
    /// FDL ring length `P + SPAN − 1`.
    ring: usize,
    dry: f32,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
}

/// Appends `x` at `start` of the current block and transforms the window.
fn forward(g: &Geometry, st: &mut InState, x: &[f32], start: usize) {
    let b = g.b;
    for (w, &v) in st.win[b + start..b + start + x.len()].iter_mut().zip(x) {
        *w = v;
    }
    st.tmp.copy_from_slice(&st.win);
    g.fft
        .process_with_scratch(&mut st.tmp, &mut st.cur, &mut st.scratch)
        .expect("FFT buffer lengths are consistent");
    for ((re, im), c) in st.cur_s.re.iter_mut().zip(&mut st.cur_s.im).zip(&st.cur) {
        *re = c.re;
        *im = c.im;
    }
}

/// One output channel for the frames `start..start + y.len()` of the current
/// block: past partitions (once per block) + partition 0 of each source,
/// inverse FFT, plus the dry signal from `dry_src`.
fn output(
    g: &Geometry,
    st: &mut OutState,
    srcs: &[(&InState, usize)],
    dry_src: &InState,
    ir: &[Split],
    y: &mut [f32],
    start: usize,
    slot: usize,
) {
    let (b, parts, ring) = (g.b, g.parts, g.ring);
    let bins = b + 1;
    let srcs: Vec<(&Split, &Split, &Split)> = srcs
        .iter()
        .map(|&(src, j)| (&src.fdl, &src.cur_s, &ir[j]))
        .collect();
    block_mac(
        &mut st.past,
        st.past_valid,
        &mut st.tile,
        &mut st.acc,
        &srcs,
        bins,
        parts,
        ring,
        slot,
    );
    st.past_valid = true;
    st.acc[0].im = 0.0;
    st.acc[b].im = 0.0;
    g.ifft
        .process_with_scratch(&mut st.acc, &mut st.time, &mut st.scratch)
        .expect("FFT buffer lengths are consistent");
    let range = b + start..b + start + y.len();
    for ((y, &w), &d) in y
        .iter_mut()
        .zip(&st.time[range.clone()])
        .zip(&dry_src.win[range])
    {
        *y = w + g.dry * d;
    }
}

/// The spectrum of the current block into `acc`: per source `(fdl, cur, h)`,
/// `Σ_{p≥1} X[k−p]·H[p]` (kept in `past`, computed once per block unless
/// `past_valid`), then `+ X[k]·H[0]` from the current window's spectrum `cur`. Bin
/// tiles small enough for the accumulator to stay in L1 while every partition
/// streams through it once (the sum order per bin is the same as without tiles:
/// sources, then partitions 1, 2, ..., then partition 0). Shared by [`output`]
/// (`B + 1` bins) and [`pair_output`] (`2B`).
fn block_mac(
    past: &mut Split,
    past_valid: bool,
    tile: &mut Split,
    acc: &mut [C32],
    srcs: &[(&Split, &Split, &Split)],
    bins: usize,
    parts: usize,
    ring: usize,
    slot: usize,
) {
    let mut lo = 0;
    while lo < bins {
        let hi = (lo + MAC_TILE).min(bins);
        let t = hi - lo;
        if !past_valid {
            let (pr, pi) = (&mut past.re[lo..hi], &mut past.im[lo..hi]);
            pr.fill(0.0);
            pi.fill(0.0);
            for &(fdl, _, h) in srcs {
                for p in 1..parts {
                    let s = (slot + ring - p) % ring;
                    let (x, q) = (s * bins, p * bins);
                    mac(
                        pr,
                        pi,
                        &fdl.re[x + lo..x + hi],
                        &fdl.im[x + lo..x + hi],
                        &h.re[q + lo..q + hi],
                        &h.im[q + lo..q + hi],
                    );
                }
            }
        }
        let (tr, ti) = (&mut tile.re[..t], &mut tile.im[..t]);
        tr.copy_from_slice(&past.re[lo..hi]);
        ti.copy_from_slice(&past.im[lo..hi]);
        for &(_, cur, h) in srcs {
            mac(
                tr,
                ti,
                &cur.re[lo..hi],
                &cur.im[lo..hi],
                &h.re[lo..hi],
                &h.im[lo..hi],
            );
        }
        for ((a, &re), &im) in acc[lo..hi].iter_mut().zip(&*tr).zip(&*ti) {
            *a = C32::new(re, im);
        }
        lo = hi;
    }
}

/// Whole blocks at once (`x.len()` = `K·B`, `K ≤ SPAN`, the current block
/// empty): the GPU's shape on one channel with a single route `h`. All `K`
/// windows are transformed into FDL slots `slot .. slot + K` first; then per
/// bin tile, for each block `k`, `Y_k = Σ_{p≥1} X[k−p]·H[p] + X[k]·H[0]` (the
/// order of [`output`], so the result is the same bits as block by block)
/// while the tile's `X` and `H` stay in cache; then `K` inverse FFTs. The
/// output replaces `x`.
fn span(
    g: &Geometry,
    ist: &mut InState,
    ost: &mut OutState,
    h: &Split,
    x: &mut [f32],
    slot: usize,
) {
    let (b, parts, ring) = (g.b, g.parts, g.ring);
    let bins = b + 1;
    let k_n = x.len() / b;
    debug_assert!((1..=SPAN).contains(&k_n) && x.len() == k_n * b);
    for k in 0..k_n {
        if k == 0 {
            ist.tmp[..b].copy_from_slice(&ist.win[..b]);
        } else {
            ist.tmp[..b].copy_from_slice(&x[(k - 1) * b..k * b]);
        }
        ist.tmp[b..].copy_from_slice(&x[k * b..(k + 1) * b]);
        g.fft
            .process_with_scratch(&mut ist.tmp, &mut ist.cur, &mut ist.scratch)
            .expect("FFT buffer lengths are consistent");
        let s = (slot + k) % ring * bins;
        for ((re, im), c) in ist.fdl.re[s..s + bins]
            .iter_mut()
            .zip(&mut ist.fdl.im[s..s + bins])
            .zip(&ist.cur)
        {
            *re = c.re;
            *im = c.im;
        }
    }
    // the next window starts with the last input block
    ist.win[..b].copy_from_slice(&x[(k_n - 1) * b..]);
    ist.win[b..].fill(0.0);
    ost.span.resize(k_n * bins, C32::new(0.0, 0.0));
    span_mac(
        &ist.fdl,
        h,
        &mut ost.tile,
        &mut ost.span,
        bins,
        parts,
        ring,
        slot,
        k_n,
    );
    for k in 0..k_n {
        let y = &mut ost.span[k * bins..(k + 1) * bins];
        y[0].im = 0.0;
        y[b].im = 0.0;
        g.ifft
            .process_with_scratch(y, &mut ost.time, &mut ost.scratch)
            .expect("FFT buffer lengths are consistent");
        for (x, &w) in x[k * b..(k + 1) * b].iter_mut().zip(&ost.time[b..]) {
            *x = w + g.dry * *x;
        }
    }
    ost.past_valid = false;
}

/// The multiply-accumulate of a span of `k_n` whole blocks whose spectra sit in FDL
/// slots `slot .. slot + k_n`: per bin tile, for each block `k`,
/// `Y_k = Σ_{p≥1} X[k−p]·H[p] + X[k]·H[0]` (the order of [`output`], so the bits are
/// those of block by block) while the tile's `X` and `H` stay in cache, into `span`
/// (`k_n × bins`). Shared by [`span`] (`B + 1` bins) and [`pair_span`] (`2B`).
fn span_mac(
    fdl: &Split,
    h: &Split,
    tile: &mut Split,
    span: &mut [C32],
    bins: usize,
    parts: usize,
    ring: usize,
    slot: usize,
    k_n: usize,
) {
    let mut lo = 0;
    while lo < bins {
        let hi = (lo + MAC_TILE).min(bins);
        let t = hi - lo;
        let (tr, ti) = (&mut tile.re[..t], &mut tile.im[..t]);
        for k in 0..k_n {
            tr.fill(0.0);
            ti.fill(0.0);
            for p in (1..parts).chain([0]) {
                let s = (slot + k + ring - p) % ring * bins;
                let q = p * bins;
                mac(
                    tr,
                    ti,
                    &fdl.re[s + lo..s + hi],
                    &fdl.im[s + lo..s + hi],
                    &h.re[q + lo..q + hi],
                    &h.im[q + lo..q + hi],
                );
            }
            let y = &mut span[k * bins + lo..k * bins + hi];
            for ((a, &re), &im) in y.iter_mut().zip(&*tr).zip(&*ti) {
                *a = C32::new(re, im);
            }
        }
        lo = hi;
    }
}

/// Blocks per span: how many whole blocks [`span`] takes at once.
const SPAN: usize = 8;

/// Complex spectra as separate real and imaginary arrays, so that the
/// multiply-accumulate vectorizes without shuffles.
struct Split {
    re: Vec<f32>,
    im: Vec<f32>,
}

impl Split {
    fn zeros(n: usize) -> Split {
        Split {
            re: vec![0.0; n],
            im: vec![0.0; n],
        }
    }
    fn from_complex(c: &[C64]) -> Split {
        Split {
            re: c.iter().map(|v| v.re as f32).collect(),
            im: c.iter().map(|v| v.im as f32).collect(),
        }
    }
}

/// Complex multiply-accumulate `a += x · h` over split slices of equal length
/// (`a.re += x.re h.re − x.im h.im`, `a.im += x.re h.im + x.im h.re`).
#[inline]
fn mac(ar: &mut [f32], ai: &mut [f32], xr: &[f32], xi: &[f32], hr: &[f32], hi: &[f32]) {
    let n = ar.len();
    let (ai, xr, xi, hr, hi) = (&mut ai[..n], &xr[..n], &xi[..n], &hr[..n], &hi[..n]);
    for k in 0..n {
        let (a, b, c, d) = (xr[k], xi[k], hr[k], hi[k]);
        ar[k] += a * c - b * d;
        ai[k] += a * d + b * c;
    }
}

/// Bins per tile of the frequency-domain multiply-accumulate (4 KiB of
/// accumulator).
const MAC_TILE: usize = 512;

/// The current block is complete: store its spectrum in the FDL, slide the window.
fn push(g: &Geometry, st: &mut InState, slot: usize) {
    let (b, bins) = (g.b, g.b + 1);
    st.fdl.re[slot * bins..(slot + 1) * bins].copy_from_slice(&st.cur_s.re);
    st.fdl.im[slot * bins..(slot + 1) * bins].copy_from_slice(&st.cur_s.im);
    st.win.copy_within(b.., 0);
    st.win[b..].fill(0.0);
}

/// A unit of [`Convolver::run_diagonal`]: one channel, or a pair.
enum Unit<'a> {
    One(usize, &'a mut InState, &'a mut OutState, &'a mut [f32]),
    Two(&'a mut PairState, &'a mut [f32], &'a mut [f32]),
}

/// What the pair kernels share: the geometry, the complex FFTs of `N`, and the
/// IR channel's full spectra.
struct PairGeometry<'a> {
    g: &'a Geometry,
    fft: &'a dyn Fft<f32>,
    ifft: &'a dyn Fft<f32>,
    h: &'a Split,
}

/// Appends `xa + i·xb` at `start` of the current block and transforms the window.
fn pair_forward(pg: &PairGeometry<'_>, st: &mut PairState, xa: &[f32], xb: &[f32], start: usize) {
    let b = pg.g.b;
    for ((w, &re), &im) in st.win[b + start..b + start + xa.len()]
        .iter_mut()
        .zip(xa)
        .zip(xb)
    {
        *w = C32::new(re, im);
    }
    st.buf.copy_from_slice(&st.win);
    pg.fft.process_with_scratch(&mut st.buf, &mut st.scratch);
    for ((re, im), c) in st.cur_s.re.iter_mut().zip(&mut st.cur_s.im).zip(&st.buf) {
        *re = c.re;
        *im = c.im;
    }
}

/// The pair's output for frames `start..start + ya.len()` of the current block
/// (as [`output`] for one channel with one route).
fn pair_output(
    pg: &PairGeometry<'_>,
    st: &mut PairState,
    ya: &mut [f32],
    yb: &mut [f32],
    start: usize,
    slot: usize,
) {
    let g = pg.g;
    let (b, parts, ring) = (g.b, g.parts, g.ring);
    let bins = 2 * b;
    block_mac(
        &mut st.past,
        st.past_valid,
        &mut st.tile,
        &mut st.acc,
        &[(&st.fdl, &st.cur_s, pg.h)],
        bins,
        parts,
        ring,
        slot,
    );
    st.past_valid = true;
    pg.ifft.process_with_scratch(&mut st.acc, &mut st.scratch);
    let range = b + start..b + start + ya.len();
    for (((ya, yb), w), d) in ya
        .iter_mut()
        .zip(yb.iter_mut())
        .zip(&st.acc[range.clone()])
        .zip(&st.win[range])
    {
        *ya = w.re + g.dry * d.re;
        *yb = w.im + g.dry * d.im;
    }
}

/// The current block is complete: store its spectrum in the FDL, slide the window.
fn pair_push(pg: &PairGeometry<'_>, st: &mut PairState, slot: usize) {
    let (b, bins) = (pg.g.b, 2 * pg.g.b);
    st.fdl.re[slot * bins..(slot + 1) * bins].copy_from_slice(&st.cur_s.re);
    st.fdl.im[slot * bins..(slot + 1) * bins].copy_from_slice(&st.cur_s.im);
    st.win.copy_within(b.., 0);
    st.win[b..].fill(C32::new(0.0, 0.0));
}

/// Whole blocks of a pair at once (as [`span`]; the outputs replace `xa`, `xb`).
fn pair_span(
    pg: &PairGeometry<'_>,
    st: &mut PairState,
    xa: &mut [f32],
    xb: &mut [f32],
    slot: usize,
) {
    let g = pg.g;
    let (b, parts, ring) = (g.b, g.parts, g.ring);
    let bins = 2 * b;
    let k_n = xa.len() / b;
    debug_assert!((1..=SPAN).contains(&k_n) && xa.len() == k_n * b && xb.len() == xa.len());
    let z = |k: usize, i: usize| C32::new(xa[k * b + i], xb[k * b + i]);
    for k in 0..k_n {
        if k == 0 {
            st.buf[..b].copy_from_slice(&st.win[..b]);
        } else {
            for (i, v) in st.buf[..b].iter_mut().enumerate() {
                *v = z(k - 1, i);
            }
        }
        for (i, v) in st.buf[b..].iter_mut().enumerate() {
            *v = z(k, i);
        }
        pg.fft.process_with_scratch(&mut st.buf, &mut st.scratch);
        let s = (slot + k) % ring * bins;
        for ((re, im), c) in st.fdl.re[s..s + bins]
            .iter_mut()
            .zip(&mut st.fdl.im[s..s + bins])
            .zip(&st.buf)
        {
            *re = c.re;
            *im = c.im;
        }
    }
    // the next window starts with the last input block
    for (i, v) in st.win[..b].iter_mut().enumerate() {
        *v = z(k_n - 1, i);
    }
    st.win[b..].fill(C32::new(0.0, 0.0));
    st.span.resize(k_n * bins, C32::new(0.0, 0.0));
    span_mac(
        &st.fdl,
        pg.h,
        &mut st.tile,
        &mut st.span,
        bins,
        parts,
        ring,
        slot,
        k_n,
    );
    for k in 0..k_n {
        let y = &mut st.span[k * bins..(k + 1) * bins];
        pg.ifft.process_with_scratch(y, &mut st.scratch);
        for i in 0..b {
            let w = y[b + i];
            let (da, db) = (xa[k * b + i], xb[k * b + i]);
            xa[k * b + i] = w.re + g.dry * da;
            xb[k * b + i] = w.im + g.dry * db;
        }
    }
    st.past_valid = false;
}

/// A streaming, zero-latency multi-channel convolution (an insert's reverb or
/// futz IR). [`Convolver`] is the CPU reference; `dubstage-gpu` runs the same
/// uniformly partitioned overlap-save on the GPU (`shaders/convolve.wgsl`).
/// State is carried across calls: any chunking gives the same output.
pub trait ConvolveEngine: Send {
    /// Convolves the first `frames` samples of each channel in place
    /// (`planar.len()` = the channel count it was built for).
    fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()>;
    /// Frames the output keeps ringing after the input stops (IR length − 1 +
    /// predelay): feed that many zeros to get the whole tail.
    fn tail_frames(&self) -> usize;
    /// The partition size `B`: chunks that are multiples of it cost the least.
    fn block_frames(&self) -> usize;
}

impl ConvolveEngine for Convolver {
    fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()> {
        if planar.len() != self.channels() || planar.iter().any(|c| c.len() < frames) {
            return Err(Error::Backend(format!(
                "convolve: {} channel buffers (need {} of at least {frames} frames)",
                planar.len(),
                self.channels()
            )));
        }
        Convolver::process_planar(self, planar, frames);
        Ok(())
    }
    fn tail_frames(&self) -> usize {
        Convolver::tail_frames(self)
    }
    fn block_frames(&self) -> usize {
        Convolver::block_frames(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir(chans: Vec<Vec<f32>>) -> Ir {
        Ir::new(chans, 48_000, "test.wav").unwrap()
    }

    #[test]
    fn impulse_passes_through_with_predelay() {
        let h = ir(vec![vec![1.0]]);
        let opts = ConvolverOptions {
            predelay_frames: 3,
            block: Some(64),
            ..Default::default()
        };
        let mut c = Convolver::new(&h, 1, &IrMap::Auto, &opts).unwrap();
        assert_eq!(c.tail_frames(), 3);
        let mut x = vec![(0..200).map(|i| i as f32).collect::<Vec<_>>()];
        c.process_planar(&mut x, 200);
        // f32 spectra: within -120 dB of the peak (196)
        for (i, &v) in x[0].iter().enumerate() {
            let want = if i >= 3 { (i - 3) as f32 } else { 0.0 };
            assert!((v - want).abs() < 196e-6, "{i}: {v} vs {want}");
        }
    }

    #[test]
    fn normalization_factors() {
        let h = ir(vec![vec![0.5, 0.5], vec![2.0, 0.0]]);
        assert_eq!(Normalize::None.factor(&h), 1.0);
        assert_eq!(Normalize::Peak.factor(&h), 0.5);
        assert!((Normalize::Energy.factor(&h) - 0.5).abs() < 1e-15);
    }
}
