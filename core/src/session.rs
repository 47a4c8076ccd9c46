//! The session file: a reel's stems, buses and deliverables, in TOML.
//!
//! [`Session::load`] parses and checks the text (syntax, unknown keys with the
//! nearest valid key, timecodes, automation order), reporting the file, line and
//! column. [`Session::resolve`] then opens every source's header and turns the
//! session into a [`Plan`]: sample positions on the reel, channel mappings,
//! routing matrices and the deliverables to write.

use crate::io::ixml::{IXML_VERSION, IXml, IXmlSpeed, IXmlTrack, rate_text};
use crate::io::{AudioReader, Container, OutputFormat, WavInfo};
use crate::layout::{Channel, Layout};
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A timecode string with its place in the session file.
pub type TcText = Spanned<String>;

/// Gains accepted anywhere in a session (stem, bus and return faders, sends,
/// automation breakpoints), in dB: finite, from -200 dB (silence at any bit depth)
/// to +40 dB (the insert trims' ceiling).
pub const GAIN_DB_MIN: f64 = -200.0;
/// The longest silence (minutes) a reel without `[reel] length` may open before a stem
/// placed by its file's bext TimeReference: longer looks like a time-of-day stamp.
pub const TIME_OF_DAY_GAP_MINUTES: i64 = 10;
/// See [`GAIN_DB_MIN`].
pub const GAIN_DB_MAX: f64 = 40.0;
pub use crate::io::plausible::MAX_CHANNELS;
/// Most `[[stem]]`s in a session (each holds open files and block buffers).
pub const MAX_STEMS: usize = 1024;
/// Most `[[bus]]`es (each adds a mix of every channel, and a DME stem file).
pub const MAX_BUSES: usize = 64;
/// Most `[[return]]`s.
pub const MAX_RETURNS: usize = 64;
/// Most deliverable files of one render, after the DME stems and multi-mono
/// files are counted.
pub const MAX_DELIVERABLE_FILES: usize = 512;

/// The whole session as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub reel: ReelSpec,
    #[serde(default)]
    pub output: OutputSpec,
    #[serde(default, rename = "bus")]
    pub buses: Vec<BusSpec>,
    #[serde(default, rename = "stem")]
    pub stems: Vec<StemSpec>,
    /// Tracks of clips (the editorial timeline; see `timeline`).
    #[serde(default, rename = "track")]
    pub tracks: Vec<crate::timeline::TrackSpec>,
    #[serde(default, rename = "deliverable")]
    pub deliverables: Vec<DeliverableSpec>,
    /// Reverb returns (aux buses with inserts that feed a bus).
    #[serde(default, rename = "return")]
    pub returns: Vec<ReturnSpec>,
    /// Delivery profile: loudness target, true-peak ceiling, normalization.
    pub delivery: Option<DeliverySpec>,
    /// QC thresholds (every field optional; see `qc::QcConfig`).
    pub qc: Option<crate::qc::QcConfig>,
    /// Speed versions of the deliverables (PAL, pull-down, pull-up).
    #[serde(default)]
    pub speed_version: Vec<SpeedSpec>,
}

/// `[delivery]`: a named profile (`netflix`, `ebu-r128`, `atsc-a85`, `aes-streaming`) or
/// `custom`, with optional overrides. `render` normalizes the printmaster to the target
/// with one static gain (applied identically to the M&E and the stems) and a true-peak
/// limiter, then checks the result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySpec {
    pub profile: Spanned<String>,
    pub target_lufs: Option<f64>,
    pub tolerance_lu: Option<f64>,
    pub true_peak_ceiling_dbtp: Option<f64>,
    /// `programme` or `dialogue`.
    pub gating: Option<crate::master::GatingMode>,
    pub max_limiter_gain_reduction_db: Option<f64>,
    /// `fail` (default: stop, deliver nothing) or `flag` (deliver, mark the QC failed).
    pub on_failure: Option<crate::master::OnFailure>,
    /// Measure and check only; do not change the level.
    #[serde(default)]
    pub measure_only: bool,
}

/// `[reel]`: what the reel is and where it sits in time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReelSpec {
    pub title: String,
    #[serde(default = "one")]
    pub reel: u32,
    #[serde(default = "default_rate")]
    pub sample_rate: u32,
    pub frame_rate: Spanned<String>,
    /// Timecode of the reel's first sample (default 01:00:00:00, reel n at n:00:00:00 by convention).
    pub start: Option<TcText>,
    /// First frame of action (default start + 8 s, after the leader).
    pub ffoa: Option<TcText>,
    /// Duration as a timecode (`00:20:00:00`); default: up to the end of the longest stem.
    pub length: Option<TcText>,
    /// Last frame of action (default: the reel's last frame): a feature's long play joins
    /// the reels' programmes, each from its FFOA to the end of its LFOA frame.
    pub lfoa: Option<TcText>,
    /// Printmaster layout; default 7.1 when any stem is 7.1, 5.1 when any is wider than stereo, else stereo.
    pub layout: Option<Spanned<String>>,
    /// A spotting list (CSV or JSON, as the preview page exports) whose cues the QC report lists.
    pub spotting: Option<String>,
    /// A picture proxy (MP4/WebM) for the browser preview, kept in sync with the audio.
    pub video: Option<String>,
    /// Seconds of video time at the reel's first sample (default 0).
    #[serde(default)]
    pub video_offset_s: f64,
    /// Scene, written to every deliverable's iXML `SCENE` (optional).
    pub scene: Option<String>,
    /// Take, written to every deliverable's iXML `TAKE` (optional).
    pub take: Option<String>,
}

fn one() -> u32 {
    1
}
fn default_rate() -> u32 {
    48_000
}

