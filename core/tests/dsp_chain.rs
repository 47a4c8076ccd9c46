//! The per-stem insert chain: session syntax, order, output against the stages
//! applied by hand, tails, errors naming the stem and insert.

use dubstage_core::stem::chain::{InsertChain, InsertSpec};
use dubstage_core::stem::convolve::Ir;
use dubstage_core::stem::eq::{Band, Eq, Slope};
use dubstage_core::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct Stem {
    inserts: Vec<InsertSpec>,
}

fn parse(toml_text: &str) -> std::result::Result<Vec<InsertSpec>, String> {
    toml::from_str::<Stem>(toml_text)
        .map(|s| s.inserts)
        .map_err(|e| e.to_string())
}

/// In-memory IRs by file name; anything else is "not found".
fn loader(base: &Path) -> impl Fn(&Path) -> Result<Ir> + '_ {
    move |p: &Path| {
        let name = p.strip_prefix(base).unwrap().to_str().unwrap().to_string();
        let chans = match name.as_str() {
            "irs/room.wav" => vec![vec![0.5, 0.25, -0.125, 0.0625], vec![0.3, -0.2, 0.1, 0.05]],
            "irs/phone.wav" => vec![vec![1.0, -0.5, 0.25]],
            "irs/quad.wav" => vec![vec![1.0], vec![0.5], vec![0.25], vec![0.125]],
            _ => {
                return Err(Error::io(
                    p,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
                ));
            }
        };
        Ir::new(chans, 48_000, p)
    }
}

const EXAMPLE: &str = r#"
inserts = [
  { type = "eq", bands = [
      { kind = "high_pass", freq = 80, slope = 24 },
      { kind = "peak", freq = 3000, gain_db = -2.5, q = 1.4 },
      { kind = "high_shelf", freq = 10000, gain_db = 2, slope = 1 } ] },
  { type = "convolve", ir = "irs/room.wav", wet_db = -6, dry_db = 0,
    normalize = "energy", predelay_ms = 0.5, map = ["L", "R", "L", "L", "L", "R"] },
  { type = "trim", db = -3 },
  { type = "futz", low_hz = 300, high_hz = 3400, ir = "irs/phone.wav" },
]
"#;

#[test]
fn session_syntax_order_and_tail() {
    let specs = parse(EXAMPLE).unwrap();
    assert_eq!(specs.len(), 4);
    let base = PathBuf::from("/sessions/reel1");
    let l = loader(&base);
    let chain = InsertChain::build_with_loader(&specs, 48_000, 6, &base, "dx", &l).unwrap();
    assert_eq!(
        chain.stage_kinds(),
        ["eq", "convolve", "trim", "eq", "convolve"]
    );
    assert_eq!(chain.latency(), 0);
    // convolve: 4-tap IR + 24 frames predelay → 27; phone: 2; EQs ring a while (> 0)
    assert!(chain.tail_frames() > 27 + 2, "{}", chain.tail_frames());
    assert_eq!(chain.preferred_block_frames(), 1024);
}

#[test]
fn output_equals_stages_applied_in_order() {
    let specs = parse(
        r#"inserts = [
        { type = "trim", db = -6 },
        { type = "eq", bands = [ { kind = "low_pass", freq = 2000, slope = 48 } ] },
        { type = "convolve", ir = "irs/room.wav", map = [1, 2], wet_db = -3, dry_db = -10 },
    ]"#,
    )
    .unwrap();
    let base = PathBuf::from("/s");
    let l = loader(&base);
    let mut chain = InsertChain::build_with_loader(&specs, 48_000, 2, &base, "mx", &l).unwrap();
    let n = 3000;
    let x: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            (0..n)
                .map(|t| (((t * 7 + c * 13) % 101) as f32 / 50.0 - 1.0) * 0.5)
                .collect()
        })
        .collect();
    // by hand: trim, EQ, then f64 direct convolution with wet/dry
    let g = 10f64.powf(-6.0 / 20.0) as f32;
    let mut want: Vec<Vec<f32>> = x
        .iter()
        .map(|c| c.iter().map(|v| v * g).collect())
        .collect();
    Eq::new(
        &[Band::LowPass {
            freq: 2000.0,
            slope: Slope::Db48,
        }],
        48_000,
        2,
    )
    .unwrap()
    .process(&mut want, n);
    let irs = loader(&base)(&base.join("irs/room.wav")).unwrap();
    let (wet, dry) = (10f64.powf(-3.0 / 20.0), 10f64.powf(-10.0 / 20.0));
    let want: Vec<Vec<f64>> = want
        .iter()
        .zip(&irs.channels)
        .map(|(x, h)| {
            (0..n)
                .map(|t| {
                    let mut acc = dry * x[t] as f64;
                    for (j, &hv) in h.iter().enumerate() {
                        if t >= j {
                            acc += wet * hv as f64 * x[t - j] as f64;
                        }
                    }
                    acc
                })
                .collect()
        })
        .collect();
    // chain in uneven chunks
    let mut got = x.clone();
    let mut pos = 0;
    for k in [1usize, 999, 1000, 64, 936].iter().cycle() {
        if pos >= n {
            break;
        }
        let k = (*k).min(n - pos);
        let mut part: Vec<Vec<f32>> = got.iter().map(|c| c[pos..pos + k].to_vec()).collect();
        chain.process(&mut part, k).unwrap();
        for (d, s) in got.iter_mut().zip(part) {
            d[pos..pos + k].copy_from_slice(&s);
        }
        pos += k;
    }
    for c in 0..2 {
        for t in 0..n {
            assert!(
                (got[c][t] as f64 - want[c][t]).abs() < 2e-6,
                "ch {c} frame {t}: {} vs {}",
                got[c][t],
                want[c][t]
            );
        }
    }
}

