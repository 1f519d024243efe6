/** `vae evaluate`, as a yargs command module (collected by the `vae` binary, cli.ts): rows of the paper's Table 1. */
import type { Argv, CommandModule } from 'yargs';
import { BACKEND_CHOICES, evaluateRun, formatTable1, type BackendChoice } from '@vae/train';
import { BACKEND_HELP } from './train.js';

interface EvaluateArgs { runs: string[]; backend: BackendChoice; 'data-dir'?: string; json: boolean }

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate <runs..>',
  describe: 'Full-test-set BCE, KL and total of trained runs, as rows of the paper\'s Table 1',
  builder: (y: Argv) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'Run directories written by vae train' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: BACKEND_HELP })
      .option('data-dir', { type: 'string', describe: 'Folder with the IDX files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' }) as unknown as Argv<EvaluateArgs>,
  handler: async (a) => {
    const rows = [];
    for (const run of a.runs) rows.push(await evaluateRun(run, { backend: a.backend, dataDir: a['data-dir'] }));
    if (a.json) console.log(JSON.stringify(rows, null, 2));
    else console.log(formatTable1(rows) + `\n\n(${rows[0]?.images ?? 0} test images, ${rows[0]?.backend ?? ''})`);
  },
};
