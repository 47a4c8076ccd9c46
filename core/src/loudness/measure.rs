//! Measuring a file: stream it through an analyzer (a backend's) into a [`Meter`].

use super::analyzer::{AnalyzerConfig, AnalyzerFactory};
use super::meter::{DialogueGate, LoudnessSummary, Meter};
use crate::io::WavReader;
use crate::layout::{Channel, Layout};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What [`measure_file`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureOptions {
    /// True-peak oversampling factor; `None` = [`super::default_true_peak_factor`] of the
    /// file's rate (4x at 44.1/48 kHz, 2x at 88.2/96 kHz); `Some(0)` = no true peak.
    pub true_peak_oversample: Option<u32>,
    /// Frames read and analyzed per block (bounded memory).
    pub block_frames: usize,
    /// Keep the 100 ms momentary / short-term timeline in the summary.
    pub timeline: bool,
    /// Channel assignment overriding the file's mask / channel count.
    pub channels: Option<Vec<Channel>>,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            true_peak_oversample: None,
            block_frames: 1 << 16,
            timeline: false,
            channels: None,
        }
    }
}

/// The result of measuring one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileMeasurement {
    /// The path as given.
    pub file: PathBuf,
    pub channels: u16,
    pub sample_rate: u32,
    pub frames: u64,
    pub duration_s: f64,
    /// The true-peak oversampling factor used (0 = not measured).
    pub true_peak_oversample: u32,
    /// How the channels were weighted: `"mask"`, `"count"`, `"given"` or `"unknown"`
    /// (all channels weight 1.0).
    pub channel_map: String,
    pub summary: LoudnessSummary,
    /// NaN or infinite samples in the file (float files only; PCM cannot hold
    /// them). They are measured as silence (0.0), so the figures describe the
    /// finite audio; a non-zero count means the file is damaged.
    pub non_finite_samples: u64,
    /// The first NaN or infinite sample: its frame and channel (0-based).
    pub first_non_finite: Option<(u64, usize)>,
}

/// The channels of a file for BS.1770 weighting: from its WAVE_FORMAT_EXTENSIBLE mask when
/// it names a known layout, else from the channel count; `None` when neither fits.
pub fn channels_for(channels: u16, mask: Option<u32>) -> Option<(Vec<Channel>, &'static str)> {
    match crate::layout::identify(channels as usize, mask, &[]) {
        Ok(id) if id.how == "count" => Some((id.layout.channels().to_vec(), "count")),
        Ok(id) => Some((id.layout.channels().to_vec(), "mask")),
        Err(_) => Layout::from_count(channels as usize).map(|l| (l.channels().to_vec(), "count")),
    }
}

