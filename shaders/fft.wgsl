// Batched complex FFT (Stockham autosort, radix 4 with one radix-2 pass when
// log2 n is odd) and the real-to-complex post-processing step.
// CPU twin: dubstage_gpu::kernels::fft::{fft_pass, real_post}, same indexing
// and the same order of operations.
//
// Stockham pass (radix r, sub-transform size p so far; p = 1, r, r*r', ...):
// thread i in 0..n/r, k = i mod p:
//   u_j  = src[i + j n/r] * w^(j k),  w = exp(∓2πi / (p r)),   j in 0..r
//   u'   = DFT_r(u)
//   dst[(i - k) r + k + j p] = u'_j
// After the last pass (p = n) dst holds the transform in natural order, no
// bit reversal. Up to n = 1024 the whole transform runs in one workgroup
// (`fft_local`: every pass in workgroup memory, one dispatch, one transform per
// workgroup). Beyond, one dispatch per pass (`fft_pass`) ping-pongs between two
// storage buffers, so any n up to the binding limit works (2^20 and beyond).
// Both forms compute the same butterflies in the same order, bit for bit.
//
// Twiddles come from a table computed in f64 on the host, tw[m] = exp(-2πi m / t)
// for m in 0..t; a transform of size n reads it with stride t / n (WGSL's sin
// and cos are only accurate to 2^-11 on some hardware).
//
// Real input of length 2n is read as n complex values (x[2m] + i x[2m+1]),
// transformed with the passes above, then `real_post` forms the 2n-point
// spectrum's n + 1 bins:
//   X[k] = (Z[k] + conj Z[n-k]) / 2 - i/2 * w^k (Z[k] - conj Z[n-k]),  w = exp(-2πi / 2n)
// and `real_pre` undoes it for the inverse (complex-to-real) transform:
//   Z[k] = (X[k] + conj X[n-k]) + i conj(w^k) (X[k] - conj X[n-k])
// whose unscaled inverse n-point transform is 2n (x[2m] + i x[2m+1]) (the
// unscaled convention of RustFFT and realfft).

