//! Every real Nuendo bounce in `../shared/real/recorders/nuendo/` (one file per channel
//! layout, mono to 9.1.6, Auro-3D and ambisonics, each with the WAVE_FORMAT_EXTENSIBLE
//! mask Nuendo wrote) through `dubstage inspect`: the right layout and channel labels, or
//! the ambisonic refusal; then the real files as stems of one render, folded into 7.1.
//!
//! The folder is read relative to the repository root as CI lays it out
//! (`../shared/real`); `DUBSTAGE_SHARED` overrides the `../shared` part. A missing folder
//! fails the test (it never passes by skipping).

mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn nuendo_dir() -> PathBuf {
    let shared = std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let d = shared.join("real/recorders/nuendo");
    assert!(
        d.is_dir(),
        "{} is missing: the real Nuendo bounces are needed (CI has ../shared; set DUBSTAGE_SHARED elsewhere)",
        d.display()
    );
    d
}

/// (file name after "wavinfo Test Project - Audio - ", layout, channel labels);
/// an empty layout = ambisonic of that order (labels hold the order).
const EXPECTED: [(&str, &str, &str); 32] = [
    ("1OA", "", "1"),
    ("2OA", "", "2"),
    ("3OA", "", "3"),
    ("5.0", "5.0", "L R C Ls Rs"),
    ("5.1", "5.1", "L R C LFE Ls Rs"),
    // Nuendo's "6.0 Music" bounce has 7 channels, LFE included (mask 0x63B), like 6.1 Music.
    ("6.0 Music", "6.1 music", "L R LFE Lrs Rrs Lss Rss"),
    ("6.0 Surround EX", "6.0", "L R C Ls Rs Cs"),
    ("6.1 Music", "6.1 music", "L R LFE Lrs Rrs Lss Rss"),
    ("6.1 Surround EX", "6.1", "L R C LFE Ls Rs Cs"),
    ("7.0 SDDS", "7.0 SDDS", "L R C Ls Rs Lc Rc"),
    ("7.0", "7.0", "L R C Lrs Rrs Lss Rss"),
    ("7.1 SDDS", "7.1 SDDS", "L R C LFE Ls Rs Lc Rc"),
    ("7.1", "7.1", "L R C LFE Lrs Rrs Lss Rss"),
    ("Atmos 5.0.4", "5.0.4", "L R C Ls Rs Ltf Rtf Ltr Rtr"),
    ("Atmos 5.1.4", "5.1.4", "L R C LFE Ls Rs Ltf Rtf Ltr Rtr"),
    ("Atmos 7.0.2", "7.0.2", "L R C Lrs Rrs Lss Rss Ltm Rtm"),
    ("Atmos 7.1.2", "7.1.2", "L R C LFE Lrs Rrs Lss Rss Ltm Rtm"),
    (
        "Atmos 7.1.4",
        "7.1.4",
        "L R C LFE Lrs Rrs Lss Rss Ltf Rtf Ltr Rtr",
    ),
    (
        "Atmos 7.1.6",
        "7.1.6",
        "L R C LFE Lrs Rrs Lss Rss Ltf Rtf Ltr Rtr Ltm Rtm",
    ),
    (
        "Atmos 9.1.4",
        "9.1.4",
        "L R C LFE Lrs Rrs Lw Rw Lss Rss Ltf Rtf Ltr Rtr",
    ),
    (
        "Atmos 9.1.6",
        "9.1.6",
        "L R C LFE Lrs Rrs Lw Rw Lss Rss Ltf Rtf Ltr Rtr Ltm Rtm",
    ),
    ("Auro3d 10.0", "Auro 10.0", "L R C Ls Rs Tc Ltf Rtf Ltr Rtr"),
    (
        "Auro3d 10.1",
        "Auro 10.1",
        "L R C LFE Ls Rs Tc Ltf Rtf Ltr Rtr",
    ),
    (
        "Auro3d 11.0",
        "Auro 11.0",
        "L R C Ls Rs Tc Ltf Tfc Rtf Ltr Rtr",
    ),
    (
        "Auro3d 11.1",
        "Auro 11.1",
        "L R C LFE Ls Rs Tc Ltf Tfc Rtf Ltr Rtr",
    ),
    (
        "Auro3d 13.0",
        "Auro 13.0",
        "L R C Lrs Rrs Lss Rss Tc Ltf Tfc Rtf Ltr Rtr",
    ),
    (
        "Auro3d 13.1",
        "Auro 13.1",
        "L R C LFE Lrs Rrs Lss Rss Tc Ltf Tfc Rtf Ltr Rtr",
    ),
    ("LRC", "3.0", "L R C"),
    ("LRCS", "LCRS", "L R C Cs"),
    ("Mono", "1.0", "C"),
    ("Quad", "quad", "L R Ls Rs"),
    ("Stereo", "2.0", "L R"),
];

