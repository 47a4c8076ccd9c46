//! Broadcast Wave `bext` chunk (EBU Tech 3285 v0, v1, v2): parse and serialize.
//!
//! Layout of the chunk body (EBU Tech 3285 v2, section 2.3), all little-endian:
//!
//! | offset | size | field                                   |
//! |-------:|-----:|-----------------------------------------|
//! |      0 |  256 | Description (ASCII, NUL padded)         |
//! |    256 |   32 | Originator                              |
//! |    288 |   32 | OriginatorReference                     |
//! |    320 |   10 | OriginationDate `yyyy-mm-dd`            |
//! |    330 |    8 | OriginationTime `hh-mm-ss`              |
//! |    338 |    8 | TimeReference (u32 low, u32 high)       |
//! |    346 |    2 | Version                                 |
//! |    348 |   64 | UMID (v1+)                              |
//! |    412 |   10 | 5 x i16 loudness x100 (v2)              |
//! |    422 |  180 | reserved (zero)                         |
//! |    602 |    n | CodingHistory (ASCII, CR/LF lines)      |

use super::wav::{Bext, BextLoudness};

/// Size of the fixed part of the `bext` body (EBU Tech 3285 v2: 602 bytes).
pub const BEXT_FIXED_LEN: usize = 602;

/// The v2 "not set" value of a loudness field (EBU Tech 3285 v2, 2.3: 0x7FFF).
const LOUDNESS_UNSET: i16 = 0x7FFF;

/// Reads a NUL-terminated, NUL/space padded text field. The standard says
/// ASCII; UTF-8 (which dubstage writes for non-ASCII text) is decoded as
/// such, and anything else as Latin-1 so that nothing is lost or rejected.
fn text(bytes: &[u8]) -> String {
    raw_text(bytes).trim_end().to_string()
}

/// Reads text up to the first NUL, keeping trailing whitespace (the CR/LF
/// that ends each coding history line).
fn raw_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    match std::str::from_utf8(&bytes[..end]) {
        Ok(s) => s.to_string(),
        Err(_) => bytes[..end].iter().map(|&b| b as char).collect(),
    }
}

/// Writes `s` into a fixed field, truncated at a character boundary and NUL padded.
fn put_text(dst: &mut [u8], s: &str) {
    let mut n = 0;
    for ch in s.chars() {
        let mut buf = [0u8; 4];
        let enc = ch.encode_utf8(&mut buf).as_bytes();
        if n + enc.len() > dst.len() {
            break;
        }
        dst[n..n + enc.len()].copy_from_slice(enc);
        n += enc.len();
    }
    dst[n..].fill(0);
}

fn loudness_field(v: i16) -> Option<f64> {
    (v != LOUDNESS_UNSET).then_some(f64::from(v) / 100.0)
}

fn loudness_value(v: Option<f64>) -> i16 {
    match v {
        Some(x) if x.is_finite() => (x * 100.0).round().clamp(-32768.0, 32766.0) as i16,
        _ => LOUDNESS_UNSET,
    }
}

