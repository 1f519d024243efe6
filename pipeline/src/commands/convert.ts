/**
 * `vae convert MODEL.json --out DIR`, as a yargs command module (collected by the `vae` binary,
 * cli.ts), on tfjs-to-onnx-converter: any tfjs LayersModel on disk becomes DIR/model.onnx plus
 * golden data in ONNX's test-data layout (seeded inputs, outputs computed by tfjs itself on the
 * cpu backend), so `vae verify DIR` checks the converted graph on every runtime against tfjs.
 *
 * Before anything is written, the graph runs on onnxruntime-node (CPU) on the same inputs and
 * is compared with tfjs. DIR appears whole or not at all: it is assembled in a temporary folder
 * beside it and renamed into place. Exit status: 0 converted and matching; 1 onnxruntime
 * disagrees with tfjs beyond atol 1e-4 + rtol 1e-3 (nothing written unless --allow-mismatch);
 * 2 usage errors, an unreadable model or a layer the converter cannot convert (nothing written).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '@vae/models';
import { writeFileAtomic } from '@vae/models/node';
import { writeGoldenSets, type Tensor } from '@vae/models/onnx';
import {
  ConversionError, DEFAULT_OPSET, convertLayersModel, loadLayersModelFromArtifacts, readModelArtifacts, type ConversionResult,
} from 'tfjs-to-onnx-converter';
import type { Argv, CommandModule } from 'yargs';

/** onnxruntime-node vs tfjs: pass when every element has |ort − tfjs| <= ATOL + RTOL·|tfjs|. */
export const ATOL = 1e-4;
export const RTOL = 1e-3;
const TOL = { atol: ATOL.toExponential(), rtol: RTOL.toExponential() };

interface ConvertArgs {
  model: string; out: string; opset: number; 'nchw-io': boolean; seed: number; batch: number;
  dim: string[]; 'int-high'?: number; force: boolean; 'allow-mismatch': boolean;
}

/** A failure with its exit status: 2 usage / unreadable model / unconvertible layer, 1 mismatch. */
class CommandError extends Error {
  constructor(message: string, readonly code: 1 | 2) { super(message); }
}

const isPositiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** "NAME=N" pairs of --dim, checked. */
function parseDims(list: string[]): Map<string, number> {
  const dims = new Map<string, number>();
  for (const item of list) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new Error(`--dim expects NAME=N with N a positive integer (e.g. img_dim1=28), got "${item}"`);
    dims.set(m[1], Number(m[2]));
  }
  return dims;
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <model>',
  describe: 'Convert any tfjs layers model (model.json + weight shards) to ONNX, with tfjs golden data for vae verify',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 convert MODEL.json --out DIR [options]\n\n' +
          'Loads a TensorFlow.js layers model (model.json and the weight shards it names, or the folder\n' +
          'holding them), converts it with tfjs-to-onnx-converter and writes DIR/model.onnx plus golden data\n' +
          'in ONNX\'s test-data layout, DIR/test_data_set_0/: input_K.pb, seeded inputs (uniform in [0, 1);\n' +
          'integer inputs in 0..--int-high - 1), and output_K.pb, computed by tfjs itself (cpu backend).\n' +
          'The batch is --batch; a dim that is null in the tfjs input shape needs --dim NAME=N, NAME being the\n' +
          'ONNX dim the summary shows (INPUT_dimK, K the ONNX axis). With --nchw-io, rank-4 inputs and outputs\n' +
          'are NCHW, in the graph and in the golden data.\n\n' +
          'Before writing, the graph runs on onnxruntime-node (CPU) on the same inputs. The summary gives the\n' +
          'converted layers, ONNX nodes, Transpose nodes, inputs and outputs with their shapes, and the max\n' +
          'abs error against tfjs. DIR appears whole or not at all (built beside it, then renamed).\n\n' +
          `Exit status: 0 converted, onnxruntime matches tfjs; 1 it does not: |ort - tfjs| > ${TOL.atol} +\n` +
          `${TOL.rtol} * |tfjs| somewhere (nothing written unless --allow-mismatch); 2 a usage error, an\n` +
          'unreadable model (the error names the file and field) or a layer that cannot be converted (the\n' +
          'error names the layer and its class); nothing written.\n\n' +
          'Then `vae verify DIR` runs DIR/model.onnx on every runtime against tfjs\' outputs (at its default\n' +
          `tolerance, 1e-5; add --atol ${TOL.atol} --rtol ${TOL.rtol} for this command's).`,
      )
      .example('$0 convert my-model/model.json --out my-model-onnx', 'batch 2, seed 1')
      .example('$0 convert cnn -o cnn-onnx --nchw-io --dim img_dim2=64', 'NCHW image I/O, null H = 64')
      .example('$0 verify my-model-onnx --runtimes node-cpu,web-node', 'then: other runtimes vs tfjs')
      .positional('model', { type: 'string', demandOption: true, describe: 'tfjs model.json (layers model), or the folder that holds it' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'Folder to create: model.onnx + test_data_set_0/' })
      .option('opset', { type: 'number', default: DEFAULT_OPSET, describe: 'ONNX opset, 13 to 21' })
      .option('nchw-io', { type: 'boolean', default: false, describe: 'Rank-4 (image) inputs and outputs in NCHW: no boundary Transposes' })
      .option('seed', { type: 'number', default: 1, describe: 'Seed of the golden inputs' })
      .option('batch', { type: 'number', default: 2, describe: 'Batch size of the golden inputs' })
      .option('dim', { type: 'string', array: true, default: [] as string[], describe: 'Size of a dynamic dim, NAME=N (repeatable); names as in the summary' })
      .option('int-high', { type: 'number', describe: 'Integer inputs are drawn from 0..N-1 [default: the smallest Embedding inputDim, else 2]' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace DIR if it exists and is not empty' })
      .option('allow-mismatch', { type: 'boolean', default: false, describe: 'Write DIR even when onnxruntime disagrees with tfjs (exit status still 1), for vae verify\'s diagnosis' })
      .check((a) => {
        const opset = a.opset as number;
        if (!(Number.isInteger(opset) && opset >= 13 && opset <= 21)) throw new Error(`--opset must be an integer from 13 to 21, got ${opset}`);
        if (!Number.isInteger(a.seed)) throw new Error(`--seed must be an integer, got ${a.seed}`);
        if (!isPositiveInt(a.batch)) throw new Error(`--batch must be a positive integer, got ${a.batch}`);
        const high = a['int-high'] as number | undefined;
        if (high !== undefined && !isPositiveInt(high)) throw new Error(`--int-high must be a positive integer, got ${high}`);
        if (!a.out) throw new Error('--out needs a folder');
        parseDims((a.dim as string[]) ?? []);
        return true;
      }) as unknown as Argv<ConvertArgs>,
  handler: async (a) => {
    try {
      await convert(a);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      console.error(`error: ${err.message}`);
      process.exit(err.code);
    }
  },
};

/** DIR must be absent or empty, unless --force, and must not hold the model being converted. */
async function checkOut(out: string, force: boolean, model: string): Promise<void> {
  const rel = relative(out, resolve(model));
  if (!rel.startsWith('..') && !isAbsolute(rel)) throw new CommandError(`--out ${out} holds the model being converted (${model}); choose another folder`, 2);
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new CommandError(`--out ${out} exists and is not a folder`, 2);
  if ((await readdir(out)).length > 0 && !force) throw new CommandError(`--out ${out} exists and is not empty; pass --force to replace it`, 2);
}

async function loadModel(path: string): Promise<tf.LayersModel> {
  if (!existsSync(path)) throw new CommandError(`${path}: no such file (expected a tfjs model.json, or the folder holding one)`, 2);
  if (statSync(path).isDirectory() && !existsSync(join(path, 'model.json'))) throw new CommandError(`${join(path, 'model.json')}: no such file`, 2);
  const file = statSync(path).isDirectory() ? join(path, 'model.json') : path;
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await readModelArtifacts(path);
  } catch (err) {
    // The loader's messages name the file or the manifest field (model.json: weightsManifest[0].paths[1] …).
    const message = (err as Error).message;
    throw new CommandError(message.includes(basename(file)) ? message : `${file}: ${message}`, 2);
  }
  const format = (artifacts as { format?: string }).format;
  if (format === 'graph-model') {
    throw new CommandError(`${file}: format is "graph-model": vae convert converts tfjs layers models (format "layers-model"); for a graph model use tf2onnx on its SavedModel`, 2);
  }
  try {
    return await loadLayersModelFromArtifacts(artifacts);
  } catch (err) {
    throw new CommandError(`${file}: modelTopology: tfjs cannot build the model: ${(err as Error).message}`, 2);
  }
}

