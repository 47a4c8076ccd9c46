//! Gating from histograms (core/src/loudness/histogram.rs) against the block-list oracle
//! (`meter::integrated_of`, `loudness_range_of`, `dialogue_of`) and libebur128: the EBU
//! cases, real recordings, parts merged against the joined programme, and the meter's
//! memory on a 20- and a 120-minute programme.

use dubstage_core::backend::{Analyzer, AnalyzerConfig, Hop};
use dubstage_core::io::{OutputFormat, WavReader, WavSpec, WavWriter};
use dubstage_core::layout::{Channel, Layout};
use dubstage_core::loudness::meter::{dialogue_of, integrated_of, loudness_range_of};
use dubstage_core::loudness::{DialogueGate, HopAnalyzer, Meter, MeterState};
use std::path::{Path, PathBuf};

const SR: u32 = 48_000;

fn sine(segments: &[(f64, f64)], freq: f64) -> Vec<f32> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for &(db, secs) in segments {
        let a = 10f64.powf(db / 20.0);
        for _ in 0..(secs * SR as f64).round() as u64 {
            out.push((a * (std::f64::consts::TAU * freq * n as f64 / SR as f64).sin()) as f32);
            n += 1;
        }
    }
    out
}

/// Pink-ish noise whose level wanders (a programme with a spread of block loudness).
fn programme(seed: u64, secs: f64, base_db: f64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n = (secs * SR as f64) as usize;
    let mut lp = 0.0f64;
    (0..n)
        .map(|i| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            lp += 0.2 * ((u * 2.0 - 1.0) - lp);
            let t = i as f64 / SR as f64;
            // Level moves by +-15 dB over ~7 s, with pauses 20 dB down.
            let db =
                base_db + 15.0 * (t * 0.9).sin() - if (t * 0.37).sin() > 0.8 { 20.0 } else { 0.0 };
            (lp * 3.0 * 10f64.powf(db / 20.0)) as f32
        })
        .collect()
}

fn hops_of(chans: &[Vec<f32>]) -> Vec<Hop> {
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: chans.len(),
        sample_rate: SR,
        true_peak_oversample: 0,
    })
    .unwrap();
    let mut out = Vec::new();
    let n = chans[0].len();
    let mut i = 0;
    while i < n {
        let e = (i + 24_000).min(n);
        let p: Vec<&[f32]> = chans.iter().map(|c| &c[i..e]).collect();
        a.push(&p).unwrap();
        out.extend(a.take_hops().unwrap());
        i = e;
    }
    out.extend(a.finish().unwrap());
    out
}

/// The block and short-term powers of a hop list, computed as the meter's definition
/// says (the oracle's input).
fn block_lists(hops: &[Hop], weights: &[f64], rate: u32) -> (Vec<f64>, Vec<f64>) {
    let hop = (rate / 10) as usize;
    let p: Vec<f64> = hops
        .iter()
        .filter(|h| h.frames == hop)
        .map(|h| weights.iter().zip(&h.energy).map(|(g, e)| g * e).sum())
        .collect();
    let win = |k: usize| -> Vec<f64> {
        (k..=p.len())
            .map(|end| p[end - k..end].iter().sum::<f64>() / (k * hop) as f64)
            .collect()
    };
    (win(4), win(30))
}

fn meter_of(hops: &[Hop], layout: &[Channel]) -> Meter {
    let mut m = Meter::new(SR, layout).unwrap().without_timeline();
    m.push_hops(hops).unwrap();
    m
}

fn close(what: &str, a: Option<f64>, b: Option<f64>, tol: f64) {
    match (a, b) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= tol, "{what}: {x} vs {y} (±{tol})"),
        (None, None) => {}
        _ => panic!("{what}: {a:?} vs {b:?}"),
    }
}

