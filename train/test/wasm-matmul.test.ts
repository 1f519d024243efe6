import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/index.js';

/** Runs f on the cpu backend (the reference) and on wasm with the fast-matmul kernels. */
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

for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]) {
  test(`BatchMatMul transposeA=${transposeA} transposeB=${transposeB} matches the cpu backend`, async () => {
    const a = () => tf.randomNormal(transposeA ? [2, 33, 17] : [2, 17, 33], 0, 1, 'float32', 1);
    const b = () => tf.randomNormal(transposeB ? [2, 9, 33] : [2, 33, 9], 0, 1, 'float32', 2);
    const { cpu, wasm } = await onBoth(() => tf.matMul(a(), b(), transposeA, transposeB));
    assert.ok(maxAbsDiff(cpu, wasm) < 1e-4, `max diff ${maxAbsDiff(cpu, wasm)}`);
  });
}

test('_FusedMatMul with transposes, bias and relu matches the cpu backend', async () => {
  const { cpu, wasm } = await onBoth(() =>
    tf.fused.matMul({
      a: tf.randomNormal([40, 30], 0, 1, 'float32', 3) as tf.Tensor2D,
      b: tf.randomNormal([20, 40], 0, 1, 'float32', 4) as tf.Tensor2D,
      transposeA: true, transposeB: true,
      bias: tf.randomNormal([20], 0, 1, 'float32', 5), activation: 'relu',
    }),
  );
  assert.ok(maxAbsDiff(cpu, wasm) < 1e-4);
});

test('layers API: a Dense layer\'s gradients (transposed matmuls) match the cpu backend', async () => {
  const grads = () => {
    const layer = tf.layers.dense({ units: 7, activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ seed: 6 }) });
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
