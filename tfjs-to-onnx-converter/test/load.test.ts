/** model.json + weight shards on disk: the loader, quantized weights, hostile manifests, atomic writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { toFloat16Array } from '@vae/models/onnx';
import { convertLayersModel, convertToFile, loadLayersModelFromDir } from '../src/index.js';
import { assertParity, seedWeights, sequential } from './helpers.js';

const L = tf.layers;

/** What model.save hands an IOHandler: topology, weight specs and one weight buffer. */
async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; } });
  return saved!;
}

type Quantize = 'uint8' | 'float16' | undefined;

/** Stored bytes of one weight, quantized as tfjs' converter would (uint8: value = q·scale + min). */
function storeWeight(spec: tf.io.WeightsManifestEntry, values: Float32Array, quantize: Quantize): Uint8Array {
  if (quantize === 'float16') {
    spec.quantization = { dtype: 'float16' };
    return new Uint8Array(toFloat16Array(values).buffer);
  }
  if (quantize === 'uint8') {
    const min = Math.min(...values);
    const scale = (Math.max(...values) - min) / 255 || 1;
    spec.quantization = { dtype: 'uint8', min, scale };
    return Uint8Array.from(values, (v) => Math.round((v - min) / scale));
  }
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/** Writes model.json and its weights split into two shards; returns the folder. */
async function saveToDir(model: tf.LayersModel, quantize?: Quantize, edit?: (json: tf.io.ModelJSON) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tfjs2onnx-'));
  const a = await artifactsOf(model);
  const data = new Float32Array(a.weightData as ArrayBuffer);
  const specs = a.weightSpecs!.map((s) => ({ ...s }));
  let offset = 0;
  const parts = specs.map((spec) => {
    const n = spec.shape.reduce((x, y) => x * y, 1);
    const bytes = storeWeight(spec, data.subarray(offset, offset + n), quantize);
    offset += n;
    return bytes;
  });
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => { all.set(p, at); return at + p.length; }, 0);
  const half = Math.floor(all.length / 2);
  await mkdir(join(dir, 'weights'));
  await writeFile(join(dir, 'weights', 'shard1.bin'), all.subarray(0, half));
  await writeFile(join(dir, 'weights', 'shard2.bin'), all.subarray(half));
  const json: tf.io.ModelJSON = {
    modelTopology: a.modelTopology as object, format: 'layers-model', generatedBy: 'test', convertedBy: null,
    weightsManifest: [{ paths: ['weights/shard1.bin', 'weights/shard2.bin'], weights: specs }],
  };
  edit?.(json);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

const convNet = () => sequential([6, 6, 2], [
  L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), L.batchNormalization(), L.flatten(), L.dense({ units: 4, activation: 'softmax' }),
]);

test('a model saved as model.json + two shards loads back and converts from its path', async () => {
  const model = convNet();
  seedWeights(model, 5);
  const dir = await saveToDir(model);
  try {
    const loaded = await loadLayersModelFromDir(dir);
    loaded.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), model.weights[i].read().dataSync(), w.name));
    await assertParity(loaded, { seed: 0 });
    const fromPath = await convertLayersModel(join(dir, 'model.json'));
    assert.deepEqual(fromPath.summary.ops, (await convertLayersModel(loaded)).summary.ops);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('tfjs ModelArtifacts (what a save handler receives) convert directly', async () => {
  const model = convNet();
  seedWeights(model, 8);
  const fromArtifacts = await convertLayersModel(await artifactsOf(model));
  const direct = await convertLayersModel(model);
  assert.deepEqual(fromArtifacts.model.graph.initializer.map((t) => t.raw_data), direct.model.graph.initializer.map((t) => t.raw_data));
  assert.deepEqual(fromArtifacts.summary.ops, direct.summary.ops);
});

for (const quantize of ['uint8', 'float16'] as const) {
  test(`${quantize}-quantized weights are dequantized by tfjs' decoder and convert`, async () => {
    const model = convNet();
    seedWeights(model, 6);
    const dir = await saveToDir(model, quantize);
    try {
      const loaded = await loadLayersModelFromDir(dir);
      const tolerance = quantize === 'uint8' ? 2 / 255 : 1e-3;
      loaded.weights.forEach((w, i) => {
        const got = w.read().dataSync();
        const want = model.weights[i].read().dataSync();
        got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) <= tolerance * Math.max(1, Math.abs(want[k])), `${w.name}[${k}]`));
      });
      await assertParity(loaded, { seed: 0 });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
}

test('shard paths that leave the model folder are rejected, naming the file and field', async () => {
  const model = convNet();
  for (const path of ['../outside.bin', '/etc/passwd', 'weights/../../x.bin']) {
    const dir = await saveToDir(model, undefined, (json) => { json.weightsManifest[0].paths[1] = path; });
    try {
      await assert.rejects(loadLayersModelFromDir(dir), new RegExp(`^Error: model\\.json: weightsManifest\\[0\\]\\.paths\\[1\\] = "${path.replace(/[./]/g, '\\$&')}" leaves the model folder`));
    } finally {
      await rm(dir, { recursive: true });
    }
  }
});

test('a shard that is a symlink out of the model folder is rejected', async () => {
  const outside = await mkdtemp(join(tmpdir(), 'tfjs2onnx-outside-'));
  const dir = await saveToDir(convNet(), undefined, (json) => { json.weightsManifest[0].paths[0] = 'weights/link.bin'; });
  try {
    await writeFile(join(outside, 'secret.bin'), new Uint8Array(8));
    await symlink(join(outside, 'secret.bin'), join(dir, 'weights', 'link.bin'));
    await assert.rejects(loadLayersModelFromDir(dir), /model\.json: weightsManifest\[0\]\.paths\[0\] = "weights\/link\.bin" resolves to .*secret\.bin, outside the model folder/);
  } finally {
    await rm(dir, { recursive: true });
    await rm(outside, { recursive: true });
  }
});

test('shards of the wrong size and missing shards are rejected', async () => {
  const model = convNet();
  const short = await saveToDir(model, undefined, (json) => { json.weightsManifest[0].weights[0].shape = [3, 3, 2, 4]; });
  const missing = await saveToDir(model, undefined, (json) => { json.weightsManifest[0].paths[0] = 'weights/nope.bin'; });
  try {
    await assert.rejects(loadLayersModelFromDir(short), /model\.json: weightsManifest\[0\]: shards weights\/shard1\.bin, weights\/shard2\.bin hold 1060 bytes, its 8 weights need 1132/);
    await assert.rejects(loadLayersModelFromDir(missing), /model\.json: weightsManifest\[0\]\.paths\[0\] = "weights\/nope\.bin": ENOENT/);
  } finally {
    await rm(short, { recursive: true });
    await rm(missing, { recursive: true });
  }
});

test('convertToFile writes the .onnx atomically and writes nothing when conversion fails', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tfjs2onnx-out-'));
  try {
    await convertToFile(convNet(), join(dir, 'ok.onnx'));
    class Mystery extends tf.layers.Layer { static readonly className = 'Mystery'; }
    tf.serialization.registerClass(Mystery);
    await assert.rejects(convertToFile(sequential([3], [new Mystery({})]), join(dir, 'bad.onnx')), /no converter for layer class "Mystery"/);
    assert.deepEqual(await readdir(dir), ['ok.onnx']);
  } finally {
    await rm(dir, { recursive: true });
  }
});
