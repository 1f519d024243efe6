/**
 * `loadVae` for Node: the core's `Vae` (@vae/runtime-core) on a backend of two onnxruntime-node
 * sessions. This file only loads and checks the model files, opens the sessions on a device,
 * runs them, and reads image files by path; everything else is the core's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import {
  DECODER_INPUT, ENCODER_INPUT, MANIFEST_FILE, sha256Hex, type Manifest, type ManifestGraph,
} from '@vae/models';
import { loadModelDir, releasedModelDir, type LoadedModel } from '@vae/models/node';
import {
  Vae, VaeError, asVaeError, commonLoadOptions, decoderGraphKey, fetchImageBytes, inputError, messageOf, openDevice, planDevice,
  type CommonLoadOptions, type OutputRequest, type RgbaImage, type VaeBackend,
} from '@vae/runtime-core';
import { NODE_DEVICES, describeAdapter, type CudaDetector, type DeviceChoice, type ProbeContext, type WebGpuDetector } from './providers.js';

export interface LoadOptions extends CommonLoadOptions {
  /**
   * 'auto' (default): CUDA when it works, else WebGPU on a hardware adapter, else the CPU
   * (`vae.deviceNote` says why); 'cuda': CUDA or an error; 'webgpu': WebGPU on any adapter
   * (software ones too) or an error; 'cpu'.
   */
  device?: DeviceChoice;
  /** onnxruntime intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Extra onnxruntime session options, merged over ours (e.g. `{ extra: { session: { intra_op: { allow_spinning: '0' } } } }`). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Replaces CUDA detection (tests). */
  detectCuda?: CudaDetector;
  /** Replaces WebGPU detection (tests). */
  detectWebGpu?: WebGpuDetector;
}

type Session = ort.InferenceSession;

/**
 * Opens a model directory (default: the released n = 64 model): validates manifest.json and
 * every file's size and SHA-256, picks the device, opens the encoder and the `precision`'s
 * decoder on it and checks both against the manifest. Every failure is a VaeError naming the
 * file: 'manifest', 'checksum', 'input' (a bad option), 'device-unavailable', 'session'.
 */
export async function loadVae(dir?: string, options: LoadOptions = {}): Promise<Vae> {
  const { precision, maxBatch } = commonLoadOptions(options);
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 0)) {
    throw inputError(`threads: expected a non-negative integer (0 = onnxruntime's default), got ${String(options.threads)}`);
  }
  // The device option is checked and probed before the model is read: `cuda` without CUDA fails first.
  const probeContext: ProbeContext = { device: options.device, detectCuda: options.detectCuda, detectWebGpu: options.detectWebGpu };
  const plan = await planDevice(NODE_DEVICES, options.device, probeContext);
  let model: LoadedModel;
  try {
    model = await loadModelDir(dir ?? releasedModelDir());
  } catch (err) {
    throw asVaeError(err);
  }
  const manifestPath = join(model.dir, MANIFEST_FILE);
  const decoderKey = decoderGraphKey(model.manifest, precision, manifestPath);

  // The two graphs' bytes, read once more and checked against their SHA-256 (what onnxruntime
  // loads is what was verified); one progress event per file.
  let files: (ManifestGraph & { path: string })[];
  try {
    files = [model.graph('encoder'), model.graph(decoderKey)];
  } catch (err) {
    throw asVaeError(err);
  }
  const total = files.reduce((s, g) => s + g.bytes, 0);
  let loaded = 0;
  const bytes: Uint8Array[] = [];
  for (const graph of files) {
    bytes.push(await verifiedBytes(graph, model.manifest, manifestPath));
    loaded += graph.bytes;
    options.onProgress?.({ file: graph.file, loaded, total, source: 'disk' });
  }
  const graphs = { encoder: bytes[0], decoder: bytes[1] };

  const selection = await openDevice(plan, { graphs, threads: options.threads, sessionOptions: options.sessionOptions, manifestPath });
  const sessions = selection.value;
  try {
    checkSession(sessions.encoder, model.manifest.graphs.encoder, manifestPath);
    checkSession(sessions.decoder, model.manifest.graphs[decoderKey], manifestPath);
  } catch (err) {
    await Promise.all([sessions.encoder.release(), sessions.decoder.release()]);
    throw err;
  }
  // On WebGPU the note names the adapter: a software one runs, but at CPU speed.
  const adapter = selection.device === 'webgpu' ? probeContext.webGpuAdapter : undefined;
  const deviceNote = adapter ? `${selection.note}; adapter: ${describeAdapter(adapter)}` : selection.note;
  return new Vae(new NodeBackend(model.dir, sessions.encoder, sessions.decoder), {
    model: model.dir, manifest: model.manifest, device: selection.device, deviceNote, precision, maxBatch,
  });
}

/** The Node half of a Vae: two sessions, and image files read by path. */
class NodeBackend implements VaeBackend {
  constructor(private readonly dir: string, private readonly encoder: Session, private readonly decoder: Session) {}

