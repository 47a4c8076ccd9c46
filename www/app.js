// dubstage preview page.
//
// The reel is never loaded whole: audio comes in chunk files (manifest.audio),
// a few around the playhead are kept, and the mix is made block by block by the
// wasm Preview (the core's mixer and loudness meter), then scheduled as
// AudioBufferSourceNodes on the AudioContext clock. Every piece of text that
// comes from a package or a marker is shown with textContent, never as HTML.

import init, { Preview, peaks as wasmPeaks, spot_parse, spot_to_csv, version } from './pkg/dubstage_wasm.js';

const BLOCK = 4096;              // frames per scheduled buffer (85 ms at 48 kHz)
const LOOKAHEAD = 0.25;          // seconds of audio kept scheduled ahead
const CHUNKS_KEPT = 8;           // chunk files cached per stem (16-bit, as fetched)
const $ = (id) => document.getElementById(id);

const S = {
  m: null, p: null, sr: 48000, length: 0,
  ctx: null, gain: null,
  playing: false, dir: 1,
  paused: 0,                    // playhead while stopped (reel samples)
  sched: [],                    // [{src, time, sample}] scheduled blocks, in order
  next: 0, nextTime: 0,         // next block to schedule
  meterQ: [],                   // [{sample, m, s}] meter readings per block end
  meterShown: { m: -Infinity, s: -Infinity },
  pumping: false, gen: 0,
  chunks: [],                   // per stem: Map<n, Promise<Int16Array interleaved>>
  chans: [],                    // per stem: channel count in the package
  peaks: [],                    // per stem: Map<spp, Int8Array | Promise>
  loud: null,                   // printmaster loudness {m: Float32Array, s: Float32Array}
  primeFrames: 0,               // audio the inserts/returns need before a block after a jump
  primes: [],                   // per stem: does it take part in priming (inserts or sends)?
  leads: [],                    // per stem: frames its input is read ahead (its inserts' latency)
  primeMs: [],                  // recent priming times (ms), for the console and the benchmark
  view: { start: 0, spp: 1 },
  markers: [], editing: -1,
};

// ---------- package ----------

async function loadManifest() {
  const text = await (await fetch('manifest.json', { cache: 'no-cache' })).text();
  S.m = JSON.parse(text);
  S.p = new Preview(text);
  S.sr = S.m.sample_rate;
  S.length = S.m.length;
  S.chans = S.m.stems.map((_, i) => S.p.stem_channels(i));
  S.chunks = S.m.stems.map(() => new Map());
  S.peaks = S.m.stems.map(() => new Map());
  S.primes = S.m.stems.map((_, i) => S.p.stem_primes(i));
}

// The impulse responses the inserts and returns use (planar little-endian f32 files).
async function loadIrs() {
  await Promise.all((S.m.irs || []).map(async (ir) => {
    const r = await fetch(ir.file);
    if (!r.ok) throw new Error(`${ir.file}: HTTP ${r.status}`);
    S.p.load_ir(ir.file, new Float32Array(await r.arrayBuffer()));
  }));
  S.primeFrames = S.p.prime_frames();
  S.leads = S.m.stems.map((_, i) => S.p.stem_lead(i));
}

function chunkUrl(stem, n) { return `audio/${encodeURIComponent(stem)}/${String(n).padStart(6, '0')}.pcm`; }

// Chunk n of stem i: an Int16Array, interleaved, with .frames (kept 16-bit: half the memory).
function getChunk(i, n) {
  const map = S.chunks[i];
  if (map.has(n)) { const v = map.get(n); map.delete(n); map.set(n, v); return v; }
  const ch = S.chans[i];
  const pr = fetch(chunkUrl(S.m.stems[i].id, n)).then((r) => {
    if (!r.ok) throw new Error(`${chunkUrl(S.m.stems[i].id, n)}: HTTP ${r.status}`);
    return r.arrayBuffer();
  }).then((buf) => {
    const x = new Int16Array(buf);
    x.frames = x.length / ch;
    return x;
  });
  pr.then((d) => { pr.value = d; }, (e) => { map.delete(n); setStatus(String(e)); });
  map.set(n, pr);
  const kept = CHUNKS_KEPT + (S.primes[i] ? Math.ceil(S.primeFrames / S.m.audio.chunk_frames) : 0);
  while (map.size > kept) map.delete(map.keys().next().value);
  return pr;
}

function chunkOf(sample) { return Math.floor(sample / S.m.audio.chunk_frames); }

function prefetch(sample, dir) {
  const n = chunkOf(sample);
  const p = S.primeFrames ? chunkOf(Math.max(0, sample - S.primeFrames)) : n;
  for (let i = 0; i < S.m.stems.length; i++) {
    // the audio that primes the inserts and returns after a jump comes first
    if (S.primes[i]) for (let k = p; k < n; k++) getChunk(i, k);
    const m = chunkOf(sample + (S.leads[i] || 0));
    for (const k of dir ? [n, m, m + dir] : [n, m]) if (k >= 0 && k < S.m.audio.chunks) getChunk(i, k);
  }
}

