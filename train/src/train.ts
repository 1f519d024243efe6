/**
 * The training loop. Reads top to bottom: resolve the config, pick a backend, load data,
 * build the model, then epochs of shuffled mini-batches with a test evaluation and an
 * atomic checkpoint after each one.
 *
 * Reproducibility: the shuffle of epoch e and the noise of step s are derived from
 * (seed, e, s) alone, and the optimizer's state is checkpointed, so a run that stops and
 * resumes computes exactly what an uninterrupted run computes on the same backend.
 */
import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { writeFileAtomic, writeJsonAtomic } from '@vae/models/node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendChoice, type BackendInfo } from './backend.js';
import { loadCheckpoint, saveCheckpoint, type Progress } from './checkpoint.js';
import { CONV_DEFAULTS, DEFAULT_THREADS, PAPER_DEFAULTS, validateRunConfig, type RunConfig } from './config.js';
import { loadDataset, type Dataset } from './data/datasets.js';
import { createModel, validateConfig, type Architecture, type VaeConfig } from './model.js';
import { pausePoint } from './fault.js';
import { createParallelTrainer } from './speed/parallel.js';
import { deriveSeed, permutation, standardNormal } from './random.js';
import { LocalTrainer, type LossSums, type Trainer } from './step.js';

/** Per-image means of a loss sum, in nats. */
export interface LossMeans { bce: number; kl: number; total: number }

export interface EpochRecord {
  epoch: number;
  train: LossMeans;
  test: LossMeans;
  /** Wall-clock seconds of this epoch (training + test evaluation). */
  seconds: number;
  imagesPerSec: number;
}

export interface StepProgress {
  epoch: number; // 1-based, the epoch being trained
  epochs: number;
  step: number; // 1-based within the epoch
  steps: number;
  /** Running mean of the total loss over this epoch so far. */
  loss: number;
  imagesPerSec: number;
}

export interface TrainOptions extends Partial<Omit<RunConfig, 'model'>> {
  /** Run directory: config.json, log.jsonl, checkpoint.bin, metrics.json. */
  outDir: string;
  /** 'mlp' (the paper's, default) or 'conv' (conv-model.ts). */
  architecture?: Architecture;
  latentSize?: number;
  /** Dense hidden sizes: the MLP's layers, or the conv VAE's between its conv blocks and heads. */
  hiddenSizes?: number[];
  /** Conv VAE only: filters of its stride-2 conv blocks (default 32, 64). */
  channels?: number[];
  dataDir?: string;
  backend?: BackendChoice;
  /** Continue the run in `outDir` from its checkpoint (epochs may be raised). */
  resume?: boolean;
  /** Aborting saves a checkpoint after the current step and returns. */
  signal?: AbortSignal;
  onBackend?: (info: BackendInfo) => void;
  /** Notes worth telling the user (e.g. an option that does not apply). */
  onNotice?: (message: string) => void;
  onProgress?: (p: StepProgress) => void;
  onEpoch?: (r: EpochRecord) => void;
}

export interface TrainResult {
  outDir: string;
  config: RunConfig;
  backend: string;
  epochsDone: number;
  interrupted: boolean;
  history: EpochRecord[];
}

export const CHECKPOINT_FILE = 'checkpoint.bin';
/**
 * The noise for evaluating `count` test images: the same every epoch and in `vae evaluate`,
 * so numbers are compared on equal terms.
 */
