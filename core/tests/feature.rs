//! Features as reels: long-play joins at the right samples, reels and LP nulling over
//! every programme, one feature-wide gain landing on the target, and the merged reel
//! histograms against the joined long play (block-list oracle).

use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Backend, Hop};
use dubstage_core::feature::{self, Feature};
use dubstage_core::io::{OutputFormat, WavReader, WavSpec, WavWriter};
use dubstage_core::loudness::HopAnalyzer;
use dubstage_core::loudness::meter::integrated_of;
use std::path::{Path, PathBuf};

const SR: u32 = 48_000;

/// A scratch folder removed when the test ends, passed or failed (a drop guard: the
/// demo features write hundreds of MB of stems and deliverables).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("dubstage-feature-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

fn read_all(path: &Path) -> Vec<Vec<f32>> {
    let mut r = WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n = r.info().channels as usize;
    let mut out = vec![Vec::new(); n];
    let mut bufs = vec![Vec::new(); n];
    loop {
        let k = r.read_planar(&mut bufs, 1 << 15).unwrap();
        if k == 0 {
            break;
        }
        for (o, b) in out.iter_mut().zip(&bufs) {
            o.extend_from_slice(&b[..k]);
        }
    }
    out
}

fn write(path: &Path, chans: &[Vec<f32>]) {
    let mut w = WavWriter::create(
        path,
        WavSpec::new(chans.len() as u16, SR, OutputFormat::Float32),
    )
    .unwrap();
    let p: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
    w.write_planar(&p).unwrap();
    w.finish().unwrap();
}

fn backends() -> Vec<Box<dyn Backend>> {
    vec![Box::new(CpuBackend::new()), Box::new(CpuBackend::new())]
}

/// One reel at 24 fps (2000 samples a frame): a leader of 3 s with a 2-pop at 1 s, a
/// programme of `prog_frames` frames with a marker impulse on its first sample (FFOA)
/// and on the last sample of its LFOA frame, a tail pop 2 s after the LFOA frame, and
/// 3 s after the LFOA in all.
fn marker_reel(dir: &Path, reel: u32, prog_frames: i64) -> (PathBuf, u64) {
    marker_reel_with(dir, reel, prog_frames, None, "")
}

/// [`marker_reel`] with, where `tone_at` is given, a 1 kHz tone of amplitude 0.25 over
/// the programme (continuous across the reels: its phase counts from the feature's first
/// programme sample `tone_at`) in place of the quiet bed, and `extra` session lines.
fn marker_reel_with(
    dir: &Path,
    reel: u32,
    prog_frames: i64,
    tone_at: Option<u64>,
    extra: &str,
) -> (PathBuf, u64) {
    let frame = 2000usize;
    let ffoa = 72 * frame;
    let prog = prog_frames as usize * frame;
    let len = ffoa + prog + 72 * frame;
    let pop = |x: &mut Vec<f32>, at: usize| {
        for i in 0..frame {
            x[at + i] = 0.1 * (std::f64::consts::TAU * 1000.0 * i as f64 / SR as f64).sin() as f32;
        }
    };
    let mut s = vec![0f32; len];
    // A quiet bed over the programme, so the join is not a run of zeros.
    for (i, v) in s[ffoa..ffoa + prog].iter_mut().enumerate() {
        *v = match tone_at {
            None => 0.01 * ((i as f64 * 0.05 + reel as f64).sin() as f32),
            Some(at) => {
                let t = (at + i as u64) as f64 / SR as f64;
                0.25 * (std::f64::consts::TAU * 1000.0 * t).sin() as f32
            }
        };
    }
    s[ffoa] = 0.9;
    s[ffoa + prog - 1] = -0.8;
    pop(&mut s, ffoa - 48 * frame);
    pop(&mut s, ffoa + prog + 48 * frame);
    let rdir = dir.join(format!("r{reel}"));
    std::fs::create_dir_all(&rdir).unwrap();
    write(&rdir.join("fx.wav"), &[s.clone(), s]);
    let tc = |f: i64| {
        let f = f + reel as i64 * 3600 * 24;
        format!(
            "{:02}:{:02}:{:02}:{:02}",
            f / 86400,
            f / 1440 % 60,
            f / 24 % 60,
            f % 24
        )
    };
    let text = format!(
        "[reel]\ntitle = \"Markers\"\nreel = {reel}\nframe_rate = \"24\"\nstart = \"{}\"\n\
         ffoa = \"{}\"\nlfoa = \"{}\"\n\n[[stem]]\nid = \"fx\"\nkind = \"effects\"\n\
         source = \"fx.wav\"\n\n[[deliverable]]\nkind = \"printmaster\"\nformat = \"float32\"\n{extra}",
        tc(0),
        tc(72),
        tc(72 + prog_frames - 1),
    );
    let path = rdir.join("session.toml");
    std::fs::write(&path, text).unwrap();
    (path, prog as u64)
}

