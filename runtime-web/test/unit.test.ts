/**
 * Node-only unit tests: the device tables on the core's resolver (injected probe and session factory) and the note,
 * loadVae's option checks (before any download), file loading (fake fetch and Cache API),
 * toImageData, the core's image preprocessing as re-exported here, and seeded sampling.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { releasedModelDir } from '@vae/models/node';
import { parseManifestText, sha256Hex } from '@vae/models';
import { centerDigit, deviceChoices, resolveDevice, resizeArea, toGray } from '@vae/runtime-core';
import { DEVICE_REQUESTS, WASM_DEVICES, WEB_DEVICES, probeWebGpu } from '../src/device.ts';
import { cacheKey, directoryUrl, fetchManifest, loadModelFiles } from '../src/fetch.ts';
import { loadVae, mulberry32, rgbaToPixels, seededNormals, toImageData, VaeError, type Images, type LoadProgress } from '../src/index.ts';

// Node has no ImageData: a minimal stand-in with the same shape.
class NodeImageData {
  readonly colorSpace = 'srgb';
  constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {}
}
(globalThis as { ImageData?: unknown }).ImageData ??= NodeImageData;

const rejectsWith = async (p: Promise<unknown>, code: string, pattern: RegExp) => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VaeError, `expected a VaeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
};

describe('the web device tables', () => {
  const available = async () => ({ available: true as const, adapter: {} });
  const unavailable = async () => ({ available: false as const, reason: 'navigator.gpu is not defined' });
  /** A session factory that logs the provider asked for and returns it (or fails on `failing`). */
  const factory = (opened: string[], failing?: string) => async (ep: string) => {
    opened.push(ep);
    if (ep === failing) throw new Error('shader compilation failed');
    return { decoder: ep, encoder: null } as never;
  };

  test("the choices: 'auto', 'webgpu', 'wasm' (WebGPU first); the wasm-only build has 'auto', 'wasm'", () => {
    assert.deepEqual(DEVICE_REQUESTS, ['auto', 'webgpu', 'wasm']);
    assert.deepEqual(deviceChoices(WASM_DEVICES), ['auto', 'wasm']);
  });

  test('auto uses WebGPU when an adapter exists', async () => {
    const opened: string[] = [];
    const sel = await resolveDevice(WEB_DEVICES, 'auto', { probeWebGpu: available }, factory(opened));
    assert.equal(sel.device, 'webgpu');
    assert.deepEqual(opened, ['webgpu']);
    assert.deepEqual(sel.attempts, [{ device: 'webgpu', ok: true }]);
    assert.equal(sel.note, 'device: webgpu (auto)');
  });

  test('auto falls back to wasm without an adapter, and says why', async () => {
    const opened: string[] = [];
    const sel = await resolveDevice(WEB_DEVICES, 'auto', { probeWebGpu: unavailable }, factory(opened));
    assert.equal(sel.device, 'wasm');
    assert.deepEqual(opened, ['wasm']);
    assert.equal(sel.note, 'device: wasm (auto; webgpu skipped: navigator.gpu is not defined)');
  });

  test('auto falls back to wasm when the WebGPU session fails; the sessions are the ones wasm opened', async () => {
    const opened: string[] = [];
    const sel = await resolveDevice(WEB_DEVICES, 'auto', { probeWebGpu: available }, factory(opened, 'webgpu'));
    assert.equal(sel.device, 'wasm');
    assert.deepEqual(opened, ['webgpu', 'wasm']);
    assert.equal(sel.value.decoder as unknown, 'wasm');
    assert.equal(sel.note, 'device: wasm (auto; webgpu failed: shader compilation failed)');
  });

  test('webgpu without an adapter is a device-unavailable error, nothing is opened', async () => {
    const opened: string[] = [];
    await rejectsWith(resolveDevice(WEB_DEVICES, 'webgpu', { probeWebGpu: unavailable }, factory(opened)), 'device-unavailable',
      /^device "webgpu" is not available: navigator.gpu is not defined\. Use device: "auto" to fall back to wasm\.$/);
    assert.deepEqual(opened, []);
  });

  test('webgpu whose session fails is a session error, with no silent fallback', async () => {
    const opened: string[] = [];
    await rejectsWith(resolveDevice(WEB_DEVICES, 'webgpu', { probeWebGpu: available }, factory(opened, 'webgpu')), 'session', /on webgpu: shader compilation failed/);
    assert.deepEqual(opened, ['webgpu']);
  });

  test('wasm never probes WebGPU, and neither does the wasm-only build', async () => {
    let probed = 0;
    const probe = async () => { probed++; return available(); };
    assert.equal((await resolveDevice(WEB_DEVICES, 'wasm', { probeWebGpu: probe }, factory([]))).note, 'device: wasm (requested)');
    assert.equal((await resolveDevice(WASM_DEVICES, 'auto', { probeWebGpu: probe }, factory([]))).note, 'device: wasm (auto)');
    assert.equal(probed, 0);
  });

  test('an unknown device is an input error', async () => {
    await rejectsWith(resolveDevice(WEB_DEVICES, 'cuda' as never, {}, factory([])), 'input', /^device: "cuda" is not one of "auto", "webgpu", "wasm"$/);
    await rejectsWith(resolveDevice(WASM_DEVICES, 'webgpu', {}, factory([])), 'input', /^device: "webgpu" is not one of "auto", "wasm"$/);
  });
});

