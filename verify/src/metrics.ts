/**
 * Error metrics between a runtime's output and the reference (golden) output.
 *
 * Polygraphy's definitions (polygraphy/comparator/compare.py): absdiff = |actual - expected|,
 * reldiff = absdiff / |expected|; the minimum tolerance that would have passed with only an
 * absolute tolerance is max(absdiff), with only a relative one max(reldiff). Per element they
 * are stats.ts's absDiffOf and relDiffOf (0 / 0 = 0, d / 0 = Infinity, NaN never passes), the
 * same as `vae verify` uses for any ONNX model.
 */
import { absDiffOf, relDiffOf } from './stats.js';

export interface ErrorMetrics {
  /** How many values were compared. */
  count: number;
  /** max |actual - expected|; also Polygraphy's minimum passing atol (with rtol = 0). */
  maxAbs: number;
  /** mean |actual - expected|. */
  meanAbs: number;
  /** ||actual - expected||_2 / ||expected||_2 (0 when both are 0, Infinity when only expected is). */
  relL2: number;
  /** max |actual - expected| / |expected|; Polygraphy's minimum passing rtol (with atol = 0). */
  maxRel: number;
  /** Where maxAbs occurs: flat index into the concatenated values. */
  argMaxAbs: number;
  /** Pixel outputs only (values in [0, 1] viewed as round(255 * v)): maxAbs * 255. */
  maxAbs8bit: number | null;
  /** Pixel outputs only: how many values have round(255 * actual) != round(255 * expected). */
  pixelsDiffering8bit: number | null;
  /** NaN or infinite values in actual where expected is finite. */
  nonFinite: number;
}

/** Polygraphy's "Minimum Required Tolerance" pair. */
export interface MinimumTolerance { atol: number; rtol: number }

export const minimumTolerance = (m: ErrorMetrics): MinimumTolerance => ({ atol: m.maxAbs, rtol: m.maxRel });

/** round(255 * v) clamped to 0..255: how a pixel probability is shown as an 8-bit pixel. */
export function to8bit(v: number): number {
  const p = Math.round(v * 255);
  return p < 0 ? 0 : p > 255 ? 255 : p;
}

/**
 * Compares `actual` with `expected` (same length). `pixels`: the values are [0, 1] pixel
 * probabilities, so the 8-bit metrics are computed too (else they are null).
 */
export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, options: { pixels?: boolean } = {}): ErrorMetrics {
  if (actual.length !== expected.length) throw new Error(`cannot compare ${actual.length} values with ${expected.length}`);
  const n = actual.length;
  let maxAbs = 0;
  let argMaxAbs = n > 0 ? 0 : -1;
  let sumAbs = 0;
  let sumSqDiff = 0;
  let sumSqRef = 0;
  let maxRel = 0;
  let nonFinite = 0;
  let differing = 0;
  for (let i = 0; i < n; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = absDiffOf(a, e);
    if (!Number.isFinite(a) && Number.isFinite(e)) nonFinite++;
    if (d > maxAbs) {
      maxAbs = d;
      argMaxAbs = i;
    }
    sumAbs += d;
    sumSqDiff += d * d;
    sumSqRef += e * e;
    const rel = relDiffOf(d, e);
    if (rel > maxRel) maxRel = rel;
    if (options.pixels && to8bit(a) !== to8bit(e)) differing++;
  }
  const relL2 = sumSqDiff === 0 ? 0 : sumSqRef === 0 ? Infinity : Math.sqrt(sumSqDiff) / Math.sqrt(sumSqRef);
  return {
    count: n,
    maxAbs,
    meanAbs: n === 0 ? 0 : sumAbs / n,
    relL2,
    maxRel,
    argMaxAbs,
    maxAbs8bit: options.pixels ? maxAbs * 255 : null,
    pixelsDiffering8bit: options.pixels ? differing : null,
    nonFinite,
  };
}

/** Joins several same-named tensors (one per golden set) into one array, in order. */
export function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Per-element |actual - expected|, for heatmaps. */
export function absDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): Float32Array {
  if (actual.length !== expected.length) throw new Error(`cannot compare ${actual.length} values with ${expected.length}`);
  const out = new Float32Array(actual.length);
  for (let i = 0; i < actual.length; i++) out[i] = absDiffOf(actual[i], expected[i]);
  return out;
}
