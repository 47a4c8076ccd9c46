//! The streaming render: stems -> buses -> deliverables, block by block.
//!
//! Memory is bounded by the block size, the number of channels and the
//! processing state, never by the reel's length. Every deliverable is written
//! to a temporary file beside its final path and renamed only when the whole
//! render succeeded, so a failed render leaves nothing at a final path.
//! Work is spread over threads per stem, per output channel and per file, and
//! each unit is computed in a fixed order, so the bytes do not depend on the
//! thread count.
//!
//! Two halves overlap: while one block is written, metered and checked, the next
//! is read and mixed. On the CPU backend, stems without inserts, sends or a 2-pop
//! check are decoded from their files (positional reads, tiles of the block in
//! parallel) straight into the bus sums, with the arithmetic and order of
//! `cpu::sum_stems`: the same bytes as through [`Backend::sum`], without a planar
//! copy of every stem crossing memory.

use crate::backend::{
    Analyzer, AnalyzerConfig, Backend, BackendInfo, FileSource, Hop, Routing, SourceSum, SumJob,
    SumSource, insert_chain,
};
use crate::io::{
    AudioReader, FinishedFile, OutputFormat, Rf64Mode, WavReader, WavSpec, WavWriter,
    first_non_finite,
};
use crate::loudness::{DialogueGate, LoudnessSummary, Meter, default_true_peak_factor};
use crate::master::{Limiter, LimiterOptions, Normalization, OnFailure};
use crate::mix::downmix_matrix;
use crate::mix::matrix::{LtRtEncoder, MatrixOptions};
use crate::qc::{NullTest, PopDetector, PopResult, QcDetectors, TimeBase};
use crate::session::{DeliverableKind, Plan, PlanDeliverable, PlanStem};
use crate::stem::Envelope;
use crate::stem::chain::InsertChain;
use crate::{Error, Result};
use serde::Serialize;

// The results the report reads are defined in the report layer, below the engine.
pub use crate::render_report::{DeliverableResult, LoudnessBrief};
use std::path::{Path, PathBuf};

/// Frames per block unless the caller asks otherwise: the CPU backend's
/// [`crate::backend::cpu::BLOCK_FRAMES`] (a caller with another backend asks it,
/// [`Backend::preferred_block_frames`]). The output does not depend on it.
pub const DEFAULT_BLOCK_FRAMES: usize = crate::backend::cpu::BLOCK_FRAMES;

/// Render settings.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Where deliverables go (created if missing).
    pub out_dir: PathBuf,
    /// Frames per processing block.
    pub block_frames: usize,
    /// Meter and check every deliverable and write `qc/report.{json,html}` (the default).
    /// Off, the render is a plain print: files, peaks, hashes and the manifest, no
    /// loudness, no QC report (refused when the session names a delivery profile).
    pub qc: bool,
    /// Set (by a signal handler) to stop the render: it is checked once per block, and
    /// the render then returns [`Error::Cancelled`] having removed its temporary files.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl RenderOptions {
    /// Default options writing into `out_dir`, with QC.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        RenderOptions {
            out_dir: out_dir.into(),
            block_frames: DEFAULT_BLOCK_FRAMES,
            qc: true,
            cancel: None,
        }
    }
}

/// A progress callback: (frames done, frames total).
pub type ProgressFn<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// What a render did.
#[derive(Debug, Clone, Serialize)]
pub struct RenderSummary {
    pub title: String,
    pub reel: u32,
    pub session: PathBuf,
    pub session_sha256: String,
    pub sample_rate: u32,
    pub frame_rate: String,
    pub start_timecode: String,
    pub frames: u64,
    pub duration_s: f64,
    pub backend: BackendInfo,
    pub deliverables: Vec<DeliverableResult>,
    /// The checksum file (`sha256sum -c` format) beside the deliverables.
    pub manifest: PathBuf,
    /// `qc/report.html` (with `qc/report.json` beside it); `None` when QC was off.
    pub qc_report: Option<PathBuf>,
    /// Overall QC status: pass, warn, fail (or "not checked" when QC was off).
    pub qc_status: String,
    /// Deliverables that miss the delivery profile (rendered anyway under `on_failure = "flag"`).
    pub qc_problems: Vec<String>,
    /// What loudness normalization did, when the session names a profile.
    pub normalization: Option<NormalizationResult>,
    /// Every failed or warned QC check, one line each (the verdict's reasons).
    pub qc_issues: Vec<crate::render_report::QcLine>,
    /// The printmaster's loudness checks against the delivery profile (pass or not),
    /// or its figures when there is no profile.
    pub qc_loudness: Vec<crate::render_report::QcLine>,
    /// The CPU the render ran on (its features can change float results on some
    /// backends; the CPU reference gives the same bytes everywhere).
    pub cpu: crate::backend::CpuInfo,
    pub wall_s: f64,
    pub x_realtime: f64,
}

/// Converts a linear peak to dBFS (`None` for zero).
pub fn peak_db(p: f32) -> Option<f64> {
    (p > 0.0).then(|| 20.0 * (p as f64).log10())
}

/// Reads one stem onto the reel timeline, block after block.
pub struct StemReader {
    id: String,
    readers: Vec<AudioReader>,
    /// file channel -> layout index
    map: Vec<usize>,
    frames: u64,
    offset: i64,
    channels: usize,
    scratch: Vec<Vec<f32>>,
    start_samples: i64,
    plan_rate: (crate::FrameRate, u32),
    /// layout index -> file channel (one file; the inverse of `map`).
    file_channel: Vec<usize>,
    /// A track's clips, read in place of the stem's files.
    track: Option<crate::timeline::TrackReader>,
}

impl StemReader {
    /// Opens the stem's files, positioned for reel sample `t0`.
    pub fn open(stem: &PlanStem, plan: &Plan, t0: i64) -> Result<StemReader> {
        let track = (!stem.clips.is_empty())
            .then(|| crate::timeline::TrackReader::open(stem))
            .transpose()?;
        let mut readers = Vec::new();
        for p in stem.paths.iter().filter(|_| track.is_none()) {
            readers.push(AudioReader::open(p).map_err(|e| Error::stem(&stem.id, e.to_string()))?);
        }
        check_unchanged(stem, plan, &readers)?;
        let local = (t0 - stem.offset).clamp(0, stem.frames as i64) as u64;
        for r in &mut readers {
            r.seek(local)
                .map_err(|e| Error::stem(&stem.id, e.to_string()))?;
        }
        Ok(StemReader {
            id: stem.id.clone(),
            readers,
            map: stem.file_to_layout.clone(),
            frames: stem.frames,
            offset: stem.offset,
            channels: stem.layout.len(),
            scratch: vec![Vec::new(); stem.layout.len()],
            start_samples: plan.start_samples,
            plan_rate: (plan.frame_rate, plan.sample_rate),
            file_channel: {
                let mut inv = vec![0; stem.file_to_layout.len()];
                for (c, &li) in stem.file_to_layout.iter().enumerate() {
                    if let Some(v) = inv.get_mut(li) {
                        *v = c;
                    }
                }
                inv
            },
            track,
        })
    }

    /// The stem's one WAV file, for positional reads (`None` for FLAC or multi-mono).
    fn direct(&self) -> Option<&WavReader> {
        if self.track.is_some() {
            return None;
        }
        match self.readers.as_slice() {
            [r] if self.map.len() == self.channels => r.as_wav(),
            _ => None,
        }
    }

    /// The error for a NaN or infinite sample at `frame` of the file `info`, channel
    /// `c` (0-based).
    fn non_finite(&self, info: &crate::io::WavInfo, frame: i64, c: usize) -> Error {
        non_finite_error(
            &self.id,
            self.start_samples + self.offset,
            self.plan_rate,
            info,
            frame,
            c,
        )
    }

