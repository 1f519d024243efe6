/**
 * The GPU check kit's program (`gpu-kit/run` starts it with the kit's own Node).
 *
 *   run [--out DIR] [--quick] [--models DIR] [--data DIR]
 *
 * Phases, each in its own process with a time limit: the machine (GPU, Vulkan driver, WebGPU
 * adapter, CUDA provider), the parity rows node-cpu and node-webgpu for every released model,
 * decode throughput of the MLP and the conv n = 64 decoders on WebGPU and on the CPU, one epoch
 * of tfjs training on webgpu and on wasm (2 threads), and training steps per second against the
 * batch size. Writes gpu-kit-results.json and gpu-kit-results.md to --out; the last line printed
 * is the JSON summary. A failing phase is recorded and the others still run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RELEASED_MODELS, type ReleasedModelName } from '@vae/models';
import { loadModelDir } from '@vae/models/node';
import { formatMarkdown, summarize, type KitResults, type PhaseOutcome } from './report.js';

/** The kit's root: run.js sits in <root>/app (in the kit) or <root>/dist (in the repository). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `gpu-kit/run: checks this machine's GPU with the project's released models.

  --out DIR       where gpu-kit-results.json and .md go (default ./gpu-kit-results)
  --quick         small batches, a 768-image epoch and a 1,000-image test pass (for a software GPU such as SwiftShader)
  --models DIR    the folder of the released model folders (${RELEASED_MODELS.join(', ')}),
                  e.g. the repository's models/released (default: the kit's models/; a kit
                  built with --without-models has none)
  --data DIR      MNIST folder (default: the kit's data/mnist)
  --phase-seconds N  time limit of each phase (default 60 to 300 s by phase)

Vulkan: the kit brings the loader (lib/); the driver is the machine's (NVIDIA's from
/usr/local/nvidia is found by itself; otherwise set VK_ICD_FILENAMES).`;

const PHASE_LIMIT_S = { environment: 60, parity: 300, decode: 240, train: 300 } as const;

/** Each released model's folder, by name: RELEASED_MODELS is the one list of what the kit checks. */
type ModelDirs = Record<ReleasedModelName, string>;

interface Plan { out: string; quick: boolean; models: ModelDirs; data: string; phaseSeconds?: number }

/**
 * The decoders timed, both n = 64: the paper's MLP (~0.28 M multiply-adds per image) and the
 * conv VAE (~1.9 M, ~7x). The conv one stops at batch 16384 (README.md, "Decode batches"): it
 * already does more arithmetic per call there (31 G multiply-adds) than the MLP at 65536
 * (18.5 G), and at 65536 one of its intermediates alone (deconv1's output) is 1.6 GB, near the
 * per-buffer limits of WebGPU drivers. --quick (SwiftShader) runs the conv one at batch 32: at
 * 256 a SwiftShader run takes ~4.5 s, five of them per batch.
 */
const DECODE_BATCHES = {
  'mnist-n64-beta1': { full: [1, 256, 4096, 65536], quick: [1, 256] },
  'mnist-n64-conv': { full: [1, 256, 4096, 16384], quick: [1, 32] },
} as const satisfies Partial<Record<ReleasedModelName, { full: readonly number[]; quick: readonly number[] }>>;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { out: { type: 'string' }, quick: { type: 'boolean' }, 'phase-seconds': { type: 'string' }, models: { type: 'string' }, data: { type: 'string' }, phase: { type: 'string' }, args: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.phase) return runPhase(values.phase, JSON.parse(values.args ?? '[]') as unknown[]);
  const plan: Plan = {
    out: resolve(values.out ?? 'gpu-kit-results'),
    quick: values.quick ?? false,
    models: await modelDirs(values.models),
    data: resolve(values.data ?? join(ROOT, 'data', 'mnist')),
    phaseSeconds: values['phase-seconds'] ? positive('--phase-seconds', values['phase-seconds']) : undefined,
  };
  await mkdir(plan.out, { recursive: true });
  const results = await runAll(plan);
  console.log(`wrote ${join(plan.out, 'gpu-kit-results.json')} and ${join(plan.out, 'gpu-kit-results.md')}`);
  console.log(JSON.stringify(results.summary));
  return 0;
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${flag}: expected a number of seconds > 0, got "${text}"`);
  return n;
}

/** Both files, rewritten after every phase: a run cut short keeps what it measured. */
async function save(results: KitResults, out: string): Promise<void> {
  results.summary = summarize(results);
  await writeAtomic(join(out, 'gpu-kit-results.json'), JSON.stringify(results, null, 2) + '\n');
  await writeAtomic(join(out, 'gpu-kit-results.md'), formatMarkdown(results));
}

/**
 * The released models' folders, in --models DIR or else in the kit's models/, each loaded with
 * its manifest and checksums before any phase runs: a wrong or damaged folder fails in a second,
 * not after minutes of phases.
 */
async function modelDirs(flag: string | undefined): Promise<ModelDirs> {
  const parent = resolve(flag ?? join(ROOT, 'models'));
  if (flag === undefined && !existsSync(parent)) {
    throw new Error(`this kit was built without models (--without-models): pass --models DIR, the folder holding ${RELEASED_MODELS.join(', ')} (the repository's models/released)`);
  }
  const where = flag === undefined ? `the kit's models (${parent})` : `--models ${flag}`;
  const dirs = Object.fromEntries(RELEASED_MODELS.map((name) => [name, join(parent, name)])) as ModelDirs;
  for (const name of RELEASED_MODELS) await checkModel(name, dirs[name], where);
  return dirs;
}

