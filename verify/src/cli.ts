/** The `vae verify` subcommand, as a yargs command module (collected by the `vae` binary in pipeline). */
import type { Argv, CommandModule } from 'yargs';
import { UsageError, type Range } from './onnx-data.js';
import { formatOnnxTable, onnxReportJson, ONNX_REPORT_JSON, ONNX_REPORT_MD, type OnnxParityReport, type Tolerance } from './onnx-report.js';
import { DEFAULT_ATOL, DEFAULT_NODE_THRESHOLD, DEFAULT_QUANTILE, DEFAULT_RTOL, isModelFolder, verifyOnnx, type OnnxVerifyOptions } from './verify-onnx.js';
import { formatTable, reportJson, REPORT_JSON, REPORT_MD, type ParityReport } from './report.js';
import { isRuntimeId, RuntimeSet, RUNTIME_IDS, type RuntimeId } from './runtimes.js';
import { ERROR_STATS, type ErrorStat } from './stats.js';
import { DEFAULT_REPORT_ROOT, verifyModelDirs } from './verify-folder.js';

type Many = string | string[] | undefined;

interface VerifyArgs {
  targets: string[];
  runtimes: string;
  require?: string;
  graphs?: string;
  out: string;
  json: boolean;
  diagnose: boolean;
  heatmaps: boolean;
  reference: string;
  'reference-model'?: string;
  data?: string;
  dim: Many;
  'val-range': Many;
  seed: number;
  sets: number;
  atol: Many;
  rtol: Many;
  'check-error-stat': string;
  'error-quantile': number;
  'node-threshold': number;
}

const list = (v: Many): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

