//! Channel layouts and speaker positions, with WAVE_FORMAT_EXTENSIBLE masks.
//!
//! Channel order inside a layout is the WAV/SMPTE order (ITU-R BS.775 / SMPTE ST 428):
//! 5.1 = L R C LFE Ls Rs (mask 0x3F); 7.1 = L R C LFE Lrs Rrs Lss Rss (mask 0x63F, the
//! rear pair 0x10/0x20 comes before the side pair 0x200/0x400 in bit order).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One loudspeaker feed.
///
/// The first ten are the 5.1/7.1 feeds; the rest are the other positions of
/// WAVE_FORMAT_EXTENSIBLE (Microsoft `KSAUDIO_SPEAKER_*` bits, mmreg.h) and the
/// immersive beds (Dolby Atmos / ITU-R BS.2051 names). The WAV speaker bit of each is
/// [`Channel::mono_mask`]; the top-middle and wide pairs have no bit of their own.
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
    /// Left centre, between L and C (SDDS; front-left-of-centre bit 0x40).
    Lc,
    /// Right centre (0x80).
    Rc,
    /// Back (centre) surround of 6.1 and LCRS (back-centre bit 0x100).
    Cs,
    /// Left wide, between L and the side surround (9.1.x beds; carried in the 0x40 slot).
    Lw,
    /// Right wide (0x80 slot).
    Rw,
    /// Top centre, overhead ("voice of god"; 0x800).
    Tc,
    /// Top front left (0x1000).
    Ltf,
    /// Top front centre (0x2000).
    Tfc,
    /// Top front right (0x4000).
    Rtf,
    /// Top rear left (top back left, 0x8000).
    Ltr,
    /// Top rear centre (0x10000).
    Trc,
    /// Top rear right (0x20000).
    Rtr,
    /// Top middle left (x.x.2 and x.x.6 beds; no WAVE_FORMAT_EXTENSIBLE bit).
    Ltm,
    /// Top middle right (no bit).
    Rtm,
}

/// Where a speaker stands: azimuth in degrees (0 = centre, positive to the left, as
/// ITU-R BS.2051 counts) and elevation in degrees (0 = ear level).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub azimuth: f64,
    pub elevation: f64,
}

