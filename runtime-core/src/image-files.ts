/**
 * Image file bytes (PNG, JPEG, BMP) -> 8-bit RGBA, the same decoder in Node and the browser.
 *
 * Why not the platform's decoders (jimp in Node, createImageBitmap + canvas in the browser):
 * they do not agree. A canvas stores premultiplied alpha, so getImageData() cannot give back a
 * semi-transparent pixel's colour exactly, and the browser may colour-manage; JPEG decoders
 * differ in their IDCT and chroma upsampling. The encoder input must be bit-identical in every
 * runtime, so both decode with the same pure-JS code: fast-png (PNG, every bit depth and colour
 * type), jpeg-js (baseline and progressive JPEG) and the small BMP reader below.
 */
import { decode as decodePngFile, type DecodedPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { messageOf, VaeError } from './errors.js';
import type { RgbaImage } from './preprocess.js';

/**
 * Largest width or height read (so at most 64 Mi pixels): the model sees 28 x 28, and decoding
 * allocates ~13 bytes per pixel. A few bytes of header can claim 100000 x 100000; that is
 * refused from the header, before anything is allocated.
 */
export const MAX_IMAGE_SIDE = 8192;

export type ImageFormat = 'png' | 'jpeg' | 'bmp';

const at = (bytes: Uint8Array, i: number, s: string) => s.split('').every((c, k) => bytes[i + k] === c.charCodeAt(0));

/** The format of an image file from its first bytes, or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && at(bytes, 1, 'PNG\r\n')) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 2 && at(bytes, 0, 'BM')) return 'bmp';
  return undefined;
}

/** Width and height claimed by a PNG, BMP or JPEG header, or undefined if none is found. */
export function headerSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // PNG: 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
  if (bytes.length >= 24 && bytes[0] === 0x89 && at(bytes, 1, 'PNG') && at(bytes, 12, 'IHDR')) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // BMP: "BM", then a DIB header whose size says its layout (12: OS/2, 16-bit sizes; else 32-bit, height negative when top-down).
  if (bytes.length >= 26 && at(bytes, 0, 'BM')) {
    return view.getUint32(14, true) === 12
      ? { width: view.getUint16(18, true), height: view.getUint16(20, true) }
      : { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  // JPEG: walk the marker segments to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC).
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 <= bytes.length && bytes[i] === 0xff) {
      const marker = bytes[i + 1];
      if (marker === 0xff) { i++; continue; } // fill byte
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) { i += 2; continue; } // no length
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(i + 7), height: view.getUint16(i + 5) };
      }
      if (marker === 0xda) break; // start of scan: no frame header before it
      i += 2 + view.getUint16(i + 2);
    }
  }
  return undefined;
}

function checkSize(size: { width: number; height: number }, label: string): void {
  if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) {
    throw new VaeError('image', `${label}: ${size.width}x${size.height} pixels is too large: images up to ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE} are read (the model sees 28x28), so scale it down first`);
  }
}

/** Decodes PNG, JPEG or BMP bytes to RGBA. Errors are VaeError 'image' naming `label`. */
export function decodeImage(bytes: Uint8Array, label = `image (${bytes.byteLength} bytes)`): RgbaImage {
  if (bytes.byteLength === 0) throw new VaeError('image', `${label}: empty file, not an image`);
  const format = sniffImageFormat(bytes);
  if (!format) throw new VaeError('image', `${label}: not an image (PNG, JPEG or BMP): unknown file signature`);
  const claimed = headerSize(bytes);
  if (claimed) checkSize(claimed, label);
  let image: RgbaImage;
  try {
    image = format === 'png' ? pngToRgba(decodePngFile(bytes)) : format === 'jpeg' ? jpegToRgba(bytes) : decodeBmp(bytes);
  } catch (err) {
    if (err instanceof VaeError) throw err;
    throw new VaeError('image', `${label}: not a readable ${format.toUpperCase()} image: ${messageOf(err)}`, { cause: err });
  }
  const { width, height, data } = image;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
    throw new VaeError('image', `${label}: decoded to an empty or malformed bitmap (${width}x${height})`);
  }
  checkSize(image, label);
  return image;
}

function jpegToRgba(bytes: Uint8Array): RgbaImage {
  const maxMP = (MAX_IMAGE_SIDE * MAX_IMAGE_SIDE) / 2 ** 20;
  const { width, height, data } = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxMP, maxMemoryUsageInMB: 2048 });
  return { width, height, data };
}

