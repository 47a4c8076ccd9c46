//! The loudness meter: BS.1770-4 / EBU R128 figures from per-100 ms hops.
//!
//! Everything here is f64 and works on the [`Hop`]s an [`super::Analyzer`]
//! produces (CPU or GPU), so the gating is the same whoever filtered the audio.
//!
//! - Gating block (BS.1770-4 2.1): 400 ms = 4 hops, 75 % overlap; block power
//!   `z = Σ_i G_i · (energy_i / frames)`; block loudness `-0.691 + 10 log10 z`.
//! - Momentary: the 400 ms block ending at each hop; short-term: the 3 s window (30 hops)
//!   ending at each hop (EBU Tech 3341). Only complete windows count; a partial last hop
//!   contributes its peaks but no loudness.
//! - Integrated (BS.1770-4 2.8): absolute gate -70 LKFS, relative gate 10 LU below the
//!   power mean of the blocks above the absolute gate; both gates are strict (`>`).
//! - Loudness range (EBU Tech 3342): the short-term values, absolute gate -70 LUFS,
//!   relative gate 20 LU below their power mean, LRA = 95th minus 10th percentile
//!   (nearest rank on the sorted values, index `round((n - 1) p)`).
//! - Undefined figures are `None`: no complete block, every block gated out, a silent
//!   window (`-inf`), a zero peak.

use super::analyzer::Hop;
use super::histogram::{DialogueHistogram, MeterState};
use crate::layout::Channel;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// BS.1770-4 absolute gate, LKFS.
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// BS.1770-4 relative gate for integrated loudness, LU below the absolute-gated mean.
pub const RELATIVE_GATE_LU: f64 = -10.0;
/// EBU Tech 3342 relative gate for the loudness range, LU.
pub const LRA_RELATIVE_GATE_LU: f64 = -20.0;
/// EBU Tech 3342 lower percentile.
pub const LRA_LOW_PERCENTILE: f64 = 0.10;
/// EBU Tech 3342 upper percentile.
pub const LRA_HIGH_PERCENTILE: f64 = 0.95;
/// Hops per momentary window (400 ms).
pub const MOMENTARY_HOPS: usize = 4;
/// Hops per short-term window (3 s).
pub const SHORT_TERM_HOPS: usize = 30;
/// Netflix: below this share of dialogue, the full-programme loudness applies.
pub const NETFLIX_DIALOGUE_FALLBACK_PERCENT: f64 = 15.0;

/// Loudness in LUFS of a weighted mean-square power, `None` for zero (or non-finite).
pub fn power_to_lufs(z: f64) -> Option<f64> {
    if z > 0.0 && z.is_finite() {
        Some(-0.691 + 10.0 * z.log10())
    } else {
        None
    }
}

/// The weighted mean-square power for a loudness in LUFS.
pub fn lufs_to_power(l: f64) -> f64 {
    10f64.powf((l + 0.691) / 10.0)
}

/// A linear peak in dB (dBFS or dBTP), `None` for zero.
pub fn peak_to_db(p: f32) -> Option<f64> {
    if p > 0.0 && p.is_finite() {
        Some(20.0 * (p as f64).log10())
    } else {
        None
    }
}

/// How [`Meter::dialogue`] decides that a 400 ms block holds dialogue (stem-gated
/// dialogue loudness, dubstage's open stand-in for Dolby Dialogue Intelligence).
///
/// Block `j` is *active* when its loudness on the dialogue bus `d_j`:
/// 1. is above `absolute_lufs` (-70, the BS.1770 absolute gate: the bus is not silent),
/// 2. is above the dialogue bus's own level minus `relative_lu` (20 LU below the power
///    mean of the dialogue blocks above the absolute gate: room tone, breaths and bleed on
///    the dialogue bus do not count as speech), and
/// 3. is no more than `below_programme_lu` (20 dB) under the programme block `p_j`
///    (dialogue buried far under music and effects does not carry the mix).
///
/// The dialogue-gated loudness is the programme loudness over the active blocks; the
/// dialogue percentage is active blocks over programme blocks above the absolute gate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DialogueGate {
    pub absolute_lufs: f64,
    pub relative_lu: f64,
    pub below_programme_lu: f64,
    /// Below this percentage of dialogue the full-programme integrated loudness is used
    /// (Netflix: 15 %).
    pub fallback_percent: f64,
}

