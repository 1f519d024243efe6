/**
 * The standalone decoder on conv graphs: small decoders made by tfjs-to-onnx-converter (Conv2D,
 * Conv2DTranspose, UpSampling2D, BatchNormalization, the activations, the converter's layout
 * Transposes) compiled and run with both kernels against onnxruntime-node, fp32 and the
 * converter's fp16 / int8 storage; a hand-built graph for what the converter does not emit
 * (the BatchNormalization op, Resize's default coordinates); the real conv decoder's golden data
 * within its tolerances; the module's code size; unsupported conv attributes named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { convertLayersModel, type WeightStorage } from 'tfjs-to-onnx-converter';
import { toleranceFor } from '@vae/models';
import { loadModelDir, releasedModelDir } from '@vae/models/node';
import { AttributeType, DataType, decodeModel, encodeModel, readTestDataSets, toTensorProto, type ModelProto, type NodeProto } from '@vae/models/onnx';
import { compileGraph, generateModule, standaloneFiles } from '../src/standalone.js';
import { codeBytes, floats } from './helpers.js';

await tf.setBackend('cpu');

interface Decoder { kernel: string; decode(z: unknown, count?: number): Float32Array }
interface DecoderModule { loadDecoder(source?: unknown, options?: { precision?: string; kernel?: string }): Promise<Decoder> }
const importText = (text: string) => import(`data:text/javascript;base64,${Buffer.from(text).toString('base64')}`) as Promise<DecoderModule>;

const Z = 8;
const layers = tf.layers;

/** A decoder z [N, 8] -> Dense -> Reshape [h, w, c] -> `body` -> Flatten, weights seeded (BatchNormalization's statistics too). */
function decoder(h: number, w: number, c: number, body: tf.layers.Layer[]): tf.LayersModel {
  const z = tf.input({ shape: [Z] });
  let x = layers.reshape({ targetShape: [h, w, c] }).apply(layers.dense({ units: h * w * c, activation: 'relu' }).apply(z)) as tf.SymbolicTensor;
  for (const l of body) x = l.apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: z, outputs: layers.flatten().apply(x) as tf.SymbolicTensor });
  seed(model);
  return model;
}

/** Every weight seeded; variances (BatchNormalization's moving_variance) kept positive. */
function seed(model: tf.LayersModel): void {
  let k = 1;
  for (const l of model.layers) {
    const ws = l.getWeights();
    if (ws.length === 0) continue;
    l.setWeights(ws.map((t, i) => {
      const v = floats(t.size, 1000 * k + i, 0.6);
      if (l.getClassName() === 'BatchNormalization' && i === ws.length - 1) v.forEach((x, j) => { v[j] = 0.5 + Math.abs(x); });
      return tf.tensor(v, t.shape);
    }));
    k++;
  }
}

/** The graph compiled and run with the wasm and js kernels, and in onnxruntime-node: the max abs differences. */
async function againstOrt(model: ModelProto, rows: number, precision = 'fp32'): Promise<{ wasm: number; js: number; kernels: number; scale: number }> {
  const compiled = compileGraph(model, { label: 'g.onnx', file: 'g.weights.bin', precision });
  const mod = await importText(generateModule([compiled.program], { name: 'g', imageShape: [1, 1], producer: 'test' }));
  const input = model.graph.input[0].name;
  const width = compiled.program.input[1];
  const z = floats(rows * width, 7, 1.5);
  const session = await ort.InferenceSession.create(encodeModel(model));
  const want = (await session.run({ [input]: new ort.Tensor('float32', z, [rows, width]) }))[model.graph.output[0].name].data as Float32Array;
  const got: Record<string, Float32Array> = {};
  for (const kernel of ['wasm', 'js']) {
    const d = await mod.loadDecoder(compiled.weights, { kernel });
    assert.equal(d.kernel, kernel);
    got[kernel] = d.decode(z, rows);
    assert.equal(got[kernel].length, want.length);
  }
  const diff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  return { wasm: diff(got.wasm, want), js: diff(got.js, want), kernels: diff(got.wasm, got.js), scale: want.reduce((m, v) => Math.max(m, Math.abs(v)), 0) };
}

