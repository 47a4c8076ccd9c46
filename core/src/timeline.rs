//! Tracks of clips: the editorial timeline in the session.
//!
//! ```toml
//! [[track]]
//! id = "dx_a1"
//! kind = "dialogue"            # as a stem: dialogue, adr, music, effects, foley, backgrounds, custom
//! layout = "mono"              # default: mono (a clip may take several channels: give the layout)
//! [[track.clip]]
//! source = "media/A101_1.WAV"  # a poly file ...
//! # sources = ["media/A101_1_1.WAV", "media/A101_1_2.WAV"]   # ... or a family of mono files
//! channels = ["Boom"]          # by the recorder's iXML track name, or by number: [2] (1-based)
//! source_in = "12:39:59:12"    # in the file's own timecode (bext TimeReference at its iXML rate)
//! # source_in_samples = 24024  # or samples into the file
//! record_in = "01:00:10:00"    # where it lands on the reel (the session's rate)
//! length = "00:00:02:00"       # or length_samples
//! gain_db = 0.0
//! invert_polarity = false      # true: the clip plays inverted
//! fade_in = { frames = 2, shape = "equal-power" }   # linear (default), equal-power, s-curve; or samples = N
//! fade_out = { samples = 480 }
//! handles_samples = [384000, 384000]  # source material kept before and after (not heard)
//! speed = "pull-down"          # optional: "pull-up", or a duration ratio such as "24/25"
//! ```
//!
//! A clip's source may be at another sample rate than the reel (44.1 kHz
//! music, 96 kHz effects) and may declare a speed change (`speed`, the pitch
//! following it as in a film transfer): it is then converted as it plays by
//! the one resampler, [`crate::resample::StreamResampler`] (rubato's
//! synchronous FFT resampler: the ratios are fixed and rational, its output
//! length is exact and it is a pure function of its input, so renders stay
//! deterministic). `source_in_samples` and the handles count source frames,
//! `length_samples` and the fades count reel frames. The converter starts one
//! FFT block before the clip, on real source audio where the file has it, so a
//! clip's first sample is filtered as it would be inside a longer clip; a
//! seek restarts it on the same block grid, so the samples are the same
//! whatever the block size or where reading starts.
//!
//! A track resolves to a [`crate::session::PlanStem`] whose audio comes from
//! its clips ([`PlanClip`]) instead of one file: the mixer, the inserts, the
//! automation, the routing, the preview and the QC treat it as any other stem
//! (one engine). Clips that overlap on a track crossfade over the overlap
//! (equal gain, `linear`, unless the clips give their fades: the right
//! crossfade for the same take on both sides; give `equal-power` for unrelated
//! material). The fade gains are `f(x)` in and `f(1 - x)` out at
//! `x = (i + ½) / L`, so a linear or S-curve crossfade of the same audio sums
//! to the audio itself, and an equal-power one keeps the power.

use crate::io::{AudioReader, WavInfo, recorder};
use crate::resample::{Speed, StreamResampler};
use crate::session::{Breakpoint, PanSpec, PlanBus, PlanStem, Session, StemKind, TcText};
use crate::timecode::Timecode;
use crate::{Error, Layout, Result};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// `[[track]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackSpec {
    pub id: String,
    pub kind: StemKind,
    /// For `custom` tracks: is it dialogue?
    #[serde(default)]
    pub dialogue: bool,
    pub bus: Option<String>,
    /// Default `mono`.
    pub layout: Option<Spanned<String>>,
    #[serde(default)]
    pub gain_db: f64,
    #[serde(default)]
    pub mute: bool,
    pub pan: Option<PanSpec>,
    #[serde(default)]
    pub automation: Vec<Breakpoint>,
    #[serde(default)]
    pub inserts: Vec<crate::stem::chain::InsertSpec>,
    #[serde(default, rename = "clip")]
    pub clips: Vec<ClipSpec>,
}

/// A channel of a clip's source: its number (1-based) or its recorder track name.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ChannelRef {
    Index(u32),
    Name(String),
}

/// The shape of a fade.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FadeShape {
    /// Gain `x` (equal gain: a crossfade of the same audio sums to it).
    #[default]
    Linear,
    /// Gain `sin(πx/2)` (equal power: for unrelated material).
    EqualPower,
    /// Gain `(1 − cos πx)/2` (equal gain, smooth at both ends).
    SCurve,
}

impl FadeShape {
    /// The fade-in gain at `x` in `0..=1` (a fade-out is `gain(1 − x)`).
    pub fn gain(self, x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        match self {
            FadeShape::Linear => x,
            FadeShape::EqualPower => (std::f64::consts::FRAC_PI_2 * x).sin(),
            FadeShape::SCurve => 0.5 - 0.5 * (std::f64::consts::PI * x).cos(),
        }
    }
}

