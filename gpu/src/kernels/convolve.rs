//! Streaming FFT convolution on the GPU (`shaders/convolve.wgsl` + `shaders/fft.wgsl`).
//!
//! [`GpuConvolver`] runs the algorithm of the CPU reference
//! `dubstage_core::stem::convolve::Convolver` (uniformly partitioned
//! overlap-save, see that module's documentation) over spans of up to `K`
//! blocks per submission, all channels batched:
//!
//! ```text
//! host: windows [x_{k-1} | x_k] of C channels x K blocks ─ upload ─►
//!   rfft (C·K transforms of 2B) ─► mac (Σ routes Σ partitions, FDL on the GPU)
//!   ─► push (complete blocks into the FDL) ─► irfft (C·K) ─► extract (samples B..2B)
//!   ─ readback ─► host: + dry
//! ```
//!
//! The IR partition spectra come from `dubstage_core::stem::convolve::prepare_ir`
//! (the CPU code: same validation, predelay, normalization, wet gain, computed
//! in f64), are rounded to f32 and uploaded once. A partial last block is
//! transformed with zeros for the unknown samples (zero latency) and
//! recomputed when the next call completes it, as on the CPU.

use crate::context::{GpuContext, grid, map_read};
use crate::kernels::fft::{GpuFft, RealChain, twiddles};
use crate::kernels::sum_stems::Timings;
use dubstage_core::backend::ConvolveEngine;
use dubstage_core::stem::convolve::{ConvolverOptions, Ir, IrMap, prepare_ir};
use dubstage_core::{Error, Result};
use std::sync::Arc;
use std::time::Instant;
use wgpu::BufferUsages as U;

const WGSL: &str = include_str!("../../../shaders/convolve.wgsl");
const GROUP: u32 = 256;
/// Device memory the per-span buffers may take (the IR and FDL come on top).
const SPAN_BUDGET: usize = 256 << 20;

/// The compiled `convolve.wgsl` entry points and the FFT, shared by every
/// [`GpuConvolver`] of a backend.
pub(crate) struct ConvolvePipelines {
    mac: wgpu::ComputePipeline,
    push: wgpu::ComputePipeline,
    extract: wgpu::ComputePipeline,
    fft: GpuFft,
}

impl ConvolvePipelines {
    pub fn new(ctx: &Arc<GpuContext>) -> ConvolvePipelines {
        ConvolvePipelines {
            mac: ctx.pipeline("convolve mac", WGSL, "mac"),
            push: ctx.pipeline("convolve push", WGSL, "push"),
            extract: ctx.pipeline("convolve extract", WGSL, "extract"),
            fft: GpuFft::new(ctx.clone()),
        }
    }
}

/// Dispatches for spans of `k` blocks.
struct SpanPlan {
    k: usize,
    params: wgpu::Buffer,
    fwd: RealChain,
    inv: RealChain,
    mac: wgpu::BindGroup,
    push: wgpu::BindGroup,
    extract: wgpu::BindGroup,
}

/// A streaming multi-channel convolution on the GPU; the twin of the CPU
/// `Convolver` (same output within f32 rounding, same state across calls,
/// any chunking). Made by `GpuBackend::convolver` (through
/// `dubstage_core::backend::Backend::convolver`) or [`GpuConvolver::new`].
pub struct GpuConvolver {
    ctx: Arc<GpuContext>,
    pipes: Arc<ConvolvePipelines>,
    b: usize,
    parts: usize,
    channels: usize,
    dry: f32,
    tail: usize,
    kmax: usize,
    routes: wgpu::Buffer,
    h: wgpu::Buffer,
    fdl: wgpu::Buffer,
    table: wgpu::Buffer,
    win: wgpu::Buffer,
    x: wgpu::Buffer,
    y: wgpu::Buffer,
    sa: wgpu::Buffer,
    sb: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    plans: Vec<SpanPlan>,
    /// Per channel `[previous block | current block]`, current valid to `fill`.
    hist: Vec<Vec<f32>>,
    fill: usize,
    /// Absolute index of the current block, mod P.
    slot: usize,
    host: Vec<f32>,
    staging: Vec<f32>,
    timings: Timings,
}

