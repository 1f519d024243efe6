/**
 * Training kernels for tfjs-backend-wasm: we re-register three of its kernels, wrapping the
 * originals, so every caller benefits (core ops, gradients and the layers API alike), and
 * every result stays bit-identical to the original's (test/wasm-kernels.test.ts).
 *
 * - BatchMatMul and _FusedMatMul: float32 products with N a multiple of 8 (every product of
 *   the paper model, forward and backward) run on wasm-gemm.ts, which reads the operands in
 *   place on tfjs' heap. XNNPACK, behind the original kernels, packs the right-hand operand
 *   first, and in training that operand is new every step. A transposed left operand is read
 *   through its strides; a transposed right one is copied out transposed (wasm-gemm.ts too).
 *   Other products go to the original kernel, which is ~13x slower when asked to transpose
 *   (256x784x256: ~50 ms against ~3.7 ms), so they get their transposes materialised first.
 * - Identity: the tfjs engine clones every tensor it saves for the backward pass (73 per step of
 *   the paper model, weights included), and tfjs-wasm's Identity copies the data. Like
 *   tfjs-cpu's, ours shares it and counts a reference (tensors are never written in place).
 *
 * And two for conv training (conv-kernels.ts): Conv2DBackpropFilter, which it lacks (registered
 * only if absent), and Conv2DBackpropInput, wrapped like the products above (ours where it
 * applies, the original otherwise), not bit-identical to the original but ~3x faster.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmMemoryLike } from '@vae/models/wasm';
import { installWasmConvKernels } from './conv-kernels.js';
import { GEMM_COLUMNS, matrixKernels, type Gemm } from './wasm-gemm.js';

type Inputs = Record<string, tf.TensorInfo | undefined>;
type KernelArgs = { inputs: Inputs; backend: unknown; attrs?: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** The parts of tfjs-wasm's backend object used here. */
interface WasmBackend {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { asm?: { memory?: WasmMemoryLike }; HEAPF32?: Float32Array };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): void;
  incRef(dataId: object): void;
}

let installed = false;

type MatrixKernels = ReturnType<typeof matrixKernels>;
const onHeap = new WeakMap<WasmBackend, MatrixKernels>();

/** Our kernels on `backend`'s heap, instantiated on first use (a re-created wasm backend has a new heap). */
function kernelsOn(backend: WasmBackend): MatrixKernels {
  let kernels = onHeap.get(backend);
  if (!kernels) {
    const memory = backend.wasm.asm?.memory;
    if (!memory) throw new Error('installWasmTrainingKernels: this tfjs-backend-wasm build does not expose its heap (wasm.asm.memory)');
    kernels = matrixKernels(memory);
    onHeap.set(backend, kernels);
  }
  return kernels;
}

/** wasm-gemm.ts' GEMM on `backend`'s heap (tfjs-wasm's backend object). */
export function wasmGemmOn(backend: object): Gemm {
  return kernelsOn(backend as WasmBackend).gemm;
}

/** Re-registers the kernels. Idempotent; call after `tf.setBackend('wasm')`. */
export function installWasmTrainingKernels(): void {
  if (installed) return;
  const transpose = tf.getKernel('Transpose', 'wasm')?.kernelFunc as KernelFn | undefined;
  const backend = tf.findBackend('wasm') as unknown as WasmBackend | undefined;
  if (!transpose || !backend) throw new Error('installWasmTrainingKernels: the wasm backend is not registered');
  kernelsOn(backend); // fail here, not in the first product, if the heap is not reachable
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    const fallback = withTransposesFirst(original.kernelFunc as KernelFn, transpose);
    const wrapped: KernelFn = (args) => {
      const backend = args.backend as WasmBackend;
      return ownGemm(kernelsOn(backend), backend, args.inputs, args.attrs ?? {}) ?? fallback(args);
    };
    replaceKernel(original, wrapped);
  }
  const identity = tf.getKernel('Identity', 'wasm');
  if (identity) {
    replaceKernel(identity, (args) => {
      const x = args.inputs.x!;
      if (x.dtype === 'string') return (identity.kernelFunc as KernelFn)(args);
      (args.backend as WasmBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    });
  }
  // tfjs-wasm has no Conv2DBackpropFilter (conv weight gradients), and a slow Conv2DBackpropInput: ours, on the same GEMM.
  installWasmConvKernels(wasmGemmOn);
  installed = true;
}