/// A fade: its length in session frames or in samples, and its shape.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FadeSpec {
    pub frames: Option<u32>,
    pub samples: Option<u64>,
    #[serde(default)]
    pub shape: FadeShape,
}

/// `[[track.clip]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSpec {
    /// A name for reports (the EDL's clip name).
    pub name: Option<String>,
    /// The EDL event it came from.
    pub event: Option<u32>,
    /// One file (poly or mono) ...
    pub source: Option<String>,
    /// ... or a family of mono files of one take (channels numbered across them).
    pub sources: Option<Vec<String>>,
    /// The channels taken, one per track channel: numbers (1-based, across the
    /// family) or recorder track names (case-insensitive). Default: all.
    #[serde(default)]
    pub channels: Vec<ChannelRef>,
    /// The first sample played, as a timecode in the source's own timecode.
    pub source_in: Option<TcText>,
    /// ... or as samples into the file.
    pub source_in_samples: Option<u64>,
    /// Where the clip lands on the reel.
    pub record_in: TcText,
    /// Length as a timecode duration at the session's rate ...
    pub length: Option<TcText>,
    /// ... or in samples.
    pub length_samples: Option<u64>,
    #[serde(default)]
    pub gain_db: f64,
    /// Plays the clip inverted (a take recorded out of polarity).
    #[serde(default)]
    pub invert_polarity: bool,
    pub fade_in: Option<FadeSpec>,
    pub fade_out: Option<FadeSpec>,
    /// Source material kept before and after the clip for trims and
    /// crossfades (samples; not heard).
    pub handles_samples: Option<[u64; 2]>,
    /// A speed change: `"pull-down"`, `"pull-up"` or a duration ratio such as
    /// `"24/25"` (see [`Speed::parse`]); the pitch follows the speed.
    pub speed: Option<String>,
    /// ADR alignment: the guide the dub is warped to ([`crate::dialogue::clip`]).
    pub align: Option<crate::dialogue::clip::ClipAlignSpec>,
}

/// One source channel of a clip: the file and its channel (0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipChannel {
    pub path: PathBuf,
    pub channel: usize,
}

/// A resolved clip: samples on the reel and in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanClip {
    /// For error messages: `track 'id' clip n ('name')`.
    pub label: String,
    /// One per track channel.
    pub channels: Vec<ClipChannel>,
    /// The first file frame played.
    pub file_start: u64,
    /// Reel sample of the clip's first sample.
    pub record_start: i64,
    /// Length in samples.
    pub length: u64,
    /// Linear gain.
    pub gain: f64,
    /// Fade in and out: length in samples and shape.
    pub fade_in: (u64, FadeShape),
    pub fade_out: (u64, FadeShape),
    /// Handles before and after (samples of source kept, not heard).
    pub handles: [u64; 2],
    /// Source frames per reel frame, reduced: `(source, reel)`. `(1, 1)` plays
    /// the source as it is; anything else converts it (another sample rate, a
    /// speed change, or both).
    pub ratio: (u32, u32),
    /// The source's sample rate (Hz) and its speed change: what `ratio` is
    /// made of, for the reports that say what was converted.
    pub source_rate: u32,
    pub speed: Speed,
    /// ADR alignment to a guide ([`crate::dialogue::clip`]).
    pub align: Option<crate::dialogue::clip::ClipAlign>,
}

/// The reduced ratio of source frames to reel frames for a source at
/// `source_rate` Hz played at `speed` on a reel at `reel_rate` Hz: the source
/// lasts `speed` times as long, so one source frame becomes
/// `reel_rate / source_rate × num / den` reel frames.
pub fn clip_ratio(source_rate: u32, reel_rate: u32, speed: Speed) -> Result<(u32, u32)> {
    let src = source_rate as u64 * speed.length_den as u64;
    let reel = reel_rate as u64 * speed.length_num as u64;
    if src == 0 || reel == 0 {
        return Err(Error::Invalid(format!(
            "a sample rate of 0 Hz ({source_rate} Hz source, {reel_rate} Hz reel)"
        )));
    }
    let (mut a, mut b) = (src, reel);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let (src, reel) = (src / a, reel / a);
    // The resampler's limit (see `resample`): finer ratios would need absurd blocks.
    if src > 65_536 || reel > 65_536 {
        return Err(Error::Invalid(format!(
            "{source_rate} Hz at speed {} on a {reel_rate} Hz reel reduces to {src}:{reel}, too fine to convert exactly",
            speed.label()
        )));
    }
    Ok((src as u32, reel as u32))
}

