//! The list readers against the real lists of `../shared/real` (relative to
//! the repository root; `DUBSTAGE_SHARED` may name the shared folder where a
//! checkout sits elsewhere), and event by event against the reference
//! readers of PyPI: `pycmx` (CMX 3600) and `opentimelineio` (OTIO). The
//! references run at test time (`python3` with `pip install pycmx
//! opentimelineio`); without them these tests fail, they do not skip.

use dubstage_core::FrameRate;
use dubstage_core::editorial::{self, EditList, ListTimecode};
use std::path::{Path, PathBuf};

#[path = "editorial/reference.rs"]
mod reference;
use reference::python;

fn real() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let r = shared.join("real");
    assert!(
        r.join("edl").is_dir() && r.join("otio").is_dir(),
        "the shared real material is missing at {} (set DUBSTAGE_SHARED to the shared folder)",
        r.display()
    );
    r
}

fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.iter().any(|e| x.eq_ignore_ascii_case(e)))
        })
        .collect();
    v.sort();
    v
}

fn edl_files() -> Vec<PathBuf> {
    let r = real();
    let mut v = files(&r.join("edl/pycmx"), &["edl", "cdl"]);
    v.extend(files(&r.join("edl/otio-cmx3600"), &["edl"]));
    v
}

/// The rate each real list is at: the ones whose record frames reach 24 are
/// 25 fps lists (their names or READMEs say so); the rest are 24/23.976.
fn rate_of(p: &Path) -> FrameRate {
    let name = p.file_name().unwrap().to_str().unwrap();
    if [
        "25fps.edl",
        "timecode_mismatch.edl",
        "test_24psf.edl",
        "test_25.edl",
    ]
    .contains(&name)
    {
        FrameRate::Fps25
    } else {
        FrameRate::Fps24
    }
}

fn frames(tc: ListTimecode, r: FrameRate) -> i64 {
    tc.frames_at(r).unwrap()
}

#[test]
fn every_real_edl_parses() {
    let files = edl_files();
    assert!(files.len() >= 35, "found only {} lists", files.len());
    let mut total = 0;
    for p in &files {
        let l: EditList =
            editorial::read_list(p, rate_of(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // an independent count: lines that begin with an event number
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let event_lines = text
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.split_whitespace()
                    .next()
                    .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
            })
            .count();
        assert_eq!(l.edits.len(), event_lines, "{}", p.display());
        assert!(!l.edits.is_empty(), "{}", p.display());
        total += l.edits.len();
        let d = l.dry_run();
        assert_eq!(d.events.len(), l.edits.len());
        serde_json::to_string(&d).unwrap();
    }
    assert!(total > 3000, "{total} edits");
}

