/** Functional graphs, layout at the boundaries, errors, the custom-layer hook and the ONNX metadata. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { decodeModel } from '@vae/models/onnx';
import { convertLayersModel, registerLayerConverter, supportedLayers } from '../src/index.js';
import { ConversionError, unsupported } from '../src/context.js';
import * as ort from 'onnxruntime-node';
import { assertClose, assertParity, countOps, seedWeights, sequential, uniform } from './helpers.js';

const L = tf.layers;

/** Two image inputs, a shared conv, every merge layer, two outputs (image and vector). */
function twoTowers(): tf.LayersModel {
  const a = tf.input({ shape: [6, 6, 3], name: 'left' });
  const b = tf.input({ shape: [6, 6, 3], name: 'right' });
  const shared = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'shared_conv' });
  const fa = shared.apply(a) as tf.SymbolicTensor;
  const fb = shared.apply(b) as tf.SymbolicTensor;
  const merged = [L.add(), L.multiply(), L.average(), L.maximum(), L.minimum()].map((m) => m.apply([fa, fb]) as tf.SymbolicTensor);
  const cat = L.concatenate({ axis: -1 }).apply(merged) as tf.SymbolicTensor;
  const image = L.conv2d({ filters: 2, kernelSize: 1, name: 'image_out' }).apply(cat) as tf.SymbolicTensor;
  const vector = L.dense({ units: 3, name: 'vector_out' }).apply(L.flatten().apply(L.maxPooling2d({ poolSize: 2 }).apply(cat))) as tf.SymbolicTensor;
  return tf.model({ inputs: [a, b], outputs: [image, vector] });
}

test('functional graph: two inputs, a shared layer (two inbound nodes), all merges, Concatenate on the channel axis, two outputs', async () => {
  const result = await assertParity(twoTowers());
  assert.deepEqual(result.summary.inputs.map((i) => i.name), ['left', 'right']);
  assert.deepEqual(result.summary.outputs, [{ name: 'image_out', shape: ['N', 6, 6, 2] }, { name: 'vector_out', shape: ['N', 3] }]);
  assert.equal(countOps(result, 'Conv'), 3, 'the shared conv is converted once per call');
  // One Transpose per image input and one for the image output; the Flatten order is folded into Dense.
  assert.equal(countOps(result, 'Transpose'), 3);
  assert.deepEqual(result.model.graph.node.find((n) => n.op_type === 'Concat')?.attribute, [{ name: 'axis', type: 2, i: 1 }]);
});

test('a conv net has at most one Transpose per image input and output; none with nchwIo', async () => {
  const net = () => sequential([8, 8, 1], [
    L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), L.batchNormalization(), L.maxPooling2d({ poolSize: 2 }),
    L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }), L.upSampling2d({ size: [2, 2] }), L.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
  ]);
  assert.equal(countOps(await assertParity(net()), 'Transpose'), 2);
  const nchw = await assertParity(net(), { nchwIo: true });
  assert.equal(countOps(nchw, 'Transpose'), 0);
  assert.deepEqual(nchw.summary.inputs[0].shape, ['N', 1, 8, 8]);
  const encoder = () => sequential([8, 8, 1], [L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), L.globalAveragePooling2d({}), L.dense({ units: 2 })]);
  assert.equal(countOps(await assertParity(encoder()), 'Transpose'), 1);
  assert.equal(countOps(await assertParity(encoder(), { nchwIo: true }), 'Transpose'), 0);
});

test('a nested Sequential used as a layer is inlined', async () => {
  const inner = sequential([5], [L.dense({ units: 4, activation: 'relu', name: 'inner_dense' }), L.dense({ units: 3, name: 'inner_head' })]);
  const x = tf.input({ shape: [5], name: 'x' });
  const y = L.dense({ units: 2, name: 'outer_dense' }).apply(inner.apply(x)) as tf.SymbolicTensor;
  const result = await assertParity(tf.model({ inputs: x, outputs: y }));
  assert.deepEqual(result.summary.layers.map((l) => l.name), ['inner_dense', 'inner_head', 'outer_dense']);
});

test('the same tensor as two outputs, and an input passed straight to an output', async () => {
  const x = tf.input({ shape: [4], name: 'x' });
  const h = L.dense({ units: 3, name: 'h' }).apply(x) as tf.SymbolicTensor;
  const single = tf.model({ inputs: x, outputs: h });
  await assertParity(single);
  // tfjs cannot predict a model listing one tensor twice, or an input as an output: compare with `single`.
  const result = await convertLayersModel(tf.model({ inputs: x, outputs: [h, h, x] }));
  assert.deepEqual(result.model.graph.output.map((o) => o.name), ['h', 'h_1', 'x_1']);
  const session = await ort.InferenceSession.create(result.bytes);
  const input = uniform(8, 3);
  const got = await session.run({ x: new ort.Tensor('float32', input, [2, 4]) });
  const want = tf.tidy(() => (single.predict(tf.tensor(input, [2, 4])) as tf.Tensor).dataSync() as Float32Array);
  assertClose(got.h.data as Float32Array, want, 'h');
  assertClose(got.h_1.data as Float32Array, want, 'h_1');
  assertClose(got.x_1.data as Float32Array, input, 'x_1');
  await session.release();
});

