//! `dubstage bench`: every stage on every available backend, with parity checks.
//!
//! A reel of six 5.1 stems (36 channels, like the demo) is synthesized block by
//! block from a seeded generator (noise plus tones, automation ramps), so any
//! length runs in bounded memory. Per block, each backend runs:
//!
//! 1. `sum`: the 36 stem channels with their automation envelopes into the 5.1
//!    printmaster (`Backend::sum`);
//! 2. `loudness`: K-weighted 100 ms hops of the printmaster (`Backend::analyzer`,
//!    no true peak);
//! 3. `true peak`: the same analyzer with 4x true peak;
//! 4. `convolve`: the printmaster through a seeded decaying-noise stereo IR
//!    (`--ir-seconds`, default 2 s; RT60 = its length), mapped L,R,L,L,L,R,
//!    energy-normalized, -6 dB wet (`Backend::convolver`: the CPU `Convolver`
//!    or the GPU `GpuConvolver`), in blocks of `--block` frames.
//!
//! Every backend's analyzers get the same printmaster (the first backend's), so
//! their hops can be compared. Parity is checked against the first backend (the
//! CPU reference when it runs): sum as max absolute difference (full scale 1.0),
//! hops as max relative energy difference and max true-peak difference in dB,
//! convolution as max absolute difference in dB relative to the reference's peak.
//! GPU times include upload and readback; for `sum` they are also given apart.

use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Backend, ConvolveEngine, Hop, SumJob};
use dubstage_core::demo::Rng;
use dubstage_core::stem::automation::Envelope;
use dubstage_core::stem::convolve::{ConvolverOptions, Ir, IrMap, Normalize};
use dubstage_core::{Error, Result};
use dubstage_gpu::{GpuBackend, GpuConvolver, GpuOptions, list_adapters};
use serde_json::json;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Reel length in minutes.
    #[arg(long, default_value_t = 1.0)]
    pub minutes: f64,
    /// Backends to run: cpu, gpu, auto (a hardware GPU, else the CPU) or all
    /// (the CPU and, when there is one, the GPU).
    #[arg(long, default_value = "all")]
    pub backend: String,
    /// GPU adapter: index or name substring (default: DUBSTAGE_ADAPTER, then the best).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Frames per block handed to the backends.
    #[arg(long, default_value_t = 192_000)]
    pub block: usize,
    /// Length of the convolution stage's impulse response in seconds (up to 30).
    #[arg(long, default_value_t = 2.0)]
    pub ir_seconds: f64,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

const RATE: u32 = 48_000;
const STEMS: usize = 6;
const CH: usize = 6;

/// One backend under test and its running totals.
struct Runner {
    /// The CPU reference, or `None` for a GPU runner.
    cpu: Option<CpuBackend>,
    gpu: Option<GpuBackend>,
    loud: Box<dyn Analyzer>,
    tp: Box<dyn Analyzer>,
    sum_s: f64,
    split: [f64; 3],
    loud_s: f64,
    tp_s: f64,
    loud_hops: Vec<Hop>,
    tp_hops: Vec<Hop>,
    sum_err: f64,
    conv: Conv,
    conv_s: f64,
    conv_err: f64,
}

/// The convolution engine of a runner (the GPU one kept concrete for its timings).
enum Conv {
    Cpu(Box<dyn ConvolveEngine>),
    Gpu(Box<GpuConvolver>),
}

impl Conv {
    fn engine(&mut self) -> &mut dyn ConvolveEngine {
        match self {
            Conv::Cpu(c) => c.as_mut(),
            Conv::Gpu(g) => g.as_mut(),
        }
    }
}

/// The convolution stage's IR: stereo seeded noise decaying 60 dB over its length.
fn bench_ir(seconds: f64) -> Result<Ir> {
    let n = ((seconds * RATE as f64).round() as usize).max(1);
    let mut rng = Rng::new(0x1F_2024);
    let chans = (0..2)
        .map(|_| {
            (0..n)
                .map(|t| (rng.bipolar() * 10f64.powf(-3.0 * t as f64 / n as f64)) as f32)
                .collect()
        })
        .collect();
    Ir::new(chans, RATE, "bench decaying-noise IR")
}

fn conv_opts() -> ConvolverOptions {
    ConvolverOptions {
        wet_db: -6.0,
        normalize: Normalize::Energy,
        ..Default::default()
    }
}

fn conv_map() -> IrMap {
    IrMap::Channels(vec![0, 1, 0, 0, 0, 1])
}

impl Runner {
    fn cpu(ir: &Ir) -> Result<Runner> {
        Runner::new(Some(CpuBackend::new()), None, ir)
    }