/// `[output]`: how deliverables are written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// `pcm24` (default, TPDF dither), `pcm16` or `float32`.
    pub format: Option<Spanned<String>>,
    /// One WAV per channel instead of interleaved files.
    #[serde(default)]
    pub multi_mono: bool,
    /// Data size in bytes past which a deliverable is written as RF64 (default: 4 GiB minus headers).
    pub rf64_threshold: Option<u64>,
    /// Write BW64 instead of RF64 when 64-bit sizes are needed.
    #[serde(default)]
    pub bw64: bool,
    /// Seed of the dither (default fixed, so renders are reproducible).
    pub dither_seed: Option<u64>,
    /// The processing backend the session renders on when the command line does not
    /// say: `cpu` (the default, the reference: the same bytes on every machine), `gpu`
    /// or `auto`.
    pub backend: Option<Spanned<String>>,
}

/// One automation breakpoint: at a timecode, a gain in dB; ramps are linear in dB.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakpoint {
    pub at: TcText,
    pub db: f64,
}

/// `[[bus]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    pub id: String,
    /// Is this a dialogue bus (left out of the M&E)?
    #[serde(default)]
    pub dialogue: bool,
    #[serde(default)]
    pub gain_db: f64,
    #[serde(default)]
    pub automation: Vec<Breakpoint>,
}

/// Stem kinds; they choose the default bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StemKind {
    Dialogue,
    Adr,
    Music,
    Effects,
    Foley,
    Backgrounds,
    Custom,
}

impl StemKind {
    /// The default bus: dialogue and ADR to DX, music to MX, the rest to FX.
    pub fn default_bus(self, dialogue_flag: bool) -> &'static str {
        match self {
            StemKind::Dialogue | StemKind::Adr => "DX",
            StemKind::Music => "MX",
            StemKind::Custom if dialogue_flag => "DX",
            _ => "FX",
        }
    }
}

pub use crate::mix::PanSpec;

/// `[[stem]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StemSpec {
    pub id: String,
    pub kind: StemKind,
    /// For `custom` stems: is it dialogue?
    #[serde(default)]
    pub dialogue: bool,
    /// One interleaved file ...
    pub source: Option<String>,
    /// ... or one mono file per channel (multi-mono), in `channel_order` or layout order.
    pub sources: Option<Vec<String>>,
    pub layout: Option<Spanned<String>>,
    /// The file's channel order when it is not the WAV order, e.g. `["L","C","R","Ls","Rs","LFE"]`.
    pub channel_order: Option<Vec<Spanned<String>>>,
    /// Where the stem's first sample sits; default: the file's bext TimeReference, else the reel start.
    pub start: Option<TcText>,
    #[serde(default)]
    pub gain_db: f64,
    #[serde(default)]
    pub mute: bool,
    pub bus: Option<String>,
    pub pan: Option<PanSpec>,
    #[serde(default)]
    pub automation: Vec<Breakpoint>,
    /// Processing before the fader, in the order written (EQ, convolution, trim, futz).
    #[serde(default)]
    pub inserts: Vec<crate::stem::chain::InsertSpec>,
    /// Aux sends to `[[return]]`s.
    #[serde(default)]
    pub sends: Vec<SendSpec>,
    /// A speed change (`"pull-down"`, `"pull-up"`, `"24/25"`): the stem plays as
    /// one clip through the resampler, as does a source at another sample rate.
    pub speed: Option<String>,
}

/// An aux send from a stem to a return.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSpec {
    /// The return's id.
    pub to: String,
    /// Send level in dB.
    #[serde(default)]
    pub db: f64,
    /// Pre-fader sends ignore the stem's gain and automation (a mute still silences them).
    #[serde(default)]
    pub pre_fader: bool,
    /// Send level automation (dB, added to `db`).
    #[serde(default)]
    pub automation: Vec<Breakpoint>,
}

/// `[[return]]`: a reverb/effects return: the sum of its sends, through its inserts,
/// into a bus. Reverb of dialogue must return to a dialogue bus (so the M&E stays dry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnSpec {
    pub id: String,
    /// The bus it feeds.
    pub bus: String,
    /// Its channel layout (default: the mix layout).
    pub layout: Option<Spanned<String>>,
    #[serde(default)]
    pub gain_db: f64,
    #[serde(default)]
    pub automation: Vec<Breakpoint>,
    #[serde(default)]
    pub inserts: Vec<crate::stem::chain::InsertSpec>,
}

/// What a deliverable contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DeliverableKind {
    /// The full mix.
    Printmaster,
    /// Music and effects: every bus but dialogue.
    Me,
    /// One file per bus (the DME stems).
    Stems,
    /// ITU-R BS.775 Lo/Ro stereo downmix of the printmaster.
    Loro,
    /// Lt/Rt: the 4:2:4 matrix encode of the printmaster for the optical/analog
    /// stereo track (surround phase-shifted 90 degrees).
    Ltrt,
}

impl DeliverableKind {
    /// Name used in file names.
    pub fn label(self) -> &'static str {
        match self {
            DeliverableKind::Printmaster => "PM",
            DeliverableKind::Me => "ME",
            DeliverableKind::Stems => "STEM",
            DeliverableKind::Loro => "LoRo",
            DeliverableKind::Ltrt => "LtRt",
        }
    }
}

/// `[[deliverable]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverableSpec {
    pub kind: DeliverableKind,
    /// Override of the output format for this deliverable.
    pub format: Option<Spanned<String>>,
    pub multi_mono: Option<bool>,
    /// File name override (without extension) for single-file deliverables.
    pub name: Option<String>,
    /// Layout override: a fold-down of the mix (e.g. a 5.1 printmaster of a 7.1 mix,
    /// a stereo M&E). `loro` is always stereo.
    pub layout: Option<Spanned<String>>,
}

/// `[[speed_version]]` (of a session's deliverables, or of a feature's long plays): the
/// deliverables again at another speed, in a folder of their own (see
/// [`crate::resample::version`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedSpec {
    /// `"24/25"`, `"25/24"`, `"pull-down"`, `"pull-up"` (see [`crate::resample::Speed::parse`]).
    pub speed: String,
    #[serde(default)]
    pub pitch: crate::resample::version::Pitch,
    /// The deliverable kinds converted (`["printmaster", "me"]`); all when absent.
    #[serde(default)]
    pub kinds: Vec<DeliverableKind>,
}

