/** Test helpers: paths, real MNIST digits, temporary model copies, and running the `vae` binary. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { releasedModelDir } from '@vae/models/node';

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(PACKAGE_DIR, '..');
export const CLI = join(REPO_ROOT, 'pipeline', 'dist', 'cli.js');
export const N64 = releasedModelDir('mnist-n64-beta1');
export const N2 = releasedModelDir('mnist-n2-beta1');

let digits: Promise<{ images: Float32Array; labels: Uint8Array }> | undefined;
/** The first `count` MNIST test digits (pixel / 255, as the dataset loader gives them). */
export async function mnistTest(count = 32): Promise<{ images: Float32Array; labels: Uint8Array; count: number }> {
  digits ??= loadMnistTest();
  const d = await digits;
  return { images: d.images.slice(0, count * 784), labels: d.labels.slice(0, count), count };
}

/**
 * The MNIST test split's folder, found as @vae/train finds it (this package does not depend on
 * the trainer): $VAE_DATA_DIR, else a shared/datasets/mnist folder in the current directory,
 * this package's or any folder above them.
 */
function mnistDir(): string {
  if (process.env.VAE_DATA_DIR) return resolve(process.env.VAE_DATA_DIR);
  for (const start of [process.cwd(), PACKAGE_DIR]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const candidate = join(dir, 'shared', 'datasets', 'mnist');
      if (existsSync(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('MNIST not found: point VAE_DATA_DIR at a folder holding the IDX files');
}

/** An IDX file's data bytes (after its header), from `base` or `base.gz`. */
async function readIdx(dir: string, base: string): Promise<Uint8Array> {
  const raw = existsSync(join(dir, base)) ? await readFile(join(dir, base)) : gunzipSync(await readFile(join(dir, `${base}.gz`)));
  return new Uint8Array(raw.buffer, raw.byteOffset + 4 + 4 * raw[3], raw.length - 4 - 4 * raw[3]);
}

/** The MNIST test images (pixel / 255) and labels. */
async function loadMnistTest(): Promise<{ images: Float32Array; labels: Uint8Array }> {
  const dir = mnistDir();
  const bytes = await readIdx(dir, 't10k-images-idx3-ubyte');
  const images = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) images[i] = bytes[i] / 255;
  return { images, labels: await readIdx(dir, 't10k-labels-idx1-ubyte') };
}

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'vae-rt-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A copy of a model directory under `parent`. */
export async function copyModel(src: string, parent: string, name = 'model'): Promise<string> {
  const dst = join(parent, name);
  await cp(src, dst, { recursive: true });
  return dst;
}

/** Flips one bit of a byte in the middle of a file (same size, different SHA-256). */
export async function flipByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] ^= 0x01;
  await writeFile(path, bytes);
}

/**
 * Replaces `file` in the model copy with `replacement` and rewrites the manifest's size and
 * SHA-256 for it, so checksums pass and only the graph itself disagrees with the manifest.
 */
export async function swapGraph(modelDir: string, file: string, replacement: string): Promise<void> {
  const bytes = await readFile(replacement);
  await writeFile(join(modelDir, file), bytes);
  const manifestPath = join(modelDir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  const entry = manifest.files.find((f: { path: string }) => f.path === file);
  entry.bytes = bytes.length;
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  for (const g of Object.values(manifest.graphs) as { file: string; bytes: number }[]) if (g.file === file) g.bytes = bytes.length;
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `node pipeline/dist/cli.js ...args` in `cwd`. */
export function vae(args: string[], cwd: string = REPO_ROOT): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Largest |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
