/** `vae experiments paper`: the yargs command over runPaperExperiments. */
import type { Argv, CommandModule } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice } from '@vae/train';
import { TABLE1_CONFIGS } from '../config.js';
import { runPaperExperiments } from './experiments.js';

interface ExperimentsArgs {
  experiment: string; epochs?: number; only?: string[]; train: boolean; 'iwae-samples': number;
  runs?: string; out?: string; backend: BackendChoice; threads?: number;
}

export const experimentsCommand: CommandModule<object, ExperimentsArgs> = {
  command: 'experiments <experiment>',
  describe: 'Reproduce the reference experiment: train the Table 1 settings, evaluate, draw the figures (models/paper/)',
  builder: (y: Argv) =>
    y
      .usage('$0 experiments paper [options]\n\nTrains (or resumes) the seven Table 1 settings of the paper (docs/paper.md), evaluates each on\nthe full test set, estimates the n = 64 model\'s NLL and writes models/paper/results.md, results.json\nand the figures. Runs live in runs/paper/ and resume where they stopped, so the 300 epochs can be\nspread over several sessions (Ctrl-C loses at most the current epoch).\nMNIST is found as by vae train: set $VAE_DATA_DIR to name its folder (vae train takes --data-dir).')
      .positional('experiment', { choices: ['paper'] as const, describe: 'Which experiment' })
      .option('epochs', { type: 'number', describe: 'Epochs per setting [default: each config\'s, the paper\'s 300]' })
      .option('only', { type: 'array', string: true, choices: TABLE1_CONFIGS, describe: 'Only these settings (figures need n1-beta1, n2-beta1, paper)' })
      .option('train', { type: 'boolean', default: true, describe: 'Train first; --no-train evaluates the runs as they are' })
      .option('iwae-samples', { type: 'number', default: 1000, describe: 'Importance samples per test image for the NLL of n = 64, beta = 1 (0 skips it)' })
      .option('runs', { type: 'string', describe: 'Run folders [default: runs/paper]' })
      .option('out', { type: 'string', describe: 'Results and figures [default: models/paper]' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: 'tfjs backend' })
      .option('threads', { type: 'number', describe: 'Worker threads for new runs [default: each config\'s]; a resumed run keeps the count it started with. On 2 cores, two settings at --threads 1 side by side finish sooner than one after the other at 2' })
      .check((a) => {
        if (a.threads !== undefined && !(Number.isInteger(a.threads) && a.threads > 0)) throw new Error(`--threads must be a positive integer, got ${a.threads}`);
        if (a.epochs !== undefined && !(Number.isInteger(a.epochs) && a.epochs > 0)) throw new Error(`--epochs must be a positive integer, got ${a.epochs}`);
        if (!(Number.isInteger(a['iwae-samples']) && a['iwae-samples'] >= 0)) throw new Error(`--iwae-samples must be an integer >= 0, got ${a['iwae-samples']}`);
        return true;
      }) as unknown as Argv<ExperimentsArgs>,
  handler: async (a) => {
    await runPaperExperiments({
      epochs: a.epochs, only: a.only, noTrain: !a.train, iwaeSamples: a['iwae-samples'], runsDir: a.runs, outDir: a.out, backend: a.backend, threads: a.threads,
    });
  },
};
