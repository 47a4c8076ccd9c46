//! The preview package's manifest (`manifest.json`), written by `dubstage preview`
//! and read by the page and by [`super::Mixer`].
//!
//! A package is a folder that any static web server can serve:
//!
//! ```text
//! index.html, app.js, style.css, pkg/ (the wasm)      the page
//! manifest.json                                        this document
//! audio/<stem>/<n>.pcm                                 chunk n: s16le, interleaved, `chunk_frames` frames
//! peaks/<stem>/<spp>.bin                               (min, max) int8 pairs, one per `spp` samples
//! loudness/loudness.json, loudness/<series>.bin         momentary / short-term per 100 ms ([`Loudness`])
//! irs/<n>-<name>.f32                                   impulse responses the inserts use ([`IrInfo`])
//! video/<file>                                         optional picture proxy
//! ```

use crate::stem::chain::InsertSpec;
use crate::stem::convolve::Ir;
use crate::{Error, Layout, Result};
use serde::{Deserialize, Serialize};

/// The manifest's format tag.
pub const FORMAT: &str = "dubstage-preview/1";

/// Bounds [`Manifest::from_json`] holds a manifest to. A reel longer than a
/// day, or figures past these, come from a damaged or hostile package.
pub const MAX_HOURS: u64 = 24;
/// Sample rates accepted (Hz): 8 kHz to 768 kHz.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// See [`MIN_SAMPLE_RATE`].
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Largest reel number (cue numbers such as `1A01` carry it).
pub const MAX_REEL: u32 = 9_999;
/// Largest chunk (and peak run), frames.
pub const MAX_CHUNK_FRAMES: u32 = 1 << 22;
/// Most waveform zoom levels.
pub const MAX_PEAK_LEVELS: usize = 16;
/// Most stems (and buses, returns, IRs, sends per stem).
pub const MAX_STEMS: usize = 1024;
/// Most automation breakpoints per lane.
pub const MAX_BREAKPOINTS: usize = 1 << 20;
/// Largest gain magnitude, dB.
pub const MAX_DB: f64 = 1000.0;
/// Longest impulse response, seconds (the render takes up to 30 s).
pub const MAX_IR_SECONDS: u64 = 60;
/// Most impulse-response channels.
pub const MAX_IR_CHANNELS: u32 = 64;

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Programme title.
    pub title: String,
    /// Reel name as written in the session (`"1"`, `"R2"`, ...).
    pub reel: String,
    /// Reel number used in cue numbers (`1` in `1A01`).
    pub reel_number: u32,
    /// Sample rate of the session and of the preview audio, Hz.
    pub sample_rate: u32,
    /// Frame rate name (`"23.976"`, `"29.97df"`, ...).
    pub frame_rate: String,
    /// Timecode of the first sample.
    pub start: String,
    /// First frame of action, when the session names it.
    #[serde(default)]
    pub ffoa: Option<String>,
    /// Reel length in samples.
    pub length: u64,
    /// The printmaster's layout in the session (`"5.1"`, ...).
    pub layout: String,
    /// The layout the page mixes and meters in: the printmaster's layout for a
    /// full package, `"2.0"` for a reduced (`--stereo`) one. What the speakers get
    /// is this mix folded to stereo (Lo/Ro) when it is wider.
    pub mix_layout: String,
    /// What the preview audio is (how it was reduced).
    pub audio: AudioInfo,
    /// The render's loudness normalization gain (dB) that the page applies to every
    /// mix, as the render does with a delivery profile (0 without one).
    #[serde(default)]
    pub master_gain_db: f64,
    /// One sentence on the master stage (profile, measured and target loudness;
    /// that the true-peak limiter is not simulated), empty without a profile.
    #[serde(default)]
    pub master_note: String,
    /// The stems, in session order.
    pub stems: Vec<StemInfo>,
    /// The buses, in session order.
    pub buses: Vec<BusInfo>,
    /// The session's reverb returns (`[[return]]`), in session order.
    #[serde(default)]
    pub returns: Vec<ReturnInfo>,
    /// The impulse responses that the stems' and returns' inserts name (each
    /// `ir` of an [`InsertSpec`] in this manifest is one of these `file`s).
    #[serde(default)]
    pub irs: Vec<IrInfo>,
    /// One sentence on the processing the page runs (inserts, sends, returns) and
    /// what of it is approximated; empty when the session has none.
    #[serde(default)]
    pub processing_note: String,
    /// Precomputed waveform zoom levels: samples per peak, coarsest last.
    pub peak_levels: Vec<u32>,
    /// Loudness timelines file (relative path), if any.
    #[serde(default)]
    pub loudness: Option<String>,
    /// Video proxy (relative path or URL) to show in sync, if the session names one.
    #[serde(default)]
    pub video: Option<VideoInfo>,
    /// Tool version that wrote the package.
    pub generator: String,
}

