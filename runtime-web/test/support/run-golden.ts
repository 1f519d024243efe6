/**
 * Replays a model's golden sets in the harness page (window.vaeLib) on one device and
 * measures max / mean |output - golden| per output name.
 */
import type { Page } from 'playwright-core';
import { absErrors, readGolden, type ModelGolden } from './golden.ts';

export interface OutputError { max: number; mean: number; count: number }

export interface GoldenResult {
  model: string;
  device: string;
  deviceNote: string;
  /** GPUQueue.submit() calls made while the graphs ran (0 when nothing ran on WebGPU). */
  gpuSubmits: number;
  errors: Record<string, OutputError>;
  ms: number;
}

/**
 * Init script of every test page. Counts GPUQueue.submit() calls (window.__gpuSubmits):
 * proof that work went to WebGPU. Also defines `__name`: tsx compiles the tests with
 * esbuild's keepNames, which wraps some functions passed to page.evaluate() in `__name(fn, "name")`.
 */
export const COUNT_GPU_SUBMITS = `
  globalThis.__name ??= (fn) => fn;
  globalThis.__gpuSubmits = 0;
  if (globalThis.GPUQueue) {
    const submit = GPUQueue.prototype.submit;
    GPUQueue.prototype.submit = function (...args) { globalThis.__gpuSubmits++; return submit.apply(this, args); };
  }
`;

function merge(parts: OutputError[]): OutputError {
  const count = parts.reduce((s, p) => s + p.count, 0);
  return { max: Math.max(...parts.map((p) => p.max)), mean: parts.reduce((s, p) => s + p.mean * p.count, 0) / count, count };
}

export async function runGolden(page: Page, origin: string, golden: ModelGolden | string, device: 'webgpu' | 'wasm' | 'auto', precision: 'fp32' | 'fp16' | 'int8' = 'fp32'): Promise<GoldenResult> {
  const g = typeof golden === 'string' ? await readGolden(golden) : golden;
  const withEncoder = precision === 'fp32';
  const args = {
    model: `${origin}/models/${g.name}/`,
    wasmPaths: `${origin}/ort/`,
    device,
    precision,
    withEncoder,
    decoderInputs: g.decoder.map((s) => Array.from(s.input.data)),
    encoderInputs: withEncoder ? g.encoder.map((s) => Array.from(s.input.data)) : [],
  };
  const t0 = Date.now();
  const out = await page.evaluate(async (a) => {
    const lib = (window as unknown as { vaeLib: typeof import('../../src/index.ts') }).vaeLib;
    const w = window as unknown as { __gpuSubmits: number };
    const vae = await lib.loadVae(a.model, { device: a.device, wasmPaths: a.wasmPaths, precision: a.precision, encoder: a.withEncoder });
    const before = w.__gpuSubmits;
    const decoded: number[][] = [];
    for (const z of a.decoderInputs) decoded.push(Array.from((await vae.decode(Float32Array.from(z))).pixels));
    const encoded: number[][][] = [];
    for (const x of a.encoderInputs) {
      const e = await vae.encode(Float32Array.from(x));
      encoded.push([Array.from(e.mu), Array.from(e.logvar)]);
    }
    const result = { device: vae.device, deviceNote: vae.deviceNote, decoded, encoded, gpuSubmits: w.__gpuSubmits - before };
    await vae.dispose();
    return result;
  }, args);
  const errors: Record<string, OutputError> = {
    x_hat: merge(g.decoder.map((s, i) => absErrors(out.decoded[i], s.outputs[0].data))),
  };
  if (withEncoder) {
    errors.mu = merge(g.encoder.map((s, i) => absErrors(out.encoded[i][0], s.outputs[0].data)));
    errors.logvar = merge(g.encoder.map((s, i) => absErrors(out.encoded[i][1], s.outputs[1].data)));
  }
  return { model: g.name, device: out.device, deviceNote: out.deviceNote, gpuSubmits: out.gpuSubmits, errors, ms: Date.now() - t0 };
}

export function formatResult(r: GoldenResult, graph = 'encoder + decoder'): string {
  const parts = Object.entries(r.errors).map(([k, e]) => `${k} max ${e.max.toExponential(2)} mean ${e.mean.toExponential(2)}`);
  return `${r.model} ${graph} on ${r.device}: ${parts.join(', ')} (${(r.ms / 1000).toFixed(1)} s)`;
}
