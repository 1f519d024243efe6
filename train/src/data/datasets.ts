// Where MNIST and Fashion-MNIST live, how to find them, and how to load a split into
// memory as float pixels in [0, 1] plus labels.
//
// Data folder, first match wins:
//   1. the dataDir option (the CLI's --data-dir)
//   2. the VAE_DATA_DIR environment variable
//   3. mnist: a shared/datasets/mnist folder in the current directory or the module's
//      folder or any folder above them (the repo sits next to /work/shared)
//      fashion-mnist: /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
//   4. a per-user cache folder, filled by downloading from the canonical mirrors.

import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@vae/models/node';
import { DataError, describeError, gunzipBytes, isGzip, readIdxFile, sha256Hex } from './idx.js';

export type DatasetName = 'mnist' | 'fashion-mnist';
export type Split = 'train' | 'test';

/** Base names of the four IDX files; on disk each may be stored raw or with a .gz suffix. */
export const SPLIT_FILES: Readonly<Record<Split, { images: string; labels: string }>> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

export interface DatasetInfo {
  name: DatasetName;
  /** Human name used in messages. */
  title: string;
  /** SHA-256 of each file after decompression, keyed by base name. The .gz bytes vary between compressors; the content does not. */
  sha256: Readonly<Record<string, string>>;
  /** Base URLs tried in order; a file's URL is base + name + ".gz". */
  mirrors: readonly string[];
  /** Folder searched for in the current directory, the module's directory and their parents. */
  sharedDir?: string;
  /** Fixed system-wide folder used when it exists. */
  systemDir?: string;
}

export const DATASETS: Readonly<Record<DatasetName, DatasetInfo>> = {
  mnist: {
    name: 'mnist',
    title: 'MNIST',
    sha256: {
      'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
      'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
      't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
      't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
    },
    mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'],
    sharedDir: join('shared', 'datasets', 'mnist'),
  },
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST',
    // These match the decompressed files published by Zalando Research (whose MD5s are
    // f4a8712d..., 9018921c..., 8181f547..., 15d48437... in the same order).
    sha256: {
      'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
      'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
      't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
      't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
    mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
    systemDir: '/usr/share/datasets/fashion-mnist',
  },
};

const IMAGES_MAGIC = 0x00000803; // uint8, 3 dims: count x rows x cols
const LABELS_MAGIC = 0x00000801; // uint8, 1 dim: count
const NUM_CLASSES = 10;
const DATA_DIR_HINT = 'point --data-dir (or VAE_DATA_DIR) at a folder holding the four IDX files instead';

// The folder this module is in (src/data when run from source, dist/data when built).
const MODULE_DIR = dirname(fileURLToPath(import.meta.url));

export type DataSource = 'option' | 'env' | 'shared' | 'system' | 'cache';

/** Where a dataset's files are, and which rule picked that folder. */
export interface DataLocation {
  dataset: DatasetName;
  dir: string;
  source: DataSource;
}

export interface ResolveOptions {
  dataset?: DatasetName;
  /** Explicit data folder (the CLI's --data-dir). Used as is, even if files are missing there. */
  dataDir?: string;
  /** Environment to read VAE_DATA_DIR and XDG_CACHE_HOME from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Folders to walk up from looking for shared/datasets/mnist; defaults to the current directory and this module's folder. */
  searchFrom?: string[];
}

export function resolveDataDir(options: ResolveOptions = {}): DataLocation {
  const dataset = options.dataset ?? 'mnist';
  const info = DATASETS[dataset];
  const env = options.env ?? process.env;

  if (options.dataDir) return { dataset, dir: resolve(options.dataDir), source: 'option' };
  if (env.VAE_DATA_DIR) return { dataset, dir: resolve(env.VAE_DATA_DIR), source: 'env' };

  if (info.sharedDir) {
    for (const start of options.searchFrom ?? [process.cwd(), MODULE_DIR]) {
      const found = findUp(start, info.sharedDir);
      if (found) return { dataset, dir: found, source: 'shared' };
    }
  }
  if (info.systemDir && isDirectory(info.systemDir)) return { dataset, dir: info.systemDir, source: 'system' };

  return { dataset, dir: cacheDir(dataset, env), source: 'cache' };
}

/** $XDG_CACHE_HOME/vae-pipeline/<dataset>, or ~/.cache/vae-pipeline/<dataset>. */
export function cacheDir(dataset: DatasetName, env: Record<string, string | undefined> = process.env): string {
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'vae-pipeline', dataset);
}