  /**
   * One session.run. Outputs without `into` are the arrays onnxruntime allocates, returned as
   * they are; with `into`, preallocated output tensors over the caller's array. (Measured on
   * the CPU: letting onnxruntime allocate is faster than handing it a fresh array to fill;
   * only a reused array is faster still.)
   */
  async run(graph: 'encoder' | 'decoder', input: Float32Array, rows: number, outputs: readonly OutputRequest[]): Promise<Float32Array[]> {
    const session = graph === 'encoder' ? this.encoder : this.decoder;
    const inputName = graph === 'encoder' ? ENCODER_INPUT : DECODER_INPUT;
    const feeds = { [inputName]: new ort.Tensor('float32', input, [rows, input.length / rows]) };
    let results: ort.InferenceSession.ReturnType;
    try {
      if (outputs.some((o) => o.into)) {
        const fetches = Object.fromEntries(outputs.filter((o) => o.into).map((o) => [o.name, new ort.Tensor('float32', o.into!, [rows, o.width])]));
        results = await session.run(feeds, fetches);
      } else {
        results = await session.run(feeds);
      }
    } catch (err) {
      throw new VaeError('session', `${this.dir}: the ${graph} failed to run on ${rows} row${rows === 1 ? '' : 's'}: ${messageOf(err)}`, { cause: err });
    }
    return outputs.map((o) => {
      const t = results[o.name];
      if (!t || t.type !== 'float32' || t.size !== rows * o.width) {
        throw new VaeError('session', `${this.dir}: output "${o.name}" is ${t ? `${t.type} [${t.dims.join(', ')}]` : 'missing'}, expected float32 [${rows}, ${o.width}]`);
      }
      return o.into ?? (t.data as Float32Array);
    });
  }

  /** A string is an image file's path: its bytes, for the core to decode. */
  readImage(source: unknown, label: string): Promise<Uint8Array | RgbaImage> | undefined {
    if (source instanceof URL) return readUrl(source, label);
    return typeof source === 'string' ? readPath(source, label) : undefined;
  }

  describeImage(source: unknown): string | undefined {
    return typeof source === 'string' ? source : source instanceof URL ? source.href : undefined;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

/** An image file's bytes by path; a VaeError 'image' naming it when it cannot be read. */
function readPath(path: string, label: string): Promise<Uint8Array> {
  return readFile(path).then(
    (bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory, not an image' : `cannot read: ${err.code ?? err.message}`;
      throw new VaeError('image', `${label}: ${why}`, { file: path, cause: err });
    },
  );
}

/** An image by URL, as the browser takes one: file: URLs are read from disk, http(s): URLs fetched (the core's fetch). */
async function readUrl(url: URL, label: string): Promise<Uint8Array> {
  if (url.protocol === 'file:') return readPath(fileURLToPath(url), label);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new VaeError('input', `${label}: ${url.protocol} URLs are not read; use a file path, a file:, http: or https: URL, or the bytes`);
  }
  return fetchImageBytes(url, label);
}

/** A graph's bytes, checked once more against the manifest's SHA-256 (what onnxruntime loads is what was verified). */
async function verifiedBytes(graph: ManifestGraph & { path: string }, manifest: Manifest, manifestPath: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(graph.path);
  } catch (err) {
    throw new VaeError('checksum', `${graph.path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, { file: graph.path, cause: err });
  }
  const entry = manifest.files.find((f) => f.path === graph.file);
  const actual = await sha256Hex(bytes);
  if (!entry || actual !== entry.sha256) {
    throw new VaeError('checksum', `${graph.path}: SHA-256 mismatch: ${manifestPath} says ${entry?.sha256 ?? 'nothing'}, the file has ${actual}`, { file: graph.path });
  }
  return bytes;
}

/** Names and shapes of a session's inputs or outputs, as "name[N,784]" (dynamic dimensions as their names). */
function signature(metadata: readonly ort.InferenceSession.ValueMetadata[]): string {
  return metadata.map((m) => (m.isTensor ? `${m.name}[${m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))).join(',')}]:${m.type}` : `${m.name}(not a tensor)`)).join(' ');
}

function manifestSignature(specs: ManifestGraph['inputs']): string {
  return specs.map((t) => `${t.name}[${t.shape.join(',')}]:${t.dtype}`).join(' ');
}

/**
 * Proves the graph onnxruntime loaded is the one the manifest describes (names, fixed sizes,
 * dtypes); a VaeError 'manifest' naming the manifest, the graph and both signatures otherwise.
 */
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
      throw new VaeError(
        'manifest',
        `${manifestPath} does not match ${graph.file}: the manifest says ${side} ${manifestSignature(specs)}, ` +
          `the graph has ${signature(metadata) || 'none'}`,
        { file: manifestPath },
      );
    }
  }
}
