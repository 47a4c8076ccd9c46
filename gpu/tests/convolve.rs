//! GPU convolution (`shaders/convolve.wgsl` + `fft.wgsl`, `GpuConvolver`) against
//! the CPU reference `Convolver` (f64): seeded random signals and IRs, odd chunk
//! sizes, IRs that are not powers of two and longer than a block, predelay,
//! wet/dry, normalization, the tail, channel maps, true stereo, spans split by a
//! small chunk limit, and a 2 s decaying-noise stereo IR. The error must stay
//! below -100 dB relative to the reference's peak.
//!
//! Runs on any adapter, lavapipe included; with no adapter at all it says so
//! and returns, except under CI, where it fails (`gpu_test_may_run`).

use dubstage_core::backend::{Backend, ConvolveEngine};
use dubstage_core::stem::convolve::{Convolver, ConvolverOptions, Ir, IrMap, Normalize};
use dubstage_gpu::testing::gpu_test_may_run;
use dubstage_gpu::{GpuBackend, GpuOptions};

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    fn sig(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f()).collect()
    }
}

fn gpu(max_chunk: Option<usize>) -> Option<GpuBackend> {
    if !gpu_test_may_run("GPU convolution") {
        return None;
    }
    Some(
        GpuBackend::new(&GpuOptions {
            max_chunk_frames: max_chunk,
            ..Default::default()
        })
        .expect("GpuBackend::new"),
    )
}