impl Default for DialogueGate {
    fn default() -> Self {
        DialogueGate {
            absolute_lufs: ABSOLUTE_GATE_LUFS,
            relative_lu: 20.0,
            below_programme_lu: 20.0,
            fallback_percent: NETFLIX_DIALOGUE_FALLBACK_PERCENT,
        }
    }
}

/// Stem-gated dialogue loudness of a programme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialogueLoudness {
    /// Programme loudness over the blocks where dialogue is active (None: no such block).
    pub gated_lufs: Option<f64>,
    /// Active blocks as a percentage of the non-silent programme blocks (0 when none).
    pub dialogue_percent: f64,
    /// Blocks with active dialogue.
    pub active_blocks: usize,
    /// Programme blocks above the absolute gate.
    pub programme_blocks: usize,
    /// True when the dialogue share is under `gate.fallback_percent`, so `loudness_lufs`
    /// is the full-programme integrated loudness.
    pub fallback: bool,
    /// The figure to compare with a dialogue-gated target: `gated_lufs`, or the
    /// integrated loudness on fallback.
    pub loudness_lufs: Option<f64>,
    /// The gate that was applied.
    pub gate: DialogueGate,
    /// Always `"stem-gated"`: dubstage gates on the dialogue stem itself, not on a
    /// speech detector.
    pub method: String,
}

/// Momentary and short-term loudness after every hop (100 ms): entry `h` is the window
/// ending at `(h + 1) * 0.1` s. `None` where the window is not complete yet or silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timeline {
    /// Seconds between entries (0.1).
    pub step_s: f64,
    pub momentary_lufs: Vec<Option<f64>>,
    pub short_term_lufs: Vec<Option<f64>>,
}

/// One point of a [`Timeline`], for iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// End of the window, seconds from the start.
    pub time_s: f64,
    pub momentary_lufs: Option<f64>,
    pub short_term_lufs: Option<f64>,
}

impl Timeline {
    /// The points in order.
    pub fn points(&self) -> impl Iterator<Item = TimelinePoint> + '_ {
        self.momentary_lufs
            .iter()
            .zip(&self.short_term_lufs)
            .enumerate()
            .map(|(h, (&m, &s))| TimelinePoint {
                time_s: (h + 1) as f64 * self.step_s,
                momentary_lufs: m,
                short_term_lufs: s,
            })
    }
}

/// Every figure of a measurement (serde, for the QC report and `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessSummary {
    pub sample_rate: u32,
    /// Channel labels in order.
    pub channels: Vec<String>,
    /// BS.1770 weight of each channel (0 = excluded, e.g. LFE).
    pub weights: Vec<f64>,
    /// Frames measured.
    pub frames: u64,
    pub duration_s: f64,
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_short_term_lufs: Option<f64>,
    /// Programme sample peak (max over channels), dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Programme true peak (max over channels), dBTP (None when not measured or silent).
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs_per_channel: Vec<Option<f64>>,
    pub true_peak_dbtp_per_channel: Vec<Option<f64>>,
    /// Stem-gated dialogue loudness, when a dialogue bus was metered.
    pub dialogue: Option<DialogueLoudness>,
    /// Momentary / short-term every 100 ms, when asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeline: Option<Timeline>,
}

impl LoudnessSummary {
    /// The bext v2 loudness fields (EBU Tech 3285 v2) these figures fill.
    pub fn bext(&self) -> crate::io::BextLoudness {
        crate::io::BextLoudness {
            integrated_lufs: self.integrated_lufs,
            range_lu: self.loudness_range_lu,
            max_true_peak_dbtp: self.true_peak_dbtp,
            max_momentary_lufs: self.max_momentary_lufs,
            max_short_term_lufs: self.max_short_term_lufs,
        }
    }
}

