//! Speed versions of written deliverables (see [`crate::resample::version`]): every file
//! of a set (a render's deliverables, a feature's long plays) read back and converted in
//! one pass, block by block, so memory is bounded by the block size. The printmaster of
//! the set is measured again as converted (with the set's dialogue stems summed as its
//! dialogue bus): a speed change moves the spectrum under the K-weighting, so its figures
//! are not the original's. bext and iXML carry the new rate and start.
//!
//! A render's speed versions ([`render_versions`]) go to `<out>/<tag>/` with the same
//! deliverables, each file named `<name>_<tag>` (`Title_R1_PM_5.1_25fps.wav`), in the
//! render's one commit; the QC report lists them with their SHA-256, and judges the
//! converted printmaster against the profile.
//!
//! With the pitch corrected, the printmaster leads: the time-stretch of every other file
//! is cut where the printmaster's is, so the stems still sum to the printmaster.

use super::{DeliverableResult, LoudnessBrief, SpeedVersionResult};
use crate::backend::{Analyzer, AnalyzerConfig};
use crate::io::commit::{Staged, staged_tmp};
use crate::io::{
    FinishedFile, OutputFormat, Rf64Mode, SampleFormat, WavReader, WavSpec, WavWriter,
};
use crate::loudness::{
    DialogueGate, HopAnalyzer, LoudnessSummary, Meter, default_true_peak_factor,
};
use crate::resample::StreamResampler;
use crate::resample::stretch::TimeStretch;
use crate::resample::version::{Pitch, SpeedVersion};
use crate::session::{DeliverableKind, Plan, PlanDeliverable, PlanSpeedVersion};
use crate::{Error, Layout, Result};
use std::path::{Path, PathBuf};

/// Frames read per block.
const BLOCK: usize = 1 << 15;

/// A set of files to convert to one speed version.
#[derive(Debug, Clone)]
pub struct SpeedSet<'a> {
    pub version: &'a SpeedVersion,
    pub sample_rate: u32,
    /// The layout of the printmaster (the meter's channels).
    pub layout: Layout,
    /// The version's start (samples since midnight at the new rate): the bext
    /// TimeReference and iXML timestamp of every file.
    pub start: i64,
    pub rf64_threshold: u64,
    pub bw64: bool,
    /// Frames of every source file.
    pub frames: u64,
    /// `(source, destination)` of every file: the source complete (a staged temporary),
    /// the destination a final path (written through a temporary beside it).
    pub files: Vec<(PathBuf, PathBuf)>,
    /// The interleaved printmaster among `files`, in `layout`: metered as converted.
    pub printmaster: Option<usize>,
    /// The dialogue stems among `files` (interleaved, in `layout`), summed as the
    /// printmaster's dialogue bus for the dialogue-gated loudness.
    pub dialogue: Vec<usize>,
}

/// What [`convert`] made: the files (finished, not yet renamed into place), in the
/// order of [`SpeedSet::files`], and the printmaster's loudness as converted.
pub struct Converted {
    pub files: Vec<FinishedFile>,
    pub loudness: Option<LoudnessSummary>,
}

/// The output format a deliverable read back was written in.
pub fn output_format(f: SampleFormat, path: &Path) -> Result<OutputFormat> {
    match f {
        SampleFormat::Int(16) => Ok(OutputFormat::Pcm16),
        SampleFormat::Int(24) => Ok(OutputFormat::Pcm24),
        SampleFormat::Float(32) => Ok(OutputFormat::Float32),
        other => Err(Error::format(
            path,
            format!("{other:?} is not a deliverable format"),
        )),
    }
}

/// One file being converted: its reader, converter and writer.
struct Conv {
    src: PathBuf,
    reader: WavReader,
    engine: Engine,
    writer: WavWriter,
    input: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
}

enum Engine {
    Follow(Box<StreamResampler>),
    Corrected(Box<TimeStretch>),
}

impl Engine {
    fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) -> Result<()> {
        match self {
            Engine::Follow(r) => r.push(input, output),
            Engine::Corrected(s) => s.push(input, output),
        }
    }
    fn finish(&mut self, output: &mut [Vec<f32>]) -> Result<()> {
        match self {
            Engine::Follow(r) => r.finish(output),
            Engine::Corrected(s) => s.finish(output),
        }
    }
}

/// The dither seed of a file: from its name, so the bytes do not depend on the order.
fn seed_of(name: &Path) -> u64 {
    let name = name.file_name().map(|n| n.to_string_lossy().into_owned());
    let h = crate::sha256_hex(name.unwrap_or_default().as_bytes());
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
}

