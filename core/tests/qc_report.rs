//! The QC report model: JSON round trip, loudness checks, HTML rendering
//! (escaping, self-containment, downsampling) and a sample report built from
//! real detector runs on synthetic audio (written to the temp dir for a look).

use dubstage_core::qc::{
    self, BackendReport, Check, Conversion, CueRow, DeliverableQc, Finding, FindingKind,
    LoudnessFigures, ManifestEntry, Normalization, NullTest, PopDetector, ProfileInfo, QcConfig,
    QcDetectors, QcReport, SessionInfo, Status, TimeBase, Timelines, loudness_checks, sync_report,
};
use dubstage_core::{FrameRate, Layout, Timecode};
use std::f64::consts::PI;

const FS: u32 = 48_000;

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

fn netflix() -> ProfileInfo {
    ProfileInfo {
        name: "netflix".into(),
        target_lufs: -27.0,
        tolerance_lu: 2.0,
        true_peak_max_dbtp: -2.0,
        dialogue_gated: true,
        dialogue_min_percent: Some(15.0),
        fallback_target_lufs: Some(-24.0),
        lra_min_lu: Some(4.0),
        lra_max_lu: Some(18.0),
        notes: "Netflix Sound Mix Specifications: dialogue-gated -27 LKFS ± 2 LU, -2 dBTP.".into(),
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        path: "sessions/long_night_r3.toml".into(),
        sha256: "9f2c".repeat(16),
        title: "The Long Night".into(),
        reel: "3".into(),
        frame_rate: "23.976".into(),
        start_tc: "02:59:52:00".into(),
        ffoa_tc: "03:00:00:00".into(),
        sample_rate: FS,
    }
}

/// A smooth, deterministic loudness curve (LUFS) with a quiet stretch.
fn timeline(n: usize, seed: u64, smooth: usize) -> Vec<f32> {
    let r = noise(n + smooth, 1.0, seed);
    (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let base = -27.0 + 6.0 * (2.0 * PI * 3.0 * t).sin() + 3.0 * (2.0 * PI * 11.0 * t).sin();
            let jitter: f32 = r[i..i + smooth].iter().sum::<f32>() / smooth as f32;
            let v = base + 8.0 * jitter as f64;
            if (0.40..0.42).contains(&t) {
                f32::NEG_INFINITY
            } else {
                ((v * 100.0).round() / 100.0) as f32
            }
        })
        .collect()
}

/// `v + d` rounded to the two decimals that report.json keeps.
fn shift(v: f32, d: f64) -> f32 {
    (((v as f64 + d) * 100.0).round() / 100.0) as f32
}

fn figures(i: f64, dg: Option<f64>, pct: Option<f64>, tp: &[f64], lra: f64) -> LoudnessFigures {
    LoudnessFigures {
        integrated_lufs: Some(i),
        lra_lu: Some(lra),
        true_peak_dbtp: tp.iter().map(|&v| Some(v)).collect(),
        true_peak_max_dbtp: tp.iter().copied().reduce(f64::max),
        sample_peak_dbfs: tp.iter().map(|&v| Some(v - 0.5)).collect(),
        sample_peak_max_dbfs: tp.iter().copied().reduce(f64::max).map(|v| v - 0.5),
        max_momentary_lufs: Some(-12.5),
        max_short_term_lufs: Some(-16.25),
        dialogue_gated_lufs: dg,
        dialogue_percent: pct,
        normalization: Some(Normalization {
            before_lufs: Some(-23.5),
            after_lufs: dg.or(Some(i)),
            gain_db: -3.5,
            true_peak_before_dbtp: Some(0.5),
            true_peak_after_dbtp: tp.iter().copied().reduce(f64::max),
            limiter_max_reduction_db: Some(1.25),
        }),
    }
}

