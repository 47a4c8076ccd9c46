//! The 2-pop sync check and the M&E null test.

use dubstage_core::qc::{
    NullTest, PopDetector, PopResult, QcConfig, Status, TimeBase, expected_pop_sample, sync_report,
};
use dubstage_core::{Channel, FrameRate, Layout, Timecode};
use std::f64::consts::PI;

const FS: u32 = 48_000;

/// Session starting at 00:59:52:00 with FFOA at 01:00:00:00: the pop belongs
/// at 00:59:58:00, 6 s after the first sample.
fn tb(rate: FrameRate) -> TimeBase {
    let start = if rate.is_drop() {
        "00:59:52;00"
    } else {
        "00:59:52:00"
    };
    TimeBase::new(FS, Timecode::parse(start, rate).unwrap())
}

fn expected(rate: FrameRate) -> u64 {
    let t = tb(rate);
    let ffoa = Timecode::parse(
        if rate.is_drop() {
            "01:00:00;00"
        } else {
            "01:00:00:00"
        },
        rate,
    )
    .unwrap();
    let start = Timecode::from_samples(t.start_samples, rate, FS);
    expected_pop_sample(start, ffoa, FS).unwrap()
}

fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            ((u * 2.0 - 1.0) * amp as f64) as f32
        })
        .collect()
}

/// A stem: silence with one frame of 1 kHz at -20 dBFS from `at`, starting at
/// phase `phase`, then programme noise from FFOA.
fn stem(rate: FrameRate, at: u64, phase: f64, bed: Option<f32>) -> Vec<f32> {
    let ffoa = expected(rate) + 2 * FS as u64 + 1001; // past the pop at every rate
    let n = ffoa as usize + 2 * FS as usize;
    let mut x = match bed {
        Some(a) => noise(n, a, at ^ 0x55),
        None => vec![0.0; n],
    };
    let frame = (FS as f64 / rate.fps()).round() as usize;
    for k in 0..frame {
        x[at as usize + k] +=
            (0.1 * (2.0 * PI * 1000.0 * k as f64 / FS as f64 + phase).sin()) as f32;
    }
    let prog = noise(2 * FS as usize, 0.2, at);
    x[ffoa as usize..].copy_from_slice(&prog);
    x
}

fn detect(name: &str, rate: FrameRate, chans: &[Vec<f32>], cfg: &QcConfig) -> PopResult {
    let layout: &[Channel] = if chans.len() == 1 {
        Layout::Mono.channels()
    } else {
        Layout::Stereo.channels()
    };
    let mut d = PopDetector::new(name, layout, tb(rate), expected(rate), cfg).unwrap();
    for i in (0..chans[0].len()).step_by(3333) {
        let j = (i + 3333).min(chans[0].len());
        let b: Vec<&[f32]> = chans.iter().map(|c| &c[i..j]).collect();
        d.push(&b).unwrap();
    }
    d.finish()
}

#[test]
fn pops_on_the_sample_pass_at_every_phase_and_rate() {
    let cfg = QcConfig::default();
    for rate in [
        FrameRate::Fps24,
        FrameRate::Fps23_976,
        FrameRate::Fps25,
        FrameRate::Fps29_97Df,
    ] {
        let e = expected(rate);
        for (k, phase) in [0.0, 0.3, PI / 2.0, PI, 4.0].into_iter().enumerate() {
            let r = detect(&format!("s{k}"), rate, &[stem(rate, e, phase, None)], &cfg);
            assert_eq!(r.sample, Some(e), "{rate} phase {phase}: {r:?}");
            let frame = (FS as f64 / rate.fps()).round() as u64;
            let len = r.length.unwrap();
            assert!(
                len.abs_diff(frame) <= 1,
                "{rate} phase {phase}: length {len} vs {frame}"
            );
            assert!((r.level_dbfs.unwrap() + 20.0).abs() < 0.1, "{r:?}");
        }
    }
}

#[test]
fn one_stem_a_frame_late_fails_naming_it() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps24;
    let e = expected(rate);
    let rs = vec![
        detect("DX", rate, &[stem(rate, e, 0.0, None)], &cfg),
        detect("MX", rate, &[stem(rate, e, 1.0, None)], &cfg),
        detect("FX", rate, &[stem(rate, e + 2000, 0.0, None)], &cfg),
    ];
    let rep = sync_report(&rs, &tb(rate), e, &cfg);
    assert_eq!(rep.check.status, Status::Fail);
    assert!(
        rep.check.detail.contains("FX +2000 samples"),
        "{}",
        rep.check.detail
    );
    assert!(!rep.check.detail.contains("DX"), "{}", rep.check.detail);
    assert_eq!(rep.expected_tc, "00:59:58:00");
    let fx = &rep.stems[2];
    assert_eq!(fx.status, Status::Fail);
    assert_eq!(fx.offset_samples, Some(2000));
    assert!((fx.offset_ms.unwrap() - 41.6667).abs() < 1e-3);
    assert_eq!(fx.pop_tc.as_deref(), Some("00:59:58:01"));
    assert!(fx.detail.contains("1.00 frame"), "{}", fx.detail);
    for row in &rep.stems[..2] {
        assert_eq!(row.status, Status::Pass, "{row:?}");
        assert_eq!(row.offset_samples, Some(0));
    }
}

