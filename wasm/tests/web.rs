//! The wasm API as JavaScript sees it, run in headless Chromium by
//! wasm-bindgen-test (see wasm/webdriver.json and the repository README):
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! cargo test -p dubstage-wasm --target wasm32-unknown-unknown
//! ```
#![cfg(target_arch = "wasm32")]

use dubstage_wasm::{Preview, peaks, spot_parse, spot_to_csv};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A manifest with `stems` (JSON array text) mixed in `mix` at `rate` from `start`.
fn manifest(rate: &str, start: &str, mix: &str, stems: &str, buses: &str) -> String {
    format!(
        r#"{{"format":"dubstage-preview/1","title":"T","reel":"2","reel_number":2,
        "sample_rate":48000,"frame_rate":"{rate}","start":"{start}","length":4800000,
        "layout":"{mix}","mix_layout":"{mix}",
        "audio":{{"encoding":"s16le","chunk_frames":196608,"chunks":25,"description":""}},
        "stems":{stems},"buses":{buses},"peak_levels":[512],"generator":"test"}}"#
    )
}

fn stem(id: &str, bus: &str, layout: &str, gain_db: f64) -> String {
    format!(
        r#"{{"id":"{id}","kind":"x","bus":"{bus}","source_layout":"{layout}","layout":"{layout}",
        "gain_db":{gain_db},"mute":false,"pan":0.0,"automation":[]}}"#
    )
}

const BUSES: &str = r#"[{"id":"DX","dialogue":true},{"id":"MX","dialogue":false}]"#;

fn simple(rate: &str, start: &str) -> Preview {
    let stems = format!("[{}]", stem("mx", "MX", "2.0", 0.0));
    Preview::new(&manifest(rate, start, "2.0", &stems, BUSES)).expect("manifest")
}

#[wasm_bindgen_test]
fn timecode_is_drop_frame_correct() {
    let p = simple("29.97df", "00:00:59;28");
    assert!(p.drop_frame());
    assert_eq!(p.timecode(0.0), "00:00:59;28");
    let s1 = p.step_frames(0.0, 1);
    assert_eq!(p.timecode(s1), "00:00:59;29");
    // frames ;00 and ;01 of minute 1 do not exist
    let s2 = p.step_frames(0.0, 2);
    assert_eq!(p.timecode(s2), "00:01:00;02");
    assert_eq!(p.parse_timecode("00:01:00;02").unwrap(), s2);
    // 2 frames at 30000/1001 fps, in samples (rounded like the core)
    assert_eq!(
        s2,
        ((59.0 * 30.0 + 28.0 + 2.0) * 1601.6f64).round()
            - ((59.0 * 30.0 + 28.0) * 1601.6f64).round()
    );
    assert!(p.parse_timecode("00:01:00;00").is_err());
    // every frame's first sample shows that frame (boundaries rounded either way)
    for k in 0..200 {
        let s = p.step_frames(0.0, k);
        assert_eq!(p.step_frames(s, 0), s, "frame {k}");
        assert_eq!(p.timecode(s), p.timecode(p.step_frames(0.0, k)));
        assert_ne!(p.timecode(s - 1.0), p.timecode(s), "frame {k}");
    }
    assert!(p.parse_timecode("00:01:00:30").is_err());
}

#[wasm_bindgen_test]
fn timecode_at_23_976_counts_2002_samples_a_frame() {
    let p = simple("23.976", "01:00:00:00");
    assert_eq!(p.step_frames(0.0, 1), 2002.0);
    assert_eq!(p.timecode(2001.0), "01:00:00:00");
    assert_eq!(p.timecode(2002.0), "01:00:00:01");
    assert_eq!(p.timecode(24.0 * 2002.0), "01:00:01:00");
    assert_eq!(p.step_frames(2001.0, -1), -2002.0);
}

