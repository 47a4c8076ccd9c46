//! `measure_file`: a WAV file streamed through the CPU backend's analyzer into the meter.

use dubstage_core::backend::Backend;
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::io::{OutputFormat, Rf64Mode, WavSpec, WavWriter};
use dubstage_core::layout::Layout;
use dubstage_core::loudness::{MeasureOptions, measure_file};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dubstage-loud-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn write(path: &Path, chans: &[Vec<f32>], mask: u32, format: OutputFormat) {
    let mut w = WavWriter::create(
        path,
        WavSpec {
            channels: chans.len() as u16,
            sample_rate: 48_000,
            format,
            channel_mask: mask,
            bext: None,
            rf64: Rf64Mode::Never,
            bw64: false,
            dither_seed: 1,
        },
    )
    .unwrap();
    let p: Vec<&[f32]> = chans.iter().map(|c| &c[..]).collect();
    w.write_planar(&p).unwrap();
    w.finish().unwrap();
}

fn sine(db: f64, secs: f64) -> Vec<f32> {
    let a = 10f64.powf(db / 20.0);
    (0..(secs * 48_000.0) as usize)
        .map(|i| (a * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin()) as f32)
        .collect()
}

#[test]
fn measures_a_stereo_file_and_does_not_depend_on_block_size() {
    let p = tmp("stereo.wav");
    let x = sine(-23.0, 12.0);
    write(&p, &[x.clone(), x], 0x3, OutputFormat::Float32);
    let be = CpuBackend::new();
    let m = measure_file(&p, &MeasureOptions::default(), &|c| be.summary_analyzer(c)).unwrap();
    assert_eq!(m.file, p);
    assert_eq!((m.channels, m.sample_rate, m.frames), (2, 48_000, 576_000));
    assert_eq!(m.true_peak_oversample, 4);
    let s = &m.summary;
    assert!((s.integrated_lufs.unwrap() + 23.0).abs() < 0.05, "{s:?}");
    assert!((s.max_short_term_lufs.unwrap() + 23.0).abs() < 0.05);
    assert!((s.sample_peak_dbfs.unwrap() + 23.0).abs() < 0.01);
    assert!((s.true_peak_dbtp.unwrap() + 23.0).abs() < 0.05);
    assert!(s.loudness_range_lu.unwrap() < 0.1);
    assert_eq!(s.channels, vec!["L", "R"]);
    assert!(s.timeline.is_none());
    let small = MeasureOptions {
        block_frames: 1000,
        timeline: true,
        ..MeasureOptions::default()
    };
    let m2 = measure_file(&p, &small, &|c| be.summary_analyzer(c)).unwrap();
    let mut s2 = m2.summary.clone();
    assert_eq!(s2.timeline.take().unwrap().momentary_lufs.len(), 120);
    assert_eq!(&s2, s);
}

#[test]
fn surround_weights_come_from_the_mask_and_lfe_is_excluded() {
    // Tech 3341 case 6 as a 5.1 file, with a loud LFE that must not count.
    let p = tmp("five_one.wav");
    let (l, c, s) = (sine(-28.0, 10.0), sine(-24.0, 10.0), sine(-30.0, 10.0));
    let lfe = sine(-3.0, 10.0);
    write(
        &p,
        &[l.clone(), l, c, lfe, s.clone(), s],
        Layout::FiveOne.channel_mask(),
        OutputFormat::Pcm24,
    );
    let m = measure_file(&p, &MeasureOptions::default(), &|c| {
        CpuBackend::new().summary_analyzer(c)
    })
    .unwrap();
    assert_eq!(m.channel_map, "mask");
    assert_eq!(m.summary.weights, vec![1.0, 1.0, 1.0, 0.0, 1.41, 1.41]);
    let i = m.summary.integrated_lufs.unwrap();
    assert!((i + 23.0).abs() < 0.1, "{i}");
    // The LFE's peak is still reported per channel.
    let lfe_tp = m.summary.true_peak_dbtp_per_channel[3].unwrap();
    assert!((lfe_tp + 3.0).abs() < 0.1);
}

#[test]
fn silence_and_bad_files() {
    let p = tmp("silence.wav");
    write(
        &p,
        &[vec![0.0; 48_000], vec![0.0; 48_000]],
        0x3,
        OutputFormat::Pcm16,
    );
    let m = measure_file(&p, &MeasureOptions::default(), &|c| {
        CpuBackend::new().summary_analyzer(c)
    })
    .unwrap();
    let s = &m.summary;
    assert_eq!(s.integrated_lufs, None);
    assert_eq!(s.loudness_range_lu, None);
    assert_eq!(s.true_peak_dbtp, None);
    assert_eq!(s.sample_peak_dbfs, None);
    let j = serde_json::to_value(s).unwrap();
    assert!(j["integrated_lufs"].is_null());

    let bad = tmp("bad.wav");
    std::fs::write(&bad, b"RIFF\x04\x00\x00\x00WAVE").unwrap();
    let e = measure_file(&bad, &MeasureOptions::default(), &|c| {
        CpuBackend::new().summary_analyzer(c)
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("bad.wav"), "{e}");
    let missing = tmp("missing.wav");
    let e = measure_file(&missing, &MeasureOptions::default(), &|c| {
        CpuBackend::new().summary_analyzer(c)
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.wav"), "{e}");
    let o = MeasureOptions {
        true_peak_oversample: Some(3),
        ..MeasureOptions::default()
    };
    let e = measure_file(&p, &o, &|c| CpuBackend::new().summary_analyzer(c))
        .unwrap_err()
        .to_string();
    assert!(e.contains("silence.wav") && e.contains('3'), "{e}");
}