// The planar input block for the mixer: every stem's channels, `frames` frames from
// `start` (stem i from `start + S.leads[i]`, as the render reads a stem whose inserts
// have latency; only the stems for which only(i) is true; the others stay silent).
async function inputBlock(start, frames = BLOCK, only = null, into = null) {
  const total = S.p.input_channels();
  const buf = into || new Float32Array(total * frames);
  const cf = S.m.audio.chunk_frames;
  let c0 = 0;
  for (let i = 0; i < S.m.stems.length; i++) {
    const ch = S.chans[i];
    let t = only && !only(i) ? frames : 0;
    if (into && t === 0) buf.fill(0, c0 * frames, (c0 + ch) * frames);   // a reused buffer
    while (t < frames) {
      const s = start + (S.leads[i] || 0) + t;
      if (s < 0 || s >= S.length) { t++; continue; }
      const n = chunkOf(s);
      const data = await getChunk(i, n);
      const off = s - n * cf;
      const take = Math.min(frames - t, data.frames - off, S.length - s);
      if (take <= 0) break;
      for (let c = 0; c < ch; c++) {
        const o = (c0 + c) * frames + t;
        for (let k = 0, j = off * ch + c; k < take; k++, j += ch) buf[o + k] = data[j] / 32768;
      }
      t += take;
    }
    c0 += ch;
  }
  return buf;
}

// After a jump, runs the inserts, sends and returns over the audio just before
// `start` (S.primeFrames: the longest insert + reverb tail; from before the reel for a
// stem whose inserts have latency) so that the block at `start` sounds as the render
// makes it. Only stems with inserts or sends are read.
// Returns false when the transport moved on meanwhile.
async function primeBefore(start, gen) {
  const t0 = performance.now();
  let s = S.p.prime_start(start);   // before the reel for a stem read ahead
  while (s < start) {
    const n = Math.min(BLOCK, start - s);
    // one buffer per piece size, reused: the stems that do not prime stay silent
    if (!S.primeBuf || S.primeBuf.frames !== n) { S.primeBuf = new Float32Array(S.p.input_channels() * n); S.primeBuf.frames = n; }
    const input = await inputBlock(s, n, (i) => S.primes[i], S.primeBuf);
    if (gen !== S.gen) return false;
    S.p.prime(s, input, n);
    s += n;
  }
  S.primeMs.push(performance.now() - t0);
  if (S.primeMs.length > 20) S.primeMs.shift();
  return true;
}

// Reverse play with inserts or returns: blocks are mixed forwards a segment at a
// time (primed once per segment, not once per block) and handed out last first.
// Returns the block at `start` (stereo, planar), or null when the transport moved on.
async function reverseBlock(start, gen) {
  if (!S.rev || S.rev.gen !== gen) S.rev = { gen, blocks: new Map() };
  const have = S.rev.blocks.get(start);
  if (have) { S.rev.blocks.delete(start); return have; }
  const seg = Math.min(32, Math.max(4, Math.ceil(S.primeFrames / BLOCK)));
  const from = start + BLOCK - seg * BLOCK;
  S.rev.blocks.clear();
  if (S.p.needs_prime(from)) {
    if (!(await primeBefore(from, gen))) return null;
  }
  for (let b = from; b <= start; b += BLOCK) {
    const input = await inputBlock(b);
    if (gen !== S.gen) return null;
    S.rev.blocks.set(b, S.p.process(b, input, BLOCK));
  }
  const out = S.rev.blocks.get(start);
  S.rev.blocks.delete(start);
  return out;
}

async function loadPeaks(i, spp) {
  const map = S.peaks[i];
  if (map.has(spp)) return map.get(spp);
  const pr = fetch(`peaks/${encodeURIComponent(S.m.stems[i].id)}/${spp}.bin`)
    .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`peaks ${spp}: HTTP ${r.status}`))))
    .then((b) => { const a = new Int8Array(b); map.set(spp, a); draw(); return a; });
  map.set(spp, pr);
  return pr;
}

async function loadLoudness() {
  if (!S.m.loudness) return;
  const meta = await (await fetch(S.m.loudness)).json();
  const pm = meta.series.find((x) => x.name === 'printmaster');
  if (!pm) return;
  const b = await (await fetch(pm.file)).arrayBuffer();
  const a = new Int16Array(b);
  const n = a.length / 2;
  const conv = (v) => (v === -32768 ? NaN : v / 100);
  S.loud = { hop: meta.hop, m: Float32Array.from(a.subarray(0, n), conv), s: Float32Array.from(a.subarray(n), conv), source: pm.source };
  $('loud-src').textContent = pm.source;
  draw();
}

// ---------- transport ----------

function ensureCtx() {
  if (!S.ctx) {
    S.ctx = new AudioContext({ sampleRate: S.sr, latencyHint: 'interactive' });
    S.gain = S.ctx.createGain();
    S.gain.connect(S.ctx.destination);
  }
  return S.ctx;
}

function playhead() {
  if (!S.playing || !S.sched.length) return S.paused;
  const now = S.ctx.currentTime;
  let b = S.sched[0];
  for (const x of S.sched) { if (x.time <= now) b = x; else break; }
  const s = b.sample + S.dir * Math.max(0, now - b.time) * S.sr;
  return Math.min(Math.max(0, s), S.length);
}

