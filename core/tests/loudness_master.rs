//! Delivery profiles, normalization and the true-peak limiter.

use dubstage_core::backend::{Analyzer, AnalyzerConfig};
use dubstage_core::layout::Layout;
use dubstage_core::loudness::{DialogueGate, HopAnalyzer, LoudnessSummary, Meter};
use dubstage_core::master::{
    DeliveryProfile, GatingMode, Limiter, LimiterOptions, OnFailure, check, normalization,
};

const SR: u32 = 48_000;

fn measure(chans: &[Vec<f32>], os: u32) -> (Meter, LoudnessSummary) {
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: chans.len(),
        sample_rate: SR,
        true_peak_oversample: os,
    })
    .unwrap();
    let layout = if chans.len() == 2 {
        Layout::Stereo
    } else {
        Layout::Mono
    };
    let mut m = Meter::new(SR, layout.channels()).unwrap();
    let p: Vec<&[f32]> = chans.iter().map(|c| &c[..]).collect();
    a.push(&p).unwrap();
    m.push_hops(&a.finish().unwrap()).unwrap();
    let s = m.summary(&DialogueGate::default(), false);
    (m, s)
}

fn true_peak_db(chans: &[Vec<f32>], os: u32) -> f64 {
    let (m, _) = measure(chans, os);
    20.0 * (m.true_peak() as f64).log10()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Runs the limiter in blocks of `block` frames; returns (output, gains, limiter).
fn limit(
    chans: &[Vec<f32>],
    ceiling: f64,
    opts: LimiterOptions,
    block: usize,
) -> (Vec<Vec<f32>>, Vec<f32>, Limiter) {
    let nch = chans.len();
    let mut l = Limiter::new(nch, SR, ceiling, opts).unwrap();
    let mut out = vec![Vec::new(); nch];
    let mut gains = Vec::new();
    let mut o = vec![Vec::new(); nch];
    let mut g = Vec::new();
    let n = chans[0].len();
    let mut i = 0;
    while i < n {
        let e = (i + block).min(n);
        let p: Vec<&[f32]> = chans.iter().map(|c| &c[i..e]).collect();
        l.process(&p, &mut o, &mut g).unwrap();
        for (a, b) in out.iter_mut().zip(&o) {
            a.extend_from_slice(b);
        }
        gains.extend_from_slice(&g);
        i = e;
    }
    l.flush(&mut o, &mut g).unwrap();
    for (a, b) in out.iter_mut().zip(&o) {
        a.extend_from_slice(b);
    }
    gains.extend_from_slice(&g);
    (out, gains, l)
}

fn square(freq: f64, amp: f64, secs: f64) -> Vec<f32> {
    let n = (secs * SR as f64) as usize;
    (0..n)
        .map(|i| {
            let ph = (i as f64 * freq / SR as f64).fract();
            (if ph < 0.5 { amp } else { -amp }) as f32
        })
        .collect()
}

fn assert_limited(name: &str, input: &[Vec<f32>], ceiling: f64) -> f64 {
    let (out, gains, l) = limit(input, ceiling, LimiterOptions::default(), 4096);
    assert_eq!(out[0].len(), input[0].len(), "{name}: length");
    assert_eq!(gains.len(), input[0].len(), "{name}: gains length");
    // Output is exactly input x gain, frame-aligned.
    for (c, (o, x)) in out.iter().zip(input).enumerate() {
        for (i, ((&y, &v), &g)) in o.iter().zip(x).zip(&gains).enumerate() {
            assert_eq!(y, g * v, "{name}: ch {c} frame {i}");
        }
    }
    for os in [2, 4, 8] {
        let tp = true_peak_db(&out, os);
        assert!(
            tp <= ceiling,
            "{name}: true peak {tp} dBTP at {os}x over {ceiling}"
        );
    }
    let s = l.stats();
    assert_eq!(s.residual_overs, 0, "{name}");
    assert_eq!(s.frames, input[0].len() as u64);
    s.max_gain_reduction_db
}

#[test]
fn limiter_holds_the_ceiling_on_full_scale_squares() {
    for freq in [50.0, 997.0, 5000.0] {
        let x = square(freq, 1.0, 2.0);
        let input = vec![x.clone(), x];
        let before = true_peak_db(&input, 8);
        let gr = assert_limited(&format!("square {freq} Hz"), &input, -1.0);
        // The reduction is at least what the input's true peak demands.
        assert!(
            gr >= before - (-1.0) - 0.05,
            "square {freq}: gr {gr} for tp {before}"
        );
    }
}

#[test]
fn limiter_holds_the_ceiling_on_fs4_tones_and_noise_bursts() {
    // Tech 3341 case 19: fs/4 at 1.41 FS, 45 degrees: +3 dBTP, samples at +-1.0.
    let n = SR as usize * 2;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            (1.41 * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin())
                as f32
        })
        .collect();
    let gr = assert_limited("fs/4 +3 dBTP", &[x.clone(), x], -2.0);
    assert!(gr > 4.9 && gr < 5.5, "fs/4: gr {gr}");

    // Full-scale white noise bursts (50 ms on / 200 ms off), different per channel.
    let mut rng = Rng(42);
    let burst = |rng: &mut Rng| -> Vec<f32> {
        (0..n)
            .map(|i| {
                if (i / 2400) % 5 == 0 {
                    (rng.gauss() * 0.5).clamp(-1.0, 1.0) as f32
                } else {
                    0.0
                }
            })
            .collect()
    };
    let input = vec![burst(&mut rng), burst(&mut rng)];
    assert_limited("noise bursts", &input, -1.0);
    // Noise boosted far over full scale (float), a hard case for inter-sample peaks.
    let hot: Vec<Vec<f32>> = input
        .iter()
        .map(|c| c.iter().map(|v| v * 4.0).collect())
        .collect();
    let gr = assert_limited("hot noise bursts", &hot, -2.0);
    assert!(gr > 10.0);
}

