//! What a production recorder says about a file, from its iXML and bext
//! chunks: the timecode rate, the sound roll, scene and take, and the names
//! of its tracks.
//!
//! Sources, in order of trust:
//! - iXML (ixml.info, v2.10): `SPEED/TIMECODE_RATE` (`24000/1001`) with
//!   `SPEED/TIMECODE_FLAG` (`DF`/`NDF`), `TAPE`, `SCENE`, `TAKE`,
//!   `TRACK_LIST/TRACK/NAME` by `INTERLEAVE_INDEX`;
//! - the bext description's `key=value` lines, as Sound Devices (`sSPEED=023.976-ND`,
//!   `sTAPE=`, `sSCENE=`, `sTAKE=`, `sTRK1=`…) and Gallery (`gTAPE=`, `gSCENE=`,
//!   `gTAKE=`) write them.
//!
//! A file's first sample sits at bext `TimeReference` samples since the
//! midnight of its timecode, at its own sample rate.

use super::wav::WavInfo;
use crate::timecode::FrameRate;

/// A frame rate from frames per second and drop-frame: the nearest of the
/// rates dubstage knows, within 0.01 fps.
pub fn rate_from_fps(fps: f64, drop: bool) -> Option<FrameRate> {
    FrameRate::ALL
        .into_iter()
        .filter(|r| r.is_drop() == drop || !matches!(r.nominal(), 30 | 60))
        .find(|r| (r.fps() - fps).abs() < 0.01 && (!r.is_drop() || drop))
}

/// A `key=value` line of the bext description (`sSPEED`, `sTAPE`, `gTAPE`, ...);
/// `key` is given without its one-letter vendor prefix and matched for any prefix.
pub fn bext_value(info: &WavInfo, key: &str) -> Option<String> {
    let b = info.bext.as_ref()?;
    b.description
        .split(['\r', '\n'])
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.len() == key.len() + 1 && k[1..].eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The file's timecode rate: iXML `TIMECODE_RATE` + `TIMECODE_FLAG`, else
/// the bext `sSPEED=` note (`023.976-ND`, `029.970-DF`), else `None`.
pub fn timecode_rate(info: &WavInfo) -> Option<FrameRate> {
    if let Some(s) = info.ixml.as_ref().and_then(|x| x.speed.as_ref()) {
        let drop = s.timecode_flag.trim().eq_ignore_ascii_case("DF");
        let fps = match s.timecode_rate.split_once('/') {
            Some((n, d)) => match (n.trim().parse::<f64>(), d.trim().parse::<f64>()) {
                (Ok(n), Ok(d)) if d > 0.0 => Some(n / d),
                _ => None,
            },
            None => s.timecode_rate.trim().parse::<f64>().ok(),
        };
        if let Some(r) = fps.and_then(|f| rate_from_fps(f, drop)) {
            return Some(r);
        }
    }
    let v = bext_value(info, "SPEED")?;
    let (num, flag) = v.split_once('-').unwrap_or((&v, "ND"));
    let fps: f64 = num.trim().parse().ok()?;
    rate_from_fps(fps, flag.trim().eq_ignore_ascii_case("DF"))
}

/// The sound roll: iXML `TAPE`, else bext `sTAPE=`/`gTAPE=`.
pub fn roll(info: &WavInfo) -> Option<String> {
    info.ixml
        .as_ref()
        .map(|x| x.tape.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| bext_value(info, "TAPE"))
}

/// The scene: iXML `SCENE`, else bext `sSCENE=`.
pub fn scene(info: &WavInfo) -> Option<String> {
    info.ixml
        .as_ref()
        .map(|x| x.scene.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| bext_value(info, "SCENE"))
}

/// The take: iXML `TAKE`, else bext `sTAKE=`.
pub fn take(info: &WavInfo) -> Option<String> {
    info.ixml
        .as_ref()
        .map(|x| x.take.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| bext_value(info, "TAKE"))
}

/// The name of each channel of the file (in file order), from the iXML
/// `TRACK_LIST` (by `INTERLEAVE_INDEX`), else bext `sTRKn=`; empty where
/// nothing names it.
pub fn track_names(info: &WavInfo) -> Vec<String> {
    let n = info.channels as usize;
    let mut names = vec![String::new(); n];
    if let Some(x) = &info.ixml {
        for t in &x.tracks {
            let i = t.interleave_index as usize;
            if (1..=n).contains(&i) && names[i - 1].is_empty() {
                names[i - 1] = t.name.trim().to_string();
            }
        }
    }
    if names.iter().all(String::is_empty) {
        // bext sTRKn= counts the recorder's tracks; in a poly file they are in order
        if let Some(b) = &info.bext {
            let mut found: Vec<(usize, String)> = b
                .description
                .split(['\r', '\n'])
                .filter_map(|l| l.split_once('='))
                .filter_map(|(k, v)| {
                    let k = k.get(1..)?;
                    let num = k.strip_prefix("TRK").or_else(|| k.strip_prefix("trk"))?;
                    Some((num.parse::<usize>().ok()?, v.trim().to_string()))
                })
                .collect();
            found.sort();
            if found.len() == n {
                for (i, (_, v)) in found.into_iter().enumerate() {
                    names[i] = v;
                }
            }
        }
    }
    names
}

/// The recorder's track number of each channel (iXML `CHANNEL_INDEX`, in
/// file order; `None` where not given).
pub fn track_numbers(info: &WavInfo) -> Vec<Option<u32>> {
    let n = info.channels as usize;
    let mut v = vec![None; n];
    if let Some(x) = &info.ixml {
        for t in &x.tracks {
            let i = t.interleave_index as usize;
            if (1..=n).contains(&i) && t.channel_index > 0 {
                v[i - 1] = Some(t.channel_index);
            }
        }
    }
    v
}

/// The take's family (iXML `FILE_SET/FAMILY_UID`): a recorder's split mono
/// files of one take share it (Sound Devices gives the poly file of the same
/// take the same one).
pub fn family_uid(info: &WavInfo) -> Option<String> {
    info.ixml
        .as_ref()
        .map(|x| x.family_uid.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The file's place in its family (iXML `FILE_SET_INDEX`, when a number).
pub fn file_set_index(info: &WavInfo) -> Option<u32> {
    info.ixml
        .as_ref()
        .and_then(|x| x.file_set_index.trim().parse().ok())
}

/// Samples since midnight of the file's first sample (bext TimeReference), if any.
pub fn start_samples(info: &WavInfo) -> Option<u64> {
    info.bext.as_ref().map(|b| b.time_reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_fps() {
        assert_eq!(rate_from_fps(23.976, false), Some(FrameRate::Fps23_976));
        assert_eq!(
            rate_from_fps(24000.0 / 1001.0, false),
            Some(FrameRate::Fps23_976)
        );
        assert_eq!(rate_from_fps(29.97, true), Some(FrameRate::Fps29_97Df));
        assert_eq!(rate_from_fps(29.97, false), Some(FrameRate::Fps29_97Ndf));
        assert_eq!(rate_from_fps(59.94, true), Some(FrameRate::Fps59_94Df));
        assert_eq!(rate_from_fps(25.0, false), Some(FrameRate::Fps25));
        assert_eq!(rate_from_fps(25.0, true), Some(FrameRate::Fps25));
        assert_eq!(rate_from_fps(48.0, false), None);
    }
}
