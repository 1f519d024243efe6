/** Parity tests for the recurrent layers, Bidirectional and TimeDistributed: small sizes, seeded weights. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { convertLayersModel } from '../src/index.js';
import { assertParity, countOps, sequential, type ParityOptions } from './helpers.js';

const L = tf.layers;
type Case = [name: string, build: () => tf.LayersModel, options?: ParityOptions];
const seq = [5, 3];

/** A functional model exposing every output of `layer` (returnState gives several). */
function allOutputs(layer: tf.layers.Layer, shape = seq): tf.LayersModel {
  const x = tf.input({ shape });
  const y = layer.apply(x) as tf.SymbolicTensor | tf.SymbolicTensor[];
  return tf.model({ inputs: x, outputs: Array.isArray(y) ? y : [y] });
}

const cases: Case[] = [];
for (const [cls, make] of [
  ['SimpleRNN', (a: object) => L.simpleRNN({ units: 4, ...a })],
  ['LSTM', (a: object) => L.lstm({ units: 4, ...a })],
  ['GRU', (a: object) => L.gru({ units: 4, ...a })],
] as [string, (a: object) => tf.layers.Layer][]) {
  cases.push(
    [`${cls} defaults (last output)`, () => sequential(seq, [make({})])],
    [`${cls} returnSequences`, () => sequential(seq, [make({ returnSequences: true })])],
    [`${cls} goBackwards, returnSequences (tfjs returns the reversed order)`, () => sequential(seq, [make({ goBackwards: true, returnSequences: true })])],
    [`${cls} goBackwards, last output`, () => sequential(seq, [make({ goBackwards: true })])],
    [`${cls} returnState, returnSequences`, () => allOutputs(make({ returnState: true, returnSequences: true }))],
    [`${cls} returnState, goBackwards`, () => allOutputs(make({ returnState: true, goBackwards: true }))],
    [`${cls} without bias`, () => sequential(seq, [make({ useBias: false, returnSequences: true })])],
    [`${cls} dynamic sequence length`, () => sequential([null, 3], [make({ returnSequences: true })]), { dynamic: [6] }],
  );
}
cases.push(
  ['SimpleRNN relu', () => sequential(seq, [L.simpleRNN({ units: 3, activation: 'relu', returnSequences: true })])],
  ['SimpleRNN sigmoid, softsign, hardSigmoid stacked', () => sequential(seq, [
    L.simpleRNN({ units: 3, activation: 'sigmoid', returnSequences: true }), L.simpleRNN({ units: 3, activation: 'softsign', returnSequences: true }),
    L.simpleRNN({ units: 3, activation: 'hardSigmoid' }),
  ])],
  ['SimpleRNN linear (Affine), softplus, elu stacked', () => sequential(seq, [
    L.simpleRNN({ units: 3, activation: 'linear', returnSequences: true }), L.simpleRNN({ units: 3, activation: 'softplus', returnSequences: true }),
    L.simpleRNN({ units: 3, activation: 'elu' }),
  ])],
  ['LSTM recurrentActivation sigmoid, activation linear', () => sequential(seq, [L.lstm({ units: 3, recurrentActivation: 'sigmoid', activation: 'linear', returnSequences: true })])],
  ['LSTM recurrentActivation sigmoid, activation relu', () => sequential(seq, [L.lstm({ units: 3, recurrentActivation: 'sigmoid', activation: 'relu', returnSequences: true })])],
  ['GRU recurrentActivation sigmoid, activation hardSigmoid', () => sequential(seq, [L.gru({ units: 3, recurrentActivation: 'sigmoid', activation: 'hardSigmoid', returnSequences: true })])],
  ['LSTM and GRU at opset 13 (LSTM-7, GRU-7)', () => sequential(seq, [L.lstm({ units: 3, returnSequences: true }), L.gru({ units: 2, goBackwards: true })]), { opset: 13 }],
  ['LSTM unitForgetBias, then Dense', () => sequential(seq, [L.lstm({ units: 3, unitForgetBias: true }), L.dense({ units: 2 })])],
);
for (const mergeMode of ['concat', 'sum', 'mul', 'ave'] as const) {
  cases.push(
    [`Bidirectional LSTM ${mergeMode}, returnSequences`, () => sequential(seq, [L.bidirectional({ layer: L.lstm({ units: 3, returnSequences: true }) as tf.RNN, mergeMode })])],
    [`Bidirectional GRU ${mergeMode}, last output`, () => sequential(seq, [L.bidirectional({ layer: L.gru({ units: 3 }) as tf.RNN, mergeMode })])],
  );
}
cases.push(
  ['Bidirectional SimpleRNN concat, returnState', () => allOutputs(L.bidirectional({ layer: L.simpleRNN({ units: 3, returnState: true }) as tf.RNN, mergeMode: 'concat' }))],
  ['Bidirectional GRU mergeMode null (two outputs), returnSequences', () => allOutputs(L.bidirectional({ layer: L.gru({ units: 2, returnSequences: true }) as tf.RNN, mergeMode: null as unknown as 'concat' }))],
  ['Bidirectional LSTM returnState, returnSequences', () => allOutputs(L.bidirectional({ layer: L.lstm({ units: 2, returnState: true, returnSequences: true }) as tf.RNN, mergeMode: 'sum' }))],
);

