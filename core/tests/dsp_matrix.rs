//! Lt/Rt 4:2:4 matrix: the 90° pair, and encode → passive decode recovering
//! centre and surround.

use dubstage_core::Layout;
use dubstage_core::mix::matrix::{
    AllpassChain, LtRtEncoder, MatrixOptions, PassiveDecoder, band_high_hz,
    pair_phase_difference_deg,
};
use std::f64::consts::PI;

/// (amplitude, phase rad) of `y` at `f` over samples `from..`, whole periods.
fn sine_fit(y: &[f32], f: f64, fs: f64, from: usize) -> (f64, f64) {
    let periods = ((y.len() - from) as f64 * f / fs).floor();
    let n = (periods * fs / f).round() as usize;
    let (mut s, mut c) = (0.0, 0.0);
    for (t, &v) in y.iter().enumerate().skip(from).take(n) {
        let ph = 2.0 * PI * f * t as f64 / fs;
        s += v as f64 * ph.sin();
        c += v as f64 * ph.cos();
    }
    let (a, b) = (2.0 * s / n as f64, 2.0 * c / n as f64);
    ((a * a + b * b).sqrt(), b.atan2(a))
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

#[test]
fn pair_is_90_degrees_analytically() {
    for fs in [44_100u32, 48_000, 96_000] {
        let hi = band_high_hz(fs);
        assert!(hi > 18_800.0, "{fs}: band to {hi}");
        let mut worst: f64 = 0.0;
        let mut f = 20.0;
        while f <= hi {
            let d = pair_phase_difference_deg(fs, f);
            worst = worst.max((d - 90.0).abs());
            f *= 1.01;
        }
        assert!(worst < 0.16, "{fs} Hz: worst phase error {worst}°");
    }
}

#[test]
fn pair_is_90_degrees_running_sines() {
    let fs = 48_000u32;
    for f in [100.0, 250.0, 1000.0, 3150.0, 7000.0, 10_000.0] {
        let x: Vec<f64> = (0..fs as usize)
            .map(|t| (2.0 * PI * f * t as f64 / fs as f64).sin())
            .collect();
        let (mut a, mut b) = (AllpassChain::new(fs, false), AllpassChain::new(fs, true));
        let ya: Vec<f32> = x.iter().map(|&v| a.tick(v) as f32).collect();
        let yb: Vec<f32> = x.iter().map(|&v| b.tick(v) as f32).collect();
        let (ma, pa) = sine_fit(&ya, f, fs as f64, 24_000);
        let (mb, pb) = sine_fit(&yb, f, fs as f64, 24_000);
        assert!(
            (db(ma)).abs() < 0.001 && (db(mb)).abs() < 0.001,
            "all-pass gain at {f}"
        );
        let mut d = (pa - pb).to_degrees();
        if d < -180.0 {
            d += 360.0
        }
        if d > 180.0 {
            d -= 360.0
        }
        assert!((d - 90.0).abs() < 0.2, "{f} Hz: A − B = {d}°");
    }
}

/// Encodes 5.1 `chans` (L R C LFE Ls Rs), decodes, returns [L, R, C, S] and Lt/Rt.
fn encode_decode(chans: [Vec<f32>; 6], chunk: usize) -> ([Vec<f32>; 4], Vec<f32>, Vec<f32>) {
    encode_decode_with(chans, chunk, &MatrixOptions::default())
}

fn encode_decode_with(
    chans: [Vec<f32>; 6],
    chunk: usize,
    opts: &MatrixOptions,
) -> ([Vec<f32>; 4], Vec<f32>, Vec<f32>) {
    let fs = 48_000;
    let n = chans[0].len();
    let mut enc = LtRtEncoder::new(Layout::FiveOne, fs, opts).unwrap();
    let (mut lt, mut rt) = (vec![0.0; n], vec![0.0; n]);
    let mut pos = 0;
    while pos < n {
        let k = chunk.min(n - pos);
        let ins: Vec<&[f32]> = chans.iter().map(|c| &c[pos..pos + k]).collect();
        enc.process(&ins, &mut lt[pos..pos + k], &mut rt[pos..pos + k]);
        pos += k;
    }
    let mut dec = PassiveDecoder::new(fs);
    let mut out = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    {
        let [a, b, c, d] = &mut out;
        dec.process(&lt, &rt, [a, b, c, d]);
    }
    (out, lt, rt)
}

fn sine(f: f64, amp: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|t| (amp * (2.0 * PI * f * t as f64 / 48_000.0).sin()) as f32)
        .collect()
}

#[test]
fn centre_only_returns_in_c_not_s() {
    let n = 48_000;
    let z = vec![0.0f32; n];
    for f in [200.0, 1000.0, 5000.0] {
        let c = sine(f, 0.5, n);
        let ([l, r, cc, s], lt, rt) = encode_decode(
            [z.clone(), z.clone(), c, z.clone(), z.clone(), z.clone()],
            1000,
        );
        let (ac, _) = sine_fit(&cc, f, 48_000.0, 24_000);
        assert!(
            (db(ac / 0.5)).abs() < 0.01,
            "C' at {f}: {} dB",
            db(ac / 0.5)
        );
        // Lt = Rt exactly (same filter, same input), so S' is exactly zero
        assert_eq!(lt, rt);
        assert!(
            s.iter().all(|&v| v == 0.0),
            "S' silent for a centre-only programme"
        );
        let (al, _) = sine_fit(&l, f, 48_000.0, 24_000);
        let (ar, _) = sine_fit(&r, f, 48_000.0, 24_000);
        assert!((db(al / 0.5) + 3.0103).abs() < 0.01 && (db(ar / 0.5) + 3.0103).abs() < 0.01);
    }
}

