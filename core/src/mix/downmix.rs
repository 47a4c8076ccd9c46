//! Channel-layout conversions: constant-power pans for narrow stems, direct
//! mapping into wider layouts, and the standard fold-downs.
//!
//! - 5.1 -> 2.0 (Lo/Ro), ITU-R BS.775: Lo = L + 0.707 C + 0.707 Ls,
//!   Ro = R + 0.707 C + 0.707 Rs, LFE dropped.
//! - 7.1 -> 5.1: each side and rear surround pair combined at -3 dB (0.707) into
//!   Ls/Rs, which keeps the power of uncorrelated surrounds.
//! - 5.x into 7.1: Ls/Rs feed the side surrounds (Lss/Rss).
//! - Every other position (SDDS Lc/Rc, back centre, wides, tops) folds to its nearest
//!   neighbours in the mix at −3 dB per pair ([`fold_terms`] lists each coefficient and
//!   its source; the README's "Channel layouts" has the tables).

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

/// Where a fold coefficient comes from (see the README's "Channel layouts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldSource {
    /// ITU-R BS.775-3, Table 2 (the standard downmix equations): centre and surrounds
    /// into L/R at 0.7071, L/R into mono at 0.7071, LFE dropped.
    Bs775,
    /// A 5.x surround feeds the 7.1 side surround at unity (a pair onto a pair), and two
    /// surround pairs merge into one at −3 dB each, which keeps the power of uncorrelated
    /// pairs (the usual 7.1 → 5.1 fold; dubstage's, no standard cited).
    SurroundPairs,
    /// dubstage's choice, no standard: a position the mix lacks goes to its nearest
    /// ear-level (or, for tops into another top layer, top) neighbours at −3 dB per pair.
    Ours,
}

impl FoldSource {
    /// The citation written in the QC report.
    pub fn cite(self) -> &'static str {
        match self {
            FoldSource::Bs775 => "ITU-R BS.775-3 Table 2 (0.7071 = -3 dB)",
            FoldSource::SurroundPairs => {
                "dubstage: surround pair onto pair at unity, two pairs merged at -3 dB each (power of uncorrelated pairs)"
            }
            FoldSource::Ours => {
                "dubstage's choice (no standard): nearest neighbours of the missing position at -3 dB per pair"
            }
        }
    }
}

