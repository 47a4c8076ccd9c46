//! One module per subcommand.

pub mod backend;
pub mod bench;
pub mod conform;
pub mod convolve;
pub mod demo;
pub mod inspect;
pub mod measure;
pub mod preview;
pub mod progress;
pub mod render;
pub mod spot;