#[test]
fn all_in_sync_passes_and_a_one_sample_slip_is_caught() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps23_976;
    let e = expected(rate);
    let ok: Vec<PopResult> = (0..3)
        .map(|k| {
            detect(
                &format!("stem{k}"),
                rate,
                &[stem(rate, e, k as f64, None)],
                &cfg,
            )
        })
        .collect();
    let rep = sync_report(&ok, &tb(rate), e, &cfg);
    assert_eq!(rep.check.status, Status::Pass, "{:?}", rep.check);
    // One sample late and one sample early.
    for (d, s) in [(1i64, "+1"), (-1, "-1")] {
        let r = detect(
            "DX",
            rate,
            &[stem(rate, (e as i64 + d) as u64, 0.2, None)],
            &cfg,
        );
        assert_eq!(r.sample, Some((e as i64 + d) as u64));
        let mut all = ok.clone();
        all.push(r.clone());
        let rep = sync_report(&all, &tb(rate), e, &cfg);
        assert_eq!(rep.check.status, Status::Fail);
        assert!(
            rep.check.detail.contains(&format!("DX {s} samples")),
            "{}",
            rep.check.detail
        );
        // Within a tolerance of 1 sample it passes.
        let loose = QcConfig {
            sync_tolerance_samples: 1,
            ..QcConfig::default()
        };
        assert_eq!(
            sync_report(&all, &tb(rate), e, &loose).check.status,
            Status::Pass
        );
    }
}

#[test]
fn pop_over_a_noise_bed_is_still_sample_exact() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps25;
    let e = expected(rate);
    // -70 dBFS of noise around a -20 dBFS pop.
    let r = detect("DX", rate, &[stem(rate, e + 7, 0.9, Some(0.000_316))], &cfg);
    assert_eq!(r.sample, Some(e + 7), "{r:?}");
}

#[test]
fn missing_pops_warn_or_fail() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps24;
    let e = expected(rate);
    let n = (e + 4 * FS as u64) as usize;
    let silent = vec![0.0f32; n];
    // A burst of noise is not a tone.
    let mut bang = vec![0.0f32; n];
    bang[e as usize..e as usize + 2000].copy_from_slice(&noise(2000, 0.5, 3));
    let none = vec![
        detect("DX", rate, std::slice::from_ref(&silent), &cfg),
        detect("MX", rate, &[bang], &cfg),
    ];
    assert!(none.iter().all(|r| r.sample.is_none()), "{none:?}");
    let rep = sync_report(&none, &tb(rate), e, &cfg);
    assert_eq!(rep.check.status, Status::Warn);
    assert!(rep.check.detail.contains("not verified"));
    let mut some = none.clone();
    some.push(detect("FX", rate, &[stem(rate, e, 0.0, None)], &cfg));
    let rep = sync_report(&some, &tb(rate), e, &cfg);
    assert_eq!(rep.check.status, Status::Fail);
    assert!(rep.check.detail.contains("DX no pop") && rep.check.detail.contains("MX no pop"));
    assert_eq!(rep.stems[2].status, Status::Pass);
}

#[test]
fn channels_of_one_stem_that_disagree_fail() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps24;
    let e = expected(rate);
    let l = stem(rate, e, 0.0, None);
    let r = stem(rate, e + 3, 0.0, None);
    let res = detect("FX", rate, &[l, r], &cfg);
    assert_eq!(res.channel_onsets.len(), 2);
    let rep = sync_report(&[res], &tb(rate), e, &cfg);
    assert_eq!(rep.check.status, Status::Fail);
    assert!(
        rep.stems[0].detail.contains("channels disagree"),
        "{}",
        rep.stems[0].detail
    );
}

fn blocks(x: &[Vec<f32>], i: usize, j: usize) -> Vec<&[f32]> {
    x.iter().map(|c| &c[i..j]).collect()
}

