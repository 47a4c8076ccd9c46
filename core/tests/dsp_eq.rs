//! EQ magnitude: sines run through the filters against the analog prototypes'
//! closed-form responses (RBJ cookbook, bilinear transform pre-warped at f0).

use dubstage_core::stem::eq::{Band, Eq, Slope};
use std::f64::consts::PI;

const FS: u32 = 48_000;

/// Level (dB) of the steady-state response to a unit sine at `f`, measured
/// by projecting on sin/cos over whole periods after 1 s of settling.
fn measure_db(bands: &[Band], f: f64) -> f64 {
    let mut eq = Eq::new(bands, FS, 1).unwrap();
    let settle = FS as usize;
    let periods = (f * 0.5).ceil().max(10.0);
    let n = (periods * FS as f64 / f).round() as usize;
    let total = settle + n;
    let mut x = [(0..total)
        .map(|t| (2.0 * PI * f * t as f64 / FS as f64).sin() as f32)
        .collect::<Vec<f32>>()];
    // odd-sized chunks: the state must carry across calls
    let mut pos = 0;
    for chunk in [1usize, 7, 1000, 4095].iter().cycle() {
        if pos >= total {
            break;
        }
        let k = (*chunk).min(total - pos);
        let mut part = vec![x[0][pos..pos + k].to_vec()];
        eq.process(&mut part, k);
        x[0][pos..pos + k].copy_from_slice(&part[0]);
        pos += k;
    }
    let (mut s, mut c) = (0.0, 0.0);
    for (t, &y) in x[0].iter().enumerate().skip(settle) {
        let ph = 2.0 * PI * f * t as f64 / FS as f64;
        s += y as f64 * ph.sin();
        c += y as f64 * ph.cos();
    }
    let amp = 2.0 * (s * s + c * c).sqrt() / n as f64;
    20.0 * amp.log10()
}

fn analytic_db(bands: &[Band], f: f64) -> f64 {
    bands
        .iter()
        .map(|b| {
            let (re, im) = b.analog_response(FS, f);
            10.0 * (re * re + im * im).log10()
        })
        .sum()
}

fn check(bands: &[Band], freqs: &[f64]) {
    for &f in freqs {
        let want = analytic_db(bands, f);
        let got = measure_db(bands, f);
        // ±0.02 dB above -60 dB; below that f32 I/O and finite windows dominate
        let tol = if want > -60.0 { 0.02 } else { 0.5 };
        assert!(
            (got - want).abs() < tol,
            "{bands:?} at {f} Hz: measured {got:.4} dB, analytic {want:.4} dB"
        );
    }
}

const FREQS: [f64; 9] = [
    31.0, 80.0, 125.0, 440.0, 1000.0, 2500.0, 5000.0, 10_000.0, 18_000.0,
];

#[test]
fn butterworth_high_and_low_pass_all_slopes() {
    for slope in [Slope::Db12, Slope::Db24, Slope::Db36, Slope::Db48] {
        let hp = [Band::HighPass { freq: 120.0, slope }];
        check(&hp, &FREQS);
        let lp = [Band::LowPass {
            freq: 6000.0,
            slope,
        }];
        check(&lp, &FREQS);
        // -3.01 dB at the corner, and the analytic formula 1/(1+Ω^2N)
        assert!((analytic_db(&hp, 120.0) + 3.0103).abs() < 1e-3);
        let n = slope.order() as i32;
        let w = (PI * 60.0 / FS as f64).tan() / (PI * 120.0 / FS as f64).tan();
        let bw = -10.0 * (1.0 + w.powi(-2 * n)).log10();
        assert!((analytic_db(&hp, 60.0) - bw).abs() < 1e-9);
        // one octave below: about -6·N dB asymptotically
        assert!(analytic_db(&hp, 30.0) < -6.0 * n as f64 + 1.0);
    }
}

#[test]
fn shelves_peak_notch() {
    check(
        &[Band::LowShelf {
            freq: 150.0,
            gain_db: 6.0,
            q: None,
            slope: Some(1.0),
        }],
        &FREQS,
    );
    check(
        &[Band::HighShelf {
            freq: 8000.0,
            gain_db: -4.5,
            q: Some(0.7),
            slope: None,
        }],
        &FREQS,
    );
    check(
        &[Band::Peak {
            freq: 2500.0,
            gain_db: -9.0,
            q: 2.0,
        }],
        &FREQS,
    );
    check(
        &[Band::Peak {
            freq: 440.0,
            gain_db: 12.0,
            q: 0.5,
        }],
        &FREQS,
    );
    // known values: peak gain at f0, shelf at the extremes, notch depth
    let pk = [Band::Peak {
        freq: 1000.0,
        gain_db: 7.5,
        q: 1.0,
    }];
    assert!((measure_db(&pk, 1000.0) - 7.5).abs() < 0.01);
    let ls = [Band::LowShelf {
        freq: 300.0,
        gain_db: 6.0,
        q: None,
        slope: None,
    }];
    assert!((measure_db(&ls, 20.0) - 6.0).abs() < 0.05);
    assert!(
        (measure_db(&ls, 300.0) - 3.0).abs() < 0.02,
        "shelf midpoint = half the gain in dB"
    );
    let notch = [Band::Notch {
        freq: 1000.0,
        q: 5.0,
    }];
    assert!(measure_db(&notch, 1000.0) < -60.0);
    check(&notch, &[100.0, 900.0, 1100.0, 5000.0]);
}

#[test]
fn many_bands_cascade_and_multichannel() {
    let bands = [
        Band::HighPass {
            freq: 40.0,
            slope: Slope::Db24,
        },
        Band::LowShelf {
            freq: 200.0,
            gain_db: -3.0,
            q: Some(0.8),
            slope: None,
        },
        Band::Peak {
            freq: 3000.0,
            gain_db: 4.0,
            q: 1.2,
        },
        Band::HighShelf {
            freq: 9000.0,
            gain_db: 2.0,
            q: None,
            slope: Some(0.5),
        },
        Band::LowPass {
            freq: 16000.0,
            slope: Slope::Db12,
        },
    ];
    check(&bands, &FREQS);
    // channels are independent: the same signal on 3 channels gives the same output,
    // a zero channel stays zero
    let mut eq = Eq::new(&bands, FS, 3).unwrap();
    let x: Vec<f32> = (0..5000)
        .map(|t| ((t * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let mut p = vec![x.clone(), vec![0.0; 5000], x.clone()];
    eq.process(&mut p, 5000);
    assert_eq!(p[0], p[2]);
    assert!(p[1].iter().all(|&v| v == 0.0));
    assert_ne!(p[0], x);
}

#[test]
fn invalid_bands_are_errors_naming_the_band() {
    let e = Eq::new(
        &[
            Band::Peak {
                freq: 1000.0,
                gain_db: 1.0,
                q: 1.0,
            },
            Band::Notch {
                freq: 30_000.0,
                q: 1.0,
            },
        ],
        FS,
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("band 1") && e.contains("30000"), "{e}");
    let e = Eq::new(
        &[Band::Peak {
            freq: 1000.0,
            gain_db: 1.0,
            q: 0.0,
        }],
        FS,
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("q 0"), "{e}");
    let e = Eq::new(
        &[Band::LowShelf {
            freq: 100.0,
            gain_db: 1.0,
            q: Some(1.0),
            slope: Some(1.0),
        }],
        FS,
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not both"), "{e}");
    assert!(
        Eq::new(
            &[Band::Peak {
                freq: 1000.0,
                gain_db: f64::NAN,
                q: 1.0
            }],
            FS,
            1
        )
        .is_err()
    );
}
