//! The header's bytes, both ways: the format constants, the `fmt ` chunk parsed, and the
//! header a writer lays out (`RIFF`/`RF64`/`BW64`, `ds64`/`JUNK`, `fmt `, `bext`, `iXML`,
//! `fact`, `data`).

use super::Bext;
use super::Container;
use super::SampleFormat;
use super::decode::Decode;
use super::spec::{OutputFormat, Rf64Mode, WavSpec};
use crate::io::bext as bext_chunk;
use crate::{Error, Result};
use std::path::Path;

/// Format tags (mmreg.h; RFC 2361).
const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 2..16 of the KSDATAFORMAT_SUBTYPE_* GUIDs
/// ({0000xxxx-0000-0010-8000-00AA00389B71}, ksmedia.h), as stored (little-endian
/// Data1..Data3); bytes 0..2 hold the format tag.
const KSDATAFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Size of a `ds64` body without a chunk table (EBU Tech 3306, 3.3: riffSize,
/// dataSize, sampleCount as u64, tableLength u32).
pub(super) const DS64_LEN: u32 = 28;

/// The 32-bit size value meaning "see ds64" (EBU Tech 3306, 3.2).
pub(super) const SIZE_IN_DS64: u32 = 0xFFFF_FFFF;

/// Highest sample rate read (768 kHz, 16x 48 kHz, the highest rate PCM converters
/// offer); anything above is a damaged header.
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Parsed `fmt ` chunk.
pub(super) struct Fmt {
    pub(super) channels: u16,
    pub(super) sample_rate: u32,
    pub(super) format: SampleFormat,
    pub(super) decode: Decode,
    pub(super) block_align: u16,
    pub(super) mask: Option<u32>,
}

pub(super) fn u16le(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub(super) fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
pub(super) fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

pub(super) fn parse_fmt(path: &Path, b: &[u8]) -> Result<Fmt> {
    let err = |m: String| Error::format(path, m);
    if b.len() < 16 {
        return Err(err(format!(
            "'fmt ' chunk is {} bytes, shorter than the 16 a WAV format needs",
            b.len()
        )));
    }
    let tag = u16le(b, 0);
    let channels = u16le(b, 2);
    let sample_rate = u32le(b, 4);
    let block_align = u16le(b, 12);
    let bits = u16le(b, 14);
    let (code, mask) = if tag == WAVE_FORMAT_EXTENSIBLE {
        if b.len() < 40 {
            return Err(err(format!(
                "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {} bytes, shorter than 40",
                b.len()
            )));
        }
        let mask = u32le(b, 20);
        let guid = &b[24..40];
        if guid[2..16] != KSDATAFORMAT_TAIL {
            return Err(err(format!(
                "unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID {} (only PCM and IEEE float are read)",
                guid.iter().map(|x| format!("{x:02x}")).collect::<String>()
            )));
        }
        (u16le(guid, 0), (mask != 0).then_some(mask))
    } else {
        (tag, None)
    };
    if channels == 0 {
        return Err(err("the format declares 0 channels".into()));
    }
    if sample_rate == 0 {
        return Err(err("the format declares a sample rate of 0 Hz".into()));
    }
    if sample_rate > MAX_SAMPLE_RATE {
        return Err(err(format!(
            "the format declares a sample rate of {sample_rate} Hz, above the {MAX_SAMPLE_RATE} Hz of any audio format: the header is damaged"
        )));
    }
    let (format, decode) = match (code, bits) {
        (WAVE_FORMAT_PCM, 8) => (SampleFormat::Int(8), Decode::U8),
        (WAVE_FORMAT_PCM, 16) => (SampleFormat::Int(16), Decode::I16),
        (WAVE_FORMAT_PCM, 24) => (SampleFormat::Int(24), Decode::I24),
        (WAVE_FORMAT_PCM, 32) => (SampleFormat::Int(32), Decode::I32),
        (WAVE_FORMAT_IEEE_FLOAT, 32) => (SampleFormat::Float(32), Decode::F32),
        (WAVE_FORMAT_IEEE_FLOAT, 64) => (SampleFormat::Float(64), Decode::F64),
        (WAVE_FORMAT_PCM, b) => {
            return Err(err(format!(
                "unsupported PCM sample size of {b} bits (8, 16, 24 and 32 are read)"
            )));
        }
        (WAVE_FORMAT_IEEE_FLOAT, b) => {
            return Err(err(format!(
                "unsupported float sample size of {b} bits (32 and 64 are read)"
            )));
        }
        (t, _) => {
            return Err(err(format!(
                "unsupported WAV format tag 0x{t:04X} (only PCM and IEEE float are read)"
            )));
        }
    };
    let expect = u32::from(channels) * u32::from(bits / 8);
    if u32::from(block_align) != expect {
        return Err(err(format!(
            "block align {block_align} does not match {channels} channel(s) of {bits} bits ({expect} bytes per frame)"
        )));
    }
    Ok(Fmt {
        channels,
        sample_rate,
        format,
        decode,
        block_align,
        mask,
    })
}

pub(super) fn chunk_name(id: &[u8]) -> String {
    id.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Builds the header for `container` with the given sizes. Its length depends
/// only on the spec and the reserved bext size, so a header written at create
/// can be overwritten in place at finish.
pub(super) fn build_header(
    spec: &WavSpec,
    bext: Option<(&Bext, usize)>,
    ixml_body: Option<&[u8]>,
    container: Container,
    data_bytes: u64,
    frames: u64,
) -> Vec<u8> {
    let bits = spec.format.bits();
    let float = spec.format == OutputFormat::Float32;
    let block_align = spec.channels * bits / 8;
    let extensible = spec.channels > 2 || bits > 16;
    let tag = if float {
        WAVE_FORMAT_IEEE_FLOAT
    } else {
        WAVE_FORMAT_PCM
    };
    let mut h = Vec::with_capacity(256);
    h.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    // ds64 / JUNK
    let wide = container != Container::Riff;
    h.extend_from_slice(if wide { b"ds64" } else { b"JUNK" });
    h.extend_from_slice(&DS64_LEN.to_le_bytes());
    let ds64_at = h.len();
    h.extend_from_slice(&[0u8; DS64_LEN as usize]);
    // fmt
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&(if extensible { 40u32 } else { 16 }).to_le_bytes());
    h.extend_from_slice(
        &(if extensible {
            WAVE_FORMAT_EXTENSIBLE
        } else {
            tag
        })
        .to_le_bytes(),
    );
    h.extend_from_slice(&spec.channels.to_le_bytes());
    h.extend_from_slice(&spec.sample_rate.to_le_bytes());
    h.extend_from_slice(&(spec.sample_rate * u32::from(block_align)).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        h.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        h.extend_from_slice(&bits.to_le_bytes()); // wValidBitsPerSample
        h.extend_from_slice(&spec.channel_mask.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&KSDATAFORMAT_TAIL);
    }
    if let Some((b, len)) = bext {
        h.extend_from_slice(b"bext");
        h.extend_from_slice(&(len as u32).to_le_bytes());
        h.extend_from_slice(&bext_chunk::serialize(b, len));
    }
    if let Some(x) = ixml_body {
        h.extend_from_slice(b"iXML");
        h.extend_from_slice(&(x.len() as u32).to_le_bytes());
        h.extend_from_slice(x);
    }
    if float {
        // fact: dwSampleLength (frames); 0xFFFFFFFF when it needs ds64's sampleCount.
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        let n = if frames >= u64::from(SIZE_IN_DS64) {
            SIZE_IN_DS64
        } else {
            frames as u32
        };
        h.extend_from_slice(&n.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    let data_size_at = h.len();
    h.extend_from_slice(&[0u8; 4]);
    let riff_size = h.len() as u64 + data_bytes + (data_bytes & 1) - 8;
    if wide {
        h[0..4].copy_from_slice(if container == Container::Bw64 {
            b"BW64"
        } else {
            b"RF64"
        });
        h[4..8].copy_from_slice(&SIZE_IN_DS64.to_le_bytes());
        h[data_size_at..data_size_at + 4].copy_from_slice(&SIZE_IN_DS64.to_le_bytes());
        h[ds64_at..ds64_at + 8].copy_from_slice(&riff_size.to_le_bytes());
        h[ds64_at + 8..ds64_at + 16].copy_from_slice(&data_bytes.to_le_bytes());
        h[ds64_at + 16..ds64_at + 24].copy_from_slice(&frames.to_le_bytes());
        // tableLength stays 0.
    } else {
        h[4..8].copy_from_slice(&(riff_size as u32).to_le_bytes());
        h[data_size_at..data_size_at + 4].copy_from_slice(&(data_bytes as u32).to_le_bytes());
    }
    h
}

/// The container for `data_bytes` of audio after a header of `header_len`
/// bytes: RF64/BW64 when `mode` asks for it or when the RIFF size would not
/// fit 32 bits (0xFFFFFFFF itself being the RF64 marker).
pub(super) fn choose_container(
    mode: Rf64Mode,
    bw64: bool,
    header_len: u64,
    data_bytes: u64,
) -> Container {
    let riff_size = header_len + data_bytes + (data_bytes & 1) - 8;
    let too_big = riff_size >= u64::from(SIZE_IN_DS64);
    let wide = match mode {
        Rf64Mode::Always => true,
        Rf64Mode::Never => false,
        Rf64Mode::Auto { threshold } => data_bytes > threshold || too_big,
    };
    match (wide, bw64) {
        (false, _) => Container::Riff,
        (true, false) => Container::Rf64,
        (true, true) => Container::Bw64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_choice() {
        let four_gib = 1u64 << 32;
        let auto = Rf64Mode::AUTO;
        assert_eq!(choose_container(auto, false, 100, 1000), Container::Riff);
        // Largest RIFF: riff size 0xFFFFFFFE.
        let max_data = u64::from(u32::MAX) - 1 + 8 - 100;
        assert_eq!(
            choose_container(auto, false, 100, max_data),
            Container::Riff
        );
        assert_eq!(
            choose_container(auto, false, 100, max_data + 2),
            Container::Rf64
        );
        assert_eq!(choose_container(auto, true, 100, four_gib), Container::Bw64);
        let small = Rf64Mode::Auto { threshold: 10 };
        assert_eq!(choose_container(small, false, 100, 10), Container::Riff);
        assert_eq!(choose_container(small, false, 100, 11), Container::Rf64);
        assert_eq!(
            choose_container(Rf64Mode::Always, true, 100, 0),
            Container::Bw64
        );
        assert_eq!(
            choose_container(Rf64Mode::Never, false, 100, 10),
            Container::Riff
        );
    }
}
