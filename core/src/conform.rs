//! Conform: the picture editor's list ([`crate::editorial`]) relinked to the
//! production recorder's files, written as a session of tracks of clips
//! ([`crate::timeline`]).
//!
//! Relinking (per audio edit, per record track):
//! - a *take* is a poly file, or a family of mono files of one take (same
//!   roll, scene, take, TimeReference and sample rate, as recorders write
//!   split mono files), its channels in recorder track order;
//! - a take is a candidate when its roll (iXML `TAPE`, bext `sTAPE=`/`gTAPE=`,
//!   or the file set's name) equals the edit's reel (case-insensitive) and its
//!   timecode range (TimeReference at the file's own timecode rate, for its
//!   length) covers the edit's source range (the source in, at the take's rate,
//!   for the record length);
//! - several candidates: those whose scene and take appear in the clip name
//!   (or source file) win; the same take as a poly file and as split mono
//!   files is one take (the poly file is used); otherwise the edit is
//!   *ambiguous* and its candidates are listed;
//! - channels: `--channels NAME,...` by recorder track name (one track per
//!   name), else the `PATCH` comment's source channel, else the record track's
//!   number;
//! - handles: the clip records up to `handles` seconds of source either side
//!   (not heard), for later trims and crossfades;
//! - dissolves and wipes become crossfades (the outgoing source continues
//!   under the incoming for the transition's length), fades from and to `BL`
//!   become fades in and out.
//!
//! Speed and rate:
//! - an `M2` motion effect is applied: the clip plays at the line's speed
//!   (`fps / the list's nominal rate`), as a `speed` duration ratio that the
//!   timeline's resampler follows (the pitch with it, as a varispeed does),
//!   taking `length × speed` of source; a freeze frame (0 fps), reverse
//!   (negative fps) or a speed outside ½×..2× is reported as unmatched;
//! - a take at another sample rate than the conform's (the most common rate
//!   among the takes) is converted as it plays: its offsets and handles count
//!   its own frames.
//!
//! Unmatched edits (no file for the reel, timecode not covered, channel
//! missing, a speed that cannot be played) are reported and left out; they
//! stop the conform only with `strict`.

pub mod verify;

use crate::editorial::{Edit, EditList, ListTimecode, Transition};
use crate::io::{WavInfo, read_info, recorder};
use crate::resample::Speed;
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Conform settings.
#[derive(Debug, Clone)]
pub struct ConformOptions {
    /// Folders searched (recursively) for recorder files.
    pub media: Vec<PathBuf>,
    /// Seconds of source kept either side of each clip (default 8).
    pub handles_s: f64,
    /// Channels by recorder track name (one track per name per record track).
    pub channel_names: Vec<String>,
    /// The folder the session will be written to (its paths are relative to it).
    pub session_dir: PathBuf,
}

/// One channel of a take.
#[derive(Debug, Clone, Serialize)]
pub struct TakeChannel {
    /// The file holding it.
    pub file: PathBuf,
    /// Its channel in that file (0-based).
    pub channel: usize,
    /// The recorder's track name ("" when none).
    pub name: String,
    /// The recorder's track number (iXML CHANNEL_INDEX), when given.
    pub number: Option<u32>,
}

/// A poly file or a family of mono files of one take.
#[derive(Debug, Clone, Serialize)]
pub struct Take {
    /// The files (one for a poly file).
    pub files: Vec<PathBuf>,
    pub roll: Option<String>,
    /// The file set's name (the file stem, without a `_n` channel suffix for a family).
    pub set_name: String,
    pub scene: Option<String>,
    pub take: Option<String>,
    /// Timecode rate (the file's own; the list's where the file gives none).
    pub rate: FrameRate,
    /// Samples since midnight of the first sample (bext TimeReference).
    pub start: u64,
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: Vec<TakeChannel>,
    pub poly: bool,
    /// The recorder's iXML `FAMILY_UID`, when it gives one.
    pub family_uid: Option<String>,
}

