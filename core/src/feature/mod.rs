//! Features as reels: one feature-wide loudness from the reels' merged histograms, reel
//! deliverables rendered with the feature's gain, and long plays (LP) joined at the reel
//! breaks.
//!
//! A feature session is a TOML file:
//!
//! ```toml
//! [feature]
//! title = "Night Train"
//! reels = ["r1/session.toml", "r2/session.toml", "r3/session.toml"]  # in order
//! keep_leader = false        # keep reel 1's head leader (and 2-pop) in the LP
//! gain = "feature"           # or "per-reel" (with `reason = "..."`, shown in the report)
//! long_plays = ["PM_5.1"]    # optional: which deliverables get an LP (default: all)
//!
//! [delivery]                 # optional: the whole feature's profile (as a session's)
//! profile = "netflix"
//! ```
//!
//! The render falls into steps that communicate only through files under the output
//! folder (`feature/`), so that each can run as its own job:
//!
//! ```text
//! measure reel N ──► feature/measure/rN.json  (the reel's programme, FFOA..LFOA: MeterState)
//! plan           ──► feature/plan.json        (merged histograms, the gain of every reel)
//! render reel N  ──► RN/…  feature/render/rN.json (the reel's deliverables with the plan's gain)
//! finish         ──► LP/…  feature/report.{json,html}  SHA256SUMS
//! ```
//!
//! Every step checks the hashes in its inputs (feature file, reel sessions, plan), so
//! outputs of different sessions or plans are never mixed, and writes its files through a
//! temporary file and a rename.

pub mod demo;
pub mod join;
pub mod report;
pub mod speed;

