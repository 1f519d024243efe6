/**
 * The IWAE with the decoder on onnxruntime-node (iwae-decoder.ts) is the same estimate as with
 * tfjs: same noise, same weights, the logits from the converter's graph instead of tfjs. And
 * `exportRun({ iwaeSamples })` records it as metrics.test.nll.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeVae, importanceWeightedNll, loadDataset, loadTrainedModel, selectBackend, train } from '@vae/train';
import { loadModelDir } from '@vae/models/node';
import { decodeModel } from '@vae/models/onnx';
import { readFile } from 'node:fs/promises';
import { exportRun } from '../src/export.js';
import { onnxruntimeLogitsDecoder } from '../src/iwae-decoder.js';

const DATA = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), '..', 'shared', 'datasets', 'mnist');
let root: string;
let test8: Float32Array;
const runs = { mlp: '', conv: '' };

before(async () => {
  await selectBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'vae-iwae-'));
  runs.mlp = join(root, 'mlp');
  runs.conv = join(root, 'conv');
  const common = { trainLimit: 512, batchSize: 128, epochs: 1, threads: 1, backend: 'wasm' as const, dataDir: DATA, latentSize: 8 };
  await train({ ...common, outDir: runs.mlp, hiddenSizes: [64] });
  await train({ ...common, outDir: runs.conv, architecture: 'conv', channels: [8, 16] });
  test8 = (await loadDataset({ split: 'test', dataDir: DATA })).images.subarray(0, 8 * 784);
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

for (const arch of ['mlp', 'conv'] as const) {
  test(`${arch}: the IWAE with onnxruntime's decoder equals the tfjs one, image by image`, async () => {
    const { model } = await loadTrainedModel(runs[arch]);
    const decoder = await onnxruntimeLogitsDecoder(model, { threads: 1 });
    try {
      assert.match(decoder.runtime, /^onnxruntime-node \d+\.\d+\.\d+ \(cpu, 1 threads\)$/);
      const options = { samples: 50, seed: 4, imagesPerChunk: 3 };
      const tfjs = await importanceWeightedNll(model, test8, options);
      const ort = await importanceWeightedNll(model, test8, { ...options, decodeLogits: decoder.decodeLogits });
      assert.ok(tfjs.nll > 50 && tfjs.nll < 600, `nll ${tfjs.nll}`);
      // float32 logits from two runtimes, summed over 784 pixels: well under a thousandth of a nat.
      for (let i = 0; i < 8; i++) assert.ok(Math.abs(ort.perImage[i] - tfjs.perImage[i]) < 1e-3, `image ${i}: ${ort.perImage[i]} vs ${tfjs.perImage[i]}`);
      assert.ok(Math.abs(ort.elbo - tfjs.elbo) < 1e-3);
      // The bound holds on both: the k-sample estimate is below the single-sample one on average.
      assert.ok(ort.nll < ort.elbo, `${ort.nll} >= ${ort.elbo}`);
    } finally {
      await decoder.release();
      disposeVae(model);
    }
  });
}

test('exportRun({ iwaeSamples }) records metrics.test.nll and nllSamples, in the manifest and the graphs\' metadata', async () => {
  const outDir = join(root, 'model');
  const steps: string[] = [];
  const seen: number[] = [];
  const r = await exportRun({
    runDir: runs.mlp, outDir, dataDir: DATA, variants: false, iwaeSamples: 2,
    onStep: (l) => steps.push(l), onIwaeProgress: (done) => seen.push(done),
  });
  const { nll, nllSamples } = r.manifest.metrics.test;
  assert.equal(nllSamples, 2);
  // The same estimate, recomputed over the test set with tfjs.
  const { model } = await loadTrainedModel(runs.mlp);
  const all = (await loadDataset({ split: 'test', dataDir: DATA })).images;
  const expected = await importanceWeightedNll(model, all, { samples: 2 });
  disposeVae(model);
  assert.ok(Math.abs(nll! - expected.nll) < 1e-3, `${nll} vs ${expected.nll}`);
  assert.equal(steps.length, 11);
  assert.match(steps[3], new RegExp(`^\\[4/11\\] IWAE -log p\\(x\\) ${nll!.toFixed(2)} nats \\(k = 2, 10000 test images; decoder on onnxruntime-node`));
  assert.equal(seen.at(-1), 10000);
  // What loadModelDir validates, and what the graph carries.
  assert.equal((await loadModelDir(outDir)).manifest.metrics.test.nll, nll);
  const graph = decodeModel(await readFile(join(outDir, 'decoder.onnx')));
  const meta = JSON.parse(graph.metadata_props!.find((p) => p.key === 'vae.test_metrics')!.value!);
  assert.deepEqual([meta.nll, meta.nllSamples], [nll, 2]);
  await assert.rejects(exportRun({ runDir: runs.mlp, outDir: join(root, 'x'), dataDir: DATA, iwaeSamples: 1.5 }), /iwaeSamples must be an integer >= 0, got 1.5/);
});
