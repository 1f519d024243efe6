/**
 * The packages installed in other apps: each example app is copied out of the
 * workspace, given the `npm pack` tarballs of @vae/models, runtime-core, runtime-node and
 * runtime-web, installed, built and run. Every app decodes the released model's golden latents
 * and must match the golden images within that runtime's tolerance:
 *   - a Node ES module app and a CommonJS app (onnxruntime-node, CPU);
 *   - a Vite production build in Chromium, on wasm and WebGPU, on the page and in a Web Worker,
 *     with the default entry and with `@vae/runtime-web/wasm` (which must never pull the WebGPU
 *     build, and ships at most 15 MB).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { DECODER_INPUT, DECODER_OUTPUT, DEFAULT_MODEL, toleranceFor } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { readTestDataSets } from '@vae/models/onnx';
import { loadVae as loadNodeVae } from '@vae/runtime-node';
import { launchChromium, serveStatic } from '@vae/browser-harness';
import { bytesUnder, installExample, npm, packAll, tempRoot } from './support.ts';

const run = promisify(execFile);
const BAR_PNG = join(import.meta.dirname, '..', '..', 'runtime-core', 'test', 'fixtures', 'images', 'bar-56x28.png');
const MB = 1e6;

/** Every decoder golden set of the released default model, as one batch. */
async function goldenBatch(): Promise<{ z: number[]; x_hat: number[] }> {
  const sets = await readTestDataSets(join(releasedModelDir(DEFAULT_MODEL), 'decoder'));
  const pick = (tensors: { name?: string; data: ArrayLike<number> }[], name: string) => Array.from(tensors.find((t) => t.name === name)!.data);
  return {
    z: sets.flatMap((s) => pick(s.inputs, DECODER_INPUT)),
    x_hat: sets.flatMap((s) => pick(s.outputs, DECODER_OUTPUT)),
  };
}

describe('the packed packages in consumer apps', { timeout: 900_000 }, () => {
  let root: Awaited<ReturnType<typeof tempRoot>>;
  let tarballs: Map<string, string>;
  let goldenFile: string;
  let golden: { z: number[]; x_hat: number[] };

  before(async () => {
    root = await tempRoot('vae-consumers-');
    tarballs = await packAll(join(root.dir, 'tarballs'));
    golden = await goldenBatch();
    goldenFile = join(root.dir, 'golden.json');
    await writeFile(goldenFile, JSON.stringify(golden));
  });
  after(async () => { await root?.remove(); });

  for (const [app, script] of [['node-esm', 'decode.mjs'], ['node-cjs', 'decode.cjs']] as const) {
    it(`${app}: decodes the golden latents like the golden images`, async () => {
      const dir = await installExample(app, root.dir, tarballs);
      const { stdout } = await run(process.execPath, [script, goldenFile], { cwd: dir });
      const result = JSON.parse(stdout) as { device: string; model: string; count: number; maxError: number };
      assert.equal(result.device, 'cpu');
      assert.equal(result.model, DEFAULT_MODEL);
      assert.equal(result.count, golden.z.length / 64);
      const tol = toleranceFor('node-cpu', 'fp32', 'x_hat');
      assert.ok(result.maxError <= tol, `max error ${result.maxError} > ${tol}`);
      console.log(`# ${app}: ${result.count} images, max |x_hat - golden| = ${result.maxError.toExponential(2)}`);
    });
  }

  describe('a Vite app in Chromium', () => {
    let browser: Browser;
    const builds = new Map<string, { origin: string; close(): Promise<void> }>();

    before(async () => {
      const dir = await installExample('vite-app', root.dir, tarballs);
      for (const entry of ['default', 'wasm'] as const) {
        await npm(['run', entry === 'wasm' ? 'build:wasm' : 'build'], dir);
        const dist = join(dir, `dist-${entry}`);
        const shipped = await bytesUnder(dist);
        console.log(`# vite build, ${entry} entry: ${(shipped.total / MB).toFixed(1)} MB in ${shipped.files} files (${(shipped.wasm / MB).toFixed(1)} MB of .wasm)`);
        if (entry === 'wasm') assert.ok(shipped.total <= 15 * MB, `the wasm-only build ships ${shipped.total} bytes, over 15 MB`);
        await cp(releasedModelDir(DEFAULT_MODEL), join(dist, 'model'), { recursive: true });
        await cp(BAR_PNG, join(dist, 'bar.png'));
        await writeFile(join(dist, 'golden.json'), JSON.stringify(golden));
        builds.set(entry, await serveStatic({ dirs: { '/': dist } }));
      }
      browser = await launchChromium({ webgpu: true });
    });
    after(async () => {
      await browser?.close();
      for (const b of builds.values()) await b.close();
    });

    async function open(entry: string, query: string) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(`${builds.get(entry)!.origin}/?${query}`);
        const result = await page.evaluate(() => (window as unknown as { result: Promise<Record<string, unknown>> }).result);
        return { result, errors };
      } finally {
        await page.close();
      }
    }

    const cases = [
      ['default', 'wasm', false], ['default', 'wasm', true], ['default', 'webgpu', false], ['default', 'webgpu', true],
      ['wasm', 'wasm', false], ['wasm', 'wasm', true], ['wasm', 'auto', false],
    ] as const;
    for (const [entry, device, worker] of cases) {
      it(`${entry} entry, device ${device}, ${worker ? 'in a worker' : 'on the page'}`, async () => {
        const { result, errors } = await open(entry, `device=${device}${worker ? '&worker' : ''}`);
        assert.deepEqual(errors, []);
        assert.equal(result.error, undefined, `the app failed: ${String(result.error)}`);
        const ran = device === 'auto' ? 'wasm' : device; // the wasm entry's auto is wasm
        assert.equal(result.device, ran);
        assert.equal(result.where, worker ? 'worker' : 'page');
        assert.equal(result.count, golden.z.length / 64);
        const tol = toleranceFor(ran === 'webgpu' ? 'chromium-webgpu' : 'chromium-wasm', 'fp32', 'x_hat');
        assert.ok((result.maxError as number) <= tol, `max error ${result.maxError} > ${tol}`);
      });
    }

    for (const device of ['wasm', 'webgpu'] as const) {
      it(`encodes the 56x28 bar PNG like runtime-node, within 1e-4 (default entry, ${device})`, async () => {
        const node = await loadNodeVae(undefined, { device: 'cpu' });
        const expected = (await node.encode(BAR_PNG)).mu;
        await node.dispose();
        const { result, errors } = await open('default', `device=${device}&encode=bar.png`);
        assert.deepEqual(errors, []);
        assert.equal(result.error, undefined, String(result.error));
        assert.equal(result.device, device);
        const mu = result.mu as number[];
        assert.equal(mu.length, expected.length);
        const diff = Math.max(...mu.map((v, i) => Math.abs(v - expected[i])));
        assert.ok(diff <= 1e-4, `mu differs from runtime-node's by ${diff}`);
      });
    }

    it('the wasm entry refuses device "webgpu", saying which devices it has', async () => {
      const { result } = await open('wasm', 'device=webgpu');
      assert.equal(result.code, 'input');
      assert.match(String(result.error), /device: "webgpu" is not one of "auto", "wasm"/);
    });
  });
});