use crate::backend::Backend;
use crate::loudness::{DialogueGate, LoudnessSummary, MeterState};
use crate::master::{DeliveryProfile, Normalization, OnFailure};
use crate::pipeline::{self, ProgressFn, RenderOptions, RenderSummary};
use crate::session::{DeliverySpec, Plan, Session};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the gain is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GainMode {
    /// One gain for the whole feature, from the merged loudness of every reel.
    #[default]
    Feature,
    /// Each reel normalized on its own (needs a `reason`).
    PerReel,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureSpec {
    title: String,
    reels: Vec<String>,
    #[serde(default)]
    keep_leader: bool,
    #[serde(default)]
    gain: GainMode,
    reason: Option<String>,
    long_plays: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureFile {
    feature: FeatureSpec,
    delivery: Option<DeliverySpec>,
    #[serde(default)]
    speed_version: Vec<crate::session::SpeedSpec>,
}

/// A loaded feature: its reels resolved to render plans.
#[derive(Debug, Clone)]
pub struct Feature {
    pub path: PathBuf,
    pub title: String,
    /// SHA-256 of the feature file followed by every reel session's hash.
    pub sha256: String,
    pub keep_leader: bool,
    pub gain: GainMode,
    pub reason: Option<String>,
    /// The deliverable labels that get a long play (`PM_5.1`, `ME_5.1`, ...).
    pub long_plays: Vec<String>,
    /// The feature's profile (every reel is rendered to it).
    pub profile: Option<DeliveryProfile>,
    /// Normalize (false: measure and check only).
    pub normalize: bool,
    pub reels: Vec<Plan>,
    /// The speed versions of the long plays (`[[speed_version]]`), in the file's order.
    pub speed_versions: Vec<crate::session::PlanSpeedVersion>,
}

/// True when `path` is a feature session (its TOML has a `[feature]` table).
pub fn is_feature_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("feature"))
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The label of a reel deliverable: its name without `<title>_R<reel>_`.
pub fn deliverable_label(plan: &Plan, name: &str) -> String {
    let prefix = format!("{}_R{}_", crate::session::sanitize(&plan.title), plan.reel);
    name.strip_prefix(&prefix).unwrap_or(name).to_string()
}

impl Feature {
    /// Reads a feature file and resolves every reel.
    pub fn load(path: &Path) -> Result<Feature> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let err = |span: Option<std::ops::Range<usize>>, msg: String| {
            let (line, col) = span
                .map(|s| line_col(&text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            Error::Session {
                path: path.to_path_buf(),
                line,
                col,
                msg,
            }
        };
        let f: FeatureFile =
            toml::from_str(&text).map_err(|e| err(e.span(), e.message().to_string()))?;
        let fs = &f.feature;
        if fs.reels.is_empty() {
            return Err(err(
                None,
                "[feature] reels is empty: name the reels' sessions in order".into(),
            ));
        }
        if fs.title.trim().is_empty() {
            return Err(err(None, "[feature] title is empty".into()));
        }
        if fs.gain == GainMode::PerReel && fs.reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(err(
                None,
                "[feature] gain = \"per-reel\" needs a reason = \"...\" (it goes in the report: \
                 a feature is normally judged, and normalized, as a whole)"
                    .into(),
            ));
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let profile = match &f.delivery {
            Some(d) => Some(Session::profile_of(d, &|span, m| {
                err(Some(span), m.to_string())
            })?),
            None => None,
        };
        let mut reels: Vec<Plan> = Vec::new();
        let mut hash_text = crate::sha256_hex(text.as_bytes());
        for r in &fs.reels {
            let rp = dir.join(r);
            let s = Session::load(&rp)?;
            let mut plan = s.resolve()?;
            crate::pipeline::room_tone::learn(&mut plan)?;
            hash_text.push_str(&plan.session_sha256);
            if f.delivery.is_some() {
                plan.profile = profile.clone();
                plan.normalize = f.delivery.as_ref().is_some_and(|d| !d.measure_only);
            }
            reels.push(plan);
        }
        let first = &reels[0];
        for p in &reels[1..] {
            let what = if p.sample_rate != first.sample_rate {
                Some(format!(
                    "{} Hz, reel 1 {} Hz",
                    p.sample_rate, first.sample_rate
                ))
            } else if p.frame_rate != first.frame_rate {
                Some(format!(
                    "{} fps, reel 1 {} fps",
                    p.frame_rate.name(),
                    first.frame_rate.name()
                ))
            } else if p.layout != first.layout {
                Some(format!(
                    "a {} mix, reel 1 {}",
                    p.layout.name(),
                    first.layout.name()
                ))
            } else if f.delivery.is_none() && p.profile != first.profile {
                Some("another delivery profile than reel 1 (give the feature a [delivery])".into())
            } else {
                None
            };
            if let Some(w) = what {
                return Err(err(
                    None,
                    format!(
                        "reel {} ({}) has {w}: a feature's reels must match",
                        p.reel,
                        p.session_path.display()
                    ),
                ));
            }
        }
        let mut numbers: Vec<u32> = reels.iter().map(|p| p.reel).collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.len() != reels.len() {
            return Err(err(
                None,
                "two reels have the same [reel] reel number".into(),
            ));
        }
        let labels: Vec<String> = first
            .deliverables
            .iter()
            .map(|d| deliverable_label(first, &d.name))
            .collect();
        let long_plays = match &fs.long_plays {
            Some(v) => {
                for l in v {
                    if !labels.contains(l) {
                        return Err(err(
                            None,
                            format!(
                                "[feature] long_plays: reel 1 has no deliverable '{l}' (it has {})",
                                labels.join(", ")
                            ),
                        ));
                    }
                }
                v.clone()
            }
            None => labels.clone(),
        };
        for p in &reels[1..] {
            for l in &long_plays {
                let found = p
                    .deliverables
                    .iter()
                    .find(|d| &deliverable_label(p, &d.name) == l);
                let d0 = first
                    .deliverables
                    .iter()
                    .find(|d| &deliverable_label(first, &d.name) == l);
                match (found, d0) {
                    (Some(d), Some(d0))
                        if d.layout == d0.layout
                            && d.format == d0.format
                            && d.multi_mono == d0.multi_mono => {}
                    _ => {
                        return Err(err(
                            None,
                            format!(
                                "reel {} has no deliverable '{l}' like reel 1's: every reel needs it \
                                 (same layout, format, multi-mono) for the long play",
                                p.reel
                            ),
                        ));
                    }
                }
            }
        }
        let speed_versions =
            crate::session::PlanSpeedVersion::resolve_all(&f.speed_version, first.frame_rate)
                .map_err(|m| err(None, m))?;
        Ok(Feature {
            speed_versions,
            path: path.to_path_buf(),
            title: fs.title.clone(),
            sha256: crate::sha256_hex(hash_text.as_bytes()),
            keep_leader: fs.keep_leader,
            gain: fs.gain,
            reason: fs.reason.clone(),
            long_plays,
            normalize: first.profile.is_some() && first.normalize,
            profile: first.profile.clone(),
            reels,
        })
    }

    /// The default output folder: `print/` beside the feature file.
    pub fn default_out(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("print")
    }

    /// The index of the reel numbered `reel`.
    pub fn reel_index(&self, reel: u32) -> Result<usize> {
        self.reels
            .iter()
            .position(|p| p.reel == reel)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: the feature has no reel {reel} (it has {})",
                    self.path.display(),
                    self.reels
                        .iter()
                        .map(|p| p.reel.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// `path` relative to the feature file's folder (as the feature file names it), so
    /// that what the steps write does not depend on where the feature lies.
    pub fn relative(&self, path: &Path) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        path.strip_prefix(dir).unwrap_or(path).to_path_buf()
    }

    /// Where the reel's deliverables go.
    pub fn reel_dir(&self, out: &Path, i: usize) -> PathBuf {
        out.join(format!("R{}", self.reels[i].reel))
    }
}

/// `feature/` under the output folder: the steps' hand-over files.
pub fn work_dir(out: &Path) -> PathBuf {
    out.join("feature")
}

fn measure_path(out: &Path, reel: u32) -> PathBuf {
    work_dir(out).join("measure").join(format!("r{reel}.json"))
}

pub(crate) fn plan_path(out: &Path) -> PathBuf {
    work_dir(out).join("plan.json")
}

fn render_path(out: &Path, reel: u32) -> PathBuf {
    work_dir(out).join("render").join(format!("r{reel}.json"))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Invalid(e.to_string()))?;
    // A temporary with this process's id, renamed into place: a killed step leaves no
    // half-written file, and the next step sweeps its temporary.
    crate::io::commit::commit(
        vec![crate::io::commit::Staged::write(path, text.as_bytes())?],
        &[],
    )
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, step: &str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Output {
        path: path.to_path_buf(),
        msg: format!("cannot read it ({e}): run `{step}` first"),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))
}

/// What measuring one reel hands to the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReelMeasurement {
    pub feature_sha256: String,
    pub reel: u32,
    pub session_sha256: String,
    /// The programme on the reel, samples `[ffoa, end of LFOA)`.
    pub programme: (u64, u64),
    /// The printmaster's meter over the programme (histograms, peaks, dialogue gate).
    pub state: MeterState,
}