/// A 5.1 programme with planted defects, run through the real detectors.
fn printmaster_qc(secs: usize, time: TimeBase, ffoa: u64) -> (Vec<Check>, Vec<Finding>) {
    let n = ffoa as usize + secs * FS as usize;
    let mut ch: Vec<Vec<f32>> = (0..6).map(|k| noise(n, 0.15, 300 + k)).collect();
    for c in &mut ch {
        for v in &mut c[..ffoa as usize] {
            *v = 0.0;
        }
    }
    let p = ffoa as usize;
    // A clipped passage at +20 s on L and C.
    for c in [0, 2] {
        for k in 0..40 {
            let s = p + 20 * FS as usize + k * 1200;
            for v in &mut ch[c][s..s + 5] {
                *v = 1.0;
            }
        }
    }
    // A 120 ms drop-out on R at +41 s.
    for v in &mut ch[1][p + 41 * FS as usize..p + 41 * FS as usize + 5760] {
        *v = 0.0;
    }
    // LFE: 40 Hz, with a voice-band leak from +70 s to +74 s.
    for (i, v) in ch[3].iter_mut().enumerate().skip(p) {
        let t = i as f64 / FS as f64;
        let mut x = 0.2 * (2.0 * PI * 40.0 * t).sin();
        if (p + 70 * FS as usize..p + 74 * FS as usize).contains(&i) {
            x += 0.15 * (2.0 * PI * 700.0 * t).sin();
        }
        *v = x as f32;
    }
    // Surrounds out of phase from +100 s to +104 s.
    let span = p + 100 * FS as usize..p + 104 * FS as usize;
    let inverted: Vec<f32> = ch[4][span.clone()].iter().map(|v| -v).collect();
    ch[5][span].copy_from_slice(&inverted);
    let mut qc = QcDetectors::new(&QcConfig::default(), Layout::FiveOne.channels(), time)
        .unwrap()
        .with_programme(ffoa, None);
    for i in (0..n).step_by(48_000) {
        let j = (i + 48_000).min(n);
        let b: Vec<&[f32]> = ch.iter().map(|c| &c[i..j]).collect();
        qc.push(&b).unwrap();
    }
    qc.finish_with_checks()
}