/// Converts every file of `set`; `progress` gets the source frames done after each block
/// and may stop the work with an error (a stop asked): the temporary files are removed.
pub fn convert(
    set: &SpeedSet<'_>,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<Converted> {
    let v = set.version;
    let sr = set.sample_rate;
    let mut convs: Vec<Conv> = Vec::with_capacity(set.files.len());
    for (src, dest) in &set.files {
        let reader = WavReader::open(src)?;
        let info = reader.info().clone();
        let mut bext = info.bext.clone().unwrap_or_default();
        bext.description = format!("{}, {}", bext.description, v.describe());
        bext.time_reference = set.start.max(0) as u64;
        bext.loudness = Default::default();
        let spec = WavSpec {
            channels: info.channels,
            sample_rate: info.sample_rate,
            format: output_format(info.format, dest)?,
            channel_mask: info.channel_mask.unwrap_or(0),
            bext: Some(bext),
            rf64: Rf64Mode::Auto {
                threshold: set.rf64_threshold,
            },
            bw64: set.bw64,
            dither_seed: seed_of(dest),
        };
        let mut builder = WavWriter::builder(dest, spec);
        if let Some(mut x) = info.ixml.clone() {
            x.note = v.describe();
            if let Some(s) = &mut x.speed {
                let rate = crate::io::ixml::rate_text(v.to_rate);
                s.master_speed = rate.clone();
                s.timecode_rate = rate;
                s.timecode_flag = if v.to_rate.is_drop() { "DF" } else { "NDF" }.into();
                s.timestamp_samples_since_midnight = Some(set.start.max(0) as u64);
            }
            builder = builder.ixml(x);
        }
        let writer = builder.create()?;
        let nch = info.channels as usize;
        let engine = match v.pitch {
            Pitch::Follow => Engine::Follow(Box::new(StreamResampler::with_speed(nch, v.ratio)?)),
            Pitch::Corrected => Engine::Corrected(Box::new(TimeStretch::new(nch, sr, v.ratio)?)),
        };
        convs.push(Conv {
            src: src.clone(),
            reader,
            engine,
            writer,
            input: vec![Vec::with_capacity(BLOCK); nch],
            output: vec![Vec::new(); nch],
        });
    }
    // The printmaster's meter, with the dialogue stems summed as its dialogue bus.
    let chans = set.layout.channels();
    let mut meter = match set.printmaster {
        Some(p) => {
            let n = convs[p].input.len();
            let cfg = |tp| AnalyzerConfig {
                channels: n,
                sample_rate: sr,
                true_peak_oversample: tp,
            };
            let a = HopAnalyzer::new(&cfg(default_true_peak_factor(sr)))?.with_running_true_peak();
            let mut m = Meter::new(sr, chans)?;
            let da = if set.dialogue.is_empty() {
                None
            } else {
                m = m.with_dialogue(chans);
                Some(HopAnalyzer::new(&cfg(0))?)
            };
            Some((a, da, m))
        }
        None => None,
    };
    let mut left = set.frames;
    let mut done_frames = 0u64;
    let mut done = false;
    while !done {
        let n = (left as usize).min(BLOCK);
        // The printmaster (or the first file) leads: with the pitch corrected, every
        // other file is cut where it is.
        let leader = set.printmaster.unwrap_or(0);
        let order = std::iter::once(leader).chain((0..convs.len()).filter(|&i| i != leader));
        let mut cuts = Vec::new();
        for (pos, ci) in order.enumerate() {
            let Some(c) = convs.get_mut(ci) else { break };
            if let (Engine::Corrected(s), true) = (&mut c.engine, pos > 0) {
                s.follow(&cuts);
            }
            for o in &mut c.output {
                o.clear();
            }
            if n > 0 {
                let got = c.reader.read_planar(&mut c.input, n)?;
                if got != n {
                    return Err(Error::format(&c.src, "the file ended early"));
                }
                let inp: Vec<&[f32]> = c.input.iter().map(|x| &x[..n]).collect();
                c.engine.push(&inp, &mut c.output)?;
            } else {
                c.engine.finish(&mut c.output)?;
            }
            if let Engine::Corrected(s) = &mut c.engine {
                let t = s.take_placements();
                if pos == 0 {
                    cuts = t;
                }
            }
            let o: Vec<&[f32]> = c.output.iter().map(|x| x.as_slice()).collect();
            c.writer.write_planar(&o)?;
        }
        if let (Some((a, da, m)), Some(p)) = (&mut meter, set.printmaster) {
            let o: Vec<&[f32]> = convs[p].output.iter().map(|x| x.as_slice()).collect();
            a.push(&o)?;
            m.push_hops(&a.take_hops()?)?;
            if let Some(da) = da {
                let len = o.first().map_or(0, |x| x.len());
                let mut sum = vec![vec![0f32; len]; o.len()];
                for &di in &set.dialogue {
                    for (s, x) in sum.iter_mut().zip(&convs[di].output) {
                        for (a, b) in s.iter_mut().zip(x) {
                            *a += b;
                        }
                    }
                }
                let sp: Vec<&[f32]> = sum.iter().map(|x| x.as_slice()).collect();
                da.push(&sp)?;
                m.push_dialogue_hops(&da.take_hops()?)?;
            }
        }
        left -= n as u64;
        done = n == 0;
        done_frames += n as u64;
        progress(done_frames)?;
    }
    let mut loudness = None;
    if let (Some((mut a, da, mut m)), Some(p)) = (meter, set.printmaster) {
        m.push_hops(&a.finish()?)?;
        if let Some(mut da) = da {
            m.push_dialogue_hops(&da.finish()?)?;
        }
        let s = m.summary(&DialogueGate::default(), true);
        let w = &mut convs[p].writer;
        if let Some(mut b) = w.bext().cloned() {
            b.loudness = s.bext();
            w.set_bext(b)?;
        }
        loudness = Some(s);
    }
    let want = v.samples(set.frames);
    let mut files = Vec::with_capacity(convs.len());
    for c in convs {
        let f = c.writer.finish_unrenamed()?;
        let w = f.written();
        if w.frames != want {
            return Err(Error::Output {
                path: w.path.clone(),
                msg: format!("{} frames written, expected {want}", w.frames),
            });
        }
        files.push(f);
    }
    Ok(Converted { files, loudness })
}

