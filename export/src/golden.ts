/**
 * Golden data: fixed inputs and the tfjs model's outputs for them, written in the ONNX
 * test-data layout (`<graph>/test_data_set_K/input_0.pb`, `output_0.pb`, ... each a
 * serialized TensorProto) so any ONNX runner can replay them.
 *
 * Encoder sets: the first 16 test images; two edge images (all 0, all 1); one image alone (N = 1).
 * Decoder sets: edge latents (0, ±5 everywhere, alternating ±5, ±5 one-hot); 16 seeded
 * N(0, I) vectors; the posterior means of the 16 test images.
 */
import { seededNormals } from '@vae/models';
import * as tf from '@tensorflow/tfjs';
import { decode, encode, type VaeModel } from '@vae/train';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { float32Tensor, readTensorFile, writeTensorFile, type Tensor } from './tensor.js';

export interface GoldenSet {
  description: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

export interface Golden { encoder: GoldenSet[]; decoder: GoldenSet[] }

/** How many test images the encoder's main set uses (the first ones of the test split). */
export const GOLDEN_IMAGES = 16;
/** Seed of the N(0, I) latent set. */
export const GOLDEN_SEED = 20240611;

/** The contract's seeded N(0, I) generator (export's golden latents use it). */
export { seededNormals };

/**
 * Edge latent vectors, one per row: 0; +5 and -5 on every dimension; alternating +5/-5;
 * and +5 / -5 on one dimension at a time, for up to 6 evenly spaced dimensions.
 */
export function edgeLatents(n: number): { rows: number; data: Float32Array } {
  const rows: number[][] = [
    new Array<number>(n).fill(0),
    new Array<number>(n).fill(5),
    new Array<number>(n).fill(-5),
    Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 5 : -5)),
  ];
  const picks = Math.min(n, 6);
  const dims = [...new Set(Array.from({ length: picks }, (_, k) => (picks === 1 ? 0 : Math.round((k * (n - 1)) / (picks - 1)))))];
  for (const d of dims) {
    for (const v of [5, -5]) {
      const row = new Array<number>(n).fill(0);
      row[d] = v;
      rows.push(row);
    }
  }
  return { rows: rows.length, data: Float32Array.from(rows.flat()) };
}

async function runEncoder(model: VaeModel, x: Float32Array, rows: number): Promise<{ mu: Float32Array; logvar: Float32Array }> {
  const input = tf.tensor2d(x, [rows, model.config.inputSize]);
  const { mu, logvar } = encode(model, input);
  const out = { mu: (await mu.data()) as Float32Array, logvar: (await logvar.data()) as Float32Array };
  tf.dispose([input, mu, logvar]);
  return out;
}

async function runDecoder(model: VaeModel, z: Float32Array, rows: number): Promise<Float32Array> {
  const input = tf.tensor2d(z, [rows, model.config.latentSize]);
  const xHat = decode(model, input);
  const out = (await xHat.data()) as Float32Array;
  tf.dispose([input, xHat]);
  return out;
}

/**
 * Builds the golden sets. `testImages` holds the test split's images (pixel / 255), at
 * least GOLDEN_IMAGES + 1 of them.
 */
