/**
 * The browser backend of the core's `Vae`, for either onnxruntime-web build: `webLoader(ort,
 * devices)` makes a `loadVae` that fetches a model directory
 * (manifest.json + ONNX graphs) from a URL, checks and caches the graphs (fetch.ts), opens
 * them with onnxruntime-web on one device (device.ts), and reads the browser's image sources
 * (Blobs, URLs) as bytes. Everything a caller does afterwards — preprocessing, checks,
 * batching, sampling — is @vae/runtime-core's, shared with @vae/runtime-node.
 */
import type * as OrtModule from 'onnxruntime-web';
import { DECODER_INPUT, ENCODER_INPUT, type ManifestFile } from '@vae/models';
import {
  Vae, VaeError, commonLoadOptions, decoderGraphKey, fetchImageBytes, messageOf, openDevice, planDevice,
  type CommonLoadOptions, type DeviceTable, type OutputRequest, type VaeBackend,
} from '@vae/runtime-core';
import { fetchManifest, loadModelFiles, directoryUrl } from './fetch.js';
import type { Device, DeviceRequest, ProbeContext, SessionFactory, WebGpuProbe, WebSessions } from './device.js';

/** An onnxruntime-web build: `onnxruntime-web/webgpu` (WebGPU and wasm) or `onnxruntime-web/wasm` (wasm only). */
export type Ort = typeof OrtModule;

export type WasmPaths = Ort['env']['wasm']['wasmPaths'];

export interface LoadOptions extends CommonLoadOptions {
  /** 'auto' (default): WebGPU when navigator.gpu yields an adapter and the graphs run there, else wasm. 'webgpu' / 'wasm': that device or an error. */
  device?: DeviceRequest;
  /** Load the encoder too (default true). Without it, encode() (and reconstruct, interpolate of images) throws. */
  encoder?: boolean;
  /** Keep the model files in the Cache API, keyed by SHA-256 (default true). */
  cache?: boolean;
  /** Cache API bucket (default "vae-models-v1"). */
  cacheName?: string;
  /**
   * Where onnxruntime-web finds its .wasm (ort.env.wasm.wasmPaths): a URL prefix ending in "/"
   * or `{ wasm, mjs }` file URLs. Default: next to onnxruntime-web's module, which bundlers
   * (Vite, webpack 5) handle by emitting the .wasm as an asset. Applies to the first
   * loadVae() of a page or worker only (onnxruntime-web initialises once).
   */
  wasmPaths?: WasmPaths;
  /** onnxruntime-web wasm threads (ort.env.wasm.numThreads); default: its own choice (1 unless cross-origin isolated). */
  numThreads?: number;
  /** Run one decode (and encode) on the chosen device before resolving, so a device that opens but cannot run falls back (auto) or fails here (default true). */
  warmup?: boolean;
  /** fetch implementation for the model files and image URLs (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Aborts the download. */
  signal?: AbortSignal;
  /** Replaces the WebGPU availability check (tests). */
  probeWebGpu?: () => Promise<WebGpuProbe>;
}

type Session = OrtModule.InferenceSession;
type Sessions = WebSessions;
/** A build's devices (device.ts: WEB_DEVICES or WASM_DEVICES). */
type WebDevices = DeviceTable<Device, ProbeContext, SessionFactory, Sessions>;

async function release(...sessions: (Session | null | undefined)[]): Promise<void> {
  await Promise.all(sessions.map((s) => s?.release().catch(() => undefined)));
}

/**
 * Every onnxruntime-web call (session creation, run, release) of the page or worker goes
 * through this one queue: onnxruntime-web has a single runtime per JS realm, and its WebGPU
 * EP refuses to create two sessions at once ("another WebGPU EP inference session is being
 * created"), which under `auto` would otherwise turn into a silent fallback to wasm.
 */
function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };
}

const isBlob = (v: unknown): v is Blob => typeof Blob !== 'undefined' && v instanceof Blob;

/**
 * A `loadVae` on one onnxruntime-web build, offering the devices of its table. The page or
 * worker's onnxruntime-web calls of all its Vaes go through one queue, and its wasm settings
 * (wasmPaths, numThreads) are taken from the first loadVae call (onnxruntime-web initialises once).
 */
export function webLoader(ort: Ort, devices: WebDevices): (model: string | URL, options?: LoadOptions) => Promise<Vae> {
  const exclusive = serialQueue();
  let configured = false;
  const configure = (options: LoadOptions) => {
    if (configured) return;
    if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
    if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
    configured = true;
  };
  const build: OrtBuild = { ort, devices, exclusive, configure };
  return (model, options = {}) => loadWith(build, model, options);
}

/** One onnxruntime-web build and the state its Vaes share. */
interface OrtBuild {
  ort: Ort;
  devices: WebDevices;
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  configure: (options: LoadOptions) => void;
}

/**
 * Loads the model directory at `model` (its URL, absolute or relative to the page / worker)
 * and opens its decoder of the chosen precision (and the encoder) on one device. Rejects with a
 * VaeError naming what failed: the URL ('http' / 'network'), the file ('checksum'), the
 * manifest, the device ('device-unavailable' / 'session') or an option ('input').
 */
