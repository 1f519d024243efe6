/**
 * Latent vectors the runtimes make themselves: seeded samples, straight-line interpolations and
 * the manifold grid. Each is one convention, shared by Node and the browser, so the same call
 * gives the same z (and, within the graph tolerances, the same images) everywhere.
 */
import { seededNormals } from '@vae/models';
import { inputError } from './errors.js';

export interface SampleOptions {
  /** PRNG seed, an integer in [0, 2^32); the same seed gives the same z in every runtime. Default: a random one (returned). */
  seed?: number;
  /** z ~ N(0, temperature^2 I); default 1. Lower gives more typical, less varied digits. */
  temperature?: number;
}

export interface ManifoldOptions {
  /** The grid spans [-range, range] on each latent axis, end points included (default 3). */
  range?: number;
  /** Points per axis (default 15): steps x steps images for n = 2, a row of steps for n = 1. */
  steps?: number;
}

/** A positive integer count of images, or an error naming `label`. */
export function checkCount(count: unknown, label = 'count'): number {
  if (!(typeof count === 'number' && Number.isInteger(count) && count >= 1)) throw inputError(`${label}: expected a positive integer, got ${String(count)}`);
  return count;
}

/** A seed in [0, 2^32): other numbers are refused, not wrapped, so a seed always means one z. */
export function checkSeed(seed: unknown, label = 'seed'): number {
  if (!(typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
    throw inputError(`${label}: expected an integer in [0, 2^32), got ${String(seed)}`);
  }
  return seed;
}

/** A random 32-bit seed (crypto when available). */
export function randomSeed(): number {
  const c = (globalThis as { crypto?: { getRandomValues?(array: Uint32Array): Uint32Array } }).crypto;
  if (c?.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * 2 ** 32);
}

/** `count` latent vectors of size n from N(0, temperature^2 I) (mulberry32 + Box-Muller, @vae/models). */
export function sampleLatents(count: number, latentSize: number, options: SampleOptions = {}): { z: Float32Array; seed: number; temperature: number } {
  checkCount(count);
  const temperature = options.temperature ?? 1;
  if (!(typeof temperature === 'number' && Number.isFinite(temperature) && temperature >= 0)) {
    throw inputError(`temperature: expected a finite number >= 0, got ${String(temperature)}`);
  }
  const seed = options.seed === undefined ? randomSeed() : checkSeed(options.seed);
  return { z: seededNormals(count * latentSize, seed, temperature), seed, temperature };
}

/** `steps` vectors on the straight line from za to zb, both ends included. */
export function interpolateLatents(za: Float32Array, zb: Float32Array, steps: number): Float32Array {
  if (!(Number.isInteger(steps) && steps >= 2)) throw inputError(`steps: expected an integer >= 2, got ${steps}`);
  const n = za.length;
  const z = new Float32Array(steps * n);
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    for (let k = 0; k < n; k++) z[s * n + k] = za[k] + (zb[k] - za[k]) * t;
  }
  return z;
}

/**
 * The manifold grid over [-range, range], end points included: for n = 2, steps x steps vectors
 * (columns: z0 from -range to +range; rows: z1 from +range at the top to -range at the bottom,
 * so the picture has the axes of a plot); for n = 1, one row. Other latent sizes are an error.
 */
export function manifoldLatents(latentSize: number, options: ManifoldOptions = {}): { z: Float32Array; rows: number; columns: number } {
  const range = options.range ?? 3;
  const steps = options.steps ?? 15;
  if (latentSize !== 1 && latentSize !== 2) {
    throw inputError(`manifold needs a model with latent size 1 or 2; this model has latent size ${latentSize} (the released mnist-n2-beta1 has 2)`);
  }
  if (!(typeof range === 'number' && Number.isFinite(range) && range > 0)) throw inputError(`range: expected a finite number > 0, got ${String(range)}`);
  if (!(Number.isInteger(steps) && steps >= 2 && steps <= 1000)) throw inputError(`steps: expected an integer from 2 to 1000, got ${String(steps)}`);
  const at = (i: number) => -range + (2 * range * i) / (steps - 1);
  const rows = latentSize === 2 ? steps : 1;
  const z = new Float32Array(rows * steps * latentSize);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < steps; c++) {
      const i = r * steps + c;
      z[i * latentSize] = at(c);
      if (latentSize === 2) z[i * latentSize + 1] = at(steps - 1 - r);
    }
  }
  return { z, rows, columns: steps };
}
