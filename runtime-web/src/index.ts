/**
 * @vae/runtime-web: the exported VAE in the browser (main thread or Web Worker) with
 * onnxruntime-web on WebGPU, falling back to wasm. `loadVae` returns @vae/runtime-core's `Vae`,
 * the same API as @vae/runtime-node's. For wasm only (about half the download), import
 * `@vae/runtime-web/wasm` instead. See README.md.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { WEB_DEVICES } from './device.js';
import { webLoader } from './loader.js';

/** Loads a model directory by URL; device 'auto' (WebGPU when it works, else wasm), 'webgpu' or 'wasm'. */
export const loadVae = webLoader(ort, WEB_DEVICES);
/** The onnxruntime-web build this entry runs on (WebGPU and wasm execution providers). */
export { ort };
export * from './exports.js';
