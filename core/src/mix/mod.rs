//! Bus summing and downmixes.