async function checkModel(name: ReleasedModelName, dir: string, where: string): Promise<void> {
  let found: string;
  try {
    found = (await loadModelDir(dir)).manifest.name;
  } catch (err) {
    throw new Error(`${where}: model ${name}: ${(err as Error).message.split('\n')[0]}`);
  }
  // A folder renamed or copied over another model would check the wrong graphs under its name.
  if (found !== name) throw new Error(`${where}: the folder ${name} holds the model "${found}"`);
}

async function runAll(plan: Plan): Promise<KitResults> {
  const started = Date.now();
  const seconds = plan.quick ? 0.3 : 2;
  // SwiftShader takes ~9 s per webgpu step of batch 256: --quick trains 3 steps.
  const trainLimit = plan.quick ? 768 : undefined;
  const testLimit = plan.quick ? 1000 : undefined;
  const batchesOf = (model: keyof typeof DECODE_BATCHES) => DECODE_BATCHES[model][plan.quick ? 'quick' : 'full'];
  const mlp = plan.models['mnist-n64-beta1'];
  const conv = plan.models['mnist-n64-conv'];
  const steps: [keyof KitResults['phases'], string, unknown[], number][] = [
    ['environment', 'environment', [], PHASE_LIMIT_S.environment],
    ['parity', 'parity', [RELEASED_MODELS.map((name) => plan.models[name]), join(plan.out, 'parity')], PHASE_LIMIT_S.parity],
    ['decodeWebgpu', 'decode', ['webgpu', mlp, batchesOf('mnist-n64-beta1'), seconds], PHASE_LIMIT_S.decode],
    ['decodeCpu', 'decode', ['cpu', mlp, batchesOf('mnist-n64-beta1'), seconds], PHASE_LIMIT_S.decode],
    ['decodeConvWebgpu', 'decode', ['webgpu', conv, batchesOf('mnist-n64-conv'), seconds], PHASE_LIMIT_S.decode],
    ['decodeConvCpu', 'decode', ['cpu', conv, batchesOf('mnist-n64-conv'), seconds], PHASE_LIMIT_S.decode],
    ['trainWebgpu', 'train', ['webgpu', plan.data, trainLimit, 1, testLimit], PHASE_LIMIT_S.train],
    ['trainWasm', 'train', ['wasm', plan.data, trainLimit, 2, testLimit], PHASE_LIMIT_S.train],
    ['trainScaling', 'scaling', [plan.quick
      ? [{ backend: 'webgpu', threads: 1, batches: [16], steps: 2 }, { backend: 'wasm', threads: 2, batches: [16], steps: 2 }]
      : [{ backend: 'webgpu', threads: 1, batches: [256, 1024, 4096, 16384], steps: 20 }, { backend: 'wasm', threads: 2, batches: [256, 4096], steps: 20 }]], PHASE_LIMIT_S.train],
  ];
  const results: KitResults = {
    format: 'vae-gpu-kit-results', version: 1, createdAt: new Date().toISOString(), quick: plan.quick, seconds: 0,
    phases: Object.fromEntries(steps.map(([key]) => [key, { ok: false, seconds: 0, error: 'not run' }])) as KitResults['phases'],
    summary: {} as KitResults['summary'],
  };
  for (const [key, name, args, limit] of steps) {
    results.phases[key] = await phase(key, name, args, plan.phaseSeconds ?? limit);
    results.seconds = Math.round((Date.now() - started) / 1000);
    await save(results, plan.out);
  }
  return results;
}

/** Runs one phase in a child process of this Node, with a time limit; its last stdout line is its JSON result. */
function phase(key: string, name: string, args: unknown[], limitSeconds: number): Promise<PhaseOutcome> {
  const started = Date.now();
  // The results' key, not the phase's name: the two decoders' phases share a name.
  console.error(`== ${key}`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--phase', name, '--args', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0) {
        try {
          return done({ ok: true, seconds, result: JSON.parse(last) });
        } catch { /* fall through: no JSON */ }
      }
      const why = signal === 'SIGKILL' ? `timed out after ${limitSeconds} s` : signal ? `killed by ${signal}` : `exit code ${code}`;
      done({ ok: false, seconds, error: `${name} failed (${why})${last && code !== 0 ? `: ${last}` : ''}` });
    });
  });
}

/** In the child: runs the phase and prints its result as one JSON line (errors: one line, exit 1). */
async function runPhase(name: string, args: unknown[]): Promise<number> {
  const phases = await import('./phases.js');
  try {
    const run: Record<string, () => Promise<unknown>> = {
      environment: () => phases.environment(),
      parity: () => phases.parity(args[0] as string[], args[1] as string),
      decode: () => phases.decode(args[0] as 'webgpu' | 'cpu', args[1] as string, args[2] as number[], args[3] as number),
      train: () => phases.trainEpoch(args[0] as 'webgpu' | 'wasm', args[1] as string, (args[2] ?? undefined) as number | undefined, args[3] as number, (args[4] ?? undefined) as number | undefined),
      scaling: () => phases.trainScaling(args[0] as Parameters<typeof phases.trainScaling>[0]),
    };
    if (!run[name]) throw new Error(`unknown phase "${name}"`);
    console.log(JSON.stringify(await run[name]()));
    return 0;
  } catch (err) {
    console.log((err as Error).message.split('\n')[0]);
    return 1;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`gpu-kit: ${(err as Error).message}`);
    process.exit(2);
  },
);
