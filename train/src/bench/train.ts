/**
 * `npm run bench:train`: milliseconds per training step of the paper model (batch 256)
 * on every available backend, and on wasm worker threads (BENCH_THREADS, default: one per
 * core, at least 2). Random inputs: speed does not depend on the data.
 */
import { selectBackend, type BackendChoice } from '../backend.js';
import { createVae, PAPER_MODEL } from '../model.js';
import { LocalTrainer, type Trainer } from '../step.js';
import { availableParallelism } from 'node:os';
import { PAPER_DEFAULTS } from '../config.js';
import { createParallelTrainer } from '../parallel.js';
import { mulberry32, standardNormal } from '../random.js';

const BATCH = 256;
const STEP_FLOP = 0.9e9; // forward + backward of the paper model at batch 256, ~3x the forward matmuls

/** Times `trainer.trainStep` on one fixed random batch (speed does not depend on the data). */
async function benchTrainer(trainer: Trainer, steps: number) {
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: BATCH * PAPER_MODEL.inputSize }, () => rand());
  const eps = standardNormal(BATCH * PAPER_MODEL.latentSize, 2);
  for (let i = 0; i < 5; i++) await trainer.trainStep(x, eps); // warm up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.trainStep(x, eps);
  // A parallel trainer's last Adam update runs after trainStep returns: a 1-image evaluation waits for it.
  await trainer.evaluate(x.subarray(0, PAPER_MODEL.inputSize), eps.subarray(0, PAPER_MODEL.latentSize));
  const ms = (performance.now() - t0) / steps;
  return { ms, imagesPerSec: (BATCH * 1000) / ms, gflops: STEP_FLOP / ms / 1e6 };
}

/** One training step of the paper model in this thread, on a tfjs backend. */
async function benchBackend(choice: BackendChoice, steps: number) {
  const info = await selectBackend(choice);
  const trainer = new LocalTrainer(createVae(PAPER_MODEL, 1), 1, 1e-4);
  try {
    return { backend: info.description, ...(await benchTrainer(trainer, steps)) };
  } finally {
    await trainer.dispose();
  }
}

/** The same step, data-parallel on `threads` wasm worker threads (see parallel.ts). */
async function benchParallel(threads: number, steps: number) {
  const trainer = await createParallelTrainer({ ...PAPER_DEFAULTS, model: PAPER_MODEL, threads });
  try {
    return { backend: `wasm, ${threads} worker threads`, ...(await benchTrainer(trainer, steps)) };
  } finally {
    await trainer.dispose();
  }
}

type Row = Awaited<ReturnType<typeof benchBackend>>;
const steps = Number(process.env.BENCH_STEPS ?? 30);
const threads = Number(process.env.BENCH_THREADS ?? Math.max(2, availableParallelism()));
const rows: [string, () => Promise<Row>][] = [
  ['tensorflow', () => benchBackend('tensorflow', steps)],
  ['wasm', () => benchBackend('wasm', steps)],
  [`wasm, ${threads} worker threads`, () => benchParallel(threads, steps)],
  ['cpu', () => benchBackend('cpu', Math.min(steps, 3))],
];
for (const [name, run] of rows) {
  try {
    const r = await run();
    console.log(`${r.backend.padEnd(62)} ${r.ms.toFixed(1).padStart(7)} ms/step ${r.imagesPerSec.toFixed(0).padStart(7)} img/s ${r.gflops.toFixed(1).padStart(6)} GFLOP/s`);
  } catch (err) {
    console.log(`${name.padEnd(62)} skipped: ${(err as Error).message}`);
  }
}
