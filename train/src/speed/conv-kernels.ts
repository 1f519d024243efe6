/**
 * Two conv gradient kernels for tfjs-backend-wasm, both on wasm-gemm.ts:
 * Conv2DBackpropFilter (below), which tfjs-wasm lacks, and Conv2DBackpropInput
 * (`conv2DBackpropInputKernel`, further down), which it has but ~8x slower than its own
 * Conv2D at the same flops (XNNPACK's deconvolution): the conv VAE runs it three times a
 * step, in the decoder's forward pass and the encoder's backward pass.
 *
 * Conv2DBackpropFilter for tfjs-backend-wasm, which ships without one (4.22 has Conv2D and
 * Conv2DBackpropInput, not the filter gradient), so a conv model's weight gradients fail there:
 * Conv2D's (dW = backpropFilter(x, dy)) and Conv2DTranspose's (the same kernel, with the
 * transposed conv's output gradient as `x` and its input as `dy`). Registered by
 * installWasmTrainingKernels only when the backend lacks it.
 *
 *   dW[fh, fw, c, o] = Σ_{b, oh, ow} x[b, oh sh + fh dh - padTop, ow sw + fw dw - padLeft, c] · dy[b, oh, ow, o]
 *
 * NHWC; padding 'valid', 'same', a number or explicit; strides; dilations (tfjs' gradients never
 * pass any: Conv2D's gradient refuses dilations > 1, and the kernel's attributes have no
 * `dilations`, but a caller of runKernel may add one). The conv info comes from
 * computeConv2DInfo exactly as tfjs-cpu's kernel computes it.
 *
 * How: as a matrix product on wasm-gemm.ts, dW[K, N] = colsᵀ[K, M] · dy[M, N] with
 * K = fh fw c (dW's own row-major layout), M = b oh ow (dy as it lies) and N = o. colsᵀ, the
 * im2col of x transposed (row (fh, fw, c) holds the x value each output position sees through
 * that filter tap, 0 in the padding), is written by a JS loop into a scratch tensor on tfjs'
 * heap; the GEMM (SIMD, 4 x 8 register blocks) does the 2 K M N flops. Rows of dW are
 * independent, so colsᵀ is built in bands of rows that keep the scratch under COLS_BUDGET
 * floats (the result does not depend on the banding). Each entry is a float32 sum over m in
 * (b, oh, ow) order; tfjs-cpu sums the same terms in the same order in float64, so the two agree
 * to float32 rounding (test/conv-kernels.test.ts). N not a multiple of 8 takes a direct JS
 * loop over the heap views instead (same order, a float32 accumulator). float32 only.
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_COLUMNS, type Gemm } from './wasm-gemm.js';

type Inputs = Record<string, tf.TensorInfo | undefined>;
type KernelArgs = { inputs: Inputs; backend: unknown; attrs?: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo;

/** The parts of tfjs-wasm's backend object used here. */
export interface WasmConvBackend {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { HEAPF32?: Float32Array };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** Most floats the im2col scratch holds at once (16 MiB). */
export const COLS_BUDGET = 1 << 22;

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The conv info of a Conv2DBackpropFilter call, computed as tfjs-cpu's kernel does (dilations added). */
export function backpropFilterInfo(x: tf.TensorInfo, attrs: Record<string, unknown>): ConvInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape, dilations } = attrs as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
    dilations?: number | [number, number];
  };
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, dilations ?? 1, pad, dimRoundingMode,
    false /* depthwise */, format,
  );
}

/** Options for tests and benchmarks: the scratch budget (floats), or the JS loop for every N. */
export interface ConvKernelOptions { colsBudget?: number; loopOnly?: boolean }

/** The kernel function, on the GEMM `gemmOn` gives for a backend. */
export function conv2DBackpropFilterKernel(
  gemmOn: (backend: WasmConvBackend) => Gemm, { colsBudget = COLS_BUDGET, loopOnly = false }: ConvKernelOptions = {},
) {
  return ({ inputs, backend: b, attrs = {} }: KernelArgs): tf.TensorInfo => {
    const backend = b as WasmConvBackend;
    const { x, dy } = inputs;
    if (!x || !dy) throw new Error('Conv2DBackpropFilter: needs inputs x and dy');
    const info = backpropFilterInfo(x, attrs);
    if (info.dataFormat !== 'channelsLast') {
      throw new Error('Conv2DBackpropFilter (wasm): only NHWC (channelsLast) is supported, as by tfjs-wasm\'s Conv2D');
    }
    const expected = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    if (dy.shape.join() !== expected.join()) {
      throw new Error(`Conv2DBackpropFilter (wasm): dy has shape [${dy.shape}], expected [${expected}]`);
    }
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
      throw new Error(`Conv2DBackpropFilter (wasm): x and dy must be float32, got ${x.dtype} and ${dy.dtype}`);
    }
    const dW = backend.makeOutput(info.filterShape, 'float32');
    if (info.outChannels % GEMM_COLUMNS === 0 && !loopOnly) {
      byGemm(gemmOn(backend), backend, x, dy, dW, info, colsBudget);
    } else {
      byLoop(backend, x, dy, dW, info);
    }
    return dW;
  };
}

