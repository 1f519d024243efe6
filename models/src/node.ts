/**
 * `@vae/models/node`: loads a model directory from disk and proves it is intact — the
 * manifest matches the schema, and every file it lists is inside the directory and has
 * the listed size and SHA-256.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_MODEL, MANIFEST_FILE, ManifestError, isSafeRelativePath, parseManifestText,
  type Manifest, type ManifestGraph,
} from './schema.js';

export * from './index.js';
export { writeFileAtomic, writeJsonAtomic } from './atomic.js';

export interface LoadedModel {
  /** Absolute path of the model directory. */
  dir: string;
  manifest: Manifest;
  /** Absolute path of a file listed in the manifest (throws for one that is not). */
  file(path: string): string;
  /** The manifest entry of a graph ("encoder", "decoder", "decoder.fp16", ...); throws naming the graphs there are. */
  graph(name: string): ManifestGraph & { path: string };
}

export interface LoadOptions {
  /** Check each file's size and SHA-256 (default true). Sizes and containment are always checked. */
  checksums?: boolean;
}

/** Reads, validates and checks a model directory. Errors name the file and the mismatch. */
export async function loadModelDir(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(
      code === 'ENOENT' ? `${root} is not a model directory: it has no ${MANIFEST_FILE}` : `cannot read ${manifestPath}: ${code ?? (err as Error).message}`,
    );
  }
  const manifest = parseManifestText(text, manifestPath);
  const realRoot = await realpath(root);
  for (const entry of manifest.files) {
    const path = await containedPath(root, realRoot, entry.path);
    await checkFile(path, entry, options.checksums ?? true);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  return {
    dir: root,
    manifest,
    file(path: string) {
      if (!listed.has(path)) throw new ManifestError(`${root}: "${path}" is not listed in ${MANIFEST_FILE}`);
      return join(root, ...path.split('/'));
    },
    graph(name: string) {
      const g = manifest.graphs[name];
      if (!g) throw new ManifestError(`${root}: no graph "${name}" (it has ${Object.keys(manifest.graphs).join(', ')})`);
      return { ...g, path: join(root, ...g.file.split('/')) };
    },
  };
}

/** Resolves a manifest path, refusing one that leaves the directory (including through a symlink). */
async function containedPath(root: string, realRoot: string, path: string): Promise<string> {
  if (!isSafeRelativePath(path)) throw new ManifestError(`${join(root, MANIFEST_FILE)}: file path "${path}" escapes the model directory`);
  const full = join(root, ...path.split('/'));
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(`${full}: ${code === 'ENOENT' ? 'missing (listed in the manifest)' : `cannot read: ${code}`}`, 'checksum');
  }
  const rel = relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new ManifestError(`${full}: resolves to ${real}, outside the model directory`);
  }
  return full;
}

async function checkFile(path: string, entry: Manifest['files'][number], checksums: boolean): Promise<void> {
  const info = await stat(path);
  if (!info.isFile()) throw new ManifestError(`${path}: not a regular file`, 'checksum');
  if (info.size !== entry.bytes) {
    throw new ManifestError(`${path}: size mismatch: the manifest says ${entry.bytes} bytes, the file has ${info.size}`, 'checksum');
  }
  if (!checksums) return;
  const actual = createHash('sha256').update(await readFile(path)).digest('hex');
  if (actual !== entry.sha256) {
    throw new ManifestError(`${path}: SHA-256 mismatch: the manifest says ${entry.sha256}, the file has ${actual}`, 'checksum');
  }
}

// dist/node.js or src/node.ts: the package root is one folder up either way.
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of models/released/, where the committed models live (one folder each). */
export function releasedModelsDir(): string {
  return join(PACKAGE_DIR, 'released');
}

/** Absolute path of a released model's directory (default: the paper's n = 64 model); throws if it is not there. */
export function releasedModelDir(name: string = DEFAULT_MODEL): string {
  if (!isSafeRelativePath(name) || name.includes('/')) throw new ManifestError(`invalid model name "${name}"`);
  const dir = join(releasedModelsDir(), name);
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    throw new ManifestError(`no released model "${name}" in ${releasedModelsDir()} (see models/README.md to produce one)`);
  }
  return dir;
}

/** Loads (and checks) a released model by name. */
export function loadReleasedModel(name: string = DEFAULT_MODEL, options?: LoadOptions): Promise<LoadedModel> {
  return loadModelDir(releasedModelDir(name), options);
}
