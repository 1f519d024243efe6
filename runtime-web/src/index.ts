/**
 * @vae/runtime-web: the exported VAE in the browser (main thread or Web Worker) with
 * onnxruntime-web on WebGPU or wasm. See README.md.
 */
export { createVae, Decoded, Sampled, ort, type CreateVaeOptions, type Vae, type Encoded, type LoadedFileInfo, type PixelInput, type LatentInput, type WasmPaths } from './vae.js';
export { VaeError, type VaeErrorCode, type VaeErrorDetails } from './errors.js';
export { probeWebGpu, selectDevice, DEVICE_REQUESTS, type Device, type DeviceRequest, type DeviceAttempt, type DeviceSelection, type WebGpuProbe } from './device.js';
export { fetchManifest, loadModelFiles, clearModelCache, cacheKey, DEFAULT_CACHE_NAME, type LoadProgress, type FetchOptions, type LoadedFile, type FileSource } from './fetch.js';
export {
  toImageData, toImageDataList, imageDataToPixels, grayscale, centerDigit, resampleArea, IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_SIZE,
  type ToImageDataOptions, type ToPixelsOptions,
} from './image.js';
export { seededNormals, mulberry32, randomSeed } from './random.js';
