/**
 * onnxruntime-web's devices as a table for @vae/runtime-core's resolver, which makes every
 * decision (the order 'auto' tries, the fallback, the errors, `vae.deviceNote`).
 *
 * onnxruntime-web accepts a list (`executionProviders: ['webgpu', 'wasm']`) and falls back
 * silently, so the caller never learns which one runs. Here each device is its own attempt
 * with a single provider: an entry's open asks the loader's session factory for that one
 * provider. The WebGPU probe and the factory are passed in, so the table is unit-testable
 * without a browser.
 */
import type { InferenceSession } from 'onnxruntime-web';
import { deviceChoices, messageOf, type DeviceTable } from '@vae/runtime-core';

/** The sessions one device runs (the encoder is absent when loadVae was told `encoder: false`). */
export interface WebSessions {
  decoder: InferenceSession;
  encoder: InferenceSession | null;
}

/** What an entry's open gets: creates the sessions with this one execution provider (loader.ts). */
export type SessionFactory = (executionProvider: string) => Promise<WebSessions>;

/** What the probes get: `loadVae`'s replacement WebGPU check, if any. */
export interface ProbeContext {
  probeWebGpu?: () => Promise<WebGpuProbe>;
}

/**
 * The devices of the WebGPU build, in the order 'auto' tries them. A device is one entry: its
 * name (the `device` option's value and the execution provider), a probe when it may be
 * missing, and an open.
 */
export const WEB_DEVICES = [
  { name: 'webgpu', probe: (c) => (c.probeWebGpu ?? probeWebGpu)(), open: (create) => create('webgpu'), hint: 'Use device: "auto" to fall back to wasm.' },
  { name: 'wasm', open: (create) => create('wasm') },
] as const satisfies DeviceTable<string, ProbeContext, SessionFactory, WebSessions>;

/** A device that runs the graphs. */
export type Device = (typeof WEB_DEVICES)[number]['name'];
/** What the caller asks for: a device, or `auto` (WebGPU when an adapter exists, else wasm). */
export type DeviceRequest = 'auto' | Device;

export const DEVICE_REQUESTS: readonly DeviceRequest[] = deviceChoices(WEB_DEVICES);

/** The wasm-only build's table (@vae/runtime-web/wasm): no WebGPU to probe. */
export const WASM_DEVICES: DeviceTable<Device, ProbeContext, SessionFactory, WebSessions> = WEB_DEVICES.filter((e) => e.name === 'wasm');

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