/// The reel frame that source frame `source` lands on at `ratio` (source
/// frames per reel frame): `source × reel / src`, exact in `i128` and rounded
/// to the nearest frame (halves away from zero). A converted file keeps its
/// frame numbers: its bext TimeReference, in its own samples, lands here.
pub fn source_to_reel(source: i64, ratio: (u32, u32)) -> i64 {
    let n = source as i128 * ratio.1 as i128;
    let d = ratio.0 as i128;
    let q = if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    };
    q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Source frames a clip of `length` reel frames plays at `ratio` (rounded up).
pub fn source_frames(length: u64, ratio: (u32, u32)) -> u64 {
    (length as u128 * ratio.0 as u128).div_ceil(ratio.1 as u128) as u64
}

impl PlanClip {
    /// Reel sample just after the clip.
    pub fn record_end(&self) -> i64 {
        self.record_start + self.length as i64
    }

    /// The clip's gain (fades included) at clip sample `i`.
    pub fn gain_at(&self, i: u64) -> f64 {
        let mut g = self.gain;
        let (fi, si) = self.fade_in;
        if i < fi {
            g *= si.gain((i as f64 + 0.5) / fi as f64);
        }
        let (fo, so) = self.fade_out;
        let start = self.length.saturating_sub(fo);
        if fo > 0 && i >= start {
            g *= so.gain(1.0 - ((i - start) as f64 + 0.5) / fo as f64);
        }
        g
    }
}

/// Checks what can be checked without the media: ids, clip fields, timecodes.
pub fn check_tracks(s: &Session) -> Result<()> {
    let mut ids: std::collections::HashSet<&str> =
        s.file.stems.iter().map(|x| x.id.as_str()).collect();
    for t in &s.file.tracks {
        if !ids.insert(t.id.as_str()) {
            return Err(plain(s, format!("track '{}': the id is used twice", t.id)));
        }
        if let Some(l) = &t.layout {
            l.get_ref()
                .parse::<Layout>()
                .map_err(|m| s.err_at(l.span(), format!("track '{}': {m}", t.id)))?;
        }
        if !t.gain_db.is_finite() {
            return Err(plain(
                s,
                format!("track '{}': gain_db is not a number", t.id),
            ));
        }
        for (i, c) in t.clips.iter().enumerate() {
            let at = |m: &str| {
                s.err_at(
                    c.record_in.span(),
                    format!("track '{}' clip {}: {m}", t.id, i + 1),
                )
            };
            match (&c.source, &c.sources) {
                (None, None) => {
                    return Err(at(
                        "give `source` (one file) or `sources` (a family of mono files)",
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(at("give either `source` or `sources`, not both"));
                }
                (None, Some(v)) if v.is_empty() => return Err(at("`sources` is empty")),
                _ => {}
            }
            if c.source_in.is_some() && c.source_in_samples.is_some() {
                return Err(at(
                    "give either `source_in` or `source_in_samples`, not both",
                ));
            }
            match (&c.length, c.length_samples) {
                (None, None) => return Err(at("give `length` or `length_samples`")),
                (Some(_), Some(_)) => {
                    return Err(at("give either `length` or `length_samples`, not both"));
                }
                _ => {}
            }
            s.timecode(&c.record_in)?;
            if let Some(l) = &c.length {
                s.timecode(l)?;
            }
            if !c.gain_db.is_finite() {
                return Err(at("gain_db is not a number"));
            }
            for f in [&c.fade_in, &c.fade_out].into_iter().flatten() {
                if f.frames.is_some() && f.samples.is_some() {
                    return Err(at("a fade gives either `frames` or `samples`, not both"));
                }
            }
            if c.channels.contains(&ChannelRef::Index(0)) {
                return Err(at("channel numbers start at 1"));
            }
            if let Some(sp) = &c.speed {
                Speed::parse(sp).map_err(|e| at(&e.to_string()))?;
            }
        }
    }
    Ok(())
}

fn plain(s: &Session, msg: String) -> Error {
    Error::Session {
        path: s.path.clone(),
        line: None,
        col: None,
        msg,
    }
}

/// A source file of a clip, opened for its header.
struct Source {
    path: PathBuf,
    info: WavInfo,
}

/// The mono files in `src`'s folder of its family (iXML `FAMILY_UID`, the
/// same sample rate), in recorder track order; `None` when it has no family
/// or is alone in it.
fn family_beside(src: &Source) -> Option<Vec<Source>> {
    let uid = recorder::family_uid(&src.info)?;
    let dir = src.path.parent()?;
    let mut v: Vec<Source> = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("wav") || e.eq_ignore_ascii_case("bwf"))
        })
        .collect();
    names.sort();
    for p in names {
        let Ok(info) = crate::io::read_info(&p) else {
            continue;
        };
        if info.channels == 1
            && info.sample_rate == src.info.sample_rate
            && recorder::family_uid(&info).as_deref() == Some(uid.as_str())
        {
            v.push(Source { path: p, info });
        }
    }
    v.sort_by_key(|s| {
        (
            recorder::track_numbers(&s.info)[0].unwrap_or(u32::MAX),
            recorder::file_set_index(&s.info).unwrap_or(u32::MAX),
            s.path.clone(),
        )
    });
    (v.len() > 1).then_some(v)
}

