/**
 * manifest.json: lists every file of the model directory with its size and SHA-256 and
 * describes the graphs, preprocessing, metrics and provenance. It is validated against
 * the @vae/models schema before it is written, so the exporter cannot write a manifest
 * the loader would reject.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BATCH_DIM, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, parseManifest,
  type Manifest, type ManifestFile, type ManifestGraph,
} from '@vae/models';

/** Every file under `dir` except the manifest, as sorted POSIX paths with size and SHA-256. */
export async function listFiles(dir: string): Promise<ManifestFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: ManifestFile[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    const path = full.slice(dir.length + 1).split(/[\\/]/).join('/');
    if (path === MANIFEST_FILE) continue;
    const bytes = await readFile(full);
    files.push({ path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The preprocessing block: how an MNIST-style image becomes the encoder's `x`. */
export function preprocessing(height: number, width: number): Manifest['preprocessing'] {
  return {
    input: 'x',
    height,
    width,
    channels: 1,
    layout: 'row-major',
    dtype: 'float32',
    divisor: 255,
    range: [0, 1],
    polarity: 'white-on-black',
    steps: [
      `Convert the image to 8-bit grayscale and resize it to ${width}x${height} (MNIST digits are centred in the frame by centre of mass).`,
      'Keep MNIST polarity: a light digit (255) on a dark background (0); invert dark-on-light images (pixel -> 255 - pixel).',
      `Flatten row by row (x[i * ${width} + j] = pixel at row i, column j) into ${height * width} values.`,
      'Divide by 255 to get float32 values in [0, 1]; no mean/std normalisation.',
      `Stack N images into x of shape [${BATCH_DIM}, ${height * width}].`,
    ],
  };
}

export function postprocessing(height: number, width: number): Manifest['postprocessing'] {
  return {
    output: 'x_hat',
    range: [0, 1],
    steps: [
      'x_hat holds Bernoulli pixel probabilities (sigmoid already applied), row-major like x.',
      `To view: pixel = round(255 * x_hat), reshaped to ${height}x${width} grayscale (light digit on dark).`,
    ],
  };
}

export type ManifestInput = Omit<Manifest, 'format' | 'formatVersion' | 'files' | 'graphs'> & {
  graphs: Record<string, Omit<ManifestGraph, 'bytes'>>;
};

/**
 * Lists the files of `dir`, completes the manifest (format, files, graph sizes), validates
 * it with the schema and writes `dir/manifest.json`.
 */
export async function writeManifest(dir: string, input: ManifestInput): Promise<Manifest> {
  const files = await listFiles(dir);
  const size = (path: string) => files.find((f) => f.path === path)?.bytes ?? 0;
  const graphs = Object.fromEntries(Object.entries(input.graphs).map(([k, g]) => [k, { ...g, bytes: size(g.file) }]));
  const manifest = parseManifest(
    { format: MANIFEST_FORMAT, formatVersion: MANIFEST_FORMAT_VERSION, ...input, graphs, files },
    `${join(dir, MANIFEST_FILE)} (being written)`,
  );
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
