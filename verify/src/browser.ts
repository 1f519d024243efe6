/**
 * The browser half of the matrix: a static server on 127.0.0.1 (WebGPU needs a secure
 * context, and http://127.0.0.1 is one) and Debian's Chromium, headless, driven by
 * playwright-core (no browser download).
 *
 * The server answers:
 *   /page/wasm.html, /page/webgpu.html   a page that imports onnxruntime-web (ort.wasm.min.mjs,
 *                                        resp. ort.webgpu.min.mjs) and defines window.parity
 *   /ort/<file>                          onnxruntime-web's dist files (.mjs, .wasm)
 *   /models/<id>.onnx                    model bytes registered by open() (kept in memory)
 *
 * Tensors cross the page boundary as base64 of their little-endian float32 bytes: exact and
 * compact. The WebGPU page counts GPUQueue.submit() calls, proof that work reached the GPU
 * device, and reports the adapter (SwiftShader, a CPU implementation, when there is no GPU).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, MIME, openPage, pageErrorLine, send, sendFile, serveStatic, type Route, type StaticServer } from '@vae/browser-harness';
import type { Feed } from './golden.js';
import type { RuntimeSession } from './session.js';
import { tensorBytes, tensorFromBytes, type DType, type Tensor } from './tensors.js';

export type BrowserEp = 'wasm' | 'webgpu';
/** The pages: one per onnxruntime-web EP, and the standalone decoder's. */
export type BrowserPage = BrowserEp | 'standalone';

const require = createRequire(import.meta.url);
/** onnxruntime-web's dist folder, found when a browser row first asks for it (Node-only users of verify need no onnxruntime-web). */
let ortDist: string | undefined;
const ortDistDir = () => (ortDist ??= dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm')));
const BUNDLE: Record<BrowserEp, string> = { wasm: 'ort.wasm.min.mjs', webgpu: 'ort.webgpu.min.mjs' };

/** The page script: window.parity.{info, open, run, release}. Runs in the browser. */
function pageHtml(ep: BrowserEp): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>@vae/verify parity (${ep})</title></head>
<body><p>@vae/verify parity page: onnxruntime-web, ${ep} execution provider only.</p>
<script type="module">
  globalThis.__gpuSubmits = 0;
  if (globalThis.GPUQueue) {
    const submit = GPUQueue.prototype.submit;
    GPUQueue.prototype.submit = function (...args) { globalThis.__gpuSubmits++; return submit.apply(this, args); };
  }
  const ort = await import('/ort/${BUNDLE[ep]}');
  ort.env.wasm.wasmPaths = location.origin + '/ort/';
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const fromB64 = (s) => { const b = atob(s); const u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return new Float32Array(u.buffer); };
  const toB64 = (f) => { const u = new Uint8Array(f.buffer, f.byteOffset, f.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000)); return btoa(s); };
  const CTORS = { float32: Float32Array, float16: Uint16Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array, int32: Int32Array, int64: BigInt64Array };
  const typed = (dtype, s) => { const b = atob(s); const u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return new CTORS[dtype](u.buffer); };
  const sessions = new Map();
  let next = 1;
  window.parity = {
    async info() {
      const info = { ep: '${ep}', ort: ort.env.versions, userAgent: navigator.userAgent, secure: isSecureContext, adapter: null };
      if ('${ep}' === 'webgpu') {
        if (!navigator.gpu) throw new Error('navigator.gpu is undefined: this Chromium exposes no WebGPU (is --enable-unsafe-webgpu set?)');
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null: no WebGPU adapter');
        const a = adapter.info ?? {};
        info.adapter = { vendor: a.vendor ?? '', architecture: a.architecture ?? '', device: a.device ?? '', description: a.description ?? '' };
      }
      return info;
    },
    async open(url) {
      const session = await ort.InferenceSession.create(url, { executionProviders: ['${ep}'] });
      const id = next++;
      sessions.set(id, session);
      return id;
    },
    async run(id, feeds) {
      const session = sessions.get(id);
      const input = {};
      for (const f of feeds) input[f.name] = new ort.Tensor('float32', fromB64(f.b64), f.dims);
      const before = globalThis.__gpuSubmits;
      const results = await session.run(input);
      const out = {};
      for (const [name, t] of Object.entries(results)) {
        if (t.type !== 'float32') throw new Error('output "' + name + '" is ' + t.type + ', expected float32');
        const data = t.location === 'cpu' ? t.data : await t.getData();
        out[name] = { dims: t.dims, b64: toB64(data) };
      }
      return { out, gpuSubmits: globalThis.__gpuSubmits - before };
    },
    async runTyped(id, feeds) {
      const session = sessions.get(id);
      const input = {};
      for (const f of feeds) input[f.name] = new ort.Tensor(f.dtype, typed(f.dtype, f.b64), f.dims);
      const before = globalThis.__gpuSubmits;
      const results = await session.run(input);
      const out = {};
      for (const [name, t] of Object.entries(results)) {
        const data = t.location === 'cpu' ? t.data : await t.getData();
        out[name] = { dtype: t.type, dims: t.dims, b64: toB64(data) };
      }
      return { out, gpuSubmits: globalThis.__gpuSubmits - before };
    },
    async release(id) {
      await sessions.get(id)?.release();
      sessions.delete(id);
    },
  };
  document.body.dataset.ready = 'true';
