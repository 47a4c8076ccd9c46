//! Each QC detector with a planted defect, and with a clean signal that must not fire.

use dubstage_core::qc::{Check, Finding, FindingKind, QcConfig, QcDetectors, Status, TimeBase};
use dubstage_core::{Channel, FrameRate, Layout, Timecode};
use std::f64::consts::PI;

const FS: u32 = 48_000;

fn tb() -> TimeBase {
    TimeBase::new(
        FS,
        Timecode::parse("01:00:00:00", FrameRate::Fps24).unwrap(),
    )
}

/// Deterministic white noise in [-amp, amp] (xorshift64*).
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

fn sine(n: usize, freq: f64, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / FS as f64).sin()) as f32)
        .collect()
}

/// Runs the detectors over `chans` in blocks of `block` samples.
fn run_cfg(
    cfg: &QcConfig,
    layout: &[Channel],
    chans: &[Vec<f32>],
    block: usize,
    programme: Option<(u64, Option<u64>)>,
) -> (Vec<Check>, Vec<Finding>) {
    let mut qc = QcDetectors::new(cfg, layout, tb()).unwrap();
    if let Some((s, e)) = programme {
        qc = qc.with_programme(s, e);
    }
    let n = chans[0].len();
    let mut i = 0;
    while i < n {
        let j = (i + block).min(n);
        let b: Vec<&[f32]> = chans.iter().map(|c| &c[i..j]).collect();
        qc.push(&b).unwrap();
        i = j;
    }
    qc.finish_with_checks()
}

fn run(layout: &[Channel], chans: &[Vec<f32>]) -> (Vec<Check>, Vec<Finding>) {
    run_cfg(&QcConfig::default(), layout, chans, 4801, None)
}

fn of(f: &[Finding], k: FindingKind) -> Vec<&Finding> {
    f.iter().filter(|x| x.kind == k).collect()
}

fn check<'a>(c: &'a [Check], name: &str) -> &'a Check {
    c.iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {c:#?}"))
}

fn stereo_clean(secs: f64) -> Vec<Vec<f32>> {
    let n = (secs * FS as f64) as usize;
    // Partly correlated stereo: a common part plus independent parts.
    let common = noise(n, 0.2, 1);
    let a = noise(n, 0.1, 2);
    let b = noise(n, 0.1, 3);
    vec![
        common.iter().zip(&a).map(|(x, y)| x + y).collect(),
        common.iter().zip(&b).map(|(x, y)| x + y).collect(),
    ]
}

#[test]
fn clean_stereo_raises_nothing() {
    let ch = stereo_clean(6.0);
    let (checks, findings) = run(Layout::Stereo.channels(), &ch);
    assert!(findings.is_empty(), "{findings:#?}");
    for c in &checks {
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }
    assert!(
        check(&checks, "Phase L/R")
            .detail
            .contains("min correlation +")
    );
}

#[test]
fn clip_run_of_three_fires_and_single_peaks_do_not() {
    let n = 3 * FS as usize;
    // A full-scale sine at fs/4 touches ±1.0 on single samples only.
    let mut l: Vec<f32> = (0..n).map(|i| [0.0, 1.0, 0.0, -1.0][i % 4]).collect();
    let r = noise(n, 0.3, 9);
    let (checks, f) = run(Layout::Stereo.channels(), &[l.clone(), r.clone()]);
    assert!(of(&f, FindingKind::Clip).is_empty(), "{f:#?}");
    assert_eq!(check(&checks, "Clipping").status, Status::Pass);

    // Two consecutive full-scale samples: still a peak, not a clip.
    l[50_000] = 1.0;
    l[50_001] = 1.0; // 50_001 % 4 == 1 is already 1.0, 50_000 % 4 == 0 was 0.0
    let (_, f) = run(Layout::Stereo.channels(), &[l.clone(), r.clone()]);
    assert!(of(&f, FindingKind::Clip).is_empty(), "{f:#?}");

    // Three in a row (negative full scale): a clip at exactly that place.
    let mut l2 = noise(n, 0.3, 4);
    for v in &mut l2[100_000..100_003] {
        *v = -1.0;
    }
    let (checks, f) = run(Layout::Stereo.channels(), &[l2, r]);
    let clips = of(&f, FindingKind::Clip);
    assert_eq!(clips.len(), 1, "{f:#?}");
    assert_eq!(clips[0].channel.as_deref(), Some("L"));
    assert_eq!(
        (clips[0].start_sample, clips[0].end_sample),
        (100_000, 100_003)
    );
    assert_eq!(clips[0].severity, Status::Fail);
    // 100000 samples = 2.083 s = frame 50 at 24 fps.
    assert_eq!(clips[0].timecode, "01:00:02:02");
    assert_eq!(check(&checks, "Clipping").status, Status::Fail);
}

