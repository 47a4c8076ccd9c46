//! `dubstage dialogue ...`: dialogue editing tools.
//!
//! * `sync GUIDE TAKE`: the take's offset against the guide (GCC-PHAT), with
//!   polarity, confidence and drift ([`dubstage_core::dialogue::sync`]).
//! * `denoise IN --out OUT`: noise reduction, spectral or RNNoise
//!   ([`dubstage_core::dialogue::denoise`]), streamed, with zero delay.

use super::progress::Progress;
use dubstage_core::dialogue::align::{AlignOptions, MAX_ALIGN_S, align, residual};
use dubstage_core::dialogue::denoise::{
    BandReduction, DenoiseOptions, Denoiser, NoiseAccumulator, NoiseProfile, quietest_blocks,
};
use dubstage_core::dialogue::sync::{MAX_FFT, SyncOptions, sync};
use dubstage_core::dialogue::takes::score_take;
use dubstage_core::dialogue::{Engine, read_mono};
use dubstage_core::io::{AudioReader, OutputFormat, SampleFormat, WavSpec, WavWriter};
use dubstage_core::{Error, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand)]
pub enum Sub {
    /// Find a take's offset (and polarity, drift) against a guide track.
    Sync(SyncArgs),
    /// Reduce the noise of a recording (room tone kept at -reduction dB).
    Denoise(DenoiseArgs),
    /// Time-warp an ADR take to a guide's timing (no pitch change).
    Align(AlignArgs),
    /// Rank takes of a line against the guide (alignment, warp, SNR, clipping, level), with reasons.
    Takes(TakesArgs),
}

#[derive(clap::Args)]
pub struct TakesArgs {
    /// The guide.
    pub guide: PathBuf,
    /// The takes to rank.
    #[arg(required = true)]
    pub takes: Vec<PathBuf>,
    /// Print one JSON object (also on failure).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct AlignArgs {
    /// The guide (the production line whose timing the dub must follow).
    pub guide: PathBuf,
    /// The dub (ADR take), mono, at the guide's sample rate.
    pub dub: PathBuf,
    /// The aligned dub (mono WAV, as long as the guide; written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Leave the dub alone when the warp stays within this many ms of the identity.
    #[arg(long, value_name = "MS", default_value_t = 5.0)]
    pub tolerance: f64,
    /// Output format: pcm16, pcm24, float32 (default: the dub's).
    #[arg(long)]
    pub format: Option<String>,
    /// Print one JSON object (also on failure).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The guide (production sound or the cut's guide track).
    pub guide: PathBuf,
    /// The take to place against it.
    pub take: PathBuf,
    /// Print one JSON object (also on failure).
    #[arg(long)]
    pub json: bool,
    /// Largest offset searched, seconds (default: any the lengths allow).
    #[arg(long, value_name = "S")]
    pub max_offset: Option<f64>,
    /// Refuse below this confidence (0..1).
    #[arg(long, value_name = "C", default_value_t = 0.3)]
    pub min_confidence: f64,
    /// Analysis band in Hz.
    #[arg(long, value_name = "LO-HI", default_value = "200-6000")]
    pub band: String,
}

#[derive(clap::Args)]
pub struct DenoiseArgs {
    /// The recording (WAV/RF64/BW64/FLAC, any channel count: one gain for all channels).
    pub input: PathBuf,
    /// The output WAV (written atomically; never the input).
    #[arg(long)]
    pub out: PathBuf,
    /// Learn the noise from this room-tone range, seconds from the file's start
    /// (default: from the quietest passages, found automatically).
    #[arg(long, value_name = "START-END")]
    pub learn: Option<String>,
    /// Maximum reduction in dB: room tone is lowered by at most this much.
    #[arg(long, value_name = "DB", default_value_t = 12.0)]
    pub reduction: f64,
    /// Per-band maximum reduction, e.g. `0-150:24` (repeatable; later ones win).
    #[arg(long, value_name = "LO-HI:DB")]
    pub band: Vec<String>,
    /// spectral (written here) or rnnoise (RNNoise; other rates than 48 kHz are converted to it and back).
    #[arg(long, default_value = "spectral")]
    pub engine: String,
    /// Keep the learned profile fixed instead of tracking the noise as it changes.
    #[arg(long)]
    pub fixed: bool,
    /// Dry/wet, 0..1.
    #[arg(long, default_value_t = 1.0)]
    pub wet: f64,
    /// Write what was removed (input - output) instead.
    #[arg(long)]
    pub noise_only: bool,
    /// Output format: pcm16, pcm24, float32 (default: the input's, float32 for float input).
    #[arg(long)]
    pub format: Option<String>,
    /// Print one JSON object (also on failure).
    #[arg(long)]
    pub json: bool,
    /// No progress bar, no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Args {
    /// Whether the subcommand was asked for JSON output (`main` then prints a failure
    /// as a JSON object too).
    pub fn json(&self) -> bool {
        match &self.command {
            Sub::Sync(s) => s.json,
            Sub::Denoise(d) => d.json,
            Sub::Align(x) => x.json,
            Sub::Takes(x) => x.json,
        }
    }
}

