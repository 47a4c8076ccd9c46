//! One module per subcommand.

pub mod backend;
pub mod bench;
pub mod conform;
pub mod convolve;
pub mod demo;
pub mod dialogue;
pub mod feature;
pub mod http;
pub mod inspect;
pub mod measure;
pub mod outdir;
pub mod preview;
pub mod progress;
pub mod render;
pub mod serve;
pub mod signals;
pub mod slurm;
pub mod spot;

/// Set by a command that has printed its JSON document: should it then fail (e.g. some
/// of several files could not be read), `main` does not print a second JSON object.
pub static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the command's JSON document was printed (see [`JSON_PRINTED`]).
pub fn json_printed() {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
}
