/**
 * The `webgpu` backend in Node: @tensorflow/tfjs-backend-webgpu on Dawn, which the optional
 * `webgpu` package (Dawn for Node, ~130 MB of binaries) supplies as `navigator.gpu`.
 *
 * Adapter naming is a small local copy of runtime-node's `isSoftwareAdapter` / `describeAdapter`
 * rather than a shared helper: train does not depend on runtime-node (the inference side), and
 * @vae/runtime-core, the one package both could share, is the browser-safe inference contract
 * that train does not otherwise need. Ten lines of naming are cheaper than that dependency.
 */
import * as tf from '@tensorflow/tfjs';

/** Where Debian's chromium package puts SwiftShader's Vulkan driver (a software GPU). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** How to install the optional package, for the error when it is missing. */
export const WEBGPU_INSTALL_HINT =
  'backend "webgpu" needs the optional package "webgpu" (Dawn for Node, ~130 MB): install it with `npm install webgpu@0.6.2`, or use --backend wasm';

/** What Dawn needs to find an adapter, for the error when it finds none. */
export const WEBGPU_ADAPTER_HINT =
  'Dawn needs a GPU driver: on Linux the Vulkan loader (Debian/Ubuntu: libvulkan1) and a Vulkan driver, a GPU\'s or the ' +
  `software SwiftShader (VK_ICD_FILENAMES=${SWIFTSHADER_ICD}, from Debian's chromium package); Metal on macOS, D3D12 on Windows. ` +
  'Or use --backend wasm';

/** The GPUAdapterInfo fields we read (Dawn adds isFallbackAdapter). */
interface AdapterInfo { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render/i;

/** A CPU implementation of WebGPU (Dawn flags SwiftShader as its fallback adapter). */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  return info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** "SwiftShader driver 5.0.0, google/swiftshader, software adapter (a CPU emulation, slower than wasm)". */
export function describeAdapter(info: AdapterInfo): string {
  const names = [info.vendor, info.architecture].filter(Boolean).join('/');
  const parts = [info.description || 'unnamed adapter', names];
  if (isSoftwareAdapter(info)) parts.push('software adapter (a CPU emulation, slower than wasm)');
  return parts.filter(Boolean).join(', ');
}

/**
 * Makes `navigator.gpu` Dawn's, unless something (a browser, Deno) already provides one.
 * tfjs-backend-webgpu registers itself on import only when `navigator.gpu` exists, so this
 * runs before it is imported. Dawn's `globals` are the GPUBufferUsage / GPUMapMode constants
 * tfjs' kernels read from the global scope.
 */
async function ensureNavigatorGpu(): Promise<GPU> {
  const existing = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (existing) return existing;
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch {
    throw new Error(WEBGPU_INSTALL_HINT);
  }
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  // Node >= 21 has a navigator object (without gpu); Node 20 has none.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

/**
 * Activates tfjs' webgpu backend on Dawn's adapter and returns the adapter's name (backend.ts
 * makes it the BackendInfo). The adapter is asked for here first, so "no adapter" is our
 * error with a hint, not tfjs' TypeError.
 */
export async function useWebGpu(): Promise<string> {
  const gpu = await ensureNavigatorGpu();
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    throw new Error(`backend "webgpu": Dawn could not look for an adapter (${(err as Error).message}). ${WEBGPU_ADAPTER_HINT}`);
  }
  if (!adapter) throw new Error(`backend "webgpu": no WebGPU adapter found. ${WEBGPU_ADAPTER_HINT}`);
  const info = readAdapterInfo(adapter);
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) {
    throw new Error(`backend "webgpu" failed to start on ${describeAdapter(info)} (tfjs printed why above)`);
  }
  return describeAdapter(info);
}

/** GPUAdapterInfo, or an empty record where the implementation does not expose it. */
function readAdapterInfo(adapter: GPUAdapter): AdapterInfo {
  try {
    const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter };
  } catch {
    return {};
  }
}
