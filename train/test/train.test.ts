/**
 * Training on real MNIST: the test loss falls below a baseline that needs the latent
 * code to beat, and interrupted runs resume to exactly the weights of uninterrupted ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, loadDataset, train, CHECKPOINT_FILE, type EpochRecord } from '../src/index.js';

const tmp = () => mkdtemp(join(tmpdir(), 'vae-train-test-'));

/**
 * The BCE of the best model that ignores its input: each pixel an independent Bernoulli
 * with the training set's mean intensity. A VAE whose test ELBO (BCE + KL) is below this
 * must be carrying information about each image through z. (~205.8 nats on MNIST.)
 */
async function meanImageBaseline(): Promise<number> {
  const [trainSet, testSet] = await Promise.all([loadDataset({ split: 'train' }), loadDataset({ split: 'test' })]);
  const P = trainSet.rows * trainSet.cols;
  const mean = new Float64Array(P);
  for (let i = 0; i < trainSet.count * P; i++) mean[i % P] += trainSet.images[i] / trainSet.count;
  let bce = 0;
  for (let i = 0; i < testSet.count * P; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, mean[i % P]));
    const x = testSet.images[i];
    bce -= x * Math.log(p) + (1 - x) * Math.log(1 - p);
  }
  return bce / testSet.count;
}