/** NHWC → NCHW for rank-4 data (row-major). */
function toNchw(data: Float32Array | Int32Array, [n, h, w, c]: number[]): Float32Array | Int32Array {
  const out = new (data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(data.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
    out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  }
  return out;
}

interface IoTensor { name: string; tfShape: number[]; tfData: Float32Array | Int32Array; onnx: Tensor }

/** The concrete tfjs shape of each input: batch from --batch, null dims from --dim (by their ONNX names). */
function inputShapes(model: tf.LayersModel, result: ConversionResult, a: ConvertArgs, dims: Map<string, number>): number[][] {
  const used = new Set<string>();
  const shapes = model.inputs.map((s, i) => {
    const io = result.summary.inputs[i];
    const nchw = a['nchw-io'] && s.shape.length === 4;
    // ONNX axis j holds tfjs axis perm[j]; the converter names null dims after the ONNX axis.
    const perm = nchw ? [0, 3, 1, 2] : s.shape.map((_, k) => k);
    const shape = [...s.shape] as (number | null)[];
    perm.forEach((logical, j) => {
      if (logical === 0) { shape[0] = a.batch; return; }
      if (shape[logical] !== null) return;
      const name = String(io.shape[j]);
      const size = dims.get(name);
      if (size === undefined) {
        throw new CommandError(`--dim: input "${io.name}" axis ${j} ("${name}") has no fixed size in the tfjs model (shape [${s.shape.map(String).join(', ')}]); give one with --dim ${name}=N`, 2);
      }
      used.add(name);
      shape[logical] = size;
    });
    return shape as number[];
  });
  const unknown = [...dims.keys()].filter((k) => !used.has(k));
  if (unknown.length) {
    const known = result.summary.inputs.flatMap((io) => io.shape.filter((d, j) => typeof d === 'string' && j > 0)).map(String);
    throw new CommandError(`--dim ${unknown.join(', ')}: no such dynamic dim (the model's: ${known.length ? known.join(', ') : 'none besides the batch'})`, 2);
  }
  return shapes;
}

/** The smallest Embedding inputDim (a valid index range for every Embedding), or undefined. */
function embeddingRange(model: tf.LayersModel): number | undefined {
  const sizes: number[] = [];
  const visit = (m: tf.LayersModel) => {
    for (const l of m.layers) {
      if (l instanceof tf.LayersModel) visit(l);
      else if (l.getClassName() === 'Embedding') sizes.push((l.getConfig() as { inputDim: number }).inputDim);
    }
  };
  visit(model);
  return sizes.length ? Math.min(...sizes) : undefined;
}

/** Seeded inputs (tfjs layout and ONNX layout) and tfjs' outputs for them. */
function golden(model: tf.LayersModel, result: ConversionResult, a: ConvertArgs, shapes: number[][]): { inputs: IoTensor[]; outputs: IoTensor[] } {
  const rand = mulberry32(a.seed);
  const high = a['int-high'] ?? embeddingRange(model) ?? 2;
  const nchw = (shape: number[]) => a['nchw-io'] && shape.length === 4;
  const onnxOf = (name: string, shape: number[], data: Float32Array | Int32Array): Tensor => ({
    name, dtype: data instanceof Int32Array ? 'int32' : 'float32',
    dims: nchw(shape) ? [shape[0], shape[3], shape[1], shape[2]] : shape,
    data: nchw(shape) ? toNchw(data, shape) : data,
  });
  const inputs = model.inputs.map((s, i) => {
    const shape = shapes[i];
    const count = shape.reduce((x, y) => x * y, 1);
    const data = s.dtype === 'int32'
      ? Int32Array.from({ length: count }, () => Math.floor(rand() * high))
      : Float32Array.from({ length: count }, () => rand());
    const name = result.summary.inputs[i].name;
    return { name, tfShape: shape, tfData: data, onnx: onnxOf(name, shape, data) };
  });
  const outputs = tf.tidy(() => {
    const feeds = inputs.map((t, i) => tf.tensor(t.tfData, t.tfShape, model.inputs[i].dtype as 'float32' | 'int32'));
    const out = model.predict(feeds.length === 1 ? feeds[0] : feeds, { batchSize: a.batch });
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape as number[], data: t.dataSync() as Float32Array | Int32Array }));
  });
  return {
    inputs,
    outputs: outputs.map((o, i) => {
      const name = result.summary.outputs[i].name;
      const data = o.data instanceof Int32Array ? o.data : Float32Array.from(o.data);
      return { name, tfShape: o.shape, tfData: data, onnx: onnxOf(name, o.shape, data) };
    }),
  };
}