/// Parses a `bext` chunk body. Returns `None` when it is shorter than the
/// fixed part (the caller reports the file as malformed).
pub fn parse(body: &[u8]) -> Option<Bext> {
    if body.len() < BEXT_FIXED_LEN {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes([body[o], body[o + 1]]);
    let i16_at = |o: usize| i16::from_le_bytes([body[o], body[o + 1]]);
    let lo = u32::from_le_bytes(body[338..342].try_into().unwrap());
    let hi = u32::from_le_bytes(body[342..346].try_into().unwrap());
    let version = u16_at(346);
    let loudness = if version >= 2 {
        BextLoudness {
            integrated_lufs: loudness_field(i16_at(412)),
            range_lu: loudness_field(i16_at(414)),
            max_true_peak_dbtp: loudness_field(i16_at(416)),
            max_momentary_lufs: loudness_field(i16_at(418)),
            max_short_term_lufs: loudness_field(i16_at(420)),
        }
    } else {
        BextLoudness::default()
    };
    Some(Bext {
        description: text(&body[0..256]),
        originator: text(&body[256..288]),
        originator_reference: text(&body[288..320]),
        origination_date: text(&body[320..330]),
        origination_time: text(&body[330..338]),
        time_reference: u64::from(lo) | (u64::from(hi) << 32),
        version,
        loudness,
        coding_history: raw_text(&body[BEXT_FIXED_LEN..]),
    })
}

/// Serializes `bext` as a v2 chunk body of exactly `len` bytes (the coding
/// history is NUL padded up to `len`). `len` must be at least
/// [`serialized_len`]`(bext)`.
pub fn serialize(bext: &Bext, len: usize) -> Vec<u8> {
    debug_assert!(len >= serialized_len(bext));
    let mut b = vec![0u8; len];
    put_text(&mut b[0..256], &bext.description);
    put_text(&mut b[256..288], &bext.originator);
    put_text(&mut b[288..320], &bext.originator_reference);
    put_text(&mut b[320..330], &bext.origination_date);
    put_text(&mut b[330..338], &bext.origination_time);
    b[338..342].copy_from_slice(&(bext.time_reference as u32).to_le_bytes());
    b[342..346].copy_from_slice(&((bext.time_reference >> 32) as u32).to_le_bytes());
    // We always write the v2 layout (loudness fields present).
    b[346..348].copy_from_slice(&2u16.to_le_bytes());
    let l = &bext.loudness;
    for (i, v) in [
        l.integrated_lufs,
        l.range_lu,
        l.max_true_peak_dbtp,
        l.max_momentary_lufs,
        l.max_short_term_lufs,
    ]
    .into_iter()
    .enumerate()
    {
        let o = 412 + 2 * i;
        b[o..o + 2].copy_from_slice(&loudness_value(v).to_le_bytes());
    }
    let ch = bext.coding_history.as_bytes();
    b[BEXT_FIXED_LEN..BEXT_FIXED_LEN + ch.len()].copy_from_slice(ch);
    b
}

/// Bytes needed for `bext` as a chunk body (fixed part + coding history).
pub fn serialized_len(bext: &Bext) -> usize {
    BEXT_FIXED_LEN + bext.coding_history.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v2() {
        let b = Bext {
            description: "Reel 1 printmaster".into(),
            originator: "dubstage".into(),
            originator_reference: "R1PM".into(),
            origination_date: "2026-11-24".into(),
            origination_time: "01-02-03".into(),
            time_reference: 0x1_2345_6789,
            version: 2,
            loudness: BextLoudness {
                integrated_lufs: Some(-27.0),
                range_lu: Some(12.34),
                max_true_peak_dbtp: Some(-2.1),
                max_momentary_lufs: None,
                max_short_term_lufs: Some(-18.5),
            },
            coding_history: "A=PCM,F=48000,W=24,M=multi,T=dubstage\r\n".into(),
        };
        let bytes = serialize(&b, serialized_len(&b) + 10);
        assert_eq!(&bytes[412..414], &(-2700i16).to_le_bytes());
        assert_eq!(&bytes[418..420], &0x7FFFi16.to_le_bytes());
        assert_eq!(parse(&bytes).unwrap(), b);
    }

    #[test]
    fn v0_has_no_loudness_and_long_text_is_truncated() {
        let b = Bext {
            description: "x".repeat(300),
            version: 0,
            ..Default::default()
        };
        let mut bytes = serialize(&b, serialized_len(&b));
        bytes[346] = 0; // version 0: the loudness bytes are reserved
        bytes[412..414].copy_from_slice(&100i16.to_le_bytes());
        let p = parse(&bytes).unwrap();
        assert_eq!(p.description.len(), 256);
        assert_eq!(p.version, 0);
        assert_eq!(p.loudness, BextLoudness::default());
        assert!(parse(&bytes[..601]).is_none());
    }

    #[test]
    fn utf8_round_trips_and_latin1_is_kept() {
        let b = Bext {
            description: "Génériques — bobine 1".into(),
            // 31 bytes of ASCII then a 2-byte character: cut before it.
            originator: format!("{}é", "o".repeat(31)),
            ..Default::default()
        };
        let mut bytes = serialize(&b, serialized_len(&b));
        let p = parse(&bytes).unwrap();
        assert_eq!(p.description, b.description);
        assert_eq!(p.originator, "o".repeat(31));
        bytes[0] = 0xE9; // Latin-1 'é', invalid as UTF-8 here
        assert!(parse(&bytes).unwrap().description.starts_with('é'));
    }
}
