//! Streaming sample-rate conversion and film-style speed changes.
//!
//! One resampler serves every place that changes a signal's rate or speed: clip
//! sources recorded at another rate (44.1 kHz music, 96 kHz effects), pull-up and
//! pull-down (0.1 %: 24 fps material in a 23.976 post and back), and PAL speed
//! versions (24 → 25 fps: 4 % faster). A speed change here is a transfer-style
//! one: the pitch follows the speed, as when film runs faster through a telecine.
//!
//! The engine is `rubato`'s synchronous FFT resampler ([`rubato::Fft`]). The
//! ratios we need are fixed and rational (160/147, 1001/1000, 25/24), which is
//! exactly what a synchronous resampler is for: it is faster than the
//! asynchronous sinc resamplers, its output length is exact, and it is a pure
//! function of its input, so renders stay byte-for-byte deterministic. Its
//! anti-aliasing filter is applied in the frequency domain over a whole FFT
//! block; large blocks give a sharp filter with a deep stop band, at the cost of
//! latency, which this wrapper removes: the output is aligned with the input
//! (sample 0 maps to sample 0) and is exactly [`output_len`] frames long.
//!
//! Memory is bounded by the block size, whatever the length of the programme.

pub mod stretch;
pub mod version;

use crate::{Error, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

/// The resampler as the reports name it (`render`'s summary, the QC report).
pub const RESAMPLER: &str = "rubato synchronous FFT resampler (rubato::Fft, Blackman-Harris window, blocks of 8192 input frames or more): an exact rational ratio, an exact length, deterministic";

/// Input frames per FFT block. Larger blocks give a sharper anti-aliasing
/// filter (the filter spans the block); 8192 keeps the pass-band residual of a
/// 44.1 → 48 kHz conversion far below −100 dB (see the tests).
const CHUNK_FRAMES: usize = 8192;

/// A speed change, as the factor by which a programme's duration is multiplied
/// (`length_num / length_den`). The pitch follows the speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speed {
    /// Numerator of the duration factor.
    pub length_num: u32,
    /// Denominator of the duration factor.
    pub length_den: u32,
}

impl Speed {
    /// No change.
    pub const UNITY: Speed = Speed {
        length_num: 1,
        length_den: 1,
    };
    /// Pull-down: plays 1000/1001 as fast (24 fps material in a 23.976 post), so
    /// the programme lasts 1001/1000 as long.
    pub const PULL_DOWN: Speed = Speed {
        length_num: 1001,
        length_den: 1000,
    };
    /// Pull-up: plays 1001/1000 as fast (23.976 material in a 24 fps post).
    pub const PULL_UP: Speed = Speed {
        length_num: 1000,
        length_den: 1001,
    };

    /// Parses `"pull-down"`, `"pull-up"`, `"none"`/`"1/1"`, or a duration ratio
    /// `"A/B"` (`"24/25"` is the PAL speed-up: the programme lasts 24/25 as long,
    /// 4 % faster; `"25/24"` is the PAL slow-down).
    pub fn parse(text: &str) -> Result<Speed> {
        let t = text.trim().to_ascii_lowercase();
        let bad = |msg: &str| Error::Invalid(format!("speed \"{text}\": {msg}"));
        let speed = match t.as_str() {
            "pull-down" | "pulldown" => Speed::PULL_DOWN,
            "pull-up" | "pullup" => Speed::PULL_UP,
            "none" | "1" | "1.0" => Speed::UNITY,
            _ => {
                let (a, b) = t.split_once('/').ok_or_else(|| {
                    bad("expected \"pull-down\", \"pull-up\" or a ratio such as \"24/25\"")
                })?;
                let parse = |s: &str| {
                    s.trim()
                        .parse::<u32>()
                        .map_err(|_| bad("the ratio's terms must be whole numbers"))
                };
                let (a, b) = (parse(a)?, parse(b)?);
                if a == 0 || b == 0 {
                    return Err(bad("the ratio's terms must be above zero"));
                }
                let g = gcd(a as u64, b as u64) as u32;
                Speed {
                    length_num: a / g,
                    length_den: b / g,
                }
            }
        };
        // 24/25 and 25/24 are the widest speed changes in use; 1/2..2/1 leaves room
        // for varispeed while refusing typos such as "24/2.5" turned into "24/25".
        let r = speed.length_num as f64 / speed.length_den as f64;
        if !(0.5..=2.0).contains(&r) {
            return Err(bad("the duration ratio must lie between 1/2 and 2/1"));
        }
        Ok(speed)
    }

    /// True when the speed is unchanged.
    pub fn is_unity(&self) -> bool {
        self.length_num == self.length_den
    }