#[test]
fn clipped_passage_is_one_merged_finding() {
    let n = 4 * FS as usize;
    // A sine driven 6 dB into a hard clip between 1.0 s and 2.0 s.
    let mut l = sine(n, 441.0, 0.5);
    for (i, v) in l
        .iter_mut()
        .enumerate()
        .take(2 * FS as usize)
        .skip(FS as usize)
    {
        *v = ((2.0 * PI * 441.0 * i as f64 / FS as f64).sin() * 2.0).clamp(-1.0, 1.0) as f32;
    }
    let r = l.clone();
    let (_, f) = run(Layout::Stereo.channels(), &[l.clone(), r]);
    let clips = of(&f, FindingKind::Clip);
    assert_eq!(clips.len(), 2, "one per channel: {clips:#?}");
    let c = clips[0];
    let first = l.iter().position(|v| v.abs() >= 32767.0 / 32768.0).unwrap() as u64;
    assert_eq!(c.start_sample, first);
    assert!(c.end_sample <= 2 * FS as u64 && c.end_sample > 2 * FS as u64 - 200);
    assert!(c.detail.contains("882 clipped runs"), "{}", c.detail);
}

#[test]
fn nan_and_inf_are_found_where_planted() {
    let mut ch = stereo_clean(2.0);
    let (_, f) = run(Layout::Stereo.channels(), &ch);
    assert!(of(&f, FindingKind::NonFinite).is_empty());
    ch[1][12_345] = f32::NAN;
    ch[0][60_000] = f32::INFINITY;
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    let nf = of(&f, FindingKind::NonFinite);
    assert_eq!(nf.len(), 2, "{nf:#?}");
    let r = nf
        .iter()
        .find(|x| x.channel.as_deref() == Some("R"))
        .unwrap();
    assert_eq!((r.start_sample, r.end_sample), (12_345, 12_346));
    let l = nf
        .iter()
        .find(|x| x.channel.as_deref() == Some("L"))
        .unwrap();
    assert_eq!(l.start_sample, 60_000);
    assert_eq!(check(&checks, "NaN / Inf samples").status, Status::Fail);
    // An infinity is not counted as a clip.
    assert!(of(&f, FindingKind::Clip).is_empty());
}

#[test]
fn dc_offset_above_limit_fires_below_does_not() {
    let n = 2 * FS as usize;
    // Whole cycles of 1 kHz: a mean of zero.
    let base = sine(n, 1000.0, 0.3);
    // +0.01 = -40 dBFS: above the -50 dBFS limit.
    let dc: Vec<f32> = base.iter().map(|v| v + 0.01).collect();
    let (checks, f) = run(Layout::Stereo.channels(), &[dc, base.clone()]);
    let d = of(&f, FindingKind::DcOffset);
    assert_eq!(d.len(), 1, "{f:#?}");
    assert_eq!(d[0].channel.as_deref(), Some("L"));
    assert!(d[0].detail.contains("-40.0 dBFS"), "{}", d[0].detail);
    assert_eq!(check(&checks, "DC offset").status, Status::Warn);
    // +0.001 = -60 dBFS: below the limit.
    let small: Vec<f32> = base.iter().map(|v| v + 0.001).collect();
    let (checks, f) = run(Layout::Stereo.channels(), &[small, base]);
    assert!(of(&f, FindingKind::DcOffset).is_empty(), "{f:#?}");
    assert_eq!(check(&checks, "DC offset").status, Status::Pass);
}

