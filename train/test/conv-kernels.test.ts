/**
 * Conv2DBackpropFilter on the wasm backend (src/speed/conv-kernels.ts; tfjs-wasm 4.22 has none),
 * and our Conv2DBackpropInput registered over tfjs-wasm's, against the cpu backend's, and against a float64 reference where the cpu kernel cannot go
 * (dilations: tfjs-cpu's kernel ignores them).
 *
 * Tolerance: our kernel sums each entry's terms in float32, in the order tfjs-cpu sums them in
 * float64, so each entry may differ by float32 rounding of the running sum: at most about
 * n 2^-24 Σ|x·dy| for n terms, typically √n 2^-24 Σ|x·dy|. We allow 1e-5 Σ|x·dy| per entry
 * (Σ|x·dy| is the kernel run on |x| and |dy| on the cpu), which holds for the up to ~1600-term
 * sums below with room to spare (the worst entry measured: 0.022 of it) and still catches any
 * misplaced term (a wrong term moves an entry by ~|x·dy|, far more than 1e-5 of the sum).
 * Through tf.grad, filter gradients must agree within 1e-5 of their largest entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../src/index.js';
import { loadDataset } from '../src/data/datasets.js';
import { conv2DBackpropFilterKernel, conv2DBackpropInputKernel } from '../src/speed/conv-kernels.js';
import { wasmGemmOn } from '../src/speed/wasm-kernels.js';

await tf.setBackend('wasm');
const stockHasIt = tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined;
await selectBackend('wasm');

test('tfjs-wasm lacks Conv2DBackpropFilter, and selectBackend installs ours', () => {
  assert.equal(stockHasIt, false, 'tfjs-wasm now ships the kernel: ours is no longer registered, check it is still needed');
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
});

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
}

const outShape = (c: Case): number[] => {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations ?? 1, c.pad);
  return [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
};

const attrsOf = (c: Case) => ({ strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter, dilations: c.dilations ?? 1 });

/** Conv2DBackpropFilter on the current backend, on plain arrays. */
function kernelOn(c: Case, x: Float32Array, dy: Float32Array): Float32Array {
  return tf.tidy(() => {
    const out = tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor(x, c.x), dy: tf.tensor(dy, outShape(c)) }, attrsOf(c)) as tf.Tensor;
    assert.deepEqual(out.shape, c.filter);
    return out.dataSync() as Float32Array;
  });
}

/** The sum in float64, straight from the definition (dilations included). */
function reference(c: Case, x: Float32Array, dy: Float32Array): Float64Array {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations ?? 1, c.pad);
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: N } = info;
  const dW = new Float64Array(tf.util.sizeFromShape(c.filter));
  for (let fh = 0; fh < info.filterHeight; fh++) for (let fw = 0; fw < info.filterWidth; fw++) {
    for (let b = 0; b < batchSize; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      const ih = oh * info.strideHeight + fh * info.dilationHeight - info.padInfo.top;
      const iw = ow * info.strideWidth + fw * info.dilationWidth - info.padInfo.left;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let ci = 0; ci < C; ci++) for (let o = 0; o < N; o++) {
        dW[((fh * info.filterWidth + fw) * C + ci) * N + o] += x[((b * H + ih) * W + iw) * C + ci] * dy[((b * OH + oh) * OW + ow) * N + o];
      }
    }
  }
  return dW;
}

function random(n: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([n], 0, 1, 'float32', seed).dataSync() as Float32Array);
}

/** Max over entries of |got - want| / (1e-5 Σ|x·dy|): ≤ 1 passes. */
function worstRatio(got: ArrayLike<number>, want: ArrayLike<number>, absSum: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-5 * absSum[i] + 1e-30));
  return worst;
}

