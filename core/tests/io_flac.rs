//! FLAC input through `io::AudioReader`: decoded bit-exactly against the WAV
//! it was encoded from (by ffmpeg and by sox), seeks, errors.

mod io_support;

use dubstage_core::io::{AudioReader, Container, OutputFormat, SampleFormat, WavWriter, read_info};
use io_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a WAV source with our writer.
fn source(dir: &Path, name: &str, ch: u16, fmt: OutputFormat, mask: u32, n: usize) -> PathBuf {
    let p = dir.join(name);
    let mut sp = spec(ch, fmt);
    sp.channel_mask = mask;
    let sig = signal(ch as usize, n, 0.8);
    let mut w = WavWriter::create(&p, sp).unwrap();
    let refs: Vec<&[f32]> = sig.iter().map(|c| c.as_slice()).collect();
    for k in (0..n).step_by(7000) {
        let e = (k + 7000).min(n);
        let part: Vec<&[f32]> = refs.iter().map(|c| &c[k..e]).collect();
        w.write_planar(&part).unwrap();
    }
    w.finish().unwrap();
    p
}

fn read_all_any(path: &Path, block: usize) -> Vec<Vec<f32>> {
    let mut r = AudioReader::open(path).unwrap();
    let ch = r.info().channels as usize;
    let mut all = vec![Vec::new(); ch];
    let mut buf = vec![Vec::new(); ch];
    loop {
        let n = r.read_planar(&mut buf, block).unwrap();
        if n == 0 {
            break;
        }
        for c in 0..ch {
            all[c].extend_from_slice(&buf[c]);
        }
    }
    all
}

fn ffmpeg_flac(src: &Path, dst: &Path) {
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(src)
        .args(["-c:a", "flac"])
        .arg(dst));
}

#[test]
fn ffmpeg_flac_decodes_bit_exactly() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("flac_ffmpeg");
    for (fmt, bits, ch, mask) in [
        (OutputFormat::Pcm16, 16u16, 2u16, 0x3u32),
        (OutputFormat::Pcm24, 24, 2, 0x3),
        (OutputFormat::Pcm24, 24, 6, 0x3F),
        (OutputFormat::Pcm16, 16, 8, 0x63F),
    ] {
        let n = 30_011;
        let wav = source(&d, &format!("s{bits}_{ch}.wav"), ch, fmt, mask, n);
        let flac = d.join(format!("s{bits}_{ch}.flac"));
        ffmpeg_flac(&wav, &flac);
        let info = read_info(&flac).unwrap();
        assert_eq!(info.container, Container::Flac);
        assert_eq!(info.channels, ch);
        assert_eq!(info.sample_rate, 48_000);
        assert_eq!(info.frames, n as u64);
        assert_eq!(info.format, SampleFormat::Int(bits));
        assert_eq!(info.channel_mask, Some(mask), "{bits} bits {ch} ch");
        let want = read_all(&wav, 4096);
        assert_eq!(read_all_any(&flac, 4096), want, "{bits} bits {ch} ch");
        assert_eq!(
            read_all_any(&flac, 1),
            want.iter().map(|c| c.to_vec()).collect::<Vec<_>>()
        );
        // AudioReader on the WAV is the WAV reader.
        assert_eq!(read_all_any(&wav, 999), want);
    }
}

#[test]
fn sox_flac_decodes_bit_exactly() {
    if !have("sox") {
        return;
    }
    let d = scratch("flac_sox");
    let n = 12_345;
    let wav = source(&d, "s.wav", 2, OutputFormat::Pcm24, 0x3, n);
    let flac = d.join("s.flac");
    run(Command::new("sox").arg(&wav).arg(&flac));
    let info = read_info(&flac).unwrap();
    assert_eq!((info.channels, info.frames), (2, n as u64));
    assert_eq!(info.format, SampleFormat::Int(24));
    assert_eq!(read_all_any(&flac, 5000), read_all(&wav, 5000));
}

#[test]
fn flac_seek_is_sample_accurate() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("flac_seek");
    let n = 100_000;
    let wav = source(&d, "s.wav", 3, OutputFormat::Pcm16, 0x7, n);
    let flac = d.join("s.flac");
    ffmpeg_flac(&wav, &flac);
    let want = read_all(&wav, n);
    let mut r = AudioReader::open(&flac).unwrap();
    let mut buf = vec![Vec::new(); 3];
    for at in [50_000u64, 17, 99_990, 4096, 4095, 0, 77_777] {
        r.seek(at).unwrap();
        assert_eq!(r.position(), at);
        let k = r.read_planar(&mut buf, 300).unwrap();
        let end = (at as usize + 300).min(n);
        assert_eq!(k, end - at as usize);
        for c in 0..3 {
            assert_eq!(buf[c], want[c][at as usize..end], "seek to {at}");
        }
    }
    r.seek(u64::MAX).unwrap();
    assert_eq!(r.read_planar(&mut buf, 10).unwrap(), 0);
}