#[test]
fn drop_out_inside_programme_fires_edges_do_not() {
    let n = 6 * FS as usize;
    let mut ch = stereo_clean(6.0);
    // Leading and trailing silence are not drop-outs.
    for c in &mut ch {
        for v in &mut c[..FS as usize] {
            *v = 0.0;
        }
        for v in &mut c[n - FS as usize..] {
            *v = 0.0;
        }
    }
    // 40 ms of zeros inside: shorter than 50 ms, not a drop-out.
    for v in &mut ch[1][2 * FS as usize..2 * FS as usize + 1920] {
        *v = 0.0;
    }
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    assert!(of(&f, FindingKind::DropOut).is_empty(), "{f:#?}");
    assert!(of(&f, FindingKind::ProgrammeSilence).is_empty());
    assert_eq!(check(&checks, "Drop-outs").status, Status::Pass);
    // 100 ms of zeros on L at 3 s.
    let (s, e) = (3 * FS as usize, 3 * FS as usize + 4800);
    for v in &mut ch[0][s..e] {
        *v = 0.0;
    }
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    let d = of(&f, FindingKind::DropOut);
    assert_eq!(d.len(), 1, "{f:#?}");
    assert_eq!(d[0].channel.as_deref(), Some("L"));
    assert_eq!((d[0].start_sample, d[0].end_sample), (s as u64, e as u64));
    assert!(d[0].detail.starts_with("100 ms"), "{}", d[0].detail);
    assert_eq!(check(&checks, "Drop-outs").status, Status::Warn);
    // The same gap on R too: one finding for every channel.
    for v in &mut ch[1][s..e] {
        *v = 0.0;
    }
    let (_, f) = run(Layout::Stereo.channels(), &ch);
    let d = of(&f, FindingKind::DropOut);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].channel, None);
}

#[test]
fn programme_silence_over_two_seconds_fires() {
    let mut ch = stereo_clean(8.0);
    let (s, e) = (3 * FS as usize, 5 * FS as usize + 4800); // 2.1 s
    for c in &mut ch {
        for v in &mut c[s..e] {
            *v = 0.0;
        }
    }
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    let p = of(&f, FindingKind::ProgrammeSilence);
    assert_eq!(p.len(), 1, "{f:#?}");
    assert_eq!((p[0].start_sample, p[0].end_sample), (s as u64, e as u64));
    assert_eq!(check(&checks, "Programme silence").status, Status::Warn);
    // The channels' drop-outs are the same event: not listed twice.
    assert!(of(&f, FindingKind::DropOut).is_empty(), "{f:#?}");
}

#[test]
fn silent_channel_is_information_not_a_drop_out() {
    let n = 3 * FS as usize;
    let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.2, 10 + k)).collect();
    ch[3] = vec![0.0; n]; // LFE unused
    let (checks, f) = run(Layout::FiveOne.channels(), &ch);
    let s = of(&f, FindingKind::SilentChannel);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].severity, Status::Info);
    assert_eq!(s[0].channel.as_deref(), Some("LFE"));
    assert!(of(&f, FindingKind::DropOut).is_empty());
    assert_eq!(check(&checks, "Silent channels").status, Status::Info);
}

#[test]
fn sustained_negative_correlation_fires_decorrelated_does_not() {
    let n = 10 * FS as usize;
    // Independent noise on L and R: correlation near 0, never sustained below -0.3.
    let ch = vec![noise(n, 0.3, 21), noise(n, 0.3, 22)];
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    assert!(of(&f, FindingKind::PhaseCorrelation).is_empty(), "{f:#?}");
    assert_eq!(check(&checks, "Phase L/R").status, Status::Pass);
    // In phase, except R inverted from 4 s to 7 s.
    let l = noise(n, 0.3, 23);
    let mut r = l.clone();
    for v in &mut r[4 * FS as usize..7 * FS as usize] {
        *v = -*v;
    }
    let (checks, f) = run(Layout::Stereo.channels(), &[l, r]);
    let p = of(&f, FindingKind::PhaseCorrelation);
    assert_eq!(p.len(), 1, "{f:#?}");
    assert_eq!(p[0].channel.as_deref(), Some("L/R"));
    let (t0, t1) = (
        p[0].start_sample as f64 / FS as f64,
        p[0].end_sample as f64 / FS as f64,
    );
    assert!(
        (t0 - 4.0).abs() <= 0.25 && (t1 - 7.0).abs() <= 0.25,
        "{t0} {t1}"
    );
    assert!(p[0].detail.contains("min -1.00"), "{}", p[0].detail);
    assert_eq!(check(&checks, "Phase L/R").status, Status::Warn);
    // A 0.5 s inversion is a moment, not sustained.
    let l = noise(n, 0.3, 24);
    let mut r = l.clone();
    for v in &mut r[4 * FS as usize..4 * FS as usize + FS as usize / 2] {
        *v = -*v;
    }
    let (_, f) = run(Layout::Stereo.channels(), &[l, r]);
    assert!(of(&f, FindingKind::PhaseCorrelation).is_empty(), "{f:#?}");
}

