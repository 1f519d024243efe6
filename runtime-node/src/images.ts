/**
 * Image files <-> model tensors, with jimp.
 *
 * In (PNG, JPEG or BMP, any colour, up to MAX_IMAGE_SIDE = 8192 pixels a side, decoded by jimp's codecs):
 *   1. decode to 8-bit RGBA;
 *   2. luminance L = (299 R + 587 G + 114 B) / 1000 (ITU-R BT.601, as PIL's convert('L')),
 *      so grey pixels keep their value exactly;
 *   3. alpha is composited onto the image's background: black, or white with `invert`
 *      (L' = L a + bg (1 - a)), so transparent areas always end up as the model's black;
 *   4. `invert`: L -> 255 - L, for dark digits on a light background (MNIST is light on dark);
 *   5. a non-square image is centred on a square black canvas (fit 'contain', the default,
 *      keeps the aspect ratio; fit 'fill' stretches instead);
 *   6. area (box-filter) resampling to 28x28: each output pixel is the mean of the source
 *      area it covers, weighted by coverage (exact for any scale factor, no aliasing when
 *      shrinking; a 28x28 input is passed through untouched);
 *   7. x = L / 255 as float32, row-major.
 *
 * Out: pixel = round(255 * clamp(x_hat, 0, 1)) as an 8-bit grayscale PNG; a batch becomes
 * one grid image (see gridLayout).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';

export const IMAGE_HEIGHT = 28;
export const IMAGE_WIDTH = 28;
export const IMAGE_PIXELS = IMAGE_HEIGHT * IMAGE_WIDTH;

/** N images as one float32 array, row-major, values in [0, 1] (light digit on black). */
export interface ImageBatch {
  data: Float32Array;
  count: number;
  height: number;
  width: number;
}

/** One image: a file path or the bytes of an encoded image file. */
export type ImageSource = string | Uint8Array;

export interface ImageReadOptions {
  /** Dark digit on a light background: invert (255 - pixel) after grayscale. Default false. */
  invert?: boolean;
  /** 'contain' (default): pad to a square with black, keeping the aspect ratio; 'fill': stretch. */
  fit?: 'contain' | 'fill';
  /** Called with a warning, e.g. a bright border that suggests `invert` is needed. */
  onWarning?: (message: string) => void;
}

/** A decoded image: 8-bit RGBA, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Raised for an input that is not a usable image; the message names the input. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/**
 * jimp's core with only the PNG, JPEG and BMP codecs: the full `jimp` bundle (every plugin,
 * fonts, GIF, TIFF) takes ~0.6 s to import, this ~0.1 s. Loaded on first use only.
 */
async function loadJimp() {
  const [{ createJimp }, png, jpeg, bmp] = await Promise.all([
    import('@jimp/core'), import('@jimp/js-png'), import('@jimp/js-jpeg'), import('@jimp/js-bmp'),
  ]);
  return createJimp({ formats: [png.default, jpeg.default, bmp.default, bmp.msBmp] });
}
let jimpClass: ReturnType<typeof loadJimp> | undefined;
const jimp = () => (jimpClass ??= loadJimp());

/**
 * Largest width or height read (so at most 64 Mi pixels): the model sees 28x28, and decoding
 * allocates ~13 bytes per pixel (RGBA, grayscale, the padded square), ~0.9 GB at this size.
 * A few bytes of PNG or BMP header can claim 100000x100000; that is refused from the header,
 * before anything is allocated.
 */
export const MAX_IMAGE_SIDE = 8192;

/** Width and height claimed by a PNG, BMP or JPEG header, or undefined if none is found. */
export function headerSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number, s: string) => s.split('').every((c, k) => bytes[i + k] === c.charCodeAt(0));
  // PNG: 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
  if (bytes.length >= 24 && bytes[0] === 0x89 && at(1, 'PNG') && at(12, 'IHDR')) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // BMP: "BM", then a DIB header whose size says its layout (12: OS/2, 16-bit sizes; else 32-bit, height negative when top-down).
  if (bytes.length >= 26 && at(0, 'BM')) {
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
    throw new ImageError(`${label}: ${size.width}x${size.height} pixels is too large: images up to ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE} are read (the model sees 28x28), so scale it down first`);
  }
}

const describeSource = (source: ImageSource, index: number) => (typeof source === 'string' ? source : `image ${index} (${source.byteLength} bytes)`);

