// BS.1770-4 K-weighting, per-hop energy, sample peak and true peak, exact and
// parallel over time.
//
// CPU twin: dubstage_core::loudness::HopAnalyzer (sequential, f64); the segment
// algorithm below gives the same K-weighted signal up to f32 rounding.
//
// Each biquad runs as a trapezoidal-integrated state-variable filter (TPT SVF:
// V. Zavalishin, "The Art of VA Filter Design", ch. 4; A. Simper, "Linear
// trapezoidal integrated SVF", Cytomic 2013) with the same transfer function as
// the direct-form coefficients: the host converts (b, a) into the SVF's g, k and
// output mix. In f32 the direct forms lose about 1e-4 of the energy of 20 Hz
// content through the RLB high-pass (poles at 0.995); the SVF keeps 1e-6.
//
// Each channel is cut into segments of `seg_len` frames (a divisor of the 100 ms
// hop). The two cascaded filters form one 4-state linear system
// s[n+1] = A s[n] + B x[n],  y[n] = C s[n] + D x[n], so
//
//   state after a segment = A^L * (state before) + (end state of the segment run from zero).
//
// 1. `zero_state`: every (channel, segment) runs its segment from a zero state
//    and stores the end state f.
// 2. `carry`: one workgroup per channel scans the segments with the affine maps
//    s -> M s + f (M = A^L, computed on the host in f64), giving each segment's
//    true start state and the state carried into the next chunk.
// 3. `hop_figures`: every (channel, segment) reruns its segment from its true
//    start state: K-weighted sum of squares (CPU twin loudness::block_energy),
//    sample peak, and true peak (`true_peak_max` in true_peak.wgsl, appended to
//    this source by the host) over the oversampled outputs whose centre lies in
//    the segment: output n * factor + p estimates time n - look + p / factor, so
//    the centres c of the segment use inputs up to c + look.
//
// Input layout per channel (stride `stride`): `hist` = taps - 1 frames of
// history (zeros at the start), the chunk's `frames`, then `look` frames of the
// next chunk (zeros after the end).

struct Params {
    channels: u32,
    seg_len: u32,   // frames per segment
    segs: u32,      // segments in this chunk (the last may be partial)
    frames: u32,    // frames in this chunk
    stride: u32,    // per-channel stride of `input`
    hist: u32,      // history frames before the chunk in `input`
    factor: u32,    // true-peak oversampling factor (0 = off)
    taps: u32,      // FIR taps per phase
    groups_x: u32,  // workgroups along x for the (channel, segment) passes
    look: u32,      // true-peak delay = look-ahead frames after the chunk
    pad1: u32,
    pad2: u32,
}

// consts: per stage (7 each, stage 1 then stage 2) the SVF's
//         a1 = 1 / (1 + g (g + k)), a2 = g a1, a3 = g a2, k, and the output mix
//         m_hp, m_bp, m_lp; then [14..30] M = A^seg_len, column-major.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> consts: array<f32>;
@group(0) @binding(2) var<storage, read> fir: array<f32>;
@group(0) @binding(3) var<storage, read> input: array<f32>;
@group(0) @binding(4) var<storage, read_write> seg_state: array<vec4<f32>>;  // channels x segs
@group(0) @binding(5) var<storage, read_write> carry_state: array<vec4<f32>>; // channels
@group(0) @binding(6) var<storage, read_write> figures: array<f32>;          // channels x segs x 3

struct Stage {
    a1: f32, a2: f32, a3: f32, k: f32,
    m_hp: f32, m_bp: f32, m_lp: f32,
}

struct Coefs {
    one: Stage,
    two: Stage,
}

fn stage(o: u32) -> Stage {
    return Stage(consts[o], consts[o + 1u], consts[o + 2u], consts[o + 3u],
                 consts[o + 4u], consts[o + 5u], consts[o + 6u]);
}

fn coefs() -> Coefs {
    return Coefs(stage(0u), stage(7u));
}

