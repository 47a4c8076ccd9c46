//! Every channel layout a mix stage bounces, through the whole render: for each layout, a
//! WAV with the layout's channel mask and a different tone on every channel is placed on
//! the reel (one second each, one after the other) and rendered into 5.1, 7.1 and 7.1.4
//! sessions. Each tone must land in the channels the README's "Channel layouts" tables
//! say, at the gain they say, and nowhere else. The expected tables here are written out
//! by hand from the README (not computed by the fold code under test).
//!
//! Also: the 7.1.4 printmaster's 7.1, 5.1 and Lo/Ro deliverables equal the documented
//! matrices applied to the 7.1.4 file, the QC report lists every folded stem's matrix
//! with its sources, the deliverables carry the right mask and iXML track names, and
//! BS.1770-4 weights the new positions by Table 3.

use dubstage_core::backend::Backend;
use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::io::{AudioReader, OutputFormat, Rf64Mode, WavSpec, WavWriter};
use dubstage_core::pipeline::{RenderOptions, render};
use dubstage_core::session::Session;
use dubstage_core::{Channel, Layout};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

const SR: u32 = 48_000;
/// One second per stem: every tone has a whole number of cycles, so the tones are
/// orthogonal over the window and a single-bin projection measures each one exactly.
const N: usize = SR as usize;
const AMP: f64 = 0.05;
const G: f64 = std::f64::consts::FRAC_1_SQRT_2;
const Q: f64 = 0.5 * std::f64::consts::FRAC_1_SQRT_2;

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("layouts")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tone of channel `i` of a stem: 110 Hz + 37 Hz per channel (distinct, and no
/// tone is another's harmonic within the 16 channels used).
fn freq(i: usize) -> f64 {
    110.0 + 37.0 * i as f64
}

fn tone(f: f64) -> Vec<f32> {
    (0..N)
        .map(|n| (AMP * (2.0 * PI * f * n as f64 / SR as f64).sin()) as f32)
        .collect()
}

/// The amplitude of the in-phase sine at `f` in `x` (2/N Σ x sin).
fn amplitude(x: &[f32], f: f64) -> f64 {
    2.0 / x.len() as f64
        * x.iter()
            .enumerate()
            .map(|(n, &v)| v as f64 * (2.0 * PI * f * n as f64 / SR as f64).sin())
            .sum::<f64>()
}

fn write_wav(path: &Path, layout: Layout) {
    let spec = WavSpec {
        channels: layout.len() as u16,
        sample_rate: SR,
        format: OutputFormat::Float32,
        channel_mask: layout.channel_mask(),
        bext: None,
        rf64: Rf64Mode::AUTO,
        bw64: false,
        dither_seed: 1,
    };
    let chans: Vec<Vec<f32>> = (0..layout.len()).map(|i| tone(freq(i))).collect();
    let mut w = WavWriter::create(path, spec).unwrap();
    let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
    w.write_planar(&refs).unwrap();
    w.finish().unwrap();
}

fn read_all(path: &Path) -> (dubstage_core::io::WavInfo, Vec<Vec<f32>>) {
    let mut r = AudioReader::open(path).unwrap();
    let info = r.info().clone();
    let n = info.frames as usize;
    let mut out = vec![Vec::new(); info.channels as usize];
    let mut got = 0;
    while got < n {
        let mut block = vec![Vec::new(); info.channels as usize];
        let k = r.read_planar(&mut block, (n - got).min(1 << 16)).unwrap();
        assert!(k > 0);
        for (o, b) in out.iter_mut().zip(block) {
            o.extend_from_slice(&b[..k]);
        }
        got += k;
    }
    (info, out)
}

/// The README's tables: where channel `c` of a stem goes in a mix of layout `to`
/// (5.1, 7.1 or 7.1.4), when `to` lacks it.
fn expected(c: Channel, to: Layout) -> Vec<(Channel, f64)> {
    use Channel::*;
    if to.has(c) {
        return vec![(c, 1.0)];
    }
    match to {
        Layout::SevenOneFour => match c {
            Ls => vec![(Lss, 1.0)],
            Rs => vec![(Rss, 1.0)],
            Lc => vec![(L, G), (C, G)],
            Rc => vec![(R, G), (C, G)],
            Cs => vec![(Lrs, G), (Rrs, G)],
            Lw => vec![(L, G), (Lss, G)],
            Rw => vec![(R, G), (Rss, G)],
            Ltm => vec![(Ltf, G), (Ltr, G)],
            Rtm => vec![(Rtf, G), (Rtr, G)],
            Tfc => vec![(Ltf, G), (Rtf, G)],
            Trc => vec![(Ltr, G), (Rtr, G)],
            Tc => vec![(Ltf, 0.5), (Rtf, 0.5), (Ltr, 0.5), (Rtr, 0.5)],
            _ => panic!("{c} into 7.1.4"),
        },
        Layout::SevenOne => match c {
            Ls => vec![(Lss, 1.0)],
            Rs => vec![(Rss, 1.0)],
            Lc => vec![(L, G), (C, G)],
            Rc => vec![(R, G), (C, G)],
            Cs => vec![(Lrs, G), (Rrs, G)],
            Lw => vec![(L, G), (Lss, G)],
            Rw => vec![(R, G), (Rss, G)],
            Ltf => vec![(L, G)],
            Rtf => vec![(R, G)],
            Ltm => vec![(Lss, G)],
            Rtm => vec![(Rss, G)],
            Ltr => vec![(Lrs, G)],
            Rtr => vec![(Rrs, G)],
            Tfc => vec![(C, G)],
            Trc => vec![(Lrs, 0.5), (Rrs, 0.5)],
            Tc => vec![(L, Q), (R, Q), (Lss, Q), (Rss, Q)],
            _ => panic!("{c} into 7.1"),
        },
        Layout::FiveOne => match c {
            Lss | Lrs => vec![(Ls, G)],
            Rss | Rrs => vec![(Rs, G)],
            Lc => vec![(L, G), (C, G)],
            Rc => vec![(R, G), (C, G)],
            Cs => vec![(Ls, G), (Rs, G)],
            Lw => vec![(L, G), (Ls, G)],
            Rw => vec![(R, G), (Rs, G)],
            Ltf => vec![(L, G)],
            Rtf => vec![(R, G)],
            Ltm | Ltr => vec![(Ls, G)],
            Rtm | Rtr => vec![(Rs, G)],
            Tfc => vec![(C, G)],
            Trc => vec![(Ls, 0.5), (Rs, 0.5)],
            Tc => vec![(L, Q), (R, Q), (Ls, Q), (Rs, Q)],
            _ => panic!("{c} into 5.1"),
        },
        _ => unreachable!(),
    }
}

/// Every layout wider than stereo (mono and stereo stems are panned, not folded).
fn layouts() -> Vec<Layout> {
    Layout::ALL
        .iter()
        .copied()
        .filter(|l| l.len() > 2)
        .collect()
}

/// Writes one stem per layout, stem k at second k, and a session mixing them in `mix`.
fn session(dir: &Path, mix: Layout, extra: &str) -> PathBuf {
    let mut s = format!(
        "[reel]\ntitle = \"lay\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n\
         ffoa = \"01:00:00:00\"\nlayout = \"{}\"\n\n[output]\nformat = \"float32\"\n\n\
         [[deliverable]]\nkind = \"printmaster\"\n{extra}\n",
        mix.name()
    );
    for (k, l) in layouts().into_iter().enumerate() {
        let f = format!("stem{k:02}.wav");
        write_wav(&dir.join(&f), l);
        s.push_str(&format!(
            "[[stem]]\nid = \"s{k:02}\"\nkind = \"effects\"\nsource = \"{f}\"\n\
             start = \"01:00:{k:02}:00\"\n\n"
        ));
    }
    let p = dir.join("session.toml");
    std::fs::write(&p, s).unwrap();
    p
}

fn render_session(path: &Path, qc: bool) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    let plan = Session::parse(path, &text).unwrap().resolve().unwrap();
    let out = path.parent().unwrap().join("print");
    let mut opts = RenderOptions::new(&out);
    opts.qc = qc;
    render(&plan, &mut CpuBackend, &opts, None).unwrap();
    out
}