export function testNoise(config: RunConfig, count: number): Float32Array {
  return standardNormal(count * config.model.latentSize, deriveSeed(config.seed, 0xffffffff));
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { outDir } = options;
  const checkpointPath = join(outDir, CHECKPOINT_FILE);

  // 1. The config: new, or the checkpoint's (with more epochs if asked).
  let config: RunConfig;
  let progress: Progress = { epoch: 0, stepInEpoch: 0, partial: { bce: 0, kl: 0, count: 0 }, seconds: 0 };
  const resumed = options.resume ? await loadCheckpoint(checkpointPath) : undefined;
  if (resumed) {
    config = { ...resumed.config, epochs: options.epochs ?? resumed.config.epochs };
    progress = resumed.progress;
    checkShortenedSchedule(outDir, config.epochs, progress);
  } else {
    if (existsSync(checkpointPath)) {
      throw new Error(`${outDir} already holds a training run: pass --resume to continue it, or choose another --out`);
    }
    config = newRunConfig(options);
  }
  validateRunConfig(config);
  validateConfig(config.model);

  // 2. Backend and data.
  const backend = await selectBackend(options.backend ?? 'auto');
  options.onBackend?.(backend);
  const [trainSet, testSet] = await Promise.all([
    loadDataset({ dataset: config.dataset, dataDir: options.dataDir, split: 'train' }),
    loadDataset({ dataset: config.dataset, dataDir: options.dataDir, split: 'test' }),
  ]);
  const trainCount = Math.min(config.trainLimit ?? trainSet.count, trainSet.count);
  const pixels = trainSet.rows * trainSet.cols;
  if (pixels !== config.model.inputSize) {
    throw new Error(`dataset ${config.dataset} has ${pixels} pixels per image, the model expects ${config.model.inputSize}`);
  }

  await mkdir(outDir, { recursive: true });
  await removeStaleTemporaries(outDir);
  // Rewritten on resume too: `--resume --epochs N` changes the run's schedule.
  await writeJsonAtomic(join(outDir, 'config.json'), { ...config, data: describeData(trainSet, testSet) });
  await trimLog(join(outDir, 'log.jsonl'), progress.epoch);

  // 3. Model and trainer (this thread, or worker threads averaging gradients).
  const parallel = config.threads > 1 && backend.name === 'wasm';
  if (config.threads > 1 && !parallel) {
    options.onNotice?.(`threads = ${config.threads} applies to the wasm backend only; ${backend.name} trains in this thread`);
  }
  const trainer: Trainer = parallel
    ? await createParallelTrainer(config)
    : new LocalTrainer(createModel(config.model, config.seed), config.beta, config.learningRate);

  const { batchSize, model } = config;
  const testCount = Math.min(config.testLimit ?? testSet.count, testSet.count);
  const testImages = testSet.images.subarray(0, testCount * pixels);
  const noiseForTest = testNoise(config, testCount);
  const steps = Math.ceil(trainCount / batchSize);
  const batch = new Float32Array(batchSize * pixels);
  const history: EpochRecord[] = [];
  let interrupted = false;

  try {
    if (resumed) await trainer.setState(resumed.state);
    pausePoint('start', `at epoch ${progress.epoch} step ${progress.stepInEpoch}`); // fault injection for tests (fault.ts)
    for (let epoch = progress.epoch; epoch < config.epochs; epoch++) {
      const order = permutation(trainCount, deriveSeed(config.seed, epoch));
      const started = performance.now();
      const run = await trainSteps({
        trainer, config, epoch, from: progress.stepInEpoch, steps, partial: progress.partial, order, images: trainSet.images,
        trainCount, batch, started, signal: options.signal, onProgress: options.onProgress,
      });
      if (run.stoppedAt !== undefined) {
        progress = { epoch, stepInEpoch: run.stoppedAt, partial: run.sums, seconds: progress.seconds + (performance.now() - started) / 1000 };
        interrupted = true;
        break;
      }
      const { sums, images: imagesThisSession } = run;
      const trainSeconds = (performance.now() - started) / 1000;
      const pendingTest = trainer.evaluate(testImages, noiseForTest);
      pausePoint('evaluate', `epoch ${epoch + 1}`);
      const test = await pendingTest;
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch: epoch + 1,
        train: means(sums, config.beta),
        test: means(test, config.beta),
        seconds,
        imagesPerSec: imagesThisSession / trainSeconds,
      };
      // Log first, then checkpoint: a crash in between is repaired by trimLog on resume.
      await appendFile(join(outDir, 'log.jsonl'), JSON.stringify(record) + '\n');
      progress = { epoch: epoch + 1, stepInEpoch: 0, partial: { bce: 0, kl: 0, count: 0 }, seconds: progress.seconds + seconds };
      await saveCheckpoint(checkpointPath, { config, progress, state: await trainer.getState() });
      history.push(record);
      options.onEpoch?.(record);
    }
    // Also when no epoch ran: `--resume --epochs N` at epoch N ends the run early, and the
    // checkpoint (which export reads) must say the schedule config.json says.
    if (interrupted || history.length === 0) {
      await saveCheckpoint(checkpointPath, { config, progress, state: await trainer.getState() });
    }
    if (!interrupted) {
      const last = history.at(-1) ?? (await lastLoggedEpoch(join(outDir, 'log.jsonl')));
      await writeJsonAtomic(join(outDir, 'metrics.json'), {
        dataset: config.dataset, latentSize: model.latentSize, beta: config.beta,
        epochs: progress.epoch, backend: backend.description, trainSeconds: progress.seconds,
        train: last?.train, test: last?.test,
      });
    }
  } finally {
    await trainer.dispose();
  }
  return { outDir, config, backend: backend.description, epochsDone: progress.epoch, interrupted, history };
}