impl GpuConvolver {
    pub(crate) fn new(
        ctx: Arc<GpuContext>,
        pipes: Arc<ConvolvePipelines>,
        ir: &Ir,
        channels: usize,
        map: &IrMap,
        opts: &ConvolverOptions,
        max_chunk: Option<usize>,
    ) -> Result<GpuConvolver> {
        let prep = prepare_ir(ir, channels, map, opts)?;
        let (b, parts) = (prep.block, prep.parts);
        let bins = b + 1;
        let n = 2 * b;
        let c = channels.max(1);
        let max_bind = ctx.max_binding_bytes() as usize;
        let per_block = c * n * 4; // the largest per-block buffers: windows, scratch, spectra ≈ this
        let mut kmax = (SPAN_BUDGET / (7 * per_block)).max(1);
        kmax = kmax.min((max_bind / (c * bins * 8)).max(1));
        if let Some(m) = max_chunk {
            kmax = kmax.min(m.div_ceil(b).max(1));
        }
        let ir_bytes = prep.spectra.len() * parts * bins * 8;
        let fdl_bytes = c * parts * bins * 8;
        if ir_bytes.max(fdl_bytes).max(c * bins * 8) > max_bind {
            return Err(Error::Backend(format!(
                "convolve: the impulse response {} needs {} MB in one GPU buffer; this adapter allows {} MB",
                ir.path.display(),
                ir_bytes.max(fdl_bytes) >> 20,
                max_bind >> 20
            )));
        }
        // Route table: offsets per output, then (input, IR channel) pairs.
        let mut rt: Vec<u32> = Vec::new();
        let mut off = 0u32;
        for r in &prep.routes {
            rt.push(off);
            off += r.len() as u32;
        }
        rt.push(off);
        for r in &prep.routes {
            for &(i, j) in r {
                rt.extend([i as u32, j as u32]);
            }
        }
        let st = U::STORAGE | U::COPY_DST | U::COPY_SRC;
        let routes = ctx.buffer(
            "convolve routes",
            (rt.len() * 4) as u64,
            U::STORAGE | U::COPY_DST,
        );
        ctx.queue
            .write_buffer(&routes, 0, bytemuck::cast_slice(&rt));
        let hv: Vec<f32> = prep
            .spectra
            .iter()
            .flat_map(|s| s.iter().flat_map(|c| [c.re as f32, c.im as f32]))
            .collect();
        let h = ctx.buffer(
            "convolve ir spectra",
            (hv.len() * 4) as u64,
            U::STORAGE | U::COPY_DST,
        );
        ctx.queue.write_buffer(&h, 0, bytemuck::cast_slice(&hv));
        drop(hv);
        let fdl = ctx.buffer("convolve fdl", fdl_bytes as u64, st);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&fdl, 0, None);
        ctx.queue.submit([enc.finish()]);
        let table = ctx.buffer(
            "convolve twiddles",
            (n * 8) as u64,
            U::STORAGE | U::COPY_DST,
        );
        ctx.queue
            .write_buffer(&table, 0, bytemuck::cast_slice(&twiddles(n)));
        let kb = c * kmax;
        let win = ctx.buffer("convolve windows", (kb * n * 4) as u64, st);
        let x = ctx.buffer("convolve x", (kb * bins * 8) as u64, st);
        let y = ctx.buffer("convolve y", (kb * bins * 8) as u64, st);
        let sa = ctx.buffer("convolve scratch a", (kb * b * 8) as u64, st);
        let sb = ctx.buffer("convolve scratch b", (kb * b * 8) as u64, st);
        let out = ctx.buffer("convolve out", (kb * b * 4) as u64, st);
        let readback = ctx.buffer(
            "convolve readback",
            (kb * b * 4) as u64,
            U::MAP_READ | U::COPY_DST,
        );
        ctx.wait()?;
        Ok(GpuConvolver {
            ctx,
            pipes,
            b,
            parts,
            channels,
            dry: prep.dry as f32,
            tail: prep.tail,
            kmax,
            routes,
            h,
            fdl,
            table,
            win,
            x,
            y,
            sa,
            sb,
            out,
            readback,
            plans: Vec::new(),
            hist: vec![vec![0.0; n]; channels],
            fill: 0,
            slot: 0,
            host: Vec::new(),
            staging: Vec::new(),
            timings: Timings::default(),
        })
    }

    /// Partition size `B`.
    pub fn block_frames(&self) -> usize {
        self.b
    }
    /// Number of partitions `P`.
    pub fn partitions(&self) -> usize {
        self.parts
    }
    /// Blocks per GPU submission at most.
    pub fn max_span_blocks(&self) -> usize {
        self.kmax
    }
    /// Upload / compute / readback seconds summed over all calls so far:
    /// upload = building the windows, queue writes, encoding and `submit`
    /// (software adapters such as lavapipe run the work inside `submit`, so
    /// there it includes compute); compute = waiting for the GPU; readback =
    /// mapping and the overlap-save output with the dry signal.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    fn bind(&self, pipe: &wgpu::ComputePipeline, bufs: &[(u32, &wgpu::Buffer)]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = bufs
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("convolve"),
                layout: &pipe.get_bind_group_layout(0),
                entries: &entries,
            })
    }

    fn plan(&self, k: usize) -> SpanPlan {
        let (b, c) = (self.b, self.channels);
        let params = self
            .ctx
            .buffer("convolve params", 48, U::UNIFORM | U::COPY_DST);
        let p = &self.pipes;
        let fwd = p.fft.real_chain(
            b,
            c * k,
            false,
            &self.table,
            &self.win,
            &self.sa,
            &self.sb,
            &self.x,
        );
        let inv = p.fft.real_chain(
            b,
            c * k,
            true,
            &self.table,
            &self.y,
            &self.sa,
            &self.sb,
            &self.y,
        );
        let mac = self.bind(
            &p.mac,
            &[
                (0, &params),
                (1, &self.routes),
                (2, &self.h),
                (3, &self.x),
                (4, &self.fdl),
                (5, &self.y),
            ],
        );
        let push = self.bind(&p.push, &[(0, &params), (3, &self.x), (4, &self.fdl)]);
        let extract = self.bind(
            &p.extract,
            &[(0, &params), (6, &inv.result), (7, &self.out)],
        );
        SpanPlan {
            k,
            params,
            fwd,
            inv,
            mac,
            push,
            extract,
        }
    }

    /// One span: `n` frames of `planar` from `pos`, with `fill + n ≤ kmax · B`.
    fn span(&mut self, planar: &mut [Vec<f32>], pos: usize, n: usize) -> Result<()> {
        let t0 = Instant::now();
        let (b, c, parts) = (self.b, self.channels, self.parts);
        let bins = b + 1;
        let f = self.fill;
        let k = (f + n).div_ceil(b);
        let complete = (f + n) / b;
        let keep = complete.min(parts);
        // s = [previous block | current block so far | input | zeros], per channel.
        let slen = (k + 1) * b;
        self.staging.clear();
        self.staging.resize(c * k * 2 * b, 0.0);
        let mut s = vec![0.0f32; slen];
        for (i, (hist, x)) in self.hist.iter_mut().zip(planar.iter()).enumerate() {
            s.fill(0.0);
            s[..b + f].copy_from_slice(&hist[..b + f]);
            s[b + f..b + f + n].copy_from_slice(&x[pos..pos + n]);
            for kk in 0..k {
                let w = (i * k + kk) * 2 * b;
                self.staging[w..w + 2 * b].copy_from_slice(&s[kk * b..kk * b + 2 * b]);
            }
            let nf = (f + n) % b;
            hist.fill(0.0);
            hist[..b + nf].copy_from_slice(&s[complete * b..complete * b + b + nf]);
        }
        let at = match self.plans.iter().position(|p| p.k == k) {
            Some(i) => i,
            None => {
                if self.plans.len() >= 4 {
                    self.plans.remove(0);
                }
                let p = self.plan(k);
                self.plans.push(p);
                self.plans.len() - 1
            }
        };
        let plan = &self.plans[at];
        // The three kernels read `groups_x` from one uniform, so their grids
        // share the x extent (that of the largest, `extract`); each has its
        // own row count and bounds check.
        let max_dim = self.ctx.limits.max_compute_workgroups_per_dimension;
        let gmax = grid((c * k * b) as u64, GROUP, max_dim).0;
        let rows =
            |items: usize| (items as u64).div_ceil(GROUP as u64).div_ceil(gmax as u64) as u32;
        let prm: [u32; 12] = [
            bins as u32,
            parts as u32,
            k as u32,
            self.slot as u32,
            c as u32,
            complete as u32,
            keep as u32,
            gmax,
            b as u32,
            c as u32,
            0,
            0,
        ];
        let q = &self.ctx.queue;
        q.write_buffer(&plan.params, 0, bytemuck::cast_slice(&prm));
        q.write_buffer(&self.win, 0, bytemuck::cast_slice(&self.staging));
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            plan.fwd.encode(&mut pass);
            pass.set_pipeline(&self.pipes.mac);
            pass.set_bind_group(0, &plan.mac, &[]);
            pass.dispatch_workgroups(gmax, rows(c * k * bins), 1);
            if keep > 0 {
                pass.set_pipeline(&self.pipes.push);
                pass.set_bind_group(0, &plan.push, &[]);
                pass.dispatch_workgroups(gmax, rows(c * keep * bins), 1);
            }
            plan.inv.encode(&mut pass);
            pass.set_pipeline(&self.pipes.extract);
            pass.set_bind_group(0, &plan.extract, &[]);
            pass.dispatch_workgroups(gmax, rows(c * k * b), 1);
        }
        let bytes = (c * k * b * 4) as u64;
        enc.copy_buffer_to_buffer(&self.out, 0, &self.readback, 0, bytes);
        let idx = q.submit([enc.finish()]);
        let t1 = Instant::now();
        self.ctx.wait_for(Some(idx))?;
        let t2 = Instant::now();
        map_read(&self.ctx, &self.readback, bytes, &mut self.host)?;
        // `planar` still holds the input: the dry signal.
        for (o, ch) in planar.iter_mut().enumerate() {
            let wet = &self.host[o * k * b + f..o * k * b + f + n];
            for (y, &w) in ch[pos..pos + n].iter_mut().zip(wet) {
                *y = w + self.dry * *y;
            }
        }
        self.slot = (self.slot + complete) % parts;
        self.fill = (f + n) % b;
        let t3 = Instant::now();
        self.timings.upload += (t1 - t0).as_secs_f64();
        self.timings.compute += (t2 - t1).as_secs_f64();
        self.timings.readback += (t3 - t2).as_secs_f64();
        Ok(())
    }
}

impl ConvolveEngine for GpuConvolver {
    fn process_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> Result<()> {
        if planar.len() != self.channels || planar.iter().any(|c| c.len() < frames) {
            return Err(Error::Backend(format!(
                "convolve: {} channel buffers (need {} of at least {frames} frames)",
                planar.len(),
                self.channels
            )));
        }
        let mut pos = 0;
        while pos < frames {
            let take = (self.kmax * self.b - self.fill).min(frames - pos);
            self.span(planar, pos, take)?;
            pos += take;
        }
        Ok(())
    }
    fn tail_frames(&self) -> usize {
        self.tail
    }
    fn block_frames(&self) -> usize {
        self.b
    }
}
