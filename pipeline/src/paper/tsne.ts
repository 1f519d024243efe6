/**
 * Barnes-Hut t-SNE (van der Maaten 2014, "Accelerating t-SNE using Tree-Based Algorithms"),
 * for the 2-D map of the 10,000 MNIST test-set latent means in Figure 5.
 *
 * Why hand-written: the t-SNE packages on npm (tsne-js, @keckelt/tsne) compute the exact
 * O(N^2) gradient every iteration, which for 10,000 points is 10^8 pair terms per iteration
 * and hours for a full run in JS. Barnes-Hut makes an iteration O(N log N): the input
 * affinities P are kept sparse (each point's k = min(N - 1, 3 * perplexity) nearest
 * neighbours), and the repulsive forces are approximated with a 2-D quadtree.
 *
 * The algorithm, as in the reference implementation (bhtsne) and scikit-learn / openTSNE:
 * - exact kNN by brute force (O(N^2 * dim) once; ~ seconds for 10,000 x 64), squared
 *   Euclidean distances;
 * - per point, a binary search of the Gaussian precision beta so the conditional
 *   distribution's perplexity is the target; then P = (P_j|i + P_i|j) / 2N, which sums to 1;
 * - gradient of KL(P || Q) with the Student-t kernel w = 1 / (1 + |y_i - y_j|^2):
 *   dC/dy_i = 4 * (sum_j a * p_ij w_ij (y_i - y_j)  -  sum_j w_ij^2 (y_i - y_j) / Z),
 *   Z = sum_{k != l} w_kl, a = the exaggeration. The first sum runs over P's sparse edges,
 *   the second (and Z) over the quadtree: a cell whose width / distance < theta is treated
 *   as one point of its cell's mass at its centre of mass. theta = 0 gives the exact gradient;
 * - gradient descent with momentum (0.5, then 0.8 once early exaggeration ends) and
 *   per-parameter gains (+0.2 when the gradient's sign flips against the last step, x0.8
 *   otherwise, at least 0.01); the embedding is re-centred every iteration;
 * - learning rate 'auto' = max(N / earlyExaggeration / 4, 50), scikit-learn's rule for this
 *   gradient (with its factor 4); it is openTSNE's N / earlyExaggeration without the 4.
 *
 * Initialisation: PCA by default (the data's top two principal components, scaled so the
 * first has standard deviation 1e-4, as scikit-learn and openTSNE do: it keeps the global
 * layout more faithful than a random start, Kobak & Linderman 2021). The PCA start does not
 * depend on the seed; `init: 'random'` draws N(0, 1e-4^2) coordinates from a mulberry32
 * stream seeded by `seed`. Either way the whole run is deterministic.
 *
 * Single-threaded; typed arrays throughout, nothing allocated inside the iterations.
 */
import { mulberry32 } from '@vae/models';

export class TsneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TsneError';
  }
}

export interface TsneOptions {
  /** Effective number of neighbours of each point (default 30); must be < n. */
  perplexity?: number;
  /** Gradient-descent iterations (default 1000). */
  iterations?: number;
  /** Barnes-Hut accuracy: a cell is summarised when width / distance < theta (default 0.5; 0 = exact). */
  theta?: number;
  /** Step size, or 'auto' = max(n / earlyExaggeration / 4, 50) (default). */
  learningRate?: number | 'auto';
  /** Factor on P during the first iterations, to form well-separated clusters (default 12). */
  earlyExaggeration?: number;
  /** How many iterations use early exaggeration and momentum 0.5 (default 250). */
  exaggerationIterations?: number;
  /** 'pca' (default, seed-independent) or 'random' (N(0, 1e-4^2), from `seed`). */
  init?: 'pca' | 'random';
  /** Seed of the random initialisation (default 0). */
  seed?: number;
  /** The KL divergence is computed every this many iterations, and at the last (default 50). */
  klInterval?: number;
  /**
   * Called after every iteration (1-based count of iterations done), with KL(P || Q) of the
   * embedding the iteration started from (unexaggerated P; Z from the tree, so approximate
   * when theta > 0) on the iterations the KL is computed.
   */
  onProgress?: (iteration: number, klDivergence?: number) => void;
}

