//! Metering: each deliverable's loudness meter and QC detectors during the render,
//! the measuring pass (pass 1), and the 2-pop check of the stems.

use super::DEFAULT_BLOCK_FRAMES;
use super::mixer::{MixBlock, Mixer};
use super::sources::StemReader;
use crate::Result;
use crate::backend::{Analyzer, AnalyzerConfig, Backend, Hop};
use crate::loudness::{Meter, default_true_peak_factor};
use crate::qc::{PopDetector, PopResult, QcDetectors, TimeBase};
use crate::session::{DeliverableKind, Plan, PlanDeliverable, PlanStem};

/// Loudness and QC state of one deliverable during the render.
pub(super) struct Watch {
    analyzer: Box<dyn Analyzer>,
    pub(super) meter: Meter,
    pub(super) detectors: QcDetectors,
    /// Gets the dialogue hops (printmaster and its downmixes).
    dialogue: bool,
}

impl Watch {
    pub(super) fn new(
        plan: &Plan,
        backend: &dyn Backend,
        d: &PlanDeliverable,
        time: TimeBase,
    ) -> Result<Watch> {
        let chans = d.layout.channels();
        let dialogue = matches!(
            d.kind,
            DeliverableKind::Printmaster | DeliverableKind::Loro | DeliverableKind::Ltrt
        );
        let mut meter = Meter::new(plan.sample_rate, chans)?;
        if dialogue {
            meter = meter.with_dialogue(plan.layout.channels());
        }
        let (start, end) = programme_span(plan);
        Ok(Watch {
            analyzer: backend.summary_analyzer(&analyzer_config(plan, chans.len()))?,
            meter,
            detectors: QcDetectors::new(&plan.qc, chans, time)?
                .with_programme(start, Some(end))
                .with_matrix_source((d.kind == DeliverableKind::Ltrt).then_some(plan.layout))?,
            dialogue,
        })
    }

    /// Meters and checks a block: the loudness side and the detectors side by side on
    /// native targets (each keeps its own order, so the figures do not depend on it).
    pub(super) fn push(&mut self, chans: &[&[f32]], dx_hops: &[Hop]) -> Result<()> {
        let Watch {
            analyzer,
            meter,
            detectors,
            dialogue,
        } = self;
        let loudness = || -> Result<()> {
            analyzer.push(chans)?;
            meter.push_hops(&analyzer.take_hops()?)?;
            if *dialogue {
                meter.push_dialogue_hops(dx_hops)?;
            }
            Ok(())
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (a, b) = rayon::join(loudness, || detectors.push(chans));
            a.and(b)
        }
        #[cfg(target_arch = "wasm32")]
        {
            let mut loudness = loudness;
            loudness()?;
            detectors.push(chans)
        }
    }

    pub(super) fn finish(&mut self, dx_hops: &[Hop]) -> Result<()> {
        self.meter.push_hops(&self.analyzer.finish()?)?;
        if self.dialogue {
            self.meter.push_dialogue_hops(dx_hops)?;
        }
        Ok(())
    }
}

/// The programme span for the QC detectors: from the first frame of action to the end
/// (the leader with its 2-pop is left out).
fn programme_span(plan: &Plan) -> (u64, u64) {
    ((plan.ffoa.max(0) as u64).min(plan.length), plan.length)
}

fn analyzer_config(plan: &Plan, channels: usize) -> AnalyzerConfig {
    AnalyzerConfig {
        channels,
        sample_rate: plan.sample_rate,
        true_peak_oversample: default_true_peak_factor(plan.sample_rate),
    }
}

/// The analyzer of the dialogue bus for stem-gated dialogue loudness, or `None` when the
/// session has no dialogue bus (the gate then finds no dialogue, exactly as with a silent
/// bus). Gating needs the bus's energy only, so its true peak is off.
pub(super) fn dialogue_analyzer(
    plan: &Plan,
    backend: &dyn Backend,
) -> Result<Option<Box<dyn Analyzer>>> {
    if !plan.buses.iter().any(|b| b.dialogue) {
        return Ok(None);
    }
    backend
        .analyzer(&AnalyzerConfig {
            true_peak_oversample: 0,
            ..analyzer_config(plan, plan.layout.len())
        })
        .map(Some)
}

