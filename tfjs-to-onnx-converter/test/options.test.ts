/**
 * Options a caller with its own graph contract uses (the VAE exporter): graph I/O names and
 * docs, a naming scheme for nodes, values and initializers, the producer, docs and metadata,
 * and weights stored as float16 or int8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { convertLayersModel, type Naming } from '../src/index.js';
import { dequantizeInt8PerColumn, quantizeInt8PerColumn } from '../src/precision.js';
import { assertParity, seedWeights, uniform } from './helpers.js';

const L = tf.layers;

/** 5 -> trunk (relu) -> {head_a: 3 linear, head_b: 2 sigmoid, after a Dropout}. */
function twoHeads(): tf.LayersModel {
  const x = tf.input({ shape: [5], name: 'in' });
  const trunk = L.dense({ units: 6, activation: 'relu', name: 'trunk' }).apply(x) as tf.SymbolicTensor;
  const a = L.dense({ units: 3, name: 'head_a' }).apply(trunk) as tf.SymbolicTensor;
  const b = L.dense({ units: 2, activation: 'sigmoid', name: 'head_b' }).apply(L.dropout({ rate: 0.5, name: 'drop' }).apply(trunk)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: [a, b], name: 'tiny' });
  seedWeights(model, 3);
  return model;
}

const DOTTED: Naming = {
  node: (layer, op) => `${layer}.${op.toLowerCase()}`,
  value: (layer) => `${layer}.linear`,
  layerOutput: (layer) => `${layer}.out`,
  initializer: (layer, key) => `${layer}.${key}`,
  stored: (weight, part) => `${weight}.${part}`,
};

test('I/O names and docs, a naming scheme, producer, doc and metadata', async () => {
  const result = await assertParity(twoHeads(), {
    seed: 0,
    inputs: [{ name: 'x', doc: 'the input' }],
    outputs: [{ name: 'a', doc: 'head a' }, { name: 'b' }],
    naming: DOTTED,
    producer: { name: 'me', version: '9' },
    doc: 'a tiny net',
    metadata: { 'k.1': 'v1', 'k.0': 'v0' },
  });
  const { model } = result;
  assert.deepEqual(model.graph.node.map((n) => [n.name, n.input, n.output]), [
    ['trunk.gemm', ['x', 'trunk.kernel', 'trunk.bias'], ['trunk.linear']],
    ['trunk.relu', ['trunk.linear'], ['trunk.out']],
    ['head_a.gemm', ['trunk.out', 'head_a.kernel', 'head_a.bias'], ['a']],
    // The Dropout emits nothing, so its result keeps the trunk's name.
    ['head_b.gemm', ['trunk.out', 'head_b.kernel', 'head_b.bias'], ['head_b.linear']],
    ['head_b.sigmoid', ['head_b.linear'], ['b']],
  ]);
  assert.deepEqual(model.graph.input.map((v) => [v.name, v.doc_string]), [['x', 'the input']]);
  assert.deepEqual(model.graph.output.map((v) => [v.name, v.doc_string]), [['a', 'head a'], ['b', undefined]]);
  assert.deepEqual(model.graph.input[0].type.tensor_type.shape.dim, [{ dim_param: 'N' }, { dim_value: 5 }]);
  assert.deepEqual([model.producer_name, model.producer_version, model.doc_string, model.graph.doc_string], ['me', '9', 'a tiny net', 'a tiny net']);
  assert.deepEqual(model.metadata_props, [{ key: 'k.1', value: 'v1' }, { key: 'k.0', value: 'v0' }]);
});