#[test]
fn limiter_is_transparent_below_the_ceiling_and_independent_of_block_size() {
    let n = SR as usize;
    let x: Vec<f32> = (0..n)
        .map(|i| (0.25 * (i as f64 * 0.05).sin()) as f32)
        .collect();
    let (out, gains, l) = limit(
        std::slice::from_ref(&x),
        -1.0,
        LimiterOptions::default(),
        1000,
    );
    assert_eq!(out[0], x);
    assert!(gains.iter().all(|&g| g == 1.0));
    assert_eq!(l.stats().max_gain_reduction_db, 0.0);

    let mut rng = Rng(7);
    let y: Vec<f32> = (0..n).map(|_| (rng.gauss() * 0.6) as f32).collect();
    let (a, ga, _) = limit(std::slice::from_ref(&y), -1.0, LimiterOptions::default(), n);
    for block in [1, 333, 4800] {
        let (b, gb, _) = limit(
            std::slice::from_ref(&y),
            -1.0,
            LimiterOptions::default(),
            block,
        );
        assert_eq!(a, b, "block {block}");
        assert_eq!(ga, gb, "block {block}");
    }
}

#[test]
fn limiter_rejects_bad_settings() {
    let o = LimiterOptions::default();
    assert!(Limiter::new(0, SR, -1.0, o).is_err());
    assert!(Limiter::new(2, SR, f64::NAN, o).is_err());
    assert!(
        Limiter::new(
            2,
            SR,
            -1.0,
            LimiterOptions {
                verify_oversample: 3,
                ..o
            }
        )
        .is_err()
    );
    let mut l = Limiter::new(2, SR, -1.0, o).unwrap();
    let x = [0f32; 8];
    let mut out = vec![Vec::new(); 2];
    let mut g = Vec::new();
    assert!(l.process(&[&x], &mut out, &mut g).is_err());
    assert!(l.process(&[&x, &x[..4]], &mut out, &mut g).is_err());
    assert!(l.latency() > 240);
}

