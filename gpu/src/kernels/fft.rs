//! Batched FFTs on the GPU (`shaders/fft.wgsl`) and their CPU twin.
//!
//! Complex transforms of any power-of-two size from 2 up to 2^20 (and beyond,
//! within the adapter's binding size), batched; real-to-complex transforms of
//! size 2n through an n-point complex transform and a post-processing step.
//! Forward transforms use `exp(-2πi jk/n)`; inverses are unscaled (as in RustFFT).
//!
//! The CPU twin ([`fft_pass`], [`real_post`], [`fft`], [`rfft`]) is written to
//! read like the shader: same Stockham indexing, same twiddle table, same order
//! of operations.

use crate::context::{GpuContext, grid, map_read};
use dubstage_core::{Error, Result};
use std::sync::Arc;
use wgpu::BufferUsages as U;

const WGSL: &str = include_str!("../../../shaders/fft.wgsl");
const GROUP: u32 = 256;

/// A complex number as the shader stores it: `[re, im]`.
pub type C32 = [f32; 2];

/// `tw[m] = exp(-2πi m / t)` for `m` in `0..t`, computed in f64.
pub fn twiddles(t: usize) -> Vec<C32> {
    (0..t)
        .map(|m| {
            let a = -std::f64::consts::TAU * m as f64 / t as f64;
            [a.cos() as f32, a.sin() as f32]
        })
        .collect()
}

/// The radices of the passes for a size-`n` transform: 4s, then one 2 if
/// `log2 n` is odd.
pub fn radices(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut p = 1;
    while p * 4 <= n {
        v.push(4);
        p *= 4;
    }
    if p < n {
        v.push(2);
    }
    v
}

fn cmul(a: C32, b: C32) -> C32 {
    [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]]
}
fn add(a: C32, b: C32) -> C32 {
    [a[0] + b[0], a[1] + b[1]]
}
fn sub(a: C32, b: C32) -> C32 {
    [a[0] - b[0], a[1] - b[1]]
}

/// CPU twin of `fft_pass` in `shaders/fft.wgsl`: one Stockham pass of radix
/// `r` (2 or 4) over `src.len() / n` transforms of size `n`, sub-transform size
/// `p` before the pass, twiddle table `tw` read with stride `tw.len() / n`.
pub fn fft_pass(
    src: &[C32],
    dst: &mut [C32],
    n: usize,
    p: usize,
    r: usize,
    tw: &[C32],
    inverse: bool,
) {
    let stride = tw.len() / n;
    let twiddle = |m: usize| {
        let w = tw[m * stride];
        if inverse { [w[0], -w[1]] } else { w }
    };
    let rot = |a: C32| {
        if inverse {
            [-a[1], a[0]]
        } else {
            [a[1], -a[0]]
        }
    };
    let q = n / r;
    for id in 0..q * (src.len() / n) {
        let base = (id / q) * n;
        let i = id % q;
        let k = i % p;
        let step = k * (n / (p * r));
        let out = base + (i - k) * r + k;
        if r == 4 {
            let u0 = src[base + i];
            let u1 = cmul(src[base + i + q], twiddle(step));
            let u2 = cmul(src[base + i + 2 * q], twiddle(2 * step));
            let u3 = cmul(src[base + i + 3 * q], twiddle(3 * step));
            let a0 = add(u0, u2);
            let a1 = sub(u0, u2);
            let a2 = add(u1, u3);
            let a3 = rot(sub(u1, u3));
            dst[out] = add(a0, a2);
            dst[out + p] = add(a1, a3);
            dst[out + 2 * p] = sub(a0, a2);
            dst[out + 3 * p] = sub(a1, a3);
        } else {
            let u0 = src[base + i];
            let u1 = cmul(src[base + i + q], twiddle(step));
            dst[out] = add(u0, u1);
            dst[out + p] = sub(u0, u1);
        }
    }
}

/// CPU twin of `real_post` in `shaders/fft.wgsl`: from the `n`-point transforms of
/// packed real signals (`x[2m] + i x[2m+1]`) to the `n + 1` bins of each `2n`-point
/// real transform. `tw` is a table for size `2n` (or a multiple).
pub fn real_post(src: &[C32], dst: &mut [C32], n: usize, tw: &[C32]) {
    let stride = tw.len() / (2 * n);
    for (id, d) in dst.iter_mut().enumerate().take((n + 1) * (src.len() / n)) {
        let b = id / (n + 1);
        let k = id % (n + 1);
        let zk = src[b * n + k % n];
        let zm = src[b * n + (n - k) % n];
        let zc = [zm[0], -zm[1]];
        let e = add(zk, zc).map(|v| 0.5 * v);
        let dd = sub(zk, zc).map(|v| 0.5 * v);
        let o = [dd[1], -dd[0]];
        *d = add(e, cmul(tw[k * stride], o));
    }
}

