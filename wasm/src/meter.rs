//! A live loudness meter (ITU-R BS.1770-4 / EBU R128 momentary and short-term)
//! built on the core's streaming [`Analyzer`] hops, so that the page reads the
//! same figures as `dubstage` on the same audio.
//!
//! Momentary = the last 4 hops (400 ms), short-term = the last 30 hops (3 s).
//! Block loudness `L = -0.691 + 10 log10(Σ_i G_i z_i)` where `z_i` is the mean
//! square of the K-weighted channel `i` over the window and `G_i` its BS.1770
//! weight (BS.1770-4 eq. 2). Before a window has filled, the missing time counts
//! as silence (the window's full length divides the energy).

use dubstage_core::backend::cpu::CpuBackend;
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Backend};
use dubstage_core::{Layout, Result};
use std::collections::VecDeque;

/// Hops in the momentary window (400 ms / 100 ms).
pub const MOMENTARY_HOPS: usize = 4;
/// Hops in the short-term window (3 s / 100 ms).
pub const SHORT_TERM_HOPS: usize = 30;

/// See the module doc.
pub struct Meter {
    analyzer: Box<dyn Analyzer>,
    weights: Vec<f64>,
    hop_frames: usize,
    /// Weighted energy sum `Σ_i G_i Σ_t y_i(t)^2` of each recent hop, newest last.
    hops: VecDeque<f64>,
    hops_seen: u64,
}

impl Meter {
    /// A meter for `layout` at `sample_rate` (a multiple of 10 Hz).
    pub fn new(layout: Layout, sample_rate: u32) -> Result<Meter> {
        let cfg = AnalyzerConfig {
            channels: layout.len(),
            sample_rate,
            true_peak_oversample: 0,
        };
        Ok(Meter {
            analyzer: CpuBackend::new().analyzer(&cfg)?,
            weights: layout
                .channels()
                .iter()
                .map(|c| c.bs1770_weight())
                .collect(),
            hop_frames: (sample_rate / 10) as usize,
            hops: VecDeque::with_capacity(SHORT_TERM_HOPS + 1),
            hops_seen: 0,
        })
    }

    /// Feeds planar audio (one slice per channel of the layout, equal lengths).
    pub fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        self.push_hops(planar, None)
    }

    /// Like [`Meter::push`], and appends `(momentary, short-term)` after each hop
    /// completed by this audio to `readings` (a loudness timeline, one per 100 ms).
    pub fn push_hops(
        &mut self,
        planar: &[&[f32]],
        mut readings: Option<&mut Vec<(f64, f64)>>,
    ) -> Result<()> {
        self.analyzer.push(planar)?;
        for h in self.analyzer.take_hops()? {
            let e: f64 = h.energy.iter().zip(&self.weights).map(|(e, g)| e * g).sum();
            self.hops.push_back(e);
            if self.hops.len() > SHORT_TERM_HOPS {
                self.hops.pop_front();
            }
            self.hops_seen += 1;
            if let Some(r) = readings.as_deref_mut() {
                r.push((self.momentary(), self.short_term()));
            }
        }
        Ok(())
    }

    /// Completed 100 ms hops since the meter was made.
    pub fn hops_seen(&self) -> u64 {
        self.hops_seen
    }

    fn window(&self, n: usize) -> f64 {
        let e: f64 = self.hops.iter().rev().take(n).sum();
        let z = e / (n * self.hop_frames) as f64;
        if z > 0.0 {
            -0.691 + 10.0 * z.log10()
        } else {
            f64::NEG_INFINITY
        }
    }

    /// Momentary loudness (LUFS) of the last 400 ms; -inf for digital silence.
    pub fn momentary(&self) -> f64 {
        self.window(MOMENTARY_HOPS)
    }

    /// Short-term loudness (LUFS) of the last 3 s; -inf for digital silence.
    pub fn short_term(&self) -> f64 {
        self.window(SHORT_TERM_HOPS)
    }
}
