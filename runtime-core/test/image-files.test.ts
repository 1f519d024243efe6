import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { decodeImage, MAX_IMAGE_SIDE, VaeError } from '../src/index.js';

const isImageError = (pattern: RegExp) => (e: unknown) => e instanceof VaeError && e.code === 'image' && pattern.test(e.message);

/** A hand-written BMP: 40-byte header, optional palette, rows bottom-up unless topDown. */
function bmp(width: number, height: number, bpp: number, rows: number[][], options: { palette?: number[][]; topDown?: boolean; compression?: number } = {}): Uint8Array {
  const stride = Math.ceil((width * bpp) / 32) * 4;
  const paletteBytes = (options.palette?.length ?? 0) * 4;
  const offset = 54 + paletteBytes;
  const bytes = new Uint8Array(offset + stride * height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, offset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, options.topDown ? -height : height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bpp, true);
  view.setUint32(30, options.compression ?? 0, true);
  view.setUint32(46, options.palette?.length ?? 0, true);
  options.palette?.forEach(([r, g, b], i) => bytes.set([b, g, r, 0], 54 + i * 4));
  rows.forEach((row, y) => bytes.set(row, offset + (options.topDown ? y : height - 1 - y) * stride));
  return bytes;
}

describe('decodeImage', () => {
  it('decodes 8-bit RGBA, grey, grey + alpha and 16-bit PNGs to the exact RGBA', () => {
    const rgba = Uint8Array.from({ length: 5 * 3 * 4 }, (_, i) => (i * 37) % 256);
    assert.deepEqual(decodeImage(encodePng({ width: 5, height: 3, data: rgba, channels: 4 })).data, rgba);
    const grey = Uint8Array.of(0, 100, 255, 7);
    assert.deepEqual(Array.from(decodeImage(encodePng({ width: 2, height: 2, data: grey, channels: 1 })).data), [0, 0, 0, 255, 100, 100, 100, 255, 255, 255, 255, 255, 7, 7, 7, 255]);
    const greyAlpha = Uint8Array.of(200, 0, 50, 128);
    assert.deepEqual(Array.from(decodeImage(encodePng({ width: 2, height: 1, data: greyAlpha, channels: 2 })).data), [200, 200, 200, 0, 50, 50, 50, 128]);
    const deep = Uint16Array.of(0, 65535, 32896, 257);
    assert.deepEqual(Array.from(decodeImage(encodePng({ width: 4, height: 1, data: deep, channels: 1, depth: 16 })).data).filter((_, i) => i % 4 === 0), [0, 255, 128, 1]);
  });

  it('decodes a JPEG to what jpeg-js decodes (the same decoder in every runtime)', () => {
    const data = Uint8Array.from({ length: 16 * 16 * 4 }, (_, i) => (i % 4 === 3 ? 255 : ((i >> 2) * 5) % 256));
    const file = jpeg.encode({ width: 16, height: 16, data }, 85).data;
    const decoded = decodeImage(file);
    assert.equal(decoded.width, 16);
    assert.deepEqual(decoded.data, jpeg.decode(file, { useTArray: true, formatAsRGBA: true }).data);
  });

  it('decodes 24-bit, 32-bit, 8-bit and 1-bit palette BMPs, bottom-up and top-down', () => {
    const red = [0, 0, 255], blue = [255, 0, 0]; // BGR on disk
    const rows24 = [[...red, ...blue], [...blue, ...red]];
    const expected = [255, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 255, 255, 0, 0, 255];
    assert.deepEqual(Array.from(decodeImage(bmp(2, 2, 24, rows24)).data), expected);
    assert.deepEqual(Array.from(decodeImage(bmp(2, 2, 24, rows24, { topDown: true })).data), expected);
    const rows32 = [[...red, 0, ...blue, 0], [...blue, 0, ...red, 0]];
    assert.deepEqual(Array.from(decodeImage(bmp(2, 2, 32, rows32)).data), expected, '32-bit BI_RGB: the fourth byte is not alpha');
    const palette = [[255, 0, 0], [0, 0, 255]];
    assert.deepEqual(Array.from(decodeImage(bmp(2, 2, 8, [[0, 1], [1, 0]], { palette })).data), expected);
    assert.deepEqual(Array.from(decodeImage(bmp(2, 2, 1, [[0b01000000], [0b10000000]], { palette })).data), expected);
  });

  it('refuses what it cannot read with a VaeError naming the input', () => {
    assert.throws(() => decodeImage(new Uint8Array(0), 'a.png'), isImageError(/^a\.png: empty file/));
    assert.throws(() => decodeImage(new TextEncoder().encode('<html>'), 'page'), isImageError(/^page: not an image \(PNG, JPEG or BMP\)/));
    const png = encodePng({ width: 8, height: 8, data: new Uint8Array(64), channels: 1 });
    assert.throws(() => decodeImage(png.subarray(0, png.length - 20), 'cut.png'), isImageError(/^cut\.png: not a readable PNG image/));
    assert.throws(() => decodeImage(bmp(2, 2, 8, [[0, 5], [1, 0]], { palette: [[0, 0, 0], [1, 1, 1]] }), 'p.bmp'), isImageError(/p\.bmp: .*palette index 5 out of range/));
    assert.throws(() => decodeImage(bmp(2, 2, 8, [[0, 0], [0, 0]], { palette: [[0, 0, 0]], compression: 1 }), 'rle.bmp'), isImageError(/rle\.bmp: .*compression 1 .* not supported/));
  });

  it('refuses a header that claims a huge image before decoding it', () => {
    const png = encodePng({ width: 1, height: 1, data: new Uint8Array(1), channels: 1 });
    const view = new DataView(png.buffer, png.byteOffset);
    view.setUint32(16, 20000); // IHDR width
    view.setUint32(20, 20000);
    const t0 = performance.now();
    assert.throws(() => decodeImage(png, 'huge.png'), isImageError(new RegExp(`huge\\.png: 20000x20000 pixels is too large: images up to ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE}`)));
    assert.ok(performance.now() - t0 < 100, 'refused from the header');
  });
});
