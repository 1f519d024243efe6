/**
 * Barnes-Hut t-SNE against known answers on small data: separated clusters stay separated,
 * a manifold's neighbourhoods survive, the tree gradient matches the exact one, the KL falls,
 * runs are reproducible, and bad input is refused with a message naming the problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '@vae/models';
import { TsneError, inputAffinities, klDivergence, klGradient, randomInit, tsne, type SparseAffinities } from '../src/paper/tsne.js';

/** A seeded N(0, 1) stream (Box-Muller on mulberry32). */
function normals(seed: number): () => number {
  const rand = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** `clusters` x `per` points in `dim`-D: centres ~ N(0, spread^2) per axis, points ~ centre + N(0, 1). */
function gaussianClusters(clusters: number, per: number, dim: number, spread: number, seed: number) {
  const g = normals(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => spread * g()));
  const n = clusters * per;
  const data = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % clusters;
    for (let t = 0; t < dim; t++) data[i * dim + t] = centres[labels[i]][t] + g();
  }
  return { data, labels, n };
}

function sqDist(x: ArrayLike<number>, i: number, j: number, dim: number): number {
  let d = 0;
  for (let t = 0; t < dim; t++) d += (x[i * dim + t] - x[j * dim + t]) ** 2;
  return d;
}

/** Each point's k nearest other points (brute force). */
function knn(x: ArrayLike<number>, n: number, dim: number, k: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== i)
      .sort((a, b) => sqDist(x, i, a, dim) - sqDist(x, i, b, dim))
      .slice(0, k),
  );
}

/** Mean fraction of each point's k input neighbours that are among its k embedded neighbours. */
function knnRecall(data: ArrayLike<number>, dim: number, emb: ArrayLike<number>, n: number, k: number): number {
  const a = knn(data, n, dim, k), b = knn(emb, n, 2, k);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const s = new Set(b[i]);
    kept += a[i].filter((j) => s.has(j)).length;
  }
  return kept / (n * k);
}

/** The exact gradient and Z, naively over all pairs: 4 sum_j (a p_ij - w_ij / Z) w_ij (y_i - y_j). */
function exactGradient(P: SparseAffinities, y: Float64Array, exaggeration: number) {
  const n = P.n;
  const dense = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) dense[i * n + P.cols[e]] = P.vals[e];
  const w = (i: number, j: number) => 1 / (1 + (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2);
  let z = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) z += w(i, j);
  const grad = new Float64Array(2 * n);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const wij = w(i, j), p = dense[i * n + j];
      const c = 4 * (exaggeration * p - wij / z) * wij;
      grad[2 * i] += c * (y[2 * i] - y[2 * j]);
      grad[2 * i + 1] += c * (y[2 * i + 1] - y[2 * j + 1]);
      if (p > 0) kl += p * Math.log(p / (wij / z));
    }
  }
  return { grad, z, kl };
}

function relativeError(a: Float64Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let e = 0; e < a.length; e++) {
    num += (a[e] - b[e]) ** 2;
    den += b[e] ** 2;
  }
  return Math.sqrt(num / den);
}

test('well-separated Gaussian clusters stay separated: 1-NN in the map is in the same cluster, centroids far apart', () => {
  const { data, labels, n } = gaussianClusters(5, 60, 10, 8, 1);
  const y = tsne(data, n, 10, { seed: 1 });
  assert.equal(y.length, 2 * n);
  assert.ok(y.every(Number.isFinite));
  let same = 0;
  for (let i = 0; i < n; i++) {
    let best = -1, bd = Infinity;
    for (let j = 0; j < n; j++) {
      const d = j === i ? Infinity : sqDist(y, i, j, 2);
      if (d < bd) (bd = d), (best = j);
    }
    if (labels[best] === labels[i]) same++;
  }
  assert.ok(same / n >= 0.99, `1-NN agreement ${same / n}`);
  // Centroid and RMS radius of each cluster in the map: every pair of centroids is farther
  // apart than the sum of the two radii (they would touch at about that distance).
  const cx = new Float64Array(5), cy = new Float64Array(5), r = new Float64Array(5);
  for (let i = 0; i < n; i++) (cx[labels[i]] += y[2 * i] / 60), (cy[labels[i]] += y[2 * i + 1] / 60);
  for (let i = 0; i < n; i++) r[labels[i]] += ((y[2 * i] - cx[labels[i]]) ** 2 + (y[2 * i + 1] - cy[labels[i]]) ** 2) / 60;
  for (let c = 0; c < 5; c++) r[c] = Math.sqrt(r[c]);
  for (let a = 0; a < 5; a++) {
    for (let b = a + 1; b < 5; b++) {
      const d = Math.hypot(cx[a] - cx[b], cy[a] - cy[b]);
      assert.ok(d > r[a] + r[b], `clusters ${a}, ${b}: centroid distance ${d.toFixed(2)} vs radii ${r[a].toFixed(2)} + ${r[b].toFixed(2)}`);
    }
  }
});

