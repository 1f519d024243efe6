/**
 * The standalone decoder: one ES module with no imports (`decoder.mjs`) and one weights file per
 * precision (`decoder.weights.bin`, `decoder.fp16.weights.bin`, `decoder.int8.weights.bin`),
 * generated from the decoder's ONNX graphs, MLP or conv. The module is a small generic runtime
 * (standalone/runtime.mjs) followed by each precision's compiled graph as JSON: the weights
 * file's name, size and SHA-256, the constants to expand from it at load, and the steps.
 *
 * What compiles is what the graphs hold, read from the graph itself (not from tfjs); one compiler
 * per op in standalone-ops.ts (OP_COMPILERS):
 *   Gemm                   A = a batch tensor, B and C = weights; alpha, beta, transB (transA = 0)
 *   Conv, ConvTranspose    2-D NCHW, group 1, strides, pads (auto_pad for Conv), dilations, output_padding:
 *                          run as im2col / col2im around the same Gemm kernel (wasm SIMD or JS)
 *   Resize                 mode nearest, any coordinate_transformation_mode / nearest_mode, H and W only
 *   Reshape, Flatten, Identity, Transpose   batch axis kept; pure re-shapes cost nothing at run time
 *   Relu, Sigmoid, Tanh, Elu, Selu, LeakyRelu, ThresholdedRelu, Softplus, Softsign, HardSigmoid, Clip
 *   Mul, Add               by a weight broadcast per channel / scalar / sample (the converter's folded
 *                          BatchNormalization), or by a batch tensor of the same shape (swish)
 *   BatchNormalization     of float32 weights, folded here into a per-channel scale and shift
 *   Cast                   of a weight: float16 -> float32 (exact), or float32 -> float32
 *   DequantizeLinear       of an int8 / uint8 weight: (x - zero_point) * scale in float32, per axis or per tensor
 * Anything else is an UnsupportedGraphError naming the op and the node. The weights file holds
 * each initializer the graph reads as stored (float32, float16 bits, int8 / uint8), 8-byte aligned,
 * so each precision ships its own size and does its own graph's arithmetic after expansion.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANIFEST_FILE, parseManifest, type Manifest, type ManifestFile,
} from '@vae/models';
import { loadModelDir, writeFileAtomic } from '@vae/models/node';
import { wasmKernelBase64 } from './wasm-kernel.js';
import { DataType, decodeModel, type ModelProto, type NodeProto, type TensorProto } from '@vae/models/onnx';
import { OP_COMPILERS, UnsupportedGraphError, product, sha256Hex, type Compilation, type Const, type Step } from './standalone-ops.js';

export { UnsupportedGraphError };
/** The ops the standalone runtime compiles. */
export const STANDALONE_OPS = Object.keys(OP_COMPILERS);
/** The module's file name in a model directory. */
export const STANDALONE_MODULE = 'decoder.mjs';

/** One precision's compiled graph, as embedded in the module. */
export interface Program {
  precision: string;
  /** Weights file name, next to the module. */
  file: string;
  bytes: number;
  sha256: string;
  /** [name, width]: the batch input. */
  input: [string, number];
  /** [name, width or null]: the graph outputs, in order (width null for a weight exposed as an output). */
  outputs: [string, number | null][];
  consts: Const[];
  steps: Step[];
}

export interface CompiledGraph {
  program: Program;
  weights: Uint8Array;
}

/**
 * Compiles one ONNX graph (bytes or a decoded ModelProto) for the standalone runtime. `label`
 * names the graph in errors (e.g. "decoder.int8.onnx"); `file` is the weights file's name.
 */
export function compileGraph(model: ModelProto | Uint8Array, options: { label: string; file: string; precision: string }): CompiledGraph {
  const g = (model instanceof Uint8Array ? decodeModel(model) : model).graph;
  const label = options.label;
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const [inputName, width] = batchInputOf(g, inits, label);
  const c: Compilation = { label, inits, consts: [], constDims: new Map(), casts: new Map(), batch: new Map([[inputName, [width]]]), chunks: [], offset: 0, steps: [] };
  for (const node of g.node) compileNode(c, node);
  const outputs: [string, number | null][] = g.output.map((o) => {
    if (c.batch.has(o.name)) return [o.name, product(c.batch.get(o.name)!)];
    if (c.constDims.has(o.name)) return [o.name, null];
    throw new Error(`${label}: graph output "${o.name}" is produced by no node`);
  });
  if (outputs.length === 0 || outputs[0][1] === null) throw new Error(`${label}: the first graph output must be a batch tensor`);
  shortenNames(c, new Set([inputName, ...outputs.map(([o]) => o)]));

  const weights = new Uint8Array(c.offset);
  let at = 0;
  for (const chunk of c.chunks) { weights.set(chunk, at); at += chunk.length; }
  return {
    program: {
      precision: options.precision, file: options.file, bytes: weights.length, sha256: sha256Hex(weights),
      input: [inputName, width], outputs, consts: c.consts, steps: c.steps,
    },
    weights,
  };
}

