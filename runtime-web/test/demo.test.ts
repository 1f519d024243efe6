/**
 * The demo page in Chromium with WebGPU (SwiftShader): it loads both models on the device
 * `auto` picks and shows it, says "ready" only when every control listens (a stroke drawn
 * right after "ready" is handled at once and encoded), a drag on the latent plane changes the decoded digit, the
 * sample grid is seedable, a drawn digit is encoded and reconstructed, and a screenshot is
 * not blank and shows a digit in the decoded-digit area.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { setup, type Fixture } from './support/fixture.ts';

let fx: Fixture;
let page: Page;
const errors: string[] = [];

interface DemoState { decodes: number; encodes: number; samples: number; strokes: number; lastZ: number[]; drawnZ: number[] | null; seed: number; errors: string[] }
const demoState = () => page.evaluate(() => (window as unknown as { __demo: DemoState }).__demo);
const canvasPixels = (id: string) => page.evaluate((id) => {
  const c = document.getElementById(id) as HTMLCanvasElement;
  return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
}, id);

/** Gray-level statistics of RGBA pixels. */
function stats(rgba: ArrayLike<number>) {
  const levels = new Set<number>();
  let min = 255, max = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const v = Math.round((rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3);
    levels.add(v);
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { levels: levels.size, min, max };
}

describe('demo page', { timeout: 180_000 }, () => {
  before(async () => {
    fx = await setup({ webgpu: true });
    const context = await fx.browser.newContext({ viewport: { width: 1280, height: 1000 } });
    await context.addInitScript('globalThis.__name ??= (fn) => fn;'); // see COUNT_GPU_SUBMITS
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  });
  after(async () => fx?.close());

  test('loads both models and shows the active device and decode time', async () => {
    await page.goto(`${fx.origin}/demo/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', undefined, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.error ?? null), null);
    assert.equal(await page.textContent('#device-n2'), 'webgpu');
    assert.equal(await page.textContent('#device-n64'), 'webgpu');
    assert.match((await page.textContent('#timing')) ?? '', /^\d+\.\d\d ms \(batch \d+\); mean \d+\.\d\d ms\/image/);
    assert.match((await page.textContent('#load-text')) ?? '', /models ready in/);
    const manifold = stats(await canvasPixels('manifold'));
    assert.ok(manifold.levels > 50 && manifold.max - manifold.min > 150, `manifold grid drawn (${JSON.stringify(manifold)})`);
    assert.match((await page.textContent('#manifold-caption')) ?? '', /^manifold grid: 15×15 decodings of z in \[−3, 3\]² \(end points included\)/);
    assert.match(await page.getAttribute('#device-n2', 'title') ?? '', /^device: webgpu \(auto\)$/);
  });

  test('a stroke drawn right after "ready" is handled at once and encoded', async () => {
    // The page is "ready" (previous test); draw at once, with no waiting for anything else.
    const s0 = await demoState();
    assert.deepEqual([s0.strokes, s0.encodes], [0, 0]);
    await page.locator('#pad').scrollIntoViewIfNeeded();
    const pad = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(pad.x + 140, pad.y + 50);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(pad.x + 140, pad.y + 50 + i * 18);
    await page.mouse.up();
    // The pointerup listener ran synchronously with the event: no start-up work delayed it.
    assert.equal((await demoState()).strokes, 1, 'the stroke reached the drawing pad\'s listener');
    await page.waitForFunction(() => (window as unknown as { __demo: DemoState }).__demo.encodes > 0, undefined, { timeout: 60_000 });
    const s = await demoState();
    assert.ok(s.drawnZ && s.drawnZ.length === 2 && s.drawnZ.every(Number.isFinite));
    await page.click('#clear');
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  test('a drag on the latent plane changes the decoded digit', async () => {
    const before = await canvasPixels('decoded');
    const s0 = await demoState();
    const box = (await page.locator('#plane').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) await page.mouse.move(cx - i * 20, cy - i * 12);
    await page.mouse.up();
    await page.waitForFunction((n) => (window as unknown as { __demo: DemoState }).__demo.decodes > n && !document.getElementById('z-readout')!.textContent!.includes('(0.00, 0.00)'), s0.decodes);
    // Let the last pending decode land.
    await page.waitForFunction(() => {
      const s = (window as unknown as { __demo: DemoState }).__demo;
      return s.lastZ[0] < -2 && s.lastZ[1] > 1;
    }, undefined, { timeout: 60_000 });
    const after = await canvasPixels('decoded');
    const changed = before.filter((v, i) => Math.abs(v - after[i]) > 8).length;
    assert.ok(changed > 100, `${changed} channel values changed`);
    assert.match((await page.textContent('#z-readout')) ?? '', /^z = \(-2\.\d\d, 1\.\d\d\)$/);
  });

  test('the sample grid: new samples on click, the same seed gives the same grid', async () => {
    const s0 = await demoState();
    const first = await canvasPixels('samples');
    await page.click('#samples');
    await page.waitForFunction((n) => (window as unknown as { __demo: DemoState }).__demo.samples > n, s0.samples);
    const clicked = await canvasPixels('samples');
    assert.notDeepEqual(clicked, first);
    await page.fill('#seed', '1');
    await page.click('#sample-seed');
    await page.waitForFunction((n) => (window as unknown as { __demo: DemoState }).__demo.samples > n, s0.samples + 1);
    assert.deepEqual(await canvasPixels('samples'), first, 'seed 1 again reproduces the first grid');
  });

  test('drawing a digit encodes it, shows the reconstruction and its latent position', async () => {
    await page.locator('#pad').scrollIntoViewIfNeeded();
    const e0 = (await demoState()).encodes;
    const pad = (await page.locator('#pad').boundingBox())!;
    // A "7": a top bar and a diagonal.
    await page.mouse.move(pad.x + 70, pad.y + 60);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(pad.x + 70 + i * 14, pad.y + 60);
    for (let i = 1; i <= 12; i++) await page.mouse.move(pad.x + 210 - i * 8, pad.y + 60 + i * 15);
    await page.mouse.up();
    await page.waitForFunction((n) => (window as unknown as { __demo: DemoState }).__demo.encodes > n, e0, { timeout: 60_000 });
    const s = await demoState();
    assert.equal(s.strokes, 2);
    assert.ok(s.drawnZ && s.drawnZ.length === 2 && s.drawnZ.every(Number.isFinite));
    assert.match((await page.textContent('#draw-latent')) ?? '', /^latent position \(n = 2\): mu = \(-?\d+\.\d\d, -?\d+\.\d\d\)/);
    for (const id of ['input28', 'recon-n2', 'recon-n64']) {
      const st = stats(await canvasPixels(id));
      assert.ok(st.levels > 10 && st.max - st.min > 100, `${id} shows an image (${JSON.stringify(st)})`);
    }
  });

  test('a screenshot is not blank and the decoded-digit area holds a digit', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const png = PNG.sync.read(await page.screenshot());
    const all = stats(png.data);
    assert.ok(all.levels > 50 && all.max - all.min > 200, `screenshot not blank (${JSON.stringify(all)})`);
    const box = (await page.locator('#decoded').boundingBox())!;
    const region: number[] = [];
    for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height); y++) {
      for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width); x++) {
        const o = (y * png.width + x) * 4;
        region.push(png.data[o], png.data[o + 1], png.data[o + 2], png.data[o + 3]);
      }
    }
    const digit = stats(region);
    assert.ok(region.length >= 190 * 190 * 4, 'the decoded area is on screen');
    assert.ok(digit.levels > 10 && digit.max - digit.min > 100, `decoded area is not uniform (${JSON.stringify(digit)})`);
    assert.deepEqual(errors, []);
    assert.deepEqual((await demoState()).errors, []);
  });
});
