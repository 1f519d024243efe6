// Dataset loading against the real MNIST (read-only, ../shared/datasets/mnist) and
// Fashion-MNIST (/usr/share/datasets/fashion-mnist) files, plus corrupted copies built
// in temp folders, data-folder resolution, and downloads through an injected fetch.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DATASETS, SPLIT_FILES, cacheDir, downloadDataset, findIdxFile, loadDataset, resolveDataDir } from '../src/data/datasets.js';
import { DataError } from '../src/data/idx.js';

// The development layout: the repository sits next to shared/ (see ../shared/datasets/mnist).
const MNIST_DIR = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'datasets', 'mnist');
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const TEST_IMAGES = 't10k-images-idx3-ubyte';
const TEST_LABELS = 't10k-labels-idx1-ubyte';

const testImagesGz = await readFile(join(MNIST_DIR, `${TEST_IMAGES}.gz`));
const testLabelsGz = await readFile(join(MNIST_DIR, `${TEST_LABELS}.gz`));
const testImages = new Uint8Array(gunzipSync(testImagesGz));
const testLabels = new Uint8Array(gunzipSync(testLabelsGz));

const tmpRoot = await mkdtemp(join(tmpdir(), 'vae-datasets-test-'));
after(() => rm(tmpRoot, { recursive: true, force: true }));

/** `dir` and every folder above it, up to the root. */
function ancestors(dir: string): string[] {
  const out = [resolve(dir)];
  while (dirname(out.at(-1)!) !== out.at(-1)) out.push(dirname(out.at(-1)!));
  return out;
}

let dirCount = 0;
/** A fresh temp folder holding the given files (name -> bytes). */
async function makeDir(files: Record<string, Uint8Array>): Promise<string> {
  const dir = join(tmpRoot, `case-${++dirCount}`);
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return dir;
}

/** A labels IDX file holding `values`. */
function labelsFile(values: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(8 + values.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x801);
  view.setUint32(4, values.length);
  bytes.set(values, 8);
  return bytes;
}

async function assertDataError(fn: () => Promise<unknown>, parts: string[]): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" should mention "${part}"`);
    return true;
  });
}

test('the hard-coded MNIST checksums are the ones in the shared SHA256SUMS', async () => {
  const sums = await readFile(join(MNIST_DIR, 'SHA256SUMS'), 'utf8');
  const table = Object.fromEntries(
    sums.trim().split('\n').map((line) => {
      const [hash, name] = line.trim().split(/\s+/);
      return [name, hash];
    }),
  );
  assert.deepEqual(table, DATASETS.mnist.sha256);
});

