/**
 * Units of the general-model path: tensor I/O for every dtype, Polygraphy's statistics and
 * verdicts, the flag parsers, If inlining and "mark all" on a graph built here (run on
 * onnxruntime-node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel, encodeTensorProto, parseTensor, serializeTensor, toFloat16Bits, type Tensor } from '@vae/models/onnx';
import { parseDims, parseRanges, parseTolerance } from '../src/cli.js';
import { concreteDims, generateInputs, missingDims, UsageError } from '../src/onnx-data.js';
import { inlineIfs, markAll, modelIo, parseModel } from '../src/onnx-graph.js';
import { diffs, minimumPassing, outputStats, passes } from '../src/stats.js';
import { numericValues, tensorBytes, tensorFromBytes } from '../src/tensors.js';

const f32 = (data: number[], dims = [data.length]): Tensor => ({ name: 'y', dtype: 'float32', dims, data: Float32Array.from(data) });

test('TensorProto I/O: uint8, bool, float16, int64 round-trip; raw bytes round-trip for onnxruntime', () => {
  const cases: Tensor[] = [
    { name: 'u', dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 7, 255]) },
    { name: 'b', dtype: 'bool', dims: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
    { name: 'h', dtype: 'float16', dims: [2], data: Uint16Array.from([toFloat16Bits(1.5), toFloat16Bits(-0.25)]) },
    { name: 'l', dtype: 'int64', dims: [2], data: Float64Array.from([-3, 2 ** 40]) },
  ];
  for (const t of cases) {
    const back = parseTensor(serializeTensor(t));
    assert.deepEqual({ ...back, data: [...back.data] }, { ...t, data: [...t.data] }, t.dtype);
    const raw = tensorFromBytes(t.name, t.dtype, t.dims, tensorBytes(t));
    assert.deepEqual([...raw.data], [...t.data], t.dtype);
  }
  assert.deepEqual([...numericValues(cases[2])], [1.5, -0.25]);
  // bool read from int32_data (another writer's layout)
  assert.deepEqual([...parseTensor(encodeTensorProto({ name: 'x', dims: [3], data_type: 9, int32_data: [1, 0, 5] })).data], [1, 0, 1]);
});

test('Polygraphy statistics: max / mean / median / p99 with numpy interpolation, where the max is, the verdicts', () => {
  const expected = f32([1, 2, 4, 8, 0, 10], [2, 3]);
  const actual = f32([1, 2.5, 4, 8.1, 0, 10], [2, 3]);
  const d = diffs([actual], [expected]);
  const s = outputStats(d, { atol: 0.2, rtol: 0.01, quantile: 0.5 });
  assert.equal(s.abs.max, 0.5);
  assert.deepEqual(s.abs.argMax, { set: 0, index: [0, 1] });
  assert.ok(Math.abs(s.abs.mean - 0.6 / 6) < 1e-6);
  assert.ok(Math.abs(s.abs.median - (0 + 0) / 2) < 1e-9); // sorted: 0 0 0 0 0.1 0.5
  assert.ok(Math.abs(s.abs.quantile - 0) < 1e-9);
  assert.ok(Math.abs(s.rel.max - 0.25) < 1e-6);
  assert.equal(s.mismatches, 1, 'only 2.5 vs 2 has absdiff > 0.2 AND reldiff > 0.01');
  assert.equal(passes(s, { atol: 0.2, rtol: 0.01, stat: 'elemwise', quantile: 0.5 }), false);
  assert.equal(passes(outputStats(d, { atol: 0.2, rtol: 0.3, quantile: 0.5 }), { atol: 0.2, rtol: 0.3, stat: 'elemwise', quantile: 0.5 }), true, 'a looser rtol alone saves it');
  assert.equal(passes(s, { atol: 0.2, rtol: 0.01, stat: 'max', quantile: 0.5 }), false);
  assert.equal(passes(s, { atol: 0.2, rtol: 0.01, stat: 'mean', quantile: 0.5 }), true);
  assert.equal(passes(s, { atol: 0, rtol: 0, stat: 'median', quantile: 0.5 }), true);
  assert.deepEqual(minimumPassing(s, 'elemwise'), { atol: 0.5, rtol: s.rel.max });
  // numpy.quantile([0, 1, 2, 3], 0.99) = 2.97
  const q = outputStats(diffs([f32([0, 1, 2, 3])], [f32([0, 0, 0, 0])]), { atol: 0, rtol: 0, quantile: 0.99 });
  assert.ok(Math.abs(q.abs.quantile - 2.97) < 1e-12);
  assert.equal(q.abs.median, 1.5);
  assert.equal(q.rel.max, Infinity, 'd / 0 = Infinity');
  // NaN: equal where the reference is NaN, a failure elsewhere.
  const n = outputStats(diffs([f32([NaN, NaN])], [f32([NaN, 1])]), { atol: 1, rtol: 1, quantile: 0.5 });
  assert.equal(n.nonFinite, 1);
  assert.equal(n.abs.max, Infinity);
  assert.deepEqual(n.abs.argMax, { set: 0, index: [1] });
  assert.equal(passes(n, { atol: 1e9, rtol: 1e9, stat: 'median', quantile: 0.5 }), false);
  // Location across sets.
  const two = outputStats(diffs([f32([0, 0]), f32([0, 3, 0], [3])], [f32([0, 0]), f32([0, 0, 0], [3])]), { atol: 0, rtol: 0, quantile: 0.5 });
  assert.deepEqual(two.abs.argMax, { set: 1, index: [1] });
});

test('flag parsers: per-output tolerances, dims, ranges; errors name the flag', () => {
  assert.deepEqual(parseTolerance('atol', ['1e-4', 'logits=1e-3'], 1e-5), { default: 1e-4, perOutput: { logits: 1e-3 } });
  assert.deepEqual(parseTolerance('rtol', undefined, 1e-5), { default: 1e-5, perOutput: {} });
  assert.throws(() => parseTolerance('atol', 'x=abc', 1), /--atol: "abc" is not a number/);
  assert.deepEqual(parseDims(['batch=4', 'input:1=512']), { batch: 4, 'input:1': 512 });
  assert.throws(() => parseDims('batch=0'), /--dim: "batch=0" is not NAME=N/);
  assert.deepEqual(parseRanges(['-1,1', 'sr=16000,16000']), { defaultRange: [-1, 1], ranges: { sr: [16000, 16000] } });
  assert.throws(() => parseRanges('2,1'), UsageError);
});

/** y = If(c) then x + 1 else x * 2, with an inner tensor "t" in each branch. */
function ifModel(): Uint8Array {
  const vi = (name: string, elem = 1, dims: number[] = [2]) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });
  const branch = (op: string, k: number) => ({
    name: op, node: [
      { name: `${op}.k`, op_type: 'Constant', input: [], output: [`k_${op}`], attribute: [{ name: 'value', type: 4, t: { name: '', dims: [1], data_type: 1, float_data: [k] } }] },
      { name: `${op}.op`, op_type: op, input: ['x', `k_${op}`], output: ['t'] },
      { name: `${op}.id`, op_type: 'Identity', input: ['t'], output: [`out_${op}`] },
    ], initializer: [], input: [], output: [vi(`out_${op}`)],
  });
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 't', producer_version: '0',
    graph: {
      name: 'g',
      node: [{ name: 'if', op_type: 'If', input: ['c'], output: ['y'], attribute: [{ name: 'then_branch', type: 5, g: branch('Add', 1) }, { name: 'else_branch', type: 5, g: branch('Mul', 2) }] as never }],
      initializer: [], input: [vi('x'), vi('c', 9, [])], output: [vi('y')],
    },
  });
}

