//! Adapter and device selection.

use dubstage_core::backend::BackendInfo;
use dubstage_core::{Error, Result};
use std::sync::{Arc, Mutex};

/// The environment variable that picks an adapter when [`GpuOptions::adapter`] is `None`:
/// an index into [`list_adapters`] or a case-insensitive substring of the adapter name.
pub const ADAPTER_ENV: &str = "DUBSTAGE_ADAPTER";

/// How to open the GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Adapter choice: an index into [`list_adapters`] (`"0"`, `"1"`, ...) or a
    /// case-insensitive substring of its name (`"nvidia"`, `"llvmpipe"`).
    /// `None` reads [`ADAPTER_ENV`], then lets wgpu choose (high performance first).
    pub adapter: Option<String>,
    /// Refuse software adapters (device type `Cpu`, e.g. lavapipe/llvmpipe).
    /// `select_backend("auto", ..)` sets this.
    pub hardware_only: bool,
    /// Upper bound on the frames one GPU dispatch handles (`None`: derived from the
    /// adapter's limits and a memory budget). Tests lower it to exercise chunk boundaries.
    pub max_chunk_frames: Option<usize>,
}

/// One adapter as the system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Position in the enumeration (what `--adapter N` selects).
    pub index: usize,
    /// Adapter name, e.g. "NVIDIA GeForce RTX 4090" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub api: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu or Other.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// True for adapters that are real GPUs (not `Cpu`-type software rasterizers).
    pub hardware: bool,
}

