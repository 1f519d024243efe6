/**
 * @vae/export: the trained tfjs VAE as standalone ONNX graphs, with manifest.json and
 * golden data (`vae export RUN --out DIR`). The directory's contract (manifest schema,
 * loader) lives in @vae/models. The index is what `vae export` (pipeline) calls; the graph
 * builder, golden data, quantization, replay and checker are internal (this package's tests
 * import them from their modules). The standalone decoder's generator is `@vae/export/standalone`.
 */
export { exportRun, gitInfo, PRODUCER, type ExportOptions, type ExportResult } from './export.js';
export { OutputWriteError } from './atomic-dir.js';
export { type ParityErrors } from './verify.js';
export { type CheckerResult } from './checker.js';
export { addStandalone } from './standalone.js';
export { onnxruntimeLogitsDecoder, type OnnxruntimeLogitsDecoder } from './iwae-decoder.js';
