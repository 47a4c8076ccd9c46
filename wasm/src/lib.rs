//! # dubstage-wasm
//!
//! The browser side of `dubstage preview`: the core's mixing ([`mix`]), loudness
//! metering ([`meter`]), waveform peaks, timecode and spotting lists, compiled to
//! WebAssembly with wasm-bindgen so that a reviewer hears and reads what the
//! printmaster render computes.
//!
//! JavaScript sees one class, [`Preview`], built from a package's
//! `manifest.json`, and a few free functions (peaks, spotting-list parsing and
//! writing). Errors become JavaScript exceptions carrying the core's message.
//!
//! The engine is the core's ([`dubstage_core::preview`]: the manifest, the mixer on
//! the render's mix graph, the meter); this crate only binds it for JavaScript. The
//! CLI uses the same core modules natively to write packages and compute the figures
//! the page is checked against.

pub use dubstage_core::preview::{manifest, meter, mixer as mix};

use dubstage_core::spot::{self, Marker, SpotReel};
use dubstage_core::{FrameRate, Timecode};
use manifest::Manifest;
use meter::Meter;
use mix::{Mixer, Monitor};
use wasm_bindgen::prelude::*;

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A loaded preview: the reel's facts, the mixer and the loudness meter.
#[wasm_bindgen]
pub struct Preview {
    manifest: Manifest,
    rate: FrameRate,
    start: Timecode,
    start_samples: i64,
    mixer: Mixer,
    meter: Meter,
    planar: Vec<usize>,
}

impl Preview {
    /// Builds a preview from a manifest (native entry point for tests and the CLI).
    pub fn from_manifest(manifest: Manifest) -> dubstage_core::Result<Preview> {
        let rate: FrameRate = manifest
            .frame_rate
            .parse()
            .map_err(dubstage_core::Error::Invalid)?;
        let start = Timecode::parse(&manifest.start, rate)?;
        let mixer = Mixer::new(&manifest)?;
        let meter = Meter::new(mixer.layout(), manifest.sample_rate)?;
        let planar = Vec::new();
        Ok(Preview {
            start_samples: start.to_samples(manifest.sample_rate),
            rate,
            start,
            mixer,
            meter,
            manifest,
            planar,
        })
    }

    /// The reel as the spotting module sees it.
    pub fn spot_reel(&self) -> SpotReel {
        SpotReel {
            reel: self.manifest.reel_number,
            rate: self.rate,
            sample_rate: self.manifest.sample_rate,
            start: self.start,
            length: self.manifest.length,
        }
    }

    /// The frame containing sample `abs` (since midnight): the last frame whose
    /// first sample, as [`FrameRate::frames_to_samples`] rounds it, is at or
    /// before `abs`. (`FrameRate::samples_to_frames` floors the exact boundary,
    /// which at 29.97 and 59.94 can name the previous frame for the first sample
    /// of a frame whose boundary was rounded down.)
    pub fn frame_of(&self, abs: i64) -> i64 {
        let sr = self.manifest.sample_rate;
        let f = self.rate.samples_to_frames(abs, sr);
        if self.rate.frames_to_samples(f + 1, sr) <= abs {
            f + 1
        } else {
            f
        }
    }

    /// The mixer (native access for the CLI and tests).
    pub fn mixer_mut(&mut self) -> &mut Mixer {
        &mut self.mixer
    }