fn sample_report() -> QcReport {
    let s = session();
    let rate: FrameRate = s.frame_rate.parse().unwrap();
    let start = Timecode::parse(&s.start_tc, rate).unwrap();
    let time = TimeBase::new(FS, start);
    let rep_ffoa = s.ffoa_tc.clone();
    let ffoa =
        (Timecode::parse(&s.ffoa_tc, rate).unwrap().to_samples(FS) - time.start_samples) as u64;
    let secs = 150;
    let frames = ffoa + secs as u64 * FS as u64;
    let dur = frames as f64 / FS as f64;
    let hops = (dur * 10.0) as usize;
    let cfg = QcConfig::default();
    let profile = netflix();

    // Printmaster: real detector findings on planted defects.
    let (mut checks, findings) = printmaster_qc(secs, time, ffoa);
    let pm_loud = figures(
        -26.8,
        Some(-27.1),
        Some(38.0),
        &[-3.1, -2.9, -2.4, -9.5, -6.2, -1.6],
        11.5,
    );
    let mut all = loudness_checks(&pm_loud, &profile);
    all.append(&mut checks);
    let mut mt = timeline(hops, 7, 4);
    let mut st = timeline(hops, 7, 30);
    for v in mt.iter_mut().chain(st.iter_mut()).take(80) {
        *v = f32::NEG_INFINITY; // the silent leader
    }
    let pm = DeliverableQc {
        name: "Printmaster 5.1".into(),
        path: "out/long_night_r3_PM_51.wav".into(),
        layout: "5.1".into(),
        channels: ["L", "R", "C", "LFE", "Ls", "Rs"]
            .map(String::from)
            .to_vec(),
        format: "BWF PCM 24-bit 48 kHz".into(),
        frames,
        duration_s: dur,
        sha256: "3b7a".repeat(16),
        loudness: pm_loud,
        timelines: Timelines {
            hop_s: 0.1,
            momentary: mt,
            short_term: st,
        },
        checks: all,
        findings,
        matrix: None,
        status: Status::Pass,
    };
    // Lo/Ro: a clean run of the detectors.
    let lr_loud = figures(-26.2, Some(-26.9), Some(38.0), &[-2.6, -2.8], 10.1);
    let mut lr_checks = loudness_checks(&lr_loud, &profile);
    let mut qc = QcDetectors::new(&cfg, Layout::Stereo.channels(), time).unwrap();
    let (l, r) = (
        noise(FS as usize * 10, 0.2, 1),
        noise(FS as usize * 10, 0.2, 2),
    );
    qc.push(&[&l, &r]).unwrap();
    let (mut c, f) = qc.finish_with_checks();
    lr_checks.append(&mut c);
    let lr = DeliverableQc {
        name: "Lo/Ro 2.0".into(),
        path: "out/long_night_r3_LoRo.wav".into(),
        layout: "2.0".into(),
        channels: vec!["L".into(), "R".into()],
        format: "BWF PCM 24-bit 48 kHz".into(),
        frames,
        duration_s: dur,
        sha256: "c0de".repeat(16),
        loudness: lr_loud,
        timelines: Timelines {
            hop_s: 0.1,
            momentary: timeline(hops, 8, 4)
                .iter()
                .map(|v| shift(*v, 0.6))
                .collect(),
            short_term: timeline(hops, 8, 30)
                .iter()
                .map(|v| shift(*v, 0.6))
                .collect(),
        },
        checks: lr_checks,
        findings: f,
        matrix: None,
        status: Status::Pass,
    };
    // M&E: no dialogue, too hot on the integrated fallback.
    let me_loud = figures(
        -21.4,
        None,
        Some(0.0),
        &[-4.0, -4.2, -8.0, -12.0, -7.5, -7.9],
        14.0,
    );
    let me = DeliverableQc {
        name: "M&E 5.1".into(),
        path: "out/long_night_r3_ME_51.wav".into(),
        layout: "5.1".into(),
        channels: ["L", "R", "C", "LFE", "Ls", "Rs"]
            .map(String::from)
            .to_vec(),
        format: "BWF PCM 24-bit 48 kHz".into(),
        frames,
        duration_s: dur,
        sha256: "e11e".repeat(16),
        checks: loudness_checks(&me_loud, &profile),
        loudness: me_loud,
        timelines: Timelines {
            hop_s: 0.1,
            momentary: timeline(hops, 9, 4)
                .iter()
                .map(|v| shift(*v, 5.0))
                .collect(),
            short_term: timeline(hops, 9, 30)
                .iter()
                .map(|v| shift(*v, 5.0))
                .collect(),
        },
        findings: Vec::new(),
        matrix: None,
        status: Status::Pass,
    };
    // Sync: four stems, FX one frame late.
    let expected =
        qc::expected_pop_sample(start, Timecode::parse(&rep_ffoa, rate).unwrap(), FS).unwrap();
    let frame = 2002;
    let mut pops = Vec::new();
    for (name, off) in [("DX", 0i64), ("MX", 0), ("FX", 2002), ("BG", 0)] {
        let mut d = PopDetector::new(name, Layout::Mono.channels(), time, expected, &cfg).unwrap();
        let mut x = vec![0.0f32; (expected + 2 * FS as u64) as usize];
        let at = (expected as i64 + off) as usize;
        for k in 0..frame {
            x[at + k] = (0.1 * (2.0 * PI * 1000.0 * k as f64 / FS as f64).sin()) as f32;
        }
        d.push(&[&x]).unwrap();
        pops.push(d.finish());
    }
    let sync = sync_report(&pops, &time, expected, &cfg);
    // Null test: parts that sum.
    let mut nt = NullTest::new(
        "printmaster − DX − M&E",
        Layout::Stereo.channels(),
        time,
        &cfg,
    )
    .unwrap();
    let (a, b) = (noise(48_000, 0.3, 5), noise(48_000, 0.3, 6));
    let sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    nt.push(&[&sum, &sum], &[&[&a, &a], &[&b, &b]]).unwrap();
    let null = nt.finish();
    let cues = vec![
        CueRow {
            number: "ADR-031".into(),
            kind: "ADR".into(),
            tc_in: "03:00:41:12".into(),
            tc_out: "03:00:44:03".into(),
            character: "MARA".into(),
            text: "<b>Don't</b> open that door & \"listen\"".into(),
            reason: "plane overhead".into(),
            notes: "<script>alert('x')</script>".into(),
        },
        CueRow {
            number: "FOL-007".into(),
            kind: "Foley".into(),
            tc_in: "03:01:10:00".into(),
            tc_out: "03:01:12:20".into(),
            character: String::new(),
            text: "footsteps on gravel, left to right".into(),
            reason: "missing in production".into(),
            notes: String::new(),
        },
    ];
    let manifest = [&pm, &lr, &me]
        .iter()
        .map(|d| ManifestEntry {
            path: d.path.clone(),
            bytes: d.frames * d.channels.len() as u64 * 3 + 1_024,
            sha256: d.sha256.clone(),
        })
        .collect();
    let mut rep = QcReport {
        dubstage_version: dubstage_core::VERSION.into(),
        session: s,
        backend: BackendReport {
            kind: "gpu".into(),
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            api: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: "llvmpipe · Mesa 22.3.6".into(),
            cpu: None,
        },
        profile,
        deliverables: vec![pm, lr, me],
        sync: Some(sync),
        null_test: Some(null),
        cues,
        manifest,
        folds: vec![],
        conversions: vec![Conversion {
            what: "track 'MX' clip 1 ('cue 1M1')".into(),
            file: "media/1M1 & 1M2.wav".into(),
            from_hz: 44_100,
            to_hz: 48_000,
            speed: Some("pull-down".into()),
            resampler: "rubato".into(),
        }],
        thresholds: cfg,
        status: Status::Pass,
    };
    rep.finalize();
    rep
}

