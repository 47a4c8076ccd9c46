//! `--backend cpu|gpu|auto` and `--adapter`, shared by render, demo and measure.

use dubstage_core::Result;
use dubstage_core::backend::Backend;

#[derive(clap::Args, Debug, Clone)]
pub struct BackendArgs {
    /// Processing backend: `cpu`; `gpu` (any wgpu adapter, lavapipe included; an error when
    /// there is none); `auto` (a hardware GPU when there is one, else the CPU, with a notice).
    #[arg(long, default_value = "auto", value_parser = ["cpu", "gpu", "auto"])]
    pub backend: String,
    /// Which GPU adapter: an index or part of its name (also DUBSTAGE_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
}

impl BackendArgs {
    /// The backend; its notice (e.g. "no hardware GPU: using the CPU") goes to stderr
    /// unless `quiet`.
    pub fn open(&self, quiet: bool) -> Result<Box<dyn Backend>> {
        let (b, notice) = dubstage_gpu::select_backend(&self.backend, self.adapter.as_deref())?;
        if let (Some(n), false) = (notice, quiet) {
            eprintln!("{n}");
        }
        Ok(b)
    }
}
