/**
 * The kit's measurements, one function per phase. run.ts starts each phase in its own Node
 * process (a native crash in Dawn or onnxruntime then costs one phase, not the whole run),
 * so every phase returns plain JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModelDir } from '@vae/models/node';
import { describeAdapter, detectCuda, detectWebGpu, seededNormals } from '@vae/runtime-node';
import { measureStepRate, train, type BackendChoice } from '@vae/train';
import { verifyModelDirs } from '@vae/verify';

export interface EnvironmentResult {
  node: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** nvidia-smi's name, driver and memory of each GPU; null where there is no nvidia-smi. */
  gpus: string[] | null;
  /** The Vulkan driver manifest Dawn is pointed at (VK_ICD_FILENAMES / VK_DRIVER_FILES), if any. */
  vulkanDriver: string | null;
  webgpu: { available: boolean; adapter?: string; software?: boolean; reason?: string };
  cuda: { available: boolean; reason?: string };
}

export async function environment(): Promise<EnvironmentResult> {
  const web = await detectWebGpu();
  const cuda = await detectCuda();
  return {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    gpus: nvidiaSmi(),
    vulkanDriver: process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? null,
    webgpu: web.available
      ? { available: true, adapter: web.adapter ? describeAdapter(web.adapter) : undefined, software: web.adapter?.software }
      : { available: false, reason: web.reason },
    cuda: cuda.available ? { available: true } : { available: false, reason: cuda.reason },
  };
}

function nvidiaSmi(): string[] | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: 20_000 });
    return out.split('\n').map((l) => l.trim()).filter(Boolean);
  } catch {
    return null;
  }
}

export interface ParityRow { model: string; graph: string; runtime: string; status: string; maxAbs?: number; tolerance?: number; reason?: string }
export interface ParityResult { passed: boolean; runtimes: { id: string; status: string; description?: string; reason?: string }[]; rows: ParityRow[] }

/** The node-cpu and node-webgpu rows of `vae verify` for each model folder (both required: a skip fails). */
export async function parity(models: string[], reportDir: string): Promise<ParityResult> {
  const ids = ['node-cpu', 'node-webgpu'] as const;
  const result = await verifyModelDirs(models, { runtimes: ids, require: ids, out: reportDir, heatmaps: false, log: (l) => console.error(l) });
  return {
    passed: result.passed,
    runtimes: result.reports[0]?.runtimes.map((r) => ({ id: r.id, status: r.status, description: r.description, reason: r.reason })) ?? [],
    rows: result.reports.flatMap((rep) => rep.rows.map((r) => {
      const worst = [...r.outputs].sort((a, b) => b.metrics.maxAbs / b.tolerance - a.metrics.maxAbs / a.tolerance)[0];
      return { model: rep.model.name, graph: r.graph, runtime: r.runtime, status: r.status, maxAbs: worst?.metrics.maxAbs, tolerance: worst?.tolerance, reason: r.reason };
    })),
  };
}

export interface DecodeResult {
  device: 'webgpu' | 'cpu';
  model: string;
  /** onnxruntime intra-op threads on the CPU (0: onnxruntime's default, one per physical core). */
  threads: number;
  batches: { batch: number; runs: number; msPerRun: number; imagesPerSec: number }[];
}

/**
 * Decoder throughput: session.run on the fp32 decoder, one device, each batch size timed for
 * about `seconds` after two warm-up runs. Outputs come back to the CPU every run (what a
 * caller gets), so the GPU figures include the copies.
 */
export async function decode(device: 'webgpu' | 'cpu', modelDir: string, batches: number[], seconds: number): Promise<DecodeResult> {
  const model = await loadModelDir(modelDir);
  const graph = model.graph('decoder');
  const session = await ort.InferenceSession.create(await readFile(graph.path), {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
  });
  const latent = model.manifest.model.latentSize;
  const rows: DecodeResult['batches'] = [];
  try {
    for (const batch of batches) {
      const z = new ort.Tensor('float32', seededNormals(batch * latent, batch), [batch, latent]);
      const run = async () => {
        const out = await session.run({ [session.inputNames[0]]: z });
        for (const t of Object.values(out)) t.dispose();
      };
      await run();
      await run();
      let runs = 0;
      const start = performance.now();
      while (runs < 3 || performance.now() - start < seconds * 1000) {
        await run();
        runs++;
      }
      const ms = (performance.now() - start) / runs;
      rows.push({ batch, runs, msPerRun: round(ms, 4), imagesPerSec: Math.round((batch * 1000) / ms) });
      console.error(`decode ${device} batch ${batch}: ${rows.at(-1)!.imagesPerSec} images/s`);
    }
  } finally {
    await session.release();
  }
  return { device, model: model.manifest.name, threads: 0, batches: rows };
}