/** A sparse symmetric matrix in compressed rows: row i's entries are cols/vals[rowPtr[i] .. rowPtr[i + 1]). */
export interface SparseAffinities {
  n: number;
  rowPtr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

/** The 2-D coordinates (n x 2, row-major) of `n` points of `dim` values each, row-major in `data`. */
export function tsne(
  data: Float32Array | Float64Array,
  n: number,
  dim: number,
  options: TsneOptions = {},
): Float32Array {
  const opts = resolveOptions(data, n, dim, options);
  const P = inputAffinities(data, n, dim, opts.perplexity);
  const y = opts.init === 'pca' ? pcaInit(data, n, dim) ?? randomInit(n, opts.seed) : randomInit(n, opts.seed);
  optimise(P, y, opts);
  return Float32Array.from(y);
}

// ---------------------------------------------------------------------------------------------
// Options and validation
// ---------------------------------------------------------------------------------------------

interface ResolvedOptions {
  perplexity: number;
  iterations: number;
  theta: number;
  learningRate: number;
  earlyExaggeration: number;
  exaggerationIterations: number;
  init: 'pca' | 'random';
  seed: number;
  klInterval: number;
  onProgress?: (iteration: number, klDivergence?: number) => void;
}

function resolveOptions(data: Float32Array | Float64Array, n: number, dim: number, o: TsneOptions): ResolvedOptions {
  validateData(data, n, dim);
  const perplexity = o.perplexity ?? 30;
  if (!(Number.isFinite(perplexity) && perplexity > 0)) throw new TsneError(`tsne: perplexity must be a positive number, got ${perplexity}`);
  if (perplexity >= n) throw new TsneError(`tsne: perplexity (${perplexity}) must be less than the number of points (${n})`);
  const earlyExaggeration = o.earlyExaggeration ?? 12;
  if (!(Number.isFinite(earlyExaggeration) && earlyExaggeration > 0)) {
    throw new TsneError(`tsne: earlyExaggeration must be a positive number, got ${earlyExaggeration}`);
  }
  const lr = o.learningRate ?? 'auto';
  if (lr !== 'auto' && !(Number.isFinite(lr) && lr > 0)) throw new TsneError(`tsne: learningRate must be a positive number or 'auto', got ${lr}`);
  const theta = o.theta ?? 0.5;
  if (!(Number.isFinite(theta) && theta >= 0)) throw new TsneError(`tsne: theta must be a number >= 0, got ${theta}`);
  const init = o.init ?? 'pca';
  if (init !== 'pca' && init !== 'random') throw new TsneError(`tsne: init must be 'pca' or 'random', got ${String(init)}`);
  return {
    perplexity,
    iterations: nonNegativeInteger('iterations', o.iterations ?? 1000),
    theta,
    learningRate: lr === 'auto' ? Math.max(n / earlyExaggeration / 4, 50) : lr,
    earlyExaggeration,
    exaggerationIterations: nonNegativeInteger('exaggerationIterations', o.exaggerationIterations ?? 250),
    init,
    seed: nonNegativeInteger('seed', o.seed ?? 0),
    klInterval: Math.max(1, nonNegativeInteger('klInterval', o.klInterval ?? 50)),
    onProgress: o.onProgress,
  };
}

function nonNegativeInteger(name: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 0)) throw new TsneError(`tsne: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

function validateData(data: Float32Array | Float64Array, n: number, dim: number): void {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) throw new TsneError('tsne: data must be a Float32Array or Float64Array');
  if (!(Number.isInteger(n) && n >= 2)) throw new TsneError(`tsne: need at least 2 points (n must be an integer >= 2), got n = ${n}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new TsneError(`tsne: dim must be an integer >= 1, got ${dim}`);
  if (data.length !== n * dim) {
    throw new TsneError(`tsne: data has ${data.length} values but n * dim = ${n} * ${dim} = ${n * dim}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new TsneError(`tsne: data has a non-finite value (${data[i]}) at point ${Math.floor(i / dim)}, dimension ${i % dim}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Input affinities P
// ---------------------------------------------------------------------------------------------

/**
 * The symmetric sparse P of t-SNE: Gaussian conditionals over each point's k nearest
 * neighbours, each matched to `perplexity`, symmetrised and normalised to sum 1.
 */
export function inputAffinities(data: Float32Array | Float64Array, n: number, dim: number, perplexity: number): SparseAffinities {
  const k = Math.max(1, Math.min(n - 1, Math.floor(3 * perplexity)));
  const { idx, dist } = nearestNeighbours(data, n, dim, k);
  const cond = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    gaussianRow(dist.subarray(i * k, (i + 1) * k), perplexity, cond.subarray(i * k, (i + 1) * k));
  }
  return symmetrise(idx, cond, n, k);
}

/**
 * Exact k nearest neighbours (squared Euclidean distances, unsorted) by brute force. Each pair
 * is measured once and offered to both points' bounded max-heaps, so the pass costs
 * n^2 / 2 distances: a few seconds for 10,000 x 64, simpler than a vantage-point tree.
 */
function nearestNeighbours(data: Float32Array | Float64Array, n: number, dim: number, k: number) {
  const dist = new Float64Array(n * k);
  const idx = new Int32Array(n * k);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dim;
      // A heap's root (offset 0) is its largest distance. Once both heaps are full, a pair
      // farther than both roots is useless: stop summing as soon as the partial sum says so
      // (checked every 8 dimensions; most pairs in clustered data are rejected early).
      const bound = size[i] < k || size[j] < k ? Infinity : Math.max(dist[i * k], dist[j * k]);
      let d = 0;
      for (let t = 0; t < dim && d <= bound; ) {
        const end = Math.min(t + 8, dim);
        for (; t < end; t++) {
          const diff = data[oi + t] - data[oj + t];
          d += diff * diff;
        }
      }
      if (size[i] < k || d < dist[i * k]) heapOffer(dist, idx, size, i, k, d, j);
      if (size[j] < k || d < dist[j * k]) heapOffer(dist, idx, size, j, k, d, i);
    }
  }
  return { idx, dist };
}