test('ModelProto: opset, producer, metadata naming the source, dynamic batch and spatial dims, node names from layers', async () => {
  const model = sequential([null, null, 2], [L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'c1' }), L.globalMaxPooling2d({ name: 'gp' })]);
  const result = await assertParity(model, { dynamic: [5, 7], opset: 18 });
  const m = decodeModel(result.bytes);
  assert.deepEqual(m.opset_import, [{ domain: '', version: 18 }]);
  assert.equal(m.ir_version, 8);
  assert.equal(m.producer_name, 'tfjs-to-onnx-converter');
  const meta = Object.fromEntries((m.metadata_props ?? []).map((p) => [p.key, p.value]));
  assert.equal(meta['source'], 'tensorflow.js LayersModel');
  assert.equal(meta['source.layer_classes'], 'Conv2D,GlobalMaxPooling2D');
  assert.equal(meta['source.tfjs_version'], tf.version.tfjs);
  assert.deepEqual(m.graph.input[0].type.tensor_type.shape.dim, [{ dim_param: 'N' }, { dim_param: `${m.graph.input[0].name}_dim1` }, { dim_param: `${m.graph.input[0].name}_dim2` }, { dim_value: 2 }]);
  assert.ok(m.graph.node.some((n) => n.name === 'c1/Conv'));
  assert.deepEqual(result.summary.layers.find((l) => l.name === 'c1')?.nodes, ['c1/Conv']);
  assert.equal((await convertLayersModel(model)).model.opset_import[0].version, 17, 'opset 17 by default');
});

test('an unknown layer is an error naming the layer, its class and how to register a converter', async () => {
  class Doubler extends tf.layers.Layer {
    static readonly className = 'Doubler';
    override call(x: tf.Tensor | tf.Tensor[]): tf.Tensor { return tf.mul(Array.isArray(x) ? x[0] : x, 2); }
  }
  tf.serialization.registerClass(Doubler);
  const model = () => sequential([3], [L.dense({ units: 2 }), new Doubler({ name: 'twice' })]);
  await assert.rejects(convertLayersModel(model()), (err: Error) => {
    assert.ok(err instanceof ConversionError);
    assert.match(err.message, /^layer "twice" \(Doubler\): no converter for layer class "Doubler"; register one with registerLayerConverter\('Doubler', /);
    return true;
  });
  // The hook: a custom converter, then the same model converts and agrees with tfjs.
  registerLayerConverter('Doubler', (call, ctx) => {
    const [x] = call.inputs;
    return { ...x, name: ctx.op(call.layer.name, 'Mul', [x.name, ctx.floatConst(`${call.layer.name}/two`, [], Float32Array.of(2))]) };
  }, 'Mul by 2 (test)');
  await assertParity(model());
  assert.deepEqual(supportedLayers().find((l) => l.className === 'Doubler'), { className: 'Doubler', notes: 'Mul by 2 (test)', builtIn: false });
});

test('an unsupported option names the layer and the option', async () => {
  const model = sequential([4, 4, 2], [L.conv2dTranspose({ filters: 1, kernelSize: 2, dilationRate: 2, name: 'up' })]);
  await assert.rejects(convertLayersModel(model), /^ConversionError: layer "up" \(Conv2DTranspose\): unsupported dilationRate=\[2,2\] \(supported: 1\)$/);
  const ln = sequential([3, 4], [L.layerNormalization({ axis: 1, name: 'ln' })]);
  await assert.rejects(convertLayersModel(ln), /layer "ln" \(LayerNormalization\): unsupported axis=\[1\] \(supported: trailing axes\)/);
  await assert.rejects(convertLayersModel(sequential([3], [L.dense({ units: 1 })]), { opset: 11 }), /opset 11 is not supported \(13 to 21; default 17\)/);
  assert.equal(typeof unsupported, 'function');
});

test('a Flatten in NCHW order feeding Dense and Concatenate: Dense folds it, Concatenate gets it materialized', async () => {
  const x = tf.input({ shape: [5, 4, 2], name: 'x' });
  const v = tf.input({ shape: [3], name: 'v' });
  const flat = L.flatten().apply(L.conv2d({ filters: 3, kernelSize: 2 }).apply(x)) as tf.SymbolicTensor;
  const dense = L.dense({ units: 2 }).apply(flat) as tf.SymbolicTensor;
  const cat = L.concatenate().apply([flat, v]) as tf.SymbolicTensor;
  const result = await assertParity(tf.model({ inputs: [x, v], outputs: [dense, cat] }));
  // The input's Transpose and the one materializing tfjs' flatten order for Concatenate.
  assert.equal(countOps(result, 'Transpose'), 2);
});

test('merging inputs of different ranks: tfjs inserts axes after the batch axis, so does the converter', async () => {
  const a = tf.input({ shape: [3, 4], name: 'a' });
  const c = tf.input({ shape: [4], name: 'c' });
  const result = await assertParity(tf.model({ inputs: [a, c], outputs: L.add({ name: 'mix' }).apply([a, c]) as tf.SymbolicTensor }));
  assert.equal(countOps(result, 'Unsqueeze'), 1);
});

test('BatchNormalization on axis 1 is per channel (checked against the formula: tfjs 4.22 cpu applies it cyclically there)', async () => {
  const model = sequential([3, 4, 5], [L.batchNormalization({ axis: 1, epsilon: 0.01, name: 'bn' })]);
  seedWeights(model, 4);
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((k) =>
    model.getLayer('bn').weights.find((w) => w.name.includes(k))!.read().reshape([1, 3, 1, 1]));
  const input = uniform(2 * 3 * 4 * 5, 9);
  const x = tf.tensor(input, [2, 3, 4, 5]);
  const want = tf.tidy(() => x.sub(mean).div(variance.add(0.01).sqrt()).mul(gamma).add(beta).dataSync() as Float32Array);
  const session = await ort.InferenceSession.create((await convertLayersModel(model)).bytes);
  const got = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [2, 3, 4, 5]) });
  assertClose(got[session.outputNames[0]].data as Float32Array, want, 'bn');
  await session.release();
});

