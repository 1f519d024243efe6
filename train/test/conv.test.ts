/**
 * The convolutional VAE (src/conv-model.ts): its layers and [N, 784] contract, seeded init,
 * training on real MNIST through train() with both trainers, bit-exact resume, evaluation and
 * IWAE of a conv run, and MLP runs made before the conv VAE still loading as MLPs.
 * The training runs use a narrow model (channels 8, 16) so the file stays quick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CONV_DEFAULTS, evaluateRun, importanceWeightedNll, loadCheckpoint, loadDataset, loadTrainedModel, selectBackend, train,
  CHECKPOINT_FILE, type EpochRecord,
} from '../src/index.js';
import { saveCheckpoint } from '../src/checkpoint.js';
import { CONV_MODEL, convParameters, type ConvVaeConfig } from '../src/conv-model.js';
import { createModel, decodeLogits, disposeVae, encode, variables } from '../src/model.js';
import { paramCount } from '../src/speed/parallel.js';

await selectBackend('wasm');
const tmp = () => mkdtemp(join(tmpdir(), 'vae-conv-test-'));
const NARROW: ConvVaeConfig = { ...CONV_MODEL, channels: [8, 16], latentSize: 8 };

test('the conv VAE: named layers, [N, 784] -> mu, logvar [N, n] -> logits [N, 784], as LayersModels', () => {
  const model = createModel(CONV_MODEL, 0);
  try {
    assert.equal(model.architecture, 'conv');
    if (model.architecture !== 'conv') return;
    assert.ok(model.encoder instanceof tf.LayersModel && model.decoder instanceof tf.LayersModel);
    assert.deepEqual(model.encoder.inputs[0].shape, [null, 784]);
    assert.deepEqual(model.encoder.outputs.map((o) => o.shape), [[null, 64], [null, 64]]);
    assert.deepEqual(model.decoder.outputs[0].shape, [null, 784]);
    assert.deepEqual(model.encoder.layers.map((l) => l.name),
      ['encoder_input', 'encoder_image', 'encoder_conv1', 'encoder_conv2', 'encoder_flatten', 'encoder_mu', 'encoder_logvar']);
    assert.deepEqual(model.decoder.layers.map((l) => l.name),
      ['decoder_input', 'decoder_project', 'decoder_image', 'decoder_deconv1', 'decoder_deconv2', 'decoder_logits']);
    // Checkpoint order = convParameters order = the layer models' own trainable weights order.
    const names = convParameters(CONV_MODEL).map((p) => p.name);
    assert.deepEqual([...model.encoder.trainableWeights, ...model.decoder.trainableWeights].map((w) => w.originalName), names);
    assert.equal(variables(model).reduce((n, v) => n + v.size, 0), paramCount(CONV_MODEL));
    tf.tidy(() => {
      const x = tf.randomUniform([3, 784], 0, 1, 'float32', 1) as tf.Tensor2D;
      const { mu, logvar } = encode(model, x);
      assert.deepEqual([mu.shape, logvar.shape], [[3, 64], [3, 64]]);
      assert.deepEqual(decodeLogits(model, mu).shape, [3, 784]);
      // The layer models alone (what the converter exports) compute the same.
      const [mu2] = model.encoder.predict(x) as tf.Tensor[];
      assert.deepEqual(mu2.dataSync(), mu.dataSync());
    });
  } finally {
    disposeVae(model);
  }
});

test('seeded init: the same seed gives the same weights, another seed others; bounds are PyTorch\'s', () => {
  const [a, b, c] = [createModel(NARROW, 3), createModel(NARROW, 3), createModel(NARROW, 4)];
  try {
    const values = (m: typeof a) => variables(m).map((v) => v.dataSync() as Float32Array);
    assert.deepEqual(values(a), values(b));
    assert.notDeepEqual(values(a), values(c));
    convParameters(NARROW).forEach((p, i) => {
      const w = values(a)[i];
      const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const bound = 1 / Math.sqrt(p.fanIn);
      assert.ok(max <= bound && (w.length < 16 || max > 0.5 * bound), `${p.name}: max |w| ${max}, fan-in ${p.fanIn}`);
    });
  } finally {
    [a, b, c].forEach(disposeVae);
  }
});

test('bad conv configs name the bad input', () => {
  assert.throws(() => createModel({ ...CONV_MODEL, channels: [8, 16, 32] }, 0), /side 28 must be divisible by 8/);
  assert.throws(() => createModel({ ...CONV_MODEL, inputSize: 780 }, 0), /square image, got 780/);
  assert.throws(() => createModel({ ...CONV_MODEL, channels: [] }, 0), /conv channels/);
  assert.throws(() => createModel({ ...CONV_MODEL, architecture: 'rnn' } as unknown as ConvVaeConfig, 0), /unknown model architecture "rnn"/);
});

const small = { backend: 'wasm' as const, architecture: 'conv' as const, channels: [8, 16], latentSize: 8, trainLimit: 600, batchSize: 100, seed: 5 };

async function logOf(dir: string): Promise<EpochRecord[]> {
  return (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as EpochRecord);
}

test('conv training on real MNIST lowers the loss; 1 epoch + resume equals 2 epochs bit for bit (2 threads)', async () => {
  const straight = await tmp();
  const result = await train({ ...small, outDir: straight, epochs: 2, learningRate: 3e-3 });
  const [e1, e2] = result.history;
  assert.ok(e2.train.total < e1.train.total - 5, `train loss ${e1.train.total} -> ${e2.train.total}`);
  assert.ok(e2.test.total < e1.test.total, `test loss ${e1.test.total} -> ${e2.test.total}`);
  const config = JSON.parse(await readFile(join(straight, 'config.json'), 'utf8'));
  assert.deepEqual(config.model, { ...NARROW, hiddenSizes: [] });
  assert.equal(config.learningRate, 3e-3);
  assert.equal(config.threads, 2);

  const resumed = await tmp();
  await train({ ...small, outDir: resumed, epochs: 1, learningRate: 3e-3 });
  await train({ outDir: resumed, backend: 'wasm', resume: true, epochs: 2 });
  const [a, b] = [await loadCheckpoint(join(straight, CHECKPOINT_FILE)), await loadCheckpoint(join(resumed, CHECKPOINT_FILE))];
  assert.equal(b.progress.epoch, 2);
  assert.deepEqual(b.state.weights, a.state.weights); // bit-identical
  assert.deepEqual(b.state.adam, a.state.adam);
  assert.deepEqual((await logOf(resumed)).map((r) => r.test.total), (await logOf(straight)).map((r) => r.test.total));
});

test('a one-thread conv run: interrupted mid-epoch and resumed gives the weights of an uninterrupted one', async () => {
  const one = { ...small, threads: 1, trainLimit: 400 };
  const straight = await tmp();
  await train({ ...one, outDir: straight, epochs: 1 });
  const interrupted = await tmp();
  const controller = new AbortController();
  const first = await train({ ...one, outDir: interrupted, epochs: 1, signal: controller.signal, onProgress: (p) => { if (p.step === 1) controller.abort(); } });
  assert.equal(first.interrupted, true);
  await train({ outDir: interrupted, backend: 'wasm', resume: true });
  assert.deepEqual((await loadCheckpoint(join(interrupted, CHECKPOINT_FILE))).state, (await loadCheckpoint(join(straight, CHECKPOINT_FILE))).state);
});

test('default conv settings: lr from CONV_DEFAULTS, no hidden layers; channels refused for the MLP', async () => {
  const dir = await tmp();
  const r = await train({ backend: 'wasm', architecture: 'conv', outDir: dir, channels: [4, 4], latentSize: 2, trainLimit: 100, batchSize: 100, epochs: 1, threads: 1 });
  assert.equal(r.config.learningRate, CONV_DEFAULTS.learningRate);
  assert.deepEqual(r.config.model, { architecture: 'conv', inputSize: 784, channels: [4, 4], hiddenSizes: [], latentSize: 2 });
  await assert.rejects(train({ backend: 'wasm', outDir: await tmp(), channels: [4], epochs: 1 }), /channels apply to the conv VAE only/);
});

test('a conv run evaluates (evaluateRun) and gets an IWAE estimate from its run folder', async () => {
  const dir = await tmp();
  await train({ ...small, outDir: dir, epochs: 1, threads: 1 });
  const evaluation = await evaluateRun(dir, { backend: 'wasm' });
  const logged = (await logOf(dir))[0].test;
  assert.equal(evaluation.images, 10000);
  assert.ok(Math.abs(evaluation.total - logged.total) < 1e-3 * logged.total, `${evaluation.total} vs logged ${logged.total}`);
  const { model } = await loadTrainedModel(dir);
  try {
    assert.equal(model.architecture, 'conv');
    const test = await loadDataset({ split: 'test' });
    const iwae = await importanceWeightedNll(model, test.images.subarray(0, 4 * 784), { samples: 20 });
    assert.ok(Number.isFinite(iwae.nll) && iwae.nll <= iwae.elbo + 1e-3, `nll ${iwae.nll}, elbo ${iwae.elbo}`);
  } finally {
    disposeVae(model);
  }
});

test('MLP run folders from before the conv VAE (config without architecture) still load as MLPs', async () => {
  const dir = await tmp();
  const result = await train({ backend: 'wasm', outDir: dir, latentSize: 2, hiddenSizes: [16], trainLimit: 100, batchSize: 100, epochs: 1 });
  const ckpt = await loadCheckpoint(join(dir, CHECKPOINT_FILE));
  assert.equal('architecture' in ckpt.config.model, false, 'an MLP run writes the same config as before');
  // An old checkpoint: exactly what the code before the conv VAE wrote.
  await saveCheckpoint(join(dir, CHECKPOINT_FILE), { ...ckpt, config: { ...result.config, model: { inputSize: 784, hiddenSizes: [16], latentSize: 2 } } });
  const { model } = await loadTrainedModel(dir);
  assert.equal(model.architecture, 'mlp');
  disposeVae(model);
  const resumed = await train({ outDir: dir, backend: 'wasm', resume: true, epochs: 2 });
  assert.equal(resumed.epochsDone, 2);
});
