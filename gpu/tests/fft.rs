//! FFT: the GPU (`shaders/fft.wgsl`) and its CPU twin against an f64 oracle and
//! against realfft, for every power of two from 2^1 (complex) / 2^2 (real) to 2^20.
//!
//! The oracle is the direct f64 DFT up to 2^11. Above, the direct DFT is too slow
//! for every bin, so the full comparison uses RustFFT in f64 and 16 random bins
//! are checked against the direct f64 DFT to keep that stand-in honest.

use dubstage_gpu::kernels::fft::{C32, fft, irfft, rfft};
use dubstage_gpu::testing::gpu_test_may_run;
use dubstage_gpu::{GpuBackend, GpuFft, GpuOptions};
use rustfft::num_complex::Complex;

const TOL: f64 = 1e-5;

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

fn gpu() -> Option<GpuFft> {
    if !gpu_test_may_run("GPU FFT") {
        return None;
    }
    Some(
        GpuBackend::new(&GpuOptions::default())
            .expect("GpuBackend::new")
            .fft()
            .expect("fft shader"),
    )
}

/// Bin `k` of the direct f64 DFT of `x` (sign -1, unscaled).
fn dft_bin(x: &[Complex<f64>], k: usize) -> Complex<f64> {
    let n = x.len();
    x.iter()
        .enumerate()
        .map(|(m, v)| {
            let a = -std::f64::consts::TAU * ((k * m) % n) as f64 / n as f64;
            v * Complex::new(a.cos(), a.sin())
        })
        .sum()
}

/// The f64 spectrum of `x` (first `bins` bins): direct DFT up to 2^11, else
/// RustFFT f64 with 16 bins spot-checked against the direct DFT.
fn oracle(x: &[Complex<f64>], bins: usize, seed: u64) -> Vec<Complex<f64>> {
    let n = x.len();
    if n <= 1 << 11 {
        return (0..bins).map(|k| dft_bin(x, k)).collect();
    }
    let mut y = x.to_vec();
    rustfft::FftPlanner::<f64>::new()
        .plan_fft_forward(n)
        .process(&mut y);
    let mut r = Rng(seed);
    for _ in 0..16 {
        let k = ((r.f() as f64 * 0.5 + 0.5) * bins as f64) as usize % bins;
        let d = dft_bin(x, k);
        assert!(
            (d - y[k]).norm() <= 1e-9 * (1.0 + d.norm()),
            "oracle bin {k}: {d} vs {}",
            y[k]
        );
    }
    y.truncate(bins);
    y
}

fn rel_rms(got: &[C32], want: &[Complex<f64>]) -> f64 {
    assert_eq!(got.len(), want.len());
    let (mut e, mut s) = (0.0, 0.0);
    for (g, w) in got.iter().zip(want) {
        e += (Complex::new(g[0] as f64, g[1] as f64) - w).norm_sqr();
        s += w.norm_sqr();
    }
    (e / s).sqrt()
}

fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.f()).collect()
}

#[test]
fn complex_fft_matches_f64_oracle_2_to_2_20() {
    let g = gpu();
    for log in 1..=20 {
        let n = 1usize << log;
        let raw = signal(2 * n, log as u64);
        let x: Vec<C32> = raw.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        let x64: Vec<Complex<f64>> = x
            .iter()
            .map(|c| Complex::new(c[0] as f64, c[1] as f64))
            .collect();
        let want = oracle(&x64, n, log as u64);
        let mut cpu = x.clone();
        fft(&mut cpu, n, false).expect("cpu fft");
        let ec = rel_rms(&cpu, &want);
        assert!(ec < TOL, "cpu twin 2^{log}: relative RMS {ec:e}");
        if let Some(g) = &g {
            let y = g.fft(&x, n, false).expect("gpu fft");
            let eg = rel_rms(&y, &want);
            eprintln!("complex 2^{log}: cpu {ec:.2e}, gpu {eg:.2e}");
            assert!(eg < TOL, "gpu 2^{log}: relative RMS {eg:e}");
        }
    }
}

