/**
 * `npm run bench:train`: milliseconds per training step of the paper model (batch 256)
 * on every available backend. Random inputs: speed does not depend on the data.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../backend.js';
import { createVae, encode, decodeLogits, reparameterize, variables, PAPER_MODEL, disposeVae } from '../model.js';
import { vaeLoss } from '../loss.js';
import { Adam } from '../adam.js';

const BATCH = 256;
const STEP_FLOP = 0.9e9; // forward + backward of the paper model at batch 256, ~3x the forward matmuls

async function benchBackend(choice: BackendChoice, steps: number) {
  const info = await selectBackend(choice);
  const model = createVae(PAPER_MODEL, 1);
  const params = variables(model);
  const adam = new Adam(params, { learningRate: 1e-4 });
  const x = tf.randomUniform([BATCH, 784], 0, 1, 'float32', 1) as tf.Tensor2D;
  const step = (i: number) => {
    const { value, grads } = tf.variableGrads(() => {
      const { mu, logvar } = encode(model, x);
      const z = reparameterize(mu, logvar, i);
      return vaeLoss(decodeLogits(model, z), x, mu, logvar, 1).total;
    }, params);
    adam.apply(params.map((p) => grads[p.name]));
    tf.dispose([value, grads as unknown as tf.Tensor[]]);
  };
  for (let i = 0; i < 5; i++) step(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(i);
  await params[0].data();
  const ms = (performance.now() - t0) / steps;
  disposeVae(model); adam.dispose(); x.dispose();
  return { backend: info.description, ms, imagesPerSec: (BATCH * 1000) / ms, gflops: STEP_FLOP / ms / 1e6 };
}

const steps = Number(process.env.BENCH_STEPS ?? 30);
for (const choice of ['tensorflow', 'wasm', 'cpu'] as BackendChoice[]) {
  try {
    const r = await benchBackend(choice, choice === 'cpu' ? Math.min(steps, 3) : steps);
    console.log(`${r.backend.padEnd(62)} ${r.ms.toFixed(1).padStart(7)} ms/step ${r.imagesPerSec.toFixed(0).padStart(7)} img/s ${r.gflops.toFixed(1).padStart(6)} GFLOP/s`);
  } catch (err) {
    console.log(`${choice.padEnd(62)} skipped: ${(err as Error).message}`);
  }
}