const ops = (m: ModelProto) => [...new Set(m.graph.node.map((n) => n.op_type))].sort();

/** Converts `model` with each storage, checks the ops it holds, and compares with onnxruntime. */
async function check(name: string, model: tf.LayersModel, expectOps: string[], storages: WeightStorage[] = ['float32']): Promise<void> {
  for (const weights of storages) {
    const onnx = decodeModel((await convertLayersModel(model, { weights })).bytes);
    for (const op of expectOps) assert.ok(ops(onnx).includes(op), `${name}: ${op} in ${ops(onnx)}`);
    const r = await againstOrt(onnx, 5, weights);
    // float32 arithmetic in another summation order: a few float32 roundings of the output's scale.
    const tol = 2e-6 * Math.max(1, r.scale);
    assert.ok(r.wasm <= tol && r.js <= tol, `${name} (${weights}): max abs vs onnxruntime wasm ${r.wasm}, js ${r.js} (scale ${r.scale}, tolerance ${tol})`);
    assert.ok(r.kernels <= tol, `${name} (${weights}): wasm vs js ${r.kernels}`);
  }
}

test('Conv (same, valid, strides, a non-square kernel, dilations, no bias), BatchNormalization, Elu, Tanh, the layout Transpose: as onnxruntime, fp32 / fp16 / int8', async () => {
  const model = decoder(5, 5, 3, [
    layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'elu' }),
    layers.batchNormalization(),
    layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: 2, padding: 'valid', activation: 'tanh' }),
    layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false }),
  ]);
  await check('conv', model, ['Conv', 'Mul', 'Add', 'Elu', 'Tanh', 'Transpose', 'Reshape', 'Flatten'], ['float32', 'float16', 'int8']);
});

test('ConvTranspose (same, valid, strides, non-square), UpSampling2D (Resize nearest), LeakyRelu, Softplus, Softsign, HardSigmoid: as onnxruntime, fp32 / fp16 / int8', async () => {
  const model = decoder(3, 3, 4, [
    layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'softplus' }),
    layers.upSampling2d({ size: [2, 3] }),
    layers.leakyReLU({ alpha: 0.2 }),
    layers.conv2dTranspose({ filters: 2, kernelSize: [2, 3], strides: [1, 2], padding: 'valid', activation: 'softsign' }),
    layers.activation({ activation: 'hardSigmoid' }),
  ]);
  await check('convTranspose', model, ['ConvTranspose', 'Resize', 'LeakyRelu', 'Softplus', 'Softsign', 'HardSigmoid'], ['float32', 'float16', 'int8']);
});

test('the other activations the converter writes (Selu, Clip, swish\'s Mul, mish, Elu, ThresholdedRelu, Sigmoid) and BatchNormalization on a vector: as onnxruntime', async () => {
  const z = tf.input({ shape: [Z] });
  const dense = (units: number, activation?: string) => layers.dense({ units, ...(activation && { activation: activation as 'relu' }) });
  const chain: tf.layers.Layer[] = [
    dense(12, 'selu'), dense(12, 'relu6'), layers.reLU({ maxValue: 0.5 }), dense(12, 'swish'), dense(12, 'mish'),
    layers.elu(), layers.thresholdedReLU({ theta: 0.1 }), layers.batchNormalization(), dense(6, 'sigmoid'),
  ];
  const out = chain.reduce((x, l) => l.apply(x) as tf.SymbolicTensor, z);
  const model = tf.model({ inputs: z, outputs: out });
  seed(model);
  await check('activations', model, ['Selu', 'Clip', 'Mul', 'Softplus', 'Tanh', 'Elu', 'ThresholdedRelu', 'Add', 'Sigmoid'], ['float32', 'float16']);
});