/// Runs `eng` over `x` plus its tail in chunks cycling through `chunks`.
fn run(eng: &mut dyn ConvolveEngine, x: &[Vec<f32>], chunks: &[usize]) -> Vec<Vec<f32>> {
    let total = x[0].len() + eng.tail_frames();
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(total); x.len()];
    let mut pos = 0;
    for &k in chunks.iter().cycle() {
        if pos >= total {
            break;
        }
        let k = k.min(total - pos);
        let mut part: Vec<Vec<f32>> = x
            .iter()
            .map(|c| {
                (pos..pos + k)
                    .map(|t| c.get(t).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        eng.process_planar(&mut part, k).expect("process_planar");
        for (o, p) in out.iter_mut().zip(part) {
            o.extend_from_slice(&p);
        }
        pos += k;
    }
    out
}

/// Error of `got` against `want` in dB relative to `want`'s peak.
fn error_db(got: &[Vec<f32>], want: &[Vec<f32>]) -> f64 {
    let peak = want
        .iter()
        .flatten()
        .fold(0.0f64, |m, &v| m.max((v as f64).abs()));
    assert!(peak > 0.0, "reference is silent");
    let err = got
        .iter()
        .zip(want)
        .flat_map(|(g, w)| {
            assert_eq!(g.len(), w.len());
            g.iter().zip(w).map(|(&a, &b)| (a as f64 - b as f64).abs())
        })
        .fold(0.0f64, f64::max);
    20.0 * (err / peak).max(1e-30).log10()
}

#[allow(clippy::too_many_arguments)]
fn check(
    g: &GpuBackend,
    what: &str,
    ir: &Ir,
    x: &[Vec<f32>],
    map: &IrMap,
    opts: &ConvolverOptions,
    gpu_chunks: &[usize],
    cpu_chunks: &[usize],
) {
    let mut cpu = Convolver::new(ir, x.len(), map, opts).expect("cpu convolver");
    let mut eng = g.convolver(ir, x.len(), map, opts).expect("gpu convolver");
    assert_eq!(
        eng.tail_frames(),
        Convolver::tail_frames(&cpu),
        "{what}: tail"
    );
    assert_eq!(eng.block_frames(), cpu.block_frames(), "{what}: block");
    let want = run(&mut cpu, x, cpu_chunks);
    let got = run(eng.as_mut(), x, gpu_chunks);
    let db = error_db(&got, &want);
    eprintln!("{what}: error {db:.1} dB re peak");
    assert!(
        db < -100.0,
        "{what}: GPU vs CPU error {db:.1} dB re peak (limit -100 dB)"
    );
}

#[test]
fn gpu_matches_cpu_on_random_signals() {
    let Some(g) = gpu(None) else { return };
    let mut r = Rng(0x5eed_c0de);
    let opts = ConvolverOptions {
        block: Some(64),
        ..Default::default()
    };
    // Mono IR of 333 frames (6 partitions of 64) on a stereo stem.
    let ir = Ir::new(vec![r.sig(333)], 48_000, "mono.wav").unwrap();
    let x = vec![r.sig(1000), r.sig(1000)];
    check(
        &g,
        "mono IR, stereo",
        &ir,
        &x,
        &IrMap::Auto,
        &opts,
        &[1, 37, 191, 64, 500, 3],
        &[1000],
    );

    // Stereo IR, predelay, wet/dry, energy normalization, odd block multiples.
    let ir = Ir::new(vec![r.sig(517), r.sig(517)], 48_000, "st.wav").unwrap();
    let o2 = ConvolverOptions {
        wet_db: -4.5,
        dry_db: -9.0,
        normalize: Normalize::Energy,
        predelay_frames: 77,
        block: Some(128),
    };
    check(
        &g,
        "stereo IR, predelay, wet/dry",
        &ir,
        &x,
        &IrMap::Auto,
        &o2,
        &[129, 7, 383, 1024],
        &[64],
    );

    // Peak normalization, default block size, IR shorter than a block.
    let ir = Ir::new(vec![r.sig(100)], 48_000, "short.wav").unwrap();
    let o3 = ConvolverOptions {
        normalize: Normalize::Peak,
        ..Default::default()
    };
    check(
        &g,
        "short IR, default block",
        &ir,
        &x,
        &IrMap::Auto,
        &o3,
        &[999, 1, 2048],
        &[5000],
    );

    // 5.1 with a stereo IR mapped L,R,L,L,L,R.
    let ir = Ir::new(vec![r.sig(450), r.sig(450)], 48_000, "51.wav").unwrap();
    let x6: Vec<Vec<f32>> = (0..6).map(|_| r.sig(700)).collect();
    let map = IrMap::Channels(vec![0, 1, 0, 0, 0, 1]);
    check(
        &g,
        "5.1, map L,R,L,L,L,R",
        &ir,
        &x6,
        &map,
        &opts,
        &[65, 300, 11],
        &[700],
    );

    // True stereo: 4-channel IR, outputs sum two routes.
    let ir = Ir::new((0..4).map(|_| r.sig(260)).collect(), 48_000, "ts.wav").unwrap();
    check(
        &g,
        "true stereo",
        &ir,
        &x,
        &IrMap::TrueStereo,
        &opts,
        &[200, 13],
        &[64, 1],
    );
}

#[test]
fn gpu_spans_split_by_chunk_limit() {
    // At most 4 blocks per submission: calls of many blocks run as several spans.
    let Some(g) = gpu(Some(256)) else { return };
    let mut r = Rng(42);
    let ir = Ir::new(vec![r.sig(900), r.sig(900)], 48_000, "st.wav").unwrap();
    let x = vec![r.sig(3000), r.sig(3000)];
    let opts = ConvolverOptions {
        block: Some(64),
        dry_db: 0.0,
        ..Default::default()
    };
    let eng = g.gpu_convolver(&ir, 2, &IrMap::Auto, &opts).unwrap();
    assert_eq!(eng.max_span_blocks(), 4);
    check(
        &g,
        "spans of 4 blocks",
        &ir,
        &x,
        &IrMap::Auto,
        &opts,
        &[1001, 64, 2999],
        &[3000],
    );
}

#[test]
fn gpu_matches_cpu_on_2s_decaying_noise_ir() {
    let Some(g) = gpu(None) else { return };
    let sr = 48_000u32;
    let mut r = Rng(7);
    // 2 s of noise decaying 60 dB over the length (RT60 = 2 s), stereo, decorrelated.
    let n = 2 * sr as usize;
    let decay = |t: usize| 10f32.powf(-3.0 * t as f32 / n as f32);
    let ir = Ir::new(
        (0..2)
            .map(|_| (0..n).map(|t| r.f() * decay(t)).collect())
            .collect(),
        sr,
        "hall.wav",
    )
    .unwrap();
    let x = vec![r.sig(sr as usize / 2), r.sig(sr as usize / 2)];
    let opts = ConvolverOptions {
        wet_db: -6.0,
        normalize: Normalize::Energy,
        predelay_frames: 480,
        ..Default::default()
    };
    check(
        &g,
        "2 s decaying noise IR",
        &ir,
        &x,
        &IrMap::Auto,
        &opts,
        &[16384 * 2, 10_007],
        &[48_000],
    );
}
