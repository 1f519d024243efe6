import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/index.js';
import { vaeLoss, bceWithLogitsPerImage, klPerImage } from '../src/loss.js';
import { sumRows } from '../src/loss.js';

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

test('sumRows gives the sums and the gradient of tf.sum over axis 1, bit for bit, on wasm and cpu', async () => {
  // Values of every kind a loss produces: large, tiny, subnormal, negative zero, and upstream
  // gradients that are not powers of two, so a gradient computed any other way would round differently.
  const rand = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32); })();
  const special = [0, -0, 1e-40, -3e38, 7.5, Number.MIN_VALUE, 1 / 3];
  const values = Float32Array.from({ length: 37 * 784 }, (_, i) => (i < special.length ? special[i] : (rand() - 0.5) * 10 ** (8 * rand() - 4)));
  const upstream = Float32Array.from({ length: 37 }, () => (rand() - 0.5) * 3.7);
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  try {
    for (const backend of ['wasm', 'cpu'] as const) {
      await selectBackend(backend);
      const x = tf.tensor2d(values, [37, 784]);
      const w = tf.tensor1d(upstream);
      const ours = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(sumRows(t as tf.Tensor2D), w)));
      const tfjs = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, 1), w)));
      const [a, b] = [ours(x), tfjs(x)];
      assert.deepEqual(bits(sumRows(x).dataSync() as Float32Array), bits(tf.sum(x, 1).dataSync() as Float32Array), `${backend}: sums`);
      assert.deepEqual(bits(a.grad.dataSync() as Float32Array), bits(b.grad.dataSync() as Float32Array), `${backend}: gradient`);
      assert.equal(a.value.dataSync()[0], b.value.dataSync()[0], `${backend}: value`);
      tf.dispose([x, w, a.value, a.grad, b.value, b.grad]);
    }
  } finally {
    await selectBackend('wasm');
  }
});
