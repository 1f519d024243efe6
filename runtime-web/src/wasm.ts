/**
 * @vae/runtime-web/wasm: the same API on onnxruntime-web's wasm-only build, which never pulls
 * in the WebGPU build (its .wasm is about half the size). Devices: 'auto' (= wasm) or 'wasm'.
 */
import * as ort from 'onnxruntime-web/wasm';
import { WASM_DEVICES } from './device.js';
import { webLoader } from './loader.js';

/** Loads a model directory by URL, on wasm. */
export const loadVae = webLoader(ort, WASM_DEVICES);
/** The onnxruntime-web build this entry runs on (wasm execution provider only). */
export { ort };
export * from './exports.js';
