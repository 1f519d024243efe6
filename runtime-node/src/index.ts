/**
 * @vae/runtime-node: the exported VAE on onnxruntime-node (CUDA, WebGPU or CPU). `loadVae` is this
 * package's; the `Vae` it returns, the options and the image helpers are @vae/runtime-core's,
 * re-exported here, so the API is the one of @vae/runtime-web too.
 *
 *   const vae = await loadVae();                               // released mnist-n64-beta1, device 'auto'
 *   const { mu } = await vae.encode(['digit.png']);            // invert 'auto', center true
 *   await writePng('out.png', await vae.decode(mu));
 */
export { loadVae, checkSession, type LoadOptions } from './vae.js';
export {
  NODE_DEVICES, detectCuda, detectWebGpu, describeAdapter, isSoftwareAdapter, DEVICE_CHOICES, CUDA_INSTALL_HINT, WEBGPU_HINT, SWIFTSHADER_ICD,
  type DeviceChoice, type Device, type CudaProbe, type CudaDetector, type WebGpuAdapter, type WebGpuProbe, type WebGpuDetector,
} from './providers.js';
export { writePng } from './png.js';
export {
  Vae, VaeError, PRECISIONS, DEFAULT_PREPROCESS, IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_PIXELS, MAX_IMAGE_SIDE,
  decodeImage, rgbaToPixels, imagesToPng, imagesToGray, imagesToRgba, gridLayout, parseLatents, seededNormals, mulberry32,
  type Precision, type LoadProgress, type Images, type Encoding, type PreprocessOptions, type RgbaImage, type ImageInput,
  type ImagesInput, type Endpoint, type LatentInput, type SampleOptions, type ManifoldOptions, type GridOptions, type GridLayout,
  type VaeErrorCode,
} from '@vae/runtime-core';