impl Take {
    fn label(&self) -> String {
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Names the channels the recorder left unnamed from `names` (by channel,
    /// as an ALE row gives them).
    pub fn name_channels(&mut self, names: &[String]) {
        for (c, n) in self.channels.iter_mut().zip(names) {
            if c.name.is_empty() {
                c.name = n.clone();
            }
        }
    }

    fn same_take(&self, o: &Take) -> bool {
        let family = self.family_uid.is_some() && self.family_uid == o.family_uid;
        (self.start == o.start && self.sample_rate == o.sample_rate && family)
            || self.start == o.start
                && self.sample_rate == o.sample_rate
                && self.scene == o.scene
                && self.take == o.take
                && self.roll == o.roll
    }
}

/// What became of one edit on one record track.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// The EDL event number.
    pub number: u32,
    /// 1-based line in the list.
    pub line: usize,
    /// The session track it went to (`A2`, `A2_Boom`).
    pub track: String,
    /// `matched`, `unmatched`, `ambiguous` or `silence` (a `BL` source).
    pub status: &'static str,
    pub reel: String,
    pub record_in: String,
    /// Matched: the file and its channel (1-based) and the offset into it in samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Unmatched: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ambiguous: the candidate files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// Matched with an `M2` speed: the duration ratio played (`"2/1"` = half speed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<String>,
}

/// A clip of the conformed timeline.
#[derive(Debug, Clone, Serialize)]
pub struct ConformClip {
    pub name: String,
    pub event: u32,
    pub file: PathBuf,
    /// Channel in the file, 0-based.
    pub channel: usize,
    /// First file sample played.
    pub offset: u64,
    /// Reel-absolute sample (since midnight) where it lands.
    pub record: i64,
    pub length: u64,
    pub fade_in: u64,
    pub fade_out: u64,
    /// Source frames kept before and after (in the file's own frames).
    pub handles: [u64; 2],
    /// An `M2` speed change, as a duration ratio (`None`: normal speed).
    #[serde(serialize_with = "speed_label")]
    pub speed: Option<Speed>,
    /// The file's sample rate (`offset` and `handles` count its frames).
    pub source_rate: u32,
    /// Played inverted (set by the sync check, [`verify`]).
    pub invert_polarity: bool,
}

fn speed_label<S: serde::Serializer>(
    v: &Option<Speed>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(sp) => s.serialize_some(&sp.label()),
        None => s.serialize_none(),
    }
}

/// The conformed timeline and its report.
#[derive(Debug, Clone, Serialize)]
pub struct Conformed {
    pub title: String,
    pub frame_rate: String,
    pub sample_rate: u32,
    /// Tracks in order: (id, clips).
    pub tracks: Vec<(String, Vec<ConformClip>)>,
    pub events: Vec<EventReport>,
    pub matched: usize,
    pub unmatched: usize,
    pub ambiguous: usize,
    pub warnings: Vec<String>,
}

fn is_audio_file(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["wav", "bwf", "rf64", "w64"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_audio_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The file set's name: the stem, without a trailing `_n` (split mono channel).
fn set_name(p: &Path, family: bool) -> String {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if family {
        if let Some((a, b)) = stem.rsplit_once('_') {
            if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) {
                return a.to_string();
            }
        }
    }
    stem.to_string()
}

/// Reads every recorder file under `media` and groups them into takes.
pub fn scan(media: &[PathBuf], fallback: FrameRate) -> Result<(Vec<Take>, Vec<String>)> {
    let mut files = Vec::new();
    for d in media {
        if !d.is_dir() {
            return Err(Error::Invalid(format!(
                "--media {}: not a folder",
                d.display()
            )));
        }
        walk(d, &mut files)?;
    }
    let mut warnings = Vec::new();
    let mut infos: Vec<WavInfo> = Vec::new();
    for p in files {
        match read_info(&p) {
            Ok(i) => infos.push(i),
            Err(e) => warnings.push(format!("{e} (skipped)")),
        }
    }
    let mut takes: Vec<Take> = Vec::new();
    let mut families: Vec<(String, Vec<WavInfo>)> = Vec::new();
    for i in infos {
        let rate = recorder::timecode_rate(&i).unwrap_or(fallback);
        let start = recorder::start_samples(&i).unwrap_or(0);
        let uid = recorder::family_uid(&i);
        if i.channels == 1 && (uid.is_some() || recorder::take(&i).is_some()) {
            let folder = i
                .path
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            // the recorder's FAMILY_UID, else one roll, scene, take and TimeReference
            let key = match uid {
                Some(u) => format!("uid|{u}|{}|{folder}", i.sample_rate),
                None => format!(
                    "{:?}|{:?}|{:?}|{start}|{}|{folder}",
                    recorder::roll(&i),
                    recorder::scene(&i),
                    recorder::take(&i),
                    i.sample_rate,
                ),
            };
            match families.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(i),
                None => families.push((key, vec![i])),
            }
            continue;
        }
        takes.push(take_of(vec![i], rate, start, true));
    }
    for (_, mut v) in families {
        let rate = recorder::timecode_rate(&v[0]).unwrap_or(fallback);
        let start = recorder::start_samples(&v[0]).unwrap_or(0);
        v.sort_by_key(|i| {
            (
                recorder::track_numbers(i)[0].unwrap_or(u32::MAX),
                recorder::file_set_index(i).unwrap_or(u32::MAX),
                i.path.clone(),
            )
        });
        let poly = v.len() == 1;
        takes.push(take_of(v, rate, start, poly));
    }
    Ok((takes, warnings))
}

