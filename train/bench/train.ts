/**
 * `npm run bench:train`: milliseconds per training step of the paper model (batch 256).
 *
 * First wasm in this thread against wasm on worker threads (BENCH_THREADS, default: one
 * per core, at least 2), timed alternately in BENCH_ROUNDS rounds of BENCH_STEPS / rounds
 * steps each, so both see the same machine load; it prints each one's mean, the ratio per
 * round, the time split by phase, and one worker's share of the batch timed alone in one
 * thread (what the cores' slowing each other costs). Then the other backends, if installed.
 * Random inputs: speed does not depend on the data.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../src/backend.js';
import { createVae, PAPER_MODEL, variables } from '../src/model.js';
import { loadFreshWeights } from './fresh-weights.js';
import { computeGradients, LocalTrainer, type Trainer } from '../src/step.js';
import { availableParallelism, loadavg } from 'node:os';
import { PAPER_DEFAULTS } from '../src/config.js';
import { ParallelTrainer } from '../src/speed/parallel.js';
import { heapView } from '../src/speed/wasm-kernels.js';
import { mulberry32, standardNormal } from '../src/random.js';
import { stepsOneAhead } from '../src/speed/step-rate.js';

const BATCH = 256;
const WARMUP_STEPS = 60;
const STEP_FLOP = 0.9e9; // forward + backward of the paper model at batch 256, ~3x the forward matmuls

const rand = mulberry32(1);
const x = Float32Array.from({ length: BATCH * PAPER_MODEL.inputSize }, () => rand());
const eps = standardNormal(BATCH * PAPER_MODEL.latentSize, 2);

interface Split { gradients: number; exchange: number; optimizer: number }

/** LocalTrainer.trainStep with its two phases timed (tfjs-wasm runs ops synchronously). */
async function timedLocalStep(t: LocalTrainer, split: Split): Promise<void> {
  const t0 = performance.now();
  const { grads, bce, kl } = computeGradients(t.model, x, eps, t.beta);
  const t1 = performance.now();
  t.adam.apply(grads);
  const t2 = performance.now();
  await Promise.all([bce.data(), kl.data()]);
  tf.dispose([...grads, bce, kl]);
  split.gradients += t1 - t0;
  split.optimizer += t2 - t1;
}

const cpuMicros = (since: NodeJS.CpuUsage) => { const d = process.cpuUsage(since); return d.user + d.system; };
const ms = (v: number) => `${v.toFixed(1).padStart(6)} ms`;
const line = (name: string, perStep: number) =>
  `${name.padEnd(62)} ${perStep.toFixed(1).padStart(7)} ms/step ${((BATCH * 1000) / perStep).toFixed(0).padStart(7)} img/s ${(STEP_FLOP / perStep / 1e6).toFixed(1).padStart(6)} GFLOP/s`;