/** Puts (d, j) in point p's max-heap of at most k entries, evicting the largest when full. */
function heapOffer(dist: Float64Array, idx: Int32Array, size: Int32Array, p: number, k: number, d: number, j: number): void {
  const base = p * k;
  let pos: number;
  if (size[p] < k) {
    // Sift up from the new last slot.
    pos = size[p]++;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (dist[base + parent] >= d) break;
      dist[base + pos] = dist[base + parent];
      idx[base + pos] = idx[base + parent];
      pos = parent;
    }
  } else {
    // Replace the root and sift down.
    pos = 0;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= k) break;
      const c = l + 1 < k && dist[base + l + 1] > dist[base + l] ? l + 1 : l;
      if (dist[base + c] <= d) break;
      dist[base + pos] = dist[base + c];
      idx[base + pos] = idx[base + c];
      pos = c;
    }
  }
  dist[base + pos] = d;
  idx[base + pos] = j;
}

/**
 * p_j|i proportional to exp(-beta * d_ij) over one point's neighbours, with beta found by
 * bisection so that exp(entropy) = perplexity (tolerance 1e-5 on the entropy, at most 200
 * steps, as bhtsne). Distances are shifted by their minimum first: that leaves the normalised
 * row unchanged but keeps exp() from underflowing to an all-zero row for far-away points.
 */
function gaussianRow(dist: Float64Array, perplexity: number, out: Float64Array): void {
  const k = dist.length;
  let dMin = Infinity;
  for (let m = 0; m < k; m++) if (dist[m] < dMin) dMin = dist[m];
  const target = Math.log(perplexity);
  let beta = 1, lo = -Infinity, hi = Infinity;
  for (let step = 0; step < 200; step++) {
    let sum = 0, weighted = 0;
    for (let m = 0; m < k; m++) {
      const dm = dist[m] - dMin;
      const p = Math.exp(-beta * dm);
      out[m] = p;
      sum += p;
      weighted += dm * p;
    }
    // Entropy of the normalised row: log(sum) + beta * E[d]. sum >= 1 (the nearest has p = 1).
    const entropy = Math.log(sum) + (beta * weighted) / sum;
    const diff = entropy - target;
    if (Math.abs(diff) < 1e-5) break;
    if (diff > 0) {
      lo = beta; // too flat: sharpen
      beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
    } else {
      hi = beta;
      beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
    }
  }
  let sum = 0;
  for (let m = 0; m < k; m++) sum += out[m];
  for (let m = 0; m < k; m++) out[m] /= sum;
}