fn check_size(n: usize, what: &str) -> Result<()> {
    if n < 2 || !n.is_power_of_two() {
        return Err(Error::Invalid(format!(
            "{what}: size {n} is not a power of two >= 2"
        )));
    }
    Ok(())
}

/// CPU twin of [`GpuFft::fft`]: in-place batched complex FFT of size `n`
/// (`data.len()` a multiple of `n`).
pub fn fft(data: &mut [C32], n: usize, inverse: bool) -> Result<()> {
    check_size(n, "fft")?;
    if data.len() % n != 0 {
        return Err(Error::Invalid(format!(
            "fft: {} values is not a whole number of size-{n} transforms",
            data.len()
        )));
    }
    let tw = twiddles(n);
    let mut tmp = vec![[0.0; 2]; data.len()];
    let mut p = 1;
    let mut in_data = true;
    for r in radices(n) {
        if in_data {
            fft_pass(data, &mut tmp, n, p, r, &tw, inverse);
        } else {
            fft_pass(&tmp, data, n, p, r, &tw, inverse);
        }
        in_data = !in_data;
        p *= r;
    }
    if !in_data {
        data.copy_from_slice(&tmp);
    }
    Ok(())
}

/// CPU twin of [`GpuFft::rfft`]: batched real-to-complex FFT of size `n` (even,
/// a power of two >= 4); returns `n / 2 + 1` bins per transform.
pub fn rfft(x: &[f32], n: usize) -> Result<Vec<C32>> {
    check_size(n, "rfft")?;
    if n < 4 || x.len() % n != 0 {
        return Err(Error::Invalid(format!(
            "rfft: {} samples in size-{n} transforms (n >= 4)",
            x.len()
        )));
    }
    let h = n / 2;
    let mut z: Vec<C32> = x.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    let tw = twiddles(n);
    let mut tmp = vec![[0.0; 2]; z.len()];
    let mut p = 1;
    let mut in_z = true;
    for r in radices(h) {
        if in_z {
            fft_pass(&z, &mut tmp, h, p, r, &tw, false);
        } else {
            fft_pass(&tmp, &mut z, h, p, r, &tw, false);
        }
        in_z = !in_z;
        p *= r;
    }
    let spec = if in_z { &z } else { &tmp };
    let mut out = vec![[0.0; 2]; (h + 1) * (x.len() / n)];
    real_post(spec, &mut out, h, &tw);
    Ok(out)
}

/// Batched FFTs on the GPU. Made by [`crate::GpuBackend::fft`].
pub struct GpuFft {
    ctx: Arc<GpuContext>,
    pass: wgpu::ComputePipeline,
    local: wgpu::ComputePipeline,
    post: wgpu::ComputePipeline,
    /// Largest size `fft_local` handles on this adapter (0: never).
    local_max: usize,
}

/// `LOCAL_MAX` in the shader: sizes up to this run in one workgroup.
pub const LOCAL_MAX: usize = 1024;

impl GpuFft {
    pub(crate) fn new(ctx: Arc<GpuContext>) -> GpuFft {
        let pass = ctx.pipeline("fft_pass", WGSL, "fft_pass");
        let post = ctx.pipeline("real_post", WGSL, "real_post");
        // fft_local keeps 2 x LOCAL_MAX complex values in workgroup memory.
        let fits = ctx.limits.max_compute_workgroup_storage_size as usize >= 2 * LOCAL_MAX * 8
            && ctx.limits.max_compute_invocations_per_workgroup >= 256;
        let local = ctx.pipeline("fft_local", WGSL, "fft_local");
        GpuFft {
            ctx,
            pass,
            local,
            post,
            local_max: if fits { LOCAL_MAX } else { 0 },
        }
    }

    /// Batched complex FFT of size `n` (a power of two >= 2): `data.len() / n`
    /// transforms, returned in natural order. `inverse` is unscaled.
    pub fn fft(&self, data: &[C32], n: usize, inverse: bool) -> Result<Vec<C32>> {
        check_size(n, "fft")?;
        if data.len() % n != 0 {
            return Err(Error::Invalid(format!(
                "fft: {} values is not a whole number of size-{n} transforms",
                data.len()
            )));
        }
        let mut out = Vec::with_capacity(data.len());
        let per = self.batch_limit(n, n)?;
        for chunk in data.chunks(per * n) {
            out.extend(self.run(bytemuck::cast_slice(chunk), n, inverse, false)?);
        }
        Ok(out)
    }

    /// Batched real-to-complex FFT of size `n` (a power of two >= 4):
    /// `x.len() / n` transforms of `n / 2 + 1` bins each.
    pub fn rfft(&self, x: &[f32], n: usize) -> Result<Vec<C32>> {
        check_size(n, "rfft")?;
        if n < 4 || x.len() % n != 0 {
            return Err(Error::Invalid(format!(
                "rfft: {} samples in size-{n} transforms (n >= 4)",
                x.len()
            )));
        }
        let mut out = Vec::with_capacity(x.len() / n * (n / 2 + 1));
        let per = self.batch_limit(n / 2 + 1, n)?;
        for chunk in x.chunks(per * n) {
            out.extend(self.run(chunk, n / 2, false, true)?);
        }
        Ok(out)
    }