    /// Fills `out` (layout order, `n` frames each) with reel samples `t0 .. t0 + n`
    /// (silence outside the stem). Calls must be consecutive.
    pub fn read_block(&mut self, t0: i64, n: usize, out: &mut [Vec<f32>]) -> Result<()> {
        if let Some(t) = &mut self.track {
            return t.read_block(t0, n, out);
        }
        let a = (t0 - self.offset).max(0);
        let b = (t0 + n as i64 - self.offset).min(self.frames as i64);
        let want = (b - a).max(0) as usize;
        let dst = (a + self.offset - t0).max(0) as usize;
        // A block wholly inside the stem takes the decoded buffers as they are;
        // otherwise the block is silence around the stem's part.
        let whole = dst == 0 && want == n;
        if !whole {
            for ch in out.iter_mut() {
                ch.clear();
                ch.resize(n, 0.0);
            }
        }
        if b <= a {
            return Ok(());
        }
        let mut file_ch = 0;
        for r in &mut self.readers {
            let nch = r.info().channels as usize;
            let got = r
                .read_planar(&mut self.scratch[..nch], want)
                .map_err(|e| Error::stem(&self.id, e.to_string()))?;
            if got != want {
                return Err(Error::stem(
                    &self.id,
                    format!(
                        "{} ended after {} of {} frames (truncated?)",
                        r.info().path.display(),
                        a as usize + got,
                        self.frames
                    ),
                ));
            }
            for c in 0..nch {
                let li = self.map[file_ch + c];
                let src = &self.scratch[c][..want];
                let found = if r.may_hold_non_finite() {
                    first_non_finite(src)
                } else {
                    None
                };
                if let Some(k) = found {
                    return Err(non_finite_error(
                        &self.id,
                        self.start_samples + self.offset,
                        self.plan_rate,
                        r.info(),
                        a + k as i64,
                        c,
                    ));
                }
                if whole {
                    std::mem::swap(&mut out[li], &mut self.scratch[c]);
                } else {
                    out[li][dst..dst + want].copy_from_slice(src);
                }
            }
            file_ch += nch;
        }
        debug_assert_eq!(file_ch, self.channels);
        Ok(())
    }
}

/// A stem's files must still be what [`crate::Session::resolve`] checked (a file
/// re-bounced during a long render would otherwise be read at the wrong speed, or
/// with channels the plan has no place for).
fn check_unchanged(stem: &PlanStem, plan: &Plan, readers: &[AudioReader]) -> Result<()> {
    let per_file = if readers.len() == 1 {
        stem.layout.len()
    } else {
        1
    };
    for r in readers {
        let i = r.info();
        if usize::from(i.channels) != per_file
            || i.sample_rate != plan.sample_rate
            || i.frames != stem.frames
        {
            return Err(Error::stem(
                &stem.id,
                format!(
                    "{} changed after the session was checked: it now holds {} channel(s) at {} Hz, {} frames, where {per_file} channel(s) at {} Hz, {} frames were checked; render again",
                    i.path.display(),
                    i.channels,
                    i.sample_rate,
                    i.frames,
                    plan.sample_rate,
                    stem.frames
                ),
            ));
        }
    }
    Ok(())
}

/// The error for a NaN or infinite sample of stem `id` at `frame` of its file `info`,
/// channel `c` (0-based); `start` is the file's first sample on the timecode scale.
fn non_finite_error(
    id: &str,
    start: i64,
    rate: (crate::FrameRate, u32),
    info: &crate::io::WavInfo,
    frame: i64,
    c: usize,
) -> Error {
    let tc = crate::Timecode::from_samples(start + frame, rate.0, rate.1);
    Error::stem(
        id,
        format!(
            "{} holds a NaN or infinite sample at {tc} (frame {frame} of the file, channel {})",
            info.path.display(),
            c + 1
        ),
    )
}

/// Checks that no deliverable would overwrite an input and the folder is writable.
fn check_outputs(plan: &Plan, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::Output {
        path: out_dir.to_path_buf(),
        msg: format!("cannot create the output folder: {e}"),
    })?;
    let probe = out_dir.join(format!(".dubstage-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| Error::Output {
        path: out_dir.to_path_buf(),
        msg: format!("the output folder is not writable: {e}"),
    })?;
    let _ = std::fs::remove_file(&probe);
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let dir = canon(out_dir);
    let inputs: Vec<PathBuf> = plan
        .stems
        .iter()
        .flat_map(|s| s.paths.iter().map(|p| canon(p)))
        .chain(std::iter::once(canon(&plan.session_path)))
        .collect();
    for d in &plan.deliverables {
        for f in deliverable_files(d) {
            let p = dir.join(&f);
            if inputs.contains(&p) {
                return Err(Error::Output {
                    path: p,
                    msg: format!(
                        "deliverable '{}' would overwrite an input of the session",
                        d.name
                    ),
                });
            }
        }
    }
    Ok(())
}

/// File names of a deliverable (one, or one per channel for multi-mono).
pub fn deliverable_files(d: &PlanDeliverable) -> Vec<String> {
    d.files()
}

/// The writers of one deliverable.
struct Output {
    plan: PlanDeliverable,
    writers: Vec<WavWriter>,
    /// Fold-down from the mix layout (BS.775 Lo/Ro, 7.1 -> 5.1, ...), when the layouts differ.
    convert: Option<Vec<f32>>,
    /// The 4:2:4 matrix encoder of an Lt/Rt deliverable (stateful: the Hilbert pair).
    ltrt: Option<LtRtEncoder>,
    scratch: Vec<Vec<f32>>,
    /// Loudness and QC of what is written (`None` when QC is off).
    watch: Option<Watch>,
}

impl Output {
    fn create(
        plan: &Plan,
        d: &PlanDeliverable,
        index: usize,
        dir: &Path,
        watch: Option<Watch>,
    ) -> Result<Output> {
        let mut writers = Vec::new();
        let files = deliverable_files(d);
        for (k, f) in files.iter().enumerate() {
            let (channels, mask) = if d.multi_mono {
                (1, d.layout.channels()[k].mono_mask())
            } else {
                (d.layout.len() as u16, d.layout.channel_mask())
            };
            let spec = WavSpec {
                channels,
                sample_rate: plan.sample_rate,
                format: d.format,
                channel_mask: mask,
                bext: Some(crate::io::Bext {
                    description: format!(
                        "{} reel {} {} {}",
                        plan.title,
                        plan.reel,
                        match d.kind {
                            DeliverableKind::Printmaster => "printmaster",
                            DeliverableKind::Me => "M&E",
                            DeliverableKind::Stems => "DME stem",
                            DeliverableKind::Loro => "Lo/Ro downmix",
                            DeliverableKind::Ltrt => "Lt/Rt matrix encode",
                        },
                        d.layout.name()
                    ),
                    originator: "dubstage".into(),
                    originator_reference: format!("dubstage-{}", &plan.session_sha256[..12]),
                    time_reference: plan.start_samples.max(0) as u64,
                    version: 2,
                    coding_history: format!(
                        "A=PCM,F={},W={},M={},T=dubstage {}\r\n",
                        plan.sample_rate,
                        match d.format {
                            OutputFormat::Pcm16 => 16,
                            OutputFormat::Pcm24 => 24,
                            OutputFormat::Float32 => 32,
                        },
                        if channels == 1 {
                            "mono".to_string()
                        } else {
                            d.layout.name().to_string()
                        },
                        crate::VERSION
                    ),
                    ..Default::default()
                }),
                rf64: Rf64Mode::Auto {
                    threshold: plan.rf64_threshold,
                },
                bw64: plan.bw64,
                dither_seed: plan
                    .dither_seed
                    .wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                    .wrapping_add(k as u64),
            };
            let mut w = WavWriter::create(&dir.join(f), spec)?.with_ixml(plan.ixml(d, k))?;
            if watch.is_none() {
                // Nothing is added to the header after the audio (no loudness in bext):
                // the header is final now, and the file is hashed as it is written.
                w.expect_frames(plan.length)?;
            }
            writers.push(w);
        }
        Ok(Output {
            plan: d.clone(),
            writers,
            convert: (d.layout != plan.layout && d.kind != DeliverableKind::Ltrt)
                .then(|| downmix_matrix(plan.layout, d.layout)),
            ltrt: match d.kind {
                DeliverableKind::Ltrt => Some(LtRtEncoder::new(
                    plan.layout,
                    plan.sample_rate,
                    &MatrixOptions::default(),
                )?),
                _ => None,
            },
            scratch: vec![Vec::new(); d.layout.len()],
            watch,
        })
    }

