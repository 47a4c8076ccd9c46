//! The RNNoise engine: J.-M. Valin, "A hybrid DSP/deep learning approach to
//! real-time full-band speech enhancement", MMSP 2018, through the
//! `nnnoiseless` crate (pure Rust, weights built in, 48 kHz, 480-sample
//! frames, input in the i16 range, one frame of delay).
//!
//! RNNoise is used as a mask estimator: it denoises the mean of the channels,
//! and the ratio of its output's spectrum to its input's, per bin of the
//! [`super::denoise`] STFT, clamped to `[floor, 1]`, is the gain applied to
//! every channel. So the RNNoise engine has the same maximum reduction (room
//! tone kept), per-band floors, dry/wet, noise-only output and linked channels
//! as the spectral one, and its delay is compensated the same way.
//!
//! The stream RNNoise returns lags its input by one frame and arrives a frame
//! at a time, so the channels are delayed by [`RnReference::delay`] ([`RN_DELAY`],
//! two frames, at 48 kHz) before the STFT: by the time a frame is analysed,
//! RNNoise's output for the same span is there.
//!
//! At other rates (44.1, 96 kHz: any rate [`StreamResampler`] takes) the mono
//! mix is converted to 48 kHz, run through RNNoise, and converted back. Both
//! converters keep sample 0 at sample 0 and RNNoise's frame of delay is removed
//! at 48 kHz, so the reference stays aligned with the input; the delay then
//! grows by what the two converters hold back while streaming
//! ([`StreamResampler::max_lag`]), a fixed number of frames for a rate.

use crate::resample::StreamResampler;
use crate::{Error, Result};
use nnnoiseless::DenoiseState;
use std::collections::VecDeque;

/// RNNoise's frame.
pub const RN_FRAME: usize = DenoiseState::FRAME_SIZE;
/// How far the channels are delayed at 48 kHz so that RNNoise's output is ready.
pub const RN_DELAY: usize = 2 * RN_FRAME;
/// RNNoise's only sample rate (other rates are converted to it and back).
pub const RN_RATE: u32 = 48000;

/// RNNoise's input scale (full scale f32 to the i16 range).
const SCALE: f32 = 32768.0;

/// The converters around RNNoise for audio at another rate than 48 kHz.
struct Convert {
    up: StreamResampler,
    down: StreamResampler,
    /// Scratch: converted blocks (one channel each).
    up_out: Vec<Vec<f32>>,
    down_out: Vec<Vec<f32>>,
    /// RNNoise's output at 48 kHz, waiting to be converted back.
    rn48: Vec<f32>,
}

/// RNNoise running on the mono mix, keeping its output until the STFT has used it.
pub(crate) struct RnReference {
    state: Box<DenoiseState<'static>>,
    inbuf: Vec<f32>,
    out: Vec<f32>,
    frames_done: u64,
    convert: Option<Box<Convert>>,
    delay: usize,
    /// RNNoise's output at the input's rate, `refq[0]` being input sample `base`.
    refq: VecDeque<f32>,
    base: u64,
}

impl RnReference {
    /// RNNoise for audio at `sample_rate` (converted to 48 kHz and back when
    /// it is another rate; refused where the converter refuses the ratio).
    pub(crate) fn new(sample_rate: u32) -> Result<RnReference> {
        let convert = if sample_rate == RN_RATE {
            None
        } else {
            let conv = |a, b| {
                StreamResampler::new(1, a, b).map_err(|e| {
                    Error::Invalid(format!(
                        "the rnnoise engine runs at {RN_RATE} Hz and cannot convert \
                         {sample_rate} Hz audio to it: {e}"
                    ))
                })
            };
            Some(Box::new(Convert {
                up: conv(sample_rate, RN_RATE)?,
                down: conv(RN_RATE, sample_rate)?,
                up_out: vec![Vec::new()],
                down_out: vec![Vec::new()],
                rn48: Vec::new(),
            }))
        };
        // Input sample p is out of RNNoise (at 48 kHz) once 48 kHz sample
        // p' + RN_DELAY is in; back at the input's rate, once the down
        // converter has had max_lag more; and that 48 kHz sample arrives
        // max_lag input samples after its position.
        let delay = match &convert {
            None => RN_DELAY,
            Some(c) => {
                let at48 = RN_DELAY as u64 + c.down.max_lag();
                let back = (at48 * u64::from(sample_rate)).div_ceil(u64::from(RN_RATE));
                (c.up.max_lag() + back + 1) as usize
            }
        };
        Ok(RnReference {
            state: DenoiseState::new(),
            inbuf: Vec::with_capacity(RN_FRAME),
            out: vec![0.0; RN_FRAME],
            frames_done: 0,
            convert,
            delay,
            refq: VecDeque::new(),
            base: 0,
        })
    }

    /// How far behind the input RNNoise's output may be complete, in frames
    /// at the input's rate: the delay the channels need before the STFT.
    pub(crate) fn delay(&self) -> usize {
        self.delay
    }

    /// Feeds samples of the mono mix.
    pub(crate) fn push(&mut self, xs: &[f32]) {
        let Some(c) = self.convert.as_mut() else {
            for &x in xs {
                Self::push48(
                    &mut self.state,
                    &mut self.inbuf,
                    &mut self.out,
                    &mut self.frames_done,
                    x,
                    &mut self.refq,
                );
            }
            return;
        };
        c.up_out[0].clear();
        c.up.push(&[xs], &mut c.up_out)
            .expect("one channel in, one out");
        c.rn48.clear();
        for &x in &c.up_out[0] {
            Self::push48(
                &mut self.state,
                &mut self.inbuf,
                &mut self.out,
                &mut self.frames_done,
                x,
                &mut c.rn48,
            );
        }
        if !c.rn48.is_empty() {
            c.down_out[0].clear();
            c.down
                .push(&[&c.rn48], &mut c.down_out)
                .expect("one channel in, one out");
            self.refq.extend(&c.down_out[0]);
        }
    }

    /// One 48 kHz sample into RNNoise; its output (frame delay removed) to `sink`.
    fn push48(
        state: &mut DenoiseState<'static>,
        inbuf: &mut Vec<f32>,
        out: &mut [f32],
        frames_done: &mut u64,
        x: f32,
        sink: &mut impl Extend<f32>,
    ) {
        inbuf.push(x * SCALE);
        if inbuf.len() == RN_FRAME {
            state.process_frame(out, inbuf);
            // the first output frame is RNNoise's start-up (before sample 0)
            if *frames_done > 0 {
                sink.extend(out.iter().map(|v| v / SCALE));
            }
            *frames_done += 1;
            inbuf.clear();
        }
    }

    /// Copies RNNoise's output for input samples `start .. start + out.len()`
    /// (`start` may be negative: zeros there).
    pub(crate) fn window(&self, start: i64, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            let idx = start + i as i64;
            *o = if idx < self.base as i64 {
                0.0
            } else {
                let k = (idx - self.base as i64) as usize;
                *self
                    .refq
                    .get(k)
                    .expect("the delay keeps RNNoise's output ahead of the STFT")
            };
        }
    }

    /// Forgets the output before input sample `keep_from`.
    pub(crate) fn drop_before(&mut self, keep_from: i64) {
        while keep_from > self.base as i64 && !self.refq.is_empty() {
            self.refq.pop_front();
            self.base += 1;
        }
    }
}
