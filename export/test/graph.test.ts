/**
 * export's graph mapping: the MLP rebuilt as Dense layers and written by the converter with
 * export's names, docs and metadata, in fp32, fp16 and int8; a LayersModel pair (what a conv
 * VAE hands over) through the same entry; errors naming the layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodeModel } from '@vae/models/onnx';
import { buildGraph, IR_VERSION, OPSET, type GraphSpec, type Precision } from '../src/graph.js';
import { buildGraphs, type Variant } from '../src/export.js';
import { GRAPH_IO, mlpLayersModels, UnsupportedLayerError, type VaeWeights } from '../src/vae.js';
import { runOnnx, maxAbsDiff } from '../src/verify.js';
import { assertOnnxCheckerPasses, floats, mlpForward, mlpWeights, onnxCheckerError } from './helpers.js';

const CONFIG = { inputSize: 9, hiddenSizes: [6, 5], latentSize: 3 };
const producer = { name: 'test', version: '0' };
const spec = (role: 'encoder' | 'decoder', precision: Precision = 'fp32'): GraphSpec =>
  ({ name: role, doc: `tiny ${role}`, ...GRAPH_IO[role], precision, producer, metadata: { 'test.key': role } });
const VARIANTS: Variant[] = [
  { key: 'encoder', role: 'encoder', precision: 'fp32' },
  { key: 'decoder', role: 'decoder', precision: 'fp32' },
  { key: 'decoder.fp16', role: 'decoder', precision: 'fp16' },
  { key: 'decoder.int8', role: 'decoder', precision: 'int8' },
];

test('the graphs: contract I/O, dynamic batch, IR and opset, docs, metadata, the node and weight names verify reports', async () => {
  const { encoder, decoder } = mlpLayersModels(mlpWeights(CONFIG, 1));
  const enc = (await buildGraph(encoder, spec('encoder'))).model;
  const dec = (await buildGraph(decoder, spec('decoder'))).model;
  assert.equal(enc.ir_version, IR_VERSION);
  assert.deepEqual(enc.opset_import, [{ domain: '', version: OPSET }]);
  assert.deepEqual(enc.metadata_props, [{ key: 'test.key', value: 'encoder' }]);
  assert.deepEqual([enc.producer_name, enc.doc_string, enc.graph.doc_string, enc.graph.name], ['test', 'tiny encoder', 'tiny encoder', 'encoder']);
  assert.deepEqual(enc.graph.input.map((v) => [v.name, v.type.tensor_type.shape.dim]), [['x', [{ dim_param: 'N' }, { dim_value: 9 }]]]);
  assert.deepEqual(enc.graph.output.map((v) => v.name), ['mu', 'logvar']);
  assert.ok(enc.graph.output.every((v) => v.doc_string?.startsWith('float32 [N, n]')));
  assert.deepEqual(enc.graph.node.map((n) => `${n.name} -> ${n.output}`), [
    'encoder.dense0.gemm -> encoder.dense0.linear', 'encoder.dense0.relu -> encoder.dense0.out',
    'encoder.dense1.gemm -> encoder.dense1.linear', 'encoder.dense1.relu -> encoder.dense1.out',
    'encoder.mu.gemm -> mu', 'encoder.logvar.gemm -> logvar',
  ]);
  assert.deepEqual(dec.graph.node.map((n) => n.name), ['decoder.dense0.gemm', 'decoder.dense0.relu', 'decoder.dense1.gemm', 'decoder.dense1.relu', 'decoder.out.gemm', 'decoder.out.sigmoid']);
  assert.deepEqual(dec.graph.initializer.map((t) => t.name), ['decoder.dense0.kernel', 'decoder.dense0.bias', 'decoder.dense1.kernel', 'decoder.dense1.bias', 'decoder.out.kernel', 'decoder.out.bias']);
  encoder.dispose();
  decoder.dispose();
});

test('onnxruntime matches a plain-JS forward pass in every precision; onnx.checker accepts every graph', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vae-graph-'));
  try {
    const w = mlpWeights(CONFIG, 1);
    const graphs = await buildGraphs(w, VARIANTS, spec);
    const bound: Record<Precision, number> = { fp32: 1e-6, fp16: 5e-3, int8: 5e-2 };
    for (const v of VARIANTS) {
      const path = join(dir, `${v.key}.onnx`);
      await writeFile(path, graphs.get(v.key)!);
      const size = v.role === 'encoder' ? CONFIG.inputSize : CONFIG.latentSize;
      const x = floats(4 * size, 11);
      const want = mlpForward(w, v.role, x, 4);
      for (const rows of [4, 1]) {
        const got = await runOnnx(path, [{ name: GRAPH_IO[v.role].inputs[0].name, dims: [rows, size], data: x.subarray(0, rows * size) }]);
        for (const [name, y] of Object.entries(want)) {
          const n = y.length / 4;
          assert.ok(maxAbsDiff(got[name], y.subarray(0, rows * n)) <= bound[v.precision], `${v.key} ${name}`);
        }
      }
    }
    assertOnnxCheckerPasses(VARIANTS.map((v) => join(dir, `${v.key}.onnx`)));
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a LayersModel encoder/decoder pair (a conv VAE) goes through the same entry', async () => {
  const x = tf.input({ shape: [9], name: 'image' });
  const h = tf.layers.reshape({ targetShape: [3, 3, 1] }).apply(x) as tf.SymbolicTensor;
  const c = tf.layers.flatten().apply(tf.layers.conv2d({ filters: 2, kernelSize: 2, activation: 'relu', name: 'conv' }).apply(h)) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [tf.layers.dense({ units: 3, name: 'mu' }).apply(c), tf.layers.dense({ units: 3, name: 'logvar' }).apply(c)] as tf.SymbolicTensor[] });
  const z = tf.input({ shape: [3] });
  const decoder = tf.model({ inputs: z, outputs: tf.layers.dense({ units: 9, activation: 'sigmoid', name: 'pixels' }).apply(z) as tf.SymbolicTensor });
  const graphs = await buildGraphs({ encoder, decoder }, VARIANTS.slice(0, 2), spec);
  const dir = await mkdtemp(join(tmpdir(), 'vae-graph-'));
  try {
    await writeFile(join(dir, 'encoder.onnx'), graphs.get('encoder')!);
    const input = floats(2 * 9, 5);
    const got = await runOnnx(join(dir, 'encoder.onnx'), [{ name: 'x', dims: [2, 9], data: input }]);
    const [mu, logvar] = encoder.predict(tf.tensor2d(input, [2, 9])) as tf.Tensor[];
    assert.ok(maxAbsDiff(got.mu, Float64Array.from(mu.dataSync())) < 1e-5);
    assert.ok(maxAbsDiff(got.logvar, Float64Array.from(logvar.dataSync())) < 1e-5);
    tf.dispose([mu, logvar]);
  } finally {
    await rm(dir, { recursive: true });
    encoder.dispose();
    decoder.dispose();
  }
});

test('an MLP with a missing or misshapen layer fails naming the layer', () => {
  const without = (name: string, change?: (w: VaeWeights) => void): VaeWeights => {
    const w = mlpWeights(CONFIG, 1);
    if (change) change(w); else w.layers.delete(name);
    return w;
  };
  assert.throws(() => mlpLayersModels(without('decoder.dense1')), (err: Error) => {
    assert.ok(err instanceof UnsupportedLayerError);
    assert.equal(err.message, 'layer "decoder.dense1": missing from the model');
    return true;
  });
  assert.throws(() => mlpLayersModels(without('', (w) => { w.layers.get('encoder.mu')!.kernelShape = [7, 3]; })), /layer "encoder.mu": kernel is \[7, 3\] but its input has 5 features/);
  assert.throws(() => mlpLayersModels(without('', (w) => { w.layers.get('decoder.out')!.bias = new Float32Array(4); })), /layer "decoder.out": bias has 4 values, expected 9/);
});

test('the checker run by the tests does reject a broken graph', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vae-graph-'));
  try {
    const { encoder, decoder } = mlpLayersModels(mlpWeights(CONFIG, 1));
    const { model } = await buildGraph(decoder, spec('decoder'));
    model.graph.node[0].input[1] = 'missing.kernel';
    await writeFile(join(dir, 'broken.onnx'), encodeModel(model));
    assert.match(onnxCheckerError(join(dir, 'broken.onnx')), /missing\.kernel/);
    encoder.dispose();
    decoder.dispose();
  } finally {
    await rm(dir, { recursive: true });
  }
});
