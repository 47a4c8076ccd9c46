//! International speed versions of the long plays: the PAL speed-up of a 24 fps feature
//! (`speed = "24/25"`: every film frame becomes a 25 fps video frame, so the programme
//! runs 4 % faster and lasts 24/25 as long), and the 0.1 % pull-down (24 → 23.976 fps)
//! or pull-up (23.976 → 24 fps).
//!
//! The pitch follows the speed, as in a film-to-PAL transfer (a telecine running the
//! film faster): the samples are resampled by the speed's ratio with
//! [`crate::resample::StreamResampler`] (rubato's synchronous FFT resampler, shared with
//! the conform's sample-rate conversion) and played at the original sample rate. The
//! pitch-corrected option (`pitch = "corrected"`) keeps the pitch: the programme is
//! time-stretched by the same ratio instead ([`crate::resample::stretch`]), every file of
//! the version cut where the printmaster is cut, so the stems still sum to it.
//!
//! Frames keep their numbers: a frame `n` frames after the hour on the 24 fps reel is
//! `n` frames after the same hour at the new rate (01:00:08:00 at 24 fps, 192 frames into
//! the hour, becomes 01:00:07:17 at 25 fps), so the FFOA, the LFOA, the reel breaks and
//! the LP's start keep their frame counts, and every sample position is multiplied by the
//! speed's duration factor. bext and iXML carry the new rate and start. The loudness is
//! measured again on the converted printmaster (with the converted dialogue stems as the
//! dialogue bus where the long plays have them): the speed change moves the spectrum
//! under the K-weighting, so the figures are not the original LP's.

use super::Feature;
use super::join::{Join, LongPlay, find, output_format, staged_tmp};
use crate::backend::{Analyzer, AnalyzerConfig};
use crate::io::commit::Staged;
use crate::io::{Rf64Mode, WavReader, WavSpec, WavWriter, WrittenFile};
use crate::loudness::{
    DialogueGate, HopAnalyzer, LoudnessSummary, Meter, default_true_peak_factor,
};
use crate::master::Compliance;
use crate::resample::stretch::TimeStretch;
use crate::resample::{Speed, StreamResampler, output_len};
use crate::session::{DeliverableKind, PlanDeliverable};
use crate::{Error, FrameRate, Result, Timecode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Frames read per block.
const BLOCK: usize = 1 << 15;

/// What happens to the pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Pitch {
    /// The pitch follows the speed (a transfer: 4 % faster is 0.71 semitones higher).
    #[default]
    Follow,
    /// The pitch is kept: the programme is time-stretched.
    Corrected,
}

/// A `[[speed_version]]` table of the feature file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedSpec {
    /// `"24/25"`, `"25/24"`, `"pull-down"`, `"pull-up"` (see [`Speed::parse`]).
    pub speed: String,
    #[serde(default)]
    pub pitch: Pitch,
}

/// A speed version of the feature, resolved against its frame rate.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedVersion {
    /// The speed as written back by [`Speed::label`] (`"24/25"`, `"pull-down"`).
    pub speed: String,
    pub pitch: Pitch,
    /// The feature's rate and the version's.
    pub from_rate: FrameRate,
    pub to_rate: FrameRate,
    /// The name part of its files and folder (`25fps`, `23.976fps`).
    pub tag: String,
    #[serde(skip)]
    pub ratio: Speed,
}

/// The frame rate that `rate` becomes at `speed` (frames keep their count, so the rate
/// is divided by the duration factor), or `None` when no timecode rate runs that fast.
pub fn rate_after(rate: FrameRate, speed: Speed) -> Option<FrameRate> {
    let (n, d) = rate.rational();
    let (nn, nd) = (n * speed.length_den as u64, d * speed.length_num as u64);
    FrameRate::ALL
        .iter()
        .copied()
        .filter(|r| {
            let (a, b) = r.rational();
            a * nd == nn * b
        })
        .min_by_key(|r| u8::from(r.is_drop() != rate.is_drop()))
}

