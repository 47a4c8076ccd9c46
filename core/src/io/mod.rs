//! Reading and writing audio files: WAV (PCM 16/24/32, float 32/64,
//! WAVE_FORMAT_EXTENSIBLE with channel masks), RF64/BW64, Broadcast Wave `bext`.

pub mod wav;

pub use wav::{
    Bext, BextLoudness, Container, OutputFormat, Rf64Mode, SampleFormat, WavInfo, WavReader,
    WavSpec, WavWriter, WrittenFile,
};
