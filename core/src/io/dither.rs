//! Deterministic TPDF dither and quantization to integer PCM.
//!
//! TPDF (triangular probability density function) dither of ±1 LSB peak is
//! the difference of two independent uniform variables on [0, 1) LSB; it
//! makes the first and second moments of the quantization error independent
//! of the signal (Lipshitz, Wannamaker & Vanderkooy, "Quantization and
//! Dither: A Theoretical Survey", JAES 40(5), 1992).
//!
//! The generator is SplitMix64 (Steele, Lea & Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014): tiny, fast, and with a
//! fixed algorithm so that output files are bit-identical run to run and
//! across platforms. Each channel has its own stream, seeded from the user
//! seed and the channel index through one SplitMix64 mixing step.

/// SplitMix64's golden-ratio increment (Steele et al. 2014).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One SplitMix64 output mix of `z` (Steele et al. 2014, `mix64`).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream.
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
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform on [0, 1) with 53 bits of resolution.
    pub fn uniform(&mut self) -> f64 {
        // Below 2^53 the value fits an i64, whose conversion is one instruction (an
        // unsigned one is several on x86-64 without AVX-512); the value is the same.
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// TPDF on (-1, 1) (in LSB units): difference of two uniforms.
    pub fn tpdf(&mut self) -> f64 {
        self.uniform() - self.uniform()
    }
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

/// Quantizes `x` (full scale = ±1.0) to a `bits`-bit code with TPDF dither
/// `d` (LSB units). A sample is counted as clipped only when the signal
/// itself exceeds what the format can hold; excursions caused by the dither
/// alone are clamped silently.
///
/// Exact digital silence (`x == 0.0`) stays 0 without dither ("auto-blanking"),
/// so that an unused channel of a deliverable (an empty LFE, a silent stem)
/// is delivered as digital silence rather than as ±1 LSB noise that QC would
/// flag. The caller draws `d` regardless, so the dither streams, and thus the
/// output, do not depend on where the silence lies.
#[inline]
pub fn quantize(x: f32, bits: u32, d: f64) -> Quantized {
    let scale = (1u64 << (bits - 1)) as f64;
    let max = scale - 1.0;
    let min = -scale;
    if !x.is_finite() {
        return Quantized {
            code: 0,
            clipped: false,
            non_finite: true,
        };
    }
    if x == 0.0 {
        return Quantized {
            code: 0,
            clipped: false,
            non_finite: false,
        };
    }
    let v = f64::from(x) * scale;
    let clipped = v > max + 0.5 || v < min - 0.5;
    let code = round_half_away(v + d).clamp(min, max) as i32;
    Quantized {
        code,
        clipped,
        non_finite: false,
    }
}

/// `y.round()` (halves away from zero) without the libm call that `f64::round` is on
/// x86-64 without SSE4.1: truncation by the one-instruction conversion to i64, then the
/// exact remainder `y - trunc(y)` decides. Equal to `y.round()` for every finite `y`
/// (up to the sign of a zero result, which the integer code does not have); `|y| >= 2^52`
/// is already an integer and NaN passes through.
#[inline(always)]
pub fn round_half_away(y: f64) -> f64 {
    const EXACT: f64 = (1u64 << 52) as f64;
    let fraction_bits = y.abs() < EXACT;
    if !fraction_bits {
        return y;
    }
    let t = y as i64 as f64;
    let f = y - t;
    if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t
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

/// Samples quantized together by [`quantize_channel`]: the dither draws of a group are
/// independent of each other (SplitMix64's state only adds [`GAMMA`]), so the group's
/// arithmetic has no chain from sample to sample and runs in vector lanes.
const GROUP: usize = 8;

/// 1.5 * 2^52: added to an `f64` of magnitude up to 2^51, it leaves the integer nearest
/// to it (ties to even) in the low bits of the mantissa.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// [`quantize`] with the dither drawn from SplitMix64 states `sa` and `sb` (the two
/// uniforms of [`Rng::tpdf`]), without a branch or a float-to-integer conversion:
/// the code, whether the input was clipped, whether it was not finite. Equal to
/// `quantize(x, bits, amount * tpdf)` bit for bit:
/// - the two uniforms are integers below 2^53 times 2^-53, so their difference is exact
///   and equals the difference of the integers (exact in `f64`) times 2^-53;
/// - `y = v + d` is first limited to ±2^31 (beyond every code, so the final clamp gives
///   the same code); `MAGIC` rounds it to the nearest integer `t`, ties to even, and
///   the exact remainder `y - t` of ±0.5 moves a tie away from zero
///   ([`round_half_away`]); the clamped code is read from `MAGIC`'s mantissa.
#[inline(always)]
fn quantize_drawn(x: f32, sa: u64, sb: u64, amount: f64, scale: f64) -> (i32, u32, u32) {
    const LIMIT: f64 = (1u64 << 31) as f64;
    let ua = (mix64(sa) >> 11) as i64;
    let ub = (mix64(sb) >> 11) as i64;
    let d = amount * ((ua - ub) as f64 * (1.0 / (1u64 << 53) as f64));
    let (max, min) = (scale - 1.0, -scale);
    let finite = x.is_finite();
    let v = f64::from(if finite { x } else { 0.0 }) * scale;
    let y = (v + d).clamp(-LIMIT, LIMIT);
    let t = (y + MAGIC) - MAGIC;
    let f = y - t;
    let up = f64::from(u8::from(f == 0.5 && y > 0.0));
    let down = f64::from(u8::from(f == -0.5 && y < 0.0));
    let code = ((t + up - down).clamp(min, max) + MAGIC).to_bits() as u32 as i32;
    let code = if finite && x != 0.0 { code } else { 0 };
    let clipped = v > max + 0.5 || v < min - 0.5;
    (code, u32::from(clipped), u32::from(!finite))
}

/// Quantizes one channel of a tile into interleaved little-endian PCM of `W` bytes a
/// sample: sample `i` of `src` goes to `out[i * stride + offset..][..W]`, with the
/// dither `amount * rng.tpdf()` drawn for every sample in order (exactly
/// [`quantize`] sample by sample). Groups of [`GROUP`] samples are quantized without a
/// branch (see [`quantize_drawn`]), then stored with fixed-size moves; a group of
/// digital silence needs no draw.
pub fn quantize_channel<const W: usize>(
    src: &[f32],
    rng: &mut Rng,
    bits: u32,
    amount: f64,
    out: &mut [u8],
    stride: usize,
    offset: usize,
) -> QuantizeCounts {
    let scale = (1u64 << (bits - 1)) as f64;
    let n = src.len().min(out.len() / stride);
    let mut c = QuantizeCounts::default();
    let mut codes = [0i32; GROUP];
    for (src, out) in src[..n].chunks(GROUP).zip(out.chunks_mut(stride * GROUP)) {
        let s = rng.state;
        let draw = |j: usize, x: f32| {
            let sa = s.wrapping_add(GAMMA.wrapping_mul(2 * j as u64 + 1));
            quantize_drawn(x, sa, sa.wrapping_add(GAMMA), amount, scale)
        };
        let (mut clipped, mut non_finite, mut peak) = (0u32, 0u32, 0u32);
        if src.iter().all(|&x| x == 0.0) {
            // Digital silence: every code is 0 whatever the dither (whose draws are
            // skipped; the stream still moves past them below).
            codes.fill(0);
        } else if let Ok(src) = <&[f32; GROUP]>::try_from(src) {
            for j in 0..GROUP {
                let (code, clip, nf) = draw(j, src[j]);
                codes[j] = code;
                clipped += clip;
                non_finite += nf;
                peak = peak.max(code.unsigned_abs());
            }
        } else {
            for (j, &x) in src.iter().enumerate() {
                let (code, clip, nf) = draw(j, x);
                codes[j] = code;
                clipped += clip;
                non_finite += nf;
                peak = peak.max(code.unsigned_abs());
            }
        }
        rng.state = s.wrapping_add(GAMMA.wrapping_mul(2 * src.len() as u64));
        c.clipped += u64::from(clipped);
        c.non_finite += u64::from(non_finite);
        c.peak_code = c.peak_code.max(peak);
        for (frame, &code) in out.chunks_exact_mut(stride).zip(&codes[..src.len()]) {
            let b = code.to_le_bytes();
            let dst: &mut [u8; W] = (&mut frame[offset..offset + W])
                .try_into()
                .expect("W bytes");
            dst.copy_from_slice(&b[..W]);
        }
    }
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
        assert_eq!(quantize(1.0, 16, 0.0).code, 32767);
        assert!(quantize(1.0, 16, 0.0).clipped);
        assert!(!quantize(32767.0 / 32768.0, 16, 0.9).clipped);
        assert_eq!(quantize(32767.0 / 32768.0, 16, 0.9).code, 32767);
        assert_eq!(quantize(-1.0, 16, -0.9).code, -32768);
        assert!(!quantize(-1.0, 16, -0.9).clipped);
        assert!(quantize(-1.1, 24, 0.0).clipped);
        let q = quantize(f32::NAN, 24, 0.3);
        assert_eq!((q.code, q.non_finite), (0, true));
        assert!(quantize(f32::INFINITY, 16, 0.0).non_finite);
        assert_eq!(quantize(0.25, 16, 0.0).code, 8192);
        // Digital silence is kept whatever the dither.
        assert_eq!(quantize(0.0, 16, 0.9).code, 0);
        assert_eq!(quantize(-0.0, 24, -0.9).code, 0);
        assert_eq!(quantize(1.0 / 65536.0, 16, 0.9).code, 1);
    }

    #[test]
    fn round_half_away_is_f64_round() {
        let mut r = Rng::for_channel(3, 0);
        let mut cases = vec![
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4503599627370495.5,
            -4503599627370495.5,
            4503599627370496.0,
            1e300,
            -1e300,
            8388607.5,
            -8388608.5,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Halves and their neighbours across the 24-bit range, and random values.
        for k in -2000i64..2000 {
            let h = k as f64 * 4194.0 + 0.5;
            cases.extend([
                h,
                f64::from_bits(h.to_bits() + 1),
                f64::from_bits(h.to_bits() - 1),
            ]);
        }
        for _ in 0..100_000 {
            cases.push((r.uniform() - 0.5) * 2.0 * 8388608.0 * 1.5);
        }
        for y in cases {
            assert_eq!(round_half_away(y), y.round(), "{y:e}");
        }
        assert!(round_half_away(f64::NAN).is_nan());
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
        for (bits, amount) in [(24u32, 1.0), (16, 1.0), (24, 0.0), (16, 0.0)] {
            let w = (bits / 8) as usize;
            let (stride, offset) = (3 * w, w);
            // One frame more than the samples: that frame stays untouched.
            let mut out = vec![0xAAu8; (src.len() + 1) * stride];
            let mut ra = Rng::for_channel(5, 1);
            let c = match w {
                3 => quantize_channel::<3>(&src, &mut ra, bits, amount, &mut out, stride, offset),
                _ => quantize_channel::<2>(&src, &mut ra, bits, amount, &mut out, stride, offset),
            };
            let mut rb = Rng::for_channel(5, 1);
            let mut want = QuantizeCounts::default();
            for (i, &x) in src.iter().enumerate() {
                let q = quantize(x, bits, amount * rb.tpdf());
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
