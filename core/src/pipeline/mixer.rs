//! The mix graph: sources -> per-stem inserts -> sends/returns -> buses -> dialogue,
//! M&E and printmaster, one block at a time.

use super::sources::StemReader;
use crate::backend::{Backend, FileSource, Routing, SourceSum, SumJob, SumSource, insert_chain};
use crate::io::WavReader;
use crate::session::Plan;
use crate::stem::Envelope;
use crate::stem::chain::InsertChain;
use crate::{Error, Result};

/// Mixed audio of one block: buses, dialogue, M&E, printmaster (all in the mix layout).
#[derive(Default)]
pub struct MixBlock {
    /// `buses * channels` planar outputs of the sum.
    pub buses: Vec<Vec<f32>>,
    pub dialogue: Vec<Vec<f32>>,
    pub me: Vec<Vec<f32>>,
    pub printmaster: Vec<Vec<f32>>,
}

/// The mixing engine: stems in, buses and mixes out, one block at a time.
pub struct Mixer<'p> {
    pub(super) plan: &'p Plan,
    readers: Vec<StemReader>,
    /// The last block of every stem the mixer reads into memory (those with inserts or
    /// sends, or not in one WAV file), on the reel timeline.
    pub stem_bufs: Vec<Vec<Vec<f32>>>,
    envelopes: Vec<Vec<f32>>,
    stem_env: Vec<Envelope>,
    bus_env: Vec<Envelope>,
    ret_env: Vec<Envelope>,
    /// Per stem, per send: the send level envelope.
    send_env: Vec<Vec<Envelope>>,
    ret_bufs: Vec<Vec<Vec<f32>>>,
    chains: Vec<InsertChain>,
    ret_chains: Vec<InsertChain>,
    /// How stems and returns reach the bus outputs.
    routing: Routing,
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
        let nch = plan.layout.len();
        let nb = plan.buses.len();
        let ns = plan.stems.len();
        let stem_in: usize = plan.stems.iter().map(|s| s.layout.len()).sum();
        let total_in = stem_in + plan.returns.iter().map(|r| r.layout.len()).sum::<usize>();
        let mut matrix = vec![0.0f32; nb * nch * total_in];
        let mut col = 0;
        // Stems, then returns: each routed into its bus's channels.
        let sources = plan
            .stems
            .iter()
            .map(|s| (s.bus, s.layout.len(), &s.matrix))
            .chain(
                plan.returns
                    .iter()
                    .map(|r| (r.bus, r.layout.len(), &r.matrix)),
            );
        let mut widths = Vec::new();
        for (bus, w, m) in sources {
            for o in 0..nch {
                for i in 0..w {
                    matrix[(bus * nch + o) * total_in + col + i] = m[o * w + i];
                }
            }
            widths.push(w);
            col += w;
        }
        let routing = Routing::new(nb * nch, widths, matrix)?;
        let chains = plan
            .stems
            .iter()
            .map(|s| {
                insert_chain(
                    backend,
                    &s.inserts,
                    plan.sample_rate,
                    s.layout.len(),
                    &plan.base_dir,
                    &s.id,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut chains = chains;
        let lead: Vec<i64> = chains.iter().map(|c| c.latency() as i64).collect();
        let mut readers = plan
            .stems
            .iter()
            .map(|s| StemReader::open(s, plan, 0))
            .collect::<Result<Vec<_>>>()?;
        // A chain with latency gets the stem's first `lead` frames now (its output,
        // from before the reel, is dropped); from then on the stem is read `lead`
        // frames ahead, so the chain's output lines up with the reel. (The 2-pop check
        // reads the stems as recorded, in a window of its own.)
        for ((s, &l), (r, c)) in plan
            .stems
            .iter()
            .zip(&lead)
            .zip(readers.iter_mut().zip(chains.iter_mut()))
        {
            if l > 0 {
                let mut buf = vec![Vec::new(); s.layout.len()];
                r.read_block(0, l as usize, &mut buf)?;
                c.process(&mut buf, l as usize)?;
            }
        }
        let ret_chains = plan
            .returns
            .iter()
            .map(|r| {
                insert_chain(
                    backend,
                    &r.inserts,
                    plan.sample_rate,
                    r.layout.len(),
                    &plan.base_dir,
                    &r.id,
                )
                .map_err(|e| Error::Invalid(format!("return '{}': {e}", r.id)))
            })
            .collect::<Result<Vec<_>>>()?;
        let env = |gain_db: f64, points: &Vec<(i64, f64)>, mute: bool| Envelope {
            gain_db,
            points: points.clone(),
            mute,
        };
        Ok(Mixer {
            plan,
            stem_bufs: plan
                .stems
                .iter()
                .map(|s| vec![Vec::new(); s.layout.len()])
                .collect(),
            envelopes: vec![Vec::new(); ns + plan.returns.len()],
            stem_env: plan
                .stems
                .iter()
                .map(|s| env(s.gain_db, &s.automation, s.mute))
                .collect(),
            bus_env: plan
                .buses
                .iter()
                .map(|b| env(b.gain_db, &b.automation, false))
                .collect(),
            ret_env: plan
                .returns
                .iter()
                .map(|r| env(r.gain_db, &r.automation, false))
                .collect(),
            send_env: plan
                .stems
                .iter()
                .map(|s| {
                    s.sends
                        .iter()
                        .map(|x| env(x.db, &x.automation, s.mute))
                        .collect()
                })
                .collect(),
            ret_bufs: plan
                .returns
                .iter()
                .map(|r| vec![Vec::new(); r.layout.len()])
                .collect(),
            chains,
            ret_chains,
            lead,
            readers,
            routing,
            direct: None,
            pos: 0,
        })
    }

    /// The stems the sum reads straight from their files ([`SumSource::File`]): plain
    /// stems (no inserts or sends) of one WAV file each, where positional reads work.
    fn direct_stems(&self) -> Vec<bool> {
        let ok = crate::io::wav::POSITIONAL_READS;
        self.plan
            .stems
            .iter()
            .zip(&self.chains)
            .zip(&self.readers)
            .map(|((s, c), r)| ok && c.is_empty() && s.sends.is_empty() && r.direct().is_some())
            .collect()
    }

    /// Sums every send into its return and runs the returns' inserts.
    fn run_sends(&mut self, backend: &mut dyn Backend, t0: i64, n: usize) -> Result<()> {
        let plan = self.plan;
        for (ri, ret) in plan.returns.iter().enumerate() {
            let w = ret.layout.len();
            let mut inputs: Vec<&[f32]> = Vec::new();
            let mut envelope_of = Vec::new();
            let mut envs: Vec<Vec<f32>> = Vec::new();
            let mut cols: Vec<(usize, &[f32])> = Vec::new();
            for (si, s) in plan.stems.iter().enumerate() {
                for (k, send) in s.sends.iter().enumerate().filter(|(_, x)| x.to == ri) {
                    let mut e = vec![0.0f32; n];
                    self.send_env[si][k].fill(t0, &mut e, false);
                    if !send.pre_fader {
                        self.stem_env[si].fill(t0, &mut e, true);
                    }
                    for c in &self.stem_bufs[si] {
                        inputs.push(&c[..n]);
                        envelope_of.push(envs.len());
                    }
                    cols.push((s.layout.len(), &send.matrix));
                    envs.push(e);
                }
            }
            let ni = inputs.len();
            let matrix = crate::backend::side_by_side(w, &cols);
            let env_refs: Vec<&[f32]> = envs.iter().map(|v| v.as_slice()).collect();
            let job = SumJob {
                frames: n,
                inputs: &inputs,
                envelope_of: &envelope_of,
                envelopes: &env_refs,
                matrix: &matrix,
                outputs: w,
            };
            if ni == 0 {
                for b in &mut self.ret_bufs[ri] {
                    b.clear();
                    b.resize(n, 0.0);
                }
            } else {
                backend.sum(&job, &mut self.ret_bufs[ri])?;
            }
        }
        // The returns' inserts (reverbs), in parallel: each return is independent.
        let work = self.ret_chains.iter_mut().zip(self.ret_bufs.iter_mut());
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            let v: Vec<_> = work.collect();
            v.into_par_iter()
                .map(|(c, b)| c.process(b, n))
                .collect::<Result<Vec<()>>>()?;
        }
        #[cfg(target_arch = "wasm32")]
        for (c, b) in work {
            c.process(b, n)?;
        }
        Ok(())
    }

    /// Mixes the next `n` frames into `out`.
    pub fn next_block(
        &mut self,
        backend: &mut dyn Backend,
        n: usize,
        out: &mut MixBlock,
    ) -> Result<()> {
        let t0 = self.pos as i64;
        let plan = self.plan;
        if self.direct.is_none() {
            self.direct = Some(self.direct_stems());
        }
        let direct = self.direct.clone().unwrap_or_default();
        // Read every other stem (in parallel on native targets; each is independent).
        {
            let work = self
                .readers
                .iter_mut()
                .zip(self.stem_bufs.iter_mut())
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
        // Inserts, stem by stem (in parallel; tails ring on through the silence after a stem).
        {
            let work = self
                .chains
                .iter_mut()
                .zip(self.stem_bufs.iter_mut())
                .filter(|(c, _)| !c.is_empty());
            #[cfg(not(target_arch = "wasm32"))]
            {
                use rayon::prelude::*;
                let v: Vec<_> = work.collect();
                v.into_par_iter()
                    .map(|(c, b)| c.process(b, n))
                    .collect::<Result<Vec<()>>>()?;
            }
            #[cfg(target_arch = "wasm32")]
            for (c, b) in work {
                c.process(b, n)?;
            }
        }
        if !plan.returns.is_empty() {
            self.run_sends(backend, t0, n)?;
        }
        for (si, s) in plan.stems.iter().enumerate() {
            let e = &mut self.envelopes[si];
            e.resize(n, 0.0);
            self.stem_env[si].fill(t0, e, false);
            self.bus_env[s.bus].fill(t0, e, true);
        }
        let ns = plan.stems.len();
        for (ri, r) in plan.returns.iter().enumerate() {
            let e = &mut self.envelopes[ns + ri];
            e.resize(n, 0.0);
            self.ret_env[ri].fill(t0, e, false);
            self.bus_env[r.bus].fill(t0, e, true);
        }
        let nch = plan.layout.len();
        let nb = plan.buses.len();
        out.buses.resize(nb * nch, Vec::new());
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
        let sources: Vec<SumSource<'_>> = files
            .iter()
            .zip(&errors)
            .zip(&self.stem_bufs)
            .map(|((f, e), b)| match (f, e) {
                (Some((r, wav)), Some(e)) => SumSource::File(FileSource {
                    id: &r.id,
                    wav,
                    offset: r.offset,
                    frames: r.frames,
                    file_channel: &r.file_channel,
                    non_finite: e,
                }),
                _ => SumSource::Planar(b),
            })
            .chain(self.ret_bufs.iter().map(|b| SumSource::Planar(b)))
            .collect();
        let envs: Vec<&[f32]> = self.envelopes.iter().map(|v| &v[..n]).collect();
        let job = SourceSum {
            t0,
            frames: n,
            sources: &sources,
            envelopes: &envs,
            routing: &self.routing,
        };
        backend.sum_sources(&job, &mut out.buses)?;
        derive_mixes(plan, n, out);
        self.pos += n as u64;
        Ok(())
    }
}

/// Dialogue = Σ dialogue buses, M&E = Σ other buses (in bus order),
/// printmaster = M&E + dialogue.
fn derive_mixes(plan: &Plan, n: usize, out: &mut MixBlock) {
    let nch = plan.layout.len();
    for v in [&mut out.dialogue, &mut out.me, &mut out.printmaster] {
        v.resize(nch, Vec::new());
        for c in v.iter_mut() {
            c.resize(n, 0.0);
        }
    }
    // Each sum starts as `0.0 + first bus` (so -0.0 becomes +0.0, as before), then
    // adds the others in bus order; an empty sum is zeros.
    let (mut dx_first, mut me_first) = (true, true);
    for (b, bus) in plan.buses.iter().enumerate() {
        let (dst, first) = if bus.dialogue {
            (&mut out.dialogue, &mut dx_first)
        } else {
            (&mut out.me, &mut me_first)
        };
        for (c, d) in dst.iter_mut().enumerate().take(nch) {
            let src = &out.buses[b * nch + c][..n];
            let d = &mut d[..n];
            if *first {
                d.iter_mut().zip(src).for_each(|(d, s)| *d = 0.0 + *s);
            } else {
                d.iter_mut().zip(src).for_each(|(d, s)| *d += *s);
            }
        }
        *first = false;
    }
    for (v, first) in [(&mut out.dialogue, dx_first), (&mut out.me, me_first)] {
        if first {
            v.iter_mut().for_each(|c| c[..n].fill(0.0));
        }
    }
    for c in 0..nch {
        let (me, dx, pm) = (&out.me[c], &out.dialogue[c], &mut out.printmaster[c]);
        if dx_first {
            // No dialogue bus: M&E + 0.0 is the M&E itself (it holds no -0.0).
            pm[..n].copy_from_slice(&me[..n]);
        } else {
            for ((p, m), d) in pm.iter_mut().zip(me).zip(dx) {
                *p = *m + *d;
            }
        }
    }
}
