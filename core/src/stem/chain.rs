//! The per-stem insert chain: EQ, convolution, trim and futz, applied in the
//! order the session writes them, in place, streaming.
//!
//! In a session (TOML), a stem's `inserts` is an array of tables tagged by `type`:
//!
//! ```toml
//! inserts = [
//!   { type = "eq", bands = [
//!       { kind = "high_pass", freq = 80, slope = 24 },
//!       { kind = "peak", freq = 3000, gain_db = -2.5, q = 1.4 },
//!       { kind = "high_shelf", freq = 10000, gain_db = 2, slope = 1 } ] },
//!   { type = "convolve", ir = "irs/room.wav", wet_db = -6, dry_db = 0,
//!     normalize = "energy", predelay_ms = 12, map = ["L", "R", "L", "L", "L", "R"] },
//!   { type = "trim", db = -3 },
//!   { type = "futz", low_hz = 300, high_hz = 3400, ir = "irs/phone.wav" },
//! ]
//! ```
//!
//! * `eq`: [`Band`]s (`high_pass`/`low_pass` with `slope` 12/24/36/48 dB/oct,
//!   `low_shelf`/`high_shelf` with `gain_db` and `q` or `slope`, `peak` with
//!   `gain_db` and `q`, `notch` with `q`).
//! * `convolve`: `ir` is relative to the session's folder; `wet_db` (default 0),
//!   `dry_db` (default: no dry signal), `normalize` = `"none"` (default),
//!   `"energy"` or `"peak"` (see [`Normalize`]), `predelay_ms` (default 0),
//!   `map` = one IR channel per stem channel, as a 1-based number or a label
//!   (`"L"`, `"R"`, or a label of the IR's layout: `"C"`, `"Ls"`, ...), or
//!   `true_stereo = true` for a 4-channel IR on a stereo stem. Without a map a
//!   mono IR goes on every channel and an IR with the stem's channel count one
//!   to one.
//! * `trim`: a gain in dB.
//! * `futz`: a band-pass (Butterworth high-pass at `low_hz`, low-pass at
//!   `high_hz`, `slope` default 24 dB/oct), then an optional speaker/phone `ir`
//!   (wet only, `normalize` default `"energy"`, mapped like `convolve` without map).
//! * `denoise`: dialogue noise reduction ([`crate::dialogue::denoise`]), e.g.
//!   `{ type = "denoise", reduction_db = 12, engine = "spectral", wet = 1.0,
//!   noise_only = false, bands = [ { low_hz = 0, high_hz = 150, reduction_db = 24 } ] }`:
//!   the noise is tracked as it changes (adaptive), from the room tone of
//!   `room_tone = "FILE"` and/or `learn = "START-END"` (a reel range of the
//!   stem) when given (`fixed = true` keeps it; learned by
//!   `pipeline::room_tone::learn` into `profile`), one gain for all the
//!   stem's channels; `engine = "rnnoise"` runs RNNoise instead (at 48 kHz: other rates are
//!   converted to it and back). Its
//!   latency is reported by [`InsertChain::latency`] and the render reads the
//!   stem that far ahead, so the stem stays in sync.