#[test]
fn real_fft_matches_f64_oracle_and_realfft_2_to_2_20() {
    let g = gpu();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    for log in 2..=20 {
        let n = 1usize << log;
        let x = signal(n, 100 + log as u64);
        let x64: Vec<Complex<f64>> = x.iter().map(|&v| Complex::new(v as f64, 0.0)).collect();
        let want = oracle(&x64, n / 2 + 1, log as u64);
        let cpu = rfft(&x, n).expect("cpu rfft");
        let ec = rel_rms(&cpu, &want);
        assert!(ec < TOL, "cpu twin real 2^{log}: relative RMS {ec:e}");
        // realfft (f32) on the same input, against the same oracle and against us.
        let plan = planner.plan_fft_forward(n);
        let mut inp = x.clone();
        let mut spec = plan.make_output_vec();
        plan.process(&mut inp, &mut spec).expect("realfft");
        let rf: Vec<C32> = spec.iter().map(|c| [c.re, c.im]).collect();
        let er = rel_rms(&rf, &want);
        let rf64: Vec<Complex<f64>> = spec
            .iter()
            .map(|c| Complex::new(c.re as f64, c.im as f64))
            .collect();
        let vs_realfft = rel_rms(&cpu, &rf64);
        assert!(
            vs_realfft < TOL,
            "cpu twin vs realfft 2^{log}: {vs_realfft:e}"
        );
        if let Some(g) = &g {
            let y = g.rfft(&x, n).expect("gpu rfft");
            let eg = rel_rms(&y, &want);
            let gr = rel_rms(&y, &rf64);
            eprintln!(
                "real 2^{log}: cpu {ec:.2e}, gpu {eg:.2e}, realfft {er:.2e}, gpu vs realfft {gr:.2e}"
            );
            assert!(eg < TOL, "gpu real 2^{log}: relative RMS {eg:e}");
            assert!(gr < TOL, "gpu vs realfft 2^{log}: {gr:e}");
        }
    }
}

#[test]
fn batched_and_inverse() {
    let g = gpu();
    let n = 1 << 9;
    let batch = 5;
    let raw = signal(2 * n * batch, 7);
    let x: Vec<C32> = raw.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    let mut cpu = x.clone();
    fft(&mut cpu, n, false).expect("cpu fft");
    for b in 0..batch {
        let x64: Vec<Complex<f64>> = x[b * n..][..n]
            .iter()
            .map(|c| Complex::new(c[0] as f64, c[1] as f64))
            .collect();
        let want = oracle(&x64, n, b as u64);
        assert!(rel_rms(&cpu[b * n..][..n], &want) < TOL, "cpu batch {b}");
        if let Some(g) = &g {
            let y = g.fft(&x, n, false).expect("gpu fft");
            assert!(rel_rms(&y[b * n..][..n], &want) < TOL, "gpu batch {b}");
        }
    }
    // Inverse (unscaled) of the forward gives n x.
    let x64: Vec<Complex<f64>> = x
        .iter()
        .map(|c| Complex::new(c[0] as f64 * n as f64, c[1] as f64 * n as f64))
        .collect();
    let mut back = cpu.clone();
    fft(&mut back, n, true).expect("cpu ifft");
    assert!(rel_rms(&back, &x64) < TOL, "cpu round trip");
    if let Some(g) = &g {
        let back = g.fft(&cpu, n, true).expect("gpu ifft");
        assert!(rel_rms(&back, &x64) < TOL, "gpu round trip");
        // Batched real transforms.
        let xr = signal(4 * 1024, 9);
        let y = g.rfft(&xr, 1024).expect("gpu rfft batch");
        let c = rfft(&xr, 1024).expect("cpu rfft batch");
        assert_eq!(y.len(), 4 * 513);
        let c64: Vec<Complex<f64>> = c
            .iter()
            .map(|v| Complex::new(v[0] as f64, v[1] as f64))
            .collect();
        assert!(rel_rms(&y, &c64) < 1e-6, "gpu vs cpu twin, batched real");
    }
}

#[test]
fn bad_sizes_are_errors() {
    let mut x = vec![[0.0f32; 2]; 12];
    assert!(fft(&mut x, 12, false).is_err());
    assert!(fft(&mut x, 8, false).is_err());
    assert!(rfft(&[0.0; 2], 2).is_err());
    if let Some(g) = gpu() {
        assert!(g.fft(&x, 3, false).is_err());
        assert!(g.rfft(&[0.0; 10], 4).is_err());
    }
}

