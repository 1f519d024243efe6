/**
 * The data a general ONNX model is verified on: golden sets in ONNX's test-data layout
 * (`test_data_set_K/input_N.pb, output_N.pb`), or seeded inputs generated from the graph's input
 * types and shapes, saved in the same layout so the run can be repeated.
 */
import { join } from 'node:path';
import { mulberry32 } from '@vae/models';
import { readTestDataSets, serializeTensor, toFloat16Bits } from '@vae/models/onnx';
import { writeFileAtomic } from '@vae/models/node';
import type { IoSpec, ModelIo } from './onnx-graph.js';
import { UsageError } from './matrix.js';
import { elementCount, type DType, type Tensor } from './tensors.js';

export { UsageError };

/** One data set: the feeds, and the expected outputs when the data came with them. */
export interface DataSet { dir: string; inputs: Tensor[]; outputs: Tensor[] }

/** An input's value range for generated data: uniform in [lo, hi) (integers: lo..hi inclusive). */
export type Range = [number, number];

export interface GenerateOptions {
  /** Values of symbolic dims, by name (e.g. batch = 1). */
  dims: Record<string, number>;
  /** Per-input ranges; `default` for the rest (Polygraphy's default is [0, 1]). */
  ranges: Record<string, Range>;
  defaultRange: Range;
  seed: number;
  sets: number;
  /** Refuse per-input ranges for inputs the model lacks (on when it is the only target). */
  strictNames?: boolean;
}

/** The concrete shape of an input; a symbolic or unknown dim must be given with --dim. */
export function concreteDims(spec: IoSpec, dims: Record<string, number>): number[] {
  return spec.dims.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    const value = typeof d === 'string' ? dims[d] : dims[`${spec.name}:${i}`];
    if (value === undefined) {
      throw new UsageError(`--dim: input "${spec.name}" has ${typeof d === 'string' ? `symbolic dim "${d}"` : 'an unnamed dim'} at axis ${i}; ` +
        `set it with --dim ${typeof d === 'string' ? d : `${spec.name}:${i}`}=N`);
    }
    return value;
  });
}

function generated(dtype: DType, count: number, [lo, hi]: Range, rand: () => number): Tensor['data'] {
  const int = () => Math.floor(lo + rand() * (Math.floor(hi) - Math.ceil(lo) + 1));
  switch (dtype) {
    case 'float32': return Float32Array.from({ length: count }, () => lo + rand() * (hi - lo));
    case 'float16': return Uint16Array.from({ length: count }, () => toFloat16Bits(lo + rand() * (hi - lo)));
    case 'bool': return Uint8Array.from({ length: count }, () => (rand() < 0.5 ? 1 : 0));
    case 'uint8': return Uint8Array.from({ length: count }, int);
    case 'int8': return Int8Array.from({ length: count }, int);
    case 'int32': return Int32Array.from({ length: count }, int);
    case 'int64': return Float64Array.from({ length: count }, int);
  }
}

/** Every --dim flag the inputs still need, as "NAME=N" or "INPUT:AXIS=N", each once. */
export function missingDims(io: ModelIo, dims: Record<string, number>): string[] {
  const missing = new Set<string>();
  for (const spec of io.inputs) {
    spec.dims.forEach((d, i) => {
      if (typeof d === 'number' && d > 0) return;
      const key = typeof d === 'string' ? d : `${spec.name}:${i}`;
      if (dims[key] === undefined) missing.add(`--dim ${key}=N`);
    });
  }
  return [...missing];
}

/** Seeded inputs for every set: set K uses seed + K, inputs in graph order. */
export function generateInputs(io: ModelIo, o: GenerateOptions): Tensor[][] {
  for (const name of o.strictNames ? Object.keys(o.ranges) : []) {
    if (!io.inputs.some((i) => i.name === name)) throw new UsageError(`--val-range: the model has no input "${name}" (inputs: ${io.inputs.map((i) => i.name).join(', ')})`);
  }
  // All the missing sizes in one message, rather than one per run.
  const missing = missingDims(io, o.dims);
  if (missing.length > 1) {
    throw new UsageError(`--dim: the model's inputs have ${missing.length} sizes to set before inputs can be generated: ${missing.join(' ')} ` +
      `(inputs: ${io.inputs.map((i) => `${i.name}[${i.dims.map((d) => d ?? '?').join(',')}]`).join(', ')})`);
  }
  return Array.from({ length: o.sets }, (_, k) => {
    const rand = mulberry32(o.seed + k);
    return io.inputs.map((spec) => {
      const dims = concreteDims(spec, o.dims);
      return { name: spec.name, dtype: spec.dtype, dims, data: generated(spec.dtype, elementCount(dims), o.ranges[spec.name] ?? o.defaultRange, rand) };
    });
  });
}

/** Reads test_data_set_* under `dir`, names tensors by position where the files leave them empty, checks them against the graph. */
export async function readDataSets(dir: string, io: ModelIo): Promise<DataSet[]> {
  let sets;
  try {
    sets = await readTestDataSets(dir);
  } catch (err) {
    throw new UsageError(`--data: cannot read test data in ${dir}: ${(err as Error).message}`);
  }
  if (sets.length === 0) throw new UsageError(`--data: ${dir} has no test_data_set_* folders`);
  return sets.map((s) => {
    s.inputs.forEach((t, i) => { t.name ||= io.inputs[i]?.name ?? ''; });
    s.outputs.forEach((t, i) => { t.name ||= io.outputs[i]?.name ?? ''; });
    for (const spec of io.inputs) {
      const t = s.inputs.find((x) => x.name === spec.name);
      if (!t) throw new Error(`${s.dir}: no tensor for input "${spec.name}"`);
      if (t.dtype !== spec.dtype) throw new Error(`${s.dir}: input "${spec.name}" is ${t.dtype}, the model takes ${spec.dtype}`);
    }
    for (const t of s.outputs) if (!io.outputs.some((o) => o.name === t.name)) throw new Error(`${s.dir}: "${t.name}" is not an output of the model`);
    return { dir: s.dir, inputs: s.inputs, outputs: s.outputs };
  });
}

/** Writes sets as `dir/test_data_set_K/input_N.pb, output_N.pb` (each file atomically). */
export async function writeDataSets(dir: string, sets: DataSet[]): Promise<void> {
  for (const [k, set] of sets.entries()) {
    const folder = join(dir, `test_data_set_${k}`);
    for (const [i, t] of set.inputs.entries()) await writeFileAtomic(join(folder, `input_${i}.pb`), serializeTensor(t));
    for (const [i, t] of set.outputs.entries()) await writeFileAtomic(join(folder, `output_${i}.pb`), serializeTensor(t));
  }
}
