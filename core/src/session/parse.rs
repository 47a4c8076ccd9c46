//! Loading a session: reading and parsing the TOML, errors at a line and column, and
//! the checks a session passes before it is resolved.

use super::diagnostics::{explain_toml_error, gain_problem, line_col, mix_layout};
use super::{
    Breakpoint, MAX_BUSES, MAX_CHANNELS, MAX_DELIVERABLE_FILES, MAX_RETURNS, MAX_STEMS,
    SessionFile, TcText,
};
use crate::io::OutputFormat;
use crate::layout::{Channel, Layout};
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A parsed, checked session file.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session file's path.
    pub path: PathBuf,
    /// The folder relative paths are resolved against.
    pub dir: PathBuf,
    /// The text, for error positions.
    pub text: String,
    pub file: SessionFile,
    pub frame_rate: FrameRate,
}

impl Session {
    /// Reads and checks a session file.
    pub fn load(path: &Path) -> Result<Session> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Session::parse(path, &text)
    }

    /// Parses session text (`path` names it in errors and anchors relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Session> {
        let file: SessionFile = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| line_col(text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            Error::Session {
                path: path.to_path_buf(),
                line,
                col,
                msg: explain_toml_error(e.message()),
            }
        })?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let s = Session {
            path: path.to_path_buf(),
            dir: if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            },
            text: text.to_string(),
            frame_rate: FrameRate::Fps24,
            file,
        };
        let rate = s
            .file
            .reel
            .frame_rate
            .get_ref()
            .parse::<FrameRate>()
            .map_err(|m| s.err_at(s.file.reel.frame_rate.span(), m))?;
        let mut s = s;
        s.frame_rate = rate;
        s.check()?;
        Ok(s)
    }

    /// An error at a byte span of the session text.
    pub fn err_at(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> Error {
        let (l, c) = line_col(&self.text, span.start);
        Error::Session {
            path: self.path.clone(),
            line: Some(l),
            col: Some(c),
            msg: msg.into(),
        }
    }

    pub(super) fn err(&self, msg: impl Into<String>) -> Error {
        Error::Session {
            path: self.path.clone(),
            line: None,
            col: None,
            msg: msg.into(),
        }
    }

    /// Parses a spanned timecode, with the line in the error.
    pub fn timecode(&self, tc: &TcText) -> Result<Timecode> {
        Timecode::parse(tc.get_ref(), self.frame_rate)
            .map_err(|e| self.err_at(tc.span(), e.to_string()))
    }

    fn check_automation(&self, owner: &str, bps: &[Breakpoint]) -> Result<()> {
        let mut last: Option<(i64, &TcText)> = None;
        for bp in bps {
            let f = self.timecode(&bp.at)?.to_frames();
            if let Some(why) = gain_problem(bp.db) {
                return Err(self.err_at(
                    bp.at.span(),
                    format!("{owner}: automation gain at {}: {why}", bp.at.get_ref()),
                ));
            }
            if let Some((lf, ltc)) = last {
                if f < lf {
                    return Err(self.err_at(
                        bp.at.span(),
                        format!(
                            "{owner}: automation breakpoints out of order ({} comes after {})",
                            bp.at.get_ref(),
                            ltc.get_ref()
                        ),
                    ));
                }
            }
            last = Some((f, &bp.at));
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let f = &self.file;
        let sr = f.reel.sample_rate;
        if !(8_000..=384_000).contains(&sr) || sr % 10 != 0 {
            return Err(self.err(format!(
                "[reel] sample_rate {sr} is not supported (8000-384000 Hz, a multiple of 10)"
            )));
        }
        for tc in [&f.reel.start, &f.reel.ffoa, &f.reel.length, &f.reel.lfoa]
            .into_iter()
            .flatten()
        {
            self.timecode(tc)?;
        }
        if let Some(l) = &f.reel.layout {
            mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?;
        }
        self.output_format(&f.output.format)?;
        for d in &f.deliverables {
            self.output_format(&d.format)?;
            if let Some(l) = &d.layout {
                mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?;
            }
        }
        for (what, n, max) in [
            ("[[stem]]", f.stems.len(), MAX_STEMS),
            ("[[bus]]", f.buses.len(), MAX_BUSES),
            ("[[return]]", f.returns.len(), MAX_RETURNS),
            (
                "[[deliverable]]",
                f.deliverables.len(),
                MAX_DELIVERABLE_FILES,
            ),
        ] {
            if n > max {
                return Err(self.err(format!(
                    "the session has {n} {what} entries; at most {max} are supported"
                )));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for b in &f.buses {
            if !ids.insert(b.id.as_str()) {
                return Err(self.err(format!("bus '{}' is defined twice", b.id)));
            }
            self.check_gain(&format!("bus '{}'", b.id), "gain_db", b.gain_db)?;
            self.check_automation(&format!("bus '{}'", b.id), &b.automation)?;
        }
        let mut stem_ids = std::collections::HashSet::new();
        if f.stems.is_empty() && f.tracks.is_empty() {
            return Err(self.err("the session has no [[stem]] and no [[track]]"));
        }
        for s in &f.stems {
            if !stem_ids.insert(s.id.as_str()) {
                return Err(self.err(format!("stem '{}' is defined twice", s.id)));
            }
            match (&s.source, &s.sources) {
                (None, None) => {
                    return Err(self.err(format!(
                        "stem '{}': give `source` (one file) or `sources` (multi-mono)",
                        s.id
                    )));
                }
                (Some(_), Some(_)) => {
                    return Err(self.err(format!(
                        "stem '{}': give either `source` or `sources`, not both",
                        s.id
                    )));
                }
                (None, Some(v)) if v.is_empty() => {
                    return Err(self.err(format!("stem '{}': `sources` is empty", s.id)));
                }
                (None, Some(v)) if v.len() > MAX_CHANNELS => {
                    return Err(self.err(format!(
                        "stem '{}': {} multi-mono sources; a stem has at most {MAX_CHANNELS} channels",
                        s.id,
                        v.len()
                    )));
                }
                _ => {}
            }
            if let Some(l) = &s.layout {
                l.get_ref()
                    .parse::<Layout>()
                    .map_err(|m| self.err_at(l.span(), format!("stem '{}': {m}", s.id)))?;
            }
            if let Some(order) = &s.channel_order {
                for c in order {
                    c.get_ref()
                        .parse::<Channel>()
                        .map_err(|m| self.err_at(c.span(), format!("stem '{}': {m}", s.id)))?;
                }
            }
            if let Some(tc) = &s.start {
                self.timecode(tc)?;
            }
            self.check_gain(&format!("stem '{}'", s.id), "gain_db", s.gain_db)?;
            if let Some(p) = &s.pan {
                if !(-1.0..=1.0).contains(&p.position) || !(0.0..=1.0).contains(&p.surround) {
                    return Err(self.err(format!(
                        "stem '{}': pan position must be in -1..1 and surround in 0..1",
                        s.id
                    )));
                }
            }
            self.check_automation(&format!("stem '{}'", s.id), &s.automation)?;
            for send in &s.sends {
                if !f.returns.iter().any(|r| r.id == send.to) {
                    return Err(self.err(format!(
                        "stem '{}': send to '{}', but there is no [[return]] with that id (returns: {})",
                        s.id,
                        send.to,
                        f.returns.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                if s.sends.iter().filter(|x| x.to == send.to).count() > 1 {
                    return Err(self.err(format!("stem '{}': two sends to '{}'", s.id, send.to)));
                }
                self.check_gain(
                    &format!("stem '{}' send to '{}'", s.id, send.to),
                    "db",
                    send.db,
                )?;
                self.check_automation(
                    &format!("stem '{}' send to '{}'", s.id, send.to),
                    &send.automation,
                )?;
            }
        }
        let mut rids = std::collections::HashSet::new();
        for r in &f.returns {
            if !rids.insert(r.id.as_str()) {
                return Err(self.err(format!("return '{}' is defined twice", r.id)));
            }
            if let Some(l) = &r.layout {
                l.get_ref()
                    .parse::<Layout>()
                    .map_err(|m| self.err_at(l.span(), format!("return '{}': {m}", r.id)))?;
            }
            self.check_gain(&format!("return '{}'", r.id), "gain_db", r.gain_db)?;
            self.check_automation(&format!("return '{}'", r.id), &r.automation)?;
        }
        crate::timeline::check_tracks(self)?;
        for t in &f.tracks {
            self.check_automation(&format!("track '{}'", t.id), &t.automation)?;
        }
        Ok(())
    }

    /// A fader/send gain `key` of `owner` must be finite and in
    /// [`GAIN_DB_MIN`](super::GAIN_DB_MIN)..=[`GAIN_DB_MAX`](super::GAIN_DB_MAX).
    fn check_gain(&self, owner: &str, key: &str, db: f64) -> Result<()> {
        match gain_problem(db) {
            Some(why) => Err(self.err(format!("{owner}: {key}: {why}"))),
            None => Ok(()),
        }
    }

    pub(super) fn output_format(
        &self,
        f: &Option<Spanned<String>>,
    ) -> Result<Option<OutputFormat>> {
        let Some(f) = f else { return Ok(None) };
        let v = match f.get_ref().to_ascii_lowercase().as_str() {
            "pcm24" | "24" | "s24" => OutputFormat::Pcm24,
            "pcm16" | "16" | "s16" => OutputFormat::Pcm16,
            "float32" | "f32" | "float" => OutputFormat::Float32,
            other => {
                return Err(self.err_at(
                    f.span(),
                    format!("unknown output format '{other}' (expected pcm24, pcm16 or float32)"),
                ));
            }
        };
        Ok(Some(v))
    }

    /// Resolves a path written in the session against the session's folder.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            pb
        } else {
            self.dir.join(pb)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Session> {
        Session::parse(Path::new("s.toml"), t)
    }

    const MIN: &str = "[reel]\ntitle = \"T\"\nframe_rate = \"24\"\n\n[[stem]]\nid = \"a\"\nkind = \"music\"\nsource = \"a.wav\"\n";

    #[test]
    fn minimal_session_parses() {
        let s = parse(MIN).unwrap();
        assert_eq!(s.frame_rate, FrameRate::Fps24);
        assert_eq!(s.file.reel.sample_rate, 48_000);
    }

    #[test]
    fn unknown_key_names_line_and_nearest_key() {
        let t = MIN.replace("source = ", "gian_db = 1\nsource = ");
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.contains("s.toml:8:1"), "{e}");
        assert!(e.contains("did you mean `gain_db`"), "{e}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = parse("[reel]\ntitle = \"T\nframe_rate = \"24\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:2:"), "{e}");
    }

    #[test]
    fn bad_timecode_and_out_of_order_automation_name_the_line() {
        let t = format!(
            "{MIN}automation = [{{ at = \"01:00:10:00\", db = 0 }}, {{ at = \"01:00:09:00\", db = -6 }}]\n"
        );
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.contains("s.toml:9:") && e.contains("out of order"), "{e}");
        let t = MIN.replace(
            "frame_rate = \"24\"",
            "frame_rate = \"24\"\nstart = \"01:00:00:99\"",
        );
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.contains("s.toml:4:") && e.contains("01:00:00:99"), "{e}");
    }
}
