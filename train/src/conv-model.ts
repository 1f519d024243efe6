/**
 * The convolutional VAE, written with tfjs layers so the encoder and decoder are
 * tf.LayersModels that tfjs-to-onnx-converter exports as they are. Same [N, 784] contract as
 * the MLP (model.ts): the image reshape and the final flatten are layers of the models.
 *
 *   encoder: x[784] -> [28,28,1] -> Conv 4x4/2 32 ReLU [14,14,32] -> Conv 4x4/2 64 ReLU [7,7,64]
 *            -> flatten [3136] -> (hidden Dense ReLU, none by default) -> mu[n], logvar[n]
 *   decoder: z[n] -> (hidden Dense ReLU) -> Dense 3136 ReLU -> [7,7,64]
 *            -> ConvT 4x4/2 32 ReLU [14,14,32] -> ConvT 4x4/2 1 [28,28,1] -> flatten: logits[784]
 *
 * No hidden Dense layer by default: the heads read the 3136 conv features directly, like the
 * usual DCGAN-style VAEs; a 256-unit layer there would add ~20% to a step's flops on a 2-core
 * machine for no clear gain (docs/conv-vae.md).
 *
 * Names are the format: layers are `encoder_conv1`, `decoder_deconv2`, ...; their weights
 * `<layer>/kernel` and `<layer>/bias` (`convParameters`), in that order in checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from './random.js';

export interface ConvVaeConfig {
  architecture: 'conv';
  /** Pixels per image, a square (28*28 for MNIST). */
  inputSize: number;
  /** Filters of the stride-2 conv blocks, encoder order; the decoder mirrors them. */
  channels: number[];
  /** Dense layers between the conv features and the heads (decoder: mirrored). Default none. */
  hiddenSizes: number[];
  latentSize: number;
}

export const CONV_MODEL: ConvVaeConfig = { architecture: 'conv', inputSize: 784, channels: [32, 64], hiddenSizes: [], latentSize: 64 };

/** Every conv: 4x4 filters, stride 2, 'same' padding (so each block halves or doubles the side). */
const KERNEL = 4;
const STRIDE = 2;

export interface ConvVae {
  architecture: 'conv';
  config: ConvVaeConfig;
  /** x[N, inputSize] -> [mu[N, n], logvar[N, n]]. */
  encoder: tf.LayersModel;
  /** z[N, n] -> logits[N, inputSize]. */
  decoder: tf.LayersModel;
}

/** One weight tensor: name, tfjs shape, and the fan-in its PyTorch-style init uses. */
export interface ConvParameter { name: string; shape: number[]; fanIn: number }

interface Geometry { side: number; innerSide: number; features: number }

function geometry(config: ConvVaeConfig): Geometry {
  const side = Math.round(Math.sqrt(config.inputSize));
  const innerSide = side / STRIDE ** config.channels.length;
  return { side, innerSide, features: innerSide * innerSide * config.channels[config.channels.length - 1] };
}

export function validateConvConfig(config: ConvVaeConfig): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  const { inputSize, channels, hiddenSizes, latentSize } = config;
  if (!ok(latentSize)) throw new RangeError(`latent size must be a positive integer, got ${latentSize}`);
  if (channels.length === 0 || !channels.every(ok)) throw new RangeError(`conv channels must be one or more positive integers, got [${channels.join(', ')}]`);
  if (!hiddenSizes.every(ok)) throw new RangeError(`hidden sizes must be positive integers, got [${hiddenSizes.join(', ')}]`);
  const side = Math.round(Math.sqrt(inputSize));
  if (!ok(inputSize) || side * side !== inputSize) throw new RangeError(`conv VAE: inputSize must be a square image, got ${inputSize}`);
  if (side % STRIDE ** channels.length !== 0) {
    throw new RangeError(`conv VAE: image side ${side} must be divisible by ${STRIDE ** channels.length} for ${channels.length} stride-${STRIDE} blocks`);
  }
}

/** Layer names with kernel/bias shapes and fan-ins, encoder first, in checkpoint order. */
export function convParameters(config: ConvVaeConfig): ConvParameter[] {
  const { channels, hiddenSizes, latentSize } = config;
  const { features } = geometry(config);
  const params: ConvParameter[] = [];
  const add = (layer: string, kernel: number[], bias: number, fanIn: number) =>
    params.push({ name: `${layer}/kernel`, shape: kernel, fanIn }, { name: `${layer}/bias`, shape: [bias], fanIn });
  const k2 = KERNEL * KERNEL;
  // Conv2D kernels are [h, w, in, out]; fan-in = h w in.
  channels.forEach((c, i) => { const inC = i === 0 ? 1 : channels[i - 1]; add(`encoder_conv${i + 1}`, [KERNEL, KERNEL, inC, c], c, k2 * inC); });
  const enc = [features, ...hiddenSizes];
  hiddenSizes.forEach((h, i) => add(`encoder_dense${i + 1}`, [enc[i], h], h, enc[i]));
  const top = enc[enc.length - 1];
  add('encoder_mu', [top, latentSize], latentSize, top);
  add('encoder_logvar', [top, latentSize], latentSize, top);
  const dec = [latentSize, ...[...hiddenSizes].reverse()];
  dec.slice(1).forEach((h, i) => add(`decoder_dense${i + 1}`, [dec[i], h], h, dec[i]));
  add('decoder_project', [dec[dec.length - 1], features], features, dec[dec.length - 1]);
  // Conv2DTranspose kernels are [h, w, out, in]; fan-in as PyTorch's ConvTranspose2d computes
  // it (weight [in, out, h, w] -> out h w), so runs start like the reference's.
  const outs = [...channels].reverse().slice(1).concat(1);
  outs.forEach((o, i) => {
    const inC = i === 0 ? channels[channels.length - 1] : outs[i - 1];
    add(`decoder_deconv${i + 1}`, [KERNEL, KERNEL, o, inC], o, k2 * o);
  });
  return params;
}