/** wasm: 1 thread against `threads` worker threads, alternately. */
async function benchWasm(threads: number, steps: number, rounds: number): Promise<void> {
  const info = await selectBackend('wasm');
  const local = new LocalTrainer(createVae(PAPER_MODEL, 1), 1, 1e-4);
  const parallel = await ParallelTrainer.create({ ...PAPER_DEFAULTS, model: PAPER_MODEL, threads, seed: 1, learningRate: 1e-4 });
  const perRound = Math.max(1, Math.round(steps / rounds));
  const localSplit: Split = { gradients: 0, exchange: 0, optimizer: 0 };
  const times = { local: [] as number[], parallel: [] as number[], shard: [] as number[] };
  // One worker's share of the batch, forward/backward in this thread while nothing else runs,
  // doing what a worker's gradient phase does: fresh weight tensors before it (the worker
  // loads the new weights each step), the gradients copied out of tfjs' heap into one array
  // and the losses read after it. Workers taking longer than this for the same work are slowed
  // by running at once (see contention.ts), which no exchange scheme can win back.
  const shardRows = Math.ceil(BATCH / threads);
  const [xShard, epsShard] = [x.subarray(0, shardRows * PAPER_MODEL.inputSize), eps.subarray(0, shardRows * PAPER_MODEL.latentSize)];
  const vars = variables(local.model);
  const gradientSlot = new Float32Array(vars.reduce((n, v) => n + v.size, 0));
  const shardAlone = () => {
    loadFreshWeights(vars);
    const t0 = performance.now();
    const r = computeGradients(local.model, xShard, epsShard, 1);
    let offset = 0;
    for (const g of r.grads) { gradientSlot.set(heapView(g) ?? g.dataSync(), offset); offset += g.size; }
    r.bce.dataSync();
    r.kl.dataSync();
    tf.dispose([...r.grads, r.bce, r.kl]);
    return performance.now() - t0;
  };
  const cpu = { local: 0, parallel: 0 }; // process CPU time, all threads (microseconds)
  try {
    // Warm up while V8 tiers up tfjs-wasm's code in every thread (it compiles the optimised
    // code on background threads, which would otherwise share the cores with the rounds).
    // After 40 steps the first round of the worker threads was still slow in most runs
    // (x1.2-1.4 the later rounds); after 60 it was not.
    for (let i = 0; i < WARMUP_STEPS; i++) { await timedLocalStep(local, { ...localSplit }); await parallel.trainStep(x, eps); }
    const before = { ...parallel.phaseTimes };
    const load = loadavg()[0];
    for (let r = 0; r < rounds; r++) {
      let [t0, c0] = [performance.now(), process.cpuUsage()];
      for (let i = 0; i < perRound; i++) await timedLocalStep(local, localSplit);
      times.local.push((performance.now() - t0) / perRound);
      cpu.local += cpuMicros(c0);
      [t0, c0] = [performance.now(), process.cpuUsage()];
      await stepsOneAhead(parallel, x, eps, perRound);
      times.parallel.push((performance.now() - t0) / perRound);
      cpu.parallel += cpuMicros(c0);
      let shard = 0;
      for (let i = 0; i < perRound; i++) shard += shardAlone();
      times.shard.push(shard / perRound);
    }
    const n = rounds * perRound;
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const [l, p] = [mean(times.local), mean(times.parallel)];
    const after = parallel.phaseTimes;
    const split = {
      gradients: (after.gradients - before.gradients) / n,
      exchange: (after.exchange - before.exchange) / n,
      optimizer: (after.optimizer - before.optimizer) / n,
    };
    console.log(`wasm, 1 thread vs ${threads} worker threads, alternately: ${rounds} rounds x ${perRound} steps each (load average ${load.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end, ${availableParallelism()} cores)`);
    console.log(line(info.description, l));
    console.log(line(`wasm, ${threads} worker threads`, p));
    const ratios = times.parallel.map((v, i) => v / times.local[i]);
    console.log(`per round, in order: 1 thread ${times.local.map((v) => v.toFixed(1)).join(' ')} ms; ${threads} threads ${times.parallel.map((v) => v.toFixed(1)).join(' ')} ms`);
    console.log(`${threads} threads / 1 thread: ${(p / l).toFixed(2)} on the means; per round, in order, ${ratios.map((v) => v.toFixed(2)).join(' ')}`);
    console.log(`CPU time per step (all threads): 1 thread ${ms(cpu.local / 1000 / n)}, ${threads} threads ${ms(cpu.parallel / 1000 / n)} (on an idle machine, wall time >= CPU time / threads)`);
    console.log(`per step, 1 thread:  forward/backward ${ms(localSplit.gradients / n)} | optimizer (Adam, tfjs ops) ${ms(localSplit.optimizer / n)} | other ${ms(l - (localSplit.gradients + localSplit.optimizer) / n)}`);
    const alone = mean(times.shard);
    console.log(`forward/backward of one worker's ${shardRows} rows: ${ms(alone)} alone in one thread, ${ms(split.gradients)} in each of ${threads} workers at once (x${(split.gradients / alone).toFixed(2)}: the cost of running at once)`);
    console.log(`best ${threads}-thread step this machine allows now (that forward/backward in the workers, everything else free): ${((split.gradients) / l).toFixed(2)} x the 1-thread step`);
    console.log(`per step, ${threads} threads: forward/backward ${ms(split.gradients)} | exchange (barrier waits) ${ms(split.exchange)} | optimizer (sum + SIMD Adam on 1/${threads} + weights into tfjs) ${ms(split.optimizer)} | other (main thread, messages) ${ms(p - split.gradients - split.exchange - split.optimizer)}  [worker 0]`);
  } finally {
    await parallel.dispose();
  }
}

/** One training step of the paper model in this thread, on another tfjs backend. */
async function benchBackend(choice: BackendChoice, steps: number) {
  const info = await selectBackend(choice);
  const trainer: Trainer = new LocalTrainer(createVae(PAPER_MODEL, 1), 1, 1e-4);
  try {
    for (let i = 0; i < 2; i++) await trainer.trainStep(x, eps); // warm up
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.trainStep(x, eps);
    console.log(line(info.description, (performance.now() - t0) / steps));
  } finally {
    await trainer.dispose();
  }
}

const steps = Number(process.env.BENCH_STEPS ?? 30);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const threads = Number(process.env.BENCH_THREADS ?? Math.max(2, availableParallelism()));
try {
  await benchWasm(threads, steps, rounds);
} catch (err) {
  console.log(`wasm skipped: ${(err as Error).message}`);
}
for (const [name, run] of [
  ['tensorflow', () => benchBackend('tensorflow', steps)],
  ['cpu', () => benchBackend('cpu', Math.min(steps, 3))],
] as const) {
  try {
    await run();
  } catch (err) {
    console.log(`${name.padEnd(62)} skipped: ${(err as Error).message}`);
  }
}
