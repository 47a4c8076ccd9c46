//! CPU/GPU parity: one test body per operation, run on every backend with its
//! tolerance against an f64 oracle (and the GPU against the CPU).
//!
//! These run on lavapipe in CI (mesa-vulkan-drivers) and must not skip there;
//! on a machine with no adapter at all they print why and return (under CI they
//! fail: `dubstage_gpu::testing::gpu_test_may_run`).

use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Backend, Hop, SumJob};
use dubstage_core::loudness::{Biquad, Meter, TruePeakFir, k_weighting, true_peak_fir};
use dubstage_gpu::testing::gpu_test_may_run;
use dubstage_gpu::{GpuBackend, GpuOptions};

/// A seeded xorshift64* generator: deterministic test signals.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// The GPU backend, or `None` (with the reason printed) when this machine has no adapter.
fn gpu(max_chunk: Option<usize>) -> Option<GpuBackend> {
    if !gpu_test_may_run("GPU parity") {
        return None;
    }
    let opts = GpuOptions {
        max_chunk_frames: max_chunk,
        ..GpuOptions::default()
    };
    Some(GpuBackend::new(&opts).expect("an adapter is listed, so GpuBackend::new must succeed"))
}

// ---------------------------------------------------------------- sum

struct SumCase {
    frames: usize,
    inputs: Vec<Vec<f32>>,
    envelopes: Vec<Vec<f32>>,
    envelope_of: Vec<usize>,
    matrix: Vec<f32>,
    outputs: usize,
}

/// Six 5.1 stems (36 inputs), one envelope per stem (ramps and random steps),
/// a dense matrix with some exact zeros, into `outputs` channels.
fn sum_case(frames: usize, stems: usize, outputs: usize, seed: u64) -> SumCase {
    let mut r = Rng(seed);
    let ni = stems * 6;
    let inputs = (0..ni)
        .map(|_| (0..frames).map(|_| r.f()).collect())
        .collect();
    let envelopes = (0..stems)
        .map(|s| {
            (0..frames)
                .map(|t| {
                    let ramp = 0.2 + 0.8 * ((t + 997 * s) % 4801) as f32 / 4800.0;
                    if (t / 1024) % 3 == s % 3 {
                        ramp * 0.5
                    } else {
                        ramp
                    }
                })
                .collect()
        })
        .collect();
    let envelope_of = (0..ni).map(|i| i / 6).collect();
    let matrix = (0..outputs * ni)
        .map(|k| if k % 7 == 3 { 0.0 } else { 0.25 * r.f() })
        .collect();
    SumCase {
        frames,
        inputs,
        envelopes,
        envelope_of,
        matrix,
        outputs,
    }
}

