//! FFT convolution against a direct-form f64 oracle on seeded random signals.

use dubstage_core::stem::convolve::{
    Convolver, ConvolverOptions, Ir, IrMap, MAX_IR_SECONDS, Normalize, default_block,
};

/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): a seeded, portable generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn f(&mut self) -> f32 {
        ((self.next() >> 40) as f64 / (1u64 << 23) as f64 - 1.0) as f32
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f()).collect()
    }
}

/// Direct-form linear convolution in f64, full length.
fn direct(x: &[f32], h: &[f32]) -> Vec<f64> {
    let mut y = vec![0.0f64; x.len() + h.len() - 1];
    for (i, &a) in x.iter().enumerate() {
        for (j, &b) in h.iter().enumerate() {
            y[i + j] += a as f64 * b as f64;
        }
    }
    y
}

/// Runs `conv` over `input` (plus `tail` zero frames) pushed in `pieces` sizes (cycled).
fn run(conv: &mut Convolver, input: &[Vec<f32>], tail: usize, pieces: &[usize]) -> Vec<Vec<f32>> {
    let ch = input.len();
    let total = input[0].len() + tail;
    let mut padded: Vec<Vec<f32>> = input.to_vec();
    for p in &mut padded {
        p.resize(total, 0.0);
    }
    let mut out = vec![Vec::with_capacity(total); ch];
    let (mut pos, mut k) = (0, 0);
    while pos < total {
        let n = pieces[k % pieces.len()].min(total - pos);
        k += 1;
        let ins: Vec<&[f32]> = padded.iter().map(|c| &c[pos..pos + n]).collect();
        let mut outs: Vec<Vec<f32>> = vec![vec![0.0; n]; ch];
        {
            let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
            conv.process(&ins, &mut o);
        }
        for (d, s) in out.iter_mut().zip(outs) {
            d.extend(s);
        }
        pos += n;
    }
    out
}

/// Max |got − want| relative to the peak of `want`, in dB; panics with the first
/// sample whose error exceeds the bound.
fn assert_close(got: &[f32], want: &[f64], limit_db: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(peak > 0.0);
    let bound = peak * 10f64.powf(limit_db / 20.0);
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let e = (g as f64 - w).abs();
        assert!(
            e <= bound,
            "{what}: sample {i}: got {g}, want {w} (error {e:e}, peak {peak})"
        );
        worst = worst.max(e);
    }
    eprintln!(
        "{what}: error {:.1} dB re peak",
        20.0 * (worst / peak).log10()
    );
}

fn ir(chans: Vec<Vec<f32>>) -> Ir {
    Ir::new(chans, 48_000, "mem.wav").unwrap()
}

#[test]
fn mono_matches_direct_for_many_lengths_blocks_and_pieces() {
    let mut rng = Rng(1);
    let x = rng.vec(3001);
    for (hl, block) in [
        (1, 64),
        (7, 64),
        (64, 64),
        (65, 64),
        (100, 64),
        (1000, 128),
        (1537, 256),
        (333, 1024),
    ] {
        let h = rng.vec(hl);
        let want = direct(&x, &h);
        for pieces in [
            &[1usize, 2, 3][..],
            &[63, 64, 65],
            &[4096],
            &[17, 500, 1, 128],
        ] {
            let opts = ConvolverOptions {
                block: Some(block),
                ..Default::default()
            };
            let mut c = Convolver::new(&ir(vec![h.clone()]), 1, &IrMap::Auto, &opts).unwrap();
            assert_eq!(c.tail_frames(), hl - 1);
            let got = {
                let t = c.tail_frames();
                run(&mut c, std::slice::from_ref(&x), t, pieces)
            };
            assert_close(
                &got[0],
                &want,
                -120.0,
                &format!("ir {hl} block {block} pieces {pieces:?}"),
            );
        }
    }
}

#[test]
fn default_block_and_long_ir() {
    assert_eq!(default_block(96_000), 16_384);
    assert_eq!(default_block(10), 1024);
    assert_eq!(default_block(30 * 48_000), 65_536);
    // IR longer than several blocks with the default block size.
    let mut rng = Rng(2);
    let h = rng.vec(5000);
    let x = rng.vec(9000);
    let opts = ConvolverOptions {
        block: Some(1024),
        ..Default::default()
    };
    let mut c = Convolver::new(&ir(vec![h.clone()]), 1, &IrMap::Auto, &opts).unwrap();
    assert_eq!(c.partitions(), 5);
    let got = {
        let t = c.tail_frames();
        run(&mut c, std::slice::from_ref(&x), t, &[777])
    };
    assert_close(&got[0], &direct(&x, &h), -120.0, "5000-tap IR");
}

