//! The mix graph, one block at a time: per-stem inserts -> sends into the returns ->
//! the returns' inserts -> stems and returns, each under its envelope, routed into the
//! buses -> dialogue, M&E and printmaster.
//!
//! It is the one mixer of dubstage. The render's [`Mixer`](super::Mixer) feeds it the
//! stems read from their files (plain stems are read by the sum itself, see
//! [`Backend::sum_sources`]); the preview's mixer (`crate::preview::Mixer`, natively in
//! `dubstage preview` and as WebAssembly in the browser) feeds it a package's decoded
//! chunks, with the reviewer's monitoring as [`Controls`]. On the same input and at unity
//! controls both run the same arithmetic in the same order, so they give the same bits.
//!
//! A block is mixed in two calls: [`Graph::process`] (inserts, sends, returns: the state
//! that rings from block to block; a preview primes itself after a jump with it alone),
//! then [`Graph::sum`] (envelopes, the routed sum into the bus outputs, the derived mixes).

use crate::backend::{Backend, FileSource, Routing, SourceSum, SumJob, SumSource, side_by_side};
use crate::session::Plan;
use crate::stem::Envelope;
use crate::stem::chain::InsertChain;
use crate::{Error, Result};

/// A stem of the graph.
#[derive(Debug, Clone)]
pub struct StemNode {
    /// Its id (errors name it).
    pub id: String,
    /// The bus it plays into (index into [`GraphSpec::buses`]).
    pub bus: usize,
    /// Its channels.
    pub width: usize,
    /// Stem channels -> mix channels, `mix x width`, row-major (pan, fold-down).
    pub matrix: Vec<f32>,
    /// Gain, automation and mute: its fader.
    pub env: Envelope,
    /// Its aux sends.
    pub sends: Vec<SendNode>,
}

/// An aux send of a stem into a return.
#[derive(Debug, Clone)]
pub struct SendNode {
    /// The return (index into [`GraphSpec::returns`]).
    pub to: usize,
    /// Send level and automation.
    pub env: Envelope,
    /// Taken before the stem's fader (else after it: the fader's envelope scales it too).
    pub pre_fader: bool,
    /// Stem channels -> return channels, `return x stem`, row-major.
    pub matrix: Vec<f32>,
}

/// An aux return (a reverb): the sum of its sends, through its inserts, into its bus.
#[derive(Debug, Clone)]
pub struct ReturnNode {
    /// Its id (errors name it).
    pub id: String,
    /// The bus it plays into.
    pub bus: usize,
    /// Its channels.
    pub width: usize,
    /// Return channels -> mix channels, `mix x width`, row-major.
    pub matrix: Vec<f32>,
    /// Return level and automation.
    pub env: Envelope,
}

/// A bus: its level and automation, and whether it is dialogue (not in the M&E).
#[derive(Debug, Clone)]
pub struct BusNode {
    /// A dialogue bus: summed into the dialogue mix, left out of the M&E.
    pub dialogue: bool,
    /// Bus level and automation (multiplies every stem's and return's envelope on it).
    pub env: Envelope,
}

/// What the graph mixes.
#[derive(Debug, Clone)]
pub struct GraphSpec {
    /// Channels of the mix (the printmaster's layout).
    pub channels: usize,
    /// The stems, in the order they are summed.
    pub stems: Vec<StemNode>,
    /// The returns, summed after the stems.
    pub returns: Vec<ReturnNode>,
    /// The buses.
    pub buses: Vec<BusNode>,
}

impl GraphSpec {
    /// The graph of a render's plan: every stem with its gain, automation and mute.
    pub fn of_plan(plan: &Plan) -> GraphSpec {
        let env = |gain_db: f64, points: &Vec<(i64, f64)>, mute: bool| Envelope {
            gain_db,
            points: points.clone(),
            mute,
        };
        GraphSpec {
            channels: plan.layout.len(),
            stems: plan
                .stems
                .iter()
                .map(|s| StemNode {
                    id: s.id.clone(),
                    bus: s.bus,
                    width: s.layout.len(),
                    matrix: s.matrix.clone(),
                    env: env(s.gain_db, &s.automation, s.mute),
                    sends: s
                        .sends
                        .iter()
                        .map(|x| SendNode {
                            to: x.to,
                            env: env(x.db, &x.automation, s.mute),
                            pre_fader: x.pre_fader,
                            matrix: x.matrix.clone(),
                        })
                        .collect(),
                })
                .collect(),
            returns: plan
                .returns
                .iter()
                .map(|r| ReturnNode {
                    id: r.id.clone(),
                    bus: r.bus,
                    width: r.layout.len(),
                    matrix: r.matrix.clone(),
                    env: env(r.gain_db, &r.automation, false),
                })
                .collect(),
            buses: plan
                .buses
                .iter()
                .map(|b| BusNode {
                    dialogue: b.dialogue,
                    env: env(b.gain_db, &b.automation, false),
                })
                .collect(),
        }
    }
}

