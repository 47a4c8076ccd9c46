//! Host side of `shaders/sum_stems.wgsl`.

use crate::context::{GpuContext, grid};
use dubstage_core::backend::SumJob;
use dubstage_core::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;
use wgpu::BufferUsages as U;

const WGSL: &str = include_str!("../../../shaders/sum_stems.wgsl");
const GROUP: u32 = 256;
/// Default upper bound on frames per dispatch (about 10 s at 48 kHz): bounds GPU
/// memory whatever the block the caller hands in.
const DEFAULT_CHUNK: usize = 1 << 19;

/// Time spent in each phase of the last `Backend::sum` on the GPU, in seconds.
/// Chunks are double-buffered, so the phases of different chunks overlap:
/// `upload` is host time spent queueing uploads and dispatches, `compute` time
/// waiting for the GPU, `readback` time copying results out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Host to GPU copies and dispatch (queue writes, submit).
    pub upload: f64,
    /// Waiting for the GPU.
    pub compute: f64,
    /// GPU to host copies (mapped range to the output vectors).
    pub readback: f64,
}

pub(crate) struct SumKernel {
    pipeline: wgpu::ComputePipeline,
    /// Buffers sized for the current (inputs, envelopes, outputs, chunk) shape.
    bufs: Option<Bufs>,
    pub timings: Timings,
}

/// Two sets of chunk buffers: while the GPU sums chunk k in one, the host
/// uploads chunk k + 1 into the other and copies chunk k - 1's result out.
struct Bufs {
    key: (usize, usize, usize, usize),
    envelope_of: wgpu::Buffer,
    matrix: wgpu::Buffer,
    sets: [Set; 2],
}

struct Set {
    params: wgpu::Buffer,
    inputs: wgpu::Buffer,
    envelopes: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind: wgpu::BindGroup,
    /// 1 = mapping requested, 2 = mapped, 3 = map failed.
    mapped: Arc<AtomicU8>,
}

/// A chunk submitted and not yet copied out.
struct Pending {
    set: usize,
    start: usize,
    frames: usize,
    submission: wgpu::SubmissionIndex,
}

