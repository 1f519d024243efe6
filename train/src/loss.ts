/**
 * The paper's loss, per image, averaged over the batch:
 *   BCE = -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)],  p = sigmoid(logits)
 *   KL  = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))
 *   total = BCE + beta * KL
 * BCE is computed from logits, max(l, 0) - l*x + log(1 + exp(-|l|)), which is exact and
 * never takes log(0), unlike clamping the sigmoid output.
 */
import * as tf from '@tensorflow/tfjs';

export interface LossTerms { bce: tf.Scalar; kl: tf.Scalar; total: tf.Scalar }

/**
 * Sums each row of `x` ([rows, cols] -> [rows]) with tfjs' own Sum gradient, dy times a
 * tensor of ones, but with the ones made by the backend (tf.fill) instead of as a new
 * JavaScript array on every backward pass ([rows, 784] floats: 400 KB at a worker's 128 rows).
 * In the parallel trainer's worker threads each of those arrays landed on freshly mapped
 * memory: their zero-fill was ~40% of the process's page faults, and the two-thread step was
 * ~6% slower for it (train/README.md, "The parallel trainer"). Same bits as tf.sum's
 * gradient (test/loss.test.ts). tf.broadcastTo would need no ones at all, but tfjs-wasm's Tile
 * kernel behind it is slower than the array was.
 */
export const sumRows = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor2D;
  const [rows, cols] = x.shape;
  return {
    value: tf.sum(x, 1),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.reshape(dy, [rows, 1]), tf.fill([rows, cols], 1)),
  };
}) as (x: tf.Tensor2D) => tf.Tensor1D;

/** Per-image BCE summed over pixels, shape [batch]. */
export function bceWithLogitsPerImage(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const softplusNegAbs = tf.log1p(tf.exp(tf.neg(tf.abs(logits))));
    return sumRows(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), softplusNegAbs));
  });
}

/** Per-image KL(q(z|x) || N(0, I)) summed over latent dims, shape [batch]. */
export function klPerImage(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() =>
    tf.mul(sumRows(tf.sub(tf.sub(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar))), -0.5),
  );
}

export function vaeLoss(logits: tf.Tensor2D, x: tf.Tensor2D, mu: tf.Tensor2D, logvar: tf.Tensor2D, beta: number): LossTerms {
  return tf.tidy(() => {
    const bce = tf.mean(bceWithLogitsPerImage(logits, x)) as tf.Scalar;
    const kl = tf.mean(klPerImage(mu, logvar)) as tf.Scalar;
    return { bce, kl, total: tf.add(bce, tf.mul(kl, beta)) as tf.Scalar };
  });
}
