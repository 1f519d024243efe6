/**
 * Loading in a real browser (WebGPU off, so everything runs on wasm): errors that name
 * what failed (404 of the manifest and of a graph, a tampered graph, a broken manifest),
 * load progress, and the Cache API keyed by SHA-256 (a second createVae and a reload
 * download nothing; cache: false downloads again). Requests are counted on the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { releasedModelDir } from '@vae/models/node';
import { sendFile } from '../demo/assets.ts';
import { setup, type Fixture, type PageError } from './support/fixture.ts';

type Lib = typeof import('../src/index.ts');
let fx: Fixture;
const MODEL = 'mnist-n2-beta1';
const modelDir = releasedModelDir(MODEL);
const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as { files: { path: string; bytes: number; sha256: string }[] };
const entry = (p: string) => manifest.files.find((f) => f.path === p)!;

/** createVae in the page; resolves to a summary or to the error as plain data. */
async function tryCreate(page: import('playwright-core').Page, options: Record<string, unknown>) {
  return page.evaluate(async ({ origin, options }) => {
    const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
    const progress: { loaded: number; total: number; file: string; source: string }[] = [];
    try {
      const vae = await lib.createVae({ wasmPaths: `${origin}/ort/`, device: 'wasm', onProgress: (p: (typeof progress)[number]) => progress.push(p), ...options } as unknown as Parameters<Lib['createVae']>[0]);
      const out = { ok: true as const, device: vae.device, files: vae.files, progress, pixels: (await vae.decode([0, 0])).pixels.length };
      await vae.dispose();
      return out;
    } catch (e) {
      const v = e as PageError;
      return { ok: false as const, error: { name: v.name, code: v.code, message: v.message, url: v.url, file: v.file, status: v.status } };
    }
  }, { origin: fx.origin, options });
}

describe('loading, errors and caching', { timeout: 120_000 }, () => {
  before(async () => {
    fx = await setup({ webgpu: false });
    // /tampered/<model>/: the model directory with one byte of decoder.onnx flipped.
    // /missing-graph/<model>/: the model directory without encoder.onnx.
    // /bad-manifest/<model>/: a manifest.json that is not a model manifest.
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
    const r = await tryCreate(page, { baseUrl: `${fx.origin}/models/no-such-model/` });
    await context.close();
    assert.equal(r.ok, false);
    const url = `${fx.origin}/models/no-such-model/manifest.json`;
    assert.deepEqual(r.ok ? null : { code: r.error.code, url: r.error.url, status: r.error.status }, { code: 'http', url, status: 404 });
    assert.equal(r.ok ? '' : r.error.message, `Could not fetch the model manifest: GET ${url} answered 404 Not Found`);
  });

  test('a missing graph file: 404 error naming its URL', async () => {
    const { page, context } = await fx.harness();
    const r = await tryCreate(page, { baseUrl: `${fx.origin}/missing-graph/${MODEL}/` });
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
    const r = await tryCreate(page, { baseUrl: `${fx.origin}/tampered/${MODEL}/` });
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
    const r = await tryCreate(page, { baseUrl: `${fx.origin}/bad-manifest/${MODEL}/` });
    await context.close();
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'manifest');
    assert.match(r.error.message, /bad-manifest\/mnist-n2-beta1\/manifest\.json is not a valid model manifest:\n {2}\w+/);
  });

  test('progress, Cache API keyed by SHA-256, reload from the cache, cache: false re-downloads', async () => {
    const { page, context } = await fx.harness();
    const baseUrl = `${fx.origin}/models/${MODEL}/`;
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
    const first = await tryCreate(page, { baseUrl });
    assert.ok(first.ok, JSON.stringify(first));
    assert.deepEqual(first.files.map((f) => [f.path, f.source]), [['decoder.onnx', 'network'], ['encoder.onnx', 'network']]);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });
    assert.ok(first.progress.length >= 2);
    assert.ok(first.progress.every((p, i) => p.total === total && (i === 0 || p.loaded >= first.progress[i - 1].loaded)));
    assert.equal(first.progress.at(-1)!.loaded, total);
    const keys = await page.evaluate(async () => (await (await caches.open('vae-models-v1')).keys()).map((k) => k.url));
    assert.deepEqual(keys.sort(), [entry('decoder.onnx').sha256, entry('encoder.onnx').sha256].map((h) => `https://vae-model-cache.invalid/sha256/${h}`).sort());

    // 2. A second createVae in the same page: no download.
    const second = await tryCreate(page, { baseUrl });
    assert.ok(second.ok);
    assert.deepEqual(second.files.map((f) => f.source), ['cache', 'cache']);
    assert.equal(second.progress.at(-1)!.loaded, total);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });

    // 3. After a reload: still no download.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    const reloaded = await tryCreate(page, { baseUrl });
    assert.ok(reloaded.ok);
    assert.deepEqual(reloaded.files.map((f) => f.source), ['cache', 'cache']);
    assert.deepEqual(delta(), { decoder: 1, encoder: 1 });

    // 4. cache: false downloads again.
    const uncached = await tryCreate(page, { baseUrl, cache: false });
    assert.ok(uncached.ok);
    assert.deepEqual(uncached.files.map((f) => f.source), ['network', 'network']);
    assert.deepEqual(delta(), { decoder: 2, encoder: 2 });
    await context.close();
  });
});