/// A `[[speed_version]]` resolved against the programme's frame rate.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSpeedVersion {
    #[serde(flatten)]
    pub version: crate::resample::version::SpeedVersion,
    /// The deliverable kinds it converts (empty: all).
    pub kinds: Vec<DeliverableKind>,
}

impl PlanSpeedVersion {
    /// True when deliverables of `kind` get this version.
    pub fn covers(&self, kind: DeliverableKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Resolves every table in order; two tables making the same version are refused.
    /// The error is one sentence.
    pub fn resolve_all(
        specs: &[SpeedSpec],
        rate: FrameRate,
    ) -> std::result::Result<Vec<PlanSpeedVersion>, String> {
        let mut out: Vec<PlanSpeedVersion> = Vec::new();
        for sp in specs {
            let v = crate::resample::version::SpeedVersion::resolve(&sp.speed, sp.pitch, rate)?;
            if out.iter().any(|x| x.version.tag == v.tag) {
                return Err(format!(
                    "two [[speed_version]] tables make the same {} version",
                    v.tag
                ));
            }
            out.push(PlanSpeedVersion {
                version: v,
                kinds: sp.kinds.clone(),
            });
        }
        Ok(out)
    }
}

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

    fn err(&self, msg: impl Into<String>) -> Error {
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
    /// [`GAIN_DB_MIN`]..=[`GAIN_DB_MAX`].
    fn check_gain(&self, owner: &str, key: &str, db: f64) -> Result<()> {
        match gain_problem(db) {
            Some(why) => Err(self.err(format!("{owner}: {key}: {why}"))),
            None => Ok(()),
        }
    }

    fn output_format(&self, f: &Option<Spanned<String>>) -> Result<Option<OutputFormat>> {
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

    /// Opens every source's header and builds the render [`Plan`].
    pub fn resolve(&self) -> Result<Plan> {
        let f = &self.file;
        let sr = f.reel.sample_rate;
        let rate = self.frame_rate;
        let start_tc = match &f.reel.start {
            Some(t) => self.timecode(t)?,
            None => Timecode::parse(&format!("{:02}:00:00:00", f.reel.reel.min(23)), rate)?,
        };
        let start_abs = start_tc.to_samples(sr);
        let ffoa_tc = match &f.reel.ffoa {
            Some(t) => self.timecode(t)?,
            None => Timecode::from_frames(start_tc.to_frames() + 8 * rate.nominal() as i64, rate),
        };
        let ffoa = ffoa_tc.to_samples(sr) - start_abs;
        if ffoa < 0 {
            return Err(self.err(format!(
                "[reel] ffoa {ffoa_tc} is before the reel start {start_tc}"
            )));
        }

        // Buses: the three defaults unless the session defines its own.
        let mut buses: Vec<PlanBus> = Vec::new();
        let bus_specs: Vec<BusSpec> = if f.buses.is_empty() {
            ["DX", "MX", "FX"]
                .iter()
                .map(|id| BusSpec {
                    id: id.to_string(),
                    dialogue: *id == "DX",
                    gain_db: 0.0,
                    automation: vec![],
                })
                .collect()
        } else {
            f.buses.clone()
        };
        for b in &bus_specs {
            buses.push(PlanBus {
                id: b.id.clone(),
                dialogue: b.dialogue,
                gain_db: b.gain_db,
                automation: self.breakpoints(&b.automation, start_abs)?,
            });
        }

        // Stems.
        let mut stems = Vec::new();
        for s in &f.stems {
            stems.push(self.resolve_stem(s, &buses, start_abs)?);
        }
        for t in &f.tracks {
            stems.push(crate::timeline::resolve_track(self, t, &buses, start_abs)?);
        }

        let layout = match &f.reel.layout {
            Some(l) => mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?,
            None => {
                // 7.1 for any stem with side and rear pairs (7.x, 9.x, Auro 13.x, 6.x music).
                if stems.iter().any(|s| s.layout.has(Channel::Lss)) {
                    Layout::SevenOne
                } else if stems.iter().any(|s| s.layout.len() > 2) {
                    Layout::FiveOne
                } else {
                    Layout::Stereo
                }
            }
        };
        for s in &mut stems {
            s.matrix = crate::mix::route_matrix(s.layout, layout, s.pan);
        }
        let mut returns = Vec::new();
        for r in &f.returns {
            let bus = buses.iter().position(|b| b.id == r.bus).ok_or_else(|| {
                self.err(format!("return '{}': bus '{}' does not exist", r.id, r.bus))
            })?;
            let rl = match &r.layout {
                Some(l) => l
                    .get_ref()
                    .parse::<Layout>()
                    .map_err(|m| self.err_at(l.span(), m))?,
                None => layout,
            };
            returns.push(PlanReturn {
                id: r.id.clone(),
                bus,
                layout: rl,
                gain_db: r.gain_db,
                automation: self.breakpoints(&r.automation, start_abs)?,
                inserts: r.inserts.clone(),
                matrix: crate::mix::downmix_matrix(rl, layout),
            });
        }
        for (s, spec) in stems.iter_mut().zip(&f.stems) {
            for send in &spec.sends {
                let to = returns
                    .iter()
                    .position(|r| r.id == send.to)
                    .expect("checked");
                let ret = &returns[to];
                let dialogue_stem = matches!(spec.kind, StemKind::Dialogue | StemKind::Adr)
                    || (spec.kind == StemKind::Custom && spec.dialogue);
                if dialogue_stem && !buses[ret.bus].dialogue {
                    return Err(Error::stem(
                        &s.id,
                        format!(
                            "sends to return '{}', which feeds the non-dialogue bus '{}': dialogue reverb would leak into the M&E",
                            ret.id, buses[ret.bus].id
                        ),
                    ));
                }
                s.sends.push(PlanSend {
                    to,
                    db: send.db,
                    pre_fader: send.pre_fader,
                    automation: self.breakpoints(&send.automation, start_abs)?,
                    matrix: crate::mix::route_matrix(s.layout, ret.layout, s.pan),
                });
            }
        }

        let length = match &f.reel.length {
            Some(t) => {
                let tc = self.timecode(t)?;
                rate.frames_to_samples(tc.to_frames(), sr)
            }
            None => stems.iter().map(PlanStem::end).max().unwrap_or(0),
        };
        if length <= 0 {
            return Err(self.err(
                "the reel is empty: every stem ends before the reel start (give [reel] length?)",
            ));
        }
        let day = rate.day_samples(sr);
        if f.reel.length.is_none() && length > day {
            let last = stems.iter().max_by_key(|s| s.end()).expect("a stem");
            return Err(Error::stem(
                &last.id,
                format!(
                    "it ends {:.1} hours after the reel start, so the reel would last more than 24 hours; give [reel] length, or check the stem's `start` or its file's bext TimeReference",
                    last.end() as f64 / f64::from(sr) / 3600.0
                ),
            ));
        }
        if f.reel.length.is_none() {
            self.refuse_time_of_day_gap(&stems, &f.stems, start_abs, length)?;
        }
        // A stem wholly outside the reel would be silently left out: refuse it.
        for (st, spec) in stems.iter().zip(&f.stems) {
            if st.frames > 0 && (st.offset >= length || st.end() <= 0) {
                let tc = |x: i64| Timecode::from_samples(start_abs + x, rate, sr);
                return Err(Error::stem(
                    &st.id,
                    format!(
                        "it lies outside the reel: it runs from {} to {} (placed by its {}), the reel from {start_tc} to {}; nothing of it would be heard. Check its placement, the reel's start/length, or remove the stem",
                        tc(st.offset),
                        tc(st.end()),
                        if spec.start.is_some() {
                            "`start`"
                        } else if st.offset != 0 {
                            "file's bext TimeReference"
                        } else {
                            "default start, the reel start"
                        },
                        tc(length)
                    ),
                ));
            }
        }

        let lfoa = match &f.reel.lfoa {
            Some(t) => {
                let tc = self.timecode(t)?;
                let at = tc.to_samples(sr) - start_abs;
                if at < ffoa || at >= length {
                    return Err(self.err_at(
                        t.span(),
                        format!(
                            "[reel] lfoa {tc} lies outside the programme (from the ffoa {ffoa_tc} \
                             to the reel's last frame)"
                        ),
                    ));
                }
                at
            }
            None => {
                let last = rate.samples_to_frames(start_abs + length - 1, sr);
                (rate.frames_to_samples(last, sr) - start_abs).max(ffoa)
            }
        };

        let default_format = self
            .output_format(&f.output.format)?
            .unwrap_or(OutputFormat::Pcm24);
        let specs: Vec<DeliverableSpec> = if f.deliverables.is_empty() {
            [
                DeliverableKind::Printmaster,
                DeliverableKind::Loro,
                DeliverableKind::Me,
                DeliverableKind::Stems,
            ]
            .iter()
            .map(|&kind| DeliverableSpec {
                kind,
                format: None,
                multi_mono: None,
                name: None,
                layout: None,
            })
            .collect()
        } else {
            f.deliverables.clone()
        };
        let mut deliverables = Vec::new();
        for d in &specs {
            let format = self.output_format(&d.format)?.unwrap_or(default_format);
            let multi_mono = d.multi_mono.unwrap_or(f.output.multi_mono);
            let asked = match &d.layout {
                Some(l) => Some(mix_layout(l.get_ref()).map_err(|m| self.err_at(l.span(), m))?),
                None => None,
            };
            let out_layout = match d.kind {
                DeliverableKind::Loro | DeliverableKind::Ltrt => Layout::Stereo,
                _ => asked.unwrap_or(layout),
            };
            if out_layout.len() > layout.len()
                || out_layout
                    .channels()
                    .iter()
                    .any(|c| c.is_height() && !layout.has(*c))
            {
                return Err(self.err(format!(
                    "deliverable {:?}: layout {} is wider than the {} mix",
                    d.kind,
                    out_layout.name(),
                    layout.name()
                )));
            }
            let base = |what: &str, lay: Layout| {
                format!(
                    "{}_R{}_{}_{}",
                    sanitize(&f.reel.title),
                    f.reel.reel,
                    what,
                    lay.name()
                )
            };
            match d.kind {
                DeliverableKind::Stems => {
                    for (bi, b) in buses.iter().enumerate() {
                        deliverables.push(PlanDeliverable {
                            kind: d.kind,
                            name: base(&sanitize(&b.id), out_layout),
                            layout: out_layout,
                            format,
                            multi_mono,
                            bus: Some(bi),
                        });
                    }
                }
                k => {
                    let lay = out_layout;
                    deliverables.push(PlanDeliverable {
                        kind: k,
                        name: d
                            .name
                            .clone()
                            .map(|n| sanitize(&n))
                            .unwrap_or_else(|| base(k.label(), lay)),
                        layout: lay,
                        format,
                        multi_mono,
                        bus: None,
                    });
                }
            }
        }
        // File names, as written (multi-mono suffixes included), must differ even on a
        // case-insensitive file system.
        let mut names = std::collections::HashMap::new();
        let mut count = 0usize;
        for d in &deliverables {
            for file in d.files() {
                count += 1;
                if let Some((first, owner)) =
                    names.insert(file.to_lowercase(), (file.clone(), &d.name))
                {
                    let what = if first == file {
                        format!("would both write '{file}'")
                    } else {
                        format!(
                            "would write '{first}' and '{file}', one file on a case-insensitive disk"
                        )
                    };
                    return Err(self.err(format!(
                        "two deliverables ('{owner}' and '{}') {what}: give one a different `name`",
                        d.name
                    )));
                }
            }
        }
        if count > MAX_DELIVERABLE_FILES {
            return Err(self.err(format!(
                "the session would write {count} deliverable files; at most {MAX_DELIVERABLE_FILES} are supported"
            )));
        }

        Ok(Plan {
            session_path: self.path.clone(),
            session_sha256: crate::sha256_hex(self.text.as_bytes()),
            title: f.reel.title.clone(),
            reel: f.reel.reel,
            scene: f.reel.scene.clone().filter(|s| !s.is_empty()),
            take: f.reel.take.clone().filter(|s| !s.is_empty()),
            sample_rate: sr,
            frame_rate: rate,
            start_tc,
            start_samples: start_abs,
            ffoa,
            lfoa,
            length: length as u64,
            layout,
            buses,
            stems,
            returns,
            speed_versions: {
                let v = PlanSpeedVersion::resolve_all(&f.speed_version, rate)
                    .map_err(|e| self.err(e))?;
                for pv in &v {
                    for k in &pv.kinds {
                        if !deliverables.iter().any(|d| d.kind == *k) {
                            return Err(self.err(format!(
                                "[[speed_version]] speed \"{}\" names the kind \"{}\", which \
                                 no [[deliverable]] of the session has",
                                pv.version.speed,
                                format!("{k:?}").to_lowercase()
                            )));
                        }
                    }
                }
                v
            },
            deliverables,
            base_dir: self.dir.clone(),
            rf64_threshold: f
                .output
                .rf64_threshold
                .unwrap_or(u32::MAX as u64 - 1024 * 1024),
            bw64: f.output.bw64,
            dither_seed: f.output.dither_seed.unwrap_or(0x6475_6273_7461_6765),
            ffoa_tc,
            spotting: f.reel.spotting.as_deref().map(|p| self.resolve_path(p)),
            video: f
                .reel
                .video
                .as_deref()
                .map(|p| (self.resolve_path(p), f.reel.video_offset_s)),
            profile: self.profile()?,
            normalize: f.delivery.as_ref().is_some_and(|d| !d.measure_only),
            qc: {
                let q = f.qc.clone().unwrap_or_default();
                q.validate(sr).map_err(|e| self.err(format!("[qc]: {e}")))?;
                q
            },
        })
    }

    /// The delivery profile: the named preset with the session's overrides.
    pub fn profile(&self) -> Result<Option<crate::master::DeliveryProfile>> {
        let Some(d) = &self.file.delivery else {
            return Ok(None);
        };
        Self::profile_of(d, &|span, m| self.err_at(span, m)).map(Some)
    }

    /// The profile of a `[delivery]` table (a session's, or a feature's); `err_at` makes
    /// the error for a span of the table's text.
    pub fn profile_of(
        d: &DeliverySpec,
        err_at: &dyn Fn(std::ops::Range<usize>, &str) -> Error,
    ) -> Result<crate::master::DeliveryProfile> {
        use crate::master::{DeliveryProfile, GatingMode};
        let name = d.profile.get_ref();
        let mut p = if name.eq_ignore_ascii_case("custom") {
            let (Some(t), Some(tol), Some(c)) =
                (d.target_lufs, d.tolerance_lu, d.true_peak_ceiling_dbtp)
            else {
                return Err(err_at(
                    d.profile.span(),
                    "a custom profile needs target_lufs, tolerance_lu and true_peak_ceiling_dbtp",
                ));
            };
            DeliveryProfile::custom(t, tol, c, d.gating.unwrap_or(GatingMode::Programme))
                .map_err(|e| err_at(d.profile.span(), &e.to_string()))?
        } else {
            DeliveryProfile::preset(name).map_err(|e| err_at(d.profile.span(), &e.to_string()))?
        };
        if let Some(v) = d.target_lufs {
            p.target_lufs = v;
        }
        if let Some(v) = d.tolerance_lu {
            p.tolerance_lu = v;
        }
        if let Some(v) = d.true_peak_ceiling_dbtp {
            p.true_peak_ceiling_dbtp = v;
        }
        if let Some(v) = d.gating {
            p.gating = v;
        }
        if let Some(v) = d.max_limiter_gain_reduction_db {
            p.max_limiter_gain_reduction_db = v;
        }
        if let Some(v) = d.on_failure {
            p.on_failure = v;
        }
        p.validate()
            .map_err(|e| err_at(d.profile.span(), &e.to_string()))?;
        Ok(p)
    }

    /// A reel whose length comes from its stems must not stretch over hours of silence
    /// because a file's bext TimeReference is a time of day rather than a position on
    /// this reel (a recorder stamps 18:00:00:00 on a reel that starts at 01:00:00:00:
    /// a 17-hour print of silence around one line). A gap of more than
    /// [`TIME_OF_DAY_GAP_MINUTES`] with nothing playing, ended by a stem placed by its
    /// TimeReference, is refused; `start` on the stem or `[reel] length` says it is meant.
    fn refuse_time_of_day_gap(
        &self,
        stems: &[PlanStem],
        specs: &[StemSpec],
        start_abs: i64,
        length: i64,
    ) -> Result<()> {
        let f = &self.file;
        let (sr, rate) = (f.reel.sample_rate, self.frame_rate);
        let gap_max = i64::from(sr) * 60 * TIME_OF_DAY_GAP_MINUTES;
        // Stems first in plan order (tracks follow, placed by their clips' record timecode).
        let mut spans: Vec<(i64, i64, usize)> = stems
            .iter()
            .enumerate()
            .filter(|(_, s)| s.frames > 0)
            .map(|(i, s)| (s.offset.max(0), s.end().min(length), i))
            .filter(|(a, b, _)| a < b)
            .collect();
        spans.sort_unstable();
        let mut covered = 0i64;
        for &(a, b, i) in &spans {
            let by_time_reference = specs.get(i).is_some_and(|sp| sp.start.is_none());
            if a - covered > gap_max && by_time_reference {
                let tc = |x: i64| Timecode::from_samples(start_abs + x, rate, sr);
                let hours = |x: i64| x as f64 / f64::from(sr) / 3600.0;
                return Err(Error::stem(
                    &stems[i].id,
                    format!(
                        "its file's bext TimeReference places it at {}, {:.1} hours after the reel start {}, with nothing playing for {:.1} hours before it: that looks like a time of day, not a position on this reel. Give the stem a `start`, set [reel] start, or give [reel] length if the gap is meant",
                        tc(a),
                        hours(a),
                        tc(0),
                        hours(a - covered),
                    ),
                ));
            }
            covered = covered.max(b);
        }
        Ok(())
    }

    fn breakpoints(&self, bps: &[Breakpoint], start_abs: i64) -> Result<Vec<(i64, f64)>> {
        bps.iter()
            .map(|b| {
                Ok((
                    self.timecode(&b.at)?.to_samples(self.file.reel.sample_rate) - start_abs,
                    b.db,
                ))
            })
            .collect()
    }

    fn resolve_stem(&self, s: &StemSpec, buses: &[PlanBus], start_abs: i64) -> Result<PlanStem> {
        let sr = self.file.reel.sample_rate;
        let paths: Vec<PathBuf> = match (&s.source, &s.sources) {
            (Some(p), _) => vec![self.resolve_path(p)],
            (_, Some(v)) => v.iter().map(|p| self.resolve_path(p)).collect(),
            _ => unreachable!("checked in Session::check"),
        };
        let mut infos: Vec<WavInfo> = Vec::new();
        for p in &paths {
            if !p.exists() {
                return Err(Error::stem(
                    &s.id,
                    format!("source file {} does not exist", p.display()),
                ));
            }
            let r = AudioReader::open(p).map_err(|e| Error::stem(&s.id, e.to_string()))?;
            infos.push(r.info().clone());
        }
        let multi = paths.len() > 1 || s.sources.is_some();
        for i in &infos {
            if i.sample_rate != infos[0].sample_rate {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "{} is at {} Hz but {} is at {} Hz: multi-mono sources share one sample rate",
                        i.path.display(),
                        i.sample_rate,
                        infos[0].path.display(),
                        infos[0].sample_rate
                    ),
                ));
            }
            if multi && i.channels != 1 {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "{} has {} channels; multi-mono sources must be mono",
                        i.path.display(),
                        i.channels
                    ),
                ));
            }
        }
        let channels = if multi {
            infos.len()
        } else {
            infos[0].channels as usize
        };
        if channels > MAX_CHANNELS {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{} has {channels} channels; a stem has at most {MAX_CHANNELS}",
                    paths[0].display()
                ),
            ));
        }
        let frames = if multi {
            let f0 = infos[0].frames;
            if let Some(i) = infos.iter().find(|i| i.frames != f0) {
                return Err(Error::stem(
                    &s.id,
                    format!(
                        "multi-mono sources differ in length: {} has {} frames, {} has {f0}",
                        i.path.display(),
                        i.frames,
                        infos[0].path.display()
                    ),
                ));
            }
            f0
        } else {
            infos[0].frames
        };

        // Layout: explicit, else the channel order's set, else the mask, else the count.
        let order: Option<Vec<Channel>> = s.channel_order.as_ref().map(|v| {
            v.iter()
                .map(|c| c.get_ref().parse::<Channel>().expect("checked"))
                .collect()
        });
        let layout = if let Some(l) = &s.layout {
            l.get_ref().parse::<Layout>().expect("checked")
        } else if let Some(o) = &order {
            Layout::from_channels(o).ok_or_else(|| {
                let names: Vec<&str> = o.iter().map(|c| c.label()).collect();
                Error::stem(
                    &s.id,
                    format!(
                        "channel_order [{}] does not match any known layout (layouts: {})",
                        names.join(" "),
                        Layout::ALL.map(|l| l.name()).join(", ")
                    ),
                )
            })?
        } else if multi {
            Layout::from_count(channels).ok_or_else(|| {
                Error::stem(
                    &s.id,
                    format!(
                        "cannot tell the layout of {channels} mono sources: give `layout` or `channel_order`"
                    ),
                )
            })?
        } else {
            let names: Vec<String> = infos[0]
                .ixml
                .as_ref()
                .map(|x| x.tracks.iter().map(|t| t.name.clone()).collect())
                .unwrap_or_default();
            crate::layout::identify(channels, infos[0].channel_mask, &names)
                .map_err(|p| Error::stem(&s.id, format!("{}: {p}", paths[0].display())))?
                .layout
        };
        if layout.len() != channels {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{} has {channels} channel(s) but the layout {} needs {}",
                    paths[0].display(),
                    layout.name(),
                    layout.len()
                ),
            ));
        }
        // file channel i -> layout index
        let map: Vec<usize> = match &order {
            Some(o) => {
                if o.len() != channels {
                    return Err(Error::stem(
                        &s.id,
                        format!(
                            "channel_order names {} channels but the source has {channels}",
                            o.len()
                        ),
                    ));
                }
                let mut seen = vec![false; channels];
                let mut m = Vec::new();
                for c in o {
                    let idx = layout.index_of(*c).ok_or_else(|| {
                        Error::stem(
                            &s.id,
                            format!("channel {c} is not part of layout {}", layout.name()),
                        )
                    })?;
                    if seen[idx] {
                        return Err(Error::stem(
                            &s.id,
                            format!("channel {c} appears twice in channel_order"),
                        ));
                    }
                    seen[idx] = true;
                    m.push(idx);
                }
                m
            }
            None => (0..channels).collect(),
        };

        // another sample rate or a speed change: the stem plays as one converted clip
        let speed = match &s.speed {
            Some(t) => {
                crate::resample::Speed::parse(t).map_err(|e| Error::stem(&s.id, e.to_string()))?
            }
            None => crate::resample::Speed::UNITY,
        };
        let file_rate = infos[0].sample_rate;
        let ratio = crate::timeline::clip_ratio(file_rate, sr, speed)
            .map_err(|e| Error::stem(&s.id, e.to_string()))?;
        let offset = match &s.start {
            Some(t) => self.timecode(t)?.to_samples(sr) - start_abs,
            None => match infos[0].bext.as_ref().filter(|b| b.time_reference > 0) {
                Some(b) => {
                    // Samples since midnight, counted in the file's own samples: more
                    // than a day of them is a damaged or hostile header, not a place on
                    // any reel.
                    let day = self.frame_rate.day_samples(file_rate);
                    match i64::try_from(b.time_reference) {
                        // A converted file keeps its frame numbers (a speed change is a
                        // transfer, see `feature::speed`): its TimeReference lands at
                        // TR × the conversion's ratio on the reel, exactly.
                        Ok(t) if t <= day => crate::timeline::source_to_reel(t, ratio) - start_abs,
                        _ => {
                            return Err(Error::stem(
                                &s.id,
                                format!(
                                    "{}: bext TimeReference {} samples is beyond one day ({day} samples at {file_rate} Hz, {}): the header is damaged; give the stem a `start`",
                                    infos[0].path.display(),
                                    b.time_reference,
                                    self.frame_rate
                                ),
                            ));
                        }
                    }
                }
                None => 0,
            },
        };
        if i64::try_from(frames).is_err() {
            return Err(Error::stem(
                &s.id,
                format!(
                    "{}: {frames} frames is not a plausible length",
                    paths[0].display()
                ),
            ));
        }

        let bus = route(&s.id, "stem", s.kind, s.dialogue, s.bus.as_deref(), buses)?;
        let clips = if ratio == (1, 1) {
            Vec::new()
        } else {
            vec![crate::timeline::whole_file_clip(
                &s.id,
                &paths,
                &map,
                layout.len(),
                frames,
                offset,
                file_rate,
                speed,
                ratio,
            )]
        };
        let frames = clips.first().map_or(frames, |c| c.length);
        Ok(PlanStem {
            id: s.id.clone(),
            kind: s.kind,
            paths,
            containers: infos.iter().map(|i| i.container).collect(),
            layout,
            file_to_layout: map,
            frames,
            offset,
            gain_db: s.gain_db,
            mute: s.mute,
            bus,
            pan: s.pan.unwrap_or_default(),
            automation: self.breakpoints(&s.automation, start_abs)?,
            matrix: Vec::new(),
            inserts: s.inserts.clone(),
            sends: Vec::new(),
            clips,
        })
    }
}