/**
 * Registers our Conv2DBackpropFilter for 'wasm' unless the backend already has one, and wraps
 * its Conv2DBackpropInput with ours (the original takes what ours does not). Call once.
 */
export function installWasmConvKernels(gemmOn: (backend: WasmConvBackend) => Gemm): void {
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilterKernel(gemmOn) as unknown as tf.KernelFunc,
    });
  }
  const input = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (input) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({ ...input, kernelFunc: conv2DBackpropInputKernel(gemmOn, input.kernelFunc as unknown as KernelFn) as unknown as tf.KernelFunc });
  }
}

const offset = (backend: WasmConvBackend, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;

/** A float32 view of `t` on the heap: take it after the last allocation (the heap may grow). */
function view(backend: WasmConvBackend, t: tf.TensorInfo, size = tf.util.sizeFromShape(t.shape)): Float32Array {
  const start = offset(backend, t) / 4;
  return backend.wasm.HEAPF32!.subarray(start, start + size);
}

/** The range [lo, hi) of output positions o for which o s + f d - pad lies in [0, size). */
function validRange(f: number, d: number, s: number, pad: number, size: number, outSize: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - f * d) / s));
  const hi = Math.min(outSize, Math.floor((size - 1 + pad - f * d) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

function byGemm(
  gemm: Gemm, backend: WasmConvBackend, x: tf.TensorInfo, dy: tf.TensorInfo, dW: tf.TensorInfo, info: ConvInfo, colsBudget: number,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, outChannels: N } = info;
  const { filterHeight, filterWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const K = filterHeight * filterWidth * C;
  const M = batchSize * outHeight * outWidth;
  if (M === 0 || K === 0) {
    view(backend, dW).fill(0);
    return;
  }
  const band = Math.max(1, Math.min(K, Math.floor(colsBudget / M)));
  const cols = backend.makeOutput([band, M], 'float32');
  try {
    for (let k0 = 0; k0 < K; k0 += band) {
      const rows = Math.min(band, K - k0);
      const colsView = view(backend, cols, rows * M);
      const xs = view(backend, x);
      colsView.fill(0);
      for (let r = 0; r < rows; r++) {
        const k = k0 + r;
        const c = k % C, fw = Math.floor(k / C) % filterWidth, fh = Math.floor(k / (C * filterWidth));
        const [ohLo, ohHi] = validRange(fh, dh, sh, top, inHeight, outHeight);
        const [owLo, owHi] = validRange(fw, dw, sw, left, inWidth, outWidth);
        const row = r * M;
        for (let bi = 0; bi < batchSize; bi++) {
          for (let oh = ohLo; oh < ohHi; oh++) {
            const ih = oh * sh + fh * dh - top;
            const xRow = ((bi * inHeight + ih) * inWidth) * C + c;
            const colRow = row + (bi * outHeight + oh) * outWidth;
            for (let ow = owLo; ow < owHi; ow++) {
              colsView[colRow + ow] = xs[xRow + (ow * sw + fw * dw - left) * C];
            }
          }
        }
      }
      // dW[k0 .. k0 + rows, :] = cols[rows, M] · dy[M, N]
      gemm(offset(backend, cols), 4 * M, 4, offset(backend, dy), 4 * N, 0, offset(backend, dW) + 4 * k0 * N, rows, M, N, 0);
    }
  } finally {
    backend.disposeData(cols.dataId);
  }
}

/** The direct sum, in the same order, for any N (a float32 accumulator, as the GEMM has). */
function byLoop(backend: WasmConvBackend, x: tf.TensorInfo, dy: tf.TensorInfo, dW: tf.TensorInfo, info: ConvInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, outChannels: N } = info;
  const { filterHeight, filterWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const xs = view(backend, x);
  const dys = view(backend, dy);
  const out = view(backend, dW);
  const acc = new Float32Array(1);
  for (let fh = 0; fh < filterHeight; fh++) {
    const [ohLo, ohHi] = validRange(fh, dh, sh, top, inHeight, outHeight);
    for (let fw = 0; fw < filterWidth; fw++) {
      const [owLo, owHi] = validRange(fw, dw, sw, left, inWidth, outWidth);
      for (let c = 0; c < C; c++) {
        for (let o = 0; o < N; o++) {
          acc[0] = 0;
          for (let bi = 0; bi < batchSize; bi++) {
            for (let oh = ohLo; oh < ohHi; oh++) {
              const ih = oh * sh + fh * dh - top;
              for (let ow = owLo; ow < owHi; ow++) {
                const iw = ow * sw + fw * dw - left;
                acc[0] += Math.fround(xs[((bi * inHeight + ih) * inWidth + iw) * C + c] * dys[((bi * outHeight + oh) * outWidth + ow) * N + o]);
              }
            }
          }
          out[((fh * filterWidth + fw) * C + c) * N + o] = acc[0];
        }
      }
    }
  }
}

// ---- Conv2DBackpropInput ------------------------------------------------------------------

/** The conv info of a Conv2DBackpropInput call, computed as tfjs-cpu's kernel computes it. */
export function backpropInputInfo(filter: tf.TensorInfo, attrs: Record<string, unknown>): ConvInfo {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, format,
  );
}

/**
 * Conv2DBackpropInput (the input gradient of Conv2D, and the forward pass of Conv2DTranspose):
 *
 *   dx[b, ih, iw, c] = Σ_{fh, fw, o} dy[b, oh, ow, o] · W[fh, fw, c, o],  ih = oh sh + fh - padTop (iw alike)
 *
 * as a GEMM then a col2im: cols[M, K] = dy[M, N] · Wᵀ[N, K] with M = b oh ow (dy as it lies),
 * N = o and K = fh fw c, so row m of cols holds what output position m sends to each input
 * pixel of its window; col2im adds each row's K values into dx (C at a time, contiguous).
 * Wᵀ (N x K, small) is written by a JS loop; cols is built in bands of rows that keep it under
 * COLS_BUDGET floats. Float32 throughout: each cols entry is a float32 sum over o, and col2im
 * adds a pixel's taps in (b, oh, ow, fh, fw) order, so results agree with tfjs-cpu's to float32
 * rounding, not bit for bit (test/conv-kernels.test.ts). What this does not take, `fallback`
 * (tfjs-wasm's own kernel) does: NCHW, non-float32, and K not a multiple of 8 (wasm-gemm.ts'
 * column block).
 */
export function conv2DBackpropInputKernel(
  gemmOn: (backend: WasmConvBackend) => Gemm, fallback: KernelFn, { colsBudget = COLS_BUDGET }: ConvKernelOptions = {},
) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { inputs, attrs = {} } = args;
    const backend = args.backend as WasmConvBackend;
    const { dy, filter } = inputs;
    if (!dy || !filter) throw new Error('Conv2DBackpropInput: needs inputs dy and filter');
    const info = backpropInputInfo(filter, attrs);
    const K = info.filterHeight * info.filterWidth * info.inChannels;
    if (info.dataFormat !== 'channelsLast' || dy.dtype !== 'float32' || filter.dtype !== 'float32' || K % GEMM_COLUMNS !== 0) {
      return fallback(args);
    }
    const expected = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    if (dy.shape.join() !== expected.join()) {
      throw new Error(`Conv2DBackpropInput (wasm): dy has shape [${dy.shape}], expected [${expected}]`);
    }
    const dx = backend.makeOutput(info.inShape, 'float32');
    colGemm(gemmOn(backend), backend, dy, filter, dx, info, colsBudget);
    return dx;
  };
}