impl Channel {
    /// All channels, for parsing.
    pub const ALL: [Channel; 24] = [
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
        Channel::Lc,
        Channel::Rc,
        Channel::Cs,
        Channel::Lw,
        Channel::Rw,
        Channel::Tc,
        Channel::Ltf,
        Channel::Tfc,
        Channel::Rtf,
        Channel::Ltr,
        Channel::Trc,
        Channel::Rtr,
        Channel::Ltm,
        Channel::Rtm,
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
            Channel::Lc => "Lc",
            Channel::Rc => "Rc",
            Channel::Cs => "Cs",
            Channel::Lw => "Lw",
            Channel::Rw => "Rw",
            Channel::Tc => "Tc",
            Channel::Ltf => "Ltf",
            Channel::Tfc => "Tfc",
            Channel::Rtf => "Rtf",
            Channel::Ltr => "Ltr",
            Channel::Trc => "Trc",
            Channel::Rtr => "Rtr",
            Channel::Ltm => "Ltm",
            Channel::Rtm => "Rtm",
        }
    }

    /// Other names accepted in `channel_order` (case-insensitive): the WAV/SMPTE
    /// short names and those DAWs write (Nuendo's iXML: `Sl`, `Tfl`, `Trl`, `Tsl`, `VoG`, ...).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Channel::L => &["FL"],
            Channel::R => &["FR"],
            Channel::C => &["FC", "M"],
            Channel::Lfe => &["LFE1", "SW", "Sub"],
            Channel::Ls => &[],
            Channel::Rs => &[],
            Channel::Lrs => &["Lb", "BL", "Lsr", "Lrs"],
            Channel::Rrs => &["Rb", "BR", "Rsr", "Rrs"],
            Channel::Lss => &["Sl", "SiL", "Lsd"],
            Channel::Rss => &["Sr", "SiR", "Rsd"],
            Channel::Lc => &["FLC", "Lcs"],
            Channel::Rc => &["FRC", "Rcs"],
            Channel::Cs => &["BC", "S", "Bc", "Cb"],
            Channel::Lw => &["FLW", "Lwide"],
            Channel::Rw => &["FRW", "Rwide"],
            Channel::Tc => &["TC", "VoG", "Ts", "Top"],
            Channel::Ltf => &["Tfl", "TFL", "Lhf"],
            Channel::Tfc => &["Ctf", "TFC", "Chf"],
            Channel::Rtf => &["Tfr", "TFR", "Rhf"],
            Channel::Ltr => &["Trl", "TBL", "Ltb", "Lhr"],
            Channel::Trc => &["Ctr", "TBC", "Chr"],
            Channel::Rtr => &["Trr", "TBR", "Rtb", "Rhr"],
            Channel::Ltm => &["Tsl", "Lts", "Tml"],
            Channel::Rtm => &["Tsr", "Rts", "Tmr"],
        }
    }

    /// Nominal position (ITU-R BS.2051-3 Table 1 and the SMPTE/Dolby cinema layouts):
    /// fronts ±30°, centre-fronts (SDDS Lc/Rc) ±15°, wides ±60°, side surrounds ±90°,
    /// 5.x surrounds ±110°, rear surrounds ±135°, back centre 180°; the upper layer at
    /// +30° (BS.2051 U±030/U±045 front, U±090 middle, U±110/U±135 rear), top centre at +90°.
    /// LFE has no position (`None`).
    pub fn position(self) -> Option<Position> {
        use Channel::*;
        let (azimuth, elevation) = match self {
            Lfe => return None,
            C => (0.0, 0.0),
            L => (30.0, 0.0),
            R => (-30.0, 0.0),
            Lc => (15.0, 0.0),
            Rc => (-15.0, 0.0),
            Lw => (60.0, 0.0),
            Rw => (-60.0, 0.0),
            Lss => (90.0, 0.0),
            Rss => (-90.0, 0.0),
            Ls => (110.0, 0.0),
            Rs => (-110.0, 0.0),
            Lrs => (135.0, 0.0),
            Rrs => (-135.0, 0.0),
            Cs => (180.0, 0.0),
            Ltf => (45.0, 30.0),
            Rtf => (-45.0, 30.0),
            Tfc => (0.0, 30.0),
            Ltm => (90.0, 30.0),
            Rtm => (-90.0, 30.0),
            Ltr => (135.0, 30.0),
            Rtr => (-135.0, 30.0),
            Trc => (180.0, 30.0),
            Tc => (0.0, 90.0),
        };
        Some(Position { azimuth, elevation })
    }

    /// Is this a height (upper-layer) feed?
    pub fn is_height(self) -> bool {
        self.position().is_some_and(|p| p.elevation > 0.0)
    }

    /// Is this an ear-level surround feed (beside or behind the listener: the side,
    /// 5.x, rear and back-centre surrounds)?
    pub fn is_surround(self) -> bool {
        matches!(
            self,
            Channel::Ls
                | Channel::Rs
                | Channel::Lrs
                | Channel::Rrs
                | Channel::Lss
                | Channel::Rss
                | Channel::Cs
        )
    }

    /// BS.1770-4 channel weight G_i by position (ITU-R BS.1770-4, Annex 1, Table 3,
    /// "Position-dependent channel weightings"): 1.41 (+1.5 dB) for a channel at an
    /// elevation below 30° whose azimuth is within 60°..120° either side; 1.0 for every
    /// other channel (the fronts, centre-fronts, rears at ±135°, the back centre and every
    /// channel of the upper layer, whose elevation is 30° or more); LFE is excluded (0).
    /// So the 5.x surrounds (±110°), side surrounds (±90°) and wides (±60°) weigh 1.41,
    /// the 7.1 rear surrounds (±135°) and all heights 1.0 — as libebur128 weighs
    /// M±060/M±090/M±110 and nothing else.
    pub fn bs1770_weight(self) -> f64 {
        match self.position() {
            None => 0.0,
            Some(p) if p.elevation < 30.0 && (60.0..=120.0).contains(&p.azimuth.abs()) => 1.41,
            Some(_) => 1.0,
        }
    }

    /// The WAVE_FORMAT_EXTENSIBLE speaker bit of this feed (for multi-mono files):
    /// 5.x surrounds and 7.1 rears use the back pair (0x10/0x20), 7.1 sides 0x200/0x400;
    /// the wides share the left/right-of-centre bits (as 9.1.x beds are written); 0 for
    /// the top-middle pair, which has no bit.
    pub fn mono_mask(self) -> u32 {
        match self {
            Channel::L => 0x1,
            Channel::R => 0x2,
            Channel::C => 0x4,
            Channel::Lfe => 0x8,
            Channel::Ls | Channel::Lrs => 0x10,
            Channel::Rs | Channel::Rrs => 0x20,
            Channel::Lc | Channel::Lw => 0x40,
            Channel::Rc | Channel::Rw => 0x80,
            Channel::Cs => 0x100,
            Channel::Lss => 0x200,
            Channel::Rss => 0x400,
            Channel::Tc => 0x800,
            Channel::Ltf => 0x1000,
            Channel::Tfc => 0x2000,
            Channel::Rtf => 0x4000,
            Channel::Ltr => 0x8000,
            Channel::Trc => 0x1_0000,
            Channel::Rtr => 0x2_0000,
            Channel::Ltm | Channel::Rtm => 0,
        }
    }

    /// Is this a left-hand channel (for pair analyses)?
    pub fn is_left(self) -> bool {
        self.position()
            .is_some_and(|p| p.azimuth > 0.0 && p.azimuth < 180.0)
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
            .or_else(|| {
                Channel::ALL
                    .iter()
                    .copied()
                    .find(|c| c.aliases().iter().any(|a| a.eq_ignore_ascii_case(t)))
            })
            .ok_or_else(|| {
                let all: Vec<&str> = Channel::ALL.iter().map(|c| c.label()).collect();
                format!("unknown channel '{t}' (expected one of {})", all.join(" "))
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
    #[serde(rename = "quad")]
    Quad,
    #[serde(rename = "LCRS")]
    Lcrs,
    #[serde(rename = "6.0")]
    SixZero,
    #[serde(rename = "6.1")]
    SixOne,
    #[serde(rename = "6.0 music")]
    SixZeroMusic,
    #[serde(rename = "6.1 music")]
    SixOneMusic,
    #[serde(rename = "7.0")]
    SevenZero,
    #[serde(rename = "7.0 SDDS")]
    SevenZeroSdds,
    #[serde(rename = "7.1 SDDS")]
    SevenOneSdds,
    #[serde(rename = "5.0.2")]
    FiveZeroTwo,
    #[serde(rename = "5.1.2")]
    FiveOneTwo,
    #[serde(rename = "5.0.4")]
    FiveZeroFour,
    #[serde(rename = "5.1.4")]
    FiveOneFour,
    #[serde(rename = "7.0.2")]
    SevenZeroTwo,
    #[serde(rename = "7.1.2")]
    SevenOneTwo,
    #[serde(rename = "7.0.4")]
    SevenZeroFour,
    #[serde(rename = "7.1.4")]
    SevenOneFour,
    #[serde(rename = "7.1.6")]
    SevenOneSix,
    #[serde(rename = "9.1.4")]
    NineOneFour,
    #[serde(rename = "9.1.6")]
    NineOneSix,
    #[serde(rename = "Auro 10.0")]
    Auro100,
    #[serde(rename = "Auro 10.1")]
    Auro101,
    #[serde(rename = "Auro 11.0")]
    Auro110,
    #[serde(rename = "Auro 11.1")]
    Auro111,
    #[serde(rename = "Auro 13.0")]
    Auro130,
    #[serde(rename = "Auro 13.1")]
    Auro131,
}

impl Layout {
    /// Every layout, narrowest first within each family.
    pub const ALL: [Layout; 32] = [
        Layout::Mono,
        Layout::Stereo,
        Layout::Lcr,
        Layout::FiveZero,
        Layout::FiveOne,
        Layout::SevenOne,
        Layout::Quad,
        Layout::Lcrs,
        Layout::SixZero,
        Layout::SixOne,
        Layout::SixZeroMusic,
        Layout::SixOneMusic,
        Layout::SevenZero,
        Layout::SevenZeroSdds,
        Layout::SevenOneSdds,
        Layout::FiveZeroTwo,
        Layout::FiveOneTwo,
        Layout::FiveZeroFour,
        Layout::FiveOneFour,
        Layout::SevenZeroTwo,
        Layout::SevenOneTwo,
        Layout::SevenZeroFour,
        Layout::SevenOneFour,
        Layout::SevenOneSix,
        Layout::NineOneFour,
        Layout::NineOneSix,
        Layout::Auro100,
        Layout::Auro101,
        Layout::Auro110,
        Layout::Auro111,
        Layout::Auro130,
        Layout::Auro131,
    ];

    /// The layouts a session may mix in and deliver (`[reel] layout`, a
    /// deliverable's `layout`); every layout in [`Layout::ALL`] can be a stem's.
    pub const MIX: [Layout; 11] = [
        Layout::Mono,
        Layout::Stereo,
        Layout::Lcr,
        Layout::FiveZero,
        Layout::FiveOne,
        Layout::SevenZero,
        Layout::SevenOne,
        Layout::FiveOneTwo,
        Layout::FiveOneFour,
        Layout::SevenOneTwo,
        Layout::SevenOneFour,
    ];

    /// Channels in WAV order: the WAVE_FORMAT_EXTENSIBLE bit order of the positions that
    /// have a bit, then those that have none (the top-middle pair), as Nuendo writes them.
    pub fn channels(self) -> &'static [Channel] {
        use Channel::*;
        match self {
            Layout::Mono => &[C],
            Layout::Stereo => &[L, R],
            Layout::Lcr => &[L, R, C],
            Layout::FiveZero => &[L, R, C, Ls, Rs],
            Layout::FiveOne => &[L, R, C, Lfe, Ls, Rs],
            Layout::SevenOne => &[L, R, C, Lfe, Lrs, Rrs, Lss, Rss],
            Layout::Quad => &[L, R, Ls, Rs],
            Layout::Lcrs => &[L, R, C, Cs],
            Layout::SixZero => &[L, R, C, Ls, Rs, Cs],
            Layout::SixOne => &[L, R, C, Lfe, Ls, Rs, Cs],
            Layout::SixZeroMusic => &[L, R, Lrs, Rrs, Lss, Rss],
            Layout::SixOneMusic => &[L, R, Lfe, Lrs, Rrs, Lss, Rss],
            Layout::SevenZero => &[L, R, C, Lrs, Rrs, Lss, Rss],
            Layout::SevenZeroSdds => &[L, R, C, Ls, Rs, Lc, Rc],
            Layout::SevenOneSdds => &[L, R, C, Lfe, Ls, Rs, Lc, Rc],
            Layout::FiveZeroTwo => &[L, R, C, Ls, Rs, Ltm, Rtm],
            Layout::FiveOneTwo => &[L, R, C, Lfe, Ls, Rs, Ltm, Rtm],
            Layout::FiveZeroFour => &[L, R, C, Ls, Rs, Ltf, Rtf, Ltr, Rtr],
            Layout::FiveOneFour => &[L, R, C, Lfe, Ls, Rs, Ltf, Rtf, Ltr, Rtr],
            Layout::SevenZeroTwo => &[L, R, C, Lrs, Rrs, Lss, Rss, Ltm, Rtm],
            Layout::SevenOneTwo => &[L, R, C, Lfe, Lrs, Rrs, Lss, Rss, Ltm, Rtm],
            Layout::SevenZeroFour => &[L, R, C, Lrs, Rrs, Lss, Rss, Ltf, Rtf, Ltr, Rtr],
            Layout::SevenOneFour => &[L, R, C, Lfe, Lrs, Rrs, Lss, Rss, Ltf, Rtf, Ltr, Rtr],
            Layout::SevenOneSix => &[
                L, R, C, Lfe, Lrs, Rrs, Lss, Rss, Ltf, Rtf, Ltr, Rtr, Ltm, Rtm,
            ],
            Layout::NineOneFour => &[L, R, C, Lfe, Lrs, Rrs, Lw, Rw, Lss, Rss, Ltf, Rtf, Ltr, Rtr],
            Layout::NineOneSix => &[
                L, R, C, Lfe, Lrs, Rrs, Lw, Rw, Lss, Rss, Ltf, Rtf, Ltr, Rtr, Ltm, Rtm,
            ],
            Layout::Auro100 => &[L, R, C, Ls, Rs, Tc, Ltf, Rtf, Ltr, Rtr],
            Layout::Auro101 => &[L, R, C, Lfe, Ls, Rs, Tc, Ltf, Rtf, Ltr, Rtr],
            Layout::Auro110 => &[L, R, C, Ls, Rs, Tc, Ltf, Tfc, Rtf, Ltr, Rtr],
            Layout::Auro111 => &[L, R, C, Lfe, Ls, Rs, Tc, Ltf, Tfc, Rtf, Ltr, Rtr],
            Layout::Auro130 => &[L, R, C, Lrs, Rrs, Lss, Rss, Tc, Ltf, Tfc, Rtf, Ltr, Rtr],
            Layout::Auro131 => &[
                L, R, C, Lfe, Lrs, Rrs, Lss, Rss, Tc, Ltf, Tfc, Rtf, Ltr, Rtr,
            ],
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

    /// WAVE_FORMAT_EXTENSIBLE dwChannelMask (Microsoft KSAUDIO_SPEAKER_* bits): the OR
    /// of the channels' bits. Channels without a bit (the top-middle pair of x.x.2 and
    /// x.x.6 beds) come after the masked ones and are left unassigned, which
    /// WAVE_FORMAT_EXTENSIBLE allows (more channels than mask bits) and Nuendo does:
    /// 7.1.2 = 0x63F with 10 channels, 7.1.4 = 0x2D63F.
    pub fn channel_mask(self) -> u32 {
        self.channels().iter().fold(0, |m, c| m | c.mono_mask())
    }

    /// Channels that carry a mask bit (the first ones in WAV order).
    pub fn masked_len(self) -> usize {
        self.channels()
            .iter()
            .filter(|c| c.mono_mask() != 0)
            .count()
    }

    /// The layout for a channel mask whose bits name every channel, if it is one we know.
    /// Side-surround 5.x masks (0x607, 0x60F) map to the same layouts as the
    /// back-surround ones. For files with more channels than bits, see [`identify`].
    pub fn from_mask(mask: u32) -> Option<Layout> {
        match mask {
            0x607 => return Some(Layout::FiveZero),
            0x60F => return Some(Layout::FiveOne),
            _ => {}
        }
        Layout::ALL
            .iter()
            .copied()
            .find(|l| l.channel_mask() == mask && l.masked_len() == l.len())
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

    /// Short name used in file names: `1.0`, `2.0`, `3.0`, `5.1`, `7.1`, `7.1.4`, ...
    pub fn name(self) -> &'static str {
        match self {
            Layout::Mono => "1.0",
            Layout::Stereo => "2.0",
            Layout::Lcr => "3.0",
            Layout::FiveZero => "5.0",
            Layout::FiveOne => "5.1",
            Layout::SevenOne => "7.1",
            Layout::Quad => "quad",
            Layout::Lcrs => "LCRS",
            Layout::SixZero => "6.0",
            Layout::SixOne => "6.1",
            Layout::SixZeroMusic => "6.0 music",
            Layout::SixOneMusic => "6.1 music",
            Layout::SevenZero => "7.0",
            Layout::SevenZeroSdds => "7.0 SDDS",
            Layout::SevenOneSdds => "7.1 SDDS",
            Layout::FiveZeroTwo => "5.0.2",
            Layout::FiveOneTwo => "5.1.2",
            Layout::FiveZeroFour => "5.0.4",
            Layout::FiveOneFour => "5.1.4",
            Layout::SevenZeroTwo => "7.0.2",
            Layout::SevenOneTwo => "7.1.2",
            Layout::SevenZeroFour => "7.0.4",
            Layout::SevenOneFour => "7.1.4",
            Layout::SevenOneSix => "7.1.6",
            Layout::NineOneFour => "9.1.4",
            Layout::NineOneSix => "9.1.6",
            Layout::Auro100 => "Auro 10.0",
            Layout::Auro101 => "Auro 10.1",
            Layout::Auro110 => "Auro 11.0",
            Layout::Auro111 => "Auro 11.1",
            Layout::Auro130 => "Auro 13.0",
            Layout::Auro131 => "Auro 13.1",
        }
    }

    /// A longer description for `inspect`.
    pub fn description(self) -> &'static str {
        match self {
            Layout::Mono => "mono",
            Layout::Stereo => "stereo",
            Layout::Lcr => "LCR",
            Layout::FiveZero => "5.0 surround",
            Layout::FiveOne => "5.1 surround",
            Layout::SevenOne => "7.1 surround (sides and rears)",
            Layout::Quad => "quadraphonic",
            Layout::Lcrs => "LCRS (4-channel matrix surround, mono surround)",
            Layout::SixZero => "6.0 (5.0 with a back centre surround, Surround EX)",
            Layout::SixOne => "6.1 (5.1 with a back centre surround, Surround EX)",
            Layout::SixZeroMusic => "6.0 music (no centre; sides and rears)",
            Layout::SixOneMusic => "6.1 music (no centre; sides and rears)",
            Layout::SevenZero => "7.0 surround",
            Layout::SevenZeroSdds => "7.0 SDDS (left and right centre screen channels)",
            Layout::SevenOneSdds => "7.1 SDDS (left and right centre screen channels)",
            Layout::FiveZeroTwo => "5.0.2 immersive (top middle pair)",
            Layout::FiveOneTwo => "5.1.2 immersive (top middle pair)",
            Layout::FiveZeroFour => "5.0.4 immersive",
            Layout::FiveOneFour => "5.1.4 immersive",
            Layout::SevenZeroTwo => "7.0.2 immersive (top middle pair)",
            Layout::SevenOneTwo => "7.1.2 immersive (Dolby Atmos bed; top middle pair)",
            Layout::SevenZeroFour => "7.0.4 immersive",
            Layout::SevenOneFour => "7.1.4 immersive",
            Layout::SevenOneSix => "7.1.6 immersive",
            Layout::NineOneFour => "9.1.4 immersive (front wides)",
            Layout::NineOneSix => "9.1.6 immersive (front wides)",
            Layout::Auro100 => "Auro-3D 10.0",
            Layout::Auro101 => "Auro-3D 10.1",
            Layout::Auro110 => "Auro-3D 11.0",
            Layout::Auro111 => "Auro-3D 11.1",
            Layout::Auro130 => "Auro-3D 13.0",
            Layout::Auro131 => "Auro-3D 13.1",
        }
    }

    /// Index of a channel in this layout.
    pub fn index_of(self, ch: Channel) -> Option<usize> {
        self.channels().iter().position(|&c| c == ch)
    }

    /// Does the layout have this channel?
    pub fn has(self, ch: Channel) -> bool {
        self.index_of(ch).is_some()
    }

    /// The labels of the channels in WAV order, space-separated (`L R C LFE Ls Rs`).
    pub fn labels(self) -> String {
        let v: Vec<&str> = self.channels().iter().map(|c| c.label()).collect();
        v.join(" ")
    }

    /// The layout whose channels are exactly `set` (in any order).
    pub fn from_channels(set: &[Channel]) -> Option<Layout> {
        Layout::ALL
            .iter()
            .copied()
            .find(|l| l.len() == set.len() && set.iter().all(|c| l.has(*c)))
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
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("atmos ").unwrap_or(&t);
        let found = match t {
            "mono" | "1.0" | "1" => Some(Layout::Mono),
            "stereo" | "2.0" | "2" => Some(Layout::Stereo),
            "lcr" | "3.0" => Some(Layout::Lcr),
            "lrcs" | "4.0" => Some(Layout::Lcrs),
            "6.0 ex" | "6.0 surround ex" => Some(Layout::SixZero),
            "6.1 ex" | "6.1 surround ex" => Some(Layout::SixOne),
            "sdds" | "sdds 7.1" => Some(Layout::SevenOneSdds),
            "sdds 7.0" => Some(Layout::SevenZeroSdds),
            other => Layout::ALL.iter().copied().find(|l| {
                l.name().eq_ignore_ascii_case(other) || l.description().eq_ignore_ascii_case(other)
            }),
        };
        found.ok_or_else(|| {
            let all: Vec<&str> = Layout::ALL.iter().map(|l| l.name()).collect();
            format!(
                "unknown layout '{}' (expected one of: {})",
                s.trim(),
                all.join(", ")
            )
        })
    }
}

pub use crate::layout_detect::{Identified, LayoutProblem, identify, mask_channels};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip_and_count_bits() {
        for l in Layout::ALL {
            // Every channel with a bit comes before those without, in bit order.
            let bits: Vec<u32> = l.channels().iter().map(|c| c.mono_mask()).collect();
            let k = l.masked_len();
            assert!(bits[k..].iter().all(|&b| b == 0), "{l}");
            assert!(bits[..k].windows(2).all(|w| w[0] < w[1]), "{l}: WAV order");
            assert_eq!(l.channel_mask().count_ones() as usize, k, "{l}");
            if k == l.len() {
                assert_eq!(Layout::from_mask(l.channel_mask()), Some(l), "{l}");
            }
            assert_eq!(l.name().parse::<Layout>(), Ok(l));
            assert_eq!(Layout::from_channels(l.channels()), Some(l), "{l}");
            let id = identify(l.len(), Some(l.channel_mask()), &[]).unwrap();
            assert_eq!(id.layout, l, "{l}");
        }
        assert_eq!(Layout::SevenOne.channel_mask(), 0x63F);
        assert_eq!(Layout::SevenOneSdds.channel_mask(), 0xFF);
        assert_eq!(Layout::SixOne.channel_mask(), 0x13F);
        assert_eq!(Layout::Quad.channel_mask(), 0x33);
        assert_eq!(Layout::Lcrs.channel_mask(), 0x107);
        assert_eq!(Layout::SevenOneFour.channel_mask(), 0x2D63F);
        assert_eq!(Layout::SevenOneTwo.channel_mask(), 0x63F);
        assert_eq!(Layout::NineOneSix.channel_mask(), 0x2D6FF);
    }

    #[test]
    fn weights_follow_bs1770_table_3() {
        use Channel::*;
        assert_eq!(Lfe.bs1770_weight(), 0.0);
        for c in [Ls, Rs, Lss, Rss, Lw, Rw] {
            assert_eq!(c.bs1770_weight(), 1.41, "{c}");
        }
        for c in [L, R, C, Lc, Rc, Lrs, Rrs, Cs] {
            assert_eq!(c.bs1770_weight(), 1.0, "{c}");
        }
        // The upper layer is at 30° or more: 1.0 whatever its azimuth (Ltm is at ±90°).
        for c in [Ltf, Rtf, Tfc, Ltm, Rtm, Ltr, Rtr, Trc, Tc] {
            assert_eq!(c.bs1770_weight(), 1.0, "{c}");
        }
    }

    #[test]
    fn channel_names_and_aliases_parse() {
        for c in Channel::ALL {
            assert_eq!(c.label().parse::<Channel>(), Ok(c));
            for a in c.aliases() {
                assert_eq!(a.parse::<Channel>(), Ok(c), "{a}");
            }
        }
        assert_eq!("BC".parse::<Channel>(), Ok(Channel::Cs));
        assert_eq!("tsl".parse::<Channel>(), Ok(Channel::Ltm));
        assert!("Q".parse::<Channel>().is_err());
    }
}
