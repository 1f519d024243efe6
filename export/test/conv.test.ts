/**
 * `vae export` of a conv VAE run (train --arch conv), end to end: a short real run on MNIST,
 * exported; the graphs pass onnx.checker (full_check), name their nodes after the tfjs layers,
 * replay their golden data in onnxruntime-node within the export tolerances; the manifest says
 * conv-vae and validates; the standalone decoder (decoder.mjs + weights) is written and matches the
 * golden data; runtime-node's loadVae and the `vae` CLI run the folder as they run an MLP's;
 * `vae verify` passes on node-cpu, web-node and standalone-node.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { train } from '@vae/train';
import { loadModelDir } from '@vae/models/node';
import { EXPORT_TOLERANCES, toleranceFor } from '@vae/models';
import { decodeModel, readTestDataSets } from '@vae/models/onnx';
import { loadVae } from '@vae/runtime-node';
import { exportRun, type ExportResult } from '../src/export.js';
import { maxAbsDiff, runOnnx } from '../src/verify.js';
import { assertOnnxCheckerPasses } from './helpers.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO, 'pipeline', 'dist', 'cli.js');
const DATA = join(REPO, '..', 'shared', 'datasets', 'mnist');
const GRAPHS = ['encoder', 'decoder', 'decoder.fp16', 'decoder.int8'];
const LATENT = 64; // the default conv model (channels 32, 64): the one the tolerances must hold for
let root: string;
let runDir: string;
let outDir: string;
let exported: ExportResult;
const steps: string[] = [];
const vae = (...args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: root });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vae-export-conv-'));
  runDir = join(root, 'run');
  outDir = join(root, 'model');
  await train({ outDir: runDir, architecture: 'conv', trainLimit: 512, epochs: 1, threads: 1, backend: 'wasm', dataDir: DATA });
  exported = await exportRun({ runDir, outDir, dataDir: DATA, command: 'vae export run --out model', onStep: (l) => steps.push(l) });
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('a conv run exports the MLP\'s layout, standalone decoder included, matching the golden data', async () => {
  assert.deepEqual((await readdir(outDir)).sort(), [
    'decoder', 'decoder.fp16.onnx', 'decoder.fp16.weights.bin', 'decoder.int8.onnx', 'decoder.int8.weights.bin', 'decoder.mjs', 'decoder.onnx', 'decoder.weights.bin',
    'encoder', 'encoder.onnx', 'manifest.json',
  ]);
  assert.equal(steps.length, 10);
  assert.match(steps[7], /^\[8\/10\] standalone decoder: decoder\.mjs [\d.]+ KiB, decoder\.weights\.bin [\d.]+ KiB, decoder\.fp16\.weights\.bin [\d.]+ KiB, decoder\.int8\.weights\.bin [\d.]+ KiB$/);
  assert.match(exported.manifest.description, /^conv VAE \(784-conv32-conv64-64, beta 1\) .*golden data\.$/);
  const mod = await import(pathToFileURL(join(outDir, 'decoder.mjs')).href) as { loadDecoder(s?: unknown, o?: { precision: string }): Promise<{ decode(z: Float32Array, n: number): Float32Array }> };
  const golden = await readTestDataSets(join(outDir, 'decoder'));
  for (const precision of ['fp32', 'fp16', 'int8'] as const) {
    const d = await mod.loadDecoder(undefined, { precision });
    for (const set of golden) {
      const err = maxAbsDiff(d.decode(set.inputs[0].data as Float32Array, set.inputs[0].dims[0]), set.outputs[0].data);
      assert.ok(err <= toleranceFor('standalone-node', precision, 'x_hat'), `${precision}: ${err}`);
    }
  }
});

test('every conv graph passes onnx.checker.check_model(full_check=True)', () => {
  assertOnnxCheckerPasses(GRAPHS.map((g) => join(outDir, `${g}.onnx`)));
  assert.match(exported.manifest.provenance.onnxChecker, /check_model\(full_check=True\) passed/);
});

test('node names map back to the tfjs layers; the decoder ends in Sigmoid; int8 quantizes the Dense kernel only', async () => {
  const graph = async (g: string) => decodeModel(await readFile(join(outDir, `${g}.onnx`))).graph;
  const ops = async (g: string) => (await graph(g)).node.map((n) => `${n.name}:${n.op_type}`);
  const encoder = await ops('encoder');
  for (const n of ['encoder_conv1.conv:Conv', 'encoder_conv2.conv:Conv', 'encoder_mu.gemm:Gemm', 'encoder_logvar.gemm:Gemm']) assert.ok(encoder.includes(n), `${n} in ${encoder}`);
  const decoder = await ops('decoder');
  for (const n of ['decoder_project.gemm:Gemm', 'decoder_deconv1.convtranspose:ConvTranspose', 'decoder_deconv2.convtranspose:ConvTranspose', 'decoder_sigmoid.sigmoid:Sigmoid']) {
    assert.ok(decoder.includes(n), `${n} in ${decoder}`);
  }
  // After the Sigmoid only layout ops (NCHW back to the [N, 784] row-major contract).
  const tail = decoder.slice(decoder.indexOf('decoder_sigmoid.sigmoid:Sigmoid') + 1).map((n) => n.split(':')[1]);
  assert.ok(tail.every((op) => ['Reshape', 'Transpose', 'Flatten'].includes(op)), `after the Sigmoid: ${tail}`);
  const int8 = (await graph('decoder.int8')).initializer.filter((t) => t.data_type === 3).map((t) => t.name ?? '');
  assert.deepEqual(int8.filter((n) => !n.endsWith('.zero_point')), ['decoder_project.kernel.int8']);
  assert.ok((await graph('decoder.int8')).initializer.some((t) => t.name === 'decoder_deconv1.kernel' && t.data_type === 1), 'conv kernels stay float32');
});

test('the manifest says conv-vae with the conv fields, validates, and lists exactly the graphs that exist', async () => {
  const { manifest: m } = await loadModelDir(outDir);
  assert.deepEqual(m, exported.manifest);
  assert.deepEqual(m.model, { architecture: 'conv-vae', inputSize: 784, imageShape: [28, 28], channels: [32, 64], kernelSize: 4, stride: 2, hiddenSizes: [], latentSize: LATENT, beta: 1 });
  assert.deepEqual(Object.keys(m.graphs), GRAPHS);
  assert.equal(m.files.length, 4 + 3 * 3 + 3 * 2 + 4); // graphs, encoder sets, decoder sets, the standalone module and 3 weights files
  assert.deepEqual(m.files.filter((f) => f.path.endsWith('.mjs') || f.path.endsWith('.weights.bin')).map((f) => f.path).sort(),
    ['decoder.fp16.weights.bin', 'decoder.int8.weights.bin', 'decoder.mjs', 'decoder.weights.bin']);
  assert.equal(m.training.command, 'vae train --dataset mnist --arch conv --channels 32 64 --latent 64 --beta 1 --lr 0.001 --batch-size 256 --epochs 1 --seed 0 --train-limit 512 --threads 1');
  const meta = Object.fromEntries((decodeModel(await readFile(join(outDir, 'decoder.onnx'))).metadata_props ?? []).map((p) => [p.key, p.value]));
  assert.equal(meta['vae.architecture'], 'conv');
  assert.equal(meta['vae.channels'], '[32,64]');
});

test('golden data replays in onnxruntime-node within the export tolerances, as the manifest records', async (t) => {
  const report: string[] = [];
  for (const g of GRAPHS) {
    const { precision } = exported.manifest.graphs[g];
    const worst: Record<string, number> = {};
    for (const set of await readTestDataSets(join(outDir, g.split('.')[0]))) {
      const got = await runOnnx(join(outDir, `${g}.onnx`), set.inputs.map((x) => ({ name: x.name, dims: x.dims, data: x.data as Float32Array })));
      for (const want of set.outputs) worst[want.name] = Math.max(worst[want.name] ?? 0, maxAbsDiff(got[want.name], want.data));
    }
    for (const [name, err] of Object.entries(worst)) {
      assert.ok(err <= EXPORT_TOLERANCES[precision][name], `${g} ${name}: ${err} > ${EXPORT_TOLERANCES[precision][name]}`);
      assert.equal(err, exported.manifest.graphs[g].parity.maxAbsError[name]);
    }
    report.push(`${g}: ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
  }
  t.diagnostic(`max abs error vs tfjs (wasm): ${report.join('; ')}`);
});

test('loadVae runs the conv folder unchanged: encode and decode match the golden data, every precision loads', async () => {
  const [images] = await readTestDataSets(join(outDir, 'encoder'));
  const [, latents] = await readTestDataSets(join(outDir, 'decoder'));
  for (const precision of ['fp32', 'fp16', 'int8'] as const) {
    const v = await loadVae(outDir, { device: 'cpu', precision });
    try {
      const rows = latents.inputs[0].dims[0];
      const decoded = await v.decode(latents.inputs[0].data as Float32Array);
      assert.equal(decoded.count, rows);
      assert.ok(maxAbsDiff(decoded.pixels, latents.outputs[0].data) <= EXPORT_TOLERANCES[precision].x_hat, precision);
      if (precision !== 'fp32') continue;
      const encoded = await v.encode(images.inputs[0].data as Float32Array);
      assert.ok(maxAbsDiff(encoded.mu, images.outputs[0].data) <= EXPORT_TOLERANCES.fp32.mu);
      const sampled = await v.sample(3, { seed: 7 });
      assert.equal(sampled.pixels.length, 3 * 784);
      assert.ok(sampled.pixels.every((p) => p >= 0 && p <= 1));
    } finally {
      await v.dispose();
    }
  }
});

test('the vae CLI samples, encodes and verifies the conv folder, standalone rows included', async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: build first (npx turbo run build)`);
  await vae('sample', '--model', outDir, '--device', 'cpu', '--precision', 'int8', '--count', '1', '--seed', '1', '--out', 'sample.png');
  const { stdout } = await vae('encode', join(root, 'sample.png'), '--model', outDir, '--device', 'cpu', '--json');
  assert.equal(JSON.parse(stdout).images[0].mu.length, LATENT);
  const verify = await vae('verify', outDir, '--runtimes', 'node-cpu,web-node,standalone-node', '--out', join(root, 'report'), '--no-heatmaps');
  assert.match(verify.stdout, /PASS: 12 passed, 0 failed, 0 errors, 0 skipped/);
});
