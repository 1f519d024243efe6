/**
 * Writes a directory atomically: everything goes into a temporary sibling folder, which is
 * renamed into place only when complete. Readers see the old directory or the new one,
 * never half of one; a failure removes the temporary folder and leaves the old one as it was.
 */
import { constants, existsSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
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

/** Why a file system error stopped the write, in words (the error's code is kept as well). */
const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a parent path is a file, not a folder',
};

/** The output directory could not be written; `code` is the file system's (ENOSPC, EACCES, ...). */
export class OutputWriteError extends Error {
  constructor(readonly path: string, message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OutputWriteError';
  }
}

/**
 * A file system error (one with a `code`) as an OutputWriteError naming the output folder, the
 * cause and what to do; other errors (a failed check, a bug) pass through unchanged.
 */
function writeError(out: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof OutputWriteError || typeof code !== 'string') return err;
  const hint = code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space or choose another --out' : 'choose a writable --out';
  return new OutputWriteError(out, `cannot write ${out}: ${REASONS[code] ?? code} (${(err as Error).message}); ${hint}`, code, { cause: err });
}

/**
 * Throws if `outDir` exists and may not be replaced, or if it cannot be created: the nearest
 * existing folder above it must be a writable directory. Cheap, so callers check before long work.
 */
export async function checkOutputDir(outDir: string, options: AtomicDirOptions = {}): Promise<void> {
  const out = resolve(outDir);
  if (existsSync(out)) {
    if (!options.force) throw new OutputExistsError(out);
    if (!(await stat(out)).isDirectory()) throw new Error(`${out} exists and is not a directory: refusing to replace it`);
  }
  let dir = dirname(out);
  try {
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir); // mkdir -p creates the rest
    if (!(await stat(dir)).isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, ${dir}`), { code: 'ENOTDIR' });
    }
    // W_OK: the permission bits (root passes those), and EROFS on a read-only mount.
    await access(dir, constants.W_OK);
  } catch (err) {
    throw writeError(out, err);
  }
}

/**
 * Calls `fill(tmpDir)` to populate a fresh temporary folder next to `outDir`, then renames
 * it to `outDir` (replacing an existing directory only with `force`). Returns fill's result.
 */
export async function writeDirAtomic<T>(outDir: string, options: AtomicDirOptions, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  const out = resolve(outDir);
  const parent = dirname(out);
  await checkOutputDir(out, options);
  let tmp: string;
  try {
    await mkdir(parent, { recursive: true });
    // Same parent folder, so the final rename stays on one filesystem (and is atomic).
    tmp = await mkdtemp(join(parent, `.${basename(out)}.tmp-`));
  } catch (err) {
    throw writeError(out, err);
  }
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
    const failure = writeError(out, err);
    try {
      await rm(tmp, { recursive: true, force: true });
    } catch (rmErr) {
      // Rare (e.g. the disk went read-only meanwhile): say what is left so it can be removed.
      if (failure instanceof Error) failure.message += ` (the temporary folder ${tmp} could not be removed: ${(rmErr as Error).message})`;
    }
    throw failure;
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
