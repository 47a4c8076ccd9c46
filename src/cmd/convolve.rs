//! `dubstage convolve IN IR OUT [--map L,R,L,L,L,R]` (hidden): runs the
//! streaming FFT convolution engine on files, for benchmarks and checks.

use dubstage_core::io::{OutputFormat, Rf64Mode, WavReader, WavSpec, WavWriter, WrittenFile};
use dubstage_core::stem::chain::IrChannelRef;
use dubstage_core::stem::convolve::{Convolver, ConvolverOptions, IrMap, Normalize, load_ir};
use dubstage_core::{Error, Layout, Result};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Input WAV (any channel count).
    pub input: PathBuf,
    /// Impulse response WAV (same sample rate).
    pub ir: PathBuf,
    /// Output WAV (32-bit float).
    pub output: PathBuf,
    /// IR channel per input channel: labels (L,R,C,...) or 1-based numbers,
    /// or `true-stereo`. Default: mono IR on all, or one to one.
    #[arg(long)]
    pub map: Option<String>,
    /// Wet level in dB.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub wet_db: f64,
    /// Dry level in dB (default: no dry signal).
    #[arg(long, allow_negative_numbers = true)]
    pub dry_db: Option<f64>,
    /// IR normalization: none, energy, peak.
    #[arg(long, default_value = "none")]
    pub normalize: String,
    /// Predelay of the wet signal in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    pub predelay_ms: f64,
    /// Partition size (power of two); default from the IR length.
    #[arg(long)]
    pub block: Option<usize>,
    /// Let the tail ring out (the output is longer than the input by the IR length − 1).
    #[arg(long)]
    pub tail: bool,
    /// Frames per read (rounded up to a multiple of the partition size).
    #[arg(long, default_value_t = 131_072)]
    pub chunk: usize,
    /// Read, convolve and write one after the other on one thread (for CPU
    /// figures: the convolution's CPU time is then measured alone).
    #[arg(long)]
    pub sequential: bool,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// CPU time (user + system) of this process so far, in seconds (Linux:
/// /proc/self/stat fields 14 and 15, in clock ticks of 1/100 s; elsewhere 0).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // the command name (field 2) may contain spaces: split after its ')'
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

