//! Channel-layout conversions: constant-power pans for narrow stems, direct
//! mapping into wider layouts, and the standard fold-downs.
//!
//! - 5.1 -> 2.0 (Lo/Ro), ITU-R BS.775: Lo = L + 0.707 C + 0.707 Ls,
//!   Ro = R + 0.707 C + 0.707 Rs, LFE dropped.
//! - 7.1 -> 5.1: each side and rear surround pair combined at -3 dB (0.707) into
//!   Ls/Rs, which keeps the power of uncorrelated surrounds.
//! - 5.x into 7.1: Ls/Rs feed the side surrounds (Lss/Rss).

use crate::layout::{Channel, Layout};
use serde::Deserialize;
use std::f64::consts::FRAC_PI_2;

/// Pan of a stem narrower than its bus (constant power).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PanSpec {
    /// -1 = left, 0 = centre, +1 = right (through C when the bus has one).
    #[serde(default)]
    pub position: f64,
    /// 0 = front only, 1 = surrounds only.
    #[serde(default)]
    pub surround: f64,
}

/// -3 dB, the BS.775 centre and surround coefficient (1/sqrt 2).
pub const MINUS_3DB: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// The matrix (`to.len() x from.len()`, row-major) that converts a signal in
/// layout `from` to layout `to` with the standard coefficients (no pan).
pub fn downmix_matrix(from: Layout, to: Layout) -> Vec<f32> {
    route_matrix(from, to, PanSpec::default())
}

/// Constant-power gains of a front position -1..1 over the front channels present.
fn front_gains(to: Layout, position: f64) -> Vec<(Channel, f64)> {
    let has_c = to.index_of(Channel::C).is_some();
    let has_lr = to.index_of(Channel::L).is_some();
    if !has_lr {
        return vec![(Channel::C, 1.0)];
    }
    if has_c {
        if position <= 0.0 {
            let t = (position + 1.0) * FRAC_PI_2;
            vec![(Channel::L, t.cos()), (Channel::C, t.sin())]
        } else {
            let t = position * FRAC_PI_2;
            vec![(Channel::C, t.cos()), (Channel::R, t.sin())]
        }
    } else {
        let t = (position + 1.0) * FRAC_PI_2 / 2.0;
        vec![(Channel::L, t.cos()), (Channel::R, t.sin())]
    }
}

/// The surround pair of a layout (sides for 7.1).
fn surround_pair(to: Layout) -> Option<(Channel, Channel)> {
    if to.index_of(Channel::Lss).is_some() {
        Some((Channel::Lss, Channel::Rss))
    } else if to.index_of(Channel::Ls).is_some() {
        Some((Channel::Ls, Channel::Rs))
    } else {
        None
    }
}

/// Where one source channel goes in `to` (without pan), as (channel, gain) pairs.
fn map_channel(c: Channel, to: Layout) -> Vec<(Channel, f64)> {
    use Channel::*;
    if to.index_of(c).is_some() {
        return vec![(c, 1.0)];
    }
    let has = |x: Channel| to.index_of(x).is_some();
    match c {
        // 5.x surrounds into 7.1: the sides.
        Ls if has(Lss) => vec![(Lss, 1.0)],
        Rs if has(Rss) => vec![(Rss, 1.0)],
        // 7.1 surrounds into 5.x: both pairs at -3 dB.
        Lss | Lrs if has(Ls) => vec![(Ls, MINUS_3DB)],
        Rss | Rrs if has(Rs) => vec![(Rs, MINUS_3DB)],
        // Surrounds into a front-only layout (BS.775 Lo/Ro): -3 dB into L/R.
        Ls | Lss | Lrs if has(L) => vec![(L, MINUS_3DB)],
        Rs | Rss | Rrs if has(R) => vec![(R, MINUS_3DB)],
        // Centre into a layout without C: -3 dB into L and R.
        C if has(L) => vec![(L, MINUS_3DB), (R, MINUS_3DB)],
        L | R if has(C) && !has(L) => vec![(C, MINUS_3DB)],
        // LFE is dropped when the target has none (BS.775 default).
        _ => vec![],
    }
}

