//! Header plausibility: what a file's header says that it can hold but no real
//! recording does. [`header_problems`] lists each as one sentence, so `inspect`
//! flags it instead of printing it as a valid value. (What cannot be read at all,
//! like 0 channels, a 0 Hz or a 4 GHz sample rate or a block align that does not
//! match the format, the readers refuse outright.)

use super::WavInfo;
use crate::timecode::FrameRate;

/// Most channels dubstage mixes in one stem (a file's channels, or multi-mono sources).
pub const MAX_CHANNELS: usize = 64;

/// The sample rates dubstage renders (the session's `[reel] sample_rate` range).
pub const RENDER_RATES: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// The problems of `info`'s header; `rate` is the frame rate its timestamps are read
/// at (a samples-since-midnight count is implausible past one timecode day of it).
/// Empty when the header is plausible.
pub fn header_problems(info: &WavInfo, rate: FrameRate) -> Vec<String> {
    let mut out = Vec::new();
    let sr = info.sample_rate;
    if usize::from(info.channels) > MAX_CHANNELS {
        out.push(format!(
            "{} channels: more than the {MAX_CHANNELS} a stem may have",
            info.channels
        ));
    }
    if !RENDER_RATES.contains(&sr) {
        out.push(format!(
            "sample rate {sr} Hz is outside {}..{} Hz, the rates dubstage renders",
            RENDER_RATES.start(),
            RENDER_RATES.end()
        ));
    }
    if let Some(m) = info.channel_mask {
        if m.count_ones() > u32::from(info.channels) {
            out.push(format!(
                "channel mask 0x{m:X} names {} speakers but the file has {} channel(s)",
                m.count_ones(),
                info.channels
            ));
        }
    }
    if let Some(b) = &info.bext {
        if let Some(p) = beyond_a_day("bext TimeReference", b.time_reference, sr, rate) {
            out.push(p);
        }
    }
    if let Some(s) = info.ixml.as_ref().and_then(|x| x.speed.as_ref()) {
        if s.timestamp_sample_rate == Some(0) {
            out.push("iXML TIMESTAMP_SAMPLE_RATE is 0 Hz: its timestamp cannot be read".into());
        } else if let Some(t) = s.timestamp_samples_since_midnight {
            let tsr = s.timestamp_sample_rate.unwrap_or(sr);
            if let Some(p) = beyond_a_day("iXML timestamp", t, tsr, rate) {
                out.push(p);
            }
        }
        if s.file_sample_rate == Some(0) {
            out.push("iXML FILE_SAMPLE_RATE is 0 Hz".into());
        }
    }
    out
}

/// A samples-since-midnight count at `sr` beyond one timecode day of `rate`.
fn beyond_a_day(what: &str, samples: u64, sr: u32, rate: FrameRate) -> Option<String> {
    let day = rate.day_samples(sr);
    (samples > day.max(0) as u64).then(|| {
        format!(
            "{what} {samples} samples is beyond one day ({day} samples at {sr} Hz, {rate} fps): not a time of day"
        )
    })
}

/// Whether `samples` since midnight at `sr` is a time of day at `rate` (so that its
/// timecode means something).
pub fn is_time_of_day(samples: u64, sr: u32, rate: FrameRate) -> bool {
    sr > 0 && beyond_a_day("", samples, sr, rate).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Bext, Container, IXml, IXmlSpeed, SampleFormat};
    use std::path::PathBuf;

    fn info() -> WavInfo {
        WavInfo {
            path: PathBuf::from("x.wav"),
            container: Container::Riff,
            channels: 2,
            sample_rate: 48_000,
            format: SampleFormat::Int(24),
            channel_mask: None,
            frames: 10,
            bext: None,
            ixml: None,
        }
    }

    #[test]
    fn a_plain_header_has_no_problems() {
        assert!(header_problems(&info(), FrameRate::Fps24).is_empty());
    }

    #[test]
    fn each_implausible_field_is_named() {
        let mut i = info();
        i.channels = 200;
        i.sample_rate = 700_000;
        i.channel_mask = Some(0x3F);
        i.bext = Some(Bext {
            time_reference: 0x8000_0000_0000_0000,
            ..Default::default()
        });
        i.ixml = Some(IXml {
            speed: Some(IXmlSpeed {
                timestamp_samples_since_midnight: Some(5),
                timestamp_sample_rate: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = header_problems(&i, FrameRate::Fps24).join("\n");
        for want in [
            "200 channels",
            "700000 Hz",
            "bext TimeReference 9223372036854775808 samples is beyond one day",
            "TIMESTAMP_SAMPLE_RATE is 0 Hz",
        ] {
            assert!(p.contains(want), "{want} missing from:\n{p}");
        }
        // 0x3F names 6 speakers, 200 channels: fine
        assert!(!p.contains("channel mask"), "{p}");
        i.channels = 2;
        let p = header_problems(&i, FrameRate::Fps24).join("\n");
        assert!(p.contains("channel mask 0x3F names 6 speakers"), "{p}");
    }

    #[test]
    fn the_last_frame_of_the_day_is_a_time_of_day() {
        // 23:59:59:23 at 23.976 is 86 486.3 s of real time: still a time of day.
        let r = FrameRate::Fps23_976;
        let last = crate::Timecode::parse("23:59:59:23", r).unwrap();
        assert!(is_time_of_day(last.to_samples(48_000) as u64, 48_000, r));
        assert!(!is_time_of_day(r.day_samples(48_000) as u64 + 1, 48_000, r));
        assert!(!is_time_of_day(5, 0, r));
    }
}