/// Step 1: measures reel `i`'s printmaster over its programme (FFOA to LFOA), and writes
/// `feature/measure/r<N>.json`.
pub fn measure_reel(
    f: &Feature,
    i: usize,
    backend: &mut dyn Backend,
    out: &Path,
    block_frames: usize,
    progress: &dyn Fn(u64),
) -> Result<ReelMeasurement> {
    let plan = &f.reels[i];
    crate::io::commit::sweep_stale(&work_dir(out).join("measure"));
    let span = plan.programme();
    let meter = pipeline::measure_mix(plan, backend, block_frames, span, &|p| {
        progress(p);
        Ok(())
    })?;
    let m = ReelMeasurement {
        feature_sha256: f.sha256.clone(),
        reel: plan.reel,
        session_sha256: plan.session_sha256.clone(),
        programme: span,
        state: meter.state().clone(),
    };
    write_json(&measure_path(out, plan.reel), &m)?;
    Ok(m)
}

/// One reel in the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReelPlan {
    pub reel: u32,
    pub session: PathBuf,
    pub session_sha256: String,
    pub programme: (u64, u64),
    /// The reel's own figures (its programme, before any gain).
    pub measured: LoudnessSummary,
    /// The normalization the reel is rendered with (None: no profile, or measure only).
    pub normalization: Option<NormalizationPlan>,
}

