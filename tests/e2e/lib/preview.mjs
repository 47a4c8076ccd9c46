// What the preview specs share: a package's manifest and the CLI's loudness timelines in it,
// `dubstage measure`, Debian's Chromium through playwright-core, and playing with the meter read.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

/** A preview package folder: its manifest, sample rate, meter hop (100 ms) and loudness timelines. */
export function previewPackage(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const SR = manifest.sample_rate;
  return {
    manifest,
    SR,
    HOP: SR / 10,
    /** The CLI's loudness timeline `name` from the package: {m: [], s: []} in LUFS (NaN = none). */
    cliSeries(name) {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'loudness/loudness.json'), 'utf8'));
      const ser = meta.series.find((x) => x.name === name);
      assert.ok(ser, `series ${name} in loudness.json`);
      const b = fs.readFileSync(path.join(dir, ser.file));
      const a = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
      const n = ser.hops;
      const conv = (v) => (v === -32768 ? NaN : v / 100);
      return { m: Array.from(a.subarray(0, n), conv), s: Array.from(a.subarray(n), conv) };
    },
  };
}

/** `dubstage measure FILE --json --timeline` with the binary `bin`: {m: [], s: []} in LUFS (NaN = none). */
export function measureTimeline(bin, file) {
  const out = JSON.parse(execFileSync(bin, ['measure', file, '--json', '--timeline'], { encoding: 'utf8' }));
  const t = out[0].timeline;
  const f = (v) => (v === null ? NaN : v);
  return { m: t.momentary_lufs.map(f), s: t.short_term_lufs.map(f) };
}

/** The render's deliverable in `demoDir/print` whose name matches `re` (e.g. /_PM_.*\.wav$/). */
export function printFile(demoDir, re) {
  const f = fs.readdirSync(path.join(demoDir, 'print')).find((x) => re.test(x));
  assert.ok(f, `a deliverable matching ${re} in ${demoDir}/print`);
  return path.join(demoDir, 'print', f);
}

/** Chromium with one page; `dialogs` and `errors` collect what the page shows and throws. */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const dialogs = [];
  const errors = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('pageerror', (e) => { errors.push(e.message); console.error('pageerror', e.message); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  return { browser, context, page, dialogs, errors };
}

/** Loads the page at `url` and waits until it is ready to play. */
export async function openPage(page, url) {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
}

/** A full-page screenshot `name`.png in `dir`. */
export async function screenshot(page, dir, name) {
  const p = path.join(dir, `${name}.png`);
  await page.screenshot({ path: p, fullPage: true });
  return p;
}

/**
 * Seeks to `fromSample`, presses play and waits until the meter has read `seconds` (at `sr`)
 * past it; returns the meter's reading ({m, s, sample}) and the playhead (`ph`). Still playing.
 */
export async function playAndMeter(page, fromSample, seconds, sr) {
  await page.evaluate((s) => window.dubstage.seek(s), fromSample);
  await page.click('#b-play');
  await page.waitForFunction((s) => window.dubstage.S.meterShown.sample >= s,
    fromSample + seconds * sr, { timeout: (seconds + 10) * 1000 });
  return page.evaluate(() => ({ ...window.dubstage.S.meterShown, ph: window.dubstage.playhead() }));
}