test('a Swiss roll keeps its neighbourhoods: 10-NN recall > 0.8, a random map ~ 0.03', () => {
  // 3-D Swiss roll: (t cos t, h, t sin t), t in [1.5 pi, 4.5 pi], h in [0, 15]; 400 points.
  const n = 400, rand = mulberry32(3);
  const data = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const t = 1.5 * Math.PI * (1 + 2 * rand()), h = 15 * rand();
    data.set([t * Math.cos(t), h, t * Math.sin(t)], 3 * i);
  }
  const y = tsne(data, n, 3, { seed: 3 });
  const recall = knnRecall(data, 3, y, n, 10);
  const baseline = knnRecall(data, 3, randomInit(n, 99), n, 10);
  assert.ok(recall > 0.8, `t-SNE 10-NN recall ${recall}`);
  assert.ok(baseline < 0.1, `random-map 10-NN recall ${baseline}`);
});

test('deterministic: the same seed gives identical output, another seed differs (random init); PCA init ignores the seed', () => {
  const { data, n } = gaussianClusters(3, 30, 5, 6, 5);
  const opts = { iterations: 300, init: 'random' as const };
  const a = tsne(data, n, 5, { ...opts, seed: 42 });
  const b = tsne(data, n, 5, { ...opts, seed: 42 });
  const c = tsne(data, n, 5, { ...opts, seed: 43 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const p = tsne(data, n, 5, { iterations: 300, seed: 1 });
  const q = tsne(data, n, 5, { iterations: 300, seed: 2 });
  assert.deepEqual(p, q);
});

test('input validation names the problem', () => {
  const ok = new Float64Array(20).map((_, i) => i % 7);
  const bad = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof TsneError && pattern.test(e.message));
  bad(() => tsne(new Float64Array(2), 1, 2), /at least 2 points.*n = 1/);
  bad(() => tsne(ok, 10, 3), /20 values but n \* dim = 10 \* 3 = 30/);
  bad(() => tsne(ok.map((v, i) => (i === 7 ? NaN : v)), 10, 2), /non-finite value \(NaN\) at point 3, dimension 1/);
  bad(() => tsne(ok.map((v, i) => (i === 0 ? Infinity : v)), 10, 2), /non-finite value \(Infinity\) at point 0, dimension 0/);
  bad(() => tsne(ok, 10, 2, { perplexity: 10 }), /perplexity \(10\) must be less than the number of points \(10\)/);
  bad(() => tsne(ok, 10, 2, { perplexity: 0 }), /perplexity must be a positive number, got 0/);
  bad(() => tsne(ok, 10, 2, { perplexity: 3, theta: -1 }), /theta must be a number >= 0, got -1/);
  bad(() => tsne(ok, 10, 2, { perplexity: 3, iterations: 2.5 }), /iterations must be a non-negative integer, got 2.5/);
  bad(() => tsne(ok, 10, 2, { perplexity: 3, learningRate: 0 }), /learningRate must be a positive number or 'auto', got 0/);
  bad(() => tsne(ok, 10, 0), /dim must be an integer >= 1, got 0/);
  bad(() => tsne([1, 2, 3, 4] as unknown as Float64Array, 2, 2), /Float32Array or Float64Array/);
  // The smallest valid problem runs.
  const y = tsne(new Float32Array([0, 0, 1, 1]), 2, 2, { perplexity: 1, iterations: 50 });
  assert.ok(y.every(Number.isFinite));
});

test('the affinities P are symmetric, non-negative and sum to 1', () => {
  const { data, n } = gaussianClusters(4, 25, 6, 5, 8);
  const P = inputAffinities(data, n, 6, 10);
  const get = (i: number, j: number) => {
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) if (P.cols[e] === j) return P.vals[e];
    return 0;
  };
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) {
      assert.notEqual(P.cols[e], i, 'no self-affinity');
      assert.ok(P.vals[e] >= 0);
      assert.ok(Math.abs(P.vals[e] - get(P.cols[e], i)) <= 1e-15, 'symmetric');
      sum += P.vals[e];
    }
  }
  assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
  // Between n * k (all neighbourhoods mutual) and 2 n k entries, k = 3 * perplexity = 30.
  assert.ok(P.vals.length >= n * 30 && P.vals.length <= 2 * n * 30, `nnz ${P.vals.length}`);
});