test('real MNIST training set: counts, first labels, pixel statistics', async () => {
  const data = await loadDataset({ split: 'train', env: {} });
  assert.equal(data.source, 'shared');
  assert.equal(data.name, 'mnist');
  assert.equal(data.count, 60000);
  assert.equal(data.rows, 28);
  assert.equal(data.cols, 28);
  assert.equal(data.images.length, 60000 * 28 * 28);
  assert.equal(data.labels.length, 60000);
  assert.deepEqual(Array.from(data.labels.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  assert.equal(data.sha256.images, DATASETS.mnist.sha256['train-images-idx3-ubyte']);
  assert.equal(data.sha256.labels, DATASETS.mnist.sha256['train-labels-idx1-ubyte']);

  let sum = 0;
  let sumSquares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of data.images) {
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / data.images.length;
  const std = Math.sqrt(sumSquares / data.images.length - mean * mean);
  assert.ok(Math.abs(mean - 0.1306605) < 1e-6, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.3081078) < 1e-6, `std ${std}`);
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('real MNIST test set has 10000 examples', async () => {
  const data = await loadDataset({ dataset: 'mnist', split: 'test', env: {} });
  assert.equal(data.count, 10000);
  assert.equal(data.labels.length, 10000);
  assert.deepEqual(Array.from(data.labels.subarray(0, 5)), [7, 2, 1, 0, 4]);
});

test('Fashion-MNIST loads from the Debian package folder', { skip: !existsSync(FASHION_DIR) && `${FASHION_DIR} not installed` }, async () => {
  const train = await loadDataset({ dataset: 'fashion-mnist', split: 'train', env: {} });
  assert.equal(train.source, 'system');
  assert.equal(train.dir, FASHION_DIR);
  assert.equal(train.count, 60000);
  const testSet = await loadDataset({ dataset: 'fashion-mnist', split: 'test', env: {} });
  assert.equal(testSet.count, 10000);
  assert.equal(testSet.sha256.images, DATASETS['fashion-mnist'].sha256[TEST_IMAGES]);
});

test('data folder resolution: option, then VAE_DATA_DIR, then shared, then cache', () => {
  const env = { VAE_DATA_DIR: '/from/env', XDG_CACHE_HOME: '/xdg' };
  assert.deepEqual(resolveDataDir({ dataDir: '/from/option', env }), { dataset: 'mnist', dir: '/from/option', source: 'option' });
  assert.deepEqual(resolveDataDir({ env }), { dataset: 'mnist', dir: '/from/env', source: 'env' });

  const shared = resolveDataDir({ env: {} });
  assert.equal(shared.source, 'shared');
  assert.equal(shared.dir, MNIST_DIR);
  // Found from this module's own location too, wherever the process was started.
  assert.equal(resolveDataDir({ env: {}, searchFrom: [join(import.meta.dirname, '..', 'src')] }).dir, MNIST_DIR);

  // No search at all: straight to the cache.
  assert.deepEqual(resolveDataDir({ env: { XDG_CACHE_HOME: '/xdg' }, searchFrom: [] }), { dataset: 'mnist', dir: '/xdg/vae-pipeline/mnist', source: 'cache' });
  // The walk from a temp folder goes up to the filesystem root and finds the first
  // shared/datasets/mnist above it: usually none (then the cache), but a checkout in /tmp
  // with /tmp/shared beside it has one, and finding it there is right too.
  const sharedAboveTmp = ancestors(tmpRoot).map((d) => join(d, 'shared', 'datasets', 'mnist')).find((d) => existsSync(d));
  assert.deepEqual(
    resolveDataDir({ env: { XDG_CACHE_HOME: '/xdg' }, searchFrom: [tmpRoot] }),
    sharedAboveTmp ? { dataset: 'mnist', dir: sharedAboveTmp, source: 'shared' } : { dataset: 'mnist', dir: '/xdg/vae-pipeline/mnist', source: 'cache' },
  );
  assert.equal(cacheDir('mnist', {}), join(homedir(), '.cache', 'vae-pipeline', 'mnist'));
  assert.equal(cacheDir('fashion-mnist', { XDG_CACHE_HOME: 'relative' }), join(homedir(), '.cache', 'vae-pipeline', 'fashion-mnist'));
});

test('fashion-mnist resolves to the system folder, and never to the shared MNIST folder', { skip: !existsSync(FASHION_DIR) && `${FASHION_DIR} not installed` }, () => {
  assert.deepEqual(resolveDataDir({ dataset: 'fashion-mnist', env: {} }), {
    dataset: 'fashion-mnist',
    dir: FASHION_DIR,
    source: 'system',
  });
});

test('raw (not gzipped) files load, and a raw file is preferred over its .gz', async () => {
  const dir = await makeDir({ [TEST_IMAGES]: testImages, [TEST_LABELS]: testLabels, [`${TEST_LABELS}.gz`]: testLabelsGz });
  assert.equal(findIdxFile(dir, TEST_LABELS), join(dir, TEST_LABELS));
  const data = await loadDataset({ dataDir: dir, split: 'test' });
  assert.equal(data.source, 'option');
  assert.equal(data.count, 10000);
  assert.equal(data.files.images, join(dir, TEST_IMAGES));
  assert.equal(data.sha256.images, DATASETS.mnist.sha256[TEST_IMAGES]);

  // VAE_DATA_DIR works the same way.
  const viaEnv = await loadDataset({ split: 'test', env: { VAE_DATA_DIR: dir } });
  assert.equal(viaEnv.source, 'env');
  assert.equal(viaEnv.dir, dir);
});

test('labels where images should be: bad magic', async () => {
  const dir = await makeDir({ [TEST_IMAGES]: testLabels, [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, TEST_IMAGES),
    'bad magic 0x00000801: expected 0x00000803 (IDX uint8, 3 dims)',
  ]);
});

test('truncated images: expected and found byte counts', async () => {
  const dir = await makeDir({ [`${TEST_IMAGES}.gz`]: gzipSync(testImages.subarray(0, 16 + 784 * 500)), [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, `${TEST_IMAGES}.gz`),
    'truncated data: expected 7840000 bytes of data for 10000x28x28, found 392000',
  ]);
});

test('trailing bytes after the images', async () => {
  const longer = new Uint8Array(testImages.length + 5);
  longer.set(testImages);
  const dir = await makeDir({ [TEST_IMAGES]: longer, [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, TEST_IMAGES),
    'expected 7840000 bytes of data for 10000x28x28, found 7840005 (5 extra)',
  ]);
});

test('a header claiming 10^9 images fails before anything is allocated for it', async () => {
  const huge = testImages.slice();
  new DataView(huge.buffer).setUint32(4, 1e9);
  const dir = await makeDir({ [TEST_IMAGES]: huge, [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, TEST_IMAGES),
    'expected 784000000000 bytes of data for 1000000000x28x28, found 7840000',
  ]);
});

test('a changed pixel: checksum mismatch with both hashes', async () => {
  const altered = testImages.slice();
  altered[5000] ^= 1;
  const dir = await makeDir({ [`${TEST_IMAGES}.gz`]: gzipSync(altered), [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    `${join(dir, `${TEST_IMAGES}.gz`)}: checksum mismatch: expected sha256 ${DATASETS.mnist.sha256[TEST_IMAGES]}, found `,
    '(the file is corrupt or not the canonical MNIST file)',
  ]);
  // MNIST files offered as Fashion-MNIST are caught the same way.
  const mnistDir = await makeDir({ [TEST_IMAGES]: testImages, [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataset: 'fashion-mnist', dataDir: mnistDir, split: 'test' }), [
    'not the canonical Fashion-MNIST file',
  ]);
});

test('image and label counts differ: both files and both counts are named', async () => {
  const dir = await makeDir({ [TEST_IMAGES]: testImages, [TEST_LABELS]: labelsFile(testLabels.subarray(0, 9999)) });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test', verifyChecksums: false }), [
    join(dir, TEST_IMAGES),
    join(dir, TEST_LABELS),
    'found 10000 images and 9999 labels',
  ]);
});

test('a label outside 0..9 is rejected', async () => {
  const values = testLabels.slice(8);
  values[42] = 12;
  const dir = await makeDir({ [TEST_IMAGES]: testImages, [TEST_LABELS]: labelsFile(values) });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test', verifyChecksums: false }), [
    `${join(dir, TEST_LABELS)}: bad label at index 42: expected 0 to 9, found 12`,
  ]);
});