    /// Converts the mix channels to the deliverable's layout (fold-downs go through
    /// `scratch`), writes them, and hands them to the deliverable's meters and detectors
    /// (the two at once on native targets).
    fn process(&mut self, mix: &[&[f32]], dx_hops: &[Hop]) -> Result<()> {
        let Output {
            plan,
            writers,
            convert,
            ltrt,
            scratch,
            watch,
        } = self;
        let chans: Vec<&[f32]> = match convert {
            None if ltrt.is_some() => {
                let n = mix[0].len();
                let (a, b) = scratch.split_at_mut(1);
                a[0].resize(n, 0.0);
                b[0].resize(n, 0.0);
                ltrt.as_mut()
                    .expect("checked")
                    .process(mix, &mut a[0][..n], &mut b[0][..n]);
                scratch.iter().map(|v| &v[..n]).collect()
            }
            None => mix.to_vec(),
            Some(m) => {
                let ni = mix.len();
                for (o, y) in scratch.iter_mut().enumerate() {
                    y.clear();
                    y.resize(mix[0].len(), 0.0);
                    for (i, x) in mix.iter().enumerate() {
                        let g = m[o * ni + i];
                        if g != 0.0 {
                            y.iter_mut().zip(x.iter()).for_each(|(y, x)| *y += g * *x);
                        }
                    }
                }
                scratch.iter().map(|v| v.as_slice()).collect()
            }
        };
        if let Some(w) = watch.as_mut() {
            w.detectors.push_matrix(mix, &chans)?;
        }
        let mut write = || -> Result<()> {
            if plan.multi_mono {
                for (w, c) in writers.iter_mut().zip(&chans) {
                    w.write_planar(std::slice::from_ref(c))?;
                }
                Ok(())
            } else {
                writers[0].write_planar(&chans)
            }
        };
        let Some(watch) = watch else {
            return write();
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (a, b) = rayon::join(write, || watch.push(&chans, dx_hops));
            a.and(b)
        }
        #[cfg(target_arch = "wasm32")]
        {
            write()?;
            watch.push(&chans, dx_hops)
        }
    }
}

/// Mixed audio of one block: buses, dialogue, M&E, printmaster (all in the mix layout).
#[derive(Default)]
pub struct MixBlock {
    /// `buses * channels` planar outputs of the sum.
    pub buses: Vec<Vec<f32>>,
    pub dialogue: Vec<Vec<f32>>,
    pub me: Vec<Vec<f32>>,
    pub printmaster: Vec<Vec<f32>>,
}

/// The mixing engine: stems in, buses and mixes out, one block at a time.
pub struct Mixer<'p> {
    plan: &'p Plan,
    readers: Vec<StemReader>,
    /// The last block of every stem the mixer reads into memory (those with inserts or
    /// sends, or not in one WAV file), on the reel timeline.
    pub stem_bufs: Vec<Vec<Vec<f32>>>,
    envelopes: Vec<Vec<f32>>,
    stem_env: Vec<Envelope>,
    bus_env: Vec<Envelope>,
    ret_env: Vec<Envelope>,
    /// Per stem, per send: the send level envelope.
    send_env: Vec<Vec<Envelope>>,
    ret_bufs: Vec<Vec<Vec<f32>>>,
    chains: Vec<InsertChain>,
    ret_chains: Vec<InsertChain>,
    /// How stems and returns reach the bus outputs.
    routing: Routing,
    /// Per stem: how far ahead it is read (its insert chain's latency), so the
    /// chain's output lands in sync with the reel.
    lead: Vec<i64>,
    /// Which stems the sum reads straight from their files (decided on the first block).
    direct: Option<Vec<bool>>,
    /// Next reel sample.
    pub pos: u64,
}