/// A BS.1770-4 / EBU R128 meter fed with [`Hop`]s.
///
/// Its memory does not grow with the programme: the gating blocks and short-term windows
/// go into histograms ([`super::histogram`], a [`MeterState`] that merges across parts),
/// and only the last 3 s of hop powers are kept. The 100 ms timeline for the QC plots
/// (16 bytes per hop) is kept unless [`Meter::without_timeline`] turns it off.
#[derive(Debug, Clone)]
pub struct Meter {
    hop: usize,
    ended: bool,
    /// Weighted energy `Σ_i G_i e_i` of the last [`SHORT_TERM_HOPS`] complete hops.
    hop_power: VecDeque<f64>,
    /// The latest block (400 ms) and short-term (3 s) powers.
    last_block: Option<f64>,
    last_short_term: Option<f64>,
    state: MeterState,
    /// Momentary and short-term power after every hop (NaN: window not complete).
    timeline: Option<(Vec<f64>, Vec<f64>)>,
    dialogue: Option<DialogueStream>,
}

#[derive(Debug, Clone)]
struct DialogueStream {
    weights: Vec<f64>,
    hop_power: VecDeque<f64>,
    ended: bool,
    /// Blocks of one side waiting for the other side's block of the same index.
    pending_programme: VecDeque<f64>,
    pending_dialogue: VecDeque<f64>,
}

fn check_hop(h: &Hop, channels: usize, hop: usize, what: &str) -> Result<()> {
    if h.energy.len() != channels
        || h.sample_peak.len() != channels
        || h.true_peak.len() != channels
    {
        return Err(Error::Invalid(format!(
            "loudness meter: {what} hop has {} channels, expected {channels}",
            h.energy.len()
        )));
    }
    if h.frames > hop {
        return Err(Error::Invalid(format!(
            "loudness meter: {what} hop of {} frames, expected at most {hop}",
            h.frames
        )));
    }
    Ok(())
}

/// Appends a hop's power to the window (the last [`SHORT_TERM_HOPS`] are kept).
fn push_hop_power(hop_power: &mut VecDeque<f64>, power: f64) {
    if hop_power.len() == SHORT_TERM_HOPS {
        hop_power.pop_front();
    }
    hop_power.push_back(power);
}

/// The power of the window of the last `hops` hops, when that many are available.
fn window_power(hop_power: &VecDeque<f64>, hops: usize, hop: usize) -> Option<f64> {
    let n = hop_power.len();
    (n >= hops).then(|| hop_power.range(n - hops..).sum::<f64>() / (hops * hop) as f64)
}

impl Meter {
    /// A meter for `channels` (weights from [`Channel::bs1770_weight`]: LFE excluded,
    /// surrounds 1.41).
    pub fn new(sample_rate: u32, channels: &[Channel]) -> Result<Self> {
        Self::with_weights(
            sample_rate,
            channels.iter().map(|c| c.label().to_string()).collect(),
            channels.iter().map(|c| c.bs1770_weight()).collect(),
        )
    }

    /// A meter with explicit channel labels and weights (e.g. for channel counts that
    /// match no known layout).
    pub fn with_weights(sample_rate: u32, labels: Vec<String>, weights: Vec<f64>) -> Result<Self> {
        let hop = super::hop_frames(sample_rate)?;
        if weights.is_empty() || labels.len() != weights.len() {
            return Err(Error::Invalid(format!(
                "loudness meter: {} labels for {} weights",
                labels.len(),
                weights.len()
            )));
        }
        Ok(Meter {
            hop,
            ended: false,
            hop_power: VecDeque::with_capacity(SHORT_TERM_HOPS),
            last_block: None,
            last_short_term: None,
            state: MeterState::new(sample_rate, labels, weights),
            timeline: Some((Vec::new(), Vec::new())),
            dialogue: None,
        })
    }

    /// Also meters a dialogue bus (for [`Meter::dialogue`]), with these channels and the
    /// default [`DialogueGate`]'s per-block conditions.
    pub fn with_dialogue(self, channels: &[Channel]) -> Self {
        self.with_dialogue_gate(channels, &DialogueGate::default())
    }

