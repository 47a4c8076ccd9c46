//! Telling a file's channel layout from its header: the WAVE_FORMAT_EXTENSIBLE channel
//! mask (Microsoft `KSAUDIO_SPEAKER_*` bits, mmreg.h), the channel count, and, for
//! ambisonic files (which carry no mask), the iXML track names.

use crate::layout::{Channel, Layout};
use std::fmt;

/// Why a file's channels could not be named.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutProblem {
    /// Ambisonic B-format: recognized, not decoded.
    Ambisonic { order: u32, how: String },
    /// No mask and a channel count with no conventional layout.
    NoMask { channels: usize },
    /// The mask names more positions than there are channels.
    MaskTooWide {
        mask: u32,
        positions: usize,
        channels: usize,
    },
    /// The mask names fewer positions than channels, and no layout has the rest.
    MaskTooNarrow {
        mask: u32,
        positions: usize,
        channels: usize,
    },
    /// A consistent mask whose set of positions is no layout dubstage knows.
    UnknownMask { mask: u32, channels: usize },
}

impl fmt::Display for LayoutProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let way =
            "give the stem a `layout`, or name every channel in WAV order with `channel_order`";
        match self {
            LayoutProblem::Ambisonic { order, how } => write!(
                f,
                "ambisonic B-format (order {order}, {} channels; {how}): dubstage mixes speaker \
                 feeds and does not decode ambisonics; decode it to a speaker layout first",
                (order + 1) * (order + 1)
            ),
            LayoutProblem::NoMask { channels } => {
                write!(
                    f,
                    "{channels} channels without a WAVE_FORMAT_EXTENSIBLE channel mask: the \
                     layout cannot be told from the count alone ({way})"
                )?;
                let side = (*channels as f64).sqrt().round() as usize;
                if side >= 2 && side * side == *channels {
                    write!(
                        f,
                        "; if it is ambisonic B-format, dubstage does not decode ambisonics"
                    )?;
                }
                Ok(())
            }
            LayoutProblem::MaskTooWide {
                mask,
                positions,
                channels,
            } => write!(
                f,
                "the channel mask 0x{mask:X} names {positions} speaker positions but the file has \
                 only {channels} channels: the header contradicts itself ({way})"
            ),
            LayoutProblem::MaskTooNarrow {
                mask,
                positions,
                channels,
            } => write!(
                f,
                "the channel mask 0x{mask:X} names {positions} speaker positions but the file has \
                 {channels} channels, and no known layout puts the other {} there ({way})",
                channels - positions
            ),
            LayoutProblem::UnknownMask { mask, channels } => write!(
                f,
                "the channel mask 0x{mask:X} ({}) over {channels} channels is no layout dubstage \
                 mixes ({way})",
                mask_labels(*mask).join(" ")
            ),
        }
    }
}

/// The channels a mask's bits name, in bit (WAV) order. The 0x10/0x20 pair is named
/// `Ls`/`Rs` unless the side pair is also present (then `Lrs`/`Rrs`); the 0x40/0x80 pair
/// `Lc`/`Rc` unless the mask has side, rear and top pairs (a 9.1.x bed: `Lw`/`Rw`).
pub fn mask_channels(mask: u32) -> Vec<Channel> {
    use Channel::*;
    let sides = mask & 0x600 == 0x600;
    let nine = sides && mask & 0x30 == 0x30 && mask & 0xD000 != 0;
    let mut out = Vec::new();
    for bit in 0..18 {
        if mask & (1 << bit) == 0 {
            continue;
        }
        out.push(match bit {
            0 => L,
            1 => R,
            2 => C,
            3 => Lfe,
            4 if sides => Lrs,
            4 => Ls,
            5 if sides => Rrs,
            5 => Rs,
            6 if nine => Lw,
            6 => Lc,
            7 if nine => Rw,
            7 => Rc,
            8 => Cs,
            9 => Lss,
            10 => Rss,
            11 => Tc,
            12 => Ltf,
            13 => Tfc,
            14 => Rtf,
            15 => Ltr,
            16 => Trc,
            _ => Rtr,
        });
    }
    out
}

fn mask_labels(mask: u32) -> Vec<&'static str> {
    mask_channels(mask).iter().map(|c| c.label()).collect()
}

/// How a layout was told.
#[derive(Debug, Clone, PartialEq)]
pub struct Identified {
    pub layout: Layout,
    /// `"mask"`, `"mask+layout"` (channels past the mask's bits taken from the only
    /// layout that fits), or `"count"`.
    pub how: &'static str,
    /// A sentence for the user when something was inferred.
    pub note: Option<String>,
}

