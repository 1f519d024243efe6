/**
 * From the trained tfjs VAE to the graphs' sources: reads every weight by its layer name and
 * rebuilds the encoder and decoder as tfjs LayersModels (the converter's input), and names
 * and documents their I/O.
 */
import * as tf from '@tensorflow/tfjs';
import { namedLayers, type ConvVae, type VaeConfig, type VaeModel } from '@vae/train';
import {
  DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUTS,
} from '@vae/models';

/** A layer of the trained model the exporter cannot write: names the layer. */
export class UnsupportedLayerError extends Error {
  constructor(readonly layer: string, message: string) {
    super(`layer "${layer}": ${message}`);
    this.name = 'UnsupportedLayerError';
  }
}

export interface DenseWeights { kernel: Float32Array; kernelShape: [number, number]; bias: Float32Array }

export interface VaeWeights {
  config: VaeConfig;
  /** By layer name, in namedLayers order. */
  layers: Map<string, DenseWeights>;
}

/** Expected layer names for a config, in namedLayers order. */
export function expectedLayerNames(config: VaeConfig): string[] {
  const hidden = (prefix: string) => config.hiddenSizes.map((_, i) => `${prefix}.dense${i}`);
  return [...hidden('encoder'), 'encoder.mu', 'encoder.logvar', ...hidden('decoder'), 'decoder.out'];
}

/** Copies the model's weights out of tfjs. A layer the exporter does not know is an error naming it. */
export async function readVaeWeights(model: VaeModel): Promise<VaeWeights> {
  const expected = new Set(expectedLayerNames(model.config));
  const layers = new Map<string, DenseWeights>();
  for (const [name, dense] of namedLayers(model)) {
    if (!expected.has(name)) throw new UnsupportedLayerError(name, 'not a layer of the MLP VAE the exporter knows');
    const [rows, cols] = dense.kernel.shape;
    if (dense.kernel.shape.length !== 2 || dense.bias.shape.length !== 1) {
      throw new UnsupportedLayerError(name, `expected a [in, out] kernel and [out] bias, got [${dense.kernel.shape}] and [${dense.bias.shape}]`);
    }
    layers.set(name, {
      kernel: new Float32Array((await dense.kernel.data()) as Float32Array),
      kernelShape: [rows, cols],
      bias: new Float32Array((await dense.bias.data()) as Float32Array),
    });
  }
  for (const name of expected) if (!layers.has(name)) throw new UnsupportedLayerError(name, 'missing from the model');
  return { config: { ...model.config, hiddenSizes: [...model.config.hiddenSizes] }, layers };
}

/**
 * The MLP's encoder and decoder as tfjs LayersModels of Dense layers named like its variables
 * (`encoder.dense0`), holding copies of the trained weights, so that the converter's Dense
 * mapping writes them. A conv VAE hands its own LayersModel pair to the same path.
 */
export function mlpLayersModels(w: VaeWeights, output: 'probabilities' | 'logits' = 'probabilities'): VaeLayersModels {
  const { inputSize, hiddenSizes, latentSize } = w.config;
  const hidden = (prefix: string, from: tf.SymbolicTensor) =>
    hiddenSizes.reduce((h, _, i) => denseFrom(w, `${prefix}.dense${i}`, 'relu', h), from);
  const x = tf.input({ shape: [inputSize], name: ENCODER_INPUT });
  const trunk = hidden('encoder', x);
  const encoder = tf.model({
    name: 'encoder', inputs: x,
    outputs: [denseFrom(w, 'encoder.mu', 'linear', trunk), denseFrom(w, 'encoder.logvar', 'linear', trunk)],
  });
  const z = tf.input({ shape: [latentSize], name: DECODER_INPUT });
  // The decoder graph ends in the sigmoid: x_hat is pixel probabilities, not the logits training
  // uses (which only the IWAE's decoder asks for).
  const last = output === 'logits' ? 'linear' : 'sigmoid';
  const decoder = tf.model({ name: 'decoder', inputs: z, outputs: denseFrom(w, 'decoder.out', last, hidden('decoder', z)) });
  return { encoder, decoder };
}