#[test]
fn surround_pair_is_checked_too() {
    let n = 4 * FS as usize;
    let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.2, 30 + k)).collect();
    ch[5] = ch[4].iter().map(|v| -v).collect();
    let (checks, f) = run(Layout::FiveOne.channels(), &ch);
    let p = of(&f, FindingKind::PhaseCorrelation);
    assert_eq!(p.len(), 1, "{f:#?}");
    assert_eq!(p[0].channel.as_deref(), Some("Ls/Rs"));
    assert_eq!(check(&checks, "Phase L/R").status, Status::Pass);
    assert_eq!(check(&checks, "Phase Ls/Rs").status, Status::Warn);
}

fn five_one_with_lfe(lfe: Vec<f32>) -> Vec<Vec<f32>> {
    let n = lfe.len();
    let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.2, 40 + k)).collect();
    ch[3] = lfe;
    ch
}

#[test]
fn lfe_with_1khz_fires_lfe_at_60hz_does_not() {
    let n = 5 * FS as usize;
    let (checks, f) = run(
        Layout::FiveOne.channels(),
        &five_one_with_lfe(sine(n, 60.0, 0.5)),
    );
    assert!(of(&f, FindingKind::LfeBandwidth).is_empty(), "{f:#?}");
    let c = check(&checks, "LFE above band");
    assert_eq!(c.status, Status::Pass);
    // 60 Hz sits 1.3 octaves below 150 Hz: the 8th-order skirt gives ≈ -64 dB in
    // steady state; the filter's ringing at the abrupt start adds a little.
    let db: f64 = c.detail.split(' ').next().unwrap().parse().unwrap();
    assert!(db < -45.0, "{}", c.detail);
    // 100 Hz, still LFE band, must not fire either.
    let (_, f) = run(
        Layout::FiveOne.channels(),
        &five_one_with_lfe(sine(n, 100.0, 0.5)),
    );
    assert!(of(&f, FindingKind::LfeBandwidth).is_empty(), "{f:#?}");

    // 60 Hz with 1 kHz at equal level from 2 s to 4 s.
    let mut lfe = sine(n, 60.0, 0.3);
    let hf = sine(n, 1000.0, 0.3);
    for i in 2 * FS as usize..4 * FS as usize {
        lfe[i] += hf[i];
    }
    let (checks, f) = run(Layout::FiveOne.channels(), &five_one_with_lfe(lfe));
    let l = of(&f, FindingKind::LfeBandwidth);
    assert_eq!(l.len(), 1, "{f:#?}");
    assert_eq!(l[0].channel.as_deref(), Some("LFE"));
    assert_eq!(
        (l[0].start_sample, l[0].end_sample),
        (2 * FS as u64, 4 * FS as u64)
    );
    // Half the energy is at 1 kHz: about -3 dB.
    assert!(l[0].detail.contains("worst -3."), "{}", l[0].detail);
    assert_eq!(check(&checks, "LFE above band").status, Status::Warn);
}

#[test]
fn programme_range_keeps_the_leader_out() {
    // 4 s leader: silence with a one-frame 1 kHz pop on every channel at 2 s,
    // programme from 4 s. The pop is not LFE content, the leader's silence no drop-out.
    let n = 8 * FS as usize;
    let mut ch: Vec<Vec<f32>> = (0..6)
        .map(|k| {
            let mut c = noise(n, 0.2, 50 + k);
            for v in &mut c[..4 * FS as usize] {
                *v = 0.0;
            }
            c
        })
        .collect();
    ch[3] = sine(n, 50.0, 0.3);
    let pop = sine(2000, 1000.0, 0.1);
    for c in &mut ch {
        for v in &mut c[..4 * FS as usize] {
            *v = 0.0;
        }
        c[2 * FS as usize..2 * FS as usize + 2000].copy_from_slice(&pop);
    }
    let cfg = QcConfig::default();
    let (_, f) = run_cfg(&cfg, Layout::FiveOne.channels(), &ch, 3000, None);
    assert!(
        !of(&f, FindingKind::DropOut).is_empty(),
        "without a programme range the leader trips"
    );
    let (checks, f) = run_cfg(
        &cfg,
        Layout::FiveOne.channels(),
        &ch,
        3000,
        Some((4 * FS as u64, None)),
    );
    assert!(f.is_empty(), "{f:#?}");
    assert!(
        checks.iter().all(|c| c.status == Status::Pass),
        "{checks:#?}"
    );
}

