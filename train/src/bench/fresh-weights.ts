import * as tf from '@tensorflow/tfjs';

/**
 * Replaces each variable's tensor with a new one holding the same values, as a parallel
 * worker does every step (worker.ts, loadWeights), so a timed step sees weights as training
 * does: new tensors, fresh in no cache (XNNPACK, which still takes the products our kernel
 * does not, caches packed weights per tensor; reading them back also leaves them in the CPU
 * caches, as a worker's copy does).
 */
export function loadFreshWeights(vars: readonly tf.Variable[]): void {
  const weights = vars.map((v) => v.dataSync().slice());
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape))));
}
