//! Measuring a file: stream it through a backend's analyzer into a [`Meter`].

use super::meter::{DialogueGate, LoudnessSummary, Meter};
use crate::backend::{AnalyzerConfig, Backend};
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
}

/// The channels of a file for BS.1770 weighting: from its WAVE_FORMAT_EXTENSIBLE mask when
/// it names a known layout, else from the channel count; `None` when neither fits.
pub fn channels_for(channels: u16, mask: Option<u32>) -> Option<(Vec<Channel>, &'static str)> {
    if let Some(l) = mask.and_then(Layout::from_mask) {
        if l.len() == channels as usize {
            return Some((l.channels().to_vec(), "mask"));
        }
    }
    Layout::from_count(channels as usize).map(|l| (l.channels().to_vec(), "count"))
}

/// Measures `path` with `backend`'s analyzer: integrated loudness, LRA, maxima, sample
/// and true peaks per channel. Memory is bounded by `opts.block_frames`.
pub fn measure_file(
    path: &Path,
    opts: &MeasureOptions,
    backend: &dyn Backend,
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
    let mut analyzer = backend
        .summary_analyzer(&AnalyzerConfig {
            channels: nch,
            sample_rate: info.sample_rate,
            true_peak_oversample: os,
        })
        .map_err(named)?;
    let block = opts.block_frames.max(1);
    let mut feed = |bufs: &[Vec<f32>], n: usize| -> Result<()> {
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
                    Ok((bufs, n)) => {
                        if let Err(e) = feed(&bufs, n) {
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
            feed(&bufs, n)?;
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
    })
}