#[test]
fn every_join_is_at_the_right_sample() {
    let dir = tmp("markers");
    let lens: Vec<u64> = [(1, 120), (2, 97), (3, 151)]
        .iter()
        .map(|&(r, f)| marker_reel(&dir, r, f).1)
        .collect();
    let ft = dir.join("feature.toml");
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"Markers\"\nreels = [\"r1/session.toml\", \"r2/session.toml\", \"r3/session.toml\"]\n",
    )
    .unwrap();
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    let s = feature::render_feature(&f, &mut backends(), &out, 8192, None).unwrap();
    let lp = out.join("LP").join("Markers_LP_PM_2.0.wav");
    let x = read_all(&lp);
    // The LP is the sum of the programmes, to the sample.
    assert_eq!(x[0].len() as u64, lens.iter().sum::<u64>());
    // Every marker once, at its place; no pop (0.1) anywhere.
    let mut want = Vec::new();
    let mut at = 0u64;
    for l in &lens {
        want.push(at);
        want.push(at + l - 1);
        at += l;
    }
    for c in &x {
        let got: Vec<u64> = c
            .iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > 0.5)
            .map(|(i, _)| i as u64)
            .collect();
        assert_eq!(got, want);
        assert!(
            !c.iter().any(|v| (0.02..0.5).contains(&v.abs())),
            "a pop leaked into the LP"
        );
    }
    // The report's joins say the same, and every reel's 2-pop passed.
    let joins = &s.report.long_plays[0].joins;
    assert_eq!(
        joins.iter().map(|j| j.lp_sample).collect::<Vec<_>>(),
        vec![0, lens[0], lens[0] + lens[1]]
    );
    assert!(joins.iter().all(|j| j.verified));
    assert_eq!(joins[1].reel_ffoa_tc, "02:00:03:00");
    for r in &s.report.reels {
        assert_eq!(
            r.two_pop,
            dubstage_core::qc::report::Status::Pass,
            "reel {}: {}",
            r.reel,
            r.two_pop_detail
        );
    }
    // The LP's bext starts at reel 1's FFOA, with the feature's title.
    let info = WavReader::open(&lp).unwrap().info().clone();
    let b = info.bext.unwrap();
    assert_eq!(b.time_reference, (3600 + 3) * SR as u64);
    assert!(
        b.description.starts_with("Markers long play"),
        "{}",
        b.description
    );
    assert_eq!(info.ixml.unwrap().tape, "LP");
}

#[test]
fn keep_leader_keeps_reel_ones_head() {
    let dir = tmp("leader");
    let lens: Vec<u64> = [(1, 50), (2, 60)]
        .iter()
        .map(|&(r, f)| marker_reel(&dir, r, f).1)
        .collect();
    let ft = dir.join("feature.toml");
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"Markers\"\nreels = [\"r1/session.toml\", \"r2/session.toml\"]\nkeep_leader = true\n",
    )
    .unwrap();
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    feature::render_feature(&f, &mut backends(), &out, 8192, None).unwrap();
    let x = read_all(&out.join("LP").join("Markers_LP_PM_2.0.wav"));
    let leader = 72 * 2000u64;
    assert_eq!(x[0].len() as u64, leader + lens[0] + lens[1]);
    // Reel 1's 2-pop is there (at 1 s), reel 2's is not.
    let pops = x[0]
        .iter()
        .filter(|v| (0.05..0.5).contains(&v.abs()))
        .count();
    assert!(pops > 100 && pops < 2000, "{pops}");
    assert!(
        x[0][(leader + lens[0]) as usize..]
            .iter()
            .all(|v| v.abs() < 0.05 || v.abs() > 0.5)
    );
}