    /// Also meters a dialogue bus, with `gate`'s per-block conditions (`absolute_lufs`,
    /// `below_programme_lu`); its `relative_lu` and `fallback_percent` are given to
    /// [`Meter::dialogue`].
    pub fn with_dialogue_gate(mut self, channels: &[Channel], gate: &DialogueGate) -> Self {
        self.dialogue = Some(DialogueStream {
            weights: channels.iter().map(|c| c.bs1770_weight()).collect(),
            hop_power: VecDeque::with_capacity(SHORT_TERM_HOPS),
            ended: false,
            pending_programme: VecDeque::new(),
            pending_dialogue: VecDeque::new(),
        });
        self.state.dialogue = Some(DialogueHistogram::new(gate));
        self
    }

    /// Keeps no 100 ms timeline ([`Meter::timeline`] is then empty): the meter's memory
    /// is then the same for any programme length.
    pub fn without_timeline(mut self) -> Self {
        self.timeline = None;
        self
    }

    /// Sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.state.sample_rate
    }

    /// Feeds programme hops in order. A hop shorter than 100 ms ends the loudness stream
    /// (only its peaks count); hops after it are an error.
    pub fn push_hops(&mut self, hops: &[Hop]) -> Result<()> {
        for h in hops {
            check_hop(h, self.state.weights.len(), self.hop, "programme")?;
            if self.ended {
                return Err(Error::Invalid(
                    "loudness meter: hop after a partial (final) hop".into(),
                ));
            }
            let st = &mut self.state;
            st.frames += h.frames as u64;
            for (p, &v) in st.sample_peak.iter_mut().zip(&h.sample_peak) {
                *p = p.max(v);
            }
            for (p, &v) in st.true_peak.iter_mut().zip(&h.true_peak) {
                *p = p.max(v);
            }
            if h.frames < self.hop {
                self.ended = true;
                continue;
            }
            let power: f64 = st.weights.iter().zip(&h.energy).map(|(g, e)| g * e).sum();
            push_hop_power(&mut self.hop_power, power);
            let block = window_power(&self.hop_power, MOMENTARY_HOPS, self.hop);
            let short = window_power(&self.hop_power, SHORT_TERM_HOPS, self.hop);
            if let Some(b) = block {
                st.add_block(b);
                self.last_block = Some(b);
                if let (Some(d), Some(dh)) = (&mut self.dialogue, &mut st.dialogue) {
                    dh.add_programme(b);
                    match d.pending_dialogue.pop_front() {
                        Some(x) => dh.add_pair(b, x),
                        None => d.pending_programme.push_back(b),
                    }
                }
            }
            if let Some(s) = short {
                st.add_short_term(s);
                self.last_short_term = Some(s);
            }
            if let Some((m, s)) = &mut self.timeline {
                m.push(block.unwrap_or(f64::NAN));
                s.push(short.unwrap_or(f64::NAN));
            }
        }
        Ok(())
    }

    /// Feeds dialogue-bus hops in order (requires [`Meter::with_dialogue`]).
    pub fn push_dialogue_hops(&mut self, hops: &[Hop]) -> Result<()> {
        let hop = self.hop;
        let (Some(d), Some(dh)) = (self.dialogue.as_mut(), self.state.dialogue.as_mut()) else {
            return Err(Error::Invalid(
                "loudness meter: no dialogue bus configured".into(),
            ));
        };
        for h in hops {
            check_hop(h, d.weights.len(), hop, "dialogue")?;
            if d.ended {
                return Err(Error::Invalid(
                    "loudness meter: dialogue hop after a partial (final) hop".into(),
                ));
            }
            if h.frames < hop {
                d.ended = true;
                continue;
            }
            let power: f64 = d.weights.iter().zip(&h.energy).map(|(g, e)| g * e).sum();
            push_hop_power(&mut d.hop_power, power);
            if let Some(b) = window_power(&d.hop_power, MOMENTARY_HOPS, hop) {
                dh.add_dialogue(b);
                match d.pending_programme.pop_front() {
                    Some(p) => dh.add_pair(p, b),
                    None => d.pending_dialogue.push_back(b),
                }
            }
        }
        Ok(())
    }

    /// Frames metered.
    pub fn frames(&self) -> u64 {
        self.state.frames
    }

    /// The latest momentary loudness (None before 400 ms or when silent).
    pub fn momentary(&self) -> Option<f64> {
        self.last_block.and_then(power_to_lufs)
    }

    /// The latest short-term loudness (None before 3 s or when silent).
    pub fn short_term(&self) -> Option<f64> {
        self.last_short_term.and_then(power_to_lufs)
    }

    /// What a live meter shows after the latest hop: the momentary loudness of the
    /// 400 ms ending there, the time before the stream's first sample counted as silence
    /// (so it reads from the first hop on; [`Meter::momentary`] waits for a complete
    /// block). None before the first hop or for silence.
    pub fn live_momentary(&self) -> Option<f64> {
        self.live_window(MOMENTARY_HOPS)
    }

    /// The live short-term loudness (3 s), as [`Meter::live_momentary`].
    pub fn live_short_term(&self) -> Option<f64> {
        self.live_window(SHORT_TERM_HOPS)
    }

    fn live_window(&self, hops: usize) -> Option<f64> {
        let n = self.hop_power.len();
        if n == 0 {
            return None;
        }
        let have = self.hop_power.range(n - hops.min(n)..);
        power_to_lufs(have.sum::<f64>() / (hops * self.hop) as f64)
    }

    /// Maximum momentary loudness.
    pub fn max_momentary(&self) -> Option<f64> {
        self.state.max_block.and_then(power_to_lufs)
    }

    /// Maximum short-term loudness.
    pub fn max_short_term(&self) -> Option<f64> {
        self.state.max_short_term.and_then(power_to_lufs)
    }

    /// Integrated (gated) loudness, BS.1770-4.
    pub fn integrated(&self) -> Option<f64> {
        super::histogram::integrated(&self.state.blocks)
    }

    /// The relative gate of the integrated loudness, LUFS (None as for `integrated`).
    pub fn relative_gate(&self) -> Option<f64> {
        super::histogram::relative_gate(&self.state.blocks, RELATIVE_GATE_LU)
    }

    /// Loudness range, EBU Tech 3342.
    pub fn loudness_range(&self) -> Option<f64> {
        super::histogram::loudness_range(&self.state.short_terms)
    }

    /// Per-channel sample peaks (linear).
    pub fn sample_peaks(&self) -> &[f32] {
        &self.state.sample_peak
    }

    /// Per-channel true peaks (linear; 0 when not measured).
    pub fn true_peaks(&self) -> &[f32] {
        &self.state.true_peak
    }

    /// Programme sample peak (linear, max over channels).
    pub fn sample_peak(&self) -> f32 {
        self.state.sample_peak.iter().fold(0.0, |a, &b| a.max(b))
    }

    /// Programme true peak (linear, max over channels).
    pub fn true_peak(&self) -> f32 {
        self.state.true_peak.iter().fold(0.0, |a, &b| a.max(b))
    }

    /// The momentary / short-term timeline (empty under [`Meter::without_timeline`]).
    pub fn timeline(&self) -> Timeline {
        let lufs = |v: &Vec<f64>| v.iter().map(|&z| power_to_lufs(z)).collect();
        let (m, s) = match &self.timeline {
            Some((m, s)) => (lufs(m), lufs(s)),
            None => (Vec::new(), Vec::new()),
        };
        Timeline {
            step_s: 0.1,
            momentary_lufs: m,
            short_term_lufs: s,
        }
    }

    /// The mergeable accumulators (histograms, maxima, peaks, dialogue gate).
    pub fn state(&self) -> &MeterState {
        &self.state
    }

    /// Bytes the meter holds on the heap (histograms, the 3 s window, the timeline and
    /// any dialogue blocks waiting for their programme block).
    pub fn heap_bytes(&self) -> usize {
        self.state.heap_bytes()
            + self.hop_power.capacity() * 8
            + self
                .timeline
                .as_ref()
                .map_or(0, |(m, s)| (m.capacity() + s.capacity()) * 8)
            + self.dialogue.as_ref().map_or(0, |d| {
                (d.hop_power.capacity()
                    + d.pending_programme.capacity()
                    + d.pending_dialogue.capacity())
                    * 8
            })
    }

    /// Stem-gated dialogue loudness (None without a dialogue bus); see [`DialogueGate`].
    /// The gate's `relative_lu` and `fallback_percent` apply here; its per-block
    /// conditions are those given to [`Meter::with_dialogue_gate`].
    pub fn dialogue(&self, gate: &DialogueGate) -> Option<DialogueLoudness> {
        let d = self.state.dialogue.as_ref()?;
        Some(d.loudness(gate, self.integrated()))
    }

    /// Every figure, with the dialogue figures for `gate` and, when `timeline` is set,
    /// the 100 ms momentary / short-term timeline.
    pub fn summary(&self, gate: &DialogueGate, timeline: bool) -> LoudnessSummary {
        LoudnessSummary {
            timeline: timeline.then(|| self.timeline()),
            ..self.state.summary(gate)
        }
    }
}

