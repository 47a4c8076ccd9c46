//! Channel layouts and speaker positions, with WAVE_FORMAT_EXTENSIBLE masks.
//!
//! Channel order inside a layout is the WAV/SMPTE order (ITU-R BS.775 / SMPTE ST 428):
//! 5.1 = L R C LFE Ls Rs (mask 0x3F); 7.1 = L R C LFE Lrs Rrs Lss Rss (mask 0x63F, the
//! rear pair 0x10/0x20 comes before the side pair 0x200/0x400 in bit order).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One loudspeaker feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Channel {
    L,
    R,
    C,
    #[serde(rename = "LFE")]
    Lfe,
    /// 5.x surround left (back-left bit 0x10 in a 5.1 mask).
    Ls,
    /// 5.x surround right (0x20).
    Rs,
    /// 7.1 rear surround left (0x10).
    Lrs,
    /// 7.1 rear surround right (0x20).
    Rrs,
    /// 7.1 side surround left (0x200).
    Lss,
    /// 7.1 side surround right (0x400).
    Rss,
}

impl Channel {
    /// All channels, for parsing.
    pub const ALL: [Channel; 10] = [
        Channel::L,
        Channel::R,
        Channel::C,
        Channel::Lfe,
        Channel::Ls,
        Channel::Rs,
        Channel::Lrs,
        Channel::Rrs,
        Channel::Lss,
        Channel::Rss,
    ];

    /// The short label used in file names and reports.
    pub fn label(self) -> &'static str {
        match self {
            Channel::L => "L",
            Channel::R => "R",
            Channel::C => "C",
            Channel::Lfe => "LFE",
            Channel::Ls => "Ls",
            Channel::Rs => "Rs",
            Channel::Lrs => "Lrs",
            Channel::Rrs => "Rrs",
            Channel::Lss => "Lss",
            Channel::Rss => "Rss",
        }
    }

    /// Is this a surround feed (weight 1.41 in BS.1770-4)?
    pub fn is_surround(self) -> bool {
        matches!(
            self,
            Channel::Ls | Channel::Rs | Channel::Lrs | Channel::Rrs | Channel::Lss | Channel::Rss
        )
    }

    /// BS.1770-4 channel weight G_i: 1.0 front, 1.41 surround, 0 for LFE (excluded).
    pub fn bs1770_weight(self) -> f64 {
        match self {
            Channel::Lfe => 0.0,
            c if c.is_surround() => 1.41,
            _ => 1.0,
        }
    }

    /// The WAVE_FORMAT_EXTENSIBLE speaker bit of this feed (for multi-mono files):
    /// 5.x surrounds and 7.1 rears use the back pair (0x10/0x20), 7.1 sides 0x200/0x400.
    pub fn mono_mask(self) -> u32 {
        match self {
            Channel::L => 0x1,
            Channel::R => 0x2,
            Channel::C => 0x4,
            Channel::Lfe => 0x8,
            Channel::Ls | Channel::Lrs => 0x10,
            Channel::Rs | Channel::Rrs => 0x20,
            Channel::Lss => 0x200,
            Channel::Rss => 0x400,
        }
    }

    /// Is this a left-hand channel (for pair analyses)?
    pub fn is_left(self) -> bool {
        matches!(self, Channel::L | Channel::Ls | Channel::Lrs | Channel::Lss)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        Channel::ALL
            .iter()
            .copied()
            .find(|c| c.label().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                format!("unknown channel '{t}' (expected one of L R C LFE Ls Rs Lrs Rrs Lss Rss)")
            })
    }
}

/// A channel layout: which feeds, in which (WAV) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layout {
    #[serde(rename = "mono")]
    Mono,
    #[serde(rename = "stereo")]
    Stereo,
    #[serde(rename = "LCR")]
    Lcr,
    #[serde(rename = "5.0")]
    FiveZero,
    #[serde(rename = "5.1")]
    FiveOne,
    #[serde(rename = "7.1")]
    SevenOne,
}