test('If inlining and mark-all: the branch taken becomes graph nodes; every intermediate is returned and equal', async () => {
  const bytes = ifModel();
  const model = parseModel(bytes, 'if.onnx');
  assert.deepEqual(modelIo(model).inputs.map((i) => [i.name, i.dtype, i.dims]), [['x', 'float32', [2]], ['c', 'bool', []]]);
  const x = new ort.Tensor('float32', Float32Array.from([3, 4]), [2]);
  for (const cond of [true, false]) {
    const flat = inlineIfs(model, new Map([['c', cond]]));
    assert.equal(flat.inlined, 1);
    assert.deepEqual(flat.model.graph.node.map((n) => n.op_type), ['Constant', cond ? 'Add' : 'Mul', 'Identity', 'Identity']);
    const probe = markAll(flat.model);
    assert.ok(probe.tensors.includes('t'));
    const session = await ort.InferenceSession.create(encodeModel(probe.model));
    const out = await session.run({ x, c: new ort.Tensor('bool', Uint8Array.from([cond ? 1 : 0]), []) });
    assert.deepEqual([...(out.t.data as Float32Array)], cond ? [4, 5] : [6, 8]);
    assert.deepEqual([...(out.y.data as Float32Array)], cond ? [4, 5] : [6, 8]);
    await session.release();
  }
});

test('generated inputs: seeded, typed, symbolic dims from --dim; a missing dim is a usage error naming it', () => {
  const io = modelIo(parseModel(ifModel(), 'if.onnx'));
  const a = generateInputs(io, { dims: {}, ranges: { x: [5, 6] }, defaultRange: [0, 1], seed: 3, sets: 2 });
  const b = generateInputs(io, { dims: {}, ranges: { x: [5, 6] }, defaultRange: [0, 1], seed: 3, sets: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0][0].data, a[1][0].data);
  assert.ok([...a[0][0].data].every((v) => v >= 5 && v < 6));
  assert.equal(a[0][1].dtype, 'bool');
  assert.throws(() => concreteDims({ name: 'x', dtype: 'float32', dims: ['batch', 3] }, {}), /--dim: input "x" has symbolic dim "batch" at axis 0; set it with --dim batch=N/);
  assert.deepEqual(concreteDims({ name: 'x', dtype: 'float32', dims: [null, 3] }, { 'x:0': 2 }), [2, 3]);
  // Every missing size in one message: a shared symbolic name once, unnamed dims by input and axis.
  const twoInputs = { inputs: [{ name: 'x', dtype: 'float32' as const, dims: ['batch', null] }, { name: 'h', dtype: 'float32' as const, dims: [2, 'batch', null] }] };
  assert.deepEqual(missingDims(twoInputs as never, {}), ['--dim batch=N', '--dim x:1=N', '--dim h:2=N']);
  assert.deepEqual(missingDims(twoInputs as never, { batch: 1, 'x:1': 4 }), ['--dim h:2=N']);
  assert.throws(() => generateInputs({ ...twoInputs, outputs: [] } as never, { dims: {}, ranges: {}, defaultRange: [0, 1], seed: 1, sets: 1 }),
    (e: Error) => e instanceof UsageError && /3 sizes to set .*--dim batch=N --dim x:1=N --dim h:2=N \(inputs: x\[batch,\?\], h\[2,batch,\?\]\)/.test(e.message));
});