use super::convolve::{ConvolveEngine, Convolver, ConvolverOptions, Ir, IrMap, Normalize, load_ir};
use super::eq::{Band, Eq, Slope, ring_frames};
use crate::dialogue::Engine;
use crate::dialogue::denoise::{BandReduction, DenoiseOptions, Denoiser, NoiseProfile};
use crate::{Error, Layout, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An IR channel named in a `map`: a 1-based number or a channel label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IrChannelRef {
    Number(i64),
    Label(String),
}

impl IrChannelRef {
    /// The 0-based IR channel for an IR of `ir_channels` channels.
    pub fn resolve(&self, ir_channels: usize) -> std::result::Result<usize, String> {
        match self {
            IrChannelRef::Number(n) => {
                if *n >= 1 && (*n as usize) <= ir_channels {
                    Ok(*n as usize - 1)
                } else {
                    Err(format!(
                        "IR channel {n} does not exist (the IR has {ir_channels} channel(s), numbered from 1)"
                    ))
                }
            }
            IrChannelRef::Label(l) => {
                let found = Layout::from_count(ir_channels).and_then(|lay| {
                    lay.channels()
                        .iter()
                        .position(|c| c.label().eq_ignore_ascii_case(l))
                });
                found.ok_or_else(|| {
                    format!("IR channel '{l}' is not a channel of this {ir_channels}-channel IR")
                })
            }
        }
    }
}

/// One insert as written in the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InsertSpec {
    /// Parametric EQ.
    Eq { bands: Vec<Band> },
    /// FFT convolution with an impulse response.
    Convolve {
        ir: PathBuf,
        #[serde(default)]
        wet_db: f64,
        /// `None`: no dry signal.
        #[serde(default)]
        dry_db: Option<f64>,
        #[serde(default)]
        normalize: Normalize,
        #[serde(default)]
        predelay_ms: f64,
        #[serde(default)]
        map: Option<Vec<IrChannelRef>>,
        #[serde(default)]
        true_stereo: bool,
    },
    /// A gain change in dB.
    Trim { db: f64 },
    /// Telephone/radio/speaker futz: band-pass, then an optional IR.
    Futz {
        low_hz: f64,
        high_hz: f64,
        #[serde(default = "futz_slope")]
        slope: Slope,
        #[serde(default)]
        ir: Option<PathBuf>,
        #[serde(default = "futz_normalize")]
        normalize: Normalize,
    },
    /// Dialogue noise reduction (see [`crate::dialogue::denoise`]).
    Denoise {
        /// Maximum reduction, dB (default 12).
        #[serde(default = "denoise_reduction")]
        reduction_db: f64,
        #[serde(default)]
        engine: Engine,
        /// 0 = dry, 1 = fully processed (default).
        #[serde(default = "denoise_wet")]
        wet: f64,
        /// Output what is removed instead.
        #[serde(default)]
        noise_only: bool,
        /// Per-band maximum reductions.
        #[serde(default)]
        bands: Vec<BandReduction>,
        /// A room-tone file (relative to the session's folder; its first
        /// 60 s) to learn the noise from before the stem starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_tone: Option<PathBuf>,
        /// A reel range of the stem's own audio to learn the noise from,
        /// `"START-END"` in the session's timecode (at most 60 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        learn: Option<String>,
        /// Keep the learned noise fixed instead of tracking it from there.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fixed: bool,
        /// The learned noise power per bin, filled in by
        /// `pipeline::room_tone::learn` from `room_tone`/`learn` when the
        /// render or the preview starts (carried to the browser's mixer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<Vec<f64>>,
    },
}

fn denoise_reduction() -> f64 {
    12.0
}
fn denoise_wet() -> f64 {
    1.0
}

fn futz_slope() -> Slope {
    Slope::Db24
}
fn futz_normalize() -> Normalize {
    Normalize::Energy
}

impl InsertSpec {
    /// The `type` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            InsertSpec::Eq { .. } => "eq",
            InsertSpec::Convolve { .. } => "convolve",
            InsertSpec::Trim { .. } => "trim",
            InsertSpec::Futz { .. } => "futz",
            InsertSpec::Denoise { .. } => "denoise",
        }
    }
}

enum Stage {
    Eq(Eq),
    Convolve(Box<dyn ConvolveEngine>),
    Trim(f32),
    Denoise(Box<Denoiser>),
}

/// A built, running insert chain for one stem.
pub struct InsertChain {
    stages: Vec<Stage>,
    channels: usize,
    tail: usize,
    latency: usize,
}

impl InsertChain {
    /// Builds the chain; IR paths are relative to `base_dir` (the session's
    /// folder). Errors are `Error::Stem` naming `stem_id`, the insert
    /// (1-based) and its type, and the file or parameter at fault.
    pub fn build(
        specs: &[InsertSpec],
        sample_rate: u32,
        channels: usize,
        base_dir: &Path,
        stem_id: &str,
    ) -> Result<InsertChain> {
        Self::build_with_loader(specs, sample_rate, channels, base_dir, stem_id, &|p| {
            load_ir(p, sample_rate)
        })
    }

    /// [`InsertChain::build`] with a custom IR loader (tests, in-memory IRs,
    /// caches). `load` receives `base_dir.join(ir)`.
    pub fn build_with_loader(
        specs: &[InsertSpec],
        sample_rate: u32,
        channels: usize,
        base_dir: &Path,
        stem_id: &str,
        load: &dyn Fn(&Path) -> Result<Ir>,
    ) -> Result<InsertChain> {
        Self::build_with(
            specs,
            sample_rate,
            channels,
            base_dir,
            stem_id,
            load,
            &cpu_engine,
        )
    }