/// The part of a [`Normalization`] the reel render needs (serializable both ways).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NormalizationPlan {
    pub measured_lufs: f64,
    pub target_lufs: f64,
    pub gain_db: f64,
    pub used_fallback: bool,
    pub dialogue_percent: Option<f64>,
    pub predicted_true_peak_dbtp: Option<f64>,
    pub limiter_needed: bool,
    pub predicted_gain_reduction_db: f64,
    pub within_limiter_budget: bool,
    pub dialogue_gated: bool,
    pub notes: Vec<String>,
}

impl NormalizationPlan {
    fn of(n: &Normalization) -> Self {
        NormalizationPlan {
            measured_lufs: n.measured_lufs,
            target_lufs: n.target_lufs,
            gain_db: n.gain_db,
            used_fallback: n.used_fallback,
            dialogue_percent: n.dialogue_percent,
            predicted_true_peak_dbtp: n.predicted_true_peak_dbtp,
            limiter_needed: n.limiter_needed,
            predicted_gain_reduction_db: n.predicted_gain_reduction_db,
            within_limiter_budget: n.within_limiter_budget,
            dialogue_gated: n.measured_gating == crate::master::GatingMode::Dialogue,
            notes: n.notes.clone(),
        }
    }

    fn to_normalization(&self, profile: &DeliveryProfile) -> Normalization {
        Normalization {
            profile: profile.name.clone(),
            measured_gating: if self.dialogue_gated {
                crate::master::GatingMode::Dialogue
            } else {
                crate::master::GatingMode::Programme
            },
            used_fallback: self.used_fallback,
            dialogue_percent: self.dialogue_percent,
            measured_lufs: self.measured_lufs,
            target_lufs: self.target_lufs,
            gain_db: self.gain_db,
            gain: 10f64.powf(self.gain_db / 20.0),
            predicted_true_peak_dbtp: self.predicted_true_peak_dbtp,
            limiter_needed: self.limiter_needed,
            predicted_gain_reduction_db: self.predicted_gain_reduction_db,
            within_limiter_budget: self.within_limiter_budget,
            notes: self.notes.clone(),
        }
    }
}

/// The gain plan of the feature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GainPlan {
    pub feature_sha256: String,
    pub title: String,
    pub gain: GainMode,
    pub reason: Option<String>,
    pub profile: Option<String>,
    /// The feature's figures: every reel's programme blocks together.
    pub feature: LoudnessSummary,
    /// The feature's normalization (the one every reel gets in `feature` mode).
    pub normalization: Option<NormalizationPlan>,
    pub reels: Vec<ReelPlan>,
}