impl SumKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        SumKernel {
            pipeline: ctx.pipeline("sum_stems", WGSL, "main"),
            bufs: None,
            timings: Timings::default(),
        }
    }

    /// Frames per dispatch for a job of this shape on this adapter.
    pub fn chunk_frames(ctx: &GpuContext, job: &SumJob<'_>, cap: Option<usize>) -> usize {
        let widest = job
            .inputs
            .len()
            .max(job.envelopes.len())
            .max(job.outputs)
            .max(1) as u64;
        let by_binding = (ctx.max_binding_bytes() / (4 * widest)) as usize;
        // The shader indexes outputs x frames with u32.
        let by_index = (u32::MAX as usize / 2) / job.outputs.max(1);
        let limit = cap.unwrap_or(DEFAULT_CHUNK);
        limit.min(by_binding).min(by_index).max(1)
    }

    pub fn run(
        &mut self,
        ctx: &GpuContext,
        job: &SumJob<'_>,
        out: &mut [Vec<f32>],
        cap: Option<usize>,
    ) -> Result<()> {
        self.timings = Timings::default();
        let (ni, ne, no) = (job.inputs.len(), job.envelopes.len(), job.outputs);
        for o in out[..no].iter_mut() {
            o.clear();
            o.resize(job.frames, 0.0);
        }
        if job.frames == 0 || no == 0 {
            return Ok(());
        }
        let chunk = Self::chunk_frames(ctx, job, cap).min(job.frames);
        let key = (ni, ne, no, chunk);
        if self.bufs.as_ref().map(|b| b.key) != Some(key) {
            self.bufs = Some(self.alloc(ctx, key));
        }
        let b = self.bufs.as_ref().expect("allocated above");
        let env_of: Vec<u32> = job.envelope_of.iter().map(|&e| e as u32).collect();
        ctx.queue
            .write_buffer(&b.envelope_of, 0, bytemuck::cast_slice(&env_of));
        ctx.queue
            .write_buffer(&b.matrix, 0, bytemuck::cast_slice(job.matrix));
        let mut pending: Option<Pending> = None;
        let mut start = 0;
        let mut k = 0;
        while start < job.frames {
            let n = chunk.min(job.frames - start);
            let set = &b.sets[k % 2];
            let t0 = Instant::now();
            for (i, x) in job.inputs.iter().enumerate() {
                ctx.queue.write_buffer(
                    &set.inputs,
                    (i * n * 4) as u64,
                    bytemuck::cast_slice(&x[start..start + n]),
                );
            }
            for (e, x) in job.envelopes.iter().enumerate() {
                ctx.queue.write_buffer(
                    &set.envelopes,
                    (e * n * 4) as u64,
                    bytemuck::cast_slice(&x[start..start + n]),
                );
            }
            let (gx, gy) = grid(
                (n * no) as u64,
                GROUP,
                ctx.limits.max_compute_workgroups_per_dimension,
            );
            let params = [n as u32, ni as u32, no as u32, gx];
            ctx.queue
                .write_buffer(&set.params, 0, bytemuck::cast_slice(&params));
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &set.bind, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
            let bytes = (n * no * 4) as u64;
            enc.copy_buffer_to_buffer(&set.out, 0, &set.readback, 0, bytes);
            let submission = ctx.queue.submit([enc.finish()]);
            let flag = set.mapped.clone();
            flag.store(1, Ordering::SeqCst);
            set.readback
                .slice(..bytes)
                .map_async(wgpu::MapMode::Read, move |r| {
                    flag.store(if r.is_ok() { 2 } else { 3 }, Ordering::SeqCst);
                });
            self.timings.upload += t0.elapsed().as_secs_f64();
            if let Some(p) = pending.take() {
                Self::collect(ctx, b, p, no, out, &mut self.timings)?;
            }
            pending = Some(Pending {
                set: k % 2,
                start,
                frames: n,
                submission,
            });
            start += n;
            k += 1;
        }
        if let Some(p) = pending.take() {
            Self::collect(ctx, b, p, no, out, &mut self.timings)?;
        }
        Ok(())
    }

    /// Waits for a submitted chunk and copies its outputs into `out`.
    fn collect(
        ctx: &GpuContext,
        b: &Bufs,
        p: Pending,
        no: usize,
        out: &mut [Vec<f32>],
        timings: &mut Timings,
    ) -> Result<()> {
        let set = &b.sets[p.set];
        let t0 = Instant::now();
        ctx.wait_for(Some(p.submission))?;
        if set.mapped.load(Ordering::SeqCst) == 1 {
            // The map callback runs on the poll after the copy completes.
            ctx.wait()?;
        }
        if set.mapped.load(Ordering::SeqCst) != 2 {
            return Err(Error::Backend("GPU readback of the stem sum failed".into()));
        }
        let t1 = Instant::now();
        let n = p.frames;
        {
            let view = set
                .readback
                .slice(..(n * no * 4) as u64)
                .get_mapped_range()
                .map_err(|e| Error::Backend(format!("GPU readback failed: {e}")))?;
            let host: &[f32] = bytemuck::cast_slice(&view);
            for (o, dst) in out[..no].iter_mut().enumerate() {
                dst[p.start..p.start + n].copy_from_slice(&host[o * n..(o + 1) * n]);
            }
        }
        set.readback.unmap();
        set.mapped.store(0, Ordering::SeqCst);
        timings.compute += (t1 - t0).as_secs_f64();
        timings.readback += t1.elapsed().as_secs_f64();
        Ok(())
    }

    fn alloc(&self, ctx: &GpuContext, key: (usize, usize, usize, usize)) -> Bufs {
        let (ni, ne, no, chunk) = key;
        let st = U::STORAGE | U::COPY_DST;
        let envelope_of = ctx.buffer("sum envelope_of", (ni * 4) as u64, st);
        let matrix = ctx.buffer("sum matrix", (no * ni * 4) as u64, st);
        let layout = self.pipeline.get_bind_group_layout(0);
        let set = || {
            let params = ctx.buffer("sum_stems params", 16, U::UNIFORM | U::COPY_DST);
            let inputs = ctx.buffer("sum inputs", (ni * chunk * 4) as u64, st);
            let envelopes = ctx.buffer("sum envelopes", (ne * chunk * 4) as u64, st);
            let out = ctx.buffer("sum out", (no * chunk * 4) as u64, U::STORAGE | U::COPY_SRC);
            let readback = ctx.buffer(
                "sum readback",
                (no * chunk * 4) as u64,
                U::MAP_READ | U::COPY_DST,
            );
            let entries: Vec<wgpu::BindGroupEntry> =
                [&params, &inputs, &envelopes, &envelope_of, &matrix, &out]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupEntry {
                        binding: i as u32,
                        resource: b.as_entire_binding(),
                    })
                    .collect();
            let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("sum_stems"),
                layout: &layout,
                entries: &entries,
            });
            Set {
                params,
                inputs,
                envelopes,
                out,
                readback,
                bind,
                mapped: Arc::new(AtomicU8::new(0)),
            }
        };
        let sets = [set(), set()];
        Bufs {
            key,
            envelope_of,
            matrix,
            sets,
        }
    }
}
