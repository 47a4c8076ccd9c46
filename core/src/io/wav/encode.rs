//! Planar f32 to file bytes: the float interleave with its peak and non-finite scan
//! (PCM is quantized with dither in `write`).

/// Interleaves `C` planar channels into little-endian f32 words (NaN/Inf written as 0),
/// raising `peak` per channel; returns the count of non-finite samples. `None` when
/// `chans` does not hold `C` channels.
pub(super) fn interleave_f32<const C: usize>(
    chans: &[&[f32]],
    words: &mut [u32],
    peak: &mut [f32],
) -> Option<u64> {
    let src: &[&[f32]; C] = chans.try_into().ok()?;
    let pk: &mut [f32; C] = peak.try_into().ok()?;
    let n = words.len() / C;
    let src: [&[f32]; C] = src.map(|c| &c[..n]);
    // One pass per channel for the peak and the non-finite count (8 lanes, so it
    // vectorizes; max is exact in any order), then a plain interleave.
    let mut bad = 0u64;
    for (x, p) in src.iter().zip(pk.iter_mut()) {
        let (m, b) = scan_peak(x);
        *p = p.max(m);
        bad += b;
    }
    for (i, frame) in words.chunks_exact_mut(C).enumerate() {
        for c in 0..C {
            frame[c] = src[c][i].to_bits().to_le();
        }
    }
    if bad > 0 {
        // NaN/Inf are written as 0 (and counted above).
        for w in words.iter_mut() {
            if !f32::from_bits(u32::from_le(*w)).is_finite() {
                *w = 0;
            }
        }
    }
    Some(bad)
}

/// The largest finite `|x|` and the count of non-finite samples of `x`.
fn scan_peak(x: &[f32]) -> (f32, u64) {
    const EXP: u32 = 0x7F80_0000;
    // |x| as bits orders like |x| for finite floats, and NaN/Inf lie above all of
    // them: one integer max (8 lanes, so it vectorizes) settles the common case.
    // (As i32: the bits are below 2^31, and a signed compare is what SSE2 has.)
    let mut m = [0i32; 8];
    let mut lanes = x.chunks_exact(8);
    for v in &mut lanes {
        for l in 0..8 {
            m[l] = m[l].max((v[l].to_bits() & 0x7FFF_FFFF) as i32);
        }
    }
    let top = lanes
        .remainder()
        .iter()
        .fold(m.into_iter().max().unwrap_or(0), |a, v| {
            a.max((v.to_bits() & 0x7FFF_FFFF) as i32)
        }) as u32;
    if top < EXP {
        return (f32::from_bits(top), 0);
    }
    // Rare: some samples are NaN or infinite (they count as 0 for the peak).
    x.iter().fold((0f32, 0u64), |(p, b), v| {
        if v.is_finite() {
            (p.max(v.abs()), b)
        } else {
            (p, b + 1)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorized interleave against a naive one: same words (NaN/Inf written as
    /// 0), peaks and non-finite count, for lengths that are not multiples of 8.
    #[test]
    fn interleave_matches_naive() {
        for n in [0usize, 1, 7, 8, 9, 1000, 1003] {
            let mut chans: Vec<Vec<f32>> = (0..6)
                .map(|c| {
                    (0..n)
                        .map(|i| ((i * 7 + c * 13) % 97) as f32 / 50.0 - 0.97)
                        .collect()
                })
                .collect();
            if n > 5 {
                chans[1][3] = f32::NAN;
                chans[4][n - 1] = f32::INFINITY;
                chans[5][n / 2] = f32::NEG_INFINITY;
                chans[0][n - 2] = -3.5;
            }
            let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
            let mut words = vec![1u32; n * 6];
            let mut peak = vec![0.25f32; 6];
            let bad = interleave_f32::<6>(&refs, &mut words, &mut peak).unwrap();
            let mut want_peak = vec![0.25f32; 6];
            let mut want_bad = 0;
            for i in 0..n {
                for c in 0..6 {
                    let x = chans[c][i];
                    let v = if x.is_finite() { x } else { 0.0 };
                    want_bad += u64::from(!x.is_finite());
                    want_peak[c] = want_peak[c].max(v.abs());
                    assert_eq!(
                        words[i * 6 + c],
                        v.to_bits().to_le(),
                        "n {n} frame {i} ch {c}"
                    );
                }
            }
            assert_eq!(bad, want_bad, "n {n}");
            assert_eq!(peak, want_peak, "n {n}");
        }
    }
}