test('a missing file names the path, the names looked for, and what to do', async () => {
  const dir = await makeDir({ [TEST_IMAGES]: testImages });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, `${TEST_LABELS}.gz`),
    `expected ${TEST_LABELS}.gz or ${TEST_LABELS} in ${dir} (from --data-dir), found neither`,
    'point --data-dir (or VAE_DATA_DIR) at a folder holding the four IDX files instead',
  ]);
});

test('a corrupt .gz is reported as such', async () => {
  const dir = await makeDir({ [`${TEST_IMAGES}.gz`]: testImagesGz.subarray(0, 1000), [TEST_LABELS]: testLabels });
  await assertDataError(() => loadDataset({ dataDir: dir, split: 'test' }), [
    join(dir, `${TEST_IMAGES}.gz`),
    'corrupt gzip data: expected a valid gzip stream, found',
  ]);
});

/** A fetch that serves the real MNIST .gz files from the shared folder for the given URL prefix, and 404s otherwise. */
function fakeFetch(prefix: string, calls: string[]): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    if (!url.startsWith(prefix)) return new Response('no such bucket', { status: 404, statusText: 'Not Found' });
    const bytes = await readFile(join(MNIST_DIR, url.slice(prefix.length)));
    return new Response(bytes, { headers: { 'content-length': String(bytes.length) } });
  }) as typeof fetch;
}