/// Resolves a track into a stem whose audio is its clips.
pub fn resolve_track(
    s: &Session,
    t: &TrackSpec,
    buses: &[PlanBus],
    start_abs: i64,
) -> Result<PlanStem> {
    let sr = s.file.reel.sample_rate;
    let rate = s.frame_rate;
    let layout = match &t.layout {
        Some(l) => l.get_ref().parse::<Layout>().expect("checked"),
        None => Layout::Mono,
    };
    let err = |i: usize, c: &ClipSpec, m: String| {
        let name = c
            .name
            .as_deref()
            .map(|n| format!(" ('{n}')"))
            .unwrap_or_default();
        let (l, col) = crate::session::line_col(&s.text, c.record_in.span().start);
        Error::Session {
            path: s.path.clone(),
            line: Some(l),
            col: Some(col),
            msg: format!("track '{}' clip {}{name}: {m}", t.id, i + 1),
        }
    };
    let mut clips: Vec<PlanClip> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, c) in t.clips.iter().enumerate() {
        let files: Vec<PathBuf> = match (&c.source, &c.sources) {
            (Some(p), _) => vec![s.resolve_path(p)],
            (_, Some(v)) => v.iter().map(|p| s.resolve_path(p)).collect(),
            _ => unreachable!("checked"),
        };
        let mut srcs = Vec::new();
        for p in &files {
            let info = AudioReader::open(p)
                .map_err(|e| err(i, c, e.to_string()))?
                .info()
                .clone();
            if let Some(f) = srcs
                .first()
                .filter(|f: &&Source| f.info.sample_rate != info.sample_rate)
            {
                return Err(err(
                    i,
                    c,
                    format!(
                        "{} is at {} Hz but {} is at {} Hz: the files of a family share one sample rate",
                        p.display(),
                        info.sample_rate,
                        f.path.display(),
                        f.info.sample_rate
                    ),
                ));
            }
            srcs.push(Source {
                path: p.clone(),
                info,
            });
        }
        // one mono file of a family named alone, for a channel it does not hold:
        // the family's files beside it (iXML FAMILY_UID), as if all were given
        if c.sources.is_none() && srcs.len() == 1 && srcs[0].info.channels == 1 {
            let own = recorder::track_names(&srcs[0].info);
            let missing = c.channels.iter().any(|r| match r {
                ChannelRef::Index(n) => *n > 1,
                ChannelRef::Name(n) => !own[0].eq_ignore_ascii_case(n.trim()),
            });
            if missing {
                if let Some(fam) = family_beside(&srcs[0]) {
                    srcs = fam;
                }
            }
        }
        // every channel of the family, in order: (source index, channel, name)
        let mut all: Vec<(usize, usize, String)> = Vec::new();
        for (k, src) in srcs.iter().enumerate() {
            for (ch, name) in recorder::track_names(&src.info).into_iter().enumerate() {
                all.push((k, ch, name));
            }
        }
        let chosen: Vec<(usize, usize)> = if c.channels.is_empty() {
            all.iter().map(|&(k, ch, _)| (k, ch)).collect()
        } else {
            let mut v = Vec::new();
            for r in &c.channels {
                let hit = match r {
                    ChannelRef::Index(n) => all.get(*n as usize - 1),
                    ChannelRef::Name(n) => all
                        .iter()
                        .find(|(_, _, name)| name.eq_ignore_ascii_case(n.trim())),
                };
                let &(k, ch, _) = hit.ok_or_else(|| {
                    let names: Vec<String> = all
                        .iter()
                        .enumerate()
                        .map(|(j, (_, _, n))| {
                            if n.is_empty() {
                                format!("{}", j + 1)
                            } else {
                                format!("{} '{n}'", j + 1)
                            }
                        })
                        .collect();
                    err(
                        i,
                        c,
                        format!(
                            "channel {} is not in the source (channels: {})",
                            match r {
                                ChannelRef::Index(n) => n.to_string(),
                                ChannelRef::Name(n) => format!("'{n}'"),
                            },
                            names.join(", ")
                        ),
                    )
                })?;
                v.push((k, ch));
            }
            v
        };
        if chosen.len() != layout.len() {
            return Err(err(
                i,
                c,
                format!(
                    "takes {} channel(s) but the track's layout {} has {}",
                    chosen.len(),
                    layout.name(),
                    layout.len()
                ),
            ));
        }
        let first = &srcs[0].info;
        let speed = match &c.speed {
            Some(sp) => Speed::parse(sp).map_err(|e| err(i, c, e.to_string()))?,
            None => Speed::UNITY,
        };
        let ratio =
            clip_ratio(first.sample_rate, sr, speed).map_err(|e| err(i, c, e.to_string()))?;
        let file_frames = srcs.iter().map(|x| x.info.frames).min().unwrap_or(0);
        let file_start: u64 = match (&c.source_in, c.source_in_samples) {
            (_, Some(n)) => n,
            (Some(tc), None) => {
                let frate = recorder::timecode_rate(first).unwrap_or(rate);
                let t = Timecode::parse(tc.get_ref(), frate).map_err(|e| {
                    err(i, c, format!("source_in at the source's {frate} fps: {e}"))
                })?;
                let at = t.to_samples(first.sample_rate);
                let tr = recorder::start_samples(first).unwrap_or(0) as i64;
                let off = at - tr;
                if off < 0 {
                    let st = Timecode::from_samples(tr, frate, first.sample_rate);
                    return Err(err(
                        i,
                        c,
                        format!(
                            "source_in {} is before the start of {} ({st} at {frate} fps)",
                            tc.get_ref(),
                            srcs[0].path.display()
                        ),
                    ));
                }
                off as u64
            }
            (None, None) => 0,
        };
        let length: u64 = match (&c.length, c.length_samples) {
            (_, Some(n)) => n,
            (Some(l), None) => {
                let f = s.timecode(l)?.to_frames();
                rate.frames_to_samples(f, sr) as u64
            }
            _ => unreachable!("checked"),
        };
        if length == 0 {
            return Err(err(i, c, "length is zero".into()));
        }
        let align = c
            .align
            .as_ref()
            .map(|a| {
                crate::dialogue::clip::ClipAlign::resolve(
                    a,
                    |p| s.resolve_path(p),
                    sr,
                    length,
                    chosen.len(),
                    ratio != (1, 1),
                    file_frames.saturating_sub(file_start),
                )
            })
            .transpose()
            .map_err(|m| err(i, c, m))?;
        let played = source_frames(length, ratio);
        if align.is_none() && file_start + played > file_frames {
            return Err(err(
                i,
                c,
                format!(
                    "plays source samples {file_start}..{} but {} has {file_frames}",
                    file_start + played,
                    srcs[0].path.display()
                ),
            ));
        }
        let record_start = s.timecode(&c.record_in)?.to_samples(sr) - start_abs;
        let fade = |f: &Option<FadeSpec>| -> (u64, FadeShape) {
            match f {
                None => (0, FadeShape::Linear),
                Some(f) => {
                    let n = match (f.frames, f.samples) {
                        (Some(fr), _) => rate.frames_to_samples(fr as i64, sr) as u64,
                        (_, Some(n)) => n,
                        _ => 0,
                    };
                    (n.min(length), f.shape)
                }
            }
        };
        for x in &srcs {
            if !paths.contains(&x.path) {
                paths.push(x.path.clone());
            }
        }
        clips.push(PlanClip {
            label: format!(
                "track '{}' clip {}{}",
                t.id,
                i + 1,
                c.name
                    .as_deref()
                    .map(|n| format!(" ('{n}')"))
                    .unwrap_or_default()
            ),
            channels: chosen
                .iter()
                .map(|&(k, ch)| ClipChannel {
                    path: srcs[k].path.clone(),
                    channel: ch,
                })
                .collect(),
            file_start,
            record_start,
            length,
            gain: if c.invert_polarity { -1.0 } else { 1.0 } * 10f64.powf(c.gain_db / 20.0),
            fade_in: fade(&c.fade_in),
            fade_out: fade(&c.fade_out),
            handles: c.handles_samples.unwrap_or([0, 0]),
            ratio,
            source_rate: first.sample_rate,
            speed,
            align,
        });
    }
    // overlapping clips crossfade over the overlap unless they give their own fades
    let mut order: Vec<usize> = (0..clips.len()).collect();
    order.sort_by_key(|&k| (clips[k].record_start, k));
    for w in order.windows(2) {
        let (a, b) = (w[0], w[1]);
        let overlap = clips[a].record_end() - clips[b].record_start;
        if overlap > 0 {
            let l = (overlap as u64).min(clips[a].length).min(clips[b].length);
            if t.clips[a].fade_out.is_none() {
                clips[a].fade_out = (l, FadeShape::Linear);
            }
            if t.clips[b].fade_in.is_none() {
                clips[b].fade_in = (l, FadeShape::Linear);
            }
        }
    }
    let offset = clips.iter().map(|c| c.record_start).min().unwrap_or(0);
    let end = clips.iter().map(PlanClip::record_end).max().unwrap_or(0);
    let bus = crate::session::route(&t.id, "track", t.kind, t.dialogue, t.bus.as_deref(), buses)?;
    let automation = t
        .automation
        .iter()
        .map(|b| Ok((s.timecode(&b.at)?.to_samples(sr) - start_abs, b.db)))
        .collect::<Result<Vec<_>>>()?;
    Ok(PlanStem {
        id: t.id.clone(),
        kind: t.kind,
        containers: Vec::new(),
        paths,
        layout,
        file_to_layout: (0..layout.len()).collect(),
        frames: (end - offset).max(0) as u64,
        offset,
        gain_db: t.gain_db,
        mute: t.mute,
        bus,
        pan: t.pan.unwrap_or_default(),
        automation,
        matrix: Vec::new(),
        inserts: t.inserts.clone(),
        sends: Vec::new(),
        clips,
    })
}

