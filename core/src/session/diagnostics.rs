//! Text helpers for the session's messages and names: line and column, gain checks,
//! file-name sanitizing, "did you mean" for unknown keys, mix layouts.

use super::{GAIN_DB_MAX, GAIN_DB_MIN};
use crate::layout::Layout;

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let off = offset.min(text.len());
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Why a gain in dB is refused, or `None` when it is finite and in range.
pub(super) fn gain_problem(db: f64) -> Option<String> {
    if !db.is_finite() {
        Some(format!("{db} dB is not a finite gain"))
    } else if !(GAIN_DB_MIN..=GAIN_DB_MAX).contains(&db) {
        Some(format!(
            "{db} dB is outside {GAIN_DB_MIN}..+{GAIN_DB_MAX} dB"
        ))
    } else {
        None
    }
}

pub fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() { "untitled".into() } else { t }
}

/// Adds "did you mean" to serde's unknown-field messages.
pub(super) fn explain_toml_error(msg: &str) -> String {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((field, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            if let Some(best) = expected.iter().min_by_key(|e| edit_distance(field, e)) {
                return format!(
                    "unknown key `{field}`; did you mean `{best}`? (valid keys: {})",
                    expected.join(", ")
                );
            }
        }
    }
    msg.to_string()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A layout a session can mix in or deliver (`[reel] layout`, a deliverable's `layout`):
/// one of [`Layout::MIX`]; the other layouts (SDDS, 6.1, quad, LCRS, Auro, 9.1.x, ...) are
/// stems' layouts, folded into the mix.
pub(super) fn mix_layout(s: &str) -> std::result::Result<Layout, String> {
    let l = s.parse::<Layout>()?;
    if Layout::MIX.contains(&l) {
        Ok(l)
    } else {
        Err(format!(
            "layout {} can be a stem's but not the mix's or a deliverable's (mix layouts: {})",
            l.name(),
            Layout::MIX.map(|l| l.name()).join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("gian_db", "gain_db"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
