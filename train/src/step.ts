/**
 * One training step and one evaluation pass, on whatever tfjs backend is active.
 * `LocalTrainer` runs them in this thread; `speed/parallel.ts` runs the same functions in
 * worker threads and averages their gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from './adam.js';
import { vaeLoss, bceWithLogitsPerImage, klPerImage } from './loss.js';
import { decodeLogits, encode, variables, type VaeModel } from './model.js';

/** Loss sums over a number of images; divide by `count` for per-image means. */
export interface LossSums { bce: number; kl: number; count: number }

/** Everything needed to continue training: weights in `variables()` order plus Adam's state. */
export interface TrainerState {
  weights: Float32Array[];
  adam: { step: number; m: Float32Array[]; v: Float32Array[] };
}

/** The reparameterised forward pass: z = mu + exp(logvar / 2) * eps. */
function forward(model: VaeModel, x: tf.Tensor2D, eps: tf.Tensor2D) {
  const { mu, logvar } = encode(model, x);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D;
  return { logits: decodeLogits(model, z), mu, logvar };
}

/**
 * Gradients of the batch-mean loss for `x` ([rows, 784]) with noise `eps` ([rows, n]).
 * The caller owns (and must dispose) the returned gradient tensors.
 */
export function computeGradients(model: VaeModel, x: Float32Array, eps: Float32Array, beta: number) {
  const { inputSize, latentSize } = model.config;
  const rows = x.length / inputSize;
  const params = variables(model);
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [rows, inputSize]);
    const et = tf.tensor2d(eps, [rows, latentSize]);
    let bce!: tf.Scalar, kl!: tf.Scalar;
    const { grads } = tf.variableGrads(() => {
      const { logits, mu, logvar } = forward(model, xt, et);
      const loss = vaeLoss(logits, xt, mu, logvar, beta);
      bce = tf.keep(loss.bce);
      kl = tf.keep(loss.kl);
      return loss.total;
    }, params);
    return { grads: params.map((p) => grads[p.name]), bce, kl };
  });
}

/** Summed BCE and KL over `x`, in chunks so memory stays flat for any size. */
export async function evaluateSums(model: VaeModel, x: Float32Array, eps: Float32Array, chunk = 1000): Promise<LossSums> {
  const { inputSize, latentSize } = model.config;
  const rows = x.length / inputSize;
  let bce = 0, kl = 0;
  for (let start = 0; start < rows; start += chunk) {
    const end = Math.min(rows, start + chunk);
    const sums = tf.tidy(() => {
      const xt = tf.tensor2d(x.subarray(start * inputSize, end * inputSize), [end - start, inputSize]);
      const et = tf.tensor2d(eps.subarray(start * latentSize, end * latentSize), [end - start, latentSize]);
      const { logits, mu, logvar } = forward(model, xt, et);
      return tf.stack([tf.sum(bceWithLogitsPerImage(logits, xt)), tf.sum(klPerImage(mu, logvar))]);
    });
    const [b, k] = await sums.data();
    sums.dispose();
    bce += b; kl += k;
  }
  return { bce, kl, count: rows };
}

export async function readState(model: VaeModel, adam: Adam): Promise<TrainerState> {
  const weights = await Promise.all(variables(model).map((v) => v.data() as Promise<Float32Array>));
  return { weights, adam: await adam.state() };
}

export function writeState(model: VaeModel, adam: Adam, state: TrainerState): void {
  const params = variables(model);
  if (state.weights.length !== params.length) {
    throw new Error(`checkpoint has ${state.weights.length} weight tensors, the model has ${params.length}`);
  }
  tf.tidy(() => params.forEach((p, i) => p.assign(tf.tensor(state.weights[i], p.shape))));
  adam.restore(state.adam);
}

/** Trains in the current thread. */
export class LocalTrainer {
  readonly adam: Adam;
  constructor(readonly model: VaeModel, readonly beta: number, learningRate: number) {
    this.adam = new Adam(variables(model), { learningRate });
  }

  /** One Adam step on a batch; returns the batch's loss sums (before the update). */
  async trainStep(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    const { grads, bce, kl } = computeGradients(this.model, x, eps, this.beta);
    this.adam.apply(grads);
    const [b, k] = await Promise.all([bce.data(), kl.data()]);
    tf.dispose([...grads, bce, kl]);
    const count = x.length / this.model.config.inputSize;
    return { bce: b[0] * count, kl: k[0] * count, count };
  }

  evaluate(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    return evaluateSums(this.model, x, eps);
  }

  getState(): Promise<TrainerState> { return readState(this.model, this.adam); }
  async setState(state: TrainerState): Promise<void> { writeState(this.model, this.adam, state); }
  async dispose(): Promise<void> { this.adam.dispose(); }
}

export type Trainer = Pick<LocalTrainer, 'trainStep' | 'evaluate' | 'getState' | 'setState' | 'dispose'>;
