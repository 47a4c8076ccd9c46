// Long-reel timings of the preview page (a benchmark: it reports, it does not fail
// on speed). Opens URL, then seeks to points across the reel and plays each.
//
//   node bench.mjs URL   -> one JSON document
// open_ms: navigation start to the page ready (manifest, wasm, peaks, first chunks asked);
// play_ms: from the play call to the first mixed block scheduled on the audio clock,
//          plus how far ahead of "now" it was scheduled (when sound starts); it
//          includes prime_ms, re-priming the inserts and reverb returns over the
//          audio before the playhead (fetching it and running the chains);
// renderer_rss_mb: resident memory of the tab's renderer process after all the seeks.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const t0 = Date.now();
await page.goto(url);
await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
const wall = Date.now() - t0;
const nav = await page.evaluate(() => {
  const n = performance.getEntriesByType('navigation')[0];
  return { since_nav_start_ms: performance.now(), app_ms: window.dubstage.S.readyMs, length: window.dubstage.S.length, dom_ms: n.domContentLoadedEventEnd };
});
const plays = [];
const points = [0.5, 0.05, 0.93, 0.31, 0.77, 0.12, 0.66, 0.4, 0.99, 0.2];
for (const f of points) {
  const r = await page.evaluate(async (f) => {
    const d = window.dubstage;
    d.pause();
    d.seek(Math.floor(d.S.length * f));
    await new Promise((r) => setTimeout(r, 50));
    d.pause();
    const t = performance.now();
    await d.play(1);
    const ms = performance.now() - t;
    const first = d.S.sched[0];
    const ahead = first ? (first.time - d.S.ctx.currentTime) * 1000 : NaN;
    const prime = d.S.primeMs.length ? d.S.primeMs[d.S.primeMs.length - 1] : 0;
    return { at: f, play_call_ms: ms, prime_ms: prime, scheduled_ahead_ms: ahead, start_ms: ms + Math.max(0, ahead) };
  }, f);
  await page.waitForTimeout(700);
  plays.push(r);
}
await page.evaluate(() => window.dubstage.pause());
// the renderer of this tab: the largest chromium renderer by RSS
let rss = null;
try {
  const out = execFileSync('ps', ['-eo', 'rss,args'], { encoding: 'utf8' });
  const r = out.split('\n').filter((l) => l.includes('--type=renderer')).map((l) => Number(l.trim().split(/\s+/)[0]));
  rss = Math.max(...r) / 1024;
} catch (_) { /* ps missing */ }
const heap = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null));
const wasmMb = await page.evaluate(() => (window.dubstage.S.wasm ? window.dubstage.S.wasm.memory.buffer.byteLength / 1048576 : null));
console.log(JSON.stringify({
  url, open_wall_ms: wall, open_in_page_ms: nav.since_nav_start_ms, app_init_ms: nav.app_ms, reel_hours: nav.length / 48000 / 3600,
  play: plays, play_start_ms_max: Math.max(...plays.map((p) => p.start_ms)),
  renderer_rss_mb: rss, js_heap_mb: heap, wasm_memory_mb: wasmMb,
}, null, 1));
await browser.close();
