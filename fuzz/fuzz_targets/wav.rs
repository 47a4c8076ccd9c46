//! WAV / RF64 / BW64 (fmt, ds64, bext, iXML, data) through the reader the
//! render uses: header parsing, then bounded reads and seeks.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../replay.rs"]
mod replay;

fuzz_target!(|data: &[u8]| {
    replay::audio(data, "wav");
});
