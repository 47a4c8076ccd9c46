// Stem summing with gain envelopes and a routing/pan matrix.
// CPU twin: dubstage_core::backend::cpu::sum_stems (same order of additions:
// increasing input index, `(m * g) * x` added to the running sum).
//
//   out[o][t] = Σ_i matrix[o * inputs + i] * envelopes[envelope_of[i]][t] * inputs[i][t]
//
// One invocation per (output, frame). The grid is 2-D so that long chunks stay
// within 65,535 workgroups per dimension: id = (wg.y * groups_x + wg.x) * 256 + local.

struct Params {
    frames: u32,     // frames in this chunk (also the planar stride)
    inputs: u32,     // input channels
    outputs: u32,    // output channels
    groups_x: u32,   // workgroups along x in this dispatch
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;       // inputs x frames
@group(0) @binding(2) var<storage, read> envelopes: array<f32>;    // envelopes x frames
@group(0) @binding(3) var<storage, read> envelope_of: array<u32>;  // inputs
@group(0) @binding(4) var<storage, read> mix_matrix: array<f32>;   // outputs x inputs
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // outputs x frames

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let id = (wg.y * params.groups_x + wg.x) * 256u + li;
    if id >= params.frames * params.outputs {
        return;
    }
    let o = id / params.frames;
    let t = id % params.frames;
    var acc = 0.0;
    for (var i = 0u; i < params.inputs; i++) {
        let m = mix_matrix[o * params.inputs + i];
        if m == 0.0 {
            continue;
        }
        let g = envelopes[envelope_of[i] * params.frames + t];
        acc += m * g * inputs[i * params.frames + t];
    }
    out[id] = acc;
}