pub fn run(a: &Args) -> Result<()> {
    match &a.command {
        Sub::Sync(s) => run_sync(s),
        Sub::Denoise(d) => run_denoise(d),
        Sub::Align(x) => run_align(x),
        Sub::Takes(x) => run_takes(x),
    }
}

fn parse_range(s: &str, what: &str) -> Result<(f64, f64)> {
    let bad = || Error::Invalid(format!("{what} '{s}': write it as LO-HI, e.g. 1.5-3"));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: f64 = a.trim().parse().map_err(|_| bad())?;
    let b: f64 = b.trim().parse().map_err(|_| bad())?;
    if !(a.is_finite() && b.is_finite() && a >= 0.0 && b > a) {
        return Err(bad());
    }
    Ok((a, b))
}

fn run_sync(a: &SyncArgs) -> Result<()> {
    let (lo, hi) = parse_range(&a.band, "--band")?;
    let (g, gsr) = read_mono(&a.guide, MAX_FFT as u64 / 2)?;
    let (t, tsr) = read_mono(&a.take, MAX_FFT as u64 / 2)?;
    if gsr != tsr {
        return Err(Error::format(
            &a.take,
            format!(
                "is at {tsr} Hz but the guide {} is at {gsr} Hz: convert one first",
                a.guide.display()
            ),
        ));
    }
    let opts = SyncOptions {
        low_hz: lo,
        high_hz: hi,
        max_offset_s: a.max_offset,
        min_confidence: a.min_confidence,
        ..SyncOptions::default()
    };
    let r = sync(&g, &t, gsr, &opts).map_err(|e| {
        Error::Invalid(format!(
            "{} against {}: {e}",
            a.take.display(),
            a.guide.display()
        ))
    })?;
    if a.json {
        let mut v = serde_json::to_value(&r).expect("serializable");
        v["guide"] = json!(a.guide);
        v["take"] = json!(a.take);
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
    } else {
        let drift = match r.drift_ppm {
            Some(d) => format!("{d:+.2} ppm over {} windows", r.drift_windows),
            None => "not measured (the overlap is too short or too quiet)".into(),
        };
        println!(
            "{}: {} by {:.2} samples ({:.6} s) against {}",
            a.take.display(),
            if r.offset_samples >= 0.0 {
                "late"
            } else {
                "early"
            },
            r.offset_samples.abs(),
            r.offset_s.abs(),
            a.guide.display()
        );
        println!(
            "  polarity {}, confidence {:.2}, drift {drift}",
            if r.polarity < 0 { "inverted" } else { "normal" },
            r.confidence
        );
    }
    Ok(())
}

/// Output format for `--format` or from the input's.
fn output_format(arg: Option<&str>, input: SampleFormat) -> Result<OutputFormat> {
    Ok(match arg {
        Some("pcm16") => OutputFormat::Pcm16,
        Some("pcm24") => OutputFormat::Pcm24,
        Some("float32") => OutputFormat::Float32,
        Some(o) => {
            return Err(Error::Invalid(format!(
                "--format {o}: use pcm16, pcm24 or float32"
            )));
        }
        None => match input {
            SampleFormat::Int(16) => OutputFormat::Pcm16,
            SampleFormat::Float(_) => OutputFormat::Float32,
            _ => OutputFormat::Pcm24,
        },
    })
}

/// The same file (after following links), or both names for one new file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Block of the automatic room-tone search, seconds.
const QUIET_BLOCK_S: f64 = 0.1;

