//! Re-conform: follow a changed picture cut.
//!
//! The old and new lists are compared by their source material: each edit of
//! the new list is matched to the edits of the old list with the same reel
//! whose source ranges overlap it; the shared source range gives a piece of
//! the old reel and where it now sits (its shift). Where a source is used
//! more than once, the old edit that keeps the lists' order (the one after
//! the previous match) is taken, and the choice is reported. Pieces that
//! follow each other with the same shift merge. New record ranges no piece
//! covers are new material (gaps); old ranges no piece covers are removed.
//!
//! [`apply`] then rewrites a session: every clip of every track is cut at
//! the change boundaries and its pieces moved; a whole-reel stem becomes a
//! track of such pieces; breakpoints of automation move with the audio (and
//! are dropped where their audio was removed); at each new edit point the
//! outgoing piece continues for [`NEW_EDIT_XFADE_S`] into its handle and
//! crossfades with the incoming one.

use crate::editorial::EditList;
use crate::session::{Plan, Session};
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::Serialize;

/// Length of the crossfade made at a new edit point (10 ms: short enough
/// not to smear a word, long enough to hide a click).
pub const NEW_EDIT_XFADE_S: f64 = 0.010;

/// A piece of the old reel and where it goes (record frames since midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Move {
    pub old_in: i64,
    pub old_out: i64,
    pub new_in: i64,
    /// `new_in - old_in`.
    pub shift: i64,
}

/// The change list.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeList {
    pub frame_rate: String,
    /// Old reel pieces kept, in new order.
    pub moves: Vec<Move>,
    /// New record ranges with no old material (frames): gaps to fill.
    pub inserted: Vec<(i64, i64)>,
    /// Old record ranges no longer used.
    pub removed: Vec<(i64, i64)>,
    /// What could not be followed.
    pub warnings: Vec<String>,
}

/// One edit reduced to what the comparison needs (frames).
#[derive(Debug, Clone)]
struct Seg {
    reel: String,
    src: i64,
    rec: i64,
    len: i64,
    speed: bool,
    number: u32,
}

fn segments(l: &EditList) -> Result<Vec<Seg>> {
    let rate = l.rate;
    let mut v: Vec<Seg> = Vec::new();
    for e in &l.edits {
        if e.is_black() {
            continue;
        }
        let f = |t: crate::editorial::ListTimecode| {
            t.frames_at(t.rate_in(rate, l.drop_frame))
                .map_err(|m| Error::Invalid(format!("event {}: {m}", e.number)))
        };
        let rin = f(e.record_in)?;
        let rout = f(e.record_out)?;
        if rout <= rin {
            continue;
        }
        let src = e.source_in.frames_nominal(rate.nominal());
        let s = Seg {
            reel: e.reel.trim().to_ascii_uppercase(),
            src,
            rec: rin,
            len: rout - rin,
            speed: e.motion.is_some(),
            number: e.number,
        };
        // one entry per record range (V, A, A2 ... of one edit are one piece of film)
        if !v
            .iter()
            .any(|x| x.rec == s.rec && x.len == s.len && x.reel == s.reel && x.src == s.src)
        {
            v.push(s);
        }
    }
    v.sort_by_key(|s| (s.rec, s.len));
    Ok(v)
}

