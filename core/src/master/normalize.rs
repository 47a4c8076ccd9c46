//! Static loudness normalization: the gain that brings a measured programme to a
//! delivery profile's target, and the compliance check of the result.

use super::profile::{DeliveryProfile, GatingMode};
use crate::loudness::LoudnessSummary;
use crate::{Error, Result};
use serde::Serialize;

/// The static gain for a programme, with what it implies for the limiter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Normalization {
    /// The profile's name.
    pub profile: String,
    /// Which loudness was matched: dialogue-gated, or the full programme.
    pub measured_gating: GatingMode,
    /// True when a dialogue-gated profile fell back to the full programme (dialogue
    /// under the fallback share, or no dialogue bus metered).
    pub used_fallback: bool,
    /// Dialogue share of the programme, percent (dialogue-gated profiles).
    pub dialogue_percent: Option<f64>,
    /// The loudness the gain is computed from, LUFS.
    pub measured_lufs: f64,
    /// The target that applies, LUFS.
    pub target_lufs: f64,
    /// `target - measured`, dB.
    pub gain_db: f64,
    /// The same gain, linear.
    pub gain: f64,
    /// The programme's true peak after the gain alone, dBTP (None when not measured).
    pub predicted_true_peak_dbtp: Option<f64>,
    /// Whether the true peak after the gain exceeds the ceiling.
    pub limiter_needed: bool,
    /// The least gain reduction the limiter must apply at the loudest peak, dB.
    pub predicted_gain_reduction_db: f64,
    /// Whether that fits the profile's `max_limiter_gain_reduction_db`.
    pub within_limiter_budget: bool,
    /// Why a fallback applied, or other remarks.
    pub notes: Vec<String>,
}

/// The static gain that brings `measured` to `profile`'s target.
///
/// For a dialogue-gated profile the stem-gated dialogue loudness is used when the
/// summary has it and dialogue covers at least the fallback share; otherwise the
/// full-programme integrated loudness against the fallback target (or the main target
/// when the profile has no fallback). Errors when the loudness is undefined (silence).
pub fn normalization(
    measured: &LoudnessSummary,
    profile: &DeliveryProfile,
) -> Result<Normalization> {
    profile.validate()?;
    let mut notes = Vec::new();
    let mut used_fallback = false;
    let mut dialogue_percent = None;
    let programme = |notes: &mut Vec<String>| -> Result<f64> {
        let _ = notes;
        measured.integrated_lufs.ok_or_else(|| {
            Error::Delivery(
                "the programme has no measurable loudness (silent, or shorter than 400 ms): \
                 it cannot be normalized"
                    .into(),
            )
        })
    };
    let (gating, measured_lufs, target) = match profile.gating {
        GatingMode::Programme => (
            GatingMode::Programme,
            programme(&mut notes)?,
            profile.target_lufs,
        ),
        GatingMode::Dialogue => {
            let fb_target = profile
                .fallback
                .map_or(profile.target_lufs, |f| f.target_lufs);
            match &measured.dialogue {
                None => {
                    used_fallback = true;
                    notes.push(
                        "no dialogue bus was metered: full-programme loudness against the \
                         fallback target"
                            .into(),
                    );
                    (GatingMode::Programme, programme(&mut notes)?, fb_target)
                }
                Some(d) => {
                    dialogue_percent = Some(d.dialogue_percent);
                    let below = profile.fallback.map_or(0.0, |f| f.below_percent);
                    match d.gated_lufs {
                        Some(g) if d.dialogue_percent >= below => {
                            (GatingMode::Dialogue, g, profile.target_lufs)
                        }
                        _ => {
                            used_fallback = true;
                            notes.push(format!(
                                "dialogue covers {:.1} % of the programme (under {below} %): \
                                 full-programme loudness against {fb_target} LUFS",
                                d.dialogue_percent
                            ));
                            (GatingMode::Programme, programme(&mut notes)?, fb_target)
                        }
                    }
                }
            }
        }
    };
    let gain_db = target - measured_lufs;
    let predicted = measured.true_peak_dbtp.map(|tp| tp + gain_db);
    let over = predicted.map_or(0.0, |p| (p - profile.true_peak_ceiling_dbtp).max(0.0));
    if measured.true_peak_dbtp.is_none() && measured.sample_peak_dbfs.is_some() {
        notes.push("true peak was not measured: the limiter decides from its own detector".into());
    }
    Ok(Normalization {
        profile: profile.name.clone(),
        measured_gating: gating,
        used_fallback,
        dialogue_percent,
        measured_lufs,
        target_lufs: target,
        gain_db,
        gain: 10f64.powf(gain_db / 20.0),
        predicted_true_peak_dbtp: predicted,
        limiter_needed: over > 0.0,
        predicted_gain_reduction_db: over,
        within_limiter_budget: over <= profile.max_limiter_gain_reduction_db,
        notes,
    })
}

/// Does a finished deliverable meet its profile?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    pub profile: String,
    /// The loudness compared with the target (dialogue-gated or programme), LUFS.
    pub loudness_lufs: Option<f64>,
    pub target_lufs: f64,
    pub loudness_ok: bool,
    pub true_peak_dbtp: Option<f64>,
    pub true_peak_ok: bool,
    /// Loudness range and whether it lies in the profile's recommended range (advisory).
    pub loudness_range_lu: Option<f64>,
    pub loudness_range_ok: Option<bool>,
    pub passed: bool,
    pub messages: Vec<String>,
}

/// Checks a deliverable's measurement against `profile` (loudness within tolerance of the
/// target that applies, true peak at or under the ceiling; LRA advisory).
pub fn check(measured: &LoudnessSummary, profile: &DeliveryProfile) -> Compliance {
    let mut messages = Vec::new();
    let (loudness, target) = match normalization(measured, profile) {
        Ok(n) => (Some(n.measured_lufs), n.target_lufs),
        Err(e) => {
            messages.push(e.to_string());
            (None, profile.target_lufs)
        }
    };
    let loudness_ok = loudness.is_some_and(|l| profile.within(l, target));
    if let Some(l) = loudness.filter(|_| !loudness_ok) {
        messages.push(format!(
            "loudness {l:.1} LUFS is outside {target:.1} ±{} LU",
            profile.tolerance_lu
        ));
    }
    let tp = measured.true_peak_dbtp;
    // A silent programme has no peak and cannot exceed the ceiling.
    let true_peak_ok = tp.is_none_or(|t| t <= profile.true_peak_ceiling_dbtp + 1e-9);
    if !true_peak_ok {
        messages.push(format!(
            "true peak {:.2} dBTP exceeds the {:.1} dBTP ceiling",
            tp.unwrap_or(f64::NAN),
            profile.true_peak_ceiling_dbtp
        ));
    }
    let lra = measured.loudness_range_lu;
    let lra_ok = match (lra, profile.loudness_range_lu) {
        (Some(v), Some((lo, hi))) => Some(v >= lo && v <= hi),
        _ => None,
    };
    if lra_ok == Some(false) {
        messages.push(format!(
            "loudness range {:.1} LU is outside the recommended {:?} LU (advisory)",
            lra.unwrap_or(f64::NAN),
            profile.loudness_range_lu.unwrap_or_default()
        ));
    }
    Compliance {
        profile: profile.name.clone(),
        loudness_lufs: loudness,
        target_lufs: target,
        loudness_ok,
        true_peak_dbtp: tp,
        true_peak_ok,
        loudness_range_lu: lra,
        loudness_range_ok: lra_ok,
        passed: loudness_ok && true_peak_ok,
        messages,
    }
}
