/**
 * @vae/runtime-core: the platform-free half of both VAE runtimes (browser-safe, no node:
 * modules). `@vae/runtime-node` and `@vae/runtime-web` each add a backend (how to load bytes,
 * open onnxruntime sessions on a device, and read their platform's image sources) and export
 * the same `loadVae`; everything a user calls after that is the `Vae` class here.
 * The index is what the two runtimes (and their tests and the pipeline) import; the checks
 * and latent generators behind `Vae`'s methods are internal.
 */
export {
  Vae, PRECISIONS, commonLoadOptions, decoderGraphKey,
  type Precision, type LoadProgress, type CommonLoadOptions, type OutputRequest, type VaeBackend, type VaeInfo,
  type ImageInput, type ImagesInput, type Endpoint, type Encoding,
} from './vae.js';
export {
  planDevice, openDevice, resolveDevice, deviceChoices,
  type DeviceProbe, type DeviceEntry, type DeviceTable, type DeviceAttempt, type DevicePlan, type DeviceResolution,
} from './device.js';
export { VaeError, asVaeError, messageOf, inputError, type VaeErrorCode, type VaeErrorDetails } from './errors.js';
export {
  rgbaToPixels, toGray, centerDigit, resizeArea,
  DEFAULT_PREPROCESS, IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_PIXELS, type RgbaImage, type PreprocessOptions,
} from './preprocess.js';
export { decodeImage, fetchImageBytes, MAX_IMAGE_SIDE } from './image-files.js';
export {
  gridLayout, imagesToGray, imagesToRgba, imagesToPng, type Images, type GridOptions, type GridLayout,
} from './images.js';
export { type SampleOptions, type ManifoldOptions } from './latent-space.js';
export { parseLatents, type LatentInput } from './latents.js';
export { seededNormals, mulberry32 } from '@vae/models';
