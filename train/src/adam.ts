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
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
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

/** Adam's hyperparameters and the shared flat state a sharded update works on. */
export interface FlatAdam {
  learningRate: number; beta1: number; beta2: number; epsilon: number;
  /** Weights, first and second moments: all parameters concatenated in `variables()` order. */
  params: Float32Array; m: Float32Array; v: Float32Array;
}

const f32 = Math.fround;
let scratch = new Float32Array(0);
function gradientScratch(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

/**
 * Update `step` (1-based) of elements [start, end) of a FlatAdam, for the parallel trainer
 * (each worker updates its own slice of shared memory). The gradient is the weighted sum
 * sum_k weights[k] * parts[k][i], added in k order.
 *
 * Bit-identical to summing the parts with tfjs ops and calling `Adam.apply`: every tfjs op
 * above is one IEEE float32 operation, and a float32 +, -, *, / or sqrt computed in float64
 * and rounded once (Math.fround) gives exactly the float32 result. Each fround below is one
 * tfjs op; scalars are rounded to float32 as tfjs does when it makes them tensors.
 * (train/test/parallel.test.ts checks the equality.)
 */
export function adamUpdateSlice(
  a: FlatAdam, step: number, parts: Float32Array[], weights: number[], start: number, end: number,
): void {
  const { params: p, m, v } = a;
  const c1 = 1 - a.beta1 ** step;
  const c2 = 1 - a.beta2 ** step;
  const b1 = f32(a.beta1), ob1 = f32(1 - a.beta1), b2 = f32(a.beta2), ob2 = f32(1 - a.beta2);
  const invSqrtC2 = f32(1 / Math.sqrt(c2)), eps = f32(a.epsilon), lr = f32(a.learningRate / c1);
  // The gradient first, one part at a time (monomorphic loops: ~2x faster than a loop over k inside).
  const g = gradientScratch(end - start);
  const [p0, w0] = [parts[0], f32(weights[0])];
  for (let i = start; i < end; i++) g[i - start] = f32(p0[i] * w0);
  for (let k = 1; k < parts.length; k++) {
    const [pk, wk] = [parts[k], f32(weights[k])];
    for (let i = start; i < end; i++) g[i - start] = f32(g[i - start] + f32(pk[i] * wk));
  }
  for (let i = start; i < end; i++) {
    const gi = g[i - start];
    const mi = f32(f32(m[i] * b1) + f32(gi * ob1));
    const vi = f32(f32(v[i] * b2) + f32(f32(gi * gi) * ob2));
    m[i] = mi;
    v[i] = vi;
    const denom = f32(f32(f32(Math.sqrt(vi)) * invSqrtC2) + eps);
    p[i] = f32(p[i] - f32(f32(mi / denom) * lr));
  }
}