test('Barnes-Hut gradient: theta = 0 is the exact gradient (1e-9 relative), theta = 0.5 within 2% (gradient and Z) on 50 and 600 points', () => {
  for (const n of [50, 600]) {
    const { data } = gaussianClusters(5, n / 5, 8, 4, 11);
    const P = inputAffinities(data, n, 8, 10);
    // A spread-out map (coordinates ~ N(0, 5^2)) so that the tree actually summarises cells.
    const g = normals(12);
    const y = new Float64Array(2 * n).map(() => 5 * g());
    const exact = exactGradient(P, y, 4);
    const grad = new Float64Array(2 * n);
    const z0 = klGradient(P, y, 0, 4, grad);
    assert.ok(Math.abs(z0 - exact.z) / exact.z < 1e-12, `Z ${z0} vs ${exact.z}`);
    const e0 = relativeError(grad, exact.grad);
    assert.ok(e0 < 1e-9, `theta 0: relative error ${e0}`);
    assert.ok(Math.abs(klDivergence(P, y, z0) - exact.kl) < 1e-9 * Math.abs(exact.kl), 'KL');
    const zh = klGradient(P, y, 0.5, 4, grad);
    const eh = relativeError(grad, exact.grad);
    assert.ok(eh < 0.02, `theta 0.5, n ${n}: relative error ${eh}`);
    assert.ok(Math.abs(zh - exact.z) / exact.z < 0.02, `theta 0.5, n ${n}: Z ${zh} vs ${exact.z}`);
  }
});

test('the KL divergence decreases over the run', () => {
  const { data, n } = gaussianClusters(5, 40, 10, 6, 21);
  const kls: [number, number][] = [];
  let calls = 0;
  tsne(data, n, 10, {
    iterations: 600,
    klInterval: 25,
    onProgress: (it, kl) => {
      calls++;
      if (kl !== undefined) kls.push([it, kl]);
    },
  });
  assert.equal(calls, 600, 'called every iteration');
  assert.equal(kls.length, 600 / 25);
  assert.ok(kls.every(([, kl]) => Number.isFinite(kl) && kl >= 0));
  const first = kls[0][1], last = kls[kls.length - 1][1];
  assert.ok(last < 0.5 * first, `KL ${first} -> ${last}`);
  // Once the exaggeration is off (iteration 250), it falls monotonically up to tree noise.
  const late = kls.filter(([it]) => it > 275);
  for (let m = 1; m < late.length; m++) assert.ok(late[m][1] <= late[m - 1][1] + 1e-3, `KL rose at ${late[m][0]}: ${late[m - 1][1]} -> ${late[m][1]}`);
});

test('coincident points do not break the tree (finite output, duplicates end up together)', () => {
  const { data, n } = gaussianClusters(2, 30, 4, 5, 31);
  for (let i = 1; i < 10; i++) data.copyWithin(i * 4, 0, 4); // points 0..9 identical
  const y = tsne(data, n, 4, { iterations: 400, perplexity: 10 });
  assert.ok(y.every(Number.isFinite));
  for (let i = 1; i < 10; i++) assert.ok(Math.hypot(y[2 * i] - y[0], y[2 * i + 1] - y[1]) < 1, `duplicate ${i}`);
});