// One sample through one SVF; `s` = (ic1eq, ic2eq), updated in place.
fn svf(c: Stage, s: ptr<function, vec2<f32>>, x: f32) -> f32 {
    let ic = *s;
    let v3 = x - ic.y;
    let v1 = c.a1 * ic.x + c.a2 * v3;
    let v2 = ic.y + c.a2 * ic.x + c.a3 * v3;
    *s = vec2<f32>(2.0 * v1 - ic.x, 2.0 * v2 - ic.y);
    let hp = x - c.k * v1 - v2;
    return c.m_hp * hp + c.m_bp * v1 + c.m_lp * v2;
}

// One sample through both stages; `s` = (stage 1 ic1eq, ic2eq, stage 2 ic1eq, ic2eq).
fn k_step(k: Coefs, s: ptr<function, vec4<f32>>, x: f32) -> f32 {
    var one = (*s).xy;
    var two = (*s).zw;
    let y = svf(k.two, &two, svf(k.one, &one, x));
    *s = vec4<f32>(one, two);
    return y;
}

fn transition() -> mat4x4<f32> {
    return mat4x4<f32>(
        vec4<f32>(consts[14], consts[15], consts[16], consts[17]),
        vec4<f32>(consts[18], consts[19], consts[20], consts[21]),
        vec4<f32>(consts[22], consts[23], consts[24], consts[25]),
        vec4<f32>(consts[26], consts[27], consts[28], consts[29]),
    );
}

@compute @workgroup_size(64)
fn zero_state(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 64u + li;
    if id >= params.channels * params.segs {
        return;
    }
    let ch = id / params.segs;
    let start = (id % params.segs) * params.seg_len;
    let n = min(params.seg_len, params.frames - start);
    let base = ch * params.stride + params.hist + start;
    let k = coefs();
    var s = vec4<f32>(0.0);
    for (var j = 0u; j < n; j++) {
        _ = k_step(k, &s, input[base + j]);
    }
    seg_state[id] = s;
}

var<workgroup> agg: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn carry(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    let segs = params.segs;
    let per = (segs + 255u) / 256u;
    let first = min(li * per, segs);
    let last = min(first + per, segs);
    let base = ch * segs;
    let m = transition();
    // Each thread: its block's end state from zero (Σ M^(last-1-i) f_i).
    var b = vec4<f32>(0.0);
    for (var i = first; i < last; i++) {
        b = m * b + seg_state[base + i];
    }
    agg[li] = b;
    workgroupBarrier();
    // One thread: the start state of every block (P = M^per). Blocks after the
    // last non-empty one get meaningless states that nothing reads.
    if li == 0u {
        var p = m;
        for (var k = 1u; k < per; k++) {
            p = p * m;
        }
        var s = carry_state[ch];
        for (var t = 0u; t < 256u; t++) {
            let a = agg[t];
            agg[t] = s;
            s = p * s + a;
        }
    }
    workgroupBarrier();
    // Each thread: the start state of each of its segments; the owner of the
    // last segment stores the state carried into the next chunk.
    var s = agg[li];
    for (var i = first; i < last; i++) {
        let f = seg_state[base + i];
        seg_state[base + i] = s;
        s = m * s + f;
    }
    if first < last && last == segs {
        carry_state[ch] = s;
    }
}

@compute @workgroup_size(64)
fn hop_figures(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 64u + li;
    if id >= params.channels * params.segs {
        return;
    }
    let ch = id / params.segs;
    let start = (id % params.segs) * params.seg_len;
    let n = min(params.seg_len, params.frames - start);
    let base = ch * params.stride + params.hist + start;
    let k = coefs();
    var s = seg_state[id];
    var energy = 0.0;
    var peak = 0.0;
    for (var j = 0u; j < n; j++) {
        let x = input[base + j];
        peak = max(peak, abs(x));
        let y = k_step(k, &s, x);
        energy += y * y;
    }
    var tp = 0.0;
    if params.factor > 0u {
        for (var j = 0u; j < n; j++) {
            tp = max(tp, true_peak_max(base + j + params.look));
        }
    }
    figures[3u * id] = energy;
    figures[3u * id + 1u] = peak;
    figures[3u * id + 2u] = tp;
}
