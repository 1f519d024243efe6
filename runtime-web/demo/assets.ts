/**
 * Node side of the demo and the tests: which files the pages need besides the bundle.
 *
 *   /models/<name>/<file>   the released model directories (models/released/, via @vae/models/node)
 *   /ort/<file>             onnxruntime-web's .wasm / .mjs files, so `wasmPaths` is a same-origin absolute URL
 *
 * Used by the Vite plugin (dev server middleware, and copying into a production build) and
 * by the tests' static server (@vae/browser-harness, whose sendFile streams the files).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { sendFile } from '@vae/browser-harness';
import { isSafeRelativePath } from '@vae/models';
import { releasedModelsDir } from '@vae/models/node';

const require = createRequire(import.meta.url);

/** onnxruntime-web's dist folder. */
export const ORT_DIST = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
/** The files the `onnxruntime-web/webgpu` build loads at run time (its WebGPU + wasm binary and loader). */
export const ORT_RUNTIME_FILES = ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'];
export const MODELS_ROUTE = '/models/';
export const ORT_ROUTE = '/ort/';

/** The file on disk for an /models/... or /ort/... URL path, or null. Never leaves those folders. */
export function assetFile(urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  let root: string;
  let rest: string;
  if (path.startsWith(MODELS_ROUTE)) [root, rest] = [releasedModelsDir(), path.slice(MODELS_ROUTE.length)];
  else if (path.startsWith(ORT_ROUTE)) [root, rest] = [ORT_DIST, path.slice(ORT_ROUTE.length)];
  else return null;
  if (!isSafeRelativePath(rest)) return null;
  if (root === ORT_DIST && !/^ort-wasm-simd-threaded[\w.]*\.(wasm|mjs)$/.test(rest)) return null;
  const file = join(root, ...rest.split('/'));
  if (relative(root, file).startsWith('..') || !existsSync(file) || !statSync(file).isFile()) return null;
  return file;
}

/** Connect-style middleware serving /models/ and /ort/ (used by Vite's dev and preview servers). */
export function assetMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const file = req.method === 'GET' || req.method === 'HEAD' ? assetFile(req.url ?? '/') : null;
  if (file) sendFile(res, file);
  else next();
}

/** Every file a static deployment needs under /models/ and /ort/: [url path without leading "/", absolute file]. */
export function assetFilesForBuild(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
      else out.push([`${prefix}${name}`, full]);
    }
  };
  walk(releasedModelsDir(), MODELS_ROUTE.slice(1));
  for (const f of ORT_RUNTIME_FILES) out.push([`${ORT_ROUTE.slice(1)}${f}`, join(ORT_DIST, f)]);
  return out.map(([url, file]) => [url.split(sep).join('/'), file]);
}
