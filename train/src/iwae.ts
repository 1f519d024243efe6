/**
 * Importance-weighted estimate of the negative log-likelihood, -log p(x) (Burda et al., 2016),
 * the standard way to compare VAEs beyond the ELBO:
 *
 *   log p(x) >= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)
 *
 * The bound tightens as k grows (k = 1 is the ELBO with beta = 1) and reaches log p(x) as
 * k -> infinity. p(x|z) is the model's Bernoulli likelihood on the [0, 1] pixels, exactly the
 * paper's BCE term (pixels are not binarised), so the estimate sits on the same scale as
 * Table 1's L_VAE.
 */
import * as tf from '@tensorflow/tfjs';
import { bceWithLogitsPerImage } from './loss.js';
import { decodeLogits, encode, type VaeModel } from './model.js';
import { deriveSeed, standardNormal } from './random.js';

export interface IwaeOptions {
  /** Importance samples per image (default 1000). */
  samples?: number;
  /** Seed of the noise (default 0); the same seed gives the same estimate. */
  seed?: number;
  /** Images per decoder call; samples * imagesPerChunk rows are decoded at once (default 8). */
  imagesPerChunk?: number;
  /**
   * Computes the decoder's logits for `rows` latent rows (row-major [rows, n]) somewhere else
   * than tfjs, e.g. onnxruntime (@vae/export's onnxruntimeLogitsDecoder): everything else, the
   * noise, the weights and the log-mean-exp, stays here. Default: the model's own decoder on
   * the active tfjs backend.
   */
  decodeLogits?: LogitsDecoder;
  onProgress?: (done: number, total: number) => void;
}

/** z [rows, n] -> logits [rows, inputSize], both row-major float32. */
export type LogitsDecoder = (z: Float32Array, rows: number) => Promise<Float32Array>;

export interface IwaeResult {
  /** Mean over the images of -log p(x), nats per image (an upper bound that tightens with k). */
  nll: number;
  /** Mean of the k = 1 bound on the same noise (the beta = 1 negative ELBO), for comparison. */
  elbo: number;
  samples: number;
  images: number;
  /** Per-image -log p(x) estimates. */
  perImage: Float64Array;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** -log p(x) for each row of `images` (count x inputSize pixels in [0, 1]). */
export async function importanceWeightedNll(model: VaeModel, images: Float32Array, options: IwaeOptions = {}): Promise<IwaeResult> {
  const { inputSize, latentSize: n } = model.config;
  const k = options.samples ?? 1000;
  const seed = options.seed ?? 0;
  const chunk = options.imagesPerChunk ?? 8;
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`samples must be a positive integer, got ${k}`);
  if (images.length === 0 || images.length % inputSize !== 0) {
    throw new RangeError(`images: expected a non-empty multiple of ${inputSize} pixels, got ${images.length}`);
  }
  const count = images.length / inputSize;
  const perImage = new Float64Array(count);
  let elboSum = 0;
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    // Noise per image from its own seed, so the estimate does not depend on the chunking.
    const eps = new Float32Array(rows * k * n);
    for (let r = 0; r < rows; r++) eps.set(standardNormal(k * n, deriveSeed(seed, start + r)), r * k * n);
    const x = tf.tensor2d(images.subarray(start * inputSize, (start + rows) * inputSize), [rows, inputSize]);
    const { zFlat, logPzOverQz } = tf.tidy(() => {
      const { mu, logvar } = encode(model, x);
      const e = tf.tensor3d(eps, [rows, k, n]);
      const sigma = tf.exp(tf.mul(logvar, 0.5));
      const z = tf.add(tf.expandDims(mu, 1), tf.mul(tf.expandDims(sigma, 1), e)); // [rows, k, n]
      const logPz = tf.mul(tf.add(tf.sum(tf.square(z), 2), n * LOG_2PI), -0.5);
      // log q(z|x) with z = mu + sigma * eps: the quadratic term is just eps^2.
      const logQz = tf.mul(tf.add(tf.add(tf.sum(tf.square(e), 2), tf.expandDims(tf.sum(logvar, 1), 1)), n * LOG_2PI), -0.5);
      return { zFlat: tf.reshape(z, [rows * k, n]) as tf.Tensor2D, logPzOverQz: tf.sub(logPz, logQz) };
    });
    const logits = options.decodeLogits
      ? tf.tensor2d(await options.decodeLogits((await zFlat.data()) as Float32Array, rows * k), [rows * k, inputSize])
      : decodeLogits(model, zFlat);
    const logW = tf.tidy(() => {
      const xRep = tf.reshape(tf.tile(tf.expandDims(x, 1), [1, k, 1]), [rows * k, inputSize]) as tf.Tensor2D;
      const logPxz = tf.reshape(tf.neg(bceWithLogitsPerImage(logits, xRep)), [rows, k]);
      return tf.add(logPxz, logPzOverQz) as tf.Tensor2D; // [rows, k] log importance weights
    });
    tf.dispose([x, zFlat, logPzOverQz, logits]);
    const w = await logW.data();
    logW.dispose();
    for (let r = 0; r < rows; r++) {
      // log-mean-exp in float64: the weights span hundreds of nats.
      let max = -Infinity;
      for (let i = 0; i < k; i++) max = Math.max(max, w[r * k + i]);
      let sum = 0;
      for (let i = 0; i < k; i++) sum += Math.exp(w[r * k + i] - max);
      perImage[start + r] = -(max + Math.log(sum / k));
      elboSum += -w[r * k];
    }
    options.onProgress?.(start + rows, count);
  }
  const nll = perImage.reduce((s, v) => s + v, 0) / count;
  return { nll, elbo: elboSum / count, samples: k, images: count, perImage };
}
