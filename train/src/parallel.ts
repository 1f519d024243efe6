import type { RunConfig } from './config.js';
import type { Trainer } from './step.js';

export async function createParallelTrainer(_config: RunConfig): Promise<Trainer> {
  throw new Error('parallel training: not written yet');
}
