//! The render's passes: pass 1 measures and decides the normalization, pass 2 runs the
//! producer (mix, level, limit) and the consumer (write, meter, check) side by side; then
//! the files are finished, the QC report is staged and everything is committed at once.

use super::level::{Pending, Producer};
use super::measure::{Watch, check_pops, dialogue_analyzer, measure_mix};
use super::mixer::{MixBlock, Mixer};
use super::output::{Consumer, Output, check_outputs};
use super::summary::{MANIFEST, NormalizationResult, RenderSummary, manifest_text, peak_db};
use super::{DeliverableResult, LoudnessBrief, ProgressFn, RenderOptions};
use crate::backend::Backend;
use crate::io::{FinishedFile, WavWriter};
use crate::loudness::{DialogueGate, LoudnessSummary};
use crate::master::{Limiter, LimiterOptions, Normalization, OnFailure};
use crate::qc::{NullTest, TimeBase};
use crate::session::{DeliverableKind, Plan, PlanDeliverable};
use crate::{Error, Result};
use std::path::PathBuf;

/// Renders every deliverable of `plan` into `opts.out_dir`, with its QC report in
/// `opts.out_dir/qc/`. With a delivery profile, a first pass measures the printmaster,
/// and the second applies one static gain to every mix (printmaster, M&E, stems), then a
/// channel-linked true-peak limiter on the printmaster whose gain is applied, sample for
/// sample, to the M&E and the stems too (so the null test still holds).
pub fn render(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
) -> Result<RenderSummary> {
    // The render loop runs on a worker of the thread pool: each block's
    // `rayon::join` of producer and consumer then hands its other half to the
    // other worker directly, instead of the calling thread injecting the join into
    // the pool and sleeping until it is done (a wake-up per block).
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::scope(|_| render_on_this_thread(plan, backend, opts, progress, None))
    }
    #[cfg(target_arch = "wasm32")]
    {
        render_on_this_thread(plan, backend, opts, progress, None)
    }
}

/// Renders `plan` with a normalization decided elsewhere (a feature's reel: the gain
/// comes from the whole feature's loudness, `before` is the reel's own measurement):
/// no measuring pass; the gain and the limiter as `preset` says; the reel's printmaster
/// is checked against the profile in its QC report, but a miss does not stop the
/// render (the feature is judged as a whole).
pub fn render_with_normalization(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
    preset: Normalization,
    before: Option<LoudnessSummary>,
) -> Result<RenderSummary> {
    let preset = Some((preset, before));
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::scope(|_| render_on_this_thread(plan, backend, opts, progress, preset))
    }
    #[cfg(target_arch = "wasm32")]
    {
        render_on_this_thread(plan, backend, opts, progress, preset)
    }
}

