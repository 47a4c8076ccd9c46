//! Host side of `shaders/sum_stems.wgsl`.

use crate::context::{GpuContext, grid, map_read};
use dubstage_core::Result;
use dubstage_core::backend::SumJob;
use wgpu::BufferUsages as U;

const WGSL: &str = include_str!("../../../shaders/sum_stems.wgsl");
const GROUP: u32 = 256;
/// Default upper bound on frames per dispatch (about 10 s at 48 kHz): bounds GPU
/// memory whatever the block the caller hands in.
const DEFAULT_CHUNK: usize = 1 << 19;

/// Time spent in each phase of the last [`SumKernel::run`], in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Host to GPU copies (queue writes).
    pub upload: f64,
    /// Dispatch and wait.
    pub compute: f64,
    /// GPU to host copies (map and copy out).
    pub readback: f64,
}

pub(crate) struct SumKernel {
    pipeline: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    /// Buffers sized for the current (inputs, envelopes, outputs, chunk) shape.
    bufs: Option<Bufs>,
    pub timings: Timings,
}

struct Bufs {
    key: (usize, usize, usize, usize),
    inputs: wgpu::Buffer,
    envelopes: wgpu::Buffer,
    envelope_of: wgpu::Buffer,
    matrix: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

impl SumKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        SumKernel {
            pipeline: ctx.pipeline("sum_stems", WGSL, "main"),
            params: ctx.buffer("sum_stems params", 16, U::UNIFORM | U::COPY_DST),
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
        let mut host = Vec::new();
        let mut start = 0;
        while start < job.frames {
            let n = chunk.min(job.frames - start);
            let t0 = std::time::Instant::now();
            for (i, x) in job.inputs.iter().enumerate() {
                ctx.queue.write_buffer(
                    &b.inputs,
                    (i * n * 4) as u64,
                    bytemuck::cast_slice(&x[start..start + n]),
                );
            }
            for (e, x) in job.envelopes.iter().enumerate() {
                ctx.queue.write_buffer(
                    &b.envelopes,
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
                .write_buffer(&self.params, 0, bytemuck::cast_slice(&params));
            let t1 = std::time::Instant::now();
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &b.bind, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
            let bytes = (n * no * 4) as u64;
            enc.copy_buffer_to_buffer(&b.out, 0, &b.readback, 0, bytes);
            ctx.queue.submit([enc.finish()]);
            ctx.wait()?;
            let t2 = std::time::Instant::now();
            map_read(ctx, &b.readback, bytes, &mut host)?;
            for (o, dst) in out[..no].iter_mut().enumerate() {
                dst[start..start + n].copy_from_slice(&host[o * n..(o + 1) * n]);
            }
            let t3 = std::time::Instant::now();
            self.timings.upload += (t1 - t0).as_secs_f64();
            self.timings.compute += (t2 - t1).as_secs_f64();
            self.timings.readback += (t3 - t2).as_secs_f64();
            start += n;
        }
        Ok(())
    }

    fn alloc(&self, ctx: &GpuContext, key: (usize, usize, usize, usize)) -> Bufs {
        let (ni, ne, no, chunk) = key;
        let st = U::STORAGE | U::COPY_DST;
        let inputs = ctx.buffer("sum inputs", (ni * chunk * 4) as u64, st);
        let envelopes = ctx.buffer("sum envelopes", (ne * chunk * 4) as u64, st);
        let envelope_of = ctx.buffer("sum envelope_of", (ni * 4) as u64, st);
        let matrix = ctx.buffer("sum matrix", (no * ni * 4) as u64, st);
        let out = ctx.buffer("sum out", (no * chunk * 4) as u64, U::STORAGE | U::COPY_SRC);
        let readback = ctx.buffer(
            "sum readback",
            (no * chunk * 4) as u64,
            U::MAP_READ | U::COPY_DST,
        );
        let layout = self.pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry> = [
            &self.params,
            &inputs,
            &envelopes,
            &envelope_of,
            &matrix,
            &out,
        ]
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
        Bufs {
            key,
            inputs,
            envelopes,
            envelope_of,
            matrix,
            out,
            readback,
            bind,
        }
    }
}