/// The f64 oracle of `SumJob`'s definition.
fn sum_oracle(c: &SumCase) -> Vec<Vec<f64>> {
    let ni = c.inputs.len();
    (0..c.outputs)
        .map(|o| {
            (0..c.frames)
                .map(|t| {
                    (0..ni)
                        .map(|i| {
                            c.matrix[o * ni + i] as f64
                                * c.envelopes[c.envelope_of[i]][t] as f64
                                * c.inputs[i][t] as f64
                        })
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// THE sum test body: runs `c` on `b` and returns the largest absolute error
/// against the oracle (full scale = 1.0).
fn sum_error(b: &mut dyn Backend, c: &SumCase, oracle: &[Vec<f64>]) -> (f64, Vec<Vec<f32>>) {
    let inputs: Vec<&[f32]> = c.inputs.iter().map(Vec::as_slice).collect();
    let envelopes: Vec<&[f32]> = c.envelopes.iter().map(Vec::as_slice).collect();
    let job = SumJob {
        frames: c.frames,
        inputs: &inputs,
        envelope_of: &c.envelope_of,
        envelopes: &envelopes,
        matrix: &c.matrix,
        outputs: c.outputs,
    };
    let mut out = vec![Vec::new(); c.outputs];
    b.sum(&job, &mut out).expect("sum");
    let mut worst = (0.0f64, 0, 0);
    for (o, (y, r)) in out.iter().zip(oracle).enumerate() {
        assert_eq!(y.len(), c.frames, "{}: output {o} length", b.info().kind);
        for (t, (&a, &e)) in y.iter().zip(r).enumerate() {
            let d = (a as f64 - e).abs();
            if d > worst.0 || d.is_nan() {
                worst = (d, o, t);
            }
        }
    }
    eprintln!(
        "{} sum: max abs error {:.3e} at output {} frame {}",
        b.info().kind,
        worst.0,
        worst.1,
        worst.2
    );
    (worst.0, out)
}

fn check_sum(frames: usize, stems: usize, outputs: usize, max_chunk: Option<usize>, seed: u64) {
    const TOL: f64 = 1e-6;
    let c = sum_case(frames, stems, outputs, seed);
    let oracle = sum_oracle(&c);
    let (e, cpu_out) = sum_error(&mut CpuBackend::new(), &c, &oracle);
    assert!(e <= TOL, "cpu sum error {e:e} > {TOL:e}");
    let Some(mut g) = gpu(max_chunk) else { return };
    let (e, gpu_out) = sum_error(&mut g, &c, &oracle);
    assert!(e <= TOL, "gpu sum error {e:e} > {TOL:e}");
    for (o, (a, b)) in cpu_out.iter().zip(&gpu_out).enumerate() {
        if let Some(t) = (0..frames).find(|&t| (a[t] - b[t]).abs() as f64 > TOL) {
            panic!("output {o} frame {t}: cpu {} gpu {}", a[t], b[t]);
        }
    }
}

#[test]
fn sum_six_stems_odd_length() {
    check_sum(12_347, 6, 6, None, 1);
}

#[test]
fn sum_across_chunk_boundaries() {
    // 1000-frame chunks: 12 full ones and a 347-frame tail, into stereo.
    check_sum(12_347, 6, 2, Some(1000), 2);
    // A chunk of one frame.
    check_sum(3, 2, 6, Some(1), 3);
}

#[test]
fn sum_two_dimensional_grid() {
    // 8 outputs x 2.1 M frames = 16.8 M invocations > 65,535 x 256: needs y > 1.
    check_sum(2_100_000, 1, 8, Some(usize::MAX), 4);
}

#[test]
fn sum_one_backend_many_shapes() {
    // Buffers are kept between calls and rebuilt when the shape changes.
    let Some(mut g) = gpu(Some(4096)) else { return };
    for (frames, stems, outputs, seed) in [
        (10_000, 6, 6, 5),
        (777, 2, 2, 6),
        (10_000, 6, 6, 7),
        (1, 1, 1, 8),
    ] {
        let c = sum_case(frames, stems, outputs, seed);
        let (e, _) = sum_error(&mut g, &c, &sum_oracle(&c));
        assert!(
            e <= 1e-6,
            "gpu sum error {e:e} for {frames} frames, {stems} stems, {outputs} outputs"
        );
    }
}

#[test]
fn sum_rejects_bad_shapes() {
    let Some(mut g) = gpu(None) else { return };
    let x = [0.0f32; 10];
    let job = SumJob {
        frames: 10,
        inputs: &[&x],
        envelope_of: &[1],
        envelopes: &[&x],
        matrix: &[1.0],
        outputs: 1,
    };
    let mut out = vec![Vec::new()];
    let e = g.sum(&job, &mut out).unwrap_err().to_string();
    assert!(e.contains("envelope index 1"), "{e}");
}

// ---------------------------------------------------------------- analyzer

/// Direct-form-I f64 oracle of the analyzer's definition (see
/// `loudness::HopAnalyzer`): energy and sample peak over each hop's samples; true
/// peak over the oversampled outputs whose centre `n - delay` lies in the hop, with
/// zeros before the start and after the end.
fn analyzer_oracle(
    sig: &[Vec<f32>],
    hop: usize,
    k: &[Biquad; 2],
    fir: Option<&TruePeakFir>,
) -> Vec<Hop> {
    let n = sig[0].len();
    let c = sig.len();
    let mut hops = Vec::new();
    let mut filt: Vec<Vec<f64>> = Vec::with_capacity(c);
    for x in sig {
        let mut y = x.iter().map(|&v| v as f64).collect::<Vec<_>>();
        for b in k {
            let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
            for v in y.iter_mut() {
                let x0 = *v;
                let y0 = b.b0 * x0 + b.b1 * x1 + b.b2 * x2 - b.a1 * y1 - b.a2 * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                *v = y0;
            }
        }
        filt.push(y);
    }
    let at = |ch: usize, i: i64| -> f64 {
        if i < 0 || i >= n as i64 {
            0.0
        } else {
            sig[ch][i as usize] as f64
        }
    };
    let mut start = 0;
    while start < n {
        let len = hop.min(n - start);
        let mut h = Hop {
            frames: len,
            energy: vec![0.0; c],
            sample_peak: vec![0.0; c],
            true_peak: vec![0.0; c],
        };
        for ch in 0..c {
            for t in start..start + len {
                h.energy[ch] += filt[ch][t] * filt[ch][t];
                h.sample_peak[ch] = h.sample_peak[ch].max(sig[ch][t].abs());
                if let Some(f) = fir {
                    let last = (t + f.delay()) as i64;
                    for p in 0..f.factor {
                        let acc: f64 = (0..f.taps_per_phase)
                            .map(|q| {
                                f.coeffs[p * f.taps_per_phase + q] as f64 * at(ch, last - q as i64)
                            })
                            .sum();
                        h.true_peak[ch] = h.true_peak[ch].max(acc.abs() as f32);
                    }
                }
            }
        }
        hops.push(h);
        start += len;
    }
    hops
}

/// Programme-like test signal: per channel, seeded noise shaped by a slow
/// envelope, plus tones (including 20 Hz, where the RLB high-pass bites and
/// single precision is hardest), with a silent stretch.
fn programme(channels: usize, frames: usize, rate: f64, seed: u64) -> Vec<Vec<f32>> {
    let mut r = Rng(seed);
    (0..channels)
        .map(|ch| {
            let f1 = [20.0, 997.0, 60.0, 5000.0, 150.0, 12000.0][ch % 6];
            (0..frames)
                .map(|t| {
                    let s = t as f64 / rate;
                    let env = 0.5 + 0.45 * (2.0 * std::f64::consts::PI * 0.3 * s + ch as f64).sin();
                    let silent = (frames / 3..frames / 3 + 2000).contains(&t);
                    if silent {
                        return 0.0;
                    }
                    let tone = 0.3 * (2.0 * std::f64::consts::PI * f1 * s).sin();
                    (env * (0.3 * r.f() as f64) + tone) as f32
                })
                .collect()
        })
        .collect()
}

/// THE analyzer test body: pushes `sig` in uneven blocks and returns all hops.
fn run_analyzer(a: &mut dyn Analyzer, sig: &[Vec<f32>], seed: u64) -> Vec<Hop> {
    let mut r = Rng(seed);
    let n = sig[0].len();
    let mut hops = Vec::new();
    let mut at = 0;
    while at < n {
        let len = ((r.next() % 9000) as usize + 1).min(n - at);
        let block: Vec<&[f32]> = sig.iter().map(|c| &c[at..at + len]).collect();
        a.push(&block).expect("push");
        hops.extend(a.take_hops().expect("take_hops"));
        at += len;
    }
    hops.extend(a.finish().expect("finish"));
    hops
}

/// Compares hops with the tolerances of the brief: energies 1e-4 relative
/// (1e-9 absolute floor for silent hops), true peak 0.01 dB, sample peaks exact.
/// Returns the worst energy error and the worst true-peak error in dB.
fn compare_hops(who: &str, got: &[Hop], want: &[Hop], e_tol: f64, tp_tol_db: f64) -> (f64, f64) {
    assert_eq!(got.len(), want.len(), "{who}: hop count");
    let (mut worst_e, mut worst_tp) = (0.0f64, 0.0f64);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.frames, w.frames, "{who}: hop {i} frames");
        for ch in 0..w.energy.len() {
            let rel = (g.energy[ch] - w.energy[ch]).abs() / w.energy[ch].max(1e-9);
            worst_e = worst_e.max(rel);
            assert!(
                rel <= e_tol,
                "{who}: hop {i} ch {ch} energy {} vs {} (rel {rel:e})",
                g.energy[ch],
                w.energy[ch]
            );
            assert_eq!(
                g.sample_peak[ch], w.sample_peak[ch],
                "{who}: hop {i} ch {ch} sample peak"
            );
            if w.true_peak[ch] > 1e-6 {
                let db = 20.0 * (g.true_peak[ch] as f64 / w.true_peak[ch] as f64).log10();
                worst_tp = worst_tp.max(db.abs());
                assert!(
                    db.abs() <= tp_tol_db,
                    "{who}: hop {i} ch {ch} true peak off by {db} dB"
                );
            } else {
                assert!(
                    g.true_peak[ch] <= 1e-5,
                    "{who}: hop {i} ch {ch} true peak {}",
                    g.true_peak[ch]
                );
            }
        }
    }
    eprintln!(
        "{who}: {} hops, worst energy rel {worst_e:.2e}, worst true peak {worst_tp:.2e} dB",
        got.len()
    );
    (worst_e, worst_tp)
}

/// THE analyzer test: the same signal through every backend's analyzer, each
/// against the f64 oracle with its tolerance (CPU 1e-9 relative and 1e-4 dB: f64
/// filters, f32 interpolator; GPU 1e-4 and 0.01 dB), then GPU against CPU.
fn check_analyzer(
    channels: usize,
    rate: u32,
    secs: f64,
    oversample: u32,
    max_chunk: Option<usize>,
    seed: u64,
) {
    let frames = (secs * rate as f64) as usize;
    let sig = programme(channels, frames, rate as f64, seed);
    let cfg = AnalyzerConfig {
        channels,
        sample_rate: rate,
        true_peak_oversample: oversample,
    };
    let fir = (oversample > 0).then(|| true_peak_fir(oversample).expect("fir"));
    let want = analyzer_oracle(&sig, rate as usize / 10, &k_weighting(rate), fir.as_ref());
    let cpu_hops = run_analyzer(
        CpuBackend::new()
            .analyzer(&cfg)
            .expect("cpu analyzer")
            .as_mut(),
        &sig,
        seed,
    );
    compare_hops("cpu vs f64 oracle", &cpu_hops, &want, 1e-9, 1e-4);
    let Some(g) = gpu(max_chunk) else { return };
    let gpu_hops = run_analyzer(g.analyzer(&cfg).expect("gpu analyzer").as_mut(), &sig, seed);
    compare_hops("gpu vs f64 oracle", &gpu_hops, &want, 1e-4, 0.01);
    compare_hops("gpu vs cpu", &gpu_hops, &cpu_hops, 1e-4, 0.01);
    let (mc, mg) = (
        meter(&cpu_hops, rate, channels),
        meter(&gpu_hops, rate, channels),
    );
    for (what, c, g) in [
        ("integrated", mc.integrated(), mg.integrated()),
        ("loudness range", mc.loudness_range(), mg.loudness_range()),
        ("max momentary", mc.max_momentary(), mg.max_momentary()),
    ] {
        eprintln!("{what}: cpu {c:?}, gpu {g:?}");
        match (c, g) {
            (Some(c), Some(g)) => assert!((c - g).abs() <= 0.01, "{what}: cpu {c} gpu {g} (LU)"),
            (None, None) => {}
            _ => panic!("{what}: cpu {c:?} gpu {g:?}"),
        }
    }
}

/// The core meter (BS.1770-4 gating in f64) over a backend's hops, all weights 1.
fn meter(hops: &[Hop], rate: u32, channels: usize) -> Meter {
    let mut m = Meter::with_weights(
        rate,
        (0..channels).map(|c| format!("ch{c}")).collect(),
        vec![1.0; channels],
    )
    .expect("meter");
    m.push_hops(hops).expect("push_hops");
    m
}

#[test]
fn analyzer_six_channels_partial_last_hop() {
    // 5.1 at 48 kHz, 4x true peak, 7.37 s: a partial last hop and segment.
    check_analyzer(6, 48_000, 7.37, 4, None, 11);
}

#[test]
fn analyzer_state_carried_across_chunks() {
    // 10,000-frame chunks (rounded down to whole segments): chunk boundaries
    // inside hops, more chunks than ring slots, look-ahead across chunks.
    check_analyzer(2, 48_000, 12.05, 4, Some(10_000), 12);
    // One segment per chunk, no true peak.
    check_analyzer(3, 48_000, 3.0, 0, Some(1), 13);
}

#[test]
fn analyzer_other_rates_and_factors() {
    check_analyzer(2, 44_100, 4.3, 8, Some(20_000), 14);
    check_analyzer(1, 96_000, 2.5, 2, None, 15);
    check_analyzer(2, 192_000, 1.5, 1, None, 16);
    // 16x true peak, 12 channels (7.1.4), chunk boundaries every 7,000 frames.
    check_analyzer(12, 48_000, 1.3, 16, Some(7_000), 17);
}

/// EBU Tech 3342 case 1 (REFERENCE.md): a stereo 1 kHz sine, 20 s at -20 dBFS then
/// 20 s at -30 dBFS: LRA 10 ± 1 LU on both backends, and the backends within 0.01 LU
/// of each other for integrated loudness and LRA.
#[test]
fn analyzer_ebu_3342_case_1_loudness_range() {
    let rate = 48_000u32;
    let sec = rate as usize;
    let one: Vec<f32> = (0..40 * sec)
        .map(|t| {
            let a = if t < 20 * sec { 0.1 } else { 0.1f64.powf(1.5) };
            (a * (std::f64::consts::TAU * 1000.0 * t as f64 / rate as f64).sin()) as f32
        })
        .collect();
    let sig = vec![one.clone(), one];
    let cfg = AnalyzerConfig {
        channels: 2,
        sample_rate: rate,
        true_peak_oversample: 4,
    };
    let cpu_hops = run_analyzer(
        CpuBackend::new().analyzer(&cfg).expect("cpu").as_mut(),
        &sig,
        21,
    );
    let mc = meter(&cpu_hops, rate, 2);
    let lra_c = mc.loudness_range().expect("cpu LRA");
    assert!((lra_c - 10.0).abs() <= 1.0, "cpu LRA {lra_c}");
    let Some(g) = gpu(None) else { return };
    let gpu_hops = run_analyzer(g.analyzer(&cfg).expect("gpu").as_mut(), &sig, 21);
    compare_hops("3342-1 gpu vs cpu", &gpu_hops, &cpu_hops, 1e-4, 0.01);
    let mg = meter(&gpu_hops, rate, 2);
    let lra_g = mg.loudness_range().expect("gpu LRA");
    let (ic, ig) = (
        mc.integrated().expect("cpu I"),
        mg.integrated().expect("gpu I"),
    );
    eprintln!("3342-1: LRA cpu {lra_c:.4} gpu {lra_g:.4}; integrated cpu {ic:.4} gpu {ig:.4}");
    assert!((lra_c - lra_g).abs() <= 0.01, "LRA cpu {lra_c} gpu {lra_g}");
    assert!((ic - ig).abs() <= 0.01, "integrated cpu {ic} gpu {ig}");
}

/// Three minutes through 180 chunks: the state carried on the GPU does not drift
/// from the CPU's f64 filter.
#[test]
fn analyzer_long_stream_no_drift() {
    let rate = 48_000u32;
    let sig = programme(1, 180 * rate as usize, rate as f64, 31);
    let cfg = AnalyzerConfig {
        channels: 1,
        sample_rate: rate,
        true_peak_oversample: 0,
    };
    let cpu_hops = run_analyzer(
        CpuBackend::new().analyzer(&cfg).expect("cpu").as_mut(),
        &sig,
        31,
    );
    let Some(g) = gpu(Some(rate as usize)) else {
        return;
    };
    let gpu_hops = run_analyzer(g.analyzer(&cfg).expect("gpu").as_mut(), &sig, 31);
    compare_hops("long stream gpu vs cpu", &gpu_hops, &cpu_hops, 1e-4, 0.01);
    // After 120 chunks, still at the single-precision floor (1e-6 measured), a
    // hundred times inside the tolerance: nothing accumulates.
    compare_hops(
        "last minute",
        &gpu_hops[1200..],
        &cpu_hops[1200..],
        1e-5,
        0.01,
    );
}

/// Bad input to the analyzer is an error on both backends, never a panic.
#[test]
fn analyzer_rejects_bad_input() {
    let cfg = AnalyzerConfig {
        channels: 2,
        sample_rate: 48_000,
        true_peak_oversample: 4,
    };
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new())];
    if let Some(g) = gpu(None) {
        backends.push(Box::new(g));
    }
    for b in &backends {
        let who = b.info().kind;
        let mut a = b.analyzer(&cfg).expect("analyzer");
        let x = [0.5f32; 100];
        assert!(a.push(&[&x]).is_err(), "{who}: one channel for two");
        assert!(a.push(&[&x, &x[..99]]).is_err(), "{who}: unequal lengths");
        a.push(&[&x, &x]).expect("push");
        let hops = a.finish().expect("finish");
        assert_eq!(hops.len(), 1, "{who}");
        assert_eq!(hops[0].frames, 100, "{who}");
        assert_eq!(hops[0].sample_peak, vec![0.5, 0.5], "{who}");
        assert!(a.push(&[&x, &x]).is_err(), "{who}: push after finish");
        let bad_rate = AnalyzerConfig {
            sample_rate: 44_101,
            ..cfg.clone()
        };
        assert!(b.analyzer(&bad_rate).is_err(), "{who}: 44,101 Hz");
        let bad_factor = AnalyzerConfig {
            true_peak_oversample: 3,
            ..cfg.clone()
        };
        assert!(b.analyzer(&bad_factor).is_err(), "{who}: 3x true peak");
    }
}