impl SpeedVersion {
    /// Resolves a `[[speed_version]]` for a feature at `rate`; the error is one sentence.
    pub fn resolve(spec: &SpeedSpec, rate: FrameRate) -> std::result::Result<Self, String> {
        let ratio = Speed::parse(&spec.speed).map_err(|e| format!("[[speed_version]] {e}"))?;
        if ratio.is_unity() {
            return Err(format!(
                "[[speed_version]] speed \"{}\" changes nothing",
                spec.speed
            ));
        }
        let to_rate = rate_after(rate, ratio).ok_or_else(|| {
            let (n, d) = rate.rational();
            format!(
                "[[speed_version]] speed \"{}\" would run the feature's {} fps at {:.3} fps, \
                 which no timecode counts (24/25 turns 24 into 25 fps, pull-down 24 into \
                 23.976, pull-up 23.976 into 24)",
                spec.speed,
                rate.name(),
                n as f64 * ratio.length_den as f64 / (d as f64 * ratio.length_num as f64)
            )
        })?;
        let tag = format!("{}fps", to_rate.name());
        Ok(SpeedVersion {
            speed: ratio.label(),
            pitch: spec.pitch,
            from_rate: rate,
            to_rate,
            tag: match spec.pitch {
                Pitch::Follow => tag,
                Pitch::Corrected => format!("{tag}_pc"),
            },
            ratio,
        })
    }

    /// Samples at the new rate for `samples` of the original (the duration factor,
    /// rounded to the nearest sample).
    pub fn samples(&self, samples: u64) -> u64 {
        output_len(samples, self.ratio.length_den, self.ratio.length_num)
    }

    /// A place in the day (samples since midnight) carried to the new rate: the same
    /// hour, and the same number of frames (and samples, scaled) after it.
    pub fn carry(&self, samples: i64, sample_rate: u32) -> i64 {
        let tc = Timecode::from_samples(samples, self.from_rate, sample_rate);
        let hour = |rate| {
            Timecode {
                hours: tc.hours,
                minutes: 0,
                seconds: 0,
                frames: 0,
                rate,
            }
            .to_samples(sample_rate)
        };
        let h0 = hour(self.from_rate);
        let off = (samples - h0).max(0) as u64;
        hour(self.to_rate) + self.samples(off) as i64
    }

    fn tc(&self, samples: i64, sample_rate: u32) -> String {
        Timecode::from_samples(samples, self.to_rate, sample_rate).to_string()
    }

    /// What the version does, in words (bext description, report).
    pub fn describe(&self) -> String {
        format!(
            "{} fps version ({} from {} fps, pitch {})",
            self.to_rate.name(),
            self.speed,
            self.from_rate.name(),
            match self.pitch {
                Pitch::Follow => "follows the speed",
                Pitch::Corrected => "corrected",
            }
        )
    }
}

/// One long play at another speed.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedLongPlay {
    pub version: SpeedVersion,
    pub label: String,
    pub kind: DeliverableKind,
    pub files: Vec<WrittenFile>,
    pub frames: u64,
    pub start_tc: String,
    /// The reel breaks at the new speed (LP samples scaled by the duration factor).
    pub joins: Vec<Join>,
    /// The converted printmaster, measured as written (interleaved printmaster only).
    pub loudness: Option<LoudnessSummary>,
    /// The converted printmaster against the feature's profile.
    pub compliance: Option<Compliance>,
    pub notes: Vec<String>,
}

/// The folder of a speed version's long plays: `LP_<tag>/`.
pub fn dir_of(out: &Path, v: &SpeedVersion) -> PathBuf {
    out.join(format!("LP_{}", v.tag))
}

