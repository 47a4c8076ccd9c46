//! Applying a change list to a session: every clip and whole-reel stem is cut
//! at the change boundaries and its pieces moved; automation moves with the
//! audio and gets breakpoints at each piece's edges; new material may be
//! filled from the recorder's files ([`super::fill`]); removed material may be
//! kept on muted trims tracks.

use super::ChangeList;
use super::NEW_EDIT_XFADE_S;
use super::fill::Fill;
use crate::session::{Plan, Session};
use crate::stem::automation::Envelope;
use crate::timecode::Timecode;
use crate::{Error, Result};

/// What [`apply_with`] does beyond moving the audio.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions<'a> {
    /// New material conformed from the recorder's files (`reconform --media`):
    /// its clips join the tracks of their ids (a mono track is made where none
    /// is).
    pub fill: Option<&'a Fill>,
    /// Keep the removed material: every track or stem that loses audio gets a
    /// track `trims_<id>` (same kind, bus and layout, `mute = true`, so it is
    /// never heard) holding the removed pieces at their old place on the reel,
    /// with their handles, ready to be dragged back (Pro Tools' convention:
    /// trims on an inactive track). The reel's `length` is then set to the new
    /// cut's end (as it is where the old session gave one), so trims past it do
    /// not lengthen the print.
    pub trims: bool,
}

/// Where reel sample `t` goes (`None`: its audio was removed).
fn map_time(t: i64, moves: &[(i64, i64, i64)]) -> Option<i64> {
    moves
        .iter()
        .find(|&&(a, b, _)| a <= t && t < b)
        .map(|&(_, _, d)| t + d)
}

fn tc_text(t: i64, plan: &Plan) -> String {
    Timecode::from_samples(t + plan.start_samples, plan.frame_rate, plan.sample_rate).to_string()
}

/// Rewrites `session` for the new cut. Returns the new session text and what
/// could not be followed.
pub fn apply(session: &Session, changes: &ChangeList) -> Result<(String, Vec<String>)> {
    apply_with(session, changes, ApplyOptions::default())
}

/// Moves the breakpoints of `v` (an `automation` array) with their audio
/// and drops those on removed material (reported). Where there is any
/// automation, each piece also gets a breakpoint at its new start and its new
/// end holding the level the old automation had at those points of the audio,
/// so a ramp that spans a cut keeps the gain each sample had (ramps are linear
/// in dB, so the segment between a piece's edge and its next breakpoint is the
/// old segment). Where one piece ends and the next starts, the outgoing edge's
/// breakpoint comes first, so the step falls between the two pieces.
fn map_automation(
    v: &mut toml::Value,
    owner: &str,
    moves: &[(i64, i64, i64)],
    plan: &Plan,
    warnings: &mut Vec<String>,
) {
    let Some(arr) = v.as_array_mut() else { return };
    if arr.is_empty() {
        return;
    }
    let at_of = |bp: &toml::Value| {
        bp.get("at")
            .and_then(|a| a.as_str())
            .and_then(|a| Timecode::parse(a, plan.frame_rate).ok())
            .map(|t| t.to_samples(plan.sample_rate) - plan.start_samples)
    };
    let db_of = |bp: &toml::Value| {
        bp.get("db")
            .and_then(|d| d.as_float().or_else(|| d.as_integer().map(|i| i as f64)))
    };
    let old = Envelope {
        points: arr
            .iter()
            .filter_map(|bp| Some((at_of(bp)?, db_of(bp)?)))
            .collect(),
        ..Default::default()
    };
    let point = |t: i64, db: f64| {
        let mut p = toml::Table::new();
        p.insert("at".into(), toml::Value::String(tc_text(t, plan)));
        p.insert("db".into(), toml::Value::Float(db));
        toml::Value::Table(p)
    };
    // (new sample, rank at equal times: outgoing edge, incoming edge, moved)
    let mut kept: Vec<(i64, u8, toml::Value)> = Vec::new();
    for bp in arr.drain(..) {
        match at_of(&bp) {
            Some(t) => match map_time(t, moves) {
                Some(nt) => {
                    let mut b = bp.clone();
                    if let Some(tb) = b.as_table_mut() {
                        tb.insert("at".into(), toml::Value::String(tc_text(nt, plan)));
                    }
                    kept.push((nt, 2, b));
                }
                None => warnings.push(format!(
                    "{owner}: a breakpoint at {} was on removed material and is dropped",
                    bp["at"]
                )),
            },
            None => kept.push((i64::MIN, 0, bp)),
        }
    }
    for &(a, b, d) in moves {
        kept.push((b + d, 0, point(b + d, old.db_at(b))));
        kept.push((a + d, 1, point(a + d, old.db_at(a))));
    }
    kept.sort_by_key(|k| (k.0, k.1));
    kept.dedup_by(|x, y| x.0 == y.0 && db_of(&x.2) == db_of(&y.2));
    arr.extend(kept.into_iter().map(|k| k.2));
}

