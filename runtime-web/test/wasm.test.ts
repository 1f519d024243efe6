/**
 * Chromium with WebGPU turned off (--disable-features=WebGPU): the golden data of both
 * released models (and the fp16 / int8 decoders) on wasm, `auto` falling back to wasm
 * and saying why, `device: 'webgpu'` failing clearly, and the Worker path on wasm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RELEASED_MODELS } from '@vae/models';
import { setup, toleranceFor, type Fixture, type PageError } from './support/fixture.ts';
import { absErrors, readGolden } from './support/golden.ts';
import { formatResult, runGolden, type GoldenResult } from './support/run-golden.ts';
import type { WorkerResponse } from './harness/protocol.ts';

let fx: Fixture;
let page: Awaited<ReturnType<Fixture['harness']>>['page'];
const measured: [string, GoldenResult][] = [];
type Lib = typeof import('../src/index.ts');
/** --disable-features=WebGPU leaves navigator.gpu defined, but it yields no adapter. */
const NO_WEBGPU = /navigator\.gpu( is not defined|\.requestAdapter\(\) returned null)/;

describe('wasm (WebGPU disabled)', { timeout: 180_000 }, () => {
  before(async () => {
    fx = await setup({ webgpu: false });
    ({ page } = await fx.harness());
  });
  after(async () => {
    if (measured.length) console.log(`\nmeasured golden errors, wasm:\n  ${measured.map(([g, r]) => formatResult(r, g)).join('\n  ')}`);
    await fx?.close();
  });

  test('no WebGPU adapter is available', async () => {
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return gpu ? (await gpu.requestAdapter()) !== null : false;
    });
    assert.equal(adapter, false);
  });

  for (const model of RELEASED_MODELS) {
    test(`${model}: decoder and encoder golden data on wasm`, async () => {
      const golden = readGolden(model);
      const r = await runGolden(page, fx.origin, golden, 'wasm');
      measured.push(['encoder + decoder', r]);
      console.log(`  ${formatResult(r)}`);
      assert.equal(r.device, 'wasm');
      for (const [output, e] of Object.entries(r.errors)) {
        const tol = toleranceFor(golden.manifest.graphs[output === 'x_hat' ? 'decoder' : 'encoder'], output, 'wasm');
        assert.ok(e.max <= tol, `${model} ${output} on wasm: max |error| ${e.max} > ${tol}`);
      }
    });

    for (const variant of ['decoder.fp16', 'decoder.int8']) {
      test(`${model}: ${variant} golden data on wasm`, async () => {
        const golden = readGolden(model);
        const r = await runGolden(page, fx.origin, golden, 'wasm', variant);
        measured.push([variant, r]);
        const tol = toleranceFor(golden.manifest.graphs[variant], 'x_hat', 'wasm');
        assert.ok(r.errors.x_hat.max <= tol, `${model} ${variant}: max |error| ${r.errors.x_hat.max} > ${tol}`);
      });
    }
  }

  test("auto falls back to wasm and says why WebGPU was skipped", async () => {
    const r = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      const vae = await lib.createVae({ baseUrl: `${origin}/models/mnist-n2-beta1/`, wasmPaths: `${origin}/ort/` });
      const out = { device: vae.device, attempts: vae.attempts, pixels: (await vae.decode([0, 0])).pixels.length };
      await vae.dispose();
      return out;
    }, fx.origin);
    assert.equal(r.device, 'wasm');
    assert.equal(r.pixels, 784);
    assert.deepEqual(r.attempts.map((a) => [a.device, a.ok]), [['webgpu', false], ['wasm', true]]);
    assert.match(r.attempts[0].reason ?? '', NO_WEBGPU);
  });

  test("device: 'webgpu' without WebGPU is a clear error (and downloads nothing)", async () => {
    const before = fx.server.requests.length;
    const err = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      try {
        await lib.createVae({ baseUrl: `${origin}/models/mnist-n64-beta1/`, device: 'webgpu', wasmPaths: `${origin}/ort/` });
        return null;
      } catch (e) {
        const v = e as PageError;
        return { name: v.name, code: v.code, message: v.message };
      }
    }, fx.origin);
    assert.ok(err, 'createVae must reject');
    assert.equal(err.name, 'VaeError');
    assert.equal(err.code, 'webgpu-unavailable');
    assert.match(err.message, new RegExp(`^WebGPU was requested \\(device: "webgpu"\\) but is unavailable: ${NO_WEBGPU.source}`));
    assert.equal(fx.server.requests.length, before);
  });

  test('createVae works in a Web Worker (auto -> wasm) and matches the golden data', async () => {
    const golden = readGolden('mnist-n64-beta1');
    const dec = golden.decoder[1];
    const enc = golden.encoder[0];
    const res = await page.evaluate(
      (req) => (window as unknown as { vaeWorker: { run(r: unknown): Promise<WorkerResponse> } }).vaeWorker.run(req),
      { baseUrl: `${fx.origin}/models/mnist-n64-beta1/`, device: 'auto' as const, wasmPaths: `${fx.origin}/ort/`, z: Array.from(dec.input.data), x: Array.from(enc.input.data) },
    );
    assert.equal(res.ok, true, res.error);
    assert.equal(res.inWorker, true);
    assert.equal(res.device, 'wasm');
    assert.ok(absErrors(res.xHat!, dec.outputs[0].data).max <= 1e-5);
    assert.ok(absErrors(res.mu!, enc.outputs[0].data).max <= 1e-4);
    assert.ok(absErrors(res.logvar!, enc.outputs[1].data).max <= 1e-4);
  });
});