/**
 * A new run's config: the options, with the paper's settings for what they leave out
 * (and, for the conv VAE, CONV_DEFAULTS' model and learning rate).
 */
function newRunConfig(options: TrainOptions): RunConfig {
  const conv = options.architecture === 'conv';
  if (!conv && options.channels) throw new Error('channels apply to the conv VAE only (architecture "conv")');
  const model: VaeConfig = conv
    ? {
      ...CONV_DEFAULTS.model,
      channels: options.channels ?? CONV_DEFAULTS.model.channels,
      hiddenSizes: options.hiddenSizes ?? CONV_DEFAULTS.model.hiddenSizes,
      latentSize: options.latentSize ?? CONV_DEFAULTS.model.latentSize,
    }
    : {
      inputSize: PAPER_DEFAULTS.model.inputSize,
      hiddenSizes: options.hiddenSizes ?? PAPER_DEFAULTS.model.hiddenSizes,
      latentSize: options.latentSize ?? PAPER_DEFAULTS.model.latentSize,
    };
  return {
    dataset: options.dataset ?? PAPER_DEFAULTS.dataset,
    model,
    beta: options.beta ?? PAPER_DEFAULTS.beta,
    learningRate: options.learningRate ?? (conv ? CONV_DEFAULTS.learningRate : PAPER_DEFAULTS.learningRate),
    batchSize: options.batchSize ?? PAPER_DEFAULTS.batchSize,
    epochs: options.epochs ?? PAPER_DEFAULTS.epochs,
    seed: options.seed ?? PAPER_DEFAULTS.seed,
    threads: options.threads ?? DEFAULT_THREADS,
    // `!== undefined`: a limit of 0 reaches validateRunConfig (and its error) instead of meaning "all".
    ...(options.trainLimit !== undefined ? { trainLimit: options.trainLimit } : {}),
    ...(options.testLimit !== undefined ? { testLimit: options.testLimit } : {}),
  };
}

interface EpochSteps {
  trainer: Trainer; config: RunConfig; epoch: number;
  /** First step to run (a resumed epoch starts mid-way), the epoch's step count, and the loss sums so far. */
  from: number; steps: number; partial: LossSums;
  /** This epoch's shuffle of the first `trainCount` training images (rows of pixels in `images`). */
  order: Uint32Array; images: Float32Array; trainCount: number;
  /** Room for one batch, refilled every step. */
  batch: Float32Array;
  started: number;
  signal?: AbortSignal;
  onProgress?: (p: StepProgress) => void;
}