/**
 * P = (P_j|i + P_i|j) / 2n as compressed rows. Each directed kNN edge adds its value to both
 * (i, j) and (j, i); duplicates (mutual neighbours) are merged with a per-row position map.
 */
function symmetrise(idx: Int32Array, cond: Float64Array, n: number, k: number): SparseAffinities {
  // Upper bound per row: its own k neighbours plus every point that lists it.
  const bound = new Int32Array(n + 1);
  for (let e = 0; e < n * k; e++) bound[idx[e] + 1]++;
  for (let i = 0; i < n; i++) bound[i + 1] += bound[i] + k;
  const cols = new Int32Array(bound[n]);
  const vals = new Float64Array(bound[n]);
  const fill = new Int32Array(n);
  const push = (row: number, col: number, v: number) => {
    const at = bound[row] + fill[row]++;
    cols[at] = col;
    vals[at] = v;
  };
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < k; m++) {
      push(i, idx[i * k + m], cond[i * k + m]);
      push(idx[i * k + m], i, cond[i * k + m]);
    }
  }
  // Merge duplicate columns row by row, compacting into the final arrays.
  const rowPtr = new Int32Array(n + 1);
  const where = new Int32Array(n).fill(-1);
  let out = 0;
  for (let i = 0; i < n; i++) {
    rowPtr[i] = out;
    for (let e = bound[i]; e < bound[i] + fill[i]; e++) {
      const c = cols[e];
      if (where[c] >= 0) vals[where[c]] += vals[e];
      else {
        where[c] = out;
        cols[out] = c;
        vals[out++] = vals[e];
      }
    }
    for (let e = rowPtr[i]; e < out; e++) where[cols[e]] = -1;
  }
  rowPtr[n] = out;
  let total = 0;
  for (let e = 0; e < out; e++) total += vals[e];
  for (let e = 0; e < out; e++) vals[e] /= total; // = 2n up to rounding
  return { n, rowPtr, cols: cols.slice(0, out), vals: vals.slice(0, out) };
}

// ---------------------------------------------------------------------------------------------
// Initialisation
// ---------------------------------------------------------------------------------------------

const INIT_SCALE = 1e-4;

/** N(0, 1e-4^2) coordinates from a mulberry32 stream (Box-Muller), as bhtsne's start. */
export function randomInit(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const y = new Float64Array(2 * n);
  for (let i = 0; i < 2 * n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())); // 1 - rand() is in (0, 1]
    const t = 2 * Math.PI * rand();
    y[i] = INIT_SCALE * r * Math.cos(t);
    y[i + 1] = INIT_SCALE * r * Math.sin(t);
  }
  return y;
}

/**
 * The data projected on its top two principal components, scaled so the first has standard
 * deviation 1e-4. Covariance (O(n dim^2)), then orthogonal iteration for the top-2 subspace
 * and a 2 x 2 Rayleigh-Ritz step for the axes. Returns undefined when the data has (nearly)
 * no variance along a second direction: a flat start would keep that coordinate flat forever
 * (its gradient is zero), so the caller falls back to the random start.
 */
function pcaInit(data: Float32Array | Float64Array, n: number, dim: number): Float64Array | undefined {
  const cov = covariance(data, n, dim);
  const axes = topTwoEigenvectors(cov, dim);
  if (!axes) return undefined;
  const mean = columnMeans(data, n, dim);
  const y = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let t = 0; t < dim; t++) {
      const x = data[i * dim + t] - mean[t];
      a += x * axes[t];
      b += x * axes[dim + t];
    }
    y[2 * i] = a;
    y[2 * i + 1] = b;
  }
  let ss = 0;
  for (let i = 0; i < n; i++) ss += y[2 * i] * y[2 * i];
  const scale = INIT_SCALE / Math.sqrt(ss / n);
  for (let i = 0; i < 2 * n; i++) y[i] *= scale;
  return y;
}

