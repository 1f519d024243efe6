/**
 * @vae/test: cross-runtime golden-output parity. `verifyModelDirs` runs the matrix (every
 * graph of a model directory on onnxruntime-node CPU / CUDA, onnxruntime-web wasm in Node,
 * wasm and WebGPU in headless Chromium) against the golden outputs, writes the report and
 * diagnoses failures; `vae verify` is its command line.
 */
export { verifyModelDirs, verifyModel, DEFAULT_REPORT_ROOT, TOOL, type VerifyOptions, type VerifyResult } from './verify.js';
export { verifyCommand, parseRuntimeList } from './cli.js';
export { compareArrays, concat, absDiff, minimumTolerance, to8bit, type ErrorMetrics, type MinimumTolerance } from './metrics.js';
export { RUNTIME_IDS, RUNTIME_LABELS, RuntimeSet, isRuntimeId, cudaUnavailableReason, CUDA_INSTALL_HINT, type RuntimeId, type Runtime, type RuntimeSession, type StartResult } from './runtimes.js';
export { BrowserHost, CHROMIUM_PATH, CHROMIUM_ARGS, type BrowserEp } from './browser.js';
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
