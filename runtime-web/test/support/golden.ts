/**
 * The golden data of a released model (manifest `graphs.<g>.testData`), read in Node: a
 * minimal onnx.TensorProto reader for float32 tensors (dims, data_type, float_data,
 * raw_data), so the tests do not load @vae/export (and tfjs) just to parse three fields.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifestText, type Manifest } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

const FLOAT = 1;

/** Parses a serialized TensorProto holding float32 data. */
export function parseFloatTensorProto(bytes: Uint8Array): FloatTensor {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error('truncated TensorProto');
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  const dims: number[] = [];
  let dataType = -1;
  const floats: number[] = [];
  let raw: Uint8Array | null = null;
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) dims.push(v);
      else if (field === 2) dataType = v;
    } else if (wire === 2) {
      const len = varint();
      const end = pos + len;
      if (field === 1) while (pos < end) dims.push(varint());
      else if (field === 4) for (; pos < end; pos += 4) floats.push(view.getFloat32(pos, true));
      else if (field === 9) raw = bytes.subarray(pos, end);
      pos = end;
    } else if (wire === 5) {
      if (field === 4) floats.push(view.getFloat32(pos, true));
      pos += 4;
    } else if (wire === 1) pos += 8;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  if (dataType !== FLOAT) throw new Error(`expected a float32 TensorProto, found data_type ${dataType}`);
  const count = dims.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (raw) {
    data = new Float32Array(count);
    const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) data[i] = rv.getFloat32(i * 4, true);
  } else data = Float32Array.from(floats);
  if (data.length !== count) throw new Error(`TensorProto has ${data.length} values for dims [${dims.join(', ')}]`);
  return { dims, data };
}

export interface GoldenSet {
  dir: string;
  rows: number;
  input: FloatTensor;
  outputs: FloatTensor[];
}

export interface ModelGolden {
  name: string;
  dir: string;
  manifest: Manifest;
  encoder: GoldenSet[];
  decoder: GoldenSet[];
}

export function readGolden(name: string): ModelGolden {
  const dir = releasedModelDir(name);
  const manifest = parseManifestText(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const sets = (graph: 'encoder' | 'decoder'): GoldenSet[] => manifest.graphs[graph].testData.map((t) => {
    const read = (f: string) => parseFloatTensorProto(readFileSync(join(dir, t.dir, f)));
    return { dir: t.dir, rows: t.rows, input: read(t.inputs[0]), outputs: t.outputs.map(read) };
  });
  return { name, dir, manifest, encoder: sets('encoder'), decoder: sets('decoder') };
}

/** Largest and mean |a - b|. */
export function absErrors(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number; count: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
  }
  return { max, mean: sum / a.length, count: a.length };
}