test('a short run on real MNIST beats the input-ignoring baseline on the test set', async () => {
  const baseline = await meanImageBaseline();
  assert.ok(baseline > 200 && baseline < 210, `baseline ${baseline}`);
  const outDir = await tmp();
  const result = await train({
    outDir, backend: 'wasm', latentSize: 16, trainLimit: 10000, epochs: 3, learningRate: 1e-3, batchSize: 128, seed: 1,
  });
  const first = result.history[0].test.total;
  const last = result.history.at(-1)!.test.total;
  assert.ok(last < first, `test loss did not fall: ${first} -> ${last}`);
  assert.ok(last < baseline - 5, `test ELBO ${last.toFixed(2)} not below the mean-image baseline ${baseline.toFixed(2)}`);
  // The run directory holds what the README promises.
  const log = (await readFile(join(outDir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as EpochRecord);
  assert.deepEqual(log.map((r) => r.epoch), [1, 2, 3]);
  const metrics = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8'));
  assert.equal(metrics.test.total, last);
  const config = JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8'));
  assert.equal(config.model.latentSize, 16);
  assert.equal(config.data.train.images, (await loadDataset({ split: 'train' })).sha256.images);
});

const small = { backend: 'wasm' as const, latentSize: 4, hiddenSizes: [32], trainLimit: 1000, batchSize: 100, seed: 7 };

async function weightsOf(dir: string) {
  const { state, progress } = await loadCheckpoint(join(dir, CHECKPOINT_FILE));
  return { weights: state.weights, adam: state.adam, epoch: progress.epoch };
}

test('1 epoch + resume for 1 more gives the same weights as 2 epochs', async () => {
  const straight = await tmp();
  await train({ ...small, outDir: straight, epochs: 2 });
  const resumed = await tmp();
  await train({ ...small, outDir: resumed, epochs: 1 });
  await train({ outDir: resumed, backend: 'wasm', resume: true, epochs: 2 });
  const a = await weightsOf(straight);
  const b = await weightsOf(resumed);
  assert.equal(b.epoch, 2);
  assert.deepEqual(b.weights, a.weights); // bit-identical
  assert.deepEqual(b.adam, a.adam);
  // The log has each epoch exactly once.
  const log = (await readFile(join(resumed, 'log.jsonl'), 'utf8')).trim().split('\n');
  assert.deepEqual(log.map((l) => JSON.parse(l).epoch), [1, 2]);
  // config.json, the run's description, says the extended schedule, like the straight run's.
  const configOf = async (dir: string) => JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(await configOf(resumed), await configOf(straight));
});

test('--resume --epochs N ends a run early at a reached epoch, and never before one', async () => {
  const dir = await tmp();
  const first = await train({ ...small, outDir: dir, epochs: 1 + 2 });
  assert.equal(first.epochsDone, 3);
  await assert.rejects(train({ outDir: dir, backend: 'wasm', resume: true, epochs: 2 }), /has already trained 3 epochs: --epochs must be at least 3/);
  // Schedule 5 epochs, stop after 4 (interrupt), then end the run at 4: checkpoint and config agree.
  const controller = new AbortController();
  await train({ outDir: dir, backend: 'wasm', resume: true, epochs: 5, onEpoch: (r) => { if (r.epoch === 4) controller.abort(); }, signal: controller.signal });
  const ended = await train({ outDir: dir, backend: 'wasm', resume: true, epochs: 4 });
  assert.deepEqual([ended.epochsDone, ended.history.length, ended.interrupted], [4, 0, false]);
  const { config, progress } = await loadCheckpoint(join(dir, CHECKPOINT_FILE));
  assert.deepEqual([config.epochs, progress.epoch], [4, 4]);
  assert.equal(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).epochs, 4);
  assert.equal(JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')).epochs, 4);
});

test('an interruption mid-epoch (Ctrl-C) saves a checkpoint that resumes to the same weights', async () => {
  const straight = await tmp();
  await train({ ...small, outDir: straight, epochs: 2 });
  const interrupted = await tmp();
  const controller = new AbortController();
  const first = await train({
    ...small, outDir: interrupted, epochs: 2, signal: controller.signal,
    onProgress: (p) => { if (p.epoch === 2 && p.step === 3) controller.abort(); },
  });
  assert.equal(first.interrupted, true);
  const saved = await loadCheckpoint(join(interrupted, CHECKPOINT_FILE));
  // Step 3's progress arrives once step 4 is posted (train.ts keeps one step in flight): that
  // step completes, and the checkpoint is taken after it.
  assert.deepEqual([saved.progress.epoch, saved.progress.stepInEpoch], [1, 4]);
  const second = await train({ outDir: interrupted, backend: 'wasm', resume: true });
  assert.equal(second.interrupted, false);
  assert.deepEqual((await weightsOf(interrupted)).weights, (await weightsOf(straight)).weights);
  // The resumed epoch reports the same training loss as the uninterrupted one.
  const logOf = async (d: string) => (await readFile(join(d, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as EpochRecord);
  const [s, r] = [await logOf(straight), await logOf(interrupted)];
  assert.equal(r[1].train.total, s[1].train.total);
  assert.equal(r[1].test.total, s[1].test.total);
});

test('a new run refuses a directory that already holds one', async () => {
  const dir = await tmp();
  await train({ ...small, outDir: dir, epochs: 1 });
  await assert.rejects(train({ ...small, outDir: dir, epochs: 1 }), /already holds a training run: pass --resume/);
});

test('testLimit evaluates each epoch on the first N test images, with the same noise as the full pass', async () => {
  const { loadTrainedModel, disposeVae } = await import('../src/index.js');
  const { evaluateSums } = await import('../src/step.js');
  const { testNoise } = await import('../src/train.js');
  const outDir = await tmp();
  const result = await train({ outDir, backend: 'wasm', latentSize: 4, hiddenSizes: [32], trainLimit: 512, testLimit: 300, epochs: 1, threads: 1, seed: 3 });
  assert.equal(result.config.testLimit, 300);
  assert.equal(JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8')).testLimit, 300);
  // Recompute the logged test loss from the checkpoint: the first 300 images and noise rows.
  const { model, config } = await loadTrainedModel(outDir);
  const testSet = await loadDataset({ split: 'test' });
  const sums = await evaluateSums(model, testSet.images.subarray(0, 300 * 784), testNoise(config, 300));
  disposeVae(model);
  assert.equal(sums.count, 300);
  assert.equal(result.history[0].test.bce, sums.bce / 300);
  assert.equal(result.history[0].test.kl, sums.kl / 300);
  await assert.rejects(train({ outDir: await tmp(), testLimit: 0, epochs: 1 }), /test limit must be a positive integer, got 0/);
});