test('Embedding: float or int32 indices gather rows as tfjs does', async () => {
  for (const dtype of ['float32', 'int32'] as const) {
    const ids = tf.input({ shape: [5], dtype, name: 'ids' });
    const model = tf.model({ inputs: ids, outputs: L.dense({ units: 2 }).apply(L.embedding({ inputDim: 7, outputDim: 3 }).apply(ids)) as tf.SymbolicTensor });
    seedWeights(model, 2);
    const values = [0, 6, 3, 3, 1, 5, 2, 4, 0, 6];
    const result = await convertLayersModel(model);
    const session = await ort.InferenceSession.create(result.bytes);
    const feed = dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
    const got = await session.run({ ids: new ort.Tensor(dtype, feed, [2, 5]) });
    const want = tf.tidy(() => (model.predict(tf.tensor(values, [2, 5], dtype)) as tf.Tensor).dataSync() as Float32Array);
    assertClose(got[session.outputNames[0]].data as Float32Array, want, `embedding (${dtype} ids)`);
    await session.release();
  }
});

test('a functional model nested twice (shared) is inlined once per call', async () => {
  const u = tf.input({ shape: [4] });
  const block = tf.model({ inputs: u, outputs: L.dense({ units: 4, activation: 'tanh', name: 'block_dense' }).apply(u) as tf.SymbolicTensor, name: 'block' });
  const x = tf.input({ shape: [4], name: 'x' });
  const y = block.apply(block.apply(x)) as tf.SymbolicTensor;
  const result = await assertParity(tf.model({ inputs: x, outputs: y }));
  assert.equal(countOps(result, 'Gemm'), 2);
});

test('a Dense → Reshape → Conv2DTranspose → Conv2D decoder: the Reshape gives NCHW directly (kernel columns permuted)', async () => {
  const decoder = () => sequential([6], [
    L.dense({ units: 3 * 4 * 5, activation: 'relu' }), L.reshape({ targetShape: [3, 4, 5] }),
    L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
    L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
  ]);
  assert.equal(countOps(await assertParity(decoder()), 'Transpose'), 1, 'only the image output');
  assert.equal(countOps(await assertParity(decoder(), { nchwIo: true }), 'Transpose'), 0);
  // Both folds on one Dense: its rows take an NCHW Flatten's order, its columns the Reshape's.
  const autoencoder = () => sequential([6, 6, 2], [
    L.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }), L.flatten(), L.dense({ units: 2 * 3 * 3 }),
    L.reshape({ targetShape: [3, 3, 2] }), L.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same' }),
  ]);
  assert.equal(countOps(await assertParity(autoencoder()), 'Transpose'), 2, 'the image input and output only');
  // Another consumer of the folded Dense (here a second output) gets tfjs' order back.
  const x = tf.input({ shape: [6] });
  const h = L.dense({ units: 2 * 3 * 4 }).apply(x) as tf.SymbolicTensor;
  const img = L.conv2d({ filters: 2, kernelSize: 1 }).apply(L.reshape({ targetShape: [2, 3, 4] }).apply(h)) as tf.SymbolicTensor;
  await assertParity(tf.model({ inputs: x, outputs: [img, h] }));
});

test('Dot: rank 2 and 3, every axes pair, normalize (tfjs batchDot semantics)', async () => {
  const dot = (shapes: number[][], axes: number | [number, number], normalize = false) => {
    const xs = shapes.map((shape) => tf.input({ shape }));
    return tf.model({ inputs: xs, outputs: L.dot({ axes, normalize }).apply(xs) as tf.SymbolicTensor });
  };
  await assertParity(dot([[5], [5]], 1));
  await assertParity(dot([[5], [5]], -1, true));
  await assertParity(dot([[3, 4], [5, 4]], 2));
  await assertParity(dot([[3, 4], [3, 5]], 1, true));
  await assertParity(dot([[3, 4], [4, 5]], [2, 1]));
  await assertParity(dot([[4, 3], [5, 4]], [1, 2], true));
});
