/** The `vae verify` subcommand, as a yargs command module (collected by the `vae` binary in pipeline). */
import type { Argv, CommandModule } from 'yargs';
import { formatTable, reportJson, REPORT_JSON, REPORT_MD } from './report.js';
import { isRuntimeId, RUNTIME_IDS, type RuntimeId } from './runtimes.js';
import { DEFAULT_REPORT_ROOT, verifyModelDirs } from './verify.js';

interface VerifyArgs {
  dirs: string[];
  runtimes: string;
  require?: string;
  graphs?: string;
  out: string;
  json: boolean;
  diagnose: boolean;
  heatmaps: boolean;
}

/** A comma-separated runtime list; a usage error (starting with the flag, so the CLI exits 2) names the bad one. */
export function parseRuntimeList(flag: string, value: string): RuntimeId[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !isRuntimeId(s));
  if (bad.length) throw new Error(`--${flag}: unknown runtime ${bad.map((b) => `"${b}"`).join(', ')} (known: ${RUNTIME_IDS.join(', ')})`);
  if (items.length === 0) throw new Error(`--${flag}: name at least one runtime (${RUNTIME_IDS.join(', ')})`);
  return items as RuntimeId[];
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <dirs..>',
  describe: 'Check model directories against their golden outputs on every runtime (parity matrix); exit 1 on any failure',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 verify DIR [DIR...] [options]\n\n' +
          'Loads each model directory (manifest, sizes, SHA-256), then runs every graph (encoder, decoder, fp16 and\n' +
          'int8 decoders) on every runtime and compares each output with the golden outputs (the trained tfjs\n' +
          'model): onnxruntime-node CPU and CUDA, onnxruntime-web wasm in Node, and wasm and WebGPU in headless\n' +
          'Chromium. Prints the table, writes parity-report.json, parity-report.md and decoder heatmaps to\n' +
          'OUT/<model name>/, diagnoses failing rows (first diverging node) and exits 1 on any failure.',
      )
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'Model directories (manifest.json + graphs + golden data)' })
      .option('runtimes', { type: 'string', default: RUNTIME_IDS.join(','), describe: 'Comma-separated runtimes to run' })
      .option('require', { type: 'string', describe: 'Comma-separated runtimes that must run: skipping one fails (e.g. chromium-wasm,chromium-webgpu in CI)' })
      .option('graphs', { type: 'string', describe: 'Comma-separated graph keys to check [default: every graph in the manifest]' })
      .option('out', { type: 'string', default: DEFAULT_REPORT_ROOT, describe: 'Report root: reports go to OUT/<model name>/ (never into the checksummed model dir)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the JSON report(s) instead of the table' })
      .option('diagnose', { type: 'boolean', default: true, describe: 'Find the first diverging node of failing rows (--no-diagnose to skip)' })
      .option('heatmaps', { type: 'boolean', default: true, describe: 'Write per-pixel error heatmaps for decoder rows (--no-heatmaps to skip)' })
      .check((a) => {
        parseRuntimeList('runtimes', String(a.runtimes));
        if (a.require !== undefined) parseRuntimeList('require', String(a.require));
        if (a.graphs !== undefined && String(a.graphs).split(',').filter(Boolean).length === 0) throw new Error('--graphs: name at least one graph');
        return true;
      }) as unknown as Argv<VerifyArgs>,
  handler: async (a) => {
    const runtimes = parseRuntimeList('runtimes', a.runtimes);
    const require = a.require === undefined ? [] : parseRuntimeList('require', a.require);
    const missing = require.filter((r) => !runtimes.includes(r));
    const result = await verifyModelDirs(a.dirs, {
      runtimes: [...runtimes, ...missing],
      require,
      graphs: a.graphs?.split(',').map((s) => s.trim()).filter(Boolean),
      out: a.out,
      diagnose: a.diagnose,
      heatmaps: a.heatmaps,
      log: (line) => console.error(line),
    });
    if (a.json) {
      console.log(result.reports.length === 1 ? reportJson(result.reports[0]).trimEnd() : `[${result.reports.map((r) => reportJson(r).trimEnd()).join(',\n')}]`);
    } else {
      for (const [i, r] of result.reports.entries()) {
        console.log(formatTable(r));
        console.log(`report: ${result.dirs[i]}/${REPORT_JSON}, ${result.dirs[i]}/${REPORT_MD}\n`);
      }
    }
    if (!result.passed) process.exitCode = 1;
  },
};
