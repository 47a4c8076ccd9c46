//! Levelling: the producer half of pass 2 (mix, static gain, true-peak limiter), with
//! the mixes that wait for the limiter's gain.

use super::mixer::{MixBlock, Mixer};
use crate::Result;
use crate::backend::Backend;
use crate::master::Limiter;

/// Frames of every mix waiting for the limiter's verdict (the limiter delays the
/// printmaster; the buses, the dialogue and the M&E wait here for the same gain).
#[derive(Default)]
pub(super) struct Pending {
    buses: Vec<Vec<f32>>,
    dialogue: Vec<Vec<f32>>,
    me: Vec<Vec<f32>>,
}

impl Pending {
    fn push(&mut self, b: &MixBlock, n: usize) {
        for (dst, src) in [
            (&mut self.buses, &b.buses),
            (&mut self.dialogue, &b.dialogue),
            (&mut self.me, &b.me),
        ] {
            dst.resize(src.len(), Vec::new());
            for (d, s) in dst.iter_mut().zip(src) {
                d.extend_from_slice(&s[..n]);
            }
        }
    }

    /// Moves the first `k` frames of every mix into `out`, scaled by `gain`.
    fn pop(&mut self, k: usize, gain: &[f32], out: &mut MixBlock) {
        for (src, dst) in [
            (&mut self.buses, &mut out.buses),
            (&mut self.dialogue, &mut out.dialogue),
            (&mut self.me, &mut out.me),
        ] {
            dst.resize(src.len(), Vec::new());
            for (s, d) in src.iter_mut().zip(dst.iter_mut()) {
                d.clear();
                d.extend(s.drain(..k).zip(gain).map(|(x, g)| x * g));
            }
        }
    }
}

fn scale_block(b: &mut MixBlock, g: f32, n: usize) {
    for v in b
        .buses
        .iter_mut()
        .chain(&mut b.dialogue)
        .chain(&mut b.me)
        .chain(&mut b.printmaster)
    {
        v[..n].iter_mut().for_each(|x| *x *= g);
    }
}

/// The producer side of pass 2: mixes, levels and limits blocks, in order.
pub(super) struct Producer<'p> {
    pub(super) mixer: Mixer<'p>,
    pub(super) limiter: Option<Limiter>,
    pub(super) gain: f32,
    pub(super) block_frames: usize,
    pub(super) block: MixBlock,
    pub(super) pending: Pending,
    pub(super) lim_gain: Vec<f32>,
    pub(super) done: bool,
}

impl Producer<'_> {
    /// Fills `ready` with the next frames that may be written, `Some(k)` with `k > 0`
    /// (mixing on while the limiter fills its lookahead), or `None` when everything was
    /// produced.
    pub(super) fn next(
        &mut self,
        backend: &mut dyn Backend,
        ready: &mut MixBlock,
    ) -> Result<Option<usize>> {
        let total = self.mixer.plan.length;
        loop {
            if self.done {
                return Ok(None);
            }
            let k = if self.mixer.pos < total {
                let n = ((total - self.mixer.pos) as usize).min(self.block_frames);
                self.mixer.next_block(backend, n, &mut self.block)?;
                if self.gain != 1.0 {
                    scale_block(&mut self.block, self.gain, n);
                }
                match &mut self.limiter {
                    None => {
                        std::mem::swap(&mut self.block, ready);
                        n
                    }
                    Some(l) => {
                        self.pending.push(&self.block, n);
                        let pm: Vec<&[f32]> =
                            self.block.printmaster.iter().map(|v| &v[..n]).collect();
                        ready.printmaster.resize(pm.len(), Vec::new());
                        l.process(&pm, &mut ready.printmaster, &mut self.lim_gain)?;
                        let k = self.lim_gain.len();
                        self.pending.pop(k, &self.lim_gain, ready);
                        k
                    }
                }
            } else {
                self.done = true;
                match &mut self.limiter {
                    None => 0,
                    Some(l) => {
                        ready
                            .printmaster
                            .resize(self.mixer.plan.layout.len(), Vec::new());
                        l.flush(&mut ready.printmaster, &mut self.lim_gain)?;
                        let k = self.lim_gain.len();
                        self.pending.pop(k, &self.lim_gain, ready);
                        k
                    }
                }
            };
            if k > 0 {
                return Ok(Some(k));
            }
        }
    }
}
