/**
 * The VAE behind a few verbs — encode, decode, sample, reconstruct, interpolate, manifold —
 * written once for every runtime. A runtime package supplies a `VaeBackend`: it loads the model
 * files, opens onnxruntime sessions on a device, runs a graph on a batch, and turns its own
 * image sources (file paths in Node; Blobs and URLs in the browser) into bytes or RGBA.
 * Everything else — argument checks, image preprocessing, batching, sampling — lives here, so
 * `@vae/runtime-node` and `@vae/runtime-web` cannot drift apart.
 */
import {
  DECODER_OUTPUT, ENCODER_OUTPUTS, type Manifest,
} from '@vae/models';
import { inputError, VaeError } from './errors.js';
import { decodeImage } from './image-files.js';
import type { Images } from './images.js';
import { parseLatents, type LatentInput } from './latents.js';
import {
  checkCount, interpolateLatents, manifoldLatents, sampleLatents, type ManifoldOptions, type SampleOptions,
} from './latent-space.js';
import { checkPixels } from './pixels-check.js';
import { IMAGE_PIXELS, isRgbaImage, preprocessOptions, rgbaToPixels, type PreprocessOptions, type RgbaImage } from './preprocess.js';

/** Which decoder graph runs: float32 weights, or the smaller float16 / int8 ones (I/O and arithmetic stay float32). */
export type Precision = 'fp32' | 'fp16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8'];
/** The manifest's graph key of each precision's decoder. */
export const DECODER_GRAPHS: Readonly<Record<Precision, string>> = { fp32: 'decoder', fp16: 'decoder.fp16', int8: 'decoder.int8' };

/** See LoadOptions.maxBatch. */
export const DEFAULT_MAX_BATCH = 512;

/** Progress of loadVae: bytes of the model files read so far. */
export interface LoadProgress {
  /** The file this event is about, relative to the model directory (e.g. "decoder.onnx"). */
  file: string;
  /** Bytes of the requested files available so far. */
  loaded: number;
  /** Sum of the requested files' sizes, from the manifest (known before any byte arrives). */
  total: number;
  /** Where this file's bytes came from. */
  source: 'disk' | 'network' | 'cache';
}

/** Options both runtimes' loadVae take (each adds its own `device` and a few platform options). */
export interface CommonLoadOptions {
  /** Which decoder graph: 'fp32' (default), 'fp16' or 'int8'. The encoder is always fp32. */
  precision?: Precision;
  /** Called as the model files are read, with byte counts. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Largest batch handed to one graph run; bigger inputs are split into chunks (default 512).
   * On a CPU, chunks of 256-512 rows run ~1.6x faster than one 4096-row run (the working set
   * stays in cache); `npm run bench:node` shows both.
   */
  maxBatch?: number;
}

/** A graph output to fetch: its name and row width; with `into`, the backend writes the rows there. */
export interface OutputRequest {
  name: string;
  width: number;
  into?: Float32Array;
}

/** What a runtime package plugs into the core. */
export interface VaeBackend {
  /**
   * Runs `graph` on `rows` rows of `input` (rows * inputWidth values, at most maxBatch rows)
   * and returns the requested outputs in order, each rows * width values; an output with
   * `into` must be written there (and that array returned).
   */
  run(graph: 'encoder' | 'decoder', input: Float32Array, rows: number, outputs: readonly OutputRequest[]): Promise<Float32Array[]>;
  /**
   * The platform's image sources (Node: a file path; web: a Blob or a URL) as file bytes or RGBA,
   * or undefined when `source` is none of them. Errors are VaeError 'image' naming `label`.
   */
  readImage(source: unknown, label: string): Promise<Uint8Array | RgbaImage> | undefined;
  /** A name for an image source in messages (e.g. the path), or undefined for the default "images[i]". */
  describeImage?(source: unknown): string | undefined;
  /** Releases the sessions. */
  dispose(): Promise<void>;
}

/** What loadVae knows once the model is open. */
export interface VaeInfo {
  /** The model directory (Node: absolute path; web: URL). */
  model: string;
  manifest: Manifest;
  /** The device the graphs run on ('cpu', 'cuda', 'wasm', 'webgpu'). */
  device: string;
  /** One line: which device runs and why (e.g. why 'auto' fell back). */
  deviceNote: string;
  precision: Precision;
  maxBatch?: number;
}