impl<'p> Mixer<'p> {
    /// Opens every stem at the start of the reel and builds the insert chains.
    pub fn new(plan: &'p Plan, backend: &dyn Backend) -> Result<Mixer<'p>> {
        let nch = plan.layout.len();
        let nb = plan.buses.len();
        let ns = plan.stems.len();
        let stem_in: usize = plan.stems.iter().map(|s| s.layout.len()).sum();
        let total_in = stem_in + plan.returns.iter().map(|r| r.layout.len()).sum::<usize>();
        let mut matrix = vec![0.0f32; nb * nch * total_in];
        let mut col = 0;
        // Stems, then returns: each routed into its bus's channels.
        let sources = plan
            .stems
            .iter()
            .map(|s| (s.bus, s.layout.len(), &s.matrix))
            .chain(
                plan.returns
                    .iter()
                    .map(|r| (r.bus, r.layout.len(), &r.matrix)),
            );
        let mut widths = Vec::new();
        for (bus, w, m) in sources {
            for o in 0..nch {
                for i in 0..w {
                    matrix[(bus * nch + o) * total_in + col + i] = m[o * w + i];
                }
            }
            widths.push(w);
            col += w;
        }
        let routing = Routing::new(nb * nch, widths, matrix)?;
        let chains = plan
            .stems
            .iter()
            .map(|s| {
                insert_chain(
                    backend,
                    &s.inserts,
                    plan.sample_rate,
                    s.layout.len(),
                    &plan.base_dir,
                    &s.id,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut chains = chains;
        let lead: Vec<i64> = chains.iter().map(|c| c.latency() as i64).collect();
        let mut readers = plan
            .stems
            .iter()
            .map(|s| StemReader::open(s, plan, 0))
            .collect::<Result<Vec<_>>>()?;
        // A chain with latency gets the stem's first `lead` frames now (its output,
        // from before the reel, is dropped); from then on the stem is read `lead`
        // frames ahead, so the chain's output lines up with the reel. (The 2-pop check
        // reads the stems as recorded, in a window of its own.)
        for ((s, &l), (r, c)) in plan
            .stems
            .iter()
            .zip(&lead)
            .zip(readers.iter_mut().zip(chains.iter_mut()))
        {
            if l > 0 {
                let mut buf = vec![Vec::new(); s.layout.len()];
                r.read_block(0, l as usize, &mut buf)?;
                c.process(&mut buf, l as usize)?;
            }
        }
        let ret_chains = plan
            .returns
            .iter()
            .map(|r| {
                insert_chain(
                    backend,
                    &r.inserts,
                    plan.sample_rate,
                    r.layout.len(),
                    &plan.base_dir,
                    &r.id,
                )
                .map_err(|e| Error::Invalid(format!("return '{}': {e}", r.id)))
            })
            .collect::<Result<Vec<_>>>()?;
        let env = |gain_db: f64, points: &Vec<(i64, f64)>, mute: bool| Envelope {
            gain_db,
            points: points.clone(),
            mute,
        };
        Ok(Mixer {
            plan,
            stem_bufs: plan
                .stems
                .iter()
                .map(|s| vec![Vec::new(); s.layout.len()])
                .collect(),
            envelopes: vec![Vec::new(); ns + plan.returns.len()],
            stem_env: plan
                .stems
                .iter()
                .map(|s| env(s.gain_db, &s.automation, s.mute))
                .collect(),
            bus_env: plan
                .buses
                .iter()
                .map(|b| env(b.gain_db, &b.automation, false))
                .collect(),
            ret_env: plan
                .returns
                .iter()
                .map(|r| env(r.gain_db, &r.automation, false))
                .collect(),
            send_env: plan
                .stems
                .iter()
                .map(|s| {
                    s.sends
                        .iter()
                        .map(|x| env(x.db, &x.automation, s.mute))
                        .collect()
                })
                .collect(),
            ret_bufs: plan
                .returns
                .iter()
                .map(|r| vec![Vec::new(); r.layout.len()])
                .collect(),
            chains,
            ret_chains,
            lead,
            readers,
            routing,
            direct: None,
            pos: 0,
        })
    }

    /// The stems the sum reads straight from their files ([`SumSource::File`]): plain
    /// stems (no inserts or sends) of one WAV file each, where positional reads work.
    fn direct_stems(&self) -> Vec<bool> {
        let ok = crate::io::wav::POSITIONAL_READS;
        self.plan
            .stems
            .iter()
            .zip(&self.chains)
            .zip(&self.readers)
            .map(|((s, c), r)| ok && c.is_empty() && s.sends.is_empty() && r.direct().is_some())
            .collect()
    }

    /// Sums every send into its return and runs the returns' inserts.
    fn run_sends(&mut self, backend: &mut dyn Backend, t0: i64, n: usize) -> Result<()> {
        let plan = self.plan;
        for (ri, ret) in plan.returns.iter().enumerate() {
            let w = ret.layout.len();
            let mut inputs: Vec<&[f32]> = Vec::new();
            let mut envelope_of = Vec::new();
            let mut envs: Vec<Vec<f32>> = Vec::new();
            let mut cols: Vec<(usize, &[f32])> = Vec::new();
            for (si, s) in plan.stems.iter().enumerate() {
                for (k, send) in s.sends.iter().enumerate().filter(|(_, x)| x.to == ri) {
                    let mut e = vec![0.0f32; n];
                    self.send_env[si][k].fill(t0, &mut e, false);
                    if !send.pre_fader {
                        self.stem_env[si].fill(t0, &mut e, true);
                    }
                    for c in &self.stem_bufs[si] {
                        inputs.push(&c[..n]);
                        envelope_of.push(envs.len());
                    }
                    cols.push((s.layout.len(), &send.matrix));
                    envs.push(e);
                }
            }
            let ni = inputs.len();
            let matrix = crate::backend::side_by_side(w, &cols);
            let env_refs: Vec<&[f32]> = envs.iter().map(|v| v.as_slice()).collect();
            let job = SumJob {
                frames: n,
                inputs: &inputs,
                envelope_of: &envelope_of,
                envelopes: &env_refs,
                matrix: &matrix,
                outputs: w,
            };
            if ni == 0 {
                for b in &mut self.ret_bufs[ri] {
                    b.clear();
                    b.resize(n, 0.0);
                }
            } else {
                backend.sum(&job, &mut self.ret_bufs[ri])?;
            }
        }
        // The returns' inserts (reverbs), in parallel: each return is independent.
        let work = self.ret_chains.iter_mut().zip(self.ret_bufs.iter_mut());
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            let v: Vec<_> = work.collect();
            v.into_par_iter()
                .map(|(c, b)| c.process(b, n))
                .collect::<Result<Vec<()>>>()?;
        }
        #[cfg(target_arch = "wasm32")]
        for (c, b) in work {
            c.process(b, n)?;
        }
        Ok(())
    }

    /// Mixes the next `n` frames into `out`.
    pub fn next_block(
        &mut self,
        backend: &mut dyn Backend,
        n: usize,
        out: &mut MixBlock,
    ) -> Result<()> {
        let t0 = self.pos as i64;
        let plan = self.plan;
        if self.direct.is_none() {
            self.direct = Some(self.direct_stems());
        }
        let direct = self.direct.clone().unwrap_or_default();
        // Read every other stem (in parallel on native targets; each is independent).
        {
            let work = self
                .readers
                .iter_mut()
                .zip(self.stem_bufs.iter_mut())
                .zip(&self.lead)
                .zip(&direct)
                .filter(|(_, d)| !**d)
                .map(|(w, _)| w);
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                let v: Vec<_> = work.collect();
                v.into_par_iter()
                    .map(|((r, b), l)| r.read_block(t0 + l, n, b))
                    .collect::<Result<Vec<()>>>()?;
            }
            #[cfg(target_arch = "wasm32")]
            for ((r, b), l) in work {
                r.read_block(t0 + l, n, b)?;
            }
        }
        // Inserts, stem by stem (in parallel; tails ring on through the silence after a stem).
        {
            let work = self
                .chains
                .iter_mut()
                .zip(self.stem_bufs.iter_mut())
                .filter(|(c, _)| !c.is_empty());
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                let v: Vec<_> = work.collect();
                v.into_par_iter()
                    .map(|(c, b)| c.process(b, n))
                    .collect::<Result<Vec<()>>>()?;
            }
            #[cfg(target_arch = "wasm32")]
            for (c, b) in work {
                c.process(b, n)?;
            }
        }
        if !plan.returns.is_empty() {
            self.run_sends(backend, t0, n)?;
        }
        for (si, s) in plan.stems.iter().enumerate() {
            let e = &mut self.envelopes[si];
            e.resize(n, 0.0);
            self.stem_env[si].fill(t0, e, false);
            self.bus_env[s.bus].fill(t0, e, true);
        }
        let ns = plan.stems.len();
        for (ri, r) in plan.returns.iter().enumerate() {
            let e = &mut self.envelopes[ns + ri];
            e.resize(n, 0.0);
            self.ret_env[ri].fill(t0, e, false);
            self.bus_env[r.bus].fill(t0, e, true);
        }
        let nch = plan.layout.len();
        let nb = plan.buses.len();
        out.buses.resize(nb * nch, Vec::new());
        // Plain stems are read by the sum itself, straight from their files.
        let files: Vec<Option<(&StemReader, &WavReader)>> = self
            .readers
            .iter()
            .zip(&direct)
            .map(|(r, &d)| if d { r.direct().map(|w| (r, w)) } else { None })
            .collect();
        let errors: Vec<_> = files
            .iter()
            .map(|f| f.map(|(r, w)| move |frame: i64, c: usize| r.non_finite(w.info(), frame, c)))
            .collect();
        let sources: Vec<SumSource<'_>> = files
            .iter()
            .zip(&errors)
            .zip(&self.stem_bufs)
            .map(|((f, e), b)| match (f, e) {
                (Some((r, wav)), Some(e)) => SumSource::File(FileSource {
                    id: &r.id,
                    wav,
                    offset: r.offset,
                    frames: r.frames,
                    file_channel: &r.file_channel,
                    non_finite: e,
                }),
                _ => SumSource::Planar(b),
            })
            .chain(self.ret_bufs.iter().map(|b| SumSource::Planar(b)))
            .collect();
        let envs: Vec<&[f32]> = self.envelopes.iter().map(|v| &v[..n]).collect();
        let job = SourceSum {
            t0,
            frames: n,
            sources: &sources,
            envelopes: &envs,
            routing: &self.routing,
        };
        backend.sum_sources(&job, &mut out.buses)?;
        derive_mixes(plan, n, out);
        self.pos += n as u64;
        Ok(())
    }
}

/// Dialogue = Σ dialogue buses, M&E = Σ other buses (in bus order),
/// printmaster = M&E + dialogue.
fn derive_mixes(plan: &Plan, n: usize, out: &mut MixBlock) {
    let nch = plan.layout.len();
    for v in [&mut out.dialogue, &mut out.me, &mut out.printmaster] {
        v.resize(nch, Vec::new());
        for c in v.iter_mut() {
            c.resize(n, 0.0);
        }
    }
    // Each sum starts as `0.0 + first bus` (so -0.0 becomes +0.0, as before), then
    // adds the others in bus order; an empty sum is zeros.
    let (mut dx_first, mut me_first) = (true, true);
    for (b, bus) in plan.buses.iter().enumerate() {
        let (dst, first) = if bus.dialogue {
            (&mut out.dialogue, &mut dx_first)
        } else {
            (&mut out.me, &mut me_first)
        };
        for (c, d) in dst.iter_mut().enumerate().take(nch) {
            let src = &out.buses[b * nch + c][..n];
            let d = &mut d[..n];
            if *first {
                d.iter_mut().zip(src).for_each(|(d, s)| *d = 0.0 + *s);
            } else {
                d.iter_mut().zip(src).for_each(|(d, s)| *d += *s);
            }
        }
        *first = false;
    }
    for (v, first) in [(&mut out.dialogue, dx_first), (&mut out.me, me_first)] {
        if first {
            v.iter_mut().for_each(|c| c[..n].fill(0.0));
        }
    }
    for c in 0..nch {
        let (me, dx, pm) = (&out.me[c], &out.dialogue[c], &mut out.printmaster[c]);
        if dx_first {
            // No dialogue bus: M&E + 0.0 is the M&E itself (it holds no -0.0).
            pm[..n].copy_from_slice(&me[..n]);
        } else {
            for ((p, m), d) in pm.iter_mut().zip(me).zip(dx) {
                *p = *m + *d;
            }
        }
    }
}

/// The channels of a deliverable within a mixed block.
fn deliverable_channels<'a>(
    plan: &Plan,
    d: &PlanDeliverable,
    m: &'a MixBlock,
    n: usize,
) -> Vec<&'a [f32]> {
    let nch = plan.layout.len();
    match d.kind {
        DeliverableKind::Printmaster | DeliverableKind::Loro | DeliverableKind::Ltrt => {
            m.printmaster.iter().map(|v| &v[..n]).collect()
        }
        DeliverableKind::Me => m.me.iter().map(|v| &v[..n]).collect(),
        DeliverableKind::Stems => {
            let b = d.bus.expect("stems deliverable has a bus");
            m.buses[b * nch..(b + 1) * nch]
                .iter()
                .map(|v| &v[..n])
                .collect()
        }
    }
}

