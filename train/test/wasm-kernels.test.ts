import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../src/index.js';
import { loadDataset } from '../src/data/datasets.js';
import { createVae, PAPER_MODEL } from '../src/model.js';
import { standardNormal } from '../src/random.js';
import { computeGradients } from '../src/step.js';

// tfjs-wasm's own kernels, captured before selectBackend installs ours over them.
await tf.setBackend('wasm');
const REPLACED = ['BatchMatMul', '_FusedMatMul', 'Identity'];
const stock = REPLACED.map((name) => tf.getKernel(name, 'wasm')!);
await selectBackend('wasm');
const ours = REPLACED.map((name) => tf.getKernel(name, 'wasm')!);
assert.ok(ours.every((k, i) => k.kernelFunc !== stock[i].kernelFunc), 'selectBackend installs the training kernels');

type KernelFn = (args: { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => tf.TensorInfo;
const transposeKernel = tf.getKernel('Transpose', 'wasm')!.kernelFunc as unknown as KernelFn;

/**
 * tfjs-wasm's own product kernel, given its operands transposed by tfjs-wasm's Transpose: asked
 * to transpose, the kernel itself takes a slow path that also adds in another order, so this is
 * how XNNPACK (and the trainer before our kernel) computes a transposed product.
 */
function xnnpackOnTransposes(config: tf.KernelConfig): tf.KernelConfig {
  const plain = config.kernelFunc as unknown as KernelFn;
  const kernelFunc: KernelFn = ({ inputs, backend, attrs = {} }) => {
    const flip = (t: tf.TensorInfo) => {
      const r = t.shape.length;
      return transposeKernel({ inputs: { x: t }, backend, attrs: { perm: [...Array(r - 2).keys(), r - 1, r - 2] } });
    };
    const a = attrs.transposeA ? flip(inputs.a) : inputs.a;
    const b = attrs.transposeB ? flip(inputs.b) : inputs.b;
    const out = plain({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    for (const t of [a, b]) if (t !== inputs.a && t !== inputs.b) (backend as { disposeData(id: object): void }).disposeData(t.dataId);
    return out;
  };
  return { ...config, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/** Runs f with tfjs-wasm's own kernels registered instead of ours (products via XNNPACK). */
function withStockKernels<T>(f: () => T): T {
  const register = (configs: tf.KernelConfig[]) => configs.forEach((c) => { tf.unregisterKernel(c.kernelName, 'wasm'); tf.registerKernel(c); });
  register(stock.map((c) => (c.kernelName === 'Identity' ? c : xnnpackOnTransposes(c))));
  try {
    return f();
  } finally {
    register(ours);
  }
}

/** Runs f on the cpu backend (the reference) and on wasm with the training kernels. */
async function onBoth<T extends tf.Tensor>(f: () => T): Promise<{ cpu: Float32Array; wasm: Float32Array }> {
  await selectBackend('cpu');
  const cpu = tf.tidy(f);
  const cpuData = (await cpu.data()) as Float32Array;
  await selectBackend('wasm');
  const wasm = tf.tidy(f);
  const wasmData = (await wasm.data()) as Float32Array;
  assert.deepEqual(wasm.shape, cpu.shape);
  return { cpu: cpuData, wasm: wasmData };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Indices where two float32 arrays differ in any bit (NaN compares by bits too). */
function bitDifferences(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]) {
  test(`BatchMatMul transposeA=${transposeA} transposeB=${transposeB} matches the cpu backend (our kernel, and tfjs' for N = 9)`, async () => {
    for (const n of [16, 9]) {
      const a = () => tf.randomNormal(transposeA ? [1, 33, 17] : [1, 17, 33], 0, 1, 'float32', 1);
      const b = () => tf.randomNormal(transposeB ? [1, n, 33] : [1, 33, n], 0, 1, 'float32', 2);
      const { cpu, wasm } = await onBoth(() => tf.matMul(a(), b(), transposeA, transposeB));
      assert.ok(maxAbsDiff(cpu, wasm) < 1e-4, `N = ${n}: max diff ${maxAbsDiff(cpu, wasm)}`);
    }
  });
}

test('a batch of matrices (leading dim 2) goes to tfjs-wasm\'s kernel and matches the cpu backend', async () => {
  const { cpu, wasm } = await onBoth(() =>
    tf.matMul(tf.randomNormal([2, 17, 33], 0, 1, 'float32', 1), tf.randomNormal([2, 16, 33], 0, 1, 'float32', 2), false, true),
  );
  assert.ok(maxAbsDiff(cpu, wasm) < 1e-4);
});

test('_FusedMatMul with transposes, bias and relu matches the cpu backend', async () => {
  for (const n of [24, 20]) {
    const { cpu, wasm } = await onBoth(() =>
      tf.fused.matMul({
        a: tf.randomNormal([40, 30], 0, 1, 'float32', 3) as tf.Tensor2D,
        b: tf.randomNormal([n, 40], 0, 1, 'float32', 4) as tf.Tensor2D,
        transposeA: true, transposeB: true,
        bias: tf.randomNormal([n], 0, 1, 'float32', 5), activation: 'relu',
      }),
    );
    assert.ok(maxAbsDiff(cpu, wasm) < 1e-4, `N = ${n}: max diff ${maxAbsDiff(cpu, wasm)}`);
  }
});

test('our products are bit-identical to XNNPACK\'s', async () => {
  await selectBackend('wasm');
  // rows left over after the 4-row blocks (1, 5, 130), odd K, N of one to 98 column blocks
  for (const [m, k, n] of [[1, 3, 8], [5, 7, 16], [130, 64, 784], [128, 784, 256], [33, 1, 24]]) {
    for (const [transposeA, transposeB, fused] of [[false, false, false], [true, false, false], [false, true, false], [true, true, true], [false, false, true]]) {
      tf.tidy(() => {
        const a = tf.randomNormal(transposeA ? [k, m] : [m, k], 0, 1, 'float32', m + k);
        const b = tf.randomNormal(transposeB ? [n, k] : [k, n], 0, 1, 'float32', k + n);
        const bias = fused ? tf.randomNormal([n], 0, 1, 'float32', n) : undefined;
        const activation = fused ? 'relu' : 'linear';
        const mine = tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation }).dataSync() as Float32Array;
        const xnnpack = withStockKernels(() => tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation }).dataSync() as Float32Array);
        const label = `${m}x${k}x${n} transposeA=${transposeA} transposeB=${transposeB} bias+relu=${fused}`;
        assert.equal(bitDifferences(mine, xnnpack), 0, label);
      });
    }
  }
});

test('the paper model\'s gradients on real MNIST are bit-identical with tfjs-wasm\'s own kernels', async () => {
  await selectBackend('wasm');
  const mnist = await loadDataset({ dataset: 'mnist', split: 'test', env: {} });
  const rows = 97; // not a multiple of 4: the kernel's one-row tail runs too
  const x = mnist.images.slice(0, rows * PAPER_MODEL.inputSize);
  const eps = standardNormal(rows * PAPER_MODEL.latentSize, 5);
  const model = createVae(PAPER_MODEL, 3);
  const run = () => {
    const r = computeGradients(model, x, eps, 1);
    const out = [...r.grads, r.bce, r.kl].map((t) => t.dataSync() as Float32Array);
    tf.dispose([...r.grads, r.bce, r.kl]);
    return out;
  };
  const mine = run();
  const reference = withStockKernels(run);
  assert.ok(mine[0].some((v) => v !== 0), 'the gradients are not all zero');
  mine.forEach((m, i) => assert.equal(bitDifferences(m, reference[i]), 0, `tensor ${i} of ${mine.length}`));
});

test('Identity shares the data: a clone keeps its values after the original is disposed, and frees them last', async () => {
  await selectBackend('wasm');
  const before = tf.memory().numTensors;
  const x = tf.tensor([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('layers API: a Dense layer\'s gradients (transposed matmuls) match the cpu backend', async () => {
  const grads = () => {
    const layer = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ seed: 6 }) });
    const x = tf.randomNormal([16, 11], 0, 1, 'float32', 7);
    layer.build([null, 11]);
    const kernel = layer.getWeights()[0] as tf.Variable;
    const g = tf.grad((k: tf.Tensor) => {
      layer.setWeights([k, layer.getWeights()[1]]);
      return tf.sum(tf.square(layer.apply(x) as tf.Tensor));
    });
    return g(kernel);
  };
  const { cpu, wasm } = await onBoth(grads);
  assert.ok(maxAbsDiff(cpu, wasm) < 1e-3, `max diff ${maxAbsDiff(cpu, wasm)}`);
});

test('a re-created wasm backend, with a new heap, still gets right products (the kernels follow the heap)', async () => {
  await selectBackend('wasm');
  const [A, B] = [tf.randomNormal([5, 7], 0, 1, 'float32', 1), tf.randomNormal([7, 16], 0, 1, 'float32', 2)].map((t) => t.dataSync());
  const product = () => tf.tidy(() => tf.matMul(tf.tensor2d(A, [5, 7]), tf.tensor2d(B, [7, 16])).dataSync() as Float32Array);
  const before = product();
  const heapBefore = (tf.backend() as unknown as { wasm: { asm: { memory: object } } }).wasm.asm.memory;
  const { factory, priority } = (tf.engine() as unknown as { registryFactory: Record<string, { factory: () => tf.KernelBackend; priority: number }> }).registryFactory.wasm;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory, priority);
  await tf.setBackend('wasm');
  assert.notEqual((tf.backend() as unknown as { wasm: { asm: { memory: object } } }).wasm.asm.memory, heapBefore, 'a new heap');
  assert.equal(bitDifferences(product(), before), 0);
});