/**
 * Images for encode / reconstruct / interpolate. In every runtime: a Float32Array of N x 784
 * model-ready pixels in [0, 1] (taken as they are), an RGBA image (ImageData, or
 * `{ width, height, data }` with 8-bit RGBA), or image file bytes (PNG, JPEG, BMP) as a
 * Uint8Array / ArrayBuffer; one, or an array of them; a URL object (Node reads file: URLs and
 * fetches http(s):, the browser fetches). A string is a file path in Node and a URL in the
 * browser; the browser adds Blobs.
 */
export type ImageInput = Float32Array | RgbaImage | Uint8Array | ArrayBuffer | string | URL | Blob | readonly number[];
export type ImagesInput = ImageInput | readonly ImageInput[];

/** An interpolation end: one image (any ImageInput), or a latent vector (n numbers, or `{ z }`). */
export type Endpoint = ImageInput | readonly number[] | { z: ArrayLike<number> };

export interface Encoding {
  /** Posterior means, count x latentSize, row-major. */
  mu: Float32Array;
  /** Posterior log-variances (natural log), count x latentSize. */
  logvar: Float32Array;
  count: number;
  latentSize: number;
}

export type { Images, LatentInput, ManifoldOptions, PreprocessOptions, SampleOptions };

/** Checks the options both runtimes share; returns them with defaults. */
export function commonLoadOptions(options: CommonLoadOptions): { precision: Precision; maxBatch: number } {
  const precision = options.precision ?? 'fp32';
  if (!PRECISIONS.includes(precision)) throw inputError(`precision: "${String(precision)}" is not one of ${PRECISIONS.join(', ')}`);
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw inputError(`maxBatch: expected a positive integer, got ${String(options.maxBatch)}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw inputError('onProgress: expected a function');
  return { precision, maxBatch };
}

/** The manifest's decoder graph for a precision, or a VaeError naming the precisions this model has. */
export function decoderGraphKey(manifest: Manifest, precision: Precision, source: string): string {
  const key = DECODER_GRAPHS[precision];
  if (manifest.graphs[key]?.role === 'decoder') return key;
  const have = PRECISIONS.filter((p) => manifest.graphs[DECODER_GRAPHS[p]]?.role === 'decoder');
  throw new VaeError('input', `${source} has no ${precision} decoder ("${key}"); its decoders: ${have.join(', ') || 'none'}`);
}

export class Vae {
  readonly model: string;
  readonly manifest: Manifest;
  readonly device: string;
  readonly deviceNote: string;
  readonly precision: Precision;
  readonly latentSize: number;
  readonly width: number;
  readonly height: number;
  private readonly maxBatch: number;
  private disposed = false;

  constructor(private readonly backend: VaeBackend, info: VaeInfo) {
    this.model = info.model;
    this.manifest = info.manifest;
    this.device = info.device;
    this.deviceNote = info.deviceNote;
    this.precision = info.precision;
    this.latentSize = info.manifest.model.latentSize;
    [this.height, this.width] = info.manifest.model.imageShape;
    this.maxBatch = info.maxBatch ?? DEFAULT_MAX_BATCH;
  }

  /**
   * The encoder's input for these images: count x 784 values in [0, 1] (see preprocess.ts for
   * the steps and `options`). Float32Array input is checked and returned as it is.
   */
  async preprocess(images: ImagesInput, options: PreprocessOptions = {}): Promise<{ pixels: Float32Array; count: number }> {
    const o = preprocessOptions(options);
    if (images instanceof Float32Array || isNumberList(images)) return modelPixels(images, 'images');
    const list: readonly unknown[] = Array.isArray(images) ? images : [images];
    if (list.length === 0) throw inputError('images: no images');
    const pixels = new Float32Array(list.length * IMAGE_PIXELS);
    for (const [i, item] of list.entries()) {
      const label = this.backend.describeImage?.(item) ?? (list === images ? `images[${i}]` : 'images');
      if (item instanceof Float32Array || isNumberList(item)) {
        const one = modelPixels(item, label);
        if (one.count !== 1) throw inputError(`${label}: ${one.pixels.length} values: an image in a list is one image of ${IMAGE_PIXELS} pixels`);
        pixels.set(one.pixels, i * IMAGE_PIXELS);
      } else {
        pixels.set(rgbaToPixels(await this.rgbaOf(item, label), o), i * IMAGE_PIXELS);
      }
    }
    return { pixels, count: list.length };
  }

  /** Posterior mean and log-variance of each image. */
  async encode(images: ImagesInput, options: PreprocessOptions = {}): Promise<Encoding> {
    this.checkOpen();
    const { pixels, count } = await this.preprocess(images, options);
    return this.encodePixels(pixels, count);
  }

  /**
   * Images (pixel probabilities in [0, 1]) for latent vectors: N * n numbers, or N rows of n.
   * With `into` (a Float32Array of N * 784), the images are written there and `pixels` is that
   * array: a loop that decodes big batches saves allocating and first-touching ~3 MB per 1,000
   * images (a third of the time at batch 4096 on a 2-core machine; `npm run bench:node`).
   */
  async decode(z: LatentInput, options: { into?: Float32Array } = {}): Promise<Images> {
    this.checkOpen();
    const { data, count } = parseLatents(z, this.latentSize, 'z', inputError);
    const { into } = options;
    if (into !== undefined && !(into instanceof Float32Array && into.length === count * IMAGE_PIXELS)) {
      const got = into instanceof Float32Array ? `a Float32Array of ${into.length}` : describeKind(into);
      throw inputError(`into: expected a Float32Array of ${count} x ${IMAGE_PIXELS} = ${count * IMAGE_PIXELS} values for ${count} image${count === 1 ? '' : 's'}, got ${got}`);
    }
    return this.decodeLatents(data, count, into);
  }

  /** `count` images from z ~ N(0, temperature^2 I), seeded: the same seed gives the same z in every runtime. */
  async sample(count: number, options: SampleOptions = {}): Promise<Images & { z: Float32Array; seed: number; temperature: number }> {
    this.checkOpen();
    const drawn = sampleLatents(count, this.latentSize, options);
    return { ...(await this.decodeLatents(drawn.z, count)), ...drawn };
  }

  /** Decodes each image's posterior mean: the model's reconstruction. */
  async reconstruct(images: ImagesInput, options: PreprocessOptions = {}): Promise<Images & Encoding> {
    const encoding = await this.encode(images, options);
    return { ...(await this.decodeLatents(encoding.mu, encoding.count)), ...encoding };
  }

  /**
   * `steps` images along the straight line from a to b in latent space, both ends included.
   * An image end stands for its posterior mean; a latent vector is used as it is.
   */
  async interpolate(a: Endpoint, b: Endpoint, steps = 8, options: PreprocessOptions = {}): Promise<Images & { z: Float32Array }> {
    this.checkOpen();
    checkCount(steps, 'steps');
    const za = await this.endpoint(a, 'a', options);
    const zb = await this.endpoint(b, 'b', options);
    const z = interpolateLatents(za, zb, steps);
    return { ...(await this.decodeLatents(z, steps)), z };
  }

  /** The decoder's view of a 1- or 2-D latent space on a regular grid (see manifoldLatents). */
  async manifold(options: ManifoldOptions = {}): Promise<Images & { z: Float32Array; rows: number; columns: number }> {
    this.checkOpen();
    const grid = manifoldLatents(this.latentSize, options);
    return { ...(await this.decodeLatents(grid.z, grid.rows * grid.columns)), ...grid };
  }

  /** Releases the sessions; every later call is a VaeError 'disposed'. Calling it twice is harmless. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new VaeError('disposed', `this Vae (${this.model}) was disposed`);
  }

  private async rgbaOf(item: unknown, label: string): Promise<RgbaImage> {
    if (isRgbaImage(item)) return item;
    if (item instanceof Uint8Array) return decodeImage(item, label);
    if (item instanceof ArrayBuffer) return decodeImage(new Uint8Array(item), label);
    const read = this.backend.readImage(item, label);
    if (!read) {
      throw inputError(`${label}: ${describeKind(item)} is not an image: expected ${IMAGE_PIXELS} pixels (Float32Array), RGBA ({ width, height, data }, e.g. ImageData) or image file bytes (Uint8Array)${this.backend.describeImage ? ', or a platform source (see loadVae\'s README)' : ''}`);
    }
    const got = await read;
    return got instanceof Uint8Array ? decodeImage(got, label) : got;
  }

  private async encodePixels(pixels: Float32Array, count: number): Promise<Encoding> {
    const n = this.latentSize;
    const [mu, logvar] = await this.runBatched('encoder', pixels, IMAGE_PIXELS, count, [
      { name: ENCODER_OUTPUTS[0], width: n }, { name: ENCODER_OUTPUTS[1], width: n },
    ]);
    return { mu, logvar, count, latentSize: n };
  }

  private async decodeLatents(z: Float32Array, count: number, into?: Float32Array): Promise<Images> {
    this.checkOpen();
    const [pixels] = await this.runBatched('decoder', z, this.latentSize, count, [{ name: DECODER_OUTPUT, width: IMAGE_PIXELS, into }]);
    return { pixels, count, width: this.width, height: this.height };
  }

  private async endpoint(value: Endpoint, label: string, options: PreprocessOptions): Promise<Float32Array> {
    const n = this.latentSize;
    if (value && typeof value === 'object' && 'z' in value && !isRgbaImage(value)) {
      const { data, count } = parseLatents(value.z, n, label, inputError);
      if (count !== 1) throw inputError(`${label}: expected one latent vector of ${n} values, got ${count}`);
      return data;
    }
    if (value instanceof Float32Array || isNumberList(value)) {
      const values = value as ArrayLike<number>;
      if (values.length === IMAGE_PIXELS && n !== IMAGE_PIXELS) return (await this.encode(Float32Array.from(values))).mu;
      if (values.length !== n) {
        throw inputError(`${label}: ${values.length} values: expected a latent vector of ${n} values (the model's latent size) or an image of ${IMAGE_PIXELS} pixels`);
      }
      return parseLatents(values, n, label, inputError).data;
    }
    if (Array.isArray(value)) throw inputError(`${label}: expected one image or one latent vector, got an array of ${value.length} items`);
    return (await this.encode(value as ImageInput, options)).mu;
  }

  /** One backend run per chunk of at most maxBatch rows; outputs gathered into one array each. */
  private async runBatched(
    graph: 'encoder' | 'decoder', input: Float32Array, inWidth: number, count: number, outputs: OutputRequest[],
  ): Promise<Float32Array[]> {
    const chunkOf = (o: OutputRequest, start: number, rows: number): OutputRequest =>
      o.into ? { ...o, into: o.into.subarray(start * o.width, (start + rows) * o.width) } : o;
    if (count <= this.maxBatch) {
      const results = await this.backend.run(graph, input, count, outputs);
      return outputs.map((o, k) => o.into ?? results[k]);
    }
    const results = outputs.map((o) => o.into ?? new Float32Array(count * o.width));
    for (let start = 0; start < count; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, count - start);
      const chunk = await this.backend.run(graph, input.subarray(start * inWidth, (start + rows) * inWidth), rows, outputs.map((o) => chunkOf(o, start, rows)));
      outputs.forEach((o, k) => { if (!o.into) results[k].set(chunk[k], start * o.width); });
    }
    return results;
  }
}

function isNumberList(v: unknown): v is readonly number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

/** Model-ready pixels (N x 784 in [0, 1]) from a Float32Array or a number[], checked. */
function modelPixels(value: Float32Array | readonly number[], label: string): { pixels: Float32Array; count: number } {
  const pixels = value instanceof Float32Array ? value : Float32Array.from(value);
  if (pixels.length === 0 || pixels.length % IMAGE_PIXELS !== 0) {
    throw inputError(`${label}: ${pixels.length} values are not a whole number of 28x28 images (${IMAGE_PIXELS} values each, pixel / 255)`);
  }
  checkPixels(pixels, IMAGE_PIXELS, label, inputError);
  return { pixels, count: pixels.length / IMAGE_PIXELS };
}

function describeKind(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return `a${/^[AEIOU]/.test(v.constructor?.name ?? '') ? 'n' : ''} ${v.constructor?.name ?? 'object'}`;
  return typeof v === 'string' ? `the string "${v.length > 40 ? `${v.slice(0, 40)}...` : v}"` : `${typeof v} ${String(v)}`;
}
