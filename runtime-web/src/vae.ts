/**
 * createVae(): a model directory (manifest.json + ONNX graphs) from a URL, checked,
 * cached and opened with onnxruntime-web on one device, behind decode / encode / sample.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUTS, checkPixels, parseLatents, type LatentInput, type Manifest, type ManifestFile } from '@vae/models';
import { VaeError, messageOf } from './errors.js';
import { fetchManifest, loadModelFiles, directoryUrl, type FileSource, type LoadProgress } from './fetch.js';
import { DEVICE_REQUESTS, probeWebGpu, selectDevice, type Device, type DeviceAttempt, type DeviceRequest, type WebGpuProbe } from './device.js';
import { imageDataToPixels, toImageData, toImageDataList, type ToImageDataOptions, type ToPixelsOptions } from './image.js';
import { randomSeed, seededNormals } from './random.js';

/** The onnxruntime-web build this package runs on (WebGPU and wasm execution providers). */
export { ort };

export type WasmPaths = typeof ort.env.wasm.wasmPaths;

export interface CreateVaeOptions {
  /** URL of the model directory (the folder holding manifest.json), absolute or relative to the page. */
  baseUrl: string | URL;
  /** 'auto' (default): WebGPU when navigator.gpu yields an adapter, else wasm. 'webgpu' / 'wasm': that device or an error. */
  device?: DeviceRequest;
  /** Which decoder graph of the manifest: 'decoder' (float32, default), 'decoder.fp16' or 'decoder.int8'. */
  decoder?: string;
  /** Load the encoder too (default true). Without it, encode() throws. */
  encoder?: boolean;
  /** Keep the model files in the Cache API, keyed by SHA-256 (default true). */
  cache?: boolean;
  /** Cache API bucket (default "vae-models-v1"). */
  cacheName?: string;
  /** Called as bytes arrive (and once per file read from the cache). */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Where onnxruntime-web finds its .wasm (ort.env.wasm.wasmPaths): a URL prefix ending in "/"
   * or `{ wasm, mjs }` file URLs. Default: next to onnxruntime-web's module, which bundlers
   * (Vite, webpack 5) handle by emitting the .wasm as an asset. Applies to the first
   * createVae() of a page or worker only (onnxruntime-web initialises once).
   */
  wasmPaths?: WasmPaths;
  /** onnxruntime-web wasm threads (ort.env.wasm.numThreads); default: its own choice (1 unless cross-origin isolated). */
  numThreads?: number;
  /** Run one decode (and encode) on the chosen device before resolving, so a device that opens but cannot run falls back (auto) or fails here (default true). */
  warmup?: boolean;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Replaces the WebGPU availability check (tests). */
  probeWebGpu?: () => Promise<WebGpuProbe>;
  signal?: AbortSignal;
}

/** A batch of decoded images. */
export class Decoded {
  constructor(
    /** x_hat: count x 784 pixel probabilities in [0, 1], row-major, light digit on dark. */
    readonly pixels: Float32Array,
    readonly count: number,
    readonly width: number,
    readonly height: number,
    /** Wall-clock milliseconds of the graph run. */
    readonly ms: number,
  ) {}

  /** Image `index` as grayscale RGBA ImageData (pixel = round(255 * p)). */
  imageData(index = 0, options: Omit<ToImageDataOptions, 'index' | 'width' | 'height'> = {}): ImageData {
    return toImageData(this.pixels, { ...options, index, width: this.width, height: this.height });
  }

  /** Every image of the batch as ImageData. */
  images(options: Omit<ToImageDataOptions, 'index' | 'width' | 'height'> = {}): ImageData[] {
    return toImageDataList(this.pixels, { ...options, width: this.width, height: this.height });
  }
}

/** The output of sample(): the latent vectors drawn and their decodings. */
export class Sampled extends Decoded {
  constructor(pixels: Float32Array, count: number, width: number, height: number, ms: number,
    /** count x n latent vectors drawn from N(0, I). */
    readonly z: Float32Array,
    /** The seed that reproduces them. */
    readonly seed: number) {
    super(pixels, count, width, height, ms);
  }
}

export interface Encoded {
  /** count x n posterior means. */
  mu: Float32Array;
  /** count x n posterior log-variances (natural log). */
  logvar: Float32Array;
  count: number;
  latentSize: number;
  ms: number;
}

export interface LoadedFileInfo {
  path: string;
  url: string;
  bytes: number;
  source: FileSource;
  cacheWarning?: string;
}

export type PixelInput = Float32Array | ArrayLike<number> | ImageData | ImageData[];
/** z for decode(): N * n values (Float32Array, number[] or another numeric array), or one array per vector. */
export type { LatentInput };

