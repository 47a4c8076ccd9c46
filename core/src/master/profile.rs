//! Delivery profiles: the loudness target, tolerance and true-peak ceiling a deliverable
//! must meet, chosen by name or given in full in the session.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which loudness a target applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatingMode {
    /// BS.1770-4 integrated loudness of the full programme (level-gated).
    Programme,
    /// Stem-gated dialogue loudness (see [`crate::loudness::DialogueGate`]), with the
    /// profile's fallback when dialogue is scarce.
    Dialogue,
}

/// What to do when a deliverable misses the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Stop with an error; nothing is delivered.
    Fail,
    /// Deliver and flag the failure in the QC report.
    Flag,
}

/// The full-programme target used when dialogue is under a share of the programme
/// (Netflix: under 15 % dialogue, -24 LKFS full programme).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DialogueFallback {
    /// Below this percentage of dialogue blocks the fallback applies.
    pub below_percent: f64,
    /// Full-programme target, LUFS.
    pub target_lufs: f64,
}

/// A delivery specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryProfile {
    /// Preset name or `"custom"`.
    pub name: String,
    /// Loudness target, LUFS (= LKFS).
    pub target_lufs: f64,
    /// Allowed deviation either side, LU.
    pub tolerance_lu: f64,
    /// Maximum true peak, dBTP.
    pub true_peak_ceiling_dbtp: f64,
    /// Which loudness the target applies to.
    #[serde(default = "default_gating")]
    pub gating: GatingMode,
    /// For dialogue gating: the fallback when dialogue is scarce.
    #[serde(default)]
    pub fallback: Option<DialogueFallback>,
    /// Most gain reduction the limiter may apply, dB; beyond it the profile fails
    /// (the mix is too dynamic for the target and needs a mixer, not a limiter).
    #[serde(default = "default_max_gr")]
    pub max_limiter_gain_reduction_db: f64,
    /// Fail or flag when the deliverable misses the profile.
    #[serde(default = "default_on_failure")]
    pub on_failure: OnFailure,
    /// Recommended loudness range, LU (reported, not enforced).
    #[serde(default)]
    pub loudness_range_lu: Option<(f64, f64)>,
}

fn default_gating() -> GatingMode {
    GatingMode::Programme
}
fn default_max_gr() -> f64 {
    6.0
}
fn default_on_failure() -> OnFailure {
    OnFailure::Fail
}

/// The preset names, for help texts.
pub const PRESETS: [&str; 4] = ["netflix", "ebu-r128", "atsc-a85", "aes-streaming"];

impl DeliveryProfile {
    /// A named preset: `netflix`, `ebu-r128`, `atsc-a85`, `aes-streaming`.
    pub fn preset(name: &str) -> Result<Self> {
        let base = |name: &str, target, tol, ceiling| DeliveryProfile {
            name: name.to_string(),
            target_lufs: target,
            tolerance_lu: tol,
            true_peak_ceiling_dbtp: ceiling,
            gating: GatingMode::Programme,
            fallback: None,
            max_limiter_gain_reduction_db: 6.0,
            on_failure: OnFailure::Fail,
            loudness_range_lu: None,
        };
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            // Netflix sound mix specifications (nearfield): -27 LKFS dialogue-gated ±2 LU,
            // -2 dBTP; -24 LKFS full programme when dialogue is under 15 %.
            "netflix" => DeliveryProfile {
                gating: GatingMode::Dialogue,
                fallback: Some(DialogueFallback {
                    below_percent: 15.0,
                    target_lufs: -24.0,
                }),
                loudness_range_lu: Some((4.0, 18.0)),
                ..base("netflix", -27.0, 2.0, -2.0)
            },
            // EBU R128 (2020): -23 LUFS ±0.5 LU (file-based), -1 dBTP.
            "ebu-r128" | "ebu" | "r128" => base("ebu-r128", -23.0, 0.5, -1.0),
            // ATSC A/85:2013: -24 LKFS ±2 LU, -2 dBTP.
            "atsc-a85" | "atsc" | "a85" => base("atsc-a85", -24.0, 2.0, -2.0),
            // AES TD1008 (streaming): -18 LUFS speech anchor, -16 to -20, -1 dBTP.
            "aes-streaming" | "aes" | "td1008" => base("aes-streaming", -18.0, 2.0, -1.0),
            other => {
                return Err(Error::Invalid(format!(
                    "unknown delivery profile '{other}' (presets: {}; or give target, \
                     tolerance and ceiling for a custom one)",
                    PRESETS.join(", ")
                )));
            }
        })
    }

    /// A custom profile.
    pub fn custom(
        target_lufs: f64,
        tolerance_lu: f64,
        true_peak_ceiling_dbtp: f64,
        gating: GatingMode,
    ) -> Result<Self> {
        let p = DeliveryProfile {
            name: "custom".into(),
            target_lufs,
            tolerance_lu,
            true_peak_ceiling_dbtp,
            gating,
            fallback: None,
            max_limiter_gain_reduction_db: 6.0,
            on_failure: OnFailure::Fail,
            loudness_range_lu: None,
        };
        p.validate()?;
        Ok(p)
    }

    /// Checks that the numbers make sense.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| {
            Err(Error::Invalid(format!(
                "delivery profile '{}': {m}",
                self.name
            )))
        };
        if !(-70.0..=0.0).contains(&self.target_lufs) {
            return bad(format!("target {} LUFS outside -70..0", self.target_lufs));
        }
        if !(0.0..=10.0).contains(&self.tolerance_lu) {
            return bad(format!("tolerance {} LU outside 0..10", self.tolerance_lu));
        }
        if !(-20.0..=0.0).contains(&self.true_peak_ceiling_dbtp) {
            return bad(format!(
                "true-peak ceiling {} dBTP outside -20..0",
                self.true_peak_ceiling_dbtp
            ));
        }
        if !(0.0..=40.0).contains(&self.max_limiter_gain_reduction_db) {
            return bad(format!(
                "max limiter gain reduction {} dB outside 0..40",
                self.max_limiter_gain_reduction_db
            ));
        }
        if let Some(f) = &self.fallback {
            if !(0.0..=100.0).contains(&f.below_percent) || !(-70.0..=0.0).contains(&f.target_lufs)
            {
                return bad("fallback percent or target out of range".into());
            }
        }
        Ok(())
    }

    /// Is `lufs` within the tolerance of `target`?
    pub fn within(&self, lufs: f64, target: f64) -> bool {
        (lufs - target).abs() <= self.tolerance_lu + 1e-9
    }
}

impl FromStr for DeliveryProfile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DeliveryProfile::preset(s)
    }
}

impl fmt::Display for DeliveryProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:.1} LUFS {} ±{} LU, {:.1} dBTP",
            self.name,
            self.target_lufs,
            match self.gating {
                GatingMode::Programme => "programme",
                GatingMode::Dialogue => "dialogue-gated",
            },
            self.tolerance_lu,
            self.true_peak_ceiling_dbtp
        )
    }
}
