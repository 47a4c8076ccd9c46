//! Deterministic TPDF dither and quantization to integer PCM.
//!
//! TPDF (triangular probability density function) dither of ±1 LSB peak is
//! the difference of two independent uniform variables on [0, 1) LSB; it
//! makes the first and second moments of the quantization error independent
//! of the signal (Lipshitz, Wannamaker & Vanderkooy, "Quantization and
//! Dither: A Theoretical Survey", JAES 40(5), 1992).
//!
//! The generator is wyrand (Wang Yi, the `wyhash` family, 2019: a Weyl sequence whose
//! state is folded by one 64 x 64 -> 128-bit multiply; it passes BigCrush and
//! PractRand): one multiply a draw, and a stream position that is a multiple of its
//! increment, so a stretch of silence skips its draws by one addition. The algorithm is
//! fixed, so output files are bit-identical run to run and across platforms. Each
//! channel has its own stream, seeded from the user seed and the channel index through
//! SplitMix64's mixing step (Steele, Lea & Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014).

/// SplitMix64's golden-ratio increment (Steele et al. 2014).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One SplitMix64 output mix of `z` (Steele et al. 2014, `mix64`).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// wyrand's increment of the state, and the constant its state is XORed with before
/// the multiply (Wang Yi 2019).
const WY_INC: u64 = 0xa076_1d64_78bd_642f;
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

/// wyrand's output for state `s`: the high and low halves of `s * (s ^ WY_XOR)`, XORed.
#[inline(always)]
fn wy(s: u64) -> u64 {
    let t = u128::from(s) * u128::from(s ^ WY_XOR);
    (t >> 64) as u64 ^ t as u64
}

/// A wyrand stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of `channel` for the user `seed`.
    pub fn for_channel(seed: u64, channel: u16) -> Self {
        Rng {
            state: mix64(seed ^ mix64(u64::from(channel).wrapping_add(1).wrapping_mul(GAMMA))),
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(WY_INC);
        wy(self.state)
    }

    /// Uniform on [0, 1) with 53 bits of resolution.
    pub fn uniform(&mut self) -> f64 {
        // Below 2^53 the value fits an i64, whose conversion is one instruction (an
        // unsigned one is several on x86-64 without AVX-512); the value is the same.
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// TPDF on (-1, 1) (in LSB units): the difference of two uniforms on [0, 1), the
    /// two 32-bit halves of one draw (see [`dither_of`]).
    pub fn tpdf(&mut self) -> f64 {
        dither_of(self.next_u64()) as f64 * (1.0 / ONE as f64)
    }

    /// The next draw's TPDF dither in units of 2^-32 LSB (see [`dither_of`]).
    pub fn dither(&mut self) -> i64 {
        dither_of(self.next_u64())
    }
}

/// Fraction bits of the fixed-point quantizer: sample values and dither are integers in
/// units of 2^-32 LSB.
const FRAC: u32 = 32;
/// One LSB in those units.
const ONE: i64 = 1 << FRAC;

/// The TPDF dither of one 64-bit draw `z`, in units of 2^-32 LSB: its high and low
/// 32-bit halves are two independent uniforms on [0, 1) LSB, and their difference is
/// triangular on (-1, 1) LSB. A resolution of 2^-32 LSB is far below the LSB scale at
/// which the dither decorrelates the error; one draw a sample is half the generator's
/// work of two full-width uniforms.
#[inline(always)]
fn dither_of(z: u64) -> i64 {
    (z >> 32) as i64 - (z & 0xFFFF_FFFF) as i64
}

/// The outcome of quantizing one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantized {
    /// The integer code, within [-2^(bits-1), 2^(bits-1) - 1].
    pub code: i32,
    /// The input itself lay beyond full scale (by more than half an LSB).
    pub clipped: bool,
    /// The input was NaN or infinite (written as 0).
    pub non_finite: bool,
}