#[test]
fn findings_are_capped_with_a_summary() {
    let n = 80 * FS as usize;
    let mut l = noise(n, 0.2, 60);
    // 150 clips, one every 0.52 s (further apart than the 0.5 s merge gap).
    for k in 0..150 {
        let s = k * (FS as usize * 52 / 100) + 1000;
        for v in &mut l[s..s + 4] {
            *v = 1.0;
        }
    }
    let r = noise(n, 0.2, 61);
    let (checks, f) = run(Layout::Stereo.channels(), &[l, r]);
    let clips = of(&f, FindingKind::Clip);
    assert_eq!(clips.len(), 101);
    assert_eq!(clips[100].severity, Status::Info);
    assert!(
        clips[100].detail.starts_with("50 more"),
        "{}",
        clips[100].detail
    );
    assert!(
        check(&checks, "Clipping")
            .detail
            .starts_with("150 clipped runs, 600 samples")
    );
}

#[test]
fn findings_do_not_depend_on_block_size() {
    let n = 6 * FS as usize;
    let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.2, 70 + k)).collect();
    for v in &mut ch[0][100_000..100_005] {
        *v = 1.0;
    }
    ch[2][200_000] = f32::NAN;
    for v in &mut ch[1][150_000..160_000] {
        *v = 0.0;
    }
    ch[5] = ch[4].iter().map(|v| -v).collect();
    ch[3] = sine(n, 1000.0, 0.2);
    let cfg = QcConfig::default();
    let a = run_cfg(&cfg, Layout::FiveOne.channels(), &ch, 1, None);
    let b = run_cfg(&cfg, Layout::FiveOne.channels(), &ch, 4096, None);
    let c = run_cfg(&cfg, Layout::FiveOne.channels(), &ch, n, None);
    assert_eq!(a, b);
    assert_eq!(b, c);
    let kinds: Vec<FindingKind> = b.1.iter().map(|f| f.kind).collect();
    for k in [
        FindingKind::Clip,
        FindingKind::NonFinite,
        FindingKind::DropOut,
        FindingKind::PhaseCorrelation,
        FindingKind::LfeBandwidth,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
}

#[test]
fn bad_blocks_are_errors_not_panics() {
    let mut qc = QcDetectors::new(&QcConfig::default(), Layout::Stereo.channels(), tb()).unwrap();
    let a = vec![0.0f32; 10];
    let b = vec![0.0f32; 9];
    assert!(qc.push(&[&a]).is_err());
    assert!(qc.push(&[&a, &b]).is_err());
    assert!(QcDetectors::new(&QcConfig::default(), &[], tb()).is_err());
    let cfg = QcConfig {
        phase_hop_s: 0.0,
        ..QcConfig::default()
    };
    assert!(QcDetectors::new(&cfg, Layout::Stereo.channels(), tb()).is_err());
}

#[test]
fn lfe_check_holds_at_96k() {
    let fs = 96_000u32;
    let time = TimeBase::new(
        fs,
        Timecode::parse("01:00:00:00", FrameRate::Fps25).unwrap(),
    );
    let n = 3 * fs as usize;
    let tone = |f: f64| -> Vec<f32> {
        (0..n)
            .map(|i| (0.3 * (2.0 * PI * f * i as f64 / fs as f64).sin()) as f32)
            .collect()
    };
    for (f, fires) in [(40.0, false), (1000.0, true)] {
        let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.2, 80 + k)).collect();
        ch[3] = tone(f);
        let mut qc =
            QcDetectors::new(&QcConfig::default(), Layout::FiveOne.channels(), time).unwrap();
        let b: Vec<&[f32]> = ch.iter().map(|c| c.as_slice()).collect();
        qc.push(&b).unwrap();
        let (checks, findings) = qc.finish_with_checks();
        assert_eq!(
            !of(&findings, FindingKind::LfeBandwidth).is_empty(),
            fires,
            "{f} Hz: {findings:#?}"
        );
        let want = if fires { Status::Warn } else { Status::Pass };
        assert_eq!(check(&checks, "LFE above band").status, want);
    }
}

