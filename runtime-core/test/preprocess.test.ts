import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeImage, rgbaToPixels, VaeError, IMAGE_PIXELS, type RgbaImage,
} from '../src/index.js';
import { needsInvert } from '../src/preprocess.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'images');
const fixture = (name: string) => decodeImage(readFileSync(join(FIXTURES, name)), name);

function image(width: number, height: number, shade: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(shade(x, y), (y * width + x) * 4);
  return { width, height, data };
}

/** Rows and columns of the output that hold ink (> 0.5). */
function inkBox(p: Float32Array) {
  let minX = 28, maxX = -1, minY = 28, maxY = -1;
  for (let i = 0; i < IMAGE_PIXELS; i++) {
    if (p[i] <= 0.5) continue;
    const x = i % 28, y = Math.floor(i / 28);
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  return { width: maxX - minX + 1, height: maxY - minY + 1 };
}

describe('rgbaToPixels', () => {
  it('passes a 28x28 opaque grey image through exactly (value / 255) without centring', () => {
    const im = image(28, 28, (x, y) => { const v = (x * 9 + y) % 256; return [v, v, v, 255]; });
    const p = rgbaToPixels(im, { center: false, invert: false });
    for (let i = 0; i < IMAGE_PIXELS; i++) assert.equal(p[i], Math.fround(((i % 28) * 9 + Math.floor(i / 28)) % 256 / 255));
  });

  it("'auto' inverts a light background and leaves a dark one", () => {
    const light = image(40, 40, (x, y) => (Math.abs(x - 20) < 3 && y > 5 && y < 35 ? [10, 10, 10, 255] : [240, 240, 240, 255]));
    const dark = image(40, 40, (x, y) => (Math.abs(x - 20) < 3 && y > 5 && y < 35 ? [245, 245, 245, 255] : [15, 15, 15, 255]));
    assert.equal(needsInvert(light), true);
    assert.equal(needsInvert(dark), false);
    assert.deepEqual(rgbaToPixels(light), rgbaToPixels(light, { invert: true }));
    assert.deepEqual(rgbaToPixels(dark), rgbaToPixels(dark, { invert: false }));
    // Both are a light stroke on black after preprocessing.
    const p = rgbaToPixels(light, { center: false });
    assert.ok(p[0] < 0.1 && p[14 * 28 + 14] > 0.8, `corner ${p[0]}, centre ${p[14 * 28 + 14]}`);
  });

  it("'auto' on a transparent background decides from the ink: dark ink is inverted, light ink is not", () => {
    const darkInk = fixture('alpha-ink-20x45.png');
    assert.equal(needsInvert(darkInk), true);
    const lightInk = image(20, 20, (x) => [250, 250, 250, x > 8 && x < 12 ? 255 : 0]);
    assert.equal(needsInvert(lightInk), false);
    // Either way the transparent background becomes the model's black.
    for (const [im, invert] of [[darkInk, true], [lightInk, false]] as const) {
      const p = rgbaToPixels(im, { center: false, fit: 'fill', invert });
      assert.equal(p[0], 0, 'transparent corner');
    }
  });

  it("fit 'contain' keeps a wide image's aspect ratio, 'fill' stretches it", () => {
    const bar = fixture('bar-56x28.png'); // a 40 x 8 white bar on black
    const contain = inkBox(rgbaToPixels(bar, { center: false, fit: 'contain' }));
    const fill = inkBox(rgbaToPixels(bar, { center: false, fit: 'fill' }));
    assert.deepEqual(contain, { width: 20, height: 4 });
    assert.deepEqual(fill, { width: 20, height: 8 });
  });

  it('center puts the ink in a 20 x 20 box with its centre of mass at the centre', () => {
    for (const name of ['bar-56x28.png', 'seven-tall-40x120.jpg', 'ring-wide-120x40.png', 'odd-301x17.png', 'paper-64x64.jpg']) {
      const p = rgbaToPixels(fixture(name));
      let mass = 0, cx = 0, cy = 0, maxSide = 0;
      for (let i = 0; i < IMAGE_PIXELS; i++) {
        mass += p[i]; cx += ((i % 28) + 0.5) * p[i]; cy += (Math.floor(i / 28) + 0.5) * p[i];
      }
      const box = inkBox(p);
      maxSide = Math.max(box.width, box.height);
      assert.ok(Math.abs(cx / mass - 14) <= 0.5 && Math.abs(cy / mass - 14) <= 0.5, `${name}: centre of mass (${cx / mass}, ${cy / mass})`);
      assert.ok(maxSide <= 20 && maxSide >= 17, `${name}: ink box ${box.width} x ${box.height}`);
    }
  });

  it('takes odd sizes (1x1, 301x17) and every fixture to 784 values in [0, 1]', () => {
    for (const name of ['one-1x1.png', 'odd-301x17.png', 'grey16-30x30.png', 'seven-33x29.bmp', 'alpha-light-45x20.png']) {
      for (const options of [{}, { center: false }, { center: false, fit: 'fill' as const }, { invert: true }]) {
        const p = rgbaToPixels(fixture(name), options);
        assert.equal(p.length, IMAGE_PIXELS);
        assert.ok(p.every((v) => v >= 0 && v <= 1), `${name} ${JSON.stringify(options)}`);
      }
    }
    const one = rgbaToPixels(fixture('one-1x1.png'), { center: false, invert: false });
    assert.ok(one.every((v) => v === Math.fround(200 / 255)), 'a 1x1 image fills the frame with its value');
  });

  it('gives an empty image (no ink) 784 zeros when centring', () => {
    assert.ok(rgbaToPixels(image(10, 10, () => [0, 0, 0, 255])).every((v) => v === 0));
  });

  it('refuses bad options and malformed RGBA, naming them', () => {
    const im = image(2, 2, () => [0, 0, 0, 255]);
    assert.throws(() => rgbaToPixels(im, { invert: 'yes' as never }), (e: Error) => e instanceof VaeError && e.code === 'input' && /options\.invert: expected true, false or "auto", got yes/.test(e.message));
    assert.throws(() => rgbaToPixels(im, { fit: 'cover' as never }), /options\.fit: expected "contain" or "fill", got cover/);
    assert.throws(() => rgbaToPixels(im, { center: 1 as never }), /options\.center: expected true or false/);
    assert.throws(() => rgbaToPixels({ width: 2, height: 2, data: new Uint8Array(15) }), (e: Error) => e instanceof VaeError && e.code === 'image' && /2x2 RGBA needs 16 bytes, data has 15/.test(e.message));
    assert.throws(() => rgbaToPixels({ width: 0, height: 2, data: new Uint8Array(0) }), /0x2 is not an image size/);
  });
});

describe('runtime-core is browser-safe', () => {
  it('no module imports node: built-ins', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const src = new URL('../src/', import.meta.url);
    for (const file of await readdir(src)) {
      const text = await readFile(new URL(file, src), 'utf8');
      assert.doesNotMatch(text, /from\s+['"]node:|require\(|from\s+['"](fs|path|crypto|os|buffer)['"]|\bBuffer\./, file);
    }
  });
});
