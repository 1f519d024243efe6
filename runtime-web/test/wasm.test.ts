/**
 * Chromium with WebGPU turned off (--disable-features=WebGPU): the golden data of both
 * released models (and the fp16 / int8 decoders) on wasm, `auto` falling back to wasm
 * and saying why, `device: 'webgpu'` failing clearly, and the Worker path on wasm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RELEASED_MODELS, toleranceFor } from '@vae/models';
import { runtimeId, setup, type Fixture, type PageError } from './support/fixture.ts';
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
      const golden = await readGolden(model);
      const r = await runGolden(page, fx.origin, golden, 'wasm');
      measured.push(['encoder + decoder', r]);
      console.log(`  ${formatResult(r)}`);
      assert.equal(r.device, 'wasm');
      for (const [output, e] of Object.entries(r.errors)) {
        const tol = toleranceFor(runtimeId('wasm'), golden.manifest.graphs[output === 'x_hat' ? 'decoder' : 'encoder'].precision, output);
        assert.ok(e.max <= tol, `${model} ${output} on wasm: max |error| ${e.max} > ${tol}`);
      }
    });

    for (const precision of ['fp16', 'int8'] as const) {
      test(`${model}: precision ${precision} (decoder.${precision}) golden data on wasm`, async () => {
        const golden = await readGolden(model);
        const r = await runGolden(page, fx.origin, golden, 'wasm', precision);
        measured.push([`decoder.${precision}`, r]);
        assert.equal(golden.manifest.graphs[`decoder.${precision}`].precision, precision);
        const tol = toleranceFor(runtimeId('wasm'), precision, 'x_hat');
        assert.ok(r.errors.x_hat.max <= tol, `${model} ${precision}: max |error| ${r.errors.x_hat.max} > ${tol}`);
      });
    }
  }

  test("auto falls back to wasm and says why WebGPU was skipped", async () => {
    const r = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      const vae = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { wasmPaths: `${origin}/ort/` });
      const out = { device: vae.device, deviceNote: vae.deviceNote, pixels: (await vae.decode([0, 0])).pixels.length };
      await vae.dispose();
      return out;
    }, fx.origin);
    assert.equal(r.device, 'wasm');
    assert.equal(r.pixels, 784);
    assert.match(r.deviceNote, new RegExp(`^device: wasm \\(auto; webgpu skipped: ${NO_WEBGPU.source}`));
    assert.ok(r.deviceNote.endsWith(')') && !r.deviceNote.includes('wasm skipped'), r.deviceNote);
  });

  test("device: 'webgpu' without WebGPU is a clear error (and downloads nothing)", async () => {
    const before = fx.server.requests.length;
    const err = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      try {
        await lib.loadVae(`${origin}/models/mnist-n64-beta1/`, { device: 'webgpu', wasmPaths: `${origin}/ort/` });
        return null;
      } catch (e) {
        const v = e as PageError;
        return { name: v.name, code: v.code, message: v.message };
      }
    }, fx.origin);
    assert.ok(err, 'loadVae must reject');
    assert.equal(err.name, 'VaeError');
    assert.equal(err.code, 'device-unavailable');
    assert.match(err.message, new RegExp(`^device "webgpu" is not available: ${NO_WEBGPU.source}`));
    assert.equal(fx.server.requests.length, before);
  });

  test('loadVae works in a Web Worker (auto -> wasm) and matches the golden data', async () => {
    const golden = await readGolden('mnist-n64-beta1');
    const dec = golden.decoder[1];
    const enc = golden.encoder[0];
    const res = await page.evaluate(
      (req) => (window as unknown as { vaeWorker: { run(r: unknown): Promise<WorkerResponse> } }).vaeWorker.run(req),
      { model: `${fx.origin}/models/mnist-n64-beta1/`, device: 'auto' as const, wasmPaths: `${fx.origin}/ort/`, z: Array.from(dec.input.data), x: Array.from(enc.input.data) },
    );
    assert.equal(res.ok, true, res.error);
    assert.equal(res.inWorker, true);
    assert.equal(res.device, 'wasm');
    const tol = (output: string) => toleranceFor('chromium-wasm', 'fp32', output);
    assert.equal(tol('x_hat'), 1e-5);
    assert.ok(absErrors(res.xHat!, dec.outputs[0].data).max <= tol('x_hat'));
    assert.ok(absErrors(res.mu!, enc.outputs[0].data).max <= tol('mu'));
    assert.ok(absErrors(res.logvar!, enc.outputs[1].data).max <= tol('logvar'));
  });
});
