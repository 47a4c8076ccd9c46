//! BS.1770-4 gating and EBU Tech 3342 loudness range from histograms of block powers.
//!
//! A gated loudness needs every block power until the end of the programme (the
//! relative gate depends on all of them), which makes a meter's memory grow with the
//! programme and prevents measuring a feature reel by reel. Here each block power goes
//! into a bin of [`BIN_LU`] (0.01 LU) of its loudness, and each bin keeps the *count* and
//! the *exact sum of the powers* it holds. Then:
//!
//! - the absolute-gated power mean is exact (the bins start at the absolute gate);
//! - a relative gate falls inside one bin: every other bin is wholly in or out, exactly;
//!   the boundary bin is taken in the proportion of the bin (in LU) that lies above the
//!   gate. Its blocks lie within 0.01 LU of a threshold 10 LU under the mean, so the
//!   integrated loudness stays within a few thousandths of an LU of the block-list
//!   computation (`meter::integrated_of`, kept as the test oracle), usually much closer;
//! - percentiles (LRA) are read from the bin holding the rank, at that bin's power mean:
//!   within one bin (0.01 LU) of the nearest-rank value;
//! - histograms of several parts add bin by bin: the loudness of reels 1..N together is
//!   the loudness of their blocks together, whatever the order of the reels.
//!
//! Memory: at most [`BINS`] bins (100 LU above the absolute gate; louder blocks go into
//! the last bin with their exact power), 16 bytes each, allocated up to the loudest bin
//! used; independent of the programme's length.

use super::meter::{
    ABSOLUTE_GATE_LUFS, DialogueGate, DialogueLoudness, LRA_HIGH_PERCENTILE, LRA_LOW_PERCENTILE,
    LRA_RELATIVE_GATE_LU, RELATIVE_GATE_LU, lufs_to_power, power_to_lufs,
};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Width of a bin, LU.
pub const BIN_LU: f64 = 0.01;
/// Bins above the floor (100 LU: -70 to +30 LUFS; louder blocks share the last bin).
pub const BINS: usize = 10_000;

/// Counts and power sums of values binned by the loudness of a key power above a floor
/// (strictly: keys at or below the floor are not kept).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoudnessHistogram {
    /// Loudness of the floor, LUFS (the bins start there).
    floor_lufs: f64,
    counts: Vec<u64>,
    sums: Vec<f64>,
}

/// The serialized form: the floor and the non-empty bins as `[index, count, sum]`, the
/// sum as the bits of its f64 (so that a histogram read back is the one written, to the
/// last bit, whatever the JSON number parser).
#[derive(Serialize, Deserialize)]
struct SparseHistogram {
    floor_lufs: f64,
    bin_lu: f64,
    bins: Vec<(usize, u64, u64)>,
}

impl Serialize for LoudnessHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        SparseHistogram {
            floor_lufs: self.floor_lufs,
            bin_lu: BIN_LU,
            bins: self
                .counts
                .iter()
                .zip(&self.sums)
                .enumerate()
                .filter(|(_, (c, _))| **c > 0)
                .map(|(i, (&c, &s))| (i, c, s.to_bits()))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LoudnessHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let sp = SparseHistogram::deserialize(d)?;
        if sp.bin_lu != BIN_LU {
            return Err(D::Error::custom(format!(
                "histogram bins of {} LU, this version uses {BIN_LU}",
                sp.bin_lu
            )));
        }
        let mut h = LoudnessHistogram::new(sp.floor_lufs);
        for (i, c, s) in sp.bins {
            if i >= BINS {
                return Err(D::Error::custom(format!("histogram bin {i} out of range")));
            }
            h.grow(i);
            h.counts[i] = c;
            h.sums[i] = f64::from_bits(s);
        }
        Ok(h)
    }
}

