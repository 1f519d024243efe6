/**
 * Training SIGKILLed 12 times (a conv VAE run: 7) at chosen points: before the first checkpoint, mid-epoch
 * (a training step in flight), during the test-set evaluation and during the checkpoint
 * write itself (temporary file half written). After every kill the checkpoint is readable
 * and holds every epoch the process reported; resuming until done gives exactly the
 * weights and optimizer state of an uninterrupted run, and no temporary file is left.
 *
 * The kill points are reached with train's fault-injection hook (train/src/fault.ts):
 * VAE_TRAIN_PAUSE_AT=<phase>:<n> makes `vae train` print `phase: <phase> ...` the n-th
 * time it reaches <phase> and then block, and we SIGKILL it as soon as that line arrives.
 * So each kill is proven to land where the process said it was, whatever the machine's
 * speed. (The previous version killed after random delays, which outlived tiny epochs.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, CHECKPOINT_FILE } from '@vae/train';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const EPOCHS = 5;
// 10 steps per epoch, 2 worker threads (the default), a tiny model.
const RUN = ['--epochs', String(EPOCHS), '--train-limit', '1000', '--latent', '2', '--hidden', '64', '--batch-size', '100', '--backend', 'wasm'];
// The conv VAE, narrow: 4 steps per epoch, 2 worker threads.
const CONV_EPOCHS = 3;
const CONV_RUN = ['--arch', 'conv', '--channels', '4', '8', '--epochs', String(CONV_EPOCHS), '--train-limit', '400', '--latent', '2', '--batch-size', '100', '--backend', 'wasm'];

type Phase = 'start' | 'step' | 'evaluate' | 'checkpoint-write';

/**
 * The kills, in order, each `[phase, n, epochs the checkpoint holds afterwards]` (n counts
 * that phase's occurrences in the killed process; a run resumes from the checkpoint).
 * Every phase is hit both before the first checkpoint and later.
 */
const KILLS: [Phase, number, number][] = [
  ['start', 1, 0], // fresh run, nothing trained yet
  ['step', 4, 0], // epoch 1, step 4
  ['evaluate', 1, 0], // epoch 1's test evaluation
  ['checkpoint-write', 1, 0], // epoch 1's checkpoint half written: no checkpoint yet
  ['evaluate', 2, 1], // epoch 1 saved; epoch 2's evaluation
  ['checkpoint-write', 1, 1], // epoch 2's checkpoint half written over epoch 1's
  ['step', 15, 2], // epoch 2 saved; epoch 3, step 5
  ['start', 1, 2], // resumed, killed before its first step
  ['checkpoint-write', 2, 3], // epoch 3 saved; epoch 4's checkpoint half written
  ['step', 7, 3], // epoch 4, step 7
  ['checkpoint-write', 1, 3], // epoch 4's checkpoint half written
  ['step', 13, 4], // epoch 4 saved; epoch 5, step 3
];

/** The conv run's kills: every phase, before and after the first checkpoint. */
const CONV_KILLS: [Phase, number, number][] = [
  ['start', 1, 0],
  ['step', 3, 0], // epoch 1, step 3
  ['evaluate', 1, 0],
  ['checkpoint-write', 1, 0],
  ['step', 6, 1], // epoch 1 saved; epoch 2, step 2
  ['checkpoint-write', 1, 1], // epoch 2's checkpoint half written over epoch 1's
  ['evaluate', 2, 2], // epoch 2 saved; epoch 3's evaluation
];

interface Killed { phase: string; marker: string; printed: number }

/** Runs `vae train` with a pause point and SIGKILLs it when it announces the pause. */
function trainAndKill(out: string, run: string[], resume: boolean, pauseAt: string): Promise<Killed> {
  const child = spawn(process.execPath, [CLI, 'train', '--out', out, ...run, ...(resume ? ['--resume'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VAE_TRAIN_PAUSE_AT: pauseAt },
  });
  let stdout = '', stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    if (/^phase: /m.test(stdout)) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code, signal) => {
      const marker = /^phase: .*$/m.exec(stdout)?.[0];
      if (signal !== 'SIGKILL' || !marker) {
        return reject(new Error(`vae train (VAE_TRAIN_PAUSE_AT=${pauseAt}) was not killed at its pause point: exit ${code}, signal ${signal}\n${stdout}\n${stderr}`));
      }
      // Nothing may follow the marker: the process died where it announced it was.
      assert.ok(stdout.trimEnd().endsWith(marker), `output after the marker:\n${stdout}`);
      const printed = Math.max(0, ...[...stdout.matchAll(/^epoch (\d+):/gm)].map((m) => Number(m[1])));
      resolve({ phase: marker.split(' ')[1], marker, printed });
    });
  });
}