    /// The text form [`Speed::parse`] reads back.
    pub fn label(&self) -> String {
        match *self {
            s if s == Speed::PULL_DOWN => "pull-down".into(),
            s if s == Speed::PULL_UP => "pull-up".into(),
            s if s.is_unity() => "none".into(),
            s => format!("{}/{}", s.length_num, s.length_den),
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact output length for `input_frames` at the ratio `out/inp`, rounded to
/// the nearest frame (halves up), in wide arithmetic that cannot overflow.
pub fn output_len(input_frames: u64, inp: u32, out: u32) -> u64 {
    let n = input_frames as u128 * out as u128;
    ((n + inp as u128 / 2) / inp as u128) as u64
}

/// A streaming resampler for planar multichannel audio at a fixed rational
/// ratio. Push blocks of any length; [`StreamResampler::finish`] flushes the
/// tail. The output is aligned with the input (no latency) and exactly
/// [`output_len`] frames long in total.
pub struct StreamResampler {
    inner: Fft<f32>,
    channels: usize,
    inp: u32,
    out: u32,
    /// Input not yet given to the FFT, per channel.
    pending: Vec<Vec<f32>>,
    /// Scratch for one block of output, per channel.
    scratch: Vec<Vec<f32>>,
    /// Output frames still to drop to remove the resampler's delay.
    delay_left: usize,
    /// The resampler's delay in output frames, and its input block.
    delay: usize,
    chunk: usize,
    taken: u64,
    emitted: u64,
}

impl StreamResampler {
    /// A converter from `rate_in` to `rate_out` Hz.
    pub fn new(channels: usize, rate_in: u32, rate_out: u32) -> Result<Self> {
        if channels == 0 {
            return Err(Error::Invalid("resampler: no channels".into()));
        }
        if rate_in == 0 || rate_out == 0 {
            return Err(Error::Invalid(format!(
                "resampler: sample rates must be above zero (got {rate_in} → {rate_out} Hz)"
            )));
        }
        let g = gcd(rate_in as u64, rate_out as u64) as u32;
        let (inp, out) = (rate_in / g, rate_out / g);
        // Keep the FFT blocks reasonable: a ratio whose reduced terms exceed the
        // block size would need absurdly long transforms.
        if inp as usize > CHUNK_FRAMES * 8 || out as usize > CHUNK_FRAMES * 8 {
            return Err(Error::Invalid(format!(
                "resampler: the ratio {rate_out}/{rate_in} reduces to {out}/{inp}, too fine to \
                 convert exactly"
            )));
        }
        // Whole FFT blocks of an even count, so that the resampler's delay (half
        // an output block) is a whole number of frames and can be removed exactly.
        let blocks = (CHUNK_FRAMES.div_ceil(inp as usize)).next_multiple_of(2);
        let inner = Fft::<f32>::new_custom(
            inp as usize,
            out as usize,
            blocks * inp as usize,
            1,
            channels,
            rubato::WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| Error::Invalid(format!("resampler {rate_in} → {rate_out} Hz: {e}")))?;
        let scratch = vec![vec![0.0; inner.output_frames_max()]; channels];
        let delay_left = inner.output_delay();
        let chunk = inner.input_frames_next();
        Ok(StreamResampler {
            inner,
            delay: delay_left,
            chunk,
            channels,
            inp,
            out,
            pending: vec![Vec::new(); channels],
            scratch,
            delay_left,
            taken: 0,
            emitted: 0,
        })
    }

    /// A transfer-style speed change: the output keeps the input's sample rate
    /// (whatever it is), its duration is multiplied by the speed's factor, and
    /// its pitch follows the speed.
    pub fn with_speed(channels: usize, speed: Speed) -> Result<Self> {
        // Playing material as if it had been recorded at rate × den/num and
        // converting that back to the rate stretches the duration by num/den:
        // convert den → num.
        Self::new(channels, speed.length_den, speed.length_num).map_err(|e| match e {
            Error::Invalid(m) => Error::Invalid(format!("speed {}: {m}", speed.label())),
            e => e,
        })
    }

    /// The frames of one FFT block, as `(input, output)`. The output of a block
    /// depends on that block's input and the one before it only, so a converter
    /// started one whole block (of input) before a point gives, from that point on,
    /// the same samples as one that ran from any earlier block boundary: what lets
    /// a reader seek into a converted signal and stay bit-exact.
    pub fn block_frames(&self) -> (usize, usize) {
        let i = self.inner.input_frames_next();
        (i, i / self.inp as usize * self.out as usize)
    }

    /// How far the output may trail the input while streaming, in input
    /// frames: once `p + max_lag()` input frames have been pushed, every output
    /// frame at input position `p` or earlier (output frame `j` sits at
    /// `j · rate_in / rate_out`) has been appended. The resampler gives its
    /// output a block at a time, less its filter's delay; a caller that needs
    /// the converted signal at a fixed lag (a look-ahead) delays by this much.
    pub fn max_lag(&self) -> u64 {
        // Output frame j is out once floor(n / C)·C' − D ≥ j + 1, which holds
        // when n ≥ (j + 1 + D)·inp/out + C.
        let d = (1 + self.delay as u64) * u64::from(self.inp);
        self.chunk as u64 + d.div_ceil(u64::from(self.out))
    }

    /// The number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Output frames for `input_frames` of input at this converter's ratio.
    pub fn output_len(&self, input_frames: u64) -> u64 {
        output_len(input_frames, self.inp, self.out)
    }

    /// Converts `input` (one slice per channel, all the same length) and appends
    /// the frames that are ready to `output` (one `Vec` per channel).
    pub fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) -> Result<()> {
        self.check_shape(input.len(), output.len())?;
        let n = input.first().map_or(0, |c| c.len());
        if input.iter().any(|c| c.len() != n) {
            return Err(Error::Invalid(
                "resampler: channels of unequal length".into(),
            ));
        }
        for (p, c) in self.pending.iter_mut().zip(input) {
            p.extend_from_slice(c);
        }
        self.taken += n as u64;
        self.drain(output, false)
    }

    /// Flushes the tail: after this, the total output is exactly
    /// [`StreamResampler::output_len`] of the total input.
    pub fn finish(&mut self, output: &mut [Vec<f32>]) -> Result<()> {
        self.check_shape(self.channels, output.len())?;
        self.drain(output, true)
    }

    fn check_shape(&self, inputs: usize, outputs: usize) -> Result<()> {
        if inputs != self.channels || outputs != self.channels {
            return Err(Error::Invalid(format!(
                "resampler: {} channels given where {} were set up",
                inputs.max(outputs),
                self.channels
            )));
        }
        Ok(())
    }

    fn drain(&mut self, output: &mut [Vec<f32>], last: bool) -> Result<()> {
        let total = output_len(self.taken, self.inp, self.out);
        let mut pos = 0;
        loop {
            let chunk = self.inner.input_frames_next();
            let have = self.pending[0].len() - pos;
            if have < chunk && !(last && self.emitted < total) {
                break;
            }
            let valid = have.min(chunk);
            // A final, partial chunk is padded with zeros by the resampler; past
            // the end of the input it is all zeros, which flushes the filter.
            let frames = self.pending[0].len();
            let buf_in = SequentialSliceOfVecs::new(&self.pending, self.channels, frames)
                .map_err(|e| Error::Invalid(format!("resampler: {e}")))?;
            let out_frames = self.scratch[0].len();
            let mut buf_out =
                SequentialSliceOfVecs::new_mut(&mut self.scratch, self.channels, out_frames)
                    .map_err(|e| Error::Invalid(format!("resampler: {e}")))?;
            let mut idx = Indexing::new().input_offset(pos);
            if valid < chunk {
                idx = idx.partial_len(valid);
            }
            let (used, made) = self
                .inner
                .process_into_buffer(&buf_in, &mut buf_out, Some(&idx))
                .map_err(|e| Error::Invalid(format!("resampler: {e}")))?;
            pos += used.min(valid);
            let skip = self.delay_left.min(made);
            self.delay_left -= skip;
            let keep = ((made - skip) as u64).min(total.saturating_sub(self.emitted)) as usize;
            for (o, s) in output.iter_mut().zip(&self.scratch) {
                o.extend_from_slice(&s[skip..skip + keep]);
            }
            self.emitted += keep as u64;
        }
        for p in &mut self.pending {
            p.drain(..pos);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut StreamResampler, x: &[f32], block: usize) -> Vec<f32> {
        let mut out = vec![Vec::new()];
        for c in x.chunks(block) {
            r.push(&[c], &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out.pop().unwrap()
    }

    fn tone(rate: f64, hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (std::f64::consts::TAU * hz * i as f64 / rate).sin()) as f32)
            .collect()
    }

    /// Residual against the analytic signal, in dB relative to the tone, away
    /// from the ends (the ends see the zeros beyond the programme).
    fn residual_db(y: &[f32], rate: f64, hz: f64, skip: usize) -> f64 {
        let want = tone(rate, hz, y.len());
        let (mut e, mut s) = (0.0f64, 0.0f64);
        for i in skip..y.len() - skip {
            e += (y[i] as f64 - want[i] as f64).powi(2);
            s += (want[i] as f64).powi(2);
        }
        10.0 * (e / s).log10()
    }

    #[test]
    fn converts_44k1_to_48k_against_the_analytic_tone() {
        for hz in [100.0, 1000.0, 10_000.0, 18_000.0] {
            let x = tone(44_100.0, hz, 44_100 * 2);
            let mut r = StreamResampler::new(1, 44_100, 48_000).unwrap();
            let y = run(&mut r, &x, 1000);
            assert_eq!(y.len(), 96_000);
            let db = residual_db(&y, 48_000.0, hz, 4800);
            assert!(db < -100.0, "{hz} Hz: residual {db:.1} dB");
        }
    }

    #[test]
    fn output_is_the_same_for_any_block_size() {
        let x = tone(48_000.0, 997.0, 50_000);
        let a = run(&mut StreamResampler::new(1, 48_000, 44_100).unwrap(), &x, 7);
        let b = run(
            &mut StreamResampler::new(1, 48_000, 44_100).unwrap(),
            &x,
            50_000,
        );
        assert_eq!(a, b);
        assert_eq!(a.len() as u64, output_len(50_000, 160, 147));
    }

    #[test]
    fn pal_speed_up_is_24_25_long_and_raises_the_pitch() {
        let rate = 48_000.0;
        let x = tone(rate, 1000.0, 48_000 * 3);
        let mut r = StreamResampler::with_speed(1, Speed::parse("24/25").unwrap()).unwrap();
        let y = run(&mut r, &x, 4096);
        assert_eq!(y.len(), 48_000 * 3 * 24 / 25);
        let db = residual_db(&y, rate, 1000.0 * 25.0 / 24.0, 4800);
        assert!(db < -100.0, "residual against 1041.667 Hz: {db:.1} dB");
    }

    #[test]
    fn pull_down_is_exact_in_length_and_frequency() {
        let x = tone(48_000.0, 1000.0, 48_048);
        let mut r = StreamResampler::with_speed(1, Speed::PULL_DOWN).unwrap();
        let y = run(&mut r, &x, 512);
        assert_eq!(y.len(), 48_096);
        let db = residual_db(&y, 48_000.0, 1000.0 * 1000.0 / 1001.0, 4800);
        assert!(db < -100.0, "residual {db:.1} dB");
    }

    #[test]
    fn max_lag_bounds_the_streaming_output() {
        // pushed a frame at a time, the output never trails by more than
        // max_lag(), and does trail by close to it (the bound is not loose)
        for (a, b) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (96_000, 48_000),
            (48_000, 96_000),
        ] {
            let mut r = StreamResampler::new(1, a, b).unwrap();
            let lag = r.max_lag();
            let mut out = vec![Vec::new()];
            let mut tightest = u64::MAX;
            for n in 1..=(4 * lag) {
                r.push(&[&[0.25]], &mut out).unwrap();
                let have = out[0].len() as u64;
                if n >= lag {
                    // output frames at input positions up to n − lag are out
                    let need = ((n - lag) * u64::from(b)) / u64::from(a) + 1;
                    assert!(have >= need, "{a} → {b}: {n} in, {have} out, {need} due");
                }
                // how many more input frames this output would have allowed
                let slack = (have * u64::from(a)).div_ceil(u64::from(b)) + lag - n;
                tightest = tightest.min(slack);
            }
            assert!(
                tightest <= 2 * u64::from(a / b.min(a)) + 2,
                "{a} → {b}: slack {tightest}"
            );
        }
    }

    #[test]
    fn sample_zero_stays_at_sample_zero() {
        // An impulse in the middle lands at the scaled position.
        let mut x = vec![0.0f32; 20_000];
        x[10_000] = 1.0;
        let y = run(
            &mut StreamResampler::new(1, 48_000, 96_000).unwrap(),
            &x,
            333,
        );
        let peak = y
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert_eq!(peak, 20_000);
    }

    #[test]
    fn parses_speeds_and_refuses_nonsense() {
        assert_eq!(Speed::parse("pull-down").unwrap(), Speed::PULL_DOWN);
        assert_eq!(Speed::parse("Pull-Up").unwrap(), Speed::PULL_UP);
        assert_eq!(
            Speed::parse("48/50").unwrap(),
            Speed {
                length_num: 24,
                length_den: 25
            }
        );
        for bad in ["fast", "0/1", "1/0", "1/3", "24/2.5", ""] {
            assert!(Speed::parse(bad).is_err(), "{bad}");
        }
        assert!(StreamResampler::new(2, 0, 48_000).is_err());
        assert!(StreamResampler::new(0, 44_100, 48_000).is_err());
    }
}