fn file(name: &str) -> PathBuf {
    nuendo_dir().join(format!("wavinfo Test Project - Audio - {name}.wav"))
}

#[test]
fn inspect_names_every_nuendo_layout_and_refuses_ambisonics() {
    // Every file in the folder is in the table (a new file must be added to it).
    let mut on_disk: Vec<String> = std::fs::read_dir(nuendo_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.to_ascii_lowercase().ends_with(".wav"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk.len(), EXPECTED.len(), "{on_disk:?}");
    let paths: Vec<PathBuf> = EXPECTED.iter().map(|(n, _, _)| file(n)).collect();
    let mut args = vec!["inspect", "--json"];
    let strs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(strs.iter().map(|s| s.as_str()));
    let out: Value = serde_json::from_str(&ok(&args)).unwrap();
    let arr = out.as_array().unwrap();
    assert_eq!(arr.len(), EXPECTED.len());
    for (v, (name, layout, labels)) in arr.iter().zip(EXPECTED) {
        if layout.is_empty() {
            assert!(v["layout"].is_null(), "{name}: {v}");
            let p = v["layout_problem"].as_str().unwrap();
            assert!(
                p.contains(&format!("ambisonic B-format (order {labels}"))
                    && p.contains("does not decode ambisonics"),
                "{name}: {p}"
            );
        } else {
            assert_eq!(v["layout"], layout, "{name}");
            let got: Vec<&str> = v["channel_labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(got.join(" "), labels, "{name}");
            assert_eq!(got.len() as u64, v["channels"].as_u64().unwrap(), "{name}");
            assert!(v["layout_problem"].is_null(), "{name}");
        }
    }
    // The text form names the layout and each channel, and says what was inferred.
    let text = ok(&["inspect", &file("Atmos 7.1.2").display().to_string()]);
    assert!(
        text.contains("layout       7.1.2 immersive")
            && text.contains("L R C LFE Lrs Rrs Lss Rss Ltm Rtm"),
        "{text}"
    );
    assert!(
        text.contains("have no WAVE_FORMAT_EXTENSIBLE position"),
        "{text}"
    );
    let text = ok(&["inspect", &file("7.1 SDDS").display().to_string()]);
    assert!(
        text.contains("7.1 SDDS") && text.contains("Lc Rc"),
        "{text}"
    );
}

/// The real files as stems of one 7.1 reel: every layout renders (folded by the
/// documented matrix, listed in the QC report); an ambisonic stem is refused by name.
#[test]
fn real_layouts_render_into_7_1_and_ambisonics_are_refused() {
    let d = tmpdir("layouts_real");
    let mut s = String::from(
        "[reel]\ntitle = \"real\"\nframe_rate = \"24\"\nstart = \"01:00:00:00\"\n\
         ffoa = \"01:00:00:00\"\nlength = \"00:00:01:00\"\nlayout = \"7.1\"\n\
         [[deliverable]]\nkind = \"printmaster\"\n",
    );
    let real: Vec<&str> = EXPECTED
        .iter()
        .filter(|(_, l, _)| !l.is_empty())
        .map(|(n, _, _)| *n)
        .collect();
    for (k, n) in real.iter().enumerate() {
        s.push_str(&format!(
            "[[stem]]\nid = \"s{k}\"\nkind = \"effects\"\nsource = \"{}\"\nstart = \"01:00:00:00\"\n",
            file(n).display()
        ));
    }
    let sp = d.join("session.toml");
    std::fs::write(&sp, &s).unwrap();
    let out = d.join("print");
    let j: Value = serde_json::from_str(&ok(&[
        "render",
        sp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert!(j.is_object());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qc/report.json")).unwrap())
            .unwrap();
    let from: Vec<&str> = report["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["from"].as_str().unwrap())
        .collect();
    for l in ["7.1 SDDS", "7.1.4", "9.1.6", "LCRS", "6.1", "Auro 13.1"].iter() {
        assert!(from.contains(l), "{l} not in {from:?}");
    }

    // The ambisonic bounce: refused, naming the stem, the file and why.
    let s2 = format!(
        "{}[[stem]]\nid = \"bformat\"\nkind = \"effects\"\nsource = \"{}\"\nstart = \"01:00:00:00\"\n",
        &s[..s.find("[[stem]]").unwrap()],
        file("1OA").display()
    );
    std::fs::write(&sp, &s2).unwrap();
    let err = fails(&[
        "render",
        sp.to_str().unwrap(),
        "--out",
        d.join("p2").to_str().unwrap(),
    ]);
    assert!(
        err.contains("bformat") && err.contains("1OA.wav") && err.contains("ambisonic"),
        "{err}"
    );
    assert!(!d.join("p2").join("real_R1_PM_7.1.wav").exists());
}
