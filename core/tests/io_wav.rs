//! WAV/RF64/BW64 reader and writer: round-trips, hound interop, headers,
//! errors, dither.

mod io_support;

use dubstage_core::Error;
use dubstage_core::io::{
    Bext, BextLoudness, Container, OutputFormat, Rf64Mode, SampleFormat, WavReader, WavWriter,
    read_info,
};
use io_support::*;
use std::path::Path;

fn write(
    path: &Path,
    spec: dubstage_core::io::WavSpec,
    sig: &[Vec<f32>],
    block: usize,
) -> dubstage_core::io::WrittenFile {
    let mut w = WavWriter::create(path, spec).unwrap();
    let n = sig[0].len();
    let mut i = 0;
    while i < n {
        let e = (i + block).min(n);
        let chans: Vec<&[f32]> = sig.iter().map(|c| &c[i..e]).collect();
        w.write_planar(&chans).unwrap();
        i = e;
    }
    w.finish().unwrap()
}

#[test]
fn float32_round_trip_is_exact() {
    let d = scratch("float32_rt");
    for ch in [1usize, 2, 8] {
        let sig = signal(ch, 10_007, 0.9);
        let p = d.join(format!("f{ch}.wav"));
        let wf = write(&p, spec(ch as u16, OutputFormat::Float32), &sig, 4096);
        assert_eq!(wf.frames, 10_007);
        assert_eq!(wf.container, Container::Riff);
        assert_eq!(wf.bytes, std::fs::metadata(&p).unwrap().len());
        let info = read_info(&p).unwrap();
        assert_eq!(info.channels as usize, ch);
        assert_eq!(info.format, SampleFormat::Float(32));
        assert_eq!(info.frames, 10_007);
        assert_eq!(info.sample_rate, 48_000);
        let back = read_all(&p, 1000);
        assert_eq!(back, sig);
        for (c, s) in sig.iter().enumerate() {
            let peak = s.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert_eq!(wf.peak[c], peak);
        }
    }
}

/// PCM: every read-back sample lies on the LSB grid, within 1.5 LSB of the
/// input (TPDF ±1 LSB plus rounding), and the error has mean ~0 and the TPDF
/// total error power of 1/4 LSB² (1/12 rounding + 1/6 dither; Lipshitz et al. 1992).
#[test]
fn pcm_round_trips_with_tpdf_error() {
    let d = scratch("pcm_rt");
    for (fmt, bits) in [(OutputFormat::Pcm16, 16), (OutputFormat::Pcm24, 24)] {
        for ch in [1usize, 2, 6] {
            let n = 20_001;
            let sig = signal(ch, n, 0.5);
            let p = d.join(format!("p{bits}_{ch}.wav"));
            let wf = write(&p, spec(ch as u16, fmt), &sig, 3000);
            assert_eq!(wf.clipped, 0);
            let info = read_info(&p).unwrap();
            assert_eq!(info.format, SampleFormat::Int(bits));
            let back = read_all(&p, 777);
            let lsb = (1u64 << (bits - 1)) as f64;
            for c in 0..ch {
                assert_eq!(back[c].len(), n);
                let (mut s, mut s2) = (0.0, 0.0);
                let mut peak = 0f64;
                for (x, y) in sig[c].iter().zip(&back[c]) {
                    let code = f64::from(*y) * lsb;
                    assert_eq!(code, code.round(), "off the {bits}-bit grid");
                    let e = code - f64::from(*x) * lsb;
                    assert!(e.abs() < 1.5, "error {e} LSB");
                    s += e;
                    s2 += e * e;
                    peak = peak.max(code.abs());
                }
                let mean = s / n as f64;
                let var = s2 / n as f64 - mean * mean;
                assert!(mean.abs() < 0.02, "{bits}-bit mean error {mean}");
                assert!((var - 0.25).abs() < 0.02, "{bits}-bit error power {var}");
                assert_eq!(f64::from(wf.peak[c]), peak / lsb);
            }
        }
    }
}

/// Input already on the output grid: the quantized value differs by at most 1 LSB.
#[test]
fn dither_of_grid_values_stays_within_one_lsb() {
    let d = scratch("grid");
    let n = 50_000;
    let sig: Vec<f32> = (0..n)
        .map(|i| ((i % 2001) - 1000) as f32 / 32768.0)
        .collect();
    let p = d.join("g.wav");
    write(
        &p,
        spec(1, OutputFormat::Pcm16),
        std::slice::from_ref(&sig),
        5000,
    );
    let back = read_all(&p, 5000);
    let mut counts = [0usize; 3];
    for (x, y) in sig.iter().zip(&back[0]) {
        let e = ((y - x) * 32768.0).round() as i32;
        assert!((-1..=1).contains(&e), "error {e}");
        counts[(e + 1) as usize] += 1;
    }
    // P(±1) = 1/8 each for TPDF on the grid (area of the triangle beyond ±0.5).
    for k in [0, 2] {
        let p = counts[k] as f64 / n as f64;
        assert!((p - 0.125).abs() < 0.01, "P = {p}");
    }
}

