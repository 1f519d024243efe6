/**
 * Benchmark of the standalone decoder (decoder.mjs) against onnxruntime, as functions for
 * `npm run bench:node` / `bench:web`, plus a CLI entry:
 *
 *   node --import tsx export/bench/standalone.ts [MODEL_DIR...] [--chromium] [--no-node] [--json]
 *   (npm run bench:node runs it with the Node rows, npm run bench:web with --chromium --no-node)
 *
 * Without MODEL_DIR: the MLP (mnist-n64-beta1) and, when its folder holds a decoder.mjs, the conv
 * VAE (mnist-n64-conv; `vae export DIR --standalone-only` gives it one).
 *
 * Rows: batch-1 latency (median ms per call) and batch-256 throughput (samples/s) of the
 * standalone decoder (WebAssembly SIMD kernel and plain JS kernel) and of onnxruntime (node CPU
 * and web wasm in Node; web wasm in Chromium), single thread, same process, same inputs,
 * measured interleaved (A, B, A, B, ...) so a busy machine slows every contender alike: compare
 * the ratios, not the absolute figures. Bytes shipped: the module, each precision's weights,
 * raw and gzip -9, against onnxruntime-web's wasm-only build (ort.wasm.min.mjs + its .wasm).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { launchChromium, send, serveStatic } from '@vae/browser-harness';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_MODEL_DIR = join(REPO, 'models', 'released', 'mnist-n64-beta1');
export const CONV_MODEL_DIR = join(REPO, 'models', 'released', 'mnist-n64-conv');
const require = createRequire(import.meta.url);
const ORT_WEB_DIST = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
/** onnxruntime-web's wasm-only build: its ES module and the wasm binary it loads. */
export const ORT_WASM_ONLY = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

export interface Size { file: string; raw: number; gzip: number }
export interface BytesReport {
  module: Size;
  /** The module's code: runtime + wasm kernel, without the compiled model (its `const MODEL` line); limit 40 KB. */
  code: number;
  weights: Record<string, Size>;
  ortWasmOnly: Size[];
  ortWasmOnlyTotal: { raw: number; gzip: number };
  /** gzip(code) + gzip(int8 weights) / gzip(onnxruntime-web wasm-only); target <= 0.1. */
  int8ShippedRatio: number;
}

const size = (path: string, file: string): Size => {
  const data = readFileSync(path);
  return { file, raw: data.length, gzip: gzipSync(data, { level: 9 }).length };
};

/** Bytes shipped: module and weights of a model directory vs onnxruntime-web's wasm-only files. */
export function bytesShipped(modelDir = DEFAULT_MODEL_DIR): BytesReport {
  const module = size(join(modelDir, 'decoder.mjs'), 'decoder.mjs');
  const text = readFileSync(join(modelDir, 'decoder.mjs'), 'utf8');
  const code = module.raw - Buffer.byteLength(/^const MODEL = .*;$/m.exec(text)?.[0] ?? '');
  const weights: Record<string, Size> = {};
  for (const [p, f] of [['fp32', 'decoder.weights.bin'], ['fp16', 'decoder.fp16.weights.bin'], ['int8', 'decoder.int8.weights.bin']]) {
    try { statSync(join(modelDir, f)); weights[p] = size(join(modelDir, f), f); } catch { /* not shipped */ }
  }
  const ortWasmOnly = ORT_WASM_ONLY.map((f) => size(join(ORT_WEB_DIST, f), f));
  const ortWasmOnlyTotal = { raw: ortWasmOnly.reduce((s, x) => s + x.raw, 0), gzip: ortWasmOnly.reduce((s, x) => s + x.gzip, 0) };
  return { module, code, weights, ortWasmOnly, ortWasmOnlyTotal, int8ShippedRatio: (module.gzip + (weights.int8?.gzip ?? NaN)) / ortWasmOnlyTotal.gzip };
}

export interface SpeedRow { runtime: string; batch1Ms: number; batch256PerSecond: number }

