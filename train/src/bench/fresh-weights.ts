import * as tf from '@tensorflow/tfjs';

/**
 * Replaces each variable's tensor with a new one holding the same values, as a parallel
 * worker does every step (worker.ts, loadWeights): the wasm matmuls cache XNNPACK operators
 * per tensor, so the next step re-packs the weights, as training does. Timing a step without
 * this would time cached weights, which training never sees.
 */
export function loadFreshWeights(vars: readonly tf.Variable[]): void {
  const weights = vars.map((v) => v.dataSync().slice());
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape))));
}
