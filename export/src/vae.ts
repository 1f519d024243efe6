/**
 * From the trained tfjs VAE to layer lists: reads every weight by its layer name and
 * describes the encoder and decoder as GraphSpecs, with their I/O names and docs.
 */
import { namedLayers, type VaeConfig, type VaeModel } from '@vae/train';
import {
  DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT,
} from '@vae/models';
import { UnsupportedLayerError, type LayerSpec } from './graph.js';

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

const dense = (w: VaeWeights, name: string, activation: LayerSpec['activation'], extra: Partial<LayerSpec> = {}): LayerSpec => {
  const weights = w.layers.get(name);
  if (!weights) throw new UnsupportedLayerError(name, 'missing from the model');
  return { name, op: 'dense', activation, ...weights, ...extra };
};

export const IO_DOCS = {
  x: 'float32 [N, 784]: grayscale images, row-major 28x28, pixel / 255 in [0, 1], white digit on black',
  mu: 'float32 [N, n]: mean of the approximate posterior q(z|x)',
  logvar: 'float32 [N, n]: log-variance (natural log) of q(z|x); sigma = exp(0.5 * logvar)',
  z: 'float32 [N, n]: latent vectors (e.g. mu, or mu + sigma * eps, or samples from N(0, I))',
  x_hat: 'float32 [N, 784]: Bernoulli pixel probabilities in [0, 1] (sigmoid of the logits), row-major 28x28',
};

/** x -> hidden (ReLU) -> mu, logvar (linear heads from the last hidden layer). */
export function encoderLayers(w: VaeWeights): LayerSpec[] {
  const hidden = w.config.hiddenSizes.map((_, i) => dense(w, `encoder.dense${i}`, 'relu'));
  const trunk = hidden[hidden.length - 1].name;
  return [
    ...hidden,
    dense(w, 'encoder.mu', 'none', { input: trunk, output: { name: 'mu', doc: IO_DOCS.mu } }),
    dense(w, 'encoder.logvar', 'none', { input: trunk, output: { name: 'logvar', doc: IO_DOCS.logvar } }),
  ];
}

/** z -> hidden (ReLU) -> 784 (sigmoid): pixel probabilities, not logits. */
export function decoderLayers(w: VaeWeights): LayerSpec[] {
  return [
    ...w.config.hiddenSizes.map((_, i) => dense(w, `decoder.dense${i}`, 'relu')),
    dense(w, 'decoder.out', 'sigmoid', { output: { name: DECODER_OUTPUT, doc: IO_DOCS.x_hat } }),
  ];
}

export const ENCODER_IO = { name: ENCODER_INPUT, doc: IO_DOCS.x };
export const DECODER_IO = { name: DECODER_INPUT, doc: IO_DOCS.z };