/// One step of a fold: where channel `c` goes when `to` lacks it, as alternatives in
/// order of preference (the first whose channels all exist in `to` is taken; otherwise
/// the last, whose missing channels fold on in turn).
fn fold_rules(c: Channel) -> &'static [&'static [(Channel, f64, FoldSource)]] {
    use Channel::*;
    use FoldSource::*;
    const G: f64 = MINUS_3DB;
    const H: f64 = 0.5;
    const Q: f64 = 0.5 * MINUS_3DB;
    match c {
        C => &[&[(L, G, Bs775), (R, G, Bs775)]],
        L => &[&[(C, G, Bs775)]],
        R => &[&[(C, G, Bs775)]],
        Lfe => &[&[]],
        Ls => &[
            &[(Lss, 1.0, SurroundPairs)],
            &[(Lrs, 1.0, SurroundPairs)],
            &[(L, G, Bs775)],
        ],
        Rs => &[
            &[(Rss, 1.0, SurroundPairs)],
            &[(Rrs, 1.0, SurroundPairs)],
            &[(R, G, Bs775)],
        ],
        Lss => &[&[(Lrs, G, SurroundPairs)], &[(Ls, G, SurroundPairs)]],
        Rss => &[&[(Rrs, G, SurroundPairs)], &[(Rs, G, SurroundPairs)]],
        Lrs => &[&[(Lss, G, SurroundPairs)], &[(Ls, G, SurroundPairs)]],
        Rrs => &[&[(Rss, G, SurroundPairs)], &[(Rs, G, SurroundPairs)]],
        Cs => &[
            &[(Lrs, G, Ours), (Rrs, G, Ours)],
            &[(Ls, G, Ours), (Rs, G, Ours)],
        ],
        Lc => &[&[(L, G, Ours), (C, G, Ours)]],
        Rc => &[&[(R, G, Ours), (C, G, Ours)]],
        Lw => &[
            &[(L, G, Ours), (Lss, G, Ours)],
            &[(L, G, Ours), (Ls, G, Ours)],
        ],
        Rw => &[
            &[(R, G, Ours), (Rss, G, Ours)],
            &[(R, G, Ours), (Rs, G, Ours)],
        ],
        Ltf => &[&[(Ltm, G, Ours)], &[(L, G, Ours)]],
        Rtf => &[&[(Rtm, G, Ours)], &[(R, G, Ours)]],
        Ltr => &[&[(Ltm, G, Ours)], &[(Lrs, G, Ours)], &[(Ls, G, Ours)]],
        Rtr => &[&[(Rtm, G, Ours)], &[(Rrs, G, Ours)], &[(Rs, G, Ours)]],
        Ltm => &[
            &[(Ltf, G, Ours), (Ltr, G, Ours)],
            &[(Lss, G, Ours)],
            &[(Ls, G, Ours)],
        ],
        Rtm => &[
            &[(Rtf, G, Ours), (Rtr, G, Ours)],
            &[(Rss, G, Ours)],
            &[(Rs, G, Ours)],
        ],
        Tfc => &[&[(Ltf, G, Ours), (Rtf, G, Ours)], &[(C, G, Ours)]],
        Trc => &[
            &[(Ltr, G, Ours), (Rtr, G, Ours)],
            &[(Lrs, H, Ours), (Rrs, H, Ours)],
            &[(Ls, H, Ours), (Rs, H, Ours)],
        ],
        Tc => &[
            &[
                (Ltf, H, Ours),
                (Rtf, H, Ours),
                (Ltr, H, Ours),
                (Rtr, H, Ours),
            ],
            &[(Ltm, G, Ours), (Rtm, G, Ours)],
            &[(L, Q, Ours), (R, Q, Ours), (Lss, Q, Ours), (Rss, Q, Ours)],
            &[(L, Q, Ours), (R, Q, Ours), (Ls, Q, Ours), (Rs, Q, Ours)],
        ],
    }
}

/// One coefficient of a fold: `input` reaches `output` at `gain`, by the rules `sources`
/// applied in turn.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldTerm {
    pub input: Channel,
    pub output: Channel,
    pub gain: f64,
    pub sources: Vec<FoldSource>,
}

/// Where one source channel goes in `to`: `(output, gain, sources)` terms, one per output
/// (paths that meet add). A channel `to` has goes where it is; a layout without
/// surrounds (mono, stereo, LCR) takes the others through the 5.1 fold, then BS.775.
fn fold(c: Channel, to: Layout, depth: usize) -> Vec<(Channel, f64, Vec<FoldSource>)> {
    if to.has(c) {
        return vec![(c, 1.0, vec![])];
    }
    if depth > 6 {
        return vec![];
    }
    let mut out: Vec<(Channel, f64, Vec<FoldSource>)> = Vec::new();
    let mut push = |o: Channel, g: f64, s: Vec<FoldSource>| {
        if let Some(t) = out.iter_mut().find(|t| t.0 == o) {
            t.1 += g;
            for x in s {
                if !t.2.contains(&x) {
                    t.2.push(x);
                }
            }
        } else {
            out.push((o, g, s));
        }
    };
    if surround_pair(to).is_none() && !Layout::FiveOne.has(c) && !to.has(Channel::Cs) {
        for (k, g1, s1) in fold(c, Layout::FiveOne, depth + 1) {
            for (o, g2, s2) in fold(k, to, depth + 1) {
                let mut s = s1.clone();
                s.extend(s2.iter().filter(|x| !s1.contains(x)));
                push(o, g1 * g2, s);
            }
        }
        return out;
    }
    let rules = fold_rules(c);
    let pick = rules
        .iter()
        .find(|alt| alt.iter().all(|(o, _, _)| to.has(*o)))
        .or(rules.last())
        .copied()
        .unwrap_or(&[]);
    for &(k, g1, s1) in pick {
        for (o, g2, s2) in fold(k, to, depth + 1) {
            let mut s = vec![s1];
            s.extend(s2.into_iter().filter(|x| *x != s1));
            push(o, g1 * g2, s);
        }
    }
    out
}