/// Compares two lists read at the same rate.
pub fn compare(old: &EditList, new: &EditList) -> Result<ChangeList> {
    if old.rate != new.rate {
        return Err(Error::Invalid(
            "the old and new lists must be read at the same rate".into(),
        ));
    }
    let o = segments(old)?;
    let n = segments(new)?;
    let mut warnings = Vec::new();
    let mut moves: Vec<Move> = Vec::new();
    let mut last_old: Option<usize> = None;
    for s in &n {
        if s.speed {
            warnings.push(format!(
                "new event {}: a speed change (M2) cannot be followed; its range is left as new material",
                s.number
            ));
            continue;
        }
        // old segments sharing source with it, by source position
        let mut cands: Vec<(usize, i64, i64)> = o
            .iter()
            .enumerate()
            .filter(|(_, x)| !x.speed && x.reel == s.reel)
            .filter_map(|(i, x)| {
                let a = x.src.max(s.src);
                let b = (x.src + x.len).min(s.src + s.len);
                (a < b).then_some((i, a, b))
            })
            .collect();
        // where several old edits used the same source, keep the one that follows
        // the previous match (the longest common ordering), else the first
        let mut chosen: Vec<(usize, i64, i64)> = Vec::new();
        cands.sort_by_key(|&(i, a, _)| (a, i));
        for c in cands {
            if let Some(k) = chosen.iter().position(|&(_, a, b)| c.1 < b && a < c.2) {
                let prev = chosen[k];
                let after = |i: usize| last_old.is_none_or(|l| i > l);
                let pick = if after(c.0) && !after(prev.0) {
                    c
                } else {
                    prev
                };
                warnings.push(format!(
                    "new event {}: its source is used by old events {} and {}; followed old event {}",
                    s.number, o[prev.0].number, o[c.0].number, o[pick.0].number
                ));
                chosen[k] = pick;
            } else {
                chosen.push(c);
            }
        }
        for &(i, a, b) in &chosen {
            let x = &o[i];
            let old_in = x.rec + (a - x.src);
            let new_in = s.rec + (a - s.src);
            moves.push(Move {
                old_in,
                old_out: old_in + (b - a),
                new_in,
                shift: new_in - old_in,
            });
            last_old = Some(last_old.map_or(i, |l| l.max(i)));
        }
    }
    // merge contiguous moves with the same shift (in new order)
    moves.sort_by_key(|m| (m.new_in, m.old_in));
    let mut merged: Vec<Move> = Vec::new();
    for m in moves {
        match merged.last_mut() {
            Some(p) if p.old_out == m.old_in && p.shift == m.shift => p.old_out = m.old_out,
            Some(p) if p.new_in + (p.old_out - p.old_in) > m.new_in => {
                // overlapping new ranges (two sources for one frame): keep the first
                let cut = p.new_in + (p.old_out - p.old_in) - m.new_in;
                if cut < m.old_out - m.old_in {
                    merged.push(Move {
                        old_in: m.old_in + cut,
                        old_out: m.old_out,
                        new_in: m.new_in + cut,
                        shift: m.shift,
                    });
                }
            }
            _ => merged.push(m),
        }
    }
    let cover = |ranges: Vec<(i64, i64)>, all: &[Seg]| -> Vec<(i64, i64)> {
        // the parts of the list's record ranges that `ranges` do not cover
        let mut out = Vec::new();
        for s in all {
            let mut a = s.rec;
            let b = s.rec + s.len;
            let mut rs: Vec<&(i64, i64)> = ranges.iter().filter(|r| r.0 < b && a < r.1).collect();
            rs.sort();
            for r in rs {
                if r.0 > a {
                    out.push((a, r.0));
                }
                a = a.max(r.1);
            }
            if a < b {
                out.push((a, b));
            }
        }
        out.sort();
        out.dedup();
        let mut m: Vec<(i64, i64)> = Vec::new();
        for r in out {
            match m.last_mut() {
                Some(p) if r.0 <= p.1 => p.1 = p.1.max(r.1),
                _ => m.push(r),
            }
        }
        m
    };
    let inserted = cover(
        merged
            .iter()
            .map(|m| (m.new_in, m.new_in + m.old_out - m.old_in))
            .collect(),
        &n,
    );
    let removed = cover(merged.iter().map(|m| (m.old_in, m.old_out)).collect(), &o);
    Ok(ChangeList {
        frame_rate: old.rate.name().to_string(),
        moves: merged,
        inserted,
        removed,
        warnings,
    })
}

impl ChangeList {
    /// The change list as a CMX 3600 EDL: one event per move (source = the
    /// old reel's record timecodes, reel `OLDCUT`), and a `BL` event per
    /// range of new material.
    pub fn to_edl(&self, title: &str) -> String {
        let rate: FrameRate = self.frame_rate.parse().unwrap_or(FrameRate::Fps24);
        let tc = |f: i64| Timecode::from_frames(f, rate).to_string();
        let mut ev: Vec<(i64, String)> = Vec::new();
        for m in &self.moves {
            let len = m.old_out - m.old_in;
            ev.push((
                m.new_in,
                format!(
                    "OLDCUT   AA/V  C        {} {} {} {}\r\n* MOVED BY {} FRAMES\r\n",
                    tc(m.old_in),
                    tc(m.old_out),
                    tc(m.new_in),
                    tc(m.new_in + len),
                    m.shift
                ),
            ));
        }
        for &(a, b) in &self.inserted {
            ev.push((
                a,
                format!(
                    "BL       AA/V  C        00:00:00:00 {} {} {}\r\n* NEW MATERIAL: CONFORM FROM THE NEW LIST\r\n",
                    tc(b - a),
                    tc(a),
                    tc(b)
                ),
            ));
        }
        ev.sort_by_key(|e| e.0);
        let mut o = format!(
            "TITLE: {title}\r\nFCM: {}\r\n",
            if rate.is_drop() {
                "DROP FRAME"
            } else {
                "NON-DROP FRAME"
            }
        );
        for (i, (_, e)) in ev.iter().enumerate() {
            o.push_str(&format!("{:03}  {e}", i + 1));
        }
        for &(a, b) in &self.removed {
            o.push_str(&format!("* REMOVED: {} - {}\r\n", tc(a), tc(b)));
        }
        o
    }