/// The resolved render plan: everything in samples on the reel (sample 0 = the reel's start).
#[derive(Debug, Clone)]
pub struct Plan {
    pub session_path: PathBuf,
    pub session_sha256: String,
    pub title: String,
    pub reel: u32,
    /// iXML `SCENE` and `TAKE` of the deliverables, when the session gives them.
    pub scene: Option<String>,
    pub take: Option<String>,
    pub sample_rate: u32,
    pub frame_rate: FrameRate,
    pub start_tc: Timecode,
    /// Samples since midnight of the reel's first sample.
    pub start_samples: i64,
    /// First frame of action, in samples from the reel start.
    pub ffoa: i64,
    /// Last frame of action: its first sample, from the reel start.
    pub lfoa: i64,
    /// Reel length in samples.
    pub length: u64,
    /// Printmaster and bus layout.
    pub layout: Layout,
    pub buses: Vec<PlanBus>,
    pub stems: Vec<PlanStem>,
    pub returns: Vec<PlanReturn>,
    pub deliverables: Vec<PlanDeliverable>,
    /// Speed versions of the deliverables (`[[speed_version]]`), in the file's order.
    pub speed_versions: Vec<PlanSpeedVersion>,
    /// The folder that insert paths (IRs) are relative to.
    pub base_dir: PathBuf,
    pub rf64_threshold: u64,
    pub bw64: bool,
    pub dither_seed: u64,
    /// First frame of action as a timecode.
    pub ffoa_tc: Timecode,
    /// The delivery profile, when the session names one.
    pub profile: Option<crate::master::DeliveryProfile>,
    /// Normalize to the profile (false: measure and check only).
    pub normalize: bool,
    pub qc: crate::qc::QcConfig,
    /// The spotting list named by the session, resolved against its folder.
    pub spotting: Option<PathBuf>,
    /// The picture proxy and its video time at the reel's first sample.
    pub video: Option<(PathBuf, f64)>,
}