/// The block-list oracle of [`Meter::loudness_range`] (EBU Tech 3342 on every
/// short-term power; kept for the tests of the histogram path).
pub fn loudness_range_of(short_terms: &[f64]) -> Option<f64> {
    let abs = lufs_to_power(ABSOLUTE_GATE_LUFS);
    let rel = lufs_to_power(relative_threshold(short_terms, LRA_RELATIVE_GATE_LU)?);
    let mut v: Vec<f64> = short_terms
        .iter()
        .copied()
        .filter(|&z| z > abs && z > rel)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let at = |p: f64| v[((n - 1) as f64 * p).round() as usize];
    let lo = power_to_lufs(at(LRA_LOW_PERCENTILE))?;
    let hi = power_to_lufs(at(LRA_HIGH_PERCENTILE))?;
    Some(hi - lo)
}

/// The block-list oracle of the stem-gated dialogue loudness: programme block powers and
/// dialogue block powers of the same index (kept for the tests of the histogram path).
/// Returns (gated loudness, active blocks, programme blocks above the absolute gate).
pub fn dialogue_of(
    blocks: &[f64],
    dialogue_blocks: &[f64],
    gate: &DialogueGate,
) -> (Option<f64>, usize, usize) {
    let abs_p = lufs_to_power(ABSOLUTE_GATE_LUFS);
    let abs_d = lufs_to_power(gate.absolute_lufs);
    let rel_d = relative_threshold_with(dialogue_blocks, gate.absolute_lufs, -gate.relative_lu)
        .map(lufs_to_power)
        .unwrap_or(f64::INFINITY);
    let below = 10f64.powf(-gate.below_programme_lu / 10.0);
    let mut programme_blocks = 0;
    let mut active = 0;
    let mut sum = 0.0;
    for (j, &p) in blocks.iter().enumerate() {
        if p > abs_p {
            programme_blocks += 1;
        }
        let Some(&dj) = dialogue_blocks.get(j) else {
            continue;
        };
        if dj > abs_d && dj > rel_d && dj >= p * below && p > 0.0 {
            active += 1;
            sum += p;
        }
    }
    let gated = if active > 0 {
        power_to_lufs(sum / active as f64)
    } else {
        None
    };
    (gated, active, programme_blocks)
}

