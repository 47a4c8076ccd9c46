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
//! are dropped where their audio was removed), and each piece gets breakpoints
//! at its edges holding the old level there; at each new edit point the
//! outgoing piece continues for [`NEW_EDIT_XFADE_S`] into its handle and
//! crossfades with the incoming one. New material may be conformed fresh
//! from the recorder's files ([`fill`], by the conform's relinker), and the
//! removed material kept on muted trims tracks ([`ApplyOptions`]).

use crate::editorial::EditList;
use crate::session::Plan;
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::Serialize;

mod apply;
mod fill;

pub use apply::{ApplyOptions, apply, apply_with};
pub use fill::{Fill, FillRange, fill};

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