/// Integrated loudness of a file by the block-list oracle.
fn oracle_integrated(path: &Path) -> Option<f64> {
    let x = read_all(path);
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: x.len(),
        sample_rate: SR,
        true_peak_oversample: 0,
    })
    .unwrap();
    let p: Vec<&[f32]> = x.iter().map(|c| c.as_slice()).collect();
    a.push(&p).unwrap();
    let hops: Vec<Hop> = a.finish().unwrap();
    let info = WavReader::open(path).unwrap().info().clone();
    let chans = dubstage_core::loudness::measure::channels_for(info.channels, info.channel_mask)
        .unwrap()
        .0;
    let w: Vec<f64> = chans.iter().map(|c| c.bs1770_weight()).collect();
    let hop = (SR / 10) as usize;
    let pw: Vec<f64> = hops
        .iter()
        .filter(|h| h.frames == hop)
        .map(|h| w.iter().zip(&h.energy).map(|(g, e)| g * e).sum())
        .collect();
    let blocks: Vec<f64> = (4..=pw.len())
        .map(|e| pw[e - 4..e].iter().sum::<f64>() / (4 * hop) as f64)
        .collect();
    integrated_of(&blocks)
}

#[test]
fn demo_feature_one_gain_lands_on_the_target_and_the_lp_nulls_with_the_reels() {
    let dir = tmp("demo");
    let ft = feature::demo::write_demo_feature(&dir, 0.4).unwrap();
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    let s = feature::render_feature(&f, &mut backends(), &out, 16384, None).unwrap();
    let n = s.plan.normalization.clone().expect("netflix normalizes");
    // One gain for every reel, from the feature; the reels alone would differ.
    for r in &s.plan.reels {
        assert_eq!(r.normalization.as_ref().unwrap().gain_db, n.gain_db);
    }
    let own: Vec<f64> = s
        .plan
        .reels
        .iter()
        .map(|r| r.measured.integrated_lufs.unwrap())
        .collect();
    assert!(
        own.iter().copied().fold(f64::MIN, f64::max) - own.iter().copied().fold(f64::MAX, f64::min)
            > 2.0,
        "{own:?}"
    );
    // Netflix: dialogue-gated -27; the delivered feature reads the target.
    let d = s.report.delivered_dialogue_lufs.unwrap();
    assert!((d + 27.0).abs() < 0.01, "{d}");
    let c = s.report.compliance.as_ref().unwrap();
    assert!(c.passed, "{c:?}");
    // The LP printmaster nulls with every reel's printmaster over its programme.
    let lp = read_all(&out.join("LP").join("Demo_Feature_LP_PM_5.1.wav"));
    let mut at = 0usize;
    for (i, p) in f.reels.iter().enumerate() {
        let (a, b) = p.programme();
        let reel = read_all(
            &f.reel_dir(&out, i)
                .join(format!("Demo_R{}_PM_5.1.wav", p.reel)),
        );
        for (c, (l, r)) in lp.iter().zip(&reel).enumerate() {
            assert!(
                l[at..at + (b - a) as usize] == r[a as usize..b as usize],
                "reel {} channel {c} differs in the LP",
                p.reel
            );
        }
        at += (b - a) as usize;
    }
    assert_eq!(at, lp[0].len());
    // Every LP (PM, LoRo, ME, DX, MX, FX) was written, and SHA256SUMS lists every file.
    assert_eq!(s.report.long_plays.len(), 6);
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    // 6 LPs and 3 reels of 4 deliverable files each; the plan and the report (JSON, HTML).
    assert_eq!(sums.lines().count(), 6 * 4 + 3);
    for line in sums.lines() {
        let (h, p) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(out.join(p)).unwrap();
        assert_eq!(dubstage_core::sha256_hex(&bytes), h, "{p}");
    }
    assert!(out.join("feature/report.html").exists());
}

