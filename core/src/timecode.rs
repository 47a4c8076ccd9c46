//! SMPTE timecode at film and video frame rates, with drop-frame counting,
//! and its conversion to sample positions.
//!
//! Facts (SMPTE ST 12-1): 23.976 counts 24 frames per timecode second and runs
//! 1000/1001 slow; 29.97 drop-frame skips frame numbers 00 and 01 at the start
//! of every minute except minutes divisible by ten, shown with `;` before the
//! frames; 59.94 drop-frame skips 00-03 likewise.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FrameRate {
    #[serde(rename = "23.976")]
    Fps23_976,
    #[serde(rename = "24")]
    Fps24,
    #[serde(rename = "25")]
    Fps25,
    #[serde(rename = "29.97df")]
    Fps29_97Df,
    #[serde(rename = "29.97")]
    Fps29_97Ndf,
    #[serde(rename = "30")]
    Fps30,
    #[serde(rename = "50")]
    Fps50,
    #[serde(rename = "59.94")]
    Fps59_94Ndf,
    #[serde(rename = "59.94df")]
    Fps59_94Df,
}

impl FrameRate {
    /// Every rate.
    pub const ALL: [FrameRate; 9] = [
        FrameRate::Fps23_976,
        FrameRate::Fps24,
        FrameRate::Fps25,
        FrameRate::Fps29_97Df,
        FrameRate::Fps29_97Ndf,
        FrameRate::Fps30,
        FrameRate::Fps50,
        FrameRate::Fps59_94Ndf,
        FrameRate::Fps59_94Df,
    ];

    /// Frames counted per timecode second (the nominal rate).
    pub fn nominal(self) -> u64 {
        match self {
            FrameRate::Fps23_976 | FrameRate::Fps24 => 24,
            FrameRate::Fps25 => 25,
            FrameRate::Fps29_97Df | FrameRate::Fps29_97Ndf | FrameRate::Fps30 => 30,
            FrameRate::Fps50 => 50,
            FrameRate::Fps59_94Ndf | FrameRate::Fps59_94Df => 60,
        }
    }

    /// Real frames per second as a fraction (numerator, denominator).
    pub fn rational(self) -> (u64, u64) {
        match self {
            FrameRate::Fps23_976 => (24000, 1001),
            FrameRate::Fps29_97Df | FrameRate::Fps29_97Ndf => (30000, 1001),
            FrameRate::Fps59_94Ndf | FrameRate::Fps59_94Df => (60000, 1001),
            r => (r.nominal(), 1),
        }
    }

    /// Real frames per second.
    pub fn fps(self) -> f64 {
        let (n, d) = self.rational();
        n as f64 / d as f64
    }

    /// Is this a drop-frame count?
    pub fn is_drop(self) -> bool {
        matches!(self, FrameRate::Fps29_97Df | FrameRate::Fps59_94Df)
    }

    /// Frame numbers dropped per minute (0, 2 or 4).
    fn dropped_per_minute(self) -> u64 {
        match self {
            FrameRate::Fps29_97Df => 2,
            FrameRate::Fps59_94Df => 4,
            _ => 0,
        }
    }

