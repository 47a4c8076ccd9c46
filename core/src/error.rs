//! The one error type of `dubstage-core`.
//!
//! Every variant names what the user must look at: the file, the stem, the
//! session line, the timecode. The CLI prints `Display` as one sentence.

use std::path::PathBuf;

/// Errors of the dubstage core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A WAV/RF64/BW64/FLAC file that cannot be read or written as asked.
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    /// The session file is malformed; `line`/`col` are 1-based when known.
    #[error("{}", session_msg(path, *line, *col, msg))]
    Session {
        path: PathBuf,
        line: Option<usize>,
        col: Option<usize>,
        msg: String,
    },
    /// A stem's audio or settings do not fit the session.
    #[error("stem '{stem}': {msg}")]
    Stem { stem: String, msg: String },
    /// A malformed timecode.
    #[error("invalid timecode '{text}': {msg}")]
    Timecode { text: String, msg: String },
    /// An output location that cannot be used.
    #[error("{path}: {msg}")]
    Output { path: PathBuf, msg: String },
    /// A processing backend failed (GPU lost, no adapter, ...).
    #[error("backend: {0}")]
    Backend(String),
    /// A delivery/QC requirement that cannot be met.
    #[error("{0}")]
    Delivery(String),
    /// Any other invalid argument.
    #[error("{0}")]
    Invalid(String),
    /// The work was cancelled (SIGINT, SIGTERM) and stopped cleanly: nothing was
    /// delivered.
    #[error("interrupted: {0}")]
    Cancelled(String),
}

fn session_msg(
    path: &std::path::Path,
    line: Option<usize>,
    col: Option<usize>,
    msg: &str,
) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}: {msg}", path.display()),
        (Some(l), None) => format!("{}:{l}: {msg}", path.display()),
        _ => format!("{}: {msg}", path.display()),
    }
}

impl Error {
    /// Wraps an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// A format error on a named file.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }
    /// The error's kind in one word, for machine-readable output (`--json`):
    /// `io`, `format`, `session`, `stem`, `timecode`, `output`, `backend`,
    /// `delivery`, `invalid` or `cancelled`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Format { .. } => "format",
            Error::Session { .. } => "session",
            Error::Stem { .. } => "stem",
            Error::Timecode { .. } => "timecode",
            Error::Output { .. } => "output",
            Error::Backend(_) => "backend",
            Error::Delivery(_) => "delivery",
            Error::Invalid(_) => "invalid",
            Error::Cancelled(_) => "cancelled",
        }
    }
    /// The file the error concerns, when it names one.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::Format { path, .. }
            | Error::Session { path, .. }
            | Error::Output { path, .. } => Some(path),
            _ => None,
        }
    }
    /// The stem the error concerns, when it names one.
    pub fn stem_id(&self) -> Option<&str> {
        match self {
            Error::Stem { stem, .. } => Some(stem),
            _ => None,
        }
    }
    /// The session line (1-based) the error concerns, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Session { line, .. } => *line,
            _ => None,
        }
    }
    /// A stem error.
    pub fn stem(stem: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Stem {
            stem: stem.into(),
            msg: msg.into(),
        }
    }
}

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