describe('loadVae options', () => {
  const noFetch = (async (input: RequestInfo | URL) => { throw new Error(`fetched ${String(input)}`); }) as typeof fetch;
  const unavailable = async () => ({ available: false as const, reason: 'navigator.gpu is not defined' });

  test('bad options are VaeError "input" before anything is fetched', async () => {
    const base = 'http://127.0.0.1:1/m/';
    await rejectsWith(loadVae(base, { device: 'cuda' as never, fetch: noFetch }), 'input', /^device: "cuda" is not one of "auto", "webgpu", "wasm"$/);
    await rejectsWith(loadVae(base, { precision: 'fp8' as never, fetch: noFetch }), 'input', /^precision: "fp8" is not one of fp32, fp16, int8$/);
    await rejectsWith(loadVae(base, { maxBatch: 0, fetch: noFetch }), 'input', /^maxBatch: expected a positive integer, got 0$/);
    await rejectsWith(loadVae(base, { onProgress: 'yes' as never, fetch: noFetch }), 'input', /^onProgress: expected a function$/);
    await rejectsWith(loadVae(42 as never, { fetch: noFetch }), 'input', /^model: expected the URL of a model directory/);
  });

  test("device: 'webgpu' without an adapter is device-unavailable, before any download", async () => {
    await rejectsWith(loadVae('http://127.0.0.1:1/m/', { device: 'webgpu', probeWebGpu: unavailable, fetch: noFetch }), 'device-unavailable',
      /^device "webgpu" is not available: navigator.gpu is not defined\. Use device: "auto" to fall back to wasm\.$/);
  });
});

describe('probeWebGpu', () => {
  test('no navigator.gpu', async () => {
    const p = await probeWebGpu({});
    assert.equal(p.available, false);
    assert.match((p as { reason: string }).reason, /navigator.gpu is not defined/);
  });
  test('null adapter', async () => {
    const p = await probeWebGpu({ gpu: { requestAdapter: async () => null } });
    assert.deepEqual(p, { available: false, reason: 'navigator.gpu.requestAdapter() returned null: no usable GPU adapter' });
  });
  test('requestAdapter throws', async () => {
    const p = await probeWebGpu({ gpu: { requestAdapter: async () => { throw new Error('denied'); } } });
    assert.match((p as { reason: string }).reason, /failed: denied/);
  });
  test('an adapter', async () => {
    const adapter = { name: 'fake' };
    assert.deepEqual(await probeWebGpu({ gpu: { requestAdapter: async () => adapter } }), { available: true, adapter });
  });
});

// ------------------------------------------------------------------ loading
const MODEL = releasedModelDir('mnist-n2-beta1');
const BASE = 'http://127.0.0.1:1/models/mnist-n2-beta1/';
const manifestText = readFileSync(join(MODEL, 'manifest.json'), 'utf8');
const manifest = parseManifestText(manifestText);
const decoderEntry = manifest.files.find((f) => f.path === 'decoder.onnx')!;
const encoderEntry = manifest.files.find((f) => f.path === 'encoder.onnx')!;