/// A `trims_<id>` track: the kind, bus, layout and gain of `src`, muted.
fn trims_track(src: &toml::Table, id: &str, layout: &str, clips: Vec<toml::Value>) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("id".into(), toml::Value::String(format!("trims_{id}")));
    for k in ["kind", "dialogue", "bus", "gain_db"] {
        if let Some(v) = src.get(k) {
            t.insert(k.into(), v.clone());
        }
    }
    t.insert("layout".into(), toml::Value::String(layout.to_string()));
    t.insert("mute".into(), toml::Value::Boolean(true));
    t.insert("clip".into(), toml::Value::Array(clips));
    toml::Value::Table(t)
}

/// [`apply`], with new material filled and removed material kept as `opts` asks.
pub fn apply_with(
    session: &Session,
    changes: &ChangeList,
    opts: ApplyOptions<'_>,
) -> Result<(String, Vec<String>)> {
    let plan = session.resolve()?;
    if plan.frame_rate.name() != changes.frame_rate {
        return Err(Error::Invalid(format!(
            "the session is at {} fps, the lists were read at {}",
            plan.frame_rate, changes.frame_rate
        )));
    }
    let moves = changes.sample_moves(&plan);
    let sr = plan.sample_rate;
    let xfade = (NEW_EDIT_XFADE_S * sr as f64).round() as u64;
    let reel = |f: i64| plan.frame_rate.frames_to_samples(f, sr) - plan.start_samples;
    // where filled new material ends: the piece that follows fades in under it
    let fill_ends: Vec<i64> = opts
        .fill
        .map(|f| f.filled_ranges().map(|(_, b)| reel(b)).collect())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let mut doc: toml::Table = toml::from_str(&session.text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", session.path.display())))?;
    let map_automation = |v: &mut toml::Value, owner: &str, warnings: &mut Vec<String>| {
        map_automation(v, owner, &moves, &plan, warnings)
    };
    let mut trim_tracks: Vec<toml::Value> = Vec::new();
    // buses
    if let Some(toml::Value::Array(buses)) = doc.get_mut("bus") {
        for b in buses.iter_mut() {
            let id = b
                .get("id")
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string();
            if let Some(a) = b.get_mut("automation") {
                map_automation(a, &format!("bus '{id}'"), &mut warnings);
            }
        }
    }
    // every stem and track as pieces
    let mut new_tracks: Vec<toml::Value> = Vec::new();
    let old_tracks: Vec<toml::Value> = match doc.remove("track") {
        Some(toml::Value::Array(v)) => v,
        _ => Vec::new(),
    };
    let old_stems: Vec<toml::Value> = match doc.remove("stem") {
        Some(toml::Value::Array(v)) => v,
        _ => Vec::new(),
    };
    let mut kept_stems = Vec::new();
    for (spec, st) in old_stems.into_iter().zip(&plan.stems) {
        let unchanged = moves
            .iter()
            .all(|&(a, b, d)| d == 0 || b <= st.offset || a >= st.offset + st.frames as i64)
            && {
                // nothing of it removed
                let mut t = st.offset.max(0);
                let end = st.offset + st.frames as i64;
                let mut ok = true;
                while t < end {
                    match moves.iter().find(|&&(a, b, _)| a <= t && t < b) {
                        Some(&(_, b, _)) => t = b,
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                ok
            };
        if unchanged {
            let mut s = spec;
            if let Some(a) = s.get_mut("automation") {
                map_automation(a, &format!("stem '{}'", st.id), &mut warnings);
            }
            kept_stems.push(s);
            continue;
        }
        // the stem becomes a track of its pieces
        let t = spec.as_table().cloned().unwrap_or_default();
        for k in ["channel_order", "sends", "start"] {
            if t.contains_key(k) && k != "start" {
                warnings.push(format!(
                    "stem '{}': `{k}` is not kept when the stem is cut into a track",
                    st.id
                ));
            }
        }
        let mut track = toml::Table::new();
        for k in [
            "id",
            "kind",
            "dialogue",
            "bus",
            "gain_db",
            "mute",
            "pan",
            "inserts",
            "automation",
        ] {
            if let Some(v) = t.get(k) {
                track.insert(k.into(), v.clone());
            }
        }
        track.insert(
            "layout".into(),
            toml::Value::String(st.layout.name().to_string()),
        );
        let ratio = st.clips.first().map_or((1, 1), |c| c.ratio);
        let whole = Piece {
            record: st.offset,
            file_start: 0,
            length: st.frames,
            fade_in: 0,
            fade_out: 0,
            handles: [0, 0],
            ratio,
        };
        let src: toml::Table = {
            let mut m = toml::Table::new();
            for k in ["source", "sources", "speed"] {
                if let Some(v) = t.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            m
        };
        let file_frames = crate::timeline::source_frames(st.frames, ratio);
        let clips = cut(&whole, &moves, xfade, file_frames, &src, &plan, &fill_ends);
        if opts.trims {
            let tr = trims(&whole, &moves, file_frames, &src, &plan);
            if !tr.is_empty() {
                trim_tracks.push(trims_track(&t, &st.id, st.layout.name(), tr));
            }
        }
        track.insert("clip".into(), toml::Value::Array(clips));
        let mut tv = toml::Value::Table(track);
        if let Some(a) = tv.get_mut("automation") {
            map_automation(a, &format!("stem '{}'", st.id), &mut warnings);
        }
        new_tracks.push(tv);
    }
    let n_stems = session.file.stems.len();
    for (spec, st) in old_tracks.into_iter().zip(&plan.stems[n_stems..]) {
        let mut t = spec.as_table().cloned().unwrap_or_default();
        let specs: Vec<toml::Value> = match t.remove("clip") {
            Some(toml::Value::Array(v)) => v,
            _ => Vec::new(),
        };
        let mut clips = Vec::new();
        let mut trimmed = Vec::new();
        for (cs, c) in specs.iter().zip(&st.clips) {
            let mut base = cs.as_table().cloned().unwrap_or_default();
            for k in [
                "source_in",
                "source_in_samples",
                "record_in",
                "length",
                "length_samples",
                "fade_in",
                "fade_out",
                "handles_samples",
            ] {
                base.remove(k);
            }
            let p = Piece {
                record: c.record_start,
                file_start: c.file_start,
                length: c.length,
                fade_in: c.fade_in.0,
                fade_out: c.fade_out.0,
                handles: c.handles,
                ratio: c.ratio,
            };
            let file_frames =
                c.file_start + crate::timeline::source_frames(c.length, c.ratio) + c.handles[1];
            clips.extend(cut(
                &p,
                &moves,
                xfade,
                file_frames,
                &base,
                &plan,
                &fill_ends,
            ));
            if opts.trims {
                trimmed.extend(trims(&p, &moves, file_frames, &base, &plan));
            }
        }
        if !trimmed.is_empty() {
            trim_tracks.push(trims_track(&t, &st.id, st.layout.name(), trimmed));
        }
        t.insert("clip".into(), toml::Value::Array(clips));
        let mut tv = toml::Value::Table(t);
        if let Some(a) = tv.get_mut("automation") {
            map_automation(a, &format!("track '{}'", st.id), &mut warnings);
        }
        new_tracks.push(tv);
    }
    // filled new material joins the mono track of its id (or a new one)
    for (id, clips) in opts.fill.map(|f| f.tracks.as_slice()).unwrap_or_default() {
        let mono = |id: &str| {
            plan.stems
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.layout.len() == 1)
        };
        let id = match mono(id) {
            Some(false) => format!("{id}_new"),
            _ => id.clone(),
        };
        let found = new_tracks
            .iter_mut()
            .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id.as_str()));
        match found
            .and_then(|t| t.get_mut("clip"))
            .and_then(|c| c.as_array_mut())
        {
            Some(arr) => arr.extend(clips.iter().cloned()),
            None => {
                let mut t = toml::Table::new();
                t.insert("id".into(), toml::Value::String(id.clone()));
                t.insert("kind".into(), toml::Value::String("dialogue".into()));
                t.insert("layout".into(), toml::Value::String("mono".into()));
                t.insert("clip".into(), toml::Value::Array(clips.clone()));
                new_tracks.push(toml::Value::Table(t));
            }
        }
    }
    let trimmed = !trim_tracks.is_empty();
    new_tracks.extend(trim_tracks);
    if !kept_stems.is_empty() {
        doc.insert("stem".into(), toml::Value::Array(kept_stems));
    }
    if !new_tracks.is_empty() {
        doc.insert("track".into(), toml::Value::Array(new_tracks));
    }
    // the reel's length follows the new cut: its end in the new list where the
    // old session gave a length or trims may lie past that end, else from its
    // content
    if let Some(reel) = doc.get_mut("reel").and_then(|r| r.as_table_mut()) {
        let had_length = reel.remove("length").is_some();
        let end = changes
            .moves
            .iter()
            .map(|m| m.new_in + m.old_out - m.old_in)
            .chain(changes.inserted.iter().map(|r| r.1))
            .max();
        let start = Timecode::from_samples(plan.start_samples, plan.frame_rate, sr).to_frames();
        if let Some(end) = end.filter(|&e| (trimmed || had_length) && e > start) {
            let len = Timecode::from_frames(end - start, plan.frame_rate);
            reel.insert("length".into(), toml::Value::String(len.to_string()));
        }
    }
    let text = toml::to_string(&doc).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok((
        format!(
            "# Re-conformed by `dubstage reconform` from {}\n{text}",
            session.path.display()
        ),
        warnings,
    ))
}

/// A clip (or a stem) in reel samples, to be cut.
struct Piece {
    record: i64,
    file_start: u64,
    length: u64,
    fade_in: u64,
    fade_out: u64,
    /// Source material available before and after (source frames).
    handles: [u64; 2],
    /// Source frames per reel frame (a converted clip: see [`crate::timeline`]).
    ratio: (u32, u32),
}

impl Piece {
    /// Reel frames (from the piece's start) to source frames, rounded to the nearest.
    fn to_source(&self, reel: i64) -> i64 {
        let (a, b) = (self.ratio.0 as i128, self.ratio.1 as i128);
        let n = reel as i128 * a;
        (if n >= 0 {
            (n + b / 2) / b
        } else {
            -((-n + b / 2) / b)
        }) as i64
    }

    /// Source frames to reel frames, rounded down.
    fn to_reel(&self, source: u64) -> u64 {
        (source as u128 * self.ratio.1 as u128 / self.ratio.0 as u128) as u64
    }

    /// The source frame at reel frame `rel` from the piece's start.
    fn src_at(&self, rel: i64) -> u64 {
        (self.file_start as i64 + self.to_source(rel)).max(0) as u64
    }

    /// The part `rel .. rel + len` (reel frames from the piece's start) as a
    /// `[[track.clip]]` table (with the keys of `base`) landing at reel sample
    /// `rec`, with its fades and the handles the source has either side.
    #[expect(
        clippy::too_many_arguments,
        reason = "one part of one piece: its range, place and fades, and the source's extent"
    )]
    fn clip(
        &self,
        mut rel: i64,
        mut len: u64,
        mut rec: i64,
        mut fade_in: u64,
        mut fade_out: u64,
        file_frames: u64,
        base: &toml::Table,
        plan: &Plan,
    ) -> toml::Value {
        // a record position inside a frame (a stem placed by its TimeReference):
        // start at the frame, with as much earlier source as there is
        let tc =
            Timecode::from_samples(rec + plan.start_samples, plan.frame_rate, plan.sample_rate);
        let lead = (rec - (tc.to_samples(plan.sample_rate) - plan.start_samples)) as u64;
        if lead > 0 {
            let back = lead.min(self.to_reel(self.src_at(rel)));
            rel -= back as i64;
            len += back;
            rec -= back as i64;
            if back < lead {
                fade_in = fade_in.max(1);
            }
        }
        let tc =
            Timecode::from_samples(rec + plan.start_samples, plan.frame_rate, plan.sample_rate);
        let off = self.src_at(rel);
        let mut t = base.clone();
        t.insert("source_in_samples".into(), toml::Value::Integer(off as i64));
        t.insert("record_in".into(), toml::Value::String(tc.to_string()));
        t.insert("length_samples".into(), toml::Value::Integer(len as i64));
        fade_in = fade_in.min(len);
        fade_out = fade_out.min(len);
        for (k, v) in [("fade_in", fade_in), ("fade_out", fade_out)] {
            if v > 0 {
                let mut f = toml::Table::new();
                f.insert("samples".into(), toml::Value::Integer(v as i64));
                t.insert(k.into(), toml::Value::Table(f));
            }
        }
        let earliest = self.file_start.saturating_sub(self.handles[0]);
        t.insert(
            "handles_samples".into(),
            toml::Value::Array(vec![
                toml::Value::Integer((off - earliest.min(off)) as i64),
                toml::Value::Integer(
                    file_frames.saturating_sub(self.src_at(rel + len as i64)) as i64
                ),
            ]),
        );
        toml::Value::Table(t)
    }
}