/// How the preview audio was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// Sample encoding; `"s16le"` (16-bit little-endian, interleaved).
    pub encoding: String,
    /// Frames per chunk file (the last one may be shorter).
    pub chunk_frames: u32,
    /// Number of chunk files per stem.
    pub chunks: u32,
    /// One sentence for the page: what the reviewer hears (e.g. "each stem folded
    /// to stereo (Lo/Ro, ITU-R BS.775), 16-bit, 48 kHz").
    pub description: String,
}

/// One stem as the preview knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StemInfo {
    /// Session id (`"dx"`), also the folder name under `audio/` and `peaks/`.
    pub id: String,
    /// Kind (`"dialogue"`, `"music"`, `"effects"`, ...).
    pub kind: String,
    /// The bus it feeds.
    pub bus: String,
    /// The stem's layout in the session.
    pub source_layout: String,
    /// The layout stored in the package (mono or stereo after folding).
    pub layout: String,
    /// Session gain, dB.
    pub gain_db: f64,
    /// Muted in the session (not part of the printmaster).
    pub mute: bool,
    /// Pan position of a narrow stem, -1 (left) to +1 (right) (session `pan.position`).
    pub pan: f64,
    /// Pan depth, 0 = front only, 1 = surrounds only (session `pan.surround`).
    #[serde(default)]
    pub pan_surround: f64,
    /// Automation breakpoints `(sample from reel start, dB)`, sorted by sample.
    pub automation: Vec<(i64, f64)>,
    /// Linear gain that undoes the headroom the package stored the audio with
    /// (2.0 for a stem folded to stereo and stored 6 dB down so that the fold
    /// cannot clip at 16 bits; 1.0 otherwise).
    #[serde(default = "one")]
    pub storage_gain: f64,
    /// The stem's insert chain as the session writes it (EQ, convolution, trim,
    /// futz), with every `ir` naming a package file of [`Manifest::irs`]; run
    /// by the core's [`crate::stem::chain::InsertChain`] on the stored
    /// channels ([`StemInfo::layout`]).
    #[serde(default)]
    pub inserts: Vec<InsertSpec>,
    /// Aux sends to [`Manifest::returns`].
    #[serde(default)]
    pub sends: Vec<SendInfo>,
}

/// An aux send from a stem (session `sends`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendInfo {
    /// The return's id.
    pub to: String,
    /// Send level, dB.
    pub db: f64,
    /// Taken before the stem's fader (its gain and automation) instead of after.
    #[serde(default)]
    pub pre_fader: bool,
    /// Send level automation `(sample from reel start, dB)`.
    #[serde(default)]
    pub automation: Vec<(i64, f64)>,
}

/// A reverb return (session `[[return]]`): the sum of its sends, through its
/// inserts, into a bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnInfo {
    /// Id (`"room"`).
    pub id: String,
    /// The bus it feeds.
    pub bus: String,
    /// Its layout (`"1.0"`, `"5.1"`, ...).
    pub layout: String,
    /// Return level, dB.
    #[serde(default)]
    pub gain_db: f64,
    /// Return level automation `(sample from reel start, dB)`.
    #[serde(default)]
    pub automation: Vec<(i64, f64)>,
    /// Its inserts (the reverb), `ir`s as in [`StemInfo::inserts`].
    #[serde(default)]
    pub inserts: Vec<InsertSpec>,
}

