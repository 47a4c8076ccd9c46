//! The page's live loudness meter (ITU-R BS.1770-4 / EBU R128 momentary and
//! short-term): the core's streaming [`Analyzer`] hops into the core's
//! [`loudness::Meter`](CoreMeter), so that the page reads the same figures, windows
//! and gate as `dubstage` on the same audio.
//!
//! Momentary = the last 4 hops (400 ms), short-term = the last 30 hops (3 s). Before a
//! window has filled, the missing time counts as silence (the live readings of
//! [`CoreMeter::live_momentary`]); the integrated loudness is the core's BS.1770 gate.

use crate::backend::cpu::CpuBackend;
use crate::backend::{Analyzer, AnalyzerConfig, Backend};
use crate::loudness::Meter as CoreMeter;
use crate::{Layout, Result};

/// See the module doc.
pub struct Meter {
    analyzer: Box<dyn Analyzer>,
    meter: CoreMeter,
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
            meter: CoreMeter::new(sample_rate, layout.channels())?,
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
            self.meter.push_hops(std::slice::from_ref(&h))?;
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

    /// Momentary loudness (LUFS) of the last 400 ms; -inf for digital silence.
    pub fn momentary(&self) -> f64 {
        self.meter.live_momentary().unwrap_or(f64::NEG_INFINITY)
    }

    /// Short-term loudness (LUFS) of the last 3 s; -inf for digital silence.
    pub fn short_term(&self) -> f64 {
        self.meter.live_short_term().unwrap_or(f64::NEG_INFINITY)
    }

    /// Integrated loudness (LUFS, BS.1770-4 gating) of everything metered so far;
    /// `None` before the first complete 400 ms block or when every block is gated out.
    pub fn integrated(&self) -> Option<f64> {
        self.meter.integrated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amp_db: f64, n: usize, sr: u32) -> Vec<f32> {
        let a = 10f64.powf(amp_db / 20.0);
        (0..n)
            .map(|t| {
                (a * (2.0 * std::f64::consts::PI * 1000.0 * t as f64 / sr as f64).sin()) as f32
            })
            .collect()
    }

    /// EBU Tech 3341 case 6: 5.0 with L, R at -28 dBFS, C at -24, Ls, Rs at -30
    /// reads -23.0 ±0.1 (as 5.1 with a silent LFE): the BS.1770 channel weights.
    #[test]
    fn ebu_3341_case_6_weights_the_surrounds() {
        let sr = 48_000;
        let n = sr as usize * 4;
        let (lr, c, s) = (sine(-28.0, n, sr), sine(-24.0, n, sr), sine(-30.0, n, sr));
        let lfe = vec![0f32; n];
        let mut m = Meter::new(Layout::FiveOne, sr).unwrap();
        let mut readings = Vec::new();
        for k in (0..n).step_by(4096) {
            let e = (k + 4096).min(n);
            let chans: [&[f32]; 6] = [
                &lr[k..e],
                &lr[k..e],
                &c[k..e],
                &lfe[k..e],
                &s[k..e],
                &s[k..e],
            ];
            m.push_hops(&chans, Some(&mut readings)).unwrap();
        }
        assert_eq!(readings.len(), 40);
        assert!((m.momentary() + 23.0).abs() < 0.1, "M {}", m.momentary());
        assert!((m.short_term() + 23.0).abs() < 0.1, "S {}", m.short_term());
        let i = m.integrated().unwrap();
        assert!((i + 23.0).abs() < 0.1, "I {i}");
        // before 3 s the short-term window counts the missing time as silence
        let (_, s_at_1s) = readings[9];
        assert!(
            (s_at_1s - (-23.0 + 10.0 * (1.0f64 / 3.0).log10())).abs() < 0.15,
            "{s_at_1s}"
        );
    }
}