/// Loudness and QC state of one deliverable during the render.
struct Watch {
    analyzer: Box<dyn Analyzer>,
    meter: Meter,
    detectors: QcDetectors,
    /// Gets the dialogue hops (printmaster and its downmixes).
    dialogue: bool,
}

impl Watch {
    fn new(
        plan: &Plan,
        backend: &dyn Backend,
        d: &PlanDeliverable,
        time: TimeBase,
    ) -> Result<Watch> {
        let chans = d.layout.channels();
        let dialogue = matches!(
            d.kind,
            DeliverableKind::Printmaster | DeliverableKind::Loro | DeliverableKind::Ltrt
        );
        let mut meter = Meter::new(plan.sample_rate, chans)?;
        if dialogue {
            meter = meter.with_dialogue(plan.layout.channels());
        }
        let (start, end) = programme_span(plan);
        Ok(Watch {
            analyzer: backend.summary_analyzer(&analyzer_config(plan, chans.len()))?,
            meter,
            detectors: QcDetectors::new(&plan.qc, chans, time)?
                .with_programme(start, Some(end))
                .with_matrix_source((d.kind == DeliverableKind::Ltrt).then_some(plan.layout))?,
            dialogue,
        })
    }

    fn push(&mut self, chans: &[&[f32]], dx_hops: &[Hop]) -> Result<()> {
        self.analyzer.push(chans)?;
        self.meter.push_hops(&self.analyzer.take_hops()?)?;
        if self.dialogue {
            self.meter.push_dialogue_hops(dx_hops)?;
        }
        self.detectors.push(chans)
    }

    fn finish(&mut self, dx_hops: &[Hop]) -> Result<()> {
        self.meter.push_hops(&self.analyzer.finish()?)?;
        if self.dialogue {
            self.meter.push_dialogue_hops(dx_hops)?;
        }
        Ok(())
    }
}

/// The programme span for the QC detectors: from the first frame of action to the end
/// (the leader with its 2-pop is left out).
fn programme_span(plan: &Plan) -> (u64, u64) {
    ((plan.ffoa.max(0) as u64).min(plan.length), plan.length)
}

fn analyzer_config(plan: &Plan, channels: usize) -> AnalyzerConfig {
    AnalyzerConfig {
        channels,
        sample_rate: plan.sample_rate,
        true_peak_oversample: default_true_peak_factor(plan.sample_rate),
    }
}

/// The analyzer of the dialogue bus for stem-gated dialogue loudness, or `None` when the
/// session has no dialogue bus (the gate then finds no dialogue, exactly as with a silent
/// bus). Gating needs the bus's energy only, so its true peak is off.
fn dialogue_analyzer(plan: &Plan, backend: &dyn Backend) -> Result<Option<Box<dyn Analyzer>>> {
    if !plan.buses.iter().any(|b| b.dialogue) {
        return Ok(None);
    }
    backend
        .analyzer(&AnalyzerConfig {
            true_peak_oversample: 0,
            ..analyzer_config(plan, plan.layout.len())
        })
        .map(Some)
}

/// Pass 1 of a normalizing render: the printmaster's loudness (with the dialogue bus
/// for stem-gated dialogue loudness) over the reel samples `span`, without writing
/// anything (the whole reel for a session's render, the programme for a feature's reel).
/// `progress` gets the frames mixed so far. The CLI preview runs it too, to play the
/// render's gain.
pub fn measure_mix(
    plan: &Plan,
    backend: &mut dyn Backend,
    block_frames: usize,
    span: (u64, u64),
    progress: &dyn Fn(u64) -> Result<()>,
) -> Result<Meter> {
    let chans = plan.layout.channels();
    let mut pm = backend.summary_analyzer(&analyzer_config(plan, chans.len()))?;
    let mut dx = dialogue_analyzer(plan, backend)?;
    let mut meter = Meter::new(plan.sample_rate, chans)?
        .with_dialogue(chans)
        .without_timeline();
    let mut mixer = Mixer::new(plan, backend)?;
    let mut block = MixBlock::default();
    let end = span.1.min(plan.length);
    while mixer.pos < end {
        let at = mixer.pos;
        let n = ((end - at) as usize).min(block_frames);
        mixer.next_block(backend, n, &mut block)?;
        let (a, b) = (
            (span.0.max(at) - at) as usize,
            (end.min(at + n as u64) - at) as usize,
        );
        if a >= b {
            progress(mixer.pos)?;
            continue;
        }
        let p: Vec<&[f32]> = block.printmaster.iter().map(|v| &v[a..b]).collect();
        let d: Vec<&[f32]> = block.dialogue.iter().map(|v| &v[a..b]).collect();
        pm.push(&p)?;
        meter.push_hops(&pm.take_hops()?)?;
        if let Some(dx) = &mut dx {
            dx.push(&d)?;
            meter.push_dialogue_hops(&dx.take_hops()?)?;
        }
        progress(mixer.pos)?;
    }
    meter.push_hops(&pm.finish()?)?;
    if let Some(dx) = &mut dx {
        meter.push_dialogue_hops(&dx.finish()?)?;
    }
    Ok(meter)
}

