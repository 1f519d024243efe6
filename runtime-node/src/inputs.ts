/**
 * Checks on tensors handed to the model: shapes that fit the model, finite values, pixels
 * in [0, 1]. Every error names the input (`label`) and says what was expected.
 */
import { IMAGE_HEIGHT, IMAGE_PIXELS, IMAGE_WIDTH, type ImageBatch } from './images.js';

/** Raised for a tensor the model cannot take; the message names the input. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Latent vectors: a flat Float32Array / number[] (N * n values) or one row per vector. */
export type LatentInput = Float32Array | ArrayLike<number> | ArrayLike<ArrayLike<number>>;

const isRows = (v: LatentInput): v is ArrayLike<ArrayLike<number>> =>
  !ArrayBuffer.isView(v) && v.length > 0 && typeof (v as ArrayLike<unknown>)[0] === 'object' && (v as ArrayLike<unknown>)[0] !== null;

function describeValue(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  return v === undefined ? 'missing' : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * N latent vectors of size `latentSize` as one Float32Array [N * n]. Throws an InputError for
 * a wrong size, an empty batch, or a value that is not a finite number.
 */
export function toLatentBatch(value: LatentInput, latentSize: number, label = 'z'): { data: Float32Array; count: number } {
  const where = (i: number) => `vector ${Math.floor(i / latentSize)}, value ${i % latentSize}`;
  let data: Float32Array;
  if (value === null || typeof value !== 'object' || typeof (value as ArrayLike<unknown>).length !== 'number') {
    throw new InputError(`${label}: expected latent vectors (numbers), got ${describeValue(value)}`);
  }
  if (isRows(value)) {
    data = new Float32Array(value.length * latentSize);
    for (let r = 0; r < value.length; r++) {
      const row = value[r];
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
        throw new InputError(`${label}: vector ${r} is not an array of numbers`);
      }
      if (row.length !== latentSize) {
        throw new InputError(`${label}: vector ${r} has ${row.length} value${row.length === 1 ? '' : 's'}, but the model's latent size is ${latentSize}`);
      }
      for (let k = 0; k < latentSize; k++) {
        const v = row[k];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new InputError(`${label}: vector ${r}, value ${k} is ${describeValue(v)}: latent values must be finite numbers`);
        }
        data[r * latentSize + k] = v;
      }
    }
  } else {
    const flat = value as ArrayLike<number>;
    if (flat.length % latentSize !== 0) {
      throw new InputError(
        flat.length < latentSize
          ? `${label}: ${flat.length} value${flat.length === 1 ? '' : 's'}, but the model's latent size is ${latentSize}`
          : `${label}: ${flat.length} values are not a whole number of latent vectors of the model's latent size ${latentSize}`,
      );
    }
    data = flat instanceof Float32Array ? flat : Float32Array.from(flat, Number);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InputError(`${label}: ${where(i)} is ${describeValue(v)}: latent values must be finite numbers`);
      }
    }
  }
  if (data.length === 0) throw new InputError(`${label}: no latent vectors (the model's latent size is ${latentSize})`);
  return { data, count: data.length / latentSize };
}

/**
 * Model-ready images (N * 784 float32 in [0, 1]) from a Float32Array or an ImageBatch.
 * Throws an InputError for a wrong length / size, a non-finite value or a value outside [0, 1].
 */
export function toImageArray(value: Float32Array | ImageBatch, label = 'images'): { data: Float32Array; count: number } {
  let data: Float32Array;
  if (value instanceof Float32Array) {
    data = value;
  } else {
    if (value.width !== IMAGE_WIDTH || value.height !== IMAGE_HEIGHT) {
      throw new InputError(`${label}: images are ${value.width}x${value.height}, the model takes ${IMAGE_WIDTH}x${IMAGE_HEIGHT} (read files with readImages to resize)`);
    }
    if (!(value.data instanceof Float32Array) || value.data.length !== value.count * IMAGE_PIXELS) {
      throw new InputError(`${label}: data must be a Float32Array of count * ${IMAGE_PIXELS} = ${value.count * IMAGE_PIXELS} values`);
    }
    data = value.data;
  }
  if (data.length === 0) throw new InputError(`${label}: no images`);
  if (data.length % IMAGE_PIXELS !== 0) {
    throw new InputError(`${label}: ${data.length} values are not a whole number of ${IMAGE_WIDTH}x${IMAGE_HEIGHT} images (${IMAGE_PIXELS} values each)`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v >= 0 && v <= 1)) {
      const at = `image ${Math.floor(i / IMAGE_PIXELS)}, pixel ${i % IMAGE_PIXELS}`;
      throw new InputError(
        Number.isFinite(v)
          ? `${label}: ${at} is ${v}, outside [0, 1] (the model takes pixel / 255)`
          : `${label}: ${at} is ${describeValue(v)}: pixels must be finite numbers in [0, 1]`,
      );
    }
  }
  return { data, count: data.length / IMAGE_PIXELS };
}
