/**
 * One worker thread of the data-parallel trainer (the protocol is described in
 * parallel.ts). It owns a tfjs wasm backend, a model and an Adam, all built exactly as
 * in every other worker, and handles the main thread's requests one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { Adam } from './adam.js';
import { selectBackend } from './backend.js';
import { createVae, variables } from './model.js';
import type { Reply, Request, WorkerInit } from './parallel.js';
import { computeGradients, evaluateSums, readState, writeState } from './step.js';

const { config, gradients, paramCount } = workerData as WorkerInit;
const port = parentPort!;

await selectBackend('wasm');
const model = createVae(config.model, config.seed); // same seed: same initial weights in every worker
const params = variables(model);
const adam = new Adam(params, { learningRate: config.learningRate });
if (params.reduce((n, p) => n + p.size, 0) !== paramCount) throw new Error(`the model does not have ${paramCount} parameters`);
/** Slot i of the shared gradient buffer: slots 0..threads-1 for even steps, the next ones for odd steps. */
const slot = (i: number) => new Float32Array(gradients, i * paramCount * 4, paramCount);

/** Gradient of this shard's mean loss into `out`; returns the shard's loss sums. */
function shardGradients(x: Float32Array, eps: Float32Array, out: Float32Array) {
  const rows = x.length / config.model.inputSize;
  if (rows === 0) {
    out.fill(0); // a batch smaller than the thread count leaves some shards empty
    return { bce: 0, kl: 0 };
  }
  const { grads, bce, kl } = computeGradients(model, x, eps, config.beta);
  let offset = 0;
  for (const g of grads) {
    out.set(g.dataSync(), offset); // a plain copy: the weighting happens while summing
    offset += g.size;
  }
  const result = { bce: bce.dataSync()[0] * rows, kl: kl.dataSync()[0] * rows };
  tf.dispose([...grads, bce, kl]);
  return result;
}

/**
 * The batch-mean gradient, sum over k of weights[k] * slot k (weights[k] = shard rows /
 * batch rows), added in slot order so every worker gets the same bits; then an Adam step.
 * The adding is done by tfjs ops, which are SIMD in wasm and yield the tensors Adam needs.
 */
function applySummed(parity: number, weights: number[]) {
  const first = parity * weights.length;
  let offset = 0;
  const grads = params.map((p) => {
    const [start, end] = [offset, (offset += p.size)];
    return tf.tidy(() => {
      const part = (k: number) => tf.mul(tf.tensor(slot(first + k).subarray(start, end), p.shape), weights[k]);
      let g = part(0);
      for (let k = 1; k < weights.length; k++) g = tf.add(g, part(k));
      return g;
    });
  });
  adam.apply(grads);
  tf.dispose(grads);
}

async function handle(r: Request): Promise<unknown> {
  switch (r.type) {
    case 'gradients': return shardGradients(r.x, r.eps, slot(r.slot));
    case 'apply': return applySummed(r.parity, r.weights);
    case 'evaluate': return evaluateSums(model, r.x, r.eps);
    case 'getState': return readState(model, adam);
    case 'setState': return writeState(model, adam, r.state);
  }
}

// One request at a time, in arrival order: `apply` of step s must finish before the
// gradients of step s+1, and async handlers must not interleave.
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