impl Layout {
    /// Every layout, narrowest first.
    pub const ALL: [Layout; 6] = [
        Layout::Mono,
        Layout::Stereo,
        Layout::Lcr,
        Layout::FiveZero,
        Layout::FiveOne,
        Layout::SevenOne,
    ];

    /// Channels in WAV order.
    pub fn channels(self) -> &'static [Channel] {
        use Channel::*;
        match self {
            Layout::Mono => &[C],
            Layout::Stereo => &[L, R],
            Layout::Lcr => &[L, R, C],
            Layout::FiveZero => &[L, R, C, Ls, Rs],
            Layout::FiveOne => &[L, R, C, Lfe, Ls, Rs],
            Layout::SevenOne => &[L, R, C, Lfe, Lrs, Rrs, Lss, Rss],
        }
    }

    /// Number of channels.
    pub fn len(self) -> usize {
        self.channels().len()
    }

    /// Layouts are never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// WAVE_FORMAT_EXTENSIBLE dwChannelMask (Microsoft KSAUDIO_SPEAKER_* bits).
    pub fn channel_mask(self) -> u32 {
        match self {
            Layout::Mono => 0x4,
            Layout::Stereo => 0x3,
            Layout::Lcr => 0x7,
            Layout::FiveZero => 0x37,
            Layout::FiveOne => 0x3F,
            Layout::SevenOne => 0x63F,
        }
    }

    /// The layout for a channel mask, if it is one we know. Side-surround 5.x
    /// masks (0x607, 0x60F) map to the same layouts as the back-surround ones.
    pub fn from_mask(mask: u32) -> Option<Layout> {
        match mask {
            0x4 => Some(Layout::Mono),
            0x3 => Some(Layout::Stereo),
            0x7 => Some(Layout::Lcr),
            0x37 | 0x607 => Some(Layout::FiveZero),
            0x3F | 0x60F => Some(Layout::FiveOne),
            0x63F => Some(Layout::SevenOne),
            _ => None,
        }
    }

    /// The conventional layout for a bare channel count (no mask).
    pub fn from_count(n: usize) -> Option<Layout> {
        match n {
            1 => Some(Layout::Mono),
            2 => Some(Layout::Stereo),
            3 => Some(Layout::Lcr),
            5 => Some(Layout::FiveZero),
            6 => Some(Layout::FiveOne),
            8 => Some(Layout::SevenOne),
            _ => None,
        }
    }

    /// Short name used in file names: `mono`, `2.0`, `LCR`, `5.0`, `5.1`, `7.1`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Mono => "1.0",
            Layout::Stereo => "2.0",
            Layout::Lcr => "3.0",
            Layout::FiveZero => "5.0",
            Layout::FiveOne => "5.1",
            Layout::SevenOne => "7.1",
        }
    }

    /// Index of a channel in this layout.
    pub fn index_of(self, ch: Channel) -> Option<usize> {
        self.channels().iter().position(|&c| c == ch)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mono" | "1.0" | "1" => Ok(Layout::Mono),
            "stereo" | "2.0" | "2" => Ok(Layout::Stereo),
            "lcr" | "3.0" => Ok(Layout::Lcr),
            "5.0" => Ok(Layout::FiveZero),
            "5.1" => Ok(Layout::FiveOne),
            "7.1" => Ok(Layout::SevenOne),
            other => Err(format!(
                "unknown layout '{other}' (expected mono, stereo, LCR, 5.0, 5.1 or 7.1)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip_and_count_bits() {
        for l in Layout::ALL {
            assert_eq!(Layout::from_mask(l.channel_mask()), Some(l));
            assert_eq!(l.channel_mask().count_ones() as usize, l.len());
        }
        assert_eq!(Layout::SevenOne.channel_mask(), 0x63F);
    }

    #[test]
    fn weights_follow_bs1770() {
        assert_eq!(Channel::Lfe.bs1770_weight(), 0.0);
        assert_eq!(Channel::Lss.bs1770_weight(), 1.41);
        assert_eq!(Channel::C.bs1770_weight(), 1.0);
    }
}