impl LoudnessHistogram {
    /// An empty histogram whose bins start at `floor_lufs`.
    pub fn new(floor_lufs: f64) -> Self {
        LoudnessHistogram {
            floor_lufs,
            counts: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// The floor, LUFS.
    pub fn floor_lufs(&self) -> f64 {
        self.floor_lufs
    }

    fn grow(&mut self, i: usize) {
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
            self.sums.resize(i + 1, 0.0);
        }
    }

    /// Position of a key power in bins above the floor (fractional; may be negative).
    fn position(&self, key: f64) -> f64 {
        (10.0 * (key / lufs_to_power(self.floor_lufs)).log10()) / BIN_LU
    }

    /// Adds `value` in the bin of `key`'s loudness. Returns false (and keeps nothing)
    /// when the key is at or below the floor, or not finite.
    pub fn add(&mut self, key: f64, value: f64) -> bool {
        if !(key.is_finite() && key > lufs_to_power(self.floor_lufs)) {
            return false;
        }
        let i = (self.position(key).floor().max(0.0) as usize).min(BINS - 1);
        self.grow(i);
        self.counts[i] += 1;
        self.sums[i] += value;
        true
    }

    /// Adds another histogram's bins (same floor).
    pub fn merge(&mut self, other: &LoudnessHistogram) -> Result<()> {
        if other.floor_lufs != self.floor_lufs {
            return Err(Error::Invalid(format!(
                "loudness histograms with different floors ({} and {} LUFS) cannot merge",
                self.floor_lufs, other.floor_lufs
            )));
        }
        if let Some(n) = other.counts.len().checked_sub(1) {
            self.grow(n);
        }
        for (i, (&c, &s)) in other.counts.iter().zip(&other.sums).enumerate() {
            self.counts[i] += c;
            self.sums[i] += s;
        }
        Ok(())
    }

    /// Entries kept (above the floor) and the sum of their values.
    pub fn total(&self) -> (u64, f64) {
        (self.counts.iter().sum(), self.sums.iter().sum())
    }

    /// Count and value sum of the entries whose key is above `threshold` (a power):
    /// exact for every bin but the one holding the threshold, which is taken in the
    /// proportion of its width above the threshold.
    pub fn above(&self, threshold: f64) -> (f64, f64) {
        let u = self.position(threshold);
        let (mut n, mut s) = (0.0, 0.0);
        for (i, (&c, &v)) in self.counts.iter().zip(&self.sums).enumerate() {
            if c == 0 {
                continue;
            }
            let lo = i as f64;
            let w = if i == BINS - 1 {
                // The open top bin: in or out by its mean.
                if self.position(v / c as f64) > u {
                    1.0
                } else {
                    0.0
                }
            } else if lo >= u {
                1.0
            } else if lo + 1.0 <= u {
                0.0
            } else {
                lo + 1.0 - u
            };
            n += w * c as f64;
            s += w * v;
        }
        (n, s)
    }

    /// Whole-bin view for percentiles: the bins above `threshold` (the boundary bin
    /// included when its mean is above it), as (count, sum) in increasing loudness.
    fn bins_above(&self, threshold: f64) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.counts
            .iter()
            .zip(&self.sums)
            .filter(move |(c, s)| **c > 0 && *s / **c as f64 > threshold)
            .map(|(&c, &s)| (c, s))
    }

    /// Bytes held by the bins.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * 8 + self.sums.capacity() * 8
    }
}

/// Integrated loudness (BS.1770-4 2.8) of a histogram of block powers (key = value =
/// the block power, floor = the absolute gate).
pub fn integrated(blocks: &LoudnessHistogram) -> Option<f64> {
    let rel = relative_gate(blocks, RELATIVE_GATE_LU)?;
    let (n, s) = blocks.above(lufs_to_power(rel));
    (n > 0.0).then(|| power_to_lufs(s / n)).flatten()
}

/// The relative gate, LUFS: the power mean of the histogram's values (all above the
/// absolute gate) plus `offset_lu`.
pub fn relative_gate(h: &LoudnessHistogram, offset_lu: f64) -> Option<f64> {
    let (n, s) = h.total();
    (n > 0)
        .then(|| power_to_lufs(s / n as f64))
        .flatten()
        .map(|l| l + offset_lu)
}

/// Loudness range (EBU Tech 3342) of a histogram of short-term powers: relative gate
/// 20 LU under their power mean, 95th minus 10th percentile (nearest rank
/// `round((n - 1) p)`), each read at its bin's power mean.
pub fn loudness_range(short_terms: &LoudnessHistogram) -> Option<f64> {
    let rel = lufs_to_power(relative_gate(short_terms, LRA_RELATIVE_GATE_LU)?);
    let n: u64 = short_terms.bins_above(rel).map(|(c, _)| c).sum();
    if n == 0 {
        return None;
    }
    let at = |p: f64| -> Option<f64> {
        let rank = ((n - 1) as f64 * p).round() as u64;
        let mut seen = 0;
        for (c, s) in short_terms.bins_above(rel) {
            seen += c;
            if rank < seen {
                return power_to_lufs(s / c as f64);
            }
        }
        None
    };
    Some(at(LRA_HIGH_PERCENTILE)? - at(LRA_LOW_PERCENTILE)?)
}

