//! The null test: a printmaster must equal the sum of its parts.
//!
//! For the M&E check the residual is `printmaster - dialogue bus - M&E`,
//! sample by sample and channel by channel, computed in f64. Its maximum
//! absolute value and RMS (over every channel and sample) are reported in
//! dBFS; the test passes when the maximum is below
//! [`QcConfig::null_max_dbfs`]. A residual that is not finite fails.

use super::QcConfig;
use super::dbfs;
use super::detect::TimeBase;
use super::report::Status;
use crate::layout::Channel;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Result of a null test, as stored in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NullResult {
    /// What was nulled (`"printmaster - DX - M&E"`).
    pub name: String,
    /// Largest |residual| (dBFS); `None` when the residual is exactly zero.
    pub max_abs_dbfs: Option<f64>,
    /// RMS of the residual over every channel and sample (dBFS); `None` when zero.
    pub rms_dbfs: Option<f64>,
    /// Channel of the largest residual.
    pub max_channel: Option<String>,
    /// Sample of the largest residual.
    pub max_sample: Option<u64>,
    /// Timecode of the largest residual.
    pub max_tc: Option<String>,
    /// Samples compared per channel.
    pub frames: u64,
    /// The pass threshold (dBFS).
    pub threshold_dbfs: f64,
    /// Verdict.
    pub status: Status,
    /// One sentence for the report.
    pub detail: String,
}

/// A streaming null test.
#[derive(Debug)]
pub struct NullTest {
    name: String,
    channels: Vec<Channel>,
    time: TimeBase,
    threshold_dbfs: f64,
    pos: u64,
    max_abs: f64,
    max_at: Option<(usize, u64)>,
    sum_sq: f64,
    non_finite: u64,
}

impl NullTest {
    /// A null test named `name` over `channels`.
    pub fn new(
        name: &str,
        channels: &[Channel],
        time: TimeBase,
        cfg: &QcConfig,
    ) -> Result<NullTest> {
        cfg.validate(time.sample_rate)?;
        if channels.is_empty() {
            return Err(Error::Invalid(format!("null test '{name}': no channels")));
        }
        Ok(NullTest {
            name: name.to_string(),
            channels: channels.to_vec(),
            time,
            threshold_dbfs: cfg.null_max_dbfs,
            pos: 0,
            max_abs: 0.0,
            max_at: None,
            sum_sq: 0.0,
            non_finite: 0,
        })
    }

    /// Feeds one block: the `reference` (printmaster) and the `parts` that
    /// should sum to it (dialogue bus, M&E), each planar with the same channels
    /// and length.
    pub fn push(&mut self, reference: &[&[f32]], parts: &[&[&[f32]]]) -> Result<()> {
        let nch = self.channels.len();
        let n = reference.first().map_or(0, |c| c.len());
        let shape_ok = |p: &[&[f32]]| p.len() == nch && p.iter().all(|c| c.len() == n);
        if !shape_ok(reference) {
            return Err(Error::Invalid(format!(
                "null test '{}': reference block must have {nch} channels of {n} samples",
                self.name
            )));
        }
        if let Some(i) = parts.iter().position(|p| !shape_ok(p)) {
            return Err(Error::Invalid(format!(
                "null test '{}': part {} must have {nch} channels of {n} samples like the reference",
                self.name,
                i + 1
            )));
        }
        // In groups: the residuals of a group are computed side by side, and a group
        // whose residuals are all zero (a bit-exact null) changes nothing (adding +0.0
        // to the sum of squares, which is never -0.0, leaves it as it is); the others are
        // accumulated sample by sample in order, so the sums do not depend on the grouping.
        const GROUP: usize = 32;
        let mut r = [0.0f64; GROUP];
        for ch in 0..nch {
            let mut at = 0;
            while at < n {
                let k = GROUP.min(n - at);
                let r = &mut r[..k];
                for (r, &x) in r.iter_mut().zip(&reference[ch][at..at + k]) {
                    *r = f64::from(x);
                }
                for p in parts {
                    for (r, &x) in r.iter_mut().zip(&p[ch][at..at + k]) {
                        *r -= f64::from(x);
                    }
                }
                // NaN compares unequal to zero too.
                if r.iter().fold(false, |any, &v| any | (v != 0.0)) {
                    for (i, &r) in r.iter().enumerate() {
                        if !r.is_finite() {
                            self.non_finite += 1;
                            continue;
                        }
                        let a = r.abs();
                        self.sum_sq += r * r;
                        if a > self.max_abs {
                            self.max_abs = a;
                            self.max_at = Some((ch, self.pos + (at + i) as u64));
                        }
                    }
                }
                at += k;
            }
        }
        self.pos += n as u64;
        Ok(())
    }

    /// Ends the test.
    pub fn finish(self) -> NullResult {
        let count = self.pos * self.channels.len() as u64;
        let db = |x: f64| if x > 0.0 { Some(dbfs(x)) } else { None };
        let max_db = db(self.max_abs);
        let rms_db = if count > 0 {
            db((self.sum_sq / count as f64).sqrt())
        } else {
            None
        };
        let fmt = |v: Option<f64>| {
            v.map_or("-inf dBFS (bit-exact)".to_string(), |d| {
                format!("{d:.1} dBFS")
            })
        };
        let (status, detail) = if self.non_finite > 0 {
            (
                Status::Fail,
                format!(
                    "{} residual {} NaN/Inf",
                    self.non_finite,
                    if self.non_finite == 1 {
                        "sample is"
                    } else {
                        "samples are"
                    }
                ),
            )
        } else if count == 0 {
            (Status::Fail, "no audio compared".to_string())
        } else if max_db.is_none_or(|d| d < self.threshold_dbfs) {
            (
                Status::Pass,
                format!(
                    "residual peak {}, RMS {}; limit {:.0} dBFS",
                    fmt(max_db),
                    fmt(rms_db),
                    self.threshold_dbfs
                ),
            )
        } else {
            let (ch, s) = self.max_at.unwrap_or((0, 0));
            (
                Status::Fail,
                format!(
                    "residual peak {} on {} at {}, RMS {}; limit {:.0} dBFS: the parts do not sum to the reference",
                    fmt(max_db),
                    self.channels[ch],
                    self.time.timecode(s),
                    fmt(rms_db),
                    self.threshold_dbfs
                ),
            )
        };
        NullResult {
            name: self.name,
            max_abs_dbfs: max_db,
            rms_dbfs: rms_db,
            max_channel: self
                .max_at
                .map(|(c, _)| self.channels[c].label().to_string()),
            max_sample: self.max_at.map(|(_, s)| s),
            max_tc: self.max_at.map(|(_, s)| self.time.timecode(s)),
            frames: self.pos,
            threshold_dbfs: self.threshold_dbfs,
            status,
            detail,
        }
    }
}