type Runner = { name: string; run(z: Float32Array, count: number): Promise<unknown> | unknown };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Interleaved timing of several runners: median ms per call at batch 1 and batch 256. */
async function interleaved(runners: Runner[], latent: number, rounds: { b1: number; b256: number }): Promise<SpeedRow[]> {
  const z256 = Float32Array.from({ length: 256 * latent }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const z1 = z256.slice(0, latent);
  const t1 = runners.map(() => [] as number[]);
  const t256 = runners.map(() => [] as number[]);
  for (const r of runners) { for (let i = 0; i < 5; i++) await r.run(z1, 1); await r.run(z256, 256); } // warm up
  for (let round = 0; round < rounds.b1; round++) {
    for (const [i, r] of runners.entries()) {
      const t = performance.now();
      for (let k = 0; k < 10; k++) await r.run(z1, 1);
      t1[i].push((performance.now() - t) / 10);
    }
  }
  for (let round = 0; round < rounds.b256; round++) {
    for (const [i, r] of runners.entries()) {
      const t = performance.now();
      await r.run(z256, 256);
      t256[i].push(performance.now() - t);
    }
  }
  return runners.map((r, i) => ({ runtime: r.name, batch1Ms: median(t1[i]), batch256PerSecond: 256 / (median(t256[i]) / 1000) }));
}

interface StandaloneModule {
  loadDecoder(source?: unknown, options?: { precision?: string; kernel?: string }): Promise<{ decode(z: Float32Array, count: number): Float32Array; latentSize: number }>;
}

/** Node rows: the standalone decoder (wasm and js kernels) vs onnxruntime-node CPU and onnxruntime-web wasm, one thread each. */
export async function nodeRows(modelDir = DEFAULT_MODEL_DIR, options: { precision?: string; rounds?: { b1: number; b256: number } } = {}): Promise<SpeedRow[]> {
  const precision = options.precision ?? 'fp32';
  const graph = join(modelDir, precision === 'fp32' ? 'decoder.onnx' : `decoder.${precision}.onnx`);
  const mod = await import(pathToFileURL(join(modelDir, 'decoder.mjs')).href) as StandaloneModule;
  const wasm = await mod.loadDecoder(undefined, { precision, kernel: 'wasm' });
  const js = await mod.loadDecoder(undefined, { precision, kernel: 'js' });
  const ortNode = await import('onnxruntime-node');
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = 1;
  const bytes = readFileSync(graph);
  const sNode = await ortNode.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const sWeb = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const latent = wasm.latentSize;
  return interleaved([
    { name: `standalone ${precision} (wasm SIMD kernel), Node`, run: (z, n) => wasm.decode(z, n) },
    { name: `standalone ${precision} (js kernel), Node`, run: (z, n) => js.decode(z, n) },
    { name: `onnxruntime-node ${precision} CPU, 1 thread`, run: (z, n) => sNode.run({ z: new ortNode.Tensor('float32', z, [n, latent]) }) },
    { name: `onnxruntime-web ${precision} wasm, 1 thread, Node`, run: (z, n) => sWeb.run({ z: new ortWeb.Tensor('float32', z, [n, latent]) }) },
  ], latent, options.rounds ?? { b1: 30, b256: 15 });
}

/**
 * Chromium rows, measured inside `page` (which must be on an origin serving `urls`): the
 * standalone decoder (both kernels) vs onnxruntime-web's wasm-only build, single thread, interleaved.
 */
export async function chromiumRows(page: Page, urls: { module: string; onnx: string; ortModule: string; ortBase: string }, options: { precision?: string; rounds?: { b1: number; b256: number } } = {}): Promise<SpeedRow[]> {
  const args = { ...urls, precision: options.precision ?? 'fp32', rounds: options.rounds ?? { b1: 30, b256: 15 } };
  // A string, not a function: tsx's transform would add helpers (__name) the page does not have.
  return page.evaluate(`(${CHROMIUM_BENCH})(${JSON.stringify(args)})`) as Promise<SpeedRow[]>;
}

const CHROMIUM_BENCH = String.raw`async (a) => {
    const mod = await import(a.module);
    const ort = await import(a.ortModule);
    ort.env.wasm.wasmPaths = a.ortBase;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const wasm = await mod.loadDecoder(undefined, { precision: a.precision, kernel: 'wasm' });
    const js = await mod.loadDecoder(undefined, { precision: a.precision, kernel: 'js' });
    const session = await ort.InferenceSession.create(a.onnx, { executionProviders: ['wasm'] });
    const n = wasm.latentSize;
    const runners = [
      { name: 'standalone ' + a.precision + ' (wasm SIMD kernel), Chromium', run: (z, c) => wasm.decode(z, c) },
      { name: 'standalone ' + a.precision + ' (js kernel), Chromium', run: (z, c) => js.decode(z, c) },
      { name: 'onnxruntime-web ' + a.precision + ' wasm, 1 thread, Chromium', run: (z, c) => session.run({ z: new ort.Tensor('float32', z, [c, n]) }) },
    ];
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const z256 = Float32Array.from({ length: 256 * n }, (_, i) => Math.sin(i * 12.9898) * 1.5);
    const z1 = z256.slice(0, n);
    const t1 = runners.map(() => []), t256 = runners.map(() => []);
    for (const r of runners) { for (let i = 0; i < 5; i++) await r.run(z1, 1); await r.run(z256, 256); }
    for (let round = 0; round < a.rounds.b1; round++) {
      for (const [i, r] of runners.entries()) { const t = performance.now(); for (let k = 0; k < 10; k++) await r.run(z1, 1); t1[i].push((performance.now() - t) / 10); }
    }
    for (let round = 0; round < a.rounds.b256; round++) {
      for (const [i, r] of runners.entries()) { const t = performance.now(); await r.run(z256, 256); t256[i].push(performance.now() - t); }
    }
    return runners.map((r, i) => ({ runtime: r.name, batch1Ms: med(t1[i]), batch256PerSecond: 256 / (med(t256[i]) / 1000) }));
  }`;

/** Starts a static server (repository root, and onnxruntime-web's dist under /ort/) and Chromium; returns the Chromium rows. */
export async function runChromium(modelDir = DEFAULT_MODEL_DIR, options: { precision?: string } = {}): Promise<SpeedRow[]> {
  // The model folder under /model/ (it may lie outside the repository) and onnxruntime-web's dist under /ort/; "/" is an empty page.
  const server = await serveStatic({
    dirs: { '/model/': modelDir, '/ort/': ORT_WEB_DIST },
    index: false,
    routes: [(_req, res, path) => {
      if (path !== '/') return false;
      send(res, 200, 'text/html', '<!doctype html><title>bench</title>');
      return true;
    }],
  });
  const origin = server.origin;
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const precision = options.precision ?? 'fp32';
    return await chromiumRows(page, {
      module: `${origin}/model/decoder.mjs`,
      onnx: `${origin}/model/${precision === 'fp32' ? 'decoder.onnx' : `decoder.${precision}.onnx`}`,
      ortModule: `${origin}/ort/ort.wasm.min.mjs`,
      ortBase: `${origin}/ort/`,
    }, { precision });
  } finally {
    await browser.close();
    await server.close();
  }
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** The rows as text, with the ratios the targets are stated in. */
export function formatRows(rows: SpeedRow[], reference: string): string {
  const ref = rows.find((r) => r.runtime.startsWith(reference));
  return rows.map((r) => `${r.runtime.padEnd(52)} batch-1 ${r.batch1Ms.toFixed(3)} ms` +
    `${ref ? ` (${(r.batch1Ms / ref.batch1Ms).toFixed(2)}x)` : ''}   batch-256 ${Math.round(r.batch256PerSecond)} samples/s` +
    `${ref ? ` (${(r.batch256PerSecond / ref.batch256PerSecond).toFixed(2)}x)` : ''}`).join('\n');
}

export function formatBytes(b: BytesReport): string {
  const lines = [`decoder.mjs: ${b.module.raw} bytes (${kb(b.module.raw)}), gzip ${b.module.gzip}; code without the compiled model ${b.code} bytes (limit 40 KB)`];
  for (const [p, s] of Object.entries(b.weights)) lines.push(`${s.file} (${p}): ${kb(s.raw)}, gzip ${kb(s.gzip)}; with the module: gzip ${kb(s.gzip + b.module.gzip)}`);
  lines.push(`onnxruntime-web wasm-only (${b.ortWasmOnly.map((s) => s.file).join(' + ')}): ${kb(b.ortWasmOnlyTotal.raw)}, gzip ${kb(b.ortWasmOnlyTotal.gzip)}`);
  lines.push(`code + int8 weights, gzip / onnxruntime-web wasm-only gzip = ${b.int8ShippedRatio.toFixed(4)} (target <= 0.1)`);
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const given = args.filter((a) => !a.startsWith('--')).map((a) => resolve(a));
  const dirs = given.length ? given : [DEFAULT_MODEL_DIR, ...(existsSync(join(CONV_MODEL_DIR, 'decoder.mjs')) ? [CONV_MODEL_DIR] : [])];
  const results = [];
  for (const dir of dirs) {
    const bytes = bytesShipped(dir);
    const node = args.includes('--no-node') ? [] : await nodeRows(dir);
    const web = args.includes('--chromium') ? await runChromium(dir) : [];
    results.push({ modelDir: dir, bytes, node, chromium: web });
    if (args.includes('--json')) continue;
    console.log(`# standalone decoder vs onnxruntime: ${dir}\n# ratios are against onnxruntime-web wasm in the same process, measured interleaved\n`);
    console.log(formatBytes(bytes) + '\n');
    if (node.length) console.log(formatRows(node, 'onnxruntime-web') + '\n');
    if (web.length) console.log(formatRows(web, 'onnxruntime-web') + '\n');
  }
  // One directory: its object, as before; several: an array of them.
  if (args.includes('--json')) console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  process.exit(0);
}
