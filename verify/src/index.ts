/**
 * @vae/verify: cross-runtime golden-output parity. `verifyModelDirs` runs the matrix (every
 * graph of a model directory on onnxruntime-node CPU / CUDA, onnxruntime-web wasm in Node,
 * wasm and WebGPU in headless Chromium) against the golden outputs, writes the report and
 * diagnoses failures; `vae verify` is its command line.
 */
export { verifyModelDirs, verifyModel, DEFAULT_REPORT_ROOT, TOOL, type VerifyOptions, type VerifyResult } from './verify.js';
export { verifyCommand, parseRuntimeList } from './cli.js';
export { compareArrays, concat, absDiff, minimumTolerance, to8bit, type ErrorMetrics, type MinimumTolerance } from './metrics.js';
export { RUNTIME_IDS, RUNTIME_LABELS, RuntimeSet, isRuntimeId, cudaUnavailableReason, CUDA_INSTALL_HINT, type RuntimeId, type Runtime, type RuntimeSession, type StartResult } from './runtimes.js';
export { BrowserHost, type BrowserEp } from './browser.js';
export { readGolden, type Feed, type GoldenSet } from './golden.js';
export {
  exposeIntermediates, evaluate, evalNode, constantTensors, initializerValue, tensorTypes, topologicalNodes, loadModel, toValue,
  UnsupportedOpError, EVALUATED_OPS, type Value, type ExposedTensor, type ConstantTensor,
} from './graph.js';
export { diagnose, auditWeights, type Diagnosis, type NodeCheck, type WeightAudit, type WeightDeviation, type DiagnoseInput } from './diagnose.js';
export { heatmapPng, heatmapLayout, colormap, HEATMAP, type HeatmapInput, type HeatmapLayout } from './heatmap.js';
export {
  formatTable, formatMarkdown, reportJson, writeReport, REPORT_FORMAT, REPORT_VERSION, REPORT_JSON, REPORT_MD,
  type ParityReport, type RowResult, type OutputResult, type RuntimeInfo, type RowStatus,
} from './report.js';
export { verifyOnnx, resolveTarget, isModelFolder, ONNX_TOOL, DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_QUANTILE, DEFAULT_NODE_THRESHOLD, type OnnxVerifyOptions } from './onnx-verify.js';
export { generateInputs, readDataSets, writeDataSets, concreteDims, UsageError, type DataSet, type Range, type GenerateOptions } from './onnx-data.js';
export { modelIo, parseModel, markAll, inlineIfs, ifConditions, constantCondition, nodeLabel, type IoSpec, type ModelIo } from './onnx-graph.js';
export { diagnoseOnnx, flattenIfs, type OnnxDiagnosis, type NodeDiff, type TensorDiff, type DiagnoseOnnxInput } from './onnx-diagnose.js';
export {
  formatOnnxTable, formatOnnxMarkdown, onnxReportJson, writeOnnxReport, ONNX_REPORT_FORMAT, ONNX_REPORT_VERSION, ONNX_REPORT_JSON, ONNX_REPORT_MD,
  type OnnxParityReport, type OnnxRowResult, type OnnxOutputResult, type Tolerance,
} from './onnx-report.js';
export { diffs, outputStats, passes, minimumPassing, summarize, locate, ERROR_STATS, type ErrorStat, type OutputStats, type Summary, type Location, type Check } from './stats.js';
export { numericValues, tensorBytes, tensorFromBytes, fromOrtTensor, ortData, dtypeOfElemType, ELEM_TYPES, SUPPORTED_DTYPES, type Tensor, type DType } from './tensors.js';
export { parseTolerance, parseDims, parseRanges } from './cli.js';