async function play(dir = 1) {
  if (S.playing && S.dir === dir) return;
  const from = playhead();
  stopSources();
  S.dir = dir;
  S.paused = from;
  const ctx = ensureCtx();
  await ctx.resume();
  S.gen++;
  S.p.reset_meter();
  S.meterQ = [];
  S.playing = true;
  S.next = Math.round(from);
  S.meterBase = S.next;
  S.nextTime = 0;
  setPlayButtons();
  await pump();
  startVideo();
}

function pause() {
  if (!S.playing) return;
  S.paused = playhead();
  S.playing = false;
  stopSources();
  setPlayButtons();
  syncVideo(true);
}

function stopSources() {
  for (const x of S.sched) { try { x.src.stop(); } catch (_) { /* not started */ } x.src.disconnect(); }
  S.sched = [];
  S.gen++;
}

function seek(sample) {
  sample = Math.min(Math.max(0, Math.round(sample)), Math.max(0, S.length - 1));
  const was = S.playing ? S.dir : 0;
  if (S.playing) { S.playing = false; stopSources(); }
  S.paused = sample;
  prefetch(sample, 0);
  syncVideo(true);
  if (was) play(was);
  follow(sample, true);
  draw();
}

// Drops blocks not yet started and re-mixes from there (after a mixer change).
function remix() {
  if (!S.playing) return;
  const now = S.ctx.currentTime + 0.03;
  const keep = S.sched.filter((x) => x.time <= now);
  const drop = S.sched.filter((x) => x.time > now);
  if (!drop.length) return;
  for (const x of drop) { try { x.src.stop(); } catch (_) { /* */ } x.src.disconnect(); }
  S.sched = keep;
  S.next = drop[0].sample;
  S.meterBase = S.next;
  S.nextTime = drop[0].time;
  S.gen++;
  S.p.reset_meter();
  S.meterQ = [];
  pump();
}

async function pump() {
  if (S.pumping || !S.playing) return;
  S.pumping = true;
  const gen = S.gen;
  try {
    while (S.playing && gen === S.gen) {
      const ctx = S.ctx;
      if (S.nextTime && S.nextTime > ctx.currentTime + LOOKAHEAD) break;
      const fwd = S.dir > 0;
      if ((fwd && S.next >= S.length) || (!fwd && S.next <= 0)) {
        if (!S.sched.length || S.sched[S.sched.length - 1].time + BLOCK / S.sr < ctx.currentTime) {
          S.paused = fwd ? S.length - 1 : 0; S.playing = false; setPlayButtons(); syncVideo(true);
        }
        break;
      }
      const start = fwd ? S.next : S.next - BLOCK;
      prefetch(start, S.dir);
      let out;
      if (!fwd && S.primeFrames) {
        out = await reverseBlock(start, gen);
        if (!out) break;
      } else {
        if (S.p.needs_prime(start)) {
          if (!(await primeBefore(start, gen)) || !S.playing) break;
        }
        const input = await inputBlock(start);
        if (!S.playing || gen !== S.gen) break;
        out = S.p.process(start, input, BLOCK);
      }
      const ab = ctx.createBuffer(2, BLOCK, S.sr);
      const l = out.subarray(0, BLOCK), r = out.subarray(BLOCK);
      if (!fwd) { l.reverse(); r.reverse(); }
      ab.copyToChannel(l, 0);
      ab.copyToChannel(r, 1);
      const src = ctx.createBufferSource();
      src.buffer = ab;
      src.connect(S.gain);
      if (!S.nextTime || S.nextTime < ctx.currentTime + 0.005) S.nextTime = ctx.currentTime + 0.02;
      src.start(S.nextTime);
      S.sched.push({ src, time: S.nextTime, sample: S.next });
      // The meter's reading belongs to the end of its last complete 100 ms hop.
      if (fwd) S.meterQ.push({ sample: S.meterBase + S.p.meter_hops() * (S.sr / 10), m: S.p.momentary(), s: S.p.short_term() });
      S.nextTime += BLOCK / S.sr;
      S.next += S.dir * BLOCK;
      const now = ctx.currentTime;
      while (S.sched.length > 1 && S.sched[1].time + BLOCK / S.sr < now) S.sched.shift();
    }
  } catch (e) {
    setStatus(`playback: ${e.message || e}`);
    console.error(e);
  } finally {
    S.pumping = false;
  }
}

setInterval(() => { if (S.playing) pump(); }, 20);

function setPlayButtons() {
  $('b-play').textContent = S.playing && S.dir > 0 ? '❚❚' : '▶';
  $('b-play').classList.toggle('on', S.playing && S.dir > 0);
  $('b-rev').classList.toggle('on', S.playing && S.dir < 0);
}

function step(frames) {
  if (S.playing) pause();
  seek(S.p.step_frames(S.paused, frames));
}

// ---------- video ----------

