/**
 * Training killed with SIGKILL at seeded random moments: the checkpoint is always readable,
 * at most the current epoch is lost, and resuming until done gives exactly the weights of
 * an uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, CHECKPOINT_FILE } from '@vae/train';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const RUN = ['--epochs', '4', '--train-limit', '3000', '--latent', '2', '--hidden', '64', '--batch-size', '100', '--backend', 'wasm'];

/** mulberry32, for seeded kill delays. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `vae train` and SIGKILLs it `delayMs` after its first line matching `after`
 * (the backend line: before any checkpoint; an epoch line: somewhere in the next epoch,
 * its test evaluation or its checkpoint write). Resolves with the last epoch it printed.
 */
function trainAndKill(out: string, resume: boolean, after: RegExp, delayMs: number): Promise<{ printed: number; finished: boolean }> {
  const child = spawn(process.execPath, [CLI, 'train', '--out', out, ...RUN, ...(resume ? ['--resume'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  let timer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    if (!timer && after.test(stdout)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const printed = Math.max(0, ...[...stdout.matchAll(/^epoch (\d+):/gm)].map((m) => Number(m[1])));
      if (signal === 'SIGKILL') resolve({ printed, finished: false });
      else if (code === 0) resolve({ printed, finished: true });
      else reject(new Error(`vae train exited ${code}: ${stderr}`));
    });
  });
}

test('SIGKILL at random moments loses at most the current epoch and resumes to identical weights', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vae-crash-test-'));
  const straight = join(root, 'straight');
  const r = spawnSync(process.execPath, [CLI, 'train', '--out', straight, ...RUN], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const reference = await loadCheckpoint(join(straight, CHECKPOINT_FILE));

  const random = rng(42);
  for (let trial = 0; trial < 3; trial++) {
    const out = join(root, `killed-${trial}`);
    let kills = 0;
    for (let attempt = 0; ; attempt++) {
      // Trial 0 is first killed before any checkpoint exists; every other kill comes after
      // an epoch was reported, so each attempt makes progress and the loop ends.
      const beforeFirstCheckpoint = trial === 0 && attempt === 0;
      const after = beforeFirstCheckpoint ? /backend:/ : /^epoch \d+:/m;
      const delay = beforeFirstCheckpoint ? 200 : Math.floor(random() * 2500);
      const { printed, finished } = await trainAndKill(out, existsSync(join(out, CHECKPOINT_FILE)), after, delay);
      if (finished) break;
      kills++;
      assert.ok(attempt < 8, 'training never finished');
      if (!existsSync(join(out, CHECKPOINT_FILE))) continue; // killed before the first checkpoint
      // Always readable, never half-written; holds every epoch the process reported.
      const ckpt = await loadCheckpoint(join(out, CHECKPOINT_FILE));
      assert.ok(ckpt.progress.epoch >= printed, `checkpoint at epoch ${ckpt.progress.epoch}, but epoch ${printed} was reported`);
    }
    const final = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    assert.equal(final.progress.epoch, 4);
    assert.deepEqual(final.state.weights, reference.state.weights, `trial ${trial} (${kills} kills): weights differ`);
    const leftovers = (await readdir(out)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
    console.log(`trial ${trial}: ${kills} SIGKILLs, resumed to identical weights`);
  }
});
