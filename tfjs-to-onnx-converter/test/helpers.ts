/** Shared test helpers: seeded weights and inputs, and the tfjs ↔ onnxruntime comparison. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '@vae/models';
import { convertLayersModel, type ConversionResult, type ConvertOptions } from '../src/index.js';

await tf.setBackend('cpu');

export const ATOL = 1e-5;
export const RTOL = 1e-4;

/** The project's seeded generator (mulberry32), so every run sees the same weights and inputs. */
export const rng = mulberry32;

export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Replaces every weight with seeded values; variances stay positive. */
export function seedWeights(model: tf.LayersModel, seed = 1): void {
  const values = model.weights.map((v, i) => {
    const shape = v.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const positive = /variance/.test(v.originalName ?? v.name);
    return tf.tensor(uniform(size, seed * 1000 + i, positive ? 0.5 : -1, positive ? 1.5 : 1), shape);
  });
  model.setWeights(values);
}

export interface ParityOptions extends ConvertOptions {
  seed?: number;
  batch?: number;
  /** Sizes for null (dynamic) non-batch input dims, in order. */
  dynamic?: number[];
}

const toNchw = (data: Float32Array, shape: number[]) => tf.tidy(() => tf.tensor(data, shape).transpose([0, 3, 1, 2]).dataSync() as Float32Array);

/** Converts `model`, runs tfjs and onnxruntime on the same seeded inputs, asserts they agree. */
export async function assertParity(model: tf.LayersModel, options: ParityOptions = {}): Promise<ConversionResult> {
  const { seed = 7, batch = 2, dynamic = [], ...convert } = options;
  if (!model.weights.length || seed) seedWeights(model, seed);
  const result = await convertLayersModel(model, convert);
  const session = await ort.InferenceSession.create(result.bytes);
  const feeds: Record<string, ort.Tensor> = {};
  const xs = model.inputs.map((s, i) => {
    let k = 0;
    const shape = s.shape.map((d, j) => (j === 0 ? batch : d ?? dynamic[k++]));
    const data = uniform(shape.reduce((a, b) => a * b, 1), seed * 31 + i, -2, 2);
    const nchw = convert.nchwIo && shape.length === 4;
    const dims = nchw ? [shape[0], shape[3], shape[1], shape[2]] : shape;
    feeds[session.inputNames[i]] = new ort.Tensor('float32', nchw ? toNchw(data, shape) : data, dims);
    return tf.tensor(data, shape);
  });
  const predicted = model.predict(xs.length === 1 ? xs[0] : xs);
  const expected = Array.isArray(predicted) ? predicted : [predicted];
  const got = await session.run(feeds);
  session.outputNames.forEach((name, i) => {
    const want = expected[i];
    const nchw = convert.nchwIo && want.shape.length === 4;
    const wantData = nchw ? toNchw(want.dataSync() as Float32Array, want.shape) : (want.dataSync() as Float32Array);
    const wantDims = nchw ? [want.shape[0], want.shape[3], want.shape[1], want.shape[2]] : want.shape;
    assert.deepEqual(got[name].dims.map(Number), wantDims, `output "${name}" shape`);
    assertClose(got[name].data as Float32Array, wantData, `output "${name}"`);
  });
  tf.dispose([...xs, ...expected]);
  await session.release();
  return result;
}

export function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const tol = ATOL + RTOL * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      assert.fail(`${what}[${i}]: onnxruntime ${actual[i]}, tfjs ${expected[i]} (|diff| ${Math.abs(actual[i] - expected[i])} > ${tol})`);
    }
  }
}

export const countOps = (result: ConversionResult, op: string): number => result.model.graph.node.filter((n) => n.op_type === op).length;

/** A Sequential model of `layers` on an input of `shape` (without batch). */
export function sequential(shape: (number | null)[], layers: tf.layers.Layer[]): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: shape }));
  for (const layer of layers) model.add(layer);
  return model;
}