fn take_of(v: Vec<WavInfo>, rate: FrameRate, start: u64, poly: bool) -> Take {
    let mut channels = Vec::new();
    for i in &v {
        let names = recorder::track_names(i);
        let nums = recorder::track_numbers(i);
        for c in 0..i.channels as usize {
            channels.push(TakeChannel {
                file: i.path.clone(),
                channel: c,
                name: names[c].clone(),
                number: nums[c],
            });
        }
    }
    Take {
        files: v.iter().map(|i| i.path.clone()).collect(),
        roll: recorder::roll(&v[0]),
        set_name: set_name(&v[0].path, !poly),
        scene: recorder::scene(&v[0]),
        take: recorder::take(&v[0]),
        rate,
        start,
        frames: v.iter().map(|i| i.frames).min().unwrap_or(0),
        sample_rate: v[0].sample_rate,
        channels,
        poly,
        family_uid: recorder::family_uid(&v[0]),
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// How well scene/take agree with the edit's clip name and source file.
fn name_score(t: &Take, e: &Edit) -> u32 {
    let hay = norm(&format!(
        "{} {}",
        e.clip_name.as_deref().unwrap_or_default(),
        e.source_file.as_deref().unwrap_or_default()
    ));
    let mut s = 0;
    if let Some(sc) = t.scene.as_deref().map(norm).filter(|x| !x.is_empty()) {
        if hay.contains(&sc) {
            s += 2;
            if let Some(tk) = t.take.as_deref().map(norm).filter(|x| !x.is_empty()) {
                if hay.contains(&format!("{sc}{tk}")) || hay.contains(&tk) {
                    s += 1;
                }
            }
        }
    }
    if hay.contains(&norm(&t.set_name)) {
        s += 4;
    }
    s
}

fn reel_matches(t: &Take, reel: &str) -> bool {
    let r = reel.trim();
    t.roll.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(r))
        || t.set_name.eq_ignore_ascii_case(r)
}

/// The source range of `e` in samples since midnight at the take's rate, or why not.
fn source_range(t: &Take, e: &Edit, len: u64) -> std::result::Result<(i64, i64), String> {
    let tc = e.source_in.at(e.source_in.rate_in(t.rate, false))?;
    let a = tc.to_samples(t.sample_rate);
    Ok((a, a + len as i64))
}

/// Why an edit found no take.
struct Miss {
    status: &'static str,
    reason: Option<String>,
    candidates: Vec<String>,
}

fn miss(reason: String) -> Miss {
    Miss {
        status: "unmatched",
        reason: Some(reason),
        candidates: Vec::new(),
    }
}

/// The take, offset and channel an edit's source plays from, for `len`
/// samples, on record track `track_no` (or the channel named `name`).
fn relink<'t>(
    takes: &'t [Take],
    e: &Edit,
    len: u64,
    sr: u32,
    track_no: u32,
    name: Option<&str>,
    rate: FrameRate,
) -> std::result::Result<(&'t Take, u64, &'t TakeChannel), Miss> {
    let speed = edit_speed(e, rate).map_err(miss)?;
    let on_reel: Vec<&Take> = takes.iter().filter(|t| reel_matches(t, &e.reel)).collect();
    if on_reel.is_empty() {
        return Err(miss(format!("no file for reel '{}'", e.reel)));
    }
    let mut why = Vec::new();
    let mut cands: Vec<(&Take, u64)> = Vec::new();
    for t in &on_reel {
        let src_len = match crate::timeline::clip_ratio(t.sample_rate, sr, speed) {
            Ok(r) => crate::timeline::source_frames(len, r),
            Err(m) => {
                why.push(format!("{}: {m}", t.label()));
                continue;
            }
        };
        match source_range(t, e, src_len) {
            Ok((a, b)) => {
                let s0 = t.start as i64;
                if a >= s0 && b <= s0 + t.frames as i64 {
                    cands.push((t, (a - s0) as u64));
                } else {
                    why.push(format!(
                        "{} covers {}..{}",
                        t.label(),
                        Timecode::from_samples(s0, t.rate, t.sample_rate),
                        Timecode::from_samples(s0 + t.frames as i64, t.rate, t.sample_rate)
                    ));
                }
            }
            Err(m) => why.push(format!("{}: source in {m}", t.label())),
        }
    }
    if cands.is_empty() {
        return Err(miss(format!(
            "timecode not covered: source {} for {len} samples{}; {}",
            e.source_in,
            if speed.is_unity() {
                String::new()
            } else {
                format!(" at speed {}", speed.label())
            },
            why.join("; ")
        )));
    }
    if cands.len() > 1 {
        let best = cands
            .iter()
            .map(|(t, _)| name_score(t, e))
            .max()
            .unwrap_or(0);
        cands.retain(|(t, _)| name_score(t, e) == best);
    }
    if cands.len() > 1 && cands.iter().all(|(t, _)| t.same_take(cands[0].0)) {
        // one take as a poly file and as split mono files: the poly file
        cands.sort_by_key(|(t, _)| !t.poly);
        cands.truncate(1);
    }
    if cands.len() > 1 {
        return Err(Miss {
            status: "ambiguous",
            reason: None,
            candidates: cands.iter().map(|(t, _)| t.label()).collect(),
        });
    }
    let (take, offset) = cands[0];
    let n = e
        .patch
        .iter()
        .find(|(_, r)| *r == track_no)
        .map_or(track_no, |(s, _)| *s);
    let ch = match name {
        Some(nm) => take
            .channels
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(nm.trim())),
        None => take
            .channels
            .iter()
            .find(|c| c.number == Some(n))
            .or_else(|| take.channels.get(n as usize - 1)),
    };
    match ch {
        Some(ch) => Ok((take, offset, ch)),
        None => Err(miss(format!(
            "channel {} missing: {} has {}",
            name.map_or_else(|| n.to_string(), |nm| format!("'{nm}'")),
            take.label(),
            take.channels
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} '{}'", i + 1, c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The speed an edit plays at, as a duration ratio: its `M2` line's
/// `fps` against the list's nominal rate (`Speed::UNITY` without one), or why
/// it cannot be played.
pub fn edit_speed(e: &Edit, rate: FrameRate) -> std::result::Result<Speed, String> {
    let Some(m) = &e.motion else {
        return Ok(Speed::UNITY);
    };
    let nominal = rate.nominal();
    if !m.fps.is_finite() || m.fps == 0.0 {
        return Err(format!(
            "freeze frame (M2 at {} fps, line {}): audio cannot follow it; place this edit by hand",
            m.fps, m.line
        ));
    }
    if m.fps < 0.0 {
        return Err(format!(
            "reverse motion (M2 at {} fps, line {}): place this edit by hand",
            m.fps, m.line
        ));
    }
    // fps as written has at most one or two decimals: thousandths are exact
    let milli = (m.fps * 1000.0).round() as u64;
    if milli == nominal * 1000 {
        return Ok(Speed::UNITY);
    }
    Speed::parse(&format!("{}/{milli}", nominal * 1000)).map_err(|err| {
        format!(
            "M2 at {} fps (line {}) on a {nominal} fps list: {err}",
            m.fps, m.line
        )
    })
}

/// Conforms `list` with the takes found in `opts.media`.
pub fn conform(list: &EditList, opts: &ConformOptions) -> Result<Conformed> {
    let (takes, warnings) = scan(&opts.media, list.rate)?;
    conform_takes(list, opts, &takes, warnings, None)
}

/// [`conform`] over takes already [`scan`]ned (with the scan's `warnings`),
/// at `sample_rate` (`None`: the most common rate among the takes). The
/// re-conform fills new material with it, at its session's rate.
pub fn conform_takes(
    list: &EditList,
    opts: &ConformOptions,
    takes: &[Take],
    mut warnings: Vec<String>,
    sample_rate: Option<u32>,
) -> Result<Conformed> {
    if takes.is_empty() {
        warnings.push("no recorder files were found in the media folders".into());
    }
    // the most common sample rate among the takes (the first of equals); the
    // others are converted as they play
    let sr = sample_rate.unwrap_or_else(|| {
        let mut counts: Vec<(u32, usize)> = Vec::new();
        for t in takes {
            match counts.iter_mut().find(|(r, _)| *r == t.sample_rate) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.sample_rate, 1)),
            }
        }
        counts
            .iter()
            .fold(None::<(u32, usize)>, |best, &(r, n)| match best {
                Some((_, bn)) if bn >= n => best,
                _ => Some((r, n)),
            })
            .map_or(48_000, |(r, _)| r)
    });
    let rate = list.rate;
    let rec = |tc: ListTimecode| -> Result<i64> {
        tc.frames_at(tc.rate_in(rate, list.drop_frame))
            .map(|f| rate.frames_to_samples(f, sr))
            .map_err(Error::Invalid)
    };
    let handles_s = opts.handles_s.max(0.0);
    let mut tracks: Vec<(String, Vec<ConformClip>)> = Vec::new();
    let mut events = Vec::new();
    let push_clip =
        |tracks: &mut Vec<(String, Vec<ConformClip>)>, id: &str, c: ConformClip| match tracks
            .iter_mut()
            .find(|(t, _)| t == id)
        {
            Some((_, v)) => v.push(c),
            None => tracks.push((id.to_string(), vec![c])),
        };
    let names: Vec<Option<&str>> = if opts.channel_names.is_empty() {
        vec![None]
    } else {
        opts.channel_names
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    };
    for (ei, e) in list.edits.iter().enumerate() {
        if e.tracks.is_empty() {
            continue;
        }
        let rin = rec(e.record_in)?;
        let rout = rec(e.record_out)?;
        let len = (rout - rin).max(0) as u64;
        if len == 0 {
            continue; // the outgoing side of a transition: used by the next edit
        }
        // a dissolve or wipe: the edit before it in the same event is the
        // outgoing source, which continues under this one for the transition
        let from = (ei > 0)
            .then(|| &list.edits[ei - 1])
            .filter(|p| p.number == e.number && e.transition != Transition::Cut);
        let trans_len = if from.is_some() {
            (rate.frames_to_samples(e.transition_frames as i64, sr) as u64).min(len)
        } else {
            0
        };
        for &track_no in &e.tracks {
            for &name in &names {
                let track_id = match name {
                    Some(n) => format!("A{track_no}_{}", norm(n)),
                    None => format!("A{track_no}"),
                };
                // handles in the take's own frames, after the source it plays
                let handles_for = |t: &Take, ed: &Edit, off: u64, l: u64| {
                    let handles = (handles_s * t.sample_rate as f64).round() as u64;
                    let played = edit_speed(ed, rate)
                        .and_then(|sp| {
                            crate::timeline::clip_ratio(t.sample_rate, sr, sp)
                                .map_err(|e| e.to_string())
                        })
                        .map_or(l, |r| crate::timeline::source_frames(l, r));
                    [
                        handles.min(off),
                        handles.min(t.frames.saturating_sub(off + played)),
                    ]
                };
                let speed_of = |ed: &Edit| edit_speed(ed, rate).ok().filter(|s| !s.is_unity());
                // the outgoing side
                let mut fade_in = 0;
                if let Some(f) = from.filter(|_| trans_len > 0) {
                    if f.is_black() {
                        fade_in = trans_len;
                    } else {
                        match relink(takes, f, trans_len, sr, track_no, name, rate) {
                            Ok((t, off, ch)) => {
                                push_clip(
                                    &mut tracks,
                                    &track_id,
                                    ConformClip {
                                        name: f.clip_name.clone().unwrap_or_else(|| f.reel.clone()),
                                        event: f.number,
                                        file: ch.file.clone(),
                                        channel: ch.channel,
                                        offset: off,
                                        record: rin,
                                        length: trans_len,
                                        fade_in: 0,
                                        fade_out: trans_len,
                                        handles: handles_for(t, f, off, trans_len),
                                        speed: speed_of(f),
                                        source_rate: t.sample_rate,
                                        invert_polarity: false,
                                    },
                                );
                                fade_in = trans_len;
                            }
                            Err(m) => warnings.push(format!(
                                "event {} ({track_id}): the outgoing side of the {} ({}) has no audio: {}",
                                e.number,
                                e.transition.code(),
                                f.reel,
                                m.reason.unwrap_or_else(|| format!("ambiguous: {}", m.candidates.join(", ")))
                            )),
                        }
                    }
                }
                let mut rep = EventReport {
                    number: e.number,
                    line: e.line,
                    track: track_id.clone(),
                    status: "matched",
                    reel: e.reel.clone(),
                    record_in: list.record_text(e.record_in),
                    file: None,
                    channel: None,
                    offset: None,
                    reason: None,
                    candidates: Vec::new(),
                    speed: None,
                };
                if e.is_black() {
                    rep.status = "silence";
                    events.push(rep);
                    continue;
                }
                match relink(takes, e, len, sr, track_no, name, rate) {
                    Ok((take, offset, ch)) => {
                        rep.file = Some(ch.file.clone());
                        rep.channel = Some(ch.channel + 1);
                        rep.offset = Some(offset);
                        rep.speed = speed_of(e).map(|s| s.label());
                        events.push(rep);
                        push_clip(
                            &mut tracks,
                            &track_id,
                            ConformClip {
                                name: e.clip_name.clone().unwrap_or_else(|| e.reel.clone()),
                                event: e.number,
                                file: ch.file.clone(),
                                channel: ch.channel,
                                offset,
                                record: rin,
                                length: len,
                                fade_in,
                                fade_out: 0,
                                handles: handles_for(take, e, offset, len),
                                speed: speed_of(e),
                                source_rate: take.sample_rate,
                                invert_polarity: false,
                            },
                        );
                    }
                    Err(m) => {
                        rep.status = m.status;
                        rep.reason = m.reason;
                        rep.candidates = m.candidates;
                        events.push(rep);
                    }
                }
            }
        }
    }
    tracks.sort_by(|a, b| a.0.cmp(&b.0));
    let count = |s: &str| events.iter().filter(|e| e.status == s).count();
    Ok(Conformed {
        title: if list.title.is_empty() {
            "conform".into()
        } else {
            list.title.clone()
        },
        frame_rate: rate.name().to_string(),
        sample_rate: sr,
        matched: count("matched"),
        unmatched: count("unmatched"),
        ambiguous: count("ambiguous"),
        tracks,
        events,
        warnings,
    })
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `p` relative to `dir` when it lies under it, else absolute.
fn rel(p: &Path, dir: &Path) -> String {
    let abs = |x: &Path| std::fs::canonicalize(x).unwrap_or_else(|_| x.to_path_buf());
    let (pa, da) = (abs(p), abs(dir));
    pa.strip_prefix(&da)
        .map(|r| r.to_path_buf())
        .unwrap_or(pa)
        .display()
        .to_string()
}

impl Conformed {
    /// The reel's start: the hour of the first clip (errors when nothing was matched).
    pub fn reel_start(&self) -> Result<Timecode> {
        let rate: FrameRate = self.frame_rate.parse().map_err(Error::Invalid)?;
        let first = self
            .tracks
            .iter()
            .flat_map(|(_, c)| c.iter().map(|c| c.record))
            .min()
            .ok_or_else(|| {
                Error::Invalid("no edit was matched: there is nothing to write".into())
            })?;
        let tc = Timecode::from_samples(first, rate, self.sample_rate);
        Timecode::parse(&format!("{:02}:00:00:00", tc.hours), rate)
    }

    /// The session file text: `[reel]` and one `[[track]]` of clips per record
    /// track (dialogue, mono), starting at the hour of the first edit.
    pub fn session_toml(&self, dir: &Path) -> Result<String> {
        let rate: FrameRate = self.frame_rate.parse().map_err(Error::Invalid)?;
        let sr = self.sample_rate;
        let start = self.reel_start()?;
        let last = self
            .tracks
            .iter()
            .flat_map(|(_, c)| c.iter().map(|c| c.record + c.length as i64))
            .max()
            .unwrap_or(0);
        let len_frames = rate.samples_to_frames(
            last - start.to_samples(sr) + rate.frames_to_samples(1, sr) - 1,
            sr,
        );
        let length = Timecode::from_frames(len_frames, rate);
        let mut o = String::new();
        o.push_str(
            "# Written by `dubstage conform`: tracks of clips relinked to the recorder's files.\n",
        );
        o.push_str(&format!(
            "[reel]\ntitle = {}\nsample_rate = {sr}\nframe_rate = {}\nstart = {}\nffoa = {}\nlength = {}\n",
            q(&self.title),
            q(rate.name()),
            q(&start.to_string()),
            q(&start.to_string()),
            q(&length.to_string())
        ));
        for (id, clips) in &self.tracks {
            o.push_str(&format!(
                "\n[[track]]\nid = {}\nkind = \"dialogue\"\nlayout = \"mono\"\n",
                q(id)
            ));
            for c in clips {
                let rec = Timecode::from_samples(c.record, rate, sr);
                let exact = rec.to_samples(sr) == c.record;
                o.push_str(&format!(
                    "\n[[track.clip]]\nname = {}\nevent = {}\nsource = {}\nchannels = [{}]\nsource_in_samples = {}\nrecord_in = {}\nlength_samples = {}\nhandles_samples = [{}, {}]\n",
                    q(&c.name),
                    c.event,
                    q(&rel(&c.file, dir)),
                    c.channel + 1,
                    c.offset,
                    q(&rec.to_string()),
                    c.length,
                    c.handles[0],
                    c.handles[1]
                ));
                if !exact {
                    return Err(Error::Invalid(format!(
                        "event {}: record position {} is not on a frame boundary",
                        c.event, c.record
                    )));
                }
                if c.fade_in > 0 {
                    o.push_str(&format!("fade_in = {{ samples = {} }}\n", c.fade_in));
                }
                if c.fade_out > 0 {
                    o.push_str(&format!("fade_out = {{ samples = {} }}\n", c.fade_out));
                }
                if let Some(sp) = c.speed {
                    o.push_str(&format!("speed = {}\n", q(&sp.label())));
                }
                if c.invert_polarity {
                    o.push_str("invert_polarity = true\n");
                }
            }
        }
        Ok(o)
    }

    /// A readable report: one line per edit and track.
    pub fn report_text(&self) -> String {
        let mut o = format!(
            "{}: {} matched, {} unmatched, {} ambiguous\n",
            self.title, self.matched, self.unmatched, self.ambiguous
        );
        for e in &self.events {
            o.push_str(&format!(
                "{:>4} {:<8} {:<10} {:<16} {:<9}",
                e.number, e.track, e.status, e.reel, e.record_in
            ));
            if let (Some(f), Some(c), Some(off)) = (&e.file, e.channel, e.offset) {
                o.push_str(&format!(" {} ch {c} +{off}", f.display()));
            }
            if let Some(r) = &e.reason {
                o.push_str(&format!(" {r}"));
            }
            if !e.candidates.is_empty() {
                o.push_str(&format!(" candidates: {}", e.candidates.join(", ")));
            }
            o.push('\n');
        }
        for w in &self.warnings {
            o.push_str(&format!("warning: {w}\n"));
        }
        o
    }

    /// The conformed timeline as OpenTimelineIO JSON: one audio track per
    /// session track, clips with `ExternalReference`s to the files, times in
    /// samples (RationalTime rate = the sample rate), gaps between clips.
    pub fn to_otio(&self) -> serde_json::Value {
        use serde_json::json;
        let sr = self.sample_rate as f64;
        let rt = |v: i64| json!({"OTIO_SCHEMA": "RationalTime.1", "rate": sr, "value": v as f64});
        let range = |s: i64, d: i64| json!({"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(s), "duration": rt(d)});
        let start = self
            .tracks
            .iter()
            .flat_map(|(_, c)| c.iter().map(|c| c.record))
            .min()
            .unwrap_or(0);
        let tracks: Vec<serde_json::Value> = self
            .tracks
            .iter()
            .map(|(id, clips)| {
                let mut v = Vec::new();
                let mut pos = start;
                let mut sorted: Vec<&ConformClip> = clips.iter().collect();
                sorted.sort_by_key(|c| c.record);
                for (k, c) in sorted.iter().enumerate() {
                    // a dissolve's outgoing side (a clip that only fades out, under
                    // the incoming clip that starts with it) is a Transition after
                    // the cut: the outgoing clip's media continues under it
                    let incoming = sorted.get(k + 1).filter(|n| {
                        n.record == c.record && n.fade_in == c.length && c.fade_out == c.length
                    });
                    if c.record >= pos && incoming.is_some() {
                        if c.record > pos {
                            v.push(json!({"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": range(0, c.record - pos)}));
                            pos = c.record;
                        }
                        v.push(json!({
                            "OTIO_SCHEMA": "Transition.1", "name": "",
                            "transition_type": "SMPTE_Dissolve",
                            "in_offset": rt(0), "out_offset": rt(c.length as i64),
                            "metadata": {"dubstage": {"event": c.event, "outgoing_source_in": c.offset}},
                        }));
                        continue;
                    }
                    if c.record < pos {
                        continue; // other overlaps have no OTIO form
                    }
                    if c.record > pos {
                        v.push(json!({"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": range(0, c.record - pos)}));
                    }
                    v.push(json!({
                        "OTIO_SCHEMA": "Clip.2",
                        "name": c.name,
                        // the source in at the file's own rate; the duration on the track
                        // (OTIO: a LinearTimeWarp's clip takes duration × time_scalar of media)
                        "source_range": {"OTIO_SCHEMA": "TimeRange.1",
                            "start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": c.source_rate as f64, "value": c.offset as f64},
                            "duration": rt(c.length as i64)},
                        "effects": c.speed.map(|sp| vec![json!({
                            "OTIO_SCHEMA": "LinearTimeWarp.1", "name": "", "effect_name": "LinearTimeWarp",
                            "time_scalar": sp.length_den as f64 / sp.length_num as f64, "metadata": {},
                        })]).unwrap_or_default(),
                        "metadata": {"dubstage": {"event": c.event, "channel": c.channel + 1, "fade_in_samples": c.fade_in, "fade_out_samples": c.fade_out, "speed": c.speed.map(|s| s.label())}},
                        "active_media_reference_key": "DEFAULT_MEDIA",
                        "media_references": {"DEFAULT_MEDIA": {
                            "OTIO_SCHEMA": "ExternalReference.1",
                            "target_url": format!("file://{}", std::fs::canonicalize(&c.file).unwrap_or(c.file.clone()).display()),
                            "available_range": serde_json::Value::Null,
                        }},
                        "markers": [], "enabled": true,
                    }));
                    pos = c.record + c.length as i64;
                }
                json!({"OTIO_SCHEMA": "Track.1", "name": id, "kind": "Audio", "children": v, "source_range": null, "effects": [], "markers": [], "enabled": true})
            })
            .collect();
        json!({
            "OTIO_SCHEMA": "Timeline.1",
            "name": self.title,
            "global_start_time": rt(start),
            "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "children": tracks, "source_range": null, "effects": [], "markers": [], "enabled": true},
        })
    }
}