    fn gpu(g: GpuBackend, ir: &Ir) -> Result<Runner> {
        Runner::new(None, Some(g), ir)
    }

    fn new(cpu: Option<CpuBackend>, gpu: Option<GpuBackend>, ir: &Ir) -> Result<Runner> {
        let cfg = |tp| AnalyzerConfig {
            channels: CH,
            sample_rate: RATE,
            true_peak_oversample: tp,
        };
        let b: &dyn Backend = match (&cpu, &gpu) {
            (_, Some(g)) => g,
            (Some(c), None) => c,
            (None, None) => return Err(Error::Invalid("bench: no backend".into())),
        };
        let (loud, tp) = (b.analyzer(&cfg(0))?, b.analyzer(&cfg(4))?);
        let conv = match &gpu {
            Some(g) => Conv::Gpu(Box::new(g.gpu_convolver(
                ir,
                CH,
                &conv_map(),
                &conv_opts(),
            )?)),
            None => Conv::Cpu(b.convolver(ir, CH, &conv_map(), &conv_opts())?),
        };
        Ok(Runner {
            conv,
            conv_s: 0.0,
            conv_err: 0.0,
            cpu,
            gpu,
            loud,
            tp,
            sum_s: 0.0,
            split: [0.0; 3],
            loud_s: 0.0,
            tp_s: 0.0,
            loud_hops: Vec::new(),
            tp_hops: Vec::new(),
            sum_err: 0.0,
        })
    }

    fn backend(&mut self) -> &mut dyn Backend {
        match (&mut self.gpu, &mut self.cpu) {
            (Some(g), _) => g,
            (None, Some(c)) => c,
            (None, None) => unreachable!("Runner::new checks that one backend is set"),
        }
    }

    fn conv_block(&self) -> usize {
        match &self.conv {
            Conv::Cpu(c) => c.block_frames(),
            Conv::Gpu(g) => g.block_frames(),
        }
    }

    fn info(&self) -> dubstage_core::backend::BackendInfo {
        match (&self.gpu, &self.cpu) {
            (Some(g), _) => g.info(),
            (None, Some(c)) => c.info(),
            (None, None) => unreachable!("Runner::new checks that one backend is set"),
        }
    }
}

/// The synthesized reel: per stem channel a noise generator, a tone and a
/// one-pole low-pass, and per stem an automation envelope.
struct Reel {
    rng: Vec<Rng>,
    phase: Vec<f64>,
    freq: Vec<f64>,
    lp: Vec<f64>,
    envelopes: Vec<Envelope>,
    pos: i64,
}

impl Reel {
    fn new(frames: i64) -> Reel {
        let n = STEMS * CH;
        let mut r = Rng::new(2026);
        let freq = (0..n)
            .map(|i| 40.0 * 1.5f64.powi((i % 12) as i32) * (1.0 + 0.01 * r.unit()))
            .collect();
        // Each stem rides up and down by 12 dB every 7 + stem seconds.
        let envelopes = (0..STEMS)
            .map(|s| {
                let step = (7 + s as i64) * RATE as i64;
                Envelope {
                    gain_db: -6.0 - s as f64,
                    points: (0..=frames / step + 1)
                        .map(|k| (k * step, if k % 2 == 0 { 0.0 } else { -12.0 }))
                        .collect(),
                    mute: false,
                }
            })
            .collect();
        Reel {
            rng: (0..n).map(|i| Rng::new(i as u64 + 1)).collect(),
            phase: vec![0.0; n],
            freq,
            lp: vec![0.0; n],
            envelopes,
            pos: 0,
        }
    }

    /// Fills the next block: `inputs` (36 channels) and `env` (6 envelopes).
    fn next(&mut self, inputs: &mut [Vec<f32>], env: &mut [Vec<f32>], frames: usize) {
        for (i, x) in inputs.iter_mut().enumerate() {
            x.resize(frames, 0.0);
            let (rng, lp) = (&mut self.rng[i], &mut self.lp[i]);
            let dphi = std::f64::consts::TAU * self.freq[i] / RATE as f64;
            let mut phi = self.phase[i];
            let lfe = i % CH == 3;
            let k = if lfe { 0.01 } else { 0.3 };
            for v in x.iter_mut() {
                *lp += k * (rng.bipolar() - *lp);
                *v = (0.2 * *lp + 0.1 * phi.sin()) as f32;
                phi += dphi;
            }
            self.phase[i] = phi % std::f64::consts::TAU;
        }
        for (e, g) in self.envelopes.iter().zip(env.iter_mut()) {
            g.resize(frames, 0.0);
            e.fill(self.pos, g, false);
        }
        self.pos += frames as i64;
    }
}

