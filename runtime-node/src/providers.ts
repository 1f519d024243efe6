/**
 * Device selection (onnxruntime's execution provider): `auto` tries CUDA and falls back to
 * the CPU (and says so), `cuda` without a working CUDA provider is a VaeError
 * 'device-unavailable' that says how to install it, `cpu` is the CPU. Detection is injectable
 * so the decision logic is unit-tested without a GPU.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkDevice, VaeError } from '@vae/runtime-core';

/** What `loadVae`'s `device` option takes. */
export type DeviceChoice = 'auto' | 'cuda' | 'cpu';
/** The device that runs (`vae.device`). */
export type Device = 'cuda' | 'cpu';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['auto', 'cuda', 'cpu'];

/** How to get the CUDA provider (onnxruntime-node's postinstall downloads it when asked to). */
export const CUDA_INSTALL_HINT =
  'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` ' +
  '(onnxruntime-node\'s own installer, which npm does not run here: package.json\'s allowScripts denies it) ' +
  'on a machine with an NVIDIA GPU, its driver and CUDA 12 + cuDNN 9';

/** What a CUDA probe found. `reason` says why CUDA cannot be used. */
export interface CudaProbe {
  available: boolean;
  reason?: string;
}

/** Finds out whether onnxruntime-node can run on CUDA here. */
export type CudaDetector = () => Promise<CudaProbe> | CudaProbe;

export interface DeviceSelection {
  device: Device;
  /** One line for the user (`vae.deviceNote`): what runs and, for a fallback, why. */
  note: string;
}

/**
 * Decides which device to use. Pure apart from the injected detector (and the TF32 switch):
 * auto + CUDA available -> cuda; auto + unavailable -> cpu with the reason;
 * cuda + unavailable -> VaeError 'device-unavailable' with the install command; cpu -> cpu (no probe).
 * An unknown choice is a VaeError 'input' naming the valid ones.
 */
export async function selectDevice(choice: DeviceChoice = 'auto', detect: CudaDetector = detectCuda): Promise<DeviceSelection> {
  checkDevice(choice, DEVICE_CHOICES);
  if (choice === 'cpu') return { device: 'cpu', note: 'device: cpu (requested)' };
  // cuBLAS / cuDNN read this when they load: no TF32 tensor-core math (10-bit mantissas) in the
  // float32 graphs, so CUDA stays within the fp32 GPU tolerances of @vae/models. Set it to 1
  // before loading to allow TF32.
  process.env.NVIDIA_TF32_OVERRIDE ??= '0';
  const probe = await detect();
  if (probe.available) return { device: 'cuda', note: `device: cuda${choice === 'auto' ? ' (auto)' : ' (requested)'}` };
  const reason = probe.reason ?? 'the CUDA provider is not available';
  if (choice === 'cuda') throw cudaUnavailable(reason);
  return { device: 'cpu', note: `device: cpu (auto: CUDA unavailable: ${reason})` };
}

/** The error for `cuda` asked for but not usable: VaeError 'device-unavailable' with the install hint. */
export function cudaUnavailable(reason: string): VaeError {
  return new VaeError('device-unavailable', `device "cuda" is not available: ${reason}. To use it, ${CUDA_INSTALL_HINT}; or choose cpu (--device cpu) or auto`);
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
