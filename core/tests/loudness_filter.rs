//! K-weighting coefficients and the hop analyzer's streaming invariants.

use dubstage_core::backend::{Analyzer, AnalyzerConfig, Hop};
use dubstage_core::loudness::filter::k_weighting_analog_magnitude;
use dubstage_core::loudness::{Biquad, HopAnalyzer, k_weighting, true_peak_fir};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn coeffs(b: &Biquad) -> [f64; 5] {
    [b.b0, b.b1, b.b2, b.a1, b.a2]
}

#[test]
fn k_weighting_48k_equals_published_bs1770_coefficients() {
    // ITU-R BS.1770-4, Tables 1 and 2.
    let [s1, s2] = k_weighting(48_000);
    let pub1 = [
        1.53512485958697,
        -2.69169618940638,
        1.19839281085285,
        -1.69065929318241,
        0.73248077421585,
    ];
    let pub2 = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621];
    for (i, (a, b)) in coeffs(&s1).iter().zip(pub1).enumerate() {
        assert!(close(*a, b, 1e-8), "stage 1 coeff {i}: {a} vs {b}");
    }
    for (i, (a, b)) in coeffs(&s2).iter().zip(pub2).enumerate() {
        assert!(close(*a, b, 1e-8), "stage 2 coeff {i}: {a} vs {b}");
    }
}

#[test]
fn k_weighting_other_rates_match_the_analog_prototype() {
    for sr in [44_100u32, 48_000, 88_200, 96_000, 192_000] {
        let [s1, s2] = k_weighting(sr);
        for f in [
            20.0, 38.0, 100.0, 500.0, 1000.0, 1681.97, 4000.0, 10_000.0, 20_000.0,
        ] {
            let digital = s1.magnitude(f, sr as f64) * s2.magnitude(f, sr as f64);
            let analog = k_weighting_analog_magnitude(f, sr);
            assert!(
                close(digital, analog, 1e-9 * analog.max(1.0)),
                "{sr} Hz at {f} Hz: digital {digital} analog {analog}"
            );
        }
        // Known shape: about +4 dB at high frequencies, ~0 dB at 1 kHz (BS.1770-4
        // Figure 1/2), -inf at DC; the 1 kHz gain is the +0.691 dB that the -0.691 offset
        // of the loudness formula cancels. Stage 2 keeps the published [1, -2, 1]
        // numerator at every rate (as libebur128 does), so its passband gain drifts with
        // the rate, by under 0.03 dB up to 192 kHz.
        let tol = if sr == 48_000 { 0.002 } else { 0.03 };
        let g1k = 20.0 * (s1.magnitude(997.0, sr as f64) * s2.magnitude(997.0, sr as f64)).log10();
        assert!(close(g1k, 0.691, tol), "{sr}: 1 kHz gain {g1k} dB");
        let g10k =
            20.0 * (s1.magnitude(10_000.0, sr as f64) * s2.magnitude(10_000.0, sr as f64)).log10();
        assert!(close(g10k, 4.0, 0.2), "{sr}: 10 kHz gain {g10k} dB");
        assert!(s1.magnitude(0.0, sr as f64) * s2.magnitude(0.0, sr as f64) < 1e-12);
    }
}

#[test]
fn k_weighting_44k1_and_96k_values() {
    // Values computed independently (Python, f64) from the same analog prototypes.
    let [s1, s2] = k_weighting(44_100);
    let e1 = [
        1.5308412300503478,
        -2.6509799951547297,
        1.169079079921587,
        -1.6636551132560204,
        0.7125954280732254,
    ];
    let e2 = [1.0, -2.0, 1.0, -1.989169673629796, 0.9891990357870393];
    for (a, b) in coeffs(&s1).iter().zip(e1).chain(coeffs(&s2).iter().zip(e2)) {
        assert!(close(*a, b, 1e-12), "44.1k: {a} vs {b}");
    }
    let [s1, s2] = k_weighting(96_000);
    let e1 = [
        1.5597142289757966,
        -2.9267415782510824,
        1.3782612023158187,
        -1.8446094698901085,
        0.8558433229306412,
    ];
    let e2 = [1.0, -2.0, 1.0, -1.9950175447247156, 0.9950237590409233];
    for (a, b) in coeffs(&s1).iter().zip(e1).chain(coeffs(&s2).iter().zip(e2)) {
        assert!(close(*a, b, 1e-12), "96k: {a} vs {b}");
    }
}

fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 1.6 - 0.8
        })
        .collect()
}

