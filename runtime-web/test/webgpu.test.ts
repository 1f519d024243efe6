/**
 * Chromium with --enable-unsafe-webgpu (on this CPU-only machine WebGPU is SwiftShader, a
 * CPU implementation): the golden data of both released models on WebGPU, device
 * reporting, and loadVae inside a Web Worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RELEASED_MODELS, toleranceFor } from '@vae/models';
import { runtimeId, setup, type Fixture } from './support/fixture.ts';
import { absErrors, readGolden } from './support/golden.ts';
import { formatResult, runGolden, type GoldenResult } from './support/run-golden.ts';
import type { WorkerResponse } from './harness/protocol.ts';

let fx: Fixture;
let page: Awaited<ReturnType<Fixture['harness']>>['page'];
const measured: GoldenResult[] = [];

describe('WebGPU (SwiftShader)', { timeout: 240_000 }, () => {
  before(async () => {
    fx = await setup({ webgpu: true });
    ({ page } = await fx.harness());
  });
  after(async () => {
    if (measured.length) console.log(`\nmeasured golden errors, WebGPU (SwiftShader):\n  ${measured.map((r) => formatResult(r)).join('\n  ')}`);
    await fx?.close();
  });

  test('the browser exposes a WebGPU adapter', async () => {
    const info = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> } }).gpu;
      const adapter = await gpu?.requestAdapter();
      return adapter ? { ok: true, vendor: adapter.info?.vendor, arch: adapter.info?.architecture, description: adapter.info?.description } : { ok: false };
    });
    assert.equal(info.ok, true);
    console.log(`  adapter: ${JSON.stringify(info)}`);
  });

  for (const model of RELEASED_MODELS) {
    test(`${model}: decoder and encoder golden data on webgpu`, async () => {
      const golden = await readGolden(model);
      const r = await runGolden(page, fx.origin, golden, 'webgpu');
      measured.push(r);
      console.log(`  ${formatResult(r)}`);
      assert.equal(r.device, 'webgpu');
      assert.ok(r.gpuSubmits > 0, 'the graphs ran on WebGPU (GPUQueue.submit was called)');
      for (const [output, e] of Object.entries(r.errors)) {
        const graph = golden.manifest.graphs[output === 'x_hat' ? 'decoder' : 'encoder'];
        const tol = toleranceFor(runtimeId('webgpu'), graph.precision, output);
        assert.ok(e.max <= tol, `${model} ${output} on webgpu: max |error| ${e.max} > ${tol}`);
      }
    });
  }

  test('auto picks webgpu when an adapter exists, and reports it', async () => {
    const r = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: typeof import('../src/index.ts') }).vaeLib;
      const vae = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { wasmPaths: `${origin}/ort/`, encoder: false });
      const w = window as unknown as { __gpuSubmits: number };
      const before = w.__gpuSubmits;
      await vae.decode([0.5, -0.5]);
      const out = { device: vae.device, deviceNote: vae.deviceNote, precision: vae.precision, submits: w.__gpuSubmits - before };
      await vae.dispose();
      return out;
    }, fx.origin);
    assert.deepEqual({ device: r.device, deviceNote: r.deviceNote, precision: r.precision }, { device: 'webgpu', deviceNote: 'device: webgpu (auto)', precision: 'fp32' });
    assert.ok(r.submits > 0);
  });

  test('device: wasm in a WebGPU browser runs on wasm (no GPU work)', async () => {
    const r = await runGolden(page, fx.origin, 'mnist-n2-beta1', 'wasm');
    assert.equal(r.device, 'wasm');
    assert.equal(r.gpuSubmits, 0);
    assert.equal(r.deviceNote, 'device: wasm (requested)');
    assert.ok(r.errors.x_hat.max <= toleranceFor('chromium-wasm', 'fp32', 'x_hat'));
    assert.equal(toleranceFor('chromium-wasm', 'fp32', 'x_hat'), 1e-5);
  });

  test('loadVae works in a Web Worker on webgpu and matches the golden data', async () => {
    const golden = await readGolden('mnist-n2-beta1');
    const dec = golden.decoder[1];
    const enc = golden.encoder[0];
    const res = await page.evaluate(
      (req) => (window as unknown as { vaeWorker: { run(r: unknown): Promise<WorkerResponse> } }).vaeWorker.run(req),
      { model: `${fx.origin}/models/mnist-n2-beta1/`, device: 'webgpu' as const, wasmPaths: `${fx.origin}/ort/`, z: Array.from(dec.input.data), x: Array.from(enc.input.data) },
    );
    assert.equal(res.ok, true, res.error);
    assert.equal(res.inWorker, true);
    assert.equal(res.device, 'webgpu');
    const e = { x_hat: absErrors(res.xHat!, dec.outputs[0].data), mu: absErrors(res.mu!, enc.outputs[0].data), logvar: absErrors(res.logvar!, enc.outputs[1].data) };
    console.log(`  worker (webgpu): x_hat max ${e.x_hat.max.toExponential(2)}, mu max ${e.mu.max.toExponential(2)}, logvar max ${e.logvar.max.toExponential(2)}`);
    assert.ok(e.x_hat.max <= toleranceFor('chromium-webgpu', golden.manifest.graphs.decoder.precision, 'x_hat'));
    assert.ok(e.mu.max <= toleranceFor('chromium-webgpu', golden.manifest.graphs.encoder.precision, 'mu'));
    assert.ok(e.logvar.max <= toleranceFor('chromium-webgpu', golden.manifest.graphs.encoder.precision, 'logvar'));
  });
});