/// A whole-file stem at another sample rate or speed, as one converted clip:
/// `paths` are its files (one interleaved, or multi-mono), `map` takes file
/// channel `i` (across the files) to layout index `map[i]`; `frames` are the
/// source's, `record_start` is the reel sample of its first sample; the
/// source plays at `speed` from `source_rate` Hz, `ratio` being the two
/// together ([`clip_ratio`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the stem's resolved fields, each a plain value; one call site"
)]
pub fn whole_file_clip(
    id: &str,
    paths: &[PathBuf],
    map: &[usize],
    channels: usize,
    frames: u64,
    record_start: i64,
    source_rate: u32,
    speed: Speed,
    ratio: (u32, u32),
) -> PlanClip {
    let mut per_layout = vec![
        ClipChannel {
            path: PathBuf::new(),
            channel: 0,
        };
        channels
    ];
    for (i, &li) in map.iter().enumerate() {
        let (path, channel) = if paths.len() == 1 {
            (paths[0].clone(), i)
        } else {
            (paths[i].clone(), 0)
        };
        if let Some(c) = per_layout.get_mut(li) {
            *c = ClipChannel { path, channel };
        }
    }
    PlanClip {
        label: format!("stem '{id}'"),
        channels: per_layout,
        file_start: 0,
        record_start,
        length: crate::resample::output_len(frames, ratio.0, ratio.1),
        gain: 1.0,
        fade_in: (0, FadeShape::Linear),
        fade_out: (0, FadeShape::Linear),
        handles: [0, 0],
        ratio,
        source_rate,
        speed,
        align: None,
    }
}