function columnMeans(data: Float32Array | Float64Array, n: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let t = 0; t < dim; t++) mean[t] += data[i * dim + t];
  for (let t = 0; t < dim; t++) mean[t] /= n;
  return mean;
}

function covariance(data: Float32Array | Float64Array, n: number, dim: number): Float64Array {
  const mean = columnMeans(data, n, dim);
  const cov = new Float64Array(dim * dim);
  const x = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < dim; t++) x[t] = data[i * dim + t] - mean[t];
    for (let a = 0; a < dim; a++) {
      const xa = x[a];
      for (let b = a; b < dim; b++) cov[a * dim + b] += xa * x[b];
    }
  }
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b];
  return cov;
}

/** Two unit eigenvectors (rows of the result) of the symmetric `cov` with the largest eigenvalues. */
function topTwoEigenvectors(cov: Float64Array, dim: number): Float64Array | undefined {
  let trace = 0;
  for (let t = 0; t < dim; t++) trace += cov[t * dim + t];
  if (dim < 2 || !(trace > 0)) return undefined;
  // A fixed start (not the user's seed): the PCA start is the same for every seed.
  const rand = mulberry32(0x5eed);
  let v: Float64Array = new Float64Array(2 * dim).map(() => rand() - 0.5);
  orthonormalise(v, dim);
  for (let it = 0; it < 1000; it++) {
    const next = matTimesTwo(cov, v, dim);
    if (!orthonormalise(next, dim)) return undefined;
    const change = 1 - Math.abs(dot(next, 0, v, 0, dim)) + 1 - Math.abs(dot(next, dim, v, dim, dim));
    v = next;
    if (change < 1e-14) break;
  }
  const axes = rayleighRitz(cov, v, dim);
  // The second principal variance must be non-negligible (see pcaInit).
  const cv = matTimesTwo(cov, axes, dim);
  if (!(dot(axes, dim, cv, dim, dim) > 1e-12 * trace)) return undefined;
  for (let r = 0; r < 2; r++) fixSign(axes, r * dim, dim);
  return axes;
}

function matTimesTwo(m: Float64Array, v: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(2 * dim);
  for (let r = 0; r < 2; r++) {
    for (let a = 0; a < dim; a++) {
      let s = 0;
      for (let b = 0; b < dim; b++) s += m[a * dim + b] * v[r * dim + b];
      out[r * dim + a] = s;
    }
  }
  return out;
}

function dot(u: Float64Array, uo: number, v: Float64Array, vo: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += u[uo + t] * v[vo + t];
  return s;
}

/** Gram-Schmidt on the two rows of v, in place; false when a row vanishes. */
function orthonormalise(v: Float64Array, dim: number): boolean {
  const n0 = Math.sqrt(dot(v, 0, v, 0, dim));
  if (!(n0 > 0)) return false;
  for (let t = 0; t < dim; t++) v[t] /= n0;
  const proj = dot(v, 0, v, dim, dim);
  for (let t = 0; t < dim; t++) v[dim + t] -= proj * v[t];
  const n1 = Math.sqrt(dot(v, dim, v, dim, dim));
  if (!(n1 > 1e-300)) return false;
  for (let t = 0; t < dim; t++) v[dim + t] /= n1;
  return true;
}

/** Rotates the orthonormal rows of v to the eigenvectors of cov restricted to their span, largest first. */
function rayleighRitz(cov: Float64Array, v: Float64Array, dim: number): Float64Array {
  const cv = matTimesTwo(cov, v, dim);
  const a = dot(v, 0, cv, 0, dim), b = dot(v, 0, cv, dim, dim), c = dot(v, dim, cv, dim, dim);
  // Eigenvector of [[a, b], [b, c]] for the larger eigenvalue is (cos phi, sin phi).
  const phi = 0.5 * Math.atan2(2 * b, a - c);
  const cs = Math.cos(phi), sn = Math.sin(phi);
  const out = new Float64Array(2 * dim);
  for (let t = 0; t < dim; t++) {
    out[t] = cs * v[t] + sn * v[dim + t];
    out[dim + t] = -sn * v[t] + cs * v[dim + t];
  }
  return out;
}

