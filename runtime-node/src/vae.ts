/**
 * The VAE as two onnxruntime-node sessions, behind a few verbs:
 * `Vae.load` -> encode / decode / sample / reconstruct / interpolate / manifold.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUTS, MANIFEST_FILE, ManifestError, sha256Hex,
  type Manifest, type ManifestGraph,
} from '@vae/models';
import { loadModelDir, releasedModelDir } from '@vae/models/node';
import {
  IMAGE_HEIGHT, IMAGE_PIXELS, IMAGE_WIDTH, readImages, type ImageBatch, type ImageReadOptions, type ImageSource,
} from './images.js';
import { InputError, toImageArray, toLatentBatch, type LatentInput } from './inputs.js';
import {
  cudaUnavailable, selectExecutionProvider, type CudaDetector, type ExecutionProvider, type ExecutionProviderChoice,
} from './providers.js';
import { seededNormals } from './random.js';

export type DecoderVariant = 'fp32' | 'fp16' | 'int8';
export const DECODER_VARIANTS: readonly DecoderVariant[] = ['fp32', 'fp16', 'int8'];

/** See VaeOptions.maxBatch. */
export const DEFAULT_MAX_BATCH = 512;

export interface VaeOptions {
  /** 'auto' (default): CUDA when it works, else CPU; 'cuda': CUDA or an error; 'cpu'. */
  executionProvider?: ExecutionProviderChoice;
  /** onnxruntime intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Decoder weights: 'fp32' (default), 'fp16' or 'int8' (decoder.fp16.onnx / decoder.int8.onnx). */
  variant?: DecoderVariant;
  /**
   * Largest batch handed to one session.run; bigger inputs are split into chunks (default 512).
   * On the CPU, chunks of 256-512 rows decode ~1.6x faster than one 4096-row run (the
   * working set stays in cache); `npm run bench:node` shows both.
   */
  maxBatch?: number;
  /** Called with one line saying which execution provider runs, and why. */
  onMessage?: (message: string) => void;
  /** Extra onnxruntime session options, merged over ours (e.g. `{ extra: { session: { intra_op: { allow_spinning: '0' } } } }`). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Replaces CUDA detection (tests). */
  detectCuda?: CudaDetector;
}

/** Images: model-ready pixels (Float32Array or ImageBatch), or image files / encoded bytes. */
export type ImagesInput = Float32Array | ImageBatch | ImageSource | readonly ImageSource[];

/** An endpoint of an interpolation: an image (file, bytes, 784 pixels) or a latent vector. */
export type Endpoint = ImageSource | Float32Array | readonly number[] | { z: ArrayLike<number> };

export interface Encoding {
  /** Posterior means, [count * latentSize] row-major. */
  mu: Float32Array;
  /** Posterior log-variances (natural log), [count * latentSize]. */
  logvar: Float32Array;
  count: number;
  latentSize: number;
}

export interface SampleOptions {
  /** PRNG seed (uint32); the same seed gives the same images. Default: a random one (returned). */
  seed?: number;
  /** z ~ N(0, temperature^2 I); default 1. */
  temperature?: number;
}

export interface ManifoldOptions {
  /** The grid spans [-range, range] on each latent axis (default 3). */
  range?: number;
  /** Points per axis (default 15): steps x steps images for n = 2, a row of steps for n = 1. */
  steps?: number;
}

type Session = ort.InferenceSession;

const GRAPH_OF: Record<DecoderVariant, string> = { fp32: 'decoder', fp16: 'decoder.fp16', int8: 'decoder.int8' };

export class Vae {
  private constructor(
    /** Absolute path of the model directory. */
    readonly dir: string,
    readonly manifest: Manifest,
    /** The provider both sessions run on. */
    readonly executionProvider: ExecutionProvider,
    /** Which provider runs and why (e.g. the reason for a CPU fallback). */
    readonly providerMessage: string,
    readonly variant: DecoderVariant,
    private readonly encoder: Session,
    private readonly decoder: Session,
    private readonly maxBatch: number,
  ) {}

