// The data-parallel trainer (worker threads averaging gradients) against the one-thread
// LocalTrainer, on a small model and random data so no dataset is needed.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../src/adam.js';
import { adamKernel, adamLayout, adamSlices, adamViews, sharedAdamMemory } from '../src/speed/adam-simd.js';
import { selectBackend } from '../src/backend.js';
import type { RunConfig } from '../src/config.js';
import { createVae } from '../src/model.js';
import { ParallelTrainer, createParallelTrainer } from '../src/speed/parallel.js';
import { shardRanges } from '../src/speed/shards.js';
import { mulberry32, standardNormal } from '../src/random.js';
import { LocalTrainer, type LossSums, type Trainer, type TrainerState } from '../src/step.js';

const CONFIG: RunConfig = {
  dataset: 'mnist',
  model: { inputSize: 48, hiddenSizes: [32, 24], latentSize: 4 },
  beta: 1,
  learningRate: 1e-3,
  batchSize: 11,
  epochs: 1,
  seed: 7,
  threads: 2,
};
const { inputSize, latentSize } = CONFIG.model;

await selectBackend('wasm');

/** `rows` random images (pixels in [0, 1]) and their noise, both seeded. */
function batch(rows: number, seed: number): { x: Float32Array; eps: Float32Array } {
  const rand = mulberry32(seed);
  return {
    x: Float32Array.from({ length: rows * inputSize }, () => rand()),
    eps: standardNormal(rows * latentSize, seed + 1000),
  };
}

const trainers: Trainer[] = [];
after(() => Promise.all(trainers.map((t) => t.dispose())));

function local(): LocalTrainer {
  const t = new LocalTrainer(createVae(CONFIG.model, CONFIG.seed), CONFIG.beta, CONFIG.learningRate);
  trainers.push(t);
  return t;
}

async function parallel(threads: number): Promise<ParallelTrainer> {
  const t = (await createParallelTrainer({ ...CONFIG, threads })) as ParallelTrainer;
  trainers.push(t);
  return t;
}

// Starting a worker (tfjs + wasm) takes about a second, so the tests share three trainers.
const [two, p, q] = await Promise.all([parallel(2), parallel(3), parallel(3)]);

function maxAbsDiff(a: TrainerState, b: TrainerState): number {
  let max = 0;
  a.weights.forEach((w, i) => w.forEach((v, j) => (max = Math.max(max, Math.abs(v - b.weights[i][j])))));
  return max;
}

function assertClose(actual: LossSums, expected: LossSums, relative: number): void {
  assert.equal(actual.count, expected.count);
  for (const key of ['bce', 'kl'] as const) {
    const err = Math.abs(actual[key] - expected[key]) / Math.abs(expected[key]);
    assert.ok(err <= relative, `${key}: ${actual[key]} vs ${expected[key]} (relative error ${err})`);
  }
}

test('the sharded SIMD Adam update is bit-identical to a tfjs-ops gradient sum and Adam.apply', () => {
  const shapes = [[37, 11], [11], [5, 3]];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const n = sizes.reduce((a, b) => a + b, 0);
  const rand = mulberry32(3);
  const init = Float32Array.from({ length: n }, () => rand() - 0.5);
  let offset = 0;
  const vars = shapes.map((s, i) => tf.variable(tf.tensor(init.slice(offset, (offset += sizes[i])), s)));
  const adam = new Adam(vars, { learningRate: 1e-3 });
  const weights = [6 / 11, 5 / 11];
  const layout = adamLayout(n, weights.length); // n = 433: the last vector is padded
  const memory = sharedAdamMemory(layout);
  const flat = adamViews(memory, layout);
  flat.params.set(init);
  const hyper = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  const kernels = [0, 1, 2].map((worker) => adamKernel(memory, layout, hyper, worker));
  const slices = adamSlices(layout, 3);
  for (let step = 1; step <= 6; step++) {
    // Gradients over many magnitudes, with exact zeros (empty shards) now and then.
    const parts = weights.map(() => Float32Array.from({ length: n }, () => (rand() < 0.1 ? 0 : (rand() - 0.5) * 10 ** (rand() * 12 - 9))));
    parts.forEach((part, k) => flat.slots[k].set(part));
    offset = 0;
    const grads = vars.map((v, i) => {
      const [start, end] = [offset, (offset += sizes[i])];
      return tf.tidy(() => tf.add(
        tf.mul(tf.tensor(parts[0].subarray(start, end), v.shape), weights[0]),
        tf.mul(tf.tensor(parts[1].subarray(start, end), v.shape), weights[1])));
    });
    adam.apply(grads);
    tf.dispose(grads);
    slices.forEach(([start, end], worker) => kernels[worker](step, weights, start, end)); // slices cut tensors
  }
  const concat = (ts: ArrayLike<number>[]) => Float32Array.from(ts.flatMap((t) => Array.from(t)));
  assert.deepEqual(flat.params, concat(vars.map((v) => v.dataSync())));
  assert.deepEqual(flat.m, concat((adam as unknown as { m: tf.Variable[] }).m.map((t) => t.dataSync())));
  assert.deepEqual(flat.v, concat((adam as unknown as { v: tf.Variable[] }).v.map((t) => t.dataSync())));
  adam.dispose();
  tf.dispose(vars);
});

