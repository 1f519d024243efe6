/**
 * `vae verify` for any ONNX model (no manifest): the model on every runtime, against golden data
 * in ONNX's test-data layout or against a reference runtime on seeded inputs; Polygraphy's
 * statistics and checks per output; the first diverging node of each failing row.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { diagnoseOnnx } from './onnx-diagnose.js';
import { runRow, runSets, startRuntimes, UsageError, verdict } from './matrix.js';
import { generateInputs, readDataSets, writeDataSets, type DataSet, type Range } from './onnx-data.js';
import { modelIo, parseModel, type ModelIo } from './onnx-graph.js';
import { ONNX_REPORT_FORMAT, ONNX_REPORT_VERSION, writeOnnxReport, type OnnxOutputResult, type OnnxParityReport, type OnnxRowResult, type Tolerance } from './onnx-report.js';
import type { RuntimeInfo } from './report.js';
import { RUNTIME_IDS, type RuntimeId, type RuntimeSet } from './runtimes.js';
import { diffs, minimumPassing, outputStats, passes, type ErrorStat } from './stats.js';
import type { Tensor } from './tensors.js';

export const ONNX_TOOL = '@vae/verify 0.1.0 (vae verify, general ONNX models)';
/** Polygraphy's defaults: atol = rtol = 1e-5, elementwise. */
export const DEFAULT_ATOL = 1e-5;
export const DEFAULT_RTOL = 1e-5;
export const DEFAULT_QUANTILE = 0.99;
/** Default diagnosis threshold: a node diverges when max |runtime - reference| > 1e-3 x max |reference|. */
export const DEFAULT_NODE_THRESHOLD = 1e-3;
const STANDALONE = new Set<RuntimeId>(['standalone-node', 'standalone-chromium']);

export interface OnnxVerifyOptions {
  runtimes?: readonly RuntimeId[];
  require?: readonly RuntimeId[];
  /** The runtime whose outputs are the reference when there is no golden output (default node-cpu). */
  reference?: RuntimeId;
  /** A model file whose outputs (on the reference runtime) are the reference, and whose intermediates the diagnosis compares with. */
  referenceModel?: string;
  /** Test data folder (test_data_set_*): default the target dir's own. */
  data?: string;
  dims?: Record<string, number>;
  ranges?: Record<string, Range>;
  defaultRange?: Range;
  seed?: number;
  sets?: number;
  atol?: Tolerance;
  rtol?: Tolerance;
  stat?: ErrorStat;
  quantile?: number;
  nodeThreshold?: number;
  /** Refuse --val-range names the model lacks (on when it is the only target). */
  strictNames?: boolean;
  out: string;
  diagnose?: boolean;
  log?: (line: string) => void;
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** A target: a .onnx file, or a folder with exactly one .onnx file (test_data_set_* beside it are its golden data). */
export async function resolveTarget(target: string): Promise<{ model: string; dataDir?: string }> {
  if (!existsSync(target)) throw new UsageError(`${target}: no such file or directory`);
  if (statSync(target).isFile()) {
    if (extname(target) !== '.onnx') throw new UsageError(`${target}: not a .onnx file or a model directory`);
    return { model: resolve(target) };
  }
  const files = await readdir(target);
  const models = files.filter((f) => f.endsWith('.onnx'));
  const model = models.length === 1 ? models[0] : models.includes('model.onnx') ? 'model.onnx' : undefined;
  if (!model) throw new UsageError(`${target}: ${models.length ? `${models.length} .onnx files (${models.join(', ')}) and none is model.onnx` : 'no manifest.json and no .onnx file'}: name the model file`);
  return { model: resolve(target, model), dataDir: files.some((f) => /^test_data_set_\d+$/.test(f)) ? resolve(target) : undefined };
}

interface Loaded { path: string; bytes: Uint8Array; io: ModelIo; info: OnnxParityReport['model'] }

async function loadOnnx(path: string): Promise<Loaded> {
  const bytes = new Uint8Array(await readFile(path));
  const model = parseModel(bytes, path);
  const ops: Record<string, number> = {};
  for (const n of model.graph.node) ops[n.op_type] = (ops[n.op_type] ?? 0) + 1;
  let io: ModelIo;
  try {
    io = modelIo(model);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return {
    path, bytes, io,
    info: {
      path, name: basename(path, '.onnx'), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'),
      producer: `${model.producer_name ?? ''} ${model.producer_version ?? ''}`.trim(),
      opsets: model.opset_import.map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })), nodes: model.graph.node.length, ops,
    },
  };
}

