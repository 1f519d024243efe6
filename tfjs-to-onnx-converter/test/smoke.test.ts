import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertParity, sequential } from './helpers.js';

test('dense', async () => {
  await assertParity(sequential([5], [tf.layers.dense({ units: 3, activation: 'relu' })]));
});
test('conv', async () => {
  const r = await assertParity(sequential([6, 6, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }), tf.layers.flatten(), tf.layers.dense({ units: 4 })]));
  console.log(r.summary.ops);
});
