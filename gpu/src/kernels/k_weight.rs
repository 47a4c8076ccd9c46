//! Host side of `shaders/k_weight.wgsl`: the streaming GPU loudness analyzer.

use crate::context::{GpuContext, grid};
use dubstage_core::backend::{Analyzer, AnalyzerConfig, Hop};
use dubstage_core::loudness::{Biquad, TruePeakFir};
use dubstage_core::{Error, Result};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use wgpu::BufferUsages as U;

/// `k_weight.wgsl` calls `true_peak_max` from `true_peak.wgsl` (WGSL has no
/// include; the host joins the two sources).
const WGSL: [&str; 2] = [
    include_str!("../../../shaders/k_weight.wgsl"),
    include_str!("../../../shaders/true_peak.wgsl"),
];
const GROUP: u32 = 64;
/// Chunks in flight at once: one being filled on the host, others uploading,
/// computing or reading back.
const RING: usize = 3;
/// Default frames per chunk (about 22 s at 48 kHz).
const DEFAULT_CHUNK: usize = 1 << 20;
/// Most segments one `carry` workgroup scans per thread before the serial part
/// grows: 256 threads x 64.
const MAX_SEGS: usize = 256 * 64;

/// The compiled pipelines of `k_weight.wgsl`, shared by every analyzer of a backend.
pub(crate) struct KWeightPipelines {
    zero_state: wgpu::ComputePipeline,
    carry: wgpu::ComputePipeline,
    hop_figures: wgpu::ComputePipeline,
}

impl KWeightPipelines {
    pub fn new(ctx: &GpuContext) -> Self {
        let src = WGSL.concat();
        KWeightPipelines {
            zero_state: ctx.pipeline("k_weight zero_state", &src, "zero_state"),
            carry: ctx.pipeline("k_weight carry", &src, "carry"),
            hop_figures: ctx.pipeline("k_weight hop_figures", &src, "hop_figures"),
        }
    }
}

/// One biquad as a trapezoidal-integrated state-variable filter (TPT SVF,
/// Zavalishin, "The Art of VA Filter Design", ch. 4): the same transfer function
/// as the direct form, much less f32 round-off for poles near z = 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvfStage {
    /// `1 / (1 + g (g + k))`.
    pub a1: f64,
    /// `g a1`.
    pub a2: f64,
    /// `g a2`.
    pub a3: f64,
    /// Damping `1 / Q`.
    pub k: f64,
    /// Output mix of the high-pass, band-pass and low-pass outputs.
    pub m_hp: f64,
    pub m_bp: f64,
    pub m_lp: f64,
}

impl SvfStage {
    /// Converts a stable biquad. With `g = tan(w0 / 2)` the bilinear transform of
    /// `s^2 + (w0/Q) s + w0^2` has `a0 (1 + a1 + a2) = 4 g^2`, `a0 (1 - a1 + a2) = 4`,
    /// `a0 (1 - a2) = 2 g k`, and the numerator is
    /// `(m_hp [1, -2, 1] + m_bp g [1, 0, -1] + m_lp g^2 [1, 2, 1]) / a0`.
    pub fn from_biquad(b: &Biquad) -> Result<SvfStage> {
        if !(b.a2.abs() < 1.0 && b.a1.abs() < 1.0 + b.a2) {
            return Err(Error::Backend(format!(
                "K-weighting biquad {b:?} is not stable"
            )));
        }
        let den = 1.0 - b.a1 + b.a2;
        let g = ((1.0 + b.a1 + b.a2) / den).sqrt();
        let k = 2.0 * (1.0 - b.a2) / den / g;
        let a0 = 1.0 + g * k + g * g;
        let (n0, n1, n2) = (b.b0 * a0, b.b1 * a0, b.b2 * a0);
        let a1 = 1.0 / (1.0 + g * (g + k));
        Ok(SvfStage {
            a1,
            a2: g * a1,
            a3: g * g * a1,
            k,
            m_hp: (n0 + n2 - n1) / 4.0,
            m_bp: (n0 - n2) / (2.0 * g),
            m_lp: (n0 + n2 + n1) / (4.0 * g * g),
        })
    }

