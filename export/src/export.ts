/**
 * `exportRun`: a training run directory in, a verified model directory out.
 *
 *   1. read the run (checkpoint, config.json, metrics.json)
 *   2. activate the tfjs backend the run was trained with (or the one asked for)
 *   3. compute golden outputs with tfjs on fixed inputs
 *   4. build encoder.onnx, decoder.onnx and the fp16 / int8 decoders
 *   5. write the golden data in the ONNX test-data layout
 *   6. replay it with onnxruntime-node and enforce the error bounds
 *   7. run onnx.checker (full_check) when python3-onnx is installed
 *   8. compile the decoder graphs into the standalone decoder (decoder.mjs + one weights file per precision)
 *   9. write manifest.json (sizes, SHA-256, I/O, preprocessing, metrics, provenance; lists the standalone files)
 *  10. rename the finished temporary folder into place
 */
import * as tf from '@tensorflow/tfjs';
import {
  DATASETS, disposeVae, importanceWeightedNll, loadDataset, loadTrainedModel, selectBackend,
  type BackendChoice, type BackendInfo, type LossMeans, type RunConfig, type VaeModel,
} from '@vae/train';
import { EXPORT_TOLERANCES, type Manifest, type ManifestGraph } from '@vae/models';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOutputDir, writeDirAtomic } from './atomic-dir.js';
import { runOnnxChecker, type CheckerResult } from './checker.js';
import { writeGoldenSets, type GoldenSet } from '@vae/models/onnx';
import { makeGolden } from './golden.js';
import { onnxruntimeLogitsDecoder } from './iwae-decoder.js';
import { buildGraph, IR_VERSION, OPSET, type GraphSpec, type Precision } from './graph.js';
import { postprocessing, preprocessing, writeManifest } from './manifest.js';
import { convGeometry, convLayersModels, GRAPH_IO, IO_DOCS, layersModelsOf, readVaeWeights, type VaeGraphSource } from './vae.js';
import { measureParity, ORT_RUNTIME, type ParityErrors } from './verify.js';
import { standaloneFiles } from './standalone.js';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PRODUCER = {
  name: '@vae/export',
  version: (JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version,
};


export interface ExportOptions {
  /** Run directory written by `vae train`. */
  runDir: string;
  /** Model directory to create. */
  outDir: string;
  /** Replace an existing outDir (only a previous export or an empty folder). */
  force?: boolean;
  /** tfjs backend for the golden outputs. Default: the one the run was trained with, if available. */
  backend?: BackendChoice;
  /** Folder with the dataset's IDX files (else the usual search). */
  dataDir?: string;
  /** Also write decoder.fp16.onnx and decoder.int8.onnx (default true). */
  variants?: boolean;
  /** Manifest name (default: the out folder's name). */
  name?: string;
  /** The command line, for provenance. */
  command?: string;
  /**
   * Also estimate -log p(x) on the full test set by importance weighting with this many samples
   * per image (1000 is the usual; default 0, skipped) and record it as metrics.test.nll.
   */
  iwaeSamples?: number;
  /** One line per step. */
  onStep?: (line: string) => void;
  /** Progress of the IWAE step, in test images. */
  onIwaeProgress?: (done: number, total: number) => void;
}

export interface ExportResult {
  outDir: string;
  manifest: Manifest;
  /** Measured errors vs tfjs per graph: max and mean abs error per output. */
  parity: Record<string, ParityErrors>;
  checker: CheckerResult;
}

interface Metrics { epochs: number; backend: string; trainSeconds: number; train?: LossMeans; test?: LossMeans }
interface ConfigFile extends RunConfig {
  data?: { train?: { images: string; labels: string }; test?: { images: string; labels: string } };
}

const STEPS = 10;

/** One graph this export writes: encoder.onnx, decoder.onnx and the decoder's fp16 and int8 variants. */
export interface Variant { key: string; role: 'encoder' | 'decoder'; precision: Precision }

function variantsOf(withReducedPrecision: boolean): Variant[] {
  return [
    { key: 'encoder', role: 'encoder', precision: 'fp32' },
    { key: 'decoder', role: 'decoder', precision: 'fp32' },
    ...(withReducedPrecision
      ? [{ key: 'decoder.fp16', role: 'decoder', precision: 'fp16' }, { key: 'decoder.int8', role: 'decoder', precision: 'int8' }] as const
      : []),
  ];
}

export async function exportRun(options: ExportOptions): Promise<ExportResult> {
  const runDir = resolve(options.runDir);
  const outDir = resolve(options.outDir);
  const name = options.name ?? basename(outDir);
  let stepNo = 0;
  const iwaeSamples = options.iwaeSamples ?? 0;
  if (!(Number.isInteger(iwaeSamples) && iwaeSamples >= 0)) throw new RangeError(`iwaeSamples must be an integer >= 0, got ${iwaeSamples}`);
  const steps = STEPS + (iwaeSamples > 0 ? 1 : 0);
  const step = (line: string) => options.onStep?.(`[${++stepNo}/${steps}] ${line}`);
  await refuseOutput(runDir, outDir, options.force);

  // 1. The run.
  step(`reading run ${runDir}`);
  const { configFile, metrics } = await readRunFiles(runDir);

  // 2. Backend: the run's own by default, so golden outputs match training numerics.
  const { backend, note } = await goldenBackend(options.backend, metrics.backend);
  step(`backend ${backend.description}${note}`);

  const { model, config, progress } = await loadTrainedModel(runDir);
  try {
    if (progress.epoch !== config.epochs || progress.stepInEpoch !== 0) {
      throw new Error(`${runDir} stopped after ${progress.epoch} of ${config.epochs} epochs: finish it first (vae train --resume --out ${runDir})`);
    }
    const side = Math.round(Math.sqrt(config.model.inputSize));
    if (side * side !== config.model.inputSize) throw new Error(`input size ${config.model.inputSize} is not a square image`);

    // 3. Golden outputs with tfjs.
    const test = await loadDataset({ dataset: config.dataset, dataDir: options.dataDir, split: 'test' });
    const golden = await makeGolden(model, test.images);
    step(`golden data: ${golden.encoder.length} encoder sets, ${golden.decoder.length} decoder sets computed with tfjs ${tf.version.tfjs} (${backend.name})`);

    // 3b. The importance-weighted NLL, if asked (minutes: k decoder passes per test image).
    const nll = iwaeSamples > 0 ? await testNll(model, test.images, iwaeSamples, options.onIwaeProgress) : undefined;
    if (nll) step(`IWAE -log p(x) ${nll.nll.toFixed(2)} nats (k = ${nll.nllSamples}, ${test.count} test images; ${nll.about})`);

    // 4. Graphs.
    const facts = exportFacts(config, progress.epoch, configFile, metrics, nll);
    const variants = variantsOf(options.variants ?? true);
    const graphsBytes = await buildGraphs(await graphSource(model), variants, facts.spec);
    step(`graphs: ${variants.map((v) => `${v.key}.onnx ${kib(graphsBytes.get(v.key)!.length)}`).join(', ')} (opset ${OPSET}, IR ${IR_VERSION})`);

    const result = await writeDirAtomic(outDir, { force: options.force }, async (tmp) => {
      for (const v of variants) await writeFile(join(tmp, `${v.key}.onnx`), graphsBytes.get(v.key)!);

      // 5. Golden data.
      const sets = {
        encoder: await writeGoldenSets(tmp, 'encoder', golden.encoder),
        decoder: await writeGoldenSets(tmp, 'decoder', golden.decoder),
      };
      step(`golden data written: encoder/test_data_set_0-${sets.encoder.length - 1}, decoder/test_data_set_0-${sets.decoder.length - 1}`);

      // 6. onnxruntime parity.
      const parity = await checkParity(tmp, variants, golden, backend.name);
      step(`max abs error, ${ORT_RUNTIME} vs tfjs: ${Object.entries(parity).map(([k, e]) => `${k} ${fmtErrors(e.max)}`).join('; ')}`);

      // 7. onnx.checker.
      const checker = runOnnxChecker(variants.map((v) => join(tmp, `${v.key}.onnx`)));
      step(checker.ran ? `onnx.checker.check_model(full_check=True) passed (onnx ${checker.version})` : `onnx.checker skipped: ${checker.reason}`);

      // 8. The standalone decoder, compiled from the decoder graphs just written and checked.
      const modelBlock = manifestModel(config, side, model);
      const standalone = standaloneFiles(
        { name, model: modelBlock, graphs: Object.fromEntries(variants.map((v) => [v.key, { file: `${v.key}.onnx`, role: v.role, precision: v.precision }])) as unknown as Manifest['graphs'] },
        (file) => graphsBytes.get(file.replace(/\.onnx$/, ''))!,
        `${PRODUCER.name} ${PRODUCER.version}`,
      );
      for (const f of standalone) await writeFile(join(tmp, f.path), f.data);
      step(`standalone decoder: ${standalone.map((f) => `${f.path} ${kib(f.data.length)}`).join(', ')}`);

      // 9. Manifest.
      const { model: m } = config;
      const manifest = await writeManifest(tmp, {
        name,
        description: `${facts.about}: encoder and decoder as ONNX graphs with golden data.`,
        createdAt: new Date().toISOString(),
        producer: PRODUCER,
        model: modelBlock,
        preprocessing: preprocessing(side, side),
        postprocessing: postprocessing(side, side),
        graphs: manifestGraphs(variants, m, sets, parity, facts, `tfjs ${tf.version.tfjs} (${backend.name})`),
        dataset: { name: config.dataset, sha256: facts.datasetSha },
        metrics: { epochs: progress.epoch, train: facts.trainMetrics, test: facts.testMetrics },
        training: { config: { ...config }, command: facts.trainCommand, backend: metrics.backend, seconds: metrics.trainSeconds },
        provenance: {
          command: options.command ?? `exportRun(${JSON.stringify({ runDir: options.runDir, outDir: options.outDir })})`,
          commit: facts.git.commit,
          dirty: facts.git.dirty,
          backend: backend.description,
          epochs: progress.epoch,
          node: process.version,
          onnxChecker: checker.ran ? `onnx ${checker.version}: check_model(full_check=True) passed` : `not run: ${checker.reason}`,
        },
      });
      step(`manifest.json: ${manifest.files.length} files, ${kib(manifest.files.reduce((s, f) => s + f.bytes, 0))}`);
      return { manifest, parity, checker };
    });
    step(`wrote ${outDir}`);
    return { outDir, ...result };
  } finally {
    disposeVae(model);
  }
}

/** The IWAE estimate over `images`, the decoder on onnxruntime-node (iwae-decoder.ts says why). */
async function testNll(
  model: VaeModel, images: Float32Array, samples: number, onProgress?: (done: number, total: number) => void,
): Promise<{ nll: number; nllSamples: number; about: string }> {
  const started = performance.now();
  const decoder = await onnxruntimeLogitsDecoder(model);
  try {
    const r = await importanceWeightedNll(model, images, { samples, decodeLogits: decoder.decodeLogits, onProgress });
    return { nll: r.nll, nllSamples: samples, about: `decoder on ${decoder.runtime}, ${((performance.now() - started) / 1000).toFixed(0)} s` };
  } finally {
    await decoder.release();
  }
}

/** Refuses early, before any work: an existing output, or an output that would swallow the run. */
async function refuseOutput(runDir: string, outDir: string, force: boolean | undefined): Promise<void> {
  if (outDir === runDir || !relative(outDir, runDir).startsWith('..')) {
    throw new Error(`--out ${outDir} would contain the run directory ${runDir}: choose another folder`);
  }
  await checkOutputDir(outDir, { force });
  if (existsSync(outDir) && !existsSync(join(outDir, 'manifest.json')) && readdirSync(outDir).length > 0) {
    throw new Error(`${outDir} is not a model directory (no manifest.json): --force only replaces a previous export`);
  }
}

/** config.json and metrics.json of a finished run, with errors that say what to do. */
async function readRunFiles(runDir: string): Promise<{ configFile: ConfigFile; metrics: Metrics & { train: LossMeans; test: LossMeans } }> {
  if (!existsSync(runDir)) throw new Error(`run directory ${runDir} does not exist`);
  const configFile = await readJson<ConfigFile>(join(runDir, 'config.json'), `${runDir} is not a run directory written by vae train`);
  const metrics = await readJson<Metrics>(join(runDir, 'metrics.json'), `the run has not finished (continue it with vae train --resume --out ${runDir})`);
  if (!metrics.train || !metrics.test) throw new Error(`${join(runDir, 'metrics.json')} has no train/test losses`);
  return { configFile, metrics: metrics as Metrics & { train: LossMeans; test: LossMeans } };
}

/**
 * The backend for the golden outputs: the one asked for (an error if it is missing), else the
 * run's own, else the best available; `note` says when the run's own is not available.
 */
async function goldenBackend(asked: BackendChoice | undefined, trainedWith: string): Promise<{ backend: BackendInfo; note: string }> {
  const trainedOn = backendChoiceOf(trainedWith);
  let backend: BackendInfo;
  try {
    backend = await selectBackend(asked ?? trainedOn ?? 'auto');
  } catch (err) {
    if (asked) throw err;
    backend = await selectBackend('auto');
  }
  const note = trainedOn && backend.name !== trainedOn ? ` (the run was trained on ${trainedOn}, which is not available here)` : '';
  return { backend, note };
}

/** What the converter writes for a trained model: the MLP's weights, or the conv VAE's own LayersModels. */
async function graphSource(model: VaeModel): Promise<VaeGraphSource> {
  return model.architecture === 'conv' ? convLayersModels(model) : readVaeWeights(model);
}

/** The manifest's `model` block: the architecture and its sizes (the MLP's fields as in the released manifests). */
function manifestModel(config: RunConfig, side: number, model: VaeModel): Manifest['model'] {
  const { inputSize, latentSize, hiddenSizes } = config.model;
  const imageShape: [number, number] = [side, side];
  if (model.architecture !== 'conv') return { architecture: 'mlp-vae', inputSize, imageShape, hiddenSizes: [...hiddenSizes], latentSize, beta: config.beta };
  return {
    architecture: 'conv-vae', inputSize, imageShape, channels: [...model.config.channels], ...convGeometry(model),
    hiddenSizes: [...hiddenSizes], latentSize, beta: config.beta,
  };
}

/**
 * Each variant's graph bytes, written by the converter from `source`: the MLP's weights, or a
 * LayersModel encoder/decoder pair (a conv VAE) with the same I/O.
 */
export async function buildGraphs(
  source: VaeGraphSource, variants: readonly Variant[], spec: (role: Variant['role'], precision: Precision) => GraphSpec,
): Promise<Map<string, Uint8Array>> {
  const models = layersModelsOf(source);
  try {
    const bytes = new Map<string, Uint8Array>();
    for (const v of variants) bytes.set(v.key, (await buildGraph(models[v.role], spec(v.role, v.precision))).bytes);
    return bytes;
  } finally {
    models.dispose();
  }
}

/** "MLP VAE (784-256-256-64" or "conv VAE (784-conv32-conv64-64": the layer sizes (the caller closes the parenthesis). */
function modelSummary(model: RunConfig['model']): string {
  const conv = model.architecture === 'conv';
  const inner = [...(conv ? model.channels.map((c) => `conv${c}`) : []), ...model.hiddenSizes];
  return `${conv ? 'conv' : 'MLP'} VAE (${[model.inputSize, ...inner, model.latentSize].join('-')}`;
}

/** What the graphs and the manifest say about the model and its training: one place for each fact. */
function exportFacts(
  config: RunConfig, epochs: number, configFile: ConfigFile, metrics: { train: LossMeans; test: LossMeans }, nll?: { nll: number; nllSamples: number },
) {
  const { latentSize: n, inputSize, hiddenSizes } = config.model;
  const facts = {
    datasetSha: datasetChecksums(configFile, config.dataset),
    git: gitInfo(),
    trainCommand: trainingCommand(config),
    testMetrics: { ...pick(metrics.test), ...(nll ? { nll: nll.nll, nllSamples: nll.nllSamples } : {}) },
    trainMetrics: pick(metrics.train),
    about: `${modelSummary(config.model)}, beta ${config.beta}) trained on ${config.dataset} for ${epochs} epochs`,
  };
  const metadata = (graph: string, precision: Precision): Record<string, string> => ({
    'vae.graph': graph,
    'vae.precision': precision,
    'vae.input_size': String(inputSize),
    'vae.latent_size': String(n),
    'vae.hidden_sizes': JSON.stringify(hiddenSizes),
    // Conv runs only, so an MLP's graphs keep the metadata the released models have.
    ...(config.model.architecture === 'conv'
      ? { 'vae.architecture': 'conv', 'vae.channels': JSON.stringify(config.model.channels) } : {}),
    'vae.beta': String(config.beta),
    'vae.dataset': config.dataset,
    'vae.dataset_sha256': JSON.stringify(facts.datasetSha),
    'vae.epochs': String(epochs),
    'vae.test_metrics': JSON.stringify(facts.testMetrics),
    'vae.train_metrics': JSON.stringify(facts.trainMetrics),
    'vae.training_config': JSON.stringify(config),
    'vae.training_command': facts.trainCommand,
    'vae.producer': `${PRODUCER.name} ${PRODUCER.version}`,
    'vae.commit': facts.git.commit,
  });
  const spec = (role: 'encoder' | 'decoder', precision: Precision): GraphSpec => ({
    name: role,
    doc: role === 'encoder'
      ? `Encoder of the ${facts.about}. Input x: ${IO_DOCS.x}. Outputs mu: ${IO_DOCS.mu}; logvar: ${IO_DOCS.logvar}.`
      : `Decoder of the ${facts.about}${precision === 'fp32' ? '' : `, ${precision} weights`}. Input z: ${IO_DOCS.z}. Output x_hat: ${IO_DOCS.x_hat}.`,
    ...GRAPH_IO[role],
    precision,
    producer: PRODUCER,
    metadata: metadata(role, precision),
  });
  return { ...facts, spec };
}
type ExportFacts = ReturnType<typeof exportFacts>;

/** Replays every graph on its golden data with onnxruntime; throws on an error above the precision's bound. */
async function checkParity(dir: string, variants: readonly Variant[], golden: Record<Variant['role'], GoldenSet[]>, backendName: string): Promise<Record<string, ParityErrors>> {
  const parity: Record<string, ParityErrors> = {};
  for (const v of variants) {
    const errors = await measureParity(join(dir, `${v.key}.onnx`), golden[v.role]);
    const bounds = EXPORT_TOLERANCES[v.precision];
    for (const [output, err] of Object.entries(errors.max)) {
      const bound = bounds[output];
      if (bound === undefined || !(err <= bound)) {
        throw new Error(
          `${v.key}.onnx: ${output} differs from tfjs (${backendName}) by up to ${err.toExponential(2)}, above the bound ${bound ?? '(none)'}` +
            (backendName === 'tensorflow' ? '; GPUs may run tfjs-node-gpu matmuls in TF32: compute the golden data with --backend wasm' : ''),
        );
      }
    }
    parity[v.key] = errors;
  }
  return parity;
}

/** The manifest's `graphs`: each graph's file, I/O, golden sets and measured parity (sizes and hashes are added on writing). */
function manifestGraphs(
  variants: readonly Variant[], model: RunConfig['model'], sets: Record<Variant['role'], ManifestGraph['testData']>,
  parity: Record<string, ParityErrors>, facts: ExportFacts, reference: string,
): Record<string, Omit<ManifestGraph, 'bytes'>> {
  const { inputSize, latentSize: n } = model;
  return Object.fromEntries(variants.map((v) => [v.key, {
    file: `${v.key}.onnx`,
    role: v.role,
    precision: v.precision,
    opset: OPSET,
    irVersion: IR_VERSION,
    ...(v.role === 'encoder'
      ? { inputs: [tensorSpec('x', inputSize)], outputs: [tensorSpec('mu', n), tensorSpec('logvar', n)] }
      : { inputs: [tensorSpec('z', n)], outputs: [tensorSpec('x_hat', inputSize)] }),
    testData: sets[v.role],
    parity: {
      runtime: ORT_RUNTIME,
      reference,
      maxAbsError: parity[v.key].max,
      meanAbsError: parity[v.key].mean,
      tolerance: Object.fromEntries(Object.keys(parity[v.key].max).map((o) => [o, EXPORT_TOLERANCES[v.precision][o]])),
    },
    description: facts.spec(v.role, v.precision).doc,
  }]));
}

function tensorSpec(name: 'x' | 'mu' | 'logvar' | 'z' | 'x_hat', size: number) {
  return { name, dtype: 'float32' as const, shape: ['N', size], description: IO_DOCS[name] };
}

/** 'tensorflow' | 'wasm' | 'cpu' from a BackendInfo description such as "wasm (...)". */
export function backendChoiceOf(description: string | undefined): BackendChoice | undefined {
  const name = description?.split(' ')[0];
  return name === 'tensorflow' || name === 'wasm' || name === 'cpu' ? name : undefined;
}

/** A `vae train` command line that reproduces a run's config. */
export function trainingCommand(c: RunConfig): string {
  return [
    'vae train', `--dataset ${c.dataset}`,
    ...(c.model.architecture === 'conv' ? ['--arch conv', `--channels ${c.model.channels.join(' ')}`] : []),
    `--latent ${c.model.latentSize}`,
    ...(c.model.hiddenSizes.length ? [`--hidden ${c.model.hiddenSizes.join(' ')}`] : []),
    `--beta ${c.beta}`, `--lr ${c.learningRate}`, `--batch-size ${c.batchSize}`, `--epochs ${c.epochs}`, `--seed ${c.seed}`,
    ...(c.trainLimit ? [`--train-limit ${c.trainLimit}`] : []),
    `--threads ${c.threads}`, // always: the thread count changes a run's last bits
  ].join(' ');
}

function datasetChecksums(file: ConfigFile, dataset: RunConfig['dataset']): Manifest['dataset']['sha256'] {
  const known = DATASETS[dataset].sha256;
  return {
    trainImages: file.data?.train?.images ?? known['train-images-idx3-ubyte'],
    trainLabels: file.data?.train?.labels ?? known['train-labels-idx1-ubyte'],
    testImages: file.data?.test?.images ?? known['t10k-images-idx3-ubyte'],
    testLabels: file.data?.test?.labels ?? known['t10k-labels-idx1-ubyte'],
  };
}

/** The exporting checkout's commit (or "unknown") and whether it has uncommitted changes. */
export function gitInfo(cwd: string = PACKAGE_DIR): { commit: string; dirty: boolean | null } {
  const git = (...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    let dirty: boolean | null = null;
    try { dirty = git('status', '--porcelain', '--untracked-files=no').length > 0; } catch { /* unknown */ }
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: null };
  }
}

async function readJson<T>(path: string, hint: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path} is missing: ${hint}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

const pick = (m: LossMeans): LossMeans => ({ bce: m.bce, kl: m.kl, total: m.total });
const kib = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const fmtErrors = (e: Record<string, number>) => Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
