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
//! at a time, so the channels are delayed by [`RN_DELAY`] (two frames) before
//! the STFT: by the time a frame is analysed, RNNoise's output for the same
//! span is there.

use nnnoiseless::DenoiseState;
use std::collections::VecDeque;

/// RNNoise's frame.
pub const RN_FRAME: usize = DenoiseState::FRAME_SIZE;
/// How far the channels are delayed so that RNNoise's output is ready.
pub const RN_DELAY: usize = 2 * RN_FRAME;
/// RNNoise's only sample rate.
pub const RN_RATE: u32 = 48000;

/// RNNoise's input scale (full scale f32 to the i16 range).
const SCALE: f32 = 32768.0;

/// RNNoise running on the mono mix, keeping its output until the STFT has used it.
pub(crate) struct RnReference {
    state: Box<DenoiseState<'static>>,
    inbuf: Vec<f32>,
    out: Vec<f32>,
    frames_done: u64,
    /// RNNoise's output, `refq[0]` being input sample `base`.
    refq: VecDeque<f32>,
    base: u64,
}

impl RnReference {
    pub(crate) fn new() -> RnReference {
        RnReference {
            state: DenoiseState::new(),
            inbuf: Vec::with_capacity(RN_FRAME),
            out: vec![0.0; RN_FRAME],
            frames_done: 0,
            refq: VecDeque::new(),
            base: 0,
        }
    }

    /// Feeds one sample of the mono mix.
    pub(crate) fn push(&mut self, x: f32) {
        self.inbuf.push(x * SCALE);
        if self.inbuf.len() == RN_FRAME {
            self.state.process_frame(&mut self.out, &self.inbuf);
            // the first output frame is RNNoise's start-up (before sample 0)
            if self.frames_done > 0 {
                self.refq.extend(self.out.iter().map(|v| v / SCALE));
            }
            self.frames_done += 1;
            self.inbuf.clear();
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
                    .expect("RN_DELAY keeps RNNoise's output ahead of the STFT")
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
