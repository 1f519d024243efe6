/**
 * Checking a conversion and handing it over: golden data (seeded inputs, outputs computed by
 * tfjs itself), the converted graph replayed on onnxruntime-node against it, and a folder with
 * model.onnx + test_data_set_0/ in ONNX's test-data layout that appears whole or not at all.
 * `vae convert` is these three steps plus printing; `vae verify FOLDER` then runs the graph on
 * every runtime against the same golden data.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '@vae/models';
import { writeFileAtomic } from '@vae/models/node';
import { writeGoldenSets, type Tensor } from '@vae/models/onnx';
import type { ConversionResult } from './convert.js';

/** A golden-data option that does not fit the model: a dynamic dim without a size (`dim` names it), an unknown dim name. */
export class GoldenDataError extends Error {
  constructor(message: string, readonly dim?: string) {
    super(message);
    this.name = 'GoldenDataError';
  }
}

/** onnxruntime could not be compared at all: a missing output, or an output of another shape. */
export class ParityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParityError';
  }
}

export interface GoldenOptions {
  /** Seed of the inputs (default 1). */
  seed?: number;
  /** Batch size (default 2). */
  batch?: number;
  /** Sizes of null (dynamic) dims, by the ONNX dim names the summary shows (`INPUT_dimK`). */
  dims?: Record<string, number>;
  /** Integer inputs are drawn from 0..intHigh-1 (default: the smallest Embedding inputDim, else 2). */
  intHigh?: number;
  /** The conversion used nchwIo: rank-4 tensors are written NCHW. */
  nchwIo?: boolean;
}

/** One golden set, in the graph's layout and with its ONNX names. */
export interface GoldenData { inputs: Tensor[]; outputs: Tensor[] }

/** The tolerance of `vae convert`: |ort − tfjs| <= atol + rtol·|tfjs| everywhere. */
export const PARITY_TOLERANCE = { atol: 1e-4, rtol: 1e-3 } as const;

export interface ParityResult {
  /** Largest |ort − tfjs| (Infinity for a NaN where tfjs has a number). */
  maxAbs: number;
  /** The output that holds it. */
  worst: string;
  /** Values over the tolerance. */
  failures: number;
}

/** NHWC → NCHW for rank-4 data (row-major). */
function toNchw(data: Float32Array | Int32Array, [n, h, w, c]: number[]): Float32Array | Int32Array {
  const out = new (data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(data.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
    out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  }
  return out;
}

/** The concrete tfjs shape of each input: the batch, and null dims from `dims` (by their ONNX names). */
function inputShapes(model: tf.LayersModel, result: ConversionResult, batch: number, nchwIo: boolean, dims: Record<string, number>): number[][] {
  const used = new Set<string>();
  const shapes = model.inputs.map((s, i) => {
    const io = result.summary.inputs[i];
    // ONNX axis j holds tfjs axis perm[j]; the converter names null dims after the ONNX axis.
    const perm = nchwIo && s.shape.length === 4 ? [0, 3, 1, 2] : s.shape.map((_, k) => k);
    const shape = [...s.shape] as (number | null)[];
    perm.forEach((logical, j) => {
      if (logical === 0) { shape[0] = batch; return; }
      if (shape[logical] !== null) return;
      const name = String(io.shape[j]);
      const size = dims[name];
      if (size === undefined) {
        throw new GoldenDataError(`input "${io.name}" axis ${j} ("${name}") has no fixed size in the tfjs model (shape [${s.shape.map(String).join(', ')}]) and dims has none`, name);
      }
      used.add(name);
      shape[logical] = size;
    });
    return shape as number[];
  });
  const unknown = Object.keys(dims).filter((k) => !used.has(k));
  if (unknown.length) {
    const known = result.summary.inputs.flatMap((io) => io.shape.filter((d, j) => typeof d === 'string' && j > 0)).map(String);
    throw new GoldenDataError(`${unknown.join(', ')}: no such dynamic dim (the model's: ${known.length ? known.join(', ') : 'none besides the batch'})`);
  }
  return shapes;
}

/** The smallest Embedding inputDim (a valid index range for every Embedding), or undefined. */
function embeddingRange(model: tf.LayersModel): number | undefined {
  const sizes: number[] = [];
  const visit = (m: tf.LayersModel) => {
    for (const l of m.layers) {
      if (l instanceof tf.LayersModel) visit(l);
      else if (l.getClassName() === 'Embedding') sizes.push((l.getConfig() as { inputDim: number }).inputDim);
    }
  };
  visit(model);
  return sizes.length ? Math.min(...sizes) : undefined;
}

/**
 * Seeded inputs (uniform in [0, 1); integers in 0..intHigh-1) and the outputs tfjs computes for
 * them on its current backend, named and laid out as the converted graph's I/O.
 */
export function goldenData(model: tf.LayersModel, result: ConversionResult, options: GoldenOptions = {}): GoldenData {
  const { seed = 1, batch = 2, dims = {}, nchwIo = false } = options;
  if (!Number.isInteger(seed)) throw new GoldenDataError(`seed must be an integer, got ${seed}`);
  if (!(Number.isInteger(batch) && batch > 0)) throw new GoldenDataError(`batch must be a positive integer, got ${batch}`);
  const shapes = inputShapes(model, result, batch, nchwIo, dims);
  const rand = mulberry32(seed);
  const high = options.intHigh ?? embeddingRange(model) ?? 2;
  const nchw = (shape: number[]) => nchwIo && shape.length === 4;
  const onnxOf = (name: string, shape: number[], data: Float32Array | Int32Array): Tensor => ({
    name, dtype: data instanceof Int32Array ? 'int32' : 'float32',
    dims: nchw(shape) ? [shape[0], shape[3], shape[1], shape[2]] : shape,
    data: nchw(shape) ? toNchw(data, shape) : data,
  });
  const feeds = model.inputs.map((s, i) => {
    const count = shapes[i].reduce((x, y) => x * y, 1);
    return s.dtype === 'int32'
      ? Int32Array.from({ length: count }, () => Math.floor(rand() * high))
      : Float32Array.from({ length: count }, () => rand());
  });
  const outputs = tf.tidy(() => {
    const xs = feeds.map((data, i) => tf.tensor(data, shapes[i], model.inputs[i].dtype as 'float32' | 'int32'));
    const out = model.predict(xs.length === 1 ? xs[0] : xs, { batchSize: batch });
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape as number[], data: t.dataSync() as Float32Array | Int32Array }));
  });
  return {
    inputs: feeds.map((data, i) => onnxOf(result.summary.inputs[i].name, shapes[i], data)),
    outputs: outputs.map((o, i) => onnxOf(result.summary.outputs[i].name, o.shape, o.data instanceof Int32Array ? o.data : Float32Array.from(o.data))),
  };
}