impl ReturnInfo {
    /// The return's layout.
    pub fn layout(&self) -> Result<Layout> {
        self.layout
            .parse::<Layout>()
            .map_err(|e| Error::Invalid(format!("return '{}': layout: {e}", self.id)))
    }
}

/// An impulse response file of the package: `channels` planar runs of
/// `frames` little-endian f32 samples (channel 1 first), at the session's rate,
/// exactly the samples the render convolves with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IrInfo {
    /// Path relative to the package (`"irs/1-room_ir.f32"`), as the inserts name it.
    pub file: String,
    /// The file the session names (for the page to show).
    pub source: String,
    /// Channel count.
    pub channels: u32,
    /// Frames per channel.
    pub frames: u64,
}

impl IrInfo {
    /// Decodes the file's bytes (planar little-endian f32) into an [`Ir`] at
    /// `sample_rate`. Errors name the file: a size that does not match
    /// `channels x frames x 4`, or what [`Ir::new`] refuses.
    pub fn decode(&self, bytes: &[u8], sample_rate: u32) -> Result<Ir> {
        let samples: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        self.from_samples(&samples, sample_rate)
    }

    /// [`IrInfo::decode`] from the samples already converted (planar).
    pub fn from_samples(&self, samples: &[f32], sample_rate: u32) -> Result<Ir> {
        let (c, f) = (self.channels as usize, self.frames as usize);
        if c == 0 || f == 0 || samples.len() != c.saturating_mul(f) {
            return Err(Error::format(
                &self.file,
                format!(
                    "{} samples, expected {c} channel(s) x {f} frames",
                    samples.len()
                ),
            ));
        }
        let chans = samples.chunks_exact(f).map(|x| x.to_vec()).collect();
        Ir::new(chans, sample_rate, &self.file)
    }

    /// Encodes an [`Ir`] as the package stores it (planar little-endian f32).
    pub fn encode(ir: &Ir) -> Vec<u8> {
        ir.channels
            .iter()
            .flat_map(|c| c.iter().flat_map(|v| v.to_le_bytes()))
            .collect()
    }
}

fn one() -> f64 {
    1.0
}

impl StemInfo {
    /// The layout of the stored preview audio.
    pub fn preview_layout(&self) -> Result<Layout> {
        self.layout
            .parse::<Layout>()
            .map_err(|e| Error::stem(&self.id, format!("preview layout: {e}")))
    }
}

/// A bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusInfo {
    /// Id (`"DX"`).
    pub id: String,
    /// A dialogue bus (left out of the M&E).
    pub dialogue: bool,
    /// Bus gain, dB.
    #[serde(default)]
    pub gain_db: f64,
    /// Bus automation `(sample from reel start, dB)`.
    #[serde(default)]
    pub automation: Vec<(i64, f64)>,
}

impl From<&crate::session::PlanBus> for BusInfo {
    fn from(b: &crate::session::PlanBus) -> Self {
        BusInfo {
            id: b.id.clone(),
            dialogue: b.dialogue,
            gain_db: b.gain_db,
            automation: b.automation.clone(),
        }
    }
}

/// A video proxy in sync with the reel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Path relative to the package, or a URL.
    pub src: String,
    /// Seconds of video time at the reel's first sample.
    pub offset: f64,
}

/// Loudness timelines (`loudness.json`): one value per 100 ms hop, LUFS
/// (`null` below the -70 LUFS absolute floor or before the first window fills).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Hop length in seconds (0.1).
    pub hop: f64,
    /// Named timelines: `"printmaster"` and `"stem:<id>"`.
    pub series: Vec<LoudnessSeries>,
}