#[test]
fn ebu_cases_equal_the_block_list_computation() {
    // EBU Tech 3341 cases 1-7 and Tech 3342 cases 1-6, synthesized from their definitions.
    let cases: Vec<(&str, Vec<(f64, f64)>)> = vec![
        ("3341-1", vec![(-23.0, 20.0)]),
        ("3341-2", vec![(-33.0, 20.0)]),
        ("3341-3", vec![(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)]),
        (
            "3341-4",
            vec![
                (-72.0, 10.0),
                (-36.0, 10.0),
                (-23.0, 60.0),
                (-36.0, 10.0),
                (-72.0, 10.0),
            ],
        ),
        ("3341-5", vec![(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)]),
        ("3342-1", vec![(-20.0, 20.0), (-30.0, 20.0)]),
        ("3342-2", vec![(-20.0, 20.0), (-15.0, 20.0)]),
        ("3342-3", vec![(-40.0, 20.0), (-20.0, 20.0)]),
        (
            "3342-4",
            vec![
                (-50.0, 20.0),
                (-35.0, 20.0),
                (-20.0, 20.0),
                (-35.0, 20.0),
                (-50.0, 20.0),
            ],
        ),
    ];
    let st = Layout::Stereo.channels();
    for (name, segs) in cases {
        let x = sine(&segs, 1000.0);
        let hops = hops_of(&[x.clone(), x]);
        let (blocks, shorts) = block_lists(&hops, &[1.0, 1.0], SR);
        let m = meter_of(&hops, st);
        close(
            &format!("{name} I"),
            m.integrated(),
            integrated_of(&blocks),
            0.005,
        );
        close(
            &format!("{name} LRA"),
            m.loudness_range(),
            loudness_range_of(&shorts),
            0.02,
        );
    }
}

/// `../shared` relative to the repository root (`DUBSTAGE_SHARED` may name it).
fn shared() -> PathBuf {
    std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn real(p: &str) -> PathBuf {
    shared().join("real").join(p)
}

fn file_hops(path: &Path) -> (Vec<Hop>, usize, u32) {
    let mut r = WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let nch = r.info().channels as usize;
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: nch,
        sample_rate: r.info().sample_rate,
        true_peak_oversample: 0,
    })
    .unwrap();
    let mut bufs = vec![Vec::new(); nch];
    let mut hops = Vec::new();
    loop {
        let n = r.read_planar(&mut bufs, 1 << 15).unwrap();
        if n == 0 {
            break;
        }
        let p: Vec<&[f32]> = bufs.iter().map(|b| &b[..n]).collect();
        a.push(&p).unwrap();
        hops.extend(a.take_hops().unwrap());
    }
    hops.extend(a.finish().unwrap());
    (hops, nch, r.info().sample_rate)
}

#[test]
fn real_recordings_equal_the_block_list_computation() {
    let files = [
        "recorders/sounddevices/A101_1.WAV",
        "recorders/sounddevices/A101_3.WAV",
        "recorders/sounddevices/A101_4.WAV",
        "recorders/metacorder/Sr001-001-06_01.WAV",
        "recorders/metacorder/Sr001-2C-01_02.WAV",
    ];
    let mut measured = 0;
    for f in files {
        let path = real(f);
        assert!(
            path.exists(),
            "{} is missing (set DUBSTAGE_SHARED to the shared folder)",
            path.display()
        );
        let (hops, nch, rate) = file_hops(&path);
        let labels: Vec<String> = (0..nch).map(|c| format!("ch{c}")).collect();
        let w = vec![1.0; nch];
        let mut m = Meter::with_weights(rate, labels, w.clone()).unwrap();
        m.push_hops(&hops).unwrap();
        let (blocks, shorts) = block_lists(&hops, &w, rate);
        let want = integrated_of(&blocks);
        close(&format!("{f} I"), m.integrated(), want, 0.005);
        close(
            &format!("{f} LRA"),
            m.loudness_range(),
            loudness_range_of(&shorts),
            0.02,
        );
        measured += usize::from(want.is_some());
    }
    assert!(
        measured >= 2,
        "only {measured} recordings had a gated loudness"
    );
}

/// Meters each part on its own, with the dialogue bus, and returns the states.
fn part_state(pm: &[Vec<f32>], dx: &[Vec<f32>], layout: &[Channel]) -> MeterState {
    let mut m = Meter::new(SR, layout)
        .unwrap()
        .with_dialogue(layout)
        .without_timeline();
    m.push_hops(&hops_of(pm)).unwrap();
    m.push_dialogue_hops(&hops_of(dx)).unwrap();
    m.state().clone()
}

