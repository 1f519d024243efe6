/**
 * @vae/export: the trained tfjs VAE as standalone ONNX graphs, with manifest.json and
 * golden data (`vae export RUN --out DIR`). The directory's contract (manifest schema,
 * loader) lives in @vae/models.
 */
export { exportRun, backendChoiceOf, trainingCommand, gitInfo, PRODUCER, type ExportOptions, type ExportResult } from './export.js';
export {
  buildModel, checkGraphSpec, UnsupportedLayerError, OPSET, IR_VERSION, BATCH_DIM, SUPPORTED_OPS, SUPPORTED_ACTIVATIONS,
  type LayerSpec, type GraphSpec, type Activation, type Precision, type Signature,
} from './graph.js';
export { quantizeInt8PerColumn, dequantizeInt8PerColumn, type QuantizedKernel } from './quantize.js';
export {
  makeGolden, edgeLatents, seededNormals, GOLDEN_IMAGES, GOLDEN_SEED,
  type Golden,
} from './golden.js';
export { readVaeWeights, encoderLayers, decoderLayers, expectedLayerNames, IO_DOCS, type VaeWeights, type DenseWeights } from './vae.js';
export { writeDirAtomic, checkOutputDir, OutputExistsError, OutputWriteError, type AtomicDirOptions } from './atomic-dir.js';
export { writeManifest, listFiles, preprocessing, postprocessing, type ManifestInput } from './manifest.js';
export { runOnnx, measureParity, maxAbsDiff, ORT_RUNTIME, ORT_VERSION, type ParityErrors } from './verify.js';
export { runOnnxChecker, findOnnxPython, type CheckerResult } from './checker.js';
export {
  compileGraph, generateModule, standaloneFiles, addStandalone, fileEntries, runtimeSource, weightsFileOf, UnsupportedGraphError,
  STANDALONE_OPS, STANDALONE_MODULE, type Program, type CompiledGraph, type ModuleInfo, type StandaloneFile,
} from './standalone.js';