/// The 2-pop check of every stem, expected at reel sample `at`: each detector reads
/// its own search window from the stem's files (as recorded, before any insert), so the
/// mix itself may read plain stems straight into the sum.
fn check_pops(plan: &Plan, time: TimeBase, at: u64) -> Result<Vec<PopResult>> {
    let work = |s: &PlanStem| -> Result<PopResult> {
        let mut p = PopDetector::new(&s.id, s.layout.channels(), time, at, &plan.qc)?;
        let w = p.window();
        let (a, b) = (w.start.min(plan.length), w.end.min(plan.length));
        let mut reader = StemReader::open(s, plan, a as i64)?;
        let mut bufs = vec![Vec::new(); s.layout.len()];
        let mut t = a;
        while t < b {
            let n = ((b - t) as usize).min(DEFAULT_BLOCK_FRAMES);
            reader.read_block(t as i64, n, &mut bufs)?;
            let v: Vec<&[f32]> = bufs.iter().map(|c| &c[..n]).collect();
            p.push_at(t, &v)?;
            t += n as u64;
        }
        Ok(p.finish())
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        plan.stems.par_iter().map(work).collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        plan.stems.iter().map(work).collect()
    }
}

/// Frames of every mix waiting for the limiter's verdict (the limiter delays the
/// printmaster; the buses, the dialogue and the M&E wait here for the same gain).
#[derive(Default)]
struct Pending {
    buses: Vec<Vec<f32>>,
    dialogue: Vec<Vec<f32>>,
    me: Vec<Vec<f32>>,
}

impl Pending {
    fn push(&mut self, b: &MixBlock, n: usize) {
        for (dst, src) in [
            (&mut self.buses, &b.buses),
            (&mut self.dialogue, &b.dialogue),
            (&mut self.me, &b.me),
        ] {
            dst.resize(src.len(), Vec::new());
            for (d, s) in dst.iter_mut().zip(src) {
                d.extend_from_slice(&s[..n]);
            }
        }
    }

    /// Moves the first `k` frames of every mix into `out`, scaled by `gain`.
    fn pop(&mut self, k: usize, gain: &[f32], out: &mut MixBlock) {
        for (src, dst) in [
            (&mut self.buses, &mut out.buses),
            (&mut self.dialogue, &mut out.dialogue),
            (&mut self.me, &mut out.me),
        ] {
            dst.resize(src.len(), Vec::new());
            for (s, d) in src.iter_mut().zip(dst.iter_mut()) {
                d.clear();
                d.extend(s.drain(..k).zip(gain).map(|(x, g)| x * g));
            }
        }
    }
}

fn scale_block(b: &mut MixBlock, g: f32, n: usize) {
    for v in b
        .buses
        .iter_mut()
        .chain(&mut b.dialogue)
        .chain(&mut b.me)
        .chain(&mut b.printmaster)
    {
        v[..n].iter_mut().for_each(|x| *x *= g);
    }
}

/// What normalization did, for the summary and the report.
#[derive(Debug, Clone, Serialize)]
pub struct NormalizationResult {
    /// The profile's decision from the pass-1 measurement.
    pub plan: Normalization,
    /// The limiter's statistics, when it ran.
    pub limiter: Option<crate::master::LimiterStats>,
}

/// Renders every deliverable of `plan` into `opts.out_dir`, with its QC report in
/// `opts.out_dir/qc/`. With a delivery profile, a first pass measures the printmaster,
/// and the second applies one static gain to every mix (printmaster, M&E, stems), then a
/// channel-linked true-peak limiter on the printmaster whose gain is applied, sample for
/// sample, to the M&E and the stems too (so the null test still holds).
pub fn render(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
) -> Result<RenderSummary> {
    // The render loop runs on a worker of the thread pool: each block's
    // `rayon::join` of producer and consumer then hands its other half to the
    // other worker directly, instead of the calling thread injecting the join into
    // the pool and sleeping until it is done (a wake-up per block).
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::scope(|_| render_on_this_thread(plan, backend, opts, progress, None))
    }
    #[cfg(target_arch = "wasm32")]
    {
        render_on_this_thread(plan, backend, opts, progress, None)
    }
}

/// Renders `plan` with a normalization decided elsewhere (a feature's reel: the gain
/// comes from the whole feature's loudness, `before` is the reel's own measurement):
/// no measuring pass; the gain and the limiter as `preset` says; the reel's printmaster
/// is checked against the profile in its QC report, but a miss does not stop the
/// render (the feature is judged as a whole).
pub fn render_with_normalization(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
    preset: Normalization,
    before: Option<LoudnessSummary>,
) -> Result<RenderSummary> {
    let preset = Some((preset, before));
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::scope(|_| render_on_this_thread(plan, backend, opts, progress, preset))
    }
    #[cfg(target_arch = "wasm32")]
    {
        render_on_this_thread(plan, backend, opts, progress, preset)
    }
}