    /// Splits `input` (planar, `input_channels()` runs of `frames`) into channels.
    fn split<'a>(&mut self, input: &'a [f32], frames: usize) -> Result<Vec<&'a [f32]>, JsError> {
        let n = self.mixer.input_channels();
        if input.len() < n * frames {
            return Err(js(format!(
                "{} samples given, {n} channels x {frames} frames needed",
                input.len()
            )));
        }
        self.planar.clear();
        self.planar.extend((0..n).map(|c| c * frames));
        Ok(self.planar.iter().map(|&o| &input[o..o + frames]).collect())
    }

    /// Mixes, meters the mix, and returns it folded for the speakers
    /// (native form of [`Preview::process`]).
    pub fn process_planar(
        &mut self,
        start: i64,
        inputs: &[&[f32]],
        frames: usize,
    ) -> dubstage_core::Result<&[Vec<f32>; 2]> {
        let out = self.mixer.process(start, inputs, frames)?;
        let refs: Vec<&[f32]> = out.iter().map(|c| &c[..frames]).collect();
        self.meter.push(&refs)?;
        Ok(self.mixer.speakers(frames))
    }
}

#[wasm_bindgen]
impl Preview {
    /// Parses `manifest.json`'s text.
    #[wasm_bindgen(constructor)]
    pub fn new(manifest_json: &str) -> Result<Preview, JsError> {
        let m = Manifest::from_json(manifest_json).map_err(js)?;
        Preview::from_manifest(m).map_err(js)
    }

    /// Number of stems.
    pub fn stem_count(&self) -> usize {
        self.mixer.stems()
    }

    /// Channels of stem `i` as stored in the package (its slice of `process`'s input).
    pub fn stem_channels(&self, i: usize) -> usize {
        self.mixer.stem_channels(i)
    }

    /// Planar input channels [`Preview::process`] expects (every stem's, in order).
    pub fn input_channels(&self) -> usize {
        self.mixer.input_channels()
    }

    /// Reviewer level offset for stem `i`, dB.
    pub fn set_trim_db(&mut self, i: usize, db: f64) {
        self.mixer.set_trim_db(i, db);
    }

    /// Reviewer mute of stem `i`.
    pub fn set_mute(&mut self, i: usize, on: bool) {
        self.mixer.set_mute(i, on);
    }

    /// Solo of stem `i`.
    pub fn set_solo(&mut self, i: usize, on: bool) {
        self.mixer.set_solo(i, on);
    }

    /// Monitoring: `printmaster`, `me`, `bus:ID` or `stem:ID`.
    pub fn set_monitor(&mut self, what: &str) -> Result<(), JsError> {
        let m = Monitor::parse(what, &self.manifest).map_err(js)?;
        self.mixer.set_monitor(m);
        Ok(())
    }

    /// Is stem `i` heard with the current monitoring, mutes and solos?
    pub fn audible(&self, i: usize) -> bool {
        self.mixer.audible(i)
    }

    /// Mixes `frames` frames from reel sample `start`. `input` holds
    /// `input_channels()` planar channels of `frames` samples one after the other
    /// (stem `i`'s from `start + stem_lead(i)`). Returns the stereo mix, planar (`[L.., R..]`), and feeds the loudness meter.
    /// When `needs_prime(start)` is true, call `prime` first (see there).
    pub fn process(
        &mut self,
        start: f64,
        input: &[f32],
        frames: usize,
    ) -> Result<Vec<f32>, JsError> {
        let chans = self.split(input, frames)?;
        let [l, r] = self
            .process_planar(start.floor() as i64, &chans, frames)
            .map_err(js)?;
        let mut out = Vec::with_capacity(2 * frames);
        out.extend_from_slice(&l[..frames]);
        out.extend_from_slice(&r[..frames]);
        Ok(out)
    }

    /// Package files (`manifest.irs[].file`) of the impulse responses the
    /// inserts need; give each with `load_ir` before playing.
    pub fn ir_files(&self) -> Vec<String> {
        self.mixer.ir_files().to_vec()
    }

    /// Gives the impulse response stored in package file `file` (its bytes as
    /// little-endian f32, planar, as `manifest.irs` describes it).
    pub fn load_ir(&mut self, file: &str, samples: &[f32]) -> Result<(), JsError> {
        let info = self
            .manifest
            .irs
            .iter()
            .find(|x| x.file == file)
            .ok_or_else(|| js(format!("{file} is not an impulse response of the manifest")))?;
        let ir = info
            .from_samples(samples, self.manifest.sample_rate)
            .map_err(js)?;
        self.mixer.set_ir(file, ir);
        Ok(())
    }