/** Every data set of `sets` through the model on one runtime, typed. */
const runTyped = (runtimes: RuntimeSet, id: RuntimeId, bytes: Uint8Array, label: string, sets: DataSet[]): Promise<Record<string, Tensor>[]> =>
  runSets(runtimes.runtime(id), bytes, label, sets, (session, set) => session.runTensors!(set.inputs));

const tol = (t: Tolerance | undefined, name: string, fallback: number) => t?.perOutput[name] ?? t?.default ?? fallback;

function compare(sets: DataSet[], got: Record<string, Tensor>[], o: OnnxVerifyOptions): OnnxOutputResult[] {
  return sets[0].outputs.map((want0) => {
    const name = want0.name;
    const actual = got.map((g) => {
      if (!g[name]) throw new Error(`the runtime returned no output "${name}"`);
      return g[name];
    });
    const check = { atol: tol(o.atol, name, DEFAULT_ATOL), rtol: tol(o.rtol, name, DEFAULT_RTOL), stat: o.stat ?? 'elemwise', quantile: o.quantile ?? DEFAULT_QUANTILE };
    const s = outputStats(diffs(actual, sets.map((x) => x.outputs.find((t) => t.name === name)!)), check);
    return { output: name, dtype: want0.dtype, shape: want0.dims, ...s, atol: check.atol, rtol: check.rtol, minimumTolerance: minimumPassing(s, check.stat), pass: passes(s, check) };
  });
}

/** The data and reference: golden sets (with outputs), or inputs whose outputs the reference runtime computes (saved). */
async function prepareData(model: Loaded, dataDir: string | undefined, reportDir: string, runtimes: RuntimeSet, o: OnnxVerifyOptions): Promise<{ sets: DataSet[]; data: OnnxParityReport['data']; reference: OnnxParityReport['reference'] }> {
  const refId = o.reference ?? 'node-cpu';
  const refModel = o.referenceModel ? await loadOnnx(resolve(o.referenceModel)) : model;
  const generated = !dataDir;
  const sets: DataSet[] = dataDir
    ? await readDataSets(dataDir, model.io)
    : generateInputs(model.io, { dims: o.dims ?? {}, ranges: o.ranges ?? {}, defaultRange: o.defaultRange ?? [0, 1], seed: o.seed ?? 1, sets: o.sets ?? 1, strictNames: o.strictNames }).map((inputs, k) => ({ dir: `test_data_set_${k}`, inputs, outputs: [] }));
  const golden = sets.every((s) => s.outputs.length > 0);
  if (!golden) {
    const start = await runtimes.start(refId);
    if (!start.ok) throw new UsageError(`--reference: ${refId} cannot run here: ${start.reason}`);
    let outs: Record<string, Tensor>[];
    try {
      outs = await runTyped(runtimes, refId, refModel.bytes, refModel.info.name, sets);
    } catch (err) {
      throw new Error(`the reference runtime ${refId} failed on ${refModel.path}: ${firstLine(err)}`);
    }
    sets.forEach((s, k) => { s.outputs = model.io.outputs.map((spec) => ({ ...outs[k][spec.name], name: spec.name })); });
  }
  const dataOut = generated ? join(reportDir, 'data') : dataDir!;
  if (generated) await writeDataSets(dataOut, sets);
  return {
    sets,
    data: {
      source: generated ? 'generated' : 'golden', dir: dataOut, sets: sets.length,
      inputs: sets[0].inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.dims })),
      ...(generated ? { seed: o.seed ?? 1, dims: o.dims ?? {} } : {}),
      repeat: `vae verify ${model.path} --data ${dataOut}`,
    },
    reference: golden
      ? { kind: 'golden', description: `the golden outputs in ${dataDir}` }
      : { kind: 'runtime', runtime: refId, model: refModel.path, description: `${refModel === model ? 'the model' : refModel.path} on ${refId} (outputs saved in ${dataOut})` },
  };
}