/** A fetch over the model directory; `override` replaces some files' answers. */
function fakeFetch(override: Record<string, () => Response> = {}) {
  const calls: string[] = [];
  const fn = (async (input: RequestInfo | URL) => {
    const url = String(input);
    calls.push(url);
    const rel = url.slice(BASE.length);
    if (override[rel]) return override[rel]();
    try {
      const body = readFileSync(join(MODEL, rel));
      // Two chunks, so progress is reported more than once per file.
      const half = Math.floor(body.length / 2);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array(body.subarray(0, half)));
          c.enqueue(new Uint8Array(body.subarray(half)));
          c.close();
        },
      });
      return new Response(stream, { status: 200 });
    } catch {
      return new Response('not found', { status: 404, statusText: 'Not Found' });
    }
  }) as typeof fetch;
  return { fn, calls };
}

/** An in-memory CacheStorage with the three methods the loader uses. */
function memoryCaches() {
  const store = new Map<string, Uint8Array>();
  const cache = {
    match: async (key: string) => (store.has(key) ? new Response(store.get(key)! as Uint8Array<ArrayBuffer>) : undefined),
    put: async (key: string, res: Response) => { store.set(key, new Uint8Array(await res.arrayBuffer())); },
    delete: async (key: string) => store.delete(key),
  };
  let opened = 0;
  const storage = { open: async () => { opened++; return cache; } } as unknown as CacheStorage;
  return { storage, store, opened: () => opened };
}

describe('loading', () => {
  test('directoryUrl adds the trailing slash', () => {
    assert.equal(directoryUrl('http://h/models/m').href, 'http://h/models/m/');
    assert.equal(directoryUrl('http://h/models/m/').href, 'http://h/models/m/');
  });

  test('fetchManifest validates the manifest; 404 and bad JSON name the URL', async () => {
    const ok = await fetchManifest(BASE, { fetch: fakeFetch().fn });
    assert.equal(ok.model.latentSize, 2);
    await rejectsWith(fetchManifest('http://127.0.0.1:1/models/none/', { fetch: fakeFetch().fn }), 'http', /GET http:\/\/127\.0\.0\.1:1\/models\/none\/manifest\.json answered 404/);
    const bad = fakeFetch({ 'manifest.json': () => new Response('{"format": 1', { status: 200 }) });
    await rejectsWith(fetchManifest(BASE, { fetch: bad.fn }), 'manifest', /manifest\.json is not valid JSON/);
  });

  test('progress goes up to the manifest total; files are verified and cached by SHA-256', async () => {
    const { fn, calls } = fakeFetch();
    const caches = memoryCaches();
    const events: LoadProgress[] = [];
    const files = await loadModelFiles(BASE, [decoderEntry, encoderEntry], { fetch: fn, caches: caches.storage, onProgress: (p) => events.push(p) });
    const total = decoderEntry.bytes + encoderEntry.bytes;
    assert.equal(calls.length, 2);
    assert.ok(events.length >= 4, `${events.length} progress events`);
    assert.ok(events.every((e, i) => e.total === total && (i === 0 || e.loaded >= events[i - 1].loaded)));
    assert.equal(events.at(-1)!.loaded, total);
    assert.deepEqual(files.map((f) => [f.path, f.source]), [['decoder.onnx', 'network'], ['encoder.onnx', 'network']]);
    assert.equal(await sha256Hex(files[0].bytes), decoderEntry.sha256);
    assert.deepEqual([...caches.store.keys()].sort(), [cacheKey(decoderEntry.sha256), cacheKey(encoderEntry.sha256)].sort());

    // Second load: from the cache, no request.
    const again = fakeFetch();
    const cachedEvents: LoadProgress[] = [];
    const second = await loadModelFiles(BASE, [decoderEntry, encoderEntry], { fetch: again.fn, caches: caches.storage, onProgress: (p) => cachedEvents.push(p) });
    assert.equal(again.calls.length, 0);
    assert.deepEqual(second.map((f) => f.source), ['cache', 'cache']);
    assert.equal(cachedEvents.at(-1)!.loaded, total);
  });

  test('a corrupt cache entry is dropped and downloaded again', async () => {
    const caches = memoryCaches();
    caches.store.set(cacheKey(decoderEntry.sha256), new Uint8Array(decoderEntry.bytes));
    const { fn, calls } = fakeFetch();
    const [file] = await loadModelFiles(BASE, [decoderEntry], { fetch: fn, caches: caches.storage });
    assert.equal(file.source, 'network');
    assert.equal(calls.length, 1);
    assert.equal(await sha256Hex(caches.store.get(cacheKey(decoderEntry.sha256))!), decoderEntry.sha256);
  });

  test('cache: false neither reads nor writes the cache', async () => {
    const caches = memoryCaches();
    const { fn, calls } = fakeFetch();
    await loadModelFiles(BASE, [decoderEntry], { fetch: fn, caches: caches.storage, cache: false });
    await loadModelFiles(BASE, [decoderEntry], { fetch: fn, caches: caches.storage, cache: false });
    assert.equal(calls.length, 2);
    assert.equal(caches.opened(), 0);
    assert.equal(caches.store.size, 0);
  });

  test('no Cache API: loads anyway and says why it did not cache', async () => {
    const [file] = await loadModelFiles(BASE, [decoderEntry], { fetch: fakeFetch().fn, caches: null });
    assert.equal(file.source, 'network');
    assert.match(file.cacheWarning ?? '', /Cache API is not available/);
  });

  test('a tampered file is a checksum error naming the file and URL, and is not cached', async () => {
    const bytes = readFileSync(join(MODEL, 'decoder.onnx'));
    bytes[bytes.length - 10] ^= 0xff;
    const caches = memoryCaches();
    const { fn } = fakeFetch({ 'decoder.onnx': () => new Response(bytes) });
    await assert.rejects(loadModelFiles(BASE, [decoderEntry], { fetch: fn, caches: caches.storage }), (err: unknown) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'checksum');
      assert.equal(err.file, 'decoder.onnx');
      assert.equal(err.url, `${BASE}decoder.onnx`);
      assert.match(err.message, /^decoder\.onnx: SHA-256 mismatch: the manifest says [0-9a-f]{64}, the file has [0-9a-f]{64} \(downloaded from http:\/\/127\.0\.0\.1:1\/models\/mnist-n2-beta1\/decoder\.onnx\)$/);
      return true;
    });
    assert.equal(caches.store.size, 0);
    const short = fakeFetch({ 'decoder.onnx': () => new Response(bytes.subarray(0, 100)) });
    await rejectsWith(loadModelFiles(BASE, [decoderEntry], { fetch: short.fn, cache: false }), 'checksum', /decoder\.onnx: size mismatch/);
  });

  test('a 404 names the URL and the status; a network failure names the URL', async () => {
    const { fn } = fakeFetch({ 'encoder.onnx': () => new Response('gone', { status: 404, statusText: 'Not Found' }) });
    await assert.rejects(loadModelFiles(BASE, [decoderEntry, encoderEntry], { fetch: fn, cache: false }), (err: unknown) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'http');
      assert.equal(err.status, 404);
      assert.equal(err.url, `${BASE}encoder.onnx`);
      assert.equal(err.message, `Could not fetch encoder.onnx: GET ${BASE}encoder.onnx answered 404 Not Found`);
      return true;
    });
    const offline = (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch;
    await rejectsWith(loadModelFiles(BASE, [decoderEntry], { fetch: offline, cache: false }), 'network', /Could not fetch decoder\.onnx from http:\/\/127\.0\.0\.1:1\/models\/mnist-n2-beta1\/decoder\.onnx: Failed to fetch/);
  });
});

