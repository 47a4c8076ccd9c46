//! One module per subcommand.

pub mod backend;
pub mod bench;
pub mod convolve;
pub mod demo;
pub mod http;
pub mod inspect;
pub mod measure;
pub mod outdir;
pub mod preview;
pub mod progress;
pub mod render;
pub mod serve;
pub mod spot;