/** Applies a Dense layer named `name`, with that layer's trained weights, to `input`. */
function denseFrom(w: VaeWeights, name: string, activation: 'relu' | 'sigmoid' | 'linear', input: tf.SymbolicTensor): tf.SymbolicTensor {
  const weights = w.layers.get(name);
  if (!weights) throw new UnsupportedLayerError(name, 'missing from the model');
  const [rows, units] = weights.kernelShape;
  if (input.shape[1] !== rows) throw new UnsupportedLayerError(name, `kernel is [${rows}, ${units}] but its input has ${input.shape[1]} features`);
  if (weights.bias.length !== units) throw new UnsupportedLayerError(name, `bias has ${weights.bias.length} values, expected ${units}`);
  const layer = tf.layers.dense({ name, units, activation, kernelInitializer: 'zeros' });
  const output = layer.apply(input) as tf.SymbolicTensor;
  tf.tidy(() => layer.setWeights([tf.tensor2d(weights.kernel, [rows, units]), tf.tensor1d(weights.bias)]));
  return output;
}

/** The layer after the conv decoder's logits: the graph's x_hat is probabilities, as the MLP's. */
export const CONV_SIGMOID_LAYER = 'decoder_sigmoid';

/**
 * A conv VAE's graphs' sources: its own encoder, and its decoder (which outputs logits, the
 * loss's input) followed by a Sigmoid activation layer, so the decoder graph ends in Sigmoid like
 * the MLP's and keeps x_hat's contract. The layers are the trained model's own (no copy): node
 * names map back to tfjs layer names (`decoder_deconv1.convtranspose`).
 */
export function convLayersModels(model: ConvVae): VaeLayersModels {
  const [logits] = model.decoder.outputs;
  const xHat = tf.layers.activation({ name: CONV_SIGMOID_LAYER, activation: 'sigmoid' }).apply(logits) as tf.SymbolicTensor;
  return { encoder: model.encoder, decoder: tf.model({ name: 'decoder', inputs: model.decoder.inputs, outputs: xHat }) };
}

/** The conv VAE's kernel size and stride, read from its first conv layer (train/ fixes them for every conv). */
export function convGeometry(model: ConvVae): { kernelSize: number; stride: number } {
  const config = model.encoder.getLayer('encoder_conv1').getConfig() as { kernelSize: number[]; strides: number[] };
  const [kh, kw] = config.kernelSize;
  const [sh, sw] = config.strides;
  if (kh !== kw || sh !== sw) throw new UnsupportedLayerError('encoder_conv1', `kernel ${kh}x${kw} stride ${sh}x${sw}: the manifest describes square kernels and strides`);
  return { kernelSize: kh, stride: sh };
}

/** The encoder (x -> mu, logvar) and decoder (z -> x_hat) to write as graphs. */
export interface VaeLayersModels { encoder: tf.LayersModel; decoder: tf.LayersModel }

/** What `vae export` can write: the MLP's weights (read with readVaeWeights) or a LayersModel pair. */
export type VaeGraphSource = VaeWeights | VaeLayersModels;

/** The LayersModel pair for `source`; `dispose` frees what this function built (not a pair it was given). */
export function layersModelsOf(source: VaeGraphSource): VaeLayersModels & { dispose(): void } {
  if ('encoder' in source) return { ...source, dispose: () => {} };
  const built = mlpLayersModels(source);
  return { ...built, dispose: () => { built.encoder.dispose(); built.decoder.dispose(); } };
}

export const IO_DOCS = {
  x: 'float32 [N, 784]: grayscale images, row-major 28x28, pixel / 255 in [0, 1], white digit on black',
  mu: 'float32 [N, n]: mean of the approximate posterior q(z|x)',
  logvar: 'float32 [N, n]: log-variance (natural log) of q(z|x); sigma = exp(0.5 * logvar)',
  z: 'float32 [N, n]: latent vectors (e.g. mu, or mu + sigma * eps, or samples from N(0, I))',
  x_hat: 'float32 [N, 784]: Bernoulli pixel probabilities in [0, 1] (sigmoid of the logits), row-major 28x28',
};

/** The graphs' inputs and outputs, in the LayersModels' order: the names are the model contract (@vae/models). */
export const GRAPH_IO = {
  encoder: { inputs: [{ name: ENCODER_INPUT, doc: IO_DOCS.x }], outputs: ENCODER_OUTPUTS.map((name) => ({ name, doc: IO_DOCS[name] })) },
  decoder: { inputs: [{ name: DECODER_INPUT, doc: IO_DOCS.z }], outputs: [{ name: DECODER_OUTPUT, doc: IO_DOCS.x_hat }] },
} as const;
