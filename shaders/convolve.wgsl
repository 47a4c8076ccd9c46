// Uniformly partitioned overlap-save convolution, the frequency-domain part.
// CPU reference: dubstage_core::stem::convolve::Convolver (f64); CPU twin of
// these kernels: dubstage_gpu::kernels::convolve::{mac, push, extract}.
// Host: dubstage_gpu::kernels::convolve::GpuConvolver.
//
// B = block (partition) size, N = 2B, bins = B + 1, P partitions, K blocks in
// this dispatch (block k0 + kk for kk in 0..K), slot0 = k0 mod P.
//   h[(j P + p) bins + bin]     IR channel j, partition p (scaled by 1/N, uploaded once)
//   xnew[(i K + kk) bins + bin] spectrum of window [x_{k-1} | x_k] of input channel i
//   fdl[(i P + s) bins + bin]   frequency-domain delay line: block g sits in slot g mod P
//   y[(o K + kk) bins + bin]    Σ_routes Σ_p X[i][k0+kk-p] H[j][p]
// Blocks k0+kk-p inside this dispatch (p <= kk) are read from xnew, older ones
// from the FDL (zero before the first block: the FDL starts zeroed).
// `push` then stores the last min(complete, P) complete blocks into the FDL and
// `extract` keeps samples B..2B of each inverse transform (overlap-save).

struct Params {
    bins: u32,      // B + 1
    parts: u32,     // P
    blocks: u32,    // K
    slot0: u32,     // k0 mod P
    outputs: u32,   // output channels (route table rows)
    complete: u32,  // blocks of this dispatch that are complete (K or K - 1)
    keep: u32,      // min(complete, P)
    groups_x: u32,  // workgroups along x
    block: u32,     // B
    channels: u32,  // input channels
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// routes[o] .. routes[o + 1]: route range of output o; route r is the pair
// (routes[outputs + 1 + 2r], routes[outputs + 2 + 2r]) = (input channel, IR channel).
@group(0) @binding(1) var<storage, read> routes: array<u32>;
@group(0) @binding(2) var<storage, read> h: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> xnew: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> fdl: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> time: array<f32>;
@group(0) @binding(7) var<storage, read_write> outp: array<f32>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// One thread per (output o, block kk, bin).
@compute @workgroup_size(256)
fn mac(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let bins = params.bins;
    let kb = params.blocks * bins;
    if id >= params.outputs * kb {
        return;
    }
    let o = id / kb;
    let kk = (id / bins) % params.blocks;
    let bin = id % bins;
    let np = params.parts;
    var acc = vec2<f32>(0.0, 0.0);
    for (var r = routes[o]; r < routes[o + 1u]; r += 1u) {
        let i = routes[params.outputs + 1u + 2u * r];
        let j = routes[params.outputs + 2u + 2u * r];
        for (var p = 0u; p < np; p += 1u) {
            var x: vec2<f32>;
            if p <= kk {
                x = xnew[(i * params.blocks + kk - p) * bins + bin];
            } else {
                let s = (params.slot0 + np - (p - kk)) % np;
                x = fdl[(i * np + s) * bins + bin];
            }
            acc += cmul(x, h[(j * np + p) * bins + bin]);
        }
    }
    if bin == 0u || bin == bins - 1u {
        acc.y = 0.0;
    }
    y[id] = acc;
}

// One thread per (input channel i, kept block m, bin): block
// complete - keep + m goes to FDL slot (slot0 + kk) mod P.
@compute @workgroup_size(256)
fn push(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let bins = params.bins;
    let mb = params.keep * bins;
    if id >= params.channels * mb {
        return;
    }
    let i = id / mb;
    let kk = params.complete - params.keep + (id / bins) % params.keep;
    let bin = id % bins;
    let s = (params.slot0 + kk) % params.parts;
    fdl[(i * params.parts + s) * bins + bin] = xnew[(i * params.blocks + kk) * bins + bin];
}

// One thread per (output o, block kk, sample u < B): the last B samples of
// each inverse transform (the first B are circularly aliased).
@compute @workgroup_size(256)
fn extract(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    let b = params.block;
    if id >= params.outputs * params.blocks * b {
        return;
    }
    let t = id / b; // o K + kk
    let u = id % b;
    outp[id] = time[t * 2u * b + b + u];
}
