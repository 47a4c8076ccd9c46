//! The session file: a reel's stems, buses and deliverables, in TOML.
//!
//! [`Session::load`] parses and checks the text (syntax, unknown keys with the
//! nearest valid key, timecodes, automation order), reporting the file, line and
//! column. [`Session::resolve`] then opens every source's header and turns the
//! session into a [`Plan`]: sample positions on the reel, channel mappings,
//! routing matrices and the deliverables to write.

mod diagnostics;
mod parse;
mod plan;
mod resolve;
mod spec;

pub use diagnostics::{line_col, sanitize};
pub use parse::Session;
pub(crate) use plan::route;
pub use plan::{Plan, PlanBus, PlanDeliverable, PlanReturn, PlanSend, PlanSpeedVersion, PlanStem};
pub use spec::{
    Breakpoint, BusSpec, DeliverableKind, DeliverableSpec, DeliverySpec, OutputSpec, PanSpec,
    ReelSpec, ReturnSpec, SendSpec, SessionFile, SpeedSpec, StemKind, StemSpec,
};
use toml::Spanned;

/// A timecode string with its place in the session file.
pub type TcText = Spanned<String>;

/// Gains accepted anywhere in a session (stem, bus and return faders, sends,
/// automation breakpoints), in dB: finite, from -200 dB (silence at any bit depth)
/// to +40 dB (the insert trims' ceiling).
pub const GAIN_DB_MIN: f64 = -200.0;
/// The longest silence (minutes) a reel without `[reel] length` may open before a stem
/// placed by its file's bext TimeReference: longer looks like a time-of-day stamp.
pub const TIME_OF_DAY_GAP_MINUTES: i64 = 10;
/// See [`GAIN_DB_MIN`].
pub const GAIN_DB_MAX: f64 = 40.0;
pub use crate::io::plausible::MAX_CHANNELS;
/// Most `[[stem]]`s in a session (each holds open files and block buffers).
pub const MAX_STEMS: usize = 1024;
/// Most `[[bus]]`es (each adds a mix of every channel, and a DME stem file).
pub const MAX_BUSES: usize = 64;
/// Most `[[return]]`s.
pub const MAX_RETURNS: usize = 64;
/// Most deliverable files of one render, after the DME stems and multi-mono
/// files are counted.
pub const MAX_DELIVERABLE_FILES: usize = 512;
