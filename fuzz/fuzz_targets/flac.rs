//! FLAC (STREAMINFO, Vorbis comments, frames) through the reader the render uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../replay.rs"]
mod replay;

fuzz_target!(|data: &[u8]| {
    replay::audio(data, "flac");
});
