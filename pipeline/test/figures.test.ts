/**
 * Figures and the 2-D embedding, with the real stack (vega-lite, vega, resvg, umap-js): the
 * PNGs are decoded and their pixels checked for where the label colours land.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { decodeImage, type RgbaImage } from '@vae/runtime-core';
import { mulberry32, seededNormals } from '@vae/models';
import { CATEGORY10, FigureError, embed2d, lossCurvesPng, scatterPng, stripPng, svgToPng } from '../src/paper/figures.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function decodePng(png: Buffer): Promise<RgbaImage> {
  assert.ok(Buffer.isBuffer(png), 'a Buffer');
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  return decodeImage(png, 'figure');
}

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/**
 * Whether a pixel shows `hex` drawn at some opacity over white: points are semi-transparent,
 * so a pixel is white + a * (colour - white) for some a in (0.2, 1], channel by channel.
 */
function isShadeOf(image: RgbaImage, p: number, hex: string): boolean {
  const c = rgb(hex);
  const px = [image.data[p], image.data[p + 1], image.data[p + 2]];
  // The opacity that explains the channel furthest from white, then all channels must fit it.
  const k = c.reduce((best, v, i) => (255 - v > 255 - c[best] ? i : best), 0);
  const a = (255 - px[k]) / (255 - c[k]);
  if (!(a > 0.2 && a <= 1.05)) return false;
  return px.every((v, i) => Math.abs(v - (255 - a * (255 - c[i]))) <= 12);
}

/** Pixels of a colour in a rectangle [x0, x1) x [y0, y1), and their mean y. */
function census(image: RgbaImage, hex: string, x0 = 0, x1 = image.width, y0 = 0, y1 = image.height) {
  let count = 0, ySum = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (isShadeOf(image, (y * image.width + x) * 4, hex)) { count++; ySum += y; }
    }
  }
  return { count, meanY: count ? ySum / count : NaN };
}

function distinctColours(image: RgbaImage): number {
  const seen = new Set<number>();
  for (let p = 0; p < image.data.length; p += 4) seen.add((image.data[p] << 16) | (image.data[p + 1] << 8) | image.data[p + 2]);
  return seen.size;
}

/** Two clusters: label 1 at x in [1, 3] listed first, then label 0 at x in [-3, -1]. */
function twoClusters(perLabel: number) {
  const rand = mulberry32(3);
  const x: number[] = [], y: number[] = [], labels: number[] = [];
  for (const label of [1, 0]) {
    for (let i = 0; i < perLabel; i++) {
      x.push((label === 1 ? 1 : -3) + 2 * rand());
      y.push(4 * rand() - 2);
      labels.push(label);
    }
  }
  return { x, y, labels };
}

test('scatterPng: a PNG of the requested size, label 0 in its colour on the left, label 1 on the right', async () => {
  const { x, y, labels } = twoClusters(300);
  const image = await decodePng(await scatterPng({ x, y, labels, title: 'two clusters', xTitle: 'z1', yTitle: 'z2', width: 480, height: 360 }));
  assert.equal(image.width, 480);
  assert.equal(image.height, 360);
  assert.ok(distinctColours(image) > 20, 'not a blank image');

  // Colour by label value, not by order of appearance: label 1 comes first in the data yet is
  // category10's second colour (orange), label 0 its first (blue).
  const half = image.width / 2;
  const leftBlue = census(image, CATEGORY10[0], 0, half).count, rightBlue = census(image, CATEGORY10[0], half).count;
  const leftOrange = census(image, CATEGORY10[1], 0, half).count, rightOrange = census(image, CATEGORY10[1], half).count;
  assert.ok(leftBlue > 500, `label 0 (blue) pixels on the left: ${leftBlue}`);
  assert.ok(rightOrange > 500, `label 1 (orange) pixels on the right: ${rightOrange}`);
  // The legend (right side) has one symbol of each colour: few pixels next to 300 points.
  assert.ok(leftOrange < leftBlue / 10, `orange on the left: ${leftOrange} vs blue ${leftBlue}`);
  assert.ok(rightBlue < rightOrange / 5, `blue on the right: ${rightBlue} vs orange ${rightOrange}`);
});

test('scatterPng renders 10,000 points in a few seconds', async () => {
  const z = seededNormals(20_000, 1);
  const labels = Array.from({ length: 10_000 }, (_, i) => i % 10);
  const start = performance.now();
  const png = await scatterPng({ x: z.subarray(0, 10_000), y: z.subarray(10_000), labels, title: '10,000 points', xTitle: 'a', yTitle: 'b' });
  const seconds = (performance.now() - start) / 1000;
  const image = await decodePng(png);
  assert.deepEqual([image.width, image.height], [720, 640]); // the defaults
  for (const colour of CATEGORY10) assert.ok(census(image, colour).count > 50, `some pixels of ${colour}`);
  assert.ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
});

