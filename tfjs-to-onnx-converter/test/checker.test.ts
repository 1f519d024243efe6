/** The reference validator, onnx.checker.check_model(full_check=True), on converted models (when python3-onnx is installed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { convertLayersModel } from '../src/index.js';
import { sequential } from './helpers.js';

// Debian's python3-onnx (onnx 1.12: opsets up to 17), called by its full path as the brief asks.
const PYTHON = '/usr/bin/python3';
const hasOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
const SCRIPT = 'import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint("OK", onnx.__version__)';

const L = tf.layers;

test('onnx.checker (full_check) accepts converted conv models, with and without nchwIo, and recurrent ones', { skip: hasOnnx ? false : `${PYTHON} cannot import onnx` }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tfjs2onnx-check-'));
  try {
    const x = tf.input({ shape: [8, 8, 1], name: 'image' });
    const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    const d = L.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(L.batchNormalization().apply(c)) as tf.SymbolicTensor;
    const p = L.maxPooling2d({ poolSize: 2 }).apply(L.add().apply([c, d])) as tf.SymbolicTensor;
    const up = L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }).apply(L.zeroPadding2d({ padding: 1 }).apply(p)) as tf.SymbolicTensor;
    const crop = L.cropping2D({ cropping: [[2, 2], [2, 2]] }).apply(L.upSampling2d({ size: [1, 1] }).apply(up)) as tf.SymbolicTensor;
    const head = L.dense({ units: 3, activation: 'softmax' }).apply(L.flatten().apply(p)) as tf.SymbolicTensor;
    const gelu = L.layerNormalization().apply(L.dense({ units: 5, activation: 'gelu' }).apply(L.globalAveragePooling2d({}).apply(crop))) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: [crop, head, gelu] });
    const paths: string[] = [];
    for (const nchwIo of [false, true]) {
      const path = join(dir, `net-${nchwIo}.onnx`);
      await writeFile(path, (await convertLayersModel(model, { nchwIo })).bytes);
      paths.push(path);
    }
    // Recurrent ops carry STRINGS and FLOATS attributes (activations, activation_alpha/beta).
    const recurrent = sequential([5, 3], [
      L.lstm({ units: 3, returnSequences: true, goBackwards: true }), L.bidirectional({ layer: L.gru({ units: 2, returnSequences: true }) as tf.RNN }),
      L.timeDistributed({ layer: L.dense({ units: 2 }) }), L.simpleRNN({ units: 2, activation: 'relu' }),
    ]);
    paths.push(join(dir, 'recurrent.onnx'));
    await writeFile(paths[2], (await convertLayersModel(recurrent)).bytes);
    const r = spawnSync(PYTHON, ['-c', SCRIPT, ...paths], { encoding: 'utf8' });
    assert.equal(r.status, 0, `onnx.checker: ${r.stderr.slice(-1500)}`);
    assert.match(r.stdout, /^OK 1\./);
  } finally {
    await rm(dir, { recursive: true });
  }
});
