/**
 * Layout bookkeeping. tfjs is channels-last; ONNX Conv, Pool and Resize are channels-first.
 * Every tensor of the graph keeps its tfjs (logical) shape and a `perm`: ONNX axis i holds
 * logical axis perm[i]. Handlers ask the context for the perm they need, and the context adds
 * a Transpose only when the tensor is not already there (once per tensor and perm).
 */

export const identity = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);

/** Channels-last logical axes seen channels-first: [0, r-1, 1, ..., r-2] (NHWC held as NCHW). */
export const channelsFirst = (rank: number): number[] => [0, rank - 1, ...identity(rank).slice(1, rank - 1)];

export const samePerm = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** The Transpose `perm` attribute that turns a tensor laid out as `from` into `to`. */
export const transposeBetween = (from: number[], to: number[]): number[] => to.map((axis) => from.indexOf(axis));

/** `shape` (logical) in the physical order `perm`. */
export const permute = <T>(shape: T[], perm: number[]): T[] => perm.map((axis) => shape[axis]);

/** A non-negative logical axis (tfjs allows -1 for the last). */
export const normalizeAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Row-major data of `shape` transposed by `perm` (output axis i is input axis perm[i]). */
export function transposeData(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = permute(shape, perm);
  const inStrides = strides(shape);
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += index[i] * inStrides[perm[i]];
    out[o] = data[src];
    for (let i = outShape.length - 1; i >= 0; i--) {
      if (++index[i] < outShape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

export function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * For a tensor flattened in physical order (dims `physical`, without batch, laid out by
 * `perm` without batch): the logical (tfjs, channels-last) flat index of each physical one.
 * Dense folds this into its kernel rows, so no Transpose is needed before Flatten.
 */
export function flatLogicalIndex(physical: number[], perm: number[]): Int32Array {
  const logicalShape = new Array<number>(perm.length);
  perm.forEach((axis, i) => { logicalShape[axis] = physical[i]; });
  const logicalStrides = strides(logicalShape);
  const total = physical.reduce((a, b) => a * b, 1);
  const out = new Int32Array(total);
  const index = new Array<number>(physical.length).fill(0);
  for (let p = 0; p < total; p++) {
    let l = 0;
    for (let i = 0; i < physical.length; i++) l += index[i] * logicalStrides[perm[i]];
    out[p] = l;
    for (let i = physical.length - 1; i >= 0; i--) {
      if (++index[i] < physical[i]) break;
      index[i] = 0;
    }
  }
  return out;
}
