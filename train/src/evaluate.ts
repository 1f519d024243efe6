/** Loading a trained run and measuring it on the full test set (the paper's Table 1). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendChoice } from './backend.js';
import { loadCheckpoint, type Progress } from './checkpoint.js';
import type { RunConfig } from './config.js';
import { loadDataset } from './data/datasets.js';
import { createModel, disposeVae, variables, type VaeModel } from './model.js';
import { evaluateSums } from './step.js';
import { CHECKPOINT_FILE, means, testNoise, type LossMeans } from './train.js';
import * as tf from '@tensorflow/tfjs';

export interface TrainedRun { model: VaeModel; config: RunConfig; progress: Progress }

/** Builds the model of a run directory (MLP or conv, as its config says) with its checkpoint's weights (on the active backend). */
export async function loadTrainedModel(runDir: string): Promise<TrainedRun> {
  const path = join(runDir, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new Error(`${runDir} is not a training run: it has no ${CHECKPOINT_FILE} (make one with: vae train --out ${runDir})`);
  const { config, progress, state } = await loadCheckpoint(path);
  const model = createModel(config.model, config.seed);
  const params = variables(model);
  if (state.weights.length !== params.length || state.weights.some((w, i) => w.length !== params[i].size)) {
    throw new Error(`${join(runDir, CHECKPOINT_FILE)}: weights do not match the model in its config`);
  }
  tf.tidy(() => params.forEach((p, i) => p.assign(tf.tensor(state.weights[i], p.shape))));
  return { model, config, progress };
}

export interface Evaluation extends LossMeans {
  latentSize: number;
  beta: number;
  epochs: number;
  images: number;
  backend: string;
}

/**
 * Full-test-set BCE, KL and total (nats per image), one reparameterised sample per image
 * with the same fixed noise that training's per-epoch test evaluation uses.
 */
export async function evaluateRun(runDir: string, options: { backend?: BackendChoice; dataDir?: string } = {}): Promise<Evaluation> {
  const backend = await selectBackend(options.backend ?? 'auto');
  const { model, config, progress } = await loadTrainedModel(runDir);
  try {
    const test = await loadDataset({ dataset: config.dataset, dataDir: options.dataDir, split: 'test' });
    const sums = await evaluateSums(model, test.images, testNoise(config, test.count));
    return {
      ...means(sums, config.beta),
      latentSize: config.model.latentSize, beta: config.beta, epochs: progress.epoch,
      images: sums.count, backend: backend.description,
    };
  } finally {
    disposeVae(model);
  }
}

/** Rows in the format of the paper's Table 1. */
export function formatTable1(rows: Evaluation[]): string {
  const lines = ['| n | beta | L_BCE | L_KL | L_VAE |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.latentSize} | ${r.beta} | ${r.bce.toFixed(2)} | ${r.kl.toFixed(2)} | ${r.total.toFixed(2)} |`);
  return lines.join('\n');
}