#[test]
fn truncated_or_corrupt_flac_is_an_error() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("flac_bad");
    let wav = source(&d, "s.wav", 2, OutputFormat::Pcm16, 0x3, 48_000);
    let flac = d.join("s.flac");
    ffmpeg_flac(&wav, &flac);
    let bytes = std::fs::read(&flac).unwrap();
    let read_err = |p: &Path| -> String {
        let mut r = match AudioReader::open(p) {
            Ok(r) => r,
            Err(e) => return e.to_string(),
        };
        let mut buf = vec![Vec::new(); 2];
        loop {
            match r.read_planar(&mut buf, 4096) {
                Ok(0) => panic!("{} read to the end without error", p.display()),
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
    };
    let cut = d.join("cut.flac");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let m = read_err(&cut);
    assert!(m.contains("cut.flac"), "{m}");
    assert!(m.contains("truncated"), "{m}");
    // Flip bits inside the audio frames: frame CRC or the MD5 must catch it.
    let bad = d.join("bad.flac");
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    for x in &mut b[mid..mid + 8] {
        *x ^= 0x55;
    }
    std::fs::write(&bad, &b).unwrap();
    let m = read_err(&bad);
    assert!(m.contains("bad.flac"), "{m}");
    assert!(m.contains("corrupt or missing audio at frame"), "{m}");
}

#[test]
fn unknown_content_is_refused_by_content_not_extension() {
    let d = scratch("flac_magic");
    let p = d.join("song.flac");
    std::fs::write(&p, b"OggS not flac at all").unwrap();
    let m = AudioReader::open(&p).unwrap_err().to_string();
    assert!(m.contains("song.flac") && m.contains("not a WAV"), "{m}");
    // A WAV named .flac is read as WAV.
    let w = source(&d, "x.flac", 1, OutputFormat::Float32, 0, 100);
    assert_eq!(read_info(&w).unwrap().container, Container::Riff);
    let e = d.join("empty.wav");
    std::fs::write(&e, b"").unwrap();
    assert!(
        AudioReader::open(&e)
            .unwrap_err()
            .to_string()
            .contains("empty.wav")
    );
}

/// Damaged FLAC headers and frames never panic: open and read give either
/// audio or an error naming the file.
#[test]
fn damaged_flac_never_panics() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("flac_damage");
    let wav = source(&d, "s.wav", 2, OutputFormat::Pcm16, 0x3, 9000);
    let flac = d.join("s.flac");
    ffmpeg_flac(&wav, &flac);
    let bytes = std::fs::read(&flac).unwrap();
    let p = d.join("damaged.flac");
    let probe = |b: &[u8]| {
        std::fs::write(&p, b).unwrap();
        match AudioReader::open(&p) {
            Ok(mut r) => {
                let mut buf = vec![Vec::new(); r.info().channels as usize];
                while let Ok(n) = r.read_planar(&mut buf, 1000) {
                    if n == 0 {
                        break;
                    }
                }
            }
            Err(e) => assert!(e.to_string().contains("damaged.flac"), "{e}"),
        }
    };
    // fLaC marker + STREAMINFO block (4 + 4 + 34 bytes) and the first frame header.
    let hdr = 42 + 16;
    for i in 4..hdr.min(bytes.len()) {
        for v in [0x00, 0xFF, bytes[i] ^ 0x01] {
            let mut b = bytes.clone();
            b[i] = v;
            probe(&b);
        }
    }
    for len in (0..hdr).chain((hdr..bytes.len()).step_by(997)) {
        probe(&bytes[..len]);
    }
}

/// A seek table out of order (points by sample not ascending, byte offsets going back
/// and past the end: what the fuzzer found, `fuzz/regressions/flac/`) is not trusted:
/// seeks decode from the start and stay sample accurate, instead of the demuxer's binary
/// search underflowing between the points.
#[test]
fn flac_with_a_disordered_seek_table_still_seeks_sample_accurately() {
    assert!(
        have("ffmpeg"),
        "ffmpeg is needed (scripts/test-deps.sh installs it)"
    );
    let d = scratch("flac_bad_seektable");
    let n = 100_000;
    let wav = source(&d, "s.wav", 2, OutputFormat::Pcm16, 0x3, n);
    let flac = d.join("s.flac");
    ffmpeg_flac(&wav, &flac);
    // ffmpeg leaves a PADDING block: make its first 36 bytes a SEEKTABLE of two points
    // in the wrong order, and the rest padding again.
    let mut bytes = std::fs::read(&flac).unwrap();
    let mut i = 4;
    let pad = loop {
        let n = u32::from_be_bytes([0, bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
        if bytes[i] & 0x7f == 1 {
            break (i, n);
        }
        assert_eq!(bytes[i] & 0x80, 0, "ffmpeg wrote no PADDING block");
        i += 4 + n;
    };
    let (at, len) = pad;
    assert!(len >= 40);
    let last = bytes[at] & 0x80;
    bytes[at] = 3;
    bytes[at + 1..at + 4].copy_from_slice(&36u32.to_be_bytes()[1..]);
    let mut points = Vec::new();
    for (sample, offset) in [(90_000u64, 4_000u64), (10, 1 << 40)] {
        points.extend_from_slice(&sample.to_be_bytes());
        points.extend_from_slice(&offset.to_be_bytes());
        points.extend_from_slice(&4096u16.to_be_bytes());
    }
    bytes[at + 4..at + 40].copy_from_slice(&points);
    let rest = (len - 40) as u32;
    bytes[at + 40] = 1 | last;
    bytes[at + 41..at + 44].copy_from_slice(&rest.to_be_bytes()[1..]);
    std::fs::write(&flac, &bytes).unwrap();
    let want = read_all(&wav, n);
    let mut r = AudioReader::open(&flac).unwrap();
    let mut buf = vec![Vec::new(); 2];
    for at in [50_000u64, 17, 99_990, 4095, 0, 77_777] {
        r.seek(at).unwrap();
        let k = r.read_planar(&mut buf, 300).unwrap();
        let end = (at as usize + 300).min(n);
        assert_eq!(k, end - at as usize);
        for c in 0..2 {
            assert_eq!(buf[c], want[c][at as usize..end], "seek to {at}");
        }
    }
}