#[test]
fn merged_histograms_equal_the_joined_long_play() {
    // Measure only: the LP is the reels' programmes as mixed, so the merged reel
    // histograms must read what the joined file reads (but for the blocks across the
    // joins and the hop grid, which the reels start afresh: over three programmes of
    // 48 s, a few thousandths of an LU). Only the printmaster's LP, to keep the data small.
    let dir = tmp("measure-only");
    let ft = feature::demo::write_demo_feature(&dir, 1.0).unwrap();
    let text = std::fs::read_to_string(&ft)
        .unwrap()
        .replace("[delivery]", "long_plays = [\"PM_5.1\"]\n\n[delivery]")
        + "measure_only = true\n";
    std::fs::write(&ft, text).unwrap();
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    let s = feature::render_feature(&f, &mut backends(), &out, 16384, None).unwrap();
    assert!(s.plan.normalization.is_none());
    let merged = s.plan.feature.integrated_lufs.unwrap();
    let lp = out.join("LP").join("Demo_Feature_LP_PM_5.1.wav");
    let joined = oracle_integrated(&lp).unwrap();
    assert!(
        (merged - joined).abs() < 0.01,
        "merged {merged} vs joined {joined}"
    );
    let delivered = s
        .report
        .delivered
        .as_ref()
        .unwrap()
        .integrated_lufs
        .unwrap();
    assert!(
        (merged - delivered).abs() < 0.01,
        "merged {merged} vs LP meter {delivered}"
    );
}

#[test]
fn steps_refuse_missing_or_foreign_inputs() {
    let dir = tmp("steps");
    marker_reel(&dir, 1, 40);
    marker_reel(&dir, 2, 40);
    let ft = dir.join("feature.toml");
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"Markers\"\nreels = [\"r1/session.toml\", \"r2/session.toml\"]\n",
    )
    .unwrap();
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    let mut b = CpuBackend::new();
    feature::measure_reel(&f, 0, &mut b, &out, 8192, &|_| {}).unwrap();
    // Reel 2 not measured: the plan names the step to run.
    let e = feature::plan(&f, &out).unwrap_err().to_string();
    assert!(
        e.contains("r2.json") && e.contains("measure --reel 2"),
        "{e}"
    );
    feature::measure_reel(&f, 1, &mut b, &out, 8192, &|_| {}).unwrap();
    feature::plan(&f, &out).unwrap();
    // Render before finish: finish names the missing reel.
    feature::render_reel(&f, 0, &mut b, &out, 8192, None).unwrap();
    let e = feature::finish(&f, &out, None).unwrap_err().to_string();
    assert!(e.contains("render --reel 2"), "{e}");
    // The feature changes after the plan: the old plan is refused.
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"Markers 2\"\nreels = [\"r1/session.toml\", \"r2/session.toml\"]\n",
    )
    .unwrap();
    let f2 = Feature::load(&ft).unwrap();
    let e = feature::render_reel(&f2, 1, &mut b, &out, 8192, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("plan again"), "{e}");
    // A missing reel session is named.
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"X\"\nreels = [\"r9/session.toml\"]\n",
    )
    .unwrap();
    let e = Feature::load(&ft).unwrap_err().to_string();
    assert!(e.contains("r9/session.toml"), "{e}");
    // Per-reel gain needs a reason.
    std::fs::write(
        &ft,
        "[feature]\ntitle = \"X\"\nreels = [\"r1/session.toml\"]\ngain = \"per-reel\"\n",
    )
    .unwrap();
    let e = Feature::load(&ft).unwrap_err().to_string();
    assert!(e.contains("reason"), "{e}");
}

/// Frequency of a tone by its upward zero crossings (interpolated) over `x`.
fn zero_crossing_hz(x: &[f32]) -> f64 {
    let mut first = None;
    let mut last = 0.0;
    let mut count = 0u64;
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let t = (i - 1) as f64 + (-x[i - 1] / (x[i] - x[i - 1])) as f64;
            match first {
                None => first = Some(t),
                Some(_) => count += 1,
            }
            last = t;
        }
    }
    count as f64 * SR as f64 / (last - first.expect("a tone"))
}