const CASES: Case[] = [
  // the conv VAE's shapes, small batch: 28x28x1 -> 14x14x32 -> 7x7x64 (GEMM path, N = 32, 64)
  { x: [3, 28, 28, 1], filter: [3, 3, 1, 32], strides: 2, pad: 'same' },
  { x: [2, 14, 14, 32], filter: [4, 4, 32, 64], strides: 2, pad: 'same' },
  // odd sizes, 'same' padding that is uneven, 'valid', numbers, explicit, N not a multiple of 8 (loop path)
  { x: [2, 9, 7, 3], filter: [3, 3, 3, 8], strides: 2, pad: 'same' },
  { x: [2, 9, 7, 3], filter: [4, 2, 3, 5], strides: [2, 1], pad: 'same' },
  { x: [3, 10, 11, 2], filter: [3, 4, 2, 16], strides: [1, 3], pad: 'valid' },
  { x: [2, 8, 8, 4], filter: [3, 3, 4, 8], strides: 1, pad: 1 },
  { x: [2, 8, 9, 2], filter: [2, 3, 2, 3], strides: 2, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { x: [1, 5, 5, 1], filter: [5, 5, 1, 8], strides: 1, pad: 'valid' },
  { x: [4, 6, 6, 8], filter: [1, 1, 8, 24], strides: 1, pad: 'same' },
];
const DILATED: Case[] = [
  { x: [2, 11, 10, 3], filter: [3, 3, 3, 8], strides: 1, pad: 'same', dilations: 2 },
  { x: [2, 11, 10, 3], filter: [3, 2, 3, 5], strides: 1, pad: 'valid', dilations: [2, 3] },
  { x: [2, 12, 12, 2], filter: [2, 2, 2, 16], strides: 2, pad: [[0, 0], [1, 1], [0, 2], [0, 0]], dilations: [3, 1] },
];

const describe = (c: Case) => `x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}` +
  (c.dilations !== undefined ? ` dilations ${JSON.stringify(c.dilations)}` : '');

test('Conv2DBackpropFilter on wasm matches the cpu backend\'s kernel within 1e-5·Σ|x·dy| per entry', async () => {
  for (const [i, c] of CASES.entries()) {
    const x = random(tf.util.sizeFromShape(c.x), 10 + i);
    const dy = random(tf.util.sizeFromShape(outShape(c)), 100 + i);
    await tf.setBackend('cpu');
    const cpu = kernelOn(c, x, dy);
    const absSum = kernelOn(c, x.map(Math.abs), dy.map(Math.abs));
    await tf.setBackend('wasm');
    const wasm = kernelOn(c, x, dy);
    const ratio = worstRatio(wasm, cpu, absSum);
    assert.ok(ratio <= 1, `${describe(c)}: off by ${ratio.toFixed(2)} x the tolerance`);
    // and the cpu kernel is what the definition says (the float64 reference agrees with it)
    assert.ok(worstRatio(reference(c, x, dy), cpu, absSum) <= 0.1, `${describe(c)}: reference`);
  }
});

test('Conv2DBackpropFilter on wasm with dilations matches the float64 definition', async () => {
  await tf.setBackend('wasm');
  for (const [i, c] of DILATED.entries()) {
    const x = random(tf.util.sizeFromShape(c.x), 30 + i);
    const dy = random(tf.util.sizeFromShape(outShape(c)), 300 + i);
    const absSum = reference(c, x.map(Math.abs), dy.map(Math.abs));
    const ratio = worstRatio(kernelOn(c, x, dy), reference(c, x, dy), absSum);
    assert.ok(ratio <= 1, `${describe(c)}: off by ${ratio.toFixed(2)} x the tolerance`);
  }
});

test('the im2col scratch built in bands of rows gives the same bits as in one piece', async () => {
  await tf.setBackend('wasm');
  const c: Case = { x: [2, 14, 14, 32], filter: [4, 4, 32, 64], strides: 2, pad: 'same' };
  const x = random(tf.util.sizeFromShape(c.x), 7);
  const dy = random(tf.util.sizeFromShape(outShape(c)), 8);
  const whole = kernelOn(c, x, dy);
  const registered = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
  tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  // 98 positions: bands of 10 rows of the 512, the last one 2 rows
  tf.registerKernel({ ...registered, kernelFunc: conv2DBackpropFilterKernel(wasmGemmOn, { colsBudget: 98 * 10 }) as unknown as tf.KernelFunc });
  try {
    assert.deepEqual(kernelOn(c, x, dy), whole);
  } finally {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    tf.registerKernel(registered);
  }
});

/** Conv2DBackpropInput on the current backend, on plain arrays (dy has the conv's output shape). */
function inputKernelOn(c: Case, dy: Float32Array, w: Float32Array): Float32Array {
  return tf.tidy(() => {
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
    const out = tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy, outShape(c)), filter: tf.tensor(w, c.filter) }, attrs) as tf.Tensor;
    assert.deepEqual(out.shape, c.x);
    return out.dataSync() as Float32Array;
  });
}

