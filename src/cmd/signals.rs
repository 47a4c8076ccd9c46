//! SIGINT and SIGTERM during a render: the first asks the render to stop cleanly (it
//! checks once per block, removes its temporary files, delivers nothing, and the
//! process exits 130 or 143, the shell's 128 + signal number); a second one ends the
//! process at once with the same status (the next render into the folder sweeps what
//! it left).

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Exit status of a process stopped by SIGINT (Ctrl-C): 128 + 2.
pub const EXIT_SIGINT: u8 = 130;
/// Exit status of a process stopped by SIGTERM: 128 + 15.
pub const EXIT_SIGTERM: u8 = 143;

struct Flags {
    stop: Arc<AtomicBool>,
    status: Arc<AtomicUsize>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Installs the handlers (once) and returns the flag the render checks. Where signals
/// cannot be caught (or the registration fails), the flag is never set and the
/// signals keep their default action.
pub fn install() -> Arc<AtomicBool> {
    let f = FLAGS.get_or_init(|| {
        let f = Flags {
            stop: Arc::new(AtomicBool::new(false)),
            status: Arc::new(AtomicUsize::new(0)),
        };
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGINT, SIGTERM};
            use signal_hook::flag;
            for (sig, code) in [(SIGINT, EXIT_SIGINT), (SIGTERM, EXIT_SIGTERM)] {
                // The shutdown goes first: armed by the first signal, it acts on the second.
                let _ = flag::register_conditional_shutdown(sig, code.into(), f.stop.clone());
                let _ = flag::register_usize(sig, f.status.clone(), code.into());
                let _ = flag::register(sig, f.stop.clone());
            }
        }
        f
    });
    f.stop.clone()
}

/// The exit status of the signal that stopped the work (130 SIGINT, 143 SIGTERM), or
/// `None` when no signal came.
pub fn exit_status() -> Option<u8> {
    let f = FLAGS.get()?;
    if !f.stop.load(Ordering::SeqCst) {
        return None;
    }
    u8::try_from(f.status.load(Ordering::SeqCst))
        .ok()
        .filter(|&s| s != 0)
}