/// Reads a track's clips onto the reel, block after block.
pub struct TrackReader {
    id: String,
    clips: Vec<PlanClip>,
    /// Clip indices in record order.
    order: Vec<usize>,
    readers: Vec<(PathBuf, AudioReader)>,
    scratch: Vec<Vec<f32>>,
    /// The converter of each converted clip now playing (by clip index).
    streams: Vec<Option<ClipStream>>,
    /// Each aligned clip now playing, warped to its guide (by clip index).
    aligned: Vec<Option<Vec<f32>>>,
}

/// A converted clip's resampler and the output it has made but not yet given.
///
/// The converter's grid is anchored one FFT block before the clip's first
/// source frame: block `q` takes source frames `file_start − B_in + q·B_in ..`
/// and gives clip samples `−B_out + q·B_out ..`. Starting at any block
/// boundary one block before the wanted sample gives the same samples as
/// starting at the anchor ([`StreamResampler::block_frames`]).
struct ClipStream {
    rs: StreamResampler,
    /// Clip sample of `ready[..][0]` (negative while priming).
    at: i64,
    /// Converted samples not yet taken, one `Vec` per clip channel.
    ready: Vec<Vec<f32>>,
    /// The next source frame to feed (negative or past the file: silence).
    next_in: i64,
    /// Source frames fed at a time: one block.
    feed: usize,
    /// One block of source, per clip channel.
    input: Vec<Vec<f32>>,
}

impl ClipStream {
    /// A converter positioned to give clip sample `j0` of `c` next.
    fn open(c: &PlanClip, j0: u64) -> Result<ClipStream> {
        let n = c.channels.len();
        let rs = StreamResampler::new(n, c.ratio.0, c.ratio.1)?;
        let (b_in, b_out) = rs.block_frames();
        let (b_in, b_out) = (b_in as i64, b_out as i64);
        // start one whole block before the block holding `j0` (or at the anchor)
        let q = ((j0 as i64 + b_out) / b_out - 1).max(0);
        Ok(ClipStream {
            rs,
            at: -b_out + q * b_out,
            ready: vec![Vec::new(); n],
            next_in: c.file_start as i64 - b_in + q * b_in,
            feed: b_in as usize,
            input: vec![Vec::new(); n],
        })
    }
}

