//! Volume automation: breakpoints at sample positions, ramps linear in dB,
//! evaluated sample-accurately into per-sample linear gains.

/// Converts dB to a linear amplitude factor.
pub fn db_to_lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A gain envelope: a static gain plus breakpoints (sample, dB), linear in dB
/// between breakpoints, holding the first value before the first breakpoint and
/// the last after the last. Several envelopes can be multiplied (stem x bus).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// Static gain in dB.
    pub gain_db: f64,
    /// (sample, dB), sorted by sample.
    pub points: Vec<(i64, f64)>,
    /// A muted envelope is all zeros.
    pub mute: bool,
}

impl Envelope {
    /// The envelope's gain in dB at sample `t` (without the mute).
    pub fn db_at(&self, t: i64) -> f64 {
        let p = &self.points;
        let auto = match p.len() {
            0 => 0.0,
            _ if t <= p[0].0 => p[0].1,
            _ if t >= p[p.len() - 1].0 => p[p.len() - 1].1,
            _ => {
                // last breakpoint <= t
                let k = p.partition_point(|&(s, _)| s <= t) - 1;
                let (s0, d0) = p[k];
                let (s1, d1) = p[k + 1];
                if s1 == s0 {
                    d1
                } else {
                    d0 + (d1 - d0) * (t - s0) as f64 / (s1 - s0) as f64
                }
            }
        };
        self.gain_db + auto
    }

    /// Is the envelope constant over `[t0, t0 + n)`? (Then one gain serves the block.)
    fn constant_over(&self, t0: i64, n: usize) -> bool {
        let t1 = t0 + n as i64;
        self.points.is_empty()
            || t1 <= self.points[0].0
            || t0 >= self.points[self.points.len() - 1].0
    }

    /// Writes the linear gains of samples `t0 .. t0 + out.len()` into `out`,
    /// multiplying what is there when `multiply` (for stacking stem and bus).
    pub fn fill(&self, t0: i64, out: &mut [f32], multiply: bool) {
        if self.mute {
            out.fill(0.0);
            return;
        }
        if self.constant_over(t0, out.len()) {
            let g = db_to_lin(self.db_at(t0)) as f32;
            if multiply {
                out.iter_mut().for_each(|x| *x *= g);
            } else {
                out.fill(g);
            }
            return;
        }
        for (i, x) in out.iter_mut().enumerate() {
            let g = db_to_lin(self.db_at(t0 + i as i64)) as f32;
            if multiply {
                *x *= g;
            } else {
                *x = g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_are_linear_in_db_and_sample_accurate() {
        let e = Envelope {
            gain_db: -3.0,
            points: vec![(100, 0.0), (200, -20.0)],
            mute: false,
        };
        assert_eq!(e.db_at(0), -3.0);
        assert_eq!(e.db_at(100), -3.0);
        assert_eq!(e.db_at(150), -13.0);
        assert_eq!(e.db_at(200), -23.0);
        assert_eq!(e.db_at(10_000), -23.0);
        let mut v = vec![0.0f32; 300];
        e.fill(0, &mut v, false);
        assert!((v[150] as f64 - db_to_lin(-13.0)).abs() < 1e-7);
        // fill in two halves equals one fill
        let mut a = vec![0.0f32; 150];
        let mut b = vec![0.0f32; 150];
        e.fill(0, &mut a, false);
        e.fill(150, &mut b, false);
        assert_eq!([a, b].concat(), v);
    }

    #[test]
    fn mute_is_silence() {
        let e = Envelope {
            mute: true,
            ..Default::default()
        };
        let mut v = vec![1.0f32; 10];
        e.fill(0, &mut v, true);
        assert!(v.iter().all(|&x| x == 0.0));
    }
}