</script></body></html>`;
}

/** The standalone decoder's page: window.standalone.{info, open, run, release}; no onnxruntime. */
function standalonePageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>@vae/verify parity (standalone)</title></head>
<body><p>@vae/verify parity page: the standalone decoder module (decoder.mjs), no onnxruntime.</p>
<script type="module">
  const fromB64 = (s) => { const b = atob(s); const u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return new Float32Array(u.buffer); };
  const toB64 = (f) => { const u = new Uint8Array(f.buffer, f.byteOffset, f.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000)); return btoa(s); };
  const decoders = new Map();
  let next = 1;
  window.standalone = {
    async info() { return { userAgent: navigator.userAgent, simd: WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,10,1,8,0,65,0,253,15,253,98,11])) }; },
    async open(moduleUrl, weightsUrl, precision) {
      const mod = await import(moduleUrl);
      const decoder = await mod.loadDecoder(new URL(weightsUrl), { precision });
      const id = next++;
      decoders.set(id, decoder);
      return { id, kernel: decoder.kernel };
    },
    async run(id, feeds) {
      const d = decoders.get(id);
      const f = feeds[0];
      const out = d.run(fromB64(f.b64), f.dims[0]);
      return { out: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { dims: [], b64: toB64(v) }])), gpuSubmits: 0 };
    },
    async release(id) { decoders.delete(id); },
  };
  document.body.dataset.ready = 'true';
</script></body></html>`;
}