#[test]
fn dither_is_deterministic_and_independent_of_blocking() {
    let d = scratch("determinism");
    let sig = signal(3, 30_000, 0.3);
    let a = write(&d.join("a.wav"), spec(3, OutputFormat::Pcm24), &sig, 4096);
    let b = write(&d.join("b.wav"), spec(3, OutputFormat::Pcm24), &sig, 999);
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(
        std::fs::read(d.join("a.wav")).unwrap(),
        std::fs::read(d.join("b.wav")).unwrap()
    );
    let mut s2 = spec(3, OutputFormat::Pcm24);
    s2.dither_seed = 2;
    let c = write(&d.join("c.wav"), s2, &sig, 4096);
    assert_ne!(a.sha256, c.sha256);
    // The sha256 is the file's.
    use sha2::Digest;
    let h = sha2::Sha256::digest(std::fs::read(d.join("a.wav")).unwrap());
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(a.sha256, hex);
}

#[test]
fn digital_silence_stays_silent() {
    // A silent channel beside a live one, and silence inside a live channel.
    let d = scratch("silence");
    let mut live = noise(3, 4000, 0.3);
    live[1000..2000].fill(0.0);
    let p = d.join("s.wav");
    let wf = write(
        &p,
        spec(2, OutputFormat::Pcm16),
        &[vec![0.0; 4000], live.clone()],
        1000,
    );
    assert_eq!(wf.peak[0], 0.0);
    let back = read_all(&p, 4000);
    assert!(back[0].iter().all(|&x| x == 0.0));
    assert!(back[1][1000..2000].iter().all(|&x| x == 0.0));
    // The rest is still dithered: same output as if the silence were elsewhere
    // (dither streams advance on silent samples too).
    let mut other = noise(3, 4000, 0.3);
    other[3000..3500].fill(0.0);
    let p2 = d.join("s2.wav");
    write(
        &p2,
        spec(2, OutputFormat::Pcm16),
        &[vec![0.0; 4000], other],
        1000,
    );
    let back2 = read_all(&p2, 4000);
    assert_eq!(back[1][..1000], back2[1][..1000]);
    assert_eq!(back[1][2000..3000], back2[1][2000..3000]);
}

#[test]
fn dither_streams_per_channel_are_independent() {
    // Identical input on two channels: the dithered outputs must differ.
    let d = scratch("indep");
    let x = noise(5, 10_000, 0.1);
    let p = d.join("i.wav");
    write(&p, spec(2, OutputFormat::Pcm16), &[x.clone(), x], 10_000);
    let back = read_all(&p, 10_000);
    let same = back[0].iter().zip(&back[1]).filter(|(a, b)| a == b).count();
    // P(equal) for two independent TPDF roundings is about 0.6; far from 1.
    assert!(same < 7_000, "{same} equal samples");
}

