// End-to-end: the preview page of the demo reel in Debian's Chromium, driven by
// playwright-core. Environment (set by ../run.sh):
//   DUBSTAGE_URL   the served package, e.g. http://127.0.0.1:8641/
//   DUBSTAGE_PKG   the package folder (to read the CLI's loudness figures)
//   DUBSTAGE_BIN   the dubstage binary (for `dubstage spot`)
//   DUBSTAGE_SHOTS folder for screenshots
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import * as lib from '../lib/preview.mjs';

const URL_ = process.env.DUBSTAGE_URL;
const PKG = process.env.DUBSTAGE_PKG;
const BIN = process.env.DUBSTAGE_BIN;
const SHOTS = process.env.DUBSTAGE_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'dubstage-shots-'));
assert.ok(URL_ && PKG && BIN, 'run through tests/e2e/run.sh (DUBSTAGE_URL, DUBSTAGE_PKG, DUBSTAGE_BIN)');

const pkg = lib.previewPackage(PKG);
const { manifest, SR, HOP } = pkg;
const cliSeries = (name) => pkg.cliSeries(name);
const measureTimeline = (file) => lib.measureTimeline(BIN, file);

const DEMO = process.env.DUBSTAGE_SESSION ? path.dirname(process.env.DUBSTAGE_SESSION) : null;

let browser, page, dialogs, errors;
const shot = (name) => lib.screenshot(page, SHOTS, name);

/** Waits for the timecode display to read `tc` (it is redrawn on the next animation frame). */
async function expectTc(tc) {
  try {
    await page.waitForFunction((t) => document.getElementById('tc').textContent === t, tc, { timeout: 3000 });
  } catch (_) { /* reported below */ }
  assert.equal(await page.textContent('#tc'), tc);
}

const open = () => lib.openPage(page, URL_);

before(async () => {
  ({ browser, page, dialogs, errors } = await lib.launch());
  await open();
});

after(async () => { await browser?.close(); });

