//! `dubstage demo --timeline`'s material: recorder takes and a picture list
//! that conform without a miss into a session that resolves, whose music
//! track (a 44.1 kHz cue on a 48 kHz reel) is the analytic chord the cue was
//! written from, at the record position the list gives.

use dubstage_core::demo::write_demo_timeline;
use dubstage_core::pipeline::StemReader;
use dubstage_core::session::Session;
use std::f64::consts::TAU;

fn chord(t: f64) -> f64 {
    let swell = 0.5 - 0.5 * (TAU * t / 10.0).cos();
    [220.0, 277.18, 329.63, 440.0]
        .iter()
        .map(|f| (TAU * f * t).sin())
        .sum::<f64>()
        * 0.06
        * swell
}

#[test]
fn the_timeline_demo_conforms_and_its_music_is_converted_in_place() {
    let dir = std::env::temp_dir().join(format!("dubstage-demo-timeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = write_demo_timeline(&dir).unwrap();
    assert_eq!((t.matched, t.unmatched), (5, 0), "{}", t.report);
    let text = std::fs::read_to_string(&t.session).unwrap();
    assert!(text.starts_with("# dubstage demo session"), "{text}");
    assert!(text.contains("speed = \"2/1\""), "the M2 edit: {text}");
    assert!(
        text.contains("fade_in = { samples = 24024 }"),
        "the dissolve: {text}"
    );
    let plan = Session::load(&t.session).unwrap().resolve().unwrap();
    let ids: Vec<&str> = plan.stems.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["A1", "A2"]);
    // 01:00:18:00 at 23.976: the last edits end there
    assert_eq!(plan.length, 18 * 24 * 2002);
    let mx = &plan.stems[1];
    let clip = &mx.clips[0];
    assert_eq!(clip.ratio, (147, 160));
    let rec = 2 * 24 * 2002; // 01:00:02:00
    assert_eq!(clip.record_start, rec);
    let mut r = StemReader::open(mx, &plan, 0).unwrap();
    let mut buf = vec![Vec::new()];
    let mut y = Vec::new();
    let mut at = 0;
    while at < plan.length as usize {
        let n = 8192.min(plan.length as usize - at);
        r.read_block(at as i64, n, &mut buf).unwrap();
        y.extend_from_slice(&buf[0][..n]);
        at += n;
    }
    assert!(y[..rec as usize].iter().all(|&v| v == 0.0));
    let (mut e, mut s) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate().skip(rec as usize) {
        let src = clip.file_start as f64 + (i - rec as usize) as f64 * 44_100.0 / 48_000.0;
        let w = chord(src / 44_100.0);
        e += (v as f64 - w).powi(2);
        s += w * w;
    }
    let db = 10.0 * (e / s).log10();
    assert!(db < -90.0, "music residual {db:.1} dB (24-bit cue)");
    std::fs::remove_dir_all(&dir).unwrap();
}
