/**
 * Writes a directory atomically: everything goes into a temporary sibling folder, which is
 * renamed into place only when complete. Readers see the old directory or the new one,
 * never half of one; a failure removes the temporary folder and leaves the old one as it was.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export interface AtomicDirOptions {
  /** Replace an existing directory (else an existing path is an error). */
  force?: boolean;
}

export class OutputExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists: pass --force to replace it`);
    this.name = 'OutputExistsError';
  }
}

/** Throws if `outDir` exists and may not be replaced. */
export async function checkOutputDir(outDir: string, options: AtomicDirOptions = {}): Promise<void> {
  const out = resolve(outDir);
  if (!existsSync(out)) return;
  if (!options.force) throw new OutputExistsError(out);
  if (!(await stat(out)).isDirectory()) throw new Error(`${out} exists and is not a directory: refusing to replace it`);
}

/**
 * Calls `fill(tmpDir)` to populate a fresh temporary folder next to `outDir`, then renames
 * it to `outDir` (replacing an existing directory only with `force`). Returns fill's result.
 */
export async function writeDirAtomic<T>(outDir: string, options: AtomicDirOptions, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  const out = resolve(outDir);
  const parent = dirname(out);
  await checkOutputDir(out, options);
  await mkdir(parent, { recursive: true });
  // Same parent folder, so the final rename stays on one filesystem (and is atomic).
  const tmp = await mkdtemp(join(parent, `.${basename(out)}.tmp-`));
  let result: T;
  try {
    result = await fill(tmp);
    await chmod(tmp, 0o755); // mkdtemp made it private (0700); the result is an ordinary folder
    await checkOutputDir(out, options); // it may have appeared meanwhile
    if (existsSync(out)) {
      const old = await mkdtemp(join(parent, `.${basename(out)}.old-`));
      await rename(out, join(old, 'previous'));
      try {
        await rename(tmp, out);
      } catch (err) {
        await rename(join(old, 'previous'), out); // put the old one back
        throw err;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, out);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await syncDir(parent);
  return result;
}

/** fsync a directory so a rename in it survives a power cut (best effort). */
async function syncDir(path: string): Promise<void> {
  try {
    const dir = await open(path, 'r');
    try { await dir.sync(); } finally { await dir.close(); }
  } catch {
    // Some filesystems refuse to fsync directories; the rename is still atomic.
  }
}