/// Live controls on top of the graph's own levels: a reviewer's monitoring, mutes,
/// solos and trims. A render mixes without them (every stem in the mix, unity gains).
#[derive(Debug, Clone, PartialEq)]
pub struct Controls {
    /// Per stem: in the mix (runs its inserts, feeds its sends). A stem out of the mix
    /// contributes nothing anywhere.
    pub active: Vec<bool>,
    /// Per stem: a constant gain on its fader path (0: not heard).
    pub fader: Vec<f64>,
    /// Per stem: a constant gain on its post-fader sends (a trim moves them as a fader
    /// move does; pre-fader sends do not follow it).
    pub post_send: Vec<f64>,
    /// Per return: a constant gain (0: not heard).
    pub ret: Vec<f64>,
}

impl Controls {
    /// Every stem in the mix, every gain at unity.
    pub fn unity(spec: &GraphSpec) -> Controls {
        let n = spec.stems.len();
        Controls {
            active: vec![true; n],
            fader: vec![1.0; n],
            post_send: vec![1.0; n],
            ret: vec![1.0; spec.returns.len()],
        }
    }
}

/// Mixed audio of one block: buses, dialogue, M&E, printmaster (all in the mix layout).
#[derive(Default)]
pub struct MixBlock {
    /// `buses * channels` planar outputs of the sum.
    pub buses: Vec<Vec<f32>>,
    /// Σ dialogue buses.
    pub dialogue: Vec<Vec<f32>>,
    /// Σ other buses.
    pub me: Vec<Vec<f32>>,
    /// M&E + dialogue.
    pub printmaster: Vec<Vec<f32>>,
}

/// The mix graph and its running state (see the module doc).
pub struct Graph {
    spec: GraphSpec,
    routing: Routing,
    chains: Vec<InsertChain>,
    ret_chains: Vec<InsertChain>,
    stem_bufs: Vec<Vec<Vec<f32>>>,
    ret_bufs: Vec<Vec<Vec<f32>>>,
    /// Per stem, then per return: the block's envelope.
    envelopes: Vec<Vec<f32>>,
}

impl Graph {
    /// A graph over `spec` with the stems' and returns' insert chains (one per stem and
    /// return, in order; an empty chain for none).
    pub fn new(
        spec: GraphSpec,
        chains: Vec<InsertChain>,
        ret_chains: Vec<InsertChain>,
    ) -> Result<Graph> {
        let nch = spec.channels;
        let nb = spec.buses.len();
        let total_in: usize = spec.stems.iter().map(|s| s.width).sum::<usize>()
            + spec.returns.iter().map(|r| r.width).sum::<usize>();
        let mut matrix = vec![0.0f32; nb * nch * total_in];
        let mut col = 0;
        let mut widths = Vec::with_capacity(spec.stems.len() + spec.returns.len());
        // Stems, then returns: each routed into its bus's channels.
        let sources = spec
            .stems
            .iter()
            .map(|s| (&s.id, s.bus, s.width, &s.matrix))
            .chain(
                spec.returns
                    .iter()
                    .map(|r| (&r.id, r.bus, r.width, &r.matrix)),
            );
        for (id, bus, w, m) in sources {
            if bus >= nb || m.len() != nch * w {
                return Err(Error::Invalid(format!(
                    "mix graph: '{id}' has bus {bus} of {nb} and a {} coefficient matrix for {nch} x {w}",
                    m.len()
                )));
            }
            for o in 0..nch {
                for i in 0..w {
                    matrix[(bus * nch + o) * total_in + col + i] = m[o * w + i];
                }
            }
            widths.push(w);
            col += w;
        }
        let routing = Routing::new(nb * nch, widths, matrix)?;
        let mut g = Graph {
            stem_bufs: spec
                .stems
                .iter()
                .map(|s| vec![Vec::new(); s.width])
                .collect(),
            ret_bufs: spec
                .returns
                .iter()
                .map(|r| vec![Vec::new(); r.width])
                .collect(),
            envelopes: vec![Vec::new(); spec.stems.len() + spec.returns.len()],
            spec,
            routing,
            chains: Vec::new(),
            ret_chains: Vec::new(),
        };
        g.set_chains(chains, ret_chains)?;
        Ok(g)
    }