const INPUT_CASES: Case[] = [
  // the conv VAE's: decoder_deconv1 forward and encoder_conv2's input gradient, decoder_deconv2 forward (K = 16)
  { x: [2, 14, 14, 32], filter: [4, 4, 32, 64], strides: 2, pad: 'same' },
  { x: [3, 28, 28, 1], filter: [4, 4, 1, 32], strides: 2, pad: 'same' },
  // uneven 'same', 'valid', explicit and numeric padding, unequal strides
  { x: [2, 9, 7, 2], filter: [4, 2, 2, 5], strides: [2, 1], pad: 'same' },
  { x: [3, 10, 11, 8], filter: [3, 1, 8, 16], strides: [1, 3], pad: 'valid' },
  { x: [2, 8, 8, 8], filter: [3, 3, 8, 8], strides: 1, pad: 1 },
  { x: [2, 8, 9, 4], filter: [2, 3, 4, 3], strides: 2, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  // K = 27, not a multiple of 8: tfjs-wasm's own kernel
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 8], strides: 2, pad: 'same' },
];

test('Conv2DBackpropInput on wasm matches the cpu backend\'s kernel within 1e-5·Σ|dy·W| per entry', async () => {
  for (const [i, c] of INPUT_CASES.entries()) {
    const dy = random(tf.util.sizeFromShape(outShape(c)), 400 + i);
    const w = random(tf.util.sizeFromShape(c.filter), 500 + i);
    await tf.setBackend('cpu');
    const cpu = inputKernelOn(c, dy, w);
    const absSum = inputKernelOn(c, dy.map(Math.abs), w.map(Math.abs));
    await tf.setBackend('wasm');
    const ratio = worstRatio(inputKernelOn(c, dy, w), cpu, absSum);
    assert.ok(ratio <= 1, `${describe(c)}: off by ${ratio.toFixed(2)} x the tolerance`);
  }
});

test('Conv2DBackpropInput\'s cols built in bands of rows gives the same bits as in one piece', async () => {
  await tf.setBackend('wasm');
  const c: Case = { x: [2, 14, 14, 32], filter: [4, 4, 32, 64], strides: 2, pad: 'same' };
  const dy = random(tf.util.sizeFromShape(outShape(c)), 17);
  const w = random(tf.util.sizeFromShape(c.filter), 18);
  const whole = inputKernelOn(c, dy, w);
  const registered = tf.getKernel('Conv2DBackpropInput', 'wasm')!;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  // 98 rows of 512: bands of 9 rows, the last one 8
  const banded = conv2DBackpropInputKernel(wasmGemmOn, () => { throw new Error('no fallback expected'); }, { colsBudget: 512 * 9 });
  tf.registerKernel({ ...registered, kernelFunc: banded as unknown as tf.KernelFunc });
  try {
    assert.deepEqual(inputKernelOn(c, dy, w), whole);
  } finally {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(registered);
  }
});

/** f's gradients on the cpu backend and on wasm. */
async function gradsOnBoth(f: () => Record<string, tf.Tensor>): Promise<{ cpu: Record<string, Float32Array>; wasm: Record<string, Float32Array> }> {
  const run = () => {
    const grads = f();
    const out = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array]));
    tf.dispose(grads);
    return out;
  };
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  const wasm = run();
  return { cpu, wasm };
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('filter gradients of tf.conv2d and tf.conv2dTranspose on wasm match the cpu backend\'s', async () => {
  const shapes: { x: [number, number, number, number]; filter: [number, number, number, number]; strides: number; pad: 'same' | 'valid' }[] = [
    { x: [4, 28, 28, 1], filter: [3, 3, 1, 32], strides: 2, pad: 'same' },
    { x: [4, 14, 14, 32], filter: [4, 4, 32, 64], strides: 2, pad: 'same' },
    { x: [3, 9, 9, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'valid' },
  ];
  for (const [i, s] of shapes.entries()) {
    const xData = random(tf.util.sizeFromShape(s.x), 40 + i);
    const wData = random(tf.util.sizeFromShape(s.filter), 50 + i).map((v) => v * 0.2);
    // Σ conv(x, w) · r: the filter gradient is backpropFilter(x, r), r exactly as given on both backends
    const { cpu, wasm } = await gradsOnBoth(() => {
      const x = tf.tensor4d(xData, s.x);
      const y = tf.conv2d(x, tf.tensor4d(wData, s.filter), s.strides, s.pad);
      const r = tf.randomNormal(y.shape, 0, 1, 'float32', 60 + i);
      const conv = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, s.strides, s.pad), r)))(tf.tensor4d(wData, s.filter));
      // conv2dTranspose back from y's shape to x's: its filter [fh, fw, x channels, y channels]
      const yIn = tf.randomNormal(y.shape, 0, 1, 'float32', 70 + i) as tf.Tensor4D;
      const rx = tf.randomNormal(s.x, 0, 1, 'float32', 80 + i);
      const transpose = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2dTranspose(yIn, w as tf.Tensor4D, s.x, s.strides, s.pad), rx)))(tf.tensor4d(wData, s.filter));
      return { conv, transpose };
    });
    for (const k of ['conv', 'transpose']) {
      const diff = maxAbsDiff(wasm[k], cpu[k]);
      // ~1e-6 of the largest entry measured (float32 sums of up to 3136 terms): 1e-5 leaves room
      assert.ok(diff <= 1e-5 * maxAbs(cpu[k]),
        `${k} [${s.x}] [${s.filter}]: max abs diff ${diff} (max |g| ${maxAbs(cpu[k])})`);
    }
  }
});