/** Runs the graph on onnxruntime-node (CPU, one thread) on the golden inputs and compares with the golden outputs. */
export async function compareWithOnnxruntime(bytes: Uint8Array, golden: GoldenData, tolerance: { atol: number; rtol: number } = PARITY_TOLERANCE): Promise<ParityResult> {
  // Loaded here, not at the top: converting needs no native addon, only checking does.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const t of golden.inputs) feeds[t.name] = new ort.Tensor(t.dtype as 'float32' | 'int32', t.data as Float32Array | Int32Array, t.dims);
    const got = await session.run(feeds);
    const parity: ParityResult = { maxAbs: 0, worst: golden.outputs[0]?.name ?? '', failures: 0 };
    for (const want of golden.outputs) {
      const t = got[want.name];
      if (!t) throw new ParityError(`onnxruntime returned no output "${want.name}"`);
      if (t.dims.join(',') !== want.dims.join(',')) {
        throw new ParityError(`output "${want.name}": onnxruntime gives shape [${t.dims.join(', ')}], tfjs [${want.dims.join(', ')}]`);
      }
      const data = t.data as Float32Array | Int32Array;
      const ref = want.data as Float32Array | Int32Array;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(Number(data[i]) - ref[i]);
        // NaN or an infinity counts as a mismatch unless tfjs has the same value there.
        const same = Object.is(Number(data[i]), ref[i]);
        if (!same && !(d <= tolerance.atol + tolerance.rtol * Math.abs(ref[i]))) parity.failures++;
        if (!same && !(d <= parity.maxAbs)) { parity.maxAbs = Number.isNaN(d) ? Infinity : d; parity.worst = want.name; }
      }
    }
    return parity;
  } finally {
    await session.release();
  }
}

/**
 * Writes `out`/model.onnx + test_data_set_0/ (the golden set, with `description`): assembled in a
 * temporary folder beside `out`, then renamed into place, replacing what was there. Returns the
 * files written, relative to `out`. The caller decides whether `out` may be replaced.
 */
export async function writeConversionDir(out: string, bytes: Uint8Array, golden: GoldenData, description: string): Promise<string[]> {
  const parent = dirname(out);
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.${basename(out)}.${process.pid}.tmp`);
  const old = join(parent, `.${basename(out)}.${process.pid}.old`);
  await rm(temp, { recursive: true, force: true });
  try {
    await mkdir(temp);
    await writeFileAtomic(join(temp, 'model.onnx'), bytes);
    const [set] = await writeGoldenSets(temp, '.', [{ description, inputs: golden.inputs, outputs: golden.outputs }]);
    const existed = existsSync(out);
    if (existed) await rename(out, old);
    try {
      await rename(temp, out);
    } catch (err) {
      if (existed) await rename(old, out);
      throw err;
    }
    if (existed) await rm(old, { recursive: true, force: true });
    return ['model.onnx', ...[...set.inputs, ...set.outputs].map((f) => `test_data_set_0/${f}`)];
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