/// Stem-gated dialogue loudness accumulated block by block (see [`DialogueGate`]), so
/// that it needs no block list and merges across reels.
///
/// Block `j` pairs the programme's block power `p_j` with the dialogue bus's `d_j`. The
/// per-block conditions of the gate (`d_j` above `absolute_lufs`, `d_j` no more than
/// `below_programme_lu` under `p_j`, `p_j > 0`) are decided as the block arrives; the
/// candidates go into a histogram keyed by `d_j` holding `p_j`, so the dialogue's own
/// relative gate (`relative_lu` under the mean of every dialogue block above the
/// absolute gate) is applied at the end, on the histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialogueHistogram {
    /// `absolute_lufs` and `below_programme_lu` as applied block by block.
    pub absolute_lufs: f64,
    pub below_programme_lu: f64,
    /// Dialogue blocks above the absolute gate: count and power sum.
    pub dialogue_blocks: u64,
    pub dialogue_sum: f64,
    /// Programme blocks above the BS.1770 absolute gate.
    pub programme_blocks: u64,
    /// Candidate blocks: key `d_j`, value `p_j`.
    pub candidates: LoudnessHistogram,
}

impl DialogueHistogram {
    /// An empty accumulator for `gate`'s per-block conditions.
    pub fn new(gate: &DialogueGate) -> Self {
        DialogueHistogram {
            absolute_lufs: gate.absolute_lufs,
            below_programme_lu: gate.below_programme_lu,
            dialogue_blocks: 0,
            dialogue_sum: 0.0,
            programme_blocks: 0,
            candidates: LoudnessHistogram::new(gate.absolute_lufs),
        }
    }

    /// Counts a programme block (every one, paired or not).
    pub fn add_programme(&mut self, p: f64) {
        if p > lufs_to_power(ABSOLUTE_GATE_LUFS) {
            self.programme_blocks += 1;
        }
    }

    /// Counts a dialogue block `d` (every one, paired or not).
    pub fn add_dialogue(&mut self, d: f64) {
        if d > lufs_to_power(self.absolute_lufs) {
            self.dialogue_blocks += 1;
            self.dialogue_sum += d;
        }
    }

    /// Adds the pair of block `j`: programme power `p`, dialogue power `d`.
    pub fn add_pair(&mut self, p: f64, d: f64) {
        let below = 10f64.powf(-self.below_programme_lu / 10.0);
        if d >= p * below && p > 0.0 {
            self.candidates.add(d, p);
        }
    }

    /// Adds another part's accumulator (same gate).
    pub fn merge(&mut self, o: &DialogueHistogram) -> Result<()> {
        if o.absolute_lufs != self.absolute_lufs || o.below_programme_lu != self.below_programme_lu
        {
            return Err(Error::Invalid(
                "dialogue histograms gated differently cannot merge".into(),
            ));
        }
        self.dialogue_blocks += o.dialogue_blocks;
        self.dialogue_sum += o.dialogue_sum;
        self.programme_blocks += o.programme_blocks;
        self.candidates.merge(&o.candidates)
    }

    /// The dialogue figures for `gate` (its `relative_lu` and `fallback_percent`; the
    /// per-block conditions are those this accumulator was made with), with
    /// `integrated` the programme's integrated loudness for the fallback.
    pub fn loudness(&self, gate: &DialogueGate, integrated: Option<f64>) -> DialogueLoudness {
        let rel_d = (self.dialogue_blocks > 0)
            .then(|| power_to_lufs(self.dialogue_sum / self.dialogue_blocks as f64))
            .flatten()
            .map(|l| lufs_to_power(l - gate.relative_lu))
            .unwrap_or(f64::INFINITY);
        let (active, sum) = if rel_d.is_finite() {
            self.candidates.above(rel_d)
        } else {
            (0.0, 0.0)
        };
        let gated = (active > 0.0)
            .then(|| power_to_lufs(sum / active))
            .flatten();
        let active_blocks = active.round() as usize;
        let programme_blocks = self.programme_blocks as usize;
        let percent = if programme_blocks > 0 {
            100.0 * active / programme_blocks as f64
        } else {
            0.0
        };
        let fallback = percent < gate.fallback_percent;
        DialogueLoudness {
            gated_lufs: gated,
            dialogue_percent: percent,
            active_blocks,
            programme_blocks,
            fallback,
            loudness_lufs: if fallback { integrated } else { gated },
            gate: DialogueGate {
                absolute_lufs: self.absolute_lufs,
                below_programme_lu: self.below_programme_lu,
                ..*gate
            },
            method: "stem-gated".into(),
        }
    }
}