    /// Frames of audio before a block that `prime` needs after a jump (0: no
    /// inserts or sends, nothing to prime). Throws if an impulse response is missing.
    pub fn prime_frames(&mut self) -> Result<usize, JsError> {
        self.mixer.prime_frames().map_err(js)
    }

    /// Does the block at reel sample `start` need priming (it does not continue
    /// the last block mixed, and there is insert or reverb state)?
    pub fn needs_prime(&mut self, start: f64) -> Result<bool, JsError> {
        self.mixer.needs_prime(start.floor() as i64).map_err(js)
    }

    /// Where priming for the block at `start` begins (`prime_frames()` before it, but
    /// not before the reel less the longest `stem_lead`: a stem read ahead starts
    /// from its first sample there, as in the render). Throws if an impulse response
    /// is missing.
    pub fn prime_start(&mut self, start: f64) -> Result<f64, JsError> {
        self.mixer
            .prime_start(start.floor() as i64)
            .map(|s| s as f64)
            .map_err(js)
    }

    /// Does stem `i` take part in priming (it has inserts or sends)? Others may
    /// be given as silence to `prime`.
    pub fn stem_primes(&self, i: usize) -> bool {
        self.mixer.stem_primes(i)
    }

    /// How far ahead of a block stem `i`'s input is read, in frames (its inserts'
    /// latency, as the render reads it; 0 for most stems): the input of stem `i` for
    /// the block at `start` is its audio from `start + stem_lead(i)`. Throws if an
    /// impulse response is missing.
    pub fn stem_lead(&mut self, i: usize) -> Result<usize, JsError> {
        self.mixer.stem_lead(i).map_err(js)
    }

    /// Runs the inserts, sends and returns over `frames` frames from `start`
    /// (input as for `process`) without mixing or metering. Call it over the
    /// `prime_frames()` frames before a block that `needs_prime`, in order, in
    /// pieces of any size; the block then sounds as the render makes it there.
    pub fn prime(&mut self, start: f64, input: &[f32], frames: usize) -> Result<(), JsError> {
        let chans = self.split(input, frames)?;
        self.mixer
            .prime(start.floor() as i64, &chans, frames)
            .map_err(js)
    }

    /// Number of reverb returns.
    pub fn return_count(&self) -> usize {
        self.mixer.returns()
    }

    /// Reviewer mute of return `r`.
    pub fn set_return_mute(&mut self, r: usize, on: bool) {
        self.mixer.set_return_mute(r, on);
    }

    /// Reviewer level offset for return `r`, dB.
    pub fn set_return_trim_db(&mut self, r: usize, db: f64) {
        self.mixer.set_return_trim_db(r, db);
    }

    /// Is return `r` heard with the current monitoring, mutes and solos?
    pub fn return_audible(&self, r: usize) -> bool {
        self.mixer.return_audible(r)
    }

    /// Starts the meter afresh (after a seek).
    pub fn reset_meter(&mut self) -> Result<(), JsError> {
        self.meter = Meter::new(self.mixer.layout(), self.manifest.sample_rate).map_err(js)?;
        Ok(())
    }

    /// Momentary loudness of the mix (LUFS; -Infinity for silence).
    pub fn momentary(&self) -> f64 {
        self.meter.momentary()
    }

    /// Short-term loudness of the mix (LUFS; -Infinity for silence).
    pub fn short_term(&self) -> f64 {
        self.meter.short_term()
    }

    /// Completed 100 ms meter hops since the last reset.
    pub fn meter_hops(&self) -> f64 {
        self.meter.hops_seen() as f64
    }

    /// Real frames per second (23.976... for 24000/1001).
    pub fn fps(&self) -> f64 {
        self.rate.fps()
    }

