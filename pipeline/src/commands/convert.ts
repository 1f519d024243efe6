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
import { readdir } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  ConversionError, DEFAULT_OPSET, GoldenDataError, PARITY_TOLERANCE, ParityError, compareWithOnnxruntime, convertLayersModel, goldenData,
  loadCustomLayers, loadLayersModelFromArtifacts, readModelArtifacts, writeConversionDir, type ConversionResult,
} from 'tfjs-to-onnx-converter';
import type { Argv, CommandModule } from 'yargs';

/** onnxruntime-node vs tfjs: pass when every element has |ort − tfjs| <= ATOL + RTOL·|tfjs| (the converter's check). */
export const ATOL = PARITY_TOLERANCE.atol;
export const RTOL = PARITY_TOLERANCE.rtol;
const TOL = { atol: ATOL.toExponential(), rtol: RTOL.toExponential() };

interface ConvertArgs {
  model: string; out: string; opset: number; 'nchw-io': boolean; seed: number; batch: number;
  dim: string[]; 'int-high'?: number; force: boolean; 'allow-mismatch': boolean; 'custom-layers': string[];
}

/** A failure with its exit status: 2 usage / unreadable model / unconvertible layer, 1 mismatch. */
class CommandError extends Error {
  constructor(message: string, readonly code: 1 | 2) { super(message); }
}

const isPositiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** "NAME=N" pairs of --dim, checked. */
function parseDims(list: string[]): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const item of list) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new Error(`--dim expects NAME=N with N a positive integer (e.g. img_dim1=28), got "${item}"`);
    dims[m[1]] = Number(m[2]);
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
          'A model with custom layer classes needs --custom-layers FILE.mjs: an ES module that registers each\n' +
          'class with tfjs and its converter, e.g. export default function register({ tf, registerLayerConverter,\n' +
          'attributes }) { … } (the tfjs-to-onnx-converter README shows one).\n\n' +
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
      .example('$0 convert gans --out gans-onnx --custom-layers pixel-shuffle.mjs', 'a model with custom layers')
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
      .option('custom-layers', { type: 'string', array: true, default: [] as string[], describe: 'ES module(s) registering custom layer classes and their converters (repeatable)' })
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
    const message = (err as Error).message;
    const hint = /Unknown layer/.test(message) ? ' (a custom layer class needs --custom-layers FILE.mjs, a module that registers it)' : '';
    throw new CommandError(`${file}: modelTopology: tfjs cannot build the model: ${message}${hint}`, 2);
  }
}

/** A step of the converter's check, its errors as exit statuses: a bad --dim is 2, an output onnxruntime cannot give 1. */
async function libraryStep<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof GoldenDataError) {
      throw new CommandError(err.dim ? `--dim: ${err.message}: give one with --dim ${err.dim}=N` : `--dim ${err.message}`, 2);
    }
    if (err instanceof ParityError) throw new CommandError(err.message, 1);
    throw err;
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
  // Before the model loads: tfjs needs the custom classes to build it, the converter their converters.
  for (const file of a['custom-layers']) {
    try {
      console.log(`${file}: custom layers ${(await loadCustomLayers(file)).join(', ')}`);
    } catch (err) {
      throw new CommandError(`--custom-layers: ${(err as Error).message}`, 2);
    }
  }
  const model = await loadModel(a.model);

  let result: ConversionResult;
  try {
    result = await convertLayersModel(model, { opset: a.opset, nchwIo: a['nchw-io'] });
  } catch (err) {
    if (err instanceof ConversionError) throw new CommandError(`${a.model}: ${err.message}`, 2);
    throw new CommandError(`${a.model}: ${(err as Error).message}`, 2);
  }
  const s = result.summary;
  const golden = await libraryStep(() => goldenData(model, result, { seed: a.seed, batch: a.batch, dims, intHigh: a['int-high'], nchwIo: a['nchw-io'] }));
  const { inputs, outputs } = golden;
  const parity = await libraryStep(() => compareWithOnnxruntime(result.bytes, golden));
  const ok = parity.failures === 0;

  const ops = Object.entries(s.ops).sort((x, y) => y[1] - x[1]);
  const nodeCount = ops.reduce((n, [, c]) => n + c, 0);
  console.log(`${a.model}: tfjs layers model "${model.name}" (${model.layers.length} layers, ${model.countParams()} parameters)`);
  console.log(`layers converted: ${s.layers.length} (${counts(s.layers.map((l) => l.className))})`);
  console.log(`ONNX nodes: ${nodeCount} (${ops.map(([k, v]) => `${k} ${v}`).join(', ')}), opset ${s.opset}, ${result.bytes.length} bytes`);
  const imageIo = [...model.inputs, ...model.outputs].filter((t) => t.shape.length === 4).length;
  const hint = !a['nchw-io'] && imageIo > 0 ? ` (${imageIo} rank-4 input/output(s) kept NHWC as in tfjs; --nchw-io drops the boundary Transposes)` : '';
  console.log(`Transpose nodes: ${s.ops.Transpose ?? 0}${hint}`);
  s.inputs.forEach((io, i) => console.log(`input  ${io.name}: ${shapeText(io.shape)} ${inputs[i].dtype}, golden ${shapeText(inputs[i].dims)}`));
  s.outputs.forEach((io, i) => console.log(`output ${io.name}: ${shapeText(io.shape)} ${outputs[i].dtype}, golden ${shapeText(outputs[i].dims)}`));
  const verdict = ok ? 'ok' : `FAILED: ${parity.failures} value(s) over the tolerance`;
  console.log(`max abs error, onnxruntime-node (cpu) vs tfjs (cpu): ${parity.maxAbs.toExponential(2)} on "${parity.worst}" ` +
    `(seed ${a.seed}, batch ${a.batch}; tolerance atol ${TOL.atol} + rtol ${TOL.rtol}): ${verdict}`);

  if (!ok && !a['allow-mismatch']) {
    throw new CommandError(`onnxruntime-node disagrees with tfjs beyond atol ${TOL.atol} + rtol ${TOL.rtol}; nothing written (--allow-mismatch writes ${a.out} anyway, for vae verify's first-diverging-node diagnosis)`, 1);
  }
  const description = `tfjs ${tf.version.tfjs} cpu outputs for seeded inputs (seed ${a.seed}, batch ${a.batch}), written by vae convert`;
  const files = await writeConversionDir(out, result.bytes, golden, description);
  console.log(`wrote ${a.out}: ${files.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`next: vae verify ${a.out}   (every runtime against tfjs' outputs; --atol ${TOL.atol} --rtol ${TOL.rtol} for this command's tolerance)`);
  if (!ok) {
    console.error(`error: onnxruntime-node disagrees with tfjs beyond atol ${TOL.atol} + rtol ${TOL.rtol} (written anyway: --allow-mismatch)`);
    process.exit(1);
  }
}

