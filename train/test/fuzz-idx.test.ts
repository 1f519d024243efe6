/**
 * Bounded, seeded fuzzing of the IDX reader: thousands of truncated, mutated and random
 * inputs. Every one must end in a parsed array whose size matches the bytes present or
 * a DataError: no other exception, no hang, and no allocation sized from the header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError, gunzipBytes, isGzip, parseIdx } from '../src/data/idx.js';
import { resolveDataDir } from '../src/data/datasets.js';
import { mulberry32 } from '../src/random.js';

const mnist = resolveDataDir({ dataset: 'mnist' }).dir;
// A small but real IDX file: the first 50 test images, with the header count fixed up.
const fullImages = gunzipSync(await readFile(join(mnist, 't10k-images-idx3-ubyte.gz')));
const images = new Uint8Array(16 + 50 * 784);
images.set(fullImages.subarray(0, images.length));
new DataView(images.buffer).setUint32(4, 50);
const labels = new Uint8Array(gunzipSync(await readFile(join(mnist, 't10k-labels-idx1-ubyte.gz'))).subarray(0, 8 + 50));
new DataView(labels.buffer).setUint32(4, 50);

const SEED = 20261125;
const rand = mulberry32(SEED);
const int = (n: number) => Math.floor(rand() * n);

/** One random mutation of a copy of `bytes`. */
function mutate(bytes: Uint8Array): Uint8Array {
  switch (int(6)) {
    case 0: return bytes.slice(0, int(bytes.length)); // truncate anywhere
    case 1: { const c = bytes.slice(); for (let k = int(8) + 1; k > 0; k--) c[int(Math.min(c.length, 40))] = int(256); return c; } // header bytes
    case 2: { const c = bytes.slice(); for (let k = int(16) + 1; k > 0; k--) c[int(c.length)] ^= 1 << int(8); return c; } // bit flips
    case 3: { const c = new Uint8Array(bytes.length + int(64) + 1); c.set(bytes); return c; } // trailing bytes
    case 4: { const c = bytes.slice(); new DataView(c.buffer).setUint32(4 + 4 * int(3), rand() * 2 ** 32); return c; } // a huge or negative dim
    default: return Uint8Array.from({ length: int(64) }, () => int(256)); // random short file
  }
}

/** What reading a file does after reading its bytes: gunzip when gzipped, then parse. */
async function parseAny(bytes: Uint8Array): Promise<void> {
  const raw = isGzip(bytes) ? await gunzipBytes(bytes, 'fuzz') : bytes;
  const parsed = parseIdx(raw, 'fuzz');
  // Anything accepted is self-consistent: the dims account for exactly the bytes present.
  assert.equal(parsed.data.length, parsed.dims.reduce((a, b) => a * b, 1));
  assert.ok(parsed.data.buffer === raw.buffer, 'parsed data must be a view, not a copy');
}

async function fuzz(name: string, cases: number, make: () => Uint8Array) {
  let accepted = 0, rejected = 0;
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  for (let i = 0; i < cases; i++) {
    const input = make();
    try {
      await parseAny(input);
      accepted++;
    } catch (err) {
      if (!(err instanceof DataError)) throw new Error(`${name} case ${i} (seed ${SEED}): ${String(err)}`);
      assert.match(err.message, /^fuzz: /, 'every message names the file');
      rejected++;
    }
  }
  const grownMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
  const seconds = (performance.now() - started) / 1000;
  console.log(`fuzz ${name}: ${cases} cases, ${accepted} accepted, ${rejected} rejected, ${seconds.toFixed(1)} s, +${grownMiB.toFixed(1)} MiB`);
  assert.equal(accepted + rejected, cases);
  assert.ok(seconds < 60, `fuzzing ${name} took ${seconds} s: something is slow or hanging`);
  return { accepted, rejected };
}

test('mutated raw IDX files: only DataErrors', async () => {
  const r = await fuzz('raw', 3000, () => mutate(rand() < 0.5 ? images : labels));
  assert.ok(r.rejected > 2000, 'most mutations must be caught');
});

test('mutated gzipped IDX files: only DataErrors', async () => {
  const gzImages = gzipSync(images), gzLabels = gzipSync(labels);
  // Half damage the compressed stream, half compress a damaged file (reaching the parser).
  const r = await fuzz('gzip', 1000, () => rand() < 0.5 ? mutate(rand() < 0.5 ? gzImages : gzLabels) : gzipSync(mutate(rand() < 0.5 ? images : labels)));
  assert.ok(r.accepted > 0 && r.rejected > 500);
});

test('random bytes: only DataErrors', async () => {
  await fuzz('random', 2000, () => Uint8Array.from({ length: int(300) }, () => int(256)));
});

test('a header claiming 10^9 images allocates nothing and says what it found', () => {
  const header = new Uint8Array(16 + 784);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x803); view.setUint32(4, 1e9); view.setUint32(8, 28); view.setUint32(12, 28);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => parseIdx(header, 'huge'), (err: unknown) =>
    err instanceof DataError && /huge: truncated data: expected 784000000000 bytes of data for 1000000000x28x28, found 784/.test(err.message));
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
});