/** The graph's one batch input (the input that is not an initializer): float32 [N, width]. */
function batchInputOf(g: ModelProto['graph'], inits: Map<string, TensorProto>, label: string): [string, number] {
  const batchInputs = g.input.filter((i) => !inits.has(i.name));
  if (batchInputs.length !== 1) throw new Error(`${label}: the standalone runtime needs exactly one graph input, found ${batchInputs.length}`);
  const inp = batchInputs[0];
  const tt = inp.type.tensor_type;
  const dims = tt.shape?.dim ?? [];
  const width = dims.length === 2 && 'dim_value' in dims[1] ? Number(dims[1].dim_value) : NaN;
  if (tt.elem_type !== DataType.FLOAT || !(width > 0)) throw new Error(`${label}: input "${inp.name}" must be float32 of shape [N, size]`);
  return [inp.name, width];
}

/** One node: its op's compiler from OP_COMPILERS, or an error naming the op and the node. */
function compileNode(c: Compilation, node: NodeProto): void {
  const fail = (why: string) => new UnsupportedGraphError(c.label, node.name, node.op_type, why);
  if (node.output.length !== 1) throw fail(`${node.output.length} outputs; the standalone runtime compiles single-output nodes`);
  const compile = OP_COMPILERS[node.op_type];
  if (!compile) throw fail(`op ${node.op_type} is not supported by the standalone runtime (it compiles ${STANDALONE_OPS.join(', ')})`);
  compile(c, node, node.output[0]);
}

/** Tensors that are neither the input nor an output get short names in the module (t0, t1, ...). */
function shortenNames(c: Compilation, keep: Set<string>): void {
  const short = new Map<string, string>();
  const rename = (t: string): string => {
    if (keep.has(t)) return t;
    if (!short.has(t)) short.set(t, `t${short.size}`);
    return short.get(t)!;
  };
  for (const k of c.consts) {
    k.name = rename(k.name);
    if (k.op === 'cast') k.x = rename(k.x);
    if (k.op === 'dq') Object.assign(k, { x: rename(k.x), scale: rename(k.scale), zero: k.zero && rename(k.zero) });
  }
  for (const st of c.steps) {
    for (const key of ['x', 'y', 'b', 'c', 'w']) if (typeof st[key] === 'string') st[key] = rename(st[key]);
  }
}

const RUNTIME_URL = new URL('../standalone/runtime.mjs', import.meta.url);
let runtimeText: string | undefined;

/** The runtime's source, without its leading comment (the generated module gets its own). */
export function runtimeSource(): string {
  runtimeText ??= readFileSync(RUNTIME_URL, 'utf8');
  const start = runtimeText.indexOf('/*@START@*/\n');
  if (start < 0) throw new Error(`${RUNTIME_URL.pathname}: the /*@START@*/ marker is missing`);
  return stripComments(runtimeText.slice(start + '/*@START@*/\n'.length));
}

/**
 * Drops whole-line comments (`// ...` lines and `/** ... *\/` blocks), blank lines and indentation (the
 * runtime has no multi-line string): the
 * commented template stays readable in the repository, the shipped module stays small.
 */
export function stripComments(source: string): string {
  const out: string[] = [];
  let inBlock = false;
  for (const line of source.split('\n')) {
    const t = line.trim();
    if (inBlock) { if (t.endsWith('*/')) inBlock = false; continue; }
    if (t.startsWith('/**') || t.startsWith('/*')) { if (!t.endsWith('*/')) inBlock = true; continue; }
    if (t === '' || t.startsWith('//')) continue;
    out.push(t);
  }
  return out.join('\n') + '\n';
}

export interface ModuleInfo {
  /** Model name (the manifest's). */
  name: string;
  imageShape: [number, number];
  /** What generated it, e.g. "@vae/export 0.1.0". */
  producer: string;
}

/** The ES module's text: header, runtime, MODEL (every program), the info export. Deterministic. */
export function generateModule(programs: Program[], info: ModuleInfo): string {
  if (programs.length === 0) throw new Error('generateModule: no compiled graphs');
  const variants = Object.fromEntries(programs.map((p) => [p.precision, p]));
  const header = [
    `// Standalone decoder of model "${info.name}", generated by ${info.producer} from ${programs.map((p) => p.file.replace(/\.weights\.bin$/, '.onnx')).join(', ')}.`,
    '// No imports; runs in browsers (main thread and workers), Node, Deno and Bun.',
    "//   import { loadDecoder } from './decoder.mjs';",
    `//   const decoder = await loadDecoder(new URL('./${programs[0].file}', import.meta.url)); // or the bytes; { precision: ${programs.map((p) => `'${p.precision}'`).join(' | ')} }`,
    `//   const pixels = decoder.decode(z, count); // Float32Array count * ${programs[0].input[1]} -> count * ${programs[0].outputs[0][1]}`,
    '// The weights file\'s size and SHA-256 are checked at load. Do not edit: regenerate with `vae export DIR --standalone-only`.',
  ].join('\n');
  const model = { name: info.name, imageShape: info.imageShape, variants };
  return `${header}\n${runtimeSource()}\nconst MODEL = ${JSON.stringify(model)};\n` +
    `// export/src/wasm-kernel.ts\nconst KERNEL = '${wasmKernelBase64()}';\n\n` +
    `/** The model's name, latent size, image shape and precisions. */\n` +
    `export const info = { name: MODEL.name, latentSize: ${programs[0].input[1]}, imageShape: MODEL.imageShape, precisions: Object.keys(MODEL.variants) };\n`;
}