#[test]
fn normalization_lands_on_target() {
    let mut rng = Rng(3);
    // 20 s of "programme": noise with a slow level swell, stereo.
    let n = SR as usize * 20;
    let prog: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..n)
                .map(|i| {
                    let env = 0.05 + 0.04 * (i as f64 / SR as f64 * 0.7).sin();
                    (rng.gauss() * env) as f32
                })
                .collect()
        })
        .collect();
    let (_, before) = measure(&prog, 4);
    for name in ["ebu-r128", "atsc-a85", "aes-streaming"] {
        let p = DeliveryProfile::preset(name).unwrap();
        let norm = normalization(&before, &p).unwrap();
        assert!(!norm.used_fallback);
        let g = norm.gain as f32;
        let out: Vec<Vec<f32>> = prog
            .iter()
            .map(|c| c.iter().map(|v| v * g).collect())
            .collect();
        let (_, after) = measure(&out, 4);
        let l = after.integrated_lufs.unwrap();
        assert!(
            (l - p.target_lufs).abs() <= 0.1,
            "{name}: {l} vs {}",
            p.target_lufs
        );
        // The predicted true peak is the measured one shifted by the gain.
        let tp = after.true_peak_dbtp.unwrap();
        assert!((tp - norm.predicted_true_peak_dbtp.unwrap()).abs() < 0.01);
        // Limit if needed, then check compliance.
        let (lim, _, _) = limit(
            &out,
            p.true_peak_ceiling_dbtp,
            LimiterOptions::default(),
            8192,
        );
        let (_, fin) = measure(&lim, 4);
        let c = check(&fin, &p);
        assert!(c.true_peak_ok, "{name}: {c:?}");
        assert!(c.loudness_ok, "{name}: {c:?}");
    }
}

#[test]
fn normalization_of_silence_is_an_error_and_netflix_falls_back_without_dialogue() {
    let silent = vec![vec![0f32; SR as usize * 2]; 2];
    let (_, s) = measure(&silent, 4);
    let p = DeliveryProfile::preset("ebu-r128").unwrap();
    assert!(normalization(&s, &p).is_err());
    assert!(!check(&s, &p).passed);

    let tone: Vec<f32> = (0..SR as usize * 10)
        .map(|i| (0.1 * (i as f64 * 0.13).sin()) as f32)
        .collect();
    let (_, s) = measure(&[tone.clone(), tone], 4);
    let nf = DeliveryProfile::preset("netflix").unwrap();
    let n = normalization(&s, &nf).unwrap();
    assert!(n.used_fallback);
    assert_eq!(n.target_lufs, -24.0);
    assert!((n.gain_db - (-24.0 - s.integrated_lufs.unwrap())).abs() < 1e-12);
}

