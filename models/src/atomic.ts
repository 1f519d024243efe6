/**
 * Files that appear whole or not at all, for every Node package of this repository (training
 * runs, datasets, PNGs, reports): write a temporary sibling, then rename it into place.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/**
 * Writes `data` to `path` atomically, creating missing parent folders; on failure the temporary
 * file is removed and `path` is untouched. The temporary name `.<name>.<pid>.<k>.tmp` ends in
 * `.<digits>.tmp`, the pattern `vae train` sweeps up after a process was killed mid-write.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** `value` as indented JSON with a final newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
