/**
 * Adam (Kingma & Ba) with PyTorch's defaults (eps = 1e-8 added to sqrt(v_hat)).
 *
 * Why not tf.train.adam: its bias correction accumulates beta^t by repeated float32
 * multiplication and rebuilds it with pow() after setWeights(), so a resumed run drifts
 * from an uninterrupted one in the last bits. Here the correction is computed in float64
 * from the step count alone, so "1 epoch + resume 1 epoch" equals "2 epochs" exactly.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions { learningRate: number; beta1?: number; beta2?: number; epsilon?: number }

/** PyTorch's defaults, for every Adam here (this class and the parallel trainer's SIMD kernel). */
export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Number of updates applied so far. */
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(readonly params: tf.Variable[], options: AdamOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
    this.beta2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
    this.epsilon = options.epsilon ?? ADAM_DEFAULTS.epsilon;
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /** Applies one update; `grads[i]` is the gradient of `params[i]`. */
  apply(grads: tf.Tensor[]): void {
    this.step += 1;
    const { beta1: b1, beta2: b2, epsilon } = this;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        // p -= lr * (m / c1) / (sqrt(v / c2) + eps), rearranged to scalar multiplies.
        const denom = tf.add(tf.mul(tf.sqrt(v), 1 / Math.sqrt(c2)), epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), this.learningRate / c1)));
        this.m[i].assign(m);
        this.v[i].assign(v);
      });
    });
  }

  /** Moments as plain arrays, for checkpoints. */
  async state(): Promise<{ step: number; m: Float32Array[]; v: Float32Array[] }> {
    return {
      step: this.step,
      m: await Promise.all(this.m.map((t) => t.data() as Promise<Float32Array>)),
      v: await Promise.all(this.v.map((t) => t.data() as Promise<Float32Array>)),
    };
  }

  restore(state: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    this.step = state.step;
    tf.tidy(() => {
      this.m.forEach((t, i) => t.assign(tf.tensor(state.m[i], t.shape)));
      this.v.forEach((t, i) => t.assign(tf.tensor(state.v[i], t.shape)));
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
