//! The session file as written: the serde model of its TOML tables.

use super::TcText;
use serde::{Deserialize, Serialize};
use toml::Spanned;

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