#[test]
fn clipping_and_non_finite_are_counted() {
    let d = scratch("clip");
    let x = vec![0.5, 1.0, -1.0, 1.5, -2.0, f32::NAN, f32::INFINITY, 0.0];
    let p = d.join("c16.wav");
    let wf = write(
        &p,
        spec(1, OutputFormat::Pcm16),
        std::slice::from_ref(&x),
        8,
    );
    // 1.0 is half an LSB above the largest code: clipped; -1.0 is exact.
    assert_eq!(wf.clipped, 3);
    assert_eq!(wf.non_finite, 2);
    let back = read_all(&p, 8);
    assert_eq!(back[0][3], 32767.0 / 32768.0);
    assert_eq!(back[0][4], -1.0);
    assert_eq!(back[0][5], 0.0);
    assert!(back[0][6].abs() <= 1.0 / 32768.0);
    assert_eq!(wf.peak[0], 1.0);
    let pf = d.join("cf.wav");
    let wf = write(
        &pf,
        spec(1, OutputFormat::Float32),
        std::slice::from_ref(&x),
        3,
    );
    assert_eq!((wf.clipped, wf.non_finite), (0, 2));
    assert_eq!(wf.peak[0], 2.0);
    assert_eq!(
        read_all(&pf, 8)[0],
        vec![0.5, 1.0, -1.0, 1.5, -2.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn hound_files_read_bit_exactly() {
    let d = scratch("hound_in");
    let n = 1001usize;
    for (bits, float, ch) in [
        (8u16, false, 1u16),
        (16, false, 2),
        (24, false, 6),
        (32, false, 2),
        (32, true, 8),
    ] {
        let p = d.join(format!("h{bits}{float}{ch}.wav"));
        let hs = hound::WavSpec {
            channels: ch,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(&p, hs).unwrap();
        let sig = signal(ch as usize, n, 0.99);
        let scale = (1i64 << (bits - 1)) as f32;
        let mut expect = vec![Vec::new(); ch as usize];
        for i in 0..n {
            for (c, s) in sig.iter().enumerate() {
                let x = s[i];
                if float {
                    w.write_sample(x).unwrap();
                    expect[c].push(x);
                } else {
                    let code = (f64::from(x) * f64::from(scale)).round() as i32;
                    if bits == 8 {
                        w.write_sample(code as i8).unwrap();
                    } else {
                        w.write_sample(code).unwrap();
                    }
                    expect[c].push((f64::from(code) / f64::from(scale)) as f32);
                }
            }
        }
        w.finalize().unwrap();
        let info = read_info(&p).unwrap();
        assert_eq!(info.channels, ch);
        assert_eq!(info.sample_rate, 44_100);
        assert_eq!(info.frames, n as u64);
        let want = if float {
            SampleFormat::Float(bits)
        } else {
            SampleFormat::Int(bits)
        };
        assert_eq!(info.format, want);
        assert_eq!(read_all(&p, 100), expect, "{bits} bits float={float}");
    }
}

#[test]
fn our_files_read_by_hound() {
    let d = scratch("hound_out");
    for (fmt, ch) in [
        (OutputFormat::Pcm16, 2u16),
        (OutputFormat::Pcm16, 6),
        (OutputFormat::Pcm24, 1),
        (OutputFormat::Pcm24, 8),
        (OutputFormat::Float32, 2),
        (OutputFormat::Float32, 6),
    ] {
        let p = d.join(format!("o{:?}{ch}.wav", fmt));
        let sig = signal(ch as usize, 3001, 0.7);
        let mut sp = spec(ch, fmt);
        sp.channel_mask = (1u32 << ch) - 1;
        write(&p, sp, &sig, 1000);
        let ours = read_all(&p, 3001);
        let mut r = hound::WavReader::open(&p).unwrap();
        let hs = r.spec();
        assert_eq!(hs.channels, ch);
        assert_eq!(hs.bits_per_sample, fmt.bits());
        let theirs: Vec<f32> = match fmt {
            OutputFormat::Float32 => r.samples::<f32>().map(|s| s.unwrap()).collect(),
            _ => {
                let scale = (1u64 << (fmt.bits() - 1)) as f32;
                r.samples::<i32>()
                    .map(|s| s.unwrap() as f32 / scale)
                    .collect()
            }
        };
        assert_eq!(theirs.len(), 3001 * ch as usize);
        for (i, v) in theirs.iter().enumerate() {
            assert_eq!(*v, ours[i % ch as usize][i / ch as usize]);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn seven_one_mask_is_in_the_header() {
    let d = scratch("mask");
    let p = d.join("71.wav");
    let mut sp = spec(8, OutputFormat::Pcm24);
    sp.channel_mask = 0x63F;
    write(&p, sp, &signal(8, 100, 0.1), 100);
    let b = std::fs::read(&p).unwrap();
    let fmt = find(&b, b"fmt ").unwrap();
    assert_eq!(&b[fmt + 4..fmt + 8], &40u32.to_le_bytes());
    assert_eq!(&b[fmt + 8..fmt + 10], &0xFFFEu16.to_le_bytes());
    assert_eq!(&b[fmt + 28..fmt + 32], &0x63Fu32.to_le_bytes());
    assert_eq!(&b[12..16], b"JUNK");
    let info = read_info(&p).unwrap();
    assert_eq!(info.channel_mask, Some(0x63F));
    // Stereo 16-bit stays plain WAVE_FORMAT_PCM.
    let p2 = d.join("st.wav");
    write(&p2, spec(2, OutputFormat::Pcm16), &signal(2, 10, 0.1), 10);
    let b = std::fs::read(&p2).unwrap();
    let fmt = find(&b, b"fmt ").unwrap();
    assert_eq!(&b[fmt + 8..fmt + 10], &1u16.to_le_bytes());
    assert_eq!(read_info(&p2).unwrap().channel_mask, None);
}

fn check_rf64_header(b: &[u8], magic: &[u8; 4], data_bytes: u64, frames: u64) {
    assert_eq!(&b[0..4], magic);
    assert_eq!(&b[4..8], &[0xFF; 4]);
    assert_eq!(&b[8..12], b"WAVE");
    assert_eq!(&b[12..16], b"ds64");
    assert_eq!(&b[16..20], &28u32.to_le_bytes());
    let riff = u64::from_le_bytes(b[20..28].try_into().unwrap());
    assert_eq!(riff, b.len() as u64 - 8);
    assert_eq!(
        u64::from_le_bytes(b[28..36].try_into().unwrap()),
        data_bytes
    );
    assert_eq!(u64::from_le_bytes(b[36..44].try_into().unwrap()), frames);
    let data = find(b, b"data").unwrap();
    assert_eq!(&b[data + 4..data + 8], &[0xFF; 4]);
}

#[test]
fn rf64_and_bw64_above_threshold() {
    let d = scratch("rf64");
    let n = 4801usize;
    let sig = signal(6, n, 0.5);
    for bw64 in [false, true] {
        let p = d.join(if bw64 { "b.wav" } else { "r.wav" });
        let mut sp = spec(6, OutputFormat::Pcm24);
        sp.rf64 = Rf64Mode::Auto { threshold: 1000 };
        sp.bw64 = bw64;
        sp.channel_mask = 0x3F;
        let wf = write(&p, sp, &sig, 1000);
        let want = if bw64 {
            Container::Bw64
        } else {
            Container::Rf64
        };
        assert_eq!(wf.container, want);
        let b = std::fs::read(&p).unwrap();
        check_rf64_header(
            &b,
            if bw64 { b"BW64" } else { b"RF64" },
            (n * 18) as u64,
            n as u64,
        );
        let info = read_info(&p).unwrap();
        assert_eq!(info.container, want);
        assert_eq!(info.frames, n as u64);
        assert_eq!(info.channel_mask, Some(0x3F));
        // Same samples as a plain RIFF written with the same seed.
        let pr = d.join(format!("riff{bw64}.wav"));
        let mut sr = spec(6, OutputFormat::Pcm24);
        sr.channel_mask = 0x3F;
        write(&pr, sr, &sig, 1000);
        assert_eq!(read_all(&p, 999), read_all(&pr, 4801));
        if have("ffprobe") {
            let out = run(std::process::Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=channels,sample_rate,duration_ts,codec_name:format=format_name",
                    "-of",
                    "default=nw=1",
                ])
                .arg(&p));
            assert!(out.contains("channels=6"), "{out}");
            assert!(out.contains("duration_ts=4801"), "{out}");
            assert!(out.contains("codec_name=pcm_s24le"), "{out}");
            assert!(out.contains("sample_rate=48000"), "{out}");
        }
    }
    // Below the threshold: plain RIFF; Always: RF64 even when tiny.
    let p = d.join("small.wav");
    let mut sp = spec(1, OutputFormat::Float32);
    sp.rf64 = Rf64Mode::Auto { threshold: 1000 };
    assert_eq!(
        write(&p, sp.clone(), &signal(1, 250, 0.1), 250).container,
        Container::Riff
    );
    sp.rf64 = Rf64Mode::Always;
    let wf = write(&p, sp, &signal(1, 250, 0.1), 100);
    assert_eq!(wf.container, Container::Rf64);
    check_rf64_header(&std::fs::read(&p).unwrap(), b"RF64", 1000, 250);
    assert_eq!(read_all(&p, 1000), signal(1, 250, 0.1));
}

#[test]
fn rf64_written_by_ffmpeg_is_read() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("rf64_ffmpeg");
    let src = d.join("src.wav");
    let sig = signal(2, 2000, 0.5);
    write(&src, spec(2, OutputFormat::Float32), &sig, 2000);
    let out = d.join("ff.wav");
    run(std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&src)
        .args(["-c:a", "pcm_f32le", "-rf64", "always"])
        .arg(&out));
    assert_eq!(&std::fs::read(&out).unwrap()[0..4], b"RF64");
    let info = read_info(&out).unwrap();
    assert_eq!(info.container, Container::Rf64);
    assert_eq!(info.frames, 2000);
    assert_eq!(read_all(&out, 300), sig);
}

fn sample_bext() -> Bext {
    Bext {
        description: "Reel 2 printmaster 5.1".into(),
        originator: "dubstage".into(),
        originator_reference: "DUBSTAGE-R2".into(),
        origination_date: "2026-11-24".into(),
        origination_time: "01-30-00".into(),
        time_reference: 48_000 * 3600 * 2,
        version: 2,
        loudness: BextLoudness::default(),
        coding_history: "A=PCM,F=48000,W=24,M=multi,T=dubstage\r\n".into(),
    }
}

#[test]
fn bext_round_trip_and_late_loudness() {
    let d = scratch("bext");
    let p = d.join("bext.wav");
    let mut sp = spec(2, OutputFormat::Pcm24);
    sp.bext = Some(sample_bext());
    let mut w = WavWriter::create(&p, sp).unwrap();
    let sig = signal(2, 500, 0.2);
    w.write_planar(&[&sig[0], &sig[1]]).unwrap();
    let mut b = sample_bext();
    b.loudness = BextLoudness {
        integrated_lufs: Some(-27.03),
        range_lu: Some(9.5),
        max_true_peak_dbtp: Some(-2.0),
        max_momentary_lufs: None,
        max_short_term_lufs: Some(-20.25),
    };
    b.coding_history
        .push_str("A=PCM,F=48000,W=24,M=stereo,T=loudness measured\r\n");
    w.set_bext(b.clone()).unwrap();
    let mut too_long = b.clone();
    too_long.coding_history = "x".repeat(5000);
    assert!(w.set_bext(too_long).is_err());
    w.finish().unwrap();
    let info = read_info(&p).unwrap();
    let got = info.bext.unwrap();
    assert_eq!(got, b);
    // Without a reservation set_bext is refused.
    let mut w = WavWriter::create(&d.join("nob.wav"), spec(1, OutputFormat::Pcm16)).unwrap();
    assert!(matches!(w.set_bext(b.clone()), Err(Error::Output { .. })));
    drop(w);

    if have("ffprobe") {
        let out = run(std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_format", "-of", "default=nw=1"])
            .arg(&p));
        // ffmpeg's wav demuxer maps Description to 'comment', Originator to
        // 'encoded_by' and OriginationDate to 'date'.
        assert!(out.contains("TAG:comment=Reel 2 printmaster 5.1"), "{out}");
        assert!(out.contains("TAG:time_reference=345600000"), "{out}");
        assert!(out.contains("TAG:encoded_by=dubstage"), "{out}");
        assert!(
            out.contains("TAG:originator_reference=DUBSTAGE-R2"),
            "{out}"
        );
        assert!(out.contains("TAG:date=2026-11-24"), "{out}");
        assert!(out.contains("T=loudness measured"), "{out}");
    }
}

#[test]
fn sox_reads_our_files() {
    if !have("sox") {
        return;
    }
    let d = scratch("sox");
    let p = d.join("s.wav");
    let mut sp = spec(6, OutputFormat::Pcm24);
    sp.channel_mask = 0x3F;
    sp.bext = Some(sample_bext());
    write(&p, sp, &signal(6, 48_000, 0.2), 10_000);
    let out = run(std::process::Command::new("sox").arg("--i").arg(&p));
    assert!(out.contains("Channels       : 6"), "{out}");
    assert!(out.contains("Sample Rate    : 48000"), "{out}");
    assert!(out.contains("Precision      : 24-bit"), "{out}");
    assert!(out.contains("48000 samples"), "{out}");
    // RF64: sox decodes it to the same samples as our reader.
    let r = d.join("r.wav");
    let mut sp = spec(2, OutputFormat::Pcm16);
    sp.rf64 = Rf64Mode::Always;
    write(&r, sp, &signal(2, 1000, 0.4), 1000);
    let raw = d.join("r.raw");
    run(std::process::Command::new("sox")
        .arg(&r)
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16"])
        .arg(&raw));
    let raw = std::fs::read(&raw).unwrap();
    let ours = read_all(&r, 1000);
    assert_eq!(raw.len(), 4000);
    for (i, s) in raw.chunks_exact(2).enumerate() {
        let v = f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0;
        assert_eq!(v, ours[i % 2][i / 2]);
    }
}

#[test]
fn truncated_file_is_an_error_naming_it() {
    let d = scratch("trunc");
    let p = d.join("cut.wav");
    write(
        &p,
        spec(2, OutputFormat::Pcm16),
        &signal(2, 1000, 0.3),
        1000,
    );
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    let e = WavReader::open(&p).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("cut.wav"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    assert!(msg.contains("4000") && msg.contains("3900"), "{msg}");
}

#[test]
fn malformed_files_give_clear_errors() {
    let d = scratch("bad");
    let err = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let m = WavReader::open(&p).unwrap_err().to_string();
        assert!(m.contains(name), "{m}");
        m
    };
    assert!(err("text.wav", b"hello, this is not audio").contains("not a WAV"));
    assert!(err("short.wav", b"RIF").contains("not a WAV"));
    assert!(err("avi.wav", b"RIFF\x04\0\0\0AVI ").contains("expected WAVE"));
    // A fmt chunk of WAVE_FORMAT_PCM 16-bit mono.
    let fmt = |tag: u16, ch: u16, align: u16, bits: u16| {
        let mut f = b"fmt \x10\0\0\0".to_vec();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&ch.to_le_bytes());
        f.extend_from_slice(&48_000u32.to_le_bytes());
        f.extend_from_slice(&(48_000 * u32::from(align)).to_le_bytes());
        f.extend_from_slice(&align.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f
    };
    let riff = |chunks: &[&[u8]]| {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(&body);
        v
    };
    let data = b"data\x04\0\0\0\x01\0\x02\0";
    assert!(err("nofmt.wav", &riff(&[data])).contains("no 'fmt '"));
    assert!(err("nodata.wav", &riff(&[&fmt(1, 1, 2, 16)])).contains("no 'data'"));
    assert!(err("adpcm.wav", &riff(&[&fmt(2, 1, 2, 16), data])).contains("format tag 0x0002"));
    assert!(err("b20.wav", &riff(&[&fmt(1, 1, 3, 20), data])).contains("20 bits"));
    assert!(err("f16.wav", &riff(&[&fmt(3, 1, 2, 16), data])).contains("float"));
    assert!(err("align.wav", &riff(&[&fmt(1, 2, 2, 16), data])).contains("block align"));
    // An odd-sized unknown chunk with its pad byte before fmt/data is skipped.
    let ok = d.join("odd.wav");
    std::fs::write(
        &ok,
        riff(&[b"LIST\x03\0\0\0abc\0", &fmt(1, 1, 2, 16), data]),
    )
    .unwrap();
    assert_eq!(read_all(&ok, 10), vec![vec![1.0 / 32768.0, 2.0 / 32768.0]]);
    // A missing file is an I/O error naming it.
    let m = WavReader::open(&d.join("absent.wav"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("absent.wav"), "{m}");
}

#[test]
fn odd_data_gets_a_pad_byte() {
    let d = scratch("pad");
    let p = d.join("m24.wav");
    let mut sp = spec(1, OutputFormat::Pcm24);
    sp.bext = Some(sample_bext());
    let wf = write(&p, sp, &signal(1, 101, 0.1), 50);
    let len = std::fs::metadata(&p).unwrap().len();
    assert_eq!(len % 2, 0);
    assert_eq!(wf.bytes, len);
    let b = std::fs::read(&p).unwrap();
    assert_eq!(
        u32::from_le_bytes(b[4..8].try_into().unwrap()) as u64,
        len - 8
    );
    assert_eq!(read_info(&p).unwrap().frames, 101);
    let mut r = hound::WavReader::open(&p).unwrap();
    assert_eq!(r.samples::<i32>().count(), 101);
}

#[test]
fn seek_and_partial_reads() {
    let d = scratch("seek");
    let p = d.join("s.wav");
    let sig = signal(3, 1000, 0.5);
    write(&p, spec(3, OutputFormat::Float32), &sig, 1000);
    let mut r = WavReader::open(&p).unwrap();
    let mut buf = vec![Vec::new(); 3];
    r.seek(990).unwrap();
    assert_eq!(r.read_planar(&mut buf, 100).unwrap(), 10);
    assert_eq!(buf[2], sig[2][990..]);
    assert_eq!(r.read_planar(&mut buf, 100).unwrap(), 0);
    assert!(buf[0].is_empty());
    r.seek(5000).unwrap();
    assert_eq!(r.read_planar(&mut buf, 100).unwrap(), 0);
    r.seek(17).unwrap();
    assert_eq!(r.read_planar(&mut buf, 3).unwrap(), 3);
    assert_eq!(buf[1], sig[1][17..20]);
    assert!(r.read_planar(&mut [Vec::new()], 3).is_err());
}

#[test]
fn unfinished_writer_leaves_nothing_and_finish_renames() {
    let d = scratch("atomic");
    let p = d.join("out.wav");
    {
        let mut w = WavWriter::create(&p, spec(2, OutputFormat::Pcm24)).unwrap();
        w.write_planar(&[&[0.1; 10], &[0.2; 10]]).unwrap();
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "temp file exists while writing"
        );
        assert!(!p.exists());
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    let wf = write(&p, spec(2, OutputFormat::Pcm24), &signal(2, 10, 0.1), 10);
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.wav")]);
    assert_eq!(wf.path, p);
    // Mismatched channel slices are refused.
    let mut w = WavWriter::create(&p, spec(2, OutputFormat::Pcm24)).unwrap();
    assert!(w.write_planar(&[&[0.0; 3]]).is_err());
    assert!(w.write_planar(&[&[0.0; 3], &[0.0; 2]]).is_err());
    // A folder that does not exist: Error::Output naming the file.
    let e = WavWriter::create(&d.join("nope/x.wav"), spec(1, OutputFormat::Pcm16)).unwrap_err();
    assert!(matches!(e, Error::Output { .. }));
    assert!(e.to_string().contains("x.wav"));
}

/// Files written by an independent writer (ffmpeg): 64-bit float, 8-bit,
/// WAVE_FORMAT_EXTENSIBLE float with a 5.1 mask, and a bext chunk.
#[test]
fn ffmpeg_written_files_are_read() {
    if !have("ffmpeg") {
        return;
    }
    let d = scratch("ffmpeg_in");
    let src = d.join("src.wav");
    let sig = signal(6, 3000, 0.5);
    let mut sp = spec(6, OutputFormat::Float32);
    sp.channel_mask = 0x3F;
    write(&src, sp, &sig, 3000);
    let conv = |name: &str, args: &[&str]| {
        let out = d.join(name);
        run(std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&src)
            .args(args)
            .arg(&out));
        out
    };
    // f32 -> f64 -> f32 is exact.
    let f64p = conv("f64.wav", &["-c:a", "pcm_f64le"]);
    let info = read_info(&f64p).unwrap();
    assert_eq!(info.format, SampleFormat::Float(64));
    assert_eq!(info.channel_mask, Some(0x3F));
    assert_eq!(read_all(&f64p, 1000), sig);
    // ffmpeg's own 32-bit float (extensible, mask from the 5.1 layout).
    let f32p = conv("f32.wav", &["-c:a", "pcm_f32le"]);
    assert_eq!(read_info(&f32p).unwrap().channel_mask, Some(0x3F));
    assert_eq!(read_all(&f32p, 1000), sig);
    // 8-bit unsigned: codes within 1 LSB (ffmpeg rounds, no dither) of the source.
    let u8p = conv("u8.wav", &["-c:a", "pcm_u8"]);
    assert_eq!(read_info(&u8p).unwrap().format, SampleFormat::Int(8));
    let back = read_all(&u8p, 1000);
    for (a, b) in back.iter().flatten().zip(sig.iter().flatten()) {
        assert_eq!(a * 128.0, (a * 128.0).round());
        assert!((a - b).abs() <= 1.0 / 128.0, "{a} vs {b}");
    }
    // bext written by ffmpeg (-write_bext with metadata).
    let bw = conv(
        "bext.wav",
        &[
            "-c:a",
            "pcm_s24le",
            "-write_bext",
            "1",
            "-metadata",
            "description=Reel 3 M&E",
            "-metadata",
            "originator=ffmpeg test",
            "-metadata",
            "time_reference=172800000",
            "-metadata",
            "coding_history=A=PCM,F=48000,W=24\r\n",
        ],
    );
    let info = read_info(&bw).unwrap();
    let b = info.bext.expect("bext");
    assert_eq!(b.description, "Reel 3 M&E");
    assert_eq!(b.originator, "ffmpeg test");
    assert_eq!(b.time_reference, 172_800_000);
    assert!(b.coding_history.starts_with("A=PCM,F=48000,W=24"), "{b:?}");
    assert_eq!(info.format, SampleFormat::Int(24));
    assert_eq!(info.frames, 3000);
}

/// Damaged headers and cut files never panic: every one either opens (and
/// then reads to its end or to an error) or is refused with an error naming
/// the file.
#[test]
fn damaged_files_never_panic() {
    let d = scratch("damage");
    let p = d.join("damaged.wav");
    let probe = |b: &[u8]| {
        std::fs::write(&p, b).unwrap();
        match WavReader::open(&p) {
            Ok(mut r) => {
                let mut buf = vec![Vec::new(); r.info().channels as usize];
                while let Ok(n) = r.read_planar(&mut buf, 7) {
                    if n == 0 {
                        break;
                    }
                }
            }
            Err(e) => assert!(e.to_string().contains("damaged.wav"), "{e}"),
        }
    };
    // RF64 (ds64, extensible fmt): every header byte damaged, every cut.
    let good = d.join("rf64.wav");
    let mut sp = spec(3, OutputFormat::Pcm24);
    sp.channel_mask = 0x7;
    sp.rf64 = Rf64Mode::Always;
    write(&good, sp, &signal(3, 20, 0.5), 20);
    let bytes = std::fs::read(&good).unwrap();
    let data_at = find(&bytes, b"data").unwrap() + 8;
    for len in (0..data_at + 8).chain((data_at + 8..bytes.len()).step_by(7)) {
        probe(&bytes[..len]);
    }
    for i in 0..data_at {
        for v in [0x00, 0xFF, bytes[i] ^ 0x01] {
            let mut b = bytes.clone();
            b[i] = v;
            probe(&b);
        }
    }
    // bext: its chunk header, version and the cut inside it.
    let good = d.join("bext.wav");
    let mut sp = spec(1, OutputFormat::Pcm16);
    sp.bext = Some(sample_bext());
    write(&good, sp, &signal(1, 20, 0.5), 20);
    let bytes = std::fs::read(&good).unwrap();
    let at = find(&bytes, b"bext").unwrap();
    for i in (at..at + 8).chain(at + 8 + 346..at + 8 + 348) {
        for v in [0x00, 0xFF, bytes[i] ^ 0x01] {
            let mut b = bytes.clone();
            b[i] = v;
            probe(&b);
        }
    }
    for len in [at + 4, at + 8, at + 300, at + 8 + 601, at + 8 + 602] {
        probe(&bytes[..len]);
    }
}

/// SHA-256 of a file, lower-case hex.
fn file_sha(p: &Path) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(std::fs::read(p).unwrap());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn expect_frames_hashes_while_writing_and_falls_back_when_wrong_with_background_sync() {
    let d = scratch("expect");
    // (channels, format, frames, bext, rf64 threshold): RIFF float, odd PCM24
    // with a pad byte and a bext, RF64 above a small threshold.
    let cases = [
        (6usize, OutputFormat::Float32, 10_000usize, false, None),
        (1, OutputFormat::Pcm24, 101, true, None),
        (6, OutputFormat::Pcm24, 4801, false, Some(1000u64)),
    ];
    for (k, &(ch, fmt, n, bext, thr)) in cases.iter().enumerate() {
        let mut sig = signal(ch, n, 0.5);
        sig[0][7] = f32::NAN;
        sig[ch - 1][n - 1] = f32::INFINITY;
        let mk = || {
            let mut sp = spec(ch as u16, fmt);
            if bext {
                sp.bext = Some(sample_bext());
            }
            if let Some(t) = thr {
                sp.rf64 = Rf64Mode::Auto { threshold: t };
            }
            sp
        };
        let plain = write(&d.join(format!("plain{k}.wav")), mk(), &sig, 777);
        for announced in [n as u64, n as u64 + 1, n as u64 - 1] {
            let p = d.join(format!("exp{k}_{announced}.wav"));
            let w = WavWriter::builder(&p, mk()).expect_frames(announced);
            let mut w = if announced == n as u64 {
                // small enough to sync in the background many times
                let mut w = w.sync_every(10_000).create().unwrap();
                w.sync_as_you_go(10_000).unwrap();
                w
            } else {
                w.create().unwrap()
            };
            let mut i = 0;
            while i < n {
                let e = (i + 777).min(n);
                let chans: Vec<&[f32]> = sig.iter().map(|c| &c[i..e]).collect();
                w.write_planar(&chans).unwrap();
                i = e;
            }
            let wf = w.finish().unwrap();
            assert_eq!(wf.sha256, file_sha(&p), "case {k}, announced {announced}");
            assert_eq!(wf.sha256, plain.sha256, "case {k}: same file as without");
            assert_eq!(wf.bytes, plain.bytes);
            assert_eq!(wf.container, plain.container);
            assert_eq!(wf.peak, plain.peak);
            assert_eq!(wf.non_finite, 2);
        }
    }
    // Announcing the length once frames are written does not compile (the builder's
    // types; see the compile_fail examples in core/src/io/wav/builder.rs).
}

/// Long deliverables are written unbuffered (O_DIRECT on Linux, from aligned buffers,
/// with the header's page and the tail through the page cache): the file's bytes and
/// hash are those of the buffered writer, for data that ends inside the header's page,
/// on a stage boundary, and past several stages with an odd tail, in 24-bit (odd frame
/// size) and float.
#[test]
fn unbuffered_writes_give_the_same_bytes() {
    let d = scratch("unbuffered");
    let stage_frames_f32 = (1usize << 20) / (6 * 4);
    for (format, frames, block) in [
        (OutputFormat::Float32, 100, 64),
        (OutputFormat::Float32, stage_frames_f32, 32768),
        (OutputFormat::Float32, 3 * stage_frames_f32 + 777, 30000),
        (OutputFormat::Pcm24, 1_000_003, 32768),
    ] {
        let sig = signal(6, frames, 0.7);
        let mut out = Vec::new();
        for unbuffered in [false, true] {
            let p = d.join(format!("u{unbuffered}_{frames}.wav"));
            let mut w = WavWriter::builder(&p, spec(6, format))
                .expect_frames(frames as u64)
                .create()
                .unwrap();
            if unbuffered {
                assert!(w.force_unbuffered() || !cfg!(target_os = "linux"));
            }
            let mut i = 0;
            while i < frames {
                let e = (i + block).min(frames);
                let chans: Vec<&[f32]> = sig.iter().map(|c| &c[i..e]).collect();
                w.write_planar(&chans).unwrap();
                i = e;
            }
            let wf = w.finish().unwrap();
            out.push((std::fs::read(&p).unwrap(), wf.sha256, wf.bytes));
        }
        assert_eq!(out[0].2, out[1].2, "{frames} frames: sizes");
        assert!(out[0].0 == out[1].0, "{frames} frames: bytes differ");
        assert_eq!(out[0].1, out[1].1, "{frames} frames: hashes");
    }
}
