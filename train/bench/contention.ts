/**
 * `node --import tsx train/bench/contention.ts`: do this machine's cores slow each other down?
 *
 * Times the paper model's 256-row forward/backward in one process alone, then in two
 * separate processes at once (no threads, no shared memory, nothing exchanged), ROUNDS
 * times. If two processes each take longer than one alone, the cores share something (SIMD
 * units, caches, a hypervisor's time) and no data-parallel trainer can halve the step.
 * Then the same for each probe of probes.ts, to tell which of those it is.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend.js';
import { createVae, PAPER_MODEL } from '../src/model.js';
import { mulberry32, standardNormal } from '../src/random.js';
import { computeGradients } from '../src/step.js';
import { PROBES, probeWork, type Probe } from './probes.js';

const ROWS = 256, STEPS = 30, ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Long enough for V8 to finish tiering up tfjs-wasm's code: while it compiles on background
// threads, a process alone borrows the idle core for that, and looks faster than it is.
const WARMUP = 60;

/** Mean ms per forward/backward, after a warm-up. */
async function measure(): Promise<number> {
  await selectBackend('wasm');
  const model = createVae(PAPER_MODEL, 1);
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: ROWS * PAPER_MODEL.inputSize }, () => rand());
  const eps = standardNormal(ROWS * PAPER_MODEL.latentSize, 2);
  const step = () => { const r = computeGradients(model, x, eps, 1); tf.dispose([...r.grads, r.bce, r.kl]); };
  for (let i = 0; i < WARMUP; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) step();
  return (performance.now() - t0) / STEPS;
}

/** Median ms of three runs of a probe's work, after one to warm up. */
function measureProbe(probe: Probe): number {
  const work = probeWork(probe);
  work();
  const ms = [0, 1, 2].map(() => { const t0 = performance.now(); work(); return performance.now() - t0; });
  return ms.sort((a, b) => a - b)[1];
}

/** Runs `count` copies of this script measuring `what` at once; their ms. */
function processes(count: number, what = 'step'): Promise<number[]> {
  const self = fileURLToPath(import.meta.url);
  return Promise.all(Array.from({ length: count }, () => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, self, '--measure', what], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`measuring process exited with ${code}`))));
  })));
}

const measuring = process.argv.indexOf('--measure');
if (measuring >= 0) {
  const what = process.argv[measuring + 1];
  process.stdout.write(String(what === 'step' ? await measure() : measureProbe(what as Probe)));
} else {
  console.log(`forward/backward of ${ROWS} rows (paper model, wasm), mean of ${STEPS} steps per process`);
  for (let r = 1; r <= ROUNDS; r++) {
    const [alone] = await processes(1);
    const pair = await processes(2);
    const worst = Math.max(...pair);
    console.log(`round ${r}: one process alone ${alone.toFixed(1)} ms; two at once ${pair.map((v) => v.toFixed(1)).join(' and ')} ms (x${(worst / alone).toFixed(2)} for the slower)`);
  }
  console.log('probes (probes.ts), median of 3 runs per process:');
  for (const probe of PROBES) {
    const [alone] = await processes(1, probe);
    const pair = await processes(2, probe);
    console.log(`  ${probe.padEnd(14)} alone ${alone.toFixed(1)} ms; two at once ${pair.map((v) => v.toFixed(1)).join(' and ')} ms (x${(Math.max(...pair) / alone).toFixed(2)})`);
  }
}
