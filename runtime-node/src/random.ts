/**
 * Seeded standard normals for `sample()`: the contract's generator (mulberry32 + Box–Muller,
 * in @vae/models), shared with export's golden latents and runtime-web.
 */
export { mulberry32, seededNormals } from '@vae/models';
