/**
 * Decodes per second in headless Chromium, wasm and WebGPU, batch 1 and 256.
 *
 *   npm run bench:web                         (repository root: builds first)
 *   npm run bench -w runtime-web -- --model mnist-n2-beta1 --seconds 5 --batches 1,16,256
 *
 * Each figure: one loadVae per device (cache on), 3 warm-up decodes, then decodes of a
 * fixed batch of N(0, I) latents, one after another, for --seconds (at least 5 calls);
 * decodes/s = images decoded / wall time, timed in the page around vae.decode() (input
 * tensor, graph run, output copy back to JS). The median is coarse: without cross-origin
 * isolation Chromium rounds performance.now() to 0.1 ms. On a machine without a GPU, Chromium's
 * WebGPU adapter is SwiftShader, a CPU emulation: its figure says so. Then the bytes a Vite
 * production build ships for each entry (bench/bytes.ts).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildPages } from '../test/support/build.ts';
import { launchChromium } from '@vae/browser-harness';
import { startServer } from '../test/support/server.ts';
import { printShippedBytes } from './bytes.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mnist-n64-beta1' },
    seconds: { type: 'string', default: '3' },
    batches: { type: 'string', default: '1,256' },
    devices: { type: 'string', default: 'wasm,webgpu' },
    precision: { type: 'string', default: 'fp32' },
  },
});
const seconds = Number(values.seconds);
const batches = values.batches.split(',').map(Number);
const devices = values.devices.split(',') as ('wasm' | 'webgpu')[];

type Lib = typeof import('../src/index.ts');

const server = await startServer(await buildPages());
const browser = await launchChromium({ webgpu: true });
try {
  const page = await (await browser.newContext()).newPage();
  await page.addInitScript('globalThis.__name ??= (fn) => fn;');
  await page.goto(`${server.origin}/test/harness/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const env = await page.evaluate(async () => {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> } }).gpu;
    const adapter = await gpu?.requestAdapter();
    return { adapter: adapter?.info ? { vendor: adapter.info.vendor, architecture: adapter.info.architecture, description: adapter.info.description } : null, isolated: crossOriginIsolated };
  });
  const swiftshader = /swiftshader/i.test(`${env.adapter?.vendor} ${env.adapter?.architecture} ${env.adapter?.description}`);
  const chrome = browser.version();
  console.log(`runtime-web decode benchmark: ${values.model} (precision ${values.precision}), headless Chromium ${chrome}`);
  console.log(`CPU: ${cpus()[0]?.model ?? '?'} x ${cpus().length}; wasm threads: 1 (page not cross-origin isolated)`);
  console.log(`WebGPU adapter: ${env.adapter ? `${env.adapter.vendor} / ${env.adapter.architecture}${swiftshader ? ' (SwiftShader: CPU emulation of a GPU)' : ''}` : 'none'}\n`);

  for (const device of devices) {
    for (const batch of batches) {
      const r = await page.evaluate(async ({ origin, model, precision, device, batch, seconds }) => {
        const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
        const vae = await lib.loadVae(`${origin}/models/${model}/`, { device, precision, encoder: false, wasmPaths: `${origin}/ort/` });
        const z = lib.seededNormals(batch * vae.latentSize, 42);
        for (let i = 0; i < 3; i++) await vae.decode(z);
        const times: number[] = [];
        const t0 = performance.now();
        while (performance.now() - t0 < seconds * 1000 || times.length < 5) {
          const t = performance.now();
          await vae.decode(z);
          times.push(performance.now() - t);
        }
        const wall = performance.now() - t0;
        await vae.dispose();
        times.sort((a, b) => a - b);
        return { device: vae.device, calls: times.length, meanMs: wall / times.length, medianMs: times[times.length >> 1], perSecond: (times.length * batch) / (wall / 1000) };
      }, { origin: server.origin, model: values.model, precision: values.precision as 'fp32' | 'fp16' | 'int8', device, batch, seconds });
      if (r.device !== device) throw new Error(`asked for ${device}, ran on ${r.device}`);
      const note = device === 'webgpu' && swiftshader ? '  (SwiftShader: CPU emulation, not a GPU)' : '';
      console.log(`${device.padEnd(7)} batch ${String(batch).padStart(4)}: ${r.perSecond.toFixed(0).padStart(8)} decodes/s   ${r.meanMs.toFixed(2).padStart(8)} ms/call mean, ${r.medianMs.toFixed(1).padStart(6)} median (${r.calls} calls)${note}`);
    }
  }
  if (swiftshader) console.log('\nThe WebGPU figures come from SwiftShader, a CPU implementation of WebGPU (no GPU here): they say nothing about a real GPU.');
} finally {
  await browser.close();
  await server.close();
}
await printShippedBytes();
