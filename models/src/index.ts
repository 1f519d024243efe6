/**
 * @vae/models: the contract of an exported model directory (manifest schema, the seeded latent
 * generator, the parity tolerances; browser-safe).
 * The Node loader that checks files on disk is `@vae/models/node`.
 */
export * from './schema.js';
export * from './random.js';
export * from './tolerances.js';
