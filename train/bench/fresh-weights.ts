import * as tf from '@tensorflow/tfjs';

/**
 * Replaces each variable's tensor with a new one holding the same values, as a parallel
 * worker does every step (src/speed/worker.ts, loadWeights), so a timed step sees new weight tensors
 * as training does: XNNPACK, which still takes the products our kernel does not, caches
 * packed weights per tensor.
 */
export function loadFreshWeights(vars: readonly tf.Variable[]): void {
  const weights = vars.map((v) => v.dataSync().slice());
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape))));
}
