/**
 * The runtimes of the parity matrix. Each one opens an ONNX model from bytes and runs float32
 * feeds; `start()` says whether it can run here at all (a skipped row names the reason).
 *
 *   node-cpu         onnxruntime-node, CPU execution provider
 *   node-cuda        onnxruntime-node, CUDA execution provider (needs the provider + a GPU)
 *   node-webgpu      onnxruntime-node, WebGPU execution provider (Dawn; on Linux needs Vulkan: a GPU or SwiftShader)
 *   web-node         onnxruntime-web's wasm execution provider, in this Node process
 *   chromium-wasm    onnxruntime-web (ort.wasm build), wasm EP, in headless Chromium
 *   chromium-webgpu  onnxruntime-web (ort.webgpu build), WebGPU EP only, in headless Chromium
 *   standalone-node      the standalone decoder module (@vae/export), compiled from the graph under test, in Node
 *   standalone-chromium  the same module and weights, served to headless Chromium
 *
 * All sessions use one thread: results do not depend on it (onnxruntime splits GEMMs by
 * output blocks, never along the reduction), and the machines running CI are small.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataType, decodeModel, encodeModel, type ModelProto } from '@vae/models/onnx';
import type { Feed } from './golden.js';
import type { Runtime, RuntimeSession, StartResult } from './session.js';
import { fromOrtTensor, ortData, type Tensor } from './tensors.js';
import { chromiumMissing } from '@vae/browser-harness';
import { BrowserHost, type BrowserEp } from './browser.js';

import { RUNTIME_IDS, type RuntimeId } from '@vae/models';
import { webAssembly } from '@vae/models/wasm';

export { RUNTIME_IDS, type RuntimeId };

export const RUNTIME_LABELS: Record<RuntimeId, string> = {
  'node-cpu': 'onnxruntime-node, CPU EP',
  'node-cuda': 'onnxruntime-node, CUDA EP',
  'node-webgpu': 'onnxruntime-node, WebGPU EP (Dawn)',
  'web-node': 'onnxruntime-web, wasm EP, in Node',
  'chromium-wasm': 'onnxruntime-web, wasm EP, in headless Chromium',
  'chromium-webgpu': 'onnxruntime-web, WebGPU EP, in headless Chromium',
  'standalone-node': 'standalone decoder.mjs (no onnxruntime), in Node',
  'standalone-chromium': 'standalone decoder.mjs (no onnxruntime), in headless Chromium',
};

export function isRuntimeId(s: string): s is RuntimeId {
  return (RUNTIME_IDS as readonly string[]).includes(s);
}

export type { Runtime, RuntimeSession, StartResult } from './session.js';

type OrtModule = typeof import('onnxruntime-node');
type OrtWebModule = typeof import('onnxruntime-web');
type OrtTensor = { type: string; data: unknown; dims: readonly number[] };

function collectTyped(results: Record<string, OrtTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, fromOrtTensor(name, t)]));
}

function collect(results: Record<string, OrtTensor>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(results)) {
    if (t.type !== 'float32') throw new Error(`output "${name}" is ${t.type}, expected float32`);
    out[name] = t.data as Float32Array;
  }
  return out;
}

/** The parts of onnxruntime-node and onnxruntime-web a session of the matrix uses (their common API). */
interface OrtApi {
  Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => unknown;
}
interface OrtSessionLike {
  run(feeds: Record<string, unknown>): Promise<unknown>;
  release(): Promise<void>;
}

/** A matrix session over an onnxruntime session (node or web: they share one API). */
function ortSession(ort: OrtApi, session: OrtSessionLike): RuntimeSession {
  return {
    async run(feeds) {
      const input = Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor('float32', f.data, f.dims)]));
      return collect(await session.run(input) as Record<string, OrtTensor>);
    },
    async runTensors(feeds) {
      const input = Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(f.dtype, ortData(f) as Float32Array, f.dims)]));
      return collectTyped(await session.run(input) as Record<string, OrtTensor>);
    },
    release: () => session.release(),
  };
}

/** How to get onnxruntime-node's CUDA provider (see README.md, Install). */
export const CUDA_INSTALL_HINT = 'install it with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install on a machine with an NVIDIA GPU and CUDA 12';

