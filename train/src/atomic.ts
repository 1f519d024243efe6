/** Files that appear whole or not at all: write a temporary sibling, then rename it into place. */
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to `path` atomically; on failure the temporary file is removed. The temporary
 * name `<path>.<pid>.tmp` is what `train` sweeps up after a process was killed mid-write.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