    /// Transforms per dispatch so that every buffer fits one binding.
    fn batch_limit(&self, values: usize, table: usize) -> Result<usize> {
        let max = self.ctx.max_binding_bytes() as usize;
        if table * 8 > max || values * 8 > max {
            return Err(Error::Backend(format!(
                "fft: size {table} exceeds this adapter's buffer limits"
            )));
        }
        Ok((max / (8 * values.max(table))).max(1))
    }

    /// One batch: `input` is `batch * n` complex values as f32 pairs (for `real`,
    /// `batch * 2n` real samples, which is the same bytes).
    fn run(&self, input: &[f32], n: usize, inverse: bool, real: bool) -> Result<Vec<C32>> {
        let ctx = &self.ctx;
        let batch = input.len() / (2 * n);
        let t = if real { 2 * n } else { n };
        let tw = twiddles(t);
        let st = U::STORAGE | U::COPY_DST | U::COPY_SRC;
        let bytes = (input.len() * 4) as u64;
        let table = ctx.buffer("fft twiddles", (t * 8) as u64, U::STORAGE | U::COPY_DST);
        ctx.queue.write_buffer(&table, 0, bytemuck::cast_slice(&tw));
        let a = ctx.buffer("fft a", bytes, st);
        let b = ctx.buffer("fft b", bytes, st);
        ctx.queue.write_buffer(&a, 0, bytemuck::cast_slice(input));
        let out_vals = if real { batch * (n + 1) } else { batch * n };
        let post_buf = real.then(|| {
            ctx.buffer(
                "fft real out",
                (out_vals * 8) as u64,
                U::STORAGE | U::COPY_SRC,
            )
        });
        let readback = ctx.buffer(
            "fft readback",
            (out_vals * 8) as u64,
            U::MAP_READ | U::COPY_DST,
        );
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        let mut keep = Vec::new();
        let mut p = 1;
        let mut in_a = true;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            if n <= self.local_max {
                let (gx, gy) = grid(batch as u64, 1, max_dim);
                let params =
                    [n, batch, 0, 0, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32);
                let bind = self.bind(&self.local, &params, &[(1, &table), (2, &a), (3, &b)]);
                pass.set_pipeline(&self.local);
                pass.set_bind_group(0, &bind.0, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
                keep.push(bind);
                in_a = false;
            }
            for r in radices(n).into_iter().filter(|_| n > self.local_max) {
                let (gx, gy) = grid((n / r * batch) as u64, GROUP, max_dim);
                let params =
                    [n, batch, p, r, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32);
                let (src, dst) = if in_a { (&a, &b) } else { (&b, &a) };
                let bind = self.bind(&self.pass, &params, &[(1, &table), (2, src), (3, dst)]);
                pass.set_pipeline(&self.pass);
                pass.set_bind_group(0, &bind.0, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
                keep.push(bind);
                in_a = !in_a;
                p *= r;
            }
            if let Some(pb) = &post_buf {
                let (gx, gy) = grid(((n + 1) * batch) as u64, GROUP, max_dim);
                let params = [n, batch, 0, 0, t / (2 * n), 0, gx as usize, 0].map(|v| v as u32);
                let src = if in_a { &a } else { &b };
                let bind = self.bind(&self.post, &params, &[(1, &table), (2, src), (3, pb)]);
                pass.set_pipeline(&self.post);
                pass.set_bind_group(0, &bind.0, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
                keep.push(bind);
            }
        }
        let result = match &post_buf {
            Some(pb) => pb,
            None if in_a => &a,
            None => &b,
        };
        enc.copy_buffer_to_buffer(result, 0, &readback, 0, (out_vals * 8) as u64);
        ctx.queue.submit([enc.finish()]);
        let mut host = Vec::new();
        map_read(ctx, &readback, (out_vals * 8) as u64, &mut host)?;
        Ok(host.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
    }

    fn bind(
        &self,
        pipe: &wgpu::ComputePipeline,
        params: &[u32; 8],
        bufs: &[(u32, &wgpu::Buffer)],
    ) -> (wgpu::BindGroup, wgpu::Buffer) {
        let ctx = &self.ctx;
        let pbuf = ctx.buffer("fft params", 32, U::UNIFORM | U::COPY_DST);
        ctx.queue
            .write_buffer(&pbuf, 0, bytemuck::cast_slice(params));
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: pbuf.as_entire_binding(),
        }];
        entries.extend(bufs.iter().map(|&(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        }));
        let bg = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("fft"),
            layout: &pipe.get_bind_group_layout(0),
            entries: &entries,
        });
        (bg, pbuf)
    }
}