#[test]
fn null_test_passes_when_parts_sum_and_fails_with_a_residual() {
    let cfg = QcConfig::default();
    let time = tb(FrameRate::Fps24);
    let n = 3 * FS as usize;
    let dx: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.3, 100 + k)).collect();
    let me: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.3, 200 + k)).collect();
    let pm: Vec<Vec<f32>> = dx
        .iter()
        .zip(&me)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect())
        .collect();
    let run = |pm: &[Vec<f32>]| {
        let mut t = NullTest::new(
            "printmaster - DX - M&E",
            Layout::FiveOne.channels(),
            time,
            &cfg,
        )
        .unwrap();
        for i in (0..n).step_by(5000) {
            let j = (i + 5000).min(n);
            t.push(&blocks(pm, i, j), &[&blocks(&dx, i, j), &blocks(&me, i, j)])
                .unwrap();
        }
        t.finish()
    };
    let ok = run(&pm);
    assert_eq!(ok.status, Status::Pass, "{ok:?}");
    // f32 addition rounds to half an ulp of the sum (< 2^-24 for |sum| < 1): below -144 dBFS.
    assert!(ok.max_abs_dbfs.unwrap() < -140.0, "{ok:?}");
    assert_eq!(ok.frames, n as u64);
    // A 0.01 (-40 dBFS) difference on C at 2 s.
    let mut bad = pm.clone();
    bad[2][2 * FS as usize] += 0.01;
    let r = run(&bad);
    assert_eq!(r.status, Status::Fail);
    assert!((r.max_abs_dbfs.unwrap() + 40.0).abs() < 0.01, "{r:?}");
    assert_eq!(r.max_channel.as_deref(), Some("C"));
    assert_eq!(r.max_sample, Some(2 * FS as u64));
    assert_eq!(r.max_tc.as_deref(), Some("00:59:54:00"));
    // RMS of one -40 dBFS sample among 6 x 144000: -40 - 10 log10(864000) ≈ -99.4 dBFS.
    assert!((r.rms_dbfs.unwrap() + 99.365).abs() < 0.05, "{r:?}");
    // Bit-exact parts null to -inf.
    let zero: Vec<Vec<f32>> = vec![vec![0.0; n]; 6];
    let mut t = NullTest::new("x", Layout::FiveOne.channels(), time, &cfg).unwrap();
    t.push(
        &blocks(&dx, 0, n),
        &[&blocks(&dx, 0, n), &blocks(&zero, 0, n)],
    )
    .unwrap();
    let z = t.finish();
    assert_eq!((z.max_abs_dbfs, z.status), (None, Status::Pass));
    // Mismatched shapes are errors.
    let mut t = NullTest::new("x", Layout::FiveOne.channels(), time, &cfg).unwrap();
    assert!(
        t.push(&blocks(&dx, 0, 10), &[&blocks(&dx[..2], 0, 10)])
            .is_err()
    );
}

#[test]
fn pop_is_sample_exact_at_96k() {
    let fs = 96_000u32;
    let rate = FrameRate::Fps24;
    let time = TimeBase::new(fs, Timecode::parse("00:59:52:00", rate).unwrap());
    let expected = 6 * fs as u64;
    for at in [expected, expected + 1, expected + 4000] {
        let mut x = vec![0.0f32; (expected + 3 * fs as u64) as usize];
        for k in 0..4000 {
            x[at as usize + k] =
                (0.1 * (2.0 * PI * 1000.0 * k as f64 / fs as f64 + 0.7).sin()) as f32;
        }
        let mut d = PopDetector::new(
            "DX",
            Layout::Mono.channels(),
            time,
            expected,
            &QcConfig::default(),
        )
        .unwrap();
        d.push(&[&x]).unwrap();
        let r = d.finish();
        assert_eq!(r.sample, Some(at));
        assert_eq!(r.length, Some(4000));
    }
}

#[test]
fn the_pop_belongs_two_timecode_seconds_before_ffoa() {
    // 23.976: 48 frames of 2002 samples, not 96000 samples.
    let r = FrameRate::Fps23_976;
    let start = Timecode::parse("00:59:52:00", r).unwrap();
    let ffoa = Timecode::parse("01:00:00:00", r).unwrap();
    assert_eq!(expected_pop_sample(start, ffoa, FS).unwrap(), 144 * 2002);
    // 29.97 drop-frame: 60 frames before 01:00:00;00.
    let r = FrameRate::Fps29_97Df;
    let start = Timecode::parse("00:59:52;00", r).unwrap();
    let ffoa = Timecode::parse("01:00:00;00", r).unwrap();
    let want = r.frames_to_samples(ffoa.to_frames() - 60, FS) - start.to_samples(FS);
    assert_eq!(expected_pop_sample(start, ffoa, FS).unwrap(), want as u64);
    // 25: exactly 6 s after a start 8 s before FFOA.
    let r = FrameRate::Fps25;
    let start = Timecode::parse("09:59:52:00", r).unwrap();
    let ffoa = Timecode::parse("10:00:00:00", r).unwrap();
    assert_eq!(expected_pop_sample(start, ffoa, FS).unwrap(), 6 * FS as u64);
    // A start after the pop is an error, not a panic.
    let late = Timecode::parse("09:59:59:00", r).unwrap();
    assert!(expected_pop_sample(late, ffoa, FS).is_err());
}

