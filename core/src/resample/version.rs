//! Speed versions: the whole programme at another frame rate, as international
//! distribution asks for it: the PAL speed-up of a 24 fps programme (`speed = "24/25"`:
//! every film frame becomes a 25 fps video frame, so the programme runs 4 % faster and
//! lasts 24/25 as long), and the 0.1 % pull-down (24 → 23.976 fps) or pull-up
//! (23.976 → 24 fps).
//!
//! Frames keep their numbers: a frame `n` frames after the hour at 24 fps is `n` frames
//! after the same hour at the new rate (01:00:08:00 at 24 fps, 192 frames into the hour,
//! becomes 01:00:07:17 at 25 fps), so the FFOA, the LFOA, reel breaks and the start keep
//! their frame counts and every sample position is multiplied by the speed's duration
//! factor. The pitch follows the speed (a transfer: resampled by the speed's ratio with
//! [`super::StreamResampler`] and played at the original sample rate), or is kept
//! (`pitch = "corrected"`: time-stretched by [`super::stretch`]).

use super::{Speed, output_len};
use crate::{FrameRate, Timecode};
use serde::{Deserialize, Serialize};

/// What happens to the pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Pitch {
    /// The pitch follows the speed (a transfer: 4 % faster is 0.71 semitones higher).
    #[default]
    Follow,
    /// The pitch is kept: the programme is time-stretched.
    Corrected,
}

/// A speed version of a programme, resolved against its frame rate.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedVersion {
    /// The speed as written back by [`Speed::label`] (`"24/25"`, `"pull-down"`).
    pub speed: String,
    pub pitch: Pitch,
    /// The programme's rate and the version's.
    pub from_rate: FrameRate,
    pub to_rate: FrameRate,
    /// The name part of its files and folder (`25fps`, `23.976fps`, `25fps_pc`).
    pub tag: String,
    #[serde(skip)]
    pub ratio: Speed,
}

/// The frame rate that `rate` becomes at `speed` (frames keep their count, so the rate
/// is divided by the duration factor), or `None` when no timecode rate runs that fast.
pub fn rate_after(rate: FrameRate, speed: Speed) -> Option<FrameRate> {
    let (n, d) = rate.rational();
    let (nn, nd) = (n * speed.length_den as u64, d * speed.length_num as u64);
    FrameRate::ALL
        .iter()
        .copied()
        .filter(|r| {
            let (a, b) = r.rational();
            a * nd == nn * b
        })
        .min_by_key(|r| u8::from(r.is_drop() != rate.is_drop()))
}

impl SpeedVersion {
    /// Resolves a `[[speed_version]]` table (`speed`, `pitch`) for a programme at
    /// `rate`; the error is one sentence.
    pub fn resolve(speed: &str, pitch: Pitch, rate: FrameRate) -> Result<Self, String> {
        let ratio = Speed::parse(speed).map_err(|e| format!("[[speed_version]] {e}"))?;
        if ratio.is_unity() {
            return Err(format!(
                "[[speed_version]] speed \"{speed}\" changes nothing"
            ));
        }
        let to_rate = rate_after(rate, ratio).ok_or_else(|| {
            let (n, d) = rate.rational();
            format!(
                "[[speed_version]] speed \"{speed}\" would run the programme's {} fps at \
                 {:.3} fps, which no timecode counts (24/25 turns 24 into 25 fps, pull-down \
                 24 into 23.976, pull-up 23.976 into 24)",
                rate.name(),
                n as f64 * ratio.length_den as f64 / (d as f64 * ratio.length_num as f64)
            )
        })?;
        let tag = format!("{}fps", to_rate.name());
        Ok(SpeedVersion {
            speed: ratio.label(),
            pitch,
            from_rate: rate,
            to_rate,
            tag: match pitch {
                Pitch::Follow => tag,
                Pitch::Corrected => format!("{tag}_pc"),
            },
            ratio,
        })
    }

    /// Samples at the new rate for `samples` of the original (the duration factor,
    /// rounded to the nearest sample).
    pub fn samples(&self, samples: u64) -> u64 {
        output_len(samples, self.ratio.length_den, self.ratio.length_num)
    }

    /// A place in the day (samples since midnight) carried to the new rate: the same
    /// hour, and the same number of frames (and samples, scaled) after it.
    pub fn carry(&self, samples: i64, sample_rate: u32) -> i64 {
        let tc = Timecode::from_samples(samples, self.from_rate, sample_rate);
        let hour = |rate| {
            Timecode {
                hours: tc.hours,
                minutes: 0,
                seconds: 0,
                frames: 0,
                rate,
            }
            .to_samples(sample_rate)
        };
        let h0 = hour(self.from_rate);
        let off = (samples - h0).max(0) as u64;
        hour(self.to_rate) + self.samples(off) as i64
    }

    /// A place in the day (samples since midnight, at the new rate) as a timecode of
    /// the new rate.
    pub fn tc(&self, samples: i64, sample_rate: u32) -> String {
        Timecode::from_samples(samples, self.to_rate, sample_rate).to_string()
    }

    /// What the version does, in words (bext description, reports).
    pub fn describe(&self) -> String {
        format!(
            "{} fps version ({} from {} fps, pitch {})",
            self.to_rate.name(),
            self.speed,
            self.from_rate.name(),
            match self.pitch {
                Pitch::Follow => "follows the speed",
                Pitch::Corrected => "corrected",
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pal_keeps_frame_numbers_and_refuses_rates_no_timecode_counts() {
        let v = SpeedVersion::resolve("24/25", Pitch::Follow, FrameRate::Fps24).unwrap();
        assert_eq!((v.to_rate, v.tag.as_str()), (FrameRate::Fps25, "25fps"));
        // 01:00:08:00 at 24 fps is 192 frames into the hour: 01:00:07:17 at 25 fps
        let at = Timecode::parse("01:00:08:00", FrameRate::Fps24)
            .unwrap()
            .to_samples(48_000);
        assert_eq!(v.tc(v.carry(at, 48_000), 48_000), "01:00:07:17");
        assert_eq!(v.samples(48_000 * 25), 48_000 * 24);
        let pd = SpeedVersion::resolve("pull-down", Pitch::Corrected, FrameRate::Fps24).unwrap();
        assert_eq!(
            (pd.to_rate, pd.tag.as_str()),
            (FrameRate::Fps23_976, "23.976fps_pc")
        );
        let e = SpeedVersion::resolve("25/24", Pitch::Follow, FrameRate::Fps24).unwrap_err();
        assert!(e.contains("23.040 fps"), "{e}");
        assert!(SpeedVersion::resolve("1/1", Pitch::Follow, FrameRate::Fps24).is_err());
    }
}