/// One file being converted: its reader, converter and writer.
struct Conv {
    lp: usize,
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

fn seed_of(name: &str) -> u64 {
    u64::from_str_radix(&crate::sha256_hex(name.as_bytes())[..16], 16).unwrap_or(0)
}

/// Writes every speed version of every long play, staged like the long plays (for the
/// caller's commit); reads the long plays from their staged temporaries. Every file of a
/// version is converted in one pass, block by block (memory bounded by the block size).
pub fn write_speed_versions(
    f: &Feature,
    out: &Path,
    lps: &[LongPlay],
    lp_staged: &[Staged],
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<(Vec<SpeedLongPlay>, Vec<Staged>)> {
    let total = lps.first().map_or(0, |l| l.frames) * f.speed_versions.len() as u64;
    let mut done_frames = 0u64;
    let mut result = Vec::new();
    let mut staged = Vec::new();
    let r1 = &f.reels[0];
    let sr = r1.sample_rate;
    for v in &f.speed_versions {
        let dir = dir_of(out, v);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lp_frames = lps.first().map_or(0, |l| l.frames);
        let lp_start = r1.start_samples + super::join::reel_span(f, 0).0 as i64;
        let start = v.carry(lp_start, sr);
        let mut convs: Vec<Conv> = Vec::new();
        let mut pm: Option<usize> = None;
        let mut dialogue: Vec<usize> = Vec::new();
        for (li, lp) in lps.iter().enumerate() {
            let d0 = find(r1, &lp.label)?;
            let d = PlanDeliverable {
                name: format!(
                    "{}_LP_{}_{}",
                    crate::session::sanitize(&f.title),
                    v.tag,
                    lp.label
                ),
                ..d0.clone()
            };
            let names = crate::pipeline::deliverable_files(&d);
            for (k, w0) in lp.files.iter().enumerate() {
                let src = staged_tmp(lp_staged, &out.join(&w0.path))?;
                let reader = WavReader::open(src)?;
                let info = reader.info().clone();
                let mut bext = info.bext.clone().unwrap_or_default();
                bext.description = format!("{}, {}", bext.description, v.describe());
                bext.time_reference = start.max(0) as u64;
                bext.loudness = Default::default();
                let dest = dir.join(&names[k]);
                let spec = WavSpec {
                    channels: info.channels,
                    sample_rate: info.sample_rate,
                    format: output_format(info.format, &dest)?,
                    channel_mask: info.channel_mask.unwrap_or(0),
                    bext: Some(bext),
                    rf64: Rf64Mode::Auto {
                        threshold: r1.rf64_threshold,
                    },
                    bw64: r1.bw64,
                    dither_seed: seed_of(&names[k]),
                };
                let mut builder = WavWriter::builder(&dest, spec);
                if let Some(mut x) = info.ixml.clone() {
                    x.note = v.describe();
                    if let Some(s) = &mut x.speed {
                        let rate = crate::io::ixml::rate_text(v.to_rate);
                        s.master_speed = rate.clone();
                        s.timecode_rate = rate;
                        s.timecode_flag = if v.to_rate.is_drop() { "DF" } else { "NDF" }.into();
                        s.timestamp_samples_since_midnight = Some(start.max(0) as u64);
                    }
                    builder = builder.ixml(x);
                }
                let writer = builder.create()?;
                let nch = info.channels as usize;
                let engine = match v.pitch {
                    Pitch::Follow => {
                        Engine::Follow(Box::new(StreamResampler::with_speed(nch, v.ratio)?))
                    }
                    Pitch::Corrected => {
                        Engine::Corrected(Box::new(TimeStretch::new(nch, sr, v.ratio)?))
                    }
                };
                if lp.loudness.is_some() && k == 0 && !d0.multi_mono {
                    pm = Some(convs.len());
                }
                let is_dialogue = d0.kind == DeliverableKind::Stems
                    && !d0.multi_mono
                    && d0.layout == r1.layout
                    && d0
                        .bus
                        .is_some_and(|b| r1.buses.get(b).is_some_and(|x| x.dialogue));
                if is_dialogue {
                    dialogue.push(convs.len());
                }
                convs.push(Conv {
                    lp: li,
                    reader,
                    engine,
                    writer,
                    input: vec![Vec::with_capacity(BLOCK); nch],
                    output: vec![Vec::new(); nch],
                });
            }
        }
        // The printmaster's meter, with the dialogue stems summed as its dialogue bus.
        let chans = r1.layout.channels();
        let mut meter = match pm {
            Some(p) => {
                let n = convs[p].input.len();
                let cfg = |tp| AnalyzerConfig {
                    channels: n,
                    sample_rate: sr,
                    true_peak_oversample: tp,
                };
                let a =
                    HopAnalyzer::new(&cfg(default_true_peak_factor(sr)))?.with_running_true_peak();
                let mut m = Meter::new(sr, chans)?;
                let da = if dialogue.is_empty() {
                    None
                } else {
                    m = m.with_dialogue(chans);
                    Some(HopAnalyzer::new(&cfg(0))?)
                };
                Some((a, da, m))
            }
            None => None,
        };
        let mut left = lp_frames;
        let mut done = false;
        while !done {
            let n = (left as usize).min(BLOCK);
            // The printmaster (or the first file) leads: with the pitch corrected, every
            // other file is cut where it is, so the stems still sum to the printmaster.
            let leader = pm.unwrap_or(0);
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
                        return Err(Error::format(
                            &lps[c.lp].files[0].path,
                            "the long play ended early",
                        ));
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
            if let Some((a, da, m)) = &mut meter {
                let p = &convs[pm.expect("metered")];
                let o: Vec<&[f32]> = p.output.iter().map(|x| x.as_slice()).collect();
                a.push(&o)?;
                m.push_hops(&a.take_hops()?)?;
                if let Some(da) = da {
                    let len = o.first().map_or(0, |x| x.len());
                    let mut sum = vec![vec![0f32; len]; o.len()];
                    for &di in &dialogue {
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
            if let Some(p) = progress {
                p(done_frames, total);
            }
        }
        let mut loudness = None;
        if let Some((mut a, da, mut m)) = meter {
            m.push_hops(&a.finish()?)?;
            if let Some(mut da) = da {
                m.push_dialogue_hops(&da.finish()?)?;
            }
            let s = m.summary(&DialogueGate::default(), true);
            let w = &mut convs[pm.expect("metered")].writer;
            if let Some(mut b) = w.bext().cloned() {
                b.loudness = s.bext();
                w.set_bext(b)?;
            }
            loudness = Some(s);
        }
        let want = v.samples(lp_frames);
        let pm_lp = pm.map(|p| convs[p].lp);
        let mut files: Vec<Vec<WrittenFile>> = vec![Vec::new(); lps.len()];
        for c in convs {
            let (st, mut w) = c.writer.finish_unrenamed()?.into_staged();
            if w.frames != want {
                return Err(Error::Output {
                    path: w.path.clone(),
                    msg: format!("{} frames written, expected {want}", w.frames),
                });
            }
            w.path = w.path.strip_prefix(out).unwrap_or(&w.path).to_path_buf();
            files[c.lp].push(w);
            staged.push(st);
        }
        for (li, (lp, files)) in lps.iter().zip(files).enumerate() {
            let is_pm = pm_lp == Some(li);
            let joins = lp
                .joins
                .iter()
                .zip(&f.reels)
                .map(|(j, p)| {
                    let at = v.samples(j.lp_sample);
                    let reel0 = v.carry(p.start_samples, sr);
                    Join {
                        reel: j.reel,
                        lp_sample: at,
                        lp_tc: v.tc(start + at as i64, sr),
                        reel_from: v.samples(j.reel_from),
                        reel_to: v.samples(j.reel_to),
                        reel_ffoa_tc: v.tc(reel0 + v.samples(j.reel_from) as i64, sr),
                        reel_lfoa_tc: v.tc(reel0 + v.samples(p.lfoa.max(0) as u64) as i64, sr),
                        verified: j.verified,
                        detail: format!(
                            "reel {} at LP sample {at} (the {} fps LP's {} × {}/{})",
                            j.reel,
                            v.from_rate.name(),
                            j.lp_sample,
                            v.ratio.length_num,
                            v.ratio.length_den
                        ),
                    }
                })
                .collect();
            let (loud, compliance, mut notes) = if is_pm {
                let s = loudness.clone();
                let c = match (&f.profile, &s) {
                    (Some(p), Some(s)) => Some(crate::master::check(s, p)),
                    _ => None,
                };
                let mut notes = Vec::new();
                if dialogue.is_empty() {
                    notes.push(
                        "no dialogue stem long play: the dialogue-gated loudness of this \
                         version is not measured"
                            .to_string(),
                    );
                }
                (s, c, notes)
            } else {
                (None, None, Vec::new())
            };
            notes.push(v.describe());
            result.push(SpeedLongPlay {
                version: v.clone(),
                label: lp.label.clone(),
                kind: lp.kind,
                files,
                frames: want,
                start_tc: v.tc(start, sr),
                joins,
                loudness: loud,
                compliance,
                notes,
            });
        }
    }
    Ok((result, staged))
}