/// EBU Tech 3341 case 1: a 1 kHz stereo sine at -23 dBFS reads -23.0 ±0.1
/// momentary and short-term (here through the mixer, 4096-frame blocks, planar input).
#[wasm_bindgen_test]
fn meter_reads_ebu_3341_case_1() {
    let mut p = simple("25", "10:00:00:00");
    assert_eq!(p.input_channels(), 2);
    let amp = 10f64.powf(-23.0 / 20.0);
    let n = 4096usize;
    let mut t = 0u64;
    while t < 48_000 * 5 {
        let mut input = vec![0f32; 2 * n];
        for i in 0..n {
            let v = (amp
                * (2.0 * std::f64::consts::PI * 1000.0 * (t + i as u64) as f64 / 48_000.0).sin())
                as f32;
            input[i] = v;
            input[n + i] = v;
        }
        let out = p.process(t as f64, &input, n).unwrap();
        assert_eq!(out.len(), 2 * n);
        assert_eq!(out[10], input[10]);
        t += n as u64;
    }
    assert!((p.momentary() + 23.0).abs() < 0.1, "M {}", p.momentary());
    assert!((p.short_term() + 23.0).abs() < 0.1, "S {}", p.short_term());
    assert!(p.meter_hops() >= 49.0);
    p.reset_meter().unwrap();
    assert_eq!(p.short_term(), f64::NEG_INFINITY);
}

