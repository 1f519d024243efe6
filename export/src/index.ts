/**
 * @vae/export: the trained tfjs VAE as standalone ONNX graphs, with manifest.json and
 * golden data (`vae export RUN --out DIR`). The directory's contract (manifest schema,
 * loader) lives in @vae/models.
 */
export { exportRun, backendChoiceOf, trainingCommand, gitInfo, PRODUCER, TOLERANCES, type ExportOptions, type ExportResult } from './export.js';
export { exportCommand } from './cli.js';
export {
  buildModel, checkGraphSpec, UnsupportedLayerError, OPSET, IR_VERSION, BATCH_DIM, SUPPORTED_OPS, SUPPORTED_ACTIVATIONS,
  type LayerSpec, type GraphSpec, type Activation, type Precision, type Signature,
} from './graph.js';
export {
  encodeModel, decodeModel, encodeTensorProto, decodeTensorProto, DataType, AttributeType,
  type ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto, type AttributeProto,
} from './onnx-proto.js';
export {
  toTensorProto, fromTensorProto, serializeTensor, parseTensor, writeTensorFile, readTensorFile, float32Tensor,
  type Tensor, type TensorData, type DType,
} from './tensor.js';
export { toFloat16Bits, fromFloat16Bits, toFloat16Array, fromFloat16Array } from './float16.js';
export { quantizeInt8PerColumn, dequantizeInt8PerColumn, type QuantizedKernel } from './quantize.js';
export {
  makeGolden, writeGoldenSets, readTestDataSets, edgeLatents, seededNormals, GOLDEN_IMAGES, GOLDEN_SEED,
  type GoldenSet, type Golden, type WrittenSet,
} from './golden.js';
export { readVaeWeights, encoderLayers, decoderLayers, expectedLayerNames, IO_DOCS, type VaeWeights, type DenseWeights } from './vae.js';
export { writeDirAtomic, checkOutputDir, OutputExistsError, OutputWriteError, type AtomicDirOptions } from './atomic-dir.js';
export { writeManifest, listFiles, preprocessing, postprocessing, type ManifestInput } from './manifest.js';
export { runOnnx, measureParity, maxAbsDiff, ORT_RUNTIME, ORT_VERSION, type ParityErrors } from './verify.js';
export { runOnnxChecker, findOnnxPython, type CheckerResult } from './checker.js';
