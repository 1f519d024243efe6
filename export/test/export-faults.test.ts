/**
 * `vae export` when the disk fails it: an output folder that cannot be written (a file in
 * its path, a read-only or permission-denied folder) and a disk that fills up part-way.
 * Each must end in an OutputWriteError that names the folder and the cause, leave the
 * previous export at that path byte for byte as it was, and leave no temporary folder.
 *
 * The faults are real where this machine allows it: a small tmpfs (root with CAP_SYS_ADMIN
 * can mount one) gives a real ENOSPC, and remounting it read-only a real EROFS. Without
 * mount, permissions (chmod 0o555) make the folder unwritable for a non-root user; root
 * ignores permission bits, so that case is skipped there. The injected-ENOSPC test always
 * runs: it replaces fs.promises.writeFile (which every exporter write goes through) with one
 * that really writes until a byte budget is spent, then writes the part that fits and throws
 * ENOSPC, as a full disk does, at several seeded points.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { train } from '@vae/train';
import { mulberry32 } from '@vae/models';
import { exportRun } from '../src/export.js';
import { OutputWriteError } from '../src/atomic-dir.js';

let root: string;
let runDir: string;
let previous: string; // a finished export: what every failed export must leave untouched
let previousBytes = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vae-export-faults-'));
  runDir = join(root, 'run');
  previous = join(root, 'model');
  await train({ outDir: runDir, latentSize: 2, epochs: 1, trainLimit: 512, backend: 'auto' });
  await exportRun({ runDir, outDir: previous });
  previousBytes = Object.values(await treeSizes(previous)).reduce((s, b) => s + b, 0);
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** SHA-256 of every file under `dir`, by relative path (folders appear through their files). */
async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

async function treeSizes(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[relative(dir, join(entry.parentPath, entry.name))] = (await stat(join(entry.parentPath, entry.name))).size;
  }
  return out;
}

/** Exports over `out` (with --force), expecting an OutputWriteError with `code` that names `out`. */
async function failingExport(out: string, code: string, cause: RegExp): Promise<void> {
  const steps: string[] = [];
  await assert.rejects(exportRun({ runDir, outDir: out, force: true, onStep: (l) => steps.push(l) }), (err: Error) => {
    assert.ok(err instanceof OutputWriteError, `expected an OutputWriteError, got ${err.stack}`);
    assert.equal(err.code, code);
    assert.equal(err.path, out);
    assert.ok(err.message.startsWith(`cannot write ${out}: `), err.message);
    assert.match(err.message, cause);
    return true;
  });
  assert.ok(!steps.some((s) => /wrote /.test(s)), 'no "wrote" step');
}

/** A copy of the previous export at `dir`, and a check that it is unchanged and alone afterwards. */
async function placePrevious(dir: string): Promise<() => Promise<void>> {
  await cp(previous, dir, { recursive: true });
  const before = await treeHashes(dir);
  return async () => {
    assert.deepEqual(await treeHashes(dir), before, `${dir} changed`);
    const parent = join(dir, '..');
    const left = (await readdir(parent)).filter((f) => f !== 'model');
    assert.deepEqual(left, [], `left behind in ${parent}`);
  };
}

/** Mounts a tmpfs of `bytes` at `dir` when this process may (root with CAP_SYS_ADMIN); false otherwise. */
function mountTmpfs(dir: string, bytes: number): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); // lazily, if something still holds it
  }
}

test('an output path under a regular file is refused before any work (ENOTDIR), the file untouched', async () => {
  const file = join(root, 'a-file');
  await writeFile(file, 'keep me');
  await failingExport(join(file, 'model'), 'ENOTDIR', /a parent path is a file, not a folder.*choose a writable --out/);
  await failingExport(join(file, 'deeper', 'model'), 'ENOTDIR', /a parent path is a file/);
  assert.equal(await readFile(file, 'utf8'), 'keep me');
  assert.ok(!(await readdir(root)).some((f) => f.startsWith('.')), 'no temporary folder');
});

test('a read-only or permission-denied folder holding the previous export: refused, the export untouched', async (t) => {
  const parent = join(root, 'locked');
  await mkdir(parent);
  if (mountTmpfs(parent, 64 * 1024 * 1024)) {
    try {
      const check = await placePrevious(join(parent, 'model'));
      execFileSync('mount', ['-o', 'remount,ro', parent]);
      await failingExport(join(parent, 'model'), 'EROFS', /the file system is read-only.*choose a writable --out/);
      await check();
    } finally {
      umount(parent);
    }
  } else if (process.getuid?.() !== 0) {
    const check = await placePrevious(join(parent, 'model'));
    await chmod(parent, 0o555);
    try {
      await failingExport(join(parent, 'model'), 'EACCES', /permission denied.*choose a writable --out/);
    } finally {
      await chmod(parent, 0o755);
    }
    await check();
  } else {
    t.skip('root ignores permission bits and cannot mount a tmpfs here: no real unwritable folder to test');
  }
});

test('the disk fills up part-way (a real ENOSPC on a small tmpfs): refused, the previous export untouched', async (t) => {
  const parent = join(root, 'small-disk');
  await mkdir(parent);
  // Room for the previous export plus half of a new one (tmpfs counts whole 4 KiB pages).
  const files = Object.keys(await treeSizes(previous)).length;
  const size = Math.ceil((1.5 * previousBytes + 2 * files * 4096) / 4096) * 4096;
  if (!mountTmpfs(parent, size)) {
    t.skip('cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); the injected-ENOSPC test covers this fault');
    return;
  }
  try {
    const check = await placePrevious(join(parent, 'model'));
    await failingExport(join(parent, 'model'), 'ENOSPC', /the disk is full \(ENOSPC: no space left on device.*free some space or choose another --out/);
    await check();
  } finally {
    umount(parent);
  }
});

test('the disk fills up at seeded points (injected ENOSPC after a byte budget): refused, the previous export untouched', async () => {
  const promises = fs.promises;
  const realWriteFile = promises.writeFile;
  let budget = 0;
  let failures = 0;
  // Writes what fits, then throws the error a full disk gives.
  const fullDisk = async (path: fs.PathLike | fs.promises.FileHandle, data: string | Uint8Array, options?: fs.WriteFileOptions) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length <= budget) {
      budget -= bytes.length;
      return realWriteFile(path, bytes, options);
    }
    await realWriteFile(path, bytes.subarray(0, budget), options);
    budget = 0;
    failures++;
    throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  };
  const parent = join(root, 'injected');
  await mkdir(parent);
  const check = await placePrevious(join(parent, 'model'));
  const random = mulberry32(8);
  // Budgets: nothing at all, then seeded points inside the export (graphs first, then golden data and the manifest).
  const budgets = [0, ...[1, 2, 3].map(() => Math.floor(random() * previousBytes))];
  try {
    for (const b of budgets) {
      budget = b;
      (promises as { writeFile: unknown }).writeFile = fullDisk;
      syncBuiltinESMExports(); // `import { writeFile } from 'node:fs/promises'` now sees fullDisk too
      try {
        await failingExport(join(parent, 'model'), 'ENOSPC', /the disk is full/);
      } finally {
        promises.writeFile = realWriteFile;
        syncBuiltinESMExports();
      }
      await check();
    }
  } finally {
    promises.writeFile = realWriteFile;
    syncBuiltinESMExports();
  }
  assert.equal(failures, budgets.length, `the ENOSPC fired once per export (budgets ${budgets.join(', ')} of ${previousBytes} bytes)`);
});
