/**
 * Image I/O on real MNIST test digits turned into PNG / JPEG / BMP files with jimp, in odd
 * sizes, colours and with alpha; --invert; non-square images; grids; files that are not images.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Jimp } from 'jimp';
import {
  IMAGE_PIXELS, ImageError, Vae, batchToGray, gridLayout, readImages, resizeArea, rgbaToInput, writePng, type ImageBatch,
} from '../src/index.js';
import { N64, maxAbsDiff, mnistTest, removeDir, tempDir } from './helpers.js';

type Rgba = [number, number, number, number];

/** Encodes a w x h image whose pixel (x, y) is f(x, y) as PNG / JPEG / BMP bytes. */
async function makeImage(w: number, h: number, f: (x: number, y: number) => Rgba, mime: 'image/png' | 'image/jpeg' | 'image/bmp'): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 4);
  const image = Jimp.fromBitmap({ width: w, height: h, data });
  return mime === 'image/jpeg' ? image.getBuffer(mime, { quality: 95 }) : image.getBuffer(mime);
}

/** 8-bit pixel (x, y) of digit i, upscaled by `k` (nearest). */
const pixel = (digits: Float32Array, i: number, k = 1) => (x: number, y: number) =>
  Math.round(digits[i * IMAGE_PIXELS + Math.floor(y / k) * 28 + Math.floor(x / k)] * 255);