export interface Vae {
  /** The device that runs the graphs. */
  readonly device: Device;
  /** What was asked for. */
  readonly requestedDevice: DeviceRequest;
  /** Devices tried, in order, and why any were skipped. */
  readonly attempts: readonly DeviceAttempt[];
  readonly manifest: Manifest;
  readonly baseUrl: string;
  readonly latentSize: number;
  readonly width: number;
  readonly height: number;
  /** Which decoder graph runs ("decoder", "decoder.fp16", ...). */
  readonly decoderGraph: string;
  readonly hasEncoder: boolean;
  /** Each model file loaded, and whether it came from the network or the cache. */
  readonly files: readonly LoadedFileInfo[];
  /** z: N x n latents (flat, or one array per row) -> images. */
  decode(z: LatentInput): Promise<Decoded>;
  /** pixels: N x 784 values in [0, 1] (flat), or ImageData of any size (converted with imageDataToPixels). */
  encode(pixels: PixelInput, options?: ToPixelsOptions): Promise<Encoded>;
  /** encode, then decode the posterior means. */
  reconstruct(pixels: PixelInput, options?: ToPixelsOptions): Promise<{ encoded: Encoded; decoded: Decoded }>;
  /** n images from z ~ N(0, I); the same seed gives the same images. */
  sample(n: number, options?: { seed?: number }): Promise<Sampled>;
  /** Releases the sessions. */
  dispose(): Promise<void>;
}

const now = () => (globalThis.performance ? performance.now() : Date.now());

/** The checks every runtime makes (@vae/models' parseLatents): shape, finite float32 values, not empty. */
function flattenLatents(z: LatentInput, n: number): Float32Array {
  return parseLatents(z, n, 'decode(): z', (message) => new VaeError('input', message)).data;
}

function isImageData(x: unknown): x is ImageData {
  return typeof x === 'object' && x !== null && 'data' in x && 'width' in x && 'height' in x && (x as ImageData).data instanceof Uint8ClampedArray;
}

function flattenPixels(pixels: PixelInput, size: number, options: ToPixelsOptions): Float32Array {
  let flat: Float32Array;
  if (isImageData(pixels)) flat = imageDataToPixels(pixels, options);
  else if (Array.isArray(pixels) && pixels.length > 0 && isImageData(pixels[0])) {
    const images = pixels as ImageData[];
    flat = new Float32Array(images.length * size);
    images.forEach((img, i) => flat.set(imageDataToPixels(img, options), i * size));
  } else flat = pixels instanceof Float32Array ? pixels : Float32Array.from(pixels as ArrayLike<number>);
  if (flat.length === 0 || flat.length % size !== 0) {
    throw new VaeError('input', `encode(): got ${flat.length} values, expected a positive multiple of ${size} (28x28 images, pixel / 255)`);
  }
  // The checks every runtime makes (@vae/models' checkPixels): NaN or out-of-range pixels never reach the model.
  checkPixels(flat, size, 'encode()', (message) => new VaeError('input', message));
  return flat;
}

interface Sessions {
  decoder: ort.InferenceSession;
  encoder: ort.InferenceSession | null;
}

async function release(...sessions: (ort.InferenceSession | null | undefined)[]): Promise<void> {
  await Promise.all(sessions.map((s) => s?.release().catch(() => undefined)));
}

/**
 * Every onnxruntime-web call (session creation, run, release) of the page or worker goes
 * through this one queue: onnxruntime-web has a single runtime per JS realm, and its WebGPU
 * EP refuses to create two sessions at once ("another WebGPU EP inference session is being
 * created"), which under `auto` would otherwise turn into a silent fallback to wasm.
 */
let ortQueue: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const next = ortQueue.then(fn);
  ortQueue = next.catch(() => undefined);
  return next;
}

let ortConfigured = false;
function configureOrt(options: CreateVaeOptions): void {
  if (ortConfigured) return;
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
  ortConfigured = true;
}

/**
 * Loads the model directory at `baseUrl` and opens its decoder (and encoder) on one device.
 * Rejects with a VaeError naming what failed: the URL (http / network), the file
 * (checksum), the manifest, or the device (webgpu-unavailable / session).
 */
