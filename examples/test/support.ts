/**
 * What a consumer of the published packages does, done for real: `npm pack` the workspace
 * packages, install the tarballs into a copy of an example app outside the workspace, build it,
 * serve it over HTTP. Nothing here reaches into the workspace's node_modules from the apps.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLES = join(REPO, 'examples');

/** The packages a consumer installs, by workspace folder. */
export const PUBLISHED = ['models', 'runtime-core', 'runtime-node', 'runtime-web'] as const;

/** npm with a quiet, offline-first configuration; stdout and stderr on failure. */
export async function npm(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} in ${cwd} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Packs every published package into `dir`; returns name -> tarball path. */
export async function packAll(dir: string): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const out = await npm(['pack', '--json', '--pack-destination', dir, ...PUBLISHED.flatMap((p) => ['-w', p])], REPO);
  const packed = JSON.parse(out) as { name: string; filename: string }[];
  return new Map(packed.map((p) => [p.name, join(dir, p.filename)]));
}

/** The @vae packages `names` need, themselves included (from the workspace's package.json files). */
async function vaeClosure(names: string[]): Promise<Set<string>> {
  const folderOf = new Map<string, string>();
  for (const folder of PUBLISHED) {
    const pkg = JSON.parse(await readFile(join(REPO, folder, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
    folderOf.set(pkg.name, folder);
  }
  const seen = new Set<string>();
  const visit = async (name: string) => {
    if (seen.has(name) || !folderOf.has(name)) return;
    seen.add(name);
    const pkg = JSON.parse(await readFile(join(REPO, folderOf.get(name)!, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) await visit(dep);
  };
  for (const name of names) await visit(name);
  return seen;
}

/**
 * Copies example `name` to `<root>/<name>` and installs it with its @vae dependencies replaced
 * by the packed tarballs, and the @vae packages those depend on listed too, so that they resolve
 * to the tarballs, not to the registry.
 */
export async function installExample(name: string, root: string, tarballs: Map<string, string>): Promise<string> {
  const dir = join(root, name);
  await cp(join(EXAMPLES, name), dir, { recursive: true, filter: (src) => !/node_modules|dist-/.test(src) });
  const pkgPath = join(dir, 'package.json');
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { dependencies?: Record<string, string> };
  pkg.dependencies = { ...pkg.dependencies };
  for (const packName of await vaeClosure(Object.keys(pkg.dependencies))) pkg.dependencies[packName] = `file:${tarballs.get(packName)}`;
  await writeFile(pkgPath, JSON.stringify(pkg, null, 2));
  await npm(['install', '--prefer-offline'], dir);
  return dir;
}

/**
 * The executable of the `deno` or `bun` devDependency as npm installed it. Both npm packages
 * carry their binary in a platform package, an optionalDependency that npm installs for this
 * os / cpu / libc only (@deno/linux-x64-glibc, @oven/bun-linux-x64, ...); their postinstall
 * scripts, which would only copy or link that binary into place, are denied by the root
 * package.json's allowScripts, so the binary is run from the platform package itself.
 * Undefined where none was installed (a platform without a build).
 */
export function runtimeBinary(name: 'deno' | 'bun'): string | undefined {
  const require = createRequire(join(EXAMPLES, 'package.json'));
  const { platform } = process;
  const exe = platform === 'win32' ? `${name}.exe` : name;
  const candidates = name === 'deno'
    ? [`@deno/${platform}-${process.arch}${platform === 'linux' ? '-glibc' : ''}/${exe}`]
    : ['', '-musl'].map((libc) => `@oven/bun-${platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}${libc}/bin/${exe}`);
  for (const candidate of candidates) {
    const pkg = candidate.split('/').slice(0, 2).join('/');
    let dir: string;
    try { dir = dirname(require.resolve(`${pkg}/package.json`)); } catch { continue; }
    const file = join(dir, candidate.slice(pkg.length + 1));
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The version of an installed npm package (from its package.json). */
export function installedVersion(name: string): string {
  const require = createRequire(join(EXAMPLES, 'package.json'));
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}

export async function tempRoot(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Total bytes of the files under `dir` (recursively), and of the .wasm files among them. */
export async function bytesUnder(dir: string, skip: (rel: string) => boolean = () => false): Promise<{ total: number; wasm: number; files: number }> {
  let total = 0, wasm = 0, files = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (skip(relative(dir, path))) continue;
    const size = (await stat(path)).size;
    total += size; files++;
    if (path.endsWith('.wasm')) wasm += size;
  }
  return { total, wasm, files };
}