/// Step 2: merges the reels' measurements and decides the gain; writes
/// `feature/plan.json`. Errors when a measurement is missing or from another session,
/// or when the target cannot be met within the limiter's allowance (`on_failure = "fail"`).
pub fn plan(f: &Feature, out: &Path) -> Result<GainPlan> {
    crate::io::commit::sweep_stale(&work_dir(out));
    let gate = DialogueGate::default();
    let mut merged: Option<MeterState> = None;
    let mut reels = Vec::new();
    for p in &f.reels {
        let path = measure_path(out, p.reel);
        let m: ReelMeasurement = read_json(
            &path,
            &format!("dubstage feature measure --reel {}", p.reel),
        )?;
        if m.feature_sha256 != f.sha256 || m.session_sha256 != p.session_sha256 {
            return Err(Error::Output {
                path,
                msg: format!(
                    "measured from another version of the feature or of reel {}'s session: \
                     measure the reel again",
                    p.reel
                ),
            });
        }
        match &mut merged {
            None => merged = Some(m.state.clone()),
            Some(s) => s.merge(&m.state)?,
        }
        reels.push(ReelPlan {
            reel: p.reel,
            session: f.relative(&p.session_path),
            session_sha256: p.session_sha256.clone(),
            programme: m.programme,
            measured: m.state.summary(&gate),
            normalization: None,
        });
    }
    let feature = merged.expect("at least one reel").summary(&gate);
    let mut normalization = None;
    if let (Some(profile), true) = (&f.profile, f.normalize) {
        let n = crate::master::normalization(&feature, profile)?;
        let decide = |n: &Normalization, what: &str| -> Result<()> {
            if !n.within_limiter_budget && profile.on_failure == OnFailure::Fail {
                return Err(Error::Delivery(format!(
                    "cannot meet {}: {what} measures {:.1} LUFS, and reaching {:.1} LUFS would \
                     need {:.1} dB of true-peak limiting, more than the {:.1} dB allowed",
                    profile.name,
                    n.measured_lufs,
                    n.target_lufs,
                    n.predicted_gain_reduction_db,
                    profile.max_limiter_gain_reduction_db
                )));
            }
            Ok(())
        };
        match f.gain {
            GainMode::Feature => {
                decide(&n, "the feature")?;
                for r in &mut reels {
                    r.normalization = Some(NormalizationPlan::of(&n));
                }
            }
            GainMode::PerReel => {
                for r in &mut reels {
                    let nr = crate::master::normalization(&r.measured, profile)
                        .map_err(|e| Error::Delivery(format!("reel {}: {e}", r.reel)))?;
                    decide(&nr, &format!("reel {}", r.reel))?;
                    r.normalization = Some(NormalizationPlan::of(&nr));
                }
            }
        }
        normalization = Some(NormalizationPlan::of(&n));
    }
    let plan = GainPlan {
        feature_sha256: f.sha256.clone(),
        title: f.title.clone(),
        gain: f.gain,
        reason: f.reason.clone(),
        profile: f.profile.as_ref().map(|p| p.name.clone()),
        feature,
        normalization,
        reels,
    };
    write_json(&plan_path(out), &plan)?;
    Ok(plan)
}

/// The plan on disk, checked against the feature; with its file's SHA-256.
pub fn read_plan(f: &Feature, out: &Path) -> Result<(GainPlan, String)> {
    let path = plan_path(out);
    let bytes = std::fs::read(&path).map_err(|e| Error::Output {
        path: path.clone(),
        msg: format!("cannot read it ({e}): run `dubstage feature plan` first"),
    })?;
    let p: GainPlan =
        serde_json::from_slice(&bytes).map_err(|e| Error::format(&path, e.to_string()))?;
    if p.feature_sha256 != f.sha256 {
        return Err(Error::Output {
            path,
            msg: "planned for another version of the feature or its reels: plan again".into(),
        });
    }
    Ok((p, crate::sha256_hex(&bytes)))
}

/// What rendering one reel hands to `finish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReelRendered {
    pub feature_sha256: String,
    pub plan_sha256: String,
    pub reel: u32,
    pub qc_status: String,
    pub qc_problems: Vec<String>,
    /// Deliverable name -> its files (paths relative to the output folder, SHA-256).
    pub files: Vec<(String, Vec<(PathBuf, String)>)>,
}

