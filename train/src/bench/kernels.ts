/**
 * `node train/dist/bench/kernels.js`: where the forward/backward's time goes, by kernel, for
 * one worker's share of the batch (128 rows) against the whole batch (256).
 *
 * Why it matters: two workers can take at most half the time of one thread only if the
 * 128-row share costs half the 256-row one. Each matmul has a part that does not shrink with
 * the rows: the wrapper's transpose of an operand (wasm-matmul.ts) and XNNPACK packing the
 * right-hand operand, which is new every step (fresh weights, or activations). The last
 * column estimates that part from the two sizes: 2 * t(128) - t(256); the last line gives
 * the floor it sets on the two-thread step.
 * As a worker does, the weights are loaded as fresh tensors before each step.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend.js';
import { createVae, PAPER_MODEL, variables } from '../model.js';
import { mulberry32, standardNormal } from '../random.js';
import { loadFreshWeights } from './fresh-weights.js';
import { computeGradients } from '../step.js';

const STEPS = 10, WARMUP = 40, MATMULS = new Set(['BatchMatMul', '_FusedMatMul']);

await selectBackend('wasm');
const model = createVae(PAPER_MODEL, 1);
const vars = variables(model);

/** Mean ms per step of each matmul call (by its place in the step) and of all kernels, at `rows` rows. */
async function profile(rows: number): Promise<{ matmuls: { shapes: string; ms: number }[]; total: number }> {
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: rows * PAPER_MODEL.inputSize }, () => rand());
  const eps = standardNormal(rows * PAPER_MODEL.latentSize, 2);
  const step = () => {
    loadFreshWeights(vars);
    const r = computeGradients(model, x, eps, 1);
    tf.dispose([...r.grads, r.bce, r.kl]);
  };
  for (let i = 0; i < WARMUP; i++) step();
  const matmuls: { shapes: string; ms: number }[] = [];
  let total = 0;
  for (let i = 0; i < STEPS; i++) {
    const { kernels } = await tf.profile(step);
    let call = 0;
    for (const k of kernels) {
      if (k.name === 'Assign' || k.name === 'fusedMatMul__op') continue; // the loading; a wrapper timed again inside
      const ms = Number(k.kernelTimeMs) / STEPS;
      total += ms;
      if (!MATMULS.has(k.name)) continue;
      const shapes = k.inputShapes.slice(0, 2).map((s) => `[${(s ?? []).slice(-2).join(',')}]`).join(' x ');
      matmuls[call] ??= { shapes, ms: 0 };
      matmuls[call++].ms += ms;
    }
  }
  return { matmuls, total };
}

const [half, full] = [await profile(128), await profile(256)];
const sum = (m: { ms: number }[]) => m.reduce((s, v) => s + v.ms, 0);
console.log(`forward/backward kernels, ms per step (tf.profile, mean of ${STEPS} steps), each matmul in the order the step calls it`);
console.log(`${'matmul (at 128 rows)'.padEnd(24)} ${'128 rows'.padStart(9)} ${'256 rows'.padStart(9)} ${'rows-independent'.padStart(17)}`);
const row = (name: string, a: number, b: number) =>
  console.log(`${name.padEnd(24)} ${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(9)} ${(2 * a - b).toFixed(2).padStart(17)}`);
half.matmuls.forEach((m, i) => row(m.shapes, m.ms, full.matmuls[i]?.ms ?? NaN));
row('all matmuls', sum(half.matmuls), sum(full.matmuls));
row('all kernels', half.total, full.total);
console.log(`128 rows cost ${(half.total / full.total).toFixed(2)} x 256 rows: the floor for 2 threads / 1 thread, before any exchange`);
