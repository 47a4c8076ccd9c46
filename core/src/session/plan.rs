//! The resolved render plan: samples on the reel, buses, stems, sends, returns,
//! deliverables and speed versions.

use super::{DeliverableKind, PanSpec, SpeedSpec, StemKind};
use crate::io::ixml::{IXML_VERSION, IXml, IXmlSpeed, IXmlTrack, rate_text};
use crate::io::{Container, OutputFormat};
use crate::layout::{Channel, Layout};
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use serde::Serialize;
use std::path::PathBuf;

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
