/**
 * Typed tensors (any of the common ONNX dtypes) for models we did not make: their raw
 * little-endian bytes (what crosses into onnxruntime and into the browser page), their values
 * as float64 numbers (for the error statistics), and the ONNX elem_type codes.
 *
 * Data is held as @vae/models' Tensor: float16 as bit patterns (Uint16Array), int64 as float64
 * numbers (exact to 2^53), bool as 0 / 1 bytes.
 */
import { fromFloat16Bits, type DType, type Tensor, type TensorData } from '@vae/models/onnx';

export type { DType, Tensor };

/** ONNX TensorProto.DataType code -> dtype, for the dtypes `vae verify` runs. */
export const ELEM_TYPES: Readonly<Record<number, DType>> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16' };
export const SUPPORTED_DTYPES: readonly DType[] = ['float32', 'float16', 'int64', 'int32', 'uint8', 'int8', 'bool'];

const BYTES: Record<DType, number> = { float32: 4, float16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1 };

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16';
export const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** The dtype of an ONNX elem_type code; the error names the tensor. */
export function dtypeOfElemType(code: number, what: string): DType {
  const d = ELEM_TYPES[code];
  if (!d) throw new Error(`${what}: ONNX element type ${code} is not supported (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  return d;
}

/** Every value as a float64 number (float16 decoded from its bits). */
export function numericValues(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  if (t.dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = fromFloat16Bits(t.data[i]);
  else for (let i = 0; i < out.length; i++) out[i] = t.data[i];
  return out;
}

/** The tensor's data as the typed array onnxruntime takes for its dtype (int64: BigInt64Array). */
export function ortData(t: Tensor): Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array {
  if (t.dtype !== 'int64') return t.data as Exclude<TensorData, Float64Array>;
  const out = new BigInt64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = BigInt(t.data[i]);
  return out;
}

/** Raw little-endian bytes of the tensor (what onnxruntime holds). */
export function tensorBytes(t: Tensor): Uint8Array {
  const d = ortData(t);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A tensor from raw little-endian bytes (copied); the error names the tensor. */
export function tensorFromBytes(name: string, dtype: DType, dims: number[], bytes: Uint8Array): Tensor {
  const count = elementCount(dims);
  if (bytes.byteLength !== count * BYTES[dtype]) throw new Error(`tensor "${name}": ${bytes.byteLength} bytes for dims [${dims.join(', ')}] of ${dtype}`);
  const copy = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'float32': return { name, dtype, dims, data: new Float32Array(copy) };
    case 'float16': return { name, dtype, dims, data: new Uint16Array(copy) };
    case 'int8': return { name, dtype, dims, data: new Int8Array(copy) };
    case 'uint8': return { name, dtype, dims, data: new Uint8Array(copy) };
    case 'bool': return { name, dtype, dims, data: new Uint8Array(copy).map((v) => (v ? 1 : 0)) };
    case 'int32': return { name, dtype, dims, data: new Int32Array(copy) };
    case 'int64': return { name, dtype, dims, data: Float64Array.from(new BigInt64Array(copy), Number) };
  }
}

/** An onnxruntime output tensor (node or web, any location already read to the CPU) as a Tensor. */
export function fromOrtTensor(name: string, t: { type: string; dims: readonly number[]; data: unknown }): Tensor {
  const dtype = t.type as DType;
  if (!SUPPORTED_DTYPES.includes(dtype)) throw new Error(`output "${name}" is ${t.type} (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  const d = t.data as ArrayBufferView;
  return tensorFromBytes(name, dtype, [...t.dims], new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}