/// One timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessSeries {
    /// `"printmaster"` or `"stem:<id>"`.
    pub name: String,
    /// Where the figures come from (`"render QC"`, `"preview audio"`).
    pub source: String,
    /// Integrated loudness, LUFS (BS.1770-4 gating).
    pub integrated: Option<f64>,
    /// The timeline file (relative path): `hops` int16 little-endian momentary
    /// values then `hops` short-term values, in centi-LU (`-2345` = -23.45 LUFS;
    /// `-32768` = below -70 LUFS). Value `k` is the window ending at hop `k + 1`,
    /// i.e. at sample `(k + 1) * sample_rate / 10` of the reel.
    pub file: String,
    /// Number of hops.
    pub hops: u64,
}

/// A session's processing (inserts, sends, returns) as a package carries it:
/// every `ir` rewritten to a package file, and the impulse responses to write.
#[derive(Debug, Clone)]
pub struct Processing {
    /// Per stem of the plan, in order: its inserts and its sends.
    pub stems: Vec<(Vec<InsertSpec>, Vec<SendInfo>)>,
    /// The returns.
    pub returns: Vec<ReturnInfo>,
    /// Each impulse response once (shared files are written once), with its samples.
    pub irs: Vec<(IrInfo, Ir)>,
}

impl Processing {
    /// From a resolved session: the impulse responses are read as the render
    /// reads them (`load_ir` at the session's rate; same errors).
    pub fn of_plan(plan: &crate::session::Plan) -> Result<Processing> {
        let mut irs: Vec<(IrInfo, Ir)> = Vec::new();
        let mut seen: Vec<(std::path::PathBuf, String)> = Vec::new();
        let mut rewrite = |specs: &[InsertSpec], owner: &str| -> Result<Vec<InsertSpec>> {
            let mut out = specs.to_vec();
            for spec in &mut out {
                let ir = match spec {
                    InsertSpec::Convolve { ir, .. } => ir,
                    InsertSpec::Futz { ir: Some(ir), .. } => ir,
                    _ => continue,
                };
                let path = plan.base_dir.join(&*ir);
                let key = path.canonicalize().unwrap_or_else(|_| path.clone());
                let file = match seen.iter().find(|(k, _)| *k == key) {
                    Some((_, f)) => f.clone(),
                    None => {
                        let loaded = crate::stem::convolve::load_ir(&path, plan.sample_rate)
                            .map_err(|e| Error::Invalid(format!("{owner}: {e}")))?;
                        let name: String = path
                            .file_stem()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                            .chars()
                            .map(|c| {
                                if c.is_ascii_alphanumeric() || c == '-' {
                                    c
                                } else {
                                    '_'
                                }
                            })
                            .take(40)
                            .collect();
                        let file = format!("irs/{}-{name}.f32", irs.len() + 1);
                        irs.push((
                            IrInfo {
                                file: file.clone(),
                                source: ir.to_string_lossy().into_owned(),
                                channels: loaded.channel_count() as u32,
                                frames: loaded.frames() as u64,
                            },
                            loaded,
                        ));
                        seen.push((key, file.clone()));
                        file
                    }
                };
                *ir = file.into();
            }
            Ok(out)
        };
        let mut stems = Vec::with_capacity(plan.stems.len());
        for s in &plan.stems {
            let inserts = rewrite(&s.inserts, &format!("stem '{}'", s.id))?;
            let sends = s
                .sends
                .iter()
                .map(|x| SendInfo {
                    to: plan.returns[x.to].id.clone(),
                    db: x.db,
                    pre_fader: x.pre_fader,
                    automation: x.automation.clone(),
                })
                .collect();
            stems.push((inserts, sends));
        }
        let mut returns = Vec::with_capacity(plan.returns.len());
        for r in &plan.returns {
            returns.push(ReturnInfo {
                id: r.id.clone(),
                bus: plan.buses[r.bus].id.clone(),
                layout: r.layout.to_string(),
                gain_db: r.gain_db,
                automation: r.automation.clone(),
                inserts: rewrite(&r.inserts, &format!("return '{}'", r.id))?,
            });
        }
        Ok(Processing {
            stems,
            returns,
            irs,
        })
    }
}