export async function makeGolden(model: VaeModel, testImages: Float32Array): Promise<Golden> {
  const { inputSize: d, latentSize: n } = model.config;
  if (testImages.length < (GOLDEN_IMAGES + 1) * d) throw new Error(`golden data needs ${GOLDEN_IMAGES + 1} test images`);
  const encoderSet = async (description: string, x: Float32Array): Promise<GoldenSet> => {
    const rows = x.length / d;
    const { mu, logvar } = await runEncoder(model, x, rows);
    return {
      description,
      inputs: [float32Tensor('x', [rows, d], x)],
      outputs: [float32Tensor('mu', [rows, n], mu), float32Tensor('logvar', [rows, n], logvar)],
    };
  };
  const decoderSet = async (description: string, z: Float32Array): Promise<GoldenSet> => {
    const rows = z.length / n;
    return {
      description,
      inputs: [float32Tensor('z', [rows, n], z)],
      outputs: [float32Tensor('x_hat', [rows, d], await runDecoder(model, z, rows))],
    };
  };

  const images = testImages.slice(0, GOLDEN_IMAGES * d);
  const edges = new Float32Array(2 * d);
  edges.fill(1, d);
  const encoder = [
    await encoderSet(`the first ${GOLDEN_IMAGES} test images (test split indices 0-${GOLDEN_IMAGES - 1}), pixel / 255`, images),
    await encoderSet('edge images: all pixels 0 (black), all pixels 1 (white)', edges),
    await encoderSet(`one image alone (test split index ${GOLDEN_IMAGES}), batch size 1`, testImages.slice(GOLDEN_IMAGES * d, (GOLDEN_IMAGES + 1) * d)),
  ];
  const edge = edgeLatents(n);
  const decoder = [
    await decoderSet(`edge latents (${edge.rows} rows): 0; +5 and -5 on every dimension; alternating +5/-5; +5 and -5 on single dimensions`, edge.data),
    await decoderSet(`16 latents drawn from N(0, I) (mulberry32 + Box-Muller, seed ${GOLDEN_SEED})`, seededNormals(16 * n, GOLDEN_SEED)),
    await decoderSet(`the posterior means (mu) of the first ${GOLDEN_IMAGES} test images`, encoder[0].outputs[0].data as Float32Array),
  ];
  return { encoder, decoder };
}

/** One test data set as written: its folder (relative to the model dir) and file names. */
export interface WrittenSet { dir: string; inputs: string[]; outputs: string[]; rows: number; description: string }

/** Writes `sets` as `<modelDir>/<folder>/test_data_set_K/`; returns what it wrote. */
export async function writeGoldenSets(modelDir: string, folder: string, sets: GoldenSet[]): Promise<WrittenSet[]> {
  const written: WrittenSet[] = [];
  for (const [k, set] of sets.entries()) {
    const dir = `${folder}/test_data_set_${k}`;
    await mkdir(join(modelDir, dir), { recursive: true });
    const inputs = set.inputs.map((_, i) => `input_${i}.pb`);
    const outputs = set.outputs.map((_, i) => `output_${i}.pb`);
    for (const [i, t] of set.inputs.entries()) await writeTensorFile(join(modelDir, dir, inputs[i]), t);
    for (const [i, t] of set.outputs.entries()) await writeTensorFile(join(modelDir, dir, outputs[i]), t);
    written.push({ dir, inputs, outputs, rows: set.inputs[0].dims[0], description: set.description });
  }
  return written;
}

/**
 * Reads every `test_data_set_*` folder under `dir` the way ONNX runners do: input_K.pb and
 * output_K.pb in index order, each a TensorProto carrying its tensor's name.
 */
export async function readTestDataSets(dir: string): Promise<(GoldenSet & { dir: string })[]> {
  const index = (name: string, prefix: string) => Number(name.slice(prefix.length).replace(/\.pb$/, ''));
  const folders = (await readdir(dir)).filter((f) => /^test_data_set_\d+$/.test(f)).sort((a, b) => index(a, 'test_data_set_') - index(b, 'test_data_set_'));
  const sets = [];
  for (const folder of folders) {
    const files = await readdir(join(dir, folder));
    const pick = (prefix: string) =>
      files.filter((f) => new RegExp(`^${prefix}\\d+\\.pb$`).test(f)).sort((a, b) => index(a, prefix) - index(b, prefix));
    const inputs = await Promise.all(pick('input_').map((f) => readTensorFile(join(dir, folder, f))));
    const outputs = await Promise.all(pick('output_').map((f) => readTensorFile(join(dir, folder, f))));
    sets.push({ dir: join(dir, folder), description: folder, inputs, outputs });
  }
  return sets;
}
