//! Avid Log Exchange: the parser (sections, columns, timecodes, track names)
//! and its errors naming the line, and a conform of a list that names only
//! camera clips, relinked through an ALE to recorder files (sound roll, sound
//! timecode, track names), checked sample for sample.

use dubstage_core::conform::{self, ConformOptions};
use dubstage_core::editorial::{ListTimecode, ale, edl};
use dubstage_core::io::{Bext, OutputFormat, WavSpec, WavWriter};
use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use dubstage_core::{FrameRate, Timecode};
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dubstage-ale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Two camera clips of tape A001 with their sound (roll SR01), one of tape
/// B002 without sound; track name columns for channels 1 and 2.
const ALE: &str = "Heading\r
FIELD_DELIM\tTABS\r
VIDEO_FORMAT\t1080\r
AUDIO_FORMAT\t48khz\r
FPS\t25\r
\r
Column\r
Name\tTracks\tStart\tEnd\tTape\tSoundroll\tSound TC\tTRK1\tTRK2\r
\r
Data\r
A001C003\tVA1A2\t10:20:30:00\t10:20:40:00\tA001\tSR01\t14:00:05:10\tBoom\tLav\r
A001C004\tVA1A2\t10:21:00:00\t10:21:20:00\tA001\tSR01\t14:01:00:00\t\t\r
B002C001\tV\t11:00:00:00\t11:00:05:00\tB002\t\t\t\t\r
";

fn tc(s: &str) -> Option<ListTimecode> {
    ListTimecode::parse(s)
}

#[test]
fn ale_sections_columns_and_rows_parse() {
    let a = ale::parse(ALE).unwrap();
    assert_eq!(a.rate, FrameRate::Fps25);
    assert_eq!(a.columns.len(), 9);
    assert_eq!(a.rows.len(), 3);
    let r = &a.rows[0];
    assert_eq!(r.line, 11);
    assert_eq!(r.name.as_deref(), Some("A001C003"));
    assert_eq!(r.tape.as_deref(), Some("A001"));
    assert_eq!((r.start, r.end), (tc("10:20:30:00"), tc("10:20:40:00")));
    assert_eq!(r.sound_roll.as_deref(), Some("SR01"));
    assert_eq!(r.sound_tc, tc("14:00:05:10"));
    assert_eq!(r.track_names, vec!["Boom".to_string(), "Lav".to_string()]);
    assert_eq!(a.rows[1].track_names, vec![String::new(), String::new()]);
    assert_eq!(
        (a.rows[2].sound_roll.as_deref(), a.rows[2].sound_tc),
        (None, None)
    );
    // "Sound Roll" / "Auxiliary TC1" and a 23.98 heading are read the same way
    let alt = "Heading\nFIELD_DELIM\tTABS\nFPS\t23.98\n\nColumn\nName\tStart\tSound Roll\tAuxiliary TC1\n\nData\nC1\t01:00:00:00\tR9\t02:00:00:00\n";
    let a = ale::parse(alt).unwrap();
    assert_eq!(a.rate, FrameRate::Fps23_976);
    assert_eq!(a.rows[0].sound_roll.as_deref(), Some("R9"));
    assert_eq!(a.rows[0].sound_tc, tc("02:00:00:00"));
    assert_eq!(
        ale::track_names(&[ale::parse(ALE).unwrap()], "sr01"),
        Some(&["Boom".to_string(), "Lav".to_string()][..])
    );
}