  /** Latent size n. */
  get latentSize(): number {
    return this.manifest.model.latentSize;
  }

  /**
   * Opens a model directory (default: the released n = 64 model): validates manifest.json,
   * every file's size and SHA-256, picks the execution provider, opens the encoder and decoder
   * sessions and checks their inputs and outputs against the manifest.
   */
  static async load(dir?: string, options: VaeOptions = {}): Promise<Vae> {
    const variant = options.variant ?? 'fp32';
    if (!DECODER_VARIANTS.includes(variant)) throw new InputError(`variant: "${variant}" is not one of ${DECODER_VARIANTS.join(', ')}`);
    if (options.maxBatch !== undefined && !(Number.isInteger(options.maxBatch) && options.maxBatch >= 1)) {
      throw new InputError(`maxBatch: expected a positive integer, got ${options.maxBatch}`);
    }
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 0)) {
      throw new InputError(`threads: expected a non-negative integer (0 = onnxruntime's default), got ${options.threads}`);
    }
    const model = await loadModelDir(dir ?? releasedModelDir());
    const manifestPath = join(model.dir, MANIFEST_FILE);
    const decoderKey = GRAPH_OF[variant];
    if (!model.manifest.graphs[decoderKey]) {
      throw new ManifestError(`${manifestPath}: no ${variant} decoder ("${decoderKey}"); this model has ${Object.keys(model.manifest.graphs).join(', ')}`);
    }
    const graphs = {
      encoder: await verifiedBytes(model.graph('encoder'), model.manifest, manifestPath),
      decoder: await verifiedBytes(model.graph(decoderKey), model.manifest, manifestPath),
    };

    let selection = await selectExecutionProvider(options.executionProvider ?? 'auto', options.detectCuda);
    let sessions: { encoder: Session; decoder: Session };
    try {
      sessions = await openSessions(graphs, selection.provider, options);
    } catch (err) {
      if (selection.provider !== 'cuda') throw sessionError(err, manifestPath);
      // CUDA was detected but a real session did not open on it.
      const reason = `a session on CUDA failed to open: ${(err as Error).message.split('\n')[0]}`;
      if ((options.executionProvider ?? 'auto') === 'cuda') throw cudaUnavailable(reason);
      selection = { provider: 'cpu', message: `execution provider: cpu (auto: CUDA unavailable: ${reason})` };
      sessions = await openSessions(graphs, 'cpu', options).catch((e: unknown) => { throw sessionError(e, manifestPath); });
    }
    try {
      checkSession(sessions.encoder, model.manifest.graphs.encoder, manifestPath);
      checkSession(sessions.decoder, model.manifest.graphs[decoderKey], manifestPath);
    } catch (err) {
      await Promise.all([sessions.encoder.release(), sessions.decoder.release()]);
      throw err;
    }
    options.onMessage?.(selection.message);
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    return new Vae(model.dir, model.manifest, selection.provider, selection.message, variant, sessions.encoder, sessions.decoder, maxBatch);
  }

  /** Posterior mean and log-variance of each image. File inputs follow the image rules (options.invert, fit). */
  async encode(images: ImagesInput, options: ImageReadOptions = {}): Promise<Encoding> {
    const { data, count } = await this.imageTensor(images, options);
    const n = this.latentSize;
    const [mu, logvar] = await this.run(this.encoder, ENCODER_INPUT, data, IMAGE_PIXELS, count, [
      { name: ENCODER_OUTPUTS[0], width: n }, { name: ENCODER_OUTPUTS[1], width: n },
    ]);
    return { mu, logvar, count, latentSize: n };
  }

  /**
   * Images (pixel probabilities in [0, 1]) for latent vectors: a flat array of N * n values or
   * N rows of n. With `into` (a Float32Array of N * 784), onnxruntime writes the images there
   * and `data` is that array: for loops that decode big batches, reusing one buffer saves
   * allocating and first-touching ~3 MB per 1,000 images (a third of the time at batch 4096 on
   * the 2-core test machine; see `npm run bench:node`).
   */
  async decode(z: LatentInput, options: { into?: Float32Array } = {}): Promise<ImageBatch> {
    const { data, count } = toLatentBatch(z, this.latentSize, 'z');
    const { into } = options;
    if (into !== undefined && !(into instanceof Float32Array && into.length === count * IMAGE_PIXELS)) {
      const got = into instanceof Float32Array ? `a Float32Array of ${into.length}` : typeof into === 'object' && into !== null ? (into as object).constructor?.name ?? 'an object' : String(into);
      throw new InputError(`into: expected a Float32Array of ${count} x ${IMAGE_PIXELS} = ${count * IMAGE_PIXELS} values for ${count} image${count === 1 ? '' : 's'}, got ${got}`);
    }
    return this.decodeChecked(data, count, into);
  }

  /** `count` images from z ~ N(0, temperature^2 I), seeded (mulberry32 + Box-Muller). */
  async sample(count: number, options: SampleOptions = {}): Promise<ImageBatch & { z: Float32Array; seed: number; temperature: number }> {
    if (!Number.isInteger(count) || count < 1) throw new InputError(`count: expected a positive integer, got ${count}`);
    const temperature = options.temperature ?? 1;
    if (!(Number.isFinite(temperature) && temperature >= 0)) throw new InputError(`temperature: expected a finite number >= 0, got ${temperature}`);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new InputError(`seed: expected an integer in [0, 2^32), got ${seed}`);
    const z = seededNormals(count * this.latentSize, seed, temperature);
    return { ...(await this.decodeChecked(z, count)), z, seed, temperature };
  }

  /** Decodes each image's posterior mean: the model's reconstruction. */
  async reconstruct(images: ImagesInput, options: ImageReadOptions = {}): Promise<ImageBatch & Encoding> {
    const encoding = await this.encode(images, options);
    return { ...(await this.decodeChecked(encoding.mu, encoding.count)), ...encoding };
  }

  /**
   * `steps` images along the straight line from a to b in latent space (both ends included).
   * An image endpoint stands for its posterior mean; a latent vector is used as it is.
   */
  async interpolate(a: Endpoint, b: Endpoint, steps = 8, options: ImageReadOptions = {}): Promise<ImageBatch & { z: Float32Array }> {
    if (!Number.isInteger(steps) || steps < 2) throw new InputError(`steps: expected an integer >= 2, got ${steps}`);
    const za = await this.endpoint(a, 'a', options);
    const zb = await this.endpoint(b, 'b', options);
    const n = this.latentSize;
    const z = new Float32Array(steps * n);
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      for (let k = 0; k < n; k++) z[s * n + k] = za[k] + (zb[k] - za[k]) * t;
    }
    return { ...(await this.decodeChecked(z, steps)), z };
  }

  /**
   * The decoder's view of latent space on a regular grid over [-range, range]: for n = 2,
   * steps x steps images (columns: z0 from -range to +range; rows: z1 from +range at the top
   * to -range at the bottom); for n = 1, one row. Other latent sizes are an error.
   */
  async manifold(options: ManifoldOptions = {}): Promise<ImageBatch & { z: Float32Array; rows: number; columns: number }> {
    const range = options.range ?? 3;
    const steps = options.steps ?? 15;
    const n = this.latentSize;
    if (n !== 1 && n !== 2) {
      throw new InputError(`manifold needs a model with latent size 1 or 2; ${this.dir} has latent size ${n} (try models/released/mnist-n2-beta1)`);
    }
    if (!(Number.isFinite(range) && range > 0)) throw new InputError(`range: expected a finite number > 0, got ${range}`);
    if (!Number.isInteger(steps) || steps < 2 || steps > 1000) throw new InputError(`steps: expected an integer from 2 to 1000, got ${steps}`);
    const at = (i: number) => -range + (2 * range * i) / (steps - 1);
    const rows = n === 2 ? steps : 1;
    const z = new Float32Array(rows * steps * n);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < steps; c++) {
        const i = r * steps + c;
        z[i * n] = at(c);
        if (n === 2) z[i * n + 1] = at(steps - 1 - r);
      }
    }
    return { ...(await this.decodeChecked(z, rows * steps)), z, rows, columns: steps };
  }

  /** Releases both sessions. */
  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }

  private async decodeChecked(z: Float32Array, count: number, into?: Float32Array): Promise<ImageBatch> {
    const [data] = await this.run(this.decoder, DECODER_INPUT, z, this.latentSize, count, [{ name: DECODER_OUTPUT, width: IMAGE_PIXELS, into }]);
    return { data, count, height: IMAGE_HEIGHT, width: IMAGE_WIDTH };
  }

  private async imageTensor(images: ImagesInput, options: ImageReadOptions): Promise<{ data: Float32Array; count: number }> {
    if (images instanceof Float32Array || isImageBatch(images)) return toImageArray(images, 'images');
    if (typeof images === 'string' || images instanceof Uint8Array || Array.isArray(images)) {
      const list = images as ImageSource | readonly ImageSource[];
      if (Array.isArray(list) && list.length === 0) throw new InputError('images: no images');
      return readImages(list, options);
    }
    throw new InputError('images: expected a Float32Array of pixels, an ImageBatch, or image file paths / bytes');
  }

  private async endpoint(value: Endpoint, label: string, options: ImageReadOptions): Promise<Float32Array> {
    const n = this.latentSize;
    if (typeof value === 'string' || value instanceof Uint8Array) return (await this.encode(value, options)).mu;
    if (value instanceof Float32Array || Array.isArray(value)) {
      const values = value as ArrayLike<number>;
      if (values.length === IMAGE_PIXELS && n !== IMAGE_PIXELS) {
        return (await this.encode(toImageArray(Float32Array.from(values), label).data)).mu;
      }
      if (values.length !== n) {
        throw new InputError(`${label}: ${values.length} values: expected a latent vector of ${n} values (the model's latent size) or an image of ${IMAGE_PIXELS} pixels`);
      }
      return toLatentBatch(values, n, label).data;
    }
    if (value && typeof value === 'object' && 'z' in value) {
      const { data, count } = toLatentBatch(value.z, n, label);
      if (count !== 1) throw new InputError(`${label}: expected one latent vector of ${n} values, got ${count}`);
      return data;
    }
    throw new InputError(`${label}: expected an image (path, bytes or ${IMAGE_PIXELS} pixels) or a latent vector`);
  }

  /**
   * Runs a session over the batch: one session.run when it fits in maxBatch rows (the outputs
   * onnxruntime allocates are returned as they are), else chunks of maxBatch rows copied into
   * one array per output. An output with `into` is written there directly, chunk by chunk.
   * (Measured on the CPU: letting onnxruntime allocate the outputs is faster than handing it
   * a fresh array to fill; only a reused array is faster still.)
   */
  private async run(
    session: Session, inputName: string, input: Float32Array, inWidth: number, count: number,
    outputs: { name: string; width: number; into?: Float32Array }[],
  ): Promise<Float32Array[]> {
    const runChunk = async (start: number, rows: number) => {
      const feeds = { [inputName]: new ort.Tensor('float32', input.subarray(start * inWidth, (start + rows) * inWidth), [rows, inWidth]) };
      const fetches = Object.fromEntries(outputs.filter((o) => o.into).map((o) =>
        [o.name, new ort.Tensor('float32', o.into!.subarray(start * o.width, (start + rows) * o.width), [rows, o.width])]));
      const results = await (outputs.some((o) => o.into) ? session.run(feeds, fetches) : session.run(feeds));
      return outputs.map((o) => {
        const t = results[o.name];
        if (!t || t.type !== 'float32' || t.size !== rows * o.width) {
          throw new Error(`${this.dir}: output "${o.name}" is ${t ? `${t.type} [${t.dims.join(', ')}]` : 'missing'}, expected float32 [${rows}, ${o.width}]`);
        }
        return t.data as Float32Array;
      });
    };
    if (count <= this.maxBatch) {
      const chunk = await runChunk(0, count);
      return outputs.map((o, k) => o.into ?? chunk[k]);
    }
    const results = outputs.map((o) => o.into ?? new Float32Array(count * o.width));
    for (let start = 0; start < count; start += this.maxBatch) {
      const rows = Math.min(this.maxBatch, count - start);
      const chunk = await runChunk(start, rows);
      outputs.forEach((o, k) => { if (!o.into) results[k].set(chunk[k], start * o.width); });
    }
    return results;
  }
}

