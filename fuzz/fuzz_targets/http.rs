//! See `replay::http`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../replay.rs"]
mod replay;

fuzz_target!(|data: &[u8]| {
    replay::http(data);
});