/// Reads source frames `start .. start + n` of channel `ch` of `r` into `out`,
/// silence where they lie outside the file; refuses non-finite samples.
fn read_span(
    r: &mut AudioReader,
    scratch: &mut Vec<Vec<f32>>,
    start: i64,
    n: usize,
    ch: usize,
    out: &mut Vec<f32>,
) -> std::result::Result<(), String> {
    out.clear();
    out.resize(n, 0.0);
    let frames = r.info().frames as i64;
    let a = start.max(0);
    let b = (start + n as i64).min(frames);
    if b <= a {
        return Ok(());
    }
    let want = (b - a) as usize;
    let nch = r.info().channels as usize;
    if scratch.len() < nch {
        scratch.resize(nch, Vec::new());
    }
    r.seek(a as u64).map_err(|e| e.to_string())?;
    let got = r
        .read_planar(&mut scratch[..nch], want)
        .map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!(
            "{} ended early (truncated?)",
            r.info().path.display()
        ));
    }
    let src = &scratch[ch][..want];
    if let Some(j) = src.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "{} holds a non-finite sample at frame {}",
            r.info().path.display(),
            a + j as i64
        ));
    }
    out[(a - start) as usize..(b - start) as usize].copy_from_slice(src);
    Ok(())
}

impl TrackReader {
    /// Opens a track stem's files.
    pub fn open(stem: &PlanStem) -> Result<TrackReader> {
        let mut readers = Vec::new();
        for p in &stem.paths {
            readers.push((
                p.clone(),
                AudioReader::open(p).map_err(|e| Error::stem(&stem.id, e.to_string()))?,
            ));
        }
        let mut order: Vec<usize> = (0..stem.clips.len()).collect();
        order.sort_by_key(|&k| (stem.clips[k].record_start, k));
        Ok(TrackReader {
            id: stem.id.clone(),
            clips: stem.clips.clone(),
            order,
            readers,
            scratch: Vec::new(),
            streams: (0..stem.clips.len()).map(|_| None).collect(),
            aligned: vec![None; stem.clips.len()],
        })
    }

    /// Fills `out` (one buffer per track channel, `n` frames) with reel
    /// samples `t0 .. t0 + n`: the sum of the clips there, each with its gain
    /// and fades; silence elsewhere.
    pub fn read_block(&mut self, t0: i64, n: usize, out: &mut [Vec<f32>]) -> Result<()> {
        for o in out.iter_mut() {
            o.clear();
            o.resize(n, 0.0);
        }
        let t1 = t0 + n as i64;
        for &k in &self.order {
            let c = &self.clips[k];
            if c.record_start >= t1 {
                break;
            }
            let a = c.record_start.max(t0);
            let b = c.record_end().min(t1);
            if b <= a {
                // a converted or aligned clip that has ended frees its state
                self.streams[k] = None;
                self.aligned[k] = None;
                continue;
            }
            let want = (b - a) as usize;
            let local = (a - c.record_start) as u64;
            let dst = (a - t0) as usize;
            let gains: Vec<f32> = (0..want as u64)
                .map(|j| c.gain_at(local + j) as f32)
                .collect();
            let fail = |m: String| Error::stem(&self.id, format!("{}: {m}", c.label));
            if let Some(al) = &c.align {
                if self.aligned[k].is_none() {
                    let cc = &c.channels[0];
                    let warped = al
                        .render(&cc.path, cc.channel, c.file_start, c.length)
                        .map_err(fail)?;
                    self.aligned[k] = Some(warped);
                }
                let src = &self.aligned[k].as_ref().expect("just set")[local as usize..];
                let o = &mut out[0][dst..dst + want];
                for ((y, &x), &g) in o.iter_mut().zip(&src[..want]).zip(&gains) {
                    *y += g * x;
                }
                continue;
            }
            if c.ratio != (1, 1) {
                let conv = converted(
                    c,
                    &mut self.streams[k],
                    &mut self.readers,
                    &mut self.scratch,
                    local,
                    want,
                )
                .map_err(fail)?;
                for (li, src) in conv.iter().enumerate() {
                    let o = &mut out[li][dst..dst + want];
                    for ((y, &x), &g) in o.iter_mut().zip(&src[..want]).zip(&gains) {
                        *y += g * x;
                    }
                }
                let s = self.streams[k].as_mut().expect("opened by converted()");
                for r in &mut s.ready {
                    r.drain(..want);
                }
                s.at += want as i64;
                continue;
            }
            for (li, cc) in c.channels.iter().enumerate() {
                let Some((_, r)) = self.readers.iter_mut().find(|(p, _)| *p == cc.path) else {
                    return Err(fail(format!("{} is not open", cc.path.display())));
                };
                let nch = r.info().channels as usize;
                if self.scratch.len() < nch {
                    self.scratch.resize(nch, Vec::new());
                }
                r.seek(c.file_start + local)
                    .map_err(|e| fail(e.to_string()))?;
                let got = r
                    .read_planar(&mut self.scratch[..nch], want)
                    .map_err(|e| fail(e.to_string()))?;
                if got != want {
                    return Err(fail(format!(
                        "{} ended early (truncated?)",
                        cc.path.display()
                    )));
                }
                let src = &self.scratch[cc.channel][..want];
                if let Some(j) = src.iter().position(|x| !x.is_finite()) {
                    return Err(fail(format!(
                        "{} holds a non-finite sample at frame {}",
                        cc.path.display(),
                        c.file_start + local + j as u64
                    )));
                }
                let o = &mut out[li][dst..dst + want];
                for ((y, &x), &g) in o.iter_mut().zip(src).zip(&gains) {
                    *y += g * x;
                }
            }
        }
        Ok(())
    }
}

