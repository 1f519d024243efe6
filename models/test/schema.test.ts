import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ManifestError, ManifestSchema, isSafeRelativePath, parseManifest, parseManifestText, verifyFileBytes, sha256Hex,
  type Manifest,
} from '../src/index.js';
import { fixtureFiles, fixtureManifest } from './fixture.js';

/** A deep copy of the good manifest with one change applied. */
function bad(change: (m: any) => void): unknown {
  const m = structuredClone(fixtureManifest());
  change(m);
  return m;
}

function rejects(value: unknown, ...fragments: (string | RegExp)[]) {
  assert.throws(() => parseManifest(value, 'm.json'), (err: Error) => {
    assert.ok(err instanceof ManifestError, `expected a ManifestError, got ${err}`);
    assert.match(err.message, /^m\.json is not a valid model manifest/);
    for (const f of fragments) assert.match(err.message, typeof f === 'string' ? new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : f);
    return true;
  });
}

test('a good manifest parses, and the type is what the schema returns', () => {
  const m: Manifest = parseManifest(fixtureManifest());
  assert.equal(m.model.latentSize, 3);
  assert.deepEqual(Object.keys(m.graphs), ['encoder', 'decoder']);
  assert.equal(ManifestSchema.safeParse(fixtureManifest()).success, true);
});

test('safe relative paths', () => {
  for (const p of ['encoder.onnx', 'decoder/test_data_set_0/input_0.pb', 'a..b/c']) assert.equal(isSafeRelativePath(p), true, p);
  for (const p of ['', '../x', 'a/../../b', 'a/..', '/etc/passwd', 'a//b', './a', 'a\\b', 'C:/x', 'a/',
    // URL tricks: a URL parser reads %2e%2e as "..", "?" / "#" end the path, "scheme:" starts another URL.
    '%2e%2e/x', 'a/.%2E/b', 'x?y', 'x#y', 'javascript:x', 'data:,x', 'a b']) assert.equal(isSafeRelativePath(p), false, p);
});

test('paths escaping the model directory are rejected', () => {
  rejects(bad((m) => { m.files[0].path = '../outside.onnx'; }), 'files.0.path', 'inside the model directory');
  rejects(bad((m) => { m.files[1].path = '/etc/passwd'; }), 'files.1.path');
  rejects(bad((m) => { m.graphs.encoder.file = 'sub/../../encoder.onnx'; }), 'graphs.encoder.file');
  rejects(bad((m) => { m.graphs.decoder.testData[0].dir = '..'; }), 'graphs.decoder.testData.0.dir');
});

test('missing and malformed fields are named', () => {
  rejects(bad((m) => { delete m.model.latentSize; }), 'model.latentSize');
  rejects(bad((m) => { m.files[0].sha256 = 'XYZ'; }), 'files.0.sha256', 'SHA-256');
  rejects(bad((m) => { m.files[0].bytes = -1; }), 'files.0.bytes');
  rejects(bad((m) => { m.createdAt = 'yesterday'; }), 'createdAt');
  rejects(bad((m) => { m.preprocessing.divisor = 127.5; }), 'preprocessing.divisor');
  rejects(bad((m) => { m.surprise = true; }), /surprise/);
});

test('another format or an unknown formatVersion is refused in one line that says which version this library reads', () => {
  assert.throws(() => parseManifest(bad((m) => { m.formatVersion = 2; }), 'm.json'), (err: Error) => err instanceof ManifestError &&
    err.message === 'm.json has formatVersion 2, but this library understands formatVersion 1 only: the model was written by a newer exporter; upgrade @vae/models (and the runtime that uses it) to load it');
  assert.throws(() => parseManifest(bad((m) => { m.formatVersion = '1'; }), 'm.json'), /^ManifestError: m\.json has formatVersion "1", but this library understands formatVersion 1 only$/);
  assert.throws(() => parseManifest(bad((m) => { m.format = 'something-else'; }), 'm.json'), /^ManifestError: m\.json is not a model manifest of this library: its format is "something-else", expected "vae-onnx-model"$/);
  rejects(bad((m) => { delete m.formatVersion; }), 'formatVersion');
});