/**
 * Where float32 tensor `t`'s values sit in tfjs-wasm's heap, as a view (no copy), or undefined
 * when `t` is on another backend. Valid until `t` is disposed or the heap grows: read it at once.
 */
export function heapView(t: tf.Tensor): Float32Array | undefined {
  const backend = tf.backend() as unknown as Partial<WasmBackend>;
  const entry = backend.dataIdMap?.get(t.dataId);
  const heap = backend.wasm?.HEAPF32;
  if (!heap || !entry || t.dtype !== 'float32') return undefined;
  const start = entry.memoryOffset / 4;
  return heap.subarray(start, start + t.size);
}

function replaceKernel(original: tf.KernelConfig, kernelFunc: KernelFn): void {
  tf.unregisterKernel(original.kernelName, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as tf.KernelFunc });
}

/** The matrix (last two dims) of a float32 tensor whose leading dims are all 1, or undefined. */
function matrix(t: tf.TensorInfo): [number, number] | undefined {
  const s = t.shape;
  if (s.length < 2 || t.dtype !== 'float32' || s.slice(0, -2).some((d) => d !== 1)) return undefined;
  return [s[s.length - 2], s[s.length - 1]];
}

/** a·b (+ bias, relu) on wasm-gemm.ts, or undefined when the product is not one it handles. */
function ownGemm(
  { gemm, transpose }: MatrixKernels, backend: WasmBackend, inputs: Inputs, attrs: Record<string, unknown>,
): tf.TensorInfo | undefined {
  const { a, b, bias } = inputs;
  const activation = attrs.activation ?? 'linear';
  if (!a || !b || inputs.preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return undefined;
  const [sa, sb] = [matrix(a), matrix(b)];
  if (!sa || !sb || a.shape.length !== b.shape.length) return undefined;
  const [m, k] = attrs.transposeA ? [sa[1], sa[0]] : sa;
  const [kb, n] = attrs.transposeB ? [sb[1], sb[0]] : sb;
  if (k !== kb || n % GEMM_COLUMNS !== 0 || m === 0 || k === 0 || (attrs.transposeB && k % 4 !== 0)) return undefined;
  if (bias && (bias.dtype !== 'float32' || tf.util.sizeFromShape(bias.shape) !== n)) return undefined;

  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const out = backend.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
  // a transposed b is copied out transposed, [n, k] to [k, n], 4 x 4 blocks at a time
  const bT = attrs.transposeB ? backend.makeOutput([k, n], 'float32') : undefined;
  if (bT) transpose(at(b), at(bT), n, k);
  // a[i, kk] is at a + i sai + kk sak (bytes): row-major [m, k], or [k, m] read transposed.
  const [sai, sak] = attrs.transposeA ? [4, 4 * m] : [4 * k, 4];
  gemm(at(a), sai, sak, at(bT ?? b), 4 * n, bias ? at(bias) : 0, at(out), m, k, n, activation === 'relu' ? 1 : 0);
  if (bT) backend.disposeData(bT.dataId);
  return out;
}

/** The original kernel, given materialised transposes instead of transpose flags. */
function withTransposesFirst(plain: KernelFn, transpose: KernelFn): KernelFn {
  return ({ inputs, backend, attrs = {} }) => {
    if (!attrs.transposeA && !attrs.transposeB) return plain({ inputs, backend, attrs });
    const temporaries: tf.TensorInfo[] = [];
    const swapLastTwo = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const out = transpose({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
      temporaries.push(out);
      return out;
    };
    const a = attrs.transposeA ? swapLastTwo(inputs.a!) : inputs.a;
    const b = attrs.transposeB ? swapLastTwo(inputs.b!) : inputs.b;
    const out = plain({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    for (const t of temporaries) (backend as WasmBackend).disposeData(t.dataId);
    return out;
  };
}
