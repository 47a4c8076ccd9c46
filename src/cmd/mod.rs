//! One module per subcommand.
pub mod preview;
pub mod spot;