fn analyze(chans: &[Vec<f32>], sr: u32, os: u32, block: usize) -> Vec<Hop> {
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: chans.len(),
        sample_rate: sr,
        true_peak_oversample: os,
    })
    .unwrap();
    let n = chans[0].len();
    let mut hops = Vec::new();
    let mut i = 0;
    while i < n {
        let e = (i + block).min(n);
        let planar: Vec<&[f32]> = chans.iter().map(|c| &c[i..e]).collect();
        a.push(&planar).unwrap();
        hops.extend(a.take_hops().unwrap());
        i = e;
    }
    hops.extend(a.finish().unwrap());
    hops
}

#[test]
fn hops_do_not_depend_on_push_block_size() {
    // Noise with quiet stretches (so the true-peak skip path runs) and a partial last hop.
    let n = 48_000 * 2 + 1234;
    let mut l = noise(n, 1);
    let r = noise(n, 2);
    for (i, v) in l.iter_mut().enumerate() {
        if (i / 3000) % 3 == 1 {
            *v *= 0.01;
        }
    }
    let chans = vec![l, r];
    for os in [0, 1, 2, 4, 8] {
        let reference = analyze(&chans, 48_000, os, n);
        assert_eq!(reference.len(), 21);
        assert_eq!(reference.last().unwrap().frames, 1234);
        for block in [1, 7, 64, 480, 4800, 4801, 65_536] {
            let hops = analyze(&chans, 48_000, os, block);
            assert_eq!(hops, reference, "os {os} block {block}");
        }
    }
}

#[test]
fn hops_match_a_direct_oracle() {
    let sr = 48_000;
    let n = 4800 * 3 + 100;
    let x = noise(n, 7);
    let hops = analyze(std::slice::from_ref(&x), sr, 4, 1000);
    // Energy: direct f64 biquads.
    let [c1, c2] = k_weighting(sr);
    let (mut s1, mut s2) = ([0f64; 4], [0f64; 4]); // x1 x2 y1 y2 (direct form I)
    let df1 = |c: &Biquad, s: &mut [f64; 4], v: f64| {
        let y = c.b0 * v + c.b1 * s[0] + c.b2 * s[1] - c.a1 * s[2] - c.a2 * s[3];
        *s = [v, s[0], y, s[2]];
        y
    };
    let fir = true_peak_fir(4).unwrap();
    let t = fir.taps_per_phase;
    let d = t / 2;
    let mut tp = vec![0f64; hops.len()];
    for c in 0..n {
        // Outputs centred at c: n' = c + d.
        let np = c + d;
        for p in 0..4 {
            let y: f64 = (0..t)
                .map(|k| {
                    let idx = np as i64 - k as i64;
                    let xv = if idx >= 0 && (idx as usize) < n {
                        x[idx as usize] as f64
                    } else {
                        0.0
                    };
                    fir.coeffs[p * t + k] as f64 * xv
                })
                .sum();
            tp[c / 4800] = tp[c / 4800].max(y.abs());
        }
    }
    for (h, hop) in hops.iter().enumerate() {
        let seg = &x[h * 4800..((h + 1) * 4800).min(n)];
        let mut e = 0.0;
        let mut sp = 0f32;
        for (i, &v) in x[..h * 4800 + seg.len()].iter().enumerate() {
            let y = df1(&c2, &mut s2, df1(&c1, &mut s1, v as f64));
            if i >= h * 4800 {
                e += y * y;
                sp = sp.max(v.abs());
            }
        }
        s1 = [0.0; 4];
        s2 = [0.0; 4];
        assert!(
            close(hop.energy[0], e, 1e-9 * e),
            "hop {h}: {} vs {e}",
            hop.energy[0]
        );
        assert_eq!(hop.sample_peak[0], sp);
        assert!(
            close(hop.true_peak[0] as f64, tp[h], 1e-5),
            "hop {h} tp {} vs {}",
            hop.true_peak[0],
            tp[h]
        );
        assert!(hop.true_peak[0] >= hop.sample_peak[0]);
    }
}

#[test]
fn analyzer_rejects_bad_input() {
    let cfg = |c, sr, os| AnalyzerConfig {
        channels: c,
        sample_rate: sr,
        true_peak_oversample: os,
    };
    assert!(HopAnalyzer::new(&cfg(0, 48_000, 4)).is_err());
    assert!(HopAnalyzer::new(&cfg(2, 44_101, 4)).is_err());
    assert!(HopAnalyzer::new(&cfg(2, 48_000, 3)).is_err());
    let mut a = HopAnalyzer::new(&cfg(2, 48_000, 4)).unwrap();
    let x = [0f32; 10];
    assert!(a.push(&[&x]).is_err());
    assert!(a.push(&[&x, &x[..5]]).is_err());
    assert!(a.finish().unwrap().is_empty());
    assert!(a.push(&[&x, &x]).is_err());
}