/// The folder of a render's speed version: `<out>/<tag>/` (`25fps/`, `23.976fps_pc/`).
pub fn version_dir(out: &Path, v: &SpeedVersion) -> PathBuf {
    out.join(&v.tag)
}

/// The deliverables a render's speed version converts, renamed for it
/// (`<name>_<tag>`: `Title_R1_PM_5.1_25fps.wav`), with their index in the plan.
pub fn version_deliverables(plan: &Plan, pv: &PlanSpeedVersion) -> Vec<(usize, PlanDeliverable)> {
    plan.deliverables
        .iter()
        .enumerate()
        .filter(|(_, d)| pv.covers(d.kind))
        .map(|(i, d)| {
            let name = format!("{}_{}", d.name, pv.version.tag);
            (i, PlanDeliverable { name, ..d.clone() })
        })
        .collect()
}

/// The speed versions of a render's deliverables, read back from their staged files
/// (complete, not yet renamed into place) and staged beside them in `<out>/<tag>/` for the
/// render's one commit. `measured` says whether the printmaster is measured again (a QC
/// render); `progress(version, source frames done)` may stop the work with an error.
pub(super) fn render_versions(
    plan: &Plan,
    out_dir: &Path,
    results: &[DeliverableResult],
    staged: &[Staged],
    measured: bool,
    progress: &dyn Fn(usize, u64) -> Result<()>,
) -> Result<(Vec<SpeedVersionResult>, Vec<Staged>)> {
    let mut out = Vec::new();
    let mut staged_out = Vec::new();
    for (vi, pv) in plan.speed_versions.iter().enumerate() {
        let v = &pv.version;
        let dir = version_dir(out_dir, v);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let start = v.carry(plan.start_samples, plan.sample_rate);
        let mut set = SpeedSet {
            version: v,
            sample_rate: plan.sample_rate,
            layout: plan.layout,
            start,
            rf64_threshold: plan.rf64_threshold,
            bw64: plan.bw64,
            frames: plan.length,
            files: Vec::new(),
            printmaster: None,
            dialogue: Vec::new(),
        };
        let mut taken = Vec::new();
        for (i, d) in version_deliverables(plan, pv) {
            let d0 = &plan.deliverables[i];
            let r = results.iter().find(|r| r.name == d0.name).ok_or_else(|| {
                Error::Invalid(format!("deliverable '{}' was not rendered", d0.name))
            })?;
            let first = set.files.len();
            let pm =
                d.kind == DeliverableKind::Printmaster && !d.multi_mono && d.layout == plan.layout;
            if measured && pm && set.printmaster.is_none() {
                set.printmaster = Some(first);
            }
            if measured && d0.is_dialogue_stem(plan) {
                set.dialogue.push(first);
            }
            for (w, name) in r.files.iter().zip(d.files()) {
                let src = staged_tmp(staged, &w.path)?;
                set.files.push((src.to_path_buf(), dir.join(name)));
            }
            taken.push((d, r, first..set.files.len()));
        }
        let converted = convert(&set, &mut |d| progress(vi, d))?;
        progress(vi, plan.length)?;
        let frames = v.samples(plan.length);
        let mut written = Vec::new();
        for f in converted.files {
            let (st, w) = f.into_staged();
            staged_out.push(st);
            written.push(w);
        }
        let mut deliverables = Vec::new();
        let mut printmaster = None;
        for (d, r, range) in taken {
            let files = written[range.clone()].to_vec();
            let is_pm = set.printmaster.is_some_and(|p| range.contains(&p));
            if is_pm {
                printmaster = converted.loudness.clone().map(|s| (deliverables.len(), s));
            }
            deliverables.push(DeliverableResult {
                name: d.name.clone(),
                peak_dbfs: files
                    .iter()
                    .flat_map(|f| f.peak.iter().map(|&p| super::peak_db(p)))
                    .collect(),
                files,
                frames,
                duration_s: frames as f64 / plan.sample_rate as f64,
                loudness: match (&converted.loudness, is_pm) {
                    (Some(s), true) => LoudnessBrief::from(s),
                    _ => LoudnessBrief::default(),
                },
                ..r.clone()
            });
        }
        out.push(SpeedVersionResult {
            version: v.clone(),
            start_tc: v.tc(start, plan.sample_rate),
            deliverables,
            printmaster,
        });
    }
    Ok((out, staged_out))
}
