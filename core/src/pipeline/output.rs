//! Outputs: the deliverables' writers (fold-downs, the Lt/Rt encoder, the files), the
//! checks before anything is written, and the consumer half of pass 2 (write, meter and
//! check each block).

use super::measure::Watch;
use super::mixer::MixBlock;
use crate::backend::{Analyzer, Hop};
use crate::io::{OutputFormat, Rf64Mode, WavSpec, WavWriter};
use crate::mix::downmix_matrix;
use crate::mix::matrix::{LtRtEncoder, MatrixOptions};
use crate::qc::NullTest;
use crate::session::{DeliverableKind, Plan, PlanDeliverable};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Checks that no deliverable would overwrite an input and the folder is writable.
pub(super) fn check_outputs(plan: &Plan, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::Output {
        path: out_dir.to_path_buf(),
        msg: format!("cannot create the output folder: {e}"),
    })?;
    let probe = out_dir.join(format!(".dubstage-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| Error::Output {
        path: out_dir.to_path_buf(),
        msg: format!("the output folder is not writable: {e}"),
    })?;
    let _ = std::fs::remove_file(&probe);
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let dir = canon(out_dir);
    let inputs: Vec<PathBuf> = plan
        .stems
        .iter()
        .flat_map(|s| s.paths.iter().map(|p| canon(p)))
        .chain(std::iter::once(canon(&plan.session_path)))
        .collect();
    let speed_files = plan.speed_versions.iter().flat_map(|pv| {
        let sub = super::speed::version_dir(&dir, &pv.version);
        super::speed::version_deliverables(plan, pv)
            .into_iter()
            .map(move |(_, d)| (sub.clone(), d))
    });
    let all = plan
        .deliverables
        .iter()
        .map(|d| (dir.clone(), d.clone()))
        .chain(speed_files);
    for (dir, d) in all {
        for f in deliverable_files(&d) {
            let p = dir.join(&f);
            if inputs.contains(&p) {
                return Err(Error::Output {
                    path: p,
                    msg: format!(
                        "deliverable '{}' would overwrite an input of the session",
                        d.name
                    ),
                });
            }
        }
    }
    Ok(())
}

/// File names of a deliverable (one, or one per channel for multi-mono).
pub fn deliverable_files(d: &PlanDeliverable) -> Vec<String> {
    d.files()
}

/// The writers of one deliverable.
pub(super) struct Output {
    pub(super) plan: PlanDeliverable,
    pub(super) writers: Vec<WavWriter>,
    /// Fold-down from the mix layout (BS.775 Lo/Ro, 7.1 -> 5.1, ...), when the layouts differ.
    convert: Option<Vec<f32>>,
    /// The 4:2:4 matrix encoder of an Lt/Rt deliverable (stateful: the Hilbert pair).
    ltrt: Option<LtRtEncoder>,
    scratch: Vec<Vec<f32>>,
    /// Loudness and QC of what is written (`None` when QC is off).
    pub(super) watch: Option<Watch>,
}

impl Output {
    pub(super) fn create(
        plan: &Plan,
        d: &PlanDeliverable,
        index: usize,
        dir: &Path,
        watch: Option<Watch>,
    ) -> Result<Output> {
        let mut writers = Vec::new();
        let files = deliverable_files(d);
        for (k, f) in files.iter().enumerate() {
            let (channels, mask) = if d.multi_mono {
                (1, d.layout.channels()[k].mono_mask())
            } else {
                (d.layout.len() as u16, d.layout.channel_mask())
            };
            let spec = WavSpec {
                channels,
                sample_rate: plan.sample_rate,
                format: d.format,
                channel_mask: mask,
                bext: Some(crate::io::Bext {
                    description: format!(
                        "{} reel {} {} {}",
                        plan.title,
                        plan.reel,
                        match d.kind {
                            DeliverableKind::Printmaster => "printmaster",
                            DeliverableKind::Me => "M&E",
                            DeliverableKind::Stems => "DME stem",
                            DeliverableKind::Loro => "Lo/Ro downmix",
                            DeliverableKind::Ltrt => "Lt/Rt matrix encode",
                        },
                        d.layout.name()
                    ),
                    originator: "dubstage".into(),
                    originator_reference: format!("dubstage-{}", &plan.session_sha256[..12]),
                    time_reference: plan.start_samples.max(0) as u64,
                    version: 2,
                    coding_history: format!(
                        "A=PCM,F={},W={},M={},T=dubstage {}\r\n",
                        plan.sample_rate,
                        match d.format {
                            OutputFormat::Pcm16 => 16,
                            OutputFormat::Pcm24 => 24,
                            OutputFormat::Float32 => 32,
                        },
                        if channels == 1 {
                            "mono".to_string()
                        } else {
                            d.layout.name().to_string()
                        },
                        crate::VERSION
                    ),
                    ..Default::default()
                }),
                rf64: Rf64Mode::Auto {
                    threshold: plan.rf64_threshold,
                },
                bw64: plan.bw64,
                dither_seed: plan
                    .dither_seed
                    .wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                    .wrapping_add(k as u64),
            };
            let w = WavWriter::builder(&dir.join(f), spec).ixml(plan.ixml(d, k));
            let w = if watch.is_none() {
                // Nothing is added to the header after the audio (no loudness in bext):
                // the header is final now, and the file is hashed as it is written.
                w.expect_frames(plan.length).create()?
            } else {
                w.create()?
            };
            writers.push(w);
        }
        Ok(Output {
            plan: d.clone(),
            writers,
            convert: (d.layout != plan.layout && d.kind != DeliverableKind::Ltrt)
                .then(|| downmix_matrix(plan.layout, d.layout)),
            ltrt: match d.kind {
                DeliverableKind::Ltrt => Some(LtRtEncoder::new(
                    plan.layout,
                    plan.sample_rate,
                    &MatrixOptions::default(),
                )?),
                _ => None,
            },
            scratch: vec![Vec::new(); d.layout.len()],
            watch,
        })
    }

