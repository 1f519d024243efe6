/** Decoded images to a PNG file, atomically (the core makes the PNG, @vae/models/node writes it). */
import { writeFileAtomic } from '@vae/models/node';
import { imagesToPng, type GridLayout, type GridOptions, type Images } from '@vae/runtime-core';

/** Writes a batch as an 8-bit grey PNG (a grid for several images), atomically: temporary file + rename, nothing left on failure. */
export async function writePng(path: string, images: Images, options: GridOptions = {}): Promise<GridLayout> {
  const { png, layout } = imagesToPng(images, options);
  await writeFileAtomic(path, png);
  return layout;
}