fn render_on_this_thread(
    plan: &Plan,
    backend: &mut dyn Backend,
    opts: &RenderOptions,
    progress: Option<ProgressFn<'_>>,
    preset: Option<(Normalization, Option<LoudnessSummary>)>,
) -> Result<RenderSummary> {
    let t_start = std::time::Instant::now();
    if let (false, Some(p)) = (opts.qc, &plan.profile) {
        return Err(Error::Invalid(format!(
            "the session names the delivery profile '{}', which needs the loudness meter and \
             the QC report: render with QC (drop --no-qc) or remove the [delivery] profile",
            p.name
        )));
    }
    check_outputs(plan, &opts.out_dir)?;
    // One render at a time in a folder; then the temporaries of dead processes go.
    let _lock = crate::io::commit::OutputLock::acquire(&opts.out_dir)?;
    crate::io::commit::sweep_stale(&opts.out_dir);
    crate::io::commit::sweep_stale(&opts.out_dir.join("qc"));
    for pv in &plan.speed_versions {
        crate::io::commit::sweep_stale(&super::speed::version_dir(&opts.out_dir, &pv.version));
    }
    let cancelled = || -> Result<()> {
        match &opts.cancel {
            Some(c) if c.load(std::sync::atomic::Ordering::Relaxed) => {
                Err(Error::Cancelled(format!(
                    "the render into {} was stopped; nothing was delivered",
                    opts.out_dir.display()
                )))
            }
            _ => Ok(()),
        }
    };
    // A bad spotting list is an error before any audio is touched.
    let cues = crate::render_report::cues(plan)?;
    let bf = opts.block_frames.max(1);
    let total = plan.length;
    let judged_here = preset.is_none();
    let mix_passes = if plan.profile.is_some() && plan.normalize && preset.is_none() {
        2
    } else {
        1
    };
    // then one pass over the written files per speed version
    let passes = mix_passes + plan.speed_versions.len() as u64;
    let report = |pass: u64, pos: u64| -> Result<()> {
        if let Some(p) = progress {
            p(pass * total + pos, passes * total);
        }
        cancelled()
    };

    // Pass 1: measure, decide the gain and whether the limiter can hold the ceiling.
    let mut before: Option<LoudnessSummary> = None;
    let mut norm: Option<Normalization> = None;
    if let Some((n, b)) = preset {
        before = b;
        norm = Some(n);
    } else if let (Some(profile), true) = (&plan.profile, plan.normalize) {
        let m = measure_mix(plan, backend, bf, (0, plan.length), &|pos| report(0, pos))?
            .summary(&DialogueGate::default(), false);
        let n = crate::master::normalization(&m, profile)?;
        if !n.within_limiter_budget && profile.on_failure == OnFailure::Fail {
            return Err(Error::Delivery(format!(
                "cannot meet {}: the printmaster measures {:.1} LUFS ({}), and reaching {:.1} LUFS \
                 would need {:.1} dB of true-peak limiting, more than the {:.1} dB allowed \
                 (max_limiter_gain_reduction_db); remix, raise the allowance, or set \
                 on_failure = \"flag\"",
                profile.name,
                n.measured_lufs,
                if n.used_fallback {
                    "full programme"
                } else {
                    "measured as the profile asks"
                },
                n.target_lufs,
                n.predicted_gain_reduction_db,
                profile.max_limiter_gain_reduction_db
            )));
        }
        before = Some(m);
        norm = Some(n);
    }
    let gain = norm.as_ref().map_or(1.0, |n| n.gain as f32);
    let limiter = match (&plan.profile, &norm) {
        // Run the limiter when the peak after the gain comes within 1 dB of the ceiling
        // (the pass-1 true peak is a 4x estimate; the limiter verifies at 8x).
        (Some(p), Some(n))
            if n.predicted_true_peak_dbtp
                .is_none_or(|tp| tp > p.true_peak_ceiling_dbtp - 1.0) =>
        {
            Some(Limiter::new(
                plan.layout.len(),
                plan.sample_rate,
                p.true_peak_ceiling_dbtp,
                LimiterOptions::default(),
            )?)
        }
        _ => None,
    };

    // Pass 2: mix, level, limit, write, measure and check. The producer (read, insert,
    // sum, level, limit) works on block i + 1 while the consumer (write, meter, check)
    // works on block i; each keeps its own order, so the bytes do not depend on it.
    let time = TimeBase::new(plan.sample_rate, plan.start_tc);
    let outputs = plan
        .deliverables
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let watch = if opts.qc {
                Some(Watch::new(plan, backend, d, time)?)
            } else {
                None
            };
            Output::create(plan, d, i, &opts.out_dir, watch)
        })
        .collect::<Result<Vec<_>>>()?;
    let chans = plan.layout.channels();
    let mut consumer = Consumer {
        plan,
        dx_analyzer: if opts.qc {
            dialogue_analyzer(plan, backend)?
        } else {
            None
        },
        null: if opts.qc {
            Some(NullTest::new(
                "printmaster - dialogue - M&E",
                chans,
                time,
                &plan.qc,
            )?)
        } else {
            None
        },
        outputs,
    };
    let pop_at = plan.two_pop_sample().filter(|_| opts.qc);
    let pops = match pop_at {
        Some(at) => check_pops(plan, time, at)?,
        None => Vec::new(),
    };
    let mixer = Mixer::new(plan, backend)?;
    let mut producer = Producer {
        mixer,
        limiter,
        gain,
        block_frames: bf,
        block: MixBlock::default(),
        pending: Pending::default(),
        lim_gain: Vec::new(),
        done: false,
    };
    let mut ready = MixBlock::default();
    let mut next = MixBlock::default();
    let mut written = 0u64;
    let mut cur = producer.next(backend, &mut ready)?;
    while let Some(k) = cur {
        #[cfg(not(target_arch = "wasm32"))]
        let (made, used) = rayon::join(
            || producer.next(&mut *backend, &mut next),
            || consumer.consume(&ready, k),
        );
        #[cfg(target_arch = "wasm32")]
        let (used, made) = (
            consumer.consume(&ready, k),
            producer.next(&mut *backend, &mut next),
        );
        used?;
        cur = made?;
        std::mem::swap(&mut ready, &mut next);
        written += k as u64;
        report(mix_passes - 1, written)?;
    }
    if written != total {
        return Err(Error::Backend(format!(
            "render produced {written} frames, expected {total}"
        )));
    }
    let Consumer {
        dx_analyzer,
        null,
        mut outputs,
        ..
    } = consumer;
    let dx_tail = match dx_analyzer {
        Some(mut a) => a.finish()?,
        None => Vec::new(),
    };
    for w in outputs.iter_mut().filter_map(|o| o.watch.as_mut()) {
        w.finish(&dx_tail)?;
    }
    let limiter = producer.limiter;

    // Loudness of each deliverable; the profile decides whether the render may stand.
    let gate = DialogueGate::default();
    let watches: Vec<Option<Watch>> = outputs.iter_mut().map(|o| o.watch.take()).collect();
    let summaries: Vec<Option<LoudnessSummary>> = watches
        .iter()
        .map(|w| w.as_ref().map(|w| w.meter.summary(&gate, true)))
        .collect();
    let lim_stats = limiter.as_ref().map(|l| l.stats());
    let mut failures = Vec::new();
    if let Some(profile) = &plan.profile {
        for (d, s) in plan.deliverables.iter().zip(&summaries) {
            if let (DeliverableKind::Printmaster, Some(s)) = (d.kind, s) {
                let c = crate::master::check(s, profile);
                if !c.passed {
                    failures.push(format!("{}: {}", d.name, c.messages.join("; ")));
                }
            }
        }
        if !failures.is_empty() && profile.on_failure == OnFailure::Fail && judged_here {
            return Err(Error::Delivery(format!(
                "the render does not meet {} (nothing was delivered): {}",
                profile.name,
                failures.join(" | ")
            )));
        }
    }
    // The bext v2 loudness fields (EBU Tech 3285), then finish every file (header, sync,
    // hash) in parallel, and only when all of them are complete rename them into place:
    // a failure before that leaves nothing at any final path.
    for (o, s) in outputs.iter_mut().zip(&summaries) {
        let Some(s) = s else { continue };
        for w in &mut o.writers {
            if let Some(mut b) = w.bext().cloned() {
                b.loudness = s.bext();
                w.set_bext(b)?;
            }
        }
    }
    let finish = |o: Output| -> Result<(PlanDeliverable, Vec<FinishedFile>)> {
        let files = o
            .writers
            .into_iter()
            .map(WavWriter::finish_unrenamed)
            .collect::<Result<Vec<_>>>()?;
        Ok((o.plan, files))
    };
    #[cfg(not(target_arch = "wasm32"))]
    let finished: Vec<_> = {
        use rayon::prelude::*;
        outputs
            .into_par_iter()
            .map(finish)
            .collect::<Result<Vec<_>>>()?
    };
    #[cfg(target_arch = "wasm32")]
    let finished: Vec<_> = outputs
        .into_iter()
        .map(finish)
        .collect::<Result<Vec<_>>>()?;
    // Finishing long files takes a while: a stop asked meanwhile is honoured here.
    cancelled()?;
    let mut staged = Vec::new();
    let mut results = Vec::new();
    for ((d, done), s) in finished.into_iter().zip(&summaries) {
        let mut files = Vec::new();
        for f in done {
            let (st, w) = f.into_staged();
            staged.push(st);
            files.push(w);
        }
        let peak: Vec<Option<f64>> = files
            .iter()
            .flat_map(|f| f.peak.iter().map(|&p| peak_db(p)))
            .collect();
        results.push(DeliverableResult {
            name: d.name.clone(),
            kind: d.kind,
            bus: d.bus.map(|b| plan.buses[b].id.clone()),
            layout: d.layout.name().to_string(),
            channels: d
                .layout
                .channels()
                .iter()
                .map(|c| c.label().to_string())
                .collect(),
            format: d.format,
            frames: total,
            duration_s: total as f64 / plan.sample_rate as f64,
            files,
            peak_dbfs: peak,
            loudness: s.as_ref().map(LoudnessBrief::from).unwrap_or_default(),
        });
    }
    // The speed versions, converted from the staged files and staged beside them.
    let made_dirs: Vec<PathBuf> = plan
        .speed_versions
        .iter()
        .map(|pv| super::speed::version_dir(&opts.out_dir, &pv.version))
        .filter(|d| !d.is_dir())
        .collect();
    let remove_made_dirs = || {
        for d in &made_dirs {
            let _ = std::fs::remove_dir(d);
        }
    };
    let (speeds, speed_staged) = match super::speed::render_versions(
        plan,
        &opts.out_dir,
        &results,
        &staged,
        opts.qc,
        &|v, pos| report(mix_passes + v as u64, pos),
    ) {
        Ok(r) => r,
        Err(e) => {
            drop(std::mem::take(&mut staged));
            remove_made_dirs();
            return Err(e);
        }
    };
    staged.extend(speed_staged);
    let manifest = opts.out_dir.join(MANIFEST);
    staged.push(crate::io::commit::Staged::write(
        &manifest,
        manifest_text(
            &opts.out_dir,
            results
                .iter()
                .chain(speeds.iter().flat_map(|s| &s.deliverables)),
        )
        .as_bytes(),
    )?);
    let info = backend.info();
    let cpu = crate::backend::CpuInfo::detect();

    // The QC report, staged beside the files and committed with them.
    let qc_dir = opts.out_dir.join("qc");
    let report_paths = [qc_dir.join("report.json"), qc_dir.join("report.html")];
    let mut made_qc_dir = false;
    let mut verdict = (Vec::new(), Vec::new());
    let (qc_report, qc_status) = if opts.qc {
        let summaries: Vec<LoudnessSummary> = summaries.into_iter().flatten().collect();
        let mut qc_report =
            crate::render_report::build_report(crate::render_report::ReportInputs {
                plan,
                backend: &info,
                results: &results,
                summaries: &summaries,
                watches: watches.into_iter().flatten().map(|w| w.detectors).collect(),
                null: null.expect("qc on").finish(),
                pops,
                before: before.as_ref(),
                normalization: norm.as_ref(),
                limiter: lim_stats,
                cues,
                speeds: &speeds,
            });
        qc_report.backend.cpu = Some(cpu.clone());
        verdict = crate::render_report::verdict_lines(&qc_report);
        if !qc_dir.is_dir() {
            std::fs::create_dir_all(&qc_dir).map_err(|e| Error::io(&qc_dir, e))?;
            made_qc_dir = true;
        }
        let reports = (|| -> Result<Vec<crate::io::commit::Staged>> {
            Ok(vec![
                crate::io::commit::Staged::write(
                    &report_paths[0],
                    crate::qc::to_json(&qc_report)?.as_bytes(),
                )?,
                crate::io::commit::Staged::write(
                    &report_paths[1],
                    crate::qc::html::render(&qc_report).as_bytes(),
                )?,
            ])
        })();
        match reports {
            Ok(r) => staged.extend(r),
            Err(e) => {
                // The staged files are removed as `staged` drops.
                drop(std::mem::take(&mut staged));
                if made_qc_dir {
                    let _ = std::fs::remove_dir(&qc_dir);
                }
                remove_made_dirs();
                return Err(e);
            }
        }
        (
            Some(report_paths[1].clone()),
            qc_report.status.as_str().to_string(),
        )
    } else {
        (None, "not checked".to_string())
    };
    // Everything is complete: deliver it all at once, replacing the previous print (a
    // plain print retires an old QC report, which would not describe it).
    let retire: &[PathBuf] = if opts.qc { &[] } else { &report_paths };
    if let Err(e) = crate::io::commit::commit(staged, retire) {
        if made_qc_dir {
            let _ = std::fs::remove_dir(&qc_dir);
        }
        remove_made_dirs();
        return Err(e);
    }
    let (qc_issues, qc_loudness) = verdict;

    let wall = t_start.elapsed().as_secs_f64();
    let dur = total as f64 / plan.sample_rate as f64;
    Ok(RenderSummary {
        title: plan.title.clone(),
        reel: plan.reel,
        session: plan.session_path.clone(),
        session_sha256: plan.session_sha256.clone(),
        sample_rate: plan.sample_rate,
        frame_rate: plan.frame_rate.name().to_string(),
        start_timecode: plan.start_tc.to_string(),
        frames: total,
        duration_s: dur,
        backend: info,
        deliverables: results,
        speed_versions: speeds,
        manifest,
        qc_report,
        qc_status,
        qc_problems: failures,
        normalization: norm.map(|plan| NormalizationResult {
            plan,
            limiter: lim_stats,
        }),
        qc_issues,
        qc_loudness,
        conversions: crate::render_report::conversions(plan),
        cpu,
        wall_s: wall,
        x_realtime: if wall > 0.0 {
            dur / wall
        } else {
            f64::INFINITY
        },
    })
}