test('what the converter does not write: the BatchNormalization op (folded), Resize\'s default half_pixel / round_prefer_floor, Conv auto_pad SAME_LOWER: as onnxruntime', async () => {
  const f32 = (name: string, dims: number[], data: Float32Array) => toTensorProto({ name, dtype: 'float32', dims, data });
  const i64 = (name: string, data: number[]) => toTensorProto({ name, dtype: 'int64', dims: [data.length], data: Float64Array.from(data) });
  const node = (op_type: string, input: string[], output: string, attribute: NodeProto['attribute'] = []): NodeProto => ({ name: `n.${output}`, op_type, input, output: [output], attribute });
  const str = (name: string, s: string) => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) });
  const C = 3;
  const model: ModelProto = {
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 'test', producer_version: '0',
    graph: {
      name: 'g',
      node: [
        node('Reshape', ['z', 'shape'], 'img'),
        node('BatchNormalization', ['img', 'gamma', 'beta', 'mean', 'var'], 'bn', [{ name: 'epsilon', type: AttributeType.FLOAT, f: 0.01 }]),
        node('Resize', ['bn', '', 'scales'], 'up'),
        node('Conv', ['up', 'w'], 'conv', [str('auto_pad', 'SAME_LOWER'), { name: 'strides', type: AttributeType.INTS, ints: [2, 2] }]),
        node('Flatten', ['conv'], 'y'),
      ],
      initializer: [
        i64('shape', [0, C, 2, 2]), f32('gamma', [C], floats(C, 1)), f32('beta', [C], floats(C, 2)), f32('mean', [C], floats(C, 3)),
        f32('var', [C], Float32Array.from(floats(C, 4), (v) => 0.5 + Math.abs(v))), f32('scales', [4], Float32Array.of(1, 1, 2.5, 1.5)),
        f32('w', [2, C, 3, 2], floats(2 * C * 6, 5)),
      ],
      input: [{ name: 'z', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'N' }, { dim_value: 4 * C }] } } } }],
      output: [{ name: 'y', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'N' }, { dim_param: 'M' }] } } } }],
    },
  };
  const r = await againstOrt(model, 6);
  assert.ok(r.wasm < 2e-6 && r.js < 2e-6 && r.kernels < 2e-6, JSON.stringify(r));
});

test('arrays reused between calls: results do not change with the batch sizes before them, and returned arrays are never overwritten', async () => {
  const model = decoder(3, 3, 4, [
    layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
    layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
  ]);
  const compiled = compileGraph((await convertLayersModel(model)).bytes, { label: 'g.onnx', file: 'g.weights.bin', precision: 'fp32' });
  const mod = await importText(generateModule([compiled.program], { name: 'g', imageShape: [1, 1], producer: 'test' }));
  const z = floats(9 * Z, 3, 1.5);
  for (const kernel of ['wasm', 'js']) {
    const d = await mod.loadDecoder(compiled.weights, { kernel });
    const first = d.decode(z, 9);
    const copy = Float32Array.from(first);
    const small = d.decode(z.subarray(0, 2 * Z), 2);
    const again = d.decode(z, 9);
    assert.notEqual(again, first);
    assert.deepEqual(first, copy, `${kernel}: the first result is untouched`);
    assert.deepEqual(again, copy, `${kernel}: the same latents give the same pixels`);
    assert.deepEqual(small, copy.subarray(0, small.length), `${kernel}: a row does not depend on its batch`);
  }
});