    /// The name used in sessions (`"23.976"`, `"29.97df"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FrameRate::Fps23_976 => "23.976",
            FrameRate::Fps24 => "24",
            FrameRate::Fps25 => "25",
            FrameRate::Fps29_97Df => "29.97df",
            FrameRate::Fps29_97Ndf => "29.97",
            FrameRate::Fps30 => "30",
            FrameRate::Fps50 => "50",
            FrameRate::Fps59_94Ndf => "59.94",
            FrameRate::Fps59_94Df => "59.94df",
        }
    }

    /// Frames in one 24-hour timecode day (drop-frame counts skip their numbers:
    /// 2 589 408 at 29.97 DF, SMPTE ST 12-1).
    pub fn frames_per_day(self) -> i64 {
        let nom = self.nominal() as i64;
        let d = self.dropped_per_minute() as i64;
        // a drop-frame count keeps every frame number in each tenth minute only
        (nom * 600 - d * 9) * 6 * 24
    }

    /// Samples in one 24-hour timecode day at `sample_rate`: the largest plausible
    /// samples-since-midnight count (a bext TimeReference or iXML timestamp). At the
    /// 1000/1001 rates the timecode day lasts 86 486.4 s of real time.
    pub fn day_samples(self, sample_rate: u32) -> i64 {
        self.frames_to_samples(self.frames_per_day(), sample_rate)
    }

    /// Samples (at `sample_rate`) from the start of frame 0 to the start of frame
    /// `frames` of real time, rounded to the nearest sample (half away from zero).
    /// Computed in `i128`; a result beyond the `i64` range saturates (never wraps):
    /// see [`FrameRate::checked_frames_to_samples`] to refuse it instead.
    pub fn frames_to_samples(self, frames: i64, sample_rate: u32) -> i64 {
        let q = self.frames_to_samples_wide(frames as i128, sample_rate);
        q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// [`FrameRate::frames_to_samples`], or `None` when the result does not fit `i64`.
    pub fn checked_frames_to_samples(self, frames: i64, sample_rate: u32) -> Option<i64> {
        i64::try_from(self.frames_to_samples_wide(frames as i128, sample_rate)).ok()
    }

    /// The exact rounded sample of frame `frames`, in `i128` (no overflow for any
    /// `i64` frame count: |frames| · rate · 1001 < 2^63 · 2^32 · 2^10).
    fn frames_to_samples_wide(self, frames: i128, sample_rate: u32) -> i128 {
        let (n, d) = self.rational();
        let num = frames * sample_rate as i128 * d as i128;
        let den = n as i128;
        // round half away from zero
        if num >= 0 {
            (num + den / 2) / den
        } else {
            -((-num + den / 2) / den)
        }
    }

    /// The frame that contains sample `samples`: the last frame whose first sample
    /// ([`FrameRate::frames_to_samples`], rounded) is at or before it, so that
    /// `samples_to_frames(frames_to_samples(f)) == f` at every rate.
    ///
    /// Closed form in `i128` (no search loop, so any `i64`, ±2^63 included,
    /// returns at once); a frame count beyond `i64` saturates. A `sample_rate` of 0
    /// has no frames and gives 0: callers refuse a zero rate where they read it.
    pub fn samples_to_frames(self, samples: i64, sample_rate: u32) -> i64 {
        if sample_rate == 0 {
            return 0;
        }
        let (n, d) = self.rational();
        let (n, s) = (n as i128, samples as i128);
        let den = 2 * sample_rate as i128 * d as i128;
        // Frame f starts at x = f·sr·d/n rounded half away from zero (n is even, so
        // the rounding is exact): floor(x + 1/2) for f >= 0, ceil(x - 1/2) below.
        // For s >= 0 the frame is >= 0 and starts at or before s iff x < s + 1/2,
        // i.e. 2 f sr d <= (2s + 1) n - 1; for s < 0 it is negative and starts at or
        // before s iff x <= s + 1/2, i.e. 2 f sr d <= (2s + 1) n.
        let top = (2 * s + 1) * n - i128::from(samples >= 0);
        top.div_euclid(den)
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FrameRate {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        let r = match t.as_str() {
            "23.976" | "23.98" => FrameRate::Fps23_976,
            "24" => FrameRate::Fps24,
            "25" => FrameRate::Fps25,
            "29.97df" | "29.97d" | "29.97-df" | "29.97drop" => FrameRate::Fps29_97Df,
            "29.97" | "29.97ndf" | "29.97nd" => FrameRate::Fps29_97Ndf,
            "30" => FrameRate::Fps30,
            "50" => FrameRate::Fps50,
            "59.94" | "59.94ndf" => FrameRate::Fps59_94Ndf,
            "59.94df" => FrameRate::Fps59_94Df,
            _ => {
                return Err(format!(
                    "unknown frame rate '{s}' (expected 23.976, 24, 25, 29.97df, 29.97, 30, 50, 59.94 or 59.94df)"
                ));
            }
        };
        Ok(r)
    }
}

/// A timecode: hours, minutes, seconds, frames, at a frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timecode {
    pub hours: u32,
    pub minutes: u32,
    pub seconds: u32,
    pub frames: u32,
    pub rate: FrameRate,
}

