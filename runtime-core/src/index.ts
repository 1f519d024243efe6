/**
 * @vae/runtime-core: the platform-free half of both VAE runtimes (browser-safe, no node:
 * modules). `@vae/runtime-node` and `@vae/runtime-web` each add a backend (how to load bytes,
 * open onnxruntime sessions on a device, and read their platform's image sources) and export
 * the same `loadVae`; everything a user calls after that is the `Vae` class here.
 */
export {
  Vae, PRECISIONS, DECODER_GRAPHS, DEFAULT_MAX_BATCH, commonLoadOptions, decoderGraphKey,
  type Precision, type LoadProgress, type CommonLoadOptions, type OutputRequest, type VaeBackend, type VaeInfo,
  type ImageInput, type ImagesInput, type Endpoint, type Encoding,
} from './vae.js';
export {
  planDevice, openDevice, resolveDevice, deviceNote, deviceChoices, checkDevice,
  type DeviceProbe, type DeviceEntry, type DeviceTable, type DeviceAttempt, type DevicePlan, type DeviceResolution,
} from './device.js';
export { VaeError, asVaeError, messageOf, inputError, type VaeErrorCode, type VaeErrorDetails } from './errors.js';
export {
  rgbaToPixels, preprocessOptions, needsInvert, toGray, centerDigit, resizeArea, isRgbaImage, checkRgbaImage,
  DEFAULT_PREPROCESS, IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_PIXELS, type RgbaImage, type PreprocessOptions,
} from './preprocess.js';
export { decodeImage, decodeBmp, fetchImageBytes, headerSize, sniffImageFormat, MAX_IMAGE_SIDE, type ImageFormat } from './image-files.js';
export {
  gridLayout, imagesToGray, imagesToRgba, imagesToPng, grayToRgba, toGrey, type Images, type GridOptions, type GridLayout,
} from './images.js';
export {
  sampleLatents, interpolateLatents, manifoldLatents, checkCount, checkSeed, randomSeed, type SampleOptions, type ManifoldOptions,
} from './latent-space.js';
export { parseLatents, type LatentInput } from './latents.js';
export { checkPixels } from './pixels-check.js';
export { seededNormals, mulberry32 } from '@vae/models';