for (const [name, build, options] of cases) {
  test(name, async () => {
    await assertParity(build(), options);
  });
}

test('stacked recurrent layers stay time-major: one Transpose in, one out', async () => {
  const result = await assertParity(sequential(seq, [L.lstm({ units: 3, returnSequences: true }), L.gru({ units: 3, returnSequences: true, goBackwards: true }), L.simpleRNN({ units: 2, returnSequences: true })]));
  assert.equal(countOps(result, 'Transpose'), 2);
});

test('TimeDistributed Dense, Conv2D (with pooling after), Flatten; dynamic time steps', async () => {
  const td = (layer: tf.layers.Layer) => L.timeDistributed({ layer });
  await assertParity(sequential(seq, [td(L.dense({ units: 2, activation: 'relu' }))]));
  await assertParity(sequential(seq, [L.lstm({ units: 3, returnSequences: true }), td(L.dense({ units: 2 }))]));
  await assertParity(sequential([3, 6, 5, 2], [td(L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' })), td(L.maxPooling2d({ poolSize: 2 })), td(L.flatten())]));
  await assertParity(sequential([null, 4, 4, 1], [td(L.conv2d({ filters: 2, kernelSize: 2 }))]), { dynamic: [3] });
});

test('a masked sequence (Embedding maskZero) is an error, not a silently different result', async () => {
  const model = sequential([5], [L.embedding({ inputDim: 6, outputDim: 3, maskZero: true }), L.lstm({ units: 2, name: 'rnn' })]);
  await assert.rejects(convertLayersModel(model), /^ConversionError: layer "rnn" \(LSTM\): unsupported input mask="Embedding maskZero" \(supported: none\)$/);
  const bi = sequential([5], [L.embedding({ inputDim: 6, outputDim: 3, maskZero: true }), L.bidirectional({ layer: L.gru({ units: 2 }) as tf.RNN, name: 'bi' })]);
  await assert.rejects(convertLayersModel(bi), /layer "bi" \(Bidirectional\): unsupported input mask/);
});

test('unsupported recurrent options name the layer and option', async () => {
  await assert.rejects(convertLayersModel(sequential(seq, [L.simpleRNN({ units: 2, activation: 'selu', name: 'r' })])),
    /^ConversionError: layer "r" \(SimpleRNN\): unsupported activation="selu" \(supported: tanh, sigmoid, relu, hardSigmoid, softsign, softplus, linear, elu\)$/);
  // LSTM's default recurrentActivation is hardSigmoid (0.2, 0.5); linear would need (1, 0) in the same lists.
  await assert.rejects(convertLayersModel(sequential(seq, [L.lstm({ units: 2, activation: 'linear', name: 'l' })])),
    /^ConversionError: layer "l" \(LSTM\): unsupported activations=\["HardSigmoid","Affine","Affine"\] \(supported: at most one of hardSigmoid, linear, elu\)$/);
});
