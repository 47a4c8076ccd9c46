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
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
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
    let code = (v + d).round().clamp(min, max) as i32;
    Quantized {
        code,
        clipped,
        non_finite: false,
    }
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
}