#[test]
fn presets_and_serde() {
    let nf = DeliveryProfile::preset("netflix").unwrap();
    assert_eq!(nf.target_lufs, -27.0);
    assert_eq!(nf.tolerance_lu, 2.0);
    assert_eq!(nf.true_peak_ceiling_dbtp, -2.0);
    assert_eq!(nf.gating, GatingMode::Dialogue);
    assert_eq!(nf.fallback.unwrap().target_lufs, -24.0);
    assert_eq!(nf.fallback.unwrap().below_percent, 15.0);
    let ebu: DeliveryProfile = "EBU-R128".parse().unwrap();
    assert_eq!(
        (
            ebu.target_lufs,
            ebu.tolerance_lu,
            ebu.true_peak_ceiling_dbtp
        ),
        (-23.0, 0.5, -1.0)
    );
    let atsc = DeliveryProfile::preset("atsc-a85").unwrap();
    assert_eq!(
        (
            atsc.target_lufs,
            atsc.tolerance_lu,
            atsc.true_peak_ceiling_dbtp
        ),
        (-24.0, 2.0, -2.0)
    );
    let aes = DeliveryProfile::preset("aes-streaming").unwrap();
    assert_eq!((aes.target_lufs, aes.true_peak_ceiling_dbtp), (-18.0, -1.0));
    for p in [&nf, &ebu, &atsc, &aes] {
        assert_eq!(p.max_limiter_gain_reduction_db, 6.0);
        assert_eq!(p.on_failure, OnFailure::Fail);
        let t = toml::to_string(p).unwrap();
        let back: DeliveryProfile = toml::from_str(&t).unwrap();
        assert_eq!(&back, p);
    }
    let e = DeliveryProfile::preset("bbc").unwrap_err().to_string();
    assert!(e.contains("bbc") && e.contains("netflix"), "{e}");
    // A custom profile from TOML with defaults.
    let c: DeliveryProfile = toml::from_str(
        "name = \"custom\"\ntarget_lufs = -20.0\ntolerance_lu = 1.0\ntrue_peak_ceiling_dbtp = -1.5\non_failure = \"flag\"\n",
    )
    .unwrap();
    assert_eq!(c.gating, GatingMode::Programme);
    assert_eq!(c.on_failure, OnFailure::Flag);
    assert!(DeliveryProfile::custom(-20.0, 1.0, 3.0, GatingMode::Programme).is_err());
}

#[test]
fn verification_stage_corrects_what_the_smooth_stage_lets_through() {
    // With no margin the smooth gain aims at the ceiling itself, and its time variation
    // makes inter-sample overs that only the verification stage removes.
    let n = SR as usize * 2;
    let mut rng = Rng(11);
    let x: Vec<f32> = (0..n)
        .map(|i| {
            if (i / 2400) % 5 == 0 {
                (rng.next() * 6.0 - 3.0) as f32
            } else {
                0.0
            }
        })
        .collect();
    let opts = LimiterOptions {
        margin_db: 0.0,
        ..LimiterOptions::default()
    };
    let (out, _, l) = limit(&[x], -1.0, opts, 1024);
    let s = l.stats();
    assert!(s.corrections > 0, "{s:?}");
    assert_eq!(s.residual_overs, 0);
    for os in [2, 4, 8] {
        let tp = true_peak_db(&out, os);
        assert!(tp <= -1.0, "{tp} dBTP at {os}x");
    }
}

#[test]
fn gain_follower_applies_the_limiter_gain_to_another_signal() {
    use dubstage_core::master::GainFollower;
    let n = SR as usize;
    let mut rng = Rng(5);
    let prog: Vec<f32> = (0..n).map(|_| (rng.gauss() * 0.7) as f32).collect();
    let me: Vec<f32> = prog.iter().map(|v| v * 0.5).collect();
    let mut l = Limiter::new(1, SR, -1.0, LimiterOptions::default()).unwrap();
    let mut f = GainFollower::new(1);
    let (mut o, mut g, mut fo) = (vec![Vec::new()], Vec::new(), vec![Vec::new()]);
    let (mut out, mut me_out) = (Vec::new(), Vec::new());
    for (a, b) in prog.chunks(777).zip(me.chunks(777)) {
        l.process(&[a], &mut o, &mut g).unwrap();
        f.push(&[b]).unwrap();
        f.apply(&g, &mut fo).unwrap();
        out.extend_from_slice(&o[0]);
        me_out.extend_from_slice(&fo[0]);
    }
    l.flush(&mut o, &mut g).unwrap();
    f.apply(&g, &mut fo).unwrap();
    out.extend_from_slice(&o[0]);
    me_out.extend_from_slice(&fo[0]);
    assert_eq!(f.pending(), 0);
    assert_eq!(me_out.len(), n);
    assert!(l.stats().max_gain_reduction_db > 0.5);
    for (i, (a, b)) in out.iter().zip(&me_out).enumerate() {
        assert_eq!(a * 0.5, *b, "frame {i}");
    }
    assert!(f.apply(&[1.0], &mut fo).is_err());
}
