/**
 * onnxruntime-node's devices (execution providers) as a table for @vae/runtime-core's resolver,
 * which makes every decision: `auto` tries CUDA and falls back to the CPU (and says so), `cuda`
 * without a working CUDA provider is a VaeError 'device-unavailable' that says how to install
 * it, `cpu` is the CPU. This file supplies only what is Node's: the CUDA probe (injectable, so
 * the decisions are tested without a GPU) and opening the two sessions on a device.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { deviceChoices, messageOf, VaeError, type DeviceProbe, type DeviceTable } from '@vae/runtime-core';

/** How to get the CUDA provider (onnxruntime-node's postinstall downloads it when asked to). */
export const CUDA_INSTALL_HINT =
  'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` ' +
  '(onnxruntime-node\'s own installer, which npm does not run here: package.json\'s allowScripts denies it) ' +
  'on a machine with an NVIDIA GPU, its driver and CUDA 12 + cuDNN 9';

/** What a CUDA probe found. `reason` says why CUDA cannot be used. */
export type CudaProbe = DeviceProbe;

/** Finds out whether onnxruntime-node can run on CUDA here. */
export type CudaDetector = () => Promise<CudaProbe> | CudaProbe;

/** What the probes get: `loadVae`'s replacement detector, if any. */
export interface ProbeContext {
  detectCuda?: CudaDetector;
}

/** What an open gets: the two graphs' bytes and the session settings of `loadVae`'s options. */
export interface OpenContext {
  graphs: { encoder: Uint8Array; decoder: Uint8Array };
  threads?: number;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Names the model in the error of a graph onnxruntime cannot load. */
  manifestPath: string;
}

export interface Sessions {
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

/**
 * The devices, in the order 'auto' tries them. A device is one entry: its name (the `device`
 * option's value), a probe when it may be missing, and an open.
 */
export const NODE_DEVICES = [
  { name: 'cuda', probe: probeCuda, open: (c) => openSessions(c, 'cuda'), hint: `To use it, ${CUDA_INSTALL_HINT}; or choose cpu (--device cpu) or auto` },
  // The CPU is always there: a failure is the model's (a graph onnxruntime cannot load).
  { name: 'cpu', open: (c) => openSessions(c, 'cpu').catch((err: unknown) => { throw sessionError(err, c.manifestPath); }) },
] as const satisfies DeviceTable<string, ProbeContext, OpenContext, Sessions>;

/** The device that runs (`vae.device`). */
export type Device = (typeof NODE_DEVICES)[number]['name'];
/** What `loadVae`'s `device` option takes. */
export type DeviceChoice = 'auto' | Device;
export const DEVICE_CHOICES: readonly DeviceChoice[] = deviceChoices(NODE_DEVICES);

/** The CUDA entry's probe: the detector (default `detectCuda`), with TF32 off unless the user chose. */
async function probeCuda(context: ProbeContext): Promise<CudaProbe> {
  // cuBLAS / cuDNN read this when they load: no TF32 tensor-core math (10-bit mantissas) in the
  // float32 graphs, so CUDA stays within the fp32 GPU tolerances of @vae/models. Set it to 1
  // before loading to allow TF32.
  process.env.NVIDIA_TF32_OVERRIDE ??= '0';
  const probe = await (context.detectCuda ?? detectCuda)();
  return probe.available ? probe : { available: false, reason: probe.reason ?? 'the CUDA provider is not available' };
}

/** The encoder and decoder sessions on `device` (a GPU provider keeps the CPU for the operators it lacks). */
async function openSessions(c: OpenContext, device: string): Promise<Sessions> {
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(c.threads ? { intraOpNumThreads: c.threads } : {}),
    ...c.sessionOptions,
    // The device is chosen by the resolver, never by sessionOptions.
    executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
  };
  const encoder = await ort.InferenceSession.create(c.graphs.encoder, options);
  try {
    return { encoder, decoder: await ort.InferenceSession.create(c.graphs.decoder, options) };
  } catch (err) {
    await encoder.release();
    throw err;
  }
}

function sessionError(err: unknown, manifestPath: string): VaeError {
  return new VaeError('session', `${manifestPath}: onnxruntime cannot load a graph of this model: ${messageOf(err)}`, { file: manifestPath, cause: err });
}

/** onnxruntime-node's native folder (where the CUDA provider libraries go when installed). */
export function ortBinaryDir(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

const CUDA_LIBRARY: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime_providers_cuda.so',
  win32: 'onnxruntime_providers_cuda.dll',
};

/**
 * A 1x1 Identity graph (ONNX opset 17) for the final check: creating a session on CUDA loads
 * the provider library, the CUDA runtime and cuDNN, and fails when any of them (or a GPU) is missing.
 */
const PROBE_MODEL = Uint8Array.from(Buffer.from(
  'CAgSDnZhZS1jdWRhLXByb2JlGgA6PQoSCgFhEgFiGgAiCElkZW50aXR5EgVwcm9iZVoPCgFhEgoKCAgBEgQKAggBYg8KAWISCgoICAESBAoCCAFCBAoAEBE=',
  'base64',
));

/**
 * The real detector: (1) the onnxruntime-node build must list CUDA, (2) its CUDA provider
 * library must be installed next to the native binding (checked first, because a failed
 * provider load also prints a native error), (3) a session must open on CUDA.
 */
export async function detectCuda(): Promise<CudaProbe> {
  const listed = ort.listSupportedBackends?.() ?? [];
  if (!listed.some((b) => b.name === 'cuda')) {
    return { available: false, reason: `this onnxruntime-node build (${process.platform}/${process.arch}) has no CUDA support` };
  }
  const library = CUDA_LIBRARY[process.platform];
  const dir = ortBinaryDir();
  if (library && dir && !existsSync(join(dir, library))) {
    return { available: false, reason: `onnxruntime-node's CUDA provider is not installed (no ${library} next to its native binding)` };
  }
  try {
    const session = await ort.InferenceSession.create(PROBE_MODEL, { executionProviders: ['cuda'] });
    await session.release();
    return { available: true };
  } catch (err) {
    return { available: false, reason: `a session on CUDA failed to open: ${firstLine((err as Error).message)}` };
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