#[test]
fn surround_only_returns_in_s_not_c() {
    let n = 48_000;
    let z = vec![0.0f32; n];
    for f in [250.0, 1000.0, 3000.0] {
        let s = sine(f, 0.25, n);
        let ([_, _, cc, ss], lt, rt) = encode_decode(
            [z.clone(), z.clone(), z.clone(), z.clone(), s.clone(), s],
            777,
        );
        // S = (Ls + Rs) / √2 = 0.3536 amplitude, then the 100 Hz–7 kHz band
        let want = 0.5 / 2f64.sqrt();
        let band = {
            use dubstage_core::stem::eq::{Band, Slope};
            let b = [
                Band::HighPass {
                    freq: 100.0,
                    slope: Slope::Db12,
                },
                Band::LowPass {
                    freq: 7000.0,
                    slope: Slope::Db12,
                },
            ];
            b.iter()
                .map(|b| {
                    let (re, im) = b.analog_response(48_000, f);
                    re.hypot(im)
                })
                .product::<f64>()
        };
        let (as_, _) = sine_fit(&ss, f, 48_000.0, 24_000);
        assert!(
            (db(as_ / (want * band))).abs() < 0.01,
            "S' at {f}: {} dB",
            db(as_ / (want * band))
        );
        let (acc, _) = sine_fit(&cc, f, 48_000.0, 24_000);
        assert!(
            db(acc / want) < -100.0,
            "C' leak at {f}: {} dB",
            db(acc / want)
        );
        // Lt and Rt carry the surround in antiphase at −3 dB each
        let (alt, plt) = sine_fit(&lt, f, 48_000.0, 24_000);
        let (art, prt) = sine_fit(&rt, f, 48_000.0, 24_000);
        assert!((db(alt / (want * band)) + 3.0103).abs() < 0.01);
        assert!((db(art / alt)).abs() < 1e-4);
        let d = ((plt - prt).to_degrees().rem_euclid(360.0) - 180.0).abs();
        assert!(d < 0.01, "antiphase: {d}°");
    }
}

#[test]
fn surround_is_in_quadrature_with_the_fronts_and_lfe_is_dropped() {
    let n = 48_000;
    let z = vec![0.0f32; n];
    let f = 1000.0;
    // Same sine in L and in Ls+Rs: in Lt, the surround part lags/leads the front by 90°.
    let flat = MatrixOptions {
        surround_hpf_hz: None,
        surround_lpf_hz: None,
        ..Default::default()
    };
    let (_, lt_front, _) = encode_decode_with(
        [
            sine(f, 0.5, n),
            z.clone(),
            z.clone(),
            z.clone(),
            z.clone(),
            z.clone(),
        ],
        4096,
        &flat,
    );
    let (_, lt_surr, _) = encode_decode_with(
        [
            z.clone(),
            z.clone(),
            z.clone(),
            z.clone(),
            sine(f, 0.5, n),
            sine(f, 0.5, n),
        ],
        4096,
        &flat,
    );
    let (_, pf) = sine_fit(&lt_front, f, 48_000.0, 24_000);
    let (_, ps) = sine_fit(&lt_surr, f, 48_000.0, 24_000);
    let d = (pf - ps).to_degrees().rem_euclid(360.0);
    // Lt = A[L] − 0.707 B[S] and B lags A by 90°: −B is A + 90°.
    assert!((d - 270.0).abs() < 0.2, "front vs surround in Lt: {d}°");
    let (_, lt, rt) = encode_decode(
        [
            z.clone(),
            z.clone(),
            z.clone(),
            sine(60.0, 0.9, n),
            z.clone(),
            z.clone(),
        ],
        4096,
    );
    assert!(lt.iter().chain(&rt).all(|&v| v == 0.0), "LFE is dropped");
}

#[test]
fn passive_matrix_leaks_a_side_channel_into_c_and_s_at_minus_3_db() {
    // A property of the format (4:2:4 passive decode has 3 dB adjacent-channel
    // separation), asserted so a decoder that "does better" by mistake is caught.
    let n = 48_000;
    let z = vec![0.0f32; n];
    let f = 1000.0;
    let ([l, r, c, s], _, _) = encode_decode(
        [
            sine(f, 0.5, n),
            z.clone(),
            z.clone(),
            z.clone(),
            z.clone(),
            z.clone(),
        ],
        1500,
    );
    let fit = |y: &[f32]| sine_fit(y, f, 48_000.0, 24_000).0 / 0.5;
    assert!(db(fit(&l)).abs() < 0.01);
    assert!(r.iter().all(|&v| v == 0.0));
    assert!((db(fit(&c)) + 3.0103).abs() < 0.01, "C' {}", db(fit(&c)));
    assert!((db(fit(&s)) + 3.0103).abs() < 0.01, "S' {}", db(fit(&s)));
}
