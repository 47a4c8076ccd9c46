// End-to-end: the preview page of a timeline session (`dubstage demo --timeline`: tracks of
// clips conformed from an EDL, a 44.1 kHz music cue among them) in Debian's Chromium.
// Environment (set by ../run.sh):
//   DUBSTAGE_TL_URL      the served package of the timeline demo
//   DUBSTAGE_TL_PKG      that package's folder
//   DUBSTAGE_TL_SESSION  the timeline demo's session.toml (its render is in print/ beside it)
//   DUBSTAGE_BIN         the dubstage binary (for `dubstage measure`)
//   DUBSTAGE_SHOTS       folder for screenshots
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import * as lib from '../lib/preview.mjs';

const URL_ = process.env.DUBSTAGE_TL_URL;
const PKG = process.env.DUBSTAGE_TL_PKG;
const SESSION = process.env.DUBSTAGE_TL_SESSION;
const BIN = process.env.DUBSTAGE_BIN;
const SHOTS = process.env.DUBSTAGE_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'dubstage-shots-'));
assert.ok(URL_ && PKG && SESSION && BIN,
  'run through tests/e2e/run.sh (DUBSTAGE_TL_URL, DUBSTAGE_TL_PKG, DUBSTAGE_TL_SESSION, DUBSTAGE_BIN)');

const pkg = lib.previewPackage(PKG);
const { manifest, SR, HOP } = pkg;
const DEMO = path.dirname(SESSION);

let browser, page, errors;

before(async () => {
  ({ browser, page, errors } = await lib.launch());
  await lib.openPage(page, URL_);
});

after(async () => { await browser?.close(); });

test('opens the timeline session: its tracks of clips are the stems', async () => {
  const session = fs.readFileSync(SESSION, 'utf8');
  const tracks = [...session.matchAll(/^\[\[track\]\]\nid = "([^"]+)"/gm)].map((m) => m[1]);
  assert.deepEqual(tracks, ['A1', 'A2'], 'the demo conforms two tracks');
  assert.ok(!/^\[\[stem\]\]/m.test(session), 'and no stems');
  assert.equal(await page.textContent('#title'), manifest.title);
  assert.equal(await page.textContent('#tc'), manifest.ffoa ?? manifest.start);
  const stems = await page.$$eval('#stems tbody tr[data-stem]', (rows) => rows.map((r) => r.dataset.stem));
  assert.deepEqual(stems, tracks);
  assert.match(await page.textContent('#hearing'), /Printmaster/);
  await lib.screenshot(page, SHOTS, 'tl-01-open');
  assert.deepEqual(errors, []);
});

/** Plays `seconds` from `fromSample` (a hop boundary) and stops: the meter's reading and its hop. */
async function meterAt(fromSample, seconds) {
  const r = await lib.playAndMeter(page, fromSample, seconds, SR);
  assert.equal(await page.getAttribute('#b-play', 'class'), 'on');
  assert.ok(r.ph > fromSample, 'the playhead moves');
  await page.click('#b-play');
  const k = r.sample / HOP - 1;
  assert.ok(Number.isInteger(k), `meter reading on a hop boundary (${r.sample})`);
  return { ...r, k };
}

test('plays, and what it plays is the render\'s printmaster', async () => {
  // 4 to 8 s (across the cut at 01:00:04:00, dialogue over the music cue) and 10 to 14 s
  // (the take after the dissolve), each read at the end
  const pm = pkg.cliSeries('printmaster');
  const ref = lib.measureTimeline(BIN, lib.printFile(DEMO, /_PM_.*\.wav$/));
  for (const from of [40 * HOP, 100 * HOP]) {
    const r = await meterAt(from, 4);
    const k = r.k;
    console.log(`timeline printmaster at hop ${k}: page M ${r.m.toFixed(3)} S ${r.s.toFixed(3)}; `
      + `package M ${pm.m[k]} S ${pm.s[k]}; render (dubstage measure) M ${ref.m[k]} S ${ref.s[k]}`);
    assert.ok(Number.isFinite(ref.s[k]) && ref.s[k] > -40, `sound at hop ${k} (${ref.s[k]} LUFS)`);
    assert.ok(Math.abs(r.m - ref.m[k]) < 0.5, `momentary ${r.m} vs the render's printmaster ${ref.m[k]}`);
    assert.ok(Math.abs(r.s - ref.s[k]) < 0.5, `short-term ${r.s} vs the render's printmaster ${ref.s[k]}`);
    assert.ok(Math.abs(r.s - pm.s[k]) < 0.5, `short-term ${r.s} vs the package's ${pm.s[k]}`);
  }
  await lib.screenshot(page, SHOTS, 'tl-02-playing');
  assert.deepEqual(errors, []);
});

test('the converted music track alone reads the CLI\'s figures for it', async () => {
  // A2 is the 44.1 kHz cue, converted to 48 kHz as it plays
  const mx = pkg.cliSeries('stem:A2');
  const dx = pkg.cliSeries('stem:A1');
  await page.click('#stems tr[data-stem="A2"] button.solo');
  assert.match(await page.textContent('#hearing'), /stems A2\./);
  const r = await meterAt(100 * HOP, 4);
  await page.click('#stems tr[data-stem="A2"] button.solo');
  const k = r.k;
  console.log(`solo A2 at hop ${k}: page M ${r.m.toFixed(3)} S ${r.s.toFixed(3)}; CLI M ${mx.m[k]} S ${mx.s[k]}; A1 S ${dx.s[k]}`);
  assert.ok(Number.isFinite(mx.s[k]), 'the cue plays here');
  assert.ok(Math.abs(r.m - mx.m[k]) < 0.5, `A2 momentary ${r.m} vs CLI ${mx.m[k]}`);
  assert.ok(Math.abs(r.s - mx.s[k]) < 0.5, `A2 short-term ${r.s} vs CLI ${mx.s[k]}`);
  assert.ok(!(Math.abs(r.s - dx.s[k]) < 0.5), `solo changes what is metered (A1 ${dx.s[k]})`);
  assert.deepEqual(errors, []);
});
