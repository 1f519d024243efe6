/**
 * `node train/dist/bench/contention.js`: do this machine's cores slow each other down?
 *
 * Times the paper model's 256-row forward/backward in one process alone, then in two
 * separate processes at once (no threads, no shared memory, nothing exchanged), ROUNDS
 * times. If two processes each take longer than one alone, the cores share something (SIMD
 * units, caches, a hypervisor's time) and no data-parallel trainer can halve the step.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend.js';
import { createVae, PAPER_MODEL } from '../model.js';
import { mulberry32, standardNormal } from '../random.js';
import { computeGradients } from '../step.js';

const ROWS = 256, STEPS = 30, ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** Mean ms per forward/backward, after a warm-up. */
async function measure(): Promise<number> {
  await selectBackend('wasm');
  const model = createVae(PAPER_MODEL, 1);
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: ROWS * PAPER_MODEL.inputSize }, () => rand());
  const eps = standardNormal(ROWS * PAPER_MODEL.latentSize, 2);
  const step = () => { const r = computeGradients(model, x, eps, 1); tf.dispose([...r.grads, r.bce, r.kl]); };
  for (let i = 0; i < 5; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) step();
  return (performance.now() - t0) / STEPS;
}

/** Runs `count` copies of this script in measuring mode at once; their ms per step. */
function processes(count: number): Promise<number[]> {
  const self = fileURLToPath(import.meta.url);
  return Promise.all(Array.from({ length: count }, () => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [self, '--measure'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`measuring process exited with ${code}`))));
  })));
}

if (process.argv.includes('--measure')) {
  process.stdout.write(String(await measure()));
} else {
  console.log(`forward/backward of ${ROWS} rows (paper model, wasm), mean of ${STEPS} steps per process`);
  for (let r = 1; r <= ROUNDS; r++) {
    const [alone] = await processes(1);
    const pair = await processes(2);
    const worst = Math.max(...pair);
    console.log(`round ${r}: one process alone ${alone.toFixed(1)} ms; two at once ${pair.map((v) => v.toFixed(1)).join(' and ')} ms (x${(worst / alone).toFixed(2)} for the slower)`);
  }
}