#[test]
fn fades_and_decays_into_silence_are_not_drop_outs() {
    let n = 8 * FS as usize;
    let mut ch = stereo_clean(8.0);
    // L: 0.5 s tone bursts with a sin² envelope, 0.3 s of exact zeros between
    // (lines of dialogue); R: 42 Hz booms decaying at exp(-3t) for 3 s, then zeros.
    let burst = (0.5 * FS as f64) as usize;
    let gap = (0.3 * FS as f64) as usize;
    ch[0] = (0..n)
        .map(|i| {
            let k = i % (burst + gap);
            if k >= burst {
                return 0.0;
            }
            let env = (PI * k as f64 / burst as f64).sin().powi(2);
            (0.3 * env * (2.0 * PI * 220.0 * i as f64 / FS as f64).sin()) as f32
        })
        .collect();
    ch[1] = (0..n)
        .map(|i| {
            let t = (i % (4 * FS as usize)) as f64 / FS as f64;
            if t >= 3.0 {
                return 0.0;
            }
            (0.2 * (2.0 * PI * 42.0 * t).sin() * (-3.0 * t).exp()) as f32
        })
        .collect();
    let (checks, f) = run(Layout::Stereo.channels(), &ch);
    assert!(of(&f, FindingKind::DropOut).is_empty(), "{f:#?}");
    assert_eq!(check(&checks, "Drop-outs").status, Status::Pass);
    // A hard cut out of a burst peak is a drop-out; a hard attack out of the
    // silence after a decay is not.
    let mut cut = ch[0].clone();
    // The middle of the first burst, at full envelope, a quarter period of the
    // 220 Hz tone past a zero crossing (a cut within 0.25 ms of a zero
    // crossing of a low tone reads as a fade: see DROPOUT_EDGE_S).
    let s = burst / 2 + 55;
    for v in &mut cut[s..s + 4800] {
        *v = 0.0;
    }
    let mut back = ch[1].clone();
    // Inside the first boom's silent second (3 s..4 s), a loud restart at 3.5 s.
    for (k, v) in back[(3.5 * FS as f64) as usize..4 * FS as usize]
        .iter_mut()
        .enumerate()
    {
        *v = (0.3 * (2.0 * PI * 42.0 * k as f64 / FS as f64 + 1.0).sin()) as f32;
    }
    let (_, f) = run(Layout::Stereo.channels(), &[cut, back]);
    let d = of(&f, FindingKind::DropOut);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].channel.as_deref(), Some("L"));
    assert_eq!(
        (d[0].start_sample, d[0].end_sample),
        (s as u64, s as u64 + 4800)
    );
}

#[test]
fn a_short_fade_is_not_a_cut() {
    // Noise at -10 dBFS, then 100 ms of zeros, faded out linearly over `fade`
    // samples; 20 such edits.
    let edits = |fade: usize| -> Vec<f32> {
        let seg = FS as usize / 2;
        let gap = FS as usize / 10;
        let mut x = noise(20 * (seg + gap) + seg, 0.3, 90);
        for k in 0..20 {
            let end = k * (seg + gap) + seg; // first zero
            for j in 0..fade {
                x[end - fade + j] *= (fade - j) as f32 / (fade + 1) as f32;
            }
            for v in &mut x[end..end + gap] {
                *v = 0.0;
            }
        }
        x
    };
    for (fade, want) in [(48, 0), (24, 0), (0, 20), (4, 20)] {
        let l = edits(fade);
        let r = noise(l.len(), 0.3, 91);
        let (_, f) = run(Layout::Stereo.channels(), &[l, r]);
        assert_eq!(
            of(&f, FindingKind::DropOut).len(),
            want,
            "fade of {fade} samples"
        );
    }
}