/// Step 3: renders reel `i`'s deliverables into `R<N>/` with the plan's gain (and the
/// limiter where the plan says so); writes `feature/render/r<N>.json`.
pub fn render_reel(
    f: &Feature,
    i: usize,
    backend: &mut dyn Backend,
    out: &Path,
    block_frames: usize,
    progress: Option<ProgressFn<'_>>,
) -> Result<RenderSummary> {
    let (gp, plan_sha) = read_plan(f, out)?;
    let plan = &f.reels[i];
    crate::io::commit::sweep_stale(&work_dir(out).join("render"));
    let rp = gp
        .reels
        .iter()
        .find(|r| r.reel == plan.reel)
        .ok_or_else(|| Error::Invalid(format!("the plan has no reel {}: plan again", plan.reel)))?;
    let opts = RenderOptions {
        block_frames,
        ..RenderOptions::new(f.reel_dir(out, i))
    };
    let summary = match (&rp.normalization, &plan.profile) {
        (Some(n), Some(profile)) => pipeline::render_with_normalization(
            plan,
            backend,
            &opts,
            progress,
            n.to_normalization(profile),
            Some(rp.measured.clone()),
        )?,
        _ => {
            // No gain (no profile, or measure only): the feature is judged on the long
            // play, so the reel renders without a profile of its own to stop it.
            let mut p = plan.clone();
            p.profile = None;
            p.normalize = false;
            pipeline::render(&p, backend, &opts, progress)?
        }
    };
    let rel = |p: &Path| p.strip_prefix(out).unwrap_or(p).to_path_buf();
    let r = ReelRendered {
        feature_sha256: f.sha256.clone(),
        plan_sha256: plan_sha,
        reel: plan.reel,
        qc_status: summary.qc_status.clone(),
        qc_problems: summary.qc_problems.clone(),
        // the reel's own speed versions (its session's [[speed_version]]) too
        files: summary
            .deliverables
            .iter()
            .chain(summary.speed_versions.iter().flat_map(|v| &v.deliverables))
            .map(|d| {
                (
                    d.name.clone(),
                    d.files
                        .iter()
                        .map(|w| (rel(&w.path), w.sha256.clone()))
                        .collect(),
                )
            })
            .collect(),
    };
    write_json(&render_path(out, plan.reel), &r)?;
    Ok(summary)
}

/// Every reel's render record, checked against the plan.
pub fn read_rendered(f: &Feature, out: &Path, plan_sha256: &str) -> Result<Vec<ReelRendered>> {
    f.reels
        .iter()
        .map(|p| {
            let path = render_path(out, p.reel);
            let r: ReelRendered =
                read_json(&path, &format!("dubstage feature render --reel {}", p.reel))?;
            if r.feature_sha256 != f.sha256 || r.plan_sha256 != plan_sha256 {
                return Err(Error::Output {
                    path,
                    msg: format!(
                        "reel {} was rendered for another plan: render it again",
                        p.reel
                    ),
                });
            }
            Ok(r)
        })
        .collect()
}

/// What `render_feature` did.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    pub plan: GainPlan,
    pub reels: Vec<RenderSummary>,
    pub report: report::FeatureReport,
    pub wall_s: f64,
}