impl Plan {
    /// Reel sample where every stem's 2-pop should start: 2 s (in timecode frames)
    /// before the first frame of action.
    pub fn two_pop_sample(&self) -> Option<u64> {
        let f = self.ffoa_tc.to_frames() - 2 * self.frame_rate.nominal() as i64;
        let s = self.frame_rate.frames_to_samples(f, self.sample_rate) - self.start_samples;
        (s >= 0).then_some(s as u64)
    }

    /// The programme's samples on the reel, `[ffoa, end of the LFOA frame)`: what a
    /// feature's long play takes from the reel.
    pub fn programme(&self) -> (u64, u64) {
        let f = self
            .frame_rate
            .samples_to_frames(self.start_samples + self.lfoa, self.sample_rate);
        let end = self.frame_rate.frames_to_samples(f + 1, self.sample_rate) - self.start_samples;
        (
            self.ffoa.max(0) as u64,
            (end.max(0) as u64).min(self.length),
        )
    }

    /// The timecode of a reel sample position.
    pub fn timecode_at(&self, sample: i64) -> Timecode {
        Timecode::from_samples(
            self.start_samples + sample,
            self.frame_rate,
            self.sample_rate,
        )
    }

    /// The iXML of file `file` of deliverable `d` (file 0 of an interleaved
    /// deliverable, or channel `file` of a multi-mono set): the session's
    /// title, scene and take, the reel as TAPE, the speed and the start
    /// timestamp (the bext TimeReference), one track per channel named by
    /// its label (`Lt`, `Rt` for an Lt/Rt).
    pub fn ixml(&self, d: &PlanDeliverable, file: usize) -> IXml {
        let chans = d.layout.channels();
        let ltrt = d.kind == DeliverableKind::Ltrt;
        let track = |i: usize, interleave: usize, c: Channel| IXmlTrack {
            channel_index: i as u32 + 1,
            interleave_index: interleave as u32 + 1,
            name: match (ltrt, c) {
                (true, Channel::L) => "Lt".to_string(),
                (true, Channel::R) => "Rt".to_string(),
                _ => c.label().to_string(),
            },
        };
        let tracks = if d.multi_mono {
            chans
                .get(file)
                .map(|&c| vec![track(file, 0, c)])
                .unwrap_or_default()
        } else {
            chans
                .iter()
                .enumerate()
                .map(|(i, &c)| track(i, i, c))
                .collect()
        };
        let rate = rate_text(self.frame_rate);
        IXml {
            version: IXML_VERSION.into(),
            project: self.title.clone(),
            scene: self.scene.clone().unwrap_or_default(),
            take: self.take.clone().unwrap_or_default(),
            tape: self.reel.to_string(),
            note: String::new(),
            speed: Some(IXmlSpeed {
                master_speed: rate.clone(),
                timecode_rate: rate,
                timecode_flag: if self.frame_rate.is_drop() {
                    "DF"
                } else {
                    "NDF"
                }
                .into(),
                file_sample_rate: Some(self.sample_rate),
                audio_bit_depth: Some(d.format.bits()),
                timestamp_samples_since_midnight: Some(self.start_samples.max(0) as u64),
                timestamp_sample_rate: Some(self.sample_rate),
            }),
            tracks,
            bext: None,
            problem: None,
            ..Default::default()
        }
    }
}