const conv = (name: string, filters: number, relu: boolean) =>
  tf.layers.conv2d({ name, filters, kernelSize: KERNEL, strides: STRIDE, padding: 'same', activation: relu ? 'relu' : 'linear', kernelInitializer: 'zeros' });
const deconv = (name: string, filters: number, relu: boolean) =>
  tf.layers.conv2dTranspose({ name, filters, kernelSize: KERNEL, strides: STRIDE, padding: 'same', activation: relu ? 'relu' : 'linear', kernelInitializer: 'zeros' });
const dense = (name: string, units: number, relu: boolean) =>
  tf.layers.dense({ name, units, activation: relu ? 'relu' : 'linear', kernelInitializer: 'zeros' });

function buildEncoder(config: ConvVaeConfig): tf.LayersModel {
  const { side } = geometry(config);
  const x = tf.input({ shape: [config.inputSize], name: 'encoder_input' });
  let h = tf.layers.reshape({ name: 'encoder_image', targetShape: [side, side, 1] }).apply(x) as tf.SymbolicTensor;
  config.channels.forEach((c, i) => { h = conv(`encoder_conv${i + 1}`, c, true).apply(h) as tf.SymbolicTensor; });
  h = tf.layers.flatten({ name: 'encoder_flatten' }).apply(h) as tf.SymbolicTensor;
  config.hiddenSizes.forEach((u, i) => { h = dense(`encoder_dense${i + 1}`, u, true).apply(h) as tf.SymbolicTensor; });
  const mu = dense('encoder_mu', config.latentSize, false).apply(h) as tf.SymbolicTensor;
  const logvar = dense('encoder_logvar', config.latentSize, false).apply(h) as tf.SymbolicTensor;
  return tf.model({ name: 'encoder', inputs: x, outputs: [mu, logvar] });
}

function buildDecoder(config: ConvVaeConfig): tf.LayersModel {
  const { innerSide, features } = geometry(config);
  const { channels } = config;
  const z = tf.input({ shape: [config.latentSize], name: 'decoder_input' });
  let h = z;
  [...config.hiddenSizes].reverse().forEach((u, i) => { h = dense(`decoder_dense${i + 1}`, u, true).apply(h) as tf.SymbolicTensor; });
  h = dense('decoder_project', features, true).apply(h) as tf.SymbolicTensor;
  h = tf.layers.reshape({ name: 'decoder_image', targetShape: [innerSide, innerSide, channels[channels.length - 1]] }).apply(h) as tf.SymbolicTensor;
  const outs = [...channels].reverse().slice(1).concat(1);
  outs.forEach((o, i) => { h = deconv(`decoder_deconv${i + 1}`, o, i < outs.length - 1).apply(h) as tf.SymbolicTensor; });
  const logits = tf.layers.flatten({ name: 'decoder_logits' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ name: 'decoder', inputs: z, outputs: logits });
}

/** The trainable variables of `model`, in `convParameters` order. */
export function convVariables(model: ConvVae): tf.Variable[] {
  const layers = [...model.encoder.layers, ...model.decoder.layers];
  return convParameters(model.config).map(({ name, shape }) => {
    const [layerName, weight] = name.split('/');
    const layer = layers.find((l) => l.name === layerName);
    const v = layer?.trainableWeights.find((w) => w.originalName.endsWith(`/${weight}`));
    if (!v || v.shape.join() !== shape.join()) throw new Error(`conv VAE: no weight ${name} of shape [${shape}] in the built model`);
    return v.read() as tf.Variable;
  });
}

/**
 * A conv VAE with PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for kernels and
 * biases, drawn from mulberry32(seed) in `convParameters` order (kernels in tfjs layout, row
 * major): the same seed gives the same weights on every backend and in every worker.
 */
export function createConvVae(config: ConvVaeConfig, seed: number): ConvVae {
  validateConvConfig(config);
  const model: ConvVae = {
    architecture: 'conv',
    config: { ...config, channels: [...config.channels], hiddenSizes: [...config.hiddenSizes] },
    encoder: buildEncoder(config),
    decoder: buildDecoder(config),
  };
  const rand = mulberry32(seed);
  const specs = convParameters(config);
  tf.tidy(() => convVariables(model).forEach((v, i) => {
    const bound = 1 / Math.sqrt(specs[i].fanIn);
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (2 * rand() - 1) * bound), v.shape));
  }));
  return model;
}

export function convEncode(model: ConvVae, x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
  const [mu, logvar] = model.encoder.apply(x) as tf.Tensor2D[];
  return { mu, logvar };
}

export function convDecodeLogits(model: ConvVae, z: tf.Tensor2D): tf.Tensor2D {
  return model.decoder.apply(z) as tf.Tensor2D;
}

export function disposeConvVae(model: ConvVae): void {
  model.encoder.dispose();
  model.decoder.dispose();
}