/// Every file under `dir` (relative path -> bytes), but the reels' own QC reports.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

const SPEED_VERSIONS: &str = "\n[[speed_version]]\nspeed = \"24/25\"\n\n\
    [[speed_version]]\nspeed = \"pull-down\"\n\n\
    [[speed_version]]\nspeed = \"24/25\"\npitch = \"corrected\"\n";

/// Two reels of a 1 kHz tone (continuous across the break) with their markers.
fn tone_feature(dir: &Path, extra: &str) -> (PathBuf, Vec<u64>) {
    let mut at = 0u64;
    let mut lens = Vec::new();
    for (r, n) in [(1u32, 60i64), (2, 45)] {
        let (_, l) = marker_reel_with(dir, r, n, Some(at), "");
        lens.push(l);
        at += l;
    }
    let ft = dir.join("feature.toml");
    std::fs::write(
        &ft,
        format!(
            "[feature]\ntitle = \"Markers\"\nreels = [\"r1/session.toml\", \"r2/session.toml\"]\n{extra}"
        ),
    )
    .unwrap();
    (ft, lens)
}

#[test]
fn speed_versions_have_the_right_length_pitch_joins_and_timecode() {
    let dir = tmp("speed");
    let (ft, lens) = tone_feature(&dir, SPEED_VERSIONS);
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    let s = feature::render_feature(&f, &mut backends(), &out, 8192, None).unwrap();
    let lp_len: u64 = lens.iter().sum();
    assert_eq!(s.report.speed_versions.len(), 3);
    // (tag, duration factor num/den, the tone's frequency, the timecode rate, its frame
    // in samples at 48 kHz)
    for (tag, num, den, hz, rate, frame) in [
        ("25fps", 24u64, 25u64, 1000.0 * 25.0 / 24.0, "25/1", 1920u64),
        (
            "23.976fps",
            1001,
            1000,
            1000.0 * 1000.0 / 1001.0,
            "24000/1001",
            2002,
        ),
        ("25fps_pc", 24, 25, 1000.0, "25/1", 1920),
    ] {
        let path = out
            .join(format!("LP_{tag}"))
            .join(format!("Markers_LP_{tag}_PM_2.0.wav"));
        let x = read_all(&path);
        // The length: the LP's times the duration factor, to the sample.
        assert_eq!(x[0].len() as u64, (lp_len * num + den / 2) / den, "{tag}");
        // The tone in each reel's part, away from the markers at the breaks: 1041.667 Hz
        // at PAL speed, 999.001 Hz pulled down, 1000 Hz when the pitch is corrected.
        let tol = if tag.ends_with("_pc") { 0.5 } else { 0.01 };
        let mut at = 0usize;
        for l in &lens {
            let n = (*l * num / den) as usize;
            let part = &x[0][at + 4800..at + n - 4800];
            let got = zero_crossing_hz(part);
            assert!((got - hz).abs() < tol, "{tag}: {got} Hz, want {hz}");
            at += n;
        }
        // The reel breaks moved to the scaled samples, in the report.
        let v = s
            .report
            .speed_versions
            .iter()
            .find(|v| v.version.tag == tag)
            .unwrap();
        assert_eq!(
            v.joins.iter().map(|j| j.lp_sample).collect::<Vec<_>>(),
            vec![0, lens[0] * num / den],
            "{tag}"
        );
        // Pitch following the speed is a resampling: the markers (an impulse on each
        // reel's first programme sample and on the last of its LFOA frame) are where
        // their samples went, once each.
        if !tag.ends_with("_pc") {
            // (sample, sign: +0.9 at the FFOA, -0.8 at the end of the LFOA frame)
            let mut want = Vec::new();
            let mut at = 0u64;
            for l in &lens {
                want.push((at, 1.0f32));
                want.push((at + l - 1, -1.0));
                at += l;
            }
            for (w, sign) in want {
                let p = ((w * num + den / 2) / den) as usize;
                let from = p.saturating_sub(4);
                let win = &x[0][from..(p + 5).min(x[0].len())];
                let peak = win
                    .iter()
                    .enumerate()
                    .max_by(|a, b| (a.1 * sign).total_cmp(&(b.1 * sign)))
                    .unwrap();
                assert_eq!(from + peak.0, p, "{tag}: marker {w}");
                assert!(peak.1 * sign > 0.6, "{tag}: marker {w}: {}", peak.1);
            }
        }
        // The LP starts at reel 1's FFOA: 72 frames into hour 1, at the new rate too.
        let info = WavReader::open(&path).unwrap().info().clone();
        let hour = if rate == "25/1" {
            3600 * SR as u64
        } else {
            86_400 * 2002
        };
        assert_eq!(
            info.bext.unwrap().time_reference,
            hour + 72 * frame,
            "{tag}"
        );
        let sp = info.ixml.unwrap().speed.unwrap();
        assert_eq!(sp.timecode_rate, rate, "{tag}");
        // The loudness was measured again, on the converted file.
        let measured = v.loudness.as_ref().unwrap().integrated_lufs.unwrap();
        let oracle = oracle_integrated(&path).unwrap();
        assert!(
            (measured - oracle).abs() < 0.01,
            "{tag}: {measured} vs {oracle}"
        );
    }
    assert_eq!(s.report.speed_versions[0].start_tc, "01:00:02:22");
    // Every speed version is in SHA256SUMS.
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for tag in ["25fps", "23.976fps", "25fps_pc"] {
        assert!(
            sums.contains(&format!("LP_{tag}/Markers_LP_{tag}_PM_2.0.wav")),
            "{sums}"
        );
    }
    // A speed that no timecode rate runs at is refused, naming the table.
    let bad = "\n[[speed_version]]\nspeed = \"25/24\"\n";
    std::fs::write(
        &ft,
        format!("[feature]\ntitle = \"Markers\"\nreels = [\"r1/session.toml\"]\n{bad}"),
    )
    .unwrap();
    let e = Feature::load(&ft).unwrap_err().to_string();
    assert!(
        e.contains("[[speed_version]]") && e.contains("23.040 fps"),
        "{e}"
    );
}

