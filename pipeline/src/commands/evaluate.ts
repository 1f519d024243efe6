/** `vae evaluate`, as a yargs command module (collected by the `vae` binary, cli.ts): rows of the paper's Table 1. */
import type { Argv, CommandModule } from 'yargs';
import {
  BACKEND_CHOICES, disposeVae, evaluateRun, formatTable1, importanceWeightedNll, loadDataset, loadTrainedModel, type BackendChoice, type Evaluation,
} from '@vae/train';
import { onnxruntimeLogitsDecoder } from '@vae/export';
import { BACKEND_HELP } from './train.js';

const IWAE_ENGINES = ['onnxruntime', 'tfjs'] as const;
type IwaeEngine = (typeof IWAE_ENGINES)[number];

interface EvaluateArgs { runs: string[]; backend: BackendChoice; 'data-dir'?: string; json: boolean; 'iwae-samples': number; 'iwae-engine': IwaeEngine }

/** The IWAE estimate of -log p(x) over the run's full test set (evaluateRun has selected the backend). */
async function iwaeOf(run: string, samples: number, engine: IwaeEngine, dataDir: string | undefined): Promise<number> {
  const { model, config } = await loadTrainedModel(run);
  const decoder = engine === 'onnxruntime' ? await onnxruntimeLogitsDecoder(model) : undefined;
  try {
    const test = await loadDataset({ dataset: config.dataset, dataDir, split: 'test' });
    const started = performance.now();
    const { nll } = await importanceWeightedNll(model, test.images, {
      samples,
      decodeLogits: decoder?.decodeLogits,
      onProgress: (done, total) => {
        if (done % 1000 < 8 && process.stderr.isTTY) process.stderr.write(`\r${run}: IWAE ${done}/${total} images, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    return nll;
  } finally {
    await decoder?.release();
    disposeVae(model);
  }
}

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate <runs..>',
  describe: 'Full-test-set BCE, KL and total of trained runs, as rows of the paper\'s Table 1',
  builder: (y: Argv) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'Run directories written by vae train' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: BACKEND_HELP })
      .option('data-dir', { type: 'string', describe: 'Folder with the IDX files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' })
      .option('iwae-samples', {
        type: 'number', default: 0,
        describe: 'Also estimate -log p(x) by importance weighting with this many samples per test image (1000 is the usual; 0 skips it; slow: k decoder passes per image)',
      })
      .option('iwae-engine', {
        choices: IWAE_ENGINES, default: 'onnxruntime' as IwaeEngine,
        describe: 'Where the IWAE decodes its samples: the run\'s decoder converted to ONNX on onnxruntime-node (several times faster), or tfjs on --backend. Same noise and arithmetic otherwise',
      })
      .check((a) => {
        if (!(Number.isInteger(a['iwae-samples']) && a['iwae-samples'] >= 0)) throw new Error(`--iwae-samples must be an integer >= 0, got ${a['iwae-samples']}`);
        return true;
      }) as unknown as Argv<EvaluateArgs>,
  handler: async (a) => {
    const rows: (Evaluation & { iwae?: { samples: number; nll: number } })[] = [];
    for (const run of a.runs) {
      const row = await evaluateRun(run, { backend: a.backend, dataDir: a['data-dir'] });
      const k = a['iwae-samples'];
      rows.push(k > 0 ? { ...row, iwae: { samples: k, nll: await iwaeOf(run, k, a['iwae-engine'], a['data-dir']) } } : row);
    }
    if (a.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    console.log(formatTable1(rows) + `\n\n(${rows[0]?.images ?? 0} test images, ${rows[0]?.backend ?? ''})`);
    for (const [i, r] of rows.entries()) {
      if (r.iwae) console.log(`${a.runs[i]}: IWAE -log p(x) ${r.iwae.nll.toFixed(2)} nats (k = ${r.iwae.samples}; negative ELBO ${r.total.toFixed(2)})`);
    }
  },
};
