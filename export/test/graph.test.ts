import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, checkGraphSpec, UnsupportedLayerError, IR_VERSION, OPSET, type GraphSpec, type LayerSpec, type Precision } from '../src/graph.js';
import { decodeModel, encodeModel } from '@vae/models/onnx';
import { runOnnx, maxAbsDiff } from '../src/verify.js';
import { assertOnnxCheckerPasses, dense, floats, forward, onnxCheckerError } from './helpers.js';

const producer = { name: 'test', version: '0' };

/** A two-headed net like the encoder: 5 -> 6 (relu) -> {a: 3 linear, b: 2 sigmoid}. */
function twoHeads(precision: Precision = 'fp32', layers?: LayerSpec[]): GraphSpec {
  return {
    name: 'tiny', doc: 'tiny test net', input: { name: 'in', size: 5, doc: 'input' }, precision, producer,
    metadata: { 'test.key': 'value' },
    layers: layers ?? [
      dense('trunk', 5, 6, 'relu', 1),
      dense('head_a', 6, 3, 'none', 3, { output: { name: 'a', doc: 'head a' } }),
      dense('head_b', 6, 2, 'sigmoid', 5, { input: 'trunk', output: { name: 'b', doc: 'head b' } }),
    ],
  };
}

test('unsupported ops and activations fail naming the layer', () => {
  const spec = twoHeads();
  const withLayer = (i: number, change: Partial<LayerSpec>) => twoHeads('fp32', spec.layers.map((l, k) => (k === i ? { ...l, ...change } : l)));
  assert.throws(() => buildModel(withLayer(1, { activation: 'tanh' })), (err: Error) => {
    assert.ok(err instanceof UnsupportedLayerError);
    assert.equal(err.layer, 'head_a');
    assert.equal(err.message, 'layer "head_a": unsupported activation "tanh" (the exporter supports: relu, sigmoid, none)');
    return true;
  });
  assert.throws(() => buildModel(withLayer(0, { op: 'conv2d' })), /layer "trunk": unsupported op "conv2d" \(the exporter supports: dense\)/);
  assert.throws(() => checkGraphSpec(withLayer(2, { input: 'nowhere' })), /layer "head_b": reads "nowhere", which is neither the graph input nor an earlier layer/);
  assert.throws(() => checkGraphSpec(withLayer(1, { kernelShape: [7, 3] })), /layer "head_a": kernel is \[7, 3\] but its input "trunk" has 6 features/);
  assert.throws(() => checkGraphSpec(withLayer(1, { bias: new Float32Array(4) })), /layer "head_a": bias has 4 values, expected 3/);
  assert.throws(() => checkGraphSpec(withLayer(1, { name: 'trunk' })), /layer "trunk": duplicate/);
  assert.throws(() => checkGraphSpec(twoHeads('fp32', [dense('only', 5, 2, 'relu', 1)])), /graph "tiny" has no layer marked as an output/);
  assert.deepEqual(checkGraphSpec(spec), { inputs: [['in', 5]], outputs: [['a', 3], ['b', 2]] });
});

test('the ModelProto: IR version, opset, dynamic batch, docs, metadata; onnx.checker and onnxruntime accept it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vae-graph-'));
  try {
    const spec = twoHeads();
    const bytes = encodeModel(buildModel(spec));
    const m = decodeModel(bytes);
    assert.equal(m.ir_version, IR_VERSION);
    assert.deepEqual(m.opset_import, [{ domain: '', version: OPSET }]);
    assert.deepEqual(m.metadata_props, [{ key: 'test.key', value: 'value' }]);
    assert.deepEqual(m.graph.node.map((n) => n.op_type), ['Gemm', 'Relu', 'Gemm', 'Gemm', 'Sigmoid']);
    assert.deepEqual(m.graph.input[0].type.tensor_type.shape.dim, [{ dim_param: 'N' }, { dim_value: 5 }]);
    assert.deepEqual(m.graph.output.map((o) => [o.name, o.doc_string]), [['a', 'head a'], ['b', 'head b']]);

    const paths: string[] = [];
    const x = floats(4 * 5, 11);
    const want = forward(spec.layers, 'in', x, 4);
    for (const precision of ['fp32', 'fp16', 'int8'] as const) {
      const path = join(dir, `tiny.${precision}.onnx`);
      await writeFile(path, encodeModel(buildModel(twoHeads(precision))));
      paths.push(path);
      for (const rows of [4, 1]) {
        const got = await runOnnx(path, [{ name: 'in', dims: [rows, 5], data: x.subarray(0, rows * 5) }]);
        const bound = { fp32: 1e-6, fp16: 5e-3, int8: 5e-2 }[precision];
        assert.ok(maxAbsDiff(got.a, want.a.subarray(0, rows * 3)) <= bound, `${precision} a`);
        assert.ok(maxAbsDiff(got.b, want.b.subarray(0, rows * 2)) <= bound, `${precision} b`);
      }
    }
    const fp16 = decodeModel(encodeModel(buildModel(twoHeads('fp16'))));
    assert.ok(fp16.graph.initializer.every((t) => t.data_type === 10), 'fp16 stores every weight as float16');
    const int8 = decodeModel(encodeModel(buildModel(twoHeads('int8'))));
    assert.deepEqual(int8.graph.node.filter((n) => n.op_type === 'DequantizeLinear').length, 3);
    assertOnnxCheckerPasses(paths);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('the checker run by the tests does reject a broken graph', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vae-graph-'));
  try {
    const model = buildModel(twoHeads());
    model.graph.node[0].input[1] = 'missing.kernel';
    await writeFile(join(dir, 'broken.onnx'), encodeModel(model));
    assert.match(onnxCheckerError(join(dir, 'broken.onnx')), /missing\.kernel/);
  } finally {
    await rm(dir, { recursive: true });
  }
});
