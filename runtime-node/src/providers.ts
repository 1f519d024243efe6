/**
 * onnxruntime-node's devices (execution providers) as a table for @vae/runtime-core's resolver,
 * which makes every decision: `auto` tries CUDA, then WebGPU on a hardware adapter, and falls
 * back to the CPU (and says so), `cuda` without a working CUDA provider is a VaeError
 * 'device-unavailable' that says how to install it, `webgpu` is onnxruntime-node's WebGPU
 * execution provider (Dawn: Vulkan on Linux, D3D12 on Windows, Metal on macOS) on any adapter,
 * software ones included, `cpu` is the CPU. This file supplies only what is Node's: the CUDA
 * and WebGPU probes (injectable, so the decisions are tested without a GPU) and opening the two
 * sessions on a device.
 */
import { existsSync, readdirSync } from 'node:fs';
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

/** A WebGPU adapter as Dawn names it (GPUAdapterInfo), and whether it is a software one. */
export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU implementation (SwiftShader, llvmpipe / lavapipe, Microsoft Basic Render): 'auto' never picks it. */
  software: boolean;
}

/** What a WebGPU probe found: the adapter when there is one, else why not. */
export type WebGpuProbe = DeviceProbe & { adapter?: WebGpuAdapter };

/** Finds out whether onnxruntime-node can run on WebGPU here, and on which adapter. */
export type WebGpuDetector = () => Promise<WebGpuProbe> | WebGpuProbe;

/** Where Debian's chromium package puts SwiftShader's Vulkan driver (a software GPU): set VK_ICD_FILENAMES to it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** What WebGPU needs, for the error of `webgpu` without an adapter. */
export const WEBGPU_HINT =
  'WebGPU runs on Dawn, which on Linux needs the Vulkan loader (Debian/Ubuntu: libvulkan1) and a Vulkan driver: a GPU\'s, or ' +
  `the software SwiftShader (VK_ICD_FILENAMES=${SWIFTSHADER_ICD}, from Debian's chromium package); or choose cpu (--device cpu) or auto`;

/** What the probes get: the request (`auto` skips a software adapter) and `loadVae`'s replacement detectors, if any. */
export interface ProbeContext {
  device?: DeviceChoice;
  detectCuda?: CudaDetector;
  detectWebGpu?: WebGpuDetector;
  /** Set by the WebGPU probe when it passes: the adapter the sessions will run on (`vae.deviceNote` names it). */
  webGpuAdapter?: WebGpuAdapter;
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
  { name: 'webgpu', probe: probeWebGpu, open: (c) => openSessions(c, 'webgpu'), hint: WEBGPU_HINT },
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

/**
 * The WebGPU entry's probe: the detector (default `detectWebGpu`); under 'auto' a software
 * adapter is skipped (it is the CPU, slower than onnxruntime's own CPU kernels), asked for by
 * name it runs.
 */
async function probeWebGpu(context: ProbeContext): Promise<WebGpuProbe> {
  const probe = await (context.detectWebGpu ?? detectWebGpu)();
  if (!probe.available) return { available: false, reason: probe.reason ?? 'no WebGPU adapter' };
  if (probe.adapter?.software && (context.device ?? 'auto') === 'auto') {
    return { available: false, reason: `software adapter (${describeAdapter(probe.adapter)}), used only when device "webgpu" is asked for` };
  }
  context.webGpuAdapter = probe.adapter;
  return probe;
}

/** "SwiftShader driver 5.0.0, google/swiftshader": the adapter's description, vendor and architecture. */
export function describeAdapter(a: Pick<WebGpuAdapter, 'vendor' | 'architecture' | 'description'>): string {
  const names = [a.vendor, a.architecture].filter(Boolean).join('/');
  return [a.description || 'unnamed adapter', names].filter(Boolean).join(', ');
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

/** Adapters that are the CPU in disguise, by the names their drivers give. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render/i;

/** Whether a GPUAdapterInfo names a software adapter (Dawn also flags SwiftShader as the fallback adapter). */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  return info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/**
 * Why Dawn cannot find a Vulkan adapter on Linux, checked before asking it (it prints native
 * warnings to stderr when Vulkan has no driver): no loader library, or no driver manifest
 * (ICD) where the loader looks and none named by the environment. Undefined: ask Dawn.
 */
function vulkanMissing(): string | undefined {
  const env = process.env;
  const libDirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib'];
  if (!libDirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) {
    return 'no Vulkan loader (libvulkan.so.1; Debian/Ubuntu: apt-get install libvulkan1)';
  }
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return undefined;
  const icdDirs = [env.XDG_CONFIG_HOME, ...(env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':'), '/etc', env.XDG_DATA_HOME, ...(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':')]
    .filter((d): d is string => !!d).map((d) => join(d, 'vulkan', 'icd.d'));
  if (icdDirs.some((d) => { try { return readdirSync(d).some((f) => f.endsWith('.json')); } catch { return false; } })) return undefined;
  const swiftshader = existsSync(SWIFTSHADER_ICD) ? `; for the software SwiftShader set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}` : '';
  return `no Vulkan driver (no ICD manifest in ${icdDirs.filter((d) => d.startsWith('/usr/share') || d.startsWith('/etc/vulkan')).join(' or ')}, VK_ICD_FILENAMES unset)${swiftshader}`;
}

/**
 * The real detector: (1) the onnxruntime-node build must list WebGPU, (2) on Linux, Vulkan must
 * have a loader and a driver, (3) Dawn (the optional `webgpu` package, the same Dawn as
 * onnxruntime's WebGPU provider) must be installed and return an adapter; its GPUAdapterInfo
 * names it.
 */
export async function detectWebGpu(): Promise<WebGpuProbe> {
  const listed = ort.listSupportedBackends?.() ?? [];
  if (!listed.some((b) => b.name === 'webgpu')) {
    return { available: false, reason: `this onnxruntime-node build (${process.platform}/${process.arch}) has no WebGPU execution provider` };
  }
  const vulkan = process.platform === 'linux' ? vulkanMissing() : undefined;
  if (vulkan) return { available: false, reason: vulkan };
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch {
    // Optional (a peer dependency): 130 MB of Dawn binaries that only the WebGPU device needs.
    return { available: false, reason: 'the optional package "webgpu" (Dawn for Node, which finds and names the adapter) is not installed: npm install webgpu@0.6.2' };
  }
  try {
    const adapter = await dawn.create([]).requestAdapter();
    if (!adapter) return { available: false, reason: 'Dawn found no WebGPU adapter (requestAdapter() returned null)' };
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return {
      available: true,
      adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description, software: isSoftwareAdapter(info) },
    };
  } catch (err) {
    return { available: false, reason: `Dawn (the webgpu package) could not look for an adapter: ${firstLine(messageOf(err))}` };
  }
}