test('scatterPng: empty, mismatched or non-finite input fails with a message naming it', async () => {
  const base = { title: 't', xTitle: 'x', yTitle: 'y' };
  await assert.rejects(scatterPng({ ...base, x: [], y: [], labels: [] }), (e: Error) => e instanceof FigureError && /labels: empty/.test(e.message));
  await assert.rejects(scatterPng({ ...base, x: [1, 2, 3], y: [1, 2, 3, 4], labels: [0, 1, 0, 1] }), /x: 3 values, but labels has 4/);
  await assert.rejects(scatterPng({ ...base, x: [1, 2], y: [1, NaN], labels: [0, 1] }), /y\[1\]: expected a finite number, got NaN/);
  await assert.rejects(scatterPng({ ...base, x: [1, 2], y: [1, 2], labels: [0, 1.5] }), /labels\[1\]: expected a non-negative integer label, got 1.5/);
  await assert.rejects(scatterPng({ ...base, x: [1], y: [1], labels: [0], width: 20 }), /width: expected an integer from 100 to 8000/);
});

test('stripPng: one row per label in numeric order (2 above 10), each in its label colour', async () => {
  const rand = mulberry32(5);
  const values: number[] = [], labels: number[] = [];
  for (const label of [10, 2]) {
    for (let i = 0; i < 200; i++) { values.push(rand() * 4 - 2); labels.push(label); }
  }
  const image = await decodePng(await stripPng({ values, labels, title: 'values by label', xTitle: 'z' }));
  assert.ok(image.width > 300 && image.height > 80, `size ${image.width}x${image.height}`);
  // Label 2 is category10's green; label 10 wraps round to its blue.
  const green = census(image, CATEGORY10[2]), blue = census(image, CATEGORY10[0]);
  assert.ok(green.count > 100 && blue.count > 100, `green ${green.count}, blue ${blue.count}`);
  // Sorted as strings, "10" would come before "2" and be on top.
  assert.ok(green.meanY < blue.meanY, `label 2 row (y ~ ${green.meanY.toFixed(0)}) above label 10 row (y ~ ${blue.meanY.toFixed(0)})`);
  await assert.rejects(stripPng({ values: [1, 2], labels: [0], title: 't', xTitle: 'x' }), /values: 2 values, but labels has 1/);
});

test('lossCurvesPng: a panel per setting with train (blue) and test (orange) lines; bad input named', async () => {
  const curve = (offset: number) => Array.from({ length: 30 }, (_, e) => ({ epoch: e + 1, train: offset + 100 / (e + 1), test: offset + 5 + 100 / (e + 1) }));
  const settings = [{ name: 'n=2, beta=1', epochs: curve(140) }, { name: 'n=64, beta=1', epochs: curve(100) }, { name: 'n=64, beta=4', epochs: curve(120) }];
  const image = await decodePng(await lossCurvesPng({ title: 'loss', settings }));
  assert.ok(image.width > image.height, `three panels side by side: ${image.width}x${image.height}`);
  assert.ok(distinctColours(image) > 20, 'not a blank image');
  for (const colour of [CATEGORY10[0], CATEGORY10[1]]) assert.ok(census(image, colour).count > 200, `lines in ${colour}`);

  await assert.rejects(lossCurvesPng({ title: 't', settings: [] }), /settings: expected at least one setting/);
  await assert.rejects(lossCurvesPng({ title: 't', settings: [settings[0], { ...settings[1], name: 'n=2, beta=1' }] }), /settings\[1\] \("n=2, beta=1"\): duplicate setting name/);
  await assert.rejects(lossCurvesPng({ title: 't', settings: [{ name: 'a', epochs: [] }] }), /settings\[0\] \("a"\)\.epochs: expected at least one epoch/);
  await assert.rejects(lossCurvesPng({ title: 't', settings: [{ name: 'a', epochs: [{ epoch: 1, train: 1, test: Infinity }] }] }), /settings\[0\] \("a"\)\.epochs\[0\]\.test: expected a finite number/);
});

test('svgToPng draws text with the system fonts and, with none, leaves it out without failing', async () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><text x="10" y="40" font-family="DejaVu Sans, sans-serif" font-size="30">Digit</text></svg>';
  const dark = (image: RgbaImage) => { let n = 0; for (let p = 0; p < image.data.length; p += 4) if (image.data[p] < 128) n++; return n; };
  const bare = await decodePng(await svgToPng(svg, { systemFonts: false }));
  assert.deepEqual([bare.width, bare.height], [200, 60]);
  assert.equal(dark(bare), 0, 'no font, no text');
  if (!existsSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')) return; // the machine has no DejaVu to check against
  const withFonts = await decodePng(await svgToPng(svg));
  assert.ok(dark(withFonts) > 100, `text drawn: ${dark(withFonts)} dark pixels`);
});