/// An open device with what the kernels need to size their work.
pub(crate) struct GpuContext {
    pub device: wgpu::Device,
    /// wgpu errors raised outside an error scope (validation, out of memory,
    /// device lost), collected instead of wgpu's default panic and turned into
    /// `Error::Backend` by [`GpuContext::wait`].
    pub errors: Arc<Mutex<Vec<String>>>,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    pub info: BackendInfo,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn is_hardware(t: wgpu::DeviceType) -> bool {
    matches!(
        t,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

fn summary(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let i = a.get_info();
    AdapterSummary {
        index,
        name: i.name.clone(),
        api: format!("{:?}", i.backend),
        device_type: format!("{:?}", i.device_type),
        driver: [i.driver.as_str(), i.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        hardware: is_hardware(i.device_type),
    }
}

/// Every adapter wgpu can open on this machine (all backends, honouring `WGPU_BACKEND`).
pub fn list_adapters() -> Vec<AdapterSummary> {
    let inst = instance();
    pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .enumerate()
        .map(|(i, a)| summary(i, a))
        .collect()
}

/// Compute rank when the user expressed no preference: discrete, integrated, virtual,
/// then software; Vulkan/Metal/Dx12 before GL.
fn rank(s: &AdapterSummary) -> (u8, u8) {
    let t = match s.device_type.as_str() {
        "DiscreteGpu" => 0,
        "IntegratedGpu" => 1,
        "VirtualGpu" => 2,
        "Cpu" => 3,
        _ => 4,
    };
    let api = if s.api == "Gl" { 1 } else { 0 };
    (t, api)
}

impl GpuContext {
    pub fn open(opts: &GpuOptions) -> Result<GpuContext> {
        let inst = instance();
        let adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        let sums: Vec<AdapterSummary> = adapters
            .iter()
            .enumerate()
            .map(|(i, a)| summary(i, a))
            .collect();
        if sums.is_empty() {
            return Err(Error::Backend(
                "no GPU adapter found (no Vulkan, Metal, DX12 or GL driver answered; \
                 on Linux without a GPU install mesa-vulkan-drivers for lavapipe)"
                    .into(),
            ));
        }
        let choice = opts.adapter.clone().or_else(|| {
            std::env::var(ADAPTER_ENV)
                .ok()
                .filter(|s| !s.trim().is_empty())
        });
        let listing = || {
            sums.iter()
                .map(|s| format!("{}: {} ({}, {})", s.index, s.name, s.api, s.device_type))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let pick = match choice.as_deref().map(str::trim) {
            Some(c) => {
                let found = match c.parse::<usize>() {
                    Ok(i) => sums.get(i),
                    Err(_) => {
                        let lc = c.to_lowercase();
                        sums.iter()
                            .filter(|s| s.name.to_lowercase().contains(&lc))
                            .min_by_key(|s| rank(s))
                    }
                };
                let s = found.ok_or_else(|| {
                    Error::Backend(format!(
                        "no GPU adapter matches '{c}' (available: {})",
                        listing()
                    ))
                })?;
                if opts.hardware_only && !s.hardware {
                    return Err(Error::Backend(format!(
                        "adapter '{}' is a software rasterizer ({}), not a hardware GPU",
                        s.name, s.device_type
                    )));
                }
                s.index
            }
            None => {
                let best = sums
                    .iter()
                    .filter(|s| !opts.hardware_only || s.hardware)
                    .min_by_key(|s| rank(s))
                    .ok_or_else(|| {
                        Error::Backend(format!(
                            "no hardware GPU adapter found (only software adapters: {})",
                            listing()
                        ))
                    })?;
                best.index
            }
        };
        let adapter = &adapters[pick];
        let s = &sums[pick];
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dubstage"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::default(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Backend(format!("cannot open GPU adapter '{}': {e}", s.name)))?;
        if !adapter
            .get_downlevel_capabilities()
            .flags
            .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        {
            return Err(Error::Backend(format!(
                "GPU adapter '{}' has no compute shaders",
                s.name
            )));
        }
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        Ok(GpuContext {
            errors,
            device,
            queue,
            limits,
            info: BackendInfo {
                kind: "gpu".into(),
                name: s.name.clone(),
                api: s.api.clone(),
                device_type: s.device_type.clone(),
                driver: s.driver.clone(),
            },
        })
    }

    /// Largest byte size one storage binding may have.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// A compute pipeline for `entry` in a WGSL module, its layout inferred from the shader.
    pub fn pipeline(&self, label: &str, wgsl: &str, entry: &str) -> wgpu::ComputePipeline {
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            });
        self.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
    }

    pub fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.max(16).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        })
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<()> {
        self.wait_for(None)
    }

    /// Blocks until submission `index` (or all work) is done, then reports any
    /// error wgpu raised meanwhile.
    pub fn wait_for(&self, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: index,
                timeout: None,
            })
            .map_err(|e| Error::Backend(format!("GPU wait failed: {e}")))?;
        self.check()
    }

    /// The first error wgpu reported since the last check, as `Error::Backend`.
    pub fn check(&self) -> Result<()> {
        let mut v = self
            .errors
            .lock()
            .map_err(|_| Error::Backend("GPU error log poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let first = v.remove(0);
        let more = v.len();
        v.clear();
        Err(Error::Backend(if more > 0 {
            format!("GPU error: {first} (and {more} more)")
        } else {
            format!("GPU error: {first}")
        }))
    }
}

/// Workgroup grid for `items` invocations in groups of `group`, split over x and y
/// so neither exceeds `max_dim` (65,535 on most adapters). Returns `(x, y)`; the
/// shader's linear id is `(wg.y * x + wg.x) * group + local_index`.
pub(crate) fn grid(items: u64, group: u32, max_dim: u32) -> (u32, u32) {
    let groups = items.div_ceil(group as u64).max(1);
    let x = groups.min(max_dim as u64);
    let y = groups.div_ceil(x);
    (x as u32, y as u32)
}

/// Reads a mapped readback buffer after `map_async` + wait.
pub(crate) fn map_read(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    bytes: u64,
    out: &mut Vec<f32>,
) -> Result<()> {
    let slice = buf.slice(..bytes);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    ctx.wait()?;
    {
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Backend(format!("GPU readback failed: {e}")))?;
        out.clear();
        out.extend_from_slice(bytemuck::cast_slice(&view));
    }
    buf.unmap();
    Ok(())
}