    /// Replaces the insert chains (fresh state: a preview after a jump).
    pub fn set_chains(
        &mut self,
        chains: Vec<InsertChain>,
        ret_chains: Vec<InsertChain>,
    ) -> Result<()> {
        let fits = |c: &[InsertChain], w: &mut dyn Iterator<Item = usize>| {
            c.iter().all(|c| Some(c.channels()) == w.next())
        };
        if chains.len() != self.spec.stems.len()
            || ret_chains.len() != self.spec.returns.len()
            || !fits(&chains, &mut self.spec.stems.iter().map(|s| s.width))
            || !fits(&ret_chains, &mut self.spec.returns.iter().map(|r| r.width))
        {
            return Err(Error::Invalid(
                "mix graph: one insert chain per stem and return, of its width".into(),
            ));
        }
        self.chains = chains;
        self.ret_chains = ret_chains;
        Ok(())
    }

    /// What the graph mixes.
    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    /// Stem `i`'s insert chain.
    pub fn chain(&self, i: usize) -> &InsertChain {
        &self.chains[i]
    }

    /// Return `r`'s insert chain.
    pub fn return_chain(&self, r: usize) -> &InsertChain {
        &self.ret_chains[r]
    }

    /// Stem `i`'s buffers (one per channel): its owner puts the block's audio there
    /// before [`Graph::process`] (a stem the sum reads from its file needs none).
    pub fn stem_mut(&mut self, i: usize) -> &mut [Vec<f32>] {
        &mut self.stem_bufs[i]
    }

    /// Stem `i`'s buffers and its insert chain (to run the chain before the reel starts).
    pub fn stem_and_chain_mut(&mut self, i: usize) -> (&mut [Vec<f32>], &mut InsertChain) {
        (&mut self.stem_bufs[i], &mut self.chains[i])
    }

    /// Every stem's buffers.
    pub fn stems_mut(&mut self) -> &mut [Vec<Vec<f32>>] {
        &mut self.stem_bufs
    }

    /// Runs the block `[t0, t0 + n)` through the stems' inserts (in place, in their
    /// buffers), the sends into the returns and the returns' inserts. Stems out of the
    /// mix (`ctl`) run nothing and feed nothing.
    pub fn process(
        &mut self,
        backend: &mut dyn Backend,
        t0: i64,
        n: usize,
        ctl: Option<&Controls>,
    ) -> Result<()> {
        let active = |i: usize| ctl.is_none_or(|c| c.active[i]);
        // Inserts, stem by stem (in parallel; tails ring on through the silence after a stem).
        run_chains(
            self.chains
                .iter_mut()
                .zip(self.stem_bufs.iter_mut())
                .enumerate()
                .filter(|(i, (c, _))| !c.is_empty() && active(*i))
                .map(|(_, w)| w),
            n,
        )?;
        if self.spec.returns.is_empty() {
            return Ok(());
        }
        for (ri, ret) in self.spec.returns.iter().enumerate() {
            let mut inputs: Vec<&[f32]> = Vec::new();
            let mut envelope_of = Vec::new();
            let mut envs: Vec<Vec<f32>> = Vec::new();
            let mut cols: Vec<(usize, &[f32])> = Vec::new();
            for (si, s) in self.spec.stems.iter().enumerate() {
                if !active(si) {
                    continue;
                }
                for send in s.sends.iter().filter(|x| x.to == ri) {
                    let mut e = vec![0.0f32; n];
                    send.env.fill(t0, &mut e, false);
                    if !send.pre_fader {
                        s.env.fill(t0, &mut e, true);
                        let k = ctl.map_or(1.0, |c| c.post_send[si]) as f32;
                        if k != 1.0 {
                            e.iter_mut().for_each(|x| *x *= k);
                        }
                    }
                    for c in &self.stem_bufs[si] {
                        inputs.push(&c[..n]);
                        envelope_of.push(envs.len());
                    }
                    cols.push((s.width, &send.matrix));
                    envs.push(e);
                }
            }
            if inputs.is_empty() {
                for b in &mut self.ret_bufs[ri] {
                    b.clear();
                    b.resize(n, 0.0);
                }
            } else {
                let matrix = side_by_side(ret.width, &cols);
                let env_refs: Vec<&[f32]> = envs.iter().map(|v| v.as_slice()).collect();
                let job = SumJob {
                    frames: n,
                    inputs: &inputs,
                    envelope_of: &envelope_of,
                    envelopes: &env_refs,
                    matrix: &matrix,
                    outputs: ret.width,
                };
                backend.sum(&job, &mut self.ret_bufs[ri])?;
            }
        }
        // The returns' inserts (reverbs), in parallel: each return is independent.
        run_chains(self.ret_chains.iter_mut().zip(self.ret_bufs.iter_mut()), n)
    }

