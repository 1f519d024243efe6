/**
 * `node --import tsx train/bench/conv-train.ts`: milliseconds per training step of the conv VAE
 * (CONV_DEFAULTS, batch 256) on wasm, in this thread against BENCH_THREADS (default 2) worker
 * threads, alternately in BENCH_ROUNDS rounds of BENCH_STEPS / rounds steps each so both see the
 * same machine load (after BENCH_WARMUP steps of each), and in the same rounds the 1-thread step
 * with tfjs-wasm's own Conv2DBackpropInput in place of ours (conv-kernels.ts), for what ours saves.
 * Then, with BENCH_PROFILE=1, the kernels
 * of one 1-thread step by time (what to speed up next). Random inputs: speed does not depend on the data.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadavg } from 'node:os';
import { selectBackend } from '../src/backend.js';
import { CONV_DEFAULTS, PAPER_DEFAULTS } from '../src/config.js';
import { createModel } from '../src/model.js';
import { mulberry32, standardNormal } from '../src/random.js';
import { stepsOneAhead } from '../src/speed/step-rate.js';
import { ParallelTrainer } from '../src/speed/parallel.js';
import { LocalTrainer, type Trainer } from '../src/step.js';

const BATCH = 256;
const { model } = CONV_DEFAULTS;
const steps = Number(process.env.BENCH_STEPS ?? 12);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const threads = Number(process.env.BENCH_THREADS ?? 2);
const warmup = Number(process.env.BENCH_WARMUP ?? 4);

const rand = mulberry32(1);
const x = Float32Array.from({ length: BATCH * model.inputSize }, () => rand());
const eps = standardNormal(BATCH * model.latentSize, 2);

/** Milliseconds per kernel (name and input shapes) over `count` steps of `t`, per step. */
async function profile(t: Trainer, count: number): Promise<[string, number][]> {
  const engine = tf.engine() as unknown as { runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: unknown): unknown };
  const runKernel = engine.runKernel.bind(engine);
  const times = new Map<string, number>();
  engine.runKernel = (name, inputs, attrs) => {
    const t0 = performance.now();
    const out = runKernel(name, inputs, attrs);
    const key = `${name} ${Object.values(inputs).map((v) => `[${v?.shape}]`).join(' ')}`;
    times.set(key, (times.get(key) ?? 0) + performance.now() - t0);
    return out;
  };
  try {
    for (let i = 0; i < count; i++) await t.trainStep(x, eps);
  } finally {
    engine.runKernel = runKernel;
  }
  return [...times].map(([k, v]): [string, number] => [k, v / count]).sort((a, b) => b[1] - a[1]);
}

const stockInput = tf.getKernel('Conv2DBackpropInput', 'wasm')!; // as registered on import, before ours wraps it
const info = await selectBackend('wasm');
const oursInput = tf.getKernel('Conv2DBackpropInput', 'wasm')!;
const useInput = (k: tf.KernelConfig) => { tf.unregisterKernel('Conv2DBackpropInput', 'wasm'); tf.registerKernel(k); };
const config = { ...PAPER_DEFAULTS, model, learningRate: CONV_DEFAULTS.learningRate, seed: 1 };
const local = new LocalTrainer(createModel(model, 1), 1, config.learningRate);
const parallel = await ParallelTrainer.create({ ...config, threads });
try {
  await stepsOneAhead(local, x, eps, warmup);
  await stepsOneAhead(parallel, x, eps, warmup);
  const perRound = Math.max(1, Math.round(steps / rounds));
  const times = { local: [] as number[], parallel: [] as number[], stock: [] as number[] };
  const load = loadavg()[0];
  const before = { ...parallel.phaseTimes };
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    await stepsOneAhead(local, x, eps, perRound);
    times.local.push((performance.now() - t0) / perRound);
    t0 = performance.now();
    await stepsOneAhead(parallel, x, eps, perRound);
    times.parallel.push((performance.now() - t0) / perRound);
    useInput(stockInput);
    t0 = performance.now();
    await stepsOneAhead(local, x, eps, perRound);
    times.stock.push((performance.now() - t0) / perRound);
    useInput(oursInput);
  }
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const n = rounds * perRound;
  const line = (name: string, ms: number) =>
    `${name.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms/step ${((BATCH * 1000) / ms).toFixed(0).padStart(6)} img/s  epoch of 60000: ${((60000 / BATCH) * ms / 1000 / 60).toFixed(1)} min`;
  console.log(`conv VAE (channels ${model.channels.join(', ')}, n = ${model.latentSize}), batch ${BATCH}, ${info.description}; ${rounds} rounds x ${perRound} steps, load average ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`);
  console.log(line('1 thread', mean(times.local)));
  console.log(line(`${threads} worker threads`, mean(times.parallel)));
  console.log(line('1 thread, tfjs-wasm\'s own Conv2DBackpropInput', mean(times.stock)));
  const rounded = (a: number[]) => a.map((v) => v.toFixed(0)).join(' ');
  console.log(`per round: 1 thread ${rounded(times.local)} ms; ${threads} threads ${rounded(times.parallel)} ms; 1 thread, stock kernel ${rounded(times.stock)} ms`);
  const after = parallel.phaseTimes;
  const phase = (k: 'gradients' | 'exchange' | 'optimizer') => ((after[k] - before[k]) / n).toFixed(0);
  console.log(`per step, ${threads} threads (worker 0): forward/backward ${phase('gradients')} ms | barrier waits ${phase('exchange')} ms | Adam + weights ${phase('optimizer')} ms`);
  if (process.env.BENCH_PROFILE) {
    const rows = await profile(local, 2);
    console.log(`kernels of a 1-thread step (sum ${rows.reduce((s, r) => s + r[1], 0).toFixed(0)} ms), the top 12:`);
    for (const [k, v] of rows.slice(0, 12)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
  }
} finally {
  await parallel.dispose();
  await local.dispose();
}
