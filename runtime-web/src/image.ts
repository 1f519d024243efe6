/**
 * Decoded images on a canvas: one image of a batch (or the batch's grid, via the core's
 * imagesToRgba) as ImageData. ImageData exists on the main thread and in workers.
 */
import { imagesToRgba, type Images } from '@vae/runtime-core';

export interface ToImageDataOptions {
  /** Integer upscaling factor, nearest neighbour (default 1). */
  scale?: number;
  /** Draw dark on light instead of MNIST's light on dark (default false). */
  invert?: boolean;
}

/** Image `index` of a batch (decode / sample / ... output) as opaque grey ImageData: pixel = round(255 p). */
export function toImageData(images: Images, index = 0, options: ToImageDataOptions = {}): ImageData {
  const { width, height, data } = imagesToRgba(images, index, { scale: options.scale, invert: options.invert });
  return new ImageData(data as Uint8ClampedArray<ArrayBuffer>, width, height);
}
