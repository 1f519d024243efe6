import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seededNormals, VaeError } from '../src/index.js';
import { checkSeed, interpolateLatents, manifoldLatents, sampleLatents } from '../src/latent-space.js';

const inputError = (pattern: RegExp) => (e: unknown) => e instanceof VaeError && e.code === 'input' && pattern.test(e.message);

describe('seeded sampling', () => {
  it('refuses seeds outside [0, 2^32) instead of wrapping them', () => {
    for (const bad of [-1, 2 ** 32, 1.5, NaN, Infinity, '7', null]) {
      assert.throws(() => checkSeed(bad), inputError(/^seed: expected an integer in \[0, 2\^32\)/), String(bad));
      assert.throws(() => sampleLatents(1, 2, { seed: bad as number }), inputError(/^seed:/));
    }
    assert.equal(checkSeed(0), 0);
    assert.equal(checkSeed(2 ** 32 - 1), 2 ** 32 - 1);
  });

  it('gives the contract generator\'s z for a seed, scaled by the temperature', () => {
    const a = sampleLatents(3, 4, { seed: 42 });
    assert.deepEqual(a.z, seededNormals(12, 42));
    assert.deepEqual(sampleLatents(3, 4, { seed: 42 }).z, a.z);
    const half = sampleLatents(3, 4, { seed: 42, temperature: 0.5 }).z;
    half.forEach((v, i) => assert.equal(v, a.z[i] / 2));
    assert.ok(Number.isInteger(sampleLatents(1, 1).seed), 'a random seed is returned');
    assert.throws(() => sampleLatents(0, 4), inputError(/^count: expected a positive integer, got 0/));
    assert.throws(() => sampleLatents(1, 4, { temperature: -1 }), inputError(/^temperature: expected a finite number >= 0/));
  });

  it('interpolates with both ends included', () => {
    const z = interpolateLatents(Float32Array.of(0, 10), Float32Array.of(4, -10), 5);
    assert.deepEqual(Array.from(z), [0, 10, 1, 5, 2, 0, 3, -5, 4, -10]);
    assert.throws(() => interpolateLatents(new Float32Array(2), new Float32Array(2), 1), inputError(/^steps: expected an integer >= 2/));
  });

  it('lays the manifold grid out like a plot: z0 left to right, z1 top (+range) to bottom (-range), end points included', () => {
    const { z, rows, columns } = manifoldLatents(2, { range: 2, steps: 3 });
    assert.equal(rows, 3); assert.equal(columns, 3);
    assert.deepEqual(Array.from(z), [-2, 2, 0, 2, 2, 2, -2, 0, 0, 0, 2, 0, -2, -2, 0, -2, 2, -2]);
    assert.deepEqual(Array.from(manifoldLatents(1, { range: 1, steps: 3 }).z), [-1, 0, 1]);
    assert.throws(() => manifoldLatents(64), inputError(/manifold needs a model with latent size 1 or 2; this model has latent size 64/));
    assert.throws(() => manifoldLatents(2, { steps: 1 }), inputError(/^steps: expected an integer from 2 to 1000/));
    assert.throws(() => manifoldLatents(2, { range: 0 }), inputError(/^range: expected a finite number > 0/));
  });
});
