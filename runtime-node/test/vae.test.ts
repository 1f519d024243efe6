/**
 * The library's verbs on the released models (onnxruntime-node CPU), and every kind of bad
 * input: wrong latent size, NaN / Infinity, out-of-range pixels, missing or tampered model
 * files, a manifest that does not match its graphs. Every failure is a VaeError with a code.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveStatic, type StaticServer } from '@vae/browser-harness';
import { VaeError, checkSession, loadVae, parseLatents, seededNormals, type Vae } from '../src/index.js';
import { N2, N64, copyModel, flipByte, maxAbsDiff, mnistTest, removeDir, swapGraph, tempDir } from './helpers.js';

describe('the verbs', () => {
  let vae: Vae;
  let n2: Vae;
  let digits: Float32Array;
  before(async () => {
    vae = await loadVae(N64, { device: 'cpu' });
    n2 = await loadVae(N2, { device: 'cpu' });
    digits = (await mnistTest(4)).images;
  });
  after(async () => { await vae.dispose(); await n2.dispose(); });

  it('load reads the manifest: latent size, directory, device, precision', () => {
    assert.equal(vae.latentSize, 64);
    assert.equal(n2.latentSize, 2);
    assert.equal(vae.model, N64);
    assert.equal(vae.device, 'cpu');
    assert.equal(vae.deviceNote, 'device: cpu (requested)');
    assert.equal(vae.precision, 'fp32');
    assert.equal(vae.manifest.name, 'mnist-n64-beta1');
  });

  it('decode takes a flat array, rows of numbers or a Float32Array, and gives probabilities', async () => {
    const z = seededNormals(3 * 64, 7);
    const flat = await vae.decode(z);
    const rows = await vae.decode([Array.from(z.subarray(0, 64)), Array.from(z.subarray(64, 128)), Array.from(z.subarray(128))]);
    const numbers = await vae.decode(Array.from(z));
    assert.deepEqual([flat.count, flat.height, flat.width, flat.pixels.length], [3, 28, 28, 3 * 784]);
    assert.deepEqual(rows.pixels, flat.pixels);
    assert.deepEqual(numbers.pixels, flat.pixels);
    assert.ok(flat.pixels.every((v) => v >= 0 && v <= 1));
  });

  it('sample: seeded, deterministic, N(0, T^2 I); temperature 0 decodes z = 0', async () => {
    const a = await vae.sample(5, { seed: 42 });
    const b = await vae.sample(5, { seed: 42 });
    const c = await vae.sample(5, { seed: 43 });
    assert.deepEqual(a.pixels, b.pixels);
    assert.notDeepEqual(a.pixels, c.pixels);
    assert.deepEqual(a.z, seededNormals(5 * 64, 42));
    assert.equal(a.seed, 42);
    const hot = await vae.sample(5, { seed: 42, temperature: 2 });
    assert.ok(maxAbsDiff(hot.z, a.z.map((v) => 2 * v)) < 1e-6);
    const cold = await vae.sample(2, { seed: 1, temperature: 0 });
    assert.deepEqual(cold.pixels, (await vae.decode(new Float32Array(128))).pixels);
    const random = await vae.sample(1);
    assert.ok(Number.isInteger(random.seed) && random.seed >= 0 && random.seed < 2 ** 32);
    assert.deepEqual(random.z, seededNormals(64, random.seed));
  });

  it('reconstruct = decode(encode(x).mu)', async () => {
    const rec = await vae.reconstruct(digits);
    const { mu } = await vae.encode(digits);
    assert.deepEqual(rec.mu, mu);
    assert.deepEqual(rec.pixels, (await vae.decode(mu)).pixels);
    assert.equal(rec.count, 4);
  });

  it('interpolate: straight line between posterior means, ends included; images or vectors', async () => {
    const a = digits.subarray(0, 784), b = digits.subarray(784, 1568);
    const { mu } = await vae.encode(digits.subarray(0, 1568));
    const r = await vae.interpolate(a, b, 5);
    assert.equal(r.count, 5);
    assert.deepEqual(r.z.subarray(0, 64), mu.subarray(0, 64));
    assert.ok(maxAbsDiff(r.z.subarray(256), mu.subarray(64)) < 1e-6);
    assert.ok(maxAbsDiff(r.z.subarray(128, 192), mu.subarray(0, 64).map((v, k) => (v + mu[64 + k]) / 2)) < 1e-6);
    assert.ok(maxAbsDiff(r.pixels.subarray(0, 784), (await vae.decode(mu.subarray(0, 64))).pixels) < 1e-6);
    const v = await vae.interpolate(Array.from(mu.subarray(0, 64)), { z: mu.subarray(64) }, 5);
    assert.ok(maxAbsDiff(v.pixels, r.pixels) < 1e-6);
    await assert.rejects(vae.interpolate(a, b, 1), /steps: expected an integer >= 2/);
    await assert.rejects(vae.interpolate([1, 2, 3], b), /a: 3 values: expected a latent vector of 64 values .* or an image of 784 pixels/);
  });

  it('manifold: steps x steps grid over [-range, range] for n = 2; an error naming the latent size otherwise', async () => {
    const m = await n2.manifold({ range: 2, steps: 4 });
    assert.deepEqual([m.count, m.rows, m.columns], [16, 4, 4]);
    assert.deepEqual(Array.from(m.z.subarray(0, 2)), [-2, 2]); // top left
    assert.deepEqual(Array.from(m.z.subarray(30, 32)), [2, -2]); // bottom right
    assert.ok(maxAbsDiff(m.pixels.subarray(0, 784), (await n2.decode([-2, 2])).pixels) < 1e-6);
    const d = await n2.manifold();
    assert.equal(d.count, 225);
    await assert.rejects(vae.manifold(), (err: Error) => err instanceof VaeError && err.code === 'input' && /latent size 1 or 2; this model has latent size 64/.test(err.message));
  });
});

describe('images by URL, as the browser takes them', () => {
  const png = join(import.meta.dirname, '..', '..', 'runtime-core', 'test', 'fixtures', 'images', 'bar-56x28.png');
  let vae: Vae;
  let server: StaticServer;
  let origin: string;
  before(async () => {
    vae = await loadVae(N2, { device: 'cpu' });
    server = await serveStatic({ files: (path) => (path === '/bar.png' ? png : null) });
    origin = server.origin;
  });
  after(async () => { await vae.dispose(); await server.close(); });

  it('a file: URL and an http: URL read the same bytes as the path', async () => {
    const byPath = (await vae.preprocess(png)).pixels;
    assert.deepEqual((await vae.preprocess(pathToFileURL(png))).pixels, byPath);
    assert.deepEqual((await vae.preprocess(new URL('/bar.png', origin))).pixels, byPath);
  });

  it('a missing URL is an http error naming it; other schemes are refused', async () => {
    await assert.rejects(vae.encode(new URL('/nope.png', origin)), (e: Error) => e instanceof VaeError && e.code === 'http' && e.message.includes(`${origin}/nope.png`) && /answered 404/.test(e.message));
    await assert.rejects(vae.encode(new URL('ftp://example.invalid/x.png')), (e: Error) => e instanceof VaeError && e.code === 'input' && /ftp: URLs are not read/.test(e.message));
    await assert.rejects(vae.encode(pathToFileURL(join(import.meta.dirname, 'missing.png'))), (e: Error) => e instanceof VaeError && e.code === 'image' && /no such file/.test(e.message));
  });
});

describe('bad input through the library', () => {
  let vae: Vae;
  before(async () => { vae = await loadVae(N64, { device: 'cpu' }); });
  after(async () => { await vae.dispose(); });

  it('wrong latent size', async () => {
    await assert.rejects(vae.decode([0.1, 0.2, 0.3]), (err: Error) => err instanceof VaeError && err.code === 'input' && err.message === 'z: 3 values, but the model\'s latent size is 64');
    await assert.rejects(vae.decode(new Float32Array(100)), /z: 100 values are not a whole number of latent vectors of the model's latent size 64/);
    await assert.rejects(vae.decode([new Array(64).fill(0), new Array(2).fill(0)]), /z: vector 1 has 2 values, but the model's latent size is 64/);
    await assert.rejects(vae.decode([]), /z: no latent vectors/);
  });

  it('NaN and infinite values', async () => {
    const z = new Float32Array(128);
    z[70] = NaN;
    await assert.rejects(vae.decode(z), /z: vector 1, value 6 is NaN: latent values must be finite numbers/);
    z[70] = Infinity;
    await assert.rejects(vae.decode(z), /z: vector 1, value 6 is Infinity/);
    await assert.rejects(vae.decode([new Array(64).fill(-Infinity)]), /z: vector 0, value 0 is -Infinity/);
    const x = new Float32Array(784);
    x[3] = NaN;
    await assert.rejects(vae.encode(x), /images: image 0, pixel 3 is NaN: pixels must be finite numbers in \[0, 1\]/);
    x[3] = 255;
    await assert.rejects(vae.encode(x), /images: image 0, pixel 3 is 255, outside \[0, 1\] \(the model takes pixel \/ 255\)/);
    await assert.rejects(vae.encode(new Float32Array(700)), /images: 700 values are not a whole number of 28x28 images/);
    await assert.rejects(vae.sample(0), /count: expected a positive integer/);
    await assert.rejects(vae.sample(2, { temperature: NaN }), /temperature: expected a finite number >= 0/);
  });

  it('parseLatents names the input it was given', () => {
    assert.throws(() => parseLatents([1, 'x' as unknown as number], 2, 'z.json', (m) => new VaeError('input', m)), /z.json: vector 0, value 1 is string "x"/);
  });

  it('sample refuses a seed outside [0, 2^32) instead of wrapping it', async () => {
    for (const seed of [-1, 2 ** 32, 1.5, NaN]) {
      await assert.rejects(vae.sample(1, { seed }), (err: Error) => err instanceof VaeError && err.code === 'input' && /^seed: expected an integer in \[0, 2\^32\)/.test(err.message));
    }
  });

  it('a disposed Vae refuses every verb', async () => {
    const v = await loadVae(N2, { device: 'cpu' });
    await v.dispose();
    await v.dispose(); // harmless
    await assert.rejects(v.decode([0, 0]), (err: Error) => err instanceof VaeError && err.code === 'disposed');
    await assert.rejects(v.sample(1), (err: Error) => err instanceof VaeError && err.code === 'disposed');
  });
});

describe('bad model directories', () => {
  let dir: string;
  before(async () => { dir = await tempDir(); });
  after(async () => { await removeDir(dir); });

  it('a missing directory or manifest', async () => {
    await assert.rejects(loadVae(join(dir, 'nope')), (err: Error) => err instanceof VaeError && err.code === 'manifest' && /nope is not a model directory: it has no manifest\.json/.test(err.message));
  });

  it('a missing graph file names it', async () => {
    const model = await copyModel(N2, dir, 'missing');
    await rm(join(model, 'decoder.onnx'));
    await assert.rejects(loadVae(model, { device: 'cpu' }), (err: Error) => err instanceof VaeError && err.code === 'checksum' && /missing\/decoder\.onnx: missing/.test(err.message));
  });

  it('a tampered graph (one flipped bit) is refused by its SHA-256', async () => {
    const model = await copyModel(N2, dir, 'tampered');
    await flipByte(join(model, 'encoder.onnx'));
    await assert.rejects(loadVae(model, { device: 'cpu' }), (err: Error) => err instanceof VaeError && err.code === 'checksum' && /tampered\/encoder\.onnx: SHA-256 mismatch/.test(err.message));
    const other = await copyModel(N2, dir, 'tampered-data');
    await flipByte(join(other, 'decoder', 'test_data_set_1', 'output_0.pb'));
    await assert.rejects(loadVae(other, { device: 'cpu' }), /output_0\.pb: SHA-256 mismatch/);
  });

  it('a tampered manifest (invalid JSON, wrong schema)', async () => {
    const model = await copyModel(N2, dir, 'badjson');
    await writeFile(join(model, 'manifest.json'), '{"format": ');
    await assert.rejects(loadVae(model), (err: Error) => err instanceof VaeError && err.code === 'manifest' && /badjson\/manifest\.json is not valid JSON/.test(err.message));
  });

  it('a manifest that does not match its graph: names the manifest, the graph and the mismatch', async () => {
    const model = await copyModel(N64, dir, 'mismatch');
    await swapGraph(model, 'decoder.onnx', join(N2, 'decoder.onnx')); // checksums updated: only the graph disagrees
    await assert.rejects(loadVae(model, { device: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof VaeError && err.code === 'manifest');
      assert.match(err.message, /mismatch\/manifest\.json does not match decoder\.onnx: the manifest says inputs z\[N,64\]:float32, the graph has z\[N,2\]:float32/);
      return true;
    });
    const enc = await copyModel(N64, dir, 'mismatch-enc');
    await swapGraph(enc, 'encoder.onnx', join(N2, 'encoder.onnx'));
    await assert.rejects(loadVae(enc, { device: 'cpu' }), /does not match encoder\.onnx: the manifest says outputs mu\[N,64\]:float32 logvar\[N,64\]:float32, the graph has mu\[N,2\]:float32 logvar\[N,2\]:float32/);
  });

  it('a graph file that is not ONNX (checksums updated) is reported against the manifest', async () => {
    const model = await copyModel(N2, dir, 'garbage');
    const junk = join(dir, 'junk.onnx');
    await writeFile(junk, 'not a model');
    await swapGraph(model, 'decoder.onnx', junk);
    await assert.rejects(loadVae(model, { device: 'cpu' }), (err: Error) => err instanceof VaeError && err.code === 'session' && /garbage\/manifest\.json: onnxruntime cannot load a graph of this model/.test(err.message));
  });

  it('checkSession compares names, fixed sizes and dynamic batch dimensions', () => {
    const graph = { file: 'd.onnx', inputs: [{ name: 'z', dtype: 'float32', shape: ['N', 2], description: '' }], outputs: [{ name: 'x_hat', dtype: 'float32', shape: ['N', 784], description: '' }] };
    const meta = (name: string, shape: (number | string)[]) => ({ name, isTensor: true as const, type: 'float32' as const, shape });
    const ok = { inputMetadata: [meta('z', ['batch', 2])], outputMetadata: [meta('x_hat', ['batch', 784])] };
    checkSession(ok, graph as never, 'm.json');
    assert.throws(() => checkSession({ ...ok, inputMetadata: [meta('latent', ['N', 2])] }, graph as never, 'm.json'), /the graph has latent\[N,2\]/);
    assert.throws(() => checkSession({ ...ok, inputMetadata: [meta('z', [1, 2])] }, graph as never, 'm.json'), /m\.json does not match d\.onnx: the manifest says inputs z\[N,2\]:float32, the graph has z\[1,2\]:float32/);
  });

  it('an unknown precision, device or option', async () => {
    const input = (re: RegExp) => (err: Error) => err instanceof VaeError && err.code === 'input' && re.test(err.message);
    await assert.rejects(loadVae(N2, { precision: 'fp8' as never }), input(/precision: "fp8" is not one of fp32, fp16, int8/));
    await assert.rejects(loadVae(N2, { device: 'gpu' as never }), input(/device: "gpu" is not one of "auto", "cuda", "webgpu", "cpu"/));
    await assert.rejects(loadVae(N2, { threads: -1 }), input(/threads: expected a non-negative integer/));
    await assert.rejects(loadVae(N2, { maxBatch: 0 }), input(/maxBatch: expected a positive integer/));
  });

  it('onProgress: one event per verified graph file, cumulative bytes of the manifest\'s sizes', async () => {
    const events: { file: string; loaded: number; total: number; source: string }[] = [];
    const v = await loadVae(N2, { device: 'cpu', precision: 'fp16', onProgress: (p) => events.push(p) });
    try {
      const size = (key: string) => v.manifest.graphs[key].bytes;
      const total = size('encoder') + size('decoder.fp16');
      assert.deepEqual(events, [
        { file: 'encoder.onnx', loaded: size('encoder'), total, source: 'disk' },
        { file: 'decoder.fp16.onnx', loaded: total, total, source: 'disk' },
      ]);
      assert.equal(v.precision, 'fp16');
    } finally {
      await v.dispose();
    }
  });
});