    /// One sample (f64 twin of `svf` in the shader); `s` = (ic1eq, ic2eq).
    pub fn step(&self, s: &mut [f64; 2], x: f64) -> f64 {
        let v3 = x - s[1];
        let v1 = self.a1 * s[0] + self.a2 * v3;
        let v2 = s[1] + self.a2 * s[0] + self.a3 * v3;
        *s = [2.0 * v1 - s[0], 2.0 * v2 - s[1]];
        let hp = x - self.k * v1 - v2;
        self.m_hp * hp + self.m_bp * v1 + self.m_lp * v2
    }

    fn consts(&self) -> [f32; 7] {
        [
            self.a1, self.a2, self.a3, self.k, self.m_hp, self.m_bp, self.m_lp,
        ]
        .map(|v| v as f32)
    }
}

/// One sample through both stages (f64 twin of `k_step` in the shader).
pub fn k_step(k: &[SvfStage; 2], s: &mut [f64; 4], x: f64) -> f64 {
    let mut one = [s[0], s[1]];
    let mut two = [s[2], s[3]];
    let y = k[1].step(&mut two, k[0].step(&mut one, x));
    *s = [one[0], one[1], two[0], two[1]];
    y
}

/// The state-transition matrix over `len` samples, `A^len` (row-major), in f64.
pub fn transition(k: &[SvfStage; 2], len: usize) -> [[f64; 4]; 4] {
    let mut a = [[0.0; 4]; 4];
    for j in 0..4 {
        let mut s = [0.0; 4];
        s[j] = 1.0;
        k_step(k, &mut s, 0.0);
        for i in 0..4 {
            a[i][j] = s[i];
        }
    }
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _ in 0..len {
        let mut n = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                n[i][j] = (0..4).map(|l| a[i][l] * m[l][j]).sum();
            }
        }
        m = n;
    }
    m
}

/// Segment length: the largest divisor of the hop not above 64 frames (64 at
/// 48 kHz, 63 at 44.1 kHz). Short segments give a GPU enough threads (one per
/// channel and segment: about 100,000 for 5.1 and a 1 M-frame chunk); the scan
/// over segments stays short (at most [`MAX_SEGS`] per channel and chunk).
fn segment_len(hop: usize) -> usize {
    (1..=hop.min(64)).rev().find(|d| hop % d == 0).unwrap_or(1)
}

struct Slot {
    input: wgpu::Buffer,
    figures: wgpu::Buffer,
    readback: wgpu::Buffer,
    params: wgpu::Buffer,
    binds: [wgpu::BindGroup; 3],
    /// 0 = idle, 1 = mapping requested, 2 = mapped, 3 = map failed.
    mapped: Arc<AtomicU8>,
}

struct InFlight {
    slot: usize,
    segs: usize,
    frames: usize,
    submission: wgpu::SubmissionIndex,
}

/// The GPU twin of `dubstage_core::loudness::HopAnalyzer`: streaming, bounded
/// memory (one chunk per ring slot on the GPU, one chunk on the host), filter
/// state kept on the GPU between chunks, uploads and readbacks overlapped with
/// compute through a ring of three chunk slots.
pub struct GpuAnalyzer {
    ctx: Arc<GpuContext>,
    pipes: Arc<KWeightPipelines>,
    channels: usize,
    hop: usize,
    seg_len: usize,
    chunk: usize,
    hist: usize,
    /// True-peak look-ahead: the interpolator's delay (outputs are assigned to
    /// the hop of their centre, `delay` samples earlier).
    look: usize,
    factor: usize,
    taps: usize,
    stride: usize,
    /// Per channel: `hist` frames of history, then the pending frames (up to
    /// `chunk + look`; at the end `look` zeros after them).
    host: Vec<Vec<f32>>,
    pending: usize,
    slots: Vec<Slot>,
    next_slot: usize,
    in_flight: VecDeque<InFlight>,
    // Hop being assembled from segment figures.
    acc_frames: usize,
    acc_energy: Vec<f64>,
    acc_peak: Vec<f32>,
    acc_tp: Vec<f32>,
    done: Vec<Hop>,
    scratch: Vec<f32>,
    finished: bool,
}

