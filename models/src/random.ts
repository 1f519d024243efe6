/**
 * Seeded standard-normal numbers: mulberry32 uniforms + Box–Muller. Part of the contract:
 * export's golden latents and both runtimes' `sample({ seed })` use this generator, so a
 * seed means the same latent vectors in every runtime and on every machine.
 */

/** mulberry32: a small 32-bit PRNG; returns uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` float32 values from N(0, scale^2), deterministic for a seed. */
export function seededNormals(count: number, seed: number, scale = 1): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())); // 1 - rand() is in (0, 1]: log is finite
    const t = 2 * Math.PI * rand();
    out[i] = scale * r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = scale * r * Math.sin(t);
  }
  return out;
}
