/**
 * The released MLP models (models/released/mnist-n*-beta1) were written by the exporter's own graph builder,
 * before export went through tfjs-to-onnx-converter. Their runs are not in the repository,
 * so this rebuilds each model from the weights in its encoder.onnx and decoder.onnx and its
 * graphs' own docs and metadata, writes every graph again with today's export path, and asks
 * for the released bytes: the same graphs, so the releases (and their sha256 in the
 * manifests) stand without a re-release.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, fromTensorProto, type ModelProto } from '@vae/models/onnx';
import type { Manifest } from '@vae/models';
import { buildGraphs, type Variant } from '../src/export.js';
import { GRAPH_IO, expectedLayerNames, type DenseWeights, type VaeWeights } from '../src/vae.js';
import type { Precision } from '../src/graph.js';

const RELEASED = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'models', 'released');

/** Every layer's kernel and bias, read back from the fp32 encoder and decoder. */
function weightsOf(manifest: Manifest, graphs: ModelProto[]): VaeWeights {
  const tensors = new Map(graphs.flatMap((g) => g.graph.initializer).map((t) => [t.name!, fromTensorProto(t)]));
  const { inputSize, hiddenSizes, latentSize } = manifest.model;
  const config = { inputSize, hiddenSizes: [...hiddenSizes], latentSize };
  const layers = new Map<string, DenseWeights>(expectedLayerNames(config).map((name) => {
    const kernel = tensors.get(`${name}.kernel`)!;
    const bias = tensors.get(`${name}.bias`)!;
    return [name, { kernel: kernel.data as Float32Array, kernelShape: kernel.dims as [number, number], bias: bias.data as Float32Array }];
  }));
  return { config, layers };
}

/** The MLP releases: the ones the older builder wrote. The conv VAE was released through the converter itself (its graphs are rebuilt from its run, which export/test/conv.test.ts covers). */
const mlpReleases: [string, Manifest][] = [];
for (const name of await readdir(RELEASED)) {
  const manifest = JSON.parse(await readFile(join(RELEASED, name, 'manifest.json'), 'utf8')) as Manifest;
  if (manifest.model.architecture === 'mlp-vae') mlpReleases.push([name, manifest]);
}

test('the MLP releases are the ones this test rebuilds', () => {
  assert.deepEqual(mlpReleases.map(([name]) => name).sort(), ['mnist-n2-beta1', 'mnist-n64-beta1']);
});

for (const [name, manifest] of mlpReleases) {
  test(`${name}: today's export path writes the released graphs byte for byte`, async () => {
    const dir = join(RELEASED, name);
    const variants: Variant[] = Object.entries(manifest.graphs).map(([key, g]) => ({ key, role: g.role, precision: g.precision as Precision }));
    const released = new Map(await Promise.all(variants.map(async (v) => [v.key, await readFile(join(dir, `${v.key}.onnx`))] as const)));
    const proto = new Map([...released].map(([k, b]) => [k, decodeModel(b)]));
    const key = (role: string, precision: Precision) => variants.find((v) => v.role === role && v.precision === precision)!.key;
    const written = await buildGraphs(weightsOf(manifest, [proto.get('encoder')!, proto.get('decoder')!]), variants, (role, precision) => {
      const m = proto.get(key(role, precision))!;
      return {
        name: role, doc: m.doc_string!, precision, ...GRAPH_IO[role],
        producer: { name: m.producer_name, version: m.producer_version },
        metadata: Object.fromEntries((m.metadata_props ?? []).map((p) => [p.key, p.value])),
      };
    });
    for (const v of variants) {
      const want = released.get(v.key)!;
      const got = written.get(v.key)!;
      if (!Buffer.from(got).equals(want)) {
        const [a, b] = [decodeModel(got), proto.get(v.key)!];
        assert.deepEqual(a.graph.node, b.graph.node, `${v.key}: nodes`);
        assert.deepEqual(a.graph.initializer.map((t) => t.name), b.graph.initializer.map((t) => t.name), `${v.key}: initializers`);
        assert.deepEqual(a, b, `${v.key}: the ModelProto`);
        assert.fail(`${v.key}.onnx: ${got.length} bytes written, ${want.length} released, and they differ`);
      }
    }
  });
}