#[test]
fn five_one_with_stereo_ir_map_l_r_l_l_l_r() {
    let mut rng = Rng(3);
    let hl = rng.vec(700);
    let hr = rng.vec(700);
    let x: Vec<Vec<f32>> = (0..6).map(|_| rng.vec(2000)).collect();
    let map = IrMap::Channels(vec![0, 1, 0, 0, 0, 1]);
    let opts = ConvolverOptions {
        block: Some(256),
        ..Default::default()
    };
    let mut c = Convolver::new(&ir(vec![hl.clone(), hr.clone()]), 6, &map, &opts).unwrap();
    let got = {
        let t = c.tail_frames();
        run(&mut c, &x, t, &[100, 1000, 3])
    };
    for (ch, &m) in [0, 1, 0, 0, 0, 1].iter().enumerate() {
        let h = if m == 0 { &hl } else { &hr };
        assert_close(
            &got[ch],
            &direct(&x[ch], h),
            -120.0,
            &format!("5.1 channel {ch}"),
        );
    }
}

#[test]
fn true_stereo_wet_dry_predelay_and_normalization() {
    let mut rng = Rng(4);
    let hs: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(300)).collect();
    let x: Vec<Vec<f32>> = (0..2).map(|_| rng.vec(1500)).collect();
    let pre = 37;
    let opts = ConvolverOptions {
        wet_db: -6.0,
        dry_db: -3.0,
        normalize: Normalize::Peak,
        predelay_frames: pre,
        block: Some(128),
    };
    let the_ir = ir(hs.clone());
    let norm = Normalize::Peak.factor(&the_ir);
    let mut c = Convolver::new(&the_ir, 2, &IrMap::TrueStereo, &opts).unwrap();
    assert_eq!(c.tail_frames(), 299 + pre);
    let got = {
        let t = c.tail_frames();
        run(&mut c, &x, t, &[129, 5])
    };
    let wet = 10f64.powf(-6.0 / 20.0) * norm;
    let dry = 10f64.powf(-3.0 / 20.0);
    for (o, routes) in [[(0, 0), (1, 2)], [(0, 1), (1, 3)]].iter().enumerate() {
        let n = x[0].len() + 299 + pre;
        let mut want = vec![0.0f64; n];
        for &(i, j) in routes {
            for (k, v) in direct(&x[i], &hs[j]).iter().enumerate() {
                want[k + pre] += wet * v;
            }
        }
        for (k, &v) in x[o].iter().enumerate() {
            want[k] += dry * v as f64;
        }
        assert_close(&got[o], &want, -120.0, &format!("true stereo out {o}"));
    }
}

#[test]
fn energy_normalization_gives_unit_energy() {
    let h = ir(vec![vec![3.0, 4.0], vec![1.0, 0.0]]);
    assert!((Normalize::Energy.factor(&h) - 0.2).abs() < 1e-15);
}

