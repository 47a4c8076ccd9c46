//! Test material for the dialogue tools: a seeded RNG, a speech-like signal
//! (voiced syllables with a moving pitch and formants, fricatives, pauses),
//! band-limited fractional delay in f64, and a peaking EQ (RBJ cookbook).

/// xorshift64* with a Box-Muller Gaussian.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn gauss(&mut self) -> f32 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

/// About `secs` seconds of speech-like sound at `sr`, peak about 0.5.
pub fn speechlike(sr: u32, secs: f64, seed: u64) -> Vec<f32> {
    let sr_f = f64::from(sr);
    let n = (secs * sr_f) as usize;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = vec![0.0f32; n];
    let mut t = (0.05 + 0.2 * rng.uniform()) * sr_f;
    while (t as usize) < n {
        let len = ((0.08 + 0.25 * rng.uniform()) * sr_f) as usize;
        let start = t as usize;
        let voiced = rng.uniform() < 0.75;
        let f0a = 90.0 + 140.0 * rng.uniform();
        let f0b = f0a * (0.8 + 0.4 * rng.uniform());
        let formants = [
            300.0 + 600.0 * rng.uniform(),
            900.0 + 1500.0 * rng.uniform(),
            2200.0 + 1200.0 * rng.uniform(),
        ];
        let amp = 0.15 + 0.2 * rng.uniform();
        let mut phase = 0.0f64;
        // a fricative: noise through a crude resonance
        let (mut y1, mut y2) = (0.0f64, 0.0f64);
        let fc = 3000.0 + 3000.0 * rng.uniform();
        let w = 2.0 * std::f64::consts::PI * fc / sr_f;
        let rr = 0.9;
        for i in 0..len.min(n - start) {
            let x = i as f64 / len as f64;
            let env = (std::f64::consts::PI * x).sin().powf(0.7);
            let v = if voiced {
                let f0 = f0a + (f0b - f0a) * x;
                phase += 2.0 * std::f64::consts::PI * f0 / sr_f;
                let mut s = 0.0;
                let mut h = 1.0;
                while h * f0 < 5000.0 {
                    let f = h * f0;
                    let g: f64 = formants
                        .iter()
                        .map(|&fm| 1.0 / (1.0 + ((f - fm) / (0.12 * fm)).powi(2)))
                        .sum();
                    s += g / h.sqrt() * (h * phase).sin();
                    h += 1.0;
                }
                s * 0.3
            } else {
                let e = f64::from(rng.gauss());
                let y = e + 2.0 * rr * w.cos() * y1 - rr * rr * y2;
                y2 = y1;
                y1 = y;
                y * 0.05
            };
            out[start + i] += (amp * env * v) as f32;
        }
        t += len as f64 + (0.03 + 0.35 * rng.uniform()) * sr_f;
    }
    out
}

/// `x` evaluated at fractional index `t` by a Hann-windowed sinc (64 taps
/// each side), in f64; zero outside.
pub fn sinc_at(x: &[f32], t: f64) -> f32 {
    const HALF: i64 = 64;
    let c = t.floor() as i64;
    let mut s = 0.0f64;
    for k in c - HALF + 1..=c + HALF {
        if k < 0 || k >= x.len() as i64 {
            continue;
        }
        let d = t - k as f64;
        let sinc = if d.abs() < 1e-12 {
            1.0
        } else {
            (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
        };
        let win = 0.5 + 0.5 * (std::f64::consts::PI * d / HALF as f64).cos();
        s += f64::from(x[k as usize]) * sinc * win;
    }
    s as f32
}

/// `x` delayed by `offset + base` samples (any fraction), `2 * base` longer.
pub fn fractional_delay(x: &[f32], offset: f64, base: f64) -> Vec<f32> {
    let d = offset + base;
    let n = x.len() + (2.0 * base) as usize;
    (0..n).map(|i| sinc_at(x, i as f64 - d)).collect()
}

/// An RBJ-cookbook peaking EQ, f64 state.
pub fn biquad_peak(x: &[f32], sr: u32, f: f64, gain_db: f64, q: f64) -> Vec<f32> {
    let a = 10f64.powf(gain_db / 40.0);
    let w = 2.0 * std::f64::consts::PI * f / f64::from(sr);
    let alpha = w.sin() / (2.0 * q);
    let (b0, b1, b2) = (1.0 + alpha * a, -2.0 * w.cos(), 1.0 - alpha * a);
    let (a0, a1, a2) = (1.0 + alpha / a, -2.0 * w.cos(), 1.0 - alpha / a);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    x.iter()
        .map(|&v| {
            let v = f64::from(v);
            let y = (b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
            x2 = x1;
            x1 = v;
            y2 = y1;
            y1 = y;
            y as f32
        })
        .collect()
}
