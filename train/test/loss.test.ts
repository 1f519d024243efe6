import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, vaeLoss, bceWithLogitsPerImage, klPerImage } from '../src/index.js';

await selectBackend('wasm');

const sigmoid = (l: number) => 1 / (1 + Math.exp(-l));
/** The paper's formula, straight from probabilities (fine for moderate logits). */
const bceFromProbabilities = (logits: number[], x: number[]) =>
  logits.reduce((s, l, i) => s - (x[i] * Math.log(sigmoid(l)) + (1 - x[i]) * Math.log(1 - sigmoid(l))), 0);
const kl = (mu: number[], logvar: number[]) =>
  -0.5 * mu.reduce((s, m, j) => s + 1 + logvar[j] - m * m - Math.exp(logvar[j]), 0);

test('BCE from logits equals the paper formula on probabilities, summed over pixels', async () => {
  const logits = [[0, 2, -1.5, 0.3], [-3, 1, 4, -0.2]];
  const x = [[1, 0, 0.5, 0.25], [0, 1, 1, 0.7]];
  const got = await bceWithLogitsPerImage(tf.tensor2d(logits), tf.tensor2d(x)).array();
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(got[i] - bceFromProbabilities(logits[i], x[i])) < 1e-5, `image ${i}: ${got[i]}`);
});

test('BCE from logits stays finite and exact for saturated logits', async () => {
  // p = sigmoid(±100) rounds to 0 or 1 in float32; log(p) would be -Infinity.
  const got = await bceWithLogitsPerImage(tf.tensor2d([[100, -100, 100]]), tf.tensor2d([[0, 1, 1]])).array();
  assert.ok(Math.abs(got[0] - 200) < 1e-3, `got ${got[0]}, expected 200 (+ ~3.7e-44)`);
});

test('KL term matches the closed form, summed over latent dims', async () => {
  const mu = [[0, 1, -2], [0.5, 0, 0]];
  const logvar = [[0, Math.log(2), -1], [0, 0, 0]];
  const got = await klPerImage(tf.tensor2d(mu), tf.tensor2d(logvar)).array();
  // Hand-computed: image 0 = 0 + (1 - ln2/2) + (2 + 1/2 + e^-1/2 - 1/2); image 1 = 0.125.
  const expected0 = 0 + (1 - Math.log(2) / 2) + (-0.5 * (1 - 1 - 4 - Math.exp(-1)));
  assert.ok(Math.abs(expected0 - kl(mu[0], logvar[0])) < 1e-12);
  assert.ok(Math.abs(got[0] - expected0) < 1e-5, `got ${got[0]}, expected ${expected0}`);
  assert.ok(Math.abs(got[1] - 0.125) < 1e-6, `got ${got[1]}, expected 0.125`);
  // q = prior gives exactly zero.
  const zero = await klPerImage(tf.zeros([1, 5]) as tf.Tensor2D, tf.zeros([1, 5]) as tf.Tensor2D).array();
  assert.ok(zero[0] === 0, `got ${zero[0]}`); // === treats -0 as 0
});

test('total = mean BCE + beta * mean KL over the batch', async () => {
  const logits = [[0.5, -1], [2, 0]];
  const x = [[1, 0], [0, 1]];
  const mu = [[1, 0], [0, -1]];
  const logvar = [[0, 0.5], [-0.5, 0]];
  const beta = 0.1;
  const { bce, kl: klT, total } = vaeLoss(tf.tensor2d(logits), tf.tensor2d(x), tf.tensor2d(mu), tf.tensor2d(logvar), beta);
  const eBce = (bceFromProbabilities(logits[0], x[0]) + bceFromProbabilities(logits[1], x[1])) / 2;
  const eKl = (kl(mu[0], logvar[0]) + kl(mu[1], logvar[1])) / 2;
  assert.ok(Math.abs((await bce.array()) - eBce) < 1e-5);
  assert.ok(Math.abs((await klT.array()) - eKl) < 1e-5);
  assert.ok(Math.abs((await total.array()) - (eBce + beta * eKl)) < 1e-5);
});