test('download failure names every URL tried and suggests --data-dir; nothing is left behind', async () => {
  const xdg = join(tmpRoot, 'xdg-fail');
  const failing = (async (input: string | URL | Request) => {
    if (String(input).includes('ossci')) throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND') });
    return new Response('denied', { status: 403, statusText: 'Forbidden' });
  }) as typeof fetch;

  await assertDataError(
    () => loadDataset({ split: 'test', fetch: failing, env: { XDG_CACHE_HOME: xdg }, searchFrom: [] }),
    [
      join(xdg, 'vae-pipeline', 'mnist', `${TEST_IMAGES}.gz`),
      `https://ossci-datasets.s3.amazonaws.com/mnist/${TEST_IMAGES}.gz: fetch failed: getaddrinfo ENOTFOUND`,
      `https://storage.googleapis.com/cvdf-datasets/mnist/${TEST_IMAGES}.gz: HTTP 403 Forbidden`,
      'point --data-dir (or VAE_DATA_DIR) at a folder holding the four IDX files instead',
    ],
  );
  assert.deepEqual(await readdir(join(xdg, 'vae-pipeline', 'mnist')), []);
});

test('download success: verified files land in $XDG_CACHE_HOME/vae-pipeline/mnist and are reused', async () => {
  const xdg = join(tmpRoot, 'xdg-ok');
  const calls: string[] = [];
  const progress: number[] = [];
  // The first mirror is down; the second serves the real files.
  const fetchFn = fakeFetch('https://storage.googleapis.com/cvdf-datasets/mnist/', calls);
  const options = {
    split: 'test' as const,
    fetch: fetchFn,
    env: { XDG_CACHE_HOME: xdg },
    searchFrom: [], // no shared folder, whatever lies above the temp folder
    onProgress: (p: { receivedBytes: number }) => progress.push(p.receivedBytes),
  };

  const data = await loadDataset(options);
  const dir = join(xdg, 'vae-pipeline', 'mnist');
  assert.equal(data.source, 'cache');
  assert.equal(data.dir, dir);
  assert.equal(data.count, 10000);
  assert.equal(data.sha256.images, DATASETS.mnist.sha256[TEST_IMAGES]);
  assert.deepEqual((await readdir(dir)).sort(), [`${TEST_IMAGES}.gz`, `${TEST_LABELS}.gz`]);
  assert.deepEqual(calls, [
    `https://ossci-datasets.s3.amazonaws.com/mnist/${TEST_IMAGES}.gz`,
    `https://storage.googleapis.com/cvdf-datasets/mnist/${TEST_IMAGES}.gz`,
    `https://ossci-datasets.s3.amazonaws.com/mnist/${TEST_LABELS}.gz`,
    `https://storage.googleapis.com/cvdf-datasets/mnist/${TEST_LABELS}.gz`,
  ]);
  assert.ok(progress.length > 0);
  assert.equal(progress.at(-1), testLabelsGz.length);

  // Second load: served from the cache, no fetching.
  const again = await loadDataset(options);
  assert.equal(again.count, 10000);
  assert.equal(calls.length, 4);
});

test('a download with the wrong content is rejected and the next mirror is used', async () => {
  const dir = join(tmpRoot, 'mirror-fallback');
  const calls: string[] = [];
  const fetchFn = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    // The first mirror serves the training labels under the test labels' name.
    const file = url.includes('ossci') ? 'train-labels-idx1-ubyte.gz' : `${TEST_LABELS}.gz`;
    return new Response(await readFile(join(MNIST_DIR, file)));
  }) as typeof fetch;

  // Labels only: pre-place the images so just one file is fetched.
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${TEST_IMAGES}.gz`), testImagesGz);
  const written = await downloadDataset({ dir, split: 'test', fetch: fetchFn });
  assert.deepEqual(written, [join(dir, `${TEST_LABELS}.gz`)]);
  assert.equal(calls.length, 2);

  // With only bad mirrors, the checksum failure is part of the message.
  const badOnly = (async () => new Response(await readFile(join(MNIST_DIR, 'train-labels-idx1-ubyte.gz')))) as typeof fetch;
  const emptyDir = join(tmpRoot, 'mirror-bad');
  await assertDataError(() => downloadDataset({ dir: emptyDir, split: 'test', fetch: badOnly }), [
    `checksum mismatch: expected sha256 ${DATASETS.mnist.sha256[SPLIT_FILES.test.images]}`,
  ]);
  assert.deepEqual(await readdir(emptyDir), []);
});
