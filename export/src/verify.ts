/**
 * Replays golden data through a graph with onnxruntime-node (CPU) and measures the largest
 * absolute difference from the reference (tfjs) outputs, per output name.
 */
import * as ort from 'onnxruntime-node';
import type { GoldenSet } from '@vae/models/onnx';

export const ORT_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;
export const ORT_RUNTIME = `onnxruntime-node ${ORT_VERSION} (cpu)`;

/** Runs a model (file path or bytes) on named float32 inputs; returns every output as float32. */
export async function runOnnx(model: string | Uint8Array, inputs: { name: string; dims: number[]; data: Float32Array }[]): Promise<Record<string, Float32Array>> {
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, { executionProviders: ['cpu'] })
    : await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = new ort.Tensor('float32', t.data, t.dims);
    const results = await session.run(feeds);
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(results)) {
      if (t.type !== 'float32') throw new Error(`output "${name}" is ${t.type}, expected float32`);
      out[name] = t.data as Float32Array;
    }
    return out;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cannot compare ${a.length} values with ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

export interface ParityErrors {
  /** Largest |onnxruntime - reference| per output name, over all sets. */
  max: Record<string, number>;
  /** Mean |onnxruntime - reference| per output name, over all values of all sets. */
  mean: Record<string, number>;
}

/** Runs every golden set through the model and compares outputs (matched by name) with the reference. */
export async function measureParity(model: string | Uint8Array, sets: GoldenSet[]): Promise<ParityErrors> {
  const max: Record<string, number> = {};
  const sum: Record<string, number> = {};
  const count: Record<string, number> = {};
  for (const set of sets) {
    const got = await runOnnx(model, set.inputs.map((t) => ({ name: t.name, dims: t.dims, data: t.data as Float32Array })));
    for (const want of set.outputs) {
      const actual = got[want.name];
      if (!actual) throw new Error(`the graph has no output "${want.name}" (it has ${Object.keys(got).join(', ')})`);
      max[want.name] = Math.max(max[want.name] ?? 0, maxAbsDiff(actual, want.data));
      let s = 0;
      for (let i = 0; i < actual.length; i++) s += Math.abs(actual[i] - want.data[i]);
      sum[want.name] = (sum[want.name] ?? 0) + s;
      count[want.name] = (count[want.name] ?? 0) + actual.length;
    }
  }
  const mean = Object.fromEntries(Object.keys(sum).map((k) => [k, sum[k] / count[k]]));
  return { max, mean };
}
