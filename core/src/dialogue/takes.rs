//! Take ranking: how well each take of a line fits the guide, with the
//! reasons, so the editor can decide.
//!
//! For each take: its sync against the guide ([`super::sync`]), then, on the
//! synced and polarity-corrected span, the alignment cost and the warp it
//! would need ([`super::align::analyse`]), its signal-to-noise ratio (the
//! 90th against the 10th percentile of 10 ms frame energies), clipping (runs
//! of 3 or more samples at full scale) and its level against the guide's (the
//! mean energy of frames within 30 dB of each clip's loudest).
//!
//! The score (lower is better) adds the alignment cost (normalized MFCC
//! distance per path step), 1 per 100 ms of warp, 1 per 10 dB of SNR under
//! 30 dB, 2 for any clipping and 1 per 10 dB of level mismatch. The weights
//! are a starting point, not a standard: the reasons are what to read.

use super::align::{AlignOptions, analyse};
use super::sync::{SyncOptions, sync};
use serde::Serialize;

/// One take's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeReport {
    /// Take late by this many samples against the guide (None: no sync found).
    pub offset_samples: Option<f64>,
    pub polarity: Option<i8>,
    pub sync_confidence: Option<f64>,
    /// Mean DTW step cost against the guide (None when it could not be aligned).
    pub align_cost: Option<f64>,
    /// Largest warp the alignment would need, ms.
    pub max_warp_ms: Option<f64>,
    pub snr_db: f64,
    /// Samples in runs of 3 or more at full scale.
    pub clipped_samples: u64,
    /// Take's speech level minus the guide's, dB.
    pub level_diff_db: f64,
    /// Lower is better.
    pub score: f64,
    /// Why, in words.
    pub reasons: Vec<String>,
}

fn frame_energies(x: &[f32], hop: usize) -> Vec<f64> {
    x.chunks(hop)
        .filter(|c| c.len() == hop)
        .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / hop as f64)
        .collect()
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn db(e: f64) -> f64 {
    10.0 * e.max(1e-20).log10()
}

/// Speech level: mean energy of the frames within 30 dB of the loudest, dB.
fn speech_level(e: &[f64]) -> f64 {
    let max = e.iter().copied().fold(0.0, f64::max);
    let loud: Vec<f64> = e.iter().copied().filter(|&v| v > max * 1e-3).collect();
    db(loud.iter().sum::<f64>() / loud.len().max(1) as f64)
}

fn clipped(x: &[f32]) -> u64 {
    let mut total = 0u64;
    let mut run = 0u64;
    for &v in x {
        if v.abs() >= 0.999 {
            run += 1;
        } else {
            if run >= 3 {
                total += run;
            }
            run = 0;
        }
    }
    if run >= 3 {
        total += run;
    }
    total
}

/// Scores one take against the guide (mono, same rate).
pub fn score_take(guide: &[f32], take: &[f32], sr: u32) -> TakeReport {
    let hop = (sr / 100) as usize;
    let mut reasons = Vec::new();
    let te = frame_energies(take, hop);
    let ge = frame_energies(guide, hop);
    let snr = db(percentile(&te, 0.9)) - db(percentile(&te, 0.1));
    let clip = clipped(take);
    let level = speech_level(&te) - speech_level(&ge);
    let mut score = 0.0;
    let (mut offset, mut polarity, mut conf, mut cost, mut warp) = (None, None, None, None, None);
    match sync(guide, take, sr, &SyncOptions::default()) {
        Ok(s) => {
            offset = Some(s.offset_samples);
            polarity = Some(s.polarity);
            conf = Some(s.confidence);
            if s.polarity < 0 {
                reasons.push("inverted polarity (flip it)".into());
            }
            // the take's span under the guide, polarity corrected
            let o = s.offset_samples.round() as i64;
            let p = f32::from(s.polarity);
            let span: Vec<f32> = (0..guide.len() as i64)
                .map(|i| {
                    let k = i + o;
                    if k >= 0 && (k as usize) < take.len() {
                        p * take[k as usize]
                    } else {
                        0.0
                    }
                })
                .collect();
            match analyse(guide, &span, sr, &AlignOptions::default()) {
                Ok(r) => {
                    cost = Some(r.path_cost);
                    warp = Some(r.max_warp_ms);
                    score += r.path_cost + r.max_warp_ms / 100.0;
                    reasons.push(format!(
                        "alignment cost {:.2}, timing off by up to {:.0} ms",
                        r.path_cost, r.max_warp_ms
                    ));
                }
                Err(e) => {
                    score += 10.0;
                    reasons.push(format!("cannot be aligned: {e}"));
                }
            }
        }
        Err(e) => {
            score += 20.0;
            reasons.push(format!("no sync with the guide: {e}"));
        }
    }
    if snr < 30.0 {
        score += (30.0 - snr) / 10.0;
        reasons.push(format!("noisy: SNR {snr:.0} dB"));
    } else {
        reasons.push(format!("clean: SNR {snr:.0} dB"));
    }
    if clip > 0 {
        score += 2.0;
        reasons.push(format!("clipped: {clip} samples at full scale"));
    }
    score += level.abs() / 10.0;
    if level.abs() >= 1.0 {
        reasons.push(format!(
            "{:.1} dB {} than the guide",
            level.abs(),
            if level < 0.0 { "quieter" } else { "louder" }
        ));
    }
    TakeReport {
        offset_samples: offset,
        polarity,
        sync_confidence: conf,
        align_cost: cost,
        max_warp_ms: warp,
        snr_db: snr,
        clipped_samples: clip,
        level_diff_db: level,
        score,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::test_signals::{Rng, speechlike};

    #[test]
    fn the_clean_matching_take_ranks_first() {
        let sr = 48000;
        let g = speechlike(sr, 4.0, 9);
        let mut rng = Rng(2);
        // take A: the same line, a little late, clean
        let mut a = vec![0.0f32; 4800];
        a.extend(&g);
        // take B: the same line, noisy and clipped
        let mut b: Vec<f32> = g
            .iter()
            .map(|v| (v * 4.0 + 0.05 * rng.gauss()).clamp(-1.0, 1.0))
            .collect();
        b.splice(0..0, vec![0.0f32; 9600]);
        // take C: another line
        let c = speechlike(sr, 4.0, 10);
        let ra = score_take(&g, &a, sr);
        let rb = score_take(&g, &b, sr);
        let rc = score_take(&g, &c, sr);
        assert!((ra.offset_samples.unwrap() - 4800.0).abs() < 0.5, "{ra:?}");
        assert!(rb.clipped_samples > 0 && rb.snr_db < ra.snr_db, "{rb:?}");
        assert!(rc.offset_samples.is_none(), "{rc:?}");
        assert!(
            ra.score < rb.score && rb.score < rc.score,
            "{ra:?}\n{rb:?}\n{rc:?}"
        );
    }
}
