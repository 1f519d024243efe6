/**
 * Execution-provider selection, one provider at a time.
 *
 * onnxruntime-web accepts a list (`executionProviders: ['webgpu', 'wasm']`) and falls back
 * silently, so the caller never learns which one runs. Here each candidate device gets its
 * own attempt with a single provider; the first that opens is the one reported, and the
 * reasons the others were skipped are kept.
 *
 * Everything the selection touches (the WebGPU probe, the session factory) is passed in,
 * so it is unit-testable without a browser.
 */
import { checkDevice, messageOf, VaeError } from '@vae/runtime-core';

/** A device that runs the graphs. */
export type Device = 'webgpu' | 'wasm';
/** What the caller asks for: a device, or `auto` (WebGPU when an adapter exists, else wasm). */
export type DeviceRequest = 'auto' | Device;

export const DEVICE_REQUESTS: readonly DeviceRequest[] = ['auto', 'webgpu', 'wasm'];

export type WebGpuProbe = { available: true; adapter: unknown } | { available: false; reason: string };

interface GpuLike {
  requestAdapter(options?: unknown): Promise<unknown>;
}

/**
 * Whether `navigator.gpu` yields an adapter (main thread or worker). Never throws: a
 * missing API, a null adapter or a rejected request all come back as `{ available: false, reason }`.
 */
export async function probeWebGpu(nav: unknown = (globalThis as { navigator?: unknown }).navigator): Promise<WebGpuProbe> {
  const gpu = (nav as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu || typeof gpu.requestAdapter !== 'function') {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    const hint = secure === false ? ' (this page is not a secure context: serve it over https or from localhost)' : '';
    return { available: false, reason: `navigator.gpu is not defined: this browser or context has no WebGPU${hint}` };
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() returned null: no usable GPU adapter' };
    return { available: true, adapter };
  } catch (err) {
    return { available: false, reason: `navigator.gpu.requestAdapter() failed: ${messageOf(err)}` };
  }
}

/** The error of device: 'webgpu' without a usable adapter. */
export function webGpuUnavailable(reason: string): VaeError {
  return new VaeError('device-unavailable', `WebGPU was requested (device: "webgpu") but is unavailable: ${reason}. Use device: "auto" to fall back to wasm.`);
}

/** One line for `vae.deviceNote`: the device that runs, what was asked for, and why any other was skipped. */
export function describeSelection(request: DeviceRequest, device: Device, attempts: readonly DeviceAttempt[]): string {
  const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.device} skipped: ${a.reason}`);
  if (request !== 'auto') return `${device}, as requested`;
  return `${device} (auto${skipped.length ? `; ${skipped.join('; ')}` : device === 'webgpu' ? ': a WebGPU adapter is available' : ''})`;
}

/** One try on one device. */
export interface DeviceAttempt {
  device: Device;
  ok: boolean;
  /** Why this device was skipped or failed (absent when ok). */
  reason?: string;
}

export interface DeviceSelection<T> {
  /** The device whose sessions were created, i.e. the one that runs. */
  device: Device;
  /** What `open(device)` returned. */
  value: T;
  /** Every device tried, in order, with the reasons of the failures. */
  attempts: DeviceAttempt[];
}

export interface SelectDeviceOptions<T> {
  /** Creates everything needed on one device (it must clean up after itself when it throws). */
  open: (device: Device) => Promise<T>;
  /** WebGPU availability check (default `probeWebGpu()`). */
  probe?: () => Promise<WebGpuProbe>;
}

/**
 * Opens on the requested device. `wasm` and `webgpu` get exactly that device or a VaeError
 * (`device-unavailable` when there is no adapter, `session` when creating the sessions
 * failed). `auto` tries WebGPU when an adapter exists, then wasm.
 */
export async function selectDevice<T>(request: DeviceRequest, options: SelectDeviceOptions<T>): Promise<DeviceSelection<T>> {
  checkDevice(request, DEVICE_REQUESTS);
  const probe = options.probe ?? (() => probeWebGpu());
  const attempts: DeviceAttempt[] = [];
  const candidates: Device[] = [];

  if (request === 'webgpu' || request === 'auto') {
    const gpu = await probe();
    if (gpu.available) {
      candidates.push('webgpu');
    } else if (request === 'webgpu') {
      throw webGpuUnavailable(gpu.reason);
    } else {
      attempts.push({ device: 'webgpu', ok: false, reason: gpu.reason });
    }
  }
  if (request === 'wasm' || request === 'auto') candidates.push('wasm');

  for (const device of candidates) {
    try {
      const value = await options.open(device);
      attempts.push({ device, ok: true });
      return { device, value, attempts };
    } catch (err) {
      attempts.push({ device, ok: false, reason: messageOf(err) });
      if (request !== 'auto') {
        throw new VaeError('session', `Could not create the ONNX Runtime sessions on ${device}: ${messageOf(err)}`, { cause: err });
      }
    }
  }
  const tried = attempts.map((a) => `${a.device}: ${a.reason}`).join('; ');
  throw new VaeError('session', `No device could run the model (${tried})`);
}