/// Converted samples `local .. local + want` of clip `c`, at the front of its
/// stream's `ready` buffers (the caller drains them): continues the clip's
/// converter when it is there, else (a first read or a seek) starts one.
fn converted<'s>(
    c: &PlanClip,
    stream: &'s mut Option<ClipStream>,
    readers: &mut [(PathBuf, AudioReader)],
    scratch: &mut Vec<Vec<f32>>,
    local: u64,
    want: usize,
) -> std::result::Result<&'s [Vec<f32>], String> {
    if stream.as_ref().is_none_or(|s| s.at != local as i64) {
        *stream = Some(ClipStream::open(c, local).map_err(|e| e.to_string())?);
    }
    let s = stream.as_mut().expect("just set");
    let end = local as i64 + want as i64;
    while s.at + (s.ready[0].len() as i64) < end {
        for (li, cc) in c.channels.iter().enumerate() {
            let Some((_, r)) = readers.iter_mut().find(|(p, _)| *p == cc.path) else {
                return Err(format!("{} is not open", cc.path.display()));
            };
            read_span(r, scratch, s.next_in, s.feed, cc.channel, &mut s.input[li])?;
        }
        s.next_in += s.feed as i64;
        let inputs: Vec<&[f32]> = s.input.iter().map(Vec::as_slice).collect();
        s.rs.push(&inputs, &mut s.ready)
            .map_err(|e| e.to_string())?;
        // skip what precedes the wanted sample (the priming block)
        let skip = (local as i64 - s.at).clamp(0, s.ready[0].len() as i64) as usize;
        if skip > 0 {
            for r in &mut s.ready {
                r.drain(..skip);
            }
            s.at += skip as i64;
        }
    }
    Ok(&s.ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(len: u64, fi: (u64, FadeShape), fo: (u64, FadeShape)) -> PlanClip {
        PlanClip {
            label: String::new(),
            channels: Vec::new(),
            file_start: 0,
            record_start: 0,
            length: len,
            gain: 1.0,
            fade_in: fi,
            fade_out: fo,
            handles: [0, 0],
            ratio: (1, 1),
            source_rate: 48_000,
            speed: Speed::UNITY,
            align: None,
        }
    }

    #[test]
    fn a_source_position_lands_on_the_reel_exactly() {
        // 01:00:00:00 of a 44.1 kHz file is 01:00:00:00 of a 48 kHz reel
        let r = clip_ratio(44_100, 48_000, Speed::UNITY).unwrap();
        assert_eq!(source_to_reel(3600 * 44_100, r), 3600 * 48_000);
        // 01:00:10:00 at 24 fps, pulled down: the same frame count at 23.976
        let r = clip_ratio(48_000, 48_000, Speed::PULL_DOWN).unwrap();
        let tr = 3610 * 24 * 2000;
        assert_eq!(source_to_reel(tr, r), 3610 * 24 * 2002);
        // rounded to the nearest reel frame, halves away from zero
        assert_eq!(source_to_reel(1, (147, 160)), 1);
        assert_eq!(source_to_reel(3, (2, 1)), 2);
        assert_eq!(source_to_reel(1, (2, 1)), 1);
        assert_eq!(source_to_reel(-1, (2, 1)), -1);
        assert_eq!(source_to_reel(i64::MAX, (1, 2)), i64::MAX);
    }

    #[test]
    fn crossfade_gains_sum_to_one_or_keep_power() {
        for shape in [FadeShape::Linear, FadeShape::SCurve, FadeShape::EqualPower] {
            let l = 480u64;
            let a = clip(1000, (0, shape), (l, shape));
            let b = clip(1000, (l, shape), (0, shape));
            for j in 0..l {
                let ga = a.gain_at(1000 - l + j);
                let gb = b.gain_at(j);
                if shape == FadeShape::EqualPower {
                    assert!((ga * ga + gb * gb - 1.0).abs() < 1e-12, "{shape:?} {j}");
                } else {
                    assert!((ga + gb - 1.0).abs() < 1e-12, "{shape:?} {j}");
                }
            }
            assert_eq!(a.gain_at(0), 1.0);
            assert_eq!(a.gain_at(1000 - l - 1), 1.0);
        }
    }
}
