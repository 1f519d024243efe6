/**
 * `vae convert` as a user meets it: a tfjs functional conv net saved as model.json + two shards
 * becomes model.onnx + tfjs golden data that `vae verify` passes on node-cpu and web-node; bad
 * input exits 2 and writes nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readTestDataSets } from '@vae/models/onnx';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const vae = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const temps: string[] = [];
const tmp = async () => { const dir = await mkdtemp(join(tmpdir(), 'vae-convert-test-')); temps.push(dir); return dir; };
after(() => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));
const L = tf.layers;

/** Saves `model` as dir/model.json + weights in two shards (what tfjs' own file writers produce). */
async function saveToDir(model: tf.LayersModel): Promise<string> {
  const dir = await tmp();
  await model.save(tf.io.withSaveHandler(async (a) => {
    const all = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData!));
    const half = Math.floor(all.length / 8) * 4;
    await mkdir(join(dir, 'weights'));
    await writeFile(join(dir, 'weights', 'group1-shard1of2.bin'), all.subarray(0, half));
    await writeFile(join(dir, 'weights', 'group1-shard2of2.bin'), all.subarray(half));
    const json: tf.io.ModelJSON = {
      modelTopology: a.modelTopology as object, format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`, convertedBy: null,
      weightsManifest: [{ paths: ['weights/group1-shard1of2.bin', 'weights/group1-shard2of2.bin'], weights: a.weightSpecs! }],
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return dir;
}

/** Conv2D, BatchNormalization (non-trivial statistics), MaxPooling2D, Add, Concatenate, Flatten, Dense; an image and a vector output. */
function convNet(): tf.LayersModel {
  const image = tf.input({ shape: [12, 12, 3], name: 'image' });
  const a = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv_a' }).apply(image) as tf.SymbolicTensor;
  const bn = L.batchNormalization({ name: 'bn' });
  const b = bn.apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_b' }).apply(image) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const sum = L.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([sum, a]) as tf.SymbolicTensor;
  const pooled = L.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(cat) as tf.SymbolicTensor;
  const features = L.conv2d({ filters: 2, kernelSize: 1, activation: 'sigmoid', name: 'features' }).apply(pooled) as tf.SymbolicTensor;
  const logits = L.dense({ units: 5, activation: 'softmax', name: 'logits' }).apply(L.flatten({ name: 'flat' }).apply(pooled)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: image, outputs: [logits, features], name: 'convnet' });
  const [gamma, beta, mean, variance] = bn.getWeights();
  bn.setWeights([tf.randomUniform(gamma.shape, 0.5, 1.5, 'float32', 1), tf.randomNormal(beta.shape, 0, 0.2, 'float32', 2),
    tf.randomNormal(mean.shape, 0, 0.3, 'float32', 3), tf.randomUniform(variance.shape, 0.5, 2, 'float32', 4)]);
  return model;
}

test('vae convert: model.onnx + tfjs golden data, the summary, then vae verify passes on node-cpu and web-node', async () => {
  const src = await saveToDir(convNet());
  const out = join(await tmp(), 'convnet-onnx');
  const r = vae('convert', join(src, 'model.json'), '--out', out, '--batch', '3');
  assert.equal(r.code, 0, r.err + r.out);
  assert.deepEqual((await readdir(out)).sort(), ['model.onnx', 'test_data_set_0']);
  assert.deepEqual((await readdir(join(out, 'test_data_set_0'))).sort(), ['input_0.pb', 'output_0.pb', 'output_1.pb']);
  const [set] = await readTestDataSets(out);
  assert.deepEqual(set.inputs.map((t) => [t.name, t.dims]), [['image', [3, 12, 12, 3]]]);
  assert.deepEqual(set.outputs.map((t) => [t.name, t.dims]), [['logits', [3, 5]], ['features', [3, 6, 6, 2]]]);

  assert.match(r.out, /layers converted: 9 \(Conv2D 3, BatchNormalization 1, Add 1, Concatenate 1, MaxPooling2D 1, Flatten 1, Dense 1\)/);
  assert.match(r.out, /input {2}image: \[N, 12, 12, 3\] float32, golden \[3, 12, 12, 3\]/);
  assert.match(r.out, /output logits: \[N, 5\]/);
  assert.match(r.out, /output features: \[N, 6, 6, 2\]/);
  const transposes = Number(/Transpose nodes: (\d+)/.exec(r.out)![1]);
  assert.ok(transposes <= 2, `${transposes} Transposes for one image input and one image output`);
  assert.match(r.out, /ONNX nodes: \d+ \(Conv 3, /);
  const error = Number(/max abs error, onnxruntime-node \(cpu\) vs tfjs \(cpu\): (\S+)/.exec(r.out)![1]);
  assert.ok(error < 1e-4, r.out);
  assert.match(r.out, /: ok\n/);

  // vae verify's own default tolerance (1e-5), stricter than convert's.
  const v = vae('verify', out, '--runtimes', 'node-cpu,web-node', '--out', join(await tmp(), 'report'));
  assert.equal(v.code, 0, v.err + v.out);
  assert.match(v.out, /reference: the golden outputs/);
  assert.match(v.out, /PASS: 2 passed, 0 failed/);
});

test('vae convert --nchw-io: no Transpose at all, NCHW golden data; --dim sizes a null dim', async () => {
  const image = tf.input({ shape: [null, 8, 2], name: 'image' });
  const x = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(image) as tf.SymbolicTensor;
  const y = L.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  const src = await saveToDir(tf.model({ inputs: image, outputs: L.add({ name: 'sum' }).apply([x, y]) as tf.SymbolicTensor }));
  const out = join(await tmp(), 'nchw');

  const missing = vae('convert', src, '--out', out, '--nchw-io');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /input "image" axis 2 \("image_dim2"\) has no fixed size.*--dim image_dim2=N/);
  assert.equal(existsSync(out), false);

  const r = vae('convert', src, '--out', out, '--nchw-io', '--dim', 'image_dim2=6', '--seed', '7');
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /Transpose nodes: 0\n/);
  const [set] = await readTestDataSets(out);
  assert.deepEqual(set.inputs[0].dims, [2, 2, 6, 8]);
  assert.deepEqual(set.outputs[0].dims, [2, 3, 6, 8]);
  const v = vae('verify', out, '--runtimes', 'node-cpu', '--atol', '1e-4', '--rtol', '1e-3', '--out', join(await tmp(), 'report'));
  assert.equal(v.code, 0, v.err + v.out);
});

test('onnxruntime disagreeing with tfjs: exit 1, says so, writes nothing unless --allow-mismatch', async () => {
  // The converter's README: BatchNormalization on a non-last axis follows the Keras formula, tfjs 4.22's cpu kernel does not.
  const bn = L.batchNormalization({ axis: 1, inputShape: [3, 4, 4], name: 'bn' });
  const model = tf.sequential({ layers: [bn] });
  bn.setWeights([tf.tensor([1, 2, 3]), tf.tensor([0.5, -1, 2]), tf.tensor([0.1, 0.2, 0.3]), tf.tensor([1, 4, 9])]);
  const src = await saveToDir(model);
  const out = join(await tmp(), 'out');
  const r = vae('convert', src, '--out', out);
  assert.equal(r.code, 1, r.err + r.out);
  assert.match(r.out, /: FAILED: \d+ value\(s\) over the tolerance/);
  assert.match(r.err, /onnxruntime-node disagrees with tfjs beyond atol 1e-4 \+ rtol 1e-3; nothing written/);
  assert.equal(existsSync(out), false);
  const kept = vae('convert', src, '--out', out, '--allow-mismatch');
  assert.equal(kept.code, 1);
  assert.deepEqual((await readdir(out)).sort(), ['model.onnx', 'test_data_set_0']);
});

test('a missing model.json: exit 2, the error names the file', async () => {
  const dir = await tmp();
  const out = join(dir, 'out');
  const r = vae('convert', join(dir, 'model.json'), '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 'model.json')}: no such file`));
  assert.equal(existsSync(out), false);
});