function videoEl() { return S.m.video ? $('video') : null; }
function videoTime(sample) { return S.m.video.offset + sample / S.sr; }
function startVideo() {
  const v = videoEl(); if (!v) return;
  if (S.dir < 0) { v.pause(); return; }
  v.currentTime = videoTime(playhead());
  v.play().catch(() => {});
}
function syncVideo(hard) {
  const v = videoEl(); if (!v) return;
  const want = videoTime(playhead());
  if (!S.playing || S.dir < 0) { v.pause(); if (hard || Math.abs(v.currentTime - want) > 0.02) v.currentTime = want; return; }
  const err = v.currentTime - want;
  if (Math.abs(err) > 0.15) v.currentTime = want;
  else v.playbackRate = 1 - Math.max(-0.05, Math.min(0.05, err * 0.5));
}

// ---------- meter ----------

function meterNow() {
  const ph = playhead();
  let r = null;
  for (const x of S.meterQ) { if (x.sample <= ph + 1) r = x; else break; }
  while (S.meterQ.length > 2 && S.meterQ[1].sample <= ph) S.meterQ.shift();
  return r;
}
function fmtLufs(v) { return Number.isFinite(v) && v > -70 ? v.toFixed(1) : '–'; }
function barPct(v) { return Number.isFinite(v) ? Math.max(0, Math.min(100, ((v + 60) / 60) * 100)) : 0; }
function updateMeter() {
  const r = S.playing && S.dir > 0 ? meterNow() : null;
  const m = r ? r.m : -Infinity, s = r ? r.s : -Infinity;
  S.meterShown = { m, s, sample: r ? r.sample : null };
  $('meter-m').textContent = fmtLufs(m);
  $('meter-s').textContent = fmtLufs(s);
  $('bar-m').style.width = `${barPct(m)}%`;
  $('bar-s').style.width = `${barPct(s)}%`;
}

// ---------- timeline ----------

const canvas = $('timeline');
const TYPE_COLOR = { ADR: '#e8645a', Foley: '#5ab0e8', SFX: '#8be85a', Music: '#c17ae8', Note: '#e8d35a' };

function viewWidth() { return canvas.clientWidth || 1000; }
function viewEnd() { return S.view.start + S.view.spp * viewWidth(); }
function zoomAll() { S.view.start = 0; S.view.spp = Math.max(1, S.length / viewWidth()); draw(); }
function zoom(f, center) {
  const c = center ?? playhead();
  const x = (c - S.view.start) / S.view.spp;
  S.view.spp = Math.min(Math.max(8, S.view.spp * f), Math.max(8, S.length / viewWidth()));
  S.view.start = Math.max(0, c - x * S.view.spp);
  draw();
}
function follow(sample, force) {
  if (!$('follow').checked && !force) return;
  if (sample < S.view.start || sample > viewEnd()) { S.view.start = Math.max(0, sample - 0.1 * S.view.spp * viewWidth()); }
}

function peakLevelFor(spp) {
  const levels = [...S.m.peak_levels].sort((a, b) => a - b);
  let best = levels[0];
  for (const l of levels) if (l <= spp) best = l;
  return best;
}

function drawLane(g, i, y, h, w) {
  const spp = S.view.spp;
  const mid = y + h / 2;
  g.fillStyle = S.p.audible(i) ? '#5d8fc9' : '#3a4350';
  // Finest zoom: peaks of cached audio computed in the browser by the wasm.
  if (spp < S.m.peak_levels[0]) {
    const cf = S.m.audio.chunk_frames;
    for (let x = 0; x < w; x++) {
      const s0 = Math.floor(S.view.start + x * spp), s1 = Math.max(s0 + 1, Math.floor(S.view.start + (x + 1) * spp));
      if (s0 >= S.length) break;
      const n = chunkOf(s0);
      const pr = S.chunks[i].get(n);
      const data = pr && pr.value;
      if (!data) { if (!pr) getChunk(i, n).then(() => draw(), () => {}); continue; }
      const off = s0 - n * cf, len = Math.min(s1 - s0, data.frames - off);
      const ch = S.chans[i];
      const slice = Float32Array.from(data.subarray(off * ch, (off + len) * ch), (v) => v / 32768);
      const pk = wasmPeaks(slice, ch, len);
      const lo = Math.min(0, pk[0]), hi = Math.max(0, pk[1]);
      g.fillRect(x, mid - hi * h / 2, 1, Math.max(1, (hi - lo) * h / 2));
    }
    return;
  }
  const lvl = peakLevelFor(spp);
  let a = S.peaks[i].get(lvl);
  if (!(a instanceof Int8Array)) {
    if (!a) loadPeaks(i, lvl);
    const coarse = [...S.peaks[i].entries()].filter(([, v]) => v instanceof Int8Array).sort((p, q) => q[0] - p[0]);
    if (!coarse.length) return;
    a = coarse[coarse.length - 1][1];
    for (const [l, v] of coarse) if (l >= lvl) { a = v; }
    return drawPeaks(g, a, [...S.peaks[i].entries()].find(([, v]) => v === a)[0], mid, h, w);
  }
  drawPeaks(g, a, lvl, mid, h, w);
}

