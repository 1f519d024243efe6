/**
 * The parity matrix of one or more model directories: every graph (encoder, decoder and its
 * precision variants) on every runtime, against the golden outputs; heatmaps for decoder
 * rows; a diagnosis for failing rows; the report files.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadModelDir, type LoadedModel } from '@vae/models/node';
import { diagnose } from './diagnose.js';
import { readGolden, type GoldenSet } from './golden.js';
import { heatmapPng } from './heatmap.js';
import { absDiff, compareArrays, concat, minimumTolerance } from './metrics.js';
import { runRow, runSets, startRuntimes, verdict } from './matrix.js';
import { writeReport, REPORT_FORMAT, REPORT_VERSION, type OutputResult, type ParityReport, type RowResult } from './report.js';
import { RUNTIME_IDS, RuntimeSet, type RuntimeId } from './runtimes.js';
import { toleranceFor } from '@vae/models';

export const TOOL = '@vae/verify 0.1.0 (vae verify)';
/** Where reports go by default: ./parity-report/<model name>/ (never the model dir, which is checksummed). */
export const DEFAULT_REPORT_ROOT = 'parity-report';

export interface VerifyOptions {
  /** Runtimes to run (default: all five; node-cuda is skipped where unavailable). */
  runtimes?: readonly RuntimeId[];
  /** Runtimes that must run: a skip is a failure (e.g. chromium-webgpu in CI). */
  require?: readonly RuntimeId[];
  /** Graph keys to check (default: every graph in the manifest). */
  graphs?: readonly string[];
  /** Report root: each model's report goes to <out>/<model name>/ (default ./parity-report). */
  out?: string;
  /** Diagnose failing rows (default true). */
  diagnose?: boolean;
  /** Heatmap PNGs for decoder rows (default true). */
  heatmaps?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface VerifyResult {
  reports: ParityReport[];
  /** Report folder of each model. */
  dirs: string[];
  passed: boolean;
}

const safeName = (s: string) => s.replace(/[^\w.-]+/g, '_');

/**
 * Verifies model directories. Every directory is loaded (manifest schema, sizes, SHA-256)
 * before anything runs: a damaged one throws a ManifestError naming the file.
 */
export async function verifyModelDirs(dirs: readonly string[], options: VerifyOptions = {}): Promise<VerifyResult> {
  if (dirs.length === 0) throw new Error('no model directory given');
  const models: LoadedModel[] = [];
  for (const dir of dirs) models.push(await loadModelDir(dir));
  const root = resolve(options.out ?? DEFAULT_REPORT_ROOT);
  const used = new Map<string, number>();
  const runtimes = new RuntimeSet();
  const reports: ParityReport[] = [];
  const outDirs: string[] = [];
  try {
    for (const model of models) {
      const base = safeName(model.manifest.name);
      const n = (used.get(base) ?? 0) + 1;
      used.set(base, n);
      const reportDir = join(root, n === 1 ? base : `${base}-${n}`);
      const report = await verifyModel(model, runtimes, reportDir, options);
      await writeReport(report, reportDir);
      reports.push(report);
      outDirs.push(reportDir);
    }
  } finally {
    await runtimes.close();
  }
  return { reports, dirs: outDirs, passed: reports.every((r) => r.passed) };
}

/** Runs the matrix for one loaded model; heatmaps go to `reportDir`/heatmaps/. */
export async function verifyModel(model: LoadedModel, runtimes: RuntimeSet, reportDir: string, options: VerifyOptions = {}): Promise<ParityReport> {
  const log = options.log ?? (() => undefined);
  const ids = [...new Set(options.runtimes ?? RUNTIME_IDS)];
  const required = new Set(options.require ?? []);
  const m = model.manifest;
  const keys = options.graphs ? [...options.graphs] : Object.keys(m.graphs);
  for (const k of keys) model.graph(k); // throws naming the graphs there are

  const infos = await startRuntimes(runtimes, ids, required, log, m.name);
  const rows: RowResult[] = [];
  for (const key of keys) {
    const graph = model.graph(key);
    const golden = await readGolden(model, key);
    const bytes = await readFile(graph.path);
    for (const info of infos) {
      const row: RowResult = { graph: key, file: graph.file, precision: graph.precision, runtime: info.id, status: 'pass', outputs: [], seconds: 0 };
      rows.push(row);
      let got: Record<string, Float32Array>[] = [];
      await runRow(info, row, {
        compare: async () => {
          got = await runSets(runtimes.runtime(info.id), bytes, graph.file, golden, (session, set) => session.run(set.inputs));
          return compareOutputs(golden, got, info.id, graph.precision);
        },
        afterCompare: async () => {
          if ((options.heatmaps ?? true) && golden[0].outputs.some((o) => o.name === 'x_hat') && m.model.imageShape[0] === m.model.imageShape[1]) {
            row.heatmap = await writeHeatmap(golden, got, reportDir, key, info.id, row.outputs.find((o) => o.output === 'x_hat')!.tolerance, m.model.imageShape[1]);
          }
        },
        diagnose: (options.diagnose ?? true)
          ? async () => { row.diagnosis = await diagnose({ model, graphKey: key, runtimeId: info.id, runtime: runtimes.runtime(info.id), golden }); }
          : undefined,
      }, log, `${m.name}: ${key}`);
      if (row.status !== 'skipped' && row.status !== 'error') {
        log(`${m.name}: ${key} on ${info.id}: ${row.status}${row.status === 'fail' ? ` (${row.outputs.filter((o) => !o.pass).map((o) => `${o.output} max abs ${o.metrics.maxAbs.toExponential(2)} > ${o.tolerance.toExponential(0)}`).join(', ')})` : ''} (${row.seconds} s)`);
      }
    }
  }

  const failures: string[] = [];
  for (const r of rows) {
    if (r.status === 'error') failures.push(`${r.graph} on ${r.runtime}: ${r.reason}`);
    for (const o of r.outputs.filter((x) => !x.pass)) {
      const where = r.diagnosis?.firstDiverging ? `; first diverging node ${r.diagnosis.firstDiverging.node}` : '';
      failures.push(`${r.graph} on ${r.runtime}: ${o.output} max abs error ${o.metrics.maxAbs.toExponential(2)} > tolerance ${o.tolerance.toExponential(0)}${where}`);
    }
  }
  const result = verdict(rows, infos, failures);

  const anyGraph = Object.values(m.graphs)[0];
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    model: { name: m.name, dir: model.dir, description: m.description, latentSize: m.model.latentSize },
    reference: {
      description: `golden outputs of the trained tfjs model (${anyGraph?.parity.reference ?? 'tfjs'}), computed at export on ${m.provenance.backend}` +
        (m.training.backend === m.provenance.backend ? ', the backend it was trained on' : `; trained on ${m.training.backend}`),
      goldenBackend: m.provenance.backend,
      trainingBackend: m.training.backend,
      exporterReference: anyGraph?.parity.reference ?? '',
    },
    tolerances: 'per runtime x precision x output in @vae/models (models/src/tolerances.ts), reasoning in its header',
    runtimes: infos,
    rows,
    ...result,
  };
}

