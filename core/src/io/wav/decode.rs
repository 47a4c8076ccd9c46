//! File bytes to planar f32: every stored sample format, in bulk.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decode {
    U8,
    I16,
    I24,
    I32,
    F32,
    F64,
}

/// Decodes the first `bytes` bytes of `words` (interleaved `decode` samples) into planar
/// f32 from frame `at` of every channel. Returns whether a sample may be NaN or infinite
/// (f32 data checked while decoded; f64 may overflow f32; integers never).
pub(super) fn decode_words(
    decode: Decode,
    words: &[u32],
    bytes: usize,
    out: &mut [Vec<f32>],
    at: usize,
) -> bool {
    match decode {
        Decode::F32 => deinterleave_f32(&words[..bytes / 4], out, at),
        d => {
            decode_planar(d, &bytemuck::cast_slice::<u32, u8>(words)[..bytes], out, at);
            d == Decode::F64
        }
    }
}

/// Splits interleaved little-endian f32 words into planar channels, with the channel
/// count known at compile time for the common layouts (the loop then moves whole frames).
/// Returns whether any sample is NaN or infinite (all exponent bits set).
fn deinterleave_f32(words: &[u32], out: &mut [Vec<f32>], at: usize) -> bool {
    const EXP: u32 = 0x7F80_0000;
    fn fixed<const C: usize>(words: &[u32], out: &mut [Vec<f32>], at: usize) -> bool {
        let out: &mut [Vec<f32>; C] = out.try_into().expect("C channels");
        let n = words.len() / C;
        let dst: [&mut [f32]; C] = out.each_mut().map(|v| &mut v[at..at + n]);
        let mut bad = 0u32;
        for (i, frame) in words.chunks_exact(C).enumerate() {
            for c in 0..C {
                let w = u32::from_le(frame[c]);
                bad |= u32::from(w & EXP == EXP);
                dst[c][i] = f32::from_bits(w);
            }
        }
        bad != 0
    }
    match out.len() {
        1 => fixed::<1>(words, out, at),
        2 => fixed::<2>(words, out, at),
        6 => fixed::<6>(words, out, at),
        8 => fixed::<8>(words, out, at),
        _ => {
            decode_planar(Decode::F32, bytemuck::cast_slice(words), out, at);
            words.iter().any(|w| u32::from_le(*w) & EXP == EXP)
        }
    }
}

/// Converts interleaved bytes of `decode` samples into planar f32, written from frame
/// `base` of every channel on.
pub(super) fn decode_planar(decode: Decode, buf: &[u8], out: &mut [Vec<f32>], base: usize) {
    // Tiles of TILE frames: one tile of interleaved bytes stays in L1 while every
    // channel is taken out of it, so the buffer is read from memory once.
    const TILE: usize = 512;
    fn run<const W: usize>(
        buf: &[u8],
        out: &mut [Vec<f32>],
        base: usize,
        f: impl Fn([u8; W]) -> f32,
    ) {
        let stride = W * out.len();
        for (t, tile) in buf.chunks(stride * TILE).enumerate() {
            let at = base + t * TILE;
            for (c, o) in out.iter_mut().enumerate() {
                for (dst, frame) in o[at..].iter_mut().zip(tile.chunks_exact(stride)) {
                    let s: [u8; W] = frame[c * W..c * W + W].try_into().expect("W bytes");
                    *dst = f(s);
                }
            }
        }
    }
    const S8: f32 = 1.0 / 128.0;
    const S16: f32 = 1.0 / 32768.0;
    const S32: f32 = 1.0 / 2_147_483_648.0;
    match decode {
        Decode::U8 => run::<1>(buf, out, base, |[b]| (f32::from(b) - 128.0) * S8),
        Decode::I16 => run::<2>(buf, out, base, |b| f32::from(i16::from_le_bytes(b)) * S16),
        // The 24-bit code placed in the top of an i32 is exact in f32 (24
        // significant bits), so scaling by 2^-31 equals scaling the code by 2^-23.
        Decode::I24 => run::<3>(buf, out, base, |[a, b, c]| {
            i32::from_le_bytes([0, a, b, c]) as f32 * S32
        }),
        Decode::I32 => run::<4>(buf, out, base, |b| i32::from_le_bytes(b) as f32 * S32),
        Decode::F32 => run::<4>(buf, out, base, f32::from_le_bytes),
        Decode::F64 => run::<8>(buf, out, base, |b| f64::from_le_bytes(b) as f32),
    }
}