function drawPeaks(g, a, lvl, mid, h, w) {
  const n = a.length / 2;
  for (let x = 0; x < w; x++) {
    const p0 = Math.floor((S.view.start + x * S.view.spp) / lvl);
    const p1 = Math.max(p0 + 1, Math.floor((S.view.start + (x + 1) * S.view.spp) / lvl));
    if (p0 >= n) break;
    let lo = 127, hi = -127;
    for (let p = p0; p < Math.min(p1, n); p++) { lo = Math.min(lo, a[2 * p]); hi = Math.max(hi, a[2 * p + 1]); }
    g.fillRect(x, mid - (hi / 127) * h / 2, 1, Math.max(1, ((hi - lo) / 127) * h / 2));
  }
}

function draw() {
  if (!S.m) return;
  const dpr = window.devicePixelRatio || 1;
  const w = viewWidth();
  const nst = S.m.stems.length;
  const laneH = 30, top = 18, markH = 34;
  const H = top + nst * laneH + markH + 6;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(H * dpr); canvas.style.height = `${H}px`;
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = '#0e1012'; g.fillRect(0, 0, w, H);
  // ruler
  g.fillStyle = '#8a9099'; g.font = '10px ui-monospace, monospace';
  const secs = S.view.spp * w / S.sr;
  const stepS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1200].find((s) => secs / s < 10) || 1800;
  // ticks on whole timecode seconds (frame counts), so that labels read :00 frames;
  // below two seconds in view, on frames
  const nominal = Math.round(S.p.fps());
  const stepF = secs < 2 ? ([1, 2, 4, 6, 12].find((f) => (secs * nominal) / f < 12) || 12) : stepS * nominal;
  const f0 = Math.max(0, Math.floor(S.view.start / S.sr * S.p.fps() / stepF) - 1);
  for (let k = f0; ; k++) {
    const s = S.p.step_frames(0, k * stepF);
    if (s >= viewEnd() || s >= S.length) break;
    if (s < S.view.start) continue;
    const x = (s - S.view.start) / S.view.spp;
    g.fillRect(x, 0, 1, 5);
    g.fillText(S.p.timecode(s), x + 3, 11);
  }
  // lanes
  for (let i = 0; i < nst; i++) {
    const y = top + i * laneH;
    g.fillStyle = '#181b1f'; g.fillRect(0, y, w, laneH - 2);
    drawLane(g, i, y, laneH - 2, w);
    g.fillStyle = '#8a9099'; g.fillText(S.m.stems[i].id, 4, y + 11);
  }
  // loudness curve (short-term), -40..0 LUFS over the lanes
  if (S.loud) {
    const y0 = top, hh = nst * laneH;
    const hopS = S.loud.hop * S.sr;
    g.strokeStyle = '#f0b429'; g.lineWidth = 1.2; g.beginPath();
    let pen = false;
    for (let x = 0; x < w; x++) {
      const k = Math.floor((S.view.start + x * S.view.spp) / hopS);
      const v = S.loud.s[k];
      if (!(v > -40)) { pen = false; continue; }
      const y = y0 + (Math.min(0, v) / -40) * hh;
      if (pen) g.lineTo(x, y); else { g.moveTo(x, y); pen = true; }
    }
    g.stroke();
  }
  // markers
  const my = top + nst * laneH + 2;
  for (const m of S.markers) {
    const a = (m._in - S.view.start) / S.view.spp, b = ((m._out ?? m._in) - S.view.start) / S.view.spp;
    if (b < -50 || a > w) continue;
    g.fillStyle = TYPE_COLOR[m.type] || '#ccc';
    g.globalAlpha = 0.25; g.fillRect(a, top, Math.max(2, b - a), my - top); g.globalAlpha = 1;
    g.fillRect(a, my, Math.max(2, b - a), 6);
    g.fillText(m.cue || m.type, a + 2, my + 18); // canvas text: never parsed as HTML
  }
  // playhead
  const px = (playhead() - S.view.start) / S.view.spp;
  g.fillStyle = '#ffffff'; g.fillRect(Math.round(px), 0, 1, H);
  $('zoom-info').textContent = `${(S.view.spp * w / S.sr).toFixed(1)} s visible`;
}

canvas.addEventListener('click', (e) => {
  const r = canvas.getBoundingClientRect();
  seek(S.view.start + (e.clientX - r.left) * S.view.spp);
});
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  const r = canvas.getBoundingClientRect();
  if (e.ctrlKey || e.metaKey) zoom(e.deltaY > 0 ? 1.25 : 0.8, S.view.start + (e.clientX - r.left) * S.view.spp);
  else { S.view.start = Math.max(0, Math.min(S.length - S.view.spp * viewWidth(), S.view.start + (e.deltaX || e.deltaY) * S.view.spp)); draw(); }
}, { passive: false });

// ---------- stems ----------

