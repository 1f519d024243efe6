/**
 * The VAE models: the paper's MLP (this file) and the convolutional one (conv-model.ts),
 * behind one set of functions (`createModel`, `encode`, `decodeLogits`, `variables`) that
 * the step, evaluation and IWAE code use without caring which it is.
 *
 * The MLP is written with tfjs-core ops on plain variables so that every weight has a
 * stable name the exporter can read.
 *
 *   encoder: x[784] -> 256 -> 256 (ReLU) -> mu[n], logvar[n]   (two linear heads)
 *   decoder: z[n]   -> 256 -> 256 (ReLU) -> 784                 (logits; sigmoid = pixel probabilities)
 *
 * Kernels are stored [in, out] (x · W + b), tfjs' Dense convention.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from './random.js';
import {
  convDecodeLogits, convEncode, convVariables, createConvVae, disposeConvVae, validateConvConfig,
  type ConvVae, type ConvVaeConfig,
} from './conv-model.js';

/** A model's configuration; `architecture` absent is the MLP (every run made before the conv VAE). */
export type VaeConfig = MlpVaeConfig | ConvVaeConfig;
export type Architecture = 'mlp' | 'conv';
export const ARCHITECTURES: readonly Architecture[] = ['mlp', 'conv'];

export interface MlpVaeConfig {
  architecture?: 'mlp';
  /** Pixels per image (28*28 for MNIST). */
  inputSize: number;
  /** Encoder hidden sizes; the decoder uses them in reverse. Paper: [256, 256]. */
  hiddenSizes: number[];
  /** Latent dimension n. Paper: 1, 2 or 64. */
  latentSize: number;
}

export const PAPER_MODEL: MlpVaeConfig = { inputSize: 784, hiddenSizes: [256, 256], latentSize: 64 };

export interface Dense { kernel: tf.Variable; bias: tf.Variable }

/** Either model; `architecture` tells which. */
export type VaeModel = MlpVae | ConvVae;

/** The MLP's layers in order. Names (e.g. `encoder.dense0`) are part of the checkpoint and export format. */
export interface MlpVae {
  architecture: 'mlp';
  config: MlpVaeConfig;
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

/** A new model of either architecture, its initial weights from `seed`. */
export function createModel(config: VaeConfig, seed: number): VaeModel {
  validateConfig(config);
  return config.architecture === 'conv' ? createConvVae(config, seed) : createVae(config, seed);
}

/** The paper's MLP VAE, PyTorch's init from `seed`. */
export function createVae(config: MlpVaeConfig, seed: number): MlpVae {
  validateMlpConfig(config);
  const rand = mulberry32(seed);
  const { inputSize, hiddenSizes, latentSize } = config;
  const encSizes = [inputSize, ...hiddenSizes];
  const decSizes = [latentSize, ...[...hiddenSizes].reverse()];
  const last = (a: number[]) => a[a.length - 1];
  return {
    architecture: 'mlp',
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
  const arch = (config as { architecture?: unknown }).architecture;
  if (arch !== undefined && !ARCHITECTURES.includes(arch as Architecture)) {
    throw new RangeError(`unknown model architecture "${String(arch)}": expected one of ${ARCHITECTURES.join(', ')}`);
  }
  if (config.architecture === 'conv') validateConvConfig(config);
  else validateMlpConfig(config);
}

function validateMlpConfig(config: MlpVaeConfig): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  if (!ok(config.inputSize)) throw new RangeError(`inputSize must be a positive integer, got ${config.inputSize}`);
  if (!ok(config.latentSize)) throw new RangeError(`latent size must be a positive integer, got ${config.latentSize}`);
  if (config.hiddenSizes.length === 0 || !config.hiddenSizes.every(ok)) {
    throw new RangeError(`hidden sizes must be one or more positive integers, got [${config.hiddenSizes.join(', ')}]`);
  }
}

/**
 * Every layer of the MLP with its name, in a fixed order (encoder first). A conv model has
 * no Dense-only form: export its `encoder` and `decoder` LayersModels instead.
 */
export function namedLayers(model: VaeModel): [string, Dense][] {
  if (model.architecture === 'conv') {
    throw new Error('namedLayers: a conv VAE is not a list of Dense layers; export its encoder and decoder tf.LayersModels');
  }
  return [
    ...model.encoder.hidden.map((d, i): [string, Dense] => [`encoder.dense${i}`, d]),
    ['encoder.mu', model.encoder.mu],
    ['encoder.logvar', model.encoder.logvar],
    ...model.decoder.hidden.map((d, i): [string, Dense] => [`decoder.dense${i}`, d]),
    ['decoder.out', model.decoder.out],
  ];
}

/** All trainable variables, in checkpoint order (MLP: `namedLayers`; conv: `convParameters`). */
export function variables(model: VaeModel): tf.Variable[] {
  if (model.architecture === 'conv') return convVariables(model);
  return namedLayers(model).flatMap(([, d]) => [d.kernel, d.bias]);
}

const linear = (x: tf.Tensor2D, d: Dense, activation?: 'relu') =>
  tf.fused.matMul({ a: x, b: d.kernel as tf.Tensor2D, bias: d.bias, activation }) as tf.Tensor2D;

export function encode(model: VaeModel, x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
  if (model.architecture === 'conv') return convEncode(model, x);
  let h = x;
  for (const d of model.encoder.hidden) h = linear(h, d, 'relu');
  return { mu: linear(h, model.encoder.mu), logvar: linear(h, model.encoder.logvar) };
}

/** Decoder logits; apply `tf.sigmoid` for pixel probabilities. Losses use the logits directly. */
export function decodeLogits(model: VaeModel, z: tf.Tensor2D): tf.Tensor2D {
  if (model.architecture === 'conv') return convDecodeLogits(model, z);
  let h = z;
  for (const d of model.decoder.hidden) h = linear(h, d, 'relu');
  return linear(h, model.decoder.out);
}

export function decode(model: VaeModel, z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sigmoid(decodeLogits(model, z)));
}

export function disposeVae(model: VaeModel): void {
  if (model.architecture === 'conv') return disposeConvVae(model);
  for (const v of variables(model)) v.dispose();
}
