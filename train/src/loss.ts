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

/** Per-image BCE summed over pixels, shape [batch]. */
export function bceWithLogitsPerImage(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const softplusNegAbs = tf.log1p(tf.exp(tf.neg(tf.abs(logits))));
    return tf.sum(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), softplusNegAbs), 1);
  });
}

/** Per-image KL(q(z|x) || N(0, I)) summed over latent dims, shape [batch]. */
export function klPerImage(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() =>
    tf.mul(tf.sum(tf.sub(tf.sub(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar)), 1), -0.5),
  );
}

export function vaeLoss(logits: tf.Tensor2D, x: tf.Tensor2D, mu: tf.Tensor2D, logvar: tf.Tensor2D, beta: number): LossTerms {
  return tf.tidy(() => {
    const bce = tf.mean(bceWithLogitsPerImage(logits, x)) as tf.Scalar;
    const kl = tf.mean(klPerImage(mu, logvar)) as tf.Scalar;
    return { bce, kl, total: tf.add(bce, tf.mul(kl, beta)) as tf.Scalar };
  });
}