function ortNodeBinaryDir(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/** Why onnxruntime-node cannot use CUDA here, or null when it can (a session must open on it). */
export async function cudaUnavailableReason(ort: OrtModule): Promise<string | null> {
  const listed = ort.listSupportedBackends?.() ?? [];
  if (!listed.some((b) => b.name === 'cuda')) return `this onnxruntime-node build (${process.platform}/${process.arch}) has no CUDA support`;
  const dir = ortNodeBinaryDir();
  if (process.platform === 'linux' && dir && !existsSync(join(dir, 'libonnxruntime_providers_cuda.so'))) {
    return `no CUDA execution provider installed (${CUDA_INSTALL_HINT})`;
  }
  if (process.platform === 'linux' && !existsSync('/dev/nvidiactl') && !existsSync('/dev/nvidia0')) return 'no GPU (no /dev/nvidia0)';
  return null;
}

/** A [1] -> [1] Identity graph (opset 17): the smallest model a provider must accept. */
function identityModel(): Uint8Array {
  const io = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }] } } } });
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: '@vae/verify', producer_version: '0.1.0',
    graph: { name: 'probe', node: [{ name: 'identity', op_type: 'Identity', input: ['a'], output: ['b'] }], initializer: [], input: [io('a')], output: [io('b')] },
  });
}

class NodeRuntime implements Runtime {
  private ort!: OrtModule;
  constructor(readonly id: 'node-cpu' | 'node-cuda' | 'node-webgpu') {}

  async start(): Promise<StartResult> {
    this.ort = await import('onnxruntime-node');
    const version = this.ort.env.versions.node ?? this.ort.env.versions.common;
    if (this.id === 'node-cpu') return { ok: true, description: `onnxruntime-node ${version}, CPU execution provider, 1 thread` };
    if (this.id === 'node-webgpu') return this.startWebGpu(version);
    const reason = await cudaUnavailableReason(this.ort);
    if (reason) return { ok: false, reason };
    // cuBLAS / cuDNN read this when they load: no TF32 tensor-core math (10-bit mantissas) in float32 graphs.
    process.env.NVIDIA_TF32_OVERRIDE ??= '0';
    try {
      // A session must really open on CUDA: that loads the provider, the CUDA runtime and cuDNN.
      const probe = await this.ort.InferenceSession.create(identityModel(), { executionProviders: ['cuda'], logSeverityLevel: 3 });
      await probe.release();
    } catch (err) {
      return { ok: false, reason: `a session on the CUDA execution provider failed to open: ${(err as Error).message.split('\n')[0]}` };
    }
    return { ok: true, description: `onnxruntime-node ${version}, CUDA execution provider (device 0)` };
  }