/**
 * The training steps of one epoch, from `from` on. Returns the epoch's loss sums and the
 * images trained on now, or, when `signal` fires, the step to resume at (`stoppedAt`).
 *
 * Each step is posted before the previous one is awaited: a parallel trainer's workers take
 * requests in order, so they find the next batch queued when they finish one, and the batch
 * gathering and messaging here overlap their compute (bench:train: 1.8 -> 0.4 ms of a ~34 ms
 * step). Both trainers copy x and eps before trainStep returns, so `batch` can be refilled.
 */
async function trainSteps(e: EpochSteps): Promise<{ sums: LossSums; images: number; stoppedAt?: number }> {
  const { config, epoch, steps } = e;
  const { batchSize, seed } = config;
  const pixels = config.model.inputSize;
  const sums: LossSums = { ...e.partial };
  let images = 0;
  let previous: { result: Promise<LossSums>; step: number } | undefined;
  const settle = async () => {
    if (!previous) return;
    const { result, step } = previous;
    previous = undefined;
    const s = await result;
    sums.bce += s.bce; sums.kl += s.kl; sums.count += s.count;
    images += s.count;
    e.onProgress?.({
      epoch: epoch + 1, epochs: config.epochs, step: step + 1, steps,
      loss: (sums.bce + config.beta * sums.kl) / sums.count,
      imagesPerSec: images / ((performance.now() - e.started) / 1000),
    });
  };
  for (let step = e.from; step < steps; step++) {
    if (e.signal?.aborted) {
      await settle();
      return { sums, images, stoppedAt: step };
    }
    const rows = Math.min(batchSize, e.trainCount - step * batchSize);
    for (let r = 0; r < rows; r++) {
      const i = e.order[step * batchSize + r];
      e.batch.set(e.images.subarray(i * pixels, (i + 1) * pixels), r * pixels);
    }
    const eps = standardNormal(rows * config.model.latentSize, deriveSeed(seed, epoch, step));
    const result = e.trainer.trainStep(e.batch.subarray(0, rows * pixels), eps);
    result.catch(() => {}); // awaited in settle(); until then a failure must not count as unhandled
    pausePoint('step', `epoch ${epoch + 1} step ${step + 1}/${steps}`);
    await settle();
    previous = { result, step };
  }
  await settle();
  return { sums, images };
}

export function means(s: LossSums, beta: number): LossMeans {
  const bce = s.bce / s.count;
  const kl = s.kl / s.count;
  return { bce, kl, total: bce + beta * kl };
}

function describeData(train: Dataset, test: Dataset) {
  return { dir: train.dir, train: train.sha256, test: test.sha256 };
}

/** Temporary files of atomic writes that a killed process never renamed into place. */
async function removeStaleTemporaries(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (/\.\d+\.tmp$/.test(name)) await rm(join(dir, name), { force: true });
  }
}

/** `--resume --epochs N` may end a run early, at an epoch boundary it has reached, never before it. */
function checkShortenedSchedule(outDir: string, epochs: number, progress: Progress): void {
  const least = progress.epoch + (progress.stepInEpoch > 0 ? 1 : 0);
  if (epochs < least) {
    const done = progress.stepInEpoch > 0 ? `${progress.epoch} epochs and ${progress.stepInEpoch} steps` : `${progress.epoch} epochs`;
    throw new Error(`${outDir} has already trained ${done}: --epochs must be at least ${least}`);
  }
}

/** Keeps only the log lines of epochs the checkpoint holds (a crash may leave one extra). */
async function trimLog(path: string, epochs: number): Promise<void> {
  if (!existsSync(path)) return;
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  const kept = lines.filter((l) => (JSON.parse(l) as EpochRecord).epoch <= epochs);
  if (kept.length !== lines.length) await writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}

async function lastLoggedEpoch(path: string): Promise<EpochRecord | undefined> {
  if (!existsSync(path)) return undefined;
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as EpochRecord) : undefined;
}