#[test]
fn sample_report_has_the_planted_defects_and_renders() {
    let rep = sample_report();
    let pm = &rep.deliverables[0];
    let kinds: Vec<FindingKind> = pm.findings.iter().map(|f| f.kind).collect();
    for k in [
        FindingKind::Clip,
        FindingKind::DropOut,
        FindingKind::LfeBandwidth,
        FindingKind::PhaseCorrelation,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing: {:#?}", pm.findings);
    }
    assert_eq!(pm.status, Status::Fail); // clipping and true peak
    assert_eq!(rep.deliverables[1].status, Status::Pass);
    assert_eq!(rep.deliverables[2].status, Status::Fail); // M&E too hot on the fallback
    assert_eq!(rep.status, Status::Fail);
    assert_eq!(rep.sync.as_ref().unwrap().check.status, Status::Fail);
    let html = qc::html::render(&rep);
    assert!(html.contains("FX +2002 samples"));
    assert!(html.contains("03:00:00:00") || html.contains("02:59:52:00"));
    // the converted source: what, file (escaped), both rates and the speed
    let conv = html
        .split("<h2>Converted sources (1)</h2>")
        .nth(1)
        .expect("a converted-sources section");
    let conv = &conv[..conv.find("</section>").unwrap()];
    for want in [
        "track &#39;MX&#39; clip 1 (&#39;cue 1M1&#39;)",
        "media/1M1 &amp; 1M2.wav",
        "44100 Hz",
        "48000 Hz",
        "pull-down",
        "by rubato.",
    ] {
        assert!(conv.contains(want), "{want} missing from {conv}");
    }
    let dir = std::env::temp_dir().join("dubstage-qc-sample");
    qc::write_report(&dir, &rep).unwrap();
    eprintln!("sample report: {}", dir.join("report.html").display());
}

#[test]
fn report_json_round_trips() {
    let rep = sample_report();
    let json = qc::to_json(&rep).unwrap();
    let back = qc::from_json(&json).unwrap();
    // Timelines are written with two decimals and silence as null.
    assert!(json.contains("null"));
    assert_eq!(qc::to_json(&back).unwrap(), json);
    assert!(back == rep, "round trip changed the report");
    assert!(qc::from_json("{\"dubstage_version\": 3}").is_err());
    // The same document as serde_json's own output, laid out for reading:
    // one key per line, each timeline on one line.
    let ours: serde_json::Value = serde_json::from_str(&json).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&serde_json::to_string_pretty(&rep).unwrap()).unwrap();
    assert!(ours == theirs, "layout changed the content");
    assert!(json.contains("\n  \"dubstage_version\": \"0.1.0\",\n"));
    let line = json
        .lines()
        .find(|l| l.trim_start().starts_with("\"momentary\""))
        .unwrap();
    assert!(
        line.trim_start().starts_with("\"momentary\": [null,null,"),
        "{}",
        &line[..60]
    );
    assert!(line.ends_with("],"), "a timeline is one line");
    assert!(json.contains("\"channels\": [\"L\",\"R\",\"C\",\"LFE\",\"Ls\",\"Rs\"]"));
}