function buildStems() {
  const tb = $('stems').querySelector('tbody');
  tb.replaceChildren();
  S.m.stems.forEach((s, i) => {
    const tr = document.createElement('tr');
    tr.dataset.stem = s.id;
    const name = document.createElement('td'); name.textContent = `${s.id}`; name.title = `${s.kind}, ${s.source_layout} (preview ${s.layout})`;
    const bus = document.createElement('td'); bus.textContent = s.bus; bus.className = 'dim';
    const mute = document.createElement('button'); mute.textContent = 'M'; mute.title = 'Mute'; mute.className = 'mute';
    const solo = document.createElement('button'); solo.textContent = 'S'; solo.title = 'Solo'; solo.className = 'solo';
    const lvl = document.createElement('input'); lvl.type = 'range'; lvl.min = -30; lvl.max = 12; lvl.step = 0.5; lvl.value = 0; lvl.className = 'level';
    const lv = document.createElement('td'); const lvtxt = document.createElement('td'); lvtxt.className = 'dim small'; lvtxt.textContent = '0.0 dB';
    mute.onclick = () => { mute.classList.toggle('on'); S.p.set_mute(i, mute.classList.contains('on')); stemsChanged(); };
    solo.onclick = () => { solo.classList.toggle('on'); S.p.set_solo(i, solo.classList.contains('on')); stemsChanged(); };
    lvl.oninput = () => { S.p.set_trim_db(i, Number(lvl.value)); lvtxt.textContent = `${Number(lvl.value).toFixed(1)} dB`; stemsChanged(); };
    lvl.ondblclick = () => { lvl.value = 0; lvl.oninput(); };
    const tdm = document.createElement('td'); tdm.append(mute);
    const tds = document.createElement('td'); tds.append(solo);
    lv.append(lvl);
    tr.append(name, bus, tdm, tds, lv, lvtxt);
    tb.append(tr);
  });
  (S.m.returns || []).forEach((r, k) => {
    const tr = document.createElement('tr');
    tr.dataset.return = r.id;
    tr.className = 'return';
    const name = document.createElement('td'); name.textContent = `${r.id} (return)`;
    const irs = r.inserts.map((x) => x.type).join(', ');
    name.title = `reverb return, ${r.layout}, into ${r.bus}; inserts: ${irs || 'none'}`;
    const bus = document.createElement('td'); bus.textContent = r.bus; bus.className = 'dim';
    const mute = document.createElement('button'); mute.textContent = 'M'; mute.title = 'Mute the return (hear the mix without it)'; mute.className = 'mute';
    const lvl = document.createElement('input'); lvl.type = 'range'; lvl.min = -30; lvl.max = 12; lvl.step = 0.5; lvl.value = 0; lvl.className = 'level';
    const lvtxt = document.createElement('td'); lvtxt.className = 'dim small'; lvtxt.textContent = '0.0 dB';
    mute.onclick = () => { mute.classList.toggle('on'); S.p.set_return_mute(k, mute.classList.contains('on')); stemsChanged(); };
    lvl.oninput = () => { S.p.set_return_trim_db(k, Number(lvl.value)); lvtxt.textContent = `${Number(lvl.value).toFixed(1)} dB`; stemsChanged(); };
    lvl.ondblclick = () => { lvl.value = 0; lvl.oninput(); };
    const tdm = document.createElement('td'); tdm.append(mute);
    const tds = document.createElement('td');
    const lv = document.createElement('td'); lv.append(lvl);
    tr.append(name, bus, tdm, tds, lv, lvtxt);
    tb.append(tr);
  });
  const sel = $('monitor');
  const opt = (v, t) => { const o = document.createElement('option'); o.value = v; o.textContent = t; sel.append(o); };
  opt('printmaster', `Printmaster (${S.m.layout})`);
  opt('me', 'M&E');
  for (const b of S.m.buses) opt(`bus:${b.id}`, `Bus ${b.id}`);
  for (const s of S.m.stems) opt(`stem:${s.id}`, `Stem ${s.id}`);
  sel.onchange = () => { S.p.set_monitor(sel.value); stemsChanged(); };
}

function stemsChanged() {
  document.querySelectorAll('#stems tbody tr[data-stem]').forEach((tr, i) => tr.classList.toggle('silent', !S.p.audible(i)));
  document.querySelectorAll('#stems tbody tr[data-return]').forEach((tr, k) => tr.classList.toggle('silent', !S.p.return_audible(k)));
  updateHearing();
  remix();
  draw();
}

function updateHearing() {
  const sel = $('monitor');
  const mon = sel.options[sel.selectedIndex]?.textContent || 'Printmaster';
  const heard = S.m.stems.filter((_, i) => S.p.audible(i)).map((s) => s.id);
  const rets = (S.m.returns || []).filter((_, k) => S.p.return_audible(k)).map((r) => r.id);
  const note = (t) => (t ? ` ${t}` : '');
  $('hearing').textContent = `Hearing: ${mon} — stems ${heard.length ? heard.join(', ') : 'none'}${(S.m.returns || []).length ? `; returns ${rets.length ? rets.join(', ') : 'none'}` : ''}. ${S.m.audio.description}${note(S.m.processing_note)}${note(S.m.master_note)}`;
}

// ---------- markers ----------

const KEY = () => `dubstage:markers:${S.m.title}:${S.m.reel}:${S.m.start}`;
const FIELDS = ['cue', 'type', 'in', 'out', 'character', 'line', 'reason', 'note'];
const clean = (m) => Object.fromEntries(FIELDS.map((f) => [f, m[f] ?? '']));