/// Quantizes `x` (full scale = ±1.0) to a `bits`-bit code (16 or 24) with TPDF dither
/// `d` in units of 2^-32 LSB ([`Rng::dither`]; 0 for none), exactly in integers:
/// the sample becomes `X = trunc(x * 2^(bits - 1 + 32))` (exact for every `|x| >=
/// 2^-32`, which is every sample that is not already far below the LSB), the code is
/// `X + d` rounded to the nearest multiple of 2^32, halves away from zero, then clamped
/// to the format. A sample is counted as clipped only when the signal itself exceeds
/// what the format can hold (by more than half an LSB); excursions caused by the dither
/// alone are clamped silently.
///
/// Exact digital silence (`x == 0.0`) stays 0 without dither ("auto-blanking"),
/// so that an unused channel of a deliverable (an empty LFE, a silent stem)
/// is delivered as digital silence rather than as ±1 LSB noise that QC would
/// flag. The caller draws `d` regardless, so the dither streams, and thus the
/// output, do not depend on where the silence lies.
#[inline(always)]
pub fn quantize(x: f32, bits: u32, d: i64) -> Quantized {
    let finite = x.is_finite();
    // Beyond ±2 every sample clips to the same code; the limit keeps `X` in an i64.
    let xc = if finite { x.clamp(-2.0, 2.0) } else { 0.0 };
    let scale = (1u64 << (bits - 1 + FRAC)) as f64;
    let v = (f64::from(xc) * scale) as i64;
    let (max, min) = ((1i64 << (bits - 1)) - 1, -(1i64 << (bits - 1)));
    let y = v + d;
    // Halves away from zero: floor((y + 1/2) / ONE), less one unit for negative `y`.
    let code = ((y + ONE / 2 + (y >> 63)) >> FRAC).clamp(min, max) as i32;
    let clipped = v > max * ONE + ONE / 2 || v < min * ONE - ONE / 2;
    Quantized {
        code: if finite && x != 0.0 { code } else { 0 },
        clipped,
        non_finite: !finite,
    }
}

/// What [`quantize_channel`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuantizeCounts {
    pub non_finite: u64,
    pub clipped: u64,
    /// The largest `|code|`.
    pub peak_code: u32,
}

/// Samples checked together for digital silence by [`quantize_channel`]: a silent group
/// needs no draw (the state only adds [`WY_INC`], so the stream skips past it).
const GROUP: usize = 8;