fn ebur128_oracle() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dubstage-ebur128-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("ebur128_ref");
    let src = shared().join("bench/ebur128_ref.c");
    let o = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .args(["-lebur128", "-lsndfile", "-lm"])
        .output()
        .expect("gcc (the libebur128 oracle needs gcc, libebur128-dev, libsndfile1-dev)");
    assert!(
        o.status.success(),
        "building the libebur128 oracle failed (apt-get install libebur128-dev libsndfile1-dev):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

fn ebur128_integrated(exe: &Path, wav: &Path) -> f64 {
    let o = std::process::Command::new(exe).arg(wav).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let v = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("I_LUFS="))
        .unwrap_or_else(|| panic!("no I_LUFS in {out}"));
    v.parse().unwrap()
}

#[test]
fn merged_parts_equal_the_joined_programme() {
    // Three "reels" of 3 minutes of a stereo programme with a dialogue bus; their
    // histograms merged against the joined programme measured in one go (block-list
    // oracle, libebur128). The joined programme has 3 blocks across each join that no
    // part has: over 9 minutes they move the integrated loudness by a few thousandths.
    let st = Layout::Stereo.channels();
    let mut pm_parts = Vec::new();
    let mut dx_parts = Vec::new();
    for (k, base) in [(1u64, -30.0), (2, -24.0), (3, -34.0)] {
        let music = programme(k, 180.0, base);
        let dx = programme(k + 10, 180.0, base + 4.0);
        // Dialogue speaks in bursts: silent half of the time.
        let dx: Vec<f32> = dx
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if (i / (SR as usize * 3)) % 2 == 0 {
                    v
                } else {
                    0.0
                }
            })
            .collect();
        let pm: Vec<f32> = music.iter().zip(&dx).map(|(a, b)| a + b).collect();
        pm_parts.push(vec![pm.clone(), music.clone()]);
        dx_parts.push(vec![dx.clone(), dx]);
    }
    let mut merged = part_state(&pm_parts[0], &dx_parts[0], st);
    for (pm, dx) in pm_parts.iter().zip(&dx_parts).skip(1) {
        merged.merge(&part_state(pm, dx, st)).unwrap();
    }
    let join = |parts: &[Vec<Vec<f32>>]| -> Vec<Vec<f32>> {
        (0..2)
            .map(|c| parts.iter().flat_map(|p| p[c].iter().copied()).collect())
            .collect()
    };
    let pm = join(&pm_parts);
    let dx = join(&dx_parts);
    let hops = hops_of(&pm);
    let (blocks, shorts) = block_lists(&hops, &[1.0, 1.0], SR);
    let (dblocks, _) = block_lists(&hops_of(&dx), &[1.0, 1.0], SR);
    let s = merged.summary(&DialogueGate::default());
    // The histograms against the parts' own blocks (the same blocks): the bins' error only.
    let parts: Vec<f64> = pm_parts
        .iter()
        .flat_map(|p| block_lists(&hops_of(p), &[1.0, 1.0], SR).0)
        .collect();
    close(
        "merged I vs the parts' blocks",
        s.integrated_lufs,
        integrated_of(&parts),
        0.005,
    );
    close(
        "merged I vs block list",
        s.integrated_lufs,
        integrated_of(&blocks),
        0.01,
    );
    // The LRA against the parts' own short-term windows (the joined programme has 29
    // windows across each join that no part has, and the percentiles feel them).
    let part_shorts: Vec<f64> = pm_parts
        .iter()
        .flat_map(|p| block_lists(&hops_of(p), &[1.0, 1.0], SR).1)
        .collect();
    close(
        "merged LRA vs the parts' windows",
        s.loudness_range_lu,
        loudness_range_of(&part_shorts),
        0.02,
    );
    let joined_lra = loudness_range_of(&shorts).unwrap();
    assert!(
        (s.loudness_range_lu.unwrap() - joined_lra).abs() < 0.5,
        "{joined_lra}"
    );
    let (dg, active, programme_blocks) = dialogue_of(&blocks, &dblocks, &DialogueGate::default());
    let d = s.dialogue.as_ref().unwrap();
    // As for the LRA: exact against the parts' own blocks; the joined programme adds
    // blocks across each join that no part has, so against it only closely.
    let dparts: Vec<f64> = dx_parts
        .iter()
        .flat_map(|p| block_lists(&hops_of(p), &[1.0, 1.0], SR).0)
        .collect();
    let (pdg, _, _) = dialogue_of(&parts, &dparts, &DialogueGate::default());
    close(
        "merged dialogue-gated vs the parts' blocks",
        d.gated_lufs,
        pdg,
        0.005,
    );
    close(
        "merged dialogue-gated vs the joined block list",
        d.gated_lufs,
        dg,
        0.05,
    );
    // The joined file has 3 blocks across each of the 2 joins that the parts do not.
    assert!((d.programme_blocks as i64 - programme_blocks as i64).abs() <= 6);
    assert!(
        (d.active_blocks as i64 - active as i64).abs() <= 8,
        "{} vs {active}",
        d.active_blocks
    );
    // The parts' states merge in any order to the same figures.
    let mut rev = part_state(&pm_parts[2], &dx_parts[2], st);
    rev.merge(&part_state(&pm_parts[1], &dx_parts[1], st))
        .unwrap();
    rev.merge(&part_state(&pm_parts[0], &dx_parts[0], st))
        .unwrap();
    let r = rev.summary(&DialogueGate::default());
    close("merge order", r.integrated_lufs, s.integrated_lufs, 1e-9);
    // libebur128 on the joined file. Written as float: the programme peaks above full
    // scale, which a PCM file would clip (a 24-bit copy measured 0.008 LU quieter in
    // libebur128, the cause of the 0.0153 LU once seen here). On the float file
    // libebur128's block mode (the oracle's: not EBUR128_MODE_HISTOGRAM, whose 0.1 LU
    // bins read 0.006 LU lower here) equals the block-list oracle above to 1e-5 LU; what
    // remains between it and the merged parts is measured as: the 6 blocks across the two
    // joins that no part has (0.0055 LU: the parts' blocks read -13.7353, the joined file's
    // -13.7403), the histogram bins (0.0005 LU), and the oracle's two printed decimals.
    let dir = std::env::temp_dir().join(format!("dubstage-hist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("joined.wav");
    let mut w = WavWriter::create(&wav, WavSpec::new(2, SR, OutputFormat::Float32)).unwrap();
    w.write_planar(&[&pm[0], &pm[1]]).unwrap();
    let written = w.finish().unwrap();
    assert!(
        written.peak.iter().any(|&p| p > 1.0),
        "the programme no longer peaks above full scale: {:?}",
        written.peak
    );
    let lib = ebur128_integrated(&ebur128_oracle(), &wav);
    close("merged I vs libebur128", s.integrated_lufs, Some(lib), 0.01);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Synthetic hops of `minutes` of a 5.1 programme whose level wanders.
fn synthetic_hops(minutes: usize) -> Vec<Hop> {
    let hop = (SR / 10) as usize;
    (0..minutes * 600)
        .map(|i| {
            let l = -30.0 + 12.0 * (i as f64 * 0.013).sin() + 5.0 * (i as f64 * 0.17).cos();
            let e = 10f64.powf((l + 0.691) / 10.0) * hop as f64;
            Hop {
                frames: hop,
                energy: vec![e; 6],
                sample_peak: vec![0.1; 6],
                true_peak: vec![0.1; 6],
            }
        })
        .collect()
}

#[test]
fn meter_memory_on_20_and_120_minutes_differs_by_under_5_mb() {
    let ch = Layout::FiveOne.channels();
    let run = |minutes: usize, timeline: bool| -> usize {
        let mut m = Meter::new(SR, ch).unwrap().with_dialogue(ch);
        if !timeline {
            m = m.without_timeline();
        }
        let hops = synthetic_hops(minutes);
        for chunk in hops.chunks(300) {
            m.push_hops(chunk).unwrap();
            m.push_dialogue_hops(chunk).unwrap();
        }
        assert!(m.integrated().is_some());
        m.heap_bytes()
    };
    let (a, b) = (run(20, false), run(120, false));
    // Without the plot timeline the meter holds the same bins whatever the length.
    assert!(b.abs_diff(a) < 64 * 1024, "20 min {a} B, 120 min {b} B");
    assert!(b < 2 * 1024 * 1024, "{b} B");
    let (a, b) = (run(20, true), run(120, true));
    assert!(
        b.abs_diff(a) < 5 * 1024 * 1024,
        "with timeline: 20 min {a} B, 120 min {b} B"
    );
}

/// The child of [`meter_peak_rss_on_20_and_120_minutes_differs_by_under_5_mb`]: meters
/// `minutes` of a stereo programme (a wandering-level tone, generated block by block)
/// through the render's own analyzer (K-weighting, 4x true peak) and meter (histograms,
/// dialogue gate, the 100 ms plot timeline), then prints its peak RSS (`VmHWM`).
#[cfg(target_os = "linux")]
fn meter_rss_child(minutes: u64) {
    let ch = Layout::Stereo.channels();
    let mut a = HopAnalyzer::new(&AnalyzerConfig {
        channels: 2,
        sample_rate: SR,
        true_peak_oversample: 4,
    })
    .unwrap()
    .with_running_true_peak();
    let mut m = Meter::new(SR, ch).unwrap().with_dialogue(ch);
    let block = 1 << 15;
    let total = minutes * 60 * SR as u64;
    // One second of 440 Hz is a whole number of periods: the tone is that second again
    // and again, at a level that changes block by block.
    let second: Vec<f32> = (0..SR)
        .map(|i| (std::f64::consts::TAU * 440.0 * i as f64 / SR as f64).sin() as f32)
        .collect();
    let mut x = vec![vec![0f32; block]; 2];
    let mut t = 0u64;
    while t < total {
        let n = (total - t).min(block as u64) as usize;
        let level = (0.1 + 0.08 * (t as f64 / SR as f64 * 0.05).sin()) as f32;
        for (i, v) in x[0][..n].iter_mut().enumerate() {
            *v = level * second[((t + i as u64) % SR as u64) as usize];
        }
        let (l, r) = x.split_at_mut(1);
        r[0][..n].copy_from_slice(&l[0][..n]);
        a.push(&[&x[0][..n], &x[1][..n]]).unwrap();
        let hops = a.take_hops().unwrap();
        m.push_hops(&hops).unwrap();
        m.push_dialogue_hops(&hops).unwrap();
        t += n as u64;
    }
    m.push_hops(&a.finish().unwrap()).unwrap();
    let s = m.summary(&DialogueGate::default(), true);
    assert!(s.integrated_lufs.is_some() && s.timeline.is_some());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .to_string();
    println!("METER_RSS_KB={hwm}");
}

/// The meter's peak RSS, measured by the kernel in a fresh process for each length (the
/// test binary runs itself with `DUBSTAGE_METER_RSS_MINUTES`): 20 and 120 minutes of
/// programme differ by less than 5 MB (issue 16: the histograms do not grow; the 100 ms
/// plot timeline grows by 8 bytes a hop).
#[cfg(target_os = "linux")]
#[test]
fn meter_peak_rss_on_20_and_120_minutes_differs_by_under_5_mb() {
    const NAME: &str = "meter_peak_rss_on_20_and_120_minutes_differs_by_under_5_mb";
    if let Ok(m) = std::env::var("DUBSTAGE_METER_RSS_MINUTES") {
        meter_rss_child(m.parse().unwrap());
        return;
    }
    let rss = |minutes: u64| -> u64 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env("DUBSTAGE_METER_RSS_MINUTES", minutes.to_string())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{minutes} min: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // (the harness may print the test's name on the same line)
        text.split("METER_RSS_KB=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("no figure from the child: {text}"))
            .parse()
            .unwrap()
    };
    let (a, b) = (rss(20), rss(120));
    eprintln!("meter peak RSS: 20 min {a} kB, 120 min {b} kB");
    assert!(b.abs_diff(a) < 5 * 1024, "20 min {a} kB, 120 min {b} kB");
}