#[test]
fn finish_is_atomic_idempotent_and_its_sums_cover_the_plan_and_the_report() {
    let dir = tmp("atomic");
    let (ft, _) = tone_feature(&dir, "\n[[speed_version]]\nspeed = \"24/25\"\n");
    let f = Feature::load(&ft).unwrap();
    let out = dir.join("print");
    feature::render_feature(&f, &mut backends(), &out, 8192, None).unwrap();
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for p in [
        "feature/plan.json",
        "feature/report.json",
        "feature/report.html",
    ] {
        assert!(sums.lines().any(|l| l.ends_with(&format!("  {p}"))), "{p}");
    }
    for line in sums.lines() {
        let (h, p) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(out.join(p)).unwrap();
        assert_eq!(dubstage_core::sha256_hex(&bytes), h, "{p}");
    }
    let first = snapshot(&out);
    // Finishing again writes the same bytes and leaves no temporary.
    feature::finish(&f, &out, None).unwrap();
    let again = snapshot(&out);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        again.keys().collect::<Vec<_>>()
    );
    for (p, b) in &first {
        assert!(again[p] == *b, "{} changed", p.display());
    }
    // A finish that fails at its commit (here: a folder where the report's page goes)
    // leaves the previous delivery: no new LP appears beside the old report.
    let lp = out.join("LP/Markers_LP_PM_2.0.wav");
    std::fs::write(&lp, b"the previous long play").unwrap();
    let page = out.join("feature/report.html");
    std::fs::remove_file(&page).unwrap();
    std::fs::create_dir(&page).unwrap();
    assert!(feature::finish(&f, &out, None).is_err());
    assert_eq!(std::fs::read(&lp).unwrap(), b"the previous long play");
    let now = snapshot(&out);
    assert!(
        now.keys()
            .all(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.')),
        "a temporary was left: {:?}",
        now.keys().collect::<Vec<_>>()
    );
    assert_eq!(now[Path::new("SHA256SUMS")], first[Path::new("SHA256SUMS")]);
    std::fs::remove_dir(&page).unwrap();
    feature::finish(&f, &out, None).unwrap();
    assert_eq!(snapshot(&out), first);
    // The same feature rendered in another folder: the same SHA256SUMS (no path in the
    // plan, the report or the files depends on where the feature lies).
    let other = tmp("atomic-copy");
    let (ft2, _) = tone_feature(&other, "\n[[speed_version]]\nspeed = \"24/25\"\n");
    let f2 = Feature::load(&ft2).unwrap();
    feature::render_feature(&f2, &mut backends(), &other.join("out"), 8192, None).unwrap();
    assert_eq!(
        std::fs::read_to_string(other.join("out/SHA256SUMS")).unwrap(),
        sums
    );
}