function isImageBatch(v: unknown): v is ImageBatch {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v) && 'data' in v && 'count' in v && 'width' in v && 'height' in v;
}

/** A graph's bytes, checked once more against the manifest's SHA-256 (what onnxruntime loads is what was verified). */
async function verifiedBytes(graph: ManifestGraph & { path: string }, manifest: Manifest, manifestPath: string): Promise<Uint8Array> {
  const bytes = await readFile(graph.path);
  const entry = manifest.files.find((f) => f.path === graph.file);
  const actual = await sha256Hex(bytes);
  if (!entry || actual !== entry.sha256) {
    throw new ManifestError(`${graph.path}: SHA-256 mismatch: ${manifestPath} says ${entry?.sha256 ?? 'nothing'}, the file has ${actual}`);
  }
  return bytes;
}

async function openSessions(graphs: { encoder: Uint8Array; decoder: Uint8Array }, provider: ExecutionProvider, vaeOptions: VaeOptions) {
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(vaeOptions.threads ? { intraOpNumThreads: vaeOptions.threads } : {}),
    ...vaeOptions.sessionOptions,
    // The provider is chosen by selectExecutionProvider, never by sessionOptions.
    executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
  };
  const encoder = await ort.InferenceSession.create(graphs.encoder, options);
  try {
    return { encoder, decoder: await ort.InferenceSession.create(graphs.decoder, options) };
  } catch (err) {
    await encoder.release();
    throw err;
  }
}