impl GpuAnalyzer {
    /// An analyzer with explicit filters (the backend passes
    /// `loudness::k_weighting(sr)` and `loudness::true_peak_fir(factor)`).
    pub(crate) fn new(
        ctx: Arc<GpuContext>,
        pipes: Arc<KWeightPipelines>,
        cfg: &AnalyzerConfig,
        k: [Biquad; 2],
        fir: Option<TruePeakFir>,
        max_chunk: Option<usize>,
    ) -> Result<Self> {
        if cfg.channels == 0 {
            return Err(Error::Backend("analyzer: zero channels".into()));
        }
        if cfg.sample_rate == 0 || cfg.sample_rate % 10 != 0 {
            return Err(Error::Backend(format!(
                "analyzer: 100 ms is not a whole number of samples at {} Hz",
                cfg.sample_rate
            )));
        }
        let hop = cfg.sample_rate as usize / 10;
        let seg_len = segment_len(hop);
        let (factor, taps, fir_coeffs) = match &fir {
            Some(f) if f.factor > 0 => {
                if f.coeffs.len() != f.factor * f.taps_per_phase || f.taps_per_phase == 0 {
                    return Err(Error::Backend(format!(
                        "analyzer: true-peak FIR has {} coefficients for {} phases x {} taps",
                        f.coeffs.len(),
                        f.factor,
                        f.taps_per_phase
                    )));
                }
                (f.factor, f.taps_per_phase, f.coeffs.clone())
            }
            _ => (0, 0, vec![0.0]),
        };
        let hist = taps.saturating_sub(1);
        let look = fir
            .as_ref()
            .filter(|f| f.factor > 0)
            .map_or(0, |f| f.delay());
        let c = cfg.channels;
        // Frames per chunk: a whole number of segments, within the adapter's
        // binding size (input and figures), the scan's reach, and the caller's cap.
        let max_bytes = ctx.max_binding_bytes() as usize;
        let by_binding = (max_bytes / (4 * c)).saturating_sub(hist + look);
        let by_figures = max_bytes / (12 * c) * seg_len;
        let mut chunk = max_chunk
            .unwrap_or(DEFAULT_CHUNK)
            .min(by_binding)
            .min(by_figures)
            .min(MAX_SEGS * seg_len);
        chunk = (chunk / seg_len).max(1) * seg_len;
        let stride = hist + chunk + look;
        if (c * stride) as u64 * 4 > ctx.max_binding_bytes() || c > 65535 {
            return Err(Error::Backend(format!(
                "analyzer: {c} channels do not fit this adapter's buffer limits"
            )));
        }
        let max_segs = chunk / seg_len;

        let svf = [SvfStage::from_biquad(&k[0])?, SvfStage::from_biquad(&k[1])?];
        let mut consts = Vec::with_capacity(30);
        for st in &svf {
            consts.extend(st.consts());
        }
        let m = transition(&svf, seg_len);
        for j in 0..4 {
            for row in &m {
                consts.push(row[j] as f32);
            }
        }
        let ro = U::STORAGE | U::COPY_DST;
        let consts_buf = ctx.buffer("k_weight consts", 30 * 4, ro);
        ctx.queue
            .write_buffer(&consts_buf, 0, bytemuck::cast_slice(&consts));
        let fir_buf = ctx.buffer("k_weight fir", (fir_coeffs.len() * 4) as u64, ro);
        ctx.queue
            .write_buffer(&fir_buf, 0, bytemuck::cast_slice(&fir_coeffs));
        let carry = ctx.buffer("k_weight carry", (c * 16) as u64, ro);
        ctx.queue.write_buffer(&carry, 0, &vec![0u8; c * 16]);
        let seg_state = ctx.buffer("k_weight seg_state", (c * max_segs * 16) as u64, U::STORAGE);

        let slots = (0..RING)
            .map(|_| {
                let input = ctx.buffer("k_weight input", (c * stride * 4) as u64, ro);
                let fig_bytes = (c * max_segs * 12) as u64;
                let figures = ctx.buffer("k_weight figures", fig_bytes, U::STORAGE | U::COPY_SRC);
                let readback =
                    ctx.buffer("k_weight readback", fig_bytes, U::MAP_READ | U::COPY_DST);
                let params = ctx.buffer("k_weight params", 48, U::UNIFORM | U::COPY_DST);
                let bind = |p: &wgpu::ComputePipeline, bufs: &[(u32, &wgpu::Buffer)]| {
                    let entries: Vec<_> = bufs
                        .iter()
                        .map(|&(binding, b)| wgpu::BindGroupEntry {
                            binding,
                            resource: b.as_entire_binding(),
                        })
                        .collect();
                    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("k_weight"),
                        layout: &p.get_bind_group_layout(0),
                        entries: &entries,
                    })
                };
                let binds = [
                    bind(
                        &pipes.zero_state,
                        &[(0, &params), (1, &consts_buf), (3, &input), (4, &seg_state)],
                    ),
                    bind(
                        &pipes.carry,
                        &[(0, &params), (1, &consts_buf), (4, &seg_state), (5, &carry)],
                    ),
                    bind(
                        &pipes.hop_figures,
                        &[
                            (0, &params),
                            (1, &consts_buf),
                            (2, &fir_buf),
                            (3, &input),
                            (4, &seg_state),
                            (6, &figures),
                        ],
                    ),
                ];
                Slot {
                    input,
                    figures,
                    readback,
                    params,
                    binds,
                    mapped: Arc::new(AtomicU8::new(0)),
                }
            })
            .collect();

        Ok(GpuAnalyzer {
            ctx,
            pipes,
            channels: c,
            hop,
            seg_len,
            chunk,
            hist,
            look,
            factor,
            taps,
            stride,
            host: vec![vec![0.0; hist]; c],
            pending: 0,
            slots,
            next_slot: 0,
            in_flight: VecDeque::new(),
            acc_frames: 0,
            acc_energy: vec![0.0; c],
            acc_peak: vec![0.0; c],
            acc_tp: vec![0.0; c],
            done: Vec::new(),
            scratch: Vec::new(),
            finished: false,
        })
    }

    /// Frames per GPU chunk (a whole number of segments).
    pub fn chunk_frames(&self) -> usize {
        self.chunk
    }

    /// Uploads and dispatches the next `n` pending frames as one chunk (with
    /// `hist` frames of history before and `look` frames after them).
    fn submit(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if self.in_flight.len() == RING {
            self.complete_oldest()?;
        }
        let ctx = &self.ctx;
        let slot = &self.slots[self.next_slot];
        let segs = n.div_ceil(self.seg_len);
        for (ch, h) in self.host.iter().enumerate() {
            ctx.queue.write_buffer(
                &slot.input,
                (ch * self.stride * 4) as u64,
                bytemuck::cast_slice(&h[..self.hist + n + self.look]),
            );
        }
        let items = (self.channels * segs) as u64;
        let (gx, gy) = grid(
            items,
            GROUP,
            ctx.limits.max_compute_workgroups_per_dimension,
        );
        let params: [u32; 12] = [
            self.channels as u32,
            self.seg_len as u32,
            segs as u32,
            n as u32,
            self.stride as u32,
            self.hist as u32,
            self.factor as u32,
            self.taps as u32,
            gx,
            self.look as u32,
            0,
            0,
        ];
        ctx.queue
            .write_buffer(&slot.params, 0, bytemuck::cast_slice(&params));
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipes.zero_state);
            pass.set_bind_group(0, &slot.binds[0], &[]);
            pass.dispatch_workgroups(gx, gy, 1);
            pass.set_pipeline(&self.pipes.carry);
            pass.set_bind_group(0, &slot.binds[1], &[]);
            pass.dispatch_workgroups(self.channels as u32, 1, 1);
            pass.set_pipeline(&self.pipes.hop_figures);
            pass.set_bind_group(0, &slot.binds[2], &[]);
            pass.dispatch_workgroups(gx, gy, 1);
        }
        let bytes = (self.channels * segs * 12) as u64;
        enc.copy_buffer_to_buffer(&slot.figures, 0, &slot.readback, 0, bytes);
        let submission = ctx.queue.submit([enc.finish()]);
        let flag = slot.mapped.clone();
        flag.store(1, Ordering::SeqCst);
        slot.readback
            .slice(..bytes)
            .map_async(wgpu::MapMode::Read, move |r| {
                flag.store(if r.is_ok() { 2 } else { 3 }, Ordering::SeqCst);
            });
        self.in_flight.push_back(InFlight {
            slot: self.next_slot,
            segs,
            frames: n,
            submission,
        });
        self.next_slot = (self.next_slot + 1) % RING;
        // The last `hist` frames of this chunk are the next one's history.
        for h in &mut self.host {
            h.drain(..n);
        }
        self.pending -= n;
        let _ = ctx.device.poll(wgpu::PollType::Poll);
        Ok(())
    }

    /// Waits for the oldest chunk in flight and turns its segment figures into hops.
    fn complete_oldest(&mut self) -> Result<()> {
        let Some(f) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let slot = &self.slots[f.slot];
        if slot.mapped.load(Ordering::SeqCst) == 1 {
            self.ctx.wait_for(Some(f.submission))?;
        }
        self.ctx.check()?;
        if slot.mapped.load(Ordering::SeqCst) != 2 {
            return Err(Error::Backend(
                "GPU readback of loudness figures failed".into(),
            ));
        }
        let bytes = (self.channels * f.segs * 12) as u64;
        {
            let view = slot
                .readback
                .slice(..bytes)
                .get_mapped_range()
                .map_err(|e| Error::Backend(format!("GPU readback failed: {e}")))?;
            self.scratch.clear();
            self.scratch.extend_from_slice(bytemuck::cast_slice(&view));
        }
        slot.readback.unmap();
        slot.mapped.store(0, Ordering::SeqCst);
        let figs = std::mem::take(&mut self.scratch);
        for seg in 0..f.segs {
            let n = self.seg_len.min(f.frames - seg * self.seg_len);
            for ch in 0..self.channels {
                let x = &figs[3 * (ch * f.segs + seg)..][..3];
                self.acc_energy[ch] += x[0] as f64;
                self.acc_peak[ch] = self.acc_peak[ch].max(x[1]);
                self.acc_tp[ch] = self.acc_tp[ch].max(x[2]);
            }
            self.acc_frames += n;
            if self.acc_frames == self.hop {
                self.emit();
            }
        }
        self.scratch = figs;
        Ok(())
    }

    fn emit(&mut self) {
        let c = self.channels;
        self.done.push(Hop {
            frames: self.acc_frames,
            energy: std::mem::replace(&mut self.acc_energy, vec![0.0; c]),
            sample_peak: std::mem::replace(&mut self.acc_peak, vec![0.0; c]),
            true_peak: std::mem::replace(&mut self.acc_tp, vec![0.0; c]),
        });
        self.acc_frames = 0;
    }

    /// Turns every chunk whose readback has already landed into hops, without blocking.
    fn collect_ready(&mut self) -> Result<()> {
        let _ = self.ctx.device.poll(wgpu::PollType::Poll);
        while let Some(f) = self.in_flight.front() {
            if self.slots[f.slot].mapped.load(Ordering::SeqCst) == 1 {
                break;
            }
            self.complete_oldest()?;
        }
        Ok(())
    }
}

