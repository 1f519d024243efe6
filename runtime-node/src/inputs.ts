/**
 * Checks on tensors handed to the model: shapes that fit the model, finite values, pixels
 * in [0, 1]. Every error names the input (`label`) and says what was expected.
 */
import { checkPixels, parseLatents, type LatentInput } from '@vae/models';
import { IMAGE_HEIGHT, IMAGE_PIXELS, IMAGE_WIDTH, type ImageBatch } from './images.js';

/** Raised for a tensor the model cannot take; the message names the input. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Latent vectors: a flat Float32Array / number[] (N * n values) or one row per vector. */
export type { LatentInput };

/**
 * N latent vectors of size `latentSize` as one Float32Array [N * n]. Throws an InputError for
 * a wrong size, an empty batch, or a value that is not a finite float32 number (the checks are
 * @vae/models' parseLatents, shared with runtime-web).
 */
export function toLatentBatch(value: LatentInput, latentSize: number, label = 'z'): { data: Float32Array; count: number } {
  return parseLatents(value, latentSize, label, (message) => new InputError(message));
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
  checkPixels(data, IMAGE_PIXELS, label, (message) => new InputError(message));
  return { data, count: data.length / IMAGE_PIXELS };
}
