/**
 * Library-level parity: the two runtime libraries, called the way a user calls them,
 * agree. @vae/runtime-node runs here in Node (onnxruntime-node, CPU); @vae/runtime-web runs in
 * headless Chromium on wasm and on WebGPU. For each committed fixture image
 * (runtime-core/test/fixtures/images: PNG, JPEG, BMP; square, wide, tall; alpha; dark on light;
 * 1x1, 301x17) and each option set:
 *   - the 784-value encoder input is bit-identical;
 *   - encode's mu / logvar agree within the fp32 graph tolerance of the browser's runtime.
 * And the same seed, end points and grid give identical z and images within tolerance from
 * sample, interpolate and manifold; a seed of -1 is refused by both.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toleranceFor, type RuntimeId } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { loadVae, type PreprocessOptions, type Vae } from '@vae/runtime-node';
import { setup, type Fixture } from './support/fixture.ts';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'runtime-core', 'test', 'fixtures', 'images');
const FILES = readdirSync(FIXTURES).sort();
const OPTIONS: PreprocessOptions[] = [
  {}, { center: false }, { center: false, fit: 'fill' }, { invert: true }, { invert: false, center: false },
];
const SEED = 7;
const MANIFOLD = { range: 2, steps: 5 };

interface BrowserResults {
  device: string;
  inputs: number[][]; // per file x option, in order
  fromBlob: number[];
  mu: number[][];
  logvar: number[][];
  sample: { z: number[]; pixels: number[]; seed: number };
  interpolate: { z: number[]; pixels: number[] };
  manifold: { z: number[]; pixels: number[]; rows: number; columns: number };
  badSeed: { name: string; code?: string; message: string };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('runtime-node and runtime-web give the same results', { timeout: 600_000 }, () => {
  let fixture: Fixture;
  let n64: Vae;
  let n2: Vae;
  const node = { inputs: [] as Float32Array[], mu: [] as Float32Array[], logvar: [] as Float32Array[] };

  before(async () => {
    n64 = await loadVae(releasedModelDir('mnist-n64-beta1'), { device: 'cpu' });
    n2 = await loadVae(releasedModelDir('mnist-n2-beta1'), { device: 'cpu' });
    for (const file of FILES) {
      for (const options of OPTIONS) {
        node.inputs.push((await n64.preprocess(join(FIXTURES, file), options)).pixels);
        const e = await n64.encode(join(FIXTURES, file), options);
        node.mu.push(e.mu);
        node.logvar.push(e.logvar);
      }
    }
    fixture = await setup({ webgpu: true });
    fixture.server.route((req, res) => {
      const m = /^\/fixtures\/([\w.-]+)$/.exec(req.url ?? '');
      if (!m || !FILES.includes(m[1])) return false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(join(FIXTURES, m[1])));
      return true;
    });
  });
  after(async () => {
    await fixture?.close();
    await n64?.dispose();
    await n2?.dispose();
  });

  async function inBrowser(device: 'wasm' | 'webgpu', endpoints: { a: number[]; b: number[] }): Promise<BrowserResults> {
    const { context, page, errors } = await fixture.harness();
    try {
      const results = await page.evaluate(async ({ origin, files, optionsList, device, seed, manifold, endpoints }) => {
        const lib = (window as unknown as { vaeLib: typeof import('@vae/runtime-web') }).vaeLib;
        const wasmPaths = `${origin}/ort/`;
        const vae = await lib.loadVae(`${origin}/models/mnist-n64-beta1/`, { device, wasmPaths });
        const n2 = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { device, wasmPaths, encoder: false });
        const inputs: number[][] = [], mu: number[][] = [], logvar: number[][] = [];
        for (const file of files) {
          for (const options of optionsList) {
            inputs.push(Array.from((await vae.preprocess(`${origin}/fixtures/${file}`, options)).pixels));
            const e = await vae.encode(`${origin}/fixtures/${file}`, options);
            mu.push(Array.from(e.mu));
            logvar.push(Array.from(e.logvar));
          }
        }
        const blob = await (await fetch(`${origin}/fixtures/${files[0]}`)).blob();
        const fromBlob = Array.from((await vae.preprocess(blob)).pixels);
        const s = await vae.sample(4, { seed });
        const i = await vae.interpolate(endpoints.a, endpoints.b, 6);
        const m = await n2.manifold(manifold);
        let badSeed = { name: '', code: undefined as string | undefined, message: 'not refused' };
        try {
          await vae.sample(1, { seed: -1 });
        } catch (err) {
          const e = err as { name: string; code?: string; message: string };
          badSeed = { name: e.name, code: e.code, message: e.message };
        }
        const result = {
          device: vae.device, inputs, fromBlob, mu, logvar, badSeed,
          sample: { z: Array.from(s.z), pixels: Array.from(s.pixels), seed: s.seed },
          interpolate: { z: Array.from(i.z), pixels: Array.from(i.pixels) },
          manifold: { z: Array.from(m.z), pixels: Array.from(m.pixels), rows: m.rows, columns: m.columns },
        };
        await vae.dispose();
        await n2.dispose();
        return result;
      }, { origin: fixture.origin, files: FILES, optionsList: OPTIONS, device, seed: SEED, manifold: MANIFOLD, endpoints });
      assert.deepEqual(errors, []);
      return results;
    } finally {
      await context.close();
    }
  }

  for (const device of ['wasm', 'webgpu'] as const) {
    const runtime: RuntimeId = device === 'wasm' ? 'chromium-wasm' : 'chromium-webgpu';
    it(`on Chromium ${device}`, async () => {
      const endpoints = { a: Array.from(node.mu[0]), b: Array.from(node.mu[OPTIONS.length]) };
      const web = await inBrowser(device, endpoints);
      assert.equal(web.device, device);

      // 1. The encoder input: bit-identical for every file and option set.
      let k = 0;
      for (const file of FILES) {
        for (const options of OPTIONS) {
          const a = node.inputs[k], b = web.inputs[k];
          const differing = a.findIndex((v, i) => v !== b[i]);
          assert.equal(differing, -1, `${file} ${JSON.stringify(options)}: pixel ${differing} is ${a[differing]} in Node, ${b[differing]} in Chromium`);
          k++;
        }
      }
      assert.deepEqual(web.fromBlob, Array.from(node.inputs[0]), 'a Blob reads like the same bytes by URL');

      // 2. encode: within the browser runtime's fp32 tolerance of Node's.
      let worstMu = 0, worstLogvar = 0;
      node.mu.forEach((mu, j) => {
        worstMu = Math.max(worstMu, maxAbs(mu, web.mu[j]));
        worstLogvar = Math.max(worstLogvar, maxAbs(node.logvar[j], web.logvar[j]));
      });
      assert.ok(worstMu <= toleranceFor(runtime, 'fp32', 'mu'), `mu differs by ${worstMu}`);
      assert.ok(worstLogvar <= toleranceFor(runtime, 'fp32', 'logvar'), `logvar differs by ${worstLogvar}`);
      const bar = FILES.indexOf('bar-56x28.png') * OPTIONS.length;
      const barMu = maxAbs(node.mu[bar], web.mu[bar]);
      assert.ok(barMu <= 1e-4, `the 56x28 bar: mu differs by ${barMu}`);

      // 3. The same seed, end points and grid: identical z, images within tolerance.
      const xTol = toleranceFor(runtime, 'fp32', 'x_hat');
      const s = await n64.sample(4, { seed: SEED });
      assert.deepEqual(web.sample.z, Array.from(s.z));
      assert.equal(web.sample.seed, SEED);
      const sampleErr = maxAbs(s.pixels, web.sample.pixels);
      assert.ok(sampleErr <= xTol, `sample: images differ by ${sampleErr}`);
      const i = await n64.interpolate(node.mu[0], node.mu[OPTIONS.length], 6);
      assert.deepEqual(web.interpolate.z, Array.from(i.z));
      assert.ok(maxAbs(i.pixels, web.interpolate.pixels) <= xTol);
      const m = await n2.manifold(MANIFOLD);
      assert.deepEqual([web.manifold.rows, web.manifold.columns], [m.rows, m.columns]);
      assert.deepEqual(web.manifold.z, Array.from(m.z));
      const manifoldErr = maxAbs(m.pixels, web.manifold.pixels);
      assert.ok(manifoldErr <= xTol, `manifold: images differ by ${manifoldErr}`);

      // 4. A seed outside [0, 2^32) is refused by both, with the same message.
      assert.equal(web.badSeed.code, 'input', web.badSeed.message);
      await assert.rejects(n64.sample(1, { seed: -1 }), (e: Error & { code?: string }) => e.code === 'input' && e.message === web.badSeed.message);
      console.log(`# ${device}: ${FILES.length} files x ${OPTIONS.length} option sets: inputs bit-identical; max |mu| diff ${worstMu.toExponential(1)}, logvar ${worstLogvar.toExponential(1)}, bar-56x28 mu ${barMu.toExponential(1)}; sample ${sampleErr.toExponential(1)}, manifold ${manifoldErr.toExponential(1)}`);
    });
  }
});