/** The tiny conv model: Conv2D 3x3 stride 2 'same' + bias + relu, Conv2DTranspose 4x4 stride 2 'same' + bias, sigmoid. */
interface TinyConv { w1: tf.Variable; b1: tf.Variable; w2: tf.Variable; b2: tf.Variable }
function tinyConv(seed: number): TinyConv {
  return {
    w1: tf.variable(tf.randomNormal([3, 3, 1, 16], 0, 0.4, 'float32', seed), true, `w1_${seed}`),
    b1: tf.variable(tf.fill([16], 0.01), true, `b1_${seed}`),
    w2: tf.variable(tf.randomNormal([4, 4, 1, 16], 0, 0.1, 'float32', seed + 1), true, `w2_${seed}`),
    b2: tf.variable(tf.zeros([1]), true, `b2_${seed}`),
  };
}
/** Mean binary cross-entropy of the reconstruction of x [b, 28, 28, 1]. */
function tinyLoss(m: TinyConv, x: tf.Tensor4D): tf.Scalar {
  const h = tf.relu(tf.add(tf.conv2d(x, m.w1 as tf.Tensor4D, 2, 'same'), m.b1)) as tf.Tensor4D;
  const logits = tf.add(tf.conv2dTranspose(h, m.w2 as tf.Tensor4D, x.shape, 2, 'same'), m.b2);
  // relu(l) - l x + log(1 + exp(-|l|)), the stable form
  return tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))) as tf.Scalar;
}

const mnist = await loadDataset({ dataset: 'mnist', split: 'test', env: {} });
const images = (n: number, from = 0) => tf.tensor4d(mnist.images.slice(from * 784, (from + n) * 784), [n, 28, 28, 1]);

test('the tiny conv model\'s gradients (weights and biases) on wasm match the cpu backend\'s, on MNIST', async () => {
  const { cpu, wasm } = await gradsOnBoth(() => {
    const m = tinyConv(5);
    const x = images(16);
    const { grads } = tf.variableGrads(() => tinyLoss(m, x), [m.w1, m.b1, m.w2, m.b2]);
    const named = { w1: grads[m.w1.name], b1: grads[m.b1.name], w2: grads[m.w2.name], b2: grads[m.b2.name] };
    tf.dispose([m.w1, m.b1, m.w2, m.b2, x]);
    return named;
  });
  for (const k of ['w1', 'b1', 'w2', 'b2']) {
    const diff = maxAbsDiff(wasm[k], cpu[k]);
    assert.ok(maxAbs(cpu[k]) > 0, `${k}: a zero gradient tests nothing`);
    // 1e-4: here every kernel of the step differs in rounding, not ours alone (b2's Sum over 12544
    // terms is the loosest, ~3e-5 of its value)
    assert.ok(diff <= 1e-4 * maxAbs(cpu[k]), `${k}: max abs diff ${diff} (max |g| ${maxAbs(cpu[k])})`);
  }
});

test('20 Adam steps of the tiny conv model on wasm reduce the loss on MNIST', async () => {
  await tf.setBackend('wasm');
  const m = tinyConv(9);
  const x = images(64, 100);
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    const loss = optimizer.minimize(() => tinyLoss(m, x), true, [m.w1, m.b1, m.w2, m.b2])!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  const final = tf.tidy(() => tinyLoss(m, x).dataSync()[0]);
  tf.dispose([m.w1, m.b1, m.w2, m.b2, x]);
  optimizer.dispose();
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(final < 0.7 * losses[0], `loss ${losses[0].toFixed(4)} -> ${final.toFixed(4)}: expected a drop of 30%`);
});