describe('image files -> model input', () => {
  let dir: string;
  let digits: Float32Array;
  const one = (i: number) => digits.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
  before(async () => {
    dir = await tempDir();
    digits = (await mnistTest(8)).images;
  });
  after(async () => { await removeDir(dir); });

  it('a 28x28 grayscale PNG of an MNIST digit round-trips to the same pixels, and encodes like the raw array', async () => {
    const path = join(dir, 'digit0.png');
    const p = pixel(digits, 0);
    await writeFile(path, await makeImage(28, 28, (x, y) => [p(x, y), p(x, y), p(x, y), 255], 'image/png'));
    const batch = await readImages(path);
    assert.equal(batch.count, 1);
    assert.deepEqual([batch.height, batch.width], [28, 28]);
    assert.ok(maxAbsDiff(batch.data, one(0)) <= 1 / 255 / 2, 'pixels differ');
    assert.deepEqual(batch.data, one(0), 'expected bit-identical pixels (p / 255 as float32)');

    const vae = await Vae.load(N64, { executionProvider: 'cpu' });
    try {
      const fromFile = await vae.encode(path);
      const fromArray = await vae.encode(one(0));
      assert.deepEqual(fromFile.mu, fromArray.mu);
      assert.deepEqual(fromFile.logvar, fromArray.logvar);
    } finally {
      await vae.release();
    }
  });

  it('colour, upscaled, BMP and alpha versions give the same pixels', async () => {
    const files: { name: string; bytes: Buffer; tolerance: number }[] = [];
    // RGB with equal channels, 3x larger (84x84): area resampling averages 3x3 equal pixels.
    const p1 = pixel(digits, 1, 3);
    files.push({ name: 'rgb84.png', bytes: await makeImage(84, 84, (x, y) => [p1(x, y), p1(x, y), p1(x, y), 255], 'image/png'), tolerance: 1e-6 });
    // BMP (no alpha channel), 28x28.
    const p2 = pixel(digits, 2);
    files.push({ name: 'digit2.bmp', bytes: await makeImage(28, 28, (x, y) => [p2(x, y), p2(x, y), p2(x, y), 255], 'image/bmp'), tolerance: 1e-6 });
    // White ink whose alpha is the digit, 56x56: composited on black, it is the digit.
    const p3 = pixel(digits, 3, 2);
    files.push({ name: 'alpha56.png', bytes: await makeImage(56, 56, (x, y) => [255, 255, 255, p3(x, y)], 'image/png'), tolerance: 1e-6 });
    const expected = [one(1), one(2), one(3)];
    for (const [k, f] of files.entries()) {
      await writeFile(join(dir, f.name), f.bytes);
      const batch = await readImages(join(dir, f.name));
      const err = maxAbsDiff(batch.data, expected[k]);
      assert.ok(err <= f.tolerance, `${f.name}: max error ${err}`);
    }
  });

  it('a coloured JPEG of odd size (61x47) is grayscale by BT.601 luminance, padded and resized', async () => {
    // Red-tinted digit (R = p, G = 0.6 p, B = 0.2 p): luminance = p * (0.299 + 0.587*0.6 + 0.114*0.2).
    const w = 61, h = 47;
    const p = pixel(digits, 4);
    // The digit is resampled onto 47x47 and centred in the 61-wide frame (black margins of 7).
    const f = (x: number, y: number): Rgba => {
      const xx = x - 7;
      if (xx < 0 || xx >= 47) return [0, 0, 0, 255];
      const v = p(Math.min(27, Math.floor((xx * 28) / 47)), Math.min(27, Math.floor((y * 28) / 47)));
      return [v, Math.round(0.6 * v), Math.round(0.2 * v), 255];
    };
    await writeFile(join(dir, 'odd.jpg'), await makeImage(w, h, f, 'image/jpeg'));
    const batch = await readImages(join(dir, 'odd.jpg'));
    // The same bitmap before JPEG compression, through the same rules.
    const raw = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(f(x, y), (y * w + x) * 4);
    const exact = rgbaToInput({ width: w, height: h, data: raw }).pixels;
    const meanAbs = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    assert.ok(meanAbs(batch.data, exact) < 0.01, `JPEG: mean abs error ${meanAbs(batch.data, exact)}`);
    // And it is the digit: tinted ink has BT.601 luminance gain x the grey level, and 'contain'
    // pads the 61x47 frame to 61x61, so the 47-pixel digit shrinks by 47 / 61 in each direction.
    const gain = 0.299 + 0.587 * 0.6 + 0.114 * 0.2;
    const ink = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
    const ratio = ink(exact) / (gain * ink(one(4)) * (47 / 61) ** 2);
    assert.ok(Math.abs(ratio - 1) < 0.1, `ink ratio ${ratio}`);
  });

  it('a non-square image is padded to a square (contain), keeping the digit where it was', async () => {
    // The digit 3x larger (84x84), with 6 black rows cut from top and bottom: 84 wide, 72 tall.
    const i = [0, 1, 2, 3, 4, 5, 6, 7].find((k) => [0, 1, 26, 27].every((r) => one(k).subarray(r * 28, r * 28 + 28).every((v) => v === 0)))!;
    assert.ok(i !== undefined, 'needs a digit with black rows 0, 1, 26 and 27');
    const p = pixel(digits, i, 3);
    const bytes = await makeImage(84, 72, (x, y) => [p(x, y + 6), p(x, y + 6), p(x, y + 6), 255], 'image/png');
    const batch = await readImages(bytes);
    assert.ok(maxAbsDiff(batch.data, one(i)) <= 1e-6);
    // fill: stretched instead, so the digit is no longer the same.
    const stretched = await readImages(bytes, { fit: 'fill' });
    assert.ok(maxAbsDiff(stretched.data, one(i)) > 0.1);
  });

  it('--invert: a dark digit on white becomes the MNIST digit; without it, a bright-border warning', async () => {
    const p = pixel(digits, 5);
    const bytes = await makeImage(28, 28, (x, y) => [255 - p(x, y), 255 - p(x, y), 255 - p(x, y), 255], 'image/png');
    const warnings: string[] = [];
    const inverted = await readImages(bytes, { invert: true, onWarning: (w) => warnings.push(w) });
    assert.ok(maxAbsDiff(inverted.data, one(5)) <= 1e-6);
    assert.equal(warnings.length, 0);
    const plain = await readImages(bytes, { onWarning: (w) => warnings.push(w) });
    assert.ok(maxAbsDiff(plain.data, one(5).map((v) => 1 - v)) <= 1e-6);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /border is bright.*--invert/);
    // Transparent background with --invert: composited on white, then inverted -> black.
    const ink = await makeImage(28, 28, (x, y) => [0, 0, 0, p(x, y)], 'image/png');
    assert.ok(maxAbsDiff((await readImages(ink, { invert: true })).data, one(5)) <= 1e-6);
  });

  it('files that are not images fail with a message naming the file', async () => {
    const text = join(dir, 'notes.png');
    await writeFile(text, 'this is not an image\n');
    await assert.rejects(readImages(text), (err: Error) => err instanceof ImageError && err.message.startsWith(`${text}: not an image`));
    const empty = join(dir, 'empty.jpg');
    await writeFile(empty, '');
    await assert.rejects(readImages(empty), new RegExp(`^ImageError: ${empty}: empty file`));
    await assert.rejects(readImages(join(dir, 'missing.png')), /missing\.png: no such file/);
    await mkdir(join(dir, 'folder.png'));
    await assert.rejects(readImages(join(dir, 'folder.png')), /folder\.png: is a directory/);
    // The second of two files is bad: the message names it.
    const good = join(dir, 'good.png');
    await writeFile(good, await makeImage(28, 28, () => [0, 0, 0, 255], 'image/png'));
    await assert.rejects(readImages([good, text]), /notes\.png: not an image/);
  });
});