#[test]
fn write_report_is_atomic_and_complete() {
    let rep = sample_report();
    let dir = std::env::temp_dir().join(format!("dubstage-qc-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    qc::write_report(&dir.join("qc"), &rep).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.join("qc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["report.html", "report.json"]);
    let json = std::fs::read_to_string(dir.join("qc/report.json")).unwrap();
    assert!(qc::from_json(&json).unwrap() == rep);
    let html = std::fs::read_to_string(dir.join("qc/report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn html_escapes_all_text() {
    let mut rep = sample_report();
    rep.deliverables[0].name = "<img src=x onerror=alert(1)>".into();
    rep.session.title = "Tom & Jerry's \"Big\" <Night>".into();
    rep.deliverables[0].findings[0].detail = "a < b && c > d".into();
    let html = qc::html::render(&rep);
    assert!(!html.contains("<script"), "cue notes leaked");
    assert!(!html.contains("<img"), "name leaked");
    assert!(!html.contains("<b>Don't"), "cue text leaked");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;Don&#39;t&lt;/b&gt; open that door &amp; &quot;listen&quot;"));
    assert!(html.contains("Tom &amp; Jerry&#39;s &quot;Big&quot; &lt;Night&gt;"));
    assert!(html.contains("a &lt; b &amp;&amp; c &gt; d"));
    assert_eq!(qc::html::escape("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
}

#[test]
fn html_is_self_contained() {
    let html = qc::html::render(&sample_report());
    for bad in ["<script", "<link", "src=", "url(", "@import", "https://"] {
        assert!(!html.contains(bad), "{bad} found");
    }
    // The only URL is the SVG namespace name, which is never fetched.
    assert_eq!(
        html.matches("http://").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    assert!(html.contains("<style>") && html.contains("<svg"));
    assert!(html.contains("stem-gated"));
    assert!(html.contains("not Dolby Dialogue Intelligence"));
}

#[test]
fn two_hour_timeline_is_downsampled() {
    let mut rep = sample_report();
    let hops = 2 * 3600 * 10;
    for d in &mut rep.deliverables {
        d.duration_s = 7200.0;
        d.frames = 7200 * FS as u64;
        d.timelines.momentary = timeline(hops, 11, 4);
        d.timelines.short_term = timeline(hops, 11, 30);
    }
    let html = qc::html::render(&rep);
    let dir = std::env::temp_dir().join("dubstage-qc-2h");
    qc::write_report(&dir, &rep).unwrap();
    // Three deliverables x two series x 72000 points would be megabytes.
    assert!(html.len() < 400_000, "{} bytes", html.len());
    // Hour ticks on the timecode axis.
    assert!(
        html.contains(">04:00:00:00<") || html.contains(">03:59:52:00<"),
        "no hour tick"
    );
}

#[test]
fn loudness_checks_follow_the_profile() {
    let p = netflix();
    let get = |c: &[Check], n: &str| c.iter().find(|c| c.name == n).cloned().unwrap();
    // Dialogue-gated within ±2 LU of -27, true peak under -2, LRA in 4-18.
    let ok = figures(-25.0, Some(-28.5), Some(40.0), &[-3.0, -2.5], 9.0);
    let c = loudness_checks(&ok, &p);
    assert_eq!(get(&c, "Dialogue loudness").status, Status::Pass);
    assert_eq!(get(&c, "True peak").status, Status::Pass);
    assert_eq!(get(&c, "Loudness range").status, Status::Pass);
    assert_eq!(Status::worst(c.iter().map(|c| c.status)), Status::Pass);
    // 2.5 LU off, a true peak over the ceiling, LRA too wide.
    let bad = figures(-25.0, Some(-29.5), Some(40.0), &[-1.5, -2.5], 21.0);
    let c = loudness_checks(&bad, &p);
    assert_eq!(get(&c, "Dialogue loudness").status, Status::Fail);
    assert!(get(&c, "Dialogue loudness").detail.contains("-2.5 LU"));
    assert_eq!(get(&c, "True peak").status, Status::Fail);
    assert_eq!(get(&c, "Loudness range").status, Status::Warn);
    // Under 15 % dialogue: the integrated figure against -24.
    let low = figures(-24.5, Some(-30.0), Some(10.0), &[-3.0], 9.0);
    let c = loudness_checks(&low, &p);
    assert_eq!(get(&c, "Integrated loudness").status, Status::Pass);
    assert!(
        get(&c, "Integrated loudness")
            .detail
            .contains("target -24.0")
    );
    assert_eq!(get(&c, "Dialogue gating").status, Status::Info);
}

#[test]
fn overall_status_is_the_worst() {
    assert_eq!(Status::worst([]), Status::Pass);
    assert_eq!(Status::worst([Status::Info]), Status::Pass);
    assert_eq!(
        Status::worst([Status::Pass, Status::Warn, Status::Info]),
        Status::Warn
    );
    assert_eq!(Status::worst([Status::Fail, Status::Warn]), Status::Fail);
    let mut rep = QcReport::default();
    rep.deliverables.push(DeliverableQc {
        checks: vec![Check::new("x", Status::Warn, "")],
        ..DeliverableQc::default()
    });
    rep.finalize();
    assert_eq!(rep.status, Status::Warn);
    assert_eq!(rep.deliverables[0].status, Status::Warn);
}

#[test]
fn meter_output_converts_to_report_figures() {
    use dubstage_core::backend::Hop;
    use dubstage_core::loudness::Meter;
    // 5 s of hops at a constant K-weighted power giving -23 LUFS on L and R.
    let p = 10f64.powf((-23.0 + 0.691) / 10.0) / 2.0;
    let hop = Hop {
        frames: 4800,
        energy: vec![p * 4800.0, p * 4800.0],
        sample_peak: vec![0.1, 0.2],
        true_peak: vec![0.11, 0.25],
    };
    let mut m = Meter::new(FS, Layout::Stereo.channels()).unwrap();
    m.push_hops(&vec![hop; 50]).unwrap();
    let t: Timelines = (&m.timeline()).into();
    assert_eq!(t.momentary.len(), 50);
    assert_eq!(t.momentary[2], f32::NEG_INFINITY); // window not complete yet
    assert!((t.momentary[10] + 23.0).abs() < 0.01, "{}", t.momentary[10]);
    assert!(
        (t.short_term[40] + 23.0).abs() < 0.01,
        "{}",
        t.short_term[40]
    );
    let summary = m.summary(&dubstage_core::loudness::DialogueGate::default(), true);
    let l = LoudnessFigures::from(&summary);
    assert!((l.integrated_lufs.unwrap() + 23.0).abs() < 0.01);
    assert_eq!(l.true_peak_dbtp.len(), 2);
    let tp_r = 20.0 * 0.25f64.log10();
    assert!((l.true_peak_max_dbtp.unwrap() - tp_r).abs() < 1e-3);
    assert!((l.true_peak_dbtp[1].unwrap() - tp_r).abs() < 1e-3);
    assert!((l.sample_peak_max_dbfs.unwrap() - 20.0 * 0.2f64.log10()).abs() < 1e-3);
    assert_eq!(l.dialogue_gated_lufs, None); // no dialogue bus metered
    assert_eq!(l.normalization, None);
}

#[test]
fn report_without_profile_draws_no_target() {
    let mut rep = sample_report();
    let judged = qc::html::render(&rep);
    assert!(judged.contains(">target -27 ± 2 LU<") && judged.contains(">ceiling -2.0 dBTP<"));
    rep.profile = ProfileInfo {
        name: "none".into(),
        ..ProfileInfo::default()
    };
    let html = qc::html::render(&rep);
    assert!(html.contains("not judged (no delivery profile)"));
    assert!(
        !html.contains(">target "),
        "no target band without a profile"
    );
    assert!(
        !html.contains(">ceiling "),
        "no true-peak ceiling without a profile"
    );
    assert!(!html.contains("dBTP over"));
}

#[test]
fn matrix_fold_back_figures_round_trip_and_render() {
    let mut rep = sample_report();
    let fig = qc::MatrixFigures {
        source_layout: "5.1".into(),
        centre_recovery_db: Some(-0.02),
        surround_recovery_db: Some(-14.5),
        centre_source_db: Some(-0.02),
        surround_source_db: Some(-14.4),
        centre_error_db: Some(-120.0),
        surround_error_db: Some(-120.0),
        windows_failed: 3,
        min_recovery_db: -3.0,
        max_error_db: -40.0,
        window_s: 3.0,
        floor_dbfs: -50.0,
        ..Default::default()
    };
    rep.deliverables[1].matrix = Some(fig.clone());
    let json = qc::to_json(&rep).unwrap();
    assert!(json.contains("\"surround_recovery_db\": -14.5"), "{json}");
    let back = qc::from_json(&json).unwrap();
    assert_eq!(back.deliverables[1].matrix, Some(fig));
    assert_eq!(back, rep);
    let html = qc::html::render(&rep);
    assert!(html.contains("Matrix fold-back (passive decode)"));
    assert!(html.contains("-14.5 dB"));
    // Deliverables without the check carry no "matrix" key at all.
    assert_eq!(json.matches("\"matrix\"").count(), 1);
}