/// The render reads each stem's search window on its own (so the mix may read plain
/// stems straight into the sum): the window alone, pushed where it starts, finds the
/// pop exactly as the whole stream does; a block that skips part of the window is an
/// error, not a silent miss.
#[test]
fn the_search_window_alone_finds_what_the_whole_stream_finds() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps23_976;
    let e = expected(rate);
    let x = stem(rate, e + 7, 0.3, Some(0.01));
    let whole = detect("dx", rate, std::slice::from_ref(&x), &cfg);
    assert_eq!(whole.sample, Some(e + 7));
    let mut d = PopDetector::new("dx", Layout::Mono.channels(), tb(rate), e, &cfg).unwrap();
    let w = d.window();
    assert!(w.start > 0 && w.end < x.len() as u64, "{w:?}");
    // The window in two uneven blocks, each pushed at its own position.
    let mid = w.start + 4_321;
    for (a, b) in [(w.start, mid), (mid, w.end)] {
        d.push_at(a, &[&x[a as usize..b as usize]]).unwrap();
    }
    assert_eq!(d.finish(), whole);

    let mut d = PopDetector::new("dx", Layout::Mono.channels(), tb(rate), e, &cfg).unwrap();
    let w = d.window();
    let at = w.start + 10;
    let err = d
        .push_at(at, &[&x[at as usize..w.end as usize]])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dx") && err.contains("2-pop"), "{err}");
}

/// A stem whose pop (one frame of 1 kHz from sample `e`) is delayed by `d`
/// samples, a fraction included, with a band-limited delay (a Hann-windowed
/// sinc, 64 taps a side: what a resampler or a sub-sample slide does), over
/// silence. A pop gated at a fractional time and sampled would hold no timing
/// finer than a sample: its samples are those of a pop gated on the next
/// sample at another phase.
fn stem_delayed(rate: FrameRate, e: u64, d: f64, phase: f64) -> Vec<f32> {
    let n = e as usize + 3 * FS as usize;
    let frame = (FS as f64 / rate.fps()).round() as usize;
    let pop: Vec<f64> = (0..frame)
        .map(|k| 0.1 * (2.0 * PI * 1000.0 * k as f64 / FS as f64 + phase).sin())
        .collect();
    let mut x = vec![0.0f32; n];
    let lo = (e as f64 + d).floor() as i64 - 64;
    for (i, o) in x
        .iter_mut()
        .enumerate()
        .skip(lo.max(0) as usize)
        .take(frame + 130)
    {
        let t = i as f64 - e as f64 - d; // position in the pop
        let c = t.floor() as i64;
        let mut acc = 0.0;
        for k in (c - 63).max(0)..=(c + 64).min(frame as i64 - 1) {
            let u = t - k as f64;
            let pu = PI * u;
            let sinc = if u.abs() < 1e-12 { 1.0 } else { pu.sin() / pu };
            acc += pop[k as usize] * sinc * (0.5 + 0.5 * (pu / 64.0).cos());
        }
        *o = acc as f32;
    }
    x
}

#[test]
fn a_pop_late_by_a_fraction_is_measured_and_the_slide_given() {
    let cfg = QcConfig::default();
    let rate = FrameRate::Fps24;
    let e = expected(rate);
    for phase in [0.0, 0.9, 2.2] {
        // on the sample: the fine offset is 0
        let r = detect("MX", rate, &[stem_delayed(rate, e, 0.0, phase)], &cfg);
        let f = r.fine_offset.expect("measured");
        assert!(f.abs() < 0.05, "phase {phase}: {f}");
        // 37.25 samples late
        let r = detect("DX", rate, &[stem_delayed(rate, e, 37.25, phase)], &cfg);
        let f = r.fine_offset.expect("measured");
        assert!((f - 37.25).abs() < 0.05, "phase {phase}: {f}");
        let rep = sync_report(&[r], &tb(rate), e, &cfg);
        assert_eq!(rep.check.status, Status::Fail);
        let row = &rep.stems[0];
        assert_eq!(row.offset_fine_samples, Some(f));
        assert!(
            row.detail.contains("slide the stem 37.2") && row.detail.contains("earlier"),
            "{}",
            row.detail
        );
    }
    // early by 12.5: slide later
    let r = detect("FX", rate, &[stem_delayed(rate, e, -12.5, 0.3)], &cfg);
    let f = r.fine_offset.expect("measured");
    assert!((f + 12.5).abs() < 0.05, "{f}");
    let rep = sync_report(&[r], &tb(rate), e, &cfg);
    assert!(
        rep.stems[0].detail.contains("slide the stem 12.") && rep.stems[0].detail.contains("later"),
        "{}",
        rep.stems[0].detail
    );
}