#[wasm_bindgen_test]
fn monitoring_mute_and_solo() {
    let stems = format!(
        "[{},{}]",
        stem("dx", "DX", "1.0", -6.0),
        stem("mx", "MX", "2.0", 0.0)
    );
    let mut p = Preview::new(&manifest("24", "01:00:00:00", "5.1", &stems, BUSES)).unwrap();
    assert_eq!(p.input_channels(), 3);
    assert_eq!(
        (p.stem_channels(0), p.stem_channels(1), p.stem_channels(2)),
        (1, 2, 0)
    );
    let n = 64;
    let input = vec![0.5f32; 3 * n];
    // 5.1 mix folded for the speakers: dx at centre -6 dB -> 0.5 * 0.501 * 0.707 into L;
    // music L at 0.5.
    let out = p.process(0.0, &input, n).unwrap();
    let dx = 0.5 * 10f64.powf(-6.0 / 20.0) * std::f64::consts::FRAC_1_SQRT_2;
    assert!((out[0] as f64 - (dx + 0.5)).abs() < 1e-5, "{}", out[0]);
    p.set_monitor("me").unwrap();
    assert!(!p.audible(0) && p.audible(1));
    let out = p.process(0.0, &input, n).unwrap();
    assert!((out[0] as f64 - 0.5).abs() < 1e-6);
    p.set_monitor("printmaster").unwrap();
    p.set_solo(0, true);
    assert!(p.audible(0) && !p.audible(1));
    let out = p.process(0.0, &input, n).unwrap();
    assert!((out[0] as f64 - dx).abs() < 1e-5);
    p.set_solo(0, false);
    p.set_mute(1, true);
    p.set_trim_db(0, 6.0);
    let out = p.process(0.0, &input, n).unwrap();
    assert!((out[0] as f64 - 0.5 * std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-4);
    assert!(p.set_monitor("bus:XX").is_err());
    assert!(p.set_monitor("stem:mx").is_ok());
    // too little input is an error, not a trap
    assert!(p.process(0.0, &input[..10], n).is_err());
}

#[wasm_bindgen_test]
fn spotting_lists_round_trip_and_validate() {
    let p = simple("24", "02:00:00:00");
    let csv = "type,in,out,line\nADR,02:00:01:00,02:00:02:00,\"Hi, \"\"you\"\"\"\nfx,02:00:03:00,,<b>x</b>\n";
    let json = spot_parse(csv, "list.csv").unwrap();
    let numbered = p.number_cues(&json).unwrap();
    assert!(numbered.contains(r#""cue":"2A01""#), "{numbered}");
    assert!(numbered.contains(r#""cue":"2S01""#), "{numbered}");
    let back = spot_to_csv(&numbered).unwrap();
    assert!(
        back.contains("2A01,ADR,02:00:01:00,02:00:02:00,,\"Hi, \"\"you\"\"\",,\r\n"),
        "{back}"
    );
    assert_eq!(spot_parse(&back, "b.csv").unwrap(), numbered);
    let cues = p.validate_markers(&numbered).unwrap();
    assert!(cues.contains(r#""in_sample":48000"#), "{cues}");
    let sheet = p.cue_sheet(&numbered).unwrap();
    assert!(sheet.contains("2A01"));
    // outside the reel (100 s long)
    let bad = r#"[{"type":"Note","in":"02:05:00:00"}]"#;
    assert!(p.validate_markers(bad).is_err());
    assert!(spot_parse("type,in\nbanjo,02:00:00:00\n", "x.csv").is_err());
    let j = p.markers_to_json(&numbered).unwrap();
    assert_eq!(spot_parse(&j, "x.json").unwrap(), numbered);
}

#[wasm_bindgen_test]
fn peaks_are_min_max_runs() {
    let x = [0.1f32, -0.2, 0.5, 0.3, -0.9, 0.0];
    assert_eq!(peaks(&x, 2, 2), vec![-0.2, 0.5, -0.9, 0.0]);
    assert_eq!(peaks(&x, 1, 4), vec![-0.2, 0.5, -0.9, 0.0]);
}

/// The insert chain and reverb return through the JavaScript API: a mono stem
/// at centre in a stereo mix with an EQ-free convolve insert (wet only, the
/// IR as given) and a send to a mono return whose IR is a pure delay. An
/// impulse comes out as the IR (x 0.707 into each side) plus the return's
/// delayed copy; after a jump, `prime` makes the block at the jump the same as
/// played through.
#[wasm_bindgen_test]
fn inserts_and_returns_through_the_js_api() {
    let stems = r#"[{"id":"adr","kind":"adr","bus":"DX","source_layout":"1.0","layout":"1.0",
        "gain_db":0.0,"mute":false,"pan":0.0,"automation":[],
        "inserts":[{"type":"convolve","ir":"irs/1-a.f32"}],
        "sends":[{"to":"room","db":-6.0}]}]"#;
    let extra = r#","returns":[{"id":"room","bus":"DX","layout":"1.0",
        "inserts":[{"type":"convolve","ir":"irs/2-delay.f32"}]}],
        "irs":[{"file":"irs/1-a.f32","source":"a.wav","channels":1,"frames":3},
               {"file":"irs/2-delay.f32","source":"d.wav","channels":1,"frames":101}]}"#;
    let m = manifest("24", "01:00:00:00", "2.0", stems, BUSES);
    let m = format!("{}{extra}", m.trim_end().trim_end_matches('}'));
    let mut p = Preview::new(&m).expect("manifest");
    assert_eq!(p.return_count(), 1);
    assert_eq!(p.ir_files(), vec!["irs/1-a.f32", "irs/2-delay.f32"]);
    let n = 256;
    let mut input = vec![0f32; n];
    input[0] = 1.0;
    // without the IRs: a clear error, not a trap
    assert!(p.process(0.0, &input, n).is_err());
    assert!(p.load_ir("irs/3-nope.f32", &[1.0]).is_err());
    assert!(
        p.load_ir("irs/1-a.f32", &[1.0, 0.5]).is_err(),
        "wrong length"
    );
    p.load_ir("irs/1-a.f32", &[1.0, 0.5, -0.25]).unwrap();
    let mut delay = vec![0f32; 101];
    delay[100] = 1.0;
    p.load_ir("irs/2-delay.f32", &delay).unwrap();
    // IR length - 1 of the insert + that of the return
    assert_eq!(p.prime_frames().unwrap(), 2 + 100);
    let out = p.process(0.0, &input, n).unwrap();
    let c = std::f32::consts::FRAC_1_SQRT_2;
    let send = 10f32.powf(-6.0 / 20.0);
    for (k, want) in [
        (0, 1.0),
        (1, 0.5),
        (2, -0.25),
        (3, 0.0),
        (100, send),
        (101, 0.5 * send),
        (102, -0.25 * send),
    ] {
        assert!(
            (out[k] - c * want).abs() < 1e-6,
            "L[{k}] = {}, want {}",
            out[k],
            c * want
        );
        assert!((out[n + k] - c * want).abs() < 1e-6, "R[{k}]");
    }
    // muting the return takes the delayed copy out
    p.set_return_mute(0, true);
    assert!(!p.return_audible(0));
    let out = p.process(0.0, &input, n).unwrap();
    assert!(out[100].abs() < 1e-7);
    p.set_return_mute(0, false);
    // a jump to 1000 with the impulse at 950: primed, the return's copy lands at 1050
    let mut before = vec![0f32; 102];
    before[950 - 898] = 1.0;
    assert!(p.needs_prime(1000.0).unwrap());
    p.prime(898.0, &before, 102).unwrap();
    assert!(!p.needs_prime(1000.0).unwrap());
    let silence = vec![0f32; n];
    let out = p.process(1000.0, &silence, n).unwrap();
    assert!((out[50] - c * send).abs() < 1e-6, "{}", out[50]);
    // unprimed, the same block is silent
    let out = p.process(1000.0, &silence, n).unwrap();
    assert!(out[50].abs() < 1e-7);
}
