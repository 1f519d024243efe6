/**
 * `vae convert` + `vae verify` on a real published model: UpscalerJS's esrgan-slim x4 (a
 * devDependency; model.json + one shard inside the npm package), a functional super-resolution
 * net with dynamic H and W, Concatenate, Add and UpSampling2D. Its converter-level tests, with
 * more models, are in tfjs-to-onnx-converter/test/real-models.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTestDataSets } from '@vae/models/onnx';
import { SWIFTSHADER_ICD } from '@vae/runtime-node';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
// SwiftShader's Vulkan driver (Debian's chromium) for the node-webgpu row, unless a driver is already chosen.
const env = !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) ? { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } : process.env;
const vae = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
let temp = '';
after(() => (temp ? rm(temp, { recursive: true, force: true }) : undefined));

/** node_modules/@upscalerjs/esrgan-slim/models/x4/model.json, found upwards (its "exports" hide it). */
function modelJson(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', '@upscalerjs', 'esrgan-slim', 'models', 'x4', 'model.json');
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) throw new Error('@upscalerjs/esrgan-slim is not installed: run npm ci');
  }
}

test('vae convert on @upscalerjs/esrgan-slim x4 (dynamic H and W sized by --dim), then vae verify passes on every runtime row', async () => {
  temp = await mkdtemp(join(tmpdir(), 'vae-convert-real-'));
  const out = join(temp, 'esrgan-slim-x4');
  const r = vae('convert', modelJson(), '--out', out, '--batch', '1', '--dim', 'LR_dim1=16', '--dim', 'LR_dim2=12');
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /layers converted: 23 \(Conv2D 12, Activation 4, Concatenate 3, Add 3, UpSampling2D 1\)/);
  assert.match(r.out, /input {2}LR: \[N, LR_dim1, LR_dim2, 3\] float32, golden \[1, 16, 12, 3\]/);
  assert.match(r.out, /output SR: \[N, SR_dim1, SR_dim2, 3\] float32, golden \[1, 64, 48, 3\]/);
  assert.match(r.out, /Transpose nodes: 2 /);
  assert.match(r.out, /: ok\n/);
  assert.deepEqual((await readdir(out)).sort(), ['model.onnx', 'test_data_set_0']);
  const [set] = await readTestDataSets(out);
  assert.deepEqual(set.outputs.map((t) => [t.name, t.dims]), [['SR', [1, 64, 48, 3]]]);

  // At vae verify's own default tolerance (1e-5), on every row but node-cuda (no CUDA provider
  // here), each required: a row that cannot start fails the run instead of being skipped.
  const rows = 'node-cpu,node-webgpu,web-node,chromium-wasm,chromium-webgpu';
  const v = vae('verify', out, '--runtimes', rows, '--require', rows, '--out', join(temp, 'report'));
  assert.equal(v.code, 0, v.err + v.out);
  assert.match(v.out, /PASS: 5 passed, 0 failed/);
});
