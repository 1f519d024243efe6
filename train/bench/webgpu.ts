/**
 * `node --import tsx train/bench/webgpu.ts` (last of `npm run bench:train`): steps per second of
 * the paper model (784-256-256-64, batch 256) on webgpu against wasm in 1 and 2 threads, with
 * measureStepRate, the function a GPU kit calls on a real GPU.
 *
 * Without a GPU, Dawn's adapter is SwiftShader (set VK_ICD_FILENAMES, as below): a CPU
 * emulation, so its row says nothing about GPU speed and is labelled so. BENCH_WEBGPU_STEPS
 * (default 5: a SwiftShader step takes seconds) and BENCH_WASM_STEPS (default 30) set the
 * timed steps. Without the webgpu package or an adapter the row prints why and the bench goes on.
 */
import { existsSync, readdirSync } from 'node:fs';
import { measureStepRate, type StepRate, type StepRateOptions } from '../src/speed/step-rate.js';
import { isSoftwareAdapter, SWIFTSHADER_ICD } from '../src/webgpu.js';

// SwiftShader only where Vulkan has no driver of its own: VK_ICD_FILENAMES replaces the
// system's list, so setting it on a GPU machine would hide the GPU.
const systemIcds = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
if (process.platform === 'linux' && !process.env.VK_ICD_FILENAMES && !systemIcds && existsSync(SWIFTSHADER_ICD)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}
const webgpuSteps = Number(process.env.BENCH_WEBGPU_STEPS ?? 5);
const wasmSteps = Number(process.env.BENCH_WASM_STEPS ?? 30);

const row = (name: string, r: StepRate, note = '') =>
  `${name.padEnd(22)} ${r.msPerStep.toFixed(1).padStart(8)} ms/step ${r.stepsPerSecond.toFixed(2).padStart(7)} steps/s ` +
  `${r.imagesPerSecond.toFixed(0).padStart(7)} img/s  ${r.backend}${note}`;

async function measure(name: string, options: StepRateOptions): Promise<void> {
  try {
    const r = await measureStepRate({ batchSize: 256, ...options });
    const software = options.backend === 'webgpu' && isSoftwareAdapter({ description: r.backend });
    console.log(row(name, r, software ? '\n  ^ software adapter: a CPU emulation of a GPU, meaningless for GPU speed' : ''));
  } catch (err) {
    console.log(`${name.padEnd(22)} unavailable: ${(err as Error).message}`);
  }
}

console.log(`paper model, batch 256 (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? ''})`);
await measure('webgpu', { backend: 'webgpu', steps: webgpuSteps, warmup: 2 });
await measure('wasm, 1 thread', { backend: 'wasm', threads: 1, steps: wasmSteps, warmup: 10 });
await measure('wasm, 2 threads', { backend: 'wasm', threads: 2, steps: wasmSteps, warmup: 10 });
