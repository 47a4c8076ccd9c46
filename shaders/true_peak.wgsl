// True peak (ITU-R BS.1770-4 Annex 2): the largest absolute output of the
// polyphase interpolator of dubstage_core::loudness::true_peak_fir at one input
// position. CPU twin: dubstage_core::loudness::true_peak (same order: phases,
// then taps in increasing k).
//
//   output n * factor + p = Σ_k fir[p * taps + k] * x[n - k],  k in 0..taps
//
// Appended to k_weight.wgsl by the host: uses its `params`, `fir` and `input`.
// `last` is the index in `input` of x[n]; the caller guarantees taps - 1 samples
// of history before it.

fn true_peak_max(last: u32) -> f32 {
    var m = 0.0;
    for (var p = 0u; p < params.factor; p++) {
        var acc = 0.0;
        for (var k = 0u; k < params.taps; k++) {
            acc += fir[p * params.taps + k] * input[last - k];
        }
        m = max(m, abs(acc));
    }
    return m;
}