const number = (flag: string, s: string): number => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${flag}: "${s}" is not a number`);
  return v;
};

/** `--atol 1e-4 --atol logits=1e-3`: a default and per-output values. */
export function parseTolerance(flag: string, values: Many, fallback: number): Tolerance {
  const t: Tolerance = { default: fallback, perOutput: {} };
  for (const v of list(values)) {
    const k = v.lastIndexOf('=');
    const value = number(flag, k < 0 ? v : v.slice(k + 1));
    if (value < 0) throw new UsageError(`--${flag}: "${v}" is negative`);
    if (k < 0) t.default = value;
    else t.perOutput[v.slice(0, k)] = value;
  }
  return t;
}

/** `--dim batch=1 --dim input:1=512`: values of symbolic (or unnamed: INPUT:AXIS) dims. */
export function parseDims(values: Many): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const v of list(values)) {
    const k = v.lastIndexOf('=');
    const n = k < 0 ? NaN : Number(v.slice(k + 1));
    if (k <= 0 || !Number.isInteger(n) || n < 1) throw new UsageError(`--dim: "${v}" is not NAME=N with N a positive integer`);
    dims[v.slice(0, k)] = n;
  }
  return dims;
}

/** `--val-range 0,1 --val-range sr=16000,16000`: a default range and per-input ones. */
export function parseRanges(values: Many): { defaultRange: Range; ranges: Record<string, Range> } {
  const out = { defaultRange: [0, 1] as Range, ranges: {} as Record<string, Range> };
  for (const v of list(values)) {
    const k = v.lastIndexOf('=');
    const parts = (k < 0 ? v : v.slice(k + 1)).split(',');
    if (parts.length !== 2) throw new UsageError(`--val-range: "${v}" is not [NAME=]LO,HI`);
    const range: Range = [number('val-range', parts[0]), number('val-range', parts[1])];
    if (range[0] > range[1]) throw new UsageError(`--val-range: "${v}" has LO > HI`);
    if (k < 0) out.defaultRange = range;
    else out.ranges[v.slice(0, k)] = range;
  }
  return out;
}

function onnxOptions(a: VerifyArgs, runtimes: RuntimeId[], require: RuntimeId[]): OnnxVerifyOptions {
  if (!isRuntimeId(a.reference)) throw new UsageError(`--reference: unknown runtime "${a.reference}" (known: ${RUNTIME_IDS.join(', ')})`);
  if (!(ERROR_STATS as readonly string[]).includes(a['check-error-stat'])) throw new UsageError(`--check-error-stat: "${a['check-error-stat']}" is not one of ${ERROR_STATS.join(', ')}`);
  if (!(a['error-quantile'] >= 0 && a['error-quantile'] <= 1)) throw new UsageError(`--error-quantile: ${a['error-quantile']} is not in [0, 1]`);
  if (!Number.isInteger(a.sets) || a.sets < 1) throw new UsageError(`--sets: ${a.sets} is not a positive integer`);
  return {
    runtimes, require, reference: a.reference, referenceModel: a['reference-model'], data: a.data, dims: parseDims(a.dim), ...parseRanges(a['val-range']),
    seed: a.seed, sets: a.sets, atol: parseTolerance('atol', a.atol, DEFAULT_ATOL), rtol: parseTolerance('rtol', a.rtol, DEFAULT_RTOL),
    stat: a['check-error-stat'] as ErrorStat, quantile: a['error-quantile'], nodeThreshold: a['node-threshold'], out: a.out, diagnose: a.diagnose,
    log: (line) => console.error(line),
  };
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
  command: 'verify <targets..>',
  describe: 'Cross-runtime parity of a model directory or any ONNX model (node, web, Chromium wasm / WebGPU); exit 1 on a mismatch, 2 when it cannot run',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 verify TARGET [TARGET...] [options]\n\n' +
          'Runs a model on every runtime -- onnxruntime-node CPU, CUDA and WebGPU, onnxruntime-web wasm in Node, and\n' +
          'onnxruntime-web wasm and WebGPU in headless Chromium -- and compares every output with a reference.\n' +
          'Exit status: 0 every row that ran passed; 1 the runtimes disagree (an output outside its tolerance, a runtime\n' +
          'that failed on the model, or a required runtime skipped); 2 the run could not be made (a bad flag, or a\n' +
          'model, manifest or data set that cannot be read).\n\n' +
          'TARGET is one of:\n' +
          '- our model directory (manifest.json): every graph against its golden outputs (the trained tfjs model),\n' +
          '  tolerances from @vae/models; also the standalone-decoder rows. Report: OUT/<name>/parity-report.{json,md}.\n' +
          '- any ONNX model: MODEL.onnx, or a folder with one .onnx file. Golden data is read from test_data_set_*/\n' +
          '    input_N.pb, output_N.pb (ONNX test-data layout) in that folder or --data DIR. Without it, seeded inputs\n' +
          '    are generated from the graph\'s input types and shapes (--dim for symbolic dims, --val-range, --seed,\n' +
          '    --sets), the --reference runtime computes the reference outputs (or --reference-model on it), and the\n' +
          '    data is saved to OUT/<name>/data/ in the same layout (repeat with --data). dtypes: float32, float16,\n' +
          '    int64, int32, uint8, int8, bool. Per output: absolute and relative error max (and where), mean, median\n' +
          '    and quantile, the minimum passing atol / rtol; Polygraphy\'s check: --atol / --rtol (global or\n' +
          '    OUTPUT=V), --check-error-stat elemwise (fail where absdiff > atol AND reldiff > rtol) or max | mean |\n' +
          '    median | quantile (fail when stat(absdiff) > atol AND stat(reldiff) > rtol). A runtime that cannot\n' +
          '    load or run the model is an error row with onnxruntime\'s message; the standalone rows are skipped.\n' +
          '    Failing rows are diagnosed: If nodes are inlined, every intermediate tensor is marked as an output\n' +
          '    (Polygraphy\'s "mark all") on the failing runtime and the reference (runtime, or --reference-model),\n' +
          '    and the first node, in topological order, whose error exceeds --node-threshold x its scale is named,\n' +
          '    with its op, its inputs\' error and the amplification. Report: OUT/<name>/onnx-parity-report.{json,md}\n' +
          '    (JSON Schema: verify/schema/onnx-parity-report.schema.json).\n\n' +
          'Examples:\n' +
          '  $0 verify models/released/mnist-n2-beta1\n' +
          '  $0 verify model.onnx --dim batch=1 --dim sequence=512 --val-range sr=16000,16000\n' +
          '  $0 verify model.onnx --data parity-report/model/data --atol 1e-4 --atol logits=1e-3 --check-error-stat quantile\n' +
          '  $0 verify edited.onnx --reference-model original.onnx --runtimes node-cpu,chromium-webgpu',
      )
      .positional('targets', { type: 'string', array: true, demandOption: true, describe: 'Model directories (manifest.json), .onnx files, or folders with one .onnx file (+ test_data_set_*)' })
      .option('runtimes', { type: 'string', default: RUNTIME_IDS.join(','), describe: 'Comma-separated runtimes to run' })
      .option('require', { type: 'string', describe: 'Comma-separated runtimes that must run: skipping one fails (e.g. chromium-wasm,chromium-webgpu in CI)' })
      .option('graphs', { type: 'string', describe: 'Comma-separated graph keys to check [default: every graph in the manifest]' })
      .option('out', { type: 'string', default: DEFAULT_REPORT_ROOT, describe: 'Report root: reports go to OUT/<model name>/ (never into the checksummed model dir)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the JSON report(s) instead of the table' })
      .option('diagnose', { type: 'boolean', default: true, describe: 'Find the first diverging node of failing rows (--no-diagnose to skip)' })
      .option('heatmaps', { type: 'boolean', default: true, describe: 'Write per-pixel error heatmaps for decoder rows (--no-heatmaps to skip)' })
      .group(['reference', 'reference-model', 'data', 'dim', 'val-range', 'seed', 'sets', 'atol', 'rtol', 'check-error-stat', 'error-quantile', 'node-threshold'], 'Any ONNX model (not model directories):')
      .option('reference', { type: 'string', default: 'node-cpu', describe: 'Runtime whose outputs are the reference when there are no golden outputs; the diagnosis compares intermediates with it' })
      .option('reference-model', { type: 'string', describe: 'A model file (e.g. the original of an edited model) run on --reference for the reference outputs and intermediates' })
      .option('data', { type: 'string', describe: 'Folder with test_data_set_*/input_N.pb[, output_N.pb] [default: the target folder\'s own]' })
      .option('dim', { type: 'string', describe: 'NAME=N for a symbolic dim (INPUT:AXIS=N for an unnamed one); repeat for several' })
      .option('val-range', { type: 'string', describe: 'Generated values: LO,HI for all inputs or INPUT=LO,HI [default: 0,1; integers LO..HI, bool 0/1]' })
      .option('seed', { type: 'number', default: 1, describe: 'Seed of the generated inputs (set K uses seed + K)' })
      .option('sets', { type: 'number', default: 1, describe: 'How many input sets to generate' })
      .option('atol', { type: 'string', describe: `Absolute tolerance: V, or OUTPUT=V; repeat for several [default: ${DEFAULT_ATOL}]` })
      .option('rtol', { type: 'string', describe: `Relative tolerance: V, or OUTPUT=V; repeat for several [default: ${DEFAULT_RTOL}]` })
      .option('check-error-stat', { type: 'string', default: 'elemwise', describe: `Statistic checked against atol / rtol: ${ERROR_STATS.join(', ')}` })
      .option('error-quantile', { type: 'number', default: DEFAULT_QUANTILE, describe: 'The quantile reported, and checked by --check-error-stat quantile' })
      .option('node-threshold', { type: 'number', default: DEFAULT_NODE_THRESHOLD, describe: 'Diagnosis: a node diverges when max |runtime - reference| > this x max |reference| of its output' })
      .check((a) => {
        parseRuntimeList('runtimes', String(a.runtimes));
        if (a.require !== undefined) parseRuntimeList('require', String(a.require));
        if (a.graphs !== undefined && String(a.graphs).split(',').filter(Boolean).length === 0) throw new Error('--graphs: name at least one graph');
        return true;
      }) as unknown as Argv<VerifyArgs>,
  handler: async (a) => {
    try {
      process.exitCode = (await verifyTargets(a)) ? 0 : 1;
    } catch (err) {
      // Nothing to compare: a flag, a model, a manifest or a data set could not be used.
      console.error(`error: ${(err as Error).message}`);
      process.exitCode = 2;
    }
  },
};

/** Verifies every target (general ONNX models first, then model folders); prints the reports; returns whether all passed. */
async function verifyTargets(a: VerifyArgs): Promise<boolean> {
  const runtimes = parseRuntimeList('runtimes', a.runtimes);
  const require = a.require === undefined ? [] : parseRuntimeList('require', a.require);
  const missing = require.filter((r) => !runtimes.includes(r));
  const folders = a.targets.filter(isModelFolder);
  const others = a.targets.filter((t) => !isModelFolder(t));
  const passed = others.length ? await verifyOnnxTargets(others, a, [...runtimes, ...missing], require) : true;
  if (folders.length === 0) return passed;
  const result = await verifyModelDirs(folders, {
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
  return result.passed && passed;
}

/** Verifies general ONNX targets with one shared RuntimeSet; prints each report; returns whether all passed. */
async function verifyOnnxTargets(targets: string[], a: VerifyArgs, runtimes: RuntimeId[], require: RuntimeId[]): Promise<boolean> {
  const options = { ...onnxOptions(a, runtimes, require), strictNames: targets.length === 1 };
  const set = new RuntimeSet();
  const reports: OnnxParityReport[] = [];
  try {
    for (const t of targets) {
      const { report, dir } = await verifyOnnx(t, set, options);
      reports.push(report);
      if (!a.json) console.log(`${formatOnnxTable(report)}\nreport: ${dir}/${ONNX_REPORT_JSON}, ${dir}/${ONNX_REPORT_MD}\n`);
    }
  } finally {
    await set.close();
  }
  if (a.json) console.log(reports.length === 1 ? onnxReportJson(reports[0]).trimEnd() : `[${reports.map((r) => onnxReportJson(r).trimEnd()).join(',\n')}]`);
  return reports.every((r) => r.passed);
}

export type { ParityReport };
