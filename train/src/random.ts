/**
 * Small seeded PRNG helpers. tfjs' own seeded ops cover tensors; these cover what
 * happens in plain JS (weight init, shuffling) so a run is reproducible from one seed.
 */

// The generators themselves are part of the model contract (@vae/models): one implementation.
import { mulberry32, seededNormals } from '@vae/models';

export { mulberry32 };

/** Derives an independent 32-bit seed from a base seed and a path of integers (epoch, step, ...). */
export function deriveSeed(seed: number, ...path: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of path) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h;
}

/** Fisher–Yates permutation of 0..n-1 from a seed. */
export function permutation(n: number, seed: number): Uint32Array {
  const rand = mulberry32(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

/**
 * n standard-normal float32 values from a seed: the reparameterisation noise of a step
 * (seed from `deriveSeed(seed, epoch, step)`), @vae/models' seededNormals at scale 1.
 */
export const standardNormal = (n: number, seed: number): Float32Array => seededNormals(n, seed);