fn render_on_this_thread(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
    preset: Option<(Normalization, Option<LoudnessSummary>)>,
) -> Result<RenderSummary> {
    let t_start = std::time::Instant::now();
    if let (false, Some(p)) = (opts.qc, &plan.profile) {
        return Err(Error::Invalid(format!(
            "the session names the delivery profile '{}', which needs the loudness meter and \
             the QC report: render with QC (drop --no-qc) or remove the [delivery] profile",
            p.name
        )));
    }
    check_outputs(plan, &opts.out_dir)?;
    // One render at a time in a folder; then the temporaries of dead processes go.
    let _lock = crate::io::commit::OutputLock::acquire(&opts.out_dir)?;
    crate::io::commit::sweep_stale(&opts.out_dir);
    crate::io::commit::sweep_stale(&opts.out_dir.join("qc"));
    let cancelled = || -> Result<()> {
        match &opts.cancel {
            Some(c) if c.load(std::sync::atomic::Ordering::Relaxed) => {
                Err(Error::Cancelled(format!(
                    "the render into {} was stopped; nothing was delivered",
                    opts.out_dir.display()
                )))
            }
            _ => Ok(()),
        }
    };
    // A bad spotting list is an error before any audio is touched.
    let cues = crate::render_report::cues(plan)?;
    let bf = opts.block_frames.max(1);
    let total = plan.length;
    let judged_here = preset.is_none();
    let passes = if plan.profile.is_some() && plan.normalize && preset.is_none() {
        2
    } else {
        1
    };
    let report = |pass: u64, pos: u64| -> Result<()> {
        if let Some(p) = progress {
            p(pass * total + pos, passes * total);
        }
        cancelled()
    };

    // Pass 1: measure, decide the gain and whether the limiter can hold the ceiling.
    let mut before: Option<LoudnessSummary> = None;
    let mut norm: Option<Normalization> = None;
    if let Some((n, b)) = preset {
        before = b;
        norm = Some(n);
    } else if let (Some(profile), true) = (&plan.profile, plan.normalize) {
        let m = measure_mix(plan, backend, bf, (0, plan.length), &|pos| report(0, pos))?
            .summary(&DialogueGate::default(), false);
        let n = crate::master::normalization(&m, profile)?;
        if !n.within_limiter_budget && profile.on_failure == OnFailure::Fail {
            return Err(Error::Delivery(format!(
                "cannot meet {}: the printmaster measures {:.1} LUFS ({}), and reaching {:.1} LUFS \
                 would need {:.1} dB of true-peak limiting, more than the {:.1} dB allowed \
                 (max_limiter_gain_reduction_db); remix, raise the allowance, or set \
                 on_failure = \"flag\"",
                profile.name,
                n.measured_lufs,
                if n.used_fallback {
                    "full programme"
                } else {
                    "measured as the profile asks"
                },
                n.target_lufs,
                n.predicted_gain_reduction_db,
                profile.max_limiter_gain_reduction_db
            )));
        }
        before = Some(m);
        norm = Some(n);
    }
    let gain = norm.as_ref().map_or(1.0, |n| n.gain as f32);
    let limiter = match (&plan.profile, &norm) {
        // Run the limiter when the peak after the gain comes within 1 dB of the ceiling
        // (the pass-1 true peak is a 4x estimate; the limiter verifies at 8x).
        (Some(p), Some(n))
            if n.predicted_true_peak_dbtp
                .is_none_or(|tp| tp > p.true_peak_ceiling_dbtp - 1.0) =>
        {
            Some(Limiter::new(
                plan.layout.len(),
                plan.sample_rate,
                p.true_peak_ceiling_dbtp,
                LimiterOptions::default(),
            )?)
        }
        _ => None,
    };

    // Pass 2: mix, level, limit, write, measure and check. The producer (read, insert,
    // sum, level, limit) works on block i + 1 while the consumer (write, meter, check)
    // works on block i; each keeps its own order, so the bytes do not depend on it.
    let time = TimeBase::new(plan.sample_rate, plan.start_tc);
    let outputs = plan
        .deliverables
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let watch = if opts.qc {
                Some(Watch::new(plan, backend, d, time)?)
            } else {
                None
            };
            Output::create(plan, d, i, &opts.out_dir, watch)
        })
        .collect::<Result<Vec<_>>>()?;
    let chans = plan.layout.channels();
    let mut consumer = Consumer {
        plan,
        dx_analyzer: if opts.qc {
            dialogue_analyzer(plan, backend)?
        } else {
            None
        },
        null: if opts.qc {
            Some(NullTest::new(
                "printmaster - dialogue - M&E",
                chans,
                time,
                &plan.qc,
            )?)
        } else {
            None
        },
        outputs,
    };
    let pop_at = plan.two_pop_sample().filter(|_| opts.qc);
    let pops = match pop_at {
        Some(at) => check_pops(plan, time, at)?,
        None => Vec::new(),
    };
    let mixer = Mixer::new(plan, backend)?;
    let mut producer = Producer {
        mixer,
        limiter,
        gain,
        block_frames: bf,
        block: MixBlock::default(),
        pending: Pending::default(),
        lim_gain: Vec::new(),
        done: false,
    };
    let mut ready = MixBlock::default();
    let mut next = MixBlock::default();
    let mut written = 0u64;
    let mut cur = producer.next(backend, &mut ready)?;
    while let Some(k) = cur {
        #[cfg(not(target_arch = "wasm32"))]
        let (made, used) = rayon::join(
            || producer.next(&mut *backend, &mut next),
            || consumer.consume(&ready, k),
        );
        #[cfg(target_arch = "wasm32")]
        let (used, made) = (
            consumer.consume(&ready, k),
            producer.next(&mut *backend, &mut next),
        );
        used?;
        cur = made?;
        std::mem::swap(&mut ready, &mut next);
        written += k as u64;
        report(passes - 1, written)?;
    }
    if written != total {
        return Err(Error::Backend(format!(
            "render produced {written} frames, expected {total}"
        )));
    }
    let Consumer {
        dx_analyzer,
        null,
        mut outputs,
        ..
    } = consumer;
    let dx_tail = match dx_analyzer {
        Some(mut a) => a.finish()?,
        None => Vec::new(),
    };
    for w in outputs.iter_mut().filter_map(|o| o.watch.as_mut()) {
        w.finish(&dx_tail)?;
    }
    let limiter = producer.limiter;

    // Loudness of each deliverable; the profile decides whether the render may stand.
    let gate = DialogueGate::default();
    let watches: Vec<Option<Watch>> = outputs.iter_mut().map(|o| o.watch.take()).collect();
    let summaries: Vec<Option<LoudnessSummary>> = watches
        .iter()
        .map(|w| w.as_ref().map(|w| w.meter.summary(&gate, true)))
        .collect();
    let lim_stats = limiter.as_ref().map(|l| l.stats());
    let mut failures = Vec::new();
    if let Some(profile) = &plan.profile {
        for (d, s) in plan.deliverables.iter().zip(&summaries) {
            if let (DeliverableKind::Printmaster, Some(s)) = (d.kind, s) {
                let c = crate::master::check(s, profile);
                if !c.passed {
                    failures.push(format!("{}: {}", d.name, c.messages.join("; ")));
                }
            }
        }
        if !failures.is_empty() && profile.on_failure == OnFailure::Fail && judged_here {
            return Err(Error::Delivery(format!(
                "the render does not meet {} (nothing was delivered): {}",
                profile.name,
                failures.join(" | ")
            )));
        }
    }
    // The bext v2 loudness fields (EBU Tech 3285), then finish every file (header, sync,
    // hash) in parallel, and only when all of them are complete rename them into place:
    // a failure before that leaves nothing at any final path.
    for (o, s) in outputs.iter_mut().zip(&summaries) {
        let Some(s) = s else { continue };
        for w in &mut o.writers {
            if let Some(mut b) = w.bext().cloned() {
                b.loudness = crate::io::BextLoudness {
                    integrated_lufs: s.integrated_lufs,
                    range_lu: s.loudness_range_lu,
                    max_true_peak_dbtp: s.true_peak_dbtp,
                    max_momentary_lufs: s.max_momentary_lufs,
                    max_short_term_lufs: s.max_short_term_lufs,
                };
                w.set_bext(b)?;
            }
        }
    }
    let finish = |o: Output| -> Result<(PlanDeliverable, Vec<FinishedFile>)> {
        let files = o
            .writers
            .into_iter()
            .map(WavWriter::finish_unrenamed)
            .collect::<Result<Vec<_>>>()?;
        Ok((o.plan, files))
    };
    #[cfg(not(target_arch = "wasm32"))]
    let finished: Vec<_> = {
        use rayon::prelude::*;
        outputs
            .into_par_iter()
            .map(finish)
            .collect::<Result<Vec<_>>>()?
    };
    #[cfg(target_arch = "wasm32")]
    let finished: Vec<_> = outputs
        .into_iter()
        .map(finish)
        .collect::<Result<Vec<_>>>()?;
    // Finishing long files takes a while: a stop asked meanwhile is honoured here.
    cancelled()?;
    let mut staged = Vec::new();
    let mut results = Vec::new();
    for ((d, done), s) in finished.into_iter().zip(&summaries) {
        let mut files = Vec::new();
        for f in done {
            let (st, w) = f.into_staged();
            staged.push(st);
            files.push(w);
        }
        let peak: Vec<Option<f64>> = files
            .iter()
            .flat_map(|f| f.peak.iter().map(|&p| peak_db(p)))
            .collect();
        results.push(DeliverableResult {
            name: d.name.clone(),
            kind: d.kind,
            bus: d.bus.map(|b| plan.buses[b].id.clone()),
            layout: d.layout.name().to_string(),
            channels: d
                .layout
                .channels()
                .iter()
                .map(|c| c.label().to_string())
                .collect(),
            format: d.format,
            frames: total,
            duration_s: total as f64 / plan.sample_rate as f64,
            files,
            peak_dbfs: peak,
            loudness: s.as_ref().map(LoudnessBrief::from).unwrap_or_default(),
        });
    }
    let manifest = opts.out_dir.join(MANIFEST);
    staged.push(crate::io::commit::Staged::write(
        &manifest,
        manifest_text(&results).as_bytes(),
    )?);
    let info = backend.info();
    let cpu = crate::backend::CpuInfo::detect();

    // The QC report, staged beside the files and committed with them.
    let qc_dir = opts.out_dir.join("qc");
    let report_paths = [qc_dir.join("report.json"), qc_dir.join("report.html")];
    let mut made_qc_dir = false;
    let mut verdict = (Vec::new(), Vec::new());
    let (qc_report, qc_status) = if opts.qc {
        let summaries: Vec<LoudnessSummary> = summaries.into_iter().flatten().collect();
        let mut qc_report =
            crate::render_report::build_report(crate::render_report::ReportInputs {
                plan,
                backend: &info,
                results: &results,
                summaries: &summaries,
                watches: watches.into_iter().flatten().map(|w| w.detectors).collect(),
                null: null.expect("qc on").finish(),
                pops,
                before: before.as_ref(),
                normalization: norm.as_ref(),
                limiter: lim_stats,
                cues,
            });
        qc_report.backend.cpu = Some(cpu.clone());
        verdict = crate::render_report::verdict_lines(&qc_report);
        if !qc_dir.is_dir() {
            std::fs::create_dir_all(&qc_dir).map_err(|e| Error::io(&qc_dir, e))?;
            made_qc_dir = true;
        }
        let reports = (|| -> Result<Vec<crate::io::commit::Staged>> {
            Ok(vec![
                crate::io::commit::Staged::write(
                    &report_paths[0],
                    crate::qc::to_json(&qc_report)?.as_bytes(),
                )?,
                crate::io::commit::Staged::write(
                    &report_paths[1],
                    crate::qc::html::render(&qc_report).as_bytes(),
                )?,
            ])
        })();
        match reports {
            Ok(r) => staged.extend(r),
            Err(e) => {
                // The staged files are removed as `staged` drops.
                if made_qc_dir {
                    drop(std::mem::take(&mut staged));
                    let _ = std::fs::remove_dir(&qc_dir);
                }
                return Err(e);
            }
        }
        (
            Some(report_paths[1].clone()),
            qc_report.status.as_str().to_string(),
        )
    } else {
        (None, "not checked".to_string())
    };
    // Everything is complete: deliver it all at once, replacing the previous print (a
    // plain print retires an old QC report, which would not describe it).
    let retire: &[PathBuf] = if opts.qc { &[] } else { &report_paths };
    if let Err(e) = crate::io::commit::commit(staged, retire) {
        if made_qc_dir {
            let _ = std::fs::remove_dir(&qc_dir);
        }
        return Err(e);
    }
    let (qc_issues, qc_loudness) = verdict;

    let wall = t_start.elapsed().as_secs_f64();
    let dur = total as f64 / plan.sample_rate as f64;
    Ok(RenderSummary {
        title: plan.title.clone(),
        reel: plan.reel,
        session: plan.session_path.clone(),
        session_sha256: plan.session_sha256.clone(),
        sample_rate: plan.sample_rate,
        frame_rate: plan.frame_rate.name().to_string(),
        start_timecode: plan.start_tc.to_string(),
        frames: total,
        duration_s: dur,
        backend: info,
        deliverables: results,
        manifest,
        qc_report,
        qc_status,
        qc_problems: failures,
        normalization: norm.map(|plan| NormalizationResult {
            plan,
            limiter: lim_stats,
        }),
        qc_issues,
        qc_loudness,
        cpu,
        wall_s: wall,
        x_realtime: if wall > 0.0 {
            dur / wall
        } else {
            f64::INFINITY
        },
    })
}

