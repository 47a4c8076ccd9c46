// Builds a long-reel preview package (default 2 hours) from a short one without
// writing hours of audio: chunk files are hard links to the short package's
// chunks (taken in turn), peaks and loudness timelines are tiled. The page cannot
// tell the difference, so it measures what a long reel costs the page.
//
//   node longreel.mjs SHORT_PKG LONG_PKG [HOURS]
import fs from 'node:fs';
import path from 'node:path';

const [src, dst, hoursArg] = process.argv.slice(2);
if (!src || !dst) { console.error('usage: node longreel.mjs SHORT_PKG LONG_PKG [HOURS]'); process.exit(2); }
const hours = Number(hoursArg || 2);
const m = JSON.parse(fs.readFileSync(path.join(src, 'manifest.json'), 'utf8'));
const cf = m.audio.chunk_frames;
const full = Math.floor(m.length / cf);             // whole chunks in the short package
if (full < 1) throw new Error('the short package needs at least one whole chunk');
const length = Math.round(hours * 3600 * m.sample_rate);
const chunks = Math.ceil(length / cf);
fs.rmSync(dst, { recursive: true, force: true });
fs.mkdirSync(dst, { recursive: true });
for (const f of ['index.html', 'app.js', 'style.css', 'README.md']) fs.copyFileSync(path.join(src, f), path.join(dst, f));
fs.cpSync(path.join(src, 'pkg'), path.join(dst, 'pkg'), { recursive: true });
// the impulse responses of the inserts and returns (small; the same for any length)
if (fs.existsSync(path.join(src, 'irs'))) fs.cpSync(path.join(src, 'irs'), path.join(dst, 'irs'), { recursive: true });
for (const s of m.stems) {
  const d = path.join(dst, 'audio', s.id);
  fs.mkdirSync(d, { recursive: true });
  for (let n = 0; n < chunks; n++) {
    const name = `${String(n).padStart(6, '0')}.pcm`;
    const from = path.join(src, 'audio', s.id, `${String(n % full).padStart(6, '0')}.pcm`);
    fs.linkSync(from, path.join(d, name));
  }
  const pd = path.join(dst, 'peaks', s.id);
  fs.mkdirSync(pd, { recursive: true });
  for (const spp of m.peak_levels) {
    const a = fs.readFileSync(path.join(src, 'peaks', s.id, `${spp}.bin`));
    const per = Math.floor((full * cf) / spp) * 2;     // bytes of the whole chunks
    const want = Math.ceil(length / spp) * 2;
    const out = Buffer.alloc(want);
    for (let o = 0; o < want; o += per) a.copy(out, o, 0, Math.min(per, want - o));
    fs.writeFileSync(path.join(pd, `${spp}.bin`), out);
  }
}
const meta = JSON.parse(fs.readFileSync(path.join(src, 'loudness/loudness.json'), 'utf8'));
fs.mkdirSync(path.join(dst, 'loudness'), { recursive: true });
const hops = Math.floor(length / (m.sample_rate / 10));
for (const ser of meta.series) {
  const b = fs.readFileSync(path.join(src, ser.file));
  const a = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
  const n = ser.hops;
  const out = new Int16Array(2 * hops);
  for (let k = 0; k < hops; k++) { out[k] = a[k % n]; out[hops + k] = a[n + (k % n)]; }
  fs.writeFileSync(path.join(dst, ser.file), Buffer.from(out.buffer));
  ser.hops = hops;
}
fs.writeFileSync(path.join(dst, 'loudness/loudness.json'), JSON.stringify(meta, null, 2));
m.length = length;
m.audio.chunks = chunks;
m.title = `${m.title} (${hours} h)`;
fs.writeFileSync(path.join(dst, 'manifest.json'), JSON.stringify(m, null, 2));
console.log(JSON.stringify({ dst, hours, stems: m.stems.length, chunks_per_stem: chunks }));