/// Pass 1 of a normalizing render: the printmaster's loudness (with the dialogue bus
/// for stem-gated dialogue loudness) over the reel samples `span`, without writing
/// anything (the whole reel for a session's render, the programme for a feature's reel).
/// `progress` gets the frames mixed so far. The CLI preview runs it too, to play the
/// render's gain.
pub fn measure_mix(
    plan: &Plan,
    backend: &mut dyn Backend,
    block_frames: usize,
    span: (u64, u64),
    progress: &dyn Fn(u64) -> Result<()>,
) -> Result<Meter> {
    let chans = plan.layout.channels();
    let mut pm = backend.summary_analyzer(&analyzer_config(plan, chans.len()))?;
    let mut dx = dialogue_analyzer(plan, backend)?;
    let mut meter = Meter::new(plan.sample_rate, chans)?
        .with_dialogue(chans)
        .without_timeline();
    let mut mixer = Mixer::new(plan, backend)?;
    let end = span.1.min(plan.length);
    // Block `k` is measured while block `k + 1` is mixed (as pass 2 writes one block
    // while it mixes the next); each side keeps its own order, so the figures do not
    // depend on it.
    let mut measure = |block: &MixBlock, at: u64, n: usize| -> Result<()> {
        let (a, b) = (
            (span.0.max(at) - at) as usize,
            (end.min(at + n as u64) - at) as usize,
        );
        if a >= b {
            return Ok(());
        }
        let p: Vec<&[f32]> = block.printmaster.iter().map(|v| &v[a..b]).collect();
        let d: Vec<&[f32]> = block.dialogue.iter().map(|v| &v[a..b]).collect();
        pm.push(&p)?;
        meter.push_hops(&pm.take_hops()?)?;
        if let Some(dx) = &mut dx {
            dx.push(&d)?;
            meter.push_dialogue_hops(&dx.take_hops()?)?;
        }
        Ok(())
    };
    let (mut ready, mut next) = (MixBlock::default(), MixBlock::default());
    let mut mix = |mixer: &mut Mixer<'_>, block: &mut MixBlock| -> Result<Option<(u64, usize)>> {
        let at = mixer.pos;
        if at >= end {
            return Ok(None);
        }
        let n = ((end - at) as usize).min(block_frames);
        mixer.next_block(&mut *backend, n, block)?;
        Ok(Some((at, n)))
    };
    let mut cur = mix(&mut mixer, &mut ready)?;
    while let Some((at, n)) = cur {
        #[cfg(not(target_arch = "wasm32"))]
        let (made, used) = rayon::join(|| mix(&mut mixer, &mut next), || measure(&ready, at, n));
        #[cfg(target_arch = "wasm32")]
        let (used, made) = (measure(&ready, at, n), mix(&mut mixer, &mut next));
        used?;
        cur = made?;
        std::mem::swap(&mut ready, &mut next);
        progress(at + n as u64)?;
    }
    meter.push_hops(&pm.finish()?)?;
    if let Some(dx) = &mut dx {
        meter.push_dialogue_hops(&dx.finish()?)?;
    }
    Ok(meter)
}

/// The 2-pop check of every stem, expected at reel sample `at`: each detector reads
/// its own search window from the stem's files (as recorded, before any insert), so the
/// mix itself may read plain stems straight into the sum.
pub(super) fn check_pops(plan: &Plan, time: TimeBase, at: u64) -> Result<Vec<PopResult>> {
    let work = |s: &PlanStem| -> Result<PopResult> {
        let mut p = PopDetector::new(&s.id, s.layout.channels(), time, at, &plan.qc)?;
        let w = p.window();
        let (a, b) = (w.start.min(plan.length), w.end.min(plan.length));
        let mut reader = StemReader::open(s, plan, a as i64)?;
        let mut bufs = vec![Vec::new(); s.layout.len()];
        let mut t = a;
        while t < b {
            let n = ((b - t) as usize).min(DEFAULT_BLOCK_FRAMES);
            reader.read_block(t as i64, n, &mut bufs)?;
            let v: Vec<&[f32]> = bufs.iter().map(|c| &c[..n]).collect();
            p.push_at(t, &v)?;
            t += n as u64;
        }
        Ok(p.finish())
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        plan.stems.par_iter().map(work).collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        plan.stems.iter().map(work).collect()
    }
}