/// Tells the layout of a file from its channel count, its WAVE_FORMAT_EXTENSIBLE mask
/// (`None` or 0 = no mask) and its iXML track names (for ambisonic files, which carry no
/// mask: Nuendo names them `ACN0`..; any name starting `ACN` or the set `W X Y Z`).
///
/// - mask bits = channels: the layout with exactly those positions;
/// - fewer bits than channels: the channels past the bits have no position
///   (WAVE_FORMAT_EXTENSIBLE); when exactly one layout starts with the mask's positions
///   and has that many channels (7.1.2 = 0x63F + the top-middle pair, as Nuendo writes
///   it), that layout, with a note;
/// - no mask: ambisonic refusal, or the conventional layout of the count (1, 2, 3, 5, 6, 8);
/// - one channel is mono whatever its mask.
pub fn identify(
    channels: usize,
    mask: Option<u32>,
    track_names: &[String],
) -> std::result::Result<Identified, LayoutProblem> {
    let ambisonic_names = !track_names.is_empty()
        && (track_names
            .iter()
            .all(|n| n.trim().to_ascii_uppercase().starts_with("ACN"))
            || {
                let mut v: Vec<String> = track_names
                    .iter()
                    .map(|n| n.trim().to_ascii_uppercase())
                    .collect();
                v.sort();
                v == ["W", "X", "Y", "Z"]
            });
    let mask = mask.filter(|&m| m != 0);
    // One channel is one feed, whatever speaker bit it carries (writers flag mono files
    // FL, FC or nothing): it is panned, never mapped by position.
    if channels == 1 {
        return Ok(Identified {
            layout: Layout::Mono,
            how: if mask.is_some() { "mask" } else { "count" },
            note: None,
        });
    }
    let Some(mask) = mask else {
        if ambisonic_names {
            let side = (channels as f64).sqrt().round() as u32;
            if side >= 2 && ((side * side) as usize) == channels {
                return Err(LayoutProblem::Ambisonic {
                    order: side - 1,
                    how: "the iXML track names are ambisonic components (ACN)".into(),
                });
            }
        }
        return Layout::from_count(channels)
            .map(|layout| Identified {
                layout,
                how: "count",
                note: None,
            })
            .ok_or(LayoutProblem::NoMask { channels });
    };
    let named = mask_channels(mask);
    // Bits above the 18 defined positions (e.g. KSAUDIO_SPEAKER_ALL) name nothing we know.
    let undefined = mask & !0x3_FFFF != 0;
    if named.len() > channels {
        return Err(LayoutProblem::MaskTooWide {
            mask,
            positions: named.len(),
            channels,
        });
    }
    if named.len() == channels && !undefined {
        return Layout::from_mask(mask)
            .or_else(|| Layout::from_channels(&named))
            .map(|layout| Identified {
                layout,
                how: "mask",
                note: None,
            })
            .ok_or(LayoutProblem::UnknownMask { mask, channels });
    }
    let fits: Vec<Layout> = Layout::ALL
        .iter()
        .copied()
        .filter(|l| {
            l.len() == channels
                && l.masked_len() == named.len()
                && l.channels()[..named.len()]
                    .iter()
                    .all(|c| named.contains(c))
        })
        .collect();
    match fits.as_slice() {
        [layout] if !undefined => {
            let extra: Vec<&str> = layout.channels()[named.len()..]
                .iter()
                .map(|c| c.label())
                .collect();
            Ok(Identified {
                layout: *layout,
                how: "mask+layout",
                note: Some(format!(
                    "the mask 0x{mask:X} names {} of the {channels} channels; the last {} ({}) \
                     have no WAVE_FORMAT_EXTENSIBLE position and are taken as those of {}",
                    named.len(),
                    extra.len(),
                    extra.join(" "),
                    layout.name()
                )),
            })
        }
        _ => Err(LayoutProblem::MaskTooNarrow {
            mask,
            positions: named.len(),
            channels,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_name_the_nuendo_layouts() {
        let cases: [(usize, u32, Layout); 12] = [
            (8, 0xFF, Layout::SevenOneSdds),
            (8, 0x63F, Layout::SevenOne),
            (7, 0x13F, Layout::SixOne),
            (4, 0x33, Layout::Quad),
            (4, 0x107, Layout::Lcrs),
            (12, 0x2D63F, Layout::SevenOneFour),
            (10, 0x63F, Layout::SevenOneTwo),
            (9, 0x637, Layout::SevenZeroTwo),
            (14, 0x2D63F, Layout::SevenOneSix),
            (16, 0x2D6FF, Layout::NineOneSix),
            (14, 0x2D6FF, Layout::NineOneFour),
            (7, 0x63B, Layout::SixOneMusic),
        ];
        for (n, mask, l) in cases {
            let id = identify(n, Some(mask), &[]).unwrap();
            assert_eq!(id.layout, l, "0x{mask:X}");
            assert_eq!(id.note.is_some(), l.masked_len() < l.len());
        }
    }

    #[test]
    fn contradictions_and_ambisonics_are_refused_with_reasons() {
        let e = identify(6, Some(0x63F), &[]).unwrap_err();
        assert!(matches!(e, LayoutProblem::MaskTooWide { .. }));
        assert!(e.to_string().contains("names 8 speaker positions"), "{e}");
        let e = identify(11, Some(0x63F), &[]).unwrap_err();
        assert!(matches!(e, LayoutProblem::MaskTooNarrow { .. }), "{e}");
        let e = identify(4, None, &[]).unwrap_err();
        assert!(e.to_string().contains("channel_order"), "{e}");
        let names: Vec<String> = (0..9).map(|i| format!("ACN{i}-HOA2")).collect();
        let e = identify(9, None, &names).unwrap_err();
        assert_eq!(
            e,
            LayoutProblem::Ambisonic {
                order: 2,
                how: "the iXML track names are ambisonic components (ACN)".into()
            }
        );
        assert!(e.to_string().contains("does not decode ambisonics"));
        // A mask with bits no layout has.
        assert!(matches!(
            identify(2, Some(0x5), &[]).unwrap_err(),
            LayoutProblem::UnknownMask { .. }
        ));
    }
}
