//! `dubstage measure FILE... [--json] [--true-peak-oversample N]`: BS.1770-4 / EBU R128
//! loudness of audio files.

use dubstage_core::loudness::{FileMeasurement, MeasureOptions, measure_file};
use dubstage_core::{Error, Result};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Audio files (WAV, RF64, BW64).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON array, one object per file, instead of text.
    #[arg(long)]
    pub json: bool,
    /// True-peak oversampling factor: 1, 2, 4, 8 or 16 (default: 4x below 96 kHz,
    /// 2x below 192 kHz, as BS.1770-4).
    #[arg(long, value_name = "N")]
    pub true_peak_oversample: Option<u32>,
    /// Include the 100 ms momentary / short-term timeline in the JSON.
    #[arg(long)]
    pub timeline: bool,
    /// Exit non-zero when a file holds NaN or infinite samples (always reported;
    /// they are measured as silence).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

fn fmt_db(v: Option<f64>, undefined: &str) -> String {
    v.map(|x| format!("{x:.1}"))
        .unwrap_or_else(|| undefined.to_string())
}

fn json_of(f: &FileMeasurement, timeline: bool) -> serde_json::Value {
    let s = &f.summary;
    let mut v = json!({
        "file": f.file,
        "channels": f.channels,
        "channel_labels": s.channels,
        "channel_map": f.channel_map,
        "sample_rate": f.sample_rate,
        "frames": f.frames,
        "duration_s": f.duration_s,
        "integrated_lufs": s.integrated_lufs,
        "loudness_range_lu": s.loudness_range_lu,
        "true_peak_dbtp": s.true_peak_dbtp,
        "sample_peak_dbfs": s.sample_peak_dbfs,
        "max_momentary_lufs": s.max_momentary_lufs,
        "max_short_term_lufs": s.max_short_term_lufs,
        "true_peak_dbtp_per_channel": s.true_peak_dbtp_per_channel,
        "sample_peak_dbfs_per_channel": s.sample_peak_dbfs_per_channel,
        "true_peak_oversample": f.true_peak_oversample,
        "non_finite_samples": f.non_finite_samples,
        "first_non_finite": f.first_non_finite.map(|(frame, c)| json!({
            "frame": frame,
            "channel": c + 1,
        })),
    });
    if timeline {
        v["timeline"] = serde_json::to_value(&s.timeline).expect("serializable");
    }
    v
}

fn print_text(f: &FileMeasurement) {
    let s = &f.summary;
    println!("{}", f.file.display());
    println!(
        "  {} ch ({}), {} Hz, {:.3} s",
        f.channels,
        s.channels.join(" "),
        f.sample_rate,
        f.duration_s
    );
    println!(
        "  integrated     {} LUFS",
        fmt_db(s.integrated_lufs, "-inf")
    );
    println!("  loudness range {} LU", fmt_db(s.loudness_range_lu, "n/a"));
    let tp = if f.true_peak_oversample == 0 {
        "n/a (off)".to_string()
    } else {
        format!(
            "{} dBTP ({}x)",
            fmt_db(s.true_peak_dbtp, "-inf"),
            f.true_peak_oversample
        )
    };
    println!("  true peak      {tp}");
    println!(
        "  sample peak    {} dBFS",
        fmt_db(s.sample_peak_dbfs, "-inf")
    );
    println!(
        "  max momentary  {} LUFS",
        fmt_db(s.max_momentary_lufs, "-inf")
    );
    println!(
        "  max short-term {} LUFS",
        fmt_db(s.max_short_term_lufs, "-inf")
    );
    if f.true_peak_oversample != 0 {
        let per: Vec<String> = s
            .channels
            .iter()
            .zip(&s.true_peak_dbtp_per_channel)
            .map(|(c, v)| format!("{c} {}", fmt_db(*v, "-inf")))
            .collect();
        println!("  true peak/ch   {} dBTP", per.join(", "));
    }
    if let Some(w) = non_finite_warning(f) {
        println!("  WARNING        {w}");
    }
}

/// The warning for a file holding NaN or infinite samples.
fn non_finite_warning(f: &FileMeasurement) -> Option<String> {
    let (frame, c) = f.first_non_finite?;
    Some(format!(
        "{} NaN or infinite sample(s), the first at frame {frame} ({:.3} s), channel {}; measured as silence: the file is damaged",
        f.non_finite_samples,
        frame as f64 / f64::from(f.sample_rate),
        c + 1
    ))
}

pub fn run(a: &Args) -> Result<()> {
    if let Some(n) = a.true_peak_oversample {
        if !matches!(n, 1 | 2 | 4 | 8 | 16) {
            return Err(Error::Invalid(format!(
                "--true-peak-oversample {n}: use 1, 2, 4, 8 or 16"
            )));
        }
    }
    let backend = a.backend.open(a.json)?;
    let opts = MeasureOptions {
        true_peak_oversample: a.true_peak_oversample,
        timeline: a.timeline,
        ..MeasureOptions::default()
    };
    let mut out = Vec::new();
    let mut failed = 0;
    let mut damaged = 0;
    for f in &a.files {
        match measure_file(f, &opts, &|cfg| backend.summary_analyzer(cfg)) {
            Ok(m) => {
                if m.non_finite_samples > 0 {
                    damaged += 1;
                }
                if a.json {
                    out.push(json_of(&m, a.timeline));
                } else {
                    print_text(&m);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("serializable")
        );
        super::json_printed();
    }
    if failed > 0 {
        return Err(Error::Invalid(format!(
            "{failed} of {} file(s) could not be measured",
            a.files.len()
        )));
    }
    if a.strict && damaged > 0 {
        return Err(Error::Invalid(format!(
            "{damaged} of {} file(s) hold NaN or infinite samples (--strict)",
            a.files.len()
        )));
    }
    Ok(())
}