/** Eigenvectors have no sign: make the largest-magnitude component positive, for a stable picture. */
function fixSign(v: Float64Array, offset: number, dim: number): void {
  let best = 0;
  for (let t = 1; t < dim; t++) if (Math.abs(v[offset + t]) > Math.abs(v[offset + best])) best = t;
  if (v[offset + best] < 0) for (let t = 0; t < dim; t++) v[offset + t] = -v[offset + t];
}

// ---------------------------------------------------------------------------------------------
// Quadtree
// ---------------------------------------------------------------------------------------------

/** Beyond this depth coincident-ish points share a leaf instead of splitting further. */
const MAX_DEPTH = 50;

/**
 * A point-region quadtree over the embedding, rebuilt every iteration into the same
 * (growable) typed arrays. Each node keeps its point count and centre of mass; a leaf keeps
 * its points as a linked list through `next` (one point, or several coincident ones).
 */
export class QuadTree {
  private capacity = 0;
  size = 0;
  centreX = new Float64Array(0);
  centreY = new Float64Array(0);
  /** Full width of the (square) cell. */
  width = new Float64Array(0);
  comX = new Float64Array(0);
  comY = new Float64Array(0);
  count = new Int32Array(0);
  /** Index of the first of four consecutive children, or -1 for a leaf. */
  firstChild = new Int32Array(0);
  /** First point of a leaf's list, or -1. */
  head = new Int32Array(0);
  /** The next point in the same leaf, or -1. */
  next: Int32Array;

  constructor(n: number) {
    this.next = new Int32Array(n);
    this.grow(4 * n + 16);
  }