function resolve() {
  // Sample positions for drawing; invalid ones are kept but not drawn.
  for (const m of S.markers) {
    try { m._in = S.p.parse_timecode(m.in); } catch (_) { m._in = NaN; }
    try { m._out = m.out ? S.p.parse_timecode(m.out) : undefined; } catch (_) { m._out = undefined; }
  }
  S.markers.sort((a, b) => (a._in - b._in) || String(a.cue).localeCompare(String(b.cue)));
}

function saveMarkers() {
  localStorage.setItem(KEY(), JSON.stringify(S.markers.map(clean)));
}

function loadMarkers() {
  try { S.markers = JSON.parse(localStorage.getItem(KEY()) || '[]'); } catch (_) { S.markers = []; }
  resolve();
}

function showMarkerError(msg) { $('marker-error').textContent = msg || ''; }

function renderMarkers() {
  const tb = $('markers').querySelector('tbody');
  tb.replaceChildren();
  S.markers.forEach((m, k) => {
    const tr = document.createElement('tr');
    tr.dataset.cue = m.cue;
    for (const f of FIELDS) {
      const td = document.createElement('td');
      td.textContent = m[f] ?? '';           // text, never HTML
      if (f === 'in' || f === 'out' || f === 'cue') td.className = 'tcell';
      if (f === 'type') td.className = `t-${m.type}`;
      tr.append(td);
    }
    const act = document.createElement('td');
    const go = document.createElement('button'); go.textContent = '→'; go.title = 'Jump to'; go.className = 'jump';
    go.onclick = () => seek(m._in);
    const ed = document.createElement('button'); ed.textContent = '✎'; ed.title = 'Edit'; ed.className = 'edit';
    ed.onclick = () => openEditor(k);
    const del = document.createElement('button'); del.textContent = '✕'; del.title = 'Delete'; del.className = 'delete';
    del.onclick = () => { S.markers.splice(k, 1); saveMarkers(); renderMarkers(); draw(); };
    act.append(go, ed, del);
    tr.append(act);
    tb.append(tr);
  });
  draw();
}

function addMarker() {
  const m = clean({ type: $('new-type').value, in: S.p.timecode(playhead()) });
  const list = JSON.parse(S.p.number_cues(JSON.stringify([...S.markers.map(clean), m])));
  S.markers.push(list[list.length - 1]);
  resolve();
  saveMarkers();
  renderMarkers();
  openEditor(S.markers.findIndex((x) => x.cue === list[list.length - 1].cue));
}

function openEditor(k) {
  const m = S.markers[k];
  if (!m) return;
  S.editing = k;
  $('ed-cue').textContent = m.cue;
  $('ed-type').value = m.type; $('ed-cuenum').value = m.cue;
  for (const f of ['in', 'out', 'character', 'line', 'reason', 'note']) $(`ed-${f}`).value = m[f] ?? '';
  $('editor').hidden = false;
  showMarkerError('');
}

function closeEditor() { $('editor').hidden = true; S.editing = -1; }

function saveEditor(e) {
  e.preventDefault();
  const k = S.editing;
  if (k < 0) return;
  const m = clean({
    cue: $('ed-cuenum').value.trim(), type: $('ed-type').value, in: $('ed-in').value.trim(), out: $('ed-out').value.trim(),
    character: $('ed-character').value, line: $('ed-line').value, reason: $('ed-reason').value, note: $('ed-note').value,
  });
  const all = S.markers.map(clean);
  all[k] = m;
  try {
    const numbered = JSON.parse(S.p.number_cues(JSON.stringify(all)));
    S.p.validate_markers(JSON.stringify(numbered));
    S.markers = numbered;
  } catch (err) {
    showMarkerError(String(err.message || err));
    return;
  }
  resolve();
  saveMarkers();
  closeEditor();
  renderMarkers();
}