test('a manifest naming a missing shard: exit 2, names model.json and the field', async () => {
  const src = await saveToDir(tf.sequential({ layers: [L.dense({ inputShape: [3], units: 2 })] }));
  const json = JSON.parse(await readFile(join(src, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  json.weightsManifest[0].paths[1] = 'weights/gone.bin';
  await writeFile(join(src, 'model.json'), JSON.stringify(json));
  const out = join(await tmp(), 'out');
  const r = vae('convert', src, '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, /model\.json: weightsManifest\[0\]\.paths\[1\] = "weights\/gone\.bin"/);
  assert.equal(existsSync(out), false);
});

test('an unsupported layer: exit 2, names the layer and its class, writes nothing', async () => {
  // Masking: a layer class the converter has no handler for (its README lists it under the limits).
  const src = await saveToDir(tf.sequential({ layers: [L.masking({ inputShape: [4, 3], name: 'mask' }), L.dense({ units: 1 })] }));
  const parent = await tmp();
  const r = vae('convert', src, '--out', join(parent, 'out'));
  assert.equal(r.code, 2);
  assert.match(r.err, /layer "mask" \(Masking\): no converter for layer class "Masking"/);
  assert.deepEqual(await readdir(parent), []);
});

const PIXEL_SHUFFLE = fileURLToPath(new URL('../../tfjs-to-onnx-converter/examples/pixel-shuffle.mjs', import.meta.url));

test('a custom layer: exit 2 naming its class without --custom-layers; with the module, converted and vae verify passes', async () => {
  // The example module registers PixelShuffle with the tfjs it is given: here the test's, to build and save the model.
  const { default: register } = await import(PIXEL_SHUFFLE) as { default: (api: object) => new (config: object) => tf.layers.Layer };
  const PixelShuffle = register({ tf, registerLayerConverter: () => {} });
  const image = tf.input({ shape: [4, 5, 3], name: 'image' });
  const features = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'conv' }).apply(image) as tf.SymbolicTensor;
  const src = await saveToDir(tf.model({ inputs: image, outputs: new PixelShuffle({ scale: 2, name: 'shuffle' }).apply(features) as tf.SymbolicTensor }));
  const out = join(await tmp(), 'shuffle-onnx');

  const without = vae('convert', src, '--out', out);
  assert.equal(without.code, 2);
  assert.match(without.err, /Unknown layer: PixelShuffle.*--custom-layers FILE\.mjs/s);
  assert.equal(existsSync(out), false);

  const missing = vae('convert', src, '--out', out, '--custom-layers', join(src, 'nowhere.mjs'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--custom-layers: custom-layer module .*nowhere\.mjs: no such file/);

  const r = vae('convert', src, '--out', out, '--custom-layers', PIXEL_SHUFFLE);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /pixel-shuffle\.mjs: custom layers PixelShuffle/);
  assert.match(r.out, /layers converted: 2 \(Conv2D 1, PixelShuffle 1\)/);
  assert.match(r.out, /DepthToSpace 1/);
  assert.match(r.out, /output shuffle: \[N, 8, 10, 2\] float32/);
  const v = vae('verify', out, '--runtimes', 'node-cpu', '--atol', '1e-4', '--rtol', '1e-3', '--out', join(await tmp(), 'report'));
  assert.equal(v.code, 0, v.err + v.out);
});

test('an existing non-empty DIR needs --force; --force replaces it', async () => {
  const src = await saveToDir(tf.sequential({ layers: [L.dense({ inputShape: [3], units: 2, name: 'd' })] }));
  const out = await tmp();
  await writeFile(join(out, 'keep.txt'), 'previous');
  const r = vae('convert', src, '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, /exists and is not empty; pass --force to replace it/);
  assert.deepEqual(await readdir(out), ['keep.txt']);
  const inside = vae('convert', src, '--out', src, '--force');
  assert.equal(inside.code, 2);
  assert.match(inside.err, /holds the model being converted/);
  assert.ok(existsSync(join(src, 'model.json')));
  const f = vae('convert', src, '--out', out, '--force');
  assert.equal(f.code, 0, f.err);
  assert.deepEqual((await readdir(out)).sort(), ['model.onnx', 'test_data_set_0']);
});

test('vae convert --help explains the options, the exit status and gives an example', () => {
  const r = vae('convert', '--help');
  assert.equal(r.code, 0);
  for (const flag of ['--out', '--opset', '--nchw-io', '--seed', '--batch', '--dim', '--force', '--custom-layers', 'Exit status', 'vae verify', 'Examples:']) assert.ok(r.out.includes(flag), flag);
  assert.doesNotMatch(r.out, /\/(tmp|home|work|root|usr)\//);
});