/// Loudness of the power mean of the values above the absolute gate, plus `offset_lu`.
fn relative_threshold(v: &[f64], offset_lu: f64) -> Option<f64> {
    relative_threshold_with(v, ABSOLUTE_GATE_LUFS, offset_lu)
}

fn relative_threshold_with(v: &[f64], abs_lufs: f64, offset_lu: f64) -> Option<f64> {
    let abs = lufs_to_power(abs_lufs);
    let (mut sum, mut n) = (0.0, 0usize);
    for &z in v {
        if z > abs {
            sum += z;
            n += 1;
        }
    }
    (n > 0)
        .then(|| power_to_lufs(sum / n as f64))
        .flatten()
        .map(|l| l + offset_lu)
}

/// Integrated loudness of a list of block powers (BS.1770-4 2.8).
pub fn integrated_of(blocks: &[f64]) -> Option<f64> {
    let abs = lufs_to_power(ABSOLUTE_GATE_LUFS);
    let rel = lufs_to_power(relative_threshold(blocks, RELATIVE_GATE_LU)?);
    let (mut sum, mut n) = (0.0, 0usize);
    for &z in blocks {
        if z > abs && z > rel {
            sum += z;
            n += 1;
        }
    }
    (n > 0).then(|| power_to_lufs(sum / n as f64)).flatten()
}