    /// Sums the block `[t0, t0 + n)` (after [`Graph::process`]) into the bus outputs
    /// and derives the dialogue, M&E and printmaster into `out`. `files[i]`, when
    /// given, is a stem the sum reads straight from its file (one without inserts or
    /// sends); the others are read from their buffers.
    pub fn sum(
        &mut self,
        backend: &mut dyn Backend,
        t0: i64,
        n: usize,
        ctl: Option<&Controls>,
        files: &[Option<FileSource<'_>>],
        out: &mut MixBlock,
    ) -> Result<()> {
        let ns = self.spec.stems.len();
        for (si, s) in self.spec.stems.iter().enumerate() {
            let e = &mut self.envelopes[si];
            e.resize(n, 0.0);
            let (on, k) = ctl.map_or((true, 1.0), |c| (c.active[si], c.fader[si]));
            if !on || k == 0.0 {
                e.fill(0.0);
                continue;
            }
            s.env.fill(t0, e, false);
            self.spec.buses[s.bus].env.fill(t0, e, true);
            if k != 1.0 {
                let k = k as f32;
                e.iter_mut().for_each(|x| *x *= k);
            }
        }
        for (ri, r) in self.spec.returns.iter().enumerate() {
            let e = &mut self.envelopes[ns + ri];
            e.resize(n, 0.0);
            let k = ctl.map_or(1.0, |c| c.ret[ri]);
            if k == 0.0 {
                e.fill(0.0);
                continue;
            }
            r.env.fill(t0, e, false);
            self.spec.buses[r.bus].env.fill(t0, e, true);
            if k != 1.0 {
                let k = k as f32;
                e.iter_mut().for_each(|x| *x *= k);
            }
        }
        let nch = self.spec.channels;
        out.buses.resize(self.spec.buses.len() * nch, Vec::new());
        let sources: Vec<SumSource<'_>> = self
            .stem_bufs
            .iter()
            .enumerate()
            .map(|(i, b)| match files.get(i).copied().flatten() {
                Some(f) => SumSource::File(f),
                None => SumSource::Planar(b),
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
        derive_mixes(&self.spec.buses, nch, n, out);
        Ok(())
    }
}

/// Runs each chain over its buffers' first `n` frames: in parallel on native targets
/// (each chain is independent; the bytes do not depend on the thread count).
fn run_chains<'a>(
    work: impl Iterator<Item = (&'a mut InsertChain, &'a mut Vec<Vec<f32>>)>,
    n: usize,
) -> Result<()> {
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

/// Dialogue = Σ dialogue buses, M&E = Σ other buses (in bus order),
/// printmaster = M&E + dialogue.
fn derive_mixes(buses: &[BusNode], nch: usize, n: usize, out: &mut MixBlock) {
    for v in [&mut out.dialogue, &mut out.me, &mut out.printmaster] {
        v.resize(nch, Vec::new());
        for c in v.iter_mut() {
            c.resize(n, 0.0);
        }
    }
    // Each sum starts as `0.0 + first bus` (so -0.0 becomes +0.0, as before), then
    // adds the others in bus order; an empty sum is zeros.
    let (mut dx_first, mut me_first) = (true, true);
    for (b, bus) in buses.iter().enumerate() {
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