/** Walks from `start` up to the filesystem root, returning the first `start/.../relative` that is a folder. */
function findUp(start: string, relative: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, relative);
    if (isDirectory(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The path of `name` in `dir`, preferring the raw file over `name.gz`; undefined if neither exists. */
export function findIdxFile(dir: string, name: string): string | undefined {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface DownloadProgress {
  /** Base name of the file being downloaded. */
  file: string;
  url: string;
  receivedBytes: number;
  /** From Content-Length; undefined when the server does not say. */
  totalBytes: number | undefined;
}

export interface DownloadOptions {
  dataset?: DatasetName;
  /** Folder to fill; defaults to the user cache folder. */
  dir?: string;
  /** Which split's files to fetch; both when omitted. */
  split?: Split;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  onProgress?: (progress: DownloadProgress) => void;
  env?: Record<string, string | undefined>;
}

/**
 * Downloads the dataset's files that are not already in `dir`, trying each mirror in turn.
 * A file is kept only if its decompressed SHA-256 is the canonical one, and it is written
 * to a temporary name and renamed into place, so `dir` never holds a half-written file.
 * Returns the paths written.
 */
export async function downloadDataset(options: DownloadOptions = {}): Promise<string[]> {
  const info = DATASETS[options.dataset ?? 'mnist'];
  const dir = options.dir ?? cacheDir(info.name, options.env);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const splits: Split[] = options.split ? [options.split] : ['train', 'test'];
  const names = splits.flatMap((split) => [SPLIT_FILES[split].images, SPLIT_FILES[split].labels]);

  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const name of names) {
    if (findIdxFile(dir, name)) continue;

    const failures: string[] = [];
    let done = false;
    for (const mirror of info.mirrors) {
      const url = `${mirror}${name}.gz`;
      try {
        const bytes = await fetchBytes(fetchFn, url, name, options.onProgress);
        const content = isGzip(bytes) ? await gunzipBytes(bytes, 'response body') : bytes;
        const sha256 = sha256Hex(content);
        if (sha256 !== info.sha256[name]) {
          throw new Error(`checksum mismatch: expected sha256 ${info.sha256[name]}, found ${sha256}`);
        }
        // Keep the bytes as served: .gz stays compressed on disk (a quarter of the size).
        const dest = join(dir, isGzip(bytes) ? `${name}.gz` : name);
        await writeFileAtomic(dest, bytes);
        written.push(dest);
        done = true;
        break;
      } catch (error) {
        failures.push(`${url}: ${describeError(error)}`);
      }
    }
    if (!done) {
      throw new DataError(
        `${join(dir, name)}.gz: download failed: expected the ${info.title} file from a mirror, found errors: ` +
          `${failures.join('; ')}; ${DATA_DIR_HINT}`,
      );
    }
  }
  return written;
}

async function fetchBytes(
  fetchFn: typeof fetch,
  url: string,
  file: string,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
): Promise<Uint8Array> {
  const response = await fetchFn(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  const length = Number(response.headers.get('content-length'));
  const totalBytes = Number.isFinite(length) && length > 0 ? length : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());

  // Read chunk by chunk so progress can be reported.
  const chunks: Uint8Array[] = [];
  let receivedBytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    receivedBytes += value.length;
    onProgress?.({ file, url, receivedBytes, totalBytes });
  }
  return Buffer.concat(chunks);
}

export interface Dataset {
  name: DatasetName;
  split: Split;
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols pixels, row-major, each pixel/255 so in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  /** SHA-256 of the decompressed files that were read. */
  sha256: { images: string; labels: string };
  dir: string;
  source: DataSource;
  files: { images: string; labels: string };
}

export interface LoadOptions extends ResolveOptions {
  split: Split;
  /** Injected for tests; used only when the files must be downloaded. */
  fetch?: typeof fetch;
  onProgress?: (progress: DownloadProgress) => void;
  /** Compare files to the canonical checksums (default true). Turn off only for custom IDX files. */
  verifyChecksums?: boolean;
}

export async function loadDataset(options: LoadOptions): Promise<Dataset> {
  const location = resolveDataDir(options);
  const info = DATASETS[location.dataset];
  const { split } = options;
  const names = SPLIT_FILES[split];

  if (location.source === 'cache') {
    await downloadDataset({
      dataset: info.name,
      dir: location.dir,
      split,
      fetch: options.fetch,
      onProgress: options.onProgress,
    });
  }

  const verify = options.verifyChecksums ?? true;
  const read = (name: string, expectMagic: number) =>
    readIdxFile(locate(location, name), {
      expectMagic,
      sha256: verify ? info.sha256[name] : undefined,
      canonicalName: info.title,
    });
  const images = await read(names.images, IMAGES_MAGIC);
  const labels = await read(names.labels, LABELS_MAGIC);

  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      `${images.path} and ${labels.path}: count mismatch: expected as many labels as images, ` +
        `found ${count} images and ${labels.dims[0]} labels`,
    );
  }
  const badIndex = labels.data.findIndex((label) => label >= NUM_CLASSES);
  if (badIndex !== -1) {
    throw new DataError(
      `${labels.path}: bad label at index ${badIndex}: expected 0 to ${NUM_CLASSES - 1}, found ${labels.data[badIndex]}`,
    );
  }

  // Sizes are safe to allocate now: parseIdx proved the file holds count*rows*cols bytes.
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;

  return {
    name: info.name,
    split,
    count,
    rows,
    cols,
    images: pixels,
    // A copy, so the labels do not keep the whole file buffer alive or share it.
    labels: new Uint8Array(labels.data),
    sha256: { images: images.sha256, labels: labels.sha256 },
    dir: location.dir,
    source: location.source,
    files: { images: images.path, labels: labels.path },
  };
}

const SOURCE_NAMES: Record<DataSource, string> = {
  option: '--data-dir',
  env: 'VAE_DATA_DIR',
  shared: 'the shared datasets folder',
  system: 'the system dataset package',
  cache: 'the download cache',
};

/** The file's path in the data folder, or a DataError saying which names were looked for. */
function locate(location: DataLocation, name: string): string {
  const path = findIdxFile(location.dir, name);
  if (path) return path;
  throw new DataError(
    `${join(location.dir, name)}.gz: file not found: expected ${name}.gz or ${name} in ${location.dir} ` +
      `(from ${SOURCE_NAMES[location.source]}), found neither; ${DATA_DIR_HINT}`,
  );
}