/// Learns the noise from `range` (seconds) or from the quietest 10 % of the file.
fn learn_profile(
    path: &Path,
    range: Option<(f64, f64)>,
    quiet: bool,
) -> Result<(NoiseProfile, String)> {
    let mut r = AudioReader::open(path)?;
    let info = r.info().clone();
    let sr = info.sample_rate;
    let ch = usize::from(info.channels);
    let mut buf = vec![Vec::new(); ch];
    let mut acc = NoiseAccumulator::new(sr);
    if let Some((a, b)) = range {
        let s = (a * f64::from(sr)).round() as u64;
        let e = ((b * f64::from(sr)).round() as u64).min(info.frames);
        if s >= info.frames || e <= s {
            return Err(Error::format(
                path,
                format!(
                    "--learn {a}-{b} s is outside the file ({:.3} s long)",
                    info.duration_secs()
                ),
            ));
        }
        r.seek(s)?;
        let n = r.read_planar(&mut buf, (e - s) as usize)?;
        let v: Vec<&[f32]> = buf.iter().map(|c| &c[..n]).collect();
        let p = NoiseProfile::learn(&v, sr).map_err(|e| Error::format(path, e.to_string()))?;
        return Ok((p, format!("room tone {a}-{b} s")));
    }
    // pass 1: the level of every block
    let blk = ((QUIET_BLOCK_S * f64::from(sr)) as usize).max(1);
    let bar = Progress::new(info.frames, "room tone", quiet);
    let mut levels = Vec::new();
    let mut done = 0u64;
    loop {
        let n = r.read_planar(&mut buf, blk)?;
        if n < blk {
            break;
        }
        let e: f64 = buf
            .iter()
            .flat_map(|c| c[..n].iter())
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / (n * ch) as f64;
        levels.push(e);
        done += n as u64;
        bar.set(done, info.frames, "room tone");
    }
    bar.finish();
    let pick = quietest_blocks(&levels, 0.1, 5);
    if pick.is_empty() {
        return Err(Error::format(
            path,
            "no room tone found to learn the noise from (the file is silent or shorter than 0.1 s); give --learn",
        ));
    }
    // pass 2: the spectra of the chosen blocks, merged into runs
    let mut i = 0;
    let mut secs = 0.0;
    while i < pick.len() {
        let mut j = i + 1;
        while j < pick.len() && pick[j] == pick[j - 1] + 1 {
            j += 1;
        }
        let len = (j - i) * blk;
        r.seek((pick[i] * blk) as u64)?;
        let n = r.read_planar(&mut buf, len)?;
        let v: Vec<&[f32]> = buf.iter().map(|c| &c[..n]).collect();
        acc.push(&v);
        secs += n as f64 / f64::from(sr);
        i = j;
    }
    let p = acc
        .finish()
        .map_err(|e| Error::format(path, e.to_string()))?;
    Ok((p, format!("quietest passages ({secs:.1} s)")))
}

