//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod inspect;
pub mod progress;
pub mod render;
