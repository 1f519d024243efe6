/**
 * `node --import tsx train/bench/conv-grad.ts`: Conv2DBackpropFilter (src/speed/conv-kernels.ts)
 * at the conv VAE's sizes, batch 128: the im2col + wasm-gemm.ts kernel against the same sum as a
 * plain JS loop over the heap views, tfjs-cpu's kernel, and tfjs-wasm's Conv2D forward and
 * Conv2DBackpropInput (XNNPACK) of the same layer for scale. Medians of REPS runs after a warm-up, ms (tfjs-cpu: one run, it takes up to a minute).
 * The decoder's Conv2DTranspose layers have the same filter-gradient shapes with x and dy swapped
 * roles (7x7x64 -> 14x14x32 is the 14x14x32 -> 7x7x64 row; 14x14x32 -> 28x28x1 the first rows).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../src/backend.js';
import { conv2DBackpropFilterKernel } from '../src/speed/conv-kernels.js';
import { wasmGemmOn } from '../src/speed/wasm-kernels.js';

const REPS = 7, BATCH = 128;
const LAYERS: { name: string; x: [number, number, number, number]; filter: [number, number, number, number] }[] = [
  { name: '28x28x1 -> 14x14x32, 3x3', x: [BATCH, 28, 28, 1], filter: [3, 3, 1, 32] },
  { name: '28x28x1 -> 14x14x32, 4x4', x: [BATCH, 28, 28, 1], filter: [4, 4, 1, 32] },
  { name: '14x14x32 -> 7x7x64, 3x3', x: [BATCH, 14, 14, 32], filter: [3, 3, 32, 64] },
  { name: '14x14x32 -> 7x7x64, 4x4', x: [BATCH, 14, 14, 32], filter: [4, 4, 32, 64] },
];

function median(f: () => void, reps = REPS): number {
  if (reps > 1) f(); // warm up
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

await selectBackend('wasm');
const ours = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
const loop = { ...ours, kernelFunc: conv2DBackpropFilterKernel(wasmGemmOn, { loopOnly: true }) as unknown as tf.KernelFunc };
const use = (config: tf.KernelConfig) => { tf.unregisterKernel(config.kernelName, 'wasm'); tf.registerKernel(config); };

console.log('layer (batch 128)                 ours   JS loop   tfjs-cpu   wasm Conv2D fwd   wasm BackpropInput   GFLOP/s ours');
for (const layer of LAYERS) {
  const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: layer.filter };
  const time = (kernel: string) => {
    const x = tf.randomNormal(layer.x, 0, 1, 'float32', 1);
    const w = tf.randomNormal(layer.filter, 0, 1, 'float32', 2);
    const dy = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'));
    const run = () => {
      const out = kernel === 'Conv2D' ? tf.engine().runKernel('Conv2D', { x, filter: w }, { strides: 2, pad: 'same', dataFormat: 'NHWC', dilations: 1 })
        : kernel === 'Conv2DBackpropInput' ? tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: layer.x })
        : tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs);
      (out as tf.Tensor).dataSync();
      (out as tf.Tensor).dispose();
    };
    const ms = median(run, tf.getBackend() === 'cpu' ? 1 : REPS);
    tf.dispose([x, w, dy]);
    return ms;
  };
  const mine = time('Conv2DBackpropFilter');
  use(loop);
  const jsLoop = time('Conv2DBackpropFilter');
  use(ours);
  const fwd = time('Conv2D');
  const bwdIn = time('Conv2DBackpropInput');
  await tf.setBackend('cpu');
  const cpu = time('Conv2DBackpropFilter');
  await tf.setBackend('wasm');
  const [, oh, ow] = [0, layer.x[1] / 2, layer.x[2] / 2];
  const flops = 2 * BATCH * oh * ow * layer.filter.reduce((a, b) => a * b, 1);
  const f = (v: number) => v.toFixed(1).padStart(8);
  console.log(`${layer.name.padEnd(30)}${f(mine)}${f(jsLoop)}${f(cpu)}${f(fwd).padStart(15)}${f(bwdIn).padStart(18)}${(flops / mine / 1e6).toFixed(2).padStart(14)}`);
}