/// A reel session's own `[[speed_version]]`: the render delivers its deliverables again
/// in `25fps/`, 24/25 as long to the sample, the tone at 1041.667 Hz, the FFOA marker
/// where its sample went, bext and iXML at the new rate, the converted printmaster
/// measured again (block-list oracle) and judged in the QC report, every file in
/// SHA256SUMS with its real hash; a `kinds` filter that names no deliverable of the
/// session is refused.
/// A stop asked while a speed version is being converted is seen within a block
/// (not when the version is done): the render ends `Cancelled`, with nothing at a
/// final path and no temporary file left.
#[test]
fn a_stop_during_a_speed_version_stops_it_within_a_block() {
    use dubstage_core::pipeline::{RenderOptions, render};
    use dubstage_core::session::Session;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let dir = tmp("session-speed-stop");
    let extra = "\n[[speed_version]]\nspeed = \"24/25\"\n\n\
                 [[speed_version]]\nspeed = \"pull-down\"\n";
    let (path, _) = marker_reel_with(&dir, 1, 60, Some(0), extra);
    let plan = Session::load(&path).unwrap().resolve().unwrap();
    let len = plan.length;
    let out = dir.join("print");
    let stop = Arc::new(AtomicBool::new(false));
    let (after, total) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut opts = RenderOptions::new(&out);
    opts.cancel = Some(stop.clone());
    let (s2, a2, t2) = (stop.clone(), after.clone(), total.clone());
    // The two versions are the last two passes: stop a quarter into the first.
    let progress = move |done: u64, all: u64| {
        t2.store(all, Ordering::SeqCst);
        let first_version = all - 2 * len;
        if s2.load(Ordering::SeqCst) {
            a2.fetch_max(done, Ordering::SeqCst);
        } else if done >= first_version + len / 4 && done < first_version + len / 2 {
            s2.store(true, Ordering::SeqCst);
        }
    };
    let err = render(&plan, &mut CpuBackend::new(), &opts, Some(&progress)).unwrap_err();
    assert!(
        matches!(err, dubstage_core::Error::Cancelled(_)),
        "cancelled: {err}"
    );
    assert!(
        stop.load(Ordering::SeqCst),
        "the stop was asked in a version"
    );
    // Before the mend the version ran on to its end (and reported it) after the stop.
    let first_version_end = total.load(Ordering::SeqCst) - len;
    let seen = after.load(Ordering::SeqCst);
    assert!(
        seen < first_version_end - len / 4,
        "progress after the stop reached {seen} (the version ends at {first_version_end})"
    );
    let mut left = Vec::new();
    let mut dirs = vec![out.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                left.push(e.path());
            }
        }
    }
    assert!(
        left.is_empty(),
        "nothing left in the output folder: {left:?}"
    );
}