    /// The general form: a custom IR loader and convolution engine factory.
    pub fn build_with(
        specs: &[InsertSpec],
        sample_rate: u32,
        channels: usize,
        base_dir: &Path,
        stem_id: &str,
        load: &dyn Fn(&Path) -> Result<Ir>,
        engine: &EngineFactory<'_>,
    ) -> Result<InsertChain> {
        let mut stages = Vec::new();
        let mut tail = 0usize;
        let mut latency = 0usize;
        for (i, spec) in specs.iter().enumerate() {
            let wrap = |e: Error| {
                let msg = match e {
                    Error::Invalid(m) => m,
                    other => other.to_string(),
                };
                Error::stem(
                    stem_id,
                    format!("insert {} ({}): {msg}", i + 1, spec.kind()),
                )
            };
            let built =
                build_one(spec, sample_rate, channels, base_dir, load, engine).map_err(wrap)?;
            for s in built {
                tail = tail.saturating_add(match &s {
                    Stage::Eq(eq) => ring_frames(eq.sections(), sample_rate),
                    Stage::Convolve(c) => c.tail_frames(),
                    Stage::Trim(_) => 0,
                    Stage::Denoise(d) => d.latency(),
                });
                if let Stage::Denoise(d) = &s {
                    latency += d.latency();
                }
                stages.push(s);
            }
        }
        Ok(InsertChain {
            stages,
            channels,
            tail,
            latency,
        })
    }

    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The stages in processing order: `"eq"`, `"convolve"`, `"trim"` (a futz
    /// is an `"eq"` followed by a `"convolve"` when it has an IR).
    pub fn stage_kinds(&self) -> Vec<&'static str> {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Eq(_) => "eq",
                Stage::Convolve(_) => "convolve",
                Stage::Trim(_) => "trim",
                Stage::Denoise(_) => "denoise",
            })
            .collect()
    }

    /// Channel count the chain was built for.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames the chain keeps ringing after its input stops (sum over the
    /// stages: IR length − 1 + predelay for convolutions, a 120 dB decay of
    /// the slowest pole for EQs). Feed this many zero frames after the end to
    /// let tails ring out.
    pub fn tail_frames(&self) -> usize {
        self.tail
    }

    /// Latency in frames: the sum of the `denoise` stages' (the others are
    /// latency-free). Output frame `i` is the processed input frame
    /// `i - latency`; the render reads the stem this far ahead.
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// The chunk size that costs the least (the largest convolution partition;
    /// 0 when no stage cares). Any chunk size gives identical output.
    pub fn preferred_block_frames(&self) -> usize {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Convolve(c) => c.block_frames(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Processes the first `frames` samples of each channel in place.
    /// `planar.len()` must equal [`InsertChain::channels`]. Errors come from a
    /// GPU convolution engine (`Error::Backend`: device lost, out of memory).
    pub fn process(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()> {
        assert_eq!(planar.len(), self.channels, "insert chain channel count");
        for s in &mut self.stages {
            match s {
                Stage::Eq(eq) => eq.process(planar, frames),
                Stage::Convolve(c) => c.process_planar(planar, frames)?,
                Stage::Trim(g) => {
                    for ch in planar.iter_mut() {
                        ch[..frames].iter_mut().for_each(|v| *v *= *g);
                    }
                }
                Stage::Denoise(d) => d.process(planar, frames),
            }
        }
        Ok(())
    }
}

/// Makes the convolution engine of a `convolve` or `futz` insert:
/// `(ir, channels, map, options)`, as `Backend::convolver` (the backend layer builds
/// a chain on its engines with `backend::insert_chain`).
pub type EngineFactory<'a> =
    dyn Fn(&Ir, usize, &IrMap, &ConvolverOptions) -> Result<Box<dyn ConvolveEngine>> + 'a;

fn cpu_engine(
    ir: &Ir,
    channels: usize,
    map: &IrMap,
    opts: &ConvolverOptions,
) -> Result<Box<dyn ConvolveEngine>> {
    Ok(Box::new(Convolver::new(ir, channels, map, opts)?))
}

fn build_one(
    spec: &InsertSpec,
    sample_rate: u32,
    channels: usize,
    base_dir: &Path,
    load: &dyn Fn(&Path) -> Result<Ir>,
    engine: &EngineFactory<'_>,
) -> Result<Vec<Stage>> {
    let finite = |name: &str, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{name} = {v} is not a finite number"
            )))
        }
    };
    Ok(match spec {
        InsertSpec::Eq { bands } => vec![Stage::Eq(Eq::new(bands, sample_rate, channels)?)],
        InsertSpec::Trim { db } => {
            finite("db", *db)?;
            if *db > 40.0 {
                return Err(Error::Invalid(format!("trim of {db} dB is above +40 dB")));
            }
            vec![Stage::Trim(10f64.powf(db / 20.0) as f32)]
        }
        InsertSpec::Denoise {
            reduction_db,
            engine,
            wet,
            noise_only,
            bands,
            room_tone,
            learn,
            fixed,
            profile,
        } => {
            let learned = match profile {
                Some(p) => Some(NoiseProfile::from_power(p.clone(), sample_rate)?),
                None if room_tone.is_some() || learn.is_some() => {
                    return Err(Error::Invalid(
                        "the room tone was not learned before the chain was built \
                         (pipeline::room_tone::learn)"
                            .into(),
                    ));
                }
                None if *fixed => {
                    return Err(Error::Invalid(
                        "fixed = true needs a room tone to keep (room_tone or learn)".into(),
                    ));
                }
                None => None,
            };
            let opts = DenoiseOptions {
                reduction_db: *reduction_db,
                bands: bands.clone(),
                adaptive: !*fixed,
                wet: *wet,
                noise_only: *noise_only,
            };
            vec![Stage::Denoise(Box::new(Denoiser::with_engine(
                *engine,
                sample_rate,
                channels,
                &opts,
                learned.as_ref(),
            )?))]
        }
        InsertSpec::Convolve {
            ir,
            wet_db,
            dry_db,
            normalize,
            predelay_ms,
            map,
            true_stereo,
        } => {
            finite("wet_db", *wet_db)?;
            if let Some(d) = dry_db {
                finite("dry_db", *d)?;
            }
            finite("predelay_ms", *predelay_ms)?;
            if *predelay_ms < 0.0 {
                return Err(Error::Invalid(format!(
                    "predelay_ms = {predelay_ms} must not be negative"
                )));
            }
            let ir = load(&base_dir.join(ir))?;
            let map = match (map, true_stereo) {
                (Some(_), true) => {
                    return Err(Error::Invalid(
                        "give either map or true_stereo, not both".into(),
                    ));
                }
                (None, true) => IrMap::TrueStereo,
                (None, false) => IrMap::Auto,
                (Some(m), false) => IrMap::Channels(
                    m.iter()
                        .map(|r| r.resolve(ir.channel_count()))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|m| Error::format(&ir.path, m))?,
                ),
            };
            let opts = ConvolverOptions {
                wet_db: *wet_db,
                dry_db: dry_db.unwrap_or(f64::NEG_INFINITY),
                normalize: *normalize,
                predelay_frames: (predelay_ms / 1000.0 * sample_rate as f64).round() as usize,
                block: None,
            };
            vec![Stage::Convolve(engine(&ir, channels, &map, &opts)?)]
        }
        InsertSpec::Futz {
            low_hz,
            high_hz,
            slope,
            ir,
            normalize,
        } => {
            if !low_hz.is_finite() || !high_hz.is_finite() || low_hz >= high_hz {
                return Err(Error::Invalid(format!(
                    "low_hz = {low_hz} must be below high_hz = {high_hz}"
                )));
            }
            let bands = [
                Band::HighPass {
                    freq: *low_hz,
                    slope: *slope,
                },
                Band::LowPass {
                    freq: *high_hz,
                    slope: *slope,
                },
            ];
            let mut v = vec![Stage::Eq(Eq::new(&bands, sample_rate, channels)?)];
            if let Some(ir) = ir {
                let ir = load(&base_dir.join(ir))?;
                let opts = ConvolverOptions {
                    normalize: *normalize,
                    ..Default::default()
                };
                v.push(Stage::Convolve(engine(&ir, channels, &IrMap::Auto, &opts)?));
            }
            v
        }
    })
}