/// Would `spec` give the same result on a stem folded to stereo as before the
/// fold (a linear, time-invariant process applied alike to every channel
/// commutes with the fold)? EQ, trim and futz do, and a convolution with a
/// mono IR on every channel; a convolution with a channel map, true stereo,
/// or one IR channel per stem channel does not. `irs` are the package's IRs
/// that the spec's `ir` names.
pub fn survives_fold(spec: &InsertSpec, irs: &[IrInfo]) -> bool {
    let mono = |ir: &std::path::Path| {
        irs.iter()
            .any(|i| std::path::Path::new(&i.file) == ir && i.channels == 1)
    };
    match spec {
        InsertSpec::Convolve {
            ir,
            map,
            true_stereo,
            ..
        } => mono(ir) && map.is_none() && !true_stereo,
        InsertSpec::Futz { ir: Some(ir), .. } => mono(ir),
        _ => true,
    }
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn from_json(text: &str) -> Result<Manifest> {
        let m: Manifest = serde_json::from_str(text)
            .map_err(|e| Error::format("manifest.json", e.to_string()))?;
        if m.format != FORMAT {
            return Err(Error::format(
                "manifest.json",
                format!("format '{}' is not {FORMAT}", m.format),
            ));
        }
        if m.sample_rate == 0 || m.sample_rate % 10 != 0 {
            return Err(Error::format(
                "manifest.json",
                format!("sample rate {} is not a multiple of 10 Hz", m.sample_rate),
            ));
        }
        m.check_bounds()
            .map_err(|msg| Error::format("manifest.json", msg))?;
        Ok(m)
    }

    /// Checks every number a package supplies against what a real package can
    /// hold, so that a hostile or damaged manifest is refused instead of
    /// freezing the page or `dubstage spot` (a `length` of 2^63, a million
    /// chunks, a zero chunk size) or wrapping arithmetic. See the `MAX_*`
    /// constants.
    fn check_bounds(&self) -> std::result::Result<(), String> {
        let sr = self.sample_rate;
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sr) {
            return Err(format!(
                "sample rate {sr} Hz is outside {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz"
            ));
        }
        let max_len = sr as u64 * MAX_HOURS * 3600;
        if self.length == 0 || self.length > max_len {
            return Err(format!(
                "length {} samples: a reel must be 1 sample to {MAX_HOURS} hours ({max_len} samples at {sr} Hz)",
                self.length
            ));
        }
        if self.reel_number > MAX_REEL {
            return Err(format!(
                "reel_number {} is above {MAX_REEL}",
                self.reel_number
            ));
        }
        let a = &self.audio;
        if !(1..=MAX_CHUNK_FRAMES).contains(&a.chunk_frames) {
            return Err(format!(
                "audio.chunk_frames {} is outside 1 to {MAX_CHUNK_FRAMES}",
                a.chunk_frames
            ));
        }
        let want = self.length.div_ceil(a.chunk_frames as u64).max(1);
        if a.chunks as u64 != want {
            return Err(format!(
                "audio.chunks {} does not match length {} / chunk_frames {} ({want})",
                a.chunks, self.length, a.chunk_frames
            ));
        }
        if self.peak_levels.is_empty()
            || self.peak_levels.len() > MAX_PEAK_LEVELS
            || self
                .peak_levels
                .iter()
                .any(|&p| !(1..=MAX_CHUNK_FRAMES).contains(&p))
        {
            return Err(format!(
                "peak_levels {:?}: 1 to {MAX_PEAK_LEVELS} levels of 1 to {MAX_CHUNK_FRAMES} samples",
                self.peak_levels
            ));
        }
        if self.stems.len() > MAX_STEMS
            || self.buses.len() > MAX_STEMS
            || self.returns.len() > MAX_STEMS
            || self.irs.len() > MAX_STEMS
        {
            return Err(format!(
                "more than {MAX_STEMS} stems, buses, returns or impulse responses"
            ));
        }
        let db = |what: &str, v: f64| -> std::result::Result<(), String> {
            if v.is_finite() && v.abs() <= MAX_DB {
                Ok(())
            } else {
                Err(format!("{what} {v} dB is outside ±{MAX_DB} dB"))
            }
        };
        // Breakpoints are placed by timecode, so they may lie before the reel
        // or past its end, but within a day either way.
        let max_t = (sr as u64 * MAX_HOURS * 3600 * 2) as i64;
        let automation = |what: &str, pts: &[(i64, f64)]| -> std::result::Result<(), String> {
            if pts.len() > MAX_BREAKPOINTS {
                return Err(format!("{what}: more than {MAX_BREAKPOINTS} breakpoints"));
            }
            for &(t, v) in pts {
                if !(-max_t..=max_t).contains(&t) {
                    return Err(format!(
                        "{what}: breakpoint at sample {t} is far outside the reel"
                    ));
                }
                db(what, v)?;
            }
            Ok(())
        };
        db("master_gain_db", self.master_gain_db)?;
        for s in &self.stems {
            let w = format!("stem '{}'", s.id);
            db(&w, s.gain_db)?;
            automation(&w, &s.automation)?;
            if !(s.pan.is_finite() && s.pan_surround.is_finite())
                || s.pan.abs() > 1.0
                || !(0.0..=1.0).contains(&s.pan_surround)
            {
                return Err(format!("{w}: pan outside -1 to 1 (surround 0 to 1)"));
            }
            if !(s.storage_gain.is_finite() && s.storage_gain > 0.0 && s.storage_gain <= 16.0) {
                return Err(format!(
                    "{w}: storage_gain {} outside 0 to 16",
                    s.storage_gain
                ));
            }
            if s.sends.len() > MAX_STEMS {
                return Err(format!("{w}: more than {MAX_STEMS} sends"));
            }
            for x in &s.sends {
                db(&w, x.db)?;
                automation(&w, &x.automation)?;
            }
        }
        for b in &self.buses {
            db(&format!("bus '{}'", b.id), b.gain_db)?;
            automation(&format!("bus '{}'", b.id), &b.automation)?;
        }
        for r in &self.returns {
            db(&format!("return '{}'", r.id), r.gain_db)?;
            automation(&format!("return '{}'", r.id), &r.automation)?;
        }
        let max_ir = sr as u64 * MAX_IR_SECONDS;
        for i in &self.irs {
            if !(1..=MAX_IR_CHANNELS).contains(&i.channels) || !(1..=max_ir).contains(&i.frames) {
                return Err(format!(
                    "impulse response {}: {} channel(s) x {} frames (1 to {MAX_IR_CHANNELS} channels, up to {MAX_IR_SECONDS} s)",
                    i.file, i.channels, i.frames
                ));
            }
        }
        if let Some(v) = &self.video
            && !(v.offset.is_finite() && v.offset.abs() <= (MAX_HOURS * 3600) as f64)
        {
            return Err(format!("video offset {} s is out of range", v.offset));
        }
        Ok(())
    }

    /// The layout the page mixes in.
    pub fn mix_layout(&self) -> Result<Layout> {
        self.mix_layout
            .parse::<Layout>()
            .map_err(|e| Error::format("manifest.json", format!("mix_layout: {e}")))
    }

    /// Chunk file of stem `id` number `n` (relative path).
    pub fn chunk_path(id: &str, n: u32) -> String {
        format!("audio/{id}/{n:06}.pcm")
    }

    /// Peak file of stem `id` at `spp` samples per peak (relative path).
    pub fn peaks_path(id: &str, spp: u32) -> String {
        format!("peaks/{id}/{spp}.bin")
    }
}