function colGemm(
  gemm: Gemm, backend: WasmConvBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, dx: tf.TensorInfo, info: ConvInfo, colsBudget: number,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, outChannels: N } = info;
  const { filterHeight, filterWidth, strideHeight: sh, strideWidth: sw, padInfo: { top, left } } = info;
  const K = filterHeight * filterWidth * C;
  const M = batchSize * outHeight * outWidth;
  const band = Math.max(1, Math.min(M, Math.floor(colsBudget / K)));
  const wT = backend.makeOutput([N, K], 'float32');
  const cols = backend.makeOutput([band, K], 'float32');
  try {
    // Views after the last allocation (the heap may have grown).
    const [w, t, out] = [view(backend, filter), view(backend, wT), view(backend, dx)];
    for (let k = 0; k < K; k++) for (let o = 0; o < N; o++) t[o * K + k] = w[k * N + o];
    out.fill(0);
    if (N === 0) return;
    const colsView = view(backend, cols, band * K);
    const perImage = outHeight * outWidth;
    for (let m0 = 0; m0 < M; m0 += band) {
      const rows = Math.min(band, M - m0);
      // cols[rows, K] = dy[m0 .. m0 + rows, N] · Wᵀ[N, K]
      gemm(offset(backend, dy) + 4 * m0 * N, 4 * N, 4, offset(backend, wT), 4 * K, 0, offset(backend, cols), rows, N, K, 0);
      for (let r = 0; r < rows; r++) {
        const m = m0 + r;
        const b = Math.floor(m / perImage), oh = Math.floor((m % perImage) / outWidth), ow = m % outWidth;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * sh + fh - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * sw + fw - left;
            if (iw < 0 || iw >= inWidth) continue;
            const src = r * K + (fh * filterWidth + fw) * C;
            const dst = ((b * inHeight + ih) * inWidth + iw) * C;
            for (let c = 0; c < C; c++) out[dst + c] += colsView[src + c];
          }
        }
      }
    }
  } finally {
    backend.disposeData(wT.dataId);
    backend.disposeData(cols.dataId);
  }
}