/** Decodes an image file (path or bytes) to RGBA. Errors name the input. */
export async function decodeImage(source: ImageSource, label = describeSource(source, 0)): Promise<RgbaImage> {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ImageError(`${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an image' : `cannot read: ${code ?? (err as Error).message}`}`);
    }
  } else {
    bytes = source;
  }
  if (bytes.byteLength === 0) throw new ImageError(`${label}: empty file, not an image`);
  const claimed = headerSize(bytes);
  if (claimed) checkSize(claimed, label);
  const Jimp = await jimp();
  let image: Awaited<ReturnType<typeof Jimp.fromBuffer>>;
  try {
    image = await Jimp.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ImageError(`${label}: not an image (PNG, JPEG or BMP): ${err instanceof Error ? err.message : String(err)}`);
  }
  const { width, height, data } = image.bitmap;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
    throw new ImageError(`${label}: decoded to an empty or malformed bitmap (${width}x${height})`);
  }
  checkSize({ width, height }, label); // a header this code does not parse
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * The model input for one decoded image (steps 2-7 above): IMAGE_PIXELS float32 values.
 * `borderMean` is the mean of the outermost pixels in model polarity (after `invert`), in [0, 1].
 */
export function rgbaToInput(image: RgbaImage, options: Pick<ImageReadOptions, 'invert' | 'fit'> = {}): { pixels: Float32Array; borderMean: number } {
  const { width, height, data } = image;
  const invert = options.invert ?? false;
  const background = invert ? 255 : 0;
  // Grayscale, alpha over the background, polarity: one float per source pixel in [0, 255].
  const gray = new Float32Array(width * height); // float32 halves the memory of large photos; 8-bit values stay exact
  for (let i = 0, p = 0; i < gray.length; i++, p += 4) {
    const lum = (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000;
    const a = data[p + 3];
    const v = a === 255 ? lum : (lum * a + background * (255 - a)) / 255;
    gray[i] = invert ? 255 - v : v;
  }
  const borderMean = meanBorder(gray, width, height) / 255;

  let src = gray, sw = width, sh = height;
  if ((options.fit ?? 'contain') === 'contain' && width !== height) {
    const side = Math.max(width, height);
    const square = new Float32Array(side * side); // black padding (model polarity)
    const ox = Math.floor((side - width) / 2), oy = Math.floor((side - height) / 2);
    for (let y = 0; y < height; y++) square.set(gray.subarray(y * width, (y + 1) * width), (y + oy) * side + ox);
    src = square; sw = side; sh = side;
  }
  const resized = sw === IMAGE_WIDTH && sh === IMAGE_HEIGHT ? src : resizeArea(src, sw, sh, IMAGE_WIDTH, IMAGE_HEIGHT);
  const pixels = new Float32Array(IMAGE_PIXELS);
  for (let i = 0; i < IMAGE_PIXELS; i++) pixels[i] = resized[i] / 255;
  return { pixels, borderMean };
}

function meanBorder(gray: Float32Array, w: number, h: number): number {
  let sum = 0, n = 0;
  for (let x = 0; x < w; x++) {
    sum += gray[x]; n++;
    if (h > 1) { sum += gray[(h - 1) * w + x]; n++; }
  }
  for (let y = 1; y < h - 1; y++) {
    sum += gray[y * w]; n++;
    if (w > 1) { sum += gray[y * w + w - 1]; n++; }
  }
  return n ? sum / n : 0;
}

/** Coverage weights of source cells for each output cell along one axis (box filter). */
function areaWeights(src: number, dst: number): { start: number; weights: number[] }[] {
  const scale = src / dst;
  const out = [];
  for (let o = 0; o < dst; o++) {
    const lo = o * scale, hi = (o + 1) * scale;
    const start = Math.floor(lo);
    const weights: number[] = [];
    for (let s = start; s < Math.min(src, Math.ceil(hi)); s++) {
      weights.push((Math.min(hi, s + 1) - Math.max(lo, s)) / scale);
    }
    out.push({ start, weights });
  }
  return out;
}

/** Area-average resampling of a single-channel image (separable box filter with exact coverage). */
export function resizeArea(src: ArrayLike<number>, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const wx = areaWeights(sw, dw), wy = areaWeights(sh, dh);
  const rows = new Float64Array(sh * dw); // horizontal pass
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      const { start, weights } = wx[x];
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * src[y * sw + start + k];
      rows[y * dw + x] = acc;
    }
  }
  const out = new Float64Array(dh * dw); // vertical pass
  for (let y = 0; y < dh; y++) {
    const { start, weights } = wy[y];
    for (let x = 0; x < dw; x++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * rows[(start + k) * dw + x];
      out[y * dw + x] = acc;
    }
  }
  return out;
}

/** Border brighter than this (mean, in [0, 1]) suggests a dark-on-light image. */
export const BRIGHT_BORDER = 0.5;

