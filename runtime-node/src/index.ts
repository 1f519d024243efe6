/**
 * @vae/runtime-node: the exported VAE on onnxruntime-node (CUDA or CPU) with jimp image I/O.
 *
 *   const vae = await Vae.load('models/released/mnist-n64-beta1', { executionProvider: 'auto' });
 *   const { mu } = await vae.encode(['digit.png']);
 *   await writePng('out.png', await vae.decode(mu));
 */
export {
  Vae, DECODER_VARIANTS, checkSession,
  type VaeOptions, type DecoderVariant, type ImagesInput, type Endpoint, type Encoding, type SampleOptions, type ManifoldOptions,
} from './vae.js';
export {
  selectExecutionProvider, detectCuda, cudaUnavailable, ExecutionProviderError, EXECUTION_PROVIDER_CHOICES, CUDA_INSTALL_HINT,
  type ExecutionProviderChoice, type ExecutionProvider, type CudaProbe, type CudaDetector, type ProviderSelection,
} from './providers.js';
export {
  readImages, decodeImage, rgbaToInput, resizeArea, batchToGray, batchToPng, grayToPng, writePng, gridLayout, ImageError,
  IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_PIXELS, BRIGHT_BORDER, MAX_IMAGE_SIDE,
  type ImageBatch, type ImageSource, type ImageReadOptions, type RgbaImage, type GridOptions, type GridLayout,
} from './images.js';
export { toLatentBatch, toImageArray, InputError, type LatentInput } from './inputs.js';
export { seededNormals, mulberry32 } from './random.js';
export { writeFileAtomic } from './atomic.js';
export {
  encodeCommand, decodeCommand, sampleCommand, reconstructCommand, interpolateCommand, manifoldCommand, runtimeCommands,
} from './cli.js';
