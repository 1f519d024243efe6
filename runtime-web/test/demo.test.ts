/**
 * The demo page in Chromium with WebGPU (SwiftShader): it lists every released model in the
 * model switch and loads DEFAULT_MODEL on the device `auto` picks, says "ready" only when every
 * control listens (a stroke drawn right after "ready" is handled at once and encoded), a drag on
 * the latent plane changes the decoded digit, the sample grid is seedable. For each released
 * model, after switching to it, draw-to-encode, the explorer (point and grid) and the samples
 * are that model's decoder outputs: the canvases equal @vae/runtime-node's (onnxruntime-node,
 * CPU) images of the same latents within one grey level. A model whose load is still in flight
 * when another is selected never paints; switching back and forth ends on the last selection.
 * A screenshot is not blank and shows a digit in the decoded-digit area.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { DEFAULT_MODEL, RELEASED_MODELS, toleranceFor } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { imagesToGray, loadVae, type Images, type Vae } from '@vae/runtime-node';
import { runtimeId, setup, type Fixture } from './support/fixture.ts';

let fx: Fixture;
let page: Page;
const errors: string[] = [];
/** The same models in Node (onnxruntime-node, CPU): the reference for every canvas. */
const node = new Map<string, Vae>();

interface DemoState {
  model: string; loading: string | null; switches: number; latentSize: number; loaded: string[];
  decodes: number; encodes: number; samples: number; strokes: number; manifolds: number;
  axes: [number, number]; anchor: number[]; plane: number[];
  lastZ: number[]; drawnZ: number[] | null; input: number[] | null; seed: number; errors: string[];
}
type Win = { __demo: DemoState };
const demoState = () => page.evaluate(() => (window as unknown as Win).__demo);
/** A canvas's RGBA bytes (sent as a latin1 string: a JSON array of this many numbers takes seconds). */
const canvasPixels = async (id: string) => Uint8Array.from(Buffer.from(await page.evaluate((id) => {
  const c = document.getElementById(id) as HTMLCanvasElement;
  const rgba = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < rgba.length; i += 8192) s += String.fromCharCode(...rgba.subarray(i, i + 8192));
  return s;
}, id), 'latin1'));
/** The red channel (= the grey level of a decoded image) of a canvas, and its width. */
const canvasGray = async (id: string) => {
  const rgba = await canvasPixels(id);
  const width = await page.evaluate((id) => (document.getElementById(id) as HTMLCanvasElement).width, id);
  return { width, gray: rgba.filter((_, i) => i % 4 === 0) };
};

