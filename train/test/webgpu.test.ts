/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn, the `webgpu` package) on real components.
 * CI runs it on SwiftShader, Chromium's software Vulkan driver: a CPU emulation of a GPU that
 * ran tfjs' kernels at ~50 M multiply-adds per second of CPU here (the 10000-image test pass of
 * a 784-64-8 model: ~21 s of CPU at any chunk size), so the models here are small: every epoch
 * of train() ends with a pass over the 10000 test images.
 *
 * tfjs has one active backend per process; inside this file tf.setBackend switches it, so
 * the same code runs on wasm and on webgpu side by side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadCheckpoint, loadDataset, measureStepRate, selectBackend, train, CHECKPOINT_FILE, type BackendChoice, type EpochRecord,
} from '../src/index.js';
import { createVae, disposeVae, PAPER_MODEL } from '../src/model.js';
import { deriveSeed, standardNormal } from '../src/random.js';
import { LocalTrainer, type TrainerState } from '../src/step.js';
import { SWIFTSHADER_ICD } from '../src/webgpu.js';

const libvulkan = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
  .some((d) => existsSync(join(d, 'libvulkan.so.1')));
// CI installs both (libvulkan1, chromium's SwiftShader); elsewhere say what is missing.
const skip = !existsSync(SWIFTSHADER_ICD)
  ? `no SwiftShader Vulkan driver at ${SWIFTSHADER_ICD} (Debian's chromium package)`
  : !libvulkan ? 'no Vulkan loader (libvulkan.so.1; apt-get install libvulkan1)' : false;
if (!skip) process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;

const tmp = () => mkdtemp(join(tmpdir(), 'vae-webgpu-test-'));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const maxOver = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((t, i) => maxAbsDiff(t, b[i])));

/** `steps` Adam steps of the paper model from seed 5's init on `backend`; per-image losses and the final state. */
async function paperSteps(backend: BackendChoice, x: Float32Array, batch: number, steps: number) {
  await selectBackend(backend);
  const model = createVae(PAPER_MODEL, 5);
  const trainer = new LocalTrainer(model, 1, 1e-4);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const r = await trainer.trainStep(x, standardNormal(batch * PAPER_MODEL.latentSize, deriveSeed(5, 0, s)));
    losses.push((r.bce + r.kl) / r.count);
  }
  const state: TrainerState = await trainer.getState();
  await trainer.dispose();
  disposeVae(model);
  return { losses, state };
}

test('3 Adam steps of the paper model agree on webgpu and wasm', { skip }, async (t) => {
  // Batch 32: a paper step at 256 takes 5-10 s on SwiftShader; the kernels are the same.
  const BATCH = 32, STEPS = 3;
  const images = (await loadDataset({ split: 'train' })).images.slice(0, BATCH * 784);
  const wasm = await paperSteps('wasm', images, BATCH, STEPS);
  const gpu = await paperSteps('webgpu', images, BATCH, STEPS);
  const loss = maxAbsDiff(wasm.losses, gpu.losses);
  const weights = maxOver(wasm.state.weights, gpu.state.weights);
  t.diagnostic(`losses wasm ${wasm.losses.map((l) => l.toFixed(4)).join(' ')}; max |loss diff| ${loss.toExponential(2)} nats; max |weight diff| ${weights.toExponential(2)}`);
  // They differ because the GPU sums in another order (workgroup tiles and tree reductions vs
  // wasm's sequential SIMD loops): float32 rounding, ~1e-7 relative per sum. Measured on
  // SwiftShader: loss diff ~1e-4 nats of ~544 (2e-7 relative). Adam divides the moment by its
  // square root, so a gradient that is rounding noise (~0) still moves its weight by up to
  // lr = 1e-4 per step; 3 steps bound the weight difference by 3e-4 (measured ~1e-6).
  assert.ok(loss < 2e-3, `loss differs by ${loss} nats (tolerance 2e-3)`);
  assert.ok(weights < 3e-4, `weights differ by ${weights} (tolerance 3e-4 = 3 steps x lr)`);
  assert.equal(wasm.state.adam.step, gpu.state.adam.step);
});

/** The small model the resume tests train (~25 k multiply-adds an image): 2 steps per epoch. */
// threads 2 (the default): wasm's side runs the parallel trainer, whose checkpoint is the same
// float32 state, and webgpu's side trains in one thread and says so.
// testLimit: the end-of-epoch pass over all 10000 test images costs ~20 s on SwiftShader.
const small = { latentSize: 4, hiddenSizes: [16], trainLimit: 200, testLimit: 1000, batchSize: 100, learningRate: 1e-3, seed: 3, threads: 2 };

async function logOf(dir: string): Promise<EpochRecord[]> {
  return (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as EpochRecord);
}

/**
 * 1 epoch on `first`, resumed for a 2nd on `second`, against 2 straight epochs on wasm (the
 * reference).
 */
async function resumeAcross(first: BackendChoice, second: BackendChoice) {
  const straight = await tmp();
  await train({ ...small, backend: 'wasm', outDir: straight, epochs: 2 });
  const dir = await tmp();
  const notices: string[] = [];
  const onNotice = (m: string) => notices.push(m);
  await train({ ...small, backend: first, outDir: dir, epochs: 1, onNotice });
  const resumed = await train({ outDir: dir, backend: second, resume: true, epochs: 2, onNotice });
  assert.deepEqual(notices, ['threads = 2 applies to the wasm backend only; webgpu trains in this thread']);
  const [a, b] = await Promise.all([straight, dir].map((d) => loadCheckpoint(join(d, CHECKPOINT_FILE))));
  return { resumed, log: await logOf(dir), weightDiff: maxOver(a.state.weights, b.state.weights), adamSteps: [a.state.adam.step, b.state.adam.step] };
}

