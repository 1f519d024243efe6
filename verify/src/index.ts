/**
 * @vae/verify: does every runtime compute the same thing? One engine (matrix.ts) runs a model
 * on every runtime (onnxruntime-node CPU / CUDA / WebGPU, onnxruntime-web wasm in Node and wasm / WebGPU
 * in headless Chromium, the standalone decoder) and compares each output with a reference:
 *
 * - `verifyOnnx`: any ONNX model, against golden data in ONNX's test_data_set_* layout or the
 *   outputs of a reference runtime on seeded inputs (Polygraphy's statistics and checks);
 * - `verifyModelDirs`: this project's model folders, where the manifest supplies the graphs,
 *   their golden data (the trained tfjs model's outputs) and the tolerances.
 *
 * A failing row names its first diverging node. The `vae verify` command is `@vae/verify/cli`.
 */
export { verifyModelDirs, verifyModel, DEFAULT_REPORT_ROOT, type VerifyOptions, type VerifyResult } from './verify-folder.js';
export { verifyOnnx, resolveTarget, isModelFolder, DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_QUANTILE, DEFAULT_NODE_THRESHOLD, type OnnxVerifyOptions } from './verify-onnx.js';
export { UsageError } from './matrix.js';
export { RUNTIME_IDS, RUNTIME_LABELS, RuntimeSet, isRuntimeId, type RuntimeId, type Runtime, type RuntimeSession, type StartResult } from './runtimes.js';
export {
  formatTable, formatMarkdown, reportJson, writeReport, REPORT_FORMAT, REPORT_VERSION, REPORT_JSON, REPORT_MD,
  type ParityReport, type RowResult, type OutputResult, type RuntimeInfo, type RowStatus,
} from './report.js';
export {
  formatOnnxTable, formatOnnxMarkdown, onnxReportJson, writeOnnxReport, ONNX_REPORT_FORMAT, ONNX_REPORT_VERSION, ONNX_REPORT_JSON, ONNX_REPORT_MD,
  type OnnxParityReport, type OnnxRowResult, type OnnxOutputResult, type Tolerance,
} from './onnx-report.js';
export { heatmapLayout, type HeatmapLayout } from './heatmap.js';
export type { Diagnosis } from './diagnose.js';
export type { OnnxDiagnosis } from './onnx-diagnose.js';
export type { ErrorMetrics, MinimumTolerance } from './metrics.js';
export type { Summary, ErrorStat } from './stats.js';
