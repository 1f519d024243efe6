/**
 * Seeded fuzzing of the image reader (vae.preprocess -> the Node backend's file read -> the
 * core's decodeImage (fast-png, jpeg-js, BMP) -> rgbaToPixels with the default options): real
 * PNG, JPEG and BMP files of MNIST digits, mutated (bit flips, overwritten runs, truncation,
 * a valid signature followed by noise), plus random bytes, empty input, text and JSON, and
 * headers that claim huge sizes. Every case must either give one valid model input (784
 * finite values in [0, 1]) or throw a VaeError 'image' whose message starts with the input's
 * name, within a time bound: never another exception type, never a hang, never a huge allocation.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Jimp } from 'jimp';
import { IMAGE_PIXELS, MAX_IMAGE_SIDE, VaeError, loadVae, mulberry32, type Vae } from '../src/index.js';
import { N2, mnistTest, removeDir, tempDir } from './helpers.js';

/** No case may take longer (a 20000x20000 PNG header took ~40 s and 3 GB before the size guard). */
const MAX_MS_PER_CASE = 2000;

interface Case { name: string; bytes: Uint8Array }

/** PNG, JPEG and BMP files of real MNIST digits: grey 28x28, colour with alpha at 56x56, an odd-sized JPEG. */
async function seedFiles(): Promise<Case[]> {
  const { images } = await mnistTest(3);
  const encode = (w: number, h: number, digit: number, rgba: (v: number) => number[], mime: 'image/png' | 'image/jpeg' | 'image/bmp') => {
    const data = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.round(255 * images[digit * IMAGE_PIXELS + Math.floor((y * 28) / h) * 28 + Math.floor((x * 28) / w)]);
        data.set(rgba(v), (y * w + x) * 4);
      }
    }
    const image = Jimp.fromBitmap({ width: w, height: h, data });
    return mime === 'image/jpeg' ? image.getBuffer(mime, { quality: 90 }) : image.getBuffer(mime);
  };
  return [
    { name: 'grey.png', bytes: await encode(28, 28, 0, (v) => [v, v, v, 255], 'image/png') },
    { name: 'alpha.png', bytes: await encode(56, 56, 1, (v) => [255, 200, 100, v], 'image/png') },
    { name: 'odd.jpg', bytes: await encode(61, 47, 2, (v) => [v, 0.6 * v, 0.2 * v, 255], 'image/jpeg') },
    { name: 'grey.bmp', bytes: await encode(28, 28, 0, (v) => [v, v, v, 255], 'image/bmp') },
  ];
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A well-formed (valid CRCs) 8-bit grey PNG header claiming width x height, with a little image data. */
function pngClaiming(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    out.set(data, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grey)
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]);
}

/** A 24-bit BMP header claiming width x height (height < 0: top-down), with 16 bytes of pixels. */
function bmpClaiming(width: number, height: number): Uint8Array {
  const b = Buffer.alloc(54 + 16);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}

/** The JPEG with its frame header (SOF0) rewritten to claim width x height. */
function jpegClaiming(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length;) {
    if (out[i + 1] === 0xc0) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + out.readUInt16BE(i + 2);
  }
  throw new Error('no SOF0 in the seed JPEG');
}

/** The mutated and hostile inputs, in a fixed order for a seed. */
function cases(seeds: Case[], seed: number): { mutated: Case[]; huge: Case[] } {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const mutated: Case[] = [];
  for (const s of seeds) {
    for (let k = 0; k < 25; k++) { // 1-8 flipped bits anywhere, half of them inside the first 64 bytes (headers)
      const b = Uint8Array.from(s.bytes);
      const flips = 1 + int(8);
      for (let f = 0; f < flips; f++) b[k % 2 ? int(Math.min(64, b.length)) : int(b.length)] ^= 1 << int(8);
      mutated.push({ name: `${s.name} with ${flips} bit flips`, bytes: b });
    }
    for (let k = 0; k < 20; k++) { // a run of 1-16 random bytes overwritten
      const b = Uint8Array.from(s.bytes);
      const at = int(b.length);
      b.set(randomBytes(Math.min(1 + int(16), b.length - at)), at);
      mutated.push({ name: `${s.name} overwritten at ${at}`, bytes: b });
    }
    for (let k = 0; k < 20; k++) { // truncated at a random offset
      const at = int(s.bytes.length);
      mutated.push({ name: `${s.name} truncated to ${at} bytes`, bytes: s.bytes.slice(0, at) });
    }
    // The signature and header, then noise.
    mutated.push({ name: `${s.name} header + noise`, bytes: Uint8Array.from([...s.bytes.subarray(0, 40), ...randomBytes(500)]) });
  }
  for (let k = 0; k < 30; k++) mutated.push({ name: `${k + 1} random bytes`, bytes: randomBytes(1 + int(k < 15 ? 16 : 4000)) });
  const text = (name: string, t: string) => mutated.push({ name, bytes: new TextEncoder().encode(t) });
  mutated.push({ name: 'empty', bytes: new Uint8Array(0) });
  text('text', 'this is not an image\n');
  text('JSON', JSON.stringify({ z: [[0.1, 0.2]], note: 'a latent vector, not an image' }));
  text('"PNG" as text', 'PNG image, trust me');
  text('HTML', '<!doctype html><img src="digit.png">');
  text('BM + text', 'BM this starts like a bitmap');

  const jpeg = seeds.find((s) => s.name.endsWith('.jpg'))!.bytes;
  const huge: Case[] = [
    { name: 'PNG claiming 100000x100000', bytes: pngClaiming(100000, 100000) },
    { name: 'PNG claiming 20000x20000', bytes: pngClaiming(20000, 20000) },
    { name: 'PNG claiming 1x1000000', bytes: pngClaiming(1, 1000000) },
    { name: `PNG claiming ${MAX_IMAGE_SIDE + 1}x1`, bytes: pngClaiming(MAX_IMAGE_SIDE + 1, 1) },
    { name: 'PNG claiming 4294967295x4294967295', bytes: pngClaiming(0xffffffff, 0xffffffff) },
    { name: 'BMP claiming 100000x100000', bytes: bmpClaiming(100000, 100000) },
    { name: 'BMP claiming 50000x-50000 (top-down)', bytes: bmpClaiming(50000, -50000) },
    { name: 'JPEG claiming 65535x65535', bytes: jpegClaiming(jpeg, 65535, 65535) },
    { name: 'JPEG claiming 20000x100', bytes: jpegClaiming(jpeg, 20000, 100) },
  ];
  return { mutated, huge };
}

