/** `vae export`, as a yargs command module (collected by the `vae` binary, cli.ts), on @vae/export. */
import { addStandalone, exportRun, PRODUCER } from '@vae/export';
import { BACKEND_CHOICES, type BackendChoice } from '@vae/train';
import type { Argv, CommandModule } from 'yargs';

interface ExportArgs { run: string; out?: string; 'standalone-only': boolean; force: boolean; backend?: BackendChoice; 'data-dir'?: string; variants: boolean; name?: string; 'iwae-samples': number }

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export <run>',
  describe: 'Export a trained run as ONNX graphs (encoder.onnx, decoder.onnx, fp16/int8 decoders) with manifest.json and golden data',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 export RUN --out DIR [options]\n$0 export DIR --standalone-only\n\n' +
          'Writes DIR/encoder.onnx (x[N,784] -> mu, logvar [N,n]) and DIR/decoder.onnx (z[N,n] -> x_hat[N,784]),\n' +
          'smaller decoder.fp16.onnx and decoder.int8.onnx, golden data in ONNX test_data_set_K folders, and\n' +
          'manifest.json with every file\'s SHA-256. Each graph is checked against tfjs with onnxruntime-node,\n' +
          'and with onnx.checker when python3-onnx is installed. DIR appears only when complete.\n' +
          'DIR also gets the standalone decoder: decoder.mjs (no imports) and decoder[.fp16|.int8].weights.bin (not for a conv VAE: no ConvTranspose there yet).\n' +
          'With --standalone-only, the positional is an existing model directory: its decoder graphs are compiled\n' +
          'into decoder.mjs and the weights files, which are added to manifest.json (no retraining, nothing else changes).',
      )
      .positional('run', { type: 'string', demandOption: true, describe: 'Run directory written by vae train (with --standalone-only: a model directory)' })
      .option('out', { type: 'string', describe: 'Model directory to create' })
      .option('standalone-only', { type: 'boolean', default: false, describe: 'Only add the standalone decoder (decoder.mjs + weights) to the existing model directory RUN' })
      .check((a) => {
        if (a['standalone-only'] && a.out !== undefined) throw new Error('--standalone-only updates the model directory given as the positional argument: drop --out');
        if (!a['standalone-only'] && a.out === undefined) throw new Error('Missing required argument: out');
        return true;
      })
      .option('force', { type: 'boolean', default: false, describe: 'Replace DIR if it holds a previous export' })
      .option('backend', { choices: BACKEND_CHOICES, describe: 'tfjs backend for the golden outputs [default: the one the run was trained with]' })
      .option('data-dir', { type: 'string', describe: 'Folder with the IDX files (for the golden test images)' })
      .option('variants', { type: 'boolean', default: true, describe: 'Also write the fp16 and int8 decoders (--no-variants to skip)' })
      .option('name', { type: 'string', describe: 'Model name in the manifest [default: the name of DIR]' })
      .option('iwae-samples', {
        type: 'number', default: 0,
        describe: 'Also estimate -log p(x) on the full test set by importance weighting with this many samples per image and record it as metrics.test.nll (1000 is the usual; minutes: the decoder runs on onnxruntime-node)',
      })
      .check((a) => {
        if (!(Number.isInteger(a['iwae-samples']) && a['iwae-samples'] >= 0)) throw new Error(`--iwae-samples must be an integer >= 0, got ${a['iwae-samples']}`);
        return true;
      }) as unknown as Argv<ExportArgs>,
  handler: async (a) => {
    const started = performance.now();
    if (a['standalone-only']) {
      const r = await addStandalone(a.run, `${PRODUCER.name} ${PRODUCER.version}`);
      for (const f of r.files) console.log(`${f.path}: ${f.bytes} bytes, sha256 ${f.sha256}${r.changed.includes(f.path) ? '' : ' (unchanged)'}`);
      console.log(r.changed.length ? `updated ${a.run}/manifest.json (${r.changed.length} file(s) written)` : `${a.run} already has this standalone decoder: nothing to do`);
      return;
    }
    const result = await exportRun({
      runDir: a.run, outDir: a.out!, force: a.force, backend: a.backend, dataDir: a['data-dir'], variants: a.variants, name: a.name,
      command: commandLine(a),
      iwaeSamples: a['iwae-samples'],
      onStep: (line) => console.log(line),
      onIwaeProgress: (done, total) => {
        if (done % 1000 < 8 || done === total) console.error(`IWAE: ${done}/${total} test images, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      },
    });
    const graphs = Object.values(result.manifest.graphs).map((g) => `${g.file} (${g.bytes} bytes)`).join(', ');
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${graphs}`);
  },
};

/** The command as given, rebuilt from the parsed options (for the manifest's provenance). */
function commandLine(a: ExportArgs): string {
  const parts = ['vae', 'export', a.run, '--out', a.out!];
  if (a.force) parts.push('--force');
  if (a.backend) parts.push('--backend', a.backend);
  if (a['data-dir']) parts.push('--data-dir', a['data-dir']);
  if (!a.variants) parts.push('--no-variants');
  if (a.name) parts.push('--name', a.name);
  if (a['iwae-samples'] > 0) parts.push('--iwae-samples', String(a['iwae-samples']));
  return parts.map(quoteArg).join(' ');
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
