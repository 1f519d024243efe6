/**
 * The check a tool runs after converting (`vae convert` is these calls plus printing): golden
 * data computed by tfjs, onnxruntime replaying it, the output folder written whole; and loading
 * a custom-layer module (the PixelShuffle example) with errors that name the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { encodeModel, readTestDataSets } from '@vae/models/onnx';
import {
  compareWithOnnxruntime, convertLayersModel, goldenData, GoldenDataError, loadCustomLayers, supportedLayers, writeConversionDir,
} from '../src/index.js';
import { seedWeights } from './helpers.js';

const L = tf.layers;
const EXAMPLE = fileURLToPath(new URL('../examples/pixel-shuffle.mjs', import.meta.url));

function imageNet(): tf.LayersModel {
  const x = tf.input({ shape: [null, 4, 2], name: 'img' });
  const model = tf.model({ inputs: x, outputs: L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(x) as tf.SymbolicTensor });
  seedWeights(model, 2);
  return model;
}

test('golden data in the graph layout; onnxruntime agrees; a changed graph does not; dims are checked', async () => {
  const model = imageNet();
  const result = await convertLayersModel(model, { nchwIo: true });
  assert.throws(() => goldenData(model, result, { nchwIo: true }), (err: Error) => err instanceof GoldenDataError && err.dim === 'img_dim2');
  assert.throws(() => goldenData(model, result, { nchwIo: true, dims: { img_dim2: 5, nope: 1 } }), /nope: no such dynamic dim \(the model's: img_dim2\)/);
  const golden = goldenData(model, result, { nchwIo: true, dims: { img_dim2: 5 }, batch: 3, seed: 4 });
  assert.deepEqual(golden.inputs.map((t) => [t.name, t.dims]), [['img', [3, 2, 5, 4]]]);
  assert.deepEqual(golden.outputs.map((t) => [t.name, t.dims]), [['conv', [3, 3, 5, 4]]]);
  assert.deepEqual(await compareWithOnnxruntime(result.bytes, golden).then((p) => p.failures), 0);

  const changed = structuredClone(result.model);
  changed.graph.initializer[0] = { ...changed.graph.initializer[0], raw_data: new Uint8Array(changed.graph.initializer[0].raw_data!.length) };
  const parity = await compareWithOnnxruntime(encodeModel(changed), golden);
  assert.ok(parity.failures > 0 && parity.maxAbs > 1e-2 && parity.worst === 'conv');

  const dir = await mkdtemp(join(tmpdir(), 'converter-check-'));
  try {
    const out = join(dir, 'out');
    await writeFile(join(dir, 'placeholder'), '');
    for (let k = 0; k < 2; k++) {
      const files = await writeConversionDir(out, result.bytes, golden, 'test set');
      assert.deepEqual(files, ['model.onnx', 'test_data_set_0/input_0.pb', 'test_data_set_0/output_0.pb']);
    }
    assert.deepEqual((await readdir(dir)).sort(), ['out', 'placeholder'], 'no temporary folder is left');
    const [set] = await readTestDataSets(out);
    assert.deepEqual(set.outputs[0].data, golden.outputs[0].data);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a custom-layer module: the example registers PixelShuffle with the tool\'s tfjs and the converter', async () => {
  assert.deepEqual(await loadCustomLayers(EXAMPLE), ['PixelShuffle']);
  assert.equal(supportedLayers().find((l) => l.className === 'PixelShuffle')?.builtIn, false);
  // The class as tfjs now knows it (what loading a model.json with a PixelShuffle layer uses).
  const [PixelShuffle] = tf.serialization.SerializationMap.getMap().classNameMap.PixelShuffle as unknown as [new (config: object) => tf.layers.Layer];
  const model = tf.sequential({ layers: [L.inputLayer({ inputShape: [2, 3, 8] }), new PixelShuffle({ scale: 2 })] });
  const result = await convertLayersModel(model);
  assert.deepEqual(result.model.graph.node.map((n) => n.op_type), ['Transpose', 'DepthToSpace', 'Transpose']);
  const golden = goldenData(model, result);
  assert.equal((await compareWithOnnxruntime(result.bytes, golden)).failures, 0);
});

test('custom-layer module errors name the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'converter-custom-'));
  try {
    await assert.rejects(loadCustomLayers(join(dir, 'gone.mjs')), /custom-layer module .*gone\.mjs: no such file/);
    await writeFile(join(dir, 'broken.mjs'), 'export default function (', 'utf8');
    await assert.rejects(loadCustomLayers(join(dir, 'broken.mjs')), /custom-layer module .*broken\.mjs: cannot import it/);
    await writeFile(join(dir, 'throws.mjs'), 'export default function () { throw new Error("no tfjs here"); }', 'utf8');
    await assert.rejects(loadCustomLayers(join(dir, 'throws.mjs')), /throws\.mjs: its register function failed: no tfjs here/);
    await writeFile(join(dir, 'empty.mjs'), 'export const x = 1;', 'utf8');
    await assert.rejects(loadCustomLayers(join(dir, 'empty.mjs')), /empty\.mjs: registered no layer converter/);
  } finally {
    await rm(dir, { recursive: true });
  }
});
