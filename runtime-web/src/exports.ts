/**
 * What both entries (@vae/runtime-web and @vae/runtime-web/wasm) export besides loadVae and ort:
 * the API its README documents. The URL and device-request helpers behind loadVae are internal.
 */
export { type LoadOptions, type WasmPaths } from './loader.js';
export { toImageData, type ToImageDataOptions } from './image.js';
export { probeWebGpu, WEB_DEVICES, type Device, type DeviceRequest, type WebGpuProbe } from './device.js';
export { fetchManifest, loadModelFiles, clearModelCache, cacheKey, type FetchOptions, type LoadedFile, type FileSource } from './fetch.js';
// The shared vocabulary (@vae/runtime-core): one Vae, one error class, one preprocessing; the same
// names @vae/runtime-node re-exports, so code moves between the two runtimes unchanged.
export {
  VaeError, rgbaToPixels, imagesToRgba, imagesToGray, imagesToPng, gridLayout, decodeImage, seededNormals, mulberry32,
  IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_PIXELS, DEFAULT_PREPROCESS, PRECISIONS, MAX_IMAGE_SIDE,
  type Vae, type DeviceAttempt, type VaeErrorCode, type VaeErrorDetails, type Precision, type LoadProgress, type ImageInput, type ImagesInput, type Endpoint,
  type Encoding, type Images, type LatentInput, type ManifoldOptions, type PreprocessOptions, type SampleOptions, type RgbaImage, type GridOptions,
} from '@vae/runtime-core';
