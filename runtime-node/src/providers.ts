/**
 * Execution provider selection: `auto` tries CUDA and falls back to CPU (and says so),
 * `cuda` without a working CUDA provider is an error that says how to install it, `cpu`
 * is CPU. Detection is injectable so the decision logic is unit-tested without a GPU.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type ExecutionProviderChoice = 'auto' | 'cuda' | 'cpu';
export type ExecutionProvider = 'cuda' | 'cpu';
export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = ['auto', 'cuda', 'cpu'];

/** How to get the CUDA provider (onnxruntime-node's postinstall downloads it when asked to). */
export const CUDA_INSTALL_HINT =
  'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` (or `npm rebuild onnxruntime-node` with that variable set) ' +
  'on a machine with an NVIDIA GPU, its driver and CUDA 12 + cuDNN 9; this repository skips it by default (.npmrc: onnxruntime-node-install=skip)';

/** What a CUDA probe found. `reason` says why CUDA cannot be used. */
export interface CudaProbe {
  available: boolean;
  reason?: string;
}

/** Finds out whether onnxruntime-node can run on CUDA here. */
export type CudaDetector = () => Promise<CudaProbe> | CudaProbe;

export interface ProviderSelection {
  provider: ExecutionProvider;
  /** One line for the user: what runs and, for a fallback, why. */
  message: string;
}

export class ExecutionProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExecutionProviderError';
  }
}

/**
 * Decides which provider to use. Pure apart from the injected detector:
 * auto + CUDA available -> cuda; auto + unavailable -> cpu with the reason;
 * cuda + unavailable -> ExecutionProviderError with the install command; cpu -> cpu (no probe).
 */
export async function selectExecutionProvider(
  choice: ExecutionProviderChoice = 'auto',
  detect: CudaDetector = detectCuda,
): Promise<ProviderSelection> {
  if (!EXECUTION_PROVIDER_CHOICES.includes(choice)) {
    throw new ExecutionProviderError(`unknown execution provider "${String(choice)}": expected one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}`);
  }
  if (choice === 'cpu') return { provider: 'cpu', message: 'execution provider: cpu (requested)' };
  const probe = await detect();
  if (probe.available) return { provider: 'cuda', message: `execution provider: cuda${choice === 'auto' ? ' (auto)' : ''}` };
  const reason = probe.reason ?? 'the CUDA provider is not available';
  if (choice === 'cuda') throw cudaUnavailable(reason);
  return { provider: 'cpu', message: `execution provider: cpu (auto: CUDA unavailable: ${reason})` };
}

/** The error for `cuda` asked for but not usable. */
export function cudaUnavailable(reason: string): ExecutionProviderError {
  return new ExecutionProviderError(`execution provider "cuda" is not available: ${reason}. To use it, ${CUDA_INSTALL_HINT}; or choose cpu (--ep cpu) or auto`);
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
