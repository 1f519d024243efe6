/**
 * One worker thread of the data-parallel trainer (the protocol is described in
 * parallel.ts). It owns a tfjs wasm backend and a model built exactly as in every other
 * worker; weights, Adam moments and gradients live in shared memory. It handles the main
 * thread's requests one at a time, in arrival order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { ADAM_DEFAULTS } from '../adam.js';
import { adamKernel, adamLayout, adamSlices, adamViews } from './adam-simd.js';
import { selectBackend } from '../backend.js';
import { createModel, variables } from '../model.js';
import { type Reply, type Request, type StepTimes, type WorkerInit, ABORTED, BARRIER_COUNT, BARRIER_GENERATION } from './parallel.js';
import { computeGradients, evaluateSums, type TrainerState } from '../step.js';
import { heapView } from './wasm-kernels.js';

const { config, memory, control, paramCount, index, threads } = workerData as WorkerInit;
const port = parentPort!;

await selectBackend('wasm');
const model = createModel(config.model, config.seed); // same seed: same initial weights in every worker
const params = variables(model);
if (params.reduce((n, p) => n + p.size, 0) !== paramCount) throw new Error(`the model does not have ${paramCount} parameters`);

/** Weights, Adam's moments and one gradient slot per worker (worker k writes slot k, everyone reads all). */
const layout = adamLayout(paramCount, threads);
const shared = adamViews(memory, layout);
const adamStep = adamKernel(memory, layout, { learningRate: config.learningRate, ...ADAM_DEFAULTS }, index);
/** The elements of the (padded) parameter vector whose Adam update is this worker's job. */
const [mine, mineEnd] = adamSlices(layout, threads)[index];
const ctl = new Int32Array(control);
let step = 0;

/** Worker 0 publishes the initial weights (identical in every worker anyway). */
if (index === 0) writeFlat(shared.params, params.map((p) => p.dataSync() as Float32Array));

function writeFlat(out: Float32Array, tensors: ArrayLike<number>[]): void {
  let offset = 0;
  for (const t of tensors) { out.set(t, offset); offset += t.length; }
}

function splitFlat(flat: Float32Array): Float32Array[] {
  let offset = 0;
  return params.map((p) => flat.slice(offset, (offset += p.size)));
}

/**
 * Copies the shared weights into this worker's tfjs variables. Through new tensors and
 * assign, never by writing a variable's heap memory in place: products our kernel does not
 * take (wasm-kernels.ts; e.g. the n = 1 or 2 latent heads, N not a multiple of 8) go to
 * XNNPACK, which caches operators (with the weights packed) per tensor, so an in-place write
 * would leave the next forward pass on the old weights.
 */
function loadWeights(): void {
  let offset = 0;
  tf.tidy(() => params.forEach((p) => p.assign(tf.tensor(shared.params.subarray(offset, (offset += p.size)), p.shape))));
}

/**
 * Waits until every worker has called it (a generation-counting barrier on shared
 * memory; no round trip through the main thread). Gives up if the main thread sets ABORTED,
 * which it does when a worker fails or the trainer is disposed, so no worker waits forever.
 */
function barrier(): void {
  const generation = Atomics.load(ctl, BARRIER_GENERATION);
  if (Atomics.add(ctl, BARRIER_COUNT, 1) === threads - 1) {
    Atomics.store(ctl, BARRIER_COUNT, 0);
    Atomics.add(ctl, BARRIER_GENERATION, 1);
    Atomics.notify(ctl, BARRIER_GENERATION);
    return;
  }
  while (Atomics.load(ctl, BARRIER_GENERATION) === generation) {
    if (Atomics.load(ctl, ABORTED)) throw new Error('aborted: another worker failed');
    Atomics.wait(ctl, BARRIER_GENERATION, generation, 100);
  }
}

function copyGradient(g: tf.Tensor, out: Float32Array, offset: number): void {
  out.set(heapView(g) ?? g.dataSync(), offset);
}

/**
 * One training step: the gradient of this shard's mean loss into our slot; barrier; the
 * Adam update of our slice of the weights from the weighted sum of all slots; barrier;
 * the new weights into our variables. Returns the shard's loss sums and phase times.
 */
function trainStep(x: Float32Array, eps: Float32Array, weights: number[]) {
  const t0 = performance.now();
  const rows = x.length / config.model.inputSize;
  const out = shared.slots[index];
  let bce = 0, kl = 0;
  if (rows === 0) {
    out.fill(0); // a batch smaller than the thread count leaves some shards empty
  } else {
    const r = computeGradients(model, x, eps, config.beta);
    let offset = 0;
    for (const g of r.grads) { copyGradient(g, out, offset); offset += g.size; }
    bce = r.bce.dataSync()[0] * rows;
    kl = r.kl.dataSync()[0] * rows;
    tf.dispose([...r.grads, r.bce, r.kl]);
  }
  const t1 = performance.now();
  barrier(); // every slot is written
  const t2 = performance.now();
  step += 1;
  adamStep(step, weights, mine, mineEnd);
  const t3 = performance.now();
  barrier(); // every slice is updated (and no slot is read any more)
  const t4 = performance.now();
  loadWeights();
  const t5 = performance.now();
  const times: StepTimes = { gradients: t1 - t0, exchange: t2 - t1 + (t4 - t3), optimizer: t3 - t2 + (t5 - t4) };
  return { bce, kl, times };
}

function getState(): TrainerState {
  return {
    weights: params.map((p) => p.dataSync() as Float32Array), // this worker's copy (tests compare them)
    adam: { step, m: splitFlat(shared.m), v: splitFlat(shared.v) },
  };
}

/** Every worker writes its slice of the shared state, then loads the weights. */
function setState(state: TrainerState): void {
  if (state.weights.length !== params.length) {
    throw new Error(`checkpoint has ${state.weights.length} weight tensors, the model has ${params.length}`);
  }
  params.forEach((p, i) => {
    for (const part of [state.weights[i], state.adam.m[i], state.adam.v[i]]) {
      if (part?.length !== p.size) throw new Error(`checkpoint tensor ${i} has ${part?.length} values, the model's has ${p.size}`);
    }
  });
  let offset = 0;
  params.forEach((p, i) => {
    const lo = Math.max(mine, offset), hi = Math.min(mineEnd, offset + p.size);
    if (lo < hi) {
      shared.params.set(state.weights[i].subarray(lo - offset, hi - offset), lo);
      shared.m.set(state.adam.m[i].subarray(lo - offset, hi - offset), lo);
      shared.v.set(state.adam.v[i].subarray(lo - offset, hi - offset), lo);
    }
    offset += p.size;
  });
  step = state.adam.step;
  barrier();
  loadWeights();
}

function handle(r: Request): unknown {
  switch (r.type) {
    case 'step': return trainStep(r.x, r.eps, r.weights);
    case 'evaluate': return evaluateSums(model, r.x, r.eps);
    case 'getState': return getState();
    case 'setState': return setState(r.state);
  }
}

// One request at a time, in arrival order (evaluateSums is async: handlers must not interleave).
let queue = Promise.resolve();
port.on('message', (m: Request & { id: number }) => {
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id: m.id, result: await handle(m) };
    } catch (err) {
      reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
});
port.postMessage({ ready: true } satisfies Reply);