test('cross-field rules: graphs, files and the I/O contract', () => {
  rejects(bad((m) => { delete m.graphs.decoder; }), 'a "decoder" graph is required');
  rejects(bad((m) => { m.files = m.files.filter((f: { path: string }) => f.path !== 'decoder.onnx'); }), '"decoder.onnx" is not listed in files');
  rejects(bad((m) => { m.files.push({ ...m.files[0] }); }), 'is listed twice');
  rejects(bad((m) => { m.files.push({ path: 'manifest.json', bytes: 1, sha256: 'b'.repeat(64) }); }), 'cannot list itself');
  rejects(bad((m) => { m.graphs.decoder.bytes += 1; }), 'graphs.decoder.bytes');
  rejects(bad((m) => { m.graphs.decoder.inputs[0].shape = ['N', 4]; }), 'expected z[N,3], found z[N,4]');
  rejects(bad((m) => { m.graphs.encoder.outputs.reverse(); }), 'graphs.encoder.outputs', 'expected mu[N,3] logvar[N,3]');
  rejects(bad((m) => { m.graphs.decoder.outputs[0].name = 'probs'; }), 'expected x_hat[N,784]');
  rejects(bad((m) => { m.graphs['encoder.fp16'] = { ...m.graphs.decoder }; }), 'must be named "decoder" or "decoder.<variant>"');
  rejects(bad((m) => { m.graphs.encoder.testData[0].outputs.push('output_2.pb'); }), '"encoder/test_data_set_0/output_2.pb" is not listed in files');
});

test('JSON errors are reported with the source', () => {
  assert.throws(() => parseManifestText('{ nope', 'x/manifest.json'), /x\/manifest\.json is not valid JSON/);
  assert.equal(parseManifestText(JSON.stringify(fixtureManifest())).name, 'fixture');
});

test('verifyFileBytes (browser-safe) names the file and the mismatch', async () => {
  const files = fixtureFiles();
  const entry = fixtureManifest(files).files.find((f) => f.path === 'decoder.onnx')!;
  await verifyFileBytes(entry, files['decoder.onnx']);
  const tampered = files['decoder.onnx'].slice();
  tampered[5] ^= 1;
  await assert.rejects(verifyFileBytes(entry, tampered), /decoder\.onnx: SHA-256 mismatch: the manifest says [0-9a-f]{64}, the file has [0-9a-f]{64}/);
  await assert.rejects(verifyFileBytes(entry, tampered.subarray(1)), /decoder\.onnx: size mismatch: the manifest says 200 bytes, the file has 199/);
  assert.equal(await sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('the main entry stays browser-safe: no node: imports in the modules index.ts exports', async () => {
  const { readFile } = await import('node:fs/promises');
  for (const file of ['schema.ts', 'index.ts', 'random.ts', 'tolerances.ts']) {
    const text = await readFile(new URL(`../src/${file}`, import.meta.url), 'utf8');
    assert.doesNotMatch(text, /from\s+['"]node:|require\(['"]node:|from\s+['"](fs|path|crypto|os)['"]/, file);
    assert.doesNotMatch(text, /from\s+['"]\.\/node\.js['"]/, `${file} must not import the Node loader`);
  }
});

test('the model block: a conv VAE validates with its conv fields; each architecture refuses the other\'s fields', () => {
  const conv = { architecture: 'conv-vae', inputSize: 784, imageShape: [28, 28], channels: [32, 64], kernelSize: 4, stride: 2, hiddenSizes: [], latentSize: 3, beta: 1 };
  const m = parseManifest(bad((x) => { x.model = conv; }));
  assert.equal(m.model.architecture, 'conv-vae');
  if (m.model.architecture === 'conv-vae') assert.deepEqual(m.model.channels, [32, 64]);
  rejects(bad((x) => { x.model = { ...conv, channels: [] }; }), 'model.channels');
  rejects(bad((x) => { x.model = { ...conv, kernelSize: undefined }; }), 'model.kernelSize');
  rejects(bad((x) => { x.model.channels = [8]; }), 'model', 'channels');
  rejects(bad((x) => { x.model.architecture = 'rnn-vae'; }), 'model.architecture');
  // The I/O contract holds for both: a conv model's latent size must match its graphs'.
  rejects(bad((x) => { x.model = { ...conv, latentSize: 4 }; }), 'graphs.encoder.outputs');
});

test('metrics.test may carry the IWAE NLL, with its sample count, never one without the other', () => {
  const m = parseManifest(bad((x) => { x.metrics.test = { ...x.metrics.test, nll: 91.5, nllSamples: 1000 }; }));
  assert.deepEqual([m.metrics.test.nll, m.metrics.test.nllSamples], [91.5, 1000]);
  assert.equal(parseManifest(fixtureManifest()).metrics.test.nll, undefined);
  rejects(bad((x) => { x.metrics.test.nll = 91.5; }), 'metrics.test', 'nll and nllSamples come together');
  rejects(bad((x) => { x.metrics.test = { ...x.metrics.test, nll: 91.5, nllSamples: 0 }; }), 'metrics.test.nllSamples');
  rejects(bad((x) => { x.metrics.train.nll = 91.5; }), 'metrics.train', 'nll');
});