for (const [first, second] of [['wasm', 'webgpu'], ['webgpu', 'wasm']] as const) {
  test(`a checkpoint from a ${first} run resumes on ${second} and the loss keeps falling`, { skip }, async (t) => {
    const r = await resumeAcross(first, second);
    assert.ok(r.resumed.backend.startsWith(second), r.resumed.backend);
    assert.deepEqual(r.log.map((e) => e.epoch), [1, 2]);
    const [e1, e2] = r.log;
    t.diagnostic(`train ${e1.train.total.toFixed(3)} -> ${e2.train.total.toFixed(3)}, test ${e1.test.total.toFixed(3)} -> ${e2.test.total.toFixed(3)}; ` +
      `max |weight diff| vs 2 epochs on wasm: ${r.weightDiff.toExponential(2)}`);
    assert.ok(e2.train.total < e1.train.total, `train loss did not fall: ${e1.train.total} -> ${e2.train.total}`);
    assert.ok(e2.test.total < e1.test.total, `test loss did not fall: ${e1.test.total} -> ${e2.test.total}`);
    assert.deepEqual(r.adamSteps, [4, 4]);
    // The checkpoint is float32 weights + Adam moments, nothing backend-specific: the resumed
    // run stays with the straight one up to float32 summation order (not bit-for-bit, which
    // is promised on the same backend only). 2 steps x lr 1e-3 bounds Adam's noise amplification.
    assert.ok(r.weightDiff < 2e-3, `weights differ by ${r.weightDiff} (tolerance 2e-3)`);
  });
}

test('one short epoch on real MNIST trains on webgpu', { skip }, async (t) => {
  // 1200 images in 6 steps of 200, then the pass over the first 2000 test images that ends the
  // epoch; a 784-16-2 model keeps both to seconds on SwiftShader.
  const outDir = await tmp();
  const stepLosses: number[] = [];
  let previous = 0;
  const started = performance.now();
  const result = await train({
    outDir, backend: 'webgpu', latentSize: 2, hiddenSizes: [16], trainLimit: 1200, testLimit: 2000, batchSize: 200,
    learningRate: 1e-2, epochs: 1, seed: 2, threads: 1,
    // onProgress gives the running mean; step k's own loss is k*mean_k - (k-1)*mean_(k-1).
    onProgress: (p) => { stepLosses.push(p.step * p.loss - (p.step - 1) * previous); previous = p.loss; },
  });
  const seconds = (performance.now() - started) / 1000;
  assert.match(result.backend, /^webgpu \(.*SwiftShader.*software adapter/);
  assert.equal(result.history.length, 1);
  const [first, last] = [stepLosses[0], stepLosses.at(-1)!];
  const trainSeconds = 1200 / result.history[0].imagesPerSec;
  t.diagnostic(`${seconds.toFixed(1)} s (training ${trainSeconds.toFixed(1)} s, test pass ${(result.history[0].seconds - trainSeconds).toFixed(1)} s); step loss ${first.toFixed(1)} -> ${last.toFixed(1)}; test ${result.history[0].test.total.toFixed(1)}`);
  assert.equal(stepLosses.length, 6);
  assert.ok(last < first - 20, `loss did not fall: ${first} -> ${last}`);
  assert.ok(result.history[0].test.total < first - 20, `test loss ${result.history[0].test.total} not below the first step's ${first}`);
});

test('measureStepRate times steps on webgpu and names the adapter', { skip }, async () => {
  const r = await measureStepRate({ backend: 'webgpu', batchSize: 16, steps: 2, warmup: 1, model: { inputSize: 784, hiddenSizes: [16], latentSize: 2 } });
  assert.match(r.backend, /SwiftShader/);
  assert.ok(r.stepsPerSecond > 0 && Math.abs(r.msPerStep * r.stepsPerSecond - 1000) < 1e-6, JSON.stringify(r));
  assert.ok(Math.abs(r.imagesPerSecond - 16 * r.stepsPerSecond) < 1e-6 * r.imagesPerSecond);
  assert.equal(r.threads, 1);
  await assert.rejects(measureStepRate({ backend: 'wasm', steps: 0 }), /steps must be an integer >= 1, got 0/);
});

test('an unknown backend is an error that lists the choices', async () => {
  await assert.rejects(selectBackend('webgl' as BackendChoice), /unknown backend "webgl": expected one of auto, tensorflow, wasm, webgpu, cpu/);
});

/** selectBackend('webgpu') in a child process, with `env` and a module hook; its stdout. */
function childSelect(env: NodeJS.ProcessEnv, hideWebGpu = false): string {
  const hook = 'data:text/javascript,' + encodeURIComponent(
    `export async function resolve(s, c, next) { if (s === 'webgpu') throw new Error('Cannot find package webgpu'); return next(s, c); }`);
  const script = [
    hideWebGpu ? `import { register } from 'node:module'; register(${JSON.stringify(hook)});` : '',
    `const { selectBackend } = await import(${JSON.stringify(new URL('../src/backend.ts', import.meta.url).href)});`,
    `try { await selectBackend('webgpu'); console.log('STARTED'); } catch (e) { console.log(e.message); }`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return r.stdout + r.stderr;
}

test('without the webgpu package, --backend webgpu says how to install it', () => {
  assert.match(childSelect({}, true), /optional package "webgpu".*npm install webgpu@0\.6\.2/);
});

test('without a Vulkan driver, --backend webgpu says no adapter was found and names VK_ICD_FILENAMES', { skip: process.platform !== 'linux' ? 'Vulkan is WebGPU\'s driver on Linux only' : false }, () => {
  const out = childSelect({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
  assert.match(out, /no WebGPU adapter found.*VK_ICD_FILENAMES/);
});
