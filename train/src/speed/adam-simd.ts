/**
 * The parallel trainer's sharded Adam update as a WebAssembly SIMD kernel working directly on
 * shared memory: weights, moments and the workers' gradient slots live in one shared
 * `WebAssembly.Memory`, and each worker runs the kernel on its own slice of it.
 *
 * Why not JavaScript: the same update written with Math.fround takes ~3 ms for half of the
 * paper model's 0.58 M parameters (~10 ns per element: a float64 divide and square root per
 * element, each rounded back to float32), which is a tenth of a two-thread step. f32x4 does
 * four elements per instruction, in float32 directly.
 *
 * Why not a toolchain: the kernel is one loop of ~20 instructions; assembling it here keeps
 * the package free of a compiler (export/src/wasm-kernel.ts does the same for the
 * standalone decoder). What it computes, per element i of [start, end), in float32 with one
 * rounding per operation (WebAssembly never fuses a multiply and an add):
 *
 *   g  = slot_0[i] * w_0 (+ slot_k[i] * w_k for k = 1 .. slots-1, in k order)
 *   m  = m * beta1 + g * (1 - beta1)
 *   v  = v * beta2 + (g * g) * (1 - beta2)
 *   p  = p - (m / (sqrt(v) * (1 / sqrt(c2)) + eps)) * (lr / c1)
 *
 * which is exactly what Adam.apply (adam.ts) computes with tfjs ops on the summed gradient:
 * every tfjs op there is one IEEE float32 operation, so the two are bit-identical
 * (train/test/parallel.test.ts checks it).
 */
import {
  F32, I32, MAGIC_AND_VERSION, V128, get, i32, instantiateKernel, name, section, set, simd, uleb, webAssembly, whileNot,
} from '@vae/models/wasm';
import type { AdamOptions } from '../adam.js';
import { shardRanges } from './shards.js';

/** A shared WebAssembly.Memory: its buffer is a SharedArrayBuffer, which workers can receive. */
export interface SharedWasmMemory { readonly buffer: SharedArrayBuffer }

/** Float32s per vector: slices handed to the kernel start and end on a multiple of it. */
export const SIMD_WIDTH = 4;

/** Where each array lives in the shared memory (all offsets in bytes, 16-byte aligned). */
export interface AdamLayout {
  /** Real parameters, and the length each array is padded to (a multiple of SIMD_WIDTH). */
  paramCount: number;
  padded: number;
  /** Number of gradient slots (one per worker). */
  slots: number;
  params: number; m: number; v: number;
  /** slot k starts at slot0 + k * slotStride. */
  slot0: number; slotStride: number;
  /** Per-worker room for the slot weights: worker j's at weights0 + j * slots * 4. */
  weights0: number;
  bytes: number;
}

export function adamLayout(paramCount: number, slots: number): AdamLayout {
  const padded = Math.ceil(paramCount / SIMD_WIDTH) * SIMD_WIDTH;
  const array = padded * 4;
  const weights0 = (3 + slots) * array;
  return {
    paramCount, padded, slots, params: 0, m: array, v: 2 * array, slot0: 3 * array, slotStride: array,
    weights0, bytes: weights0 + Math.ceil((slots * slots * 4) / 16) * 16,
  };
}

/** A shared memory big enough for `layout` (its buffer is a SharedArrayBuffer; workers can receive it). */
export function sharedAdamMemory(layout: AdamLayout): SharedWasmMemory {
  const pages = Math.max(1, Math.ceil(layout.bytes / 65536));
  return new (webAssembly().Memory)({ initial: pages, maximum: pages, shared: true }) as SharedWasmMemory;
}

/** Float32 views of the weights, moments and slots (each `paramCount` long; the padding stays zero). */
export function adamViews(memory: SharedWasmMemory, l: AdamLayout) {
  const view = (offset: number) => new Float32Array(memory.buffer, offset, l.paramCount);
  return {
    params: view(l.params), m: view(l.m), v: view(l.v),
    slots: Array.from({ length: l.slots }, (_, k) => view(l.slot0 + k * l.slotStride)),
  };
}

/** Each worker's slice of the (padded) parameter vector: contiguous, on multiples of SIMD_WIDTH. */
export function adamSlices(l: AdamLayout, workers: number): [number, number][] {
  return shardRanges(l.padded / SIMD_WIDTH, workers).map(([a, b]) => [a * SIMD_WIDTH, b * SIMD_WIDTH]);
}

/**
 * Returns `update(step, weights, start, end)`: Adam step `step` (1-based) on elements
 * [start, end) (multiples of SIMD_WIDTH, end <= padded) with the gradient
 * sum_k weights[k] * slot_k. `worker` picks the scratch room for the weights.
 */