impl Timecode {
    /// Parses `hh:mm:ss:ff` (or `hh:mm:ss;ff` / `hh;mm;ss;ff` for drop-frame).
    /// A `;` on a non-drop rate, or a dropped frame number, is an error.
    pub fn parse(text: &str, rate: FrameRate) -> Result<Timecode> {
        let err = |msg: String| Error::Timecode {
            text: text.to_string(),
            msg,
        };
        let t = text.trim();
        let parts: Vec<&str> = t.split([':', ';', '.']).collect();
        if parts.len() != 4 {
            return Err(err("expected hh:mm:ss:ff".into()));
        }
        let mut v = [0u32; 4];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!("'{p}' is not a two-digit number")));
            }
            v[i] = p
                .parse()
                .map_err(|_| err(format!("'{p}' is not a number")))?;
        }
        let [hours, minutes, seconds, frames] = v;
        if hours > 23 {
            return Err(err(format!("hours {hours} out of range 00-23")));
        }
        if minutes > 59 {
            return Err(err(format!("minutes {minutes} out of range 00-59")));
        }
        if seconds > 59 {
            return Err(err(format!("seconds {seconds} out of range 00-59")));
        }
        if frames as u64 >= rate.nominal() {
            return Err(err(format!(
                "frame {frames} out of range 00-{:02} at {rate} fps",
                rate.nominal() - 1
            )));
        }
        if t.contains(';') && !rate.is_drop() {
            return Err(err(format!(
                "';' marks drop-frame, but the session's rate is {rate} (non-drop)"
            )));
        }
        let dpm = rate.dropped_per_minute() as u32;
        if dpm > 0 && seconds == 0 && frames < dpm && minutes % 10 != 0 {
            return Err(err(format!(
                "frame {frames:02} does not exist in drop-frame at minute {minutes:02}"
            )));
        }
        Ok(Timecode {
            hours,
            minutes,
            seconds,
            frames,
            rate,
        })
    }

    /// Frames since 00:00:00:00 (the frame count, drop-frame aware).
    pub fn to_frames(self) -> i64 {
        let nom = self.rate.nominal() as i64;
        let total_minutes = self.hours as i64 * 60 + self.minutes as i64;
        let mut f = ((total_minutes * 60) + self.seconds as i64) * nom + self.frames as i64;
        let d = self.rate.dropped_per_minute() as i64;
        if d > 0 {
            f -= d * (total_minutes - total_minutes / 10);
        }
        f
    }

    /// The timecode of frame count `frames` (wraps at 24 hours).
    pub fn from_frames(frames: i64, rate: FrameRate) -> Timecode {
        let nom = rate.nominal() as i64;
        let d = rate.dropped_per_minute() as i64;
        let mut f = frames.rem_euclid(rate.frames_per_day());
        if d > 0 {
            let per_10min = nom * 600 - d * 9;
            let per_min = nom * 60 - d;
            let tens = f / per_10min;
            let rem = f % per_10min;
            // the first minute of each ten keeps all its frames
            let extra = if rem < nom * 60 {
                0
            } else {
                d * (1 + (rem - nom * 60) / per_min)
            };
            f += d * 9 * tens + extra;
        }
        let frames_part = (f % nom) as u32;
        let secs = f / nom;
        Timecode {
            hours: (secs / 3600) as u32,
            minutes: ((secs / 60) % 60) as u32,
            seconds: (secs % 60) as u32,
            frames: frames_part,
            rate,
        }
    }

    /// Samples since midnight of this timecode's first sample.
    pub fn to_samples(self, sample_rate: u32) -> i64 {
        self.rate.frames_to_samples(self.to_frames(), sample_rate)
    }

    /// The timecode of the frame containing sample `samples` since midnight.
    pub fn from_samples(samples: i64, rate: FrameRate, sample_rate: u32) -> Timecode {
        Timecode::from_frames(rate.samples_to_frames(samples, sample_rate), rate)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.rate.is_drop() { ';' } else { ':' };
        write!(
            f,
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_frame_skips_two_frames_per_minute_except_tenths() {
        let r = FrameRate::Fps29_97Df;
        let a = Timecode::parse("00:00:59;29", r).unwrap();
        let b = Timecode::parse("00:01:00;02", r).unwrap();
        assert_eq!(b.to_frames() - a.to_frames(), 1);
        assert!(Timecode::parse("00:01:00;00", r).is_err());
        assert!(Timecode::parse("00:10:00;00", r).is_ok());
        // one hour of 29.97 DF is 107892 frames
        assert_eq!(
            Timecode::parse("01:00:00;00", r).unwrap().to_frames(),
            107_892
        );
    }

    #[test]
    fn round_trip_every_rate() {
        for r in FrameRate::ALL {
            for f in [
                0i64, 1, 1799, 1800, 17982, 17983, 107_891, 107_892, 2_000_000,
            ] {
                let tc = Timecode::from_frames(f, r);
                assert_eq!(tc.to_frames(), f, "{r} {f} -> {tc}");
                let again = Timecode::parse(&tc.to_string(), r).unwrap();
                assert_eq!(again, tc);
            }
        }
    }

    #[test]
    fn samples_at_23_976_are_2002_per_frame() {
        let r = FrameRate::Fps23_976;
        let tc = Timecode::parse("01:00:00:00", r).unwrap();
        assert_eq!(tc.to_samples(48_000), 86_400 * 2002);
        assert_eq!(Timecode::from_samples(86_400 * 2002 + 2001, r, 48_000), tc);
    }

    #[test]
    fn frames_and_samples_round_trip_at_every_rate() {
        for r in FrameRate::ALL {
            for sr in [44_100, 48_000, 96_000] {
                for f in [
                    0i64,
                    1,
                    2,
                    3,
                    29,
                    30,
                    1799,
                    1800,
                    107_892,
                    172_800_000 / 2002,
                ] {
                    let s = r.frames_to_samples(f, sr);
                    assert_eq!(r.samples_to_frames(s, sr), f, "{r} at {sr}: frame {f}");
                    assert_eq!(
                        r.samples_to_frames(s - 1, sr),
                        f - 1,
                        "{r} at {sr}: before frame {f}"
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_timecodes_are_rejected() {
        let r = FrameRate::Fps24;
        for t in [
            "1:00:00",
            "01:00:00:24",
            "01:60:00:00",
            "aa:00:00:00",
            "01:00:00;00",
        ] {
            assert!(Timecode::parse(t, r).is_err(), "{t}");
        }
    }

    /// The naive oracle: the last frame whose rounded first sample is at or before
    /// `s`, by walking frames (the rounding itself from the f64 definition).
    fn naive_frame(r: FrameRate, s: i64, sr: u32) -> i64 {
        let (n, d) = r.rational();
        let start = |f: i64| {
            let x = f as f64 * sr as f64 * d as f64 / n as f64;
            (x.abs() + 0.5).floor().copysign(x) as i64
        };
        let mut f = (s as f64 * n as f64 / (sr as f64 * d as f64)).floor() as i64 - 200;
        while start(f + 1) <= s {
            f += 1;
        }
        f
    }

    #[test]
    fn samples_to_frames_matches_a_naive_search() {
        for r in FrameRate::ALL {
            for sr in [1u32, 7, 100, 8_000, 44_100, 48_000, 192_000] {
                for s in (-3000i64..3000).chain([86_400 * 48_000, -86_400 * 48_000 + 17]) {
                    assert_eq!(
                        r.samples_to_frames(s, sr),
                        naive_frame(r, s, sr),
                        "{r} at {sr} Hz, sample {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn extreme_sample_counts_return_without_wrapping() {
        // i64::MAX used to loop forever (the rounded frame start wrapped negative).
        for r in FrameRate::ALL {
            for sr in [1u32, 48_000, 384_000] {
                let f = r.samples_to_frames(i64::MAX, sr);
                assert!(f > 0, "{r} {sr}: {f}");
                let g = r.samples_to_frames(i64::MIN, sr);
                assert!(g < 0, "{r} {sr}: {g}");
                // a timecode of it is still a valid time of day
                let tc = Timecode::from_samples(i64::MAX, r, sr);
                assert!(tc.hours < 24, "{tc}");
            }
            assert_eq!(r.checked_frames_to_samples(i64::MAX, 48_000), None);
            assert_eq!(r.frames_to_samples(i64::MAX, 48_000), i64::MAX);
            assert_eq!(r.frames_to_samples(i64::MIN, 48_000), i64::MIN);
            assert_eq!(r.samples_to_frames(1234, 0), 0);
        }
    }

    #[test]
    fn a_day_of_timecode() {
        // SMPTE ST 12-1: 24 h of 29.97 DF count 2 589 408 frames; non-drop rates count
        // nominal x 86 400.
        assert_eq!(FrameRate::Fps29_97Df.frames_per_day(), 2_589_408);
        assert_eq!(FrameRate::Fps59_94Df.frames_per_day(), 5_178_816);
        assert_eq!(FrameRate::Fps24.frames_per_day(), 2_073_600);
        assert_eq!(FrameRate::Fps24.day_samples(48_000), 86_400 * 48_000);
        // 23.976: 24 h of timecode last 86 486.4 s
        assert_eq!(FrameRate::Fps23_976.day_samples(48_000), 4_151_347_200);
        let last = Timecode::parse("23:59:59:23", FrameRate::Fps23_976).unwrap();
        assert!(last.to_samples(48_000) < FrameRate::Fps23_976.day_samples(48_000));
    }
}