    /// Is the timecode drop-frame?
    pub fn drop_frame(&self) -> bool {
        self.rate.is_drop()
    }

    /// SMPTE timecode of the frame containing reel sample `sample`.
    pub fn timecode(&self, sample: f64) -> String {
        let f = self.frame_of(self.start_samples + sample.floor() as i64);
        Timecode::from_frames(f, self.rate).to_string()
    }

    /// Reel sample at which timecode `text` starts (may be outside the reel).
    pub fn parse_timecode(&self, text: &str) -> Result<f64, JsError> {
        let tc = Timecode::parse(text, self.rate).map_err(js)?;
        Ok((tc.to_samples(self.manifest.sample_rate) - self.start_samples) as f64)
    }

    /// Reel sample where the frame `frames` away from the one containing `sample` starts.
    pub fn step_frames(&self, sample: f64, frames: i32) -> f64 {
        let sr = self.manifest.sample_rate;
        let f = self.frame_of(self.start_samples + sample.floor() as i64) + frames as i64;
        (self.rate.frames_to_samples(f, sr) - self.start_samples) as f64
    }

    /// Numbers empty cue numbers of a JSON marker array (see `spot::number_cues`).
    pub fn number_cues(&self, markers_json: &str) -> Result<String, JsError> {
        let mut m: Vec<Marker> = serde_json::from_str(markers_json).map_err(js)?;
        spot::number_cues(&mut m, self.manifest.reel_number);
        serde_json::to_string(&m).map_err(js)
    }

    /// Checks a JSON marker array against the reel; returns the resolved cues as
    /// JSON (with `in_sample`, `out_sample`, `frames`) or throws listing every problem.
    pub fn validate_markers(&self, markers_json: &str) -> Result<String, JsError> {
        let m: Vec<Marker> = serde_json::from_str(markers_json).map_err(js)?;
        let cues = spot::validate(&m, &self.spot_reel(), "markers").map_err(js)?;
        serde_json::to_string(&cues).map_err(js)
    }

    /// A JSON spotting list of the markers (for export).
    pub fn markers_to_json(&self, markers_json: &str) -> Result<String, JsError> {
        let m: Vec<Marker> = serde_json::from_str(markers_json).map_err(js)?;
        Ok(spot::to_json(
            &m,
            &self.manifest.title,
            &self.manifest.reel,
            self.rate,
        ))
    }

    /// The plain-text cue sheet of a JSON marker array (as `dubstage spot` prints it).
    pub fn cue_sheet(&self, markers_json: &str) -> Result<String, JsError> {
        let m: Vec<Marker> = serde_json::from_str(markers_json).map_err(js)?;
        let reel = self.spot_reel();
        let cues = spot::validate(&m, &reel, "markers").map_err(js)?;
        Ok(spot::cue_sheet(&cues, &self.manifest.title, &reel))
    }
}

/// Min/max peaks of interleaved audio: `[min, max]` per run of `spp` frames.
#[wasm_bindgen]
pub fn peaks(interleaved: &[f32], channels: usize, spp: usize) -> Vec<f32> {
    manifest::peaks_f32(interleaved, channels, spp)
}

/// Parses a spotting list (CSV, or JSON when `name` ends in `.json`) into a JSON
/// marker array; throws naming the line that is wrong.
#[wasm_bindgen]
pub fn spot_parse(text: &str, name: &str) -> Result<String, JsError> {
    let m = spot::parse_any(text, name).map_err(js)?;
    serde_json::to_string(&m).map_err(js)
}

/// Writes a JSON marker array as CSV.
#[wasm_bindgen]
pub fn spot_to_csv(markers_json: &str) -> Result<String, JsError> {
    let m: Vec<Marker> = serde_json::from_str(markers_json).map_err(js)?;
    Ok(spot::to_csv(&m))
}

/// The core's version string.
#[wasm_bindgen]
pub fn version() -> String {
    dubstage_core::VERSION.to_string()
}