const toB64 = (f: Float32Array): string => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
function fromB64(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

interface StandaloneWindow {
  standalone: {
    info(): Promise<{ userAgent: string; simd: boolean }>;
    open(moduleUrl: string, weightsUrl: string, precision: string): Promise<{ id: number; kernel: string }>;
    run(id: number, feeds: { name: string; dims: number[]; b64: string }[]): Promise<{ out: Record<string, { dims: number[]; b64: string }> }>;
    release(id: number): Promise<void>;
  };
}

interface ParityWindow {
  parity: {
    info(): Promise<{ ep: string; ort: Record<string, string>; userAgent: string; secure: boolean; adapter: null | Record<string, string> }>;
    open(url: string): Promise<number>;
    run(id: number, feeds: { name: string; dims: number[]; b64: string }[]): Promise<{ out: Record<string, { dims: number[]; b64: string }>; gpuSubmits: number }>;
    runTyped(id: number, feeds: { name: string; dtype: string; dims: number[]; b64: string }[]): Promise<{ out: Record<string, { dtype: string; dims: number[]; b64: string }>; gpuSubmits: number }>;
    release(id: number): Promise<void>;
  };
}

export class BrowserHost {
  private readonly models = new Map<string, Uint8Array>();
  private readonly pages = new Map<BrowserPage, Promise<{ page: Page; errors: string[] }>>();
  /** Files served from memory under /files/<key>/<name> (the standalone module and weights). */
  private readonly files = new Map<string, { type: string; bytes: Uint8Array }>();
  /** Every request path, for tests and for describe() (which wasm binary each page loaded). */
  readonly requests: string[] = [];
  private nextModel = 1;

  private constructor(private readonly server: StaticServer, private readonly browser: Browser) {}

  get origin(): string {
    return this.server.origin;
  }

  /** Starts the server and launches Chromium (once; every page shares it). */
  static async start(): Promise<BrowserHost> {
    let host: BrowserHost | undefined;
    const server = await serveStatic({ routes: [(_req, res, path) => host?.answer(res, path) ?? false] });
    try {
      host = new BrowserHost(server, await launchChromium({ webgpu: true }));
      return host;
    } catch (err) {
      await server.close();
      throw err;
    }
  }

  /** The routes: the pages, the files and models registered in memory, onnxruntime-web's dist files. */
  private answer(res: Parameters<Route>[1], path: string): boolean {
    this.requests.push(path);
    const page = /^\/page\/(wasm|webgpu|standalone)\.html$/.exec(path);
    if (page) {
      send(res, 200, MIME['.html'], page[1] === 'standalone' ? standalonePageHtml() : pageHtml(page[1] as BrowserEp));
      return true;
    }
    const file = /^\/files\/(\d+\/[\w.-]+)$/.exec(path);
    const held = file && this.files.get(file[1]);
    if (held) {
      send(res, 200, held.type, held.bytes);
      return true;
    }
    const model = /^\/models\/(\d+)\.onnx$/.exec(path);
    const bytes = model && this.models.get(model[1]);
    if (bytes) {
      send(res, 200, 'application/octet-stream', bytes);
      return true;
    }
    const ort = /^\/ort\/(ort[\w.-]*\.(?:mjs|wasm))$/.exec(path);
    const dist = ort && join(ortDistDir(), basename(ort[1]));
    if (dist && existsSync(dist) && statSync(dist).isFile()) {
      sendFile(res, dist);
      return true;
    }
    return false;
  }

  private page(ep: BrowserPage): Promise<{ page: Page; errors: string[] }> {
    let p = this.pages.get(ep);
    if (!p) {
      p = openPage(this.browser, `${this.origin}/page/${ep}.html`, { ready: "document.body?.dataset.ready === 'true'" }).catch((err: Error) => {
        throw new Error(`the ${ep} page did not load: ${err.message}`);
      });
      this.pages.set(ep, p);
    }
    return p;
  }

  /** One line about the page's runtime: ort version, Chromium version, the WebGPU adapter. */
  async describe(ep: BrowserEp): Promise<string> {
    const { page } = await this.page(ep);
    const info = await page.evaluate(() => (globalThis as unknown as ParityWindow).parity.info());
    const chrome = this.browser.version();
    const ortVersion = info.ort.web ?? info.ort.common ?? '?';
    if (ep === 'wasm') return `onnxruntime-web ${ortVersion} (${BUNDLE.wasm}), wasm execution provider, 1 thread, Chromium ${chrome}`;
    const a = info.adapter!;
    const adapter = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unnamed adapter';
    return `onnxruntime-web ${ortVersion} (${BUNDLE.webgpu}), WebGPU execution provider only, adapter: ${adapter}, Chromium ${chrome}`;
  }

  /** One line about the standalone page: Chromium's version and whether it has WebAssembly SIMD. */
  async describeStandalone(): Promise<string> {
    const { page } = await this.page('standalone');
    const info = await page.evaluate(() => (globalThis as unknown as StandaloneWindow).standalone.info());
    return `standalone decoder.mjs (${info.simd ? 'WebAssembly SIMD kernel' : 'JavaScript kernel: no WebAssembly SIMD'}), Chromium ${this.browser.version()}`;
  }

  /** Serves a standalone module and its weights, loads them in the standalone page (size and SHA-256 checked there). */
  async openStandalone(moduleText: string, weights: Uint8Array, weightsFile: string, precision: string, label: string): Promise<RuntimeSession & { kernel: string }> {
    const { page, errors } = await this.page('standalone');
    const key = String(this.nextModel++);
    this.files.set(`${key}/decoder.mjs`, { type: MIME['.mjs'], bytes: new TextEncoder().encode(moduleText) });
    this.files.set(`${key}/${weightsFile}`, { type: 'application/octet-stream', bytes: weights });
    const base = `${this.origin}/files/${key}/`;
    let opened: { id: number; kernel: string };
    try {
      opened = await page.evaluate((a) => (globalThis as unknown as StandaloneWindow).standalone.open(a.m, a.w, a.p), { m: `${base}decoder.mjs`, w: `${base}${weightsFile}`, p: precision });
    } catch (err) {
      throw new Error(`${label}: loading the standalone decoder failed: ${pageErrorLine(err)}${errors.length ? ` (${errors.at(-1)})` : ''}`);
    } finally {
      this.files.delete(`${key}/decoder.mjs`);
      this.files.delete(`${key}/${weightsFile}`);
    }
    return {
      kernel: opened.kernel,
      async run(feeds: Feed[]) {
        const args = { id: opened.id, feeds: feeds.map((f) => ({ name: f.name, dims: f.dims, b64: toB64(f.data) })) };
        const result = await page.evaluate((a) => (globalThis as unknown as StandaloneWindow).standalone.run(a.id, a.feeds), args);
        return Object.fromEntries(Object.entries(result.out).map(([k, v]) => [k, fromB64(v.b64)]));
      },
      async release() {
        await page.evaluate((i) => (globalThis as unknown as StandaloneWindow).standalone.release(i), opened.id).catch(() => undefined);
      },
    };
  }

  /** Serves the model, creates a session on `ep` alone (onnxruntime-web throws if that EP cannot run it). */
  async open(ep: BrowserEp, model: Uint8Array, label: string): Promise<RuntimeSession> {
    const { page, errors } = await this.page(ep);
    const key = String(this.nextModel++);
    this.models.set(key, model);
    const url = `${this.origin}/models/${key}.onnx`;
    let id: number;
    try {
      id = await page.evaluate((u) => (globalThis as unknown as ParityWindow).parity.open(u), url);
    } catch (err) {
      this.models.delete(key);
      throw new Error(`${label}: creating a session on ${ep} failed: ${pageErrorLine(err)}${errors.length ? ` (${errors.at(-1)})` : ''}`);
    }
    const models = this.models;
    return {
      async run(feeds: Feed[]) {
        const args = { id, feeds: feeds.map((f) => ({ name: f.name, dims: f.dims, b64: toB64(f.data) })) };
        const result = await page.evaluate((a) => (globalThis as unknown as ParityWindow).parity.run(a.id, a.feeds), args);
        if (ep === 'webgpu' && result.gpuSubmits === 0) {
          throw new Error(`${label}: the WebGPU session ran without submitting any GPU work: it did not run on WebGPU`);
        }
        return Object.fromEntries(Object.entries(result.out).map(([k, v]) => [k, fromB64(v.b64)]));
      },
      async runTensors(feeds: Tensor[]) {
        const args = { id, feeds: feeds.map((f) => ({ name: f.name, dtype: f.dtype, dims: f.dims, b64: Buffer.from(tensorBytes(f)).toString('base64') })) };
        const result = await page.evaluate((a) => (globalThis as unknown as ParityWindow).parity.runTyped(a.id, a.feeds), args);
        if (ep === 'webgpu' && result.gpuSubmits === 0) {
          throw new Error(`${label}: the WebGPU session ran without submitting any GPU work: it did not run on WebGPU`);
        }
        return Object.fromEntries(Object.entries(result.out).map(([k, v]) => [k, tensorFromBytes(k, v.dtype as DType, v.dims, Buffer.from(v.b64, 'base64'))]));
      },
      async release() {
        models.delete(key);
        await page.evaluate((i) => (globalThis as unknown as ParityWindow).parity.release(i), id).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
    await this.server.close();
  }
}

