/** A small, valid model directory for the schema and loader tests (synthetic files, real checksums). */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Manifest } from '../src/schema.js';

const N = 3;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const tensor = (name: string, size: number) => ({ name, dtype: 'float32' as const, shape: ['N', size], description: name });
const parity = (outputs: string[]) => ({
  runtime: 'onnxruntime-node 1.30.0 (cpu)', reference: 'tfjs 4.22.0 (wasm)',
  maxAbsError: Object.fromEntries(outputs.map((o) => [o, 1e-7])), meanAbsError: Object.fromEntries(outputs.map((o) => [o, 1e-8])),
  tolerance: Object.fromEntries(outputs.map((o) => [o, 1e-5])),
});

/** File contents by path. */
export function fixtureFiles(): Record<string, Uint8Array> {
  const bytes = (seed: number, length: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
  return {
    'encoder.onnx': bytes(1, 300),
    'decoder.onnx': bytes(2, 200),
    'encoder/test_data_set_0/input_0.pb': bytes(3, 40),
    'encoder/test_data_set_0/output_0.pb': bytes(4, 20),
    'encoder/test_data_set_0/output_1.pb': bytes(5, 20),
    'decoder/test_data_set_0/input_0.pb': bytes(6, 20),
    'decoder/test_data_set_0/output_0.pb': bytes(7, 40),
  };
}

export function fixtureManifest(files = fixtureFiles()): Manifest {
  const entries = Object.entries(files).map(([path, b]) => ({ path, bytes: b.length, sha256: sha(b) }));
  const set = (role: string, outputs: string[]) => [{ dir: `${role}/test_data_set_0`, inputs: ['input_0.pb'], outputs, rows: 2, description: 'set' }];
  const graph = (role: 'encoder' | 'decoder') => ({
    file: `${role}.onnx`, role, precision: 'fp32' as const, opset: 17, irVersion: 8, bytes: files[`${role}.onnx`].length,
    inputs: role === 'encoder' ? [tensor('x', 784)] : [tensor('z', N)],
    outputs: role === 'encoder' ? [tensor('mu', N), tensor('logvar', N)] : [tensor('x_hat', 784)],
    testData: set(role, role === 'encoder' ? ['output_0.pb', 'output_1.pb'] : ['output_0.pb']),
    parity: parity(role === 'encoder' ? ['mu', 'logvar'] : ['x_hat']),
    description: role,
  });
  const h = 'a'.repeat(64);
  const loss = { bce: 100, kl: 10, total: 110 };
  return {
    format: 'vae-onnx-model', formatVersion: 1, name: 'fixture', description: 'test fixture',
    createdAt: '2025-01-01T00:00:00.000Z', producer: { name: '@vae/export', version: '0.1.0' },
    model: { architecture: 'mlp-vae', inputSize: 784, imageShape: [28, 28], hiddenSizes: [256, 256], latentSize: N, beta: 1 },
    preprocessing: {
      input: 'x', height: 28, width: 28, channels: 1, layout: 'row-major', dtype: 'float32', divisor: 255,
      range: [0, 1], polarity: 'white-on-black', steps: ['pixel / 255'],
    },
    postprocessing: { output: 'x_hat', range: [0, 1], steps: ['pixel = round(255 * x_hat)'] },
    graphs: { encoder: graph('encoder'), decoder: graph('decoder') },
    files: entries,
    dataset: { name: 'mnist', sha256: { trainImages: h, trainLabels: h, testImages: h, testLabels: h } },
    metrics: { epochs: 2, train: loss, test: loss },
    training: { config: { epochs: 2 }, command: 'vae train --epochs 2', backend: 'wasm', seconds: 3 },
    provenance: {
      command: 'vae export run --out fixture', commit: 'unknown', dirty: null, backend: 'wasm', epochs: 2,
      node: 'v20.0.0', onnxChecker: 'not run: test fixture',
    },
  };
}

/** Writes the fixture into a fresh temporary directory; returns its path. */
export async function writeFixtureDir(manifest: unknown = fixtureManifest(), files = fixtureFiles()): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vae-models-'));
  for (const [path, b] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), b);
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}
