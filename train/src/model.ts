/**
 * The paper's MLP VAE, written with tfjs-core ops on plain variables so that every
 * weight has a stable name the exporter can read.
 *
 *   encoder: x[784] -> 256 -> 256 (ReLU) -> mu[n], logvar[n]   (two linear heads)
 *   decoder: z[n]   -> 256 -> 256 (ReLU) -> 784                 (logits; sigmoid = pixel probabilities)
 *
 * Kernels are stored [in, out] (x · W + b), tfjs' Dense convention.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from './random.js';

export interface VaeConfig {
  /** Pixels per image (28*28 for MNIST). */
  inputSize: number;
  /** Encoder hidden sizes; the decoder uses them in reverse. Paper: [256, 256]. */
  hiddenSizes: number[];
  /** Latent dimension n. Paper: 1, 2 or 64. */
  latentSize: number;
}

export const PAPER_MODEL: VaeConfig = { inputSize: 784, hiddenSizes: [256, 256], latentSize: 64 };

export interface Dense { kernel: tf.Variable; bias: tf.Variable }

/** The layers in order. Names (e.g. `encoder.dense0`) are part of the checkpoint and export format. */
export interface VaeModel {
  config: VaeConfig;
  encoder: { hidden: Dense[]; mu: Dense; logvar: Dense };
  decoder: { hidden: Dense[]; out: Dense };
}

/**
 * PyTorch's nn.Linear default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for kernel and
 * bias, so our runs start like the reference implementation's.
 */
function dense(fanIn: number, fanOut: number, rand: () => number): Dense {
  const bound = 1 / Math.sqrt(fanIn);
  const uniform = (size: number) => Float32Array.from({ length: size }, () => (2 * rand() - 1) * bound);
  return {
    kernel: tf.variable(tf.tensor2d(uniform(fanIn * fanOut), [fanIn, fanOut])),
    bias: tf.variable(tf.tensor1d(uniform(fanOut))),
  };
}

export function createVae(config: VaeConfig, seed: number): VaeModel {
  validateConfig(config);
  const rand = mulberry32(seed);
  const { inputSize, hiddenSizes, latentSize } = config;
  const encSizes = [inputSize, ...hiddenSizes];
  const decSizes = [latentSize, ...[...hiddenSizes].reverse()];
  const last = (a: number[]) => a[a.length - 1];
  return {
    config: { ...config, hiddenSizes: [...hiddenSizes] },
    encoder: {
      hidden: hiddenSizes.map((_, i) => dense(encSizes[i], encSizes[i + 1], rand)),
      mu: dense(last(encSizes), latentSize, rand),
      logvar: dense(last(encSizes), latentSize, rand),
    },
    decoder: {
      hidden: hiddenSizes.map((_, i) => dense(decSizes[i], decSizes[i + 1], rand)),
      out: dense(last(decSizes), inputSize, rand),
    },
  };
}

export function validateConfig(config: VaeConfig): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  if (!ok(config.inputSize)) throw new RangeError(`inputSize must be a positive integer, got ${config.inputSize}`);
  if (!ok(config.latentSize)) throw new RangeError(`latent size must be a positive integer, got ${config.latentSize}`);
  if (config.hiddenSizes.length === 0 || !config.hiddenSizes.every(ok)) {
    throw new RangeError(`hidden sizes must be one or more positive integers, got [${config.hiddenSizes.join(', ')}]`);
  }
}

/** Every layer with its name, in a fixed order (encoder first). */
export function namedLayers(model: VaeModel): [string, Dense][] {
  return [
    ...model.encoder.hidden.map((d, i): [string, Dense] => [`encoder.dense${i}`, d]),
    ['encoder.mu', model.encoder.mu],
    ['encoder.logvar', model.encoder.logvar],
    ...model.decoder.hidden.map((d, i): [string, Dense] => [`decoder.dense${i}`, d]),
    ['decoder.out', model.decoder.out],
  ];
}

/** All trainable variables, in the order of `namedLayers`. */
export function variables(model: VaeModel): tf.Variable[] {
  return namedLayers(model).flatMap(([, d]) => [d.kernel, d.bias]);
}

const linear = (x: tf.Tensor2D, d: Dense, activation?: 'relu') =>
  tf.fused.matMul({ a: x, b: d.kernel as tf.Tensor2D, bias: d.bias, activation }) as tf.Tensor2D;

export function encode(model: VaeModel, x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
  let h = x;
  for (const d of model.encoder.hidden) h = linear(h, d, 'relu');
  return { mu: linear(h, model.encoder.mu), logvar: linear(h, model.encoder.logvar) };
}

/** Decoder logits; apply `tf.sigmoid` for pixel probabilities. Losses use the logits directly. */
export function decodeLogits(model: VaeModel, z: tf.Tensor2D): tf.Tensor2D {
  let h = z;
  for (const d of model.decoder.hidden) h = linear(h, d, 'relu');
  return linear(h, model.decoder.out);
}

export function decode(model: VaeModel, z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sigmoid(decodeLogits(model, z)));
}

export function disposeVae(model: VaeModel): void {
  for (const v of variables(model)) v.dispose();
}