#[test]
fn a_session_delivers_its_own_speed_versions() {
    use dubstage_core::pipeline::{RenderOptions, render};
    use dubstage_core::session::Session;
    let dir = tmp("session-speed");
    let extra = "\n[[deliverable]]\nkind = \"me\"\nformat = \"pcm24\"\n\n\
                 [[speed_version]]\nspeed = \"24/25\"\nkinds = [\"printmaster\"]\n\n\
                 [[speed_version]]\nspeed = \"pull-down\"\npitch = \"corrected\"\n";
    let (path, prog) = marker_reel_with(&dir, 1, 60, Some(0), extra);
    let plan = Session::load(&path).unwrap().resolve().unwrap();
    let out = dir.join("print");
    let s = render(
        &plan,
        &mut CpuBackend::new(),
        &RenderOptions::new(&out),
        None,
    )
    .unwrap();
    assert_eq!(s.speed_versions.len(), 2);
    let pal = &s.speed_versions[0];
    assert_eq!(pal.version.tag, "25fps");
    // Only the printmaster at PAL speed (kinds), both deliverables pulled down.
    assert_eq!(pal.deliverables.len(), 1);
    assert_eq!(s.speed_versions[1].deliverables.len(), 2);
    let pm = &pal.deliverables[0].files[0].path;
    assert_eq!(pm.parent().unwrap(), out.join("25fps"));
    let pm_name = pm.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        pm_name,
        format!("{}_25fps.wav", s.deliverables[0].name),
        "the original's name and the tag"
    );
    let x = read_all(pm);
    let ffoa = 72 * 2000u64;
    assert_eq!(x[0].len() as u64, (plan.length * 24 + 12) / 25);
    let (a, b) = (
        (ffoa * 24 / 25) as usize + 4800,
        ((ffoa + prog) * 24 / 25) as usize - 4800,
    );
    let hz = zero_crossing_hz(&x[0][a..b]);
    assert!((hz - 1000.0 * 25.0 / 24.0).abs() < 0.01, "{hz} Hz");
    let p = ((ffoa * 24 + 12) / 25) as usize;
    let peak = (p - 4..p + 5)
        .max_by(|&i, &j| x[0][i].total_cmp(&x[0][j]))
        .unwrap();
    assert_eq!(peak, p, "the FFOA marker");
    // bext and iXML: the reel starts on the hour, which keeps its place in the day.
    let info = WavReader::open(pm).unwrap().info().clone();
    assert_eq!(info.bext.unwrap().time_reference, 3600 * SR as u64);
    assert_eq!(info.ixml.unwrap().speed.unwrap().timecode_rate, "25/1");
    // Pitch corrected: the pulled-down M&E is 1001/1000 as long, the tone stays.
    let pd = &s.speed_versions[1];
    assert_eq!(pd.version.tag, "23.976fps_pc");
    let me = read_all(&pd.deliverables[1].files[0].path);
    assert_eq!(me[0].len() as u64, (plan.length * 1001 + 500) / 1000);
    let (a, b) = (ffoa as usize + 9600, (ffoa + prog) as usize - 9600);
    let hz = zero_crossing_hz(&me[0][a..b]);
    assert!((hz - 1000.0).abs() < 0.5, "{hz} Hz");
    // SHA256SUMS: every file, by its path under the output folder, with its real hash.
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for v in &s.speed_versions {
        for d in &v.deliverables {
            for f in &d.files {
                let rel = f
                    .path
                    .strip_prefix(&out)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let sha = dubstage_core::sha256_hex(&std::fs::read(&f.path).unwrap());
                assert!(sums.contains(&format!("{sha}  {rel}\n")), "{rel}: {sums}");
            }
        }
    }
    // The QC report lists the versions; the converted printmaster measured again.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let entry = report["deliverables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with(&pm_name))
        .expect("the PAL printmaster in the QC report");
    let measured = entry["loudness"]["integrated_lufs"].as_f64().unwrap();
    let oracle = oracle_integrated(pm).unwrap();
    assert!((measured - oracle).abs() < 0.01, "{measured} vs {oracle}");
    assert!(
        entry["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Speed version")
    );
    let manifest = report["manifest"].as_array().unwrap();
    assert!(
        manifest
            .iter()
            .any(|m| m["path"].as_str().unwrap().ends_with(&pm_name))
    );
    // A kind the session does not deliver is refused, naming the table.
    let bad = "\n[[speed_version]]\nspeed = \"24/25\"\nkinds = [\"ltrt\"]\n";
    let (path, _) = marker_reel_with(&dir, 2, 10, None, bad);
    let e = Session::load(&path)
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("[[speed_version]]") && e.contains("ltrt"), "{e}");
}
