/**
 * `node --import tsx train/bench/conv-probe.ts [--stock]`: which kernels a tiny conv model's
 * training (forward and `tf.variableGrads`) needs on the wasm backend and which it lacks.
 * The model: Conv2D 3x3 stride 2 'same' + bias + relu, Conv2DTranspose 3x3 stride 2 'same' + bias,
 * squared error. With --stock the training kernels are not installed (tfjs-wasm as shipped).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../src/backend.js';

const stock = process.argv.includes('--stock');
if (stock) {
  await tf.setBackend('wasm');
} else {
  await selectBackend('wasm');
}
const used = new Set<string>();
const missing = new Map<string, string>();
// Every kernel the engine runs goes through runKernel; record the names and the failures.
const engine = tf.engine() as unknown as { runKernel(name: string, ...rest: unknown[]): unknown };
const runKernel = engine.runKernel.bind(engine);
engine.runKernel = (name: string, ...rest: unknown[]) => {
  used.add(name);
  if (!tf.getKernel(name, 'wasm')) missing.set(name, 'not registered for wasm');
  return runKernel(name, ...rest);
};

const w1 = tf.variable(tf.randomNormal([3, 3, 1, 8], 0, 0.3, 'float32', 1), true, 'w1');
const b1 = tf.variable(tf.zeros([8]), true, 'b1');
const w2 = tf.variable(tf.randomNormal([3, 3, 1, 8], 0, 0.3, 'float32', 2), true, 'w2'); // [fh, fw, outC, inC]
const b2 = tf.variable(tf.zeros([1]), true, 'b2');
const x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
const loss = () => {
  const h = tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 2, 'same'), b1)) as tf.Tensor4D;
  const y = tf.add(tf.conv2dTranspose(h, w2 as tf.Tensor4D, [4, 8, 8, 1], 2, 'same'), b2);
  return tf.mean(tf.square(tf.sub(y, x))) as tf.Scalar;
};
for (const v of [w1, b1, w2, b2]) {
  try {
    const { grads } = tf.variableGrads(loss, [v]);
    console.log(`grad ${v.name}: ok, |g| = ${tf.norm(grads[v.name]).dataSync()[0].toFixed(5)}`);
  } catch (err) {
    console.log(`grad ${v.name}: ${(err as Error).message.split('\n')[0]}`);
  }
}
// The same through the layers API (what a conv VAE built with tf.layers runs: FusedConv2D).
const model = tf.sequential({ layers: [
  tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
  tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same' }),
] });
try {
  const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, x))) as tf.Scalar);
  console.log(`layers model grads: ok (${Object.keys(grads).length} variables)`);
} catch (err) {
  console.log(`layers model grads: ${(err as Error).message.split('\n')[0]}`);
}
console.log(`kernels used: ${[...used].sort().join(', ')}`);
console.log(`missing on wasm: ${[...missing.keys()].join(', ') || 'none'}`);
