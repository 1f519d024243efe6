/**
 * examples/embed/: a plain HTML page (no bundler, no npm) that imports the released model's
 * decoder.mjs. Served from the repository root by a static file server, opened in headless
 * Chromium: the canvas must hold real digits (many distinct grey levels, neither blank nor
 * uniform), for every precision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumMissing, launchChromium, serveStatic } from '@vae/browser-harness';
import { REPO } from './support.js';

const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');

test('examples/embed draws decoded samples on a canvas in Chromium, from a static file server', { timeout: 180_000 }, async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    assert.ok(!IN_CI, `CI must have Chromium: ${missing}`);
    t.skip(missing);
    return;
  }
  const server = await serveStatic({ dirs: { '/': REPO } });
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(`${server.origin}/examples/embed/`);
    for (const [i, precision] of ['int8', 'fp16', 'fp32'].entries()) {
      if (i > 0) await page.selectOption('#precision', precision);
      await page.waitForFunction((n) => Number(document.body.dataset.drawn ?? 0) >= n || document.body.dataset.error, i + 1, { timeout: 60_000 });
      const error = await page.evaluate(() => document.body.dataset.error);
      assert.equal(error, undefined, `${error} ${errors.join('; ')}`);
      const stats = await page.evaluate(() => {
        const c = document.getElementById('grid') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const levels = new Set<number>();
        let bright = 0, opaque = 0;
        for (let o = 0; o < d.length; o += 4) { levels.add(d[o]); if (d[o] > 128) bright++; if (d[o + 3] === 255) opaque++; }
        return { levels: levels.size, bright, opaque, total: d.length / 4, status: document.getElementById('status')!.textContent };
      });
      t.diagnostic(`${precision}: ${stats.status}; ${stats.levels} grey levels, ${stats.bright} bright pixels of ${stats.total}`);
      assert.equal(stats.opaque, stats.total, 'every pixel drawn');
      assert.ok(stats.levels > 50, `real digits have many grey levels (${stats.levels})`);
      assert.ok(stats.bright > stats.total * 0.05 && stats.bright < stats.total * 0.5, `strokes on a dark background (${stats.bright})`);
      assert.match(stats.status!, new RegExp(`16 samples, ${precision} weights, wasm kernel`));
    }
    assert.ok(requests.includes('/models/released/mnist-n64-beta1/decoder.mjs'));
    assert.ok(requests.includes('/models/released/mnist-n64-beta1/decoder.int8.weights.bin'));
    assert.ok(!requests.some((p) => /onnxruntime|ort-wasm|\.onnx$/.test(p)), 'no onnxruntime, no ONNX file');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
