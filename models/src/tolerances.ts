/**
 * Every tolerance of the project, in one place, with the reasoning: `vae export` holds each
 * graph to the CPU row (EXPORT_TOLERANCES), `vae verify` and every runtime's tests to its runtime's row.
 *
 * ## Graph outputs (the verdict)
 *
 * Each output of each graph on each runtime is compared with the golden output (the trained
 * tfjs model, float32, computed at export on the training backend). The check is Polygraphy's
 * "max" statistic with rtol = 0: max |runtime - golden| <= atol. The reported minimum
 * passing atol / rtol say how much headroom there was.
 *
 * - **fp32 graphs on CPU arithmetic** (node-cpu, web-node, chromium-wasm): 1e-4 on mu / logvar,
 *   1e-5 on x_hat. These are the bounds `vae export` enforces (@vae/export TOLERANCES, recorded
 *   as `parity.tolerance` in the manifest), so a model that exported is held to the same
 *   contract everywhere on the CPU. Both tfjs and onnxruntime compute float32 dot products of
 *   length <= 784; they differ only in summation order and FMA use, i.e. by a few float32
 *   rounding errors of the dot product: measured <= 3e-6 on mu / logvar and <= 8e-7 on x_hat
 *   (x_hat is a sigmoid, whose slope <= 1/4 shrinks the logits' error, hence the tighter bound).
 * - **fp32 graphs on GPUs** (chromium-webgpu, node-webgpu, node-cuda): 10x looser, 1e-3 / 1e-4. A GPU sums
 *   in a different order (tiled, often split along K) with FMA, and WGSL only requires exp()
 *   to within 3 + 2|x| ULP and division to 2.5 ULP, so sigmoid is less exact than on a CPU.
 *   Measured on SwiftShader (a CPU implementation of WebGPU, which is IEEE-exact in + and *)
 *   the errors equal the CPU's; hardware GPUs drift further, and 1e-4 on x_hat is still
 *   0.026 of one 8-bit grey level. node-cuda runs with NVIDIA_TF32_OVERRIDE=0 (set by this
 *   package before the CUDA provider loads): TF32 tensor-core matmuls keep only 10 mantissa
 *   bits and would be a precision change, not a reduction-order difference.
 * - **fp16 decoder** (weights stored as float16, arithmetic float32): 1e-2 on x_hat, every
 *   runtime. The error is dominated by rounding each weight to 11 significant bits (relative
 *   2^-12), identical on every runtime; the manifests record 3.7e-3 (n = 64, 300 epochs) and
 *   1.9e-3 (n = 2, 100 epochs) against tfjs over the golden sets. The bound is export's
 *   contract (retrained weights with larger magnitudes round coarser); runtime arithmetic
 *   differences (<= 1e-4) vanish in it.
 * - **int8 decoder** (per-column symmetric int8 kernels, float32 biases and arithmetic):
 *   0.25 on x_hat, every runtime. Each kernel entry is off by up to scale/2 = max|column|/254,
 *   and at the golden edge inputs (every latent at +-5) the large hidden activations add these
 *   up: the released models measure 1.9e-1 (n = 64, 300 epochs; 9.3e-2 after 100) and
 *   1.3e-1 (n = 2, 100 epochs) against tfjs there; the mean over all golden pixels is 2.1e-3
 *   (n = 64). A wrong scale or axis errs by ~0.5 or more. onnxruntime's native CPU build fuses
 *   DequantizeLinear + Gemm differently from the wasm build (measured max 1.9e-1 vs 1.7e-1 on
 *   n = 64), so the runtimes disagree at this level, not at the float32 level. Export's
 *   contract again.
 *
 * ## Intermediate tensors (the diagnosis)
 *
 * Diagnosis checks every node locally: the node is evaluated in float64 on the failing
 * runtime's own input tensors (and the reference weights), so an error upstream cannot make
 * a correct node look wrong. The bound is what any correct float32 implementation meets,
 * whatever its summation order:
 *
 * - Gemm: |y - y64| <= HEADROOM * gamma(K + 2) * (|alpha| sum_k |a_ik b_kj| + |beta c_j|), the
 *   classical worst-case bound for a float32 dot product of length K (Higham, Accuracy and
 *   Stability of Numerical Algorithms, 3.1), gamma(n) = n u / (1 - n u), u = 2^-24 (+2 for C
 *   and for a weight dequantized in float32). It holds for any order of additions, with or
 *   without FMA, so CPUs and GPUs share it. HEADROOM = 2 covers flush-to-zero of subnormals.
 * - Relu, Cast (float16 -> float32), Identity: exact, bound 0 (plus 1e-30).
 * - DequantizeLinear: one float32 multiplication, HEADROOM * u * |y|.
 * - Sigmoid: an absolute bound per runtime, ELEMENTWISE_ATOL below (measured maxima in README).
 */