#[test]
fn true_stereo_and_labels() {
    let base = PathBuf::from("/s");
    let l = loader(&base);
    let specs =
        parse(r#"inserts = [ { type = "convolve", ir = "irs/quad.wav", true_stereo = true } ]"#)
            .unwrap();
    let mut chain = InsertChain::build_with_loader(&specs, 48_000, 2, &base, "fx", &l).unwrap();
    let mut p = vec![vec![1.0f32, 0.0], vec![0.0f32, 0.0]];
    chain.process(&mut p, 2).unwrap();
    // L in only: out L = h0 = 1, out R = h1 = 0.5
    assert!(
        (p[0][0] - 1.0).abs() < 1e-6 && (p[1][0] - 0.5).abs() < 1e-6,
        "{p:?}"
    );
}

#[test]
fn errors_name_stem_insert_and_problem() {
    let base = PathBuf::from("/s");
    let l = loader(&base);
    let build = |t: &str, ch: usize| {
        let specs = parse(t).unwrap();
        InsertChain::build_with_loader(&specs, 48_000, ch, &base, "bg", &l)
            .err()
            .map(|e| e.to_string())
    };
    let e = build(
        r#"inserts = [ { type = "trim", db = 0 }, { type = "convolve", ir = "irs/room.wav" } ]"#,
        6,
    )
    .unwrap();
    assert!(
        e.contains("stem 'bg'")
            && e.contains("insert 2 (convolve)")
            && e.contains("room.wav")
            && e.contains("map"),
        "{e}"
    );
    let e = build(
        r#"inserts = [ { type = "convolve", ir = "irs/nope.wav" } ]"#,
        2,
    )
    .unwrap();
    assert!(e.contains("insert 1") && e.contains("nope.wav"), "{e}");
    let e = build(
        r#"inserts = [ { type = "convolve", ir = "irs/room.wav", map = ["L", "C"] } ]"#,
        2,
    )
    .unwrap();
    assert!(e.contains("'C'"), "{e}");
    let e = build(
        r#"inserts = [ { type = "convolve", ir = "irs/room.wav", map = [0, 1] } ]"#,
        2,
    )
    .unwrap();
    assert!(e.contains("numbered from 1"), "{e}");
    let e = build(r#"inserts = [ { type = "eq", bands = [ { kind = "peak", freq = 99999, gain_db = 1, q = 1 } ] } ]"#, 2).unwrap();
    assert!(e.contains("insert 1 (eq)") && e.contains("band 0"), "{e}");
    let e = build(
        r#"inserts = [ { type = "futz", low_hz = 3000, high_hz = 300 } ]"#,
        1,
    )
    .unwrap();
    assert!(e.contains("insert 1 (futz)") && e.contains("below"), "{e}");
    let e = build(
        r#"inserts = [ { type = "convolve", ir = "irs/room.wav", predelay_ms = -1 } ]"#,
        2,
    )
    .unwrap();
    assert!(e.contains("negative"), "{e}");
    // syntax: unknown fields and types are rejected by serde
    assert!(
        parse(r#"inserts = [ { type = "trim", db = 0, gain = 1 } ]"#)
            .unwrap_err()
            .contains("unknown field")
    );
    assert!(parse(r#"inserts = [ { type = "chorus" } ]"#).is_err());
    assert!(
        parse(r#"inserts = [ { type = "eq", bands = [ { kind = "peak", freq = 1, q = 1 } ] } ]"#)
            .is_err()
    );
}