export function adamKernel(memory: SharedWasmMemory, l: AdamLayout, hyper: Required<AdamOptions>, worker: number) {
  const adam = instantiateKernel(adamWasmBytes(), memory).adam as (...args: number[]) => void;
  const weightsAt = l.weights0 + worker * l.slots * 4;
  const weightsView = new Float32Array(memory.buffer, weightsAt, l.slots);
  return (step: number, weights: readonly number[], start: number, end: number): void => {
    if (start % SIMD_WIDTH || end % SIMD_WIDTH || start < 0 || end > l.padded || start > end) {
      throw new RangeError(`Adam slice [${start}, ${end}) must lie in [0, ${l.padded}] on multiples of ${SIMD_WIDTH}`);
    }
    if (weights.length !== l.slots) throw new RangeError(`expected ${l.slots} slot weights, got ${weights.length}`);
    weightsView.set(weights);
    // The bias corrections in float64 from the step count alone (see adam.ts), scalars rounded
    // to float32 by the call as tfjs rounds them when it makes them tensors.
    const c1 = 1 - hyper.beta1 ** step;
    const c2 = 1 - hyper.beta2 ** step;
    adam(
      l.params, l.m, l.v, l.slot0, l.slotStride, l.slots, weightsAt, start * 4, end * 4,
      hyper.beta1, 1 - hyper.beta1, hyper.beta2, 1 - hyper.beta2, 1 / Math.sqrt(c2), hyper.epsilon, hyper.learningRate / c1,
    );
  };
}

// ---- the module, byte by byte ---------------------------------------------------------------

// Parameters 0..15, then locals: i32 16..18, v128 19..28.
const P = 0, M = 1, V = 2, SLOTS = 3, STRIDE = 4, NSLOTS = 5, WTS = 6, START = 7, END = 8;
const HYPER = [9, 10, 11, 12, 13, 14, 15]; // beta1, 1 - beta1, beta2, 1 - beta2, 1/sqrt(c2), eps, lr/c1
const I = 16, K = 17, SP = 18, G = 19, MI = 20, VI = 21;
const [B1, OB1, B2, OB2, ISC2, EPS, LR] = [22, 23, 24, 25, 26, 27, 28];

const ADD = 0x6a, SHL = 0x74, GE_U = 0x4f;
const load = [...simd(0x00), 4, 0], store = [...simd(0x0b), 4, 0], f32Load = [0x2a, 2, 0];
const SPLAT = simd(0x13), SQRT = simd(0xe3), FADD = simd(0xe4), FSUB = simd(0xe5), FMUL = simd(0xe6), FDIV = simd(0xe7);
const at = (base: number) => [...get(base), ...get(I), ADD]; // address base + i

function adamWasmBytes(): Uint8Array {
  const code: number[] = [];
  HYPER.forEach((h, j) => code.push(...get(h), ...SPLAT, ...set(B1 + j)));
  code.push(...get(START), ...set(I));
  const addSlot = [ // g += slot_k[i] * w_k
    ...get(G), ...get(SP), ...get(I), ADD, ...load, ...get(WTS), ...get(K), ...i32(2), SHL, ADD, ...f32Load, ...SPLAT, ...FMUL, ...FADD, ...set(G),
    ...get(K), ...i32(1), ADD, ...set(K), ...get(SP), ...get(STRIDE), ADD, ...set(SP),
  ];
  const body = [
    ...at(SLOTS), ...load, ...get(WTS), ...f32Load, ...SPLAT, ...FMUL, ...set(G), // g = slot_0[i] * w_0
    ...i32(1), ...set(K), ...get(SLOTS), ...get(STRIDE), ADD, ...set(SP),
    ...whileNot([...get(K), ...get(NSLOTS), GE_U], addSlot),
    ...at(M), ...load, ...get(B1), ...FMUL, ...get(G), ...get(OB1), ...FMUL, ...FADD, ...set(MI),
    ...at(V), ...load, ...get(B2), ...FMUL, ...get(G), ...get(G), ...FMUL, ...get(OB2), ...FMUL, ...FADD, ...set(VI),
    ...at(M), ...get(MI), ...store,
    ...at(V), ...get(VI), ...store,
    ...at(P), // p = p - (m / (sqrt(v) * isc2 + eps)) * lr
    ...at(P), ...load, ...get(MI), ...get(VI), ...SQRT, ...get(ISC2), ...FMUL, ...get(EPS), ...FADD, ...FDIV, ...get(LR), ...FMUL, ...FSUB,
    ...store,
    ...get(I), ...i32(16), ADD, ...set(I),
  ];
  code.push(...whileNot([...get(I), ...get(END), GE_U], body), 0x0b);
  const fn = [2, 3, I32, 10, V128, ...code];
  return Uint8Array.from([
    ...MAGIC_AND_VERSION,
    ...section(1, [1, 0x60, 16, ...Array(9).fill(I32), ...Array(7).fill(F32), 0]),
    ...section(2, [1, ...name('env'), ...name('mem'), 0x02, 0x03, 1, ...uleb(65536)]), // shared memory, 1 .. 65536 pages
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('adam'), 0x00, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ]);
}