function compareOutputs(golden: GoldenSet[], got: Record<string, Float32Array>[], runtime: RuntimeId, precision: string): OutputResult[] {
  const names = golden[0].outputs.map((o) => o.name);
  return names.map((name) => {
    const actual = concat(got.map((g, i) => {
      const t = g[name];
      if (!t) throw new Error(`${runtime} returned no output "${name}"`);
      const want = golden[i].outputs.find((o) => o.name === name)!;
      if (t.length !== want.data.length) throw new Error(`${runtime}: output "${name}" of ${golden[i].dir} has ${t.length} values, golden ${want.data.length}`);
      return t;
    }));
    const expected = concat(golden.map((s) => s.outputs.find((o) => o.name === name)!.data));
    const metrics = compareArrays(actual, expected, { pixels: name === 'x_hat' });
    const tolerance = toleranceFor(runtime, precision, name);
    return { output: name, metrics, minimumTolerance: minimumTolerance(metrics), tolerance, pass: metrics.maxAbs <= tolerance && metrics.nonFinite === 0 };
  });
}

async function writeHeatmap(golden: GoldenSet[], got: Record<string, Float32Array>[], reportDir: string, graph: string, runtime: RuntimeId, tolerance: number, side: number): Promise<string> {
  const actual = concat(got.map((g) => g.x_hat));
  const expected = concat(golden.map((s) => s.outputs.find((o) => o.name === 'x_hat')!.data));
  const rows = golden.reduce((s, g) => s + g.outputs.find((o) => o.name === 'x_hat')!.dims[0], 0);
  const png = heatmapPng({ errors: absDiff(actual, expected), rows, tolerance, side });
  const rel = `heatmaps/${safeName(graph)}.${runtime}.png`;
  await mkdir(join(reportDir, 'heatmaps'), { recursive: true });
  await writeFile(join(reportDir, rel), png);
  return rel;
}