test('unsupported conv attributes are errors naming the graph, node and op', async () => {
  const conv = (attribute: NodeProto['attribute'], w = [2, 1, 3, 3]): ModelProto => ({
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 'test', producer_version: '0',
    graph: {
      name: 'g',
      node: [{ name: 'r', op_type: 'Reshape', input: ['z', 's'], output: ['x'] }, { name: 'layer.conv', op_type: 'Conv', input: ['x', 'w'], output: ['y'], attribute }],
      initializer: [
        toTensorProto({ name: 's', dtype: 'int64', dims: [4], data: Float64Array.of(0, 2, 2, 2) }),
        toTensorProto({ name: 'w', dtype: 'float32', dims: w, data: floats(w.reduce((a, b) => a * b), 1) }),
      ],
      input: [{ name: 'z', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'N' }, { dim_value: 8 }] } } } }],
      output: [{ name: 'y', type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'N' }, { dim_param: 'M' }] } } } }],
    },
  });
  const compile = (m: ModelProto) => compileGraph(m, { label: 'decoder.onnx', file: 'f', precision: 'fp32' });
  assert.throws(() => compile(conv([{ name: 'group', type: AttributeType.INT, i: 2 }])),
    /^UnsupportedGraphError: decoder\.onnx: node "layer\.conv" \(Conv\): group = 2 \(grouped \/ depthwise convolution\) is not supported$/);
  assert.throws(() => compile(conv([], [2, 3, 3, 3])), /node "layer\.conv" \(Conv\): weight "w" expects 3 input channels, the input has 2/);
});

// ---------------------------------------------------------------------------------------
// The real conv decoder (mnist-n64-conv): golden data, the module's size.

const CONV = releasedModelDir('mnist-n64-conv');
const noConv = !existsSync(join(CONV, 'decoder.onnx')) && 'models/released/mnist-n64-conv is not in this checkout';

test('the conv decoder: every precision matches its golden outputs within the standalone tolerance, wasm and js; its code is at most 40 KB', { skip: noConv }, async () => {
  const model = await loadModelDir(CONV);
  const files = standaloneFiles(model.manifest, (f) => new Uint8Array(readFileSync(model.file(f))), '@vae/export 0.1.0');
  assert.deepEqual(files.map((f) => f.path), ['decoder.mjs', 'decoder.weights.bin', 'decoder.fp16.weights.bin', 'decoder.int8.weights.bin']);
  const code = codeBytes(files[0].data);
  assert.ok(code <= 40 * 1024, `decoder.mjs's code (runtime + wasm kernel, without the model's JSON) is ${code} bytes (limit 40 KB)`);
  const mod = await importText(new TextDecoder().decode(files[0].data));
  const golden = await readTestDataSets(join(CONV, 'decoder'));
  for (const [i, precision] of ['fp32', 'fp16', 'int8'].entries()) {
    const out: Float32Array[] = [];
    for (const kernel of ['wasm', 'js']) {
      const d = await mod.loadDecoder(files[i + 1].data, { precision, kernel });
      let max = 0;
      for (const set of golden) {
        const z = set.inputs[0];
        const y = d.decode(z.data as Float32Array, z.dims[0]);
        out.push(y);
        const want = set.outputs[0].data;
        for (let j = 0; j < y.length; j++) max = Math.max(max, Math.abs(y[j] - want[j]));
      }
      const tol = toleranceFor('standalone-node', precision, 'x_hat');
      assert.ok(max <= tol, `mnist-n64-conv ${precision} ${kernel}: max abs ${max} > ${tol}`);
    }
    // The two kernels: the same float32 arithmetic up to summation order, which moves the last
    // bits of the transposed convs' 1,024-term sums (64 channels x 4 x 4 taps): the released
    // model's largest gap is 1.2e-6 (fp32, a pixel at 0.42), so the bound is 5e-6, half the fp32
    // x_hat tolerance, not a tighter guess.
    const n = out.length / 2;
    for (let s = 0; s < n; s++) out[s].forEach((v, j) => assert.ok(Math.abs(v - out[s + n][j]) <= 5e-6, `${precision}: wasm vs js at ${j}: ${v} vs ${out[s + n][j]}`));
  }
});