    /// Moves in reel samples (sample 0 = the reel start).
    fn sample_moves(&self, plan: &Plan) -> Vec<(i64, i64, i64)> {
        let r = plan.frame_rate;
        let sr = plan.sample_rate;
        let s = |f: i64| r.frames_to_samples(f, sr) - plan.start_samples;
        self.moves
            .iter()
            .map(|m| (s(m.old_in), s(m.old_out), s(m.new_in) - s(m.old_in)))
            .collect()
    }
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
    let mut warnings = Vec::new();
    let mut doc: toml::Table = toml::from_str(&session.text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", session.path.display())))?;
    let map_automation = |v: &mut toml::Value, owner: &str, warnings: &mut Vec<String>| {
        let Some(arr) = v.as_array_mut() else { return };
        let mut kept = Vec::new();
        for bp in arr.drain(..) {
            let at = bp
                .get("at")
                .and_then(|a| a.as_str())
                .and_then(|a| Timecode::parse(a, plan.frame_rate).ok());
            match at.map(|t| t.to_samples(sr) - plan.start_samples) {
                Some(t) => match map_time(t, &moves) {
                    Some(nt) => {
                        let mut b = bp.clone();
                        if let Some(tb) = b.as_table_mut() {
                            tb.insert("at".into(), toml::Value::String(tc_text(nt, &plan)));
                        }
                        kept.push((nt, b));
                    }
                    None => warnings.push(format!(
                        "{owner}: a breakpoint at {} was on removed material and is dropped",
                        bp["at"]
                    )),
                },
                None => kept.push((i64::MIN, bp)),
            }
        }
        kept.sort_by_key(|k| k.0);
        arr.extend(kept.into_iter().map(|k| k.1));
    };
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
        let clips = cut(&whole, &moves, xfade, file_frames, &src, &plan);
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
            clips.extend(cut(&p, &moves, xfade, file_frames, &base, &plan));
        }
        t.insert("clip".into(), toml::Value::Array(clips));
        let mut tv = toml::Value::Table(t);
        if let Some(a) = tv.get_mut("automation") {
            map_automation(a, &format!("track '{}'", st.id), &mut warnings);
        }
        new_tracks.push(tv);
    }
    if !kept_stems.is_empty() {
        doc.insert("stem".into(), toml::Value::Array(kept_stems));
    }
    if !new_tracks.is_empty() {
        doc.insert("track".into(), toml::Value::Array(new_tracks));
    }
    // the reel's length follows the new cut
    if let Some(reel) = doc.get_mut("reel").and_then(|r| r.as_table_mut()) {
        reel.remove("length");
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
        let mut rel = s - r0;
        let mut len = (e - s) as u64;
        // a piece cut by the change starts or ends at a new edit point: it fades in
        // there, and at its end it continues into its handle, fading out, under
        // the incoming piece
        let own_in = if s == r0 { p.fade_in } else { 0 };
        let own_out = if e == r1 { p.fade_out } else { 0 };
        // an edit point of the new cut: another piece ends where this one starts
        let cut_in = s == a && moves.iter().any(|&(_, b2, d2)| b2 + d2 == a + d);
        let mut fade_in = if cut_in { own_in.max(xfade) } else { own_in };
        let mut fade_out = own_out;
        let src_at = |rel: i64| (p.file_start as i64 + p.to_source(rel)).max(0) as u64;
        if e == b {
            if p.to_reel(file_frames.saturating_sub(src_at(rel + len as i64))) >= xfade {
                len += xfade;
                fade_out = xfade;
            } else {
                fade_out = own_out.max(xfade);
            }
        }
        let mut rec = s + d;
        // a record position inside a frame (a stem placed by its TimeReference):
        // start at the frame, with as much earlier source as there is
        let tc =
            Timecode::from_samples(rec + plan.start_samples, plan.frame_rate, plan.sample_rate);
        let lead = (rec - (tc.to_samples(plan.sample_rate) - plan.start_samples)) as u64;
        if lead > 0 {
            let back = lead.min(p.to_reel(src_at(rel)));
            rel -= back as i64;
            len += back;
            rec -= back as i64;
            if back < lead {
                fade_in = fade_in.max(1);
            }
        }
        let tc =
            Timecode::from_samples(rec + plan.start_samples, plan.frame_rate, plan.sample_rate);
        let off = src_at(rel);
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
        let earliest = p.file_start.saturating_sub(p.handles[0]);
        t.insert(
            "handles_samples".into(),
            toml::Value::Array(vec![
                toml::Value::Integer((off - earliest.min(off)) as i64),
                toml::Value::Integer(file_frames.saturating_sub(src_at(rel + len as i64)) as i64),
            ]),
        );
        out.push(toml::Value::Table(t));
    }
    out
}