fn run_denoise(a: &DenoiseArgs) -> Result<()> {
    let t0 = Instant::now();
    let engine: Engine = a.engine.parse()?;
    if same_file(&a.input, &a.out) {
        return Err(Error::Output {
            path: a.out.clone(),
            msg: "is the input: write the output to another file".into(),
        });
    }
    let mut r = AudioReader::open(&a.input)?;
    let info = r.info().clone();
    let sr = info.sample_rate;
    let ch = usize::from(info.channels);
    let bands = a
        .band
        .iter()
        .map(|b| {
            let bad = || Error::Invalid(format!("--band {b}: write it as LO-HI:DB, e.g. 0-150:24"));
            let (range, db) = b.split_once(':').ok_or_else(bad)?;
            let (lo, hi) = parse_range(range, "--band")?;
            let db: f64 = db.trim().parse().map_err(|_| bad())?;
            Ok(BandReduction {
                low_hz: lo,
                high_hz: hi,
                reduction_db: db,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = DenoiseOptions {
        reduction_db: a.reduction,
        bands,
        adaptive: !a.fixed,
        wet: a.wet,
        noise_only: a.noise_only,
    };
    let range = a
        .learn
        .as_deref()
        .map(|s| parse_range(s, "--learn"))
        .transpose()?;
    let (profile, source) = match engine {
        Engine::Spectral => {
            let (p, s) = learn_profile(&a.input, range, a.quiet || a.json)?;
            (Some(p), s)
        }
        Engine::Rnnoise => {
            if range.is_some() {
                return Err(Error::Invalid(
                    "--learn: the rnnoise engine learns no noise profile (use --engine spectral)"
                        .into(),
                ));
            }
            (None, "none (RNNoise)".to_string())
        }
    };
    let mut d = Denoiser::with_engine(engine, sr, ch, &opts, profile.as_ref())
        .map_err(|e| Error::format(&a.input, e.to_string()))?;
    let format = output_format(a.format.as_deref(), info.format)?;
    let mut spec = WavSpec::new(info.channels, sr, format);
    spec.channel_mask = info.channel_mask.unwrap_or(0);
    spec.bext = info.bext.clone();
    let mut w = WavWriter::create(&a.out, spec)?;
    let lat = d.latency() as u64;
    let bar = Progress::new(info.frames, "denoise", a.quiet || a.json);
    r.seek(0)?;
    let block = 1 << 15;
    let mut buf = vec![Vec::new(); ch];
    let mut fed = 0u64;
    let mut written = 0u64;
    while written < info.frames {
        let mut n = r.read_planar(&mut buf, block)?;
        if n == 0 {
            // past the end: silence to flush the latency
            n = ((info.frames + lat - fed) as usize).min(block);
            buf.iter_mut().for_each(|c| {
                c.clear();
                c.resize(n, 0.0);
            });
        }
        for c in buf.iter() {
            if let Some(i) = c[..n].iter().position(|v| !v.is_finite()) {
                return Err(Error::format(
                    &a.input,
                    format!("sample {} is NaN or infinite", fed + i as u64),
                ));
            }
        }
        d.process(&mut buf, n);
        // drop the first `lat` output frames, keep the file's length
        let skip = lat.saturating_sub(fed).min(n as u64) as usize;
        let keep = ((n - skip) as u64).min(info.frames - written) as usize;
        let v: Vec<&[f32]> = buf.iter().map(|c| &c[skip..skip + keep]).collect();
        w.write_planar(&v)?;
        fed += n as u64;
        written += keep as u64;
        bar.set(written, info.frames, "denoise");
    }
    bar.finish();
    let out = w.finish()?;
    let wall = t0.elapsed().as_secs_f64();
    let dur = info.duration_secs();
    if out.clipped > 0 && !a.json {
        eprintln!(
            "warning: {}: {} samples clipped at full scale",
            a.out.display(),
            out.clipped
        );
    }
    if a.json {
        let v = json!({
            "input": a.input,
            "output": out.path,
            "engine": a.engine,
            "reduction_db": a.reduction,
            "noise_profile": source,
            "adaptive": engine == Engine::Spectral && !a.fixed,
            "wet": a.wet,
            "noise_only": a.noise_only,
            "channels": ch,
            "sample_rate": sr,
            "frames": out.frames,
            "latency_compensated_frames": lat,
            "clipped": out.clipped,
            "sha256": out.sha256,
            "wall_s": wall,
            "x_realtime": if wall > 0.0 { dur / wall } else { 0.0 },
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
    } else if !a.quiet {
        println!(
            "{} -> {}: {} ch, {} Hz, {:.1} s, engine {}, max reduction {} dB, noise from {}",
            a.input.display(),
            out.path.display(),
            ch,
            sr,
            dur,
            a.engine,
            a.reduction,
            source
        );
        println!(
            "  {} frames of latency compensated (the output lines up with the input); wall {:.2} s, {:.0}x realtime",
            lat,
            wall,
            if wall > 0.0 { dur / wall } else { 0.0 }
        );
    }
    Ok(())
}

fn run_align(a: &AlignArgs) -> Result<()> {
    let t0 = Instant::now();
    for p in [&a.guide, &a.dub] {
        if same_file(p, &a.out) {
            return Err(Error::Output {
                path: a.out.clone(),
                msg: "is an input: write the output to another file".into(),
            });
        }
    }
    if !(a.tolerance.is_finite() && a.tolerance >= 0.0) {
        return Err(Error::Invalid(format!(
            "--tolerance {}: give a duration in ms, 0 or more",
            a.tolerance
        )));
    }
    let dreader = AudioReader::open(&a.dub)?;
    let dinfo = dreader.info().clone();
    let dub_is_wav = dreader.as_wav().is_some();
    drop(dreader);
    if dinfo.channels != 1 {
        return Err(Error::format(
            &a.dub,
            format!(
                "has {} channels: alignment takes a mono dub",
                dinfo.channels
            ),
        ));
    }
    let max = (MAX_ALIGN_S * f64::from(dinfo.sample_rate)) as u64;
    let (g, gsr) = read_mono(&a.guide, max)?;
    let (d, dsr) = read_mono(&a.dub, max)?;
    if gsr != dsr {
        return Err(Error::format(
            &a.dub,
            format!(
                "is at {dsr} Hz but the guide {} is at {gsr} Hz: convert one first",
                a.guide.display()
            ),
        ));
    }
    let opts = AlignOptions {
        tolerance_ms: a.tolerance,
        ..AlignOptions::default()
    };
    let (out, rep) = align(&g, &d, gsr, &opts).map_err(|e| {
        Error::Invalid(format!(
            "{} against {}: {e}",
            a.dub.display(),
            a.guide.display()
        ))
    })?;
    let before = residual(&g, &d, gsr);
    let after = residual(&g, &out, gsr);
    let format = output_format(a.format.as_deref(), dinfo.format)?;
    let (path, frames, clipped) = if rep.warped || a.format.is_some() || !dub_is_wav {
        let mut spec = WavSpec::new(1, gsr, format);
        spec.bext = dinfo.bext.clone();
        let mut w = WavWriter::create(&a.out, spec)?;
        w.write_planar(&[&out])?;
        let f = w.finish()?;
        (f.path, f.frames, f.clipped)
    } else {
        // left alone: the dub's own bytes (no re-quantization, no dither)
        copy_atomic(&a.dub, &a.out)?;
        (a.out.clone(), dinfo.frames, 0)
    };
    let written = Written {
        path,
        frames,
        clipped,
    };
    if written.clipped > 0 && !a.json {
        eprintln!(
            "warning: {}: {} samples clipped at full scale",
            a.out.display(),
            written.clipped
        );
    }
    if a.json {
        let v = json!({
            "guide": a.guide,
            "dub": a.dub,
            "output": written.path,
            "warped": rep.warped,
            "max_warp_ms": rep.max_warp_ms,
            "overall_ratio": rep.overall_ratio,
            "path_cost": rep.path_cost,
            "residual_before": before,
            "residual_after": after,
            "map": rep.map,
            "frames": written.frames,
            "clipped": written.clipped,
            "wall_s": t0.elapsed().as_secs_f64(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serializable")
        );
    } else {
        if rep.warped {
            println!(
                "{} -> {}: warped to {} (largest shift {:.1} ms, speech length ratio {:.3})",
                a.dub.display(),
                written.path.display(),
                a.guide.display(),
                rep.max_warp_ms,
                rep.overall_ratio
            );
        } else {
            println!(
                "{} -> {}: within {} ms of the guide everywhere (largest {:.1} ms): left unchanged",
                a.dub.display(),
                written.path.display(),
                a.tolerance,
                rep.max_warp_ms
            );
        }
        println!(
            "  misalignment in 200 ms windows: median {:.1} ms, 95th percentile {:.1} ms (before: {:.1} / {:.1} ms) over {} windows",
            after.median_ms, after.p95_ms, before.median_ms, before.p95_ms, after.windows
        );
        if !after.unmatched_s.is_empty() {
            let at: Vec<String> = after
                .unmatched_s
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect();
            println!("  could not match at (s): {}", at.join(", "));
        }
    }
    Ok(())
}

struct Written {
    path: PathBuf,
    frames: u64,
    clipped: u64,
}

/// Copies `src` to `dst` through a temporary file beside `dst` and a rename,
/// so that a failure leaves nothing at `dst`.
fn copy_atomic(src: &Path, dst: &Path) -> Result<()> {
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dst.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let r = std::fs::copy(src, &tmp).and_then(|_| std::fs::rename(&tmp, dst));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Output {
            path: dst.to_path_buf(),
            msg: format!("cannot write: {e}"),
        });
    }
    Ok(())
}

fn run_takes(a: &TakesArgs) -> Result<()> {
    let max = MAX_FFT as u64 / 2;
    let (g, gsr) = read_mono(&a.guide, max)?;
    let mut rows = Vec::new();
    for t in &a.takes {
        let (x, sr) = read_mono(t, max)?;
        if sr != gsr {
            return Err(Error::format(
                t,
                format!(
                    "is at {sr} Hz but the guide {} is at {gsr} Hz: convert one first",
                    a.guide.display()
                ),
            ));
        }
        rows.push((t.clone(), score_take(&g, &x, gsr)));
    }
    rows.sort_by(|x, y| x.1.score.total_cmp(&y.1.score));
    if a.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .enumerate()
            .map(|(i, (p, r))| {
                let mut v = serde_json::to_value(r).expect("serializable");
                v["take"] = json!(p);
                v["rank"] = json!(i + 1);
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "guide": a.guide, "takes": v }))
                .expect("serializable")
        );
    } else {
        println!(
            "takes against {} (best first; lower score is better):",
            a.guide.display()
        );
        for (i, (p, r)) in rows.iter().enumerate() {
            println!("{:>2}. {}  score {:.2}", i + 1, p.display(), r.score);
            if let Some(o) = r.offset_samples {
                println!(
                    "      sync {:+.2} samples ({:+.4} s)",
                    o,
                    o / f64::from(gsr)
                );
            }
            for reason in &r.reasons {
                println!("      {reason}");
            }
        }
    }
    Ok(())
}
