/**
 * Tensors as onnx.TensorProto: initializers in graphs, and the golden data files
 * (`test_data_set_K/input_0.pb`, serialized TensorProto) any ONNX runner can replay.
 * Data goes to `raw_data`, little-endian as the spec requires; reading also accepts the
 * typed fields (`float_data`, `int32_data`, `int64_data`) other writers use.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { DataType, decodeTensorProto, encodeTensorProto, type TensorProto } from './onnx-proto.js';

export type DType = 'float32' | 'float16' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool';

/** float16 data is held as its bit patterns; int64 as float64 numbers (exact to 2^53); bool as 0 / 1 bytes. */
export type TensorData = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | Float64Array;

export interface Tensor {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

const CODES: Record<DType, number> = {
  float32: DataType.FLOAT, float16: DataType.FLOAT16, int8: DataType.INT8, uint8: DataType.UINT8, int32: DataType.INT32, int64: DataType.INT64, bool: DataType.BOOL,
};
const BYTES: Record<DType, number> = { float32: 4, float16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1 };

export function dtypeOf(code: number): DType {
  const found = (Object.keys(CODES) as DType[]).find((k) => CODES[k] === code);
  if (!found) throw new Error(`unsupported TensorProto data_type ${code}`);
  return found;
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** A TensorProto with the data in raw_data (little-endian). */
export function toTensorProto(t: Tensor): TensorProto {
  const count = product(t.dims);
  if (t.data.length !== count) {
    throw new Error(`tensor "${t.name}": ${t.data.length} values do not fill dims [${t.dims.join(', ')}] (${count})`);
  }
  const bytes = new Uint8Array(count * BYTES[t.dtype]);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    const v = t.data[i];
    switch (t.dtype) {
      case 'float32': view.setFloat32(i * 4, v, true); break;
      case 'float16': view.setUint16(i * 2, v, true); break;
      case 'int8': view.setInt8(i, v); break;
      case 'uint8': view.setUint8(i, v); break;
      case 'bool': view.setUint8(i, v ? 1 : 0); break;
      case 'int32': view.setInt32(i * 4, v, true); break;
      case 'int64': view.setBigInt64(i * 8, BigInt(v), true); break;
    }
  }
  return { name: t.name, dims: [...t.dims], data_type: CODES[t.dtype], raw_data: bytes };
}

export function fromTensorProto(p: TensorProto): Tensor {
  const dtype = dtypeOf(p.data_type);
  const dims = (p.dims ?? []).map(Number);
  const count = product(dims);
  const name = p.name ?? '';
  const data = allocate(dtype, count);
  const raw = p.raw_data;
  if (raw && raw.length > 0) {
    if (raw.length !== count * BYTES[dtype]) {
      throw new Error(`tensor "${name}": raw_data has ${raw.length} bytes, dims [${dims.join(', ')}] of ${dtype} need ${count * BYTES[dtype]}`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      switch (dtype) {
        case 'float32': data[i] = view.getFloat32(i * 4, true); break;
        case 'float16': data[i] = view.getUint16(i * 2, true); break;
        case 'int8': data[i] = view.getInt8(i); break;
        case 'uint8': data[i] = view.getUint8(i); break;
        case 'bool': data[i] = view.getUint8(i) ? 1 : 0; break;
        case 'int32': data[i] = view.getInt32(i * 4, true); break;
        case 'int64': data[i] = Number(view.getBigInt64(i * 8, true)); break;
      }
    }
  } else {
    // The typed fields: float in float_data; float16 bits, int8, uint8, bool and int32 in int32_data; int64 in int64_data.
    const field = dtype === 'float32' ? p.float_data : dtype === 'int64' ? p.int64_data : p.int32_data;
    const values = field ?? [];
    if (values.length !== count) {
      throw new Error(`tensor "${name}": ${values.length} values do not fill dims [${dims.join(', ')}] (${count})`);
    }
    for (let i = 0; i < count; i++) data[i] = dtype === 'bool' ? (Number(values[i]) ? 1 : 0) : Number(values[i]);
  }
  return { name, dtype, dims, data };
}

function allocate(dtype: DType, count: number): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(count);
    case 'float16': return new Uint16Array(count);
    case 'int8': return new Int8Array(count);
    case 'uint8': case 'bool': return new Uint8Array(count);
    case 'int32': return new Int32Array(count);
    case 'int64': return new Float64Array(count);
  }
}

export const serializeTensor = (t: Tensor): Uint8Array => encodeTensorProto(toTensorProto(t));

export function parseTensor(bytes: Uint8Array): Tensor {
  return fromTensorProto(decodeTensorProto(bytes));
}

export function writeTensorFile(path: string, t: Tensor): Promise<void> {
  return writeFile(path, serializeTensor(t));
}

/** Reads a serialized TensorProto file (e.g. test_data_set_0/output_0.pb); errors name the file. */
export async function readTensorFile(path: string): Promise<Tensor> {
  try {
    return parseTensor(await readFile(path));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** Convenience: a float32 tensor. */
export const float32Tensor = (name: string, dims: number[], data: Float32Array): Tensor => ({ name, dtype: 'float32', dims, data });