describe('resampling and grids', () => {
  it('area resampling: means of covered areas, constants stay constant', () => {
    assert.deepEqual(Array.from(resizeArea([1, 3, 5, 7], 2, 2, 1, 1)), [4]);
    assert.deepEqual(Array.from(resizeArea([0, 9], 2, 1, 1, 1)), [4.5]);
    const c = resizeArea(new Float64Array(97 * 31).fill(200), 97, 31, 28, 28);
    assert.ok(c.every((v) => Math.abs(v - 200) < 1e-9));
    // 3 -> 2: the middle source pixel is shared half and half.
    assert.deepEqual(Array.from(resizeArea([0, 30, 60], 3, 1, 2, 1)).map((v) => +v.toFixed(9)), [10, 50]);
    // Upscaling 1 -> 2 repeats the pixel.
    assert.deepEqual(Array.from(resizeArea([7], 1, 1, 2, 2)), [7, 7, 7, 7]);
  });

  it('rgbaToInput: luminance weights and alpha over black', () => {
    const red = rgbaToInput({ width: 1, height: 1, data: Uint8Array.from([255, 0, 0, 255]) });
    assert.ok(Math.abs(red.pixels[0] - 0.299) < 1e-6);
    const halfWhite = rgbaToInput({ width: 1, height: 1, data: Uint8Array.from([255, 255, 255, 51]) });
    assert.ok(Math.abs(halfWhite.pixels[0] - 0.2) < 1e-6);
    assert.equal(halfWhite.pixels.length, 784);
  });

  it('a batch becomes a grid: layout, pixel values, PNG that reads back the same', async () => {
    const { images } = await mnistTest(5);
    const batch: ImageBatch = { data: images, count: 5, height: 28, width: 28 };
    const layout = gridLayout(5, 28, 28);
    assert.deepEqual([layout.rows, layout.columns, layout.width, layout.height], [2, 3, 88, 58]);
    assert.deepEqual(layout.tile(4), { x: 30, y: 30 });
    const gray = batchToGray(batch);
    for (let i = 0; i < 5; i++) {
      const { x, y } = layout.tile(i);
      for (const [r, c] of [[14, 14], [5, 20], [27, 27]]) {
        assert.equal(gray.data[(y + r) * gray.width + x + c], Math.round(255 * images[i * 784 + r * 28 + c]));
      }
    }
    assert.equal(gray.data[28], 128, 'gap');
    assert.equal(gray.data[(30 + 5) * 88 + 60 + 5], 128, 'empty cell');
    const dir = await tempDir();
    try {
      const path = join(dir, 'sub', 'grid.png');
      const written = await writePng(path, batch, { scale: 2 });
      assert.deepEqual([written.width, written.height], [176, 116]);
      const back = await Jimp.read(path);
      assert.deepEqual([back.bitmap.width, back.bitmap.height], [176, 116]);
      const g2 = batchToGray(batch, { scale: 2 });
      for (let i = 0; i < g2.data.length; i++) {
        if (back.bitmap.data[i * 4] !== g2.data[i]) assert.fail(`pixel ${i}: ${back.bitmap.data[i * 4]} != ${g2.data[i]}`);
      }
      // One image: no gap, exactly 28x28, and reading it back gives round(255 x) / 255.
      await writePng(join(dir, 'one.png'), { data: images.slice(0, 784), count: 1, height: 28, width: 28 });
      const single = await readImages(join(dir, 'one.png'));
      assert.deepEqual(single.data, images.slice(0, 784));
    } finally {
      await removeDir(dir);
    }
  });
});