// ------------------------------------------------------------------ images, sampling
const image = (w: number, h: number, fill: (x: number, y: number) => [number, number, number, number]) => {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(fill(x, y), (y * w + x) * 4);
  return new ImageData(data, w, h);
};
const batch = (pixels: Float32Array): Images => ({ pixels, count: pixels.length / 784, width: 28, height: 28 });

describe('images', () => {
  test('toImageData: round(255 p), opaque gray, clamped, integer upscaling', () => {
    const p = new Float32Array(784 * 2);
    p[0] = 1;
    p[1] = 0.5;
    p[2] = 2;
    p[3] = -1;
    p[784] = 0.25;
    const a = toImageData(batch(p));
    assert.equal(a.width, 28);
    assert.deepEqual(Array.from(a.data.subarray(0, 16)), [255, 255, 255, 255, 128, 128, 128, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
    assert.ok(a instanceof ImageData);
    const b = toImageData(batch(p), 1, { scale: 3 });
    assert.equal(b.width, 84);
    assert.deepEqual(Array.from(b.data.subarray(0, 4)), [64, 64, 64, 255]);
    assert.deepEqual(Array.from(b.data.subarray(84 * 4 * 2 + 8, 84 * 4 * 2 + 12)), [64, 64, 64, 255]);
    assert.throws(() => toImageData(batch(p), 2), (err: unknown) => err instanceof VaeError && err.code === 'input' && /image 2 is outside a batch of 2 images/.test(err.message));
    const inverted = toImageData(batch(p), 0, { invert: true });
    assert.deepEqual(Array.from(inverted.data.subarray(0, 8)), [0, 0, 0, 255, 127, 127, 127, 255]);
  });

  test('toGray: luminance over black; invert for ink on paper', () => {
    const img = image(2, 1, (x) => (x === 0 ? [255, 255, 255, 255] : [255, 255, 255, 0]));
    assert.deepEqual(Array.from(toGray(img, false)), [255, 0]);
    const paper = image(2, 1, (x) => (x === 0 ? [0, 0, 0, 255] : [255, 255, 255, 255]));
    assert.deepEqual(Array.from(toGray(paper, true)), [255, 0]);
  });

  test('resizeArea keeps the mean', () => {
    const src = Float32Array.from({ length: 280 * 280 }, (_, i) => (i % 7) / 7);
    const out = resizeArea(src, 280, 280, 28, 28);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean(out) - mean(src)) < 1e-4);
  });

  test('centerDigit: fits the ink into 20x20 with its centre of mass at the centre', () => {
    // A 40x100 bar in the top-left corner of a 280x280 drawing.
    const gray = new Float32Array(280 * 280);
    for (let y = 10; y < 110; y++) for (let x = 20; x < 60; x++) gray[y * 280 + x] = 255;
    const out = centerDigit(gray, 280, 280);
    let mass = 0, cx = 0, cy = 0, rows = 0, cols = 0;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      const v = out[y * 28 + x];
      mass += v;
      cx += (x + 0.5) * v;
      cy += (y + 0.5) * v;
    }
    for (let y = 0; y < 28; y++) if (out.subarray(y * 28, y * 28 + 28).some((v) => v > 0)) rows++;
    for (let x = 0; x < 28; x++) if (Array.from({ length: 28 }, (_, y) => out[y * 28 + x]).some((v) => v > 0)) cols++;
    assert.equal(rows, 20);
    assert.equal(cols, 8);
    assert.ok(Math.abs(cx / mass - 14) <= 0.5 && Math.abs(cy / mass - 14) <= 0.5, `centre of mass ${cx / mass}, ${cy / mass}`);
    assert.deepEqual(Array.from(centerDigit(new Float32Array(100), 10, 10)), new Array(784).fill(0));
  });

  test('rgbaToPixels without centring: 28x28 as is, other sizes resized', () => {
    const small = image(28, 28, (x) => (x < 14 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    const px = rgbaToPixels(small, { center: false, invert: false });
    assert.equal(px.length, 784);
    assert.equal(px[0], 1);
    assert.equal(px[27], 0);
    const big = image(56, 56, (x) => (x < 28 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    assert.deepEqual(Array.from(rgbaToPixels(big, { center: false, invert: false })), Array.from(px));
  });

  test('rgbaToPixels defaults: a dark digit on a light canvas is inverted and centred', () => {
    const paper = image(100, 60, (x, y) => (x >= 10 && x < 20 && y >= 5 && y < 45 ? [0, 0, 0, 255] : [255, 255, 255, 255]));
    const px = rgbaToPixels(paper);
    assert.deepEqual(Array.from(px), Array.from(rgbaToPixels(paper, { invert: true, center: true })));
    let mass = 0, cx = 0, cy = 0;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) { const v = px[y * 28 + x]; mass += v; cx += (x + 0.5) * v; cy += (y + 0.5) * v; }
    assert.ok(mass > 10 && Math.abs(cx / mass - 14) <= 0.5 && Math.abs(cy / mass - 14) <= 0.5, `mass ${mass}, centre ${cx / mass}, ${cy / mass}`);
  });
});

describe('sampling', () => {
  test('seededNormals: same seed, same values; about N(0, 1)', () => {
    assert.deepEqual(seededNormals(64, 7), seededNormals(64, 7));
    assert.notDeepEqual(seededNormals(64, 7), seededNormals(64, 8));
    const z = seededNormals(20001, 1);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const sd = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length);
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean}, sd ${sd}`);
    assert.ok(z.every(Number.isFinite));
    const u = mulberry32(0);
    assert.ok(Array.from({ length: 1000 }, u).every((v) => v >= 0 && v < 1));
  });
});