function sessionError(err: unknown, manifestPath: string): Error {
  return new ManifestError(`${manifestPath}: onnxruntime cannot load a graph of this model: ${(err as Error).message}`);
}

/** Names and shapes of a session's inputs or outputs, as "name[N,784]" (dynamic dimensions as their names). */
function signature(metadata: readonly ort.InferenceSession.ValueMetadata[]): string {
  return metadata.map((m) => (m.isTensor ? `${m.name}[${m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))).join(',')}]:${m.type}` : `${m.name}(not a tensor)`)).join(' ');
}

function manifestSignature(specs: ManifestGraph['inputs']): string {
  return specs.map((t) => `${t.name}[${t.shape.join(',')}]:${t.dtype}`).join(' ');
}

/** Proves the graph onnxruntime loaded is the one the manifest describes (names, fixed sizes, dtypes). */
export function checkSession(session: Pick<Session, 'inputMetadata' | 'outputMetadata'>, graph: ManifestGraph, manifestPath: string): void {
  for (const side of ['inputs', 'outputs'] as const) {
    const metadata = side === 'inputs' ? session.inputMetadata : session.outputMetadata;
    const specs = graph[side];
    const matches = metadata.length === specs.length && specs.every((spec, i) => {
      const m = metadata[i];
      if (!m.isTensor || m.name !== spec.name || m.type !== spec.dtype || m.shape.length !== spec.shape.length) return false;
      // A named (dynamic) dimension matches any dynamic one; a size must be equal.
      return spec.shape.every((d, k) => (typeof d === 'number' ? m.shape[k] === d : typeof m.shape[k] === 'string' || (m.shape[k] as number) < 0));
    });
    if (!matches) {
      throw new ManifestError(
        `${manifestPath} does not match ${graph.file}: the manifest says ${side} ${manifestSignature(specs)}, ` +
          `the graph has ${signature(metadata) || 'none'}`,
      );
    }
  }
}
