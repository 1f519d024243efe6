/**
 * Loading in a real browser (WebGPU off, so everything runs on wasm): errors that name
 * what failed (404 of the manifest and of a graph, a tampered graph, a broken manifest),
 * load progress, and the Cache API keyed by SHA-256 (a second loadVae and a reload
 * download nothing; cache: false downloads again). Requests are counted on the server.
 * And the browser's image sources: a URL, a Blob and file bytes of the same PNG give the
 * encoder input Node computes from that file, bit for bit; a missing image URL is an 'http'
 * error naming it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { releasedModelDir } from '@vae/models/node';
import { decodeImage, imagesToPng, rgbaToPixels } from '@vae/runtime-core';
import { sendFile } from '@vae/browser-harness';
import { setup, type Fixture, type PageError } from './support/fixture.ts';

type Lib = typeof import('../src/index.ts');
let fx: Fixture;
const MODEL = 'mnist-n2-beta1';
const modelDir = releasedModelDir(MODEL);
const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as { files: { path: string; bytes: number; sha256: string }[] };
const entry = (p: string) => manifest.files.find((f) => f.path === p)!;

/** loadVae in the page; resolves to a summary (with each file's source, from the progress events) or to the error as plain data. */
async function tryLoad(page: import('playwright-core').Page, model: string, options: Record<string, unknown> = {}) {
  return page.evaluate(async ({ origin, model, options }) => {
    const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
    const progress: { loaded: number; total: number; file: string; source: string }[] = [];
    try {
      const vae = await lib.loadVae(model, { wasmPaths: `${origin}/ort/`, device: 'wasm', onProgress: (p) => progress.push(p), ...options });
      const sources = [...new Set(progress.map((p) => `${p.file}\t${p.source}`))].sort().map((k) => k.split('\t'));
      const out = { ok: true as const, device: vae.device, model: vae.model, files: sources, progress, pixels: (await vae.decode([0, 0])).pixels.length };
      await vae.dispose();
      return out;
    } catch (e) {
      const v = e as PageError;
      return { ok: false as const, error: { name: v.name, code: v.code, message: v.message, url: v.url, file: v.file, status: v.status } };
    }
  }, { origin: fx.origin, model, options });
}

/** A 56 x 28 PNG: a light bar on black, off-centre (a non-square image). */
const BAR_PNG = (() => {
  const pixels = new Float32Array(28 * 56);
  for (let y = 8; y < 20; y++) for (let x = 6; x < 30; x++) pixels[y * 56 + x] = 0.9;
  return imagesToPng({ pixels, count: 1, width: 56, height: 28 }).png;
})();