/// Measures `path` with the analyzer `make` builds (a backend's summary analyzer:
/// `&|cfg| backend.summary_analyzer(cfg)`): integrated loudness, LRA, maxima, sample
/// and true peaks per channel. Memory is bounded by `opts.block_frames`.
pub fn measure_file(
    path: &Path,
    opts: &MeasureOptions,
    make: &AnalyzerFactory<'_>,
) -> Result<FileMeasurement> {
    let mut reader = WavReader::open(path)?;
    let info = reader.info().clone();
    let nch = info.channels as usize;
    if nch == 0 {
        return Err(Error::format(path, "no channels"));
    }
    if info.sample_rate % 10 != 0 || info.sample_rate == 0 {
        return Err(Error::format(
            path,
            format!(
                "sample rate {} Hz is not supported for loudness (100 ms must be a whole number of samples)",
                info.sample_rate
            ),
        ));
    }
    let os = opts
        .true_peak_oversample
        .unwrap_or_else(|| super::default_true_peak_factor(info.sample_rate));
    let mut meter = match (
        &opts.channels,
        channels_for(info.channels, info.channel_mask),
    ) {
        (Some(given), _) => {
            if given.len() != nch {
                return Err(Error::format(
                    path,
                    format!("{} channels given for a {nch}-channel file", given.len()),
                ));
            }
            (Meter::new(info.sample_rate, given)?, "given")
        }
        (None, Some((chans, how))) => (Meter::new(info.sample_rate, &chans)?, how),
        (None, None) => (
            Meter::with_weights(
                info.sample_rate,
                (1..=nch).map(|i| format!("ch{i}")).collect(),
                vec![1.0; nch],
            )?,
            "unknown",
        ),
    };
    let (ref mut m, how) = meter;
    if !opts.timeline {
        *m = m.clone().without_timeline();
    }
    // Errors of the reader name the file already; name it for the analysis too.
    let named = |e: Error| match e {
        e @ (Error::Io { .. } | Error::Format { .. }) => e,
        e => Error::format(path, e.to_string()),
    };
    let mut analyzer = make(&AnalyzerConfig {
        channels: nch,
        sample_rate: info.sample_rate,
        true_peak_oversample: os,
    })
    .map_err(named)?;
    let block = opts.block_frames.max(1);
    let float = matches!(info.format, crate::io::SampleFormat::Float(_));
    let (mut non_finite, mut first_non_finite, mut at) = (0u64, None, 0u64);
    let mut feed = |bufs: &mut [Vec<f32>], n: usize| -> Result<()> {
        if float {
            for (c, b) in bufs.iter_mut().enumerate() {
                for (k, v) in b[..n].iter_mut().enumerate() {
                    if !v.is_finite() {
                        non_finite += 1;
                        if first_non_finite.is_none_or(|(f, _)| at + (k as u64) < f) {
                            first_non_finite = Some((at + k as u64, c));
                        }
                        *v = 0.0;
                    }
                }
            }
        }
        at += n as u64;
        let planar: Vec<&[f32]> = bufs.iter().map(|b| &b[..n]).collect();
        analyzer.push(&planar).map_err(named)?;
        m.push_hops(&analyzer.take_hops().map_err(named)?)
            .map_err(named)
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        // Read and decode the next block on another thread while this one is analyzed
        // (two blocks in flight: memory stays bounded).
        use std::sync::mpsc::sync_channel;
        let (tx, rx) = sync_channel::<Result<(Vec<Vec<f32>>, usize)>>(1);
        let (back_tx, back_rx) = sync_channel::<Vec<Vec<f32>>>(2);
        back_tx.send(vec![Vec::with_capacity(block); nch]).ok();
        back_tx.send(vec![Vec::with_capacity(block); nch]).ok();
        std::thread::scope(|s| -> Result<()> {
            s.spawn(move || {
                while let Ok(mut bufs) = back_rx.recv() {
                    let r = reader.read_planar(&mut bufs, block);
                    let stop = !matches!(r, Ok(n) if n > 0);
                    if tx.send(r.map(|n| (bufs, n))).is_err() || stop {
                        break;
                    }
                }
            });
            let mut result = Ok(());
            while let Ok(msg) = rx.recv() {
                match msg {
                    Ok((_, 0)) => break,
                    Ok((mut bufs, n)) => {
                        if let Err(e) = feed(&mut bufs, n) {
                            result = Err(e);
                            break;
                        }
                        back_tx.send(bufs).ok();
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            // Dropping the return channel stops the reader.
            drop(back_tx);
            drop(rx);
            result
        })?;
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut bufs = vec![Vec::with_capacity(block); nch];
        loop {
            let n = reader.read_planar(&mut bufs, block)?;
            if n == 0 {
                break;
            }
            feed(&mut bufs, n)?;
        }
    }
    m.push_hops(&analyzer.finish().map_err(named)?)
        .map_err(named)?;
    let summary = m.summary(&DialogueGate::default(), opts.timeline);
    Ok(FileMeasurement {
        file: path.to_path_buf(),
        channels: info.channels,
        sample_rate: info.sample_rate,
        frames: m.frames(),
        duration_s: summary.duration_s,
        true_peak_oversample: os,
        channel_map: how.to_string(),
        summary,
        non_finite_samples: non_finite,
        first_non_finite,
    })
}
