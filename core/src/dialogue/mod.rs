//! Dialogue editing tools: sync of production sound and ADR to a guide
//! ([`sync`]), noise reduction ([`denoise`], [`rnnoise`]) and ADR alignment
//! ([`align`]).
//!
//! These sit in the dsp layer: they know samples and sample rates, not
//! sessions. The CLI (`dubstage dialogue ...`) reads the files; the session's
//! `denoise` insert runs [`denoise::Denoiser`] inside the stem insert chain.

pub mod align;
pub mod clip;
pub mod denoise;
pub mod rnnoise;
pub mod sync;
pub mod takes;
#[cfg(test)]
pub(crate) mod test_signals;

use crate::io::AudioReader;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which noise reduction engine computes the gains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The spectral engine written here ([`denoise`]).
    #[default]
    Spectral,
    /// RNNoise (the `nnnoiseless` crate), used as a mask estimator ([`rnnoise`]).
    Rnnoise,
}

impl std::str::FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Engine> {
        match s {
            "spectral" => Ok(Engine::Spectral),
            "rnnoise" => Ok(Engine::Rnnoise),
            _ => Err(Error::Invalid(format!(
                "engine '{s}': use spectral or rnnoise"
            ))),
        }
    }
}

/// A whole file mixed to mono (the mean of its channels), with its sample rate.
/// Refuses files longer than `max_frames` (naming the file and the limit).
pub fn read_mono(path: &Path, max_frames: u64) -> Result<(Vec<f32>, u32)> {
    let mut r = AudioReader::open(path)?;
    let info = r.info().clone();
    if info.frames > max_frames {
        return Err(Error::format(
            path,
            format!(
                "{:.1} s long: at most {:.1} s can be analysed at once (trim it to the region you need)",
                info.duration_secs(),
                max_frames as f64 / f64::from(info.sample_rate)
            ),
        ));
    }
    let ch = usize::from(info.channels);
    let mut out = Vec::with_capacity(info.frames as usize);
    let mut buf = vec![Vec::new(); ch];
    let scale = 1.0 / ch as f32;
    loop {
        let n = r.read_planar(&mut buf, 1 << 16)?;
        if n == 0 {
            break;
        }
        for i in 0..n {
            let s: f32 = buf.iter().map(|c| c[i]).sum();
            let v = s * scale;
            if !v.is_finite() {
                return Err(Error::format(
                    path,
                    format!("sample {} is NaN or infinite", out.len()),
                ));
            }
            out.push(v);
        }
    }
    Ok((out, info.sample_rate))
}