/// Waveform peaks: for each run of `spp` frames, the minimum and maximum over
/// every channel, as int8 (`round(v * 127)`, clamped). `planar` holds the
/// channels; a last partial run gives a peak too. Appends to `out`.
pub fn peaks_i8(planar: &[&[f32]], spp: usize, out: &mut Vec<i8>) {
    let frames = planar.first().map_or(0, |c| c.len());
    let spp = spp.max(1);
    let mut i = 0;
    while i < frames {
        let end = (i + spp).min(frames);
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for ch in planar {
            for &v in &ch[i..end] {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        out.push(quant_i8(lo));
        out.push(quant_i8(hi));
        i = end;
    }
}

fn quant_i8(v: f32) -> i8 {
    if v.is_nan() {
        return 0;
    }
    (v * 127.0).round().clamp(-127.0, 127.0) as i8
}

/// Min/max peaks as f32 pairs (for the browser's finest zoom): like [`peaks_i8`]
/// without quantization, from interleaved `channels`-channel audio.
pub fn peaks_f32(interleaved: &[f32], channels: usize, spp: usize) -> Vec<f32> {
    let ch = channels.max(1);
    let frames = interleaved.len() / ch;
    let spp = spp.max(1);
    let mut out = Vec::with_capacity(2 * frames.div_ceil(spp));
    let mut i = 0;
    while i < frames {
        let end = (i + spp).min(frames);
        let s = &interleaved[i * ch..end * ch];
        let lo = s.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        out.push(lo);
        out.push(hi);
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_commutes_with_the_stereo_fold_survives_it() {
        let irs = vec![
            IrInfo {
                file: "irs/1-mono.f32".into(),
                source: "mono.wav".into(),
                channels: 1,
                frames: 10,
            },
            IrInfo {
                file: "irs/2-six.f32".into(),
                source: "six.wav".into(),
                channels: 6,
                frames: 10,
            },
        ];
        let spec = |t: &str| -> InsertSpec { serde_json::from_str(t).unwrap() };
        let yes = [
            r#"{"type":"trim","db":-3}"#,
            r#"{"type":"eq","bands":[{"kind":"high_pass","freq":80,"slope":24}]}"#,
            r#"{"type":"futz","low_hz":300,"high_hz":3400}"#,
            r#"{"type":"futz","low_hz":300,"high_hz":3400,"ir":"irs/1-mono.f32"}"#,
            r#"{"type":"convolve","ir":"irs/1-mono.f32","wet_db":-6}"#,
        ];
        let no = [
            r#"{"type":"convolve","ir":"irs/2-six.f32"}"#,
            r#"{"type":"convolve","ir":"irs/1-mono.f32","map":[1,1,1,1,1,1]}"#,
            r#"{"type":"futz","low_hz":300,"high_hz":3400,"ir":"irs/2-six.f32"}"#,
        ];
        for t in yes {
            assert!(survives_fold(&spec(t), &irs), "{t}");
        }
        for t in no {
            assert!(!survives_fold(&spec(t), &irs), "{t}");
        }
    }

    #[test]
    fn ir_files_round_trip_and_are_checked() {
        let ir = Ir::new(
            vec![vec![1.0, -0.5, 0.25], vec![0.0, 0.5, 0.0]],
            48_000,
            "x",
        )
        .unwrap();
        let info = IrInfo {
            file: "irs/1-x.f32".into(),
            source: "x.wav".into(),
            channels: 2,
            frames: 3,
        };
        let bytes = IrInfo::encode(&ir);
        assert_eq!(bytes.len(), 2 * 3 * 4);
        assert_eq!(info.decode(&bytes, 48_000).unwrap().channels, ir.channels);
        let e = info.decode(&bytes[..20], 48_000).unwrap_err().to_string();
        assert!(
            e.contains("irs/1-x.f32") && e.contains("expected 2 channel(s) x 3 frames"),
            "{e}"
        );
        let silent = IrInfo::encode(&Ir {
            channels: vec![vec![0.0; 3]; 2],
            ..ir
        });
        assert!(info.decode(&silent, 48_000).is_err());
    }

    fn sample_manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            title: "T".into(),
            reel: "1".into(),
            reel_number: 1,
            sample_rate: 48_000,
            frame_rate: "24".into(),
            start: "01:00:00:00".into(),
            ffoa: None,
            length: 48_000 * 60,
            layout: "2.0".into(),
            mix_layout: "2.0".into(),
            audio: AudioInfo {
                encoding: "s16le".into(),
                chunk_frames: 49_152,
                chunks: 59,
                description: String::new(),
            },
            master_gain_db: 0.0,
            master_note: String::new(),
            stems: vec![StemInfo {
                id: "dx".into(),
                kind: "dialogue".into(),
                bus: "DX".into(),
                source_layout: "1.0".into(),
                layout: "1.0".into(),
                gain_db: 0.0,
                mute: false,
                pan: 0.0,
                pan_surround: 0.0,
                automation: vec![(0, 0.0), (48_000, -6.0)],
                storage_gain: 1.0,
                inserts: Vec::new(),
                sends: Vec::new(),
            }],
            buses: vec![BusInfo {
                id: "DX".into(),
                dialogue: true,
                gain_db: 0.0,
                automation: Vec::new(),
            }],
            returns: Vec::new(),
            irs: Vec::new(),
            processing_note: String::new(),
            peak_levels: vec![512, 4096, 32768],
            loudness: None,
            video: None,
            generator: "test".into(),
        }
    }

    #[test]
    fn absurd_numbers_are_refused() {
        let ok = serde_json::to_string(&sample_manifest()).unwrap();
        assert_eq!(Manifest::from_json(&ok).unwrap(), sample_manifest());
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "length",
                Box::new(|v| v["length"] = serde_json::json!(9223372036854775807u64)),
            ),
            (
                "length",
                Box::new(|v| v["length"] = serde_json::json!(u64::MAX)),
            ),
            ("length", Box::new(|v| v["length"] = serde_json::json!(0))),
            (
                "chunks",
                Box::new(|v| v["audio"]["chunks"] = serde_json::json!(u32::MAX)),
            ),
            (
                "chunk_frames",
                Box::new(|v| v["audio"]["chunk_frames"] = serde_json::json!(0)),
            ),
            (
                "sample rate",
                Box::new(|v| v["sample_rate"] = serde_json::json!(4_294_967_290u32)),
            ),
            (
                "reel_number",
                Box::new(|v| v["reel_number"] = serde_json::json!(u32::MAX)),
            ),
            (
                "peak_levels",
                Box::new(|v| v["peak_levels"] = serde_json::json!([0])),
            ),
            (
                "peak_levels",
                Box::new(|v| v["peak_levels"] = serde_json::json!([])),
            ),
            (
                "breakpoint",
                Box::new(|v| v["stems"][0]["automation"] = serde_json::json!([[i64::MAX, 0.0]])),
            ),
            (
                "breakpoint",
                Box::new(|v| v["stems"][0]["automation"] = serde_json::json!([[i64::MIN, 0.0]])),
            ),
            (
                "dB",
                Box::new(|v| v["stems"][0]["gain_db"] = serde_json::json!(1e300)),
            ),
            (
                "pan",
                Box::new(|v| v["stems"][0]["pan"] = serde_json::json!(-7.0)),
            ),
        ];
        for (what, edit) in cases {
            let mut v: serde_json::Value = serde_json::from_str(&ok).unwrap();
            edit(&mut v);
            let e = Manifest::from_json(&v.to_string()).unwrap_err().to_string();
            assert!(
                e.contains("manifest.json") && e.contains(what),
                "{what}: {e}"
            );
        }
    }

    #[test]
    fn peaks_cover_a_partial_last_run() {
        let l = [0.5f32, -0.25, 1.0, 0.0, -1.0];
        let r = [0.0f32, 0.75, 0.0, 0.0, 0.1];
        let mut out = Vec::new();
        peaks_i8(&[&l, &r], 2, &mut out);
        assert_eq!(out, vec![-32, 95, 0, 127, -127, 13]);
        let inter: Vec<f32> = l.iter().zip(&r).flat_map(|(&a, &b)| [a, b]).collect();
        assert_eq!(
            peaks_f32(&inter, 2, 2),
            vec![-0.25, 0.75, 0.0, 1.0, -1.0, 0.1]
        );
    }
}
