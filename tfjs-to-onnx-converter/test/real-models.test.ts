/**
 * Real published models (test/upscaler.ts): UpscalerJS super-resolution nets from npm, loaded
 * from node_modules through the converter's own loader, converted, and run on onnxruntime-node
 * at two spatial sizes with one session (the input's H and W are dynamic) against tfjs cpu.
 * They exercise Conv2D, Activation, Concatenate, Add, UpSampling2D (x2, x4), uint8-quantized
 * weights, and two custom layer classes converted through registerLayerConverter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '@vae/models/onnx';
import { convertLayersModel, loadLayersModelFromDir } from '../src/index.js';
import { assertParity, countOps, uniform } from './helpers.js';
import { REAL_MODELS, modelPath, pixelShuffle, registerUpscalerLayers } from './upscaler.js';

await tf.setBackend('cpu');
registerUpscalerLayers();

/** The tolerance of `vae convert` for whole models (float32 sums over hundreds of layers). */
const ATOL = 1e-4;
const RTOL = 1e-3;

/** Worst |ort − tfjs| / (ATOL + RTOL·|tfjs|): at most 1 passes. */
function worst(actual: Float32Array, expected: Float32Array): { ratio: number; at: number } {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (ATOL + RTOL * Math.abs(expected[i]));
    if (!(r <= ratio)) { ratio = r; at = i; }
  }
  return { ratio, at };
}

const classes = (model: tf.LayersModel): string[] => [...new Set(model.layers.map((l) => l.getClassName()))].sort();

test('PixelShuffle (tf.depthToSpace NHWC) is ONNX DepthToSpace in DCR mode: it matches tfjs, CRD does not', async () => {
  const x = tf.input({ shape: [null, null, 2 * 16], name: 'x' });
  const Shuffle = pixelShuffle(4) as unknown as new (config: object) => tf.layers.Layer;
  const y = new Shuffle({ name: 'shuffle' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  assert.deepEqual(y.shape, [null, null, null, 2]);
  const result = await assertParity(model, { dynamic: [3, 5] });
  assert.equal(countOps(result, 'DepthToSpace'), 1);
  // The same graph with mode CRD reads the channels in another order: far from tfjs.
  const crd = structuredClone(result.model);
  const node = crd.graph.node.find((n) => n.op_type === 'DepthToSpace')!;
  node.attribute = node.attribute!.map((a) => (a.name === 'mode' ? { ...a, s: new TextEncoder().encode('CRD') } : a));
  const session = await ort.InferenceSession.create(encodeModel(crd));
  const data = uniform(3 * 5 * 32, 5);
  const want = (model.predict(tf.tensor(data, [1, 3, 5, 32])) as tf.Tensor).dataSync() as Float32Array;
  const got = (await session.run({ x: new ort.Tensor('float32', data, [1, 3, 5, 32]) })).shuffle.data as Float32Array;
  assert.ok(worst(got, want).ratio > 100, 'CRD disagrees with tfjs');
  await session.release();
});

for (const real of REAL_MODELS) {
  test(`${real.name} (${real.pkg}): loaded from node_modules, converted, onnxruntime agrees with tfjs at two input sizes`, async () => {
    const file = modelPath(real);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { format: string; weightsManifest: { weights: { quantization?: unknown }[] }[] };
    assert.equal(json.format, 'layers-model');
    const model = await loadLayersModelFromDir(file);
    const have = classes(model);
    for (const cls of ['Add', 'Concatenate', 'Conv2D', ...real.custom]) assert.ok(have.includes(cls), `${real.name} has ${cls}: ${have.join(', ')}`);
    assert.deepEqual(model.inputs[0].shape, [null, null, null, 3], 'H and W are dynamic');

    const result = await convertLayersModel(model);
    const [input] = result.summary.inputs;
    const [output] = result.summary.outputs;
    assert.deepEqual(input.shape, ['N', `${input.name}_dim1`, `${input.name}_dim2`, 3]);
    assert.deepEqual(output.shape.slice(1), [`${output.name}_dim1`, `${output.name}_dim2`, 3]);
    // NCHW inside: one Transpose after the image input, one before the image output.
    assert.equal(countOps(result, 'Transpose'), 2);
    for (const cls of real.custom) assert.ok(result.summary.layers.some((l) => l.className === cls), `${cls} converted`);

    // One session, two spatial sizes: the graph's H and W are symbolic. The 477-layer gans model is
    // slow on tfjs' pure-JS cpu backend, so it gets smaller images.
    const sizes = real.custom.length ? [[8, 8], [6, 10]] : [[16, 16], [12, 20]];
    const session = await ort.InferenceSession.create(result.bytes);
    for (const [k, [h, w]] of sizes.entries()) {
      const data = uniform(h * w * 3, 11 + k, 0, 1); // images in [0, 1], as UpscalerJS feeds them
      const x = tf.tensor(data, [1, h, w, 3]);
      const y = model.predict(x) as tf.Tensor;
      const want = y.dataSync() as Float32Array;
      const got = (await session.run({ [input.name]: new ort.Tensor('float32', data, [1, h, w, 3]) }))[output.name];
      assert.deepEqual(got.dims.map(Number), [1, h * real.scale, w * real.scale, 3]);
      assert.deepEqual(y.shape, [1, h * real.scale, w * real.scale, 3]);
      const { ratio, at } = worst(got.data as Float32Array, want);
      assert.ok(ratio <= 1, `${real.name} ${h}x${w}: output[${at}] onnxruntime ${(got.data as Float32Array)[at]}, tfjs ${want[at]} (beyond atol ${ATOL} + rtol ${RTOL})`);
      tf.dispose([x, y]);
    }
    await session.release();
    model.dispose();
  });
}