/// The pieces of `p` under the moves, as `[[track.clip]]` tables (with the
/// keys of `base`): each moved by its shift; at a new edit point the piece
/// continues for `xfade` into its handle, fading out, and the next fades in.
fn cut(
    p: &Piece,
    moves: &[(i64, i64, i64)],
    xfade: u64,
    file_frames: u64,
    base: &toml::Table,
    plan: &Plan,
    fill_ends: &[i64],
) -> Vec<toml::Value> {
    let r0 = p.record;
    let r1 = p.record + p.length as i64;
    let mut out = Vec::new();
    for &(a, b, d) in moves {
        let s = a.max(r0);
        let e = b.min(r1);
        if s >= e {
            continue;
        }
        // reel frames from the piece's start (a converted clip's source frames
        // follow by its ratio)
        let rel = s - r0;
        let mut len = (e - s) as u64;
        // a piece cut by the change starts or ends at a new edit point: it fades in
        // there, and at its end it continues into its handle, fading out, under
        // the incoming piece
        let own_in = if s == r0 { p.fade_in } else { 0 };
        let own_out = if e == r1 { p.fade_out } else { 0 };
        // an edit point of the new cut: another piece ends where this one starts
        // (or filled new material ends there)
        let cut_in = s == a
            && (moves.iter().any(|&(_, b2, d2)| b2 + d2 == a + d) || fill_ends.contains(&(a + d)));
        let fade_in = if cut_in { own_in.max(xfade) } else { own_in };
        let mut fade_out = own_out;
        let src_at = |rel: i64| p.src_at(rel);
        if e == b {
            if p.to_reel(file_frames.saturating_sub(src_at(rel + len as i64))) >= xfade {
                len += xfade;
                fade_out = xfade;
            } else {
                fade_out = own_out.max(xfade);
            }
        }
        out.push(p.clip(rel, len, s + d, fade_in, fade_out, file_frames, base, plan));
    }
    out
}

/// The parts of `p` that no move keeps, at their old place (for the trims
/// tracks): with the piece's own fades where they are its ends, and handles.
fn trims(
    p: &Piece,
    moves: &[(i64, i64, i64)],
    file_frames: u64,
    base: &toml::Table,
    plan: &Plan,
) -> Vec<toml::Value> {
    let r0 = p.record;
    let r1 = p.record + p.length as i64;
    let mut kept: Vec<(i64, i64)> = moves
        .iter()
        .map(|&(a, b, _)| (a.max(r0), b.min(r1)))
        .filter(|(s, e)| s < e)
        .collect();
    kept.sort();
    let mut gaps = Vec::new();
    let mut t = r0;
    for (s, e) in kept {
        if s > t {
            gaps.push((t, s));
        }
        t = t.max(e);
    }
    if t < r1 {
        gaps.push((t, r1));
    }
    gaps.into_iter()
        .map(|(s, e)| {
            let fade_in = if s == r0 { p.fade_in } else { 0 };
            let fade_out = if e == r1 { p.fade_out } else { 0 };
            p.clip(
                s - r0,
                (e - s) as u64,
                s,
                fade_in,
                fade_out,
                file_frames,
                base,
                plan,
            )
        })
        .collect()
}
