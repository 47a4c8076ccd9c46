//! The render's mixer: the stems read from their files onto the reel timeline, fed
//! block by block through the [`Graph`] (the one mix graph; plain stems are read by
//! the sum itself).

pub use super::graph::MixBlock;
use super::graph::{Graph, GraphSpec};
use super::sources::StemReader;
use crate::backend::{Backend, FileSource, insert_chain};
use crate::io::WavReader;
use crate::session::Plan;
use crate::stem::chain::InsertChain;
use crate::{Error, Result};

/// The mixing engine of a render: stems in, buses and mixes out, one block at a time.
pub struct Mixer<'p> {
    pub(super) plan: &'p Plan,
    readers: Vec<StemReader>,
    graph: Graph,
    /// Per stem: how far ahead it is read (its insert chain's latency), so the
    /// chain's output lands in sync with the reel.
    lead: Vec<i64>,
    /// Which stems the sum reads straight from their files (decided on the first block).
    direct: Option<Vec<bool>>,
    /// Next reel sample.
    pub pos: u64,
}

impl<'p> Mixer<'p> {
    /// Opens every stem at the start of the reel and builds the insert chains.
    pub fn new(plan: &'p Plan, backend: &dyn Backend) -> Result<Mixer<'p>> {
        let chain = |inserts, width, id: &str| {
            insert_chain(
                backend,
                inserts,
                plan.sample_rate,
                width,
                &plan.base_dir,
                id,
            )
        };
        let chains = plan
            .stems
            .iter()
            .map(|s| chain(&s.inserts, s.layout.len(), &s.id))
            .collect::<Result<Vec<InsertChain>>>()?;
        let ret_chains = plan
            .returns
            .iter()
            .map(|r| {
                chain(&r.inserts, r.layout.len(), &r.id)
                    .map_err(|e| Error::Invalid(format!("return '{}': {e}", r.id)))
            })
            .collect::<Result<Vec<_>>>()?;
        let lead: Vec<i64> = chains.iter().map(|c| c.latency() as i64).collect();
        let mut graph = Graph::new(GraphSpec::of_plan(plan), chains, ret_chains)?;
        let mut readers = plan
            .stems
            .iter()
            .map(|s| StemReader::open(s, plan, 0))
            .collect::<Result<Vec<_>>>()?;
        // A chain with latency gets the stem's first `lead` frames now (its output,
        // from before the reel, is dropped); from then on the stem is read `lead`
        // frames ahead, so the chain's output lines up with the reel. (The 2-pop check
        // reads the stems as recorded, in a window of its own.)
        for (i, (r, &l)) in readers.iter_mut().zip(&lead).enumerate() {
            if l > 0 {
                let (buf, c) = graph.stem_and_chain_mut(i);
                r.read_block(0, l as usize, buf)?;
                c.process(buf, l as usize)?;
            }
        }
        Ok(Mixer {
            plan,
            readers,
            graph,
            lead,
            direct: None,
            pos: 0,
        })
    }

    /// The stems the sum reads straight from their files ([`FileSource`]): plain
    /// stems (no inserts or sends) of one WAV file each, where positional reads work.
    fn direct_stems(&self) -> Vec<bool> {
        let ok = crate::io::wav::POSITIONAL_READS;
        self.plan
            .stems
            .iter()
            .zip(&self.readers)
            .enumerate()
            .map(|(i, (s, r))| {
                ok && self.graph.chain(i).is_empty() && s.sends.is_empty() && r.direct().is_some()
            })
            .collect()
    }

    /// Mixes the next `n` frames into `out`.
    pub fn next_block(
        &mut self,
        backend: &mut dyn Backend,
        n: usize,
        out: &mut MixBlock,
    ) -> Result<()> {
        let t0 = self.pos as i64;
        if self.direct.is_none() {
            self.direct = Some(self.direct_stems());
        }
        let direct = self.direct.clone().unwrap_or_default();
        // Read every other stem (in parallel on native targets; each is independent).
        {
            let work = self
                .readers
                .iter_mut()
                .zip(self.graph.stems_mut().iter_mut())
                .zip(&self.lead)
                .zip(&direct)
                .filter(|(_, d)| !**d)
                .map(|(w, _)| w);
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                let v: Vec<_> = work.collect();
                v.into_par_iter()
                    .map(|((r, b), l)| r.read_block(t0 + l, n, b))
                    .collect::<Result<Vec<()>>>()?;
            }
            #[cfg(target_arch = "wasm32")]
            for ((r, b), l) in work {
                r.read_block(t0 + l, n, b)?;
            }
        }
        self.graph.process(backend, t0, n, None)?;
        // Plain stems are read by the sum itself, straight from their files.
        let files: Vec<Option<(&StemReader, &WavReader)>> = self
            .readers
            .iter()
            .zip(&direct)
            .map(|(r, &d)| if d { r.direct().map(|w| (r, w)) } else { None })
            .collect();
        let errors: Vec<_> = files
            .iter()
            .map(|f| f.map(|(r, w)| move |frame: i64, c: usize| r.non_finite(w.info(), frame, c)))
            .collect();
        let sources: Vec<Option<FileSource<'_>>> = files
            .iter()
            .zip(&errors)
            .map(|(f, e)| match (f, e) {
                (Some((r, wav)), Some(e)) => Some(FileSource {
                    id: &r.id,
                    wav,
                    offset: r.offset,
                    frames: r.frames,
                    file_channel: &r.file_channel,
                    non_finite: e,
                }),
                _ => None,
            })
            .collect();
        self.graph.sum(backend, t0, n, None, &sources, out)?;
        self.pos += n as u64;
        Ok(())
    }
}
