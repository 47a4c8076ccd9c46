/**
 * A loaded preview: the reel's facts, the mixer and the loudness meter.
 */
export class Preview {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        PreviewFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_preview_free(ptr, 0);
    }
    /**
     * Is stem `i` heard with the current monitoring, mutes and solos?
     * @param {number} i
     * @returns {boolean}
     */
    audible(i) {
        const ret = wasm.preview_audible(this.__wbg_ptr, i);
        return ret !== 0;
    }
    /**
     * The plain-text cue sheet of a JSON marker array (as `dubstage spot` prints it).
     * @param {string} markers_json
     * @returns {string}
     */
    cue_sheet(markers_json) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(markers_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.preview_cue_sheet(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
    /**
     * Is the timecode drop-frame?
     * @returns {boolean}
     */
    drop_frame() {
        const ret = wasm.preview_drop_frame(this.__wbg_ptr);
        return ret !== 0;
    }
    /**
     * Real frames per second (23.976... for 24000/1001).
     * @returns {number}
     */
    fps() {
        const ret = wasm.preview_fps(this.__wbg_ptr);
        return ret;
    }
    /**
     * Planar input channels [`Preview::process`] expects (every stem's, in order).
     * @returns {number}
     */
    input_channels() {
        const ret = wasm.preview_input_channels(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Package files (`manifest.irs[].file`) of the impulse responses the
     * inserts need; give each with `load_ir` before playing.
     * @returns {string[]}
     */
    ir_files() {
        const ret = wasm.preview_ir_files(this.__wbg_ptr);
        var v1 = getArrayJsValueFromWasm0(ret[0], ret[1]);
        wasm.__wbindgen_free(ret[0], ret[1] * 4, 4);
        return v1;
    }
    /**
     * Gives the impulse response stored in package file `file` (its bytes as
     * little-endian f32, planar, as `manifest.irs` describes it).
     * @param {string} file
     * @param {Float32Array | number[]} samples
     */
    load_ir(file, samples) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passStringToWasm0(file, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passArrayF32ToWasm0(samples, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 4, 4); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.preview_load_ir(this.__wbg_ptr, ptr0, len0, ptr1, len1);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * A JSON spotting list of the markers (for export).
     * @param {string} markers_json
     * @returns {string}
     */
    markers_to_json(markers_json) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(markers_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.preview_markers_to_json(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
    /**
     * Completed 100 ms meter hops since the last reset.
     * @returns {number}
     */
    meter_hops() {
        const ret = wasm.preview_meter_hops(this.__wbg_ptr);
        return ret;
    }
    /**
     * Momentary loudness of the mix (LUFS; -Infinity for silence).
     * @returns {number}
     */
    momentary() {
        const ret = wasm.preview_momentary(this.__wbg_ptr);
        return ret;
    }
    /**
     * Does the block at reel sample `start` need priming (it does not continue
     * the last block mixed, and there is insert or reverb state)?
     * @param {number} start
     * @returns {boolean}
     */
    needs_prime(start) {
        const ret = wasm.preview_needs_prime(this.__wbg_ptr, start);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] !== 0;
    }
    /**
     * Parses `manifest.json`'s text.
     * @param {string} manifest_json
     */
    constructor(manifest_json) {
        const ptr0 = passStringToWasm0(manifest_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.preview_new(ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        PreviewFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Numbers empty cue numbers of a JSON marker array (see `spot::number_cues`).
     * @param {string} markers_json
     * @returns {string}
     */
    number_cues(markers_json) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(markers_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.preview_number_cues(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
    /**
     * Reel sample at which timecode `text` starts (may be outside the reel).
     * @param {string} text
     * @returns {number}
     */
    parse_timecode(text) {
        const ptr0 = passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.preview_parse_timecode(this.__wbg_ptr, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0];
    }
    /**
     * Runs the inserts, sends and returns over `frames` frames from `start`
     * (input as for `process`) without mixing or metering. Call it over the
     * `prime_frames()` frames before a block that `needs_prime`, in order, in
     * pieces of any size; the block then sounds as the render makes it there.
     * @param {number} start
     * @param {Float32Array | number[]} input
     * @param {number} frames
     */
    prime(start, input, frames) {
        const val2 = +start;
        const val3 = +frames;
        const ptr0 = passArrayF32ToWasm0(input, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.preview_prime(this.__wbg_ptr, val2, ptr0, len0, val3);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Frames of audio before a block that `prime` needs after a jump (0: no
     * inserts or sends, nothing to prime). Throws if an impulse response is missing.
     * @returns {number}
     */
    prime_frames() {
        const ret = wasm.preview_prime_frames(this.__wbg_ptr);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Where priming for the block at `start` begins (`prime_frames()` before it, but
     * not before the reel less the longest `stem_lead`: a stem read ahead starts
     * from its first sample there, as in the render). Throws if an impulse response
     * is missing.
     * @param {number} start
     * @returns {number}
     */
    prime_start(start) {
        const ret = wasm.preview_prime_start(this.__wbg_ptr, start);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0];
    }
    /**
     * Mixes `frames` frames from reel sample `start`. `input` holds
     * `input_channels()` planar channels of `frames` samples one after the other
     * (stem `i`'s from `start + stem_lead(i)`). Returns the stereo mix, planar (`[L.., R..]`), and feeds the loudness meter.
     * When `needs_prime(start)` is true, call `prime` first (see there).
     * @param {number} start
     * @param {Float32Array | number[]} input
     * @param {number} frames
     * @returns {Float32Array}
     */
    process(start, input, frames) {
        const val2 = +start;
        const val3 = +frames;
        const ptr0 = passArrayF32ToWasm0(input, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.preview_process(this.__wbg_ptr, val2, ptr0, len0, val3);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v4 = getArrayF32FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 4, 4);
        return v4;
    }
    /**
     * Starts the meter afresh (after a seek).
     */
    reset_meter() {
        const ret = wasm.preview_reset_meter(this.__wbg_ptr);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Is return `r` heard with the current monitoring, mutes and solos?
     * @param {number} r
     * @returns {boolean}
     */
    return_audible(r) {
        const ret = wasm.preview_return_audible(this.__wbg_ptr, r);
        return ret !== 0;
    }
    /**
     * Number of reverb returns.
     * @returns {number}
     */
    return_count() {
        const ret = wasm.preview_return_count(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Monitoring: `printmaster`, `me`, `bus:ID` or `stem:ID`.
     * @param {string} what
     */
    set_monitor(what) {
        const ptr0 = passStringToWasm0(what, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.preview_set_monitor(this.__wbg_ptr, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Reviewer mute of stem `i`.
     * @param {number} i
     * @param {boolean} on
     */
    set_mute(i, on) {
        wasm.preview_set_mute(this.__wbg_ptr, i, on);
    }
    /**
     * Reviewer mute of return `r`.
     * @param {number} r
     * @param {boolean} on
     */
    set_return_mute(r, on) {
        wasm.preview_set_return_mute(this.__wbg_ptr, r, on);
    }
    /**
     * Reviewer level offset for return `r`, dB.
     * @param {number} r
     * @param {number} db
     */
    set_return_trim_db(r, db) {
        wasm.preview_set_return_trim_db(this.__wbg_ptr, r, db);
    }
    /**
     * Solo of stem `i`.
     * @param {number} i
     * @param {boolean} on
     */
    set_solo(i, on) {
        wasm.preview_set_solo(this.__wbg_ptr, i, on);
    }
    /**
     * Reviewer level offset for stem `i`, dB.
     * @param {number} i
     * @param {number} db
     */
    set_trim_db(i, db) {
        wasm.preview_set_trim_db(this.__wbg_ptr, i, db);
    }
    /**
     * Short-term loudness of the mix (LUFS; -Infinity for silence).
     * @returns {number}
     */
    short_term() {
        const ret = wasm.preview_short_term(this.__wbg_ptr);
        return ret;
    }
    /**
     * Channels of stem `i` as stored in the package (its slice of `process`'s input).
     * @param {number} i
     * @returns {number}
     */
    stem_channels(i) {
        const ret = wasm.preview_stem_channels(this.__wbg_ptr, i);
        return ret >>> 0;
    }
    /**
     * Number of stems.
     * @returns {number}
     */
    stem_count() {
        const ret = wasm.preview_stem_count(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * How far ahead of a block stem `i`'s input is read, in frames (its inserts'
     * latency, as the render reads it; 0 for most stems): the input of stem `i` for
     * the block at `start` is its audio from `start + stem_lead(i)`. Throws if an
     * impulse response is missing.
     * @param {number} i
     * @returns {number}
     */
    stem_lead(i) {
        const ret = wasm.preview_stem_lead(this.__wbg_ptr, i);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        return ret[0] >>> 0;
    }
    /**
     * Does stem `i` take part in priming (it has inserts or sends)? Others may
     * be given as silence to `prime`.
     * @param {number} i
     * @returns {boolean}
     */
    stem_primes(i) {
        const ret = wasm.preview_stem_primes(this.__wbg_ptr, i);
        return ret !== 0;
    }
    /**
     * Reel sample where the frame `frames` away from the one containing `sample` starts.
     * @param {number} sample
     * @param {number} frames
     * @returns {number}
     */
    step_frames(sample, frames) {
        const ret = wasm.preview_step_frames(this.__wbg_ptr, sample, frames);
        return ret;
    }
    /**
     * SMPTE timecode of the frame containing reel sample `sample`.
     * @param {number} sample
     * @returns {string}
     */
    timecode(sample) {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.preview_timecode(this.__wbg_ptr, sample);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * Checks a JSON marker array against the reel; returns the resolved cues as
     * JSON (with `in_sample`, `out_sample`, `frames`) or throws listing every problem.
     * @param {string} markers_json
     * @returns {string}
     */
    validate_markers(markers_json) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(markers_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.preview_validate_markers(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
}
if (Symbol.dispose) Preview.prototype[Symbol.dispose] = Preview.prototype.free;

/**
 * Min/max peaks of interleaved audio: `[min, max]` per run of `spp` frames.
 * @param {Float32Array | number[]} interleaved
 * @param {number} channels
 * @param {number} spp
 * @returns {Float32Array}
 */
export function peaks(interleaved, channels, spp) {
    const val2 = +channels;
    const val3 = +spp;
    const ptr0 = passArrayF32ToWasm0(interleaved, wasm.__wbindgen_malloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.peaks(ptr0, len0, val2, val3);
    var v4 = getArrayF32FromWasm0(ret[0], ret[1]).slice();
    wasm.__wbindgen_free(ret[0], ret[1] * 4, 4);
    return v4;
}

/**
 * Parses a spotting list (CSV, or JSON when `name` ends in `.json`) into a JSON
 * marker array; throws naming the line that is wrong.
 * @param {string} text
 * @param {string} name
 * @returns {string}
 */
export function spot_parse(text, name) {
    let deferred4_0;
    let deferred4_1;
    try {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passStringToWasm0(name, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.spot_parse(ptr0, len0, ptr1, len1);
        var ptr3 = ret[0];
        var len3 = ret[1];
        if (ret[3]) {
            ptr3 = 0; len3 = 0;
            throw takeFromExternrefTable0(ret[2]);
        }
        deferred4_0 = ptr3;
        deferred4_1 = len3;
        return getStringFromWasm0(ptr3, len3);
    } finally {
        wasm.__wbindgen_free(deferred4_0, deferred4_1, 1);
    }
}

/**
 * Writes a JSON marker array as CSV.
 * @param {string} markers_json
 * @returns {string}
 */
export function spot_to_csv(markers_json) {
    let deferred3_0;
    let deferred3_1;
    try {
        const ptr0 = passStringToWasm0(markers_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.spot_to_csv(ptr0, len0);
        var ptr2 = ret[0];
        var len2 = ret[1];
        if (ret[3]) {
            ptr2 = 0; len2 = 0;
            throw takeFromExternrefTable0(ret[2]);
        }
        deferred3_0 = ptr2;
        deferred3_1 = len2;
        return getStringFromWasm0(ptr2, len2);
    } finally {
        wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
    }
}

/**
 * The core's version string.
 * @returns {string}
 */
export function version() {
    let deferred1_0;
    let deferred1_1;
    try {
        const ret = wasm.version();
        deferred1_0 = ret[0];
        deferred1_1 = ret[1];
        return getStringFromWasm0(ret[0], ret[1]);
    } finally {
        wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
    }
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_Error_208446807d0d1e30: function(arg0, arg1) {
            const ret = Error(getStringFromWasm0(arg0, arg1));
            return ret;
        },
        __wbg___wbindgen_throw_4c88d8bf264fd984: function(arg0, arg1) {
            throw new Error(getStringFromWasm0(arg0, arg1));
        },
        __wbindgen_generic_0000000000000001: function(arg0, arg1) {
            // Cast intrinsic for `Ref(String) -> Externref`.
            const ret = getStringFromWasm0(arg0, arg1);
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
    };
    return {
        __proto__: null,
        "./dubstage_wasm_bg.js": import0,
    };
}

const PreviewFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_preview_free(ptr, 1));

function getArrayF32FromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return getFloat32ArrayMemory0().subarray(ptr / 4, ptr / 4 + len);
}

function getArrayJsValueFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    const mem = getDataViewMemory0();
    const result = [];
    for (let i = ptr; i < ptr + 4 * len; i += 4) {
        result.push(wasm.__wbindgen_externrefs.get(mem.getUint32(i, true)));
    }
    wasm.__externref_drop_slice(ptr, len);
    return result;
}

let cachedDataViewMemory0 = null;
function getDataViewMemory0() {
    if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {
        cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
    }
    return cachedDataViewMemory0;
}

let cachedFloat32ArrayMemory0 = null;
function getFloat32ArrayMemory0() {
    if (cachedFloat32ArrayMemory0 === null || cachedFloat32ArrayMemory0.byteLength === 0) {
        cachedFloat32ArrayMemory0 = new Float32Array(wasm.memory.buffer);
    }
    return cachedFloat32ArrayMemory0;
}

function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}

let cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
    if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
        cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
    }
    return cachedUint8ArrayMemory0;
}

function passArrayF32ToWasm0(arg, malloc) {
    const ptr = malloc(arg.length * 4, 4) >>> 0;
    getFloat32ArrayMemory0().set(arg, ptr / 4);
    WASM_VECTOR_LEN = arg.length;
    return ptr;
}

function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }

    WASM_VECTOR_LEN = offset;
    return ptr;
}

function takeFromExternrefTable0(idx) {
    const value = wasm.__wbindgen_externrefs.get(idx);
    wasm.__externref_table_dealloc(idx);
    return value;
}

let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
cachedTextDecoder.decode();
const MAX_SAFARI_DECODE_BYTES = 2146435072;
let numBytesDecoded = 0;
function decodeText(bytes) {
    numBytesDecoded += bytes.length;
    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
        cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
        cachedTextDecoder.decode();
        numBytesDecoded = bytes.length;
    }
    return cachedTextDecoder.decode(bytes);
}

const cachedTextEncoder = new TextEncoder();

if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}

let WASM_VECTOR_LEN = 0;

let wasmModule, wasmInstance, wasm;
function __wbg_finalize_init(instance, module) {
    wasmInstance = instance;
    wasm = instance.exports;
    wasmModule = module;
    cachedDataViewMemory0 = null;
    cachedFloat32ArrayMemory0 = null;
    cachedUint8ArrayMemory0 = null;
    wasm.__wbindgen_start();
    return wasm;
}

async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}

function initSync(module) {
    if (wasm !== undefined) return wasm;


    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module} = module)
        } else {
            console.warn('using deprecated parameters for `initSync()`; pass a single object instead')
        }
    }

    const imports = __wbg_get_imports();
    if (!(module instanceof WebAssembly.Module)) {
        module = new WebAssembly.Module(module);
    }
    const instance = new WebAssembly.Instance(module, imports);
    return __wbg_finalize_init(instance, module);
}

let __wbg_init_promise;
async function __wbg_init(module_or_path) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}

async function __wbg_init_once(module_or_path) {

    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }

    if (module_or_path === undefined) {
        module_or_path = new URL('dubstage_wasm_bg.wasm', import.meta.url);
    }
    const imports = __wbg_get_imports();

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module);
}

export { initSync, __wbg_init as default };