/// A progress callback of the whole feature: (stage, done, total).
pub type StageProgress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// All the steps on this machine: measure every reel (two at a time where there are
/// cores for it), plan, render every reel, finish.
pub fn render_feature(
    f: &Feature,
    backends: &mut [Box<dyn Backend>],
    out: &Path,
    block_frames: usize,
    progress: Option<StageProgress<'_>>,
) -> Result<FeatureSummary> {
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::Output {
        path: out.to_path_buf(),
        msg: format!("cannot create the output folder: {e}"),
    })?;
    let total: u64 = f.reels.iter().map(|p| p.programme().1).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    let tick = |what: &str, n: u64| {
        let d = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if let Some(p) = progress {
            p(what, d, total);
        }
    };
    // Measure: the reels are independent; with two backends two reels run at once.
    {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let errors = std::sync::Mutex::new(Vec::<(usize, Error)>::new());
        let work = |b: &mut Box<dyn Backend>| {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= f.reels.len() {
                    break;
                }
                let last = std::sync::atomic::AtomicU64::new(0);
                let r = measure_reel(f, i, b.as_mut(), out, block_frames, &|pos| {
                    let prev = last.swap(pos, std::sync::atomic::Ordering::Relaxed);
                    tick("measure", pos.saturating_sub(prev));
                });
                if let Err(e) = r {
                    errors.lock().expect("not poisoned").push((i, e));
                }
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            std::thread::scope(|s| {
                for b in backends.iter_mut() {
                    s.spawn(|| work(b));
                }
            });
        }
        #[cfg(target_arch = "wasm32")]
        for b in backends.iter_mut() {
            work(b);
        }
        let mut errors = errors.into_inner().expect("not poisoned");
        errors.sort_by_key(|(i, _)| *i);
        if let Some((_, e)) = errors.into_iter().next() {
            return Err(e);
        }
    }
    let gp = plan(f, out)?;
    let backend = backends
        .first_mut()
        .ok_or_else(|| Error::Invalid("no backend".into()))?;
    let mut summaries = Vec::new();
    done.store(0, std::sync::atomic::Ordering::Relaxed);
    let total_len: u64 = f.reels.iter().map(|p| p.length).sum();
    let base = std::sync::atomic::AtomicU64::new(0);
    for i in 0..f.reels.len() {
        let b0 = base.load(std::sync::atomic::Ordering::Relaxed);
        let prog = |d: u64, t: u64| {
            if let Some(p) = progress {
                // The reel's render reports (done, total) over its passes.
                let len = f.reels[i].length;
                let at = (d * len).checked_div(t).unwrap_or(0);
                p("render", b0 + at, total_len);
            }
        };
        summaries.push(render_reel(
            f,
            i,
            backend.as_mut(),
            out,
            block_frames,
            Some(&prog),
        )?);
        base.fetch_add(f.reels[i].length, std::sync::atomic::Ordering::Relaxed);
    }
    let report = finish(
        f,
        out,
        Some(&|d, t| {
            if let Some(p) = progress {
                p("long play", d, t);
            }
        }),
    )?;
    Ok(FeatureSummary {
        plan: gp,
        reels: summaries,
        report,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Step 4: joins the long plays, checks the joins and the reels' 2-pops, measures the
/// LP, makes the speed versions, writes `feature/report.{json,html}` and `SHA256SUMS`
/// over every file (the plan and the report included).
///
/// Atomic and idempotent: every file is first written complete at a temporary path,
/// then all of them (every LP, every speed version, the report and `SHA256SUMS`) are
/// renamed into place in one commit ([`crate::io::commit::commit`]): either the whole new
/// set appears, or the previous finish's files stay as they were. Temporaries of a
/// killed finish are swept by the next; finishing again writes the same bytes.
pub fn finish(
    f: &Feature,
    out: &Path,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<report::FeatureReport> {
    let (gp, plan_sha) = read_plan(f, out)?;
    let rendered = read_rendered(f, out, &plan_sha)?;
    let _lock = crate::io::commit::OutputLock::acquire(out)?;
    sweep(f, out);
    let (lps, mut staged) = join::write_long_plays(f, out, progress)?;
    let (speeds, speed_staged) = speed::write_speed_versions(f, out, &lps, &staged, progress)?;
    staged.extend(speed_staged);
    let (r, report_staged) = report::build(f, out, &gp, &plan_sha, &rendered, &lps, &speeds)?;
    staged.extend(report_staged);
    crate::io::commit::commit(staged, &[])?;
    Ok(r)
}

/// Removes the temporaries that killed steps left in the feature's folders.
fn sweep(f: &Feature, out: &Path) {
    use crate::io::commit::sweep_stale;
    for d in [
        out.to_path_buf(),
        out.join("LP"),
        work_dir(out),
        work_dir(out).join("measure"),
        work_dir(out).join("render"),
    ] {
        sweep_stale(&d);
    }
    for v in &f.speed_versions {
        sweep_stale(&speed::dir_of(out, &v.version));
    }
}