/** Reads one case (as bytes, or as a file for every 8th, so paths are named too); returns what happened. */
async function readOne(vae: Vae, c: Case, i: number, dir: string): Promise<{ outcome: 'image' | 'error'; label: string; ms: number; message?: string }> {
  let source: string | Uint8Array = c.bytes;
  let label = 'images';
  if (i % 8 === 0) {
    source = join(dir, `case-${i}.bin`);
    label = source;
    await writeFile(source, c.bytes);
  }
  const t0 = performance.now();
  try {
    const batch = await vae.preprocess(source);
    const ms = performance.now() - t0;
    assert.equal(batch.count, 1, c.name);
    assert.equal(batch.pixels.length, IMAGE_PIXELS, c.name);
    for (const v of batch.pixels) if (!(v >= 0 && v <= 1)) assert.fail(`${c.name}: decoded to a pixel ${v} outside [0, 1]`);
    return { outcome: 'image', label, ms };
  } catch (err) {
    const ms = performance.now() - t0;
    assert.ok(err instanceof VaeError && err.code === 'image', `${c.name}: expected a VaeError 'image', got ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(err.message.startsWith(`${label}: `), `${c.name}: the message must name the input (${label}), got: ${err.message}`);
    return { outcome: 'error', label, ms, message: err.message };
  }
}

describe('image reader fuzzing (seeded)', { timeout: 120_000 }, () => {
  let dir: string;
  let seeds: Case[];
  let vae: Vae;
  before(async () => {
    dir = await tempDir('vae-fuzz-img-');
    seeds = await seedFiles();
    vae = await loadVae(N2, { device: 'cpu' });
  });
  after(async () => {
    await vae.dispose();
    await removeDir(dir);
  });

  it('the unmutated seed files decode', async () => {
    for (const [i, s] of seeds.entries()) assert.equal((await readOne(vae, s, i + 1, dir)).outcome, 'image', s.name);
  });

  it('mutated files, random bytes, empty input, text and JSON: a valid image or a VaeError \'image\' naming the input', async (t) => {
    const { mutated } = cases(seeds, 20240501);
    const tally = { image: 0, error: 0 };
    let slowest = { ms: 0, name: '' };
    for (const [i, c] of mutated.entries()) {
      const r = await readOne(vae, c, i, dir);
      tally[r.outcome]++;
      assert.ok(r.ms < MAX_MS_PER_CASE, `${c.name}: took ${r.ms.toFixed(0)} ms`);
      if (r.ms > slowest.ms) slowest = { ms: r.ms, name: c.name };
    }
    assert.ok(tally.error > 0 && tally.image > 0, JSON.stringify(tally));
    t.diagnostic(`${mutated.length} cases: ${tally.image} decoded to a valid image, ${tally.error} VaeErrors 'image'; slowest ${slowest.ms.toFixed(0)} ms (${slowest.name})`);
  });

  it(`headers claiming huge sizes are refused before decoding (largest side ${MAX_IMAGE_SIDE})`, async () => {
    const { huge } = cases(seeds, 20240501);
    for (const [i, c] of huge.entries()) {
      const r = await readOne(vae, c, i, dir);
      assert.equal(r.outcome, 'error', `${c.name} was decoded`);
      assert.match(r.message!, new RegExp(`: \\d+x\\d+ pixels is too large: images up to ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE} are read`), c.name);
      assert.ok(r.ms < 200, `${c.name}: took ${r.ms.toFixed(0)} ms, so it was not refused from the header`);
    }
  });
});