/** 3 Gaussian blobs in 16-D, 100 points each, centres 8 apart per coordinate direction. */
function blobs() {
  const dim = 16, perBlob = 100;
  const noise = seededNormals(3 * perBlob * dim, 11);
  const data = new Float32Array(3 * perBlob * dim);
  const labels = new Uint8Array(3 * perBlob);
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < perBlob; i++) {
      const row = b * perBlob + i;
      labels[row] = b;
      // Blob b is centred at 8 on coordinates [5b, 5b + 5), 0 elsewhere.
      for (let d = 0; d < dim; d++) data[row * dim + d] = (d >= 5 * b && d < 5 * b + 5 ? 8 : 0) + noise[row * dim + d];
    }
  }
  return { data, dim, labels };
}

function nearestCentroidAccuracy(x: Float32Array, y: Float32Array, labels: Uint8Array): number {
  const sums = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  labels.forEach((l, i) => { sums[l][0] += x[i]; sums[l][1] += y[i]; sums[l][2]++; });
  const centroids = sums.map(([sx, sy, n]) => [sx / n, sy / n]);
  let right = 0;
  labels.forEach((l, i) => {
    const d = centroids.map(([cx, cy]) => (x[i] - cx) ** 2 + (y[i] - cy) ** 2);
    if (d.indexOf(Math.min(...d)) === l) right++;
  });
  return right / labels.length;
}

test('embed2d t-SNE keeps separated blobs apart, deterministically', async () => {
  const { data, dim, labels } = blobs();
  const progress: [number, number][] = [];
  const a = await embed2d(data, dim, { seed: 7, method: 'tsne', onProgress: (done, total) => progress.push([done, total]) });
  assert.equal(a.method, 'tsne');
  assert.equal(a.x.length, 300);
  const accuracy = nearestCentroidAccuracy(a.x, a.y, labels);
  assert.ok(accuracy >= 0.95, `nearest-centroid accuracy ${accuracy}`);
  assert.deepEqual(progress[0], [0, 1000]);
  assert.deepEqual(progress.at(-1), [1000, 1000]);
  assert.deepEqual((await embed2d(data, dim, { seed: 7, method: 'tsne' })).x, a.x);
});

test('embed2d keeps separated blobs apart and is deterministic for a seed', async () => {
  const { data, dim, labels } = blobs();
  const progress: [number, number][] = [];
  const a = await embed2d(data, dim, { seed: 7, onProgress: (done, total) => progress.push([done, total]) });
  assert.equal(a.method, 'umap');
  assert.equal(a.x.length, 300);
  assert.equal(a.y.length, 300);
  assert.ok([...a.x, ...a.y].every(Number.isFinite), 'finite coordinates');
  const accuracy = nearestCentroidAccuracy(a.x, a.y, labels);
  assert.ok(accuracy >= 0.95, `nearest-centroid accuracy ${accuracy}`);
  assert.deepEqual(progress[0], [0, progress[0][1]]);
  assert.deepEqual(progress.at(-1), [progress[0][1], progress[0][1]]);

  const again = await embed2d(data, dim, { seed: 7 });
  assert.deepEqual(again.x, a.x, 'same seed, same x');
  assert.deepEqual(again.y, a.y, 'same seed, same y');
  const other = await embed2d(data, dim, { seed: 8 });
  assert.notDeepEqual(other.x, a.x, 'the seed is used');
});

test('embed2d: bad input fails with a message naming it', async () => {
  await assert.rejects(embed2d(new Float32Array(0), 4, { seed: 0 }), (e: Error) => e instanceof FigureError && /data: empty/.test(e.message));
  await assert.rejects(embed2d(new Float32Array(12), 4, { seed: 0, method: 'pca' as never }), /method: "pca" is not supported; use "tsne" or "umap"/);
  await assert.rejects(embed2d(new Float32Array(10), 4, { seed: 0 }), /data: length 10 is not a multiple of dim 4/);
  await assert.rejects(embed2d(new Float32Array(8), 0, { seed: 0 }), /dim: expected a positive integer, got 0/);
  await assert.rejects(embed2d(new Float32Array(8), 4, { seed: 0 }), /data: 2 point\(s\); an embedding needs at least 3/);
  await assert.rejects(embed2d(Float32Array.from([0, 0, 0, 0, 0, NaN, 0, 0, 0]), 3, { seed: 0 }), /data: row 1, column 2 is NaN/);
  await assert.rejects(embed2d(new Float32Array(12), 4, { seed: -1 }), /seed: expected an integer in \[0, 2\^32\)/);
  // t-SNE on a tiny input: the perplexity shrinks to fit (it must stay below the point count).
  const tiny = await embed2d(Float32Array.from([0, 0, 1, 0, 0, 1]), 2, { seed: 0, method: 'tsne' });
  assert.ok([...tiny.x, ...tiny.y].every(Number.isFinite));
});