impl Analyzer for GpuAnalyzer {
    fn push(&mut self, planar: &[&[f32]]) -> Result<()> {
        if self.finished {
            return Err(Error::Backend("analyzer: push after finish".into()));
        }
        if planar.len() != self.channels {
            return Err(Error::Backend(format!(
                "analyzer: {} channels pushed, configured for {}",
                planar.len(),
                self.channels
            )));
        }
        let len = planar[0].len();
        if let Some(i) = planar.iter().position(|p| p.len() != len) {
            return Err(Error::Backend(format!(
                "analyzer: channel {i} has {} frames, channel 0 has {len}",
                planar[i].len()
            )));
        }
        let mut at = 0;
        while at < len {
            let take = (self.chunk + self.look - self.pending).min(len - at);
            for (h, p) in self.host.iter_mut().zip(planar) {
                h.extend_from_slice(&p[at..at + take]);
            }
            self.pending += take;
            at += take;
            if self.pending == self.chunk + self.look {
                self.submit(self.chunk)?;
            }
        }
        Ok(())
    }

    fn take_hops(&mut self) -> Result<Vec<Hop>> {
        self.collect_ready()?;
        Ok(std::mem::take(&mut self.done))
    }

    fn finish(&mut self) -> Result<Vec<Hop>> {
        if !self.finished {
            self.finished = true;
            // Zeros after the end complete the last centres' interpolation.
            for h in &mut self.host {
                h.resize(h.len() + self.look, 0.0);
            }
            while self.pending > 0 {
                self.submit(self.pending.min(self.chunk))?;
            }
            while !self.in_flight.is_empty() {
                self.complete_oldest()?;
            }
            if self.acc_frames > 0 {
                self.emit();
            }
        }
        Ok(std::mem::take(&mut self.done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dubstage_core::loudness::k_weighting;

    /// The SVF realization has the biquads' transfer function: in f64 it follows
    /// the direct form to rounding, at every rate the meter supports.
    #[test]
    fn svf_equals_direct_form() {
        for rate in [44_100, 48_000, 96_000, 192_000] {
            let k = k_weighting(rate);
            let svf = [
                SvfStage::from_biquad(&k[0]).unwrap(),
                SvfStage::from_biquad(&k[1]).unwrap(),
            ];
            let mut s = [0.0; 4];
            let mut df = [[0.0f64; 4]; 2];
            let mut seed = 1u64;
            let (mut err, mut mag) = (0.0f64, 0.0f64);
            for t in 0..20_000 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let x = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5 + (t as f64 * 0.01).sin();
                let mut y = x;
                for (b, st) in k.iter().zip(df.iter_mut()) {
                    let out = b.b0 * y + b.b1 * st[0] + b.b2 * st[1] - b.a1 * st[2] - b.a2 * st[3];
                    *st = [y, st[0], out, st[2]];
                    y = out;
                }
                let z = k_step(&svf, &mut s, x);
                err = err.max((z - y).abs());
                mag = mag.max(y.abs());
            }
            assert!(
                err <= 1e-10 * mag,
                "{rate} Hz: max diff {err:e} (output up to {mag})"
            );
        }
    }

    /// `transition(k, L)` is L zero-input steps of the same recurrence.
    #[test]
    fn transition_is_zero_input_steps() {
        let k = k_weighting(48_000);
        let svf = [
            SvfStage::from_biquad(&k[0]).unwrap(),
            SvfStage::from_biquad(&k[1]).unwrap(),
        ];
        let m = transition(&svf, 64);
        let s0 = [0.3, -0.7, 0.2, 0.9];
        let mut s = s0;
        for _ in 0..64 {
            k_step(&svf, &mut s, 0.0);
        }
        for i in 0..4 {
            let via_m: f64 = (0..4).map(|j| m[i][j] * s0[j]).sum();
            assert!(
                (via_m - s[i]).abs() < 1e-12,
                "state {i}: {via_m} vs {}",
                s[i]
            );
        }
        assert_eq!(segment_len(4800), 64);
        assert_eq!(segment_len(4410), 63);
    }

    #[test]
    fn unstable_biquad_is_an_error() {
        let b = Biquad {
            b0: 1.0,
            b1: 0.0,
            b2: 0.0,
            a1: -2.5,
            a2: 1.2,
        };
        assert!(SvfStage::from_biquad(&b).is_err());
    }
}