struct Params {
    n: u32,         // complex transform size (a power of two)
    batch: u32,     // transforms in this dispatch, each n values apart
    p: u32,         // sub-transform size before this pass
    radix: u32,     // 2 or 4
    stride: u32,    // twiddle-table stride for a size-n transform: t / n
    inverse: u32,   // 1: exp(+2πi ...) (unscaled inverse)
    groups_x: u32,  // workgroups along x
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tw: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<f32>>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// exp(∓2πi m / n) for m in 0..n.
fn twiddle(m: u32) -> vec2<f32> {
    let w = tw[m * params.stride];
    if params.inverse == 1u {
        return vec2<f32>(w.x, -w.y);
    }
    return w;
}

// Multiplies by -i (forward) or +i (inverse).
fn rot(a: vec2<f32>) -> vec2<f32> {
    if params.inverse == 1u {
        return vec2<f32>(-a.y, a.x);
    }
    return vec2<f32>(a.y, -a.x);
}

@compute @workgroup_size(256)
fn fft_pass(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let r = params.radix;
    let q = params.n / r;
    if id >= q * params.batch {
        return;
    }
    let base = (id / q) * params.n;
    let i = id % q;
    let p = params.p;
    let k = i % p;
    // w^(j k) with w = exp(-2πi / (p r)) is table entry j k n / (p r).
    let step = k * (params.n / (p * r));
    let out = base + (i - k) * r + k;
    if r == 4u {
        let u0 = src[base + i];
        let u1 = cmul(src[base + i + q], twiddle(step));
        let u2 = cmul(src[base + i + 2u * q], twiddle(2u * step));
        let u3 = cmul(src[base + i + 3u * q], twiddle(3u * step));
        let a0 = u0 + u2;
        let a1 = u0 - u2;
        let a2 = u1 + u3;
        let a3 = rot(u1 - u3);
        dst[out] = a0 + a2;
        dst[out + p] = a1 + a3;
        dst[out + 2u * p] = a0 - a2;
        dst[out + 3u * p] = a1 - a3;
    } else {
        let u0 = src[base + i];
        let u1 = cmul(src[base + i + q], twiddle(step));
        dst[out] = u0 + u1;
        dst[out + p] = u0 - u1;
    }
}

const LOCAL_MAX: u32 = 1024u;
var<workgroup> sh: array<vec2<f32>, 2048>; // two halves of LOCAL_MAX: ping and pong

// One Stockham pass inside workgroup memory: reads half `half`, writes the other.
fn local_pass(li: u32, p: u32, r: u32, half: u32) {
    let n = params.n;
    let q = n / r;
    let s = half * LOCAL_MAX;
    let d = (1u - half) * LOCAL_MAX;
    for (var i = li; i < q; i += 256u) {
        let k = i % p;
        let step = k * (n / (p * r));
        let out = d + (i - k) * r + k;
        if r == 4u {
            let u0 = sh[s + i];
            let u1 = cmul(sh[s + i + q], twiddle(step));
            let u2 = cmul(sh[s + i + 2u * q], twiddle(2u * step));
            let u3 = cmul(sh[s + i + 3u * q], twiddle(3u * step));
            let a0 = u0 + u2;
            let a1 = u0 - u2;
            let a2 = u1 + u3;
            let a3 = rot(u1 - u3);
            sh[out] = a0 + a2;
            sh[out + p] = a1 + a3;
            sh[out + 2u * p] = a0 - a2;
            sh[out + 3u * p] = a1 - a3;
        } else {
            let u0 = sh[s + i];
            let u1 = cmul(sh[s + i + q], twiddle(step));
            sh[out] = u0 + u1;
            sh[out + p] = u0 - u1;
        }
    }
}

// A whole transform of size n <= LOCAL_MAX per workgroup (workgroup id = batch index).
@compute @workgroup_size(256)
fn fft_local(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let b = wg.y * params.groups_x + wg.x;
    if b >= params.batch {
        return;
    }
    let n = params.n;
    let base = b * n;
    for (var i = li; i < n; i += 256u) {
        sh[i] = src[base + i];
    }
    workgroupBarrier();
    var p = 1u;
    var half = 0u;
    while p < n {
        var r = 2u;
        if p * 4u <= n {
            r = 4u;
        }
        local_pass(li, p, r, half);
        workgroupBarrier();
        p *= r;
        half = 1u - half;
    }
    for (var i = li; i < n; i += 256u) {
        dst[base + i] = sh[half * LOCAL_MAX + i];
    }
}

// Real-to-complex post-processing: `src` holds the n-point transforms of the
// packed real signals, `dst` gets n + 1 bins per transform. Here `stride` is
// the table stride of the 2n-point real transform (t / 2n).
@compute @workgroup_size(256)
fn real_post(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let n = params.n;
    if id >= (n + 1u) * params.batch {
        return;
    }
    let b = id / (n + 1u);
    let k = id % (n + 1u);
    let zk = src[b * n + k % n];
    let zm = src[b * n + (n - k) % n];
    let zc = vec2<f32>(zm.x, -zm.y);
    let e = 0.5 * (zk + zc);
    let d = 0.5 * (zk - zc);
    let o = vec2<f32>(d.y, -d.x); // -i d
    dst[id] = e + cmul(tw[k * params.stride], o);
}

// Complex-to-real pre-processing: `src` holds n + 1 bins per transform of a
// 2n-point real spectrum, `dst` gets the n-point complex spectrum whose inverse
// transform is the packed real signal (scaled by 2n). `stride` is the table
// stride of the 2n-point transform. The imaginary parts of bins 0 and n are
// ignored (they are 0 for a real signal).
@compute @workgroup_size(256)
fn real_pre(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let n = params.n;
    if id >= n * params.batch {
        return;
    }
    let b = id / n;
    let k = id % n;
    let xk = src[b * (n + 1u) + k];
    let xm = src[b * (n + 1u) + n - k];
    let xc = vec2<f32>(xm.x, -xm.y);
    let e = xk + xc;
    let w = tw[k * params.stride];
    let o = cmul(xk - xc, vec2<f32>(w.x, -w.y));
    dst[id] = e + vec2<f32>(-o.y, o.x); // e + i o
}
