/** One parity test per layer handler and option: a tiny tfjs model, seeded weights, onnxruntime vs tfjs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_NAMES } from '../src/layers/activations.js';
import { assertParity, countOps, sequential, type ParityOptions } from './helpers.js';

const L = tf.layers;
type Case = [name: string, build: () => tf.LayersModel, options?: ParityOptions];

const img = [6, 5, 3];
const cases: Case[] = [
  ['Dense 2-D with bias and relu', () => sequential([5], [L.dense({ units: 4, activation: 'relu' })])],
  ['Dense without bias', () => sequential([5], [L.dense({ units: 3, useBias: false })])],
  ['Dense on 3-D input (MatMul + Add)', () => sequential([4, 5], [L.dense({ units: 3, activation: 'tanh' })])],
  ['Dense on 4-D input after a conv (channels axis)', () => sequential(img, [L.conv2d({ filters: 4, kernelSize: 1 }), L.dense({ units: 2 })])],
  ...ACTIVATION_NAMES.map((a): Case => [`Activation ${a}`, () => sequential([3, 4], [L.activation({ activation: a as 'relu' })])]),
  ['ReLU', () => sequential([7], [L.reLU()])],
  ['ReLU maxValue', () => sequential([7], [L.reLU({ maxValue: 0.5 })])],
  ['LeakyReLU default alpha (tfjs 0.3)', () => sequential([7], [L.leakyReLU()])],
  ['LeakyReLU alpha 0.1', () => sequential([7], [L.leakyReLU({ alpha: 0.1 })])],
  ['ELU (tfjs supports alpha 1 only)', () => sequential([7], [L.elu()])],
  ['ThresholdedReLU', () => sequential([7], [L.thresholdedReLU({ theta: 0.4 })])],
  // tfjs' Softmax layer defaults to axis 1 and its kernel handles only the last axis: rank 2.
  ['Softmax layer', () => sequential([6], [L.softmax()])],
  ['softmax on an NCHW conv output (axis mapped)', () => sequential(img, [L.conv2d({ filters: 4, kernelSize: 3, activation: 'softmax' })])],
  ['PReLU on conv output', () => sequential(img, [L.conv2d({ filters: 4, kernelSize: 3 }), L.prelu()])],
  ['PReLU shared spatial axes', () => sequential(img, [L.conv2d({ filters: 4, kernelSize: 3 }), L.prelu({ sharedAxes: [1, 2] })])],
  ['Flatten of a plain tensor', () => sequential([3, 4], [L.flatten()])],
  ['Flatten after conv as output (NHWC order)', () => sequential(img, [L.conv2d({ filters: 2, kernelSize: 3 }), L.flatten()])],
  ['Flatten after conv folded into Dense', () => sequential(img, [L.conv2d({ filters: 2, kernelSize: 3 }), L.flatten(), L.dropout({ rate: 0.5 }), L.activation({ activation: 'relu' }), L.dense({ units: 3 })])],
  ['Flatten after Conv1D folded into Dense', () => sequential([8, 3], [L.conv1d({ filters: 2, kernelSize: 3 }), L.flatten(), L.dense({ units: 3 })])],
  ['Flatten after conv, then BatchNormalization (order materialized once)', () => sequential(img, [L.conv2d({ filters: 2, kernelSize: 3 }), L.flatten(), L.batchNormalization(), L.dense({ units: 2 })])],
  ['Reshape', () => sequential([12], [L.reshape({ targetShape: [3, 4] })])],
  ['Reshape with -1 after conv', () => sequential(img, [L.conv2d({ filters: 2, kernelSize: 3 }), L.reshape({ targetShape: [-1, 2] })])],
  ['Dropout, GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D', () => sequential([4, 5], [
    L.dropout({ rate: 0.3 }), L.gaussianNoise({ stddev: 1 }), L.gaussianDropout({ rate: 0.3 }), L.alphaDropout({ rate: 0.3 }), L.spatialDropout1d({ rate: 0.3 }), L.dense({ units: 2 }),
  ])],
  ['Conv2D valid', () => sequential(img, [L.conv2d({ filters: 4, kernelSize: 3 })])],
  ['Conv2D same with strides 2 and relu', () => sequential([7, 6, 3], [L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })])],
  ['Conv2D same, even kernel (asymmetric pads)', () => sequential(img, [L.conv2d({ filters: 2, kernelSize: [2, 4], padding: 'same' })])],
  ['Conv2D dilation 2', () => sequential([9, 8, 2], [L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same' })])],
  ['Conv2D no bias', () => sequential(img, [L.conv2d({ filters: 3, kernelSize: 2, useBias: false })])],
  ['Conv2D channelsFirst', () => sequential([3, 6, 5], [L.conv2d({ filters: 4, kernelSize: 3, dataFormat: 'channelsFirst', padding: 'same' })])],
  ['Conv2D dynamic spatial dims', () => sequential([null, null, 3], [L.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' })]), { dynamic: [7, 5] }],
  ['Conv2DTranspose valid', () => sequential([4, 3, 2], [L.conv2dTranspose({ filters: 3, kernelSize: 3 })])],
  ['Conv2DTranspose same strides 2', () => sequential([4, 3, 2], [L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' })])],
  ['Conv2DTranspose kernel < stride', () => sequential([4, 3, 2], [L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', activation: 'sigmoid' })])],
  ['MaxPooling2D valid', () => sequential(img, [L.maxPooling2d({ poolSize: 2 })])],
  ['MaxPooling2D same strides 1', () => sequential(img, [L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' })])],
  ['AveragePooling2D valid', () => sequential(img, [L.averagePooling2d({ poolSize: [2, 3] })])],
  ['AveragePooling2D same (padding excluded)', () => sequential(img, [L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })])],
  ['GlobalAveragePooling2D', () => sequential(img, [L.globalAveragePooling2d({})])],
  ['GlobalMaxPooling2D', () => sequential(img, [L.globalMaxPooling2d({})])],
  ['BatchNormalization after conv (NCHW)', () => sequential(img, [L.conv2d({ filters: 3, kernelSize: 3 }), L.batchNormalization()])],
  ['BatchNormalization on features, no scale/center', () => sequential([5], [L.batchNormalization({ scale: false, center: false, epsilon: 0.01 })])],
  ['UpSampling2D nearest', () => sequential([3, 4, 2], [L.upSampling2d({ size: [2, 3] })])],
  ['UpSampling2D bilinear', () => sequential([3, 4, 2], [L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' })])],
  ['ZeroPadding2D', () => sequential(img, [L.zeroPadding2d({ padding: [[1, 2], [0, 3]] })])],
  ['Cropping2D', () => sequential(img, [L.cropping2D({ cropping: [[1, 2], [0, 1]] })])],
  ['Conv1D same', () => sequential([8, 3], [L.conv1d({ filters: 4, kernelSize: 3, padding: 'same' })])],
  ['Conv1D dilation 2, strides', () => sequential([9, 3], [L.conv1d({ filters: 2, kernelSize: 2, dilationRate: 2 })])],
  ['Conv1D strides 2 same', () => sequential([9, 3], [L.conv1d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' })])],
  ['MaxPooling1D and AveragePooling1D', () => sequential([8, 3], [L.maxPooling1d({ poolSize: 2 }), L.averagePooling1d({ poolSize: 2, strides: 1, padding: 'same' })])],
  ['GlobalAveragePooling1D', () => sequential([8, 3], [L.globalAveragePooling1d()])],
  ['GlobalMaxPooling1D', () => sequential([8, 3], [L.globalMaxPooling1d()])],
  ['DepthwiseConv2D multiplier 2', () => sequential(img, [L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' })])],
  ['SeparableConv2D', () => sequential(img, [L.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2 })])],
  ['LayerNormalization last axis', () => sequential([3, 6], [L.layerNormalization()])],
  ['LayerNormalization after conv', () => sequential(img, [L.conv2d({ filters: 3, kernelSize: 3 }), L.layerNormalization({ epsilon: 1e-5 })])],
  ['Permute', () => sequential([2, 3, 4], [L.permute({ dims: [3, 1, 2] })])],
  ['Permute after conv then Dense', () => sequential(img, [L.conv2d({ filters: 3, kernelSize: 3 }), L.permute({ dims: [2, 1, 3] }), L.dense({ units: 2 })])],
  ['channelsFirst: Conv2D, pooling, padding, upsampling, cropping', () => sequential([3, 6, 5], [
    L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dataFormat: 'channelsFirst' }),
    L.maxPooling2d({ poolSize: 2, dataFormat: 'channelsFirst' }), L.zeroPadding2d({ padding: 1, dataFormat: 'channelsFirst' }),
    L.upSampling2d({ size: [2, 2], dataFormat: 'channelsFirst' }), L.cropping2D({ cropping: [[1, 1], [0, 2]], dataFormat: 'channelsFirst' }),
    L.globalAveragePooling2d({ dataFormat: 'channelsFirst' }),
  ])],
  ['a conv net at opset 13 (IR 7)', () => sequential(img, [
    L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu6' }), L.upSampling2d({ size: [2, 2] }), L.zeroPadding2d({ padding: 1 }),
    L.flatten(), L.dense({ units: 2, activation: 'gelu' }), L.repeatVector({ n: 2 }),
  ]), { opset: 13 }],
  ['RepeatVector', () => sequential([4], [L.repeatVector({ n: 3 })])],
];

for (const [name, build, options] of cases) {
  test(name, async () => {
    await assertParity(build(), options);
  });
}

test('conv layers with nchwIo: NCHW graph I/O, no Transpose', async () => {
  for (const [name, build] of cases.filter(([n]) => /^Conv2D (valid|same)|Pooling2D|UpSampling|ZeroPadding|Cropping2D$/.test(n))) {
    const result = await assertParity(build(), { nchwIo: true });
    assert.equal(countOps(result, 'Transpose'), 0, name);
  }
});
