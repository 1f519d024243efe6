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
import { float32Tensor, type GoldenSet } from '@vae/models/onnx';

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