/// Worst relative energy difference and worst true-peak difference (dB) of `a` against `reference`.
fn hop_diff(a: &[Hop], reference: &[Hop]) -> Result<(f64, f64)> {
    if a.len() != reference.len() {
        return Err(Error::Backend(format!(
            "bench: {} hops against {} from the reference",
            a.len(),
            reference.len()
        )));
    }
    let (mut e, mut tp) = (0.0f64, 0.0f64);
    for (h, r) in a.iter().zip(reference) {
        for c in 0..r.energy.len() {
            e = e.max((h.energy[c] - r.energy[c]).abs() / r.energy[c].max(1e-12));
            if r.true_peak[c] > 1e-6 && h.true_peak[c] > 0.0 {
                tp = tp.max((20.0 * (h.true_peak[c] as f64 / r.true_peak[c] as f64).log10()).abs());
            }
        }
    }
    Ok((e, tp))
}

pub fn run(a: &Args) -> Result<()> {
    let doc = measure(a)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| Error::Invalid(e.to_string()))?
        );
        return Ok(());
    }
    for n in doc["notices"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or(""));
    }
    println!(
        "bench: {:.2} min reel, {} stems x 5.1 = {} channels into 5.1, {} kHz, blocks of {} frames, \
         {} s IR",
        a.minutes,
        STEMS,
        STEMS * CH,
        RATE / 1000,
        a.block,
        a.ir_seconds
    );
    for b in doc["backends"].as_array().into_iter().flatten() {
        let i = &b["backend"];
        println!(
            "\n{} backend: {} ({} {} {})",
            i["kind"].as_str().unwrap_or(""),
            i["name"].as_str().unwrap_or(""),
            i["api"].as_str().unwrap_or(""),
            i["device_type"].as_str().unwrap_or(""),
            i["driver"].as_str().unwrap_or("")
        );
        println!(
            "  {:<10} {:>9} {:>12} {:>14}  parity",
            "stage", "seconds", "x realtime", "samples/s"
        );
        for s in b["stages"].as_array().into_iter().flatten() {
            let p = match s["parity_error"].as_f64() {
                Some(v) => format!("{v:.2e} {}", s["parity_unit"].as_str().unwrap_or("")),
                None if i["kind"] == "cpu" => "reference".to_string(),
                None => "not checked (no CPU run; use --backend all)".to_string(),
            };
            println!(
                "  {:<10} {:>9.3} {:>12.1} {:>14.3e}  {p}",
                s["stage"].as_str().unwrap_or(""),
                s["seconds"].as_f64().unwrap_or(0.0),
                s["x_realtime"].as_f64().unwrap_or(0.0),
                s["samples_per_s"].as_f64().unwrap_or(0.0),
            );
            if let Some(u) = s["upload_s"].as_f64() {
                println!(
                    "  {:<10} upload {:.3} s, compute {:.3} s, readback {:.3} s",
                    "",
                    u,
                    s["compute_s"].as_f64().unwrap_or(0.0),
                    s["readback_s"].as_f64().unwrap_or(0.0)
                );
            }
        }
    }
    Ok(())
}