test('SIGKILL at every kind of point loses at most the current epoch and resumes to identical weights', async () => {
  const kills = await killAndResume(RUN, EPOCHS, KILLS);
  assert.ok(kills >= 10);
});

test('the same for a conv VAE run (--arch conv)', async () => {
  await killAndResume(CONV_RUN, CONV_EPOCHS, CONV_KILLS);
});

/**
 * Trains `run` straight through, then again with each of `kills` in turn (resuming after each),
 * checking the checkpoint after every kill, and at the end that the weights are identical.
 * Returns the number of kills.
 */
async function killAndResume(run: string[], epochs: number, kills: [Phase, number, number][]): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'vae-crash-test-'));
  const straight = join(root, 'straight');
  const env = { ...process.env };
  delete env.VAE_TRAIN_PAUSE_AT;
  const r = spawnSync(process.execPath, [CLI, 'train', '--out', straight, ...run], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const reference = await loadCheckpoint(join(straight, CHECKPOINT_FILE));
  const fullSize = (await stat(join(straight, CHECKPOINT_FILE))).size;

  const out = join(root, 'killed');
  const hits = new Map<string, number>();
  let beforeFirstCheckpoint = 0;
  for (const [i, [phase, n, expectedEpoch]] of kills.entries()) {
    const resume = existsSync(join(out, CHECKPOINT_FILE));
    const killed = await trainAndKill(out, run, resume, `${phase}:${n}`);
    const what = `kill ${i + 1} (${killed.marker})`;
    assert.equal(killed.phase, phase, what);
    hits.set(phase, (hits.get(phase) ?? 0) + 1);
    const temporaries = (await readdir(out)).filter((f) => f.endsWith('.tmp'));
    if (phase === 'checkpoint-write') {
      // The process died with its temporary checkpoint partly written.
      assert.equal(temporaries.length, 1, `${what}: temporary files ${temporaries}`);
      const size = (await stat(join(out, temporaries[0]))).size;
      assert.ok(size > 0 && size < fullSize, `${what}: temporary file of ${size} bytes, a full checkpoint has ${fullSize}`);
    }
    if (!existsSync(join(out, CHECKPOINT_FILE))) {
      assert.equal(expectedEpoch, 0, `${what}: no checkpoint`);
      beforeFirstCheckpoint++;
      continue;
    }
    // Always readable, never half-written; holds every epoch the process reported.
    const ckpt = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    assert.equal(ckpt.progress.epoch, expectedEpoch, what);
    assert.ok(ckpt.progress.epoch >= killed.printed, `${what}: checkpoint at epoch ${ckpt.progress.epoch}, but epoch ${killed.printed} was reported`);
  }

  console.log(`${kills.length} SIGKILLs: ${[...hits].map(([p, c]) => `${c} x ${p}`).join(', ')}; ${beforeFirstCheckpoint} before the first checkpoint`);
  for (const phase of ['start', 'step', 'evaluate', 'checkpoint-write']) assert.ok((hits.get(phase) ?? 0) >= 1, `never killed at ${phase}`);
  assert.ok(beforeFirstCheckpoint >= 1);

  // Resume to the end, without a pause point.
  const done = spawnSync(process.execPath, [CLI, 'train', '--out', out, ...run, '--resume'], { encoding: 'utf8', env });
  assert.equal(done.status, 0, done.stderr);
  const final = await loadCheckpoint(join(out, CHECKPOINT_FILE));
  assert.equal(final.progress.epoch, epochs);
  assert.deepEqual(final.state.weights, reference.state.weights, `weights differ after ${kills.length} kills`);
  assert.deepEqual(final.state.adam, reference.state.adam);
  assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.tmp')), []);
  const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).epoch);
  assert.deepEqual(log, Array.from({ length: epochs }, (_, e) => e + 1));
  return kills.length;
}