  /** Rebuilds the tree over the interleaved 2-D coordinates y. */
  build(y: Float64Array, n: number): void {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = y[2 * i], z = y[2 * i + 1];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (z < minY) minY = z;
      if (z > maxY) maxY = z;
    }
    // A square root cell, a little larger than the points' box so none sits on its far edge.
    const w = Math.max(maxX - minX, maxY - minY, 1e-300) * (1 + 1e-9) + 1e-300;
    this.size = 0;
    this.newNode((minX + maxX) / 2, (minY + maxY) / 2, w);
    for (let i = 0; i < n; i++) this.insert(y, i);
  }

  private grow(capacity: number): void {
    const copy = <T extends Float64Array | Int32Array>(a: T, make: (c: number) => T): T => {
      const b = make(capacity);
      b.set(a.subarray(0, this.size));
      return b;
    };
    const f = (c: number) => new Float64Array(c), g = (c: number) => new Int32Array(c);
    this.centreX = copy(this.centreX, f);
    this.centreY = copy(this.centreY, f);
    this.width = copy(this.width, f);
    this.comX = copy(this.comX, f);
    this.comY = copy(this.comY, f);
    this.count = copy(this.count, g);
    this.firstChild = copy(this.firstChild, g);
    this.head = copy(this.head, g);
    this.capacity = capacity;
  }

  private newNode(cx: number, cy: number, w: number): number {
    if (this.size === this.capacity) this.grow(2 * this.capacity);
    const k = this.size++;
    this.centreX[k] = cx;
    this.centreY[k] = cy;
    this.width[k] = w;
    this.comX[k] = 0;
    this.comY[k] = 0;
    this.count[k] = 0;
    this.firstChild[k] = -1;
    this.head[k] = -1;
    return k;
  }

  private quadrant(node: number, x: number, z: number): number {
    return this.firstChild[node] + (x >= this.centreX[node] ? 1 : 0) + (z >= this.centreY[node] ? 2 : 0);
  }

  /** Walks point p down from the root, updating each cell's mass, splitting the leaf it lands in if occupied. */
  private insert(y: Float64Array, p: number): void {
    const x = y[2 * p], z = y[2 * p + 1];
    let node = 0;
    for (let depth = 0; ; depth++) {
      const c = this.count[node];
      this.comX[node] = (this.comX[node] * c + x) / (c + 1);
      this.comY[node] = (this.comY[node] * c + z) / (c + 1);
      this.count[node] = c + 1;
      if (this.firstChild[node] >= 0) {
        node = this.quadrant(node, x, z);
        continue;
      }
      const h = this.head[node];
      const hx = h >= 0 ? y[2 * h] : 0, hz = h >= 0 ? y[2 * h + 1] : 0;
      if (h < 0 || depth >= MAX_DEPTH || (hx === x && hz === z)) {
        this.next[p] = h;
        this.head[node] = p;
        return;
      }
      // An occupied leaf holds one position (c points there): move them down a level, then carry on with p.
      this.split(node);
      const child = this.quadrant(node, hx, hz);
      this.head[child] = h;
      this.count[child] = c;
      this.comX[child] = hx;
      this.comY[child] = hz;
      this.head[node] = -1;
      node = this.quadrant(node, x, z);
    }
  }

  private split(node: number): void {
    const w = this.width[node] / 2, cx = this.centreX[node], cy = this.centreY[node];
    // newNode may reallocate the arrays, so read everything needed before calling it.
    const first = this.newNode(cx - w / 2, cy - w / 2, w);
    this.newNode(cx + w / 2, cy - w / 2, w);
    this.newNode(cx - w / 2, cy + w / 2, w);
    this.newNode(cx + w / 2, cy + w / 2, w);
    this.firstChild[node] = first;
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient
// ---------------------------------------------------------------------------------------------

/** Reusable buffers of one run, so the iterations allocate nothing. */
export class GradientWorkspace {
  readonly tree: QuadTree;
  readonly attract: Float64Array;
  readonly repulse: Float64Array;
  readonly stack: Int32Array;
  constructor(readonly n: number) {
    this.tree = new QuadTree(n);
    this.attract = new Float64Array(2 * n);
    this.repulse = new Float64Array(2 * n);
    // Each pop pushes at most 4 children, one level deeper: 3 per level suffices.
    this.stack = new Int32Array(4 * (MAX_DEPTH + 4));
  }
}

/**
 * The gradient of KL(P || Q) at y (interleaved n x 2) into `grad`, with P multiplied by
 * `exaggeration`; returns Z = sum_{k != l} 1 / (1 + |y_k - y_l|^2) as the tree estimates it
 * (exact when theta = 0).
 */
export function klGradient(
  P: SparseAffinities,
  y: Float64Array,
  theta: number,
  exaggeration: number,
  grad: Float64Array,
  ws: GradientWorkspace = new GradientWorkspace(P.n),
): number {
  const n = P.n;
  attractiveForces(P, y, ws.attract);
  ws.tree.build(y, n);
  let z = 0;
  for (let i = 0; i < n; i++) z += repulsiveForce(ws.tree, y, i, theta * theta, ws.repulse, ws.stack);
  for (let e = 0; e < 2 * n; e++) grad[e] = 4 * (exaggeration * ws.attract[e] - ws.repulse[e] / z);
  return z;
}

/** sum_j p_ij w_ij (y_i - y_j) over P's edges, for every i. */
function attractiveForces(P: SparseAffinities, y: Float64Array, out: Float64Array): void {
  const { rowPtr, cols, vals } = P;
  for (let i = 0; i < P.n; i++) {
    const xi = y[2 * i], zi = y[2 * i + 1];
    let fx = 0, fz = 0;
    for (let e = rowPtr[i]; e < rowPtr[i + 1]; e++) {
      const j = cols[e];
      const dx = xi - y[2 * j], dz = zi - y[2 * j + 1];
      const pw = vals[e] / (1 + dx * dx + dz * dz);
      fx += pw * dx;
      fz += pw * dz;
    }
    out[2 * i] = fx;
    out[2 * i + 1] = fz;
  }
}

/**
 * Point i's unnormalised repulsion sum_j w_ij^2 (y_i - y_j) into out, by a depth-first walk
 * of the tree: a cell with width^2 < theta^2 * distance^2 to its centre of mass counts as
 * `count` points there; leaves are summed point by point (so theta = 0 is exact). Returns
 * sum_j w_ij, point i's share of Z.
 */
function repulsiveForce(tree: QuadTree, y: Float64Array, i: number, theta2: number, out: Float64Array, stack: Int32Array): number {
  const { comX, comY, count, width, firstChild, head, next } = tree;
  const xi = y[2 * i], zi = y[2 * i + 1];
  let fx = 0, fz = 0, sumQ = 0;
  let sp = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const node = stack[--sp];
    const fc = firstChild[node];
    if (fc < 0) {
      for (let p = head[node]; p >= 0; p = next[p]) {
        if (p === i) continue;
        const dx = xi - y[2 * p], dz = zi - y[2 * p + 1];
        const q = 1 / (1 + dx * dx + dz * dz);
        sumQ += q;
        fx += q * q * dx;
        fz += q * q * dz;
      }
      continue;
    }
    const dx = xi - comX[node], dz = zi - comY[node];
    const d2 = dx * dx + dz * dz;
    const w = width[node];
    if (w * w < theta2 * d2) {
      const q = 1 / (1 + d2);
      const m = count[node] * q;
      sumQ += m;
      fx += m * q * dx;
      fz += m * q * dz;
    } else {
      for (let c = fc; c < fc + 4; c++) if (count[c] > 0) stack[sp++] = c;
    }
  }
  out[2 * i] = fx;
  out[2 * i + 1] = fz;
  return sumQ;
}