async function loadWith(build: OrtBuild, model: string | URL, options: LoadOptions): Promise<Vae> {
  const { ort, devices, exclusive, configure } = build;
  const { precision, maxBatch } = commonLoadOptions(options);
  // The device is checked and WebGPU probed up front: device 'webgpu' without an adapter fails before any download.
  const plan = await planDevice(devices, options.device, options);
  if (model === undefined || model === null || (typeof model !== 'string' && !(model instanceof URL))) {
    throw new VaeError('input', `model: expected the URL of a model directory (a string or URL), got ${String(model)}`);
  }
  let dir: URL;
  try {
    dir = directoryUrl(model);
  } catch {
    throw new VaeError('input', `model: "${String(model)}" is not a URL`);
  }
  const withEncoder = options.encoder ?? true;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);

  const manifest = await fetchManifest(dir, { fetch: fetchImpl, signal: options.signal });
  const decoderGraph = manifest.graphs[decoderGraphKey(manifest, precision, dir.href)];
  const encoderGraph = withEncoder ? manifest.graphs.encoder : undefined;
  const entryOf = (file: string): ManifestFile => {
    const entry = manifest.files.find((f) => f.path === file);
    if (!entry) throw new VaeError('manifest', `${file} is not listed in the manifest's files`, { file, url: dir.href });
    return entry;
  };
  const entries = [entryOf(decoderGraph.file), ...(encoderGraph ? [entryOf(encoderGraph.file)] : [])];
  const loaded = await loadModelFiles(dir, entries, {
    cache: options.cache, cacheName: options.cacheName, fetch: fetchImpl, onProgress: options.onProgress, signal: options.signal,
  });
  const bytesOf = (file: string) => loaded.find((f) => f.path === file)!.bytes;

  configure(options);
  const { latentSize: n, inputSize } = manifest.model;

  const open = async (executionProvider: string): Promise<Sessions> => {
    const sessionOptions: OrtModule.InferenceSession.SessionOptions = { executionProviders: [executionProvider], graphOptimizationLevel: 'all' };
    let decoder: Session | undefined;
    let encoder: Session | null = null;
    try {
      decoder = await ort.InferenceSession.create(bytesOf(decoderGraph.file), sessionOptions);
      if (encoderGraph) encoder = await ort.InferenceSession.create(bytesOf(encoderGraph.file), sessionOptions);
      if (options.warmup ?? true) {
        await decoder.run({ [DECODER_INPUT]: new ort.Tensor('float32', new Float32Array(n), [1, n]) });
        if (encoder) await encoder.run({ [ENCODER_INPUT]: new ort.Tensor('float32', new Float32Array(inputSize), [1, inputSize]) });
      }
      return { decoder, encoder };
    } catch (err) {
      await release(decoder, encoder);
      throw err;
    }
  };
  const selection = await openDevice(plan, (executionProvider) => exclusive(() => open(executionProvider)));
  const { decoder, encoder } = selection.value;
  const device = selection.device;

  const backend = webBackend(build, { decoder, encoder }, { device, dir, n, inputSize, fetchImpl, signal: options.signal });
  return new Vae(backend, {
    model: dir.href,
    manifest,
    device,
    deviceNote: selection.note,
    precision,
    maxBatch,
  });
}

/**
 * The VaeBackend over open sessions: one onnxruntime-web call at a time through the build's
 * queue, Blobs and URLs read as bytes for the core's decoder.
 */
function webBackend(
  build: OrtBuild, { decoder, encoder }: Sessions,
  at: { device: Device; dir: URL; n: number; inputSize: number; fetchImpl: typeof fetch; signal?: AbortSignal },
): VaeBackend {
  const { ort, exclusive } = build;
  const { device, dir, n, inputSize, fetchImpl, signal } = at;
  let disposed = false;
  return {
    // One onnxruntime-web call at a time (sessions are not re-entrant, WebGPU especially).
    run: (graph, input, rows, outputs: readonly OutputRequest[]) => exclusive(async () => {
      if (disposed) throw new VaeError('disposed', `this Vae (${dir.href}) was disposed`);
      const session = graph === 'decoder' ? decoder : encoder;
      if (!session) {
        throw new VaeError('input', `encode(): this Vae was loaded with encoder: false, so it has no encoder; load it with encoder: true (the default) to encode images`);
      }
      const [inputName, width] = graph === 'decoder' ? [DECODER_INPUT, n] : [ENCODER_INPUT, inputSize];
      let result: OrtModule.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run({ [inputName]: new ort.Tensor('float32', input, [rows, width]) });
      } catch (err) {
        throw new VaeError('session', `the ${graph} failed on ${device}: ${messageOf(err)}`, { cause: err });
      }
      return outputs.map((o) => {
        const data = result[o.name].data as Float32Array;
        if (!o.into) return data;
        o.into.set(data);
        return o.into;
      });
    }),
    readImage(source, label) {
      if (isBlob(source)) {
        return source.arrayBuffer().then((b) => new Uint8Array(b), (err: unknown) => {
          throw new VaeError('image', `${label}: could not read the Blob: ${messageOf(err)}`, { cause: err });
        });
      }
      if (typeof source === 'string' || source instanceof URL) return fetchImageBytes(source, label, { fetch: fetchImpl, signal });
      return undefined;
    },
    describeImage(source) {
      if (typeof source === 'string') return source;
      if (source instanceof URL) return source.href;
      if (typeof File !== 'undefined' && source instanceof File && source.name) return source.name;
      return undefined;
    },
    dispose: () => exclusive(async () => {
      disposed = true;
      await release(decoder, encoder);
    }),
  };
}
