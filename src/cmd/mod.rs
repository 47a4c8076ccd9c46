//! One module per subcommand.

pub mod demo;
pub mod inspect;
pub mod preview;
pub mod progress;
pub mod render;
pub mod spot;
