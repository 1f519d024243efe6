/** Seeded latents for `sample()`: the contract's generator (in @vae/models), plus fresh seeds. */
export { mulberry32, seededNormals } from '@vae/models';

/** A random 32-bit seed (crypto when available). */
export function randomSeed(): number {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c?.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * 2 ** 32);
}
