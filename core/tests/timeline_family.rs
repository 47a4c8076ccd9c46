//! Families of mono files (iXML `FAMILY_UID`) are the same to the user as the
//! poly file of the take: a clip naming one file of a Sound Devices 702T
//! family finds its sibling for the channel it asks, and conform groups the
//! Gallery Metacorder's split files into five-channel takes. Real files from
//! `../shared/real` (or `DUBSTAGE_SHARED`).

use dubstage_core::FrameRate;
use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::path::{Path, PathBuf};

fn real() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("DUBSTAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let r = shared.join("real/recorders");
    assert!(
        r.join("sounddevices/A101_1.WAV").is_file(),
        "the shared real material is missing at {} (set DUBSTAGE_SHARED to the shared folder)",
        r.display()
    );
    r
}

/// Planar samples of a 24-bit WAV by hound, scaled as the reader scales them.
fn hound_read(p: &Path) -> Vec<Vec<f32>> {
    let mut r = hound::WavReader::open(p).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
    let mut out = vec![Vec::new(); n];
    for (i, s) in r.samples::<i32>().enumerate() {
        out[i % n].push((s.unwrap() as f64 * scale) as f32);
    }
    out
}

#[test]
fn one_file_of_a_family_plays_a_channel_of_its_sibling() {
    let sd = real().join("sounddevices");
    let dir = std::env::temp_dir().join(format!("dubstage-family-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let session = dir.join("s.toml");
    let one = sd.join("A101_1_1.WAV").display().to_string();
    std::fs::write(
        &session,
        format!(
            "[reel]\ntitle = \"f\"\nframe_rate = \"23.976\"\nstart = \"01:00:00:00\"\nlength = \"00:00:02:00\"\n\n\
             [[track]]\nid = \"boom\"\nkind = \"dialogue\"\n\n\
             [[track.clip]]\nsource = \"{one}\"\nchannels = [\"Boom\"]\nsource_in_samples = 1000\nrecord_in = \"01:00:00:00\"\nlength_samples = 48000\n\n\
             [[track]]\nid = \"both\"\nkind = \"dialogue\"\nlayout = \"stereo\"\n\n\
             [[track.clip]]\nsource = \"{one}\"\nchannels = [1, 2]\nsource_in_samples = 1000\nrecord_in = \"01:00:00:00\"\nlength_samples = 48000\n"
        ),
    )
    .unwrap();
    let s = Session::load(&session).unwrap_or_else(|e| panic!("{e}"));
    let plan = s.resolve().unwrap_or_else(|e| panic!("{e}"));
    let poly = hound_read(&sd.join("A101_1.WAV"));
    for (i, chans) in [(0usize, vec![1usize]), (1, vec![0, 1])] {
        let st = &plan.stems[i];
        let mut r = StemReader::open(st, &plan, 0).unwrap();
        let mut buf = vec![Vec::new(); chans.len()];
        r.read_block(0, 48_000, &mut buf).unwrap();
        for (k, &c) in chans.iter().enumerate() {
            assert_eq!(
                buf[k][..48_000],
                poly[c][1000..49_000],
                "track {i} channel {k}: the poly file's channel {}",
                c + 1
            );
        }
        assert!(buf[0].iter().any(|&v| v != 0.0));
    }
    // a channel the family does not have is still refused, naming the family's
    let bad = std::fs::read_to_string(&session)
        .unwrap()
        .replace("channels = [\"Boom\"]", "channels = [\"Lav 9\"]");
    std::fs::write(&session, bad).unwrap();
    let e = Session::load(&session)
        .and_then(|s| s.resolve())
        .unwrap_err()
        .to_string();
    assert!(e.contains("channel 'Lav 9' is not in the source"), "{e}");
    assert!(e.contains("'Boom'"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conform_groups_the_metacorder_split_files_by_family() {
    let mc = real().join("metacorder");
    let (takes, warnings) = dubstage_core::conform::scan(&[mc], FrameRate::Fps25).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(takes.len(), 2, "{takes:#?}");
    for t in &takes {
        assert_eq!(t.files.len(), 5, "{t:#?}");
        assert_eq!(t.channels.len(), 5);
        assert!(t.family_uid.is_some());
        // in recorder order: _01 .. _05
        for (k, f) in t.files.iter().enumerate() {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(name.ends_with(&format!("_0{}.WAV", k + 1)), "{name}");
        }
    }
}
