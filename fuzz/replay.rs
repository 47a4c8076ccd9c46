//! What each fuzz target does with one input, shared by the libFuzzer targets
//! (`fuzz/fuzz_targets/*.rs`) and the normal test suite, which replays the
//! committed corpus and every crash found through these same functions
//! (`tests/fuzz_corpus.rs`), so that CI keeps the fixes fixed without nightly.
//!
//! Each function must never panic on any input; where a parser has a writer,
//! what it reads must also survive a round trip unchanged (an oracle beyond
//! "does not crash").
#![allow(dead_code)]

use dubstage_core::io::AudioReader;
use std::path::{Path, PathBuf};

#[path = "../src/cmd/http.rs"]
#[allow(dead_code)]
mod http;

/// A scratch file for this process and thread (in RAM where there is /dev/shm).
fn scratch(ext: &str) -> PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let thread = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>();
    dir.join(format!(
        "dubstage-fuzz-{}-{thread}.{ext}",
        std::process::id()
    ))
}

/// WAV/RF64/BW64 (`ext` "wav") or FLAC ("flac"): open (headers, ds64, bext,
/// iXML, STREAMINFO), then bounded reads, a seek to the middle and past the
/// end. Also the bext and iXML chunk parsers on the raw bytes.
pub fn audio(data: &[u8], ext: &str) {
    let _ = dubstage_core::io::bext::parse(data);
    let _ = dubstage_core::io::ixml::parse(data);
    let path = scratch(ext);
    std::fs::write(&path, data).expect("scratch file");
    if let Ok(mut r) = AudioReader::open(&path) {
        let info = r.info().clone();
        let ch = (info.channels as usize).max(1);
        // At most 64 Ki samples per read, whatever the channel count claims.
        let per = ((1usize << 16) / ch).max(1);
        let mut out = vec![Vec::new(); ch];
        for _ in 0..8 {
            match r.read_planar(&mut out, per) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    assert!(n <= per, "read {n} frames, asked for {per}");
                    for c in &out {
                        assert!(c.len() >= n);
                    }
                }
            }
        }
        if r.seek(info.frames / 2).is_ok() {
            let _ = r.read_planar(&mut out, per.min(256));
        }
        let _ = r.seek(info.frames.saturating_add(1));
        let _ = r.seek(u64::MAX);
    }
    let _ = std::fs::remove_file(&path);
}

/// The session TOML: parse, then resolve (which fails at the first missing
/// stem file, after every check that needs no file).
pub fn session(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent-dubstage-fuzz/session.toml");
    if let Ok(s) = dubstage_core::session::Session::parse(path, text) {
        let _ = s.resolve();
    }
}

fn spot_reel() -> dubstage_core::spot::SpotReel {
    let rate = dubstage_core::FrameRate::Fps23_976;
    dubstage_core::spot::SpotReel {
        reel: 1,
        rate,
        sample_rate: 48_000,
        start: dubstage_core::Timecode::parse("01:00:00:00", rate).expect("timecode"),
        length: 48_000 * 600,
    }
}

/// What a list goes through after parsing: numbering, validation, the cue sheet.
fn spot_after(markers: &[dubstage_core::spot::Marker]) {
    use dubstage_core::spot;
    let mut m = markers.to_vec();
    spot::number_cues(&mut m, 7);
    let reel = spot_reel();
    if let Ok(cues) = spot::validate(markers, &reel, "fuzz") {
        let sheet = spot::cue_sheet(&cues, "fuzz", &reel);
        assert!(
            !sheet.chars().any(|c| c.is_control() && c != '\n'),
            "control character in a cue sheet"
        );
    }
}

/// A CSV spotting list: parse; what parses writes back to CSV (no cell a
/// spreadsheet would evaluate) and parses to the same markers.
pub fn spot_csv(data: &[u8]) {
    use dubstage_core::spot;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = spot::parse_csv(text, "fuzz.csv") {
        let csv = spot::to_csv(&m);
        let back = spot::parse_csv(&csv, "again.csv").expect("written CSV parses");
        assert_eq!(back, m, "CSV round trip");
        spot_after(&m);
    }
}

/// A JSON spotting list: parse; what parses writes back to JSON and to CSV
/// and parses to the same markers.
pub fn spot_json(data: &[u8]) {
    use dubstage_core::spot;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = spot::parse_json(text, "fuzz.json") {
        let json = spot::to_json(&m, "t", "1", dubstage_core::FrameRate::Fps24);
        assert_eq!(
            spot::parse_json(&json, "again.json").expect("written JSON parses"),
            m,
            "JSON round trip"
        );
        spot_after(&m);
    }
}

/// The preview manifest: parse and check; what passes builds the page's
/// mixer and meter (`dubstage_core::preview`, which the page runs as WebAssembly)
/// and the reel `dubstage spot` checks against, and survives a JSON round trip.
pub fn manifest(data: &[u8]) {
    use dubstage_core::preview::{Manifest, Meter, Mixer};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Manifest::from_json(text) else {
        return;
    };
    assert!(m.length > 0 && m.audio.chunks >= 1);
    let again = serde_json::to_string(&m).expect("serializes");
    assert_eq!(Manifest::from_json(&again).expect("re-parses"), m);
    if let Ok(mx) = Mixer::new(&m) {
        let _ = Meter::new(mx.layout(), m.sample_rate);
    }
    let rate = m.frame_rate.parse::<dubstage_core::FrameRate>();
    if let Ok(start) = rate
        .clone()
        .map_err(dubstage_core::Error::Invalid)
        .and_then(|r| dubstage_core::Timecode::parse(&m.start, r))
    {
        let reel = dubstage_core::spot::SpotReel {
            reel: m.reel_number,
            rate: rate.expect("parsed above"),
            sample_rate: m.sample_rate,
            start,
            length: m.length,
        };
        let _ = reel.end();
    }
}

/// The HTTP request head parser and the request judges of `--serve`.
pub fn http(data: &[u8]) {
    let end = http::head_end(data);
    if let Some(e) = end {
        assert!(e <= data.len() && data[..e].ends_with(b"\n"));
    }
    let head = &data[..end.unwrap_or(data.len())];
    let size = data.len() as u64;
    if let Ok(h) = http::parse_head(head) {
        assert!(h.target.starts_with('/'));
        assert!(!h.method.is_empty());
        if let Some(p) = http::percent_decode(&h.target) {
            assert!(p.len() <= h.target.len());
        }
        for port in [80u16, 8000] {
            if http::host_ok(&h.host, "127.0.0.1", port, true, false) {
                let lower = h.host.to_ascii_lowercase();
                assert!(
                    lower == format!("127.0.0.1:{port}") || lower == format!("localhost:{port}"),
                    "accepted Host {:?}",
                    h.host
                );
            }
        }
        match http::parse_range(h.range.as_deref(), size) {
            http::Range::Part { from, to } => assert!(from <= to && to < size),
            http::Range::Whole | http::Range::Unsatisfiable => {}
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = http::percent_decode(s);
        if let http::Range::Part { from, to } = http::parse_range(Some(s), 1000) {
            assert!(from <= to && to < 1000);
        }
    }
}