/// The mergeable part of a [`super::Meter`]: everything its summary needs except the
/// timeline, in memory independent of the programme's length. Serialized, it is what a
/// reel's measurement hands to the feature's plan; merged, it is the feature's meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterState {
    pub sample_rate: u32,
    pub labels: Vec<String>,
    pub weights: Vec<f64>,
    /// Frames metered.
    pub frames: u64,
    /// Momentary (400 ms gating block) powers above the absolute gate.
    pub blocks: LoudnessHistogram,
    /// Short-term (3 s) powers above the absolute gate.
    pub short_terms: LoudnessHistogram,
    /// The largest block and short-term powers (None: no complete window yet).
    pub max_block: Option<f64>,
    pub max_short_term: Option<f64>,
    pub sample_peak: Vec<f32>,
    pub true_peak: Vec<f32>,
    pub dialogue: Option<DialogueHistogram>,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl MeterState {
    /// An empty state.
    pub fn new(sample_rate: u32, labels: Vec<String>, weights: Vec<f64>) -> Self {
        let n = weights.len();
        MeterState {
            sample_rate,
            labels,
            weights,
            frames: 0,
            blocks: LoudnessHistogram::new(ABSOLUTE_GATE_LUFS),
            short_terms: LoudnessHistogram::new(ABSOLUTE_GATE_LUFS),
            max_block: None,
            max_short_term: None,
            sample_peak: vec![0.0; n],
            true_peak: vec![0.0; n],
            dialogue: None,
        }
    }

    /// Adds a gating block's power.
    pub fn add_block(&mut self, z: f64) {
        self.blocks.add(z, z);
        self.max_block = max_opt(self.max_block, Some(z));
    }

    /// Adds a short-term window's power.
    pub fn add_short_term(&mut self, z: f64) {
        self.short_terms.add(z, z);
        self.max_short_term = max_opt(self.max_short_term, Some(z));
    }

    /// Adds another part (same sample rate and channels): the figures of the result are
    /// those of both parts' blocks together (a part's blocks do not straddle the join).
    pub fn merge(&mut self, o: &MeterState) -> Result<()> {
        if o.sample_rate != self.sample_rate || o.weights != self.weights {
            return Err(Error::Invalid(format!(
                "loudness of {} Hz {} and {} Hz {} cannot merge",
                self.sample_rate,
                self.labels.join(" "),
                o.sample_rate,
                o.labels.join(" ")
            )));
        }
        self.frames += o.frames;
        self.blocks.merge(&o.blocks)?;
        self.short_terms.merge(&o.short_terms)?;
        self.max_block = max_opt(self.max_block, o.max_block);
        self.max_short_term = max_opt(self.max_short_term, o.max_short_term);
        for (a, b) in self.sample_peak.iter_mut().zip(&o.sample_peak) {
            *a = a.max(*b);
        }
        for (a, b) in self.true_peak.iter_mut().zip(&o.true_peak) {
            *a = a.max(*b);
        }
        self.dialogue = match (self.dialogue.take(), &o.dialogue) {
            (Some(mut a), Some(b)) => {
                a.merge(b)?;
                Some(a)
            }
            (None, None) => None,
            _ => {
                return Err(Error::Invalid(
                    "loudness with and without a dialogue bus cannot merge".into(),
                ));
            }
        };
        Ok(())
    }

    /// Every figure (no timeline).
    pub fn summary(&self, gate: &DialogueGate) -> super::LoudnessSummary {
        use super::meter::peak_to_db;
        let programme = |p: &[f32]| p.iter().fold(0f32, |a, &b| a.max(b));
        let i = integrated(&self.blocks);
        super::LoudnessSummary {
            sample_rate: self.sample_rate,
            channels: self.labels.clone(),
            weights: self.weights.clone(),
            frames: self.frames,
            duration_s: self.frames as f64 / self.sample_rate as f64,
            integrated_lufs: i,
            loudness_range_lu: loudness_range(&self.short_terms),
            max_momentary_lufs: self.max_block.and_then(power_to_lufs),
            max_short_term_lufs: self.max_short_term.and_then(power_to_lufs),
            sample_peak_dbfs: peak_to_db(programme(&self.sample_peak)),
            true_peak_dbtp: peak_to_db(programme(&self.true_peak)),
            sample_peak_dbfs_per_channel: self.sample_peak.iter().map(|&p| peak_to_db(p)).collect(),
            true_peak_dbtp_per_channel: self.true_peak.iter().map(|&p| peak_to_db(p)).collect(),
            dialogue: self.dialogue.as_ref().map(|d| d.loudness(gate, i)),
            timeline: None,
        }
    }

    /// Bytes held on the heap (bins, labels, peaks).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.short_terms.heap_bytes()
            + self
                .dialogue
                .as_ref()
                .map_or(0, |d| d.candidates.heap_bytes())
            + self.weights.len() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::super::meter::integrated_of;
    use super::*;

    /// A deterministic pseudo-random generator (xorshift64*), for test data only.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn hist(v: &[f64]) -> LoudnessHistogram {
        let mut h = LoudnessHistogram::new(ABSOLUTE_GATE_LUFS);
        for &z in v {
            h.add(z, z);
        }
        h
    }

    /// Block powers spread over -80..-5 LUFS, some clustered.
    fn programme(seed: u64, n: usize) -> Vec<f64> {
        let mut r = Rng(seed);
        (0..n)
            .map(|i| {
                let l = if i % 7 == 0 {
                    -23.0
                } else {
                    -80.0 + 75.0 * r.next()
                };
                lufs_to_power(l)
            })
            .collect()
    }

    #[test]
    fn integrated_matches_the_block_list() {
        for seed in 1..20 {
            let v = programme(seed, 20_000);
            let want = integrated_of(&v).unwrap();
            let got = integrated(&hist(&v)).unwrap();
            assert!((got - want).abs() < 0.005, "seed {seed}: {got} vs {want}");
        }
    }

    #[test]
    fn merged_parts_equal_the_whole_in_any_order() {
        let v = programme(7, 30_000);
        let whole = hist(&v);
        let mut parts: Vec<LoudnessHistogram> = v.chunks(7_001).map(hist).collect();
        let mut fwd = parts[0].clone();
        for p in &parts[1..] {
            fwd.merge(p).unwrap();
        }
        parts.reverse();
        let mut rev = parts[0].clone();
        for p in &parts[1..] {
            rev.merge(p).unwrap();
        }
        for m in [&fwd, &rev] {
            assert_eq!(m.counts, whole.counts);
            let a = integrated(m).unwrap();
            let b = integrated(&whole).unwrap();
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            let a = loudness_range(m).unwrap();
            let b = loudness_range(&whole).unwrap();
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn serde_round_trip_is_exact() {
        let h = hist(&programme(3, 5_000));
        let s = serde_json::to_string(&h).unwrap();
        let back: LoudnessHistogram = serde_json::from_str(&s).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn silence_and_gated_out_blocks_are_none() {
        assert_eq!(integrated(&hist(&[])), None);
        assert_eq!(integrated(&hist(&[lufs_to_power(-75.0); 10])), None);
        assert_eq!(loudness_range(&hist(&[0.0; 10])), None);
        // One block: exactly its loudness.
        let one = integrated(&hist(&[lufs_to_power(-23.0)])).unwrap();
        assert!((one + 23.0).abs() < 1e-9);
    }

    #[test]
    fn memory_does_not_depend_on_the_count() {
        let mut r = Rng(5);
        let mut h = LoudnessHistogram::new(ABSOLUTE_GATE_LUFS);
        // 20 minutes of blocks, then 120 minutes: the same bins.
        for _ in 0..12_000 {
            let l = -60.0 + 60.0 * r.next();
            h.add(lufs_to_power(l), lufs_to_power(l));
        }
        let at_20 = h.heap_bytes();
        for _ in 0..60_000 {
            let l = -60.0 + 60.0 * r.next();
            h.add(lufs_to_power(l), lufs_to_power(l));
        }
        assert_eq!(h.heap_bytes(), at_20);
        assert!(at_20 <= BINS * 16 * 2);
    }
}