#[test]
fn ir_validation_errors_name_the_file() {
    let e = Ir::new(vec![vec![0.0; 10]], 48_000, "irs/silent.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("irs/silent.wav") && e.contains("silent"), "{e}");
    let e = Ir::new(vec![vec![0.5, f32::NAN]], 48_000, "irs/nan.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("irs/nan.wav") && e.contains("NaN"), "{e}");
    let e = Ir::new(vec![vec![0.5, f32::INFINITY]], 48_000, "irs/inf.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("inf"), "{e}");
    let long = (MAX_IR_SECONDS * 48_000.0) as usize + 1;
    let e = Ir::new(vec![vec![0.1; long]], 48_000, "irs/long.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("irs/long.wav") && e.contains("30 s"), "{e}");
    assert!(Ir::new(vec![vec![0.1; long - 1]], 48_000, "ok.wav").is_ok());
    let e = Ir::new(vec![vec![]], 48_000, "irs/empty.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let e = Ir::new(vec![vec![1.0], vec![1.0, 0.0]], 48_000, "irs/ragged.wav")
        .unwrap_err()
        .to_string();
    assert!(e.contains("differ"), "{e}");

    let stereo = ir(vec![vec![1.0], vec![1.0]]);
    let opts = ConvolverOptions::default();
    let e = Convolver::new(&stereo, 6, &IrMap::Auto, &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("mem.wav") && e.contains("2 channels") && e.contains("map"),
        "{e}"
    );
    let e = Convolver::new(&stereo, 6, &IrMap::Channels(vec![0, 1, 2, 0, 0, 1]), &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("IR channel 3"), "{e}");
    let e = Convolver::new(&stereo, 6, &IrMap::Channels(vec![0, 1]), &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("lists 2 channels"), "{e}");
    let e = Convolver::new(&stereo, 2, &IrMap::TrueStereo, &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("4-channel"), "{e}");
    let bad_block = ConvolverOptions {
        block: Some(100),
        ..Default::default()
    };
    assert!(Convolver::new(&stereo, 2, &IrMap::Auto, &bad_block).is_err());
}

#[test]
fn reset_restarts_cleanly_and_output_is_deterministic() {
    let mut rng = Rng(5);
    let h = rng.vec(500);
    let x = rng.vec(1000);
    let opts = ConvolverOptions {
        block: Some(64),
        ..Default::default()
    };
    let mut c = Convolver::new(&ir(vec![h]), 1, &IrMap::Auto, &opts).unwrap();
    let a = run(&mut c, std::slice::from_ref(&x), 499, &[100]);
    c.reset();
    let b = run(&mut c, std::slice::from_ref(&x), 499, &[100]);
    assert_eq!(a, b, "bit-identical output after reset");
    c.reset();
    let d = run(&mut c, std::slice::from_ref(&x), 499, &[33, 1]);
    let want: Vec<f64> = a[0].iter().map(|&v| v as f64).collect();
    assert_close(&d[0], &want, -130.0, "other chunking");
}

fn write_ir(path: &std::path::Path, rate: u32, chans: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: chans.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for t in 0..chans[0].len() {
        for c in chans {
            w.write_sample(c[t]).unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn load_ir_reads_files_and_rejects_bad_ones_by_name() {
    use dubstage_core::stem::convolve::load_ir;
    let dir = std::env::temp_dir().join(format!("dubstage-dsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("room.wav");
    let mut rng = Rng(9);
    let chans = vec![rng.vec(1000), rng.vec(1000)];
    write_ir(&ok, 48_000, &chans);
    let ir = load_ir(&ok, 48_000).unwrap();
    assert_eq!(ir.channels, chans);
    assert_eq!(ir.path, ok);

    let e = load_ir(&ok, 44_100).unwrap_err().to_string();
    assert!(
        e.contains("room.wav") && e.contains("48000 Hz") && e.contains("44100"),
        "{e}"
    );

    let nan = dir.join("nan.wav");
    write_ir(&nan, 48_000, &[vec![0.1, 0.2, f32::NAN, 0.0]]);
    let e = load_ir(&nan, 48_000).unwrap_err().to_string();
    assert!(
        e.contains("nan.wav") && e.contains("sample 2") && e.contains("NaN"),
        "{e}"
    );

    let zero = dir.join("zero.wav");
    write_ir(&zero, 48_000, &[vec![0.0; 64]]);
    let e = load_ir(&zero, 48_000).unwrap_err().to_string();
    assert!(e.contains("zero.wav") && e.contains("silent"), "{e}");

    let long = dir.join("long.wav");
    write_ir(&long, 8_000, &[vec![0.01; 8_000 * 31]]);
    let e = load_ir(&long, 8_000).unwrap_err().to_string();
    assert!(e.contains("long.wav") && e.contains("31.0 s"), "{e}");

    let e = load_ir(&dir.join("missing.wav"), 48_000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.wav"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn thirty_second_ir_with_sparse_taps_and_full_tail() {
    // A 30-s IR (the limit) whose taps are sparse, so the direct oracle is cheap;
    // the FFT engine does not know that and runs all of its partitions.
    let fs = 48_000;
    let len = 30 * fs;
    let taps = [
        (0usize, 0.5f32),
        (1, -0.25),
        (65_535, 0.125),
        (65_536, 0.3),
        (700_001, -0.7),
        (len - 1, 0.05),
    ];
    let mut h = vec![0.0f32; len];
    for &(i, v) in &taps {
        h[i] = v;
    }
    let the_ir = Ir::new(vec![h], fs as u32, "long.wav").unwrap();
    let mut c = Convolver::new(&the_ir, 1, &IrMap::Auto, &ConvolverOptions::default()).unwrap();
    assert_eq!(c.block_frames(), 65_536);
    assert_eq!(c.partitions(), 22);
    let mut rng = Rng(11);
    let x = rng.vec(10_000);
    let tail = c.tail_frames();
    assert_eq!(tail, len - 1);
    let got = run(&mut c, std::slice::from_ref(&x), tail, &[65_536 * 2]);
    let mut want = vec![0.0f64; x.len() + len - 1];
    for &(i, v) in &taps {
        for (k, &xv) in x.iter().enumerate() {
            want[i + k] += v as f64 * xv as f64;
        }
    }
    assert_close(&got[0], &want, -120.0, "30-s IR");
}

#[test]
fn same_bytes_for_any_thread_count_and_span_length() {
    // 5.1 through a stereo IR (map L,R,L,L,L,R), 5 partitions of 64: chunks of
    // 1 block, of 8 blocks (whole spans) and of odd sizes, on 1 and 4 threads.
    let mut rng = Rng(12);
    let h = ir(vec![rng.vec(300), rng.vec(300)]);
    let x: Vec<Vec<f32>> = (0..6).map(|_| rng.vec(3000)).collect();
    let map = IrMap::Channels(vec![0, 1, 0, 0, 0, 1]);
    let opts = ConvolverOptions {
        block: Some(64),
        ..Default::default()
    };
    let go = |threads: usize, pieces: &[usize]| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut c = Convolver::new(&h, 6, &map, &opts).unwrap();
            let t = c.tail_frames();
            run(&mut c, &x, t, pieces)
        })
    };
    let one = go(1, &[64]);
    assert_eq!(one, go(4, &[64]), "1 vs 4 threads");
    assert_eq!(one, go(1, &[512]), "spans of 1 vs 8 blocks");
    assert_eq!(one, go(4, &[1024, 64, 192]), "chunks of 16, 1, 3 blocks");
    let odd = go(1, &[100, 37]);
    assert_eq!(odd, go(4, &[100, 37]), "partial blocks, 1 vs 4 threads");
    for (c, (o, w)) in odd.iter().zip(&one).enumerate() {
        let want: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        assert_close(
            o,
            &want,
            -120.0,
            &format!("partial vs whole blocks, channel {c}"),
        );
    }
}

#[test]
fn paired_channels_keep_silence_exact_and_match_direct() {
    // Two channels through one mono IR are transformed together (one complex FFT):
    // a channel that has been silent so far stays exactly zero (no leak from its
    // partner), and both match a direct convolution once they play.
    let mut rng = Rng(21);
    let h = rng.vec(700);
    let a = rng.vec(5000);
    let mut b = vec![0.0f32; 5000];
    b[3100..].copy_from_slice(&rng.vec(1900));
    let opts = ConvolverOptions {
        block: Some(256),
        ..Default::default()
    };
    for pieces in [&[256usize][..], &[2048], &[100, 37, 999]] {
        let mut c = Convolver::new(&ir(vec![h.clone()]), 2, &IrMap::Auto, &opts).unwrap();
        let t = c.tail_frames();
        let got = run(&mut c, &[a.clone(), b.clone()], t, pieces);
        // before b's first sample, its output is exact zeros (a is loud meanwhile)
        let chunk_start = |n: usize| -> usize {
            // the first chunk holding sample 3100 starts at or before it
            let mut at = 0;
            for p in pieces.iter().cycle() {
                if at + p > n {
                    return at;
                }
                at += p;
            }
            unreachable!()
        };
        let silent_until = chunk_start(3100);
        assert!(
            got[1][..silent_until].iter().all(|&v| v == 0.0),
            "pieces {pieces:?}: silent channel leaked"
        );
        assert_close(&got[0], &direct(&a, &h), -120.0, "paired channel a");
        assert_close(&got[1], &direct(&b, &h), -120.0, "paired channel b");
    }
    // A channel silent throughout stays all zeros.
    let mut c = Convolver::new(&ir(vec![h.clone()]), 2, &IrMap::Auto, &opts).unwrap();
    let t = c.tail_frames();
    let got = run(&mut c, &[a.clone(), vec![0.0; 5000]], t, &[512]);
    assert!(got[1].iter().all(|&v| v == 0.0));
    assert!(got[0].iter().any(|&v| v != 0.0));
}
