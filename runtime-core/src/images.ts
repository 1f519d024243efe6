/**
 * Decoded images out: a batch of pixel probabilities as 8-bit grey tiles, one grid, RGBA for a
 * canvas, or PNG bytes. The same layout in the CLI's PNGs and on the demo page.
 */
import { encode as encodePngFile } from 'fast-png';
import { inputError } from './errors.js';
import type { RgbaImage } from './preprocess.js';

/** N decoded images: pixel probabilities in [0, 1], row-major, a light digit on black. */
export interface Images {
  /** count x height x width values. */
  pixels: Float32Array;
  count: number;
  width: number;
  height: number;
}

export interface GridOptions {
  /** Tiles per row (default: 1 for one image, else ceil(sqrt(count))). */
  columns?: number;
  /** Pixels between tiles, before scaling (default 2 for a grid, 0 for one image). */
  gap?: number;
  /** Gap and empty-cell grey level, 0-255 (default 128). */
  gapValue?: number;
  /** Integer upscaling factor, nearest neighbour (default 1). */
  scale?: number;
  /** Draw dark on light instead of MNIST's light on dark (default false). */
  invert?: boolean;
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

/** Where each tile goes: row-major, tiles of (size * scale) pixels separated by `gap * scale`, no outer border. */
export function gridLayout(count: number, tileWidth: number, tileHeight: number, options: GridOptions = {}): GridLayout {
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw inputError(`scale: expected an integer from 1 to 64, got ${scale}`);
  const columns = Math.max(1, options.columns ?? (count <= 1 ? 1 : Math.ceil(Math.sqrt(count))));
  if (!Number.isInteger(columns)) throw inputError(`columns: expected a positive integer, got ${options.columns}`);
  const rows = Math.max(1, Math.ceil(count / columns));
  const gap = (options.gap ?? (count <= 1 ? 0 : 2)) * scale;
  if (!Number.isInteger(gap) || gap < 0) throw inputError(`gap: expected a non-negative integer, got ${options.gap}`);
  const tw = tileWidth * scale, th = tileHeight * scale;
  return {
    rows, columns, gap, scale,
    width: columns * tw + (columns - 1) * gap,
    height: rows * th + (rows - 1) * gap,
    tile: (i: number) => ({ x: (i % columns) * (tw + gap), y: Math.floor(i / columns) * (th + gap) }),
  };
}

/** A probability as an 8-bit grey level: round(255 * clamp(p, 0, 1)); NaN -> 0. */
export const toGrey = (p: number): number => (p > 0 ? (p < 1 ? Math.round(255 * p) : 255) : 0);

/** The batch as one 8-bit grey image (a grid for several images; `layout` says where each tile is). */
export function imagesToGray(images: Images, options: GridOptions = {}): { width: number; height: number; data: Uint8Array; layout: GridLayout } {
  const { count, width: w, height: h, pixels } = images;
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
        const v = toGrey(pixels[srcRow + Math.floor(x / s)]);
        out[row + x] = options.invert ? 255 - v : v;
      }
    }
  }
  return { width: layout.width, height: layout.height, data: out, layout };
}

/** Image `index` of the batch (or the whole grid with `columns`) as opaque RGBA, e.g. for `new ImageData(...)`. */
export function imagesToRgba(images: Images, index = 0, options: Omit<GridOptions, 'columns' | 'gap'> = {}): RgbaImage & { data: Uint8ClampedArray } {
  if (!Number.isInteger(index) || index < 0 || index >= images.count) {
    throw inputError(`index: image ${index} is outside a batch of ${images.count} image${images.count === 1 ? '' : 's'}`);
  }
  const size = images.width * images.height;
  const one: Images = { ...images, count: 1, pixels: images.pixels.subarray(index * size, (index + 1) * size) };
  return grayToRgba(imagesToGray(one, options));
}

/** An 8-bit grey bitmap as opaque RGBA. */
export function grayToRgba(gray: { width: number; height: number; data: Uint8Array }): RgbaImage & { data: Uint8ClampedArray } {
  const rgba = new Uint8ClampedArray(gray.width * gray.height * 4);
  for (let i = 0, p = 0; i < gray.data.length; i++, p += 4) {
    rgba[p] = rgba[p + 1] = rgba[p + 2] = gray.data[i];
    rgba[p + 3] = 255;
  }
  return { width: gray.width, height: gray.height, data: rgba };
}

/** PNG bytes (8-bit greyscale) of a batch: one image, or a grid. */
export function imagesToPng(images: Images, options: GridOptions = {}): { png: Uint8Array; layout: GridLayout } {
  const gray = imagesToGray(images, options);
  return { png: encodePngFile({ width: gray.width, height: gray.height, data: gray.data, channels: 1, depth: 8 }), layout: gray.layout };
}