/** Sample k of each row, unpacked from `depth` bits (1, 2, 4, 8 or 16) per sample. */
function sampleReader(png: DecodedPng): (y: number, k: number) => number {
  const { width, depth, channels, data } = png;
  if (depth === 8 || depth === 16) {
    const rowSize = width * channels;
    return (y, k) => data[y * rowSize + k];
  }
  const stride = Math.ceil((width * channels * depth) / 8);
  const bytes = data as Uint8Array;
  const mask = (1 << depth) - 1;
  return (y, k) => {
    const bit = k * depth;
    return (bytes[y * stride + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
  };
}

/** fast-png's output (any depth, colour type, palette, tRNS) as 8-bit RGBA. */
function pngToRgba(png: DecodedPng): RgbaImage {
  const { width, height, depth, channels, palette, transparency } = png;
  const out = new Uint8Array(width * height * 4);
  const read = sampleReader(png);
  const max = depth === 16 ? 65535 : (1 << depth) - 1;
  const to8 = (v: number) => (depth === 8 ? v : Math.round((v * 255) / max));
  // tRNS: alpha per palette index, or one colour key (grey or RGB) that is fully transparent.
  const key = !palette && transparency ? Array.from(transparency) : undefined;
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 4) {
      if (palette) {
        const index = read(y, x);
        const entry = palette[index];
        if (!entry) throw new Error(`palette index ${index} out of range (${palette.length} colours)`);
        out[o] = entry[0]; out[o + 1] = entry[1]; out[o + 2] = entry[2];
        out[o + 3] = entry.length > 3 ? entry[3] : transparency && index < transparency.length ? transparency[index] : 255;
        continue;
      }
      const s = (k: number) => read(y, x * channels + k);
      const colour = channels >= 3 ? [s(0), s(1), s(2)] : [s(0), s(0), s(0)];
      out[o] = to8(colour[0]); out[o + 1] = to8(colour[1]); out[o + 2] = to8(colour[2]);
      if (channels === 2 || channels === 4) out[o + 3] = to8(s(channels - 1));
      else out[o + 3] = key && (channels === 1 ? colour[0] === key[0] : colour.every((c, k) => c === key[k])) ? 0 : 255;
    }
  }
  return { width, height, data: out };
}

/**
 * Uncompressed BMP (BI_RGB 1/4/8-bit palette, 24-bit, 32-bit; BI_BITFIELDS 16/32-bit), any
 * header version, bottom-up or top-down. RLE-compressed BMPs are refused with a message.
 */
export function decodeBmp(bytes: Uint8Array): RgbaImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 26) throw new Error('truncated header');
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && headerSize < 40) throw new Error(`unknown DIB header size ${headerSize}`);
  if (14 + headerSize > bytes.length) throw new Error('truncated header');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const bpp = view.getUint16(core ? 24 : 28, true);
  const compression = core ? 0 : view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height === 0) throw new Error(`bad size ${width}x${rawHeight}`);
  if (compression !== 0 && compression !== 3) throw new Error(`compression ${compression} (RLE or embedded JPEG/PNG) is not supported; save it as uncompressed BMP or PNG`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`${bpp} bits per pixel is not supported`);
  // Channel masks: BI_BITFIELDS reads them after a 40-byte header (or inside V4/V5); else defaults.
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0xff0000, 0x00ff00, 0x0000ff, 0];
  if (compression === 3) {
    masks = [0, 1, 2].map((k) => view.getUint32(14 + 40 + 4 * k, true));
    masks.push(headerSize >= 56 ? view.getUint32(14 + 40 + 12, true) : 0);
  }
  let palette: number[][] = [];
  if (bpp <= 8) {
    const entrySize = core ? 3 : 4;
    const colours = core ? 1 << bpp : view.getUint32(46, true) || 1 << bpp;
    const start = 14 + headerSize + (compression === 3 && headerSize === 40 ? 12 : 0);
    if (start + colours * entrySize > bytes.length) throw new Error('truncated palette');
    palette = Array.from({ length: colours }, (_, i) => {
      const p = start + i * entrySize;
      return [bytes[p + 2], bytes[p + 1], bytes[p]];
    });
  }
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) throw new Error(`truncated pixel data: ${height} rows of ${stride} bytes need ${dataOffset + stride * height} bytes, the file has ${bytes.length}`);
  const channel = (value: number, mask: number) => {
    if (!mask) return undefined;
    const shift = Math.log2(mask & -mask);
    const bits = Math.log2((mask >>> shift) + 1);
    const v = (value & mask) >>> shift;
    return bits === 8 ? v : Math.round((v * 255) / ((1 << bits) - 1));
  };
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      let rgba: (number | undefined)[];
      if (bpp <= 8) {
        const bit = x * bpp;
        const index = (bytes[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const c = palette[index];
        if (!c) throw new Error(`palette index ${index} out of range (${palette.length} colours)`);
        rgba = [c[0], c[1], c[2], 255];
      } else if (bpp === 24 && compression === 0) {
        const p = row + x * 3;
        rgba = [bytes[p + 2], bytes[p + 1], bytes[p], 255];
      } else {
        const value = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        rgba = masks.map((m) => channel(value, m));
      }
      out[o] = rgba[0] ?? 0; out[o + 1] = rgba[1] ?? 0; out[o + 2] = rgba[2] ?? 0;
      out[o + 3] = rgba[3] ?? 255; // 32-bit BI_RGB has no alpha channel: opaque
    }
  }
  return { width, height, data: out };
}

/**
 * The bytes of an image by URL (absolute, or relative to the page / worker), for both runtimes:
 * the browser's string and URL sources, Node's http(s): URLs. Failures are VaeError 'http' /
 * 'network' naming the URL.
 */
export async function fetchImageBytes(source: string | URL, label: string, options: { fetch?: typeof fetch; signal?: AbortSignal } = {}): Promise<Uint8Array> {
  let url: string;
  try {
    url = new URL(String(source), (globalThis as { location?: { href: string } }).location?.href).href;
  } catch {
    throw new VaeError('input', `${label}: "${String(source)}" is not a URL (the browser reads images from URLs, Blobs, ImageData or bytes)`);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await fetchImpl(url, { signal: options.signal });
  } catch (err) {
    throw new VaeError('network', `${label}: could not fetch the image from ${url}: ${messageOf(err)}`, { url, cause: err });
  }
  if (!res.ok) {
    throw new VaeError('http', `${label}: could not fetch the image: GET ${url} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, { url, status: res.status });
  }
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw new VaeError('network', `${label}: reading the image from ${url} failed: ${messageOf(err)}`, { url, cause: err });
  }
}