/// Runs the bench and returns the report (the `--json` document).
pub fn measure(a: &Args) -> Result<serde_json::Value> {
    if !(a.minutes > 0.0 && a.minutes.is_finite()) {
        return Err(Error::Invalid(format!(
            "bench: --minutes {} must be positive",
            a.minutes
        )));
    }
    if a.block == 0 {
        return Err(Error::Invalid(
            "bench: --block must be at least 1 frame".into(),
        ));
    }
    if !(a.ir_seconds > 0.0 && a.ir_seconds <= 30.0) {
        return Err(Error::Invalid(format!(
            "bench: --ir-seconds {} must be above 0 and at most 30",
            a.ir_seconds
        )));
    }
    let ir = bench_ir(a.ir_seconds)?;
    let frames = (a.minutes * 60.0 * RATE as f64).round() as i64;
    let gpu_opts = |hardware_only| GpuOptions {
        adapter: a.adapter.clone(),
        hardware_only,
        max_chunk_frames: None,
    };
    let mut notices = Vec::new();
    let mut runners = Vec::new();
    match a.backend.trim().to_ascii_lowercase().as_str() {
        "cpu" => runners.push(Runner::cpu(&ir)?),
        "gpu" => runners.push(Runner::gpu(GpuBackend::new(&gpu_opts(false))?, &ir)?),
        "auto" => match GpuBackend::new(&gpu_opts(true)) {
            Ok(g) => runners.push(Runner::gpu(g, &ir)?),
            Err(e) => {
                let why = match e {
                    Error::Backend(m) => m,
                    other => other.to_string(),
                };
                notices.push(format!("using the CPU backend: {why}"));
                runners.push(Runner::cpu(&ir)?);
            }
        },
        "all" => {
            runners.push(Runner::cpu(&ir)?);
            if list_adapters().is_empty() {
                notices.push("no GPU adapter: CPU only".to_string());
            } else {
                runners.push(Runner::gpu(GpuBackend::new(&gpu_opts(false))?, &ir)?);
            }
        }
        other => {
            return Err(Error::Invalid(format!(
                "unknown backend '{other}' (expected cpu, gpu, auto or all)"
            )));
        }
    }
    // The routing: stem channel c to printmaster channel c.
    let ni = STEMS * CH;
    let mut matrix = vec![0.0f32; CH * ni];
    for i in 0..ni {
        matrix[(i % CH) * ni + i] = 1.0;
    }
    let envelope_of: Vec<usize> = (0..ni).map(|i| i / CH).collect();
    let mut reel = Reel::new(frames);
    let mut inputs = vec![Vec::new(); ni];
    let mut env = vec![Vec::new(); STEMS];
    let mut outs: Vec<Vec<Vec<f32>>> = runners.iter().map(|_| vec![Vec::new(); CH]).collect();
    let mut done = 0i64;
    let mut conv_peak = 0.0f64;
    while done < frames {
        let n = (frames - done).min(a.block as i64) as usize;
        reel.next(&mut inputs, &mut env, n);
        let inp: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        let envs: Vec<&[f32]> = env.iter().map(Vec::as_slice).collect();
        let job = SumJob {
            frames: n,
            inputs: &inp,
            envelope_of: &envelope_of,
            envelopes: &envs,
            matrix: &matrix,
            outputs: CH,
        };
        for (r, out) in runners.iter_mut().zip(outs.iter_mut()) {
            let t = Instant::now();
            r.backend().sum(&job, out)?;
            r.sum_s += t.elapsed().as_secs_f64();
            if let Some(g) = &r.gpu {
                let s = g.last_sum_timings();
                r.split[0] += s.upload;
                r.split[1] += s.compute;
                r.split[2] += s.readback;
            }
        }
        let (first, rest) = outs.split_at(1);
        for (r, out) in runners.iter_mut().skip(1).zip(rest) {
            for (x, y) in out.iter().zip(&first[0]) {
                for (p, q) in x.iter().zip(y) {
                    r.sum_err = r.sum_err.max((p - q).abs() as f64);
                }
            }
        }
        let pm: Vec<&[f32]> = first[0].iter().map(Vec::as_slice).collect();
        for r in runners.iter_mut() {
            let t = Instant::now();
            r.loud.push(&pm)?;
            r.loud_hops.extend(r.loud.take_hops()?);
            r.loud_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            r.tp.push(&pm)?;
            r.tp_hops.extend(r.tp.take_hops()?);
            r.tp_s += t.elapsed().as_secs_f64();
        }
        let mut wet0: Vec<Vec<f32>> = Vec::new();
        for (k, r) in runners.iter_mut().enumerate() {
            let mut buf: Vec<Vec<f32>> = first[0].iter().map(|c| c[..n].to_vec()).collect();
            let t = Instant::now();
            r.conv.engine().process_planar(&mut buf, n)?;
            r.conv_s += t.elapsed().as_secs_f64();
            if k == 0 {
                conv_peak = buf
                    .iter()
                    .flatten()
                    .fold(conv_peak, |m, &v| m.max(v.abs() as f64));
                wet0 = buf;
            } else {
                for (x, y) in buf.iter().zip(&wet0) {
                    for (p, q) in x.iter().zip(y) {
                        r.conv_err = r.conv_err.max((p - q).abs() as f64);
                    }
                }
            }
        }
        done += n as i64;
    }
    for r in runners.iter_mut() {
        let t = Instant::now();
        r.loud_hops.extend(r.loud.finish()?);
        r.loud_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        r.tp_hops.extend(r.tp.finish()?);
        r.tp_s += t.elapsed().as_secs_f64();
    }

    let secs = frames as f64 / RATE as f64;
    for r in &runners {
        let i = r.info();
        if i.kind == "gpu" && i.device_type == "Cpu" {
            notices.push(format!(
                "'{}' is a software rasterizer (device type Cpu): its times measure the CPU, not a GPU",
                i.name
            ));
        }
    }
    let mut report = Vec::new();
    for (k, r) in runners.iter().enumerate() {
        let info = r.info();
        let (le, _) = if k == 0 {
            (0.0, 0.0)
        } else {
            hop_diff(&r.loud_hops, &runners[0].loud_hops)?
        };
        let (te, tpd) = if k == 0 {
            (0.0, 0.0)
        } else {
            hop_diff(&r.tp_hops, &runners[0].tp_hops)?
        };
        let parity = |v: f64| {
            if k == 0 {
                serde_json::Value::Null
            } else {
                json!(v)
            }
        };
        let stage = |name: &str, s: f64, samples: f64, err: serde_json::Value, unit: &str| {
            json!({
                "stage": name,
                "seconds": s,
                "x_realtime": secs / s,
                "samples_per_s": samples / s,
                "parity_error": err,
                "parity_unit": unit,
            })
        };
        let mut sum = stage(
            "sum",
            r.sum_s,
            (frames as usize * ni) as f64,
            parity(r.sum_err),
            "max abs diff (full scale 1.0)",
        );
        if r.gpu.is_some() {
            sum["upload_s"] = json!(r.split[0]);
            sum["compute_s"] = json!(r.split[1]);
            sum["readback_s"] = json!(r.split[2]);
        }
        let mut conv = stage(
            "convolve",
            r.conv_s,
            (frames as usize * CH) as f64,
            parity(20.0 * (r.conv_err / conv_peak.max(1e-30)).max(1e-30).log10()),
            "max abs diff, dB re reference peak",
        );
        if let Conv::Gpu(g) = &r.conv {
            let s = g.timings();
            conv["upload_s"] = json!(s.upload);
            conv["compute_s"] = json!(s.compute);
            conv["readback_s"] = json!(s.readback);
            conv["partitions"] = json!(g.partitions());
        }
        conv["block"] = json!(r.conv_block());
        let stages = vec![
            sum,
            stage(
                "loudness",
                r.loud_s,
                (frames as usize * CH) as f64,
                parity(le),
                "max relative hop energy diff",
            ),
            stage(
                "true_peak",
                r.tp_s,
                (frames as usize * CH) as f64,
                parity(tpd),
                "max true-peak diff (dB), with K-weighting",
            ),
            conv,
        ];
        report.push(json!({
            "backend": info,
            "stages": stages,
            "hop_energy_parity_with_true_peak": parity(te),
        }));
    }
    Ok(json!({
        "reel_seconds": secs,
        "sample_rate": RATE,
        "input_channels": ni,
        "output_channels": CH,
        "block_frames": a.block,
        "ir_seconds": a.ir_seconds,
        "notices": notices,
        "backends": report,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_and_backends_agree() {
        let a = Args {
            minutes: 0.02,
            backend: "all".into(),
            adapter: None,
            block: 10_007,
            ir_seconds: 0.5,
            json: true,
        };
        let doc = measure(&a).expect("bench");
        let backends = doc["backends"].as_array().expect("backends");
        assert!(!backends.is_empty());
        assert_eq!(backends[0]["backend"]["kind"], "cpu");
        for b in &backends[1..] {
            let st = b["stages"].as_array().expect("stages");
            let err = |i: usize| st[i]["parity_error"].as_f64().expect("parity");
            assert!(err(0) <= 1e-6, "sum parity {}", err(0));
            assert!(err(1) <= 1e-4, "loudness parity {}", err(1));
            assert!(err(2) <= 0.01, "true-peak parity {} dB", err(2));
            assert!(st[0]["upload_s"].as_f64().is_some());
            assert_eq!(st[3]["stage"], "convolve");
            assert!(err(3) < -100.0, "convolution parity {} dB", err(3));
            assert!(st[3]["compute_s"].as_f64().is_some());
        }
        for b in backends {
            for s in b["stages"].as_array().expect("stages") {
                assert!(s["x_realtime"].as_f64().expect("x") > 0.0);
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let mut a = Args {
            minutes: 0.0,
            backend: "all".into(),
            adapter: None,
            block: 1000,
            ir_seconds: 2.0,
            json: true,
        };
        assert!(measure(&a).unwrap_err().to_string().contains("--minutes"));
        a.minutes = 0.01;
        a.ir_seconds = 31.0;
        assert!(
            measure(&a)
                .unwrap_err()
                .to_string()
                .contains("--ir-seconds")
        );
        a.ir_seconds = 1.0;
        a.backend = "fpga".into();
        assert!(
            measure(&a)
                .unwrap_err()
                .to_string()
                .contains("unknown backend 'fpga'")
        );
    }
}
