/**
 * @vae/models: the contract of an exported model directory (manifest schema, browser-safe).
 * The Node loader that checks files on disk is `@vae/models/node`.
 */
export * from './schema.js';
export * from './random.js';
export * from './latents.js';
export * from './pixels.js';
