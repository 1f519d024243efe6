/**
 * The pipeline's stages: data -> train -> export -> verify -> report. Turborepo runs each as a
 * task of this package (pipeline/turbo.json), `node dist/stage.js <stage>`, with the config
 * named by $VAE_CONFIG. Each stage reads the previous stage's folder under pipeline/out/ and
 * writes its own, whole or not at all, so Turborepo can cache and restore it.
 *
 * Training runs in a persistent folder, runs/pipeline/<config>-<key>/, and only its result is
 * copied to out/train: an interrupted run resumes there, and another config does not
 * overwrite it.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportRun } from '@vae/export';
import { verifyModelDirs } from '@vae/verify';
import { writeJsonAtomic } from '@vae/models/node';
import { CHECKPOINT_FILE, loadDataset, train, type EpochRecord } from '@vae/train';
import { loadConfig, stageKeys, type PipelineConfig } from './config.js';
import { REPO_ROOT } from './paths.js';

export const STAGES = ['data', 'train', 'export', 'verify', 'report'] as const;
export type Stage = (typeof STAGES)[number];

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** pipeline/out/<stage>/: the last run's results, Turborepo's declared outputs. */
export const OUT_DIR = join(PACKAGE_DIR, 'out');
/** Training runs, kept across configs so long runs can resume ($VAE_PIPELINE_RUNS moves them, e.g. for tests). */
const runsDir = (env: NodeJS.ProcessEnv) => resolve(env.VAE_PIPELINE_RUNS ?? join(REPO_ROOT, 'runs', 'pipeline'));

/** What every stage writes to out/<stage>/stage.json: which config and key it ran for, and how long. */
export interface StageRecord {
  stage: Stage;
  config: string;
  key: string;
  seconds: number;
  finishedAt: string;
  [detail: string]: unknown;
}

export interface StageContext {
  config: PipelineConfig;
  runsDir: string;
  keys: ReturnType<typeof stageKeys>;
  outDir: string;
  log: (line: string) => void;
}

/** Reads the record of an earlier stage, refusing one written for another config. */
export async function readStage(ctx: StageContext, stage: Stage): Promise<StageRecord> {
  const path = join(ctx.outDir, stage, 'stage.json');
  if (!existsSync(path)) throw new Error(`${path} is missing: run the pipeline from the start (npm run pipeline -- --config ${ctx.config.name})`);
  const record = JSON.parse(await readFile(path, 'utf8')) as StageRecord;
  if (record.key !== ctx.keys[stage]) {
    throw new Error(`${path} is from config "${record.config}" (key ${record.key}), not this one (${ctx.config.name}, key ${ctx.keys[stage]}): run the pipeline from the start`);
  }
  return record;
}