/** Verifies one general ONNX model (a .onnx file or a folder with one, plus optional test_data_set_*). */
export async function verifyOnnx(target: string, runtimes: RuntimeSet, o: OnnxVerifyOptions): Promise<{ report: OnnxParityReport; dir: string }> {
  const log = o.log ?? (() => undefined);
  const t = await resolveTarget(target);
  const dataDir = o.data ? resolve(o.data) : t.dataDir;
  const model = await loadOnnx(t.model);
  const reportDir = resolve(o.out, model.info.name.replace(/[^\w.-]+/g, '_'));
  const ids = [...new Set(o.runtimes ?? RUNTIME_IDS)];
  const required = new Set(o.require ?? []);
  const { sets, data, reference } = await prepareData(model, dataDir, reportDir, runtimes, o);
  const notForGeneralModels = (id: RuntimeId) => STANDALONE.has(id) ? 'the standalone decoder runs only our own decoder graphs (@vae/export), not general ONNX models' : undefined;
  const infos = await startRuntimes(runtimes, ids, required, log, model.info.name, notForGeneralModels);
  const rows: OnnxRowResult[] = [];
  for (const info of infos) rows.push(await verifyRow(info, model, sets, runtimes, o, log));
  const failures: string[] = [];
  for (const r of rows) {
    if (r.status === 'error') failures.push(`${r.runtime}: ${r.reason}`);
    for (const x of r.outputs.filter((y) => !y.pass)) {
      const where = r.diagnosis?.firstDiverging ? `; first diverging node ${r.diagnosis.firstDiverging.node} (${r.diagnosis.firstDiverging.op})` : '';
      failures.push(`${r.runtime}: ${x.output} ${x.mismatches} of ${x.count} values mismatch, max abs ${x.abs.max.toExponential(2)} (atol ${x.atol.toExponential(0)}), max rel ${x.rel.max.toExponential(2)} (rtol ${x.rtol.toExponential(0)})${where}`);
    }
  }
  const result = verdict(rows, infos, failures);
  const report: OnnxParityReport = {
    format: ONNX_REPORT_FORMAT, version: ONNX_REPORT_VERSION, createdAt: new Date().toISOString(), tool: ONNX_TOOL,
    model: model.info, data, reference,
    check: { stat: o.stat ?? 'elemwise', quantile: o.quantile ?? DEFAULT_QUANTILE, atol: o.atol ?? { default: DEFAULT_ATOL, perOutput: {} }, rtol: o.rtol ?? { default: DEFAULT_RTOL, perOutput: {} } },
    runtimes: infos, rows, ...result,
  };
  await writeOnnxReport(report, reportDir);
  return { report, dir: reportDir };
}

async function verifyRow(info: RuntimeInfo, model: Loaded, sets: DataSet[], runtimes: RuntimeSet, o: OnnxVerifyOptions, log: (l: string) => void): Promise<OnnxRowResult> {
  const row: OnnxRowResult = { runtime: info.id, status: 'pass', outputs: [], seconds: 0 };
  await runRow(info, row, {
    compare: async () => compare(sets, await runTyped(runtimes, info.id, model.bytes, model.info.name, sets), o),
    diagnose: (o.diagnose ?? true) ? () => diagnoseRow(row, model, sets, runtimes, o) : undefined,
  }, log, model.info.name);
  if (row.status === 'pass' || row.status === 'fail') log(`${model.info.name} on ${info.id}: ${row.status} (${row.seconds} s)`);
  return row;
}

async function diagnoseRow(row: OnnxRowResult, model: Loaded, sets: DataSet[], runtimes: RuntimeSet, o: OnnxVerifyOptions): Promise<void> {
  const refId = o.reference ?? 'node-cpu';
  const worst = row.outputs.filter((x) => !x.pass).sort((a, b) => b.abs.max - a.abs.max)[0];
  const set = worst.abs.argMax?.set ?? 0;
  if (refId === row.runtime && !o.referenceModel) {
    row.diagnosisError = `the reference runtime ${refId} itself disagrees with the golden data, and there is nothing to compare its intermediates with: the model computes something else than what produced the data; rerun with --reference-model ORIGINAL.onnx to find where`;
    return;
  }
  try {
    const start = await runtimes.start(refId);
    if (!start.ok) throw new Error(`the reference runtime ${refId} cannot run: ${start.reason}`);
    const referenceModel = o.referenceModel ? new Uint8Array(await readFile(resolve(o.referenceModel))) : model.bytes;
    row.diagnosis = await diagnoseOnnx({
      model: model.bytes, referenceModel, referenceLabel: `${o.referenceModel ? basename(o.referenceModel) : 'the same model'} on ${refId}`,
      runtime: runtimes.runtime(row.runtime), reference: runtimes.runtime(refId), feeds: sets[set].inputs, set, threshold: o.nodeThreshold ?? DEFAULT_NODE_THRESHOLD,
    });
  } catch (err) {
    row.diagnosisError = firstLine(err);
  }
}

/** Whether a verify target is one of our model folders (manifest.json) rather than a general ONNX model. */
export const isModelFolder = (target: string): boolean => existsSync(target) && statSync(target).isDirectory() && existsSync(join(target, 'manifest.json'));