#[test]
fn avid_dialogue_lists_read_sound_rolls_patches_and_tracks() {
    let p = real().join("edl/pycmx/INS4_R2_DX_092117.edl");
    let l = editorial::read_list(&p, FrameRate::Fps23_976).unwrap();
    let e = l.edits.iter().find(|e| e.number == 4).unwrap();
    assert_eq!(e.reel, "SR001");
    assert_eq!(e.tracks, vec![2]);
    assert_eq!(e.patch, vec![(1, 2)]);
    assert_eq!(e.clip_name.as_deref(), Some("16E-2A"));
    assert_eq!(e.source_file.as_deref(), Some("A005C001_160815_R1BY"));
    assert_eq!(e.source_in.to_string(), "15:44:11:13");
    assert_eq!(l.record_text(e.record_out), "02:00:12:23");
    let tracks: std::collections::BTreeSet<u32> =
        l.edits.iter().flat_map(|e| e.tracks.clone()).collect();
    assert_eq!(tracks.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    // a sound roll at 30 fps inside a 23.976 list (reel 3, SR39): kept as written
    let p3 = real().join("edl/pycmx/INS4_R3_DX_092117.edl");
    let l3 = editorial::read_list(&p3, FrameRate::Fps23_976).unwrap();
    assert!(l3.edits.iter().any(|e| e.source_in.frames >= 24));
}

#[test]
fn speed_dissolve_and_wipe_lists() {
    let r = real().join("edl/otio-cmx3600");
    let l = editorial::read_list(&r.join("speed_effects_small.edl"), FrameRate::Fps24).unwrap();
    let speeds: Vec<Option<f64>> = l.edits.iter().map(|e| e.speed(l.rate)).collect();
    assert_eq!(speeds[0], None);
    assert_eq!(speeds[1], Some(0.0), "freeze frame");
    assert!((speeds[4].unwrap() - 47.6 / 24.0).abs() < 1e-12);
    let w = editorial::read_list(&r.join("wipe_test.edl"), FrameRate::Fps24).unwrap();
    let d = w.dry_run();
    assert_eq!(d.events[2].transition, "W001");
    assert_eq!(d.events[2].transition_frames, 10);
    assert_eq!(d.events[2].clip_name.as_deref(), Some("clip_B"));
    assert_eq!(d.events[1].clip_name.as_deref(), Some("clip_A"));
    let f =
        editorial::read_list(&real().join("edl/pycmx/test_24psf.edl"), FrameRate::Fps25).unwrap();
    let black = f.edits.iter().find(|e| e.is_black()).unwrap();
    assert_eq!((black.number, black.transition_frames), (6, 25));
    assert!(
        f.edits
            .iter()
            .any(|e| e.number == 3 && e.tracks == vec![3, 4] && e.video),
        "AUD 3 4 adds tracks 3 and 4"
    );
}

#[test]
fn edl_matches_pycmx_edit_by_edit() {
    let files = edl_files();
    let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let reference = python("pycmx_dump.py", &args);
    let mut compared = 0;
    let mut names = 0;
    let mut misread = 0;
    for p in &files {
        let key = p.display().to_string();
        let want = &reference[&key];
        let l = editorial::read_list(p, rate_of(p)).unwrap();
        if let Some(t) = want["title"].as_str() {
            assert_eq!(l.title, t, "{key}: title");
        }
        let fmt = match l.reel_width {
            8 => "3600",
            32 => "File32",
            128 => "File128",
            _ => "unknown",
        };
        assert_eq!(fmt, want["format"].as_str().unwrap(), "{key}: format");
        for w in want["edits"].as_array().unwrap() {
            let line = w["line"].as_u64().unwrap() as usize;
            let e = l
                .edits
                .iter()
                .find(|e| e.line == line)
                .unwrap_or_else(|| panic!("{key}:{line}: pycmx reads an edit here"));
            let at = format!("{key}:{line}");
            // pycmx reads event lines by fixed columns; a line whose columns are
            // shifted (wipe_test.edl: `W001    010`) comes out as reel "TST V",
            // transition "1": such misreads are counted, not compared
            let code = w["transition"].as_str().unwrap();
            let valid = ["C", "D", "K", "KB", "KO"].contains(&code)
                || (code.len() == 4
                    && code.starts_with('W')
                    && code[1..].bytes().all(|b| b.is_ascii_digit()));
            if !valid {
                misread += 1;
                continue;
            }
            assert_eq!(e.number as u64, w["number"].as_u64().unwrap(), "{at}");
            assert_eq!(e.reel, w["reel"].as_str().unwrap().trim(), "{at}");
            assert_eq!(e.video, w["video"].as_bool().unwrap(), "{at}");
            let tracks: Vec<u32> = w["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(e.tracks, tracks, "{at}: tracks");
            assert_eq!(e.transition.code(), code, "{at}: transition");
            let op = w["operand"].as_str().unwrap();
            if code != "C" {
                assert_eq!(e.transition_frames, op.parse::<u32>().unwrap(), "{at}");
            }
            for (mine, theirs) in [
                (e.source_in, "source_in"),
                (e.source_out, "source_out"),
                (e.record_in, "record_in"),
                (e.record_out, "record_out"),
            ] {
                let t = ListTimecode::parse(w[theirs].as_str().unwrap()).unwrap();
                assert_eq!(
                    (mine.hours, mine.minutes, mine.seconds, mine.frames),
                    (t.hours, t.minutes, t.seconds, t.frames),
                    "{at}: {theirs}"
                );
            }
            if let Some(c) = w["clip_name"].as_str() {
                assert_eq!(e.clip_name.as_deref(), Some(c), "{at}: clip name");
                names += 1;
            }
            if let Some(s) = w["source_file"].as_str() {
                assert_eq!(e.source_file.as_deref(), Some(s), "{at}: source file");
            } else {
                assert_eq!(e.source_file, None, "{at}: source file");
            }
            compared += 1;
        }
    }
    assert!(
        compared > 3000 && names > 2500,
        "{compared} edits, {names} names"
    );
    assert!(misread <= 1, "{misread} lines misread by pycmx");
}

#[test]
fn every_real_otio_file_parses_and_matches_opentimelineio() {
    let files = files(&real().join("otio"), &["otio"]);
    assert!(files.len() >= 11);
    let mut args = vec!["24".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let reference = python("otio_dump.py", &args);
    let r = FrameRate::Fps24;
    let mut compared = 0;
    for p in &files {
        let key = p.display().to_string();
        let l = editorial::read_list(p, r).unwrap_or_else(|e| panic!("{key}: {e}"));
        let want = &reference[&key];
        if want.get("error").is_some() {
            // newer schemas than the reference knows (Marker.3): ours reads them
            assert!(!l.edits.is_empty(), "{key}");
            continue;
        }
        assert_eq!(l.title, want["title"].as_str().unwrap(), "{key}: title");
        let clips = want["clips"].as_array().unwrap();
        assert_eq!(l.edits.len(), clips.len(), "{key}: clips");
        for (e, w) in l.edits.iter().zip(clips) {
            let at = format!("{key}: clip '{}'", w["name"]);
            assert_eq!(e.clip_name.as_deref(), w["name"].as_str(), "{at}");
            assert_eq!(
                frames(e.record_in, r),
                w["record_in"].as_i64().unwrap(),
                "{at}"
            );
            assert_eq!(
                frames(e.record_out, r),
                w["record_out"].as_i64().unwrap(),
                "{at}"
            );
            assert_eq!(
                frames(e.source_in, r),
                w["source_in"].as_i64().unwrap(),
                "{at}"
            );
            let audio = w["kind"].as_str() == Some("Audio");
            assert_eq!(!e.tracks.is_empty(), audio, "{at}");
            compared += 1;
        }
    }
    assert!(compared >= 30, "{compared} clips compared");
}