/** The weights file of a graph key: decoder -> decoder.weights.bin, decoder.int8 -> decoder.int8.weights.bin. */
export const weightsFileOf = (graphKey: string): string => `${graphKey}.weights.bin`;

export interface StandaloneFile { path: string; data: Uint8Array }

/**
 * The standalone files of a model directory from its decoder graphs (every graph of role
 * "decoder" in the manifest, fp32 first): decoder.mjs and one weights file per graph.
 */
export function standaloneFiles(manifest: Pick<Manifest, 'name' | 'graphs' | 'model'>, graphBytes: (file: string) => Uint8Array, producer: string): StandaloneFile[] {
  const keys = Object.keys(manifest.graphs).filter((k) => manifest.graphs[k].role === 'decoder')
    .sort((a, b) => Number(manifest.graphs[b].precision === 'fp32') - Number(manifest.graphs[a].precision === 'fp32'));
  if (keys.length === 0) throw new Error(`${manifest.name}: no decoder graph to compile`);
  const files: StandaloneFile[] = [];
  const programs: Program[] = [];
  for (const key of keys) {
    const g = manifest.graphs[key];
    const compiled = compileGraph(graphBytes(g.file), { label: g.file, file: weightsFileOf(key), precision: g.precision });
    programs.push(compiled.program);
    files.push({ path: compiled.program.file, data: compiled.weights });
  }
  const precisions = programs.map((p) => p.precision);
  const dup = precisions.find((p, i) => precisions.indexOf(p) !== i);
  if (dup) throw new Error(`${manifest.name}: two decoder graphs have precision ${dup}; the module holds one per precision`);
  const text = generateModule(programs, { name: manifest.name, imageShape: manifest.model.imageShape as [number, number], producer });
  files.unshift({ path: STANDALONE_MODULE, data: new TextEncoder().encode(text) });
  return files;
}

/** Manifest entries for files (path, bytes, SHA-256). */
export function fileEntries(files: StandaloneFile[]): ManifestFile[] {
  return files.map((f) => ({ path: f.path, bytes: f.data.length, sha256: sha256Hex(f.data) }));
}

/**
 * Adds (or refreshes) the standalone decoder of an existing model directory, without retraining:
 * loads and checks the directory, compiles its decoder graphs, writes decoder.mjs and the weights
 * files (each atomically, skipping files that are already identical), then lists them in
 * manifest.json's `files` and writes the manifest atomically (validated first). The manifest's
 * other fields are unchanged, except a description's stale "No standalone decoder" sentence.
 */
export async function addStandalone(dir: string, producer: string): Promise<{ files: ManifestFile[]; changed: string[] }> {
  const model = await loadModelDir(dir);
  const graphBytes = new Map<string, Uint8Array>();
  for (const g of Object.values(model.manifest.graphs)) {
    if (g.role === 'decoder') graphBytes.set(g.file, new Uint8Array(await readFile(model.file(g.file))));
  }
  const files = standaloneFiles(model.manifest, (f) => graphBytes.get(f)!, producer);
  const entries = fileEntries(files);
  const changed: string[] = [];
  for (const [i, f] of files.entries()) {
    const old = model.manifest.files.find((e) => e.path === f.path);
    if (old && old.sha256 === entries[i].sha256 && old.bytes === entries[i].bytes) continue;
    await writeFileAtomic(join(model.dir, f.path), f.data);
    changed.push(f.path);
  }
  const byPath = new Map(model.manifest.files.map((e) => [e.path, e]));
  for (const e of entries) byPath.set(e.path, e);
  const listed = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifestPath = join(model.dir, MANIFEST_FILE);
  // A conv folder exported before its decoder compiled says "No standalone decoder (decoder.mjs): ..." at the end of its description: no longer true.
  const description = model.manifest.description.replace(/ No standalone decoder \(decoder\.mjs\): .*$/s, '');
  const manifest = parseManifest({ ...model.manifest, description, files: listed }, `${manifestPath} (being written)`);
  if (changed.length > 0 || listed.length !== model.manifest.files.length || description !== model.manifest.description) {
    await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  }
  return { files: entries, changed };
}