#[test]
fn malformed_ale_files_are_refused_naming_the_line() {
    let cases: [(String, Option<usize>, &str); 7] = [
        (
            ALE.replace("FIELD_DELIM\tTABS", "FIELD_DELIM\tCOMMAS"),
            Some(2),
            "only TABS",
        ),
        (ALE.replace("FPS\t25", "FPS\t26"), Some(5), "FPS '26'"),
        (
            ALE.replace("\tLav\r", "\tLav\textra\r"),
            Some(11),
            "10 fields",
        ),
        (
            ALE.replace("14:00:05:10", "14:00:05:25"),
            Some(11),
            "Sound TC",
        ),
        (
            ALE.replace("Name\tTracks", "Clip\tTracks")
                .replace("\tTape\t", "\tReel\t"),
            Some(8),
            "neither `Name` nor `Tape`",
        ),
        (
            ALE.split("Column").next().unwrap().to_string(),
            None,
            "no Column section",
        ),
        (format!("Title\tx\n{ALE}"), Some(1), "Heading"),
    ];
    for (text, line, want) in cases {
        match ale::parse(&text) {
            Ok(_) => panic!("accepted: {want}"),
            Err((l, m)) => {
                assert_eq!(l, line, "{m}");
                assert!(m.contains(want), "{m} (wanted {want})");
            }
        }
    }
    // read from a file, the error names it and the line
    let dir = tmpdir("bad");
    let p = dir.join("day1.ale");
    std::fs::write(&p, ALE.replace("FPS\t25", "FPS\t26")).unwrap();
    let e = ale::read(&p).unwrap_err().to_string();
    assert!(
        e.contains("day1.ale") && e.contains('5') && e.contains("FPS"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A two-channel take of roll SR01 starting at `start` (25 fps), 20 s of two
/// different noises, no track names (the ALE gives them).
fn write_take(path: &Path, start: &str, seed: u64) -> [Vec<f32>; 2] {
    let t0 = Timecode::parse(start, FrameRate::Fps25).unwrap();
    let mut spec = WavSpec::new(2, 48_000, OutputFormat::Float32);
    spec.bext = Some(Bext {
        description: "sSPEED=025.00-ND\r\nsTAPE=SR01\r\nsSCENE=7\r\n".into(),
        time_reference: t0.to_samples(48_000) as u64,
        ..Default::default()
    });
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (((s >> 40) as i64 - (1 << 23)) >> 2) as f32 / (1 << 23) as f32
    };
    let ch: [Vec<f32>; 2] = [
        (0..20 * 48_000).map(|_| next()).collect(),
        (0..20 * 48_000).map(|_| next()).collect(),
    ];
    let mut w = WavWriter::create(path, spec).unwrap();
    for k in 0..20 {
        let r = k * 48_000..(k + 1) * 48_000;
        w.write_planar(&[&ch[0][r.clone()], &ch[1][r]]).unwrap();
    }
    w.finish().unwrap();
    ch
}

// The picture editor's list names camera clips only.
const EDL: &str = "TITLE: CAMERA CLIPS
FCM: NON-DROP FRAME

001  A001C003 A     C        10:20:31:00 10:20:33:00 01:00:00:00 01:00:02:00
002  A001     A     C        10:21:02:00 10:21:03:00 01:00:02:00 01:00:03:00
003  B002C001 A     C        11:00:01:00 11:00:02:00 01:00:03:00 01:00:04:00
";

#[test]
fn a_list_of_camera_clips_conforms_through_the_ale() {
    let dir = tmpdir("conform");
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let t1 = write_take(&media.join("T1.WAV"), "14:00:00:00", 1);
    let t2 = write_take(&media.join("T2.WAV"), "14:00:58:00", 2);
    let mut list = edl::parse(EDL, FrameRate::Fps25).unwrap();
    let ales = [ale::parse(ALE).unwrap()];
    let (links, warnings) = ale::apply(&mut list, &ales);
    assert!(warnings.is_empty(), "{warnings:?}");
    // event 1 by its clip name, event 2 by its tape and camera range (row 2),
    // event 3's clip has no sound roll
    assert_eq!(links.len(), 2, "{links:?}");
    assert_eq!(
        (
            links[0].number,
            links[0].clip.as_str(),
            links[0].sound_roll.as_str()
        ),
        (1, "A001C003", "SR01")
    );
    // sound TC - camera start: 14:00:05:10 - 10:20:30:00
    assert_eq!(links[0].shift_frames, ((3 * 3600 + 39 * 60 + 35) * 25) + 10);
    assert_eq!(
        (links[1].number, links[1].clip.as_str(), links[1].line),
        (2, "A001", 12)
    );
    assert_eq!(list.edits[0].source_in, tc("14:00:06:10").unwrap());
    assert_eq!(list.edits[1].source_in, tc("14:01:02:00").unwrap());
    assert_eq!(list.edits[2].reel, "B002C001");

    // the recorder files name no tracks: the ALE's names choose the lav
    let (mut takes, scan_warnings) =
        conform::scan(std::slice::from_ref(&media), list.rate).unwrap();
    for t in &mut takes {
        if let Some(n) = t.roll.as_deref().and_then(|r| ale::track_names(&ales, r)) {
            t.name_channels(n);
        }
    }
    assert!(takes.iter().all(|t| t.channels[1].name == "Lav"));
    let opts = ConformOptions {
        media: vec![media.clone()],
        handles_s: 1.0,
        channel_names: vec!["lav".into()],
        session_dir: dir.clone(),
    };
    let c = conform::conform_takes(&list, &opts, &takes, scan_warnings, None).unwrap();
    assert_eq!((c.matched, c.unmatched), (2, 1), "{}", c.report_text());
    let e1 = &c.events[0];
    assert!(e1.file.as_ref().unwrap().ends_with("T1.WAV"));
    // 14:00:06:10 in a take from 14:00:00:00: 6 s 10 frames
    assert_eq!(
        (e1.channel, e1.offset),
        (Some(2), Some(6 * 48_000 + 10 * 1920))
    );
    let e2 = &c.events[1];
    assert!(e2.file.as_ref().unwrap().ends_with("T2.WAV"));
    assert_eq!(e2.offset, Some(4 * 48_000));
    assert_eq!(
        c.events[2].reason.as_deref(),
        Some("no file for reel 'B002C001'")
    );

    // the session, read as the render reads it: the lav of each take at its place
    let session = dir.join("s.toml");
    std::fs::write(&session, c.session_toml(&dir).unwrap()).unwrap();
    let plan = Session::load(&session).unwrap().resolve().unwrap();
    let st = plan.stems.iter().find(|s| s.id == "A1_lav").unwrap();
    let mut r = StemReader::open(st, &plan, 0).unwrap();
    let mut buf = vec![Vec::new()];
    r.read_block(0, 4 * 48_000, &mut buf).unwrap();
    let got = &buf[0];
    for i in 0..2 * 48_000 {
        assert_eq!(got[i], t1[1][6 * 48_000 + 10 * 1920 + i], "sample {i}");
    }
    for i in 0..48_000 {
        assert_eq!(
            got[2 * 48_000 + i],
            t2[1][4 * 48_000 + i],
            "sample {}",
            2 * 48_000 + i
        );
    }
    assert!(got[3 * 48_000..].iter().all(|&v| v == 0.0));
    std::fs::remove_dir_all(&dir).unwrap();
}