test('shards are contiguous and differ in size by at most one', () => {
  assert.deepEqual(shardRanges(11, 2), [[0, 6], [6, 11]]);
  assert.deepEqual(shardRanges(10, 3), [[0, 4], [4, 7], [7, 10]]);
  assert.deepEqual(shardRanges(1, 3), [[0, 1], [1, 1], [1, 1]]);
});

test('2 threads follow the 1-thread trainer up to float reduction order', async () => {
  const one = local();
  for (let step = 0; step < 3; step++) {
    const { x, eps } = batch(CONFIG.batchSize, step); // 6 + 5 rows
    assertClose(await two.trainStep(x, eps), await one.trainStep(x, eps), 1e-5);
  }
  const [a, b] = [await one.getState(), await two.getState()];
  assert.equal(b.adam.step, 3);
  const diff = maxAbsDiff(a, b);
  assert.ok(diff < 1e-5, `weights differ by up to ${diff}`);

  const test = batch(25, 99); // 13 + 12 rows, each worker evaluates its share
  assertClose(await two.evaluate(test.x, test.eps), await one.evaluate(test.x, test.eps), 1e-5);
});

test('same seed and thread count: bit-identical weights, identical in every worker', async () => {
  for (let step = 0; step < 3; step++) {
    const { x, eps } = batch(CONFIG.batchSize, step); // 4 + 4 + 3 rows
    assert.deepEqual(await p.trainStep(x, eps), await q.trainStep(x, eps));
  }
  const state = await p.getState();
  assert.equal(state.adam.step, 3);
  assert.deepEqual(await q.getState(), state);
  assert.deepEqual(await p.getState(1), state);
  assert.deepEqual(await p.getState(2), state);
});

test('setState reaches every worker, and training continues identically from it', async () => {
  const state = await p.getState();
  await q.setState(state);
  for (const k of [0, 1, 2]) assert.deepEqual(await q.getState(k), state);
  const { x, eps } = batch(CONFIG.batchSize, 42);
  assert.deepEqual(await q.trainStep(x, eps), await p.trainStep(x, eps));
  assert.deepEqual(await q.getState(2), await p.getState());
});

test('steps posted without waiting each train on their own batch, copied before the call returns', async () => {
  await q.setState(await p.getState());
  // Two groups of three steps posted at once; the second reuses the first's pooled buffers
  // but for its 13-row batch, which outgrows them.
  const batches = [11, 11, 11, 11, 13, 11].map((rows, s) => batch(rows, 200 + s));
  const awaited: LossSums[] = [];
  for (const b of batches) awaited.push(await p.trainStep(b.x, b.eps));
  // One caller array, refilled for every call and spoiled right after it: a trainer that read
  // it later, or handed a batch's buffer to the next step before its workers replied, would
  // train on the wrong numbers.
  const x = new Float32Array(13 * inputSize), eps = new Float32Array(13 * latentSize);
  const results: LossSums[] = [];
  for (const group of [batches.slice(0, 3), batches.slice(3)]) {
    const calls = group.map((b) => {
      x.set(b.x);
      eps.set(b.eps);
      const call = q.trainStep(x.subarray(0, b.x.length), eps.subarray(0, b.eps.length));
      x.fill(Number.NaN);
      eps.fill(Number.NaN);
      return call;
    });
    results.push(...(await Promise.all(calls)));
  }
  assert.deepEqual(results, awaited);
  assert.deepEqual(await q.getState(2), await p.getState());
});

test('a 1-image batch on 3 threads (two empty shards) is exactly the 1-thread step', async () => {
  const one = local();
  await p.setState(await one.getState()); // back to the initial weights and a fresh Adam
  const { x, eps } = batch(1, 5);
  assert.deepEqual(await p.trainStep(x, eps), await one.trainStep(x, eps));
  assert.deepEqual(await p.getState(2), await one.getState());
});

test('inputs of the wrong size are refused before reaching the workers', async () => {
  const { x, eps } = batch(4, 1);
  await assert.rejects(p.trainStep(x.subarray(1), eps), /expected x of/);
  await assert.rejects(p.trainStep(x, eps.subarray(1)), /expected x of/);
  await assert.rejects(p.trainStep(new Float32Array(0), new Float32Array(0)), /rows >= 1/);
  await p.getState(); // still usable
});

test('an error in a worker rejects the call with its message, and later calls too', async () => {
  const good = await q.getState();
  await assert.rejects(q.setState({ ...good, weights: good.weights.slice(1) }), /worker \d: checkpoint has 13 weight tensors, the model has 14/);
  const { x, eps } = batch(CONFIG.batchSize, 1);
  await assert.rejects(q.trainStep(x, eps), /checkpoint has 13 weight tensors/);
  await q.dispose();
  await assert.rejects(q.getState(), /disposed/);
});

test('a worker that dies rejects the pending call instead of hanging', async () => {
  // Simulate a crash: stop one worker behind the trainer's back, with a call on its way.
  const { threads } = two as unknown as { threads: { worker: { terminate(): Promise<number> } }[] };
  const stopped = threads[1].worker.terminate();
  await assert.rejects(two.getState(1), /worker 1 exited/);
  await stopped;
  await assert.rejects(two.getState(0), /worker 1 exited/); // the trainer stays failed
});