export interface TrainResult {
  backend: string;
  description: string;
  threads: number;
  images: number;
  batchSize: number;
  steps: number;
  epochSeconds: number;
  /** Steps per second after the first `warmup` steps (shader compilation and first-touch excluded). */
  stepsPerSec: number;
  msPerStep: number;
  warmupSteps: number;
  train: { bce: number; kl: number; total: number };
  test: { bce: number; kl: number; total: number };
}

/**
 * One epoch of the paper's model (784-256-256-64, batch 256, Adam 1e-4, seed 0) on real
 * MNIST with one tfjs backend. The step rate is measured from the progress callback between
 * the end of the warm-up steps and the last step.
 */
export async function trainEpoch(backend: BackendChoice, dataDir: string, trainLimit: number | undefined, threads: number, testLimit?: number): Promise<TrainResult> {
  const outDir = await mkdtemp(join(tmpdir(), `gpu-kit-train-${backend}-`));
  // Steps before the clock starts: shader compilation (webgpu) and first-touch. At most 10,
  // and a quarter of a short epoch.
  let warmupSteps = 10;
  let warmAt: number | undefined;
  let lastAt = 0;
  let lastStep = 0;
  try {
    const result = await train({
      outDir, backend, dataDir, epochs: 1, seed: 0, threads, trainLimit, testLimit,
      onProgress: (p) => {
        const now = performance.now();
        if (p.step === 1) warmupSteps = Math.min(10, Math.max(1, Math.floor(p.steps / 4)));
        if (p.step === warmupSteps) warmAt = now;
        lastAt = now;
        lastStep = p.step;
        if (p.step % 50 === 0) console.error(`train ${backend}: step ${p.step}/${p.steps}, loss ${p.loss.toFixed(2)}`);
      },
    });
    const epoch = result.history[0];
    if (!epoch) throw new Error(`training on ${backend} finished no epoch`);
    const measured = warmAt === undefined ? 0 : lastStep - warmupSteps;
    const stepsPerSec = measured > 0 ? (measured * 1000) / (lastAt - warmAt!) : NaN;
    return {
      backend, description: result.backend, threads: result.config.threads, images: Math.min(trainLimit ?? 60_000, 60_000),
      batchSize: result.config.batchSize, steps: lastStep, epochSeconds: round(epoch.seconds, 2),
      stepsPerSec: round(stepsPerSec, 2), msPerStep: round(1000 / stepsPerSec, 3), warmupSteps,
      train: epoch.train, test: epoch.test,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

export interface ScalingRow { backend: string; threads: number; batch: number; stepsPerSec: number; msPerStep: number; issueMsPerStep: number; kernelsPerStep?: number; imagesPerSec: number }
export interface ScalingResult { description: Record<string, string>; rows: ScalingRow[] }

/**
 * Steps per second of the paper's model against the batch size (measureStepRate: random
 * inputs, warm-up left out). Where steps/s hardly falls as the batch grows, a step's time is
 * per-operation overhead (JavaScript, dispatch, synchronisation), not arithmetic.
 */
export async function trainScaling(runs: { backend: BackendChoice; threads: number; batches: number[]; steps: number }[]): Promise<ScalingResult> {
  const rows: ScalingRow[] = [];
  const description: Record<string, string> = {};
  for (const run of runs) {
    for (const batch of run.batches) {
      const r = await measureStepRate({ backend: run.backend, threads: run.threads, batchSize: batch, steps: run.steps, warmup: 3 });
      description[run.backend] = r.backend;
      rows.push({
        backend: run.backend, threads: r.threads, batch, stepsPerSec: round(r.stepsPerSecond, 3), msPerStep: round(r.msPerStep, 3),
        issueMsPerStep: round(r.issueMsPerStep, 3), kernelsPerStep: r.kernelsPerStep, imagesPerSec: Math.round(r.imagesPerSecond),
      });
      console.error(`steps ${run.backend} batch ${batch}: ${rows.at(-1)!.stepsPerSec} steps/s`);
    }
  }
  return { description, rows };
}

function round(x: number, digits: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}