test('opens the demo reel: title, timecode at FFOA, stems, what is heard', async () => {
  assert.equal(await page.textContent('#title'), manifest.title);
  assert.equal(await page.textContent('#tc'), manifest.ffoa ?? manifest.start);
  const stems = await page.$$eval('#stems tbody tr[data-stem]', (rows) => rows.map((r) => r.dataset.stem));
  assert.deepEqual(stems, manifest.stems.map((s) => s.id));
  const rets = await page.$$eval('#stems tbody tr[data-return]', (rows) => rows.map((r) => r.dataset.return));
  assert.deepEqual(rets, ['room']);
  const hearing = await page.textContent('#hearing');
  assert.match(hearing, /Printmaster/);
  assert.match(hearing, /16-bit/);
  // what is simulated and what is not
  assert.match(hearing, /returns room\./);
  assert.match(hearing, /Inserts \(2\), sends \(1\) and reverb returns \(room\) run here with dubstage's own DSP/);
  assert.match(hearing, /impulse responses \(stems\/room_ir\.wav\)/);
  assert.match(hearing, /primed over the 0\.\d\d s before the playhead \(long enough for the whole tail\)/);
  assert.match(hearing, /true-peak limiter is not simulated/);
  assert.ok(await page.evaluate(() => window.dubstage.S.primeFrames) > 28800, 'primed over at least the room IR');
  await shot('01-open');
  assert.deepEqual(errors, []);
});

test('frame stepping and timecode entry follow the frame rate', async () => {
  await page.fill('#goto-tc', '01:00:10:00');
  await page.press('#goto-tc', 'Enter');
  await expectTc('01:00:10:00');
  await page.focus('body');
  await page.keyboard.press('ArrowRight');
  await expectTc('01:00:10:01');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await expectTc('01:00:09:23');
  // the playhead sits on the first sample of the frame
  const ph = await page.evaluate(() => window.dubstage.playhead());
  const frame = 1001 * SR / 24000;
  assert.ok(Math.abs(ph - Math.round((10 * 24 - 1) * frame)) <= 1, `playhead ${ph}`);
});

const playAndMeter = (fromSample, seconds) => lib.playAndMeter(page, fromSample, seconds, SR);

test('plays, and the meter reads the CLI figures for the printmaster and for solo dialogue', async () => {
  // Start on a 100 ms hop boundary so that the page's hops line up with the CLI's.
  const from = 12 * SR;
  const pm = cliSeries('printmaster');
  let r = await playAndMeter(from, 4);
  assert.equal(await page.getAttribute('#b-play', 'class'), 'on');
  assert.ok(r.ph > from, 'the playhead moves');
  let k = r.sample / HOP - 1;
  console.log(`printmaster at hop ${k}: page M ${r.m.toFixed(3)} S ${r.s.toFixed(3)}, CLI M ${pm.m[k]} S ${pm.s[k]}`);
  assert.ok(Number.isInteger(k), `meter reading on a hop boundary (${r.sample})`);
  assert.ok(Math.abs(r.m - pm.m[k]) < 0.5, `printmaster momentary ${r.m} vs CLI ${pm.m[k]}`);
  assert.ok(Math.abs(r.s - pm.s[k]) < 0.5, `printmaster short-term ${r.s} vs CLI ${pm.s[k]}`);
  // ... and the render's own printmaster deliverable, measured by `dubstage measure`
  if (DEMO) {
    const ref = measureTimeline(lib.printFile(DEMO, /_PM_.*\.wav$/));
    console.log(`printmaster deliverable (dubstage measure) at hop ${k}: M ${ref.m[k]} S ${ref.s[k]}`);
    assert.ok(Math.abs(r.m - ref.m[k]) < 0.5, `printmaster momentary ${r.m} vs dubstage measure ${ref.m[k]}`);
    assert.ok(Math.abs(r.s - ref.s[k]) < 0.5, `printmaster short-term ${r.s} vs dubstage measure ${ref.s[k]}`);
  }
  await shot('02-playing-printmaster');
  await page.click('#b-play');

  // Solo dialogue.
  await page.click('#stems tr[data-stem="dx"] button.solo');
  const hearing = await page.textContent('#hearing');
  assert.match(hearing, /stems dx; returns none\./, hearing);
  const dx = cliSeries('stem:dx');
  r = await playAndMeter(from, 4);
  k = r.sample / HOP - 1;
  console.log(`solo dx at hop ${k}: page M ${r.m.toFixed(3)} S ${r.s.toFixed(3)}, CLI M ${dx.m[k]} S ${dx.s[k]}`);
  assert.ok(Number.isFinite(dx.s[k]), 'dialogue is speaking here');
  assert.ok(Math.abs(r.m - dx.m[k]) < 0.5, `dx momentary ${r.m} vs CLI ${dx.m[k]}`);
  assert.ok(Math.abs(r.s - dx.s[k]) < 0.5, `dx short-term ${r.s} vs CLI ${dx.s[k]}`);
  assert.ok(Math.abs(r.s - dx.s[k]) < Math.abs(r.s - pm.s[k]), `solo changes what is metered (pm ${pm.s[k]})`);
  // ... and the dialogue stem's file measured by `dubstage measure`, with the session's
  // stem and bus gains and the render's normalization gain (a centred mono stem reads
  // the same in the C channel of the 5.1 mix)
  if (DEMO) {
    const st = manifest.stems.find((x) => x.id === 'dx');
    const bus = manifest.buses.find((b) => b.id === st.bus);
    assert.deepEqual([st.automation.length, bus.automation.length, st.layout], [0, 0, '1.0']);
    const g = st.gain_db + bus.gain_db + (manifest.master_gain_db || 0);
    const ref = measureTimeline(path.join(DEMO, 'stems', 'dx.wav'));
    console.log(`dx.wav (dubstage measure) at hop ${k}: M ${ref.m[k]} S ${ref.s[k]}, + ${g.toFixed(2)} dB`);
    assert.ok(Math.abs(r.m - (ref.m[k] + g)) < 0.5, `dx momentary ${r.m} vs dubstage measure ${ref.m[k]} + ${g}`);
    assert.ok(Math.abs(r.s - (ref.s[k] + g)) < 0.5, `dx short-term ${r.s} vs dubstage measure ${ref.s[k]} + ${g}`);
  }
  // the display shows the meter's reading (both read at once: playback goes on)
  const disp = await page.evaluate(() => ({ shown: Number(document.getElementById('meter-s').textContent), s: window.dubstage.S.meterShown.s }));
  assert.ok(Math.abs(disp.shown - disp.s) <= 0.05, `meter shows ${disp.shown}, reads ${disp.s}`);
  await shot('03-playing-solo-dx');
  await page.click('#b-play');
  await page.click('#stems tr[data-stem="dx"] button.solo');
  assert.deepEqual(errors, []);
});

test('the ADR reverb return: the DX bus reads the render\'s DX stem with it, and not without', async () => {
  // the loudest stretch of ADR (its own timeline includes its reverb), read at a hop boundary
  const adr = cliSeries('stem:adr');
  let k = -1;
  for (let j = 40; j < adr.s.length - 20; j++) if (Number.isFinite(adr.s[j]) && (k < 0 || adr.s[j] > adr.s[k])) k = j;
  assert.ok(k > 0, 'the ADR speaks somewhere');
  const from = (k + 1 - 30) * HOP;
  await page.selectOption('#monitor', 'bus:DX');
  const heard = await page.textContent('#hearing');
  assert.match(heard, /stems dx, adr; returns room\./, heard);
  const wet = await playAndMeter(from, 3);
  await page.click('#b-play');
  await shot('08-bus-dx-with-room');
  await page.click('#stems tr[data-return="room"] button.mute');
  assert.match(await page.textContent('#hearing'), /returns none\./);
  assert.equal(await page.getAttribute('#stems tr[data-return="room"]', 'class'), 'return silent');
  const dry = await playAndMeter(from, 3);
  await page.click('#b-play');
  await page.click('#stems tr[data-return="room"] button.mute');
  await page.selectOption('#monitor', 'printmaster');
  const kw = wet.sample / HOP - 1, kd = dry.sample / HOP - 1;
  const pmFile = DEMO && fs.readdirSync(path.join(DEMO, 'print')).find((f) => /_DX_.*\.wav$/.test(f));
  if (pmFile) {
    // the render's DX stem (normalized like every mix) measured by `dubstage measure`
    const ref = measureTimeline(path.join(DEMO, 'print', pmFile));
    console.log(`bus DX at hop ${kw}: page S ${wet.s.toFixed(2)} with the room, ${dry.s.toFixed(2)} without (hop ${kd}); render's DX stem ${ref.s[kw]} / ${ref.s[kd]}`);
    assert.ok(Math.abs(wet.s - ref.s[kw]) < 0.5, `with the return: page ${wet.s} vs render ${ref.s[kw]}`);
    assert.ok(Math.abs(wet.m - ref.m[kw]) < 0.5, `with the return (momentary): page ${wet.m} vs render ${ref.m[kw]}`);
    assert.ok(Math.abs(dry.s - ref.s[kd]) > 1, `without the return the page must not read the render's DX: ${dry.s} vs ${ref.s[kd]}`);
  }
  assert.ok(wet.s - dry.s > 1, `the room adds level: ${wet.s} with, ${dry.s} without`);
  assert.deepEqual(errors, []);
});

test('J plays backwards, K stops, L plays forwards', async () => {
  const d = () => page.evaluate(() => ({ ph: window.dubstage.playhead(), playing: window.dubstage.S.playing, dir: window.dubstage.S.dir }));
  await page.evaluate((s) => window.dubstage.seek(s), 40 * SR);
  await page.focus('body');
  await page.keyboard.press('l');
  await page.waitForFunction((s) => window.dubstage.playhead() > s, 40 * SR + 0.3 * SR, { timeout: 5000 });
  let a = await d();
  assert.deepEqual([a.playing, a.dir], [true, 1]);
  await page.keyboard.press('j');
  await page.waitForFunction(() => window.dubstage.S.dir === -1 && window.dubstage.S.sched.length > 0, null, { timeout: 5000 });
  a = await d();
  await page.waitForTimeout(600);
  let b = await d();
  assert.deepEqual([b.playing, b.dir], [true, -1]);
  assert.ok(b.ph < a.ph - 0.3 * SR, `J: the playhead moves backwards (${a.ph} -> ${b.ph})`);
  assert.equal(await page.getAttribute('#b-rev', 'class'), 'on');
  await shot('09-reverse');
  await page.keyboard.press('k');
  a = await d();
  assert.equal(a.playing, false);
  await page.waitForTimeout(400);
  b = await d();
  assert.equal(b.ph, a.ph, 'K: the playhead stays');
  assert.equal(await page.getAttribute('#b-rev', 'class'), '');
  await page.keyboard.press('l');
  await page.waitForTimeout(500);
  b = await d();
  assert.deepEqual([b.playing, b.dir], [true, 1]);
  assert.ok(b.ph > a.ph, `L: forwards again (${a.ph} -> ${b.ph})`);
  await page.keyboard.press('k');
  // what J plays is the forward mix, reverb included: a block in the ADR's reverb,
  // mixed as reverse play mixes it (a primed segment), equals the block mixed
  // after a forward seek (primed), and not the block mixed with no priming
  const adr = cliSeries('stem:adr');
  let k = -1;
  for (let j = 40; j < adr.s.length - 20; j++) if (Number.isFinite(adr.m[j]) && (k < 0 || adr.m[j] > adr.m[k])) k = j;
  const cmp = await page.evaluate(async (at) => {
    const d = window.dubstage, S = d.S;
    const diff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    const rms = (a) => Math.sqrt(a.reduce((m, v) => m + v * v, 0) / a.length);
    S.gen++;
    const rev = (await d.reverseBlock(at, S.gen)).slice();
    S.gen++;
    await d.primeBefore(at, S.gen);
    const fwd = S.p.process(at, await d.inputBlock(at), 4096).slice();
    S.p.process(at - 20 * S.sr, await d.inputBlock(at - 20 * S.sr), 4096);
    const cold = S.p.process(at, await d.inputBlock(at), 4096).slice();
    return { rev_vs_fwd: diff(rev, fwd), cold_vs_fwd: diff(cold, fwd), rms: rms(fwd) };
  }, (k + 1) * HOP - 4096);
  console.log(`reverse block vs forward at hop ${k}: max diff ${cmp.rev_vs_fwd.toExponential(2)}; unprimed ${cmp.cold_vs_fwd.toExponential(2)}; rms ${cmp.rms.toFixed(4)}`);
  assert.ok(cmp.rms > 1e-3, 'a block with sound');
  assert.ok(cmp.rev_vs_fwd < 1e-6, `reverse = forward mix (${cmp.rev_vs_fwd})`);
  assert.ok(cmp.cold_vs_fwd > 1e-4, `priming matters here (${cmp.cold_vs_fwd})`);
  assert.deepEqual(errors, []);
});

const XSS = '<img src=x onerror=alert(1)>';

async function addMarker(type, tc, fields) {
  await page.fill('#goto-tc', tc);
  await page.press('#goto-tc', 'Enter');
  await page.selectOption('#new-type', type);
  await page.click('#add-marker');
  await page.waitForSelector('#editor:not([hidden])');
  assert.equal(await page.inputValue('#ed-in'), tc);
  for (const [k, v] of Object.entries(fields)) await page.fill(`#ed-${k}`, v);
  await page.click('#ed-save');
  await page.waitForSelector('#editor', { state: 'hidden' });
}

test('adds two markers through the UI, exports CSV, keeps them over a reload', async () => {
  await page.evaluate(() => localStorage.clear());
  await open();
  assert.equal(await page.$$eval('#markers tbody tr', (r) => r.length), 0);
  await addMarker('ADR', '01:00:15:00', {
    out: '01:00:17:12', character: 'MARY', line: 'He said, "no"', reason: 'noise', note: 'plane overhead',
  });
  // second marker through the keyboard shortcut
  await page.fill('#goto-tc', '01:00:30:00');
  await page.press('#goto-tc', 'Enter');
  await page.selectOption('#new-type', 'SFX');
  await page.focus('body');
  await page.keyboard.press('m');
  await page.waitForSelector('#editor:not([hidden])');
  await page.fill('#ed-line', XSS);
  await page.fill('#ed-out', '01:00:31:00');
  await page.click('#ed-save');
  await page.waitForSelector('#editor', { state: 'hidden' });

  const rows = await page.$$eval('#markers tbody tr', (rs) => rs.map((r) => [...r.cells].slice(0, 8).map((c) => c.textContent)));
  assert.deepEqual(rows, [
    ['1A01', 'ADR', '01:00:15:00', '01:00:17:12', 'MARY', 'He said, "no"', 'noise', 'plane overhead'],
    ['1S01', 'SFX', '01:00:30:00', '01:00:31:00', '', XSS, '', ''],
  ]);
  // the markup is text: no image element was made and no script ran
  assert.equal(await page.$$eval('#markers img, body img', (x) => x.length), 0);
  assert.deepEqual(dialogs, []);
  await shot('04-markers');

  // a bad timecode is refused with the core's message
  await page.click('#markers tbody tr:nth-child(1) button.edit');
  await page.fill('#ed-out', '01:00:17:30');
  await page.click('#ed-save');
  assert.match(await page.textContent('#marker-error'), /frame 30 out of range/);
  await shot('05-marker-error');
  await page.click('#ed-cancel');

  // export CSV
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csvPath = path.join(SHOTS, 'markers.csv');
  await dl.saveAs(csvPath);
  const csv = fs.readFileSync(csvPath, 'utf8');
  const lines = csv.trimEnd().split('\r\n');
  assert.equal(lines[0], 'cue,type,in,out,character,line,reason,note');
  assert.equal(lines[1], '1A01,ADR,01:00:15:00,01:00:17:12,MARY,"He said, ""no""",noise,plane overhead');
  assert.equal(lines[2], `1S01,SFX,01:00:30:00,01:00:31:00,,${XSS},,`);
  assert.equal(lines.length, 3);

  // the CLI accepts the exported list against the package's reel
  const sheet = execFileSync(BIN, ['spot', path.join(PKG, 'manifest.json'), csvPath], { encoding: 'utf8' });
  assert.match(sheet, /1A01\s+01:00:15:00\s+01:00:17:12\s+61\s+MARY/);
  assert.match(sheet, /1S01\s+01:00:30:00/);

  // and against the session itself
  if (process.env.DUBSTAGE_SESSION) {
    const sheet2 = execFileSync(BIN, ['spot', process.env.DUBSTAGE_SESSION, csvPath], { encoding: 'utf8' });
    assert.equal(sheet2, sheet);
  }
  // a list with a cue outside the reel is refused, naming the row
  const badPath = path.join(SHOTS, 'bad.csv');
  fs.writeFileSync(badPath, 'type,in\r\nADR,01:00:15:00\r\nSFX,02:00:00:00\r\n');
  let failed = null;
  try { execFileSync(BIN, ['spot', path.join(PKG, 'manifest.json'), badPath], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) { failed = e; }
  assert.ok(failed, 'dubstage spot must fail');
  assert.match(String(failed.stderr), /row 2 \(1S01\): in 02:00:00:00 is outside the reel/);

  // export JSON
  const [dj] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const jsonPath = path.join(SHOTS, 'markers.json');
  await dj.saveAs(jsonPath);
  const doc = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  assert.equal(doc.format, 'dubstage-spot/1');
  assert.equal(doc.markers.length, 2);

  // reload: kept
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  const again = await page.$$eval('#markers tbody tr', (rs) => rs.map((r) => r.cells[0].textContent));
  assert.deepEqual(again, ['1A01', '1S01']);

  // delete one, import the CSV back: both again
  await page.click('#markers tbody tr:nth-child(2) button.delete');
  assert.equal(await page.$$eval('#markers tbody tr', (r) => r.length), 1);
  await page.setInputFiles('#import', csvPath);
  await page.waitForFunction(() => document.querySelectorAll('#markers tbody tr').length === 2);
  const cell = await page.textContent('#markers tbody tr:nth-child(2) td:nth-child(6)');
  assert.equal(cell, XSS);
  // jump to a marker
  await page.click('#markers tbody tr:nth-child(1) button.jump');
  await expectTc('01:00:15:00');
  await shot('06-after-reload-import');
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
});

test('M&E monitoring leaves the dialogue out', async () => {
  await page.selectOption('#monitor', 'me');
  const silent = await page.$$eval('#stems tbody tr[data-stem].silent', (rs) => rs.map((r) => r.dataset.stem));
  const dialogue = manifest.stems.filter((s) => manifest.buses.find((b) => b.id === s.bus).dialogue).map((s) => s.id);
  assert.deepEqual(silent.sort(), dialogue.sort());
  // the production-room reverb returns to the dialogue bus: the M&E stays dry
  assert.equal(await page.getAttribute('#stems tr[data-return="room"]', 'class'), 'return silent');
  assert.match(await page.textContent('#hearing'), /returns none\./);
  await page.selectOption('#monitor', 'printmaster');
});

test('picture: the video proxy follows the audio clock', { skip: !manifest.video && 'no video in the package' }, async () => {
  await page.waitForSelector('#picture:not([hidden])');
  const from = 20 * SR;
  await page.evaluate((s) => window.dubstage.seek(s), from);
  await page.waitForFunction(() => document.getElementById('video').readyState >= 2);
  await page.click('#b-play');
  await page.waitForTimeout(2500);
  const r = await page.evaluate(() => ({ v: document.getElementById('video').currentTime, paused: document.getElementById('video').paused, ph: window.dubstage.playhead() / window.dubstage.S.sr }));
  assert.equal(r.paused, false);
  assert.ok(Math.abs(r.v - (manifest.video.offset + r.ph)) < 0.25, `video ${r.v} s vs audio ${r.ph} s`);
  await shot('07-picture');
  await page.click('#b-play');
  await page.keyboard.press('ArrowRight');
  await page.waitForTimeout(300);
  const p = await page.evaluate(() => ({ v: document.getElementById('video').currentTime, paused: document.getElementById('video').paused, ph: window.dubstage.playhead() / window.dubstage.S.sr }));
  assert.equal(p.paused, true);
  assert.ok(Math.abs(p.v - (manifest.video.offset + p.ph)) < 0.05, `parked video ${p.v} s vs ${p.ph} s`);
});

/** GET with the path sent as written (no client-side normalization), and optionally another Host. */
function rawGet(p, host) {
  const u = new URL(URL_);
  const headers = host ? { Host: host } : {};
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the server serves the package and nothing outside it', async () => {
  assert.ok(new URL(URL_).hostname === '127.0.0.1', 'loopback');
  const base = new URL(URL_).pathname; // '/<token>/'
  assert.match(base, /^\/[0-9a-f]{32}\/$/, 'a random token in the URL');
  const ok = await rawGet(`${base}manifest.json`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['x-content-type-options'], 'nosniff');
  assert.equal(ok.headers['cross-origin-resource-policy'], 'same-origin');
  assert.equal(ok.headers['referrer-policy'], 'no-referrer');
  assert.ok(ok.headers['content-security-policy'].includes("default-src 'self'"));
  assert.equal((await rawGet('/manifest.json')).status, 404, 'no token');
  assert.equal((await rawGet(`${base}manifest.json`, `rebind.example:${new URL(URL_).port}`)).status, 403, 'foreign Host');
  const secret = path.join(path.dirname(PKG), 'secret.txt');
  fs.writeFileSync(secret, 'not for reviewers');
  for (const q of ['../secret.txt', '%2e%2e/secret.txt', 'audio/..%2f..%2fsecret.txt', '../../../../etc/passwd',
    '%2e%2e/%2e%2e/%2e%2e/etc/passwd', '..\\secret.txt', '.%2e/secret.txt', '/../secret.txt']) {
    const p = base + q;
    const r = await rawGet(p);
    assert.equal(r.status, 404, p);
    assert.ok(!r.body.includes('not for reviewers') && !r.body.includes('root:'), p);
  }
});
