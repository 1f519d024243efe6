import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeVae, importanceWeightedNll, selectBackend, type VaeModel } from '../src/index.js';
import { createVae, decodeLogits } from '../src/model.js';

await selectBackend('wasm');

/**
 * A model small enough that log p(x) = log ∫ p(x|z) N(z; 0, 1) dz can be computed by
 * quadrature over a one-dimensional latent: the reference the estimate must approach.
 */
const model: VaeModel = createVae({ inputSize: 6, hiddenSizes: [8], latentSize: 1 }, 7);
const images = new Float32Array([0.9, 0.1, 1, 0, 0.5, 0.7, 0, 0.2, 0.3, 1, 1, 0.05]); // two images

async function exactNll(x: Float32Array): Promise<number> {
  const steps = 8001, lo = -12, hi = 12, dz = (hi - lo) / (steps - 1);
  const z = Float32Array.from({ length: steps }, (_, i) => lo + i * dz);
  const logPxz = tf.tidy(() => {
    const logits = decodeLogits(model, tf.tensor2d(z, [steps, 1]));
    const xt = tf.tile(tf.tensor2d(x, [1, x.length]), [steps, 1]);
    // log p(x|z) = -BCE, written out here independently of loss.ts.
    return tf.sum(tf.sub(tf.mul(xt, tf.logSigmoid(logits)), tf.mul(tf.sub(1, xt), tf.softplus(logits))), 1);
  });
  const lp = await logPxz.data();
  logPxz.dispose();
  const terms = Array.from(lp, (l, i) => l - 0.5 * (z[i] * z[i] + Math.log(2 * Math.PI)));
  const max = Math.max(...terms);
  return -(max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0) * dz));
}

test('the importance-weighted estimate approaches the exact -log p(x) as k grows, from above', async () => {
  const exact = (await exactNll(images.subarray(0, 6)) + (await exactNll(images.subarray(6)))) / 2;
  const k1 = await importanceWeightedNll(model, images, { samples: 1, seed: 3 });
  const k5000 = await importanceWeightedNll(model, images, { samples: 5000, seed: 3 });
  // An untrained encoder is a poor proposal, so k = 1 is far off; k = 5000 must close the gap.
  assert.ok(Math.abs(k5000.nll - exact) < 0.02, `k = 5000: ${k5000.nll}, exact ${exact}`);
  assert.ok(k5000.nll >= exact - 0.02, 'the estimate is an upper bound on -log p(x) (up to noise)');
  assert.ok(k1.nll > k5000.nll, `k = 1 (${k1.nll}) should be looser than k = 5000 (${k5000.nll})`);
  assert.equal(k5000.images, 2);
  assert.equal(k5000.perImage.length, 2);
});

test('k = 1 is the single-sample negative ELBO, and the same seed gives the same numbers', async () => {
  const a = await importanceWeightedNll(model, images, { samples: 1, seed: 11 });
  const b = await importanceWeightedNll(model, images, { samples: 1, seed: 11, imagesPerChunk: 1 });
  assert.ok(Math.abs(a.nll - a.elbo) < 1e-9, `nll ${a.nll} elbo ${a.elbo}`);
  assert.deepEqual(a.perImage, (await importanceWeightedNll(model, images, { samples: 1, seed: 11 })).perImage);
  // Noise is seeded per image: the chunking does not change the estimate.
  a.perImage.forEach((v, i) => assert.ok(Math.abs(v - b.perImage[i]) < 1e-4, `image ${i}: ${v} vs ${b.perImage[i]}`));
  const c = await importanceWeightedNll(model, images, { samples: 1, seed: 12 });
  assert.notDeepEqual(a.perImage, c.perImage, 'another seed, other noise');
});

test('bad arguments are refused with a message naming them', async () => {
  await assert.rejects(importanceWeightedNll(model, images, { samples: 0 }), /samples must be a positive integer/);
  await assert.rejects(importanceWeightedNll(model, new Float32Array(5)), /multiple of 6 pixels/);
  await assert.rejects(importanceWeightedNll(model, new Float32Array(0)), /non-empty/);
});

test.after(() => disposeVae(model));