/** Gray-level statistics of RGBA pixels (or of grey levels, channels = 1). */
function stats(rgba: ArrayLike<number>, channels = 4) {
  const levels = new Set<number>();
  let min = 255, max = 0;
  for (let i = 0; i < rgba.length; i += channels) {
    const v = channels === 1 ? rgba[i] : Math.round((rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3);
    levels.add(v);
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { levels: levels.size, min, max };
}

/** Max grey-level difference between a canvas holding `images` as 28 x 28 tiles, `columns` per row, and the images. */
function grayDiff(canvas: { width: number; gray: Uint8Array }, images: Images, columns: number): number {
  let worst = 0;
  const size = images.width * images.height;
  for (let k = 0; k < images.count; k++) {
    const want = imagesToGray({ ...images, count: 1, pixels: images.pixels.subarray(k * size, (k + 1) * size) }).data;
    const x0 = (k % columns) * images.width;
    const y0 = Math.floor(k / columns) * images.height;
    for (let y = 0; y < images.height; y++) {
      for (let x = 0; x < images.width; x++) worst = Math.max(worst, Math.abs(canvas.gray[(y0 + y) * canvas.width + x0 + x] - want[y * images.width + x]));
    }
  }
  return worst;
}

/** The explorer's grid latents (main.ts): 15 x 15, columns z[axes[0]] from -3 to 3, rows z[axes[1]] from 3 down to -3, the rest the anchor's. */
function gridLatents(s: DemoState): Float32Array {
  const n = s.latentSize;
  const at = (i: number) => -3 + (6 * i) / 14;
  const z = new Float32Array(15 * 15 * n);
  for (let r = 0; r < 15; r++) {
    for (let c = 0; c < 15; c++) {
      const row = z.subarray((r * 15 + c) * n, (r * 15 + c + 1) * n);
      row.set(s.anchor);
      row[s.axes[0]] = at(c);
      row[s.axes[1]] = at(14 - r);
    }
  }
  return z;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Selects a model and waits until all of its views have landed. */
async function switchTo(name: string) {
  await page.selectOption('#model-select', name);
  await page.waitForFunction((name) => document.body.dataset.model === name, name, { timeout: 60_000 });
}

/** Draws a "7" on the pad (a top bar and a diagonal) and waits for its encoding and the explorer's refresh. */
async function draw7() {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const s0 = await demoState();
  const pad = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(pad.x + 70, pad.y + 60);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(pad.x + 70 + i * 14, pad.y + 60);
  for (let i = 1; i <= 12; i++) await page.mouse.move(pad.x + 210 - i * 8, pad.y + 60 + i * 15);
  await page.mouse.up();
  await page.waitForFunction(({ e, m, n }) => {
    const s = (window as unknown as Win).__demo;
    return s.encodes > e && (n === 2 || s.manifolds > m);
  }, { e: s0.encodes, m: s0.manifolds, n: s0.latentSize }, { timeout: 60_000 });
}

/** Drags the point on the latent plane from the centre by (dx, dy) and waits for the last position's decode. */
async function drag(dx: number, dy: number) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = (await page.locator('#plane').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) await page.mouse.move(cx + (i * dx) / 8, cy + (i * dy) / 8);
  await page.mouse.up();
  await page.waitForFunction(() => {
    const s = (window as unknown as Win).__demo;
    const [i, j] = s.axes;
    return s.lastZ.length === s.latentSize && s.lastZ[i] === s.plane[0] && s.lastZ[j] === s.plane[1] &&
      s.lastZ.every((v, k) => k === i || k === j || v === s.anchor[k]);
  }, undefined, { timeout: 60_000 });
}

/**
 * Every view of the shown model against onnxruntime-node on the same latents: the decoded point,
 * the manifold grid, the samples (same seed, so the same z), and, with a drawing, the encoding of
 * its 784 input values (within the browser's fp32 graph tolerance) and the reconstruction.
 */
async function checkViews(name: string) {
  const s = await demoState();
  assert.equal(s.model, name);
  const vae = node.get(name)!;
  const n = vae.latentSize;
  assert.equal(s.latentSize, n);
  assert.equal(await page.inputValue('#model-select'), name);
  assert.equal(await page.textContent('#model-info'), `${vae.manifest.model.architecture}, n = ${n}`);
  assert.equal(await page.textContent('#model-description'), vae.manifest.description);
  assert.ok(s.axes[0] !== s.axes[1] && s.axes.every((a) => Number.isInteger(a) && a >= 0 && a < n), `axes ${s.axes}`);
  assert.equal(await page.isVisible('#axes'), n > 2, 'the axis selects are shown for n > 2 only');
  const device = (await page.textContent('#device'))!;
  const diffs: Record<string, number> = {};

  assert.equal(s.lastZ.length, n);
  diffs.decoded = grayDiff(await canvasGray('decoded'), await vae.decode(Float32Array.from(s.lastZ)), 1);
  const grid = await vae.decode(gridLatents(s));
  const manifoldCanvas = await canvasGray('manifold');
  diffs.manifold = grayDiff(manifoldCanvas, grid, 15);
  const manifold = stats(manifoldCanvas.gray, 1);
  assert.ok(manifold.levels > 50 && manifold.max - manifold.min > 150, `${name}: manifold grid drawn (${JSON.stringify(manifold)})`);
  const samples = await vae.sample(64, { seed: s.seed });
  diffs.samples = grayDiff(await canvasGray('samples'), samples, 8);
  if (s.drawnZ) {
    assert.equal(s.drawnZ.length, n);
    assert.ok(s.input && s.input.length === 784);
    if (n > 2) assert.deepEqual(s.anchor, s.drawnZ, 'the drawn digit is the anchor');
    const { mu } = await vae.encode(Float32Array.from(s.input));
    const err = maxAbs(mu, s.drawnZ);
    assert.ok(err <= toleranceFor(runtimeId(device), 'fp32', 'mu'), `${name}: mu off by ${err}`);
    diffs.recon = grayDiff(await canvasGray('recon'), await vae.decode(Float32Array.from(s.drawnZ)), 1);
    diffs.input28 = grayDiff(await canvasGray('input28'), { pixels: Float32Array.from(s.input), count: 1, width: 28, height: 28 }, 1);
  } else {
    assert.deepEqual(s.anchor, new Array(n).fill(0));
  }
  // x_hat within 1e-4 of Node's: at most one grey level apart after rounding.
  for (const [view, d] of Object.entries(diffs)) assert.ok(d <= 1, `${name}: ${view} differs from onnxruntime-node by ${d} grey levels`);
  return diffs;
}

describe('demo page', { timeout: 300_000 }, () => {
  before(async () => {
    const [f] = await Promise.all([
      setup({ webgpu: true }),
      ...RELEASED_MODELS.map(async (name) => node.set(name, await loadVae(releasedModelDir(name), { device: 'cpu' }))),
    ]);
    fx = f;
    const context = await fx.browser.newContext({ viewport: { width: 1280, height: 1000 } });
    await context.addInitScript('globalThis.__name ??= (fn) => fn;'); // see COUNT_GPU_SUBMITS
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  });
  after(async () => {
    await fx?.close();
    for (const vae of node.values()) await vae.dispose();
  });

  test('lists every released model, loads the default one and shows its device, manifest and decode time', async () => {
    await page.goto(`${fx.origin}/demo/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', undefined, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.error ?? null), null);
    const options = await page.$$eval('#model-select option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(options, [...RELEASED_MODELS]);
    assert.equal(await page.evaluate(() => document.body.dataset.model), DEFAULT_MODEL);
    assert.equal(await page.textContent('#device'), 'webgpu');
    assert.match(await page.getAttribute('#device', 'title') ?? '', /^device: webgpu \(auto\)$/);
    assert.match((await page.textContent('#timing')) ?? '', /^\d+\.\d\d ms \(batch \d+\); mean \d+\.\d\d ms\/image/);
    assert.match((await page.textContent('#load-text')) ?? '', new RegExp(`^${DEFAULT_MODEL} ready in`));
    assert.match(page.url(), new RegExp(`model=${DEFAULT_MODEL}`));
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
    await page.waitForFunction(() => (window as unknown as Win).__demo.encodes > 0, undefined, { timeout: 60_000 });
    const s = await demoState();
    assert.ok(s.drawnZ && s.drawnZ.length === s.latentSize && s.drawnZ.every(Number.isFinite));
    await page.click('#clear');
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  test('a drag on the latent plane changes the decoded digit', async () => {
    const before = await canvasPixels('decoded');
    await drag(-160, -96);
    const s = await demoState();
    assert.ok(s.lastZ[s.axes[0]] < -2 && s.lastZ[s.axes[1]] > 1, `plane point ${s.plane}`);
    const after = await canvasPixels('decoded');
    const changed = before.filter((v, i) => Math.abs(v - after[i]) > 8).length;
    assert.ok(changed > 100, `${changed} channel values changed`);
    assert.match((await page.textContent('#z-readout')) ?? '', /^z\[\d+\] = -2\.\d\d, z\[\d+\] = 1\.\d\d$/);
  });

  test('the sample grid: new samples on click, the same seed gives the same grid', async () => {
    const s0 = await demoState();
    const first = await canvasPixels('samples');
    await page.click('#samples');
    await page.waitForFunction((n) => (window as unknown as Win).__demo.samples > n, s0.samples);
    const clicked = await canvasPixels('samples');
    assert.notDeepEqual(clicked, first);
    await page.fill('#seed', '1');
    await page.click('#sample-seed');
    await page.waitForFunction((n) => (window as unknown as Win).__demo.samples > n, s0.samples + 1);
    assert.deepEqual(await canvasPixels('samples'), first, 'seed 1 again reproduces the first grid');
  });

  test('a model that fails to load says so in the page; the next switch clears it', async () => {
    const broken = RELEASED_MODELS.find((m) => m !== DEFAULT_MODEL)!;
    const url = `**/models/${broken}/manifest.json`;
    await page.route(url, (route) => route.fulfill({ status: 404, body: 'not here' }));
    try {
      await page.selectOption('#model-select', broken);
      await page.waitForFunction(() => document.body.dataset.error !== undefined, undefined, { timeout: 30_000 });
    } finally {
      await page.unroute(url);
    }
    const message = (await page.evaluate(() => document.body.dataset.error))!;
    assert.match(message, new RegExp(`^http: .*GET \\S*/models/${broken}/manifest\\.json answered 404`));
    assert.equal(await page.textContent('#error'), message);
    assert.match((await page.textContent('#load-text')) ?? '', new RegExp(`^${broken} failed to load`));
    assert.equal(await page.evaluate(() => document.body.dataset.model), '');
    assert.equal(stats(await canvasPixels('samples')).max, 0, 'the previous model\'s samples are gone');
    // The expected 404: forget it so the last test's "no errors" holds for everything else.
    assert.deepEqual(await page.evaluate(() => (window as unknown as Win).__demo.errors.splice(0)), [message]);
    errors.splice(0).forEach((e) => assert.match(e, /404/));
    await switchTo(DEFAULT_MODEL);
    assert.equal(await page.isVisible('#error'), false);
    assert.equal(await page.evaluate(() => document.body.dataset.error ?? null), null);
  });

  test('a model still loading when another is selected never shows its outputs', async () => {
    // Hold one file of a model not loaded yet until the next selection has landed.
    const slow = RELEASED_MODELS.find((m) => m !== DEFAULT_MODEL && node.get(m)!.latentSize > 2) ?? RELEASED_MODELS.find((m) => m !== DEFAULT_MODEL)!;
    const other = RELEASED_MODELS.find((m) => m !== DEFAULT_MODEL && m !== slow) ?? DEFAULT_MODEL;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const url = `**/models/${slow}/encoder.onnx`;
    await page.route(url, async (route) => { await gate; await route.continue(); });
    try {
      await page.selectOption('#model-select', slow);
      await page.waitForFunction((slow) => (window as unknown as Win).__demo.loading === slow, slow);
      assert.equal(await page.evaluate(() => document.body.dataset.model), '', 'no model is shown while one loads');
      await switchTo(other);
      release();
      await page.waitForFunction((slow) => (window as unknown as Win).__demo.loaded.includes(slow), slow, { timeout: 60_000 });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
      assert.equal(await page.evaluate(() => document.body.dataset.model), other);
      await checkViews(other);
    } finally {
      release();
      await page.unroute(url);
    }
  });

  for (const name of RELEASED_MODELS) {
    test(`${name}: after switching to it, draw-to-encode, the explorer and the samples are its decoder's outputs`, async () => {
      const t0 = performance.now();
      await switchTo(name);
      // The drawing on the pad (if any) was encoded again by this model on the switch.
      await page.click('#clear');
      await draw7();
      await drag(-100, 60);
      const s = await demoState();
      assert.equal(s.drawnZ?.length, node.get(name)!.latentSize);
      assert.match((await page.textContent('#draw-latent')) ?? '', new RegExp(`^latent position \\(n = ${s.latentSize}\\)`));
      const diffs = await checkViews(name);
      const recon = stats(await canvasPixels('recon'));
      assert.ok(recon.levels > 10 && recon.max - recon.min > 100, `recon shows an image (${JSON.stringify(recon)})`);
      console.log(`# ${name}: grey-level differences from onnxruntime-node ${JSON.stringify(diffs)}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });
  }

  test('switching back and forth ends on the last selection, whose views are its own', async () => {
    // Every model, then back to the default (no waiting in between), then once more to another.
    const order = [...RELEASED_MODELS.filter((m) => m !== DEFAULT_MODEL), DEFAULT_MODEL];
    for (const name of order) await page.selectOption('#model-select', name);
    await page.waitForFunction((name) => document.body.dataset.model === name, DEFAULT_MODEL, { timeout: 60_000 });
    assert.equal((await demoState()).loading, null);
    await checkViews(DEFAULT_MODEL);
    await switchTo(order[0]);
    await checkViews(order[0]);
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