export async function createVae(options: CreateVaeOptions): Promise<Vae> {
  const dir = directoryUrl(options.baseUrl);
  const request = options.device ?? 'auto';
  const decoderKey = options.decoder ?? 'decoder';
  const withEncoder = options.encoder ?? true;

  if (!DEVICE_REQUESTS.includes(request)) {
    throw new VaeError('input', `Unknown device "${String(request)}": use "auto", "webgpu" or "wasm"`);
  }
  // Probe WebGPU once, up front: device 'webgpu' without an adapter fails before any download.
  const probe = request === 'wasm' ? null : await (options.probeWebGpu ?? probeWebGpu)();
  if (probe && !probe.available && request === 'webgpu') {
    throw new VaeError('webgpu-unavailable', `WebGPU was requested (device: "webgpu") but is unavailable: ${probe.reason}. Use device: "auto" to fall back to wasm.`);
  }

  const manifest = await fetchManifest(dir, { fetch: options.fetch, signal: options.signal });
  const decoderGraph = manifest.graphs[decoderKey];
  if (!decoderGraph || decoderGraph.role !== 'decoder') {
    const known = Object.keys(manifest.graphs).filter((k) => manifest.graphs[k].role === 'decoder');
    throw new VaeError('input', `The model at ${dir.href} has no decoder graph "${decoderKey}" (it has ${known.join(', ')})`);
  }
  const encoderGraph = withEncoder ? manifest.graphs.encoder : undefined;
  const entryOf = (file: string): ManifestFile => {
    const entry = manifest.files.find((f) => f.path === file);
    if (!entry) throw new VaeError('manifest', `${file} is not listed in the manifest's files`, { file });
    return entry;
  };
  const entries = [entryOf(decoderGraph.file), ...(encoderGraph ? [entryOf(encoderGraph.file)] : [])];
  const loaded = await loadModelFiles(dir, entries, {
    cache: options.cache, cacheName: options.cacheName, fetch: options.fetch, onProgress: options.onProgress, signal: options.signal,
  });
  const bytesOf = (file: string) => loaded.find((f) => f.path === file)!.bytes;

  configureOrt(options);
  const { latentSize: n, inputSize, imageShape } = manifest.model;
  const [height, width] = imageShape;

  const open = async (device: Device): Promise<Sessions> => {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
    };
    let decoder: ort.InferenceSession | undefined;
    let encoder: ort.InferenceSession | null = null;
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
  const selection = await selectDevice(request, {
    open: (device) => exclusive(() => open(device)),
    probe: async () => probe ?? { available: false, reason: 'not probed' },
  });
  const { decoder, encoder } = selection.value;

  // One onnxruntime-web call at a time (sessions are not re-entrant, WebGPU especially).
  let disposed = false;
  const serial = <T>(fn: () => Promise<T>): Promise<T> => exclusive(() => {
    if (disposed) throw new VaeError('disposed', 'This Vae was disposed');
    return fn();
  });
  const runGraph = async (session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, what: string) => {
    try {
      return await session.run(feeds);
    } catch (err) {
      throw new VaeError('session', `${what} failed on ${selection.device}: ${messageOf(err)}`, { cause: err });
    }
  };

  const decodeFlat = (flat: Float32Array) => serial(async () => {
    const rows = flat.length / n;
    const t0 = now();
    const out = await runGraph(decoder, { [DECODER_INPUT]: new ort.Tensor('float32', flat, [rows, n]) }, 'decode()');
    const pixels = out[DECODER_OUTPUT].data as Float32Array;
    return { pixels, rows, ms: now() - t0 };
  });

  const encodeFlat = (flat: Float32Array): Promise<Encoded> => serial(async () => {
    if (!encoder) throw new VaeError('input', 'encode(): this Vae was created with encoder: false');
    const rows = flat.length / inputSize;
    const t0 = now();
    const out = await runGraph(encoder, { [ENCODER_INPUT]: new ort.Tensor('float32', flat, [rows, inputSize]) }, 'encode()');
    const [muName, logvarName] = ENCODER_OUTPUTS;
    return { mu: out[muName].data as Float32Array, logvar: out[logvarName].data as Float32Array, count: rows, latentSize: n, ms: now() - t0 };
  });

  const vae: Vae = {
    device: selection.device,
    requestedDevice: request,
    attempts: selection.attempts,
    manifest,
    baseUrl: dir.href,
    latentSize: n,
    width,
    height,
    decoderGraph: decoderKey,
    hasEncoder: encoder !== null,
    files: loaded.map((f) => ({
      path: f.path, url: f.url, bytes: f.bytes.length, source: f.source, ...(f.cacheWarning ? { cacheWarning: f.cacheWarning } : {}),
    })),
    async decode(z) {
      const { pixels, rows, ms } = await decodeFlat(flattenLatents(z, n));
      return new Decoded(pixels, rows, width, height, ms);
    },
    async encode(pixels, pixelOptions = {}) {
      return encodeFlat(flattenPixels(pixels, inputSize, pixelOptions));
    },
    async reconstruct(pixels, pixelOptions = {}) {
      const encoded = await encodeFlat(flattenPixels(pixels, inputSize, pixelOptions));
      const decoded = await vae.decode(encoded.mu);
      return { encoded, decoded };
    },
    async sample(count, { seed = randomSeed() } = {}) {
      if (!Number.isInteger(count) || count < 1) throw new VaeError('input', `sample(): n must be a positive integer, got ${count}`);
      const z = seededNormals(count * n, seed >>> 0);
      const { pixels, ms } = await decodeFlat(z);
      return new Sampled(pixels, count, width, height, ms, z, seed >>> 0);
    },
    async dispose() {
      await serial(async () => {
        disposed = true;
        await release(decoder, encoder);
      }).catch(() => undefined);
    },
  };
  return vae;
}
