/**
 * End to end: train a short run, export it, then check what a user of the model directory
 * relies on — onnx.checker (full_check), onnxruntime-node parity with tfjs on every golden
 * set, the manifest and its checksums, metadata, overwrite rules and `vae export` (spawned as pipeline/dist/cli.js).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { disposeVae, encode, loadTrainedModel, train } from '@vae/train';
import { loadModelDir, type Manifest } from '@vae/models/node';
import { EXPORT_TOLERANCES as TOLERANCES } from '@vae/models';
import { exportRun, type ExportResult } from '../src/export.js';
import { decodeModel, readTestDataSets } from '@vae/models/onnx';
import { maxAbsDiff, runOnnx } from '../src/verify.js';
import { OutputExistsError } from '../src/atomic-dir.js';
import { assertOnnxCheckerPasses } from './helpers.js';

const LATENT = 3;
const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'pipeline', 'dist', 'cli.js');
const GRAPHS = ['encoder', 'decoder', 'decoder.fp16', 'decoder.int8'];
let root: string;
let runDir: string;
let outDir: string;
let exported: ExportResult;
const steps: string[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vae-export-'));
  runDir = join(root, 'run');
  outDir = join(root, 'model');
  await train({ outDir: runDir, latentSize: LATENT, epochs: 2, trainLimit: 2048, backend: 'auto' });
  exported = await exportRun({ runDir, outDir, command: 'vae export run --out model', onStep: (l) => steps.push(l) });
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

test('the model directory has the documented layout and one progress line per step', async () => {
  const top = (await readdir(outDir)).sort();
  assert.deepEqual(top, ['decoder', 'decoder.fp16.onnx', 'decoder.fp16.weights.bin', 'decoder.int8.onnx', 'decoder.int8.weights.bin', 'decoder.mjs', 'decoder.onnx', 'decoder.weights.bin', 'encoder', 'encoder.onnx', 'manifest.json']);
  for (const role of ['encoder', 'decoder']) {
    assert.deepEqual((await readdir(join(outDir, role))).sort(), ['test_data_set_0', 'test_data_set_1', 'test_data_set_2']);
  }
  assert.deepEqual((await readdir(join(outDir, 'encoder/test_data_set_0'))).sort(), ['input_0.pb', 'output_0.pb', 'output_1.pb']);
  assert.deepEqual((await readdir(join(outDir, 'decoder/test_data_set_0'))).sort(), ['input_0.pb', 'output_0.pb']);
  assert.equal(steps.length, 10);
  steps.forEach((line, i) => assert.match(line, new RegExp(`^\\[${i + 1}/10\\] `)));
  assert.match(steps[7], /standalone decoder: decoder\.mjs [\d.]+ KiB, decoder\.weights\.bin/);
  assert.ok(!(await readdir(root)).some((f) => f.startsWith('.')), 'no temporary folder is left');
});

test('every graph passes onnx.checker.check_model(full_check=True)', () => {
  const version = assertOnnxCheckerPasses(GRAPHS.map((g) => join(outDir, `${g}.onnx`)));
  assert.match(exported.manifest.provenance.onnxChecker, new RegExp(`onnx ${version.replace(/\./g, '\\.')}: check_model\\(full_check=True\\) passed`));
});

test('onnxruntime-node loads every graph with the contract\'s I/O names', async () => {
  for (const g of GRAPHS) {
    const session = await ort.InferenceSession.create(join(outDir, `${g}.onnx`));
    const io = g === 'encoder' ? [['x'], ['mu', 'logvar']] : [['z'], ['x_hat']];
    assert.deepEqual([session.inputNames, session.outputNames], io, g);
    await session.release();
  }
});

test('golden data replays in onnxruntime-node within the bounds (read generically from test_data_set_*)', async (t) => {
  const report: string[] = [];
  for (const g of GRAPHS) {
    const role = g.split('.')[0];
    const precision = exported.manifest.graphs[g].precision;
    const sets = await readTestDataSets(join(outDir, role));
    assert.equal(sets.length, 3);
    const worst: Record<string, number> = {};
    for (const set of sets) {
      const got = await runOnnx(join(outDir, `${g}.onnx`), set.inputs.map((x) => ({ name: x.name, dims: x.dims, data: x.data as Float32Array })));
      for (const want of set.outputs) {
        assert.deepEqual(want.dims, [set.inputs[0].dims[0], want.name === 'x_hat' ? 784 : LATENT]);
        worst[want.name] = Math.max(worst[want.name] ?? 0, maxAbsDiff(got[want.name], want.data));
      }
    }
    for (const [name, err] of Object.entries(worst)) {
      assert.ok(err <= TOLERANCES[precision][name], `${g} ${name}: ${err} > ${TOLERANCES[precision][name]}`);
      assert.equal(err, exported.manifest.graphs[g].parity.maxAbsError[name], 'the manifest records the measured error');
    }
    report.push(`${g}: ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
  }
  // The contract's bounds for the float32 graphs.
  assert.ok(exported.parity.encoder.max.mu <= 1e-4 && exported.parity.encoder.max.logvar <= 1e-4);
  assert.ok(exported.parity.decoder.max.x_hat <= 1e-5);
  t.diagnostic(`max abs error vs tfjs: ${report.join('; ')}`);
});

test('golden outputs are the tfjs model\'s own outputs, and the inputs include the edge values', async () => {
  const [images] = await readTestDataSets(join(outDir, 'encoder'));
  const { model } = await loadTrainedModel(runDir);
  try {
    const x = tf.tensor2d(images.inputs[0].data as Float32Array, images.inputs[0].dims as [number, number]);
    const { mu, logvar } = encode(model, x);
    assert.ok(maxAbsDiff(await mu.data(), images.outputs[0].data) <= 1e-6);
    assert.ok(maxAbsDiff(await logvar.data(), images.outputs[1].data) <= 1e-6);
    tf.dispose([x, mu, logvar]);
  } finally {
    disposeVae(model);
  }
  const [edges] = await readTestDataSets(join(outDir, 'decoder'));
  const z = edges.inputs[0].data;
  for (const v of [0, 5, -5]) assert.ok(Array.from(z).includes(v), `latent value ${v}`);
  assert.deepEqual(Array.from(z.subarray(LATENT, 2 * LATENT)), [5, 5, 5]);
});

test('metadata_props carry latent size, beta, hidden sizes, dataset, metrics, config and producer', async () => {
  for (const g of GRAPHS) {
    const m = decodeModel(await readFile(join(outDir, `${g}.onnx`)));
    const meta = Object.fromEntries((m.metadata_props ?? []).map((p) => [p.key, p.value]));
    assert.equal(meta['vae.latent_size'], String(LATENT));
    assert.equal(meta['vae.beta'], '1');
    assert.equal(meta['vae.hidden_sizes'], '[256,256]');
    assert.equal(meta['vae.dataset'], 'mnist');
    assert.match(JSON.parse(meta['vae.dataset_sha256']).testImages, /^[0-9a-f]{64}$/);
    assert.ok(JSON.parse(meta['vae.test_metrics']).total > 0);
    assert.equal(JSON.parse(meta['vae.training_config']).model.latentSize, LATENT);
    assert.equal(meta['vae.precision'], exported.manifest.graphs[g].precision);
    assert.match(meta['vae.producer'], /^@vae\/export \d+\.\d+\.\d+$/);
    assert.equal(m.producer_name, '@vae/export');
    assert.equal(m.ir_version, 8);
    assert.deepEqual(m.opset_import, [{ domain: '', version: 17 }]);
  }
});

test('the manifest validates, lists every file with its checksum, and records provenance', async () => {
  const loaded = await loadModelDir(outDir);
  const m: Manifest = loaded.manifest;
  assert.deepEqual(m, exported.manifest);
  assert.deepEqual(Object.keys(m.graphs), GRAPHS);
  assert.equal(m.files.length, 4 + 3 * 3 + 3 * 2 + 4); // graphs, encoder sets, decoder sets, standalone module + 3 weights
  for (const f of m.files) assert.equal(f.sha256, await sha256(join(outDir, f.path)));
  assert.equal(m.model.latentSize, LATENT);
  assert.deepEqual(m.preprocessing.range, [0, 1]);
  assert.equal(m.metrics.epochs, 2);
  assert.match(m.provenance.commit, /^([0-9a-f]{40}|unknown)$/);
  assert.equal(m.provenance.command, 'vae export run --out model');
  assert.equal(m.provenance.epochs, 2);
  assert.match(m.provenance.backend, /^(wasm|tensorflow|cpu)/);
  assert.equal(m.training.command, `vae train --dataset mnist --latent ${LATENT} --hidden 256 256 --beta 1 --lr 0.0001 --batch-size 256 --epochs 2 --seed 0 --train-limit 2048 --threads 2`);
  const sizes = Object.fromEntries(GRAPHS.map((g) => [g, m.graphs[g].bytes]));
  assert.ok(sizes['decoder.fp16'] < 0.52 * sizes.decoder && sizes['decoder.int8'] < 0.28 * sizes.decoder, JSON.stringify(sizes));
});

test('a tampered file is caught by the loader, naming the file', async () => {
  const copy = join(root, 'tampered');
  await cp(outDir, copy, { recursive: true });
  const path = join(copy, 'decoder.int8.onnx');
  const bytes = await readFile(path);
  bytes[bytes.length - 10] ^= 0xff;
  await writeFile(path, bytes);
  await assert.rejects(loadModelDir(copy), /decoder\.int8\.onnx: SHA-256 mismatch/);
  await writeFile(path, bytes.subarray(1));
  await assert.rejects(loadModelDir(copy), /decoder\.int8\.onnx: size mismatch/);
  await rm(copy, { recursive: true });
});

test('export refuses to overwrite without --force; vae export --force replaces the directory', async () => {
  const before = await sha256(join(outDir, 'manifest.json'));
  await assert.rejects(exportRun({ runDir, outDir }), OutputExistsError);
  assert.equal(await sha256(join(outDir, 'manifest.json')), before, 'the refused export changed nothing');

  // The `vae` binary (pipeline, built first: npx turbo run build) holds the command.
  assert.ok(existsSync(CLI), `${CLI} is missing: build first (npx turbo run build)`);
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'export', runDir, '--out', outDir, '--force'], { encoding: 'utf8' });
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines.join('\n'), /\[10\/10\] wrote /);
  assert.match(lines.at(-1)!, /^done in [\d.]+ s: encoder\.onnx \(\d+ bytes\)/);
  const again = (await loadModelDir(outDir)).manifest;
  assert.equal(again.provenance.command, `vae export ${runDir} --out ${outDir} --force`);
  // Graphs are a deterministic function of the run: re-exporting gives the same bytes.
  for (const g of GRAPHS) assert.equal(again.files.find((f) => f.path === `${g}.onnx`)!.sha256, exported.manifest.files.find((f) => f.path === `${g}.onnx`)!.sha256);
  assert.ok(!(await readdir(root)).some((f) => f.startsWith('.')), 'no temporary or backup folder is left');
});

test('refusals: --force on a folder that is not a model, output containing the run, unfinished run', async () => {
  const other = join(root, 'not-a-model');
  await cp(runDir, join(other, 'keep'), { recursive: true });
  await assert.rejects(exportRun({ runDir, outDir: other, force: true }), /is not a model directory \(no manifest\.json\): --force only replaces a previous export/);
  assert.ok(existsSync(join(other, 'keep', 'checkpoint.bin')));
  await assert.rejects(exportRun({ runDir, outDir: runDir, force: true }), /would contain the run directory/);
  await assert.rejects(exportRun({ runDir, outDir: root, force: true }), /would contain the run directory/);
  const unfinished = join(root, 'unfinished');
  await cp(runDir, unfinished, { recursive: true });
  await rm(join(unfinished, 'metrics.json'));
  await assert.rejects(exportRun({ runDir: unfinished, outDir: join(root, 'x') }), /unfinished[\\/]metrics\.json is missing: the run has not finished \(continue it with vae train --resume --out /);
  await rm(join(unfinished, 'config.json'));
  await assert.rejects(exportRun({ runDir: unfinished, outDir: join(root, 'x') }), /config\.json is missing: .* is not a run directory written by vae train/);
  await assert.rejects(exportRun({ runDir: join(root, 'nope'), outDir: join(root, 'x') }), /run directory .*nope does not exist/);
  assert.ok(!existsSync(join(root, 'x')));
});

test('--no-variants writes only the float32 encoder and decoder', async () => {
  const out = join(root, 'plain');
  const r = await exportRun({ runDir, outDir: out, variants: false, name: 'plain-model' });
  assert.deepEqual(Object.keys(r.manifest.graphs), ['encoder', 'decoder']);
  assert.equal((await loadModelDir(out)).manifest.name, 'plain-model');
  assert.ok(!existsSync(join(out, 'decoder.fp16.onnx')));
});