function download(name, text, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function baseName() { return `${S.m.title}_R${S.m.reel}_spotting`.replace(/[^A-Za-z0-9._-]+/g, '_'); }

async function importFile(file) {
  const text = await file.text();
  try {
    const incoming = JSON.parse(spot_parse(text, file.name));
    const byCue = new Map(S.markers.map((m) => [m.cue, clean(m)]));
    const extra = [];
    for (const m of incoming) { if (m.cue && byCue.has(m.cue)) byCue.set(m.cue, m); else extra.push(m); }
    const merged = JSON.parse(S.p.number_cues(JSON.stringify([...byCue.values(), ...extra])));
    S.p.validate_markers(JSON.stringify(merged));
    S.markers = merged;
    resolve(); saveMarkers(); renderMarkers();
    showMarkerError('');
    setStatus(`imported ${incoming.length} markers from ${file.name}`);
  } catch (err) {
    showMarkerError(String(err.message || err));
  }
}

// ---------- UI ----------

function setStatus(t) { $('status').textContent = t; }

function wire() {
  $('b-play').onclick = () => (S.playing && S.dir > 0 ? pause() : play(1));
  $('b-rev').onclick = () => (S.playing && S.dir < 0 ? pause() : play(-1));
  $('b-back').onclick = () => step(-1);
  $('b-fwd').onclick = () => step(1);
  $('b-start').onclick = () => seek(0);
  $('b-end').onclick = () => seek(S.length - 1);
  $('goto').onsubmit = (e) => {
    e.preventDefault();
    try { seek(S.p.parse_timecode($('goto-tc').value)); setStatus(''); $('goto-tc').blur(); } catch (err) { setStatus(String(err.message || err)); }
  };
  $('z-in').onclick = () => zoom(0.5);
  $('z-out').onclick = () => zoom(2);
  $('z-all').onclick = zoomAll;
  $('add-marker').onclick = addMarker;
  $('export-csv').onclick = () => download(`${baseName()}.csv`, spot_to_csv(JSON.stringify(S.markers.map(clean))), 'text/csv');
  $('export-json').onclick = () => download(`${baseName()}.json`, S.p.markers_to_json(JSON.stringify(S.markers.map(clean))), 'application/json');
  $('import').onchange = (e) => { const f = e.target.files[0]; if (f) importFile(f); e.target.value = ''; };
  $('editor').onsubmit = saveEditor;
  $('ed-cancel').onclick = closeEditor;
  $('ed-delete').onclick = () => { if (S.editing >= 0) { S.markers.splice(S.editing, 1); saveMarkers(); closeEditor(); renderMarkers(); } };
  $('ed-in-now').onclick = () => { $('ed-in').value = S.p.timecode(playhead()); };
  $('ed-out-now').onclick = () => { $('ed-out').value = S.p.timecode(playhead()); };
  window.addEventListener('resize', draw);
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    let handled = true;
    if (k === ' ') (S.playing ? pause() : play(1));
    else if (k === 'k' || k === 'K') pause();
    else if (k === 'l' || k === 'L') play(1);
    else if (k === 'j' || k === 'J') play(-1);
    else if (k === 'ArrowLeft') (e.shiftKey ? seek(playhead() - S.sr) : step(-1));
    else if (k === 'ArrowRight') (e.shiftKey ? seek(playhead() + S.sr) : step(1));
    else if (k === 'ArrowUp' || k === 'ArrowDown') {
      const ph = playhead();
      const list = S.markers.filter((m) => Number.isFinite(m._in));
      const target = k === 'ArrowDown' ? list.find((m) => m._in > ph + 1) : [...list].reverse().find((m) => m._in < ph - 1);
      if (target) seek(target._in);
    } else if (k === 'm' || k === 'M') addMarker();
    else if ((k === 'i' || k === 'I') && S.editing >= 0) $('ed-in').value = S.p.timecode(playhead());
    else if ((k === 'o' || k === 'O') && S.editing >= 0) $('ed-out').value = S.p.timecode(playhead());
    else if (k === '+' || k === '=') zoom(0.5);
    else if (k === '-') zoom(2);
    else if (k === 'Home') seek(0);
    else if (k === 'End') seek(S.length - 1);
    else handled = false;
    if (handled) e.preventDefault();
  });
}

let lastTc = '';
function frame() {
  if (S.m) {
    const ph = playhead();
    const tc = S.p.timecode(ph);
    if (tc !== lastTc) { $('tc').textContent = tc; lastTc = tc; }
    updateMeter();
    if (S.playing) { follow(ph, false); syncVideo(false); draw(); }
    document.querySelectorAll('#markers tbody tr').forEach((tr, k) => {
      const m = S.markers[k];
      tr.classList.toggle('current', !!m && ph >= m._in && ph <= (m._out ?? m._in) + S.sr / S.p.fps());
    });
  }
  requestAnimationFrame(frame);
}

async function main() {
  const t0 = performance.now();
  S.wasm = await init();
  await loadManifest();
  const irs = loadIrs();
  document.title = `${S.m.title} R${S.m.reel} — dubstage preview`;
  $('title').textContent = S.m.title;
  $('reel').textContent = `reel ${S.m.reel}`;
  $('rate').textContent = `${S.m.frame_rate} fps${S.p.drop_frame() ? ' drop-frame' : ''}`;
  $('tcrange').textContent = `${S.p.timecode(0)} – ${S.p.timecode(S.length - 1)}${S.m.ffoa ? ` · FFOA ${S.m.ffoa}` : ''}`;
  $('version').textContent = `dubstage ${version()}`;
  if (S.m.video) { $('picture').hidden = false; $('video').src = S.m.video.src; }
  buildStems();
  wire();
  loadMarkers();
  renderMarkers();
  zoomAll();
  const coarse = Math.max(...S.m.peak_levels);
  await Promise.all([irs, ...S.m.stems.map((_, i) => loadPeaks(i, coarse))]);
  loadLoudness().catch((e) => setStatus(`loudness: ${e.message}`));
  if (S.m.ffoa) { try { S.paused = Math.max(0, S.p.parse_timecode(S.m.ffoa)); } catch (_) { /* keep 0 */ } }
  prefetch(S.paused, 0);
  updateHearing();
  draw();
  S.readyMs = performance.now() - t0;
  document.body.dataset.ready = '1';
  requestAnimationFrame(frame);
}

// For tests and the console.
window.dubstage = { S, play, pause, seek, playhead, step, addMarker, inputBlock, primeBefore, reverseBlock };

main().catch((e) => { setStatus(`error: ${e.message || e}`); console.error(e); });