/** KL(P || Q) = sum p log p + sum p log(1 + d^2) + log Z (P sums to 1), over P's edges. */
export function klDivergence(P: SparseAffinities, y: Float64Array, z: number): number {
  const { rowPtr, cols, vals } = P;
  let kl = 0;
  for (let i = 0; i < P.n; i++) {
    for (let e = rowPtr[i]; e < rowPtr[i + 1]; e++) {
      const p = vals[e];
      if (p <= 0) continue;
      const j = cols[e];
      const dx = y[2 * i] - y[2 * j], dz = y[2 * i + 1] - y[2 * j + 1];
      kl += p * (Math.log(p) + Math.log1p(dx * dx + dz * dz));
    }
  }
  return kl + Math.log(z);
}

// ---------------------------------------------------------------------------------------------
// Optimisation
// ---------------------------------------------------------------------------------------------

/** Gradient descent with momentum, gains and early exaggeration, on y in place. */
function optimise(P: SparseAffinities, y: Float64Array, o: ResolvedOptions): void {
  const n = P.n;
  const ws = new GradientWorkspace(n);
  const grad = new Float64Array(2 * n);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  for (let it = 0; it < o.iterations; it++) {
    const early = it < o.exaggerationIterations;
    const z = klGradient(P, y, o.theta, early ? o.earlyExaggeration : 1, grad, ws);
    const wantKl = o.onProgress && ((it + 1) % o.klInterval === 0 || it + 1 === o.iterations);
    const kl = wantKl ? klDivergence(P, y, z) : undefined;
    step(y, grad, update, gains, early ? 0.5 : 0.8, o.learningRate);
    centre(y, n);
    o.onProgress?.(it + 1, kl);
  }
}

/**
 * One momentum step with delta-bar-delta gains (bhtsne): a parameter whose gradient points
 * against its last update (the step would keep going downhill) speeds up by +0.2, one that
 * overshot slows by x0.8, never below 0.01.
 */
function step(y: Float64Array, grad: Float64Array, update: Float64Array, gains: Float64Array, momentum: number, eta: number): void {
  for (let e = 0; e < y.length; e++) {
    const g = grad[e];
    gains[e] = Math.sign(g) !== Math.sign(update[e]) ? gains[e] + 0.2 : Math.max(gains[e] * 0.8, 0.01);
    update[e] = momentum * update[e] - eta * gains[e] * g;
    y[e] += update[e];
  }
}

/** Subtracts the mean: KL is translation-invariant, so this only stops the map drifting. */
function centre(y: Float64Array, n: number): void {
  let mx = 0, mz = 0;
  for (let i = 0; i < n; i++) {
    mx += y[2 * i];
    mz += y[2 * i + 1];
  }
  mx /= n;
  mz /= n;
  for (let i = 0; i < n; i++) {
    y[2 * i] -= mx;
    y[2 * i + 1] -= mz;
  }
}
