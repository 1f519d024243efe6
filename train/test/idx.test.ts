// IDX parsing and file reading, against the real MNIST test files and corrupted copies
// of them built in a temp folder.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError, parseIdx, readIdxFile } from '../src/data/idx.js';

// The development layout: the repository sits next to shared/ (see ../shared/datasets/mnist).
const MNIST_DIR = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'datasets', 'mnist');
const IMAGES_SHA256 = '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7';

const imagesGz = await readFile(join(MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
const images = new Uint8Array(gunzipSync(imagesGz));
const labels = new Uint8Array(gunzipSync(await readFile(join(MNIST_DIR, 't10k-labels-idx1-ubyte.gz'))));

const tmp = await mkdtemp(join(tmpdir(), 'vae-idx-test-'));
after(() => rm(tmp, { recursive: true, force: true }));

/** A copy of `bytes` with the big-endian int32 at `offset` replaced. */
function withInt32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(offset, value >>> 0);
  return copy;
}

/** Asserts that `fn` throws a DataError whose message contains every one of `parts`. */
async function assertDataError(fn: () => unknown, parts: string[]): Promise<void> {
  await assert.rejects(async () => fn(), (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" should mention "${part}"`);
    return true;
  });
}

test('parses the real MNIST test images and labels as views, not copies', () => {
  const parsedImages = parseIdx(images, 'images');
  assert.deepEqual(parsedImages.dims, [10000, 28, 28]);
  assert.equal(parsedImages.dtype, 'uint8');
  assert.equal(parsedImages.data.length, 10000 * 28 * 28);
  assert.equal(parsedImages.data.buffer, images.buffer);
  assert.equal(parsedImages.data.byteOffset, images.byteOffset + 16);

  const parsedLabels = parseIdx(labels, 'labels', { expectMagic: 0x801 });
  assert.deepEqual(parsedLabels.dims, [10000]);
  assert.deepEqual(Array.from(parsedLabels.data.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
});

test('bad magic names the found and expected magic', async () => {
  const bytes = withInt32(images, 0, 0x903);
  await assertDataError(() => parseIdx(bytes, 'x/images', { expectMagic: 0x803 }), [
    'x/images: bad magic 0x00000903: expected 0x00000803 (IDX uint8, 3 dims)',
  ]);
  // A labels file where images were expected.
  await assertDataError(() => parseIdx(labels, 'x/labels', { expectMagic: 0x803 }), [
    'x/labels',
    'bad magic 0x00000801',
    'expected 0x00000803',
  ]);
});

test('header checks: non-IDX bytes, unsupported type, dimension count, short header', async () => {
  await assertDataError(() => parseIdx(new Uint8Array([0, 0, 8]), 'f'), ['f:', 'expected at least 4 bytes, found 3']);
  await assertDataError(() => parseIdx(imagesGz, 'f.gz'), ['f.gz:', 'not an IDX file', 'found 0x1f 0x8b']);
  await assertDataError(() => parseIdx(withInt32(images, 0, 0x0d03), 'f'), [
    'unsupported IDX data type 0x0d (float32)',
    'expected 0x08 (uint8)',
  ]);
  await assertDataError(() => parseIdx(new Uint8Array([0, 0, 8, 0]), 'f'), ['expected 1 to 4, found 0']);
  await assertDataError(() => parseIdx(new Uint8Array([0, 0, 8, 5]), 'f'), ['expected 1 to 4, found 5']);
  await assertDataError(() => parseIdx(images.subarray(0, 10), 'f'), [
    'header truncated',
    'expected 16 header bytes for 3 dims, found 10',
  ]);
});

test('zero and negative dimensions are rejected', async () => {
  await assertDataError(() => parseIdx(withInt32(images, 8, 0), 'f'), ['f: dimension 1 is 0: expected a positive size']);
  await assertDataError(() => parseIdx(withInt32(labels, 4, -1), 'f'), ['dimension 0 is -1']);
});

test('truncated data and trailing bytes report expected and found byte counts', async () => {
  await assertDataError(() => parseIdx(labels.subarray(0, labels.length - 10), 'labels'), [
    'labels: truncated data: expected 10000 bytes of data for 10000, found 9990',
  ]);
  const longer = new Uint8Array(labels.length + 3);
  longer.set(labels);
  await assertDataError(() => parseIdx(longer, 'labels'), [
    'labels: trailing bytes after data: expected 10000 bytes of data for 10000, found 10003 (3 extra)',
  ]);
});

test('a header claiming 10^9 images is an error, not an allocation', async () => {
  const huge = withInt32(images, 4, 1e9);
  const hugeLabels = withInt32(labels, 4, 1e9);
  const before = process.memoryUsage().arrayBuffers;
  await assertDataError(() => parseIdx(huge, 'images'), [
    'expected 784000000000 bytes of data for 1000000000x28x28, found 7840000',
  ]);
  await assertDataError(() => parseIdx(hugeLabels, 'labels'), ['expected 1000000000 bytes of data', 'found 10000']);
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 1024 * 1024, `parsing allocated ${grown} bytes`);
});

test('readIdxFile reads .gz and raw files, verifies the checksum and the magic', async () => {
  const gz = await readIdxFile(join(MNIST_DIR, 't10k-images-idx3-ubyte.gz'), {
    sha256: IMAGES_SHA256,
    expectMagic: 0x803,
  });
  assert.deepEqual(gz.dims, [10000, 28, 28]);
  assert.equal(gz.sha256, IMAGES_SHA256);

  const rawPath = join(tmp, 'images-raw');
  await writeFile(rawPath, images);
  const raw = await readIdxFile(rawPath, { sha256: IMAGES_SHA256 });
  assert.equal(raw.sha256, IMAGES_SHA256);
  assert.deepEqual(raw.data, gz.data);

  // Gzip is recognised by content, not by name.
  const oddName = join(tmp, 'images.bin');
  await writeFile(oddName, imagesGz);
  assert.equal((await readIdxFile(oddName, { sha256: IMAGES_SHA256 })).sha256, IMAGES_SHA256);

  await assertDataError(() => readIdxFile(rawPath, { expectMagic: 0x801 }), [
    rawPath,
    'bad magic 0x00000803: expected 0x00000801 (IDX uint8, 1 dim)',
  ]);
});

test('readIdxFile: checksum mismatch names the file and both hashes', async () => {
  const altered = images.slice();
  altered[1000] ^= 0xff;
  const path = join(tmp, 't10k-images-idx3-ubyte.gz');
  await writeFile(path, gzipSync(altered));
  await assertDataError(() => readIdxFile(path, { sha256: IMAGES_SHA256, canonicalName: 'MNIST' }), [
    `${path}: checksum mismatch: expected sha256 ${IMAGES_SHA256}, found `,
    '(the file is corrupt or not the canonical MNIST file)',
  ]);
});

test('readIdxFile: missing file and corrupt gzip', async () => {
  const missing = join(tmp, 'nope-idx3-ubyte.gz');
  await assertDataError(() => readIdxFile(missing), [missing, 'file not found', 'expected an IDX file']);

  const cut = join(tmp, 'cut.gz');
  await writeFile(cut, imagesGz.subarray(0, imagesGz.length / 2));
  await assertDataError(() => readIdxFile(cut), [cut, 'corrupt gzip data: expected a valid gzip stream, found']);

  const flipped = imagesGz.slice();
  for (let i = 1000; i < 1100; i++) flipped[i] ^= 0x5a;
  const flippedPath = join(tmp, 'flipped.gz');
  await writeFile(flippedPath, flipped);
  await assertDataError(() => readIdxFile(flippedPath), [flippedPath, 'corrupt gzip data']);
});
