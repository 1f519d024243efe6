/**
 * `node --import tsx train/bench/kernels.ts`: where the forward/backward's time goes, by kernel, for
 * one worker's share of the batch (128 rows) against the whole batch (256).
 *
 * Why it matters: two workers can take at most half the time of one thread only if the
 * 128-row share costs half the 256-row one. The last column estimates the part of each
 * product that does not shrink with the rows from the two sizes, 2 * t(128) - t(256); the last
 * line gives the floor it sets on the two-thread step. With tfjs-wasm's own kernels that part
 * was ~5.5 ms of a step's products (XNNPACK packing a right-hand operand that is new every
 * step, and copying transposed operands out); wasm-gemm.ts packs nothing and reads transposed
 * left operands in place, which leaves the transposed weights of the backward pass.
 * As a worker does, the weights are loaded as fresh tensors before each step.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend.js';
import { createVae, PAPER_MODEL, variables } from '../src/model.js';
import { mulberry32, standardNormal } from '../src/random.js';
import { loadFreshWeights } from './fresh-weights.js';
import { computeGradients } from '../src/step.js';

const STEPS = 10, WARMUP = 40, MATMULS = new Set(['BatchMatMul', '_FusedMatMul']);

await selectBackend('wasm');
const model = createVae(PAPER_MODEL, 1);
const vars = variables(model);

interface Profile { matmuls: { shapes: string; ms: number }[]; total: number }

/** One training step's forward/backward at `rows` rows, weights loaded fresh first. */
function stepAt(rows: number): () => void {
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: rows * PAPER_MODEL.inputSize }, () => rand());
  const eps = standardNormal(rows * PAPER_MODEL.latentSize, 2);
  return () => {
    loadFreshWeights(vars);
    const r = computeGradients(model, x, eps, 1);
    tf.dispose([...r.grads, r.bce, r.kl]);
  };
}

/** Adds one profiled step's matmul times (by their place in the step) and its total to `into`. */
async function profileInto(step: () => void, into: Profile): Promise<void> {
  const { kernels } = await tf.profile(step);
  let call = 0;
  for (const k of kernels) {
    if (k.name === 'Assign' || k.name === 'fusedMatMul__op') continue; // the loading; a wrapper timed again inside
    const ms = Number(k.kernelTimeMs) / STEPS;
    into.total += ms;
    if (!MATMULS.has(k.name)) continue;
    const shapes = k.inputShapes.slice(0, 2).map((s) => `[${(s ?? []).slice(-2).join(',')}]`).join(' x ');
    into.matmuls[call] ??= { shapes, ms: 0 };
    into.matmuls[call++].ms += ms;
  }
}

// 128 and 256 rows alternately, step by step, so both see the same machine load.
const [stepHalf, stepFull] = [stepAt(128), stepAt(256)];
for (let i = 0; i < WARMUP; i++) { stepHalf(); stepFull(); }
const [half, full]: Profile[] = [{ matmuls: [], total: 0 }, { matmuls: [], total: 0 }];
for (let i = 0; i < STEPS; i++) {
  await profileInto(stepHalf, half);
  await profileInto(stepFull, full);
}
const sum = (m: { ms: number }[]) => m.reduce((s, v) => s + v.ms, 0);
console.log(`forward/backward kernels, ms per step (tf.profile, mean of ${STEPS} steps), each matmul in the order the step calls it`);
console.log(`${'matmul (at 128 rows)'.padEnd(24)} ${'128 rows'.padStart(9)} ${'256 rows'.padStart(9)} ${'rows-independent'.padStart(17)}`);
const row = (name: string, a: number, b: number) =>
  console.log(`${name.padEnd(24)} ${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(9)} ${(2 * a - b).toFixed(2).padStart(17)}`);
half.matmuls.forEach((m, i) => row(m.shapes, m.ms, full.matmuls[i]?.ms ?? NaN));
row('all matmuls', sum(half.matmuls), sum(full.matmuls));
row('all kernels', half.total, full.total);
console.log(`128 rows cost ${(half.total / full.total).toFixed(2)} x 256 rows: the floor for 2 threads / 1 thread, before any exchange`);