/// The producer side of pass 2: mixes, levels and limits blocks, in order.
struct Producer<'p> {
    mixer: Mixer<'p>,
    limiter: Option<Limiter>,
    gain: f32,
    block_frames: usize,
    block: MixBlock,
    pending: Pending,
    lim_gain: Vec<f32>,
    done: bool,
}

impl Producer<'_> {
    /// Fills `ready` with the next frames that may be written, `Some(k)` with `k > 0`
    /// (mixing on while the limiter fills its lookahead), or `None` when everything was
    /// produced.
    fn next(&mut self, backend: &mut dyn Backend, ready: &mut MixBlock) -> Result<Option<usize>> {
        let total = self.mixer.plan.length;
        loop {
            if self.done {
                return Ok(None);
            }
            let k = if self.mixer.pos < total {
                let n = ((total - self.mixer.pos) as usize).min(self.block_frames);
                self.mixer.next_block(backend, n, &mut self.block)?;
                if self.gain != 1.0 {
                    scale_block(&mut self.block, self.gain, n);
                }
                match &mut self.limiter {
                    None => {
                        std::mem::swap(&mut self.block, ready);
                        n
                    }
                    Some(l) => {
                        self.pending.push(&self.block, n);
                        let pm: Vec<&[f32]> =
                            self.block.printmaster.iter().map(|v| &v[..n]).collect();
                        ready.printmaster.resize(pm.len(), Vec::new());
                        l.process(&pm, &mut ready.printmaster, &mut self.lim_gain)?;
                        let k = self.lim_gain.len();
                        self.pending.pop(k, &self.lim_gain, ready);
                        k
                    }
                }
            } else {
                self.done = true;
                match &mut self.limiter {
                    None => 0,
                    Some(l) => {
                        ready
                            .printmaster
                            .resize(self.mixer.plan.layout.len(), Vec::new());
                        l.flush(&mut ready.printmaster, &mut self.lim_gain)?;
                        let k = self.lim_gain.len();
                        self.pending.pop(k, &self.lim_gain, ready);
                        k
                    }
                }
            };
            if k > 0 {
                return Ok(Some(k));
            }
        }
    }
}

/// The consumer side of pass 2: writes, meters and checks blocks, in order.
struct Consumer<'p> {
    plan: &'p Plan,
    dx_analyzer: Option<Box<dyn Analyzer>>,
    null: Option<NullTest>,
    outputs: Vec<Output>,
}

impl Consumer<'_> {
    fn consume(&mut self, ready: &MixBlock, k: usize) -> Result<()> {
        let plan = self.plan;
        let dx: Vec<&[f32]> = ready.dialogue.iter().map(|v| &v[..k]).collect();
        let dx_hops = match &mut self.dx_analyzer {
            Some(a) => {
                a.push(&dx)?;
                a.take_hops()?
            }
            None => Vec::new(),
        };
        let work = |o: &mut Output| -> Result<()> {
            let mix = deliverable_channels(plan, &o.plan, ready, k);
            o.process(&mix, &dx_hops)
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            let null = || -> Result<()> {
                if let Some(t) = &mut self.null {
                    let pm: Vec<&[f32]> = ready.printmaster.iter().map(|v| &v[..k]).collect();
                    let me: Vec<&[f32]> = ready.me.iter().map(|v| &v[..k]).collect();
                    t.push(&pm, &[&dx, &me])?;
                }
                Ok(())
            };
            let outputs = &mut self.outputs;
            let (a, b) = rayon::join(null, || {
                outputs
                    .par_iter_mut()
                    .map(work)
                    .collect::<Result<Vec<()>>>()
            });
            a?;
            b?;
        }
        #[cfg(target_arch = "wasm32")]
        {
            if let Some(t) = &mut self.null {
                let pm: Vec<&[f32]> = ready.printmaster.iter().map(|v| &v[..k]).collect();
                let me: Vec<&[f32]> = ready.me.iter().map(|v| &v[..k]).collect();
                t.push(&pm, &[&dx, &me])?;
            }
            self.outputs
                .iter_mut()
                .map(work)
                .collect::<Result<Vec<()>>>()?;
        }
        Ok(())
    }
}

/// Name of the checksum manifest written beside the deliverables.
pub const MANIFEST: &str = "SHA256SUMS";

/// The text of `SHA256SUMS` (the `sha256sum -c` format: hash, two spaces, file name).
fn manifest_text(results: &[DeliverableResult]) -> String {
    let mut text = String::new();
    for f in results.iter().flat_map(|d| &d.files) {
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        text.push_str(&format!("{}  {}\n", f.sha256, name));
    }
    text
}