pub fn run(a: &Args) -> Result<()> {
    let t_all = Instant::now();
    let mut reader = WavReader::open(&a.input)?;
    let info = reader.info().clone();
    let ch = info.channels as usize;
    let ir = load_ir(&a.ir, info.sample_rate)?;
    let map = match a.map.as_deref() {
        None => IrMap::Auto,
        Some("true-stereo" | "true_stereo") => IrMap::TrueStereo,
        Some(m) => IrMap::Channels(
            m.split(',')
                .map(|s| {
                    let s = s.trim();
                    let r = match s.parse::<i64>() {
                        Ok(n) => IrChannelRef::Number(n),
                        Err(_) => IrChannelRef::Label(s.to_string()),
                    };
                    r.resolve(ir.channel_count())
                })
                .collect::<std::result::Result<_, _>>()
                .map_err(|m| Error::format(&a.ir, m))?,
        ),
    };
    let normalize = match a.normalize.as_str() {
        "none" => Normalize::None,
        "energy" => Normalize::Energy,
        "peak" => Normalize::Peak,
        o => {
            return Err(Error::Invalid(format!(
                "--normalize {o}: use none, energy or peak"
            )));
        }
    };
    if !(a.predelay_ms >= 0.0 && a.predelay_ms.is_finite()) {
        return Err(Error::Invalid(format!(
            "--predelay-ms {} must be ≥ 0",
            a.predelay_ms
        )));
    }
    let opts = ConvolverOptions {
        wet_db: a.wet_db,
        dry_db: a.dry_db.unwrap_or(f64::NEG_INFINITY),
        normalize,
        predelay_frames: (a.predelay_ms / 1000.0 * info.sample_rate as f64).round() as usize,
        block: a.block,
    };
    let t_setup = Instant::now();
    let mut conv = Convolver::new(&ir, ch, &map, &opts)?;
    let setup = t_setup.elapsed();
    let b = conv.block_frames();
    let chunk = a.chunk.max(1).div_ceil(b) * b;
    let mask = info
        .channel_mask
        .or_else(|| Layout::from_count(ch).map(|l| l.channel_mask()))
        .unwrap_or(0);
    let tail = if a.tail { conv.tail_frames() } else { 0 };
    let builder = WavWriter::builder(
        &a.output,
        WavSpec {
            channels: info.channels,
            sample_rate: info.sample_rate,
            format: OutputFormat::Float32,
            channel_mask: mask,
            bext: None,
            rf64: Rf64Mode::AUTO,
            bw64: false,
            dither_seed: 0,
        },
    );
    let mut writer = if a.sequential {
        builder.create()?
    } else {
        // the length is known: the writer hashes while it writes, on a thread
        // of its own (no read-back), and syncs to disk as it goes (the final
        // sync in finish has little left). Not in --sequential, whose CPU
        // figure for the convolution must not include other threads' work.
        builder
            .expect_frames(info.frames + tail as u64)
            .sync_every(64 << 20)
            .create()?
    };
    let (mut t_read, mut t_conv, mut t_write) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut cpu_conv = 0.0;
    let mut frames_in = 0u64;
    // Yields the next chunk (input, then `tail` zero frames), or None at the end.
    let mut next_chunk = {
        let mut tail_left = tail;
        move |reader: &mut WavReader, buf: &mut Vec<Vec<f32>>| -> Result<Option<usize>> {
            let n = reader.read_planar(buf, chunk)?;
            if n > 0 {
                return Ok(Some(n));
            }
            if tail_left == 0 {
                return Ok(None);
            }
            let n = tail_left.min(chunk);
            tail_left -= n;
            for c in buf.iter_mut() {
                c.clear();
                c.resize(n, 0.0);
            }
            Ok(Some(n))
        }
    };
    let written = if a.sequential {
        let mut buf: Vec<Vec<f32>> = vec![Vec::with_capacity(chunk); ch];
        loop {
            let t = Instant::now();
            let Some(n) = next_chunk(&mut reader, &mut buf)? else {
                break;
            };
            t_read += t.elapsed();
            frames_in += n as u64;
            let (t, c) = (Instant::now(), cpu_seconds());
            conv.process_planar(&mut buf, n);
            t_conv += t.elapsed();
            cpu_conv += cpu_seconds() - c;
            let t = Instant::now();
            let slices: Vec<&[f32]> = buf.iter().map(|c| &c[..n]).collect();
            writer.write_planar(&slices)?;
            t_write += t.elapsed();
        }
        let t = Instant::now();
        let w = writer.finish()?;
        t_write += t.elapsed();
        w
    } else {
        // reader thread -> convolution (this thread) -> writer thread, two chunks in
        // flight; the writer hands its buffers back to the reader (no fresh pages,
        // faults and zeroing for every chunk).
        use std::sync::mpsc::{channel, sync_channel};
        type Chunk = (Vec<Vec<f32>>, usize);
        let (to_conv, from_reader) = sync_channel::<Result<Chunk>>(2);
        let (to_writer, from_conv) = sync_channel::<Chunk>(2);
        let (recycle, recycled) = channel::<Vec<Vec<f32>>>();
        std::thread::scope(|sc| -> Result<_> {
            let reader_thread = sc.spawn(move || {
                let mut t_read = Duration::ZERO;
                loop {
                    let mut buf = recycled
                        .try_recv()
                        .unwrap_or_else(|_| vec![Vec::with_capacity(chunk); ch]);
                    let t = Instant::now();
                    let r = next_chunk(&mut reader, &mut buf);
                    t_read += t.elapsed();
                    match r {
                        Ok(Some(n)) => {
                            if to_conv.send(Ok((buf, n))).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = to_conv.send(Err(e));
                            break;
                        }
                    }
                }
                t_read
            });
            let writer_thread = sc.spawn(move || -> Result<(WrittenFile, Duration)> {
                let mut writer = writer;
                let mut t_write = Duration::ZERO;
                for (buf, n) in from_conv {
                    let t = Instant::now();
                    let slices: Vec<&[f32]> = buf.iter().map(|c| &c[..n]).collect();
                    writer.write_planar(&slices)?;
                    t_write += t.elapsed();
                    let _ = recycle.send(buf);
                }
                let t = Instant::now();
                let w = writer.finish()?;
                Ok((w, t_write + t.elapsed()))
            });
            let mut failed = None;
            for msg in from_reader {
                let (mut buf, n) = match msg {
                    Ok(c) => c,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                frames_in += n as u64;
                let t = Instant::now();
                conv.process_planar(&mut buf, n);
                t_conv += t.elapsed();
                if to_writer.send((buf, n)).is_err() {
                    break;
                }
            }
            drop(to_writer);
            t_read = reader_thread.join().unwrap_or_default();
            let (w, tw) = writer_thread
                .join()
                .map_err(|_| Error::Invalid("writer thread panicked".into()))??;
            t_write = tw;
            match failed {
                Some(e) => Err(e),
                None => Ok(w),
            }
        })?
    };
    let total = t_all.elapsed();
    let secs = frames_in as f64 / info.sample_rate as f64;
    let rt = secs / t_conv.as_secs_f64().max(1e-9);
    if a.json {
        let doc = json!({
            "input": a.input, "ir": a.ir, "output": written.path,
            "channels": ch, "sample_rate": info.sample_rate, "frames_in": frames_in,
            "frames_out": written.frames, "ir_frames": ir.frames(), "ir_channels": ir.channel_count(),
            "block": b, "partitions": conv.partitions(), "chunk": chunk,
            "seconds": { "setup": setup.as_secs_f64(), "read": t_read.as_secs_f64(),
                         "convolve": t_conv.as_secs_f64(), "write": t_write.as_secs_f64(),
                         "total": total.as_secs_f64() },
            "cpu_seconds": { "convolve": a.sequential.then_some(cpu_conv), "total": cpu_seconds() },
            "realtime_factor": rt, "sha256": written.sha256, "non_finite": written.non_finite,
            "threads": rayon::current_num_threads(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "{} -> {}: {ch} ch, {frames_in} frames in, {} out; IR {} ch x {} frames; \
             block {b} x {} partitions",
            a.input.display(),
            written.path.display(),
            written.frames,
            ir.channel_count(),
            ir.frames(),
            conv.partitions()
        );
        println!(
            "time: setup {:.3} s, read {:.3} s, convolve {:.3} s ({rt:.0}x real time, {} threads), \
             write {:.3} s, total {:.3} s{}",
            setup.as_secs_f64(),
            t_read.as_secs_f64(),
            t_conv.as_secs_f64(),
            rayon::current_num_threads(),
            t_write.as_secs_f64(),
            total.as_secs_f64(),
            if a.sequential {
                ""
            } else {
                " (read/convolve/write overlap)"
            }
        );
        if a.sequential {
            println!(
                "cpu: convolve {cpu_conv:.2} s ({:.0}x real time per CPU-second), process {:.2} s",
                secs / cpu_conv.max(0.01),
                cpu_seconds()
            );
        } else {
            println!("cpu: process {:.2} s", cpu_seconds());
        }
    }
    Ok(())
}
