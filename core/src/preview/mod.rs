//! The browser preview's engine: a package's manifest ([`manifest`]), its mixer on the
//! render's own mix graph ([`mixer`]) and its loudness meter on the render's own meter
//! ([`meter`]). `dubstage preview` writes packages and their loudness series with it
//! natively; `dubstage-wasm` binds it for the page.

pub mod manifest;
pub mod meter;
pub mod mixer;

pub use manifest::Manifest;
pub use meter::Meter;
pub use mixer::{MAX_PRIME_SECONDS, Mixer, Monitor};
