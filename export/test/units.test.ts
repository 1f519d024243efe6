import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFloat16Bits, toFloat16Array, toFloat16Bits, fromFloat16Array } from '@vae/models/onnx';
import { decodeTensorProto, encodeTensorProto, DataType } from '@vae/models/onnx';
import { fromTensorProto, parseTensor, readTensorFile, serializeTensor, writeTensorFile, type Tensor } from '@vae/models/onnx';
import { edgeLatents, seededNormals } from '../src/golden.js';
import { floats } from './helpers.js';

test('float16: exact values, rounding to nearest even, overflow, subnormals', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
    [-Infinity, 0xfc00], [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, ties to even (up)
  ];
  for (const [v, bits] of cases) assert.equal(toFloat16Bits(v), bits, `toFloat16Bits(${v})`);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  for (const bits of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xbc01]) assert.equal(toFloat16Bits(fromFloat16Bits(bits)), bits);
  const x = floats(1000, 3, 4);
  const back = fromFloat16Array(toFloat16Array(x));
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= Math.abs(x[i]) * 2 ** -11 + 2 ** -25);
});

test('TensorProto: every dtype round-trips through raw_data', () => {
  const tensors: Tensor[] = [
    { name: 'f', dtype: 'float32', dims: [2, 3], data: Float32Array.from([1.5, -2, 0, 3.25, 1e-30, -7]) },
    { name: 'h', dtype: 'float16', dims: [3], data: Uint16Array.from([0x3c00, 0x8001, 0x7bff]) },
    { name: 'i8', dtype: 'int8', dims: [4], data: Int8Array.from([-127, -1, 0, 127]) },
    { name: 'i32', dtype: 'int32', dims: [2], data: Int32Array.from([-5, 2 ** 30]) },
    { name: 'i64', dtype: 'int64', dims: [2], data: Float64Array.from([-3, 2 ** 40]) },
    { name: 'scalar', dtype: 'float32', dims: [], data: Float32Array.from([42]) },
  ];
  for (const t of tensors) {
    const back = parseTensor(serializeTensor(t));
    assert.deepEqual(back, t, t.name);
  }
});

test('TensorProto: the typed fields other writers use are read too; bad data is named', () => {
  const f = fromTensorProto(decodeTensorProto(encodeTensorProto({ name: 'a', dims: [2], data_type: DataType.FLOAT, float_data: [0.5, -1] })));
  assert.deepEqual([...f.data], [0.5, -1]);
  const h = fromTensorProto({ name: 'b', dims: [1], data_type: DataType.FLOAT16, int32_data: [0x3c00] });
  assert.deepEqual([...h.data], [0x3c00]);
  const l = fromTensorProto(decodeTensorProto(encodeTensorProto({ name: 'c', dims: [2], data_type: DataType.INT64, int64_data: [7, -8] })));
  assert.deepEqual([...l.data], [7, -8]);
  assert.throws(() => fromTensorProto({ name: 'd', dims: [3], data_type: DataType.FLOAT, raw_data: new Uint8Array(8) }), /tensor "d": raw_data has 8 bytes/);
  assert.throws(() => fromTensorProto({ name: 'e', dims: [1], data_type: 8 }), /unsupported TensorProto data_type 8/);
  assert.throws(() => serializeTensor({ name: 'g', dtype: 'float32', dims: [2, 2], data: new Float32Array(3) }), /3 values do not fill dims \[2, 2\]/);
  assert.throws(() => parseTensor(Uint8Array.from([0xff, 0xff, 0xff])), /not a serialized onnx\.TensorProto/);
});

test('tensor files: write and read back, errors name the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vae-tensor-'));
  try {
    const t: Tensor = { name: 'x', dtype: 'float32', dims: [1, 2], data: Float32Array.from([1, 2]) };
    await writeTensorFile(join(dir, 'input_0.pb'), t);
    assert.deepEqual(await readTensorFile(join(dir, 'input_0.pb')), t);
    await assert.rejects(readTensorFile(join(dir, 'nope.pb')), /nope\.pb: ENOENT/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('golden latents: edge rows and seeded normals are deterministic', () => {
  const e2 = edgeLatents(2);
  assert.equal(e2.rows, 8);
  assert.deepEqual([...e2.data.subarray(0, 8)], [0, 0, 5, 5, -5, -5, 5, -5]);
  const e64 = edgeLatents(64);
  assert.equal(e64.rows, 16);
  assert.equal(e64.data.length, 16 * 64);
  assert.deepEqual([...edgeLatents(1).data], [0, 5, -5, 5, 5, -5]);
  const a = seededNormals(1001, 7);
  assert.deepEqual(a, seededNormals(1001, 7));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(variance - 1) < 0.15, `mean ${mean}, variance ${variance}`);
});