describe('loading, errors and caching', { timeout: 120_000 }, () => {
  before(async () => {
    fx = await setup({ webgpu: false });
    // /tampered/<model>/: the model directory with one byte of decoder.onnx flipped.
    // /missing-graph/<model>/: the model directory without encoder.onnx.
    // /bad-manifest/<model>/: a manifest.json that is not a model manifest.
    fx.server.route((req, res) => {
      if (req.url !== '/images/bar.png') return false;
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
      res.end(BAR_PNG);
      return true;
    });
    fx.server.route((req, res) => {
      const m = /^\/(tampered|missing-graph|bad-manifest)\/([\w-]+)\/(.+)$/.exec(req.url ?? '');
      if (!m) return false;
      const [, kind, model, file] = m;
      const path = join(releasedModelDir(model), file);
      if (kind === 'tampered' && file === 'decoder.onnx') {
        const bytes = readFileSync(path);
        bytes[bytes.length >> 1] ^= 0xff;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(bytes);
      } else if (kind === 'missing-graph' && file === 'encoder.onnx') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      } else if (kind === 'bad-manifest' && file === 'manifest.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ format: 'vae-onnx-model', formatVersion: 1, name: 'x' }));
      } else sendFile(res, path);
      return true;
    });
  });
  after(async () => fx?.close());

  test('a missing model directory: 404 error naming the manifest URL', async () => {
    const { page, context } = await fx.harness();
    const r = await tryLoad(page, `${fx.origin}/models/no-such-model/`);
    await context.close();
    assert.equal(r.ok, false);
    const url = `${fx.origin}/models/no-such-model/manifest.json`;
    assert.deepEqual(r.ok ? null : { code: r.error.code, url: r.error.url, status: r.error.status }, { code: 'http', url, status: 404 });
    assert.equal(r.ok ? '' : r.error.message, `Could not fetch the model manifest: GET ${url} answered 404 Not Found`);
  });

  test('a missing graph file: 404 error naming its URL', async () => {
    const { page, context } = await fx.harness();
    const r = await tryLoad(page, `${fx.origin}/missing-graph/${MODEL}/`);
    await context.close();
    assert.equal(r.ok, false);
    if (r.ok) return;
    const url = `${fx.origin}/missing-graph/${MODEL}/encoder.onnx`;
    assert.equal(r.error.code, 'http');
    assert.equal(r.error.url, url);
    assert.match(r.error.message, new RegExp(`^Could not fetch encoder\\.onnx: GET ${url.replace(/[.]/g, '\\.')} answered 404`));
  });

  test('a tampered graph: checksum error naming the file, nothing cached', async () => {
    const { page, context } = await fx.harness();
    const r = await tryLoad(page, `${fx.origin}/tampered/${MODEL}/`);
    const keys = await page.evaluate(async () => (await (await caches.open('vae-models-v1')).keys()).map((k) => k.url));
    await context.close();
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'checksum');
    assert.equal(r.error.file, 'decoder.onnx');
    assert.equal(r.error.url, `${fx.origin}/tampered/${MODEL}/decoder.onnx`);
    assert.match(r.error.message, new RegExp(`^decoder\\.onnx: SHA-256 mismatch: the manifest says ${entry('decoder.onnx').sha256}, the file has [0-9a-f]{64}`));
    assert.ok(!keys.some((k) => k.endsWith(entry('decoder.onnx').sha256)), `the tampered file must not be cached (${keys.join(', ')})`);
  });

  test('an invalid manifest: manifest error listing the problems', async () => {
    const { page, context } = await fx.harness();
    const r = await tryLoad(page, `${fx.origin}/bad-manifest/${MODEL}/`);
    await context.close();
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'manifest');
    assert.match(r.error.message, /bad-manifest\/mnist-n2-beta1\/manifest\.json is not a valid model manifest:\n {2}\w+/);
  });

  test('progress, Cache API keyed by SHA-256, reload from the cache, cache: false re-downloads', async () => {
    const { page, context } = await fx.harness();
    const modelUrl = `${fx.origin}/models/${MODEL}/`;
    const downloads = () => ({
      decoder: fx.server.count((p) => p === `/models/${MODEL}/decoder.onnx`),
      encoder: fx.server.count((p) => p === `/models/${MODEL}/encoder.onnx`),
    });
    const start = downloads();
    const delta = () => {
      const d = downloads();
      return { decoder: d.decoder - start.decoder, encoder: d.encoder - start.encoder };
    };
    const total = entry('decoder.onnx').bytes + entry('encoder.onnx').bytes;

    // 1. First load: from the network, with progress up to the manifest's total.
    const first = await tryLoad(page, modelUrl);
    assert.ok(first.ok, JSON.stringify(first));
    assert.equal(first.model, modelUrl);
    assert.deepEqual(first.files, [['decoder.onnx', 'network'], ['encoder.onnx', 'network']]);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });
    assert.ok(first.progress.length >= 2);
    assert.ok(first.progress.every((p, i) => p.total === total && (i === 0 || p.loaded >= first.progress[i - 1].loaded)));
    assert.equal(first.progress.at(-1)!.loaded, total);
    const keys = await page.evaluate(async () => (await (await caches.open('vae-models-v1')).keys()).map((k) => k.url));
    assert.deepEqual(keys.sort(), [entry('decoder.onnx').sha256, entry('encoder.onnx').sha256].map((h) => `https://vae-model-cache.invalid/sha256/${h}`).sort());

    // 2. A second loadVae in the same page: no download.
    const second = await tryLoad(page, modelUrl);
    assert.ok(second.ok);
    assert.deepEqual(second.files, [['decoder.onnx', 'cache'], ['encoder.onnx', 'cache']]);
    assert.equal(second.progress.at(-1)!.loaded, total);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });

    // 3. After a reload: still no download.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    const reloaded = await tryLoad(page, modelUrl);
    assert.ok(reloaded.ok);
    assert.deepEqual(reloaded.files, [['decoder.onnx', 'cache'], ['encoder.onnx', 'cache']]);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });

    // 4. cache: false downloads again.
    const uncached = await tryLoad(page, modelUrl, { cache: false });
    assert.ok(uncached.ok);
    assert.deepEqual(uncached.files, [['decoder.onnx', 'network'], ['encoder.onnx', 'network']]);
    assert.deepEqual(delta(), { decoder: 2, encoder: 2 });
    await context.close();
  });

  test('image sources: a URL, a Blob and the file bytes give the encoder input Node computes, bit for bit; a missing URL names it', async () => {
    const { page, context } = await fx.harness();
    const r = await page.evaluate(async ({ origin, bytes }) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      const vae = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { device: 'wasm', wasmPaths: `${origin}/ort/` });
      const url = `${origin}/images/bar.png`;
      const file = Uint8Array.from(bytes);
      const inputs = {
        url: (await vae.preprocess(url)).pixels,
        urlObject: (await vae.preprocess(new URL(url) as unknown as string)).pixels,
        blob: (await vae.preprocess(new Blob([file], { type: 'image/png' }))).pixels,
        bytes: (await vae.preprocess(file)).pixels,
        fill: (await vae.preprocess(url, { center: false, fit: 'fill' })).pixels,
      };
      const mu = { url: Array.from((await vae.encode(url)).mu), bytes: Array.from((await vae.encode(file)).mu) };
      let missing: { name?: string; code?: string; message?: string; url?: string; status?: number } | null = null;
      try {
        await vae.encode([file, `${origin}/images/none.png`]);
      } catch (e) {
        const v = e as { name?: string; code?: string; message?: string; url?: string; status?: number };
        missing = { name: v.name, code: v.code, message: v.message, url: v.url, status: v.status };
      }
      await vae.dispose();
      return { inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, Array.from(v)])), mu, missing };
    }, { origin: fx.origin, bytes: Array.from(BAR_PNG) });
    await context.close();
    const expected = Array.from(rgbaToPixels(decodeImage(BAR_PNG)));
    for (const k of ['url', 'urlObject', 'blob', 'bytes']) assert.deepEqual(r.inputs[k], expected, `${k}: the encoder input differs from Node's`);
    assert.deepEqual(r.inputs.fill, Array.from(rgbaToPixels(decodeImage(BAR_PNG), { center: false, fit: 'fill' })));
    assert.notDeepEqual(r.inputs.fill, expected);
    assert.deepEqual(r.mu.url, r.mu.bytes);
    const url = `${fx.origin}/images/none.png`;
    assert.deepEqual(r.missing && { name: r.missing.name, code: r.missing.code, url: r.missing.url, status: r.missing.status }, { name: 'VaeError', code: 'http', url, status: 404 });
    assert.equal(r.missing?.message, `${url}: could not fetch the image: GET ${url} answered 404 Not Found`);
  });
});
