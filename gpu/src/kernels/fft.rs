//! Batched FFTs on the GPU (`shaders/fft.wgsl`) and their CPU twin.
//!
//! Complex transforms of any power-of-two size from 2 up to 2^20 (and beyond,
//! within the adapter's binding size), batched; real-to-complex transforms of
//! size 2n through an n-point complex transform and a post-processing step, and
//! the complex-to-real inverse through a pre-processing step (for FFT convolution).
//! Forward transforms use `exp(-2πi jk/n)`; inverses are unscaled (as in RustFFT).
//!
//! The CPU twin ([`fft_pass`], [`real_post`], [`real_pre`], [`fft`], [`rfft`], [`irfft`]) is written to
//! read like the shader: same Stockham indexing, same twiddle table, same order
//! of operations.

use crate::context::{GpuContext, grid, map_read};
use dubstage_core::{Error, Result};
use std::sync::{Arc, Mutex};
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

/// CPU twin of `real_pre` in `shaders/fft.wgsl`: from the `n + 1` bins of each
/// `2n`-point real spectrum to the `n`-point complex spectrum whose unscaled
/// inverse is `2n (x[2m] + i x[2m+1])`. `tw` is a table for size `2n`.
pub fn real_pre(src: &[C32], dst: &mut [C32], n: usize, tw: &[C32]) {
    let stride = tw.len() / (2 * n);
    for (id, d) in dst.iter_mut().enumerate().take(n * (src.len() / (n + 1))) {
        let b = id / n;
        let k = id % n;
        let xk = src[b * (n + 1) + k];
        let xm = src[b * (n + 1) + n - k];
        let xc = [xm[0], -xm[1]];
        let e = add(xk, xc);
        let w = tw[k * stride];
        let o = cmul(sub(xk, xc), [w[0], -w[1]]);
        *d = add(e, [-o[1], o[0]]);
    }
}

/// CPU twin of [`GpuFft::irfft`]: batched complex-to-real inverse FFT of size `n`
/// (a power of two >= 4) from `n / 2 + 1` bins per transform, unscaled (a
/// forward then inverse transform gives `n x`, as in realfft).
pub fn irfft(spec: &[C32], n: usize) -> Result<Vec<f32>> {
    check_size(n, "irfft")?;
    let h = n / 2;
    if n < 4 || spec.len() % (h + 1) != 0 {
        return Err(Error::Invalid(format!(
            "irfft: {} bins in size-{n} transforms ({} bins each, n >= 4)",
            spec.len(),
            h + 1
        )));
    }
    let tw = twiddles(n);
    let mut z = vec![[0.0; 2]; spec.len() / (h + 1) * h];
    real_pre(spec, &mut z, h, &tw);
    let mut tmp = vec![[0.0; 2]; z.len()];
    let mut p = 1;
    let mut in_z = true;
    for r in radices(h) {
        if in_z {
            fft_pass(&z, &mut tmp, h, p, r, &tw, true);
        } else {
            fft_pass(&tmp, &mut z, h, p, r, &tw, true);
        }
        in_z = !in_z;
        p *= r;
    }
    let out = if in_z { &z } else { &tmp };
    Ok(out.iter().flat_map(|c| [c[0], c[1]]).collect())
}

/// Batched FFTs on the GPU. Made by [`crate::GpuBackend::fft`].
pub struct GpuFft {
    ctx: Arc<GpuContext>,
    cache: Mutex<Vec<Plan>>,
    pass: wgpu::ComputePipeline,
    local: wgpu::ComputePipeline,
    post: wgpu::ComputePipeline,
    pre: wgpu::ComputePipeline,
    /// Largest size `fft_local` handles on this adapter (0: never).
    local_max: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    n: usize,
    batch: usize,
    inverse: bool,
    real: bool,
}

/// Everything one shape needs, kept between calls.
struct Plan {
    key: Key,
    /// The input of a complex-to-real transform (n + 1 bins per transform).
    spectrum_in: Option<wgpu::Buffer>,
    a: wgpu::Buffer,
    b: wgpu::Buffer,
    post: Option<wgpu::Buffer>,
    readback: wgpu::Buffer,
    _table: wgpu::Buffer,
    steps: Vec<Step>,
    result_in_a: bool,
    out_vals: usize,
}

impl Plan {
    fn input(&self) -> &wgpu::Buffer {
        self.spectrum_in.as_ref().unwrap_or(&self.a)
    }

    fn result(&self) -> &wgpu::Buffer {
        match &self.post {
            Some(p) => p,
            None if self.result_in_a => &self.a,
            None => &self.b,
        }
    }
}

struct Step {
    pipeline: wgpu::ComputePipeline,
    bind: wgpu::BindGroup,
    _params: wgpu::Buffer,
    grid: (u32, u32),
}

/// `LOCAL_MAX` in the shader: sizes up to this run in one workgroup.
pub const LOCAL_MAX: usize = 1024;

