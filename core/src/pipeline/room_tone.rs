//! The room tone of a session's `denoise` inserts: the noise profile each one
//! starts from, learned once before the render or the preview runs, from a
//! room-tone file (`room_tone`, its first [`MAX_ROOM_TONE_S`] seconds) and/or
//! a reel range of the stem's own audio as it plays before its inserts
//! (`learn = "START-END"`, session timecode, at most [`MAX_ROOM_TONE_S`]
//! seconds), both together when both are given. Only that audio is read,
//! once; the profile is written into the insert (`profile`), so the render's
//! chain and the browser's mixer start from the same numbers.

use super::sources::StemReader;
use crate::dialogue::denoise::{NoiseAccumulator, NoiseProfile};
use crate::io::AudioReader;
use crate::session::{Plan, PlanStem};
use crate::stem::chain::InsertSpec;
use crate::timecode::Timecode;
use crate::{Error, Result};
use std::path::Path;

/// The most room tone read per insert, seconds.
pub const MAX_ROOM_TONE_S: f64 = 60.0;

/// Learns the profile of every `denoise` insert of `plan`'s stems that names
/// a `room_tone` or a `learn` range (and has no `profile` yet). Errors name
/// the stem, the insert and what is wrong (a missing or unreadable file,
/// another sample rate, a range that is malformed, reversed, too long,
/// outside the reel, or silent).
pub fn learn(plan: &mut Plan) -> Result<()> {
    let sr = plan.sample_rate;
    for si in 0..plan.stems.len() {
        for ii in 0..plan.stems[si].inserts.len() {
            let stem = &plan.stems[si];
            let at = |m: String| Error::stem(&stem.id, format!("insert {} (denoise): {m}", ii + 1));
            let from_range = |r: &str, acc: &mut NoiseAccumulator| from_stem(stem, plan, r, acc);
            if let Some(p) = learn_one(&stem.inserts[ii], &plan.base_dir, sr, &at, from_range)? {
                set_profile(&mut plan.stems[si].inserts[ii], p);
            }
        }
    }
    // A return's denoise learns from a room-tone file only: a return has no audio of
    // its own before the mix to take a range of.
    for ri in 0..plan.returns.len() {
        for ii in 0..plan.returns[ri].inserts.len() {
            let id = &plan.returns[ri].id;
            let at = |m: String| {
                Error::Invalid(format!("return '{id}': insert {} (denoise): {m}", ii + 1))
            };
            let from_range =
                |_: &str, _: &mut NoiseAccumulator| {
                    Err("`learn` takes a range of a stem's own audio, and a return has none before \
                     the mix: give a `room_tone` file"
                    .to_string())
                };
            let spec = &plan.returns[ri].inserts[ii];
            if let Some(p) = learn_one(spec, &plan.base_dir, sr, &at, from_range)? {
                set_profile(&mut plan.returns[ri].inserts[ii], p);
            }
        }
    }
    Ok(())
}

/// The profile of one insert: `None` unless it is a `denoise` naming a room tone or a
/// range and not learned yet. `from_range` reads a `learn` range into the accumulator.
fn learn_one(
    spec: &InsertSpec,
    base_dir: &Path,
    sample_rate: u32,
    at: &dyn Fn(String) -> Error,
    from_range: impl Fn(&str, &mut NoiseAccumulator) -> std::result::Result<(), String>,
) -> Result<Option<NoiseProfile>> {
    let InsertSpec::Denoise {
        room_tone,
        learn,
        profile: None,
        ..
    } = spec
    else {
        return Ok(None);
    };
    if room_tone.is_none() && learn.is_none() {
        return Ok(None);
    }
    let mut acc = NoiseAccumulator::new(sample_rate);
    if let Some(f) = room_tone {
        from_file(&base_dir.join(f), sample_rate, &mut acc).map_err(at)?;
    }
    if let Some(r) = learn {
        from_range(r, &mut acc).map_err(at)?;
    }
    acc.finish().map(Some).map_err(|e| at(e.to_string()))
}

fn set_profile(spec: &mut InsertSpec, p: NoiseProfile) {
    if let InsertSpec::Denoise { profile, .. } = spec {
        *profile = Some(p.power);
    }
}

fn from_file(
    path: &Path,
    sample_rate: u32,
    acc: &mut NoiseAccumulator,
) -> std::result::Result<(), String> {
    let mut r = AudioReader::open(path).map_err(|e| format!("room_tone: {e}"))?;
    let info = r.info().clone();
    if info.sample_rate != sample_rate {
        return Err(format!(
            "room_tone {} is at {} Hz, the session at {sample_rate} Hz",
            path.display(),
            info.sample_rate
        ));
    }
    let n = info
        .frames
        .min((MAX_ROOM_TONE_S * f64::from(sample_rate)) as u64) as usize;
    let mut buf = vec![Vec::new(); usize::from(info.channels)];
    let got = r
        .read_planar(&mut buf, n)
        .map_err(|e| format!("room_tone: {e}"))?;
    if got != n {
        return Err(format!(
            "room_tone {} ended early (truncated?)",
            path.display()
        ));
    }
    push(acc, &buf, n, &format!("room_tone {}", path.display()))
}

fn from_stem(
    stem: &PlanStem,
    plan: &Plan,
    range: &str,
    acc: &mut NoiseAccumulator,
) -> std::result::Result<(), String> {
    let bad = |m: &str| format!("learn = \"{range}\": {m}");
    let (a, b) = range
        .split_once('-')
        .ok_or_else(|| bad("give START-END in the session's timecode"))?;
    let tc = |t: &str| {
        Timecode::parse(t.trim(), plan.frame_rate)
            .map(|t| t.to_samples(plan.sample_rate) - plan.start_samples)
            .map_err(|e| bad(&e.to_string()))
    };
    let (s, e) = (tc(a)?, tc(b)?);
    if e <= s {
        return Err(bad("the end is not after the start"));
    }
    if s < 0 || e > plan.length as i64 {
        return Err(bad("the range is outside the reel"));
    }
    if (e - s) as f64 > MAX_ROOM_TONE_S * f64::from(plan.sample_rate) {
        return Err(bad(&format!("longer than {MAX_ROOM_TONE_S} s")));
    }
    let mut r = StemReader::open(stem, plan, s).map_err(|e| e.to_string())?;
    let n = (e - s) as usize;
    let mut buf = vec![Vec::new(); stem.layout.len()];
    r.read_block(s, n, &mut buf).map_err(|e| e.to_string())?;
    push(acc, &buf, n, &format!("learn = \"{range}\""))
}

fn push(
    acc: &mut NoiseAccumulator,
    buf: &[Vec<f32>],
    n: usize,
    what: &str,
) -> std::result::Result<(), String> {
    let v: Vec<&[f32]> = buf.iter().map(|c| &c[..n]).collect();
    if v.iter().flat_map(|c| c.iter()).any(|x| !x.is_finite()) {
        return Err(format!("{what} holds a non-finite sample"));
    }
    let before = acc.frames();
    acc.push(&v);
    if acc.frames() == before {
        return Err(format!(
            "{what} is too short to learn the noise from ({n} samples; at least one 43 ms frame, \
             half a second or more is better)"
        ));
    }
    Ok(())
}
