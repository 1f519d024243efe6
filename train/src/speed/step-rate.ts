/**
 * Training steps per second on a backend: what `train/bench/webgpu.ts` prints and what a GPU
 * kit calls on a real GPU to compare backends. Random inputs (speed does not depend on the
 * data), steps posted one ahead as train.ts runs them, warm-up steps (shader compilation on
 * webgpu, wasm's first allocations) left out of the timing.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../backend.js';
import { PAPER_DEFAULTS, type RunConfig } from '../config.js';
import { createModel, disposeVae, PAPER_MODEL, validateConfig, type VaeConfig } from '../model.js';
import { mulberry32, standardNormal } from '../random.js';
import { LocalTrainer, type Trainer } from '../step.js';
import { createParallelTrainer } from './parallel.js';

export interface StepRateOptions {
  /** Default 'auto'. The process's tfjs backend stays switched to it afterwards. */
  backend?: BackendChoice;
  /** Worker threads; more than 1 applies to wasm only (default 1). */
  threads?: number;
  /** Default 256, the paper's. */
  batchSize?: number;
  /** Timed steps (default 20). */
  steps?: number;
  /** Untimed steps first (default 3). */
  warmup?: number;
  /** Default: the paper's 784-256-256-64. */
  model?: VaeConfig;
}

export interface StepRate {
  stepsPerSecond: number;
  msPerStep: number;
  imagesPerSecond: number;
  /** BackendInfo.description, e.g. the WebGPU adapter's name. */
  backend: string;
  /** The worker threads that ran (1 unless wasm with threads > 1). */
  threads: number;
  /**
   * Milliseconds per step spent in this thread recording the step's operations (the part of
   * trainStep before its first await). Near msPerStep: the step is bound by this thread's
   * per-operation cost, not by the device. Near 0 with worker threads (they do the work).
   */
  issueMsPerStep: number;
  /** tfjs kernels one step runs (this thread's trainer only; undefined with worker threads). */
  kernelsPerStep?: number;
}

export async function measureStepRate(options: StepRateOptions = {}): Promise<StepRate> {
  const { batchSize = 256, steps = 20, warmup = 3, threads = 1, model = PAPER_MODEL } = options;
  const positiveInt = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  positiveInt('batchSize', batchSize, 1);
  positiveInt('steps', steps, 1);
  positiveInt('warmup', warmup, 0);
  positiveInt('threads', threads, 1);
  validateConfig(model);

  const info = await selectBackend(options.backend ?? 'auto');
  const parallel = threads > 1 && info.name === 'wasm';
  const config: RunConfig = { ...PAPER_DEFAULTS, model, batchSize, threads: parallel ? threads : 1, learningRate: 1e-4 };
  const local = parallel ? undefined : createModel(model, config.seed);
  const trainer: Trainer = local
    ? new LocalTrainer(local, config.beta, config.learningRate)
    : await createParallelTrainer(config);
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: batchSize * model.inputSize }, () => rand());
  const eps = standardNormal(batchSize * model.latentSize, 2);
  try {
    await stepsOneAhead(trainer, x, eps, warmup);
    const started = performance.now();
    const issueMs = await stepsOneAhead(trainer, x, eps, steps);
    const msPerStep = (performance.now() - started) / steps;
    const kernelsPerStep = local ? (await tf.profile(async () => { await trainer.trainStep(x, eps); return []; })).kernels.length : undefined;
    return {
      stepsPerSecond: 1000 / msPerStep, msPerStep, imagesPerSecond: (batchSize * 1000) / msPerStep,
      backend: info.description, threads: config.threads, issueMsPerStep: issueMs / steps, kernelsPerStep,
    };
  } finally {
    await trainer.dispose();
    if (local) disposeVae(local); // LocalTrainer frees only Adam's moments; a kit measures several times
  }
}

/**
 * `count` steps, each posted before the previous one is awaited (train.ts' trainSteps).
 * Returns the milliseconds spent inside the trainStep calls themselves (recording the ops).
 * Also the benches' step loop (train/bench), so every timing runs steps the same way.
 */
export async function stepsOneAhead(t: Trainer, x: Float32Array, eps: Float32Array, count: number): Promise<number> {
  let previous: Promise<unknown> | undefined;
  let issueMs = 0;
  for (let i = 0; i < count; i++) {
    const before = performance.now();
    const step = t.trainStep(x, eps);
    issueMs += performance.now() - before;
    step.catch(() => {}); // awaited below; a failure must not count as unhandled meanwhile
    if (previous) await previous;
    previous = step;
  }
  await previous;
  return issueMs;
}