impl GpuFft {
    pub(crate) fn new(ctx: Arc<GpuContext>) -> GpuFft {
        let pass = ctx.pipeline("fft_pass", WGSL, "fft_pass");
        let post = ctx.pipeline("real_post", WGSL, "real_post");
        let pre = ctx.pipeline("real_pre", WGSL, "real_pre");
        // fft_local keeps 2 x LOCAL_MAX complex values in workgroup memory.
        let fits = ctx.limits.max_compute_workgroup_storage_size as usize >= 2 * LOCAL_MAX * 8
            && ctx.limits.max_compute_invocations_per_workgroup >= 256;
        let local = ctx.pipeline("fft_local", WGSL, "fft_local");
        GpuFft {
            ctx,
            cache: Mutex::new(Vec::new()),
            pass,
            local,
            post,
            pre,
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
            out.extend(self.run(
                bytemuck::cast_slice(chunk),
                n,
                chunk.len() / n,
                inverse,
                false,
            )?);
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
            out.extend(self.run(chunk, n / 2, chunk.len() / n, false, true)?);
        }
        Ok(out)
    }

    /// Batched complex-to-real inverse FFT of size `n` (a power of two >= 4) from
    /// `n / 2 + 1` bins per transform; unscaled (`irfft(rfft(x)) = n x`, as in
    /// realfft). The imaginary parts of bins 0 and `n / 2` are ignored.
    pub fn irfft(&self, spec: &[C32], n: usize) -> Result<Vec<f32>> {
        check_size(n, "irfft")?;
        let bins = n / 2 + 1;
        if n < 4 || spec.len() % bins != 0 {
            return Err(Error::Invalid(format!(
                "irfft: {} bins in size-{n} transforms ({bins} bins each, n >= 4)",
                spec.len()
            )));
        }
        let mut out = Vec::with_capacity(spec.len() / bins * n);
        let per = self.batch_limit(bins, n)?;
        for chunk in spec.chunks(per * bins) {
            let z = self.run(
                bytemuck::cast_slice(chunk),
                n / 2,
                chunk.len() / bins,
                true,
                true,
            )?;
            out.extend(z.iter().flat_map(|c| [c[0], c[1]]));
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

    /// One batch of `batch` transforms of complex size `n`. `input` is, as f32s:
    /// complex: `batch * n` values; real forward: `batch * 2n` samples (the same
    /// bytes); real inverse: `batch * (n + 1)` bins. The buffers, twiddle
    /// table and bind groups of the last two shapes are kept for the next call.
    fn run(
        &self,
        input: &[f32],
        n: usize,
        batch: usize,
        inverse: bool,
        real: bool,
    ) -> Result<Vec<C32>> {
        let ctx = &self.ctx;
        let key = Key {
            n,
            batch,
            inverse,
            real,
        };
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| Error::Backend("fft: plan cache poisoned".into()))?;
        let at = match cache.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                if cache.len() == 2 {
                    cache.remove(0);
                }
                cache.push(self.plan(key));
                cache.len() - 1
            }
        };
        let plan = &cache[at];
        ctx.queue
            .write_buffer(plan.input(), 0, bytemuck::cast_slice(input));
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for st in &plan.steps {
                pass.set_pipeline(&st.pipeline);
                pass.set_bind_group(0, &st.bind, &[]);
                pass.dispatch_workgroups(st.grid.0, st.grid.1, 1);
            }
        }
        let bytes = (plan.out_vals * 8) as u64;
        enc.copy_buffer_to_buffer(plan.result(), 0, &plan.readback, 0, bytes);
        ctx.queue.submit([enc.finish()]);
        let mut host = Vec::new();
        map_read(ctx, &plan.readback, bytes, &mut host)?;
        Ok(host.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
    }

    /// Buffers, twiddle table and dispatches for one shape.
    fn plan(&self, key: Key) -> Plan {
        let ctx = &self.ctx;
        let Key {
            n,
            batch,
            inverse,
            real,
        } = key;
        let t = if real { 2 * n } else { n };
        let st = U::STORAGE | U::COPY_DST | U::COPY_SRC;
        let bytes = (batch * n * 8) as u64;
        let table = ctx.buffer("fft twiddles", (t * 8) as u64, U::STORAGE | U::COPY_DST);
        ctx.queue
            .write_buffer(&table, 0, bytemuck::cast_slice(&twiddles(t)));
        let a = ctx.buffer("fft a", bytes, st);
        let b = ctx.buffer("fft b", bytes, st);
        let out_vals = if real && !inverse {
            batch * (n + 1)
        } else {
            batch * n
        };
        let post = (real && !inverse).then(|| {
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
        let mut steps = Vec::new();
        let mut in_a = true;
        let mut step = |pipe: &wgpu::ComputePipeline,
                        items: usize,
                        group: u32,
                        fill: &dyn Fn(u32) -> [u32; 8],
                        src: &wgpu::Buffer,
                        dst: &wgpu::Buffer| {
            let grid = grid(items as u64, group, max_dim);
            let (bind, params) = self.bind(pipe, &fill(grid.0), &[(1, &table), (2, src), (3, dst)]);
            steps.push(Step {
                pipeline: pipe.clone(),
                bind,
                _params: params,
                grid,
            });
        };
        let spectrum_in = (real && inverse).then(|| {
            ctx.buffer(
                "fft real in",
                (batch * (n + 1) * 8) as u64,
                U::STORAGE | U::COPY_DST,
            )
        });
        if let Some(si) = &spectrum_in {
            let fill = |gx: u32| [n, batch, 0, 0, t / (2 * n), 0, gx as usize, 0].map(|v| v as u32);
            step(&self.pre, n * batch, GROUP, &fill, si, &a);
        }
        if n <= self.local_max {
            let fill = |gx: u32| {
                [n, batch, 0, 0, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32)
            };
            step(&self.local, batch, 1, &fill, &a, &b);
            in_a = false;
        } else {
            let mut p = 1;
            for r in radices(n) {
                let fill = |gx: u32| {
                    [n, batch, p, r, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32)
                };
                let (src, dst) = if in_a { (&a, &b) } else { (&b, &a) };
                step(&self.pass, n / r * batch, GROUP, &fill, src, dst);
                in_a = !in_a;
                p *= r;
            }
        }
        if let Some(pb) = &post {
            let fill = |gx: u32| [n, batch, 0, 0, t / (2 * n), 0, gx as usize, 0].map(|v| v as u32);
            let src = if in_a { &a } else { &b };
            step(&self.post, (n + 1) * batch, GROUP, &fill, src, pb);
        }
        Plan {
            key,
            spectrum_in,
            a,
            b,
            post,
            readback,
            _table: table,
            steps,
            result_in_a: in_a,
            out_vals,
        }
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

/// A batched real FFT recorded against buffers owned by another kernel
/// (the convolution engine), so transforms chain with other dispatches in one
/// submission, without host round trips. Made by [`GpuFft::real_chain`].
pub(crate) struct RealChain {
    steps: Vec<Step>,
    /// Where the result lies (`dst` for a forward transform, one of the scratch
    /// buffers for an inverse one).
    pub result: wgpu::Buffer,
}

impl RealChain {
    /// Records the transform's dispatches into `pass`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        for st in &self.steps {
            pass.set_pipeline(&st.pipeline);
            pass.set_bind_group(0, &st.bind, &[]);
            pass.dispatch_workgroups(st.grid.0, st.grid.1, 1);
        }
    }
}

impl GpuFft {
    /// Records `batch` real transforms of size `2n` (`n` a power of two ≥ 2):
    /// forward: `src` holds `batch * 2n` samples, `dst` gets `n + 1` bins per
    /// transform; inverse: `src` holds `n + 1` bins per transform and the
    /// `batch * 2n` unscaled samples end in [`RealChain::result`] (`dst` unused).
    /// `a`, `b`: scratch of `batch * n` complex values each; `table`: the
    /// twiddles of [`twiddles`]`(2n)`. The same passes as [`GpuFft::rfft`] and
    /// [`GpuFft::irfft`], bit for bit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn real_chain(
        &self,
        n: usize,
        batch: usize,
        inverse: bool,
        table: &wgpu::Buffer,
        src: &wgpu::Buffer,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        dst: &wgpu::Buffer,
    ) -> RealChain {
        let t = 2 * n;
        let max_dim = self.ctx.limits.max_compute_workgroups_per_dimension;
        let mut steps = Vec::new();
        let mut step = |pipe: &wgpu::ComputePipeline,
                        items: usize,
                        group: u32,
                        fill: &dyn Fn(u32) -> [u32; 8],
                        s: &wgpu::Buffer,
                        d: &wgpu::Buffer| {
            let grid = grid(items as u64, group, max_dim);
            let (bind, params) = self.bind(pipe, &fill(grid.0), &[(1, table), (2, s), (3, d)]);
            steps.push(Step {
                pipeline: pipe.clone(),
                bind,
                _params: params,
                grid,
            });
        };
        let mut cur = src;
        if inverse {
            let fill = |gx: u32| [n, batch, 0, 0, t / (2 * n), 0, gx as usize, 0].map(|v| v as u32);
            step(&self.pre, n * batch, GROUP, &fill, src, a);
            cur = a;
        }
        let other = |c: &wgpu::Buffer| if std::ptr::eq(c, a) { b } else { a };
        if n <= self.local_max {
            let fill = |gx: u32| {
                [n, batch, 0, 0, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32)
            };
            let d = other(cur);
            step(&self.local, batch, 1, &fill, cur, d);
            cur = d;
        } else {
            let mut p = 1;
            for r in radices(n) {
                let fill = |gx: u32| {
                    [n, batch, p, r, t / n, inverse as usize, gx as usize, 0].map(|v| v as u32)
                };
                let d = other(cur);
                step(&self.pass, n / r * batch, GROUP, &fill, cur, d);
                cur = d;
                p *= r;
            }
        }
        if !inverse {
            let fill = |gx: u32| [n, batch, 0, 0, t / (2 * n), 0, gx as usize, 0].map(|v| v as u32);
            step(&self.post, (n + 1) * batch, GROUP, &fill, cur, dst);
            cur = dst;
        }
        RealChain {
            steps,
            result: cur.clone(),
        }
    }
}
