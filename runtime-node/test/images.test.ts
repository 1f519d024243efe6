/**
 * Image files through the library (paths and bytes -> `vae.preprocess` / `encode`), on real
 * MNIST test digits turned into PNG / JPEG / BMP files with jimp (an independent encoder), in
 * odd sizes, colours and with alpha; polarity (invert true / false / 'auto'); MNIST centring
 * (the default); non-square images (contain vs fill); grids; files that are not images.
 * Where a test compares with exact pixels it turns centring off (`center: false`) and fixes
 * the polarity, so the file's own framing is what the model gets.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Jimp } from 'jimp';
import { imagesToGray, resizeArea } from '@vae/runtime-core';
import {
  DEFAULT_PREPROCESS, IMAGE_PIXELS, VaeError, gridLayout, loadVae, rgbaToPixels, writePng, type Images, type PreprocessOptions, type Vae,
} from '../src/index.js';
import { N64, maxAbsDiff, mnistTest, removeDir, tempDir } from './helpers.js';

/** The file as it is: no centring, no inversion. */
const AS_IS: PreprocessOptions = { center: false, invert: false };

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
  let vae: Vae;
  const one = (i: number) => digits.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
  /** The model input for image sources, through the Node backend (paths are read by it). */
  const read = async (sources: Parameters<Vae['preprocess']>[0], options?: PreprocessOptions) => {
    const { pixels, count } = await vae.preprocess(sources, options);
    return { data: pixels, count };
  };
  before(async () => {
    dir = await tempDir();
    digits = (await mnistTest(8)).images;
    vae = await loadVae(N64, { device: 'cpu' });
  });
  after(async () => {
    await vae.dispose();
    await removeDir(dir);
  });

  it('the defaults: invert auto, MNIST centring on, fit contain', () => {
    assert.deepEqual(DEFAULT_PREPROCESS, { invert: 'auto', center: true, fit: 'contain' });
  });

  it('a 28x28 grayscale PNG of an MNIST digit round-trips to the same pixels, and encodes like the raw array', async () => {
    const path = join(dir, 'digit0.png');
    const p = pixel(digits, 0);
    await writeFile(path, await makeImage(28, 28, (x, y) => [p(x, y), p(x, y), p(x, y), 255], 'image/png'));
    const batch = await read(path, AS_IS);
    assert.equal(batch.count, 1);
    assert.equal(batch.data.length, 784);
    assert.ok(maxAbsDiff(batch.data, one(0)) <= 1 / 255 / 2, 'pixels differ');
    assert.deepEqual(batch.data, one(0), 'expected bit-identical pixels (p / 255 as float32)');
    // A light digit on black is not inverted by 'auto'.
    assert.deepEqual((await read(path, { center: false })).data, one(0));

    const fromFile = await vae.encode(path, AS_IS);
    const fromArray = await vae.encode(one(0));
    assert.deepEqual(fromFile.mu, fromArray.mu);
    assert.deepEqual(fromFile.logvar, fromArray.logvar);
    // The same file as bytes (a Buffer) encodes the same.
    const fromBytes = await vae.encode(await readFile(path), AS_IS);
    assert.deepEqual(fromBytes.mu, fromArray.mu);
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
      const batch = await read(join(dir, f.name), AS_IS);
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
    const batch = await read(join(dir, 'odd.jpg'), AS_IS);
    // The same bitmap before JPEG compression, through the same rules.
    const raw = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(f(x, y), (y * w + x) * 4);
    const exact = rgbaToPixels({ width: w, height: h, data: raw }, AS_IS);
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
    const batch = await read(bytes, AS_IS);
    assert.ok(maxAbsDiff(batch.data, one(i)) <= 1e-6);
    assert.deepEqual((await read(bytes, { ...AS_IS, fit: 'contain' })).data, batch.data, 'contain is the default');
    // fill: stretched instead, so the digit is no longer the same.
    const stretched = await read(bytes, { ...AS_IS, fit: 'fill' });
    assert.ok(maxAbsDiff(stretched.data, one(i)) > 0.1);
  });

  it('MNIST centring (the default): a digit anywhere on a larger canvas reaches the model as the 28x28 digit would', async () => {
    // Digit 6 drawn 3x larger in the bottom-right of a 150x100 black canvas, and as a plain 28x28 PNG.
    const p = pixel(digits, 6, 3);
    const placed = await makeImage(150, 100, (x, y) => {
      const v = x >= 60 && y >= 16 ? p(x - 60, y - 16) : 0;
      return [v, v, v, 255];
    }, 'image/png');
    const plain = await makeImage(28, 28, (x, y) => { const v = pixel(digits, 6)(x, y); return [v, v, v, 255]; }, 'image/png');
    const centred = await read([placed, plain]);
    // Area resampling of a k-times enlargement equals resampling the original: the same input.
    assert.ok(maxAbsDiff(centred.data.subarray(0, 784), centred.data.subarray(784)) <= 1e-6);
    // MNIST digits are already centred this way, so centring a dataset digit moves little ink.
    const moved = centred.data.subarray(784).reduce((s, v, k) => s + Math.abs(v - one(6)[k]), 0) / one(6).reduce((s, v) => s + v, 0);
    assert.ok(moved < 0.1, `centring moved ${moved} of the ink`);
    // The ink's centre of mass is the frame's centre (within a pixel) and its box fits 20x20.
    let mass = 0, cx = 0, cy = 0, minX = 28, maxX = -1, minY = 28, maxY = -1;
    centred.data.subarray(0, 784).forEach((v, k) => {
      const x = k % 28, y = Math.floor(k / 28);
      mass += v; cx += (x + 0.5) * v; cy += (y + 0.5) * v;
      if (v > 0.05) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
    });
    assert.ok(Math.abs(cx / mass - 14) <= 1 && Math.abs(cy / mass - 14) <= 1, `centre of mass ${cx / mass}, ${cy / mass}`);
    assert.ok(Math.max(maxX - minX, maxY - minY) + 1 <= 20, `ink box ${maxX - minX + 1}x${maxY - minY + 1}`);
    // Without centring, the same canvas is a small digit off in a corner.
    assert.ok(maxAbsDiff((await read(placed, { center: false })).data, centred.data.subarray(0, 784)) > 0.5);
  });

  it('invert: a dark digit on white becomes the MNIST digit with true and with auto (the default); false keeps it as it is', async () => {
    const p = pixel(digits, 5);
    const bytes = await makeImage(28, 28, (x, y) => [255 - p(x, y), 255 - p(x, y), 255 - p(x, y), 255], 'image/png');
    const inverted = await read(bytes, { center: false, invert: true });
    assert.ok(maxAbsDiff(inverted.data, one(5)) <= 1e-6);
    const auto = await read(bytes, { center: false });
    assert.deepEqual(auto.data, inverted.data, "'auto' sees the light border and inverts");
    const plain = await read(bytes, AS_IS);
    assert.ok(maxAbsDiff(plain.data, one(5).map((v) => 1 - v)) <= 1e-6);
    // Transparent background with invert: composited on white, then inverted -> black; 'auto'
    // sees a transparent border and dark ink, and does the same.
    const ink = await makeImage(28, 28, (x, y) => [0, 0, 0, p(x, y)], 'image/png');
    assert.ok(maxAbsDiff((await read(ink, { center: false, invert: true })).data, one(5)) <= 1e-6);
    assert.ok(maxAbsDiff((await read(ink, { center: false })).data, one(5)) <= 1e-6);
    // White ink on transparent is not inverted by 'auto'.
    const white = await makeImage(28, 28, (x, y) => [255, 255, 255, p(x, y)], 'image/png');
    assert.ok(maxAbsDiff((await read(white, { center: false })).data, one(5)) <= 1e-6);
  });

  it('files that are not images fail with a VaeError \'image\' naming the file', async () => {
    const image = (re: RegExp) => (err: Error) => err instanceof VaeError && err.code === 'image' && re.test(err.message);
    const text = join(dir, 'notes.png');
    await writeFile(text, 'this is not an image\n');
    await assert.rejects(read(text), (err: Error) => err instanceof VaeError && err.code === 'image' && err.message.startsWith(`${text}: not an image`));
    const empty = join(dir, 'empty.jpg');
    await writeFile(empty, '');
    await assert.rejects(read(empty), image(new RegExp(`^${empty}: empty file`)));
    const missing = join(dir, 'missing.png');
    await assert.rejects(read(missing), (err: Error) => image(/missing\.png: no such file$/)(err) && (err as VaeError).file === missing);
    await mkdir(join(dir, 'folder.png'));
    await assert.rejects(read(join(dir, 'folder.png')), image(/folder\.png: is a directory, not an image$/));
    // The second of two files is bad: the message names it.
    const good = join(dir, 'good.png');
    await writeFile(good, await makeImage(28, 28, () => [0, 0, 0, 255], 'image/png'));
    await assert.rejects(read([good, text]), image(/notes\.png: not an image/));
    // Bytes are named by their place in the list.
    await assert.rejects(read([good, new Uint8Array([1, 2, 3])]), image(/^images\[1\]: not an image/));
    // encode goes the same way.
    await assert.rejects(vae.encode(missing), image(/missing\.png: no such file/));
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

  it('rgbaToPixels: luminance weights and alpha over black', () => {
    const red = rgbaToPixels({ width: 1, height: 1, data: Uint8Array.from([255, 0, 0, 255]) }, AS_IS);
    assert.ok(Math.abs(red[0] - 0.299) < 1e-6);
    const halfWhite = rgbaToPixels({ width: 1, height: 1, data: Uint8Array.from([255, 255, 255, 51]) }, AS_IS);
    assert.ok(Math.abs(halfWhite[0] - 0.2) < 1e-6);
    assert.equal(halfWhite.length, 784);
  });

  it('a batch becomes a grid: layout, pixel values, PNG that reads back the same', async () => {
    const { images } = await mnistTest(5);
    const batch: Images = { pixels: images, count: 5, height: 28, width: 28 };
    const layout = gridLayout(5, 28, 28);
    assert.deepEqual([layout.rows, layout.columns, layout.width, layout.height], [2, 3, 88, 58]);
    assert.deepEqual(layout.tile(4), { x: 30, y: 30 });
    const gray = imagesToGray(batch);
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
      const g2 = imagesToGray(batch, { scale: 2 });
      for (let i = 0; i < g2.data.length; i++) {
        if (back.bitmap.data[i * 4] !== g2.data[i]) assert.fail(`pixel ${i}: ${back.bitmap.data[i * 4]} != ${g2.data[i]}`);
      }
      // One image: no gap, exactly 28x28, and reading it back gives round(255 x) / 255.
      await writePng(join(dir, 'one.png'), { pixels: images.slice(0, 784), count: 1, height: 28, width: 28 });
      const vae = await loadVae(N64, { device: 'cpu' });
      try {
        const single = await vae.preprocess(join(dir, 'one.png'), AS_IS);
        assert.deepEqual(single.pixels, images.slice(0, 784));
      } finally {
        await vae.dispose();
      }
    } finally {
      await removeDir(dir);
    }
  });
});