/// The one-workgroup path (n <= 1024) and the multi-pass path (n > 1024) both
/// match the CPU twin, and a batch wider than 65,535 workgroups uses the 2-D grid.
#[test]
fn gpu_paths_match_cpu_twin() {
    let Some(g) = gpu() else { return };
    for (n, batch) in [(4, 70_000), (1024, 3), (2048, 3), (1 << 13, 2)] {
        let raw = signal(2 * n * batch, n as u64);
        let x: Vec<C32> = raw.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        let mut cpu = x.clone();
        fft(&mut cpu, n, false).expect("cpu");
        let y = g.fft(&x, n, false).expect("gpu");
        let c64: Vec<Complex<f64>> = cpu
            .iter()
            .map(|v| Complex::new(v[0] as f64, v[1] as f64))
            .collect();
        let e = rel_rms(&y, &c64);
        eprintln!("n {n} x {batch}: gpu vs cpu twin {e:.2e}");
        assert!(e < 1e-6, "n {n} batch {batch}: gpu vs cpu twin {e:e}");
    }
}

/// Complex-to-real inverse: against realfft's inverse on the same spectrum, and
/// the round trip irfft(rfft(x)) = n x, for 2^2..2^20 (CPU twin and GPU).
#[test]
fn inverse_real_fft_matches_realfft_2_to_2_20() {
    let g = gpu();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    for log in 2..=20 {
        let n = 1usize << log;
        let x = signal(n, 200 + log as u64);
        let fwd = planner.plan_fft_forward(n);
        let mut inp = x.clone();
        let mut spec = fwd.make_output_vec();
        fwd.process(&mut inp, &mut spec).expect("realfft forward");
        let inv = planner.plan_fft_inverse(n);
        let mut back = inv.make_output_vec();
        let mut sp = spec.clone();
        inv.process(&mut sp, &mut back).expect("realfft inverse");
        let want: Vec<Complex<f64>> = back.iter().map(|&v| Complex::new(v as f64, 0.0)).collect();
        let nx: Vec<Complex<f64>> = x
            .iter()
            .map(|&v| Complex::new(v as f64 * n as f64, 0.0))
            .collect();
        let spec32: Vec<C32> = spec.iter().map(|c| [c.re, c.im]).collect();
        let as_c = |v: &[f32]| v.iter().map(|&r| [r, 0.0]).collect::<Vec<C32>>();
        let cpu = irfft(&spec32, n).expect("cpu irfft");
        let ec = rel_rms(&as_c(&cpu), &want);
        assert!(ec < TOL, "cpu irfft 2^{log} vs realfft: {ec:e}");
        assert!(
            rel_rms(&as_c(&cpu), &nx) < TOL,
            "cpu irfft 2^{log}: round trip"
        );
        if let Some(g) = &g {
            let y = g.irfft(&spec32, n).expect("gpu irfft");
            let eg = rel_rms(&as_c(&y), &want);
            let rt = g
                .irfft(&g.rfft(&x, n).expect("gpu rfft"), n)
                .expect("gpu irfft");
            let er = rel_rms(&as_c(&rt), &nx);
            eprintln!("inverse real 2^{log}: cpu {ec:.2e}, gpu {eg:.2e}, gpu round trip {er:.2e}");
            assert!(eg < TOL, "gpu irfft 2^{log} vs realfft: {eg:e}");
            assert!(er < TOL, "gpu round trip 2^{log}: {er:e}");
        }
    }
    // Batched: three transforms at once equal three single ones.
    if let Some(g) = &g {
        let n = 2048;
        let x = signal(3 * n, 77);
        let spec = g.rfft(&x, n).expect("rfft");
        let all = g.irfft(&spec, n).expect("batched irfft");
        for b in 0..3 {
            let one = g
                .irfft(&spec[b * (n / 2 + 1)..][..n / 2 + 1], n)
                .expect("single irfft");
            assert_eq!(&all[b * n..][..n], &one[..], "batch {b}");
        }
    }
}
