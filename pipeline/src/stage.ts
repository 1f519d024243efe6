#!/usr/bin/env node
/**
 * One pipeline stage, as a Turborepo task runs it: `node dist/stage.js <stage>` with
 * $VAE_CONFIG set (pipeline/turbo.json). Users run `npm run pipeline`, not this.
 */
import { runStage, STAGES, type Stage } from './stages.js';

const stage = process.argv[2] as Stage;
if (!STAGES.includes(stage)) {
  console.error(`usage: node dist/stage.js <${STAGES.join('|')}>   (with VAE_CONFIG set; normally run by npm run pipeline)`);
  process.exit(2);
}
try {
  await runStage(stage);
} catch (e) {
  console.error(`error in stage ${stage}: ${(e as Error).message}`);
  process.exit(1);
}