  /**
   * WebGPU: the detector of @vae/runtime-node (the one `loadVae` uses: the EP in this build,
   * on Linux a Vulkan loader and driver, then Dawn's adapter), then a session must open on it.
   * Any adapter runs, software ones too (the row is about arithmetic, not speed); the
   * description names it. Vulkan is never configured here: without a driver the reason says
   * how to select SwiftShader.
   */
  private async startWebGpu(version: string): Promise<StartResult> {
    const { detectWebGpu, describeAdapter } = await import('@vae/runtime-node');
    const probe = await detectWebGpu();
    if (!probe.available) return { ok: false, reason: probe.reason ?? 'no WebGPU adapter' };
    try {
      const session = await this.ort.InferenceSession.create(identityModel(), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
      await session.release();
    } catch (err) {
      return { ok: false, reason: `a session on the WebGPU execution provider failed to open: ${(err as Error).message.split('\n')[0]}` };
    }
    const adapter = probe.adapter ? `${describeAdapter(probe.adapter)}${probe.adapter.software ? ' (software)' : ''}` : 'unnamed adapter';
    return { ok: true, description: `onnxruntime-node ${version}, WebGPU execution provider (Dawn; operators it lacks run on the CPU EP), adapter: ${adapter}` };
  }

  async open(model: Uint8Array): Promise<RuntimeSession> {
    const ort = this.ort;
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [this.id === 'node-cuda' ? { name: 'cuda', deviceId: 0 } : this.id === 'node-webgpu' ? 'webgpu' : 'cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    });
    return ortSession(ort, session);
  }

  async close(): Promise<void> {}
}

class WebNodeRuntime implements Runtime {
  readonly id = 'web-node' as const;
  private ort!: OrtWebModule;

  async start(): Promise<StartResult> {
    this.ort = await import('onnxruntime-web');
    this.ort.env.wasm.numThreads = 1;
    this.ort.env.logLevel = 'error';
    return { ok: true, description: `onnxruntime-web ${this.ort.env.versions.web ?? this.ort.env.versions.common}, wasm execution provider (SIMD), 1 thread, Node ${process.version}` };
  }

  async open(model: Uint8Array): Promise<RuntimeSession> {
    const ort = this.ort;
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    return ortSession(ort, session);
  }

  async close(): Promise<void> {}
}

class BrowserRuntime implements Runtime {
  private readonly ep: BrowserEp;
  constructor(readonly id: 'chromium-wasm' | 'chromium-webgpu', private readonly host: () => Promise<BrowserHost>) {
    this.ep = id === 'chromium-webgpu' ? 'webgpu' : 'wasm';
  }

  async start(): Promise<StartResult> {
    const missing = chromiumMissing();
    if (missing) return { ok: false, reason: missing };
    try {
      const host = await this.host();
      return { ok: true, description: await host.describe(this.ep) };
    } catch (err) {
      return { ok: false, reason: (err as Error).message.split('\n')[0] };
    }
  }

  async open(model: Uint8Array, label: string): Promise<RuntimeSession> {
    return (await this.host()).open(this.ep, model, label);
  }

  async close(): Promise<void> {}
}

/** The precision a graph's own storage implies (its initializers' types), for the standalone weights file's name. */
function precisionOf(model: ModelProto): string {
  const types = new Set(model.graph.initializer.map((t) => t.data_type));
  return types.has(DataType.INT8) || types.has(DataType.UINT8) ? 'int8' : types.has(DataType.FLOAT16) ? 'fp16' : 'fp32';
}

/**
 * The standalone decoder: the graph under test is compiled by @vae/export's generator into
 * decoder.mjs + its weights file (exactly what `vae export` ships), which are loaded through the
 * module's own loadDecoder (size and SHA-256 checked) and run with its default kernel.
 */
class StandaloneRuntime implements Runtime {
  private sa!: typeof import('@vae/export/standalone');
  constructor(readonly id: 'standalone-node' | 'standalone-chromium', private readonly host: () => Promise<BrowserHost>) {}

  async start(): Promise<StartResult> {
    this.sa = await import('@vae/export/standalone');
    if (this.id === 'standalone-node') {
      const simd = webAssembly().validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]));
      return { ok: true, description: `standalone decoder.mjs (${simd ? 'WebAssembly SIMD kernel' : 'JavaScript kernel'}), Node ${process.version}` };
    }
    const missing = chromiumMissing();
    if (missing) return { ok: false, reason: missing };
    try {
      return { ok: true, description: await (await this.host()).describeStandalone() };
    } catch (err) {
      return { ok: false, reason: (err as Error).message.split('\n')[0] };
    }
  }

  async open(model: Uint8Array, label: string): Promise<RuntimeSession> {
    const proto = decodeModel(model);
    const precision = precisionOf(proto);
    const file = `decoder${precision === 'fp32' ? '' : `.${precision}`}.weights.bin`;
    const { program, weights } = this.sa.compileGraph(proto, { label, file, precision });
    const text = this.sa.generateModule([program], { name: label, imageShape: [28, 28], producer: '@vae/verify' });
    if (this.id === 'standalone-chromium') return (await this.host()).openStandalone(text, weights, file, precision, label);
    const mod = await import(`data:text/javascript;base64,${Buffer.from(text).toString('base64')}`) as {
      loadDecoder(bytes: Uint8Array, options: { precision: string }): Promise<{ run(z: Float32Array, count: number): Record<string, Float32Array> }>;
    };
    const decoder = await mod.loadDecoder(weights, { precision });
    return {
      async run(feeds) {
        const [f] = feeds;
        return decoder.run(f.data, f.dims[0]);
      },
      async release() {},
    };
  }

  async close(): Promise<void> {}
}

/**
 * The runtimes asked for, created lazily and shared: Chromium is launched once for both
 * browser rows (and every model verified with this set), and closed by close().
 */
export class RuntimeSet {
  private readonly started = new Map<RuntimeId, Promise<StartResult>>();
  private readonly runtimes = new Map<RuntimeId, Runtime>();
  private browser?: Promise<BrowserHost>;

  runtime(id: RuntimeId): Runtime {
    let r = this.runtimes.get(id);
    if (!r) {
      const host = () => (this.browser ??= BrowserHost.start());
      r = id === 'node-cpu' || id === 'node-cuda' || id === 'node-webgpu' ? new NodeRuntime(id)
        : id === 'web-node' ? new WebNodeRuntime()
        : id === 'standalone-node' || id === 'standalone-chromium' ? new StandaloneRuntime(id, host)
        : new BrowserRuntime(id, host);
      this.runtimes.set(id, r);
    }
    return r;
  }

  /** Starts a runtime once; later calls return the first answer. */
  start(id: RuntimeId): Promise<StartResult> {
    let s = this.started.get(id);
    if (!s) {
      s = this.runtime(id).start().catch((err: Error): StartResult => ({ ok: false, reason: `failed to start: ${err.message.split('\n')[0]}` }));
      this.started.set(id, s);
    }
    return s;
  }

  async close(): Promise<void> {
    for (const r of this.runtimes.values()) await r.close();
    if (this.browser) await (await this.browser.catch(() => undefined))?.close();
  }
}