/// Where one source channel goes in `to` (without pan), as (channel, gain) pairs.
fn map_channel(c: Channel, to: Layout) -> Vec<(Channel, f64)> {
    fold(c, to, 0).into_iter().map(|(o, g, _)| (o, g)).collect()
}

/// Is a stem in `from` folded (rather than mapped or panned) into `to`: does it have a
/// channel that `to` lacks? Mono and stereo stems are panned, never folded.
pub fn is_folded(from: Layout, to: Layout) -> bool {
    !matches!(from, Layout::Mono | Layout::Stereo) && from.channels().iter().any(|c| !to.has(*c))
}

/// The coefficients of the fold of `from` into `to` for every channel `to` lacks, with
/// the source of each (for the QC report and the README). Empty when nothing folds.
pub fn fold_terms(from: Layout, to: Layout) -> Vec<FoldTerm> {
    if !is_folded(from, to) {
        return vec![];
    }
    from.channels()
        .iter()
        .filter(|c| !to.has(**c))
        .flat_map(|&c| {
            fold(c, to, 0)
                .into_iter()
                .map(move |(output, gain, sources)| FoldTerm {
                    input: c,
                    output,
                    gain,
                    sources,
                })
        })
        .collect()
}

/// The routing matrix of a stem in layout `from` into a bus in layout `to`
/// (`to.len() x from.len()`, row-major). Mono stems are panned with constant
/// power across the fronts (`pan.position`) and between front and surrounds
/// (`pan.surround`); stereo stems keep L/R and use `pan.surround` for depth;
/// wider stems map channel by channel or fold down with the standard coefficients.
pub fn route_matrix(from: Layout, to: Layout, pan: PanSpec) -> Vec<f32> {
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

    #[test]
    fn no_position_is_lost_and_centre_fronts_stay_in_front() {
        for from in Layout::ALL {
            for to in Layout::MIX {
                let m = downmix_matrix(from, to);
                for (i, &c) in from.channels().iter().enumerate() {
                    let col: Vec<f32> = (0..to.len()).map(|o| m[o * from.len() + i]).collect();
                    if c != Channel::Lfe {
                        assert!(col.iter().any(|&g| g > 0.0), "{c} of {from} lost in {to}");
                    }
                    if matches!(c, Channel::Lc | Channel::Rc) {
                        for (o, &oc) in to.channels().iter().enumerate() {
                            assert!(!oc.is_surround() || col[o] == 0.0, "{c} in {oc} ({to})");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fold_terms_cite_their_sources() {
        let t = fold_terms(Layout::SevenOneSdds, Layout::FiveOne);
        assert_eq!(t.len(), 4);
        assert!(t.iter().all(|x| x.sources == [FoldSource::Ours]));
        assert!(
            t.iter()
                .all(|x| (x.gain - MINUS_3DB).abs() < 1e-12 && x.output != Channel::Ls)
        );
        // 7.1 into stereo: the pair merge, then BS.775 (0.5 each, as before).
        let t = fold_terms(Layout::SevenOne, Layout::Stereo);
        let lss = t.iter().find(|x| x.input == Channel::Lss).unwrap();
        assert_eq!(lss.output, Channel::L);
        assert!((lss.gain - 0.5).abs() < 1e-12);
        assert_eq!(lss.sources, [FoldSource::SurroundPairs, FoldSource::Bs775]);
        assert!(
            fold_terms(Layout::FiveOne, Layout::SevenOneFour)
                .iter()
                .all(|x| x.input == Channel::Ls || x.input == Channel::Rs)
        );
        assert!(fold_terms(Layout::Stereo, Layout::Mono).is_empty());
        assert!(!is_folded(Layout::SevenOneFour, Layout::SevenOneFour));
    }
}