/**
 * The runtimes of the parity matrix (`vae verify`). `standalone-node` and `standalone-chromium` run
 * the standalone decoder module (@vae/export's decoder.mjs, compiled from the graph under test) in
 * Node and in Chromium; they are CPU arithmetic in float32 and have the CPU rows' tolerances, i.e.
 * exactly those of the ONNX graph of the same precision on onnxruntime's CPU / wasm builds.
 */
export const RUNTIME_IDS = ['node-cpu', 'node-cuda', 'node-webgpu', 'web-node', 'chromium-wasm', 'chromium-webgpu', 'standalone-node', 'standalone-chromium'] as const;
export type RuntimeId = (typeof RUNTIME_IDS)[number];

/** A graph's weight precision (the manifest's `precision`). */
export type GraphPrecision = 'fp32' | 'fp16' | 'int8';

const CPU_FP32 = { mu: 1e-4, logvar: 1e-4, x_hat: 1e-5 };
const GPU_FP32 = { mu: 1e-3, logvar: 1e-3, x_hat: 1e-4 };
const FP16 = { x_hat: 1e-2 };
const INT8 = { x_hat: 0.25 };

/** Absolute tolerance per runtime x precision x output (max |runtime - golden|). */
export const OUTPUT_TOLERANCES: Readonly<Record<RuntimeId, Readonly<Record<GraphPrecision, Readonly<Record<string, number>>>>>> = {
  'node-cpu': { fp32: CPU_FP32, fp16: FP16, int8: INT8 },
  'web-node': { fp32: CPU_FP32, fp16: FP16, int8: INT8 },
  'chromium-wasm': { fp32: CPU_FP32, fp16: FP16, int8: INT8 },
  'chromium-webgpu': { fp32: GPU_FP32, fp16: FP16, int8: INT8 },
  'node-cuda': { fp32: GPU_FP32, fp16: FP16, int8: INT8 },
  'node-webgpu': { fp32: GPU_FP32, fp16: FP16, int8: INT8 },
  'standalone-node': { fp32: CPU_FP32, fp16: FP16, int8: INT8 },
  'standalone-chromium': { fp32: CPU_FP32, fp16: FP16, int8: INT8 },
};

/**
 * What `vae export` enforces (max |onnxruntime - tfjs| on the CPU over the golden sets) and
 * records in the manifest as `parity.tolerance`: the CPU row.
 */
export const EXPORT_TOLERANCES: Readonly<Record<GraphPrecision, Readonly<Record<string, number>>>> = OUTPUT_TOLERANCES['node-cpu'];

/** The tolerance of one output, or an error naming what has none. */
export function toleranceFor(runtime: RuntimeId, precision: string, output: string): number {
  const byPrecision = OUTPUT_TOLERANCES[runtime]?.[precision as GraphPrecision];
  if (!byPrecision) throw new Error(`no tolerances for ${runtime} / ${precision} (tolerances.ts knows fp32, fp16, int8)`);
  const t = byPrecision[output];
  if (t === undefined) throw new Error(`no tolerance for output "${output}" of a ${precision} graph on ${runtime} (tolerances.ts)`);
  return t;
}

/** Unit roundoff of float32. */
export const UNIT_ROUNDOFF = 2 ** -24;
/** Safety factor on the rounding bounds of the diagnosis. */
export const HEADROOM = 2;
/** Absolute floor of every node bound (flush-to-zero of subnormals). */
export const NODE_ATOL_FLOOR = 1e-30;

/** gamma(n) = n u / (1 - n u). */
export const gamma = (n: number, u = UNIT_ROUNDOFF): number => (n * u) / (1 - n * u);

/**
 * Absolute bound on |runtime - float64| for elementwise transcendental ops, per runtime.
 * Sigmoid values lie in [0, 1]; a float32 implementation within a few ULP of 1 is off by
 * < 1e-6. GPU exp() may be off by 3 + 2|x| ULP (WGSL), hence more room there.
 */
export const ELEMENTWISE_ATOL: Readonly<Record<RuntimeId, Readonly<Record<string, number>>>> = {
  'node-cpu': { Sigmoid: 1e-6 },
  'web-node': { Sigmoid: 1e-6 },
  'chromium-wasm': { Sigmoid: 1e-6 },
  'chromium-webgpu': { Sigmoid: 1e-5 },
  'node-cuda': { Sigmoid: 1e-5 },
  'node-webgpu': { Sigmoid: 1e-5 },
  'standalone-node': { Sigmoid: 1e-6 },
  'standalone-chromium': { Sigmoid: 1e-6 },
};