/** Reads image files (or encoded bytes) into one batch of model inputs. Errors name the input. */
export async function readImages(sources: ImageSource | readonly ImageSource[], options: ImageReadOptions = {}): Promise<ImageBatch> {
  const list: readonly ImageSource[] = typeof sources === 'string' || sources instanceof Uint8Array ? [sources] : sources;
  const data = new Float32Array(list.length * IMAGE_PIXELS);
  for (const [i, source] of list.entries()) {
    const label = describeSource(source, i);
    const { pixels, borderMean } = rgbaToInput(await decodeImage(source, label), options);
    data.set(pixels, i * IMAGE_PIXELS);
    if (borderMean > BRIGHT_BORDER && options.onWarning) {
      options.onWarning(
        options.invert
          ? `${label}: the border is bright after --invert (mean ${borderMean.toFixed(2)}); the model expects a light digit on black, so this image may not need --invert`
          : `${label}: the border is bright (mean ${borderMean.toFixed(2)}); the model expects a light digit on black (MNIST), so for a dark digit on a light background pass --invert (invert: true)`,
      );
    }
  }
  return { data, count: list.length, height: IMAGE_HEIGHT, width: IMAGE_WIDTH };
}

export interface GridOptions {
  /** Tiles per row (default: 1 for one image, else ceil(sqrt(count))). */
  columns?: number;
  /** Pixels between tiles (default 2 for a grid, 0 for one image). */
  gap?: number;
  /** Gap and empty-cell grey level, 0-255 (default 128). */
  gapValue?: number;
  /** Integer upscaling factor, nearest neighbour (default 1). */
  scale?: number;
}

export interface GridLayout {
  rows: number;
  columns: number;
  /** Gap in output pixels (already multiplied by scale). */
  gap: number;
  scale: number;
  width: number;
  height: number;
  /** Top-left corner of tile i in the output image. */
  tile(i: number): { x: number; y: number };
}

/** Where each tile goes: row-major, tiles of (28 * scale) pixels separated by `gap * scale`, no outer border. */
export function gridLayout(count: number, tileWidth: number, tileHeight: number, options: GridOptions = {}): GridLayout {
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new RangeError(`scale must be an integer from 1 to 64, got ${scale}`);
  const columns = Math.max(1, options.columns ?? (count <= 1 ? 1 : Math.ceil(Math.sqrt(count))));
  if (!Number.isInteger(columns)) throw new RangeError(`columns must be a positive integer, got ${options.columns}`);
  const rows = Math.max(1, Math.ceil(count / columns));
  const gap = (options.gap ?? (count <= 1 ? 0 : 2)) * scale;
  if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`gap must be a non-negative integer, got ${options.gap}`);
  const tw = tileWidth * scale, th = tileHeight * scale;
  return {
    rows, columns, gap, scale,
    width: columns * tw + (columns - 1) * gap,
    height: rows * th + (rows - 1) * gap,
    tile: (i: number) => ({ x: (i % columns) * (tw + gap), y: Math.floor(i / columns) * (th + gap) }),
  };
}

/** The batch as one 8-bit grayscale image (a grid for several images). */
export function batchToGray(batch: ImageBatch, options: GridOptions = {}): { width: number; height: number; data: Uint8Array; layout: GridLayout } {
  const { count, width: w, height: h, data } = batch;
  const layout = gridLayout(count, w, h, options);
  const out = new Uint8Array(layout.width * layout.height).fill(options.gapValue ?? 128);
  const s = layout.scale;
  for (let i = 0; i < count; i++) {
    const { x: ox, y: oy } = layout.tile(i);
    const base = i * w * h;
    for (let y = 0; y < h * s; y++) {
      const row = (oy + y) * layout.width + ox;
      const srcRow = base + Math.floor(y / s) * w;
      for (let x = 0; x < w * s; x++) {
        const v = data[srcRow + Math.floor(x / s)];
        out[row + x] = v > 0 ? (v < 1 ? Math.round(255 * v) : 255) : 0; // NaN -> 0
      }
    }
  }
  return { width: layout.width, height: layout.height, data: out, layout };
}

/** PNG bytes of an 8-bit grayscale bitmap. */
export async function grayToPng(image: { width: number; height: number; data: Uint8Array }): Promise<Buffer> {
  const Jimp = await jimp();
  const rgba = Buffer.alloc(image.width * image.height * 4); // Buffer.alloc: jimp mishandles pooled (offset) buffers
  for (let i = 0, p = 0; i < image.data.length; i++, p += 4) {
    rgba[p] = rgba[p + 1] = rgba[p + 2] = image.data[i];
    rgba[p + 3] = 255;
  }
  return Jimp.fromBitmap({ width: image.width, height: image.height, data: rgba }).getBuffer('image/png', { colorType: 0 });
}

/** PNG bytes of a batch (one image, or a grid). */
export async function batchToPng(batch: ImageBatch, options: GridOptions = {}): Promise<{ png: Buffer; layout: GridLayout }> {
  const gray = batchToGray(batch, options);
  return { png: await grayToPng(gray), layout: gray.layout };
}

/** Writes a batch as a PNG, atomically (temporary file + rename; nothing is left on failure). */
export async function writePng(path: string, batch: ImageBatch, options: GridOptions = {}): Promise<GridLayout> {
  const { png, layout } = await batchToPng(batch, options);
  await writeFileAtomic(path, png);
  return layout;
}