/** Runs `fill(tmpDir)`, then swaps tmpDir in as out/<stage>/ with its stage.json: all or nothing. */
async function writeStage(
  ctx: StageContext, stage: Stage, fill: (dir: string) => Promise<Record<string, unknown>>, started = performance.now(),
): Promise<StageRecord> {
  const dir = join(ctx.outDir, stage);
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const details = await fill(tmp);
    const record: StageRecord = {
      stage, config: ctx.config.name, key: ctx.keys[stage],
      seconds: (performance.now() - started) / 1000, finishedAt: new Date().toISOString(), ...details,
    };
    await writeJsonAtomic(join(tmp, 'stage.json'), record);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return record;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function dataStage(ctx: StageContext): Promise<StageRecord> {
  return writeStage(ctx, 'data', async () => {
    const { dataset } = ctx.config.train;
    const splits: Record<string, unknown> = {};
    let dir = '';
    for (const split of ['train', 'test'] as const) {
      // Loading checks the magic numbers, shapes and the pinned SHA-256 of every file.
      const d = await loadDataset({ dataset, split });
      dir = d.dir;
      splits[split] = { count: d.count, sha256: d.sha256 };
      ctx.log(`${dataset} ${split}: ${d.count} images from ${d.dir} (${d.source}), checksums match`);
    }
    return { dataset, dir, splits };
  });
}

/** SHA-256 of @vae/train's compiled code (dist/**.js). */
async function trainingCodeKey(): Promise<string> {
  const dist = dirname(fileURLToPath(import.meta.resolve('@vae/train')));
  const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(await readFile(join(dist, f)));
  return hash.digest('hex');
}

async function trainStage(ctx: StageContext): Promise<StageRecord> {
  const started = performance.now();
  const data = await readStage(ctx, 'data');
  const t = ctx.config.train;
  // Keyed by the train config and the training code: a run is resumed or reused only by
  // the code that made it.
  const runDir = join(ctx.runsDir, `${ctx.config.name}-${ctx.keys.train.slice(0, 8)}-${(await trainingCodeKey()).slice(0, 8)}`);
  const resume = existsSync(join(runDir, CHECKPOINT_FILE));
  ctx.log(resume ? `resuming ${relative(REPO_ROOT, runDir)}` : `training into ${relative(REPO_ROOT, runDir)}`);
  const result = await train({
    outDir: runDir, resume, dataset: t.dataset, dataDir: data.dir as string, architecture: t.architecture, channels: t.channels,
    latentSize: t.latentSize, hiddenSizes: t.hiddenSizes,
    beta: t.beta, learningRate: t.learningRate, batchSize: t.batchSize, epochs: t.epochs, seed: t.seed, threads: t.threads,
    trainLimit: t.trainLimit,
    onBackend: (b) => ctx.log(`backend: ${b.description}`),
    onEpoch: (r: EpochRecord) => ctx.log(`epoch ${r.epoch}/${t.epochs}: train ${r.train.total.toFixed(2)}, test ${r.test.total.toFixed(2)} (${r.seconds.toFixed(1)} s)`),
  });
  if (result.interrupted || result.epochsDone < t.epochs) throw new Error(`training stopped after ${result.epochsDone} of ${t.epochs} epochs; run the pipeline again to resume`);
  return writeStage(ctx, 'train', async (dir) => {
    for (const f of ['config.json', 'log.jsonl', 'metrics.json', CHECKPOINT_FILE]) await cp(join(runDir, f), join(dir, f));
    // metrics.json, not this call's history: a finished run that is only reused has none.
    const metrics = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8')) as { trainSeconds: number; test?: unknown };
    return { runDir: relative(REPO_ROOT, runDir), epochs: result.epochsDone, backend: result.backend, trainSeconds: metrics.trainSeconds, test: metrics.test };
  }, started);
}

async function exportStage(ctx: StageContext): Promise<StageRecord> {
  await readStage(ctx, 'train');
  return writeStage(ctx, 'export', async (dir) => {
    const modelDir = join(dir, 'model');
    const result = await exportRun({
      runDir: join(ctx.outDir, 'train'), outDir: modelDir, variants: ctx.config.export.variants, name: ctx.config.name,
      command: `npm run pipeline -- --config ${ctx.config.name}`, onStep: ctx.log,
    });
    return { files: result.manifest.files.length, parity: result.parity, checker: result.checker };
  });
}

async function verifyStage(ctx: StageContext): Promise<StageRecord> {
  await readStage(ctx, 'export');
  const record = await writeStage(ctx, 'verify', async (dir) => {
    const result = await verifyModelDirs([join(ctx.outDir, 'export', 'model')], {
      out: dir, runtimes: ctx.config.verify.runtimes, log: ctx.log,
    });
    const report = result.reports[0];
    return {
      passed: result.passed, failures: report.failures,
      runtimes: report.runtimes.map((r) => ({ id: r.id, status: r.status, ...(r.status === 'skipped' ? { reason: r.reason } : {}) })),
    };
  });
  // A failed check keeps its report (with diagnosis and heatmaps) but fails the task, so
  // Turborepo neither caches it nor runs the report stage.
  if (!record.passed) throw new Error(`parity failed:\n${(record.failures as string[]).join('\n')}\nthe report is in ${join(ctx.outDir, 'verify')}`);
  return record;
}

async function reportStage(ctx: StageContext): Promise<StageRecord> {
  const records: StageRecord[] = [];
  for (const s of ['data', 'train', 'export', 'verify'] as const) records.push(await readStage(ctx, s));
  return writeStage(ctx, 'report', async (dir) => {
    const [data, trained, exported, verified] = records;
    const test = trained.test as { bce: number; kl: number; total: number } | undefined;
    const ref = ctx.config.reference;
    const lines = [
      `# Pipeline report: ${ctx.config.name}`, '', ctx.config.description, '',
      '| stage | seconds (last real run) |', '| --- | --- |',
      ...records.map((r) => `| ${r.stage} | ${r.seconds.toFixed(1)} |`), '',
      `Data: ${data.dataset} from ${data.dir}.`,
      `Training: ${trained.epochs} epochs, ${trained.backend}; run folder ${trained.runDir}.`, '',
      '| | L_BCE | L_KL | L_VAE |', '| --- | --- | --- | --- |',
      ...(test ? [`| this run (test set) | ${test.bce.toFixed(2)} | ${test.kl.toFixed(2)} | ${test.total.toFixed(2)} |`] : []),
      ...(ref ? [`| paper (${ref.source}) | ${ref.bce.toFixed(2)} | ${ref.kl.toFixed(2)} | ${ref.total.toFixed(2)} |`] : []), '',
      `Export: ${exported.files} files; checker ${JSON.stringify(exported.checker)}.`,
      `Parity: ${verified.passed ? 'passed' : 'FAILED'}: ${(verified.runtimes as { id: string; status: string }[]).map((r) => `${r.id} ${r.status}`).join(', ')}.`,
      '',
    ];
    await writeJsonAtomic(join(dir, 'report.json'), { config: ctx.config, stages: records });
    await writeFile(join(dir, 'report.md'), lines.join('\n'));
    ctx.log(lines.join('\n'));
    return { test, reference: ref };
  });
}

const RUNNERS: Record<Stage, (ctx: StageContext) => Promise<StageRecord>> = {
  data: dataStage, train: trainStage, export: exportStage, verify: verifyStage, report: reportStage,
};

/** Runs one stage for the config named in `env.VAE_CONFIG`. */
export async function runStage(stage: Stage, env: NodeJS.ProcessEnv = process.env, log = (l: string) => console.log(l)): Promise<StageRecord> {
  const name = env.VAE_CONFIG;
  if (!name) throw new Error('VAE_CONFIG is not set: run stages through `npm run pipeline -- --config NAME`');
  const config = loadConfig(name);
  const keys = stageKeys(config);
  const record = await RUNNERS[stage]({ config, keys, outDir: OUT_DIR, runsDir: runsDir(env), log });
  log(`${stage} (${config.name}): done in ${record.seconds.toFixed(1)} s`);
  return record;
}
