//! `--backend cpu|gpu|auto` and `--adapter`, shared by render, demo and measure.

use dubstage_core::backend::Backend;
use dubstage_core::{Error, Result};

#[derive(clap::Args, Debug, Clone)]
pub struct BackendArgs {
    /// Processing backend: `cpu` (the default: the reference, the same bytes on every
    /// machine); `gpu` (any wgpu adapter, lavapipe included; an error when there is
    /// none); `auto` (a hardware GPU when there is one, else the CPU, with a notice).
    /// A render without --backend uses the session's `[output] backend`, else the CPU.
    #[arg(long, value_parser = ["cpu", "gpu", "auto"])]
    pub backend: Option<String>,
    /// Which GPU adapter: an index or part of its name (also DUBSTAGE_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
}

impl BackendArgs {
    /// Whether the command line asks for a GPU (`gpu` or `auto`).
    pub fn wants_gpu(&self) -> bool {
        self.backend.as_deref().is_some_and(|b| b != "cpu")
    }

    /// The backend: the command line's, else `session` (a session's choice), else the
    /// CPU. Its notice (e.g. "no hardware GPU: using the CPU") goes to stderr unless
    /// `quiet`. No GPU instance is created for the CPU.
    pub fn open_for(&self, session: Option<&str>, quiet: bool) -> Result<Box<dyn Backend>> {
        let choice = self.backend.as_deref().or(session).unwrap_or("cpu");
        if choice.trim() != "cpu" {
            prepare_gpu_runtime_dir();
        }
        let (b, notice) = dubstage_gpu::select_backend(choice, self.adapter.as_deref())?;
        if let (Some(n), false) = (notice, quiet) {
            eprintln!("{n}");
        }
        Ok(b)
    }

    /// The backend the command line asks for, else the CPU.
    pub fn open(&self, quiet: bool) -> Result<Box<dyn Backend>> {
        self.open_for(None, quiet)
    }
}

/// Checks a session's `[output] backend` value.
pub fn check_choice(v: &str) -> Result<()> {
    match v.trim() {
        "cpu" | "gpu" | "auto" => Ok(()),
        other => Err(Error::Invalid(format!(
            "unknown backend '{other}' (expected cpu, gpu or auto)"
        ))),
    }
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set in the
/// environment" when the variable is unset or names no private folder. Before a GPU
/// instance is created, an unset or unusable XDG_RUNTIME_DIR is pointed at a private
/// (0700) folder of this user under the temporary folder, so the line never reaches
/// the user. Call it before other threads start (it sets an environment variable);
/// it acts once.
pub fn prepare_gpu_runtime_dir() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let current = std::env::var_os("XDG_RUNTIME_DIR");
            if current
                .as_deref()
                .is_some_and(|d| private_dir(std::path::Path::new(d)))
            {
                return;
            }
            if let Some(dir) = make_private_dir() {
                set_runtime_dir(&dir);
            }
        });
    }
}

/// This process's user id (Linux: the owner of /proc/self).
#[cfg(unix)]
fn my_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// An absolute path to a real folder (not a link) owned by this user, mode 0700.
#[cfg(unix)]
fn private_dir(d: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(d) else {
        return false;
    };
    d.is_absolute() && m.is_dir() && m.mode() & 0o077 == 0 && my_uid().is_none_or(|u| u == m.uid())
}

#[cfg(unix)]
fn make_private_dir() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let tag = my_uid().map_or_else(|| "user".to_string(), |u| u.to_string());
    let base = std::env::temp_dir();
    for name in [
        format!("dubstage-xdg-{tag}"),
        format!("dubstage-xdg-{tag}-{}", std::process::id()),
    ] {
        let d = base.join(name);
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&d);
        if private_dir(&d) {
            return Some(d);
        }
    }
    None
}

#[cfg(unix)]
#[expect(
    unsafe_code,
    reason = "setting an environment variable is unsafe when other threads read the \
              environment; this runs before the GPU instance and, for every command, \
              before the worker threads start"
)]
fn set_runtime_dir(dir: &std::path::Path) {
    // SAFETY: called once, before the GPU instance is created, while no other thread
    // of this process reads or writes the environment.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
}
