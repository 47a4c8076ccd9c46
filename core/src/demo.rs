//! A synthesized demo reel: six stems of a 5.1 film mix and its session file.
//!
//! Everything comes from a seeded generator, block by block (bounded memory),
//! so the demo is the same bytes on every machine. The reel follows the
//! conventions: reel 1 starts at 01:00:00:00 at 23.976 fps, the first frame of
//! action (FFOA) is at 01:00:08:00 after the leader, and every stem carries a
//! 2-pop (one frame of 1 kHz at -20 dBFS) 2 s before FFOA.

use crate::io::{Bext, OutputFormat, Rf64Mode, WavSpec, WavWriter};
use crate::layout::Layout;
use crate::timecode::{FrameRate, Timecode};
use crate::{Error, Result};
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

/// Sample rate of the demo.
pub const RATE: u32 = 48_000;
/// Frame rate of the demo.
pub const FPS: FrameRate = FrameRate::Fps23_976;

/// A tiny deterministic generator (xorshift64*, Vigna 2016).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [-1, 1).
    pub fn bipolar(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }
}

/// A two-pole resonator (constant peak gain bandpass), used for formants and whooshes.
#[derive(Debug, Clone, Copy, Default)]
struct Reson {
    y1: f64,
    y2: f64,
}

impl Reson {
    fn run(&mut self, x: f64, f: f64, bw: f64) -> f64 {
        let r = (-std::f64::consts::PI * bw / RATE as f64).exp();
        let a1 = -2.0 * r * (TAU * f / RATE as f64).cos();
        let a2 = r * r;
        let y = (1.0 - r) * x - a1 * self.y1 - a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

fn db(x: f64) -> f64 {
    10f64.powf(x / 20.0)
}

/// Where the leader's 2-pop sits, in samples from the reel start, and its length.
pub fn two_pop() -> (u64, u64) {
    let frame = FPS.frames_to_samples(1, RATE) as u64;
    let ffoa = FPS.frames_to_samples(8 * 24, RATE) as u64;
    let pop = ffoa - FPS.frames_to_samples(2 * 24, RATE) as u64;
    (pop, frame)
}

/// One synthesized stem.
struct Synth {
    id: &'static str,
    layout: Layout,
    rng: Rng,
    res: [Reson; 6],
    phase: f64,
    lp: [f64; 8],
    /// Active phrases/events: (start, end) in samples.
    events: Vec<(u64, u64, f64)>,
}

impl Synth {
    fn new(id: &'static str, layout: Layout, seed: u64, len: u64) -> Synth {
        let mut rng = Rng::new(seed);
        let program_start = (8 * RATE) as u64;
        let mut events = Vec::new();
        let mut t = program_start + (rng.unit() * RATE as f64) as u64;
        // Phrase/event lengths and gaps per stem kind (seconds).
        let (dur, gap) = match id {
            "dx" => ((1.5, 3.5), (0.8, 2.0)),
            "adr" => ((1.2, 2.5), (4.0, 9.0)),
            "fx" => ((0.6, 1.6), (3.0, 7.0)),
            "foley" => ((2.0, 5.0), (2.0, 5.0)),
            _ => ((len as f64, len as f64), (0.0, 0.0)),
        };
        while t < len {
            let d = ((dur.0 + (dur.1 - dur.0) * rng.unit()) * RATE as f64) as u64;
            let e = (t + d).min(len);
            events.push((t, e, rng.unit()));
            t = e + ((gap.0 + (gap.1 - gap.0) * rng.unit()) * RATE as f64) as u64;
        }
        Synth {
            id,
            layout,
            rng,
            res: [Reson::default(); 6],
            phase: 0.0,
            lp: [0.0; 8],
            events,
        }
    }

    fn active(&self, t: u64) -> Option<(u64, u64, f64)> {
        let k = self.events.partition_point(|e| e.0 <= t);
        (k > 0).then(|| self.events[k - 1]).filter(|e| t < e.1)
    }

    /// One frame of the stem at reel sample `t` into `out` (layout order), with a 10 ms
    /// fade at the end of every event, as an editor would cut.
    fn frame(&mut self, t: u64, out: &mut [f64]) {
        self.raw_frame(t, out);
        if let Some((_, e, _)) = self.active(t) {
            let fade = ((e - t) as f64 / (0.010 * RATE as f64)).min(1.0);
            out.iter_mut().for_each(|x| *x *= fade);
        }
    }

    fn raw_frame(&mut self, t: u64, out: &mut [f64]) {
        out.fill(0.0);
        let sr = RATE as f64;
        let ts = t as f64 / sr;
        match self.id {
            "dx" | "adr" => {
                // A voice: a glottal pulse train with intonation through three
                // formant resonators that change with every syllable (4.5 Hz).
                let Some((s, _, seed)) = self.active(t) else {
                    return;
                };
                let base = if self.id == "dx" { 118.0 } else { 205.0 };
                let rel = (t - s) as f64 / sr;
                let f0 = base * (1.0 + 0.12 * (TAU * 0.7 * rel + seed * 6.0).sin());
                self.phase = (self.phase + f0 / sr).fract();
                let pulse = if self.phase < 0.08 { 1.0 } else { 0.0 } - 0.08;
                let syl = rel * 4.5;
                let k = syl.floor() as usize + (seed * 97.0) as usize;
                const VOWELS: [(f64, f64, f64); 5] = [
                    (730.0, 1090.0, 2440.0),
                    (270.0, 2290.0, 3010.0),
                    (530.0, 1840.0, 2480.0),
                    (570.0, 840.0, 2410.0),
                    (300.0, 870.0, 2240.0),
                ];
                let (f1, f2, f3) = VOWELS[k % VOWELS.len()];
                let env = (std::f64::consts::PI * syl.fract()).sin().powi(2);
                let noise = self.rng.bipolar() * 0.15;
                let x = pulse + noise * (1.0 - env);
                let y = self.res[0].run(x, f1, 90.0) * 1.0
                    + self.res[1].run(x, f2, 110.0) * 0.6
                    + self.res[2].run(x, f3, 160.0) * 0.3;
                out[0] = y * env * db(if self.id == "dx" { -20.0 } else { -21.0 });
            }
            "music" => {
                // Chord pads, four seconds a chord, with a bass note; L/R slightly detuned.
                const CHORDS: [[f64; 3]; 4] = [
                    [220.0, 261.63, 329.63],
                    [174.61, 220.0, 261.63],
                    [196.0, 246.94, 293.66],
                    [164.81, 207.65, 246.94],
                ];
                let bar = (ts / 4.0) as usize;
                let within = ts % 4.0;
                let env = (within / 0.4).min(1.0) * (1.0 - 0.5 * within / 4.0);
                let ch = CHORDS[bar % 4];
                for (c, det) in [(0usize, 0.999), (1usize, 1.001)] {
                    let mut y = 0.0;
                    for &f in &ch {
                        for h in 1..=3 {
                            y += (TAU * f * det * h as f64 * ts).sin() / (h * h) as f64;
                        }
                    }
                    y += 0.8 * (TAU * ch[0] / 2.0 * ts).sin();
                    out[c] = y * env * db(-22.0);
                }
            }
            "fx" => {
                // Whooshes swept through a resonator, panned front to back, with an LFE boom.
                if let Some((s, e, seed)) = self.active(t) {
                    let p = (t - s) as f64 / (e - s) as f64;
                    let env = (std::f64::consts::PI * p).sin().powi(2);
                    let n = self.rng.bipolar();
                    let f = 300.0 + 2500.0 * p;
                    let y = self.res[0].run(n, f, f * 0.3) * 4.0 * env * db(-18.0);
                    let ang = (seed + p) * TAU;
                    let g = [
                        ang.cos().max(0.0),
                        ang.sin().max(0.0),
                        0.3,
                        0.0,
                        (-ang.cos()).max(0.0),
                        (-ang.sin()).max(0.0),
                    ];
                    for (o, gi) in out.iter_mut().zip(g) {
                        *o = y * gi;
                    }
                    let boom_t = (t - s) as f64 / sr;
                    out[3] = (TAU * 42.0 * boom_t).sin() * (-boom_t * 3.0).exp() * db(-14.0);
                }
            }
            "foley" => {
                // Footsteps every 0.55 s while walking: short low-passed noise bursts.
                if let Some((s, _, _)) = self.active(t) {
                    let step = ((t - s) as f64 / sr) % 0.55;
                    let env = (-step * 60.0).exp();
                    let n = self.rng.bipolar() * env;
                    self.lp[0] += 0.25 * (n - self.lp[0]);
                    out[0] = self.lp[0] * db(-6.0);
                }
            }
            _ => {
                // Backgrounds: decorrelated low-passed noise beds (room tone, traffic).
                let lfe = self.layout.index_of(crate::Channel::Lfe);
                for (c, (o, lp)) in out.iter_mut().zip(self.lp.iter_mut()).enumerate() {
                    if Some(c) == lfe {
                        continue;
                    }
                    let n = self.rng.bipolar();
                    *lp += 0.08 * (n - *lp);
                    *o = *lp * db(if c == 2 { -36.0 } else { -26.0 });
                }
            }
        }
    }
}

/// What `write_demo` produced.
#[derive(Debug, Clone)]
pub struct DemoFiles {
    /// The session file.
    pub session: PathBuf,
    /// The stem files.
    pub stems: Vec<PathBuf>,
    /// Reel length in samples.
    pub frames: u64,
}

/// Writes the demo stems (`DIR/stems/*.wav`) and `DIR/session.toml` for a reel
/// of `minutes` (leader included).
pub fn write_demo(dir: &Path, minutes: f64) -> Result<DemoFiles> {
    write_demo_reel(
        dir,
        &DemoReel {
            reel: 1,
            minutes,
            music_db: 0.0,
            tail_pop: false,
        },
    )
}

/// One reel of a demo (see [`crate::feature::demo`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoReel {
    /// Reel number: it starts at `<reel>:00:00:00` (reel 1 is [`write_demo`]'s reel), and
    /// its material comes from seeds of its own.
    pub reel: u32,
    /// Length, leader included.
    pub minutes: f64,
    /// Extra music level, dB (reels of a feature differ in loudness).
    pub music_db: f64,
    /// End the programme 4 s before the reel's end (`[reel] lfoa`), silence after it but
    /// for a tail pop 2 s after the LFOA frame.
    pub tail_pop: bool,
}

/// Writes one demo reel's stems and session into `dir`.
pub fn write_demo_reel(dir: &Path, r: &DemoReel) -> Result<DemoFiles> {
    let minutes = r.minutes;
    if !(minutes.is_finite() && (0.25..=240.0).contains(&minutes)) {
        return Err(Error::Invalid(format!(
            "--minutes {minutes}: the demo reel must be 0.25 to 240 minutes long"
        )));
    }
    let stems_dir = dir.join("stems");
    std::fs::create_dir_all(&stems_dir).map_err(|e| Error::Output {
        path: stems_dir.clone(),
        msg: format!("cannot create the folder: {e}"),
    })?;
    let len = (minutes * 60.0 * RATE as f64) as u64;
    let (pop, pop_len) = two_pop();
    let ffoa = FPS.frames_to_samples(8 * 24, RATE) as u64;
    let start = Timecode::parse(&format!("{:02}:00:00:00", r.reel.min(23)), FPS)?;
    // With a tail pop: the LFOA frame ends 4 s (96 frames) before the reel's last whole
    // frame, and the pop is 2 s (48 frames) after it.
    let frames = FPS.samples_to_frames(len as i64, RATE);
    let lfoa_frame = frames - 97;
    let programme_end = if r.tail_pop {
        FPS.frames_to_samples(lfoa_frame + 1, RATE) as u64
    } else {
        len
    };
    let tail_pop = FPS.frames_to_samples(lfoa_frame + 1 + 48, RATE) as u64;
    if r.tail_pop && lfoa_frame < 8 * 24 + 24 {
        return Err(Error::Invalid(format!(
            "a {minutes}-minute demo reel is too short for a tail pop"
        )));
    }
    let defs: [(&str, Layout, u64); 6] = [
        ("dx", Layout::Mono, 11),
        ("adr", Layout::Mono, 12),
        ("music", Layout::Stereo, 13),
        ("fx", Layout::FiveOne, 14),
        ("foley", Layout::Mono, 15),
        ("bg", Layout::FiveOne, 16),
    ];
    let mut paths = Vec::new();
    for (id, layout, seed) in defs {
        // Music ends 10 s early: the stem's file is shorter than the reel.
        let stem_len = if id == "music" {
            len.saturating_sub(10 * RATE as u64).max(pop + pop_len)
        } else {
            len
        };
        let path = stems_dir.join(format!("{id}.wav"));
        let spec = WavSpec {
            channels: layout.len() as u16,
            sample_rate: RATE,
            format: OutputFormat::Float32,
            channel_mask: layout.channel_mask(),
            bext: Some(Bext {
                description: format!("dubstage demo stem {id}"),
                originator: "dubstage demo".into(),
                time_reference: start.to_samples(RATE) as u64,
                version: 2,
                ..Default::default()
            }),
            rf64: Rf64Mode::Auto {
                threshold: u32::MAX as u64 - (1 << 20),
            },
            bw64: false,
            dither_seed: 0,
        };
        let mut w = WavWriter::create(&path, spec)?;
        let seed = seed + u64::from(r.reel.saturating_sub(1)) * 100;
        let mut synth = Synth::new(id, layout, seed, stem_len);
        let nch = layout.len();
        let block = 1 << 15;
        let mut frame = vec![0.0f64; nch];
        let mut bufs = vec![Vec::with_capacity(block); nch];
        let mut t = 0u64;
        let lfe = layout.index_of(crate::Channel::Lfe);
        while t < stem_len {
            let n = ((stem_len - t) as usize).min(block);
            for b in bufs.iter_mut() {
                b.clear();
            }
            for i in 0..n as u64 {
                let ti = t + i;
                // The leader is silent but for the 2-pop; the programme starts at FFOA.
                if ti < ffoa || ti >= programme_end {
                    frame.fill(0.0);
                } else {
                    synth.frame(ti, &mut frame);
                }
                if (pop..pop + pop_len).contains(&ti)
                    || (r.tail_pop && (tail_pop..tail_pop + pop_len).contains(&ti))
                {
                    let at = if ti >= tail_pop {
                        ti - tail_pop
                    } else {
                        ti - pop
                    };
                    let v = db(-20.0) * (TAU * 1000.0 * at as f64 / RATE as f64).sin();
                    for (c, f) in frame.iter_mut().enumerate() {
                        if Some(c) != lfe {
                            *f = v;
                        }
                    }
                }
                for (b, &f) in bufs.iter_mut().zip(frame.iter()) {
                    b.push(f as f32);
                }
            }
            let refs: Vec<&[f32]> = bufs.iter().map(|b| b.as_slice()).collect();
            w.write_planar(&refs)?;
            t += n as u64;
        }
        w.finish()?;
        paths.push(path);
    }
    // A small room's impulse response for the ADR's worldizing send: 0.6 s of noise
    // decaying by 60 dB (RT60 0.6 s), with a little pre-delay.
    let ir_path = stems_dir.join("room_ir.wav");
    {
        let mut rng = Rng::new(99);
        let n = (0.6 * RATE as f64) as usize;
        let pre = (0.004 * RATE as f64) as usize;
        let ir: Vec<f32> = (0..n)
            .map(|i| {
                if i < pre {
                    0.0
                } else {
                    let t = (i - pre) as f64 / RATE as f64;
                    (rng.bipolar() * 10f64.powf(-3.0 * t / 0.6) * 0.25) as f32
                }
            })
            .collect();
        let mut w = WavWriter::create(&ir_path, WavSpec::new(1, RATE, OutputFormat::Float32))?;
        w.write_planar(&[&ir])?;
        w.finish()?;
    }
    let session = dir.join("session.toml");
    let mut text = demo_session_text(len);
    if r.reel != 1 || r.tail_pop || r.music_db != 0.0 {
        let tc = |s: u64| Timecode::from_samples(start.to_samples(RATE) + s as i64, FPS, RATE);
        text = text
            .replace("reel = 1\n", &format!("reel = {}\n", r.reel))
            .replace(
                "start = \"01:00:00:00\"\nffoa = \"01:00:08:00\"",
                &format!(
                    "start = \"{start}\"\nffoa = \"{}\"{}",
                    tc(ffoa),
                    if r.tail_pop {
                        format!(
                            "\nlfoa = \"{}\"",
                            Timecode::from_frames(start.to_frames() + lfoa_frame, FPS)
                        )
                    } else {
                        String::new()
                    }
                ),
            )
            .replace(
                "source = \"stems/music.wav\"\n",
                &format!(
                    "source = \"stems/music.wav\"\ngain_db = {:.1}\n",
                    r.music_db
                ),
            );
        // The automation's timecodes move with the reel's start.
        if r.reel != 1 {
            let from = "at = \"01:".to_string();
            let to = format!("at = \"{:02}:", r.reel.min(23));
            text = text.replace(&from, &to);
        }
    }
    std::fs::write(&session, text).map_err(|e| Error::io(&session, e))?;
    Ok(DemoFiles {
        session,
        stems: paths,
        frames: len,
    })
}

fn demo_session_text(len: u64) -> String {
    let tc = |s: f64| {
        let start = Timecode::parse("01:00:00:00", FPS).expect("valid");
        Timecode::from_frames(start.to_frames() + (s * FPS.fps()).round() as i64, FPS).to_string()
    };
    let secs = len as f64 / RATE as f64;
    format!(
        r#"# dubstage demo session (synthesized by `dubstage demo`)
[reel]
title = "Demo"
reel = 1
sample_rate = 48000
frame_rate = "23.976"
start = "01:00:00:00"
ffoa = "01:00:08:00"

[output]
format = "pcm24"

# Netflix: -27 LKFS dialogue-gated (stem-gated on the dialogue buses) +-2 LU, -2 dBTP
[delivery]
profile = "netflix"

[[stem]]
id = "dx"
kind = "dialogue"
source = "stems/dx.wav"
gain_db = 0.0

[[stem]]
id = "adr"
kind = "adr"
source = "stems/adr.wav"       # placed by its bext TimeReference
pan = {{ position = 0.0 }}
gain_db = -2.0
# worldized: high-passed, and sent to the production-room reverb
inserts = [ {{ type = "eq", bands = [ {{ kind = "high_pass", freq = 90.0, slope = 24 }} ] }} ]
sends = [ {{ to = "room", db = -12.0 }} ]

[[stem]]
id = "music"
kind = "music"
source = "stems/music.wav"
pan = {{ surround = 0.3 }}
# a music fade-up after the main titles, then a dip
automation = [
  {{ at = "{a0}", db = -60.0 }},
  {{ at = "{a1}", db = 0.0 }},
  {{ at = "{a2}", db = 0.0 }},
  {{ at = "{a3}", db = -6.0 }},
]

[[stem]]
id = "fx"
kind = "effects"
source = "stems/fx.wav"

[[stem]]
id = "foley"
kind = "foley"
source = "stems/foley.wav"
pan = {{ position = -0.4 }}
gain_db = -3.0

[[stem]]
id = "bg"
kind = "backgrounds"
source = "stems/bg.wav"
gain_db = -4.0

# the production room's reverb; it returns to the dialogue bus so the M&E stays dry
[[return]]
id = "room"
bus = "DX"
layout = "mono"
inserts = [ {{ type = "convolve", ir = "stems/room_ir.wav" }} ]
"#,
        a0 = tc(8.0),
        a1 = tc(12.0),
        a2 = tc((secs * 0.5).max(13.0)),
        a3 = tc((secs * 0.5).max(13.0) + 3.0),
    )
}

/// What [`write_demo_timeline`] wrote.
#[derive(Debug, Clone)]
pub struct DemoTimeline {
    /// The picture editor's list (CMX 3600).
    pub list: PathBuf,
    /// The recorder's files.
    pub media: PathBuf,
    /// The conformed session.
    pub session: PathBuf,
    /// The conform's readable report.
    pub report: String,
    /// Edits matched / not.
    pub matched: usize,
    pub unmatched: usize,
}

/// The demo's production sound: `n` frames of two microphones on one take,
/// a boom and a lav (syllables of resonant noise, the lav closer and
/// brighter), from the take's own seed.
fn take_audio(seed: u64, n: usize) -> [Vec<f32>; 2] {
    let mut rng = Rng::new(seed);
    let (mut f1, mut f2, mut f3) = (Reson::default(), Reson::default(), Reson::default());
    let mut boom = Vec::with_capacity(n);
    let mut lav = Vec::with_capacity(n);
    let syl = RATE as f64 / 4.3;
    let pitch = 110.0 + 40.0 * (seed % 3) as f64;
    for i in 0..n {
        let t = i as f64 / RATE as f64;
        let phase = (i as f64 / syl).fract();
        let env =
            (std::f64::consts::PI * phase).sin().powi(2) * (0.6 + 0.4 * (TAU * 0.3 * t).sin());
        let src = rng.bipolar() * 0.3 + (TAU * pitch * t).sin().signum() * 0.2;
        let v = f1.run(src, 600.0 + 200.0 * (TAU * 0.9 * t).sin(), 120.0) * 6.0
            + f2.run(src, 1700.0 + 300.0 * (TAU * 1.3 * t).cos(), 200.0) * 3.0;
        let air = f3.run(rng.bipolar(), 6000.0, 3000.0) * 0.02;
        boom.push((env * v * db(-12.0) + air * 0.5) as f32);
        lav.push((env * v * db(-8.0) + air) as f32);
    }
    [boom, lav]
}

/// Writes a demo of the editorial timeline into `dir`: three takes of a
/// recorder (poly files, 48 kHz, 23.976 timecode in bext, roll `DEMO01`,
/// tracks "Boom" and "Lav"), a music cue at 44.1 kHz (roll `MX01`), the
/// picture editor's list (`reel1.edl`: cuts, a dissolve, an `M2` half-speed
/// edit, the music patched to A2), and the session conformed from them
/// (`session.toml`, tracks A1 and A2), ready for `render`.
pub fn write_demo_timeline(dir: &Path) -> Result<DemoTimeline> {
    let media = dir.join("media");
    std::fs::create_dir_all(&media).map_err(|e| Error::Output {
        path: media.clone(),
        msg: format!("cannot create the folder: {e}"),
    })?;
    let take_len = 20 * RATE as usize;
    for take in 1..=3u64 {
        let tc = Timecode::parse(&format!("10:0{}:00:00", take - 1), FPS)?;
        let bext = Bext {
            description: format!(
                "sSPEED=023.976-ND\r\nsTAPE=DEMO01\r\nsSCENE=1\r\nsTAKE={take}\r\nsTRK1=Boom\r\nsTRK2=Lav\r\n"
            ),
            originator: "dubstage demo".into(),
            time_reference: tc.to_samples(RATE) as u64,
            ..Default::default()
        };
        let mut spec = WavSpec::new(2, RATE, OutputFormat::Pcm24);
        spec.bext = Some(bext);
        spec.dither_seed = take;
        let path = media.join(format!("1-{take}.WAV"));
        let mut w = WavWriter::create(&path, spec)?;
        let [boom, lav] = take_audio(take, take_len);
        for (b, l) in boom.chunks(RATE as usize).zip(lav.chunks(RATE as usize)) {
            w.write_planar(&[b, l])?;
        }
        w.finish()?;
    }
    // the music cue, at 44.1 kHz: converted as it plays
    let mx_rate = 44_100u32;
    let mut spec = WavSpec::new(1, mx_rate, OutputFormat::Pcm24);
    spec.bext = Some(Bext {
        description: "sTAPE=MX01\r\n".into(),
        ..Default::default()
    });
    let mut w = WavWriter::create(&media.join("MX01.WAV"), spec)?;
    let chord: Vec<f32> = (0..20 * mx_rate as usize)
        .map(|i| {
            let t = i as f64 / mx_rate as f64;
            let swell = 0.5 - 0.5 * (TAU * t / 10.0).cos();
            ([220.0, 277.18, 329.63, 440.0]
                .iter()
                .map(|f| (TAU * f * t).sin())
                .sum::<f64>()
                * 0.06
                * swell) as f32
        })
        .collect();
    for c in chord.chunks(mx_rate as usize) {
        w.write_planar(&[c])?;
    }
    w.finish()?;
    let list = dir.join("reel1.edl");
    let edl = "TITLE: DEMO TIMELINE REEL 1\r\n\
FCM: NON-DROP FRAME\r\n\
\r\n\
001  DEMO01   A     C        10:00:01:00 10:00:05:00 01:00:00:00 01:00:04:00\r\n\
* FROM CLIP NAME:  1-1\r\n\
002  DEMO01   A     C        10:01:02:00 10:01:06:00 01:00:04:00 01:00:08:00\r\n\
* FROM CLIP NAME:  1-2\r\n\
003  DEMO01   A     C        10:01:06:00 10:01:06:00 01:00:08:00 01:00:08:00\r\n\
003  DEMO01   A     D    012 10:02:03:00 10:02:09:00 01:00:08:00 01:00:14:00\r\n\
* FROM CLIP NAME:  1-2\r\n\
* TO CLIP NAME:  1-3\r\n\
004  DEMO01   A     C        10:02:12:00 10:02:14:00 01:00:14:00 01:00:18:00\r\n\
M2   DEMO01       012.0                10:02:12:00\r\n\
* FROM CLIP NAME:  1-3\r\n\
005  MX01     A2    C        00:00:02:00 00:00:18:00 01:00:02:00 01:00:18:00\r\n\
* PATCH MX01:  FROM SOURCE 1 TO RECORD 2\r\n";
    std::fs::write(&list, edl).map_err(|e| Error::io(&list, e))?;
    let parsed = crate::editorial::edl::parse(edl, FPS).map_err(|(line, m)| {
        let at = line.map(|l| format!(" line {l}")).unwrap_or_default();
        Error::Invalid(format!("{}{at}: {m}", list.display()))
    })?;
    let c = crate::conform::conform(
        &parsed,
        &crate::conform::ConformOptions {
            media: vec![media.clone()],
            handles_s: 2.0,
            channel_names: Vec::new(),
            session_dir: dir.to_path_buf(),
        },
    )?;
    let session = dir.join("session.toml");
    let text = format!(
        "# dubstage demo session (the timeline demo: `dubstage demo --timeline` conformed {} from media/)\n{}",
        list.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
        c.session_toml(dir)?
    );
    std::fs::write(&session, text).map_err(|e| Error::io(&session, e))?;
    Ok(DemoTimeline {
        list,
        media,
        session,
        report: c.report_text(),
        matched: c.matched,
        unmatched: c.unmatched,
    })
}