interface Parity { maxAbs: number; worst: string; failures: number }

/** Runs the graph on onnxruntime-node (CPU, 1 thread) and compares with tfjs' outputs. */
async function runOrt(bytes: Uint8Array, inputs: IoTensor[], outputs: IoTensor[]): Promise<Parity> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = new ort.Tensor(t.onnx.dtype as 'float32' | 'int32', t.onnx.data as Float32Array | Int32Array, t.onnx.dims);
    const got = await session.run(feeds);
    const parity: Parity = { maxAbs: 0, worst: outputs[0]?.name ?? '', failures: 0 };
    for (const want of outputs) {
      const t = got[want.name];
      if (!t) throw new CommandError(`onnxruntime returned no output "${want.name}"`, 1);
      if (t.dims.join(',') !== want.onnx.dims.join(',')) {
        throw new CommandError(`output "${want.name}": onnxruntime gives shape [${t.dims.join(', ')}], tfjs [${want.onnx.dims.join(', ')}]`, 1);
      }
      const data = t.data as Float32Array | Int32Array;
      const ref = want.onnx.data as Float32Array | Int32Array;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(Number(data[i]) - ref[i]);
        // NaN or an infinity counts as a mismatch unless tfjs has the same value there.
        const same = Object.is(Number(data[i]), ref[i]);
        if (!same && !(d <= ATOL + RTOL * Math.abs(ref[i]))) parity.failures++;
        if (!same && !(d <= parity.maxAbs)) { parity.maxAbs = Number.isNaN(d) ? Infinity : d; parity.worst = want.name; }
      }
    }
    return parity;
  } finally {
    await session.release();
  }
}