/// The bus a stem or a track goes to: its `bus`, else its kind's default; refused when
/// the bus does not exist, or when dialogue would reach a non-dialogue bus (the M&E).
/// `what` names the thing in the message ("stem", "track").
pub(crate) fn route(
    id: &str,
    what: &str,
    kind: StemKind,
    dialogue: bool,
    bus: Option<&str>,
    buses: &[PlanBus],
) -> Result<usize> {
    let is_dialogue_kind = matches!(kind, StemKind::Dialogue | StemKind::Adr)
        || (kind == StemKind::Custom && dialogue);
    let bus_id = bus.map_or_else(|| kind.default_bus(dialogue).to_string(), str::to_string);
    let bus = buses.iter().position(|b| b.id == bus_id).ok_or_else(|| {
        Error::stem(
            id,
            format!(
                "bus '{bus_id}' does not exist (buses: {})",
                buses
                    .iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    if is_dialogue_kind && !buses[bus].dialogue {
        return Err(Error::stem(
            id,
            format!(
                "a dialogue {what} routed to the non-dialogue bus '{bus_id}' would leak dialogue into the M&E"
            ),
        ));
    }
    Ok(bus)
}

/// A resolved bus.
#[derive(Debug, Clone)]
pub struct PlanBus {
    pub id: String,
    pub dialogue: bool,
    pub gain_db: f64,
    /// Breakpoints (sample on the reel, dB).
    pub automation: Vec<(i64, f64)>,
}

/// A resolved stem.
#[derive(Debug, Clone)]
pub struct PlanStem {
    pub id: String,
    pub kind: StemKind,
    /// One interleaved file, or one mono file per channel.
    pub paths: Vec<PathBuf>,
    pub containers: Vec<Container>,
    pub layout: Layout,
    /// For each file channel, its index in `layout`.
    pub file_to_layout: Vec<usize>,
    /// Length in frames.
    pub frames: u64,
    /// Reel sample of the stem's first frame (may be negative).
    pub offset: i64,
    pub gain_db: f64,
    pub mute: bool,
    /// Index into [`Plan::buses`].
    pub bus: usize,
    pub pan: PanSpec,
    /// Breakpoints (sample on the reel, dB).
    pub automation: Vec<(i64, f64)>,
    /// Routing into the bus layout: `bus channels x stem channels`, row-major.
    pub matrix: Vec<f32>,
    pub inserts: Vec<crate::stem::chain::InsertSpec>,
    pub sends: Vec<PlanSend>,
    /// A track's clips (empty for a stem, whose audio is its file(s)).
    pub clips: Vec<crate::timeline::PlanClip>,
}

impl PlanStem {
    /// Reel sample just after the stem's last frame (saturating: never wraps).
    pub fn end(&self) -> i64 {
        self.offset
            .saturating_add(i64::try_from(self.frames).unwrap_or(i64::MAX))
    }
}

/// A resolved send.
#[derive(Debug, Clone)]
pub struct PlanSend {
    /// Index into [`Plan::returns`].
    pub to: usize,
    pub db: f64,
    pub pre_fader: bool,
    pub automation: Vec<(i64, f64)>,
    /// Stem layout -> return layout (with the stem's pan).
    pub matrix: Vec<f32>,
}

/// A resolved return.
#[derive(Debug, Clone)]
pub struct PlanReturn {
    pub id: String,
    /// Index into [`Plan::buses`].
    pub bus: usize,
    pub layout: Layout,
    pub gain_db: f64,
    pub automation: Vec<(i64, f64)>,
    pub inserts: Vec<crate::stem::chain::InsertSpec>,
    /// Return layout -> mix layout.
    pub matrix: Vec<f32>,
}

/// A resolved deliverable.
#[derive(Debug, Clone)]
pub struct PlanDeliverable {
    pub kind: DeliverableKind,
    /// File name stem (no extension).
    pub name: String,
    pub layout: Layout,
    pub format: OutputFormat,
    pub multi_mono: bool,
    /// For DME stems: which bus.
    pub bus: Option<usize>,
}

impl PlanDeliverable {
    /// True for an interleaved dialogue-bus stem in the mix layout: the files summed as a
    /// printmaster's dialogue bus when it is measured again (speed versions, long plays).
    pub fn is_dialogue_stem(&self, plan: &Plan) -> bool {
        self.kind == DeliverableKind::Stems
            && !self.multi_mono
            && self.layout == plan.layout
            && self
                .bus
                .is_some_and(|b| plan.buses.get(b).is_some_and(|x| x.dialogue))
    }

    /// File names of the deliverable: one, or one per channel for multi-mono
    /// (`<name>_<label>.wav`).
    pub fn files(&self) -> Vec<String> {
        if self.multi_mono {
            self.layout
                .channels()
                .iter()
                .map(|c| format!("{}_{}.wav", self.name, c.label()))
                .collect()
        } else {
            vec![format!("{}.wav", self.name)]
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let off = offset.min(text.len());
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Why a gain in dB is refused, or `None` when it is finite and in range.
fn gain_problem(db: f64) -> Option<String> {
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
fn explain_toml_error(msg: &str) -> String {
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
fn mix_layout(s: &str) -> std::result::Result<Layout, String> {
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

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("gian_db", "gain_db"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