test('the defaults are unchanged: layer/Op names, layer-named I/O, source.* metadata', async () => {
  const { model } = await convertLayersModel(twoHeads());
  assert.deepEqual(model.graph.node.map((n) => n.name), ['trunk/Gemm', 'trunk/Relu', 'head_a/Gemm', 'head_b/Gemm', 'head_b/Sigmoid']);
  assert.deepEqual(model.graph.initializer.map((t) => t.name), ['trunk/kernel', 'trunk/bias', 'head_a/kernel', 'head_a/bias', 'head_b/kernel', 'head_b/bias']);
  assert.deepEqual([model.graph.input[0].name, ...model.graph.output.map((o) => o.name)], ['in', 'head_a', 'head_b']);
  assert.equal(model.producer_name, 'tfjs-to-onnx-converter');
  assert.equal(model.metadata_props?.[0].key, 'source');
});

test('wrong I/O name lists are errors naming the option', async () => {
  await assert.rejects(convertLayersModel(twoHeads(), { outputs: [{ name: 'a' }] }), /options\.outputs names 1 tensors, model "tiny" has 2 outputs/);
  await assert.rejects(convertLayersModel(twoHeads(), { outputs: [{ name: 'a' }, { name: 'a' }] }), /options\.outputs: name "a" is empty or repeated/);
  await assert.rejects(convertLayersModel(twoHeads(), { weights: 'int4' as 'int8' }), /weights: "int4" is not a storage/);
});

/** Runs the graph in onnxruntime on `x` and returns each output. */
async function run(bytes: Uint8Array, x: Float32Array, rows: number): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [rows, 5]) });
  const values = session.outputNames.map((n) => out[n].data as Float32Array);
  await session.release();
  return values;
}

test('weights stored as float16 or int8: float32 I/O, a restoring node before the first use, close to float32', async () => {
  const model = twoHeads();
  const x = uniform(4 * 5, 5);
  const want = await run((await convertLayersModel(model)).bytes, x, 4);
  for (const [weights, bound] of [['float16', 5e-3], ['int8', 5e-2]] as const) {
    const { model: m, bytes } = await convertLayersModel(model, { weights, naming: DOTTED, graphName: `tiny.${weights}` });
    const got = await run(bytes, x, 4);
    got.forEach((g, i) => g.forEach((v, k) => assert.ok(Math.abs(v - want[i][k]) <= bound, `${weights} output ${i}[${k}]`)));
    const ops = m.graph.node.map((n) => n.op_type);
    if (weights === 'float16') {
      assert.ok(m.graph.initializer.every((t) => t.data_type === 10), 'every weight is float16');
      assert.deepEqual(ops.slice(0, 4), ['Cast', 'Cast', 'Gemm', 'Relu']);
      assert.deepEqual(m.graph.node[0], { name: 'trunk.kernel.cast', op_type: 'Cast', input: ['trunk.kernel.fp16'], output: ['trunk.kernel'], attribute: [{ name: 'to', type: 2, i: 1 }] });
    } else {
      // Kernels only (Gemm's B, per output column); biases stay float32.
      assert.deepEqual(m.graph.initializer.map((t) => t.name).slice(0, 4), ['trunk.kernel.int8', 'trunk.kernel.scale', 'trunk.kernel.zero_point', 'trunk.bias']);
      assert.equal(ops.filter((o) => o === 'DequantizeLinear').length, 3);
      assert.deepEqual(ops.slice(0, 2), ['DequantizeLinear', 'Gemm']);
    }
  }
});

test('int8 per-column quantization: bounded error, zero columns, range', () => {
  const rows = 50, cols = 7;
  const w = uniform(rows * cols, 9, -2, 2);
  for (let i = 0; i < rows; i++) w[i * cols + 3] = 0;
  const q = quantizeInt8PerColumn(w, rows, cols);
  assert.equal(q.scale[3], 1);
  const back = dequantizeInt8PerColumn(q, cols);
  for (let k = 0; k < w.length; k++) {
    assert.ok(q.values[k] >= -127 && q.values[k] <= 127);
    assert.ok(Math.abs(back[k] - w[k]) <= q.scale[k % cols] / 2 + 1e-7, `element ${k}`);
  }
  assert.throws(() => quantizeInt8PerColumn(w, rows, cols + 1), /not 50 x 8/);
});
