//! The CPU backend's `sum_sources` (stems decoded from their files straight into the
//! sum) against the trait's default, the planar path through `Backend::sum` that the GPU
//! backend takes: the same bits for every bus, with
//! stems that start and end inside tiles and blocks, per-sample automation, a panned
//! mono 24-bit stem (direct, and with a send), a 7.1 stem folded into the 5.1 bus
//! (two channels into one output), a multi-mono stem, a stem with an insert and a send to a return
//! (the last three take the planar path beside the direct ones).

mod io_support;

use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Backend, BackendInfo, SumJob};
use dubstage_core::pipeline::{MixBlock, Mixer};
use dubstage_core::session::Session;
use io_support::noise;
use std::path::Path;

/// The CPU backend with the trait's default `sum_sources`: file sources decoded into
/// planar buffers, then one `SumJob` through `sum` (what a GPU backend does).
struct PlanarCpu(CpuBackend);

impl Backend for PlanarCpu {
    fn info(&self) -> BackendInfo {
        self.0.info()
    }
    fn sum(&mut self, job: &SumJob<'_>, out: &mut [Vec<f32>]) -> dubstage_core::Result<()> {
        self.0.sum(job, out)
    }
    fn analyzer(&self, cfg: &AnalyzerConfig) -> dubstage_core::Result<Box<dyn Analyzer>> {
        self.0.analyzer(cfg)
    }
    fn preferred_block_frames(&self) -> usize {
        self.0.preferred_block_frames()
    }
}

fn write(path: &Path, chans: &[Vec<f32>], float: bool) {
    let spec = hound::WavSpec {
        channels: chans.len() as u16,
        sample_rate: 48_000,
        bits_per_sample: if float { 32 } else { 24 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..chans[0].len() {
        for c in chans {
            if float {
                w.write_sample(c[i]).unwrap();
            } else {
                w.write_sample((c[i] * 8_388_607.0) as i32).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

const SESSION: &str = r#"
[reel]
title = "direct"
frame_rate = "24"
start = "01:00:00:00"
ffoa = "01:00:00:00"
layout = "5.1"
length = "00:00:02:00"

[[bus]]
id = "DX"
dialogue = true
[[bus]]
id = "FX"
automation = [ { at = "01:00:00:10", db = 0.0 }, { at = "01:00:01:03", db = -9.0 } ]

[[stem]]
id = "wide71"
kind = "effects"
source = "wide71.wav"
layout = "7.1"
start = "01:00:00:04"

[[stem]]
id = "wide"
kind = "effects"
source = "wide.wav"
start = "01:00:00:03"
automation = [ { at = "01:00:00:05", db = -3.0 }, { at = "01:00:00:20", db = 2.0 } ]

[[stem]]
id = "mono"
kind = "dialogue"
source = "mono.wav"
start = "01:00:00:00"
pan = { position = 0.4, surround = 0.3 }
sends = [ { to = "room", db = -6.0 } ]

[[stem]]
id = "plain"
kind = "effects"
source = "plain.wav"
start = "01:00:01:07"
gain_db = -4.0

[[stem]]
id = "eqd"
kind = "effects"
source = "stereo.wav"
start = "01:00:00:01"
inserts = [ { type = "eq", bands = [ { kind = "high_pass", freq = 120.0, slope = 12 } ] } ]

[[stem]]
id = "mm"
kind = "effects"
sources = ["mm.L.wav", "mm.R.wav"]
start = "01:00:00:02"

[[stem]]
id = "dx2"
kind = "dialogue"
source = "dx2.wav"
start = "01:00:00:09"

[[stem]]
id = "mono2"
kind = "effects"
source = "mono2.wav"
start = "01:00:00:07"
pan = { position = -0.6, surround = 0.5 }

[[return]]
id = "room"
bus = "DX"
layout = "mono"
"#;

#[test]
fn direct_sum_is_bit_identical_to_the_planar_sum() {
    let d = io_support::scratch("mix_direct");
    let n6: Vec<Vec<f32>> = (0..6).map(|c| noise(c, 41_111, 0.3)).collect();
    write(&d.join("wide.wav"), &n6, true);
    write(&d.join("mono.wav"), &[noise(10, 70_001, 0.5)], false);
    write(&d.join("plain.wav"), &n6, true);
    write(
        &d.join("stereo.wav"),
        &[noise(11, 50_000, 0.4), noise(12, 50_000, 0.4)],
        true,
    );
    write(&d.join("mm.L.wav"), &[noise(13, 30_000, 0.4)], true);
    write(&d.join("mm.R.wav"), &[noise(14, 30_000, 0.4)], true);
    write(
        &d.join("dx2.wav"),
        &[noise(15, 9_999, 0.4), noise(16, 9_999, 0.4)],
        false,
    );
    write(&d.join("mono2.wav"), &[noise(17, 33_333, 0.5)], false);
    let n8: Vec<Vec<f32>> = (0..8).map(|c| noise(20 + c, 20_500, 0.3)).collect();
    write(&d.join("wide71.wav"), &n8, true);
    let path = d.join("session.toml");
    std::fs::write(&path, SESSION).unwrap();
    let plan = Session::parse(&path, SESSION).unwrap().resolve().unwrap();
    let mut cpu = CpuBackend;
    let mut planar = PlanarCpu(CpuBackend);
    let mut a = Mixer::new(&plan, &cpu).unwrap();
    let mut b = Mixer::new(&plan, &planar).unwrap();
    let (mut ba, mut bb) = (MixBlock::default(), MixBlock::default());
    let mut t = 0u64;
    let mut nonzero = 0usize;
    // Blocks of an odd size, so that stems start and end inside blocks and tiles.
    while t < plan.length {
        let n = ((plan.length - t) as usize).min(9_001);
        a.next_block(&mut cpu, n, &mut ba).unwrap();
        b.next_block(&mut planar, n, &mut bb).unwrap();
        assert_eq!(ba.buses.len(), bb.buses.len());
        for (o, (x, y)) in ba.buses.iter().zip(&bb.buses).enumerate() {
            for (i, (p, q)) in x[..n].iter().zip(&y[..n]).enumerate() {
                assert_eq!(
                    p.to_bits(),
                    q.to_bits(),
                    "output {o}, frame {}",
                    t + i as u64
                );
                nonzero += usize::from(*p != 0.0);
            }
        }
        t += n as u64;
    }
    // Every bus channel carries signal somewhere (the test compares real sums).
    assert!(
        nonzero > plan.length as usize * ba.buses.len() / 2,
        "{nonzero}"
    );
}
