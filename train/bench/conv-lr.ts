/**
 * `node --import tsx train/bench/conv-lr.ts [lr ...]`: the conv VAE's loss over its first
 * LR_STEPS (default 300) steps on MNIST at each Adam learning rate (default 1e-4 1e-3), batch 256,
 * LR_THREADS (default 2) worker threads, the data order and noise of a real run (seed 0): the evidence behind
 * CONV_DEFAULTS.learningRate. Prints the mean training loss per 50 steps and the test ELBO
 * (beta = 1) on the first 2000 test images after the last step.
 */
import { selectBackend } from '../src/backend.js';
import { CONV_DEFAULTS, PAPER_DEFAULTS } from '../src/config.js';
import { loadDataset } from '../src/data/datasets.js';
import { deriveSeed, permutation, standardNormal } from '../src/random.js';
import { ParallelTrainer } from '../src/speed/parallel.js';

const STEPS = Number(process.env.LR_STEPS ?? 300);
const THREADS = Number(process.env.LR_THREADS ?? 2);
const BATCH = 256, SEED = 0, TEST = 2000;
const rates = process.argv.slice(2).map(Number);
const { model } = CONV_DEFAULTS;
await selectBackend('wasm');
const [train, test] = await Promise.all([loadDataset({ split: 'train' }), loadDataset({ split: 'test' })]);
const P = model.inputSize;
for (const lr of rates.length ? rates : [1e-4, 1e-3]) {
  const trainer = await ParallelTrainer.create({ ...PAPER_DEFAULTS, model, learningRate: lr, seed: SEED, threads: THREADS });
  const started = performance.now();
  const perEpoch = Math.floor(train.count / BATCH); // full batches only, here
  const batch = new Float32Array(BATCH * P);
  const means: string[] = [];
  let sum = 0;
  let order = permutation(train.count, deriveSeed(SEED, 0));
  for (let step = 0; step < STEPS; step++) {
    const [epoch, i] = [Math.floor(step / perEpoch), step % perEpoch];
    if (i === 0) order = permutation(train.count, deriveSeed(SEED, epoch));
    for (let r = 0; r < BATCH; r++) batch.set(train.images.subarray(order[i * BATCH + r] * P, (order[i * BATCH + r] + 1) * P), r * P);
    const s = await trainer.trainStep(batch, standardNormal(BATCH * model.latentSize, deriveSeed(SEED, epoch, i)));
    sum += (s.bce + s.kl) / s.count;
    if ((step + 1) % 50 === 0) { means.push(`${(sum / 50).toFixed(1)}`); sum = 0; }
    if ((step + 1) % 500 === 0) console.log(`lr ${lr}, step ${step + 1}: last 50 steps ${means.at(-1)}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const t = await trainer.evaluate(test.images.subarray(0, TEST * P), standardNormal(TEST * model.latentSize, 1));
  console.log(`lr ${lr}: train loss per 50 steps ${means.join(' ')} | test ELBO (${TEST} images) after ${STEPS} steps ${((t.bce + t.kl) / t.count).toFixed(2)} (bce ${(t.bce / t.count).toFixed(2)} kl ${(t.kl / t.count).toFixed(2)}) | ${(seconds * 1000 / STEPS).toFixed(0)} ms/step`);
  await trainer.dispose();
}