/// Quantizes one channel of a tile into interleaved little-endian PCM of `W` bytes (16
/// or 24 bits) a sample: sample `i` of `src` goes to `out[i * stride + offset..][..W]`,
/// with the dither drawn for every sample in order when `dither` is on: exactly
/// [`quantize`] with [`Rng::dither`], sample by sample. The samples go in groups of [`GROUP`],
/// stored with fixed-size moves; a group of digital silence needs no draw. Inlined, so
/// that a caller passing a constant `stride` (a common layout) gets a loop specialized
/// for it (about a third faster than a stride known only at run time).
#[inline(always)]
pub fn quantize_channel<const W: usize>(
    src: &[f32],
    rng: &mut Rng,
    dither: bool,
    out: &mut [u8],
    stride: usize,
    offset: usize,
) -> QuantizeCounts {
    let bits = 8 * W as u32;
    let n = src.len().min(out.len() / stride);
    let dmask = if dither { u64::MAX } else { 0 };
    let mut c = QuantizeCounts::default();
    let mut s = rng.state;
    for (src, out) in src[..n].chunks(GROUP).zip(out.chunks_mut(stride * GROUP)) {
        let frames = out.chunks_exact_mut(stride).zip(src);
        if crate::is_digital_silence(src) {
            // Digital silence: every code is 0 whatever the dither, whose draws are
            // skipped (the stream moves past them).
            for (frame, _) in frames {
                frame[offset..offset + W].fill(0);
            }
            s = s.wrapping_add(WY_INC.wrapping_mul(src.len() as u64));
            continue;
        }
        for (frame, &x) in frames {
            s = s.wrapping_add(WY_INC);
            let q = quantize(x, bits, dither_of(wy(s) & dmask));
            let dst: &mut [u8; W] = (&mut frame[offset..offset + W])
                .try_into()
                .expect("W bytes");
            dst.copy_from_slice(&q.code.to_le_bytes()[..W]);
            c.clipped += u64::from(q.clipped);
            c.non_finite += u64::from(q.non_finite);
            c.peak_code = c.peak_code.max(q.code.unsigned_abs());
        }
    }
    rng.state = s;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let mut a = Rng::for_channel(7, 0);
        let mut b = Rng::for_channel(7, 0);
        let mut c = Rng::for_channel(7, 1);
        let mut d = Rng::for_channel(8, 0);
        let va: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        let vd: Vec<u64> = (0..16).map(|_| d.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert_ne!(va, vd);
    }

    #[test]
    fn tpdf_is_triangular() {
        // Mean 0, variance 1/6 (two uniforms of variance 1/12), support (-1, 1),
        // and the density at the centre twice that at ±0.5.
        let mut r = Rng::for_channel(1, 3);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        let (mut centre, mut half) = (0usize, 0usize);
        for _ in 0..n {
            let d = r.tpdf();
            assert!(d > -1.0 && d < 1.0);
            s += d;
            s2 += d * d;
            if d.abs() < 0.05 {
                centre += 1;
            }
            if (d.abs() - 0.5).abs() < 0.025 {
                half += 1; // two windows of 0.05 at ±0.5
            }
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 6.0).abs() < 0.005, "var {var}");
        let ratio = centre as f64 / half as f64;
        assert!((ratio - 1.95).abs() < 0.15, "ratio {ratio}");
    }

    #[test]
    fn quantize_clips_counts_and_zeroes_non_finite() {
        // A dither of `d` LSB in the quantizer's units.
        let lsb = |d: f64| (d * ONE as f64) as i64;
        assert_eq!(quantize(1.0, 16, 0).code, 32767);
        assert!(quantize(1.0, 16, 0).clipped);
        assert!(!quantize(32767.0 / 32768.0, 16, lsb(0.9)).clipped);
        assert_eq!(quantize(32767.0 / 32768.0, 16, lsb(0.9)).code, 32767);
        assert_eq!(quantize(-1.0, 16, lsb(-0.9)).code, -32768);
        assert!(!quantize(-1.0, 16, lsb(-0.9)).clipped);
        assert!(quantize(-1.1, 24, 0).clipped);
        // Half an LSB beyond full scale is the edge of clipping.
        assert!(!quantize(32767.5 / 32768.0, 16, 0).clipped);
        assert!(quantize(32767.5 / 32768.0 + 1e-7, 16, 0).clipped);
        assert!(quantize(-32768.5 / 32768.0 - 1e-7, 16, 0).clipped);
        assert!(quantize(1e30, 24, 0).clipped && quantize(-f32::MAX, 24, 0).clipped);
        let q = quantize(f32::NAN, 24, lsb(0.3));
        assert_eq!((q.code, q.non_finite), (0, true));
        assert!(quantize(f32::INFINITY, 16, 0).non_finite);
        assert_eq!(quantize(0.25, 16, 0).code, 8192);
        // Digital silence is kept whatever the dither.
        assert_eq!(quantize(0.0, 16, lsb(0.9)).code, 0);
        assert_eq!(quantize(-0.0, 24, lsb(-0.9)).code, 0);
        assert_eq!(quantize(1.0 / 65536.0, 16, lsb(0.9)).code, 1);
        // Halves of an LSB round away from zero; the dither moves the decision.
        assert_eq!(quantize(0.5 / 32768.0, 16, 0).code, 1);
        assert_eq!(quantize(-0.5 / 32768.0, 16, 0).code, -1);
        assert_eq!(quantize(2.5 / 8_388_608.0, 24, 0).code, 3);
        assert_eq!(quantize(-2.5 / 8_388_608.0, 24, 0).code, -3);
        assert_eq!(quantize(2.5 / 8_388_608.0, 24, -1).code, 2);
        assert_eq!(quantize(-2.5 / 8_388_608.0, 24, 1).code, -2);
        assert_eq!(quantize(0.3 / 32768.0, 16, lsb(0.25)).code, 1);
        assert_eq!(quantize(0.3 / 32768.0, 16, lsb(0.15)).code, 0);
    }

    /// The integer quantizer against an f64 reference of the same definition: the
    /// sample plus the dither, rounded halves away from zero with `f64::round`, then
    /// clamped (exact in f64 for these values: 16-bit codes plus a dither with few
    /// significant bits).
    #[test]
    fn quantize_is_the_rounded_sum() {
        let mut r = Rng::for_channel(3, 0);
        for _ in 0..200_000 {
            let x = ((r.uniform() - 0.5) * 2.5) as f32;
            let d = (r.dither() >> 16) << 16;
            let want = (f64::from(x) * 32768.0 + d as f64 / ONE as f64)
                .round()
                .clamp(-32768.0, 32767.0) as i32;
            let want = if x == 0.0 { 0 } else { want };
            assert_eq!(quantize(x, 16, d).code, want, "x {x:e} d {d}");
        }
    }

    /// The tile kernel against `quantize` sample by sample (the reference), for 16 and
    /// 24 bits, with clipping, NaN, silence and the dither streams.
    #[test]
    fn quantize_channel_matches_quantize() {
        let mut g = Rng::for_channel(9, 2);
        let mut src: Vec<f32> = (0..4099)
            .map(|_| ((g.uniform() - 0.5) * 2.4) as f32)
            .collect();
        src[7] = f32::NAN;
        src[8] = 0.0;
        src[9] = f32::NEG_INFINITY;
        src[10] = 1.0;
        // Digital silence over whole groups and parts of groups (the draws still move).
        src[100..125].fill(0.0);
        src[110] = -0.0;
        // Ties (exact halves of an LSB, which the undithered pass meets as they are),
        // signed zeros, tiny and huge values.
        let tail = [
            0.5 / 8_388_608.0,
            -0.5 / 8_388_608.0,
            1.5 / 8_388_608.0,
            -1.5 / 8_388_608.0,
            2.5 / 8_388_608.0,
            -4_194_302.5 / 8_388_608.0,
            0.5 / 32_768.0,
            -0.5 / 32_768.0,
            -2.5 / 32_768.0,
            -0.0,
            f32::MIN_POSITIVE,
            -1e-40,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            -1.0,
            32_767.5 / 32_768.0,
            8_388_607.5 / 8_388_608.0,
        ];
        src.extend(tail);
        for (bits, dither) in [(24u32, true), (16, true), (24, false), (16, false)] {
            let w = (bits / 8) as usize;
            let (stride, offset) = (3 * w, w);
            // One frame more than the samples: that frame stays untouched.
            let mut out = vec![0xAAu8; (src.len() + 1) * stride];
            let mut ra = Rng::for_channel(5, 1);
            let c = match w {
                3 => quantize_channel::<3>(&src, &mut ra, dither, &mut out, stride, offset),
                _ => quantize_channel::<2>(&src, &mut ra, dither, &mut out, stride, offset),
            };
            let mut rb = Rng::for_channel(5, 1);
            let mut want = QuantizeCounts::default();
            for (i, &x) in src.iter().enumerate() {
                let d = rb.dither();
                let q = quantize(x, bits, if dither { d } else { 0 });
                want.non_finite += u64::from(q.non_finite);
                want.clipped += u64::from(q.clipped);
                want.peak_code = want.peak_code.max(q.code.unsigned_abs());
                let b = q.code.to_le_bytes();
                assert_eq!(&out[i * stride + offset..][..w], &b[..w], "sample {i}");
                // The neighbours' bytes are untouched.
                assert_eq!(out[i * stride], 0xAA);
            }
            assert!(out[src.len() * stride..].iter().all(|&b| b == 0xAA));
            assert_eq!(c, want);
            assert_eq!(c.non_finite, 2);
            assert!(c.clipped > 0);
            assert_eq!(ra.next_u64(), rb.next_u64());
        }
    }
}