/// The routing matrix of a stem in layout `from` into a bus in layout `to`
/// (`to.len() x from.len()`, row-major). Mono stems are panned with constant
/// power across the fronts (`pan.position`) and between front and surrounds
/// (`pan.surround`); stereo stems keep L/R and use `pan.surround` for depth;
/// wider stems map channel by channel or fold down with the standard coefficients.
pub fn route_matrix(from: Layout, to: Layout, pan: PanSpec) -> Vec<f32> {
    // 7.1 into a layout without surrounds goes through 5.1, so each of the four
    // surrounds enters at 0.5 (BS.775 applied to the 5.1 fold-down).
    if from == Layout::SevenOne && surround_pair(to).is_none() {
        let a = route_matrix(Layout::SevenOne, Layout::FiveOne, pan);
        let b = route_matrix(Layout::FiveOne, to, pan);
        let (n7, n5, nt) = (8, 6, to.len());
        let mut m = vec![0.0f32; nt * n7];
        for o in 0..nt {
            for i in 0..n7 {
                m[o * n7 + i] = (0..n5)
                    .map(|k| b[o * n5 + k] as f64 * a[k * n7 + i] as f64)
                    .sum::<f64>() as f32;
            }
        }
        return m;
    }
    let nt = to.len();
    let nf = from.len();
    let mut m = vec![0.0f64; nt * nf];
    let depth = pan.surround.clamp(0.0, 1.0) * FRAC_PI_2;
    let (front, back) = match surround_pair(to) {
        Some(_) => (depth.cos(), depth.sin()),
        None => (1.0, 0.0),
    };
    let mut add = |out: Channel, inp: usize, g: f64| {
        if let Some(o) = to.index_of(out) {
            m[o * nf + inp] += g;
        }
    };
    match from {
        Layout::Mono => {
            for (c, g) in front_gains(to, pan.position.clamp(-1.0, 1.0)) {
                add(c, 0, g * front);
            }
            if let Some((ls, rs)) = surround_pair(to) {
                let t = (pan.position.clamp(-1.0, 1.0) + 1.0) * FRAC_PI_2 / 2.0;
                add(ls, 0, t.cos() * back);
                add(rs, 0, t.sin() * back);
            }
        }
        Layout::Stereo if to.len() > 1 => {
            add(Channel::L, 0, front);
            add(Channel::R, 1, front);
            if let Some((ls, rs)) = surround_pair(to) {
                add(ls, 0, back);
                add(rs, 1, back);
            }
        }
        _ => {
            for (i, &c) in from.channels().iter().enumerate() {
                for (o, g) in map_channel(c, to) {
                    add(o, i, g);
                }
            }
        }
    }
    // cos(pi/2) is 6e-17, not 0: snap such residues so that unused feeds stay digitally silent.
    m.into_iter()
        .map(|x| if x.abs() < 1e-9 { 0.0 } else { x as f32 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(m: &[f32], to: Layout, from: Layout, o: Channel, i: Channel) -> f32 {
        m[to.index_of(o).unwrap() * from.len() + from.index_of(i).unwrap()]
    }

    #[test]
    fn loro_is_bs775() {
        let (f, t) = (Layout::FiveOne, Layout::Stereo);
        let m = downmix_matrix(f, t);
        assert_eq!(at(&m, t, f, Channel::L, Channel::L), 1.0);
        assert_eq!(at(&m, t, f, Channel::L, Channel::R), 0.0);
        assert!((at(&m, t, f, Channel::L, Channel::C) - 0.70710677).abs() < 1e-7);
        assert!((at(&m, t, f, Channel::R, Channel::Rs) - 0.70710677).abs() < 1e-7);
        assert_eq!(at(&m, t, f, Channel::L, Channel::Rs), 0.0);
        assert_eq!(at(&m, t, f, Channel::L, Channel::Lfe), 0.0);
        assert_eq!(at(&m, t, f, Channel::R, Channel::Lfe), 0.0);
    }

    #[test]
    fn seven_one_folds_to_five_one() {
        let (f, t) = (Layout::SevenOne, Layout::FiveOne);
        let m = downmix_matrix(f, t);
        for (o, i) in [
            (Channel::Ls, Channel::Lss),
            (Channel::Ls, Channel::Lrs),
            (Channel::Rs, Channel::Rss),
        ] {
            assert!((at(&m, t, f, o, i) - 0.70710677).abs() < 1e-7);
        }
        assert_eq!(at(&m, t, f, Channel::Lfe, Channel::Lfe), 1.0);
    }

    #[test]
    fn seven_one_to_stereo_is_bs775_of_the_five_one_fold_down() {
        let (f, t) = (Layout::SevenOne, Layout::Stereo);
        let m = downmix_matrix(f, t);
        assert!((at(&m, t, f, Channel::L, Channel::Lss) - 0.5).abs() < 1e-7);
        assert!((at(&m, t, f, Channel::L, Channel::Lrs) - 0.5).abs() < 1e-7);
        assert!((at(&m, t, f, Channel::R, Channel::C) - 0.70710677).abs() < 1e-7);
        assert_eq!(at(&m, t, f, Channel::L, Channel::Rss), 0.0);
    }

    #[test]
    fn mono_pan_is_constant_power() {
        for p in [-1.0, -0.5, 0.0, 0.3, 1.0] {
            for s in [0.0, 0.25, 1.0] {
                let m = route_matrix(
                    Layout::Mono,
                    Layout::FiveOne,
                    PanSpec {
                        position: p,
                        surround: s,
                    },
                );
                let pow: f32 = m.iter().map(|g| g * g).sum();
                assert!((pow - 1.0).abs() < 1e-6, "p={p} s={s} power={pow}");
            }
        }
        let m = route_matrix(Layout::Mono, Layout::FiveOne, PanSpec::default());
        assert_eq!(m, vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn identity_for_same_layout() {
        for l in Layout::ALL {
            let m = downmix_matrix(l, l);
            for o in 0..l.len() {
                for i in 0..l.len() {
                    assert_eq!(m[o * l.len() + i], if o == i { 1.0 } else { 0.0 }, "{l}");
                }
            }
        }
    }
}
