/**
 * Polygraphy's comparison of one output (polygraphy/comparator/compare.py), for any dtype:
 *
 *   absdiff = |actual - expected|, reldiff = absdiff / |expected|   (0/0 = 0, d/0 = Infinity)
 *   max, mean, median and a quantile (default p99, linear interpolation as numpy) of each,
 *   with where the max is;
 *   --check-error-stat elemwise: fail when any element has absdiff > atol AND reldiff > rtol;
 *   max | mean | median | quantile: fail when stat(absdiff) > atol AND stat(reldiff) > rtol;
 *   the minimum passing tolerance: stat(absdiff) with rtol = 0, stat(reldiff) with atol = 0
 *   (for elemwise: the max of each, Polygraphy's "Minimum Required Tolerance").
 *
 * Values are compared as float64 numbers (float16 decoded, int64 exact to 2^53). A NaN or an
 * infinity counts as equal only where the expected value is the same NaN / infinity; elsewhere
 * its absdiff is Infinity, so it never passes.
 */
import { numericValues, type Tensor } from './tensors.js';

export const ERROR_STATS = ['elemwise', 'max', 'mean', 'median', 'quantile'] as const;
export type ErrorStat = (typeof ERROR_STATS)[number];

/** Where a value is: which data set, and its index in that set's tensor. */
export interface Location { set: number; index: number[] }

export interface Summary {
  max: number;
  mean: number;
  median: number;
  /** The `quantile` (default 0.99) of the values. */
  quantile: number;
  /** Where the max is (null when there are no values). */
  argMax: Location | null;
}

export interface OutputStats {
  count: number;
  abs: Summary;
  rel: Summary;
  /** NaN / infinite values in actual where expected is not the same. */
  nonFinite: number;
  /** Elements with absdiff > atol AND reldiff > rtol (the elemwise mismatches, reported for every stat). */
  mismatches: number;
}

export interface Check { atol: number; rtol: number; stat: ErrorStat; quantile: number }

/** The absdiff and reldiff of every element over all sets (concatenated), and the sets' shapes. */
export interface Diffs { abs: Float64Array; rel: Float64Array; shapes: number[][]; nonFinite: number }

/**
 * |actual - expected| of one element: 0 where both are the same value (the same infinity, or
 * both NaN), Infinity where a NaN or an infinity meets anything else. The one definition,
 * shared by `diffs` here and the golden-output metrics (metrics.ts).
 */
export function absDiffOf(actual: number, expected: number): number {
  if (actual === expected || (Number.isNaN(actual) && Number.isNaN(expected))) return 0;
  const d = Math.abs(actual - expected);
  return Number.isNaN(d) ? Infinity : d;
}

/** absdiff / |expected|, with 0 / 0 = 0 and d / 0 = Infinity. */
export function relDiffOf(absDiff: number, expected: number): number {
  if (absDiff === 0) return 0;
  const r = absDiff / Math.abs(expected);
  return Number.isNaN(r) ? Infinity : r;
}

export function diffs(actual: Tensor[], expected: Tensor[]): Diffs {
  if (actual.length !== expected.length) throw new Error(`cannot compare ${actual.length} tensors with ${expected.length}`);
  const total = expected.reduce((s, t) => s + t.data.length, 0);
  const abs = new Float64Array(total);
  const rel = new Float64Array(total);
  let at = 0;
  let nonFinite = 0;
  for (const [k, want] of expected.entries()) {
    const got = actual[k];
    if (got.data.length !== want.data.length) {
      throw new Error(`"${want.name}": ${got.data.length} values of shape [${got.dims.join(', ')}], expected ${want.data.length} of shape [${want.dims.join(', ')}]`);
    }
    const a = numericValues(got);
    const e = numericValues(want);
    for (let i = 0; i < a.length; i++, at++) {
      abs[at] = absDiffOf(a[i], e[i]);
      rel[at] = relDiffOf(abs[at], e[i]);
      if (abs[at] !== 0 && !Number.isFinite(a[i])) nonFinite++;
    }
  }
  return { abs, rel, shapes: expected.map((t) => t.dims), nonFinite };
}

/** numpy's quantile (linear interpolation) of sorted values. */
function quantileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return lo === hi || sorted[hi] === sorted[lo] ? sorted[lo] : sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** A flat index over the concatenated sets -> (set, multi-index). */
export function locate(flat: number, shapes: number[][]): Location {
  let set = 0;
  let rest = flat;
  while (set < shapes.length - 1 && rest >= shapes[set].reduce((a, b) => a * b, 1)) rest -= shapes[set++].reduce((a, b) => a * b, 1);
  const dims = shapes[set];
  const index = new Array<number>(dims.length).fill(0);
  for (let d = dims.length - 1; d >= 0; d--) {
    index[d] = rest % dims[d];
    rest = Math.floor(rest / dims[d]);
  }
  return { set, index };
}

export function summarize(values: Float64Array, shapes: number[][], quantile: number): Summary {
  if (values.length === 0) return { max: 0, mean: 0, median: 0, quantile: 0, argMax: null };
  let max = -Infinity;
  let arg = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > max) {
      max = values[i];
      arg = i;
    }
    sum += values[i];
  }
  const sorted = Float64Array.from(values).sort();
  return { max, mean: sum / values.length, median: quantileOf(sorted, 0.5), quantile: quantileOf(sorted, quantile), argMax: locate(arg, shapes) };
}

export function outputStats(d: Diffs, check: Pick<Check, 'atol' | 'rtol' | 'quantile'>): OutputStats {
  let mismatches = 0;
  for (let i = 0; i < d.abs.length; i++) if (d.abs[i] > check.atol && d.rel[i] > check.rtol) mismatches++;
  return { count: d.abs.length, abs: summarize(d.abs, d.shapes, check.quantile), rel: summarize(d.rel, d.shapes, check.quantile), nonFinite: d.nonFinite, mismatches };
}

const statOf = (s: Summary, stat: ErrorStat): number =>
  stat === 'mean' ? s.mean : stat === 'median' ? s.median : stat === 'quantile' ? s.quantile : s.max;

/** Polygraphy's verdict for one output. */
export function passes(s: OutputStats, check: Check): boolean {
  if (s.nonFinite > 0) return false;
  if (check.stat === 'elemwise') return s.mismatches === 0;
  return !(statOf(s.abs, check.stat) > check.atol && statOf(s.rel, check.stat) > check.rtol);
}

/** The smallest atol that passes with rtol = 0, and the smallest rtol that passes with atol = 0. */
export function minimumPassing(s: OutputStats, stat: ErrorStat): { atol: number; rtol: number } {
  return { atol: statOf(s.abs, stat), rtol: statOf(s.rel, stat) };
}