/** Writes model.onnx + test_data_set_0 into a temporary folder beside `out`, then renames it into place. */
async function writeAtomically(out: string, bytes: Uint8Array, inputs: IoTensor[], outputs: IoTensor[], description: string): Promise<string[]> {
  const parent = dirname(out);
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.${basename(out)}.${process.pid}.tmp`);
  const old = join(parent, `.${basename(out)}.${process.pid}.old`);
  await rm(temp, { recursive: true, force: true });
  try {
    await mkdir(temp);
    await writeFileAtomic(join(temp, 'model.onnx'), bytes);
    const [set] = await writeGoldenSets(temp, '.', [{ description, inputs: inputs.map((t) => t.onnx), outputs: outputs.map((t) => t.onnx) }]);
    const existed = existsSync(out);
    if (existed) await rename(out, old);
    try {
      await rename(temp, out);
    } catch (err) {
      if (existed) await rename(old, out);
      throw err;
    }
    if (existed) await rm(old, { recursive: true, force: true });
    return ['model.onnx', ...[...set.inputs, ...set.outputs].map((f) => `test_data_set_0/${f}`)];
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

const shapeText = (shape: (number | string)[]) => `[${shape.join(', ')}]`;
const counts = (names: string[]) => {
  const c = new Map<string, number>();
  for (const n of names) c.set(n, (c.get(n) ?? 0) + 1);
  return [...c].map(([k, v]) => `${k} ${v}`).join(', ');
};

async function convert(a: ConvertArgs): Promise<void> {
  const started = performance.now();
  const out = resolve(a.out);
  const dims = parseDims(a.dim);
  await checkOut(out, a.force, a.model);
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await loadModel(a.model);

  let result: ConversionResult;
  try {
    result = await convertLayersModel(model, { opset: a.opset, nchwIo: a['nchw-io'] });
  } catch (err) {
    if (err instanceof ConversionError) throw new CommandError(`${a.model}: ${err.message}`, 2);
    throw new CommandError(`${a.model}: ${(err as Error).message}`, 2);
  }
  const s = result.summary;
  const shapes = inputShapes(model, result, a, dims);
  const { inputs, outputs } = golden(model, result, a, shapes);
  const parity = await runOrt(result.bytes, inputs, outputs);
  const ok = parity.failures === 0;

  const ops = Object.entries(s.ops).sort((x, y) => y[1] - x[1]);
  const nodeCount = ops.reduce((n, [, c]) => n + c, 0);
  console.log(`${a.model}: tfjs layers model "${model.name}" (${model.layers.length} layers, ${model.countParams()} parameters)`);
  console.log(`layers converted: ${s.layers.length} (${counts(s.layers.map((l) => l.className))})`);
  console.log(`ONNX nodes: ${nodeCount} (${ops.map(([k, v]) => `${k} ${v}`).join(', ')}), opset ${s.opset}, ${result.bytes.length} bytes`);
  const imageIo = [...model.inputs, ...model.outputs].filter((t) => t.shape.length === 4).length;
  const hint = !a['nchw-io'] && imageIo > 0 ? ` (${imageIo} rank-4 input/output(s) kept NHWC as in tfjs; --nchw-io drops the boundary Transposes)` : '';
  console.log(`Transpose nodes: ${s.ops.Transpose ?? 0}${hint}`);
  s.inputs.forEach((io, i) => console.log(`input  ${io.name}: ${shapeText(io.shape)} ${inputs[i].onnx.dtype}, golden ${shapeText(inputs[i].onnx.dims)}`));
  s.outputs.forEach((io, i) => console.log(`output ${io.name}: ${shapeText(io.shape)} ${outputs[i].onnx.dtype}, golden ${shapeText(outputs[i].onnx.dims)}`));
  const verdict = ok ? 'ok' : `FAILED: ${parity.failures} value(s) over the tolerance`;
  console.log(`max abs error, onnxruntime-node (cpu) vs tfjs (cpu): ${parity.maxAbs.toExponential(2)} on "${parity.worst}" ` +
    `(seed ${a.seed}, batch ${a.batch}; tolerance atol ${TOL.atol} + rtol ${TOL.rtol}): ${verdict}`);

  if (!ok && !a['allow-mismatch']) {
    throw new CommandError(`onnxruntime-node disagrees with tfjs beyond atol ${TOL.atol} + rtol ${TOL.rtol}; nothing written (--allow-mismatch writes ${a.out} anyway, for vae verify's first-diverging-node diagnosis)`, 1);
  }
  const description = `tfjs ${tf.version.tfjs} cpu outputs for seeded inputs (seed ${a.seed}, batch ${a.batch}), written by vae convert`;
  const files = await writeAtomically(out, result.bytes, inputs, outputs, description);
  console.log(`wrote ${a.out}: ${files.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`next: vae verify ${a.out}   (every runtime against tfjs' outputs; --atol ${TOL.atol} --rtol ${TOL.rtol} for this command's tolerance)`);
  if (!ok) {
    console.error(`error: onnxruntime-node disagrees with tfjs beyond atol ${TOL.atol} + rtol ${TOL.rtol} (written anyway: --allow-mismatch)`);
    process.exit(1);
  }
}