/// Checks that every stem's tones land where [`expected`] says in `pm` (layout `mix`).
fn check_tones(pm: &[Vec<f32>], mix: Layout) {
    for (k, l) in layouts().into_iter().enumerate() {
        let win = |o: usize| &pm[o][k * N..(k + 1) * N];
        for (i, &c) in l.channels().iter().enumerate() {
            let want = if c == Channel::Lfe && !mix.has(Channel::Lfe) {
                vec![]
            } else {
                expected(c, mix)
            };
            for (o, &oc) in mix.channels().iter().enumerate() {
                let g = want.iter().find(|w| w.0 == oc).map_or(0.0, |w| w.1);
                let a = amplitude(win(o), freq(i)) / AMP;
                assert!(
                    (a - g).abs() < 2e-5,
                    "{} stem channel {c} into {mix}: output {oc} carries {a:.6}, expected {g:.6}",
                    l.name()
                );
            }
            // SDDS: the centre-fronts never reach a surround.
            if matches!(c, Channel::Lc | Channel::Rc) {
                for (o, oc) in mix.channels().iter().enumerate() {
                    if oc.is_surround() {
                        assert!(amplitude(win(o), freq(i)).abs() < 1e-6, "{c} in {oc}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_layout_folds_into_5_1_by_the_documented_matrix() {
    let d = scratch("into51");
    let out = render_session(&session(&d, Layout::FiveOne, ""), false);
    let (_, pm) = read_all(&out.join("lay_R1_PM_5.1.wav"));
    check_tones(&pm, Layout::FiveOne);
}

#[test]
fn every_layout_folds_into_7_1_by_the_documented_matrix() {
    let d = scratch("into71");
    let out = render_session(&session(&d, Layout::SevenOne, ""), false);
    let (_, pm) = read_all(&out.join("lay_R1_PM_7.1.wav"));
    check_tones(&pm, Layout::SevenOne);
}

/// The 7.1.4 print: tones where the tables say; the mask and iXML names of the bed; its
/// 7.1, 5.1 and Lo/Ro deliverables equal the documented matrices applied to the 7.1.4
/// file; the QC report lists each folded stem's matrix with its sources.
#[test]
fn a_7_1_4_printmaster_prints_and_folds_by_the_documented_matrix() {
    let d = scratch("into714");
    let extra = "[[deliverable]]\nkind = \"printmaster\"\nlayout = \"7.1\"\n\
                 [[deliverable]]\nkind = \"printmaster\"\nlayout = \"5.1\"\n\
                 [[deliverable]]\nkind = \"loro\"\n";
    let out = render_session(&session(&d, Layout::SevenOneFour, extra), true);
    let (info, bed) = read_all(&out.join("lay_R1_PM_7.1.4.wav"));
    assert_eq!(info.channel_mask, Some(0x2D63F));
    let names: Vec<String> = info
        .ixml
        .as_ref()
        .unwrap()
        .tracks
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names.join(" "), "L R C LFE Lrs Rrs Lss Rss Ltf Rtf Ltr Rtr");
    check_tones(&bed, Layout::SevenOneFour);

    // The fold-downs of the bed, sample by sample, against the tables applied to it.
    let ch = |c: Channel| &bed[Layout::SevenOneFour.index_of(c).unwrap()];
    for (file, to) in [
        ("lay_R1_PM_7.1.wav", Layout::SevenOne),
        ("lay_R1_PM_5.1.wav", Layout::FiveOne),
    ] {
        let (i, folded) = read_all(&out.join(file));
        assert_eq!(i.channel_mask, Some(to.channel_mask()));
        for (o, &oc) in to.channels().iter().enumerate() {
            let mut terms: Vec<(Channel, f64)> = vec![];
            for &c in Layout::SevenOneFour.channels() {
                for (t, g) in expected(c, to) {
                    if t == oc {
                        terms.push((c, g));
                    }
                }
            }
            assert!(!terms.is_empty(), "{oc} of {to} has no input");
            let worst = (0..bed[0].len())
                .map(|n| {
                    let want: f64 = terms.iter().map(|&(c, g)| g * ch(c)[n] as f64).sum();
                    (folded[o][n] as f64 - want).abs()
                })
                .fold(0.0, f64::max);
            assert!(worst < 1e-6, "{to} {oc}: max error {worst}");
        }
    }
    // Lo/Ro from 7.1.4: the 5.1 fold, then BS.775 (Lo = L + 0.7071 C + 0.7071 Ls).
    let (_, loro) = read_all(&out.join("lay_R1_LoRo_2.0.wav"));
    let worst = (0..bed[0].len())
        .map(|n| {
            let c = |x: Channel| ch(x)[n] as f64;
            let ls = G * (c(Channel::Lss) + c(Channel::Lrs) + c(Channel::Ltr));
            let lo = c(Channel::L) + G * c(Channel::Ltf) + G * c(Channel::C) + G * ls;
            (loro[0][n] as f64 - lo).abs()
        })
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "Lo: max error {worst}");

    // The QC report: every folded stem, with its rows and sources.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let folds = json["folds"].as_array().unwrap();
    let sdds = folds
        .iter()
        .find(|f| f["from"] == "7.1 SDDS" && f["what"].as_str().unwrap().starts_with("stem"))
        .expect("the SDDS stem's fold");
    let rows = sdds["rows"].as_array().unwrap();
    let lc: Vec<(&str, f64)> = rows
        .iter()
        .filter(|r| r["input"] == "Lc")
        .map(|r| (r["output"].as_str().unwrap(), r["gain"].as_f64().unwrap()))
        .collect();
    assert_eq!(lc.len(), 2);
    assert!(
        lc.iter()
            .all(|(o, g)| ["L", "C"].contains(o) && (g - G).abs() < 1e-12)
    );
    assert!(
        rows.iter()
            .all(|r| r["source"].as_str().unwrap().contains("dubstage"))
    );
    let pm71 = folds
        .iter()
        .find(|f| f["to"] == "2.0")
        .expect("the Lo/Ro fold");
    assert!(
        pm71["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["source"].as_str().unwrap().contains("BS.775"))
    );
    // A 7.1.4 stem into the 7.1.4 mix is no fold.
    let n714 = layouts()
        .iter()
        .position(|&l| l == Layout::SevenOneFour)
        .unwrap();
    assert!(
        !folds
            .iter()
            .any(|f| f["what"] == format!("stem 's{n714:02}'"))
    );
    let html = std::fs::read_to_string(out.join("qc/report.html")).unwrap();
    assert!(html.contains("Channel folds") && html.contains("7.1 SDDS"));
}

/// A printmaster of a 7.1.2 bed carries Nuendo's convention: mask 0x63F over 10 channels,
/// the top-middle pair named in iXML, and reads back as 7.1.2.
#[test]
fn a_7_1_2_bed_writes_and_reads_back() {
    let d = scratch("bed712");
    let p = d.join("bed.wav");
    write_wav(&p, Layout::SevenOneTwo);
    let s = "[reel]\ntitle = \"b\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n\
             ffoa = \"01:00:00:00\"\nlayout = \"7.1.2\"\n[[deliverable]]\nkind = \"printmaster\"\n\
             [[stem]]\nid = \"bed\"\nkind = \"music\"\nsource = \"bed.wav\"\nstart = \"01:00:00:00\"\n";
    let sp = d.join("s.toml");
    std::fs::write(&sp, s).unwrap();
    let out = render_session(&sp, false);
    let (info, _) = read_all(&out.join("b_R1_PM_7.1.2.wav"));
    assert_eq!(info.channels, 10);
    assert_eq!(info.channel_mask, Some(0x63F));
    let names: Vec<String> = info
        .ixml
        .unwrap()
        .tracks
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names[8..], ["Ltm", "Rtm"]);
    let id = dubstage_core::layout::identify(10, Some(0x63F), &names).unwrap();
    assert_eq!(id.layout, Layout::SevenOneTwo);
}

/// Stems no mix can take are refused naming the stem and the file, with a way forward.
#[test]
fn unknown_and_ambisonic_stems_are_refused_with_reasons() {
    let d = scratch("refuse");
    // 4 channels with hound's default mask 0xF (L R C LFE): no layout has that set.
    let spec = hound::WavSpec {
        channels: 4,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(d.join("four.wav"), spec).unwrap();
    for _ in 0..4800 * 4 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let s = "[reel]\ntitle = \"r\"\nframe_rate = \"25\"\nstart = \"01:00:00:00\"\n\
             [[stem]]\nid = \"four\"\nkind = \"effects\"\nsource = \"four.wav\"\nstart = \"01:00:00:00\"\n";
    let sp = d.join("s.toml");
    std::fs::write(&sp, s).unwrap();
    let e = Session::parse(&sp, s)
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("four") && e.contains("four.wav"), "{e}");
    assert!(
        e.contains("channel_order") && e.contains("0xF (L R C LFE)"),
        "{e}"
    );
    // Naming the channels by hand is the way forward.
    let s2 = s.replace(
        "source = \"four.wav\"",
        "source = \"four.wav\"\nchannel_order = [\"L\", \"R\", \"C\", \"BC\"]",
    );
    std::fs::write(&sp, &s2).unwrap();
    let plan = Session::parse(&sp, &s2).unwrap().resolve().unwrap();
    assert_eq!(plan.stems[0].layout, Layout::Lcrs);
    // A stem-only layout cannot be the mix's.
    let s3 = s2.replace("[reel]\n", "[reel]\nlayout = \"7.1 SDDS\"\n");
    let e = Session::parse(&sp, &s3)
        .and_then(|s| s.resolve())
        .unwrap_err()
        .to_string();
    assert!(e.contains("mix layouts"), "{e}");
}

/// BS.1770-4 Table 3 through `measure_file`: a 7.1.4 file's weights come from its mask
/// (sides 1.41; rears and tops 1.0; LFE excluded), and a 1 kHz sine at −20 dBFS alone in
/// one channel reads −20 − 3.01 + 10 log10(G) LUFS (a sine's mean square is half its
/// peak's; the −0.691 offset cancels the K-weighting's gain at 1 kHz).
#[test]
fn loudness_weights_follow_bs1770_table_3() {
    use dubstage_core::loudness::{MeasureOptions, measure_file};
    let d = scratch("loud");
    let l = Layout::SevenOneFour;
    let sine: Vec<f32> = (0..10 * N)
        .map(|n| (0.1 * (2.0 * PI * 1000.0 * n as f64 / SR as f64).sin()) as f32)
        .collect();
    for (c, g) in [
        (Channel::Lss, 1.41),
        (Channel::Ltf, 1.0),
        (Channel::Ltr, 1.0),
        (Channel::Lrs, 1.0),
        (Channel::C, 1.0),
    ] {
        let p = d.join(format!("{c}.wav"));
        let spec = WavSpec {
            channels: l.len() as u16,
            sample_rate: SR,
            format: OutputFormat::Float32,
            channel_mask: l.channel_mask(),
            bext: None,
            rf64: Rf64Mode::AUTO,
            bw64: false,
            dither_seed: 1,
        };
        let silent = vec![0.0f32; sine.len()];
        let chans: Vec<&[f32]> = l
            .channels()
            .iter()
            .map(|&x| if x == c { &sine[..] } else { &silent[..] })
            .collect();
        let mut w = WavWriter::create(&p, spec).unwrap();
        w.write_planar(&chans).unwrap();
        w.finish().unwrap();
        let be = CpuBackend::new();
        let m = measure_file(&p, &MeasureOptions::default(), &|c| be.summary_analyzer(c)).unwrap();
        assert_eq!(m.channel_map, "mask");
        assert_eq!(
            m.summary.weights,
            vec![1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.41, 1.41, 1.0, 1.0, 1.0, 1.0]
        );
        let want = -20.0 - 10.0 * 2f64.log10() + 10.0 * f64::log10(g);
        let i = m.summary.integrated_lufs.unwrap();
        assert!((i - want).abs() < 0.05, "{c}: {i} LUFS, expected {want}");
    }
}