    /// Converts the mix channels to the deliverable's layout (fold-downs go through
    /// `scratch`), writes them, and hands them to the deliverable's meters and detectors
    /// (the two at once on native targets).
    fn process(&mut self, mix: &[&[f32]], dx_hops: &[Hop]) -> Result<()> {
        let Output {
            plan,
            writers,
            convert,
            ltrt,
            scratch,
            watch,
        } = self;
        let chans: Vec<&[f32]> = match convert {
            None if ltrt.is_some() => {
                let n = mix[0].len();
                let (a, b) = scratch.split_at_mut(1);
                a[0].resize(n, 0.0);
                b[0].resize(n, 0.0);
                ltrt.as_mut()
                    .expect("checked")
                    .process(mix, &mut a[0][..n], &mut b[0][..n]);
                scratch.iter().map(|v| &v[..n]).collect()
            }
            None => mix.to_vec(),
            Some(m) => {
                let ni = mix.len();
                for (o, y) in scratch.iter_mut().enumerate() {
                    y.clear();
                    y.resize(mix[0].len(), 0.0);
                    for (i, x) in mix.iter().enumerate() {
                        let g = m[o * ni + i];
                        if g != 0.0 {
                            y.iter_mut().zip(x.iter()).for_each(|(y, x)| *y += g * *x);
                        }
                    }
                }
                scratch.iter().map(|v| v.as_slice()).collect()
            }
        };
        if let Some(w) = watch.as_mut() {
            w.detectors.push_matrix(mix, &chans)?;
        }
        let mut write = || -> Result<()> {
            if plan.multi_mono {
                for (w, c) in writers.iter_mut().zip(&chans) {
                    w.write_planar(std::slice::from_ref(c))?;
                }
                Ok(())
            } else {
                writers[0].write_planar(&chans)
            }
        };
        let Some(watch) = watch else {
            return write();
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (a, b) = rayon::join(write, || watch.push(&chans, dx_hops));
            a.and(b)
        }
        #[cfg(target_arch = "wasm32")]
        {
            write()?;
            watch.push(&chans, dx_hops)
        }
    }
}

/// The channels of a deliverable within a mixed block.
fn deliverable_channels<'a>(
    plan: &Plan,
    d: &PlanDeliverable,
    m: &'a MixBlock,
    n: usize,
) -> Vec<&'a [f32]> {
    let nch = plan.layout.len();
    match d.kind {
        DeliverableKind::Printmaster | DeliverableKind::Loro | DeliverableKind::Ltrt => {
            m.printmaster.iter().map(|v| &v[..n]).collect()
        }
        DeliverableKind::Me => m.me.iter().map(|v| &v[..n]).collect(),
        DeliverableKind::Stems => {
            let b = d.bus.expect("stems deliverable has a bus");
            m.buses[b * nch..(b + 1) * nch]
                .iter()
                .map(|v| &v[..n])
                .collect()
        }
    }
}

/// The consumer side of pass 2: writes, meters and checks blocks, in order.
pub(super) struct Consumer<'p> {
    pub(super) plan: &'p Plan,
    pub(super) dx_analyzer: Option<Box<dyn Analyzer>>,
    pub(super) null: Option<NullTest>,
    pub(super) outputs: Vec<Output>,
}

impl Consumer<'_> {
    pub(super) fn consume(&mut self, ready: &MixBlock, k: usize) -> Result<()> {
        let plan = self.plan;
        let dx: Vec<&[f32]> = ready.dialogue.iter().map(|v| &v[..k]).collect();
        let dx_hops = match &mut self.dx_analyzer {
            Some(a) => {
                a.push(&dx)?;
                a.take_hops()?
            }
            None => Vec::new(),
        };
        let work = |o: &mut Output| -> Result<()> {
            let mix = deliverable_channels(plan, &o.plan, ready, k);
            o.process(&mix, &dx_hops)
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            let null = || -> Result<()> {
                if let Some(t) = &mut self.null {
                    let pm: Vec<&[f32]> = ready.printmaster.iter().map(|v| &v[..k]).collect();
                    let me: Vec<&[f32]> = ready.me.iter().map(|v| &v[..k]).collect();
                    t.push(&pm, &[&dx, &me])?;
                }
                Ok(())
            };
            let outputs = &mut self.outputs;
            let (a, b) = rayon::join(null, || {
                outputs
                    .par_iter_mut()
                    .map(work)
                    .collect::<Result<Vec<()>>>()
            });
            a?;
            b?;
        }
        #[cfg(target_arch = "wasm32")]
        {
            if let Some(t) = &mut self.null {
                let pm: Vec<&[f32]> = ready.printmaster.iter().map(|v| &v[..k]).collect();
                let me: Vec<&[f32]> = ready.me.iter().map(|v| &v[..k]).collect();
                t.push(&pm, &[&dx, &me])?;
            }
            self.outputs
                .iter_mut()
                .map(work)
                .collect::<Result<Vec<()>>>()?;
        }
        Ok(())
    }
}
