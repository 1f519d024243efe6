/**
 * The standalone decoder: one ES module with no imports (`decoder.mjs`) and one weights file per
 * precision (`decoder.weights.bin`, `decoder.fp16.weights.bin`, `decoder.int8.weights.bin`),
 * generated from the decoder's ONNX graphs. The module is a small generic runtime
 * (standalone/runtime.mjs) followed by each precision's compiled graph as JSON: the weights
 * file's name, size and SHA-256, the constants to expand from it at load, and the steps.
 *
 * What compiles is what the exporter's graphs hold, read from the graph itself (not from tfjs):
 *   Gemm              A = a batch tensor, B and C = weights; alpha, beta, transB (transA = 0)
 *   Relu, Sigmoid     on batch tensors
 *   Cast              of a weight: float16 -> float32 (exact), or float32 -> float32
 *   DequantizeLinear  of an int8 / uint8 weight: (x - zero_point) * scale in float32, per axis or per tensor
 * Anything else is an UnsupportedGraphError naming the op and the node. The weights file holds
 * each initializer the graph reads as stored (float32, float16 bits, int8 / uint8), 8-byte aligned,
 * so each precision ships its own size and does its own graph's arithmetic after expansion.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANIFEST_FILE, parseManifest, type Manifest, type ManifestFile,
} from '@vae/models';
import { loadModelDir, writeFileAtomic } from '@vae/models/node';
import { wasmKernelBase64 } from './wasm-kernel.js';
import { AttributeType, DataType, decodeModel, fromTensorProto, type ModelProto, type NodeProto, type TensorProto } from '@vae/models/onnx';

/** The ops the standalone runtime compiles. */
export const STANDALONE_OPS = ['Gemm', 'Relu', 'Sigmoid', 'Cast', 'DequantizeLinear'] as const;
/** The module's file name in a model directory. */
export const STANDALONE_MODULE = 'decoder.mjs';

/**
 * Why a model has no standalone decoder, or undefined if it can have one: the standalone
 * runtime compiles the MLP's ops only, and a conv VAE's decoder is ConvTranspose layers.
 * `vae export` skips decoder.mjs for such a model and `vae verify` skips the standalone rows,
 * both with this reason.
 */
export function standaloneUnsupported(model: Pick<Manifest['model'], 'architecture'>): string | undefined {
  return model.architecture === 'mlp-vae' ? undefined : 'the standalone decoder does not support ConvTranspose yet';
}

export class UnsupportedGraphError extends Error {
  constructor(readonly graph: string, readonly node: string, readonly op: string, why: string) {
    super(`${graph}: node "${node}" (${op}): ${why}`);
    this.name = 'UnsupportedGraphError';
  }
}

type RawType = 'f32' | 'f16' | 'i8' | 'u8';
type Const =
  | { name: string; op: 'raw'; type: RawType; offset: number; dims: number[] }
  | { name: string; op: 'cast'; x: string; from: 'f16' | 'f32'; dims: number[] }
  | { name: string; op: 'dq'; x: string; scale: string; zero: string | null; axis: number; dims: number[] };
type Step =
  | { op: 'gemm'; x: string; b: string; c: string | null; y: string; k: number; n: number; alpha?: number; beta?: number; transB?: boolean }
  | { op: 'relu' | 'sigmoid'; x: string; y: string };

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

const RAW: Record<number, { type: RawType; bytes: number }> = {
  [DataType.FLOAT]: { type: 'f32', bytes: 4 },
  [DataType.FLOAT16]: { type: 'f16', bytes: 2 },
  [DataType.INT8]: { type: 'i8', bytes: 1 },
  [DataType.UINT8]: { type: 'u8', bytes: 1 },
};
const TYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function attr(node: NodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  return a.type === AttributeType.FLOAT ? a.f ?? 0 : a.i ?? 0;
}

/** The little-endian bytes of an initializer, as stored. */
function rawBytes(t: TensorProto, count: number, width: number): Uint8Array {
  if (t.raw_data && t.raw_data.length > 0) return t.raw_data;
  if (t.data_type === DataType.UINT8) return Uint8Array.from(t.int32_data ?? []);
  const { data } = fromTensorProto(t);
  const out = new Uint8Array(count * width);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    if (width === 4) view.setFloat32(4 * i, data[i], true);
    else if (width === 2) view.setUint16(2 * i, data[i], true);
    else view.setInt8(i, data[i]);
  }
  return out;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What compiling one graph accumulates: weights (packed as stored), derived constants, steps. */
interface Compilation {
  label: string;
  inits: Map<string, TensorProto>;
  consts: Const[];
  /** Weights and derived constants by name: dims, and how they are stored ('f32x': expanded at load). */
  constDims: Map<string, { dims: number[]; type: RawType | 'f32x' }>;
  /** Batch tensors by name: their width. */
  batch: Map<string, number>;
  chunks: Uint8Array[];
  offset: number;
  steps: Step[];
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
  const c: Compilation = { label, inits, consts: [], constDims: new Map(), batch: new Map([[inputName, width]]), chunks: [], offset: 0, steps: [] };
  for (const node of g.node) compileNode(c, node);
  const outputs: [string, number | null][] = g.output.map((o) => {
    if (c.batch.has(o.name)) return [o.name, c.batch.get(o.name)!];
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

/** A weight the node reads: packed into the weights file (8-byte aligned) the first time. */
function readInit(c: Compilation, name: string, node: NodeProto): { dims: number[]; type: RawType | 'f32x' } {
  const known = c.constDims.get(name);
  if (known) return known;
  const t = c.inits.get(name);
  if (!t) throw new UnsupportedGraphError(c.label, node.name, node.op_type, `input "${name}" must be a weight (an initializer, or Cast / DequantizeLinear of one)`);
  const raw = RAW[t.data_type];
  if (!raw) throw new UnsupportedGraphError(c.label, node.name, node.op_type, `weight "${name}" is ${TYPE_NAMES[t.data_type] ?? `data type ${t.data_type}`}; the standalone runtime reads float32, float16, int8 and uint8 weights`);
  const d = (t.dims ?? []).map(Number);
  const bytes = rawBytes(t, product(d), raw.bytes);
  if (bytes.length !== product(d) * raw.bytes) throw new Error(`${c.label}: weight "${name}" has ${bytes.length} bytes, dims [${d.join(', ')}] need ${product(d) * raw.bytes}`);
  const pad = (8 - (c.offset % 8)) % 8;
  if (pad) c.chunks.push(new Uint8Array(pad));
  c.offset += pad;
  c.consts.push({ name, op: 'raw', type: raw.type, offset: c.offset, dims: d });
  c.chunks.push(bytes);
  c.offset += bytes.length;
  const info = { dims: d, type: raw.type };
  c.constDims.set(name, info);
  return info;
}

/** A weight that must be float32 by the time the node reads it (stored so, or Cast / dequantized). */
function float32Const(c: Compilation, name: string, node: NodeProto) {
  const w = readInit(c, name, node);
  if (w.type !== 'f32' && w.type !== 'f32x') {
    throw new UnsupportedGraphError(c.label, node.name, node.op_type, `"${name}" is stored as ${w.type}: Cast or DequantizeLinear it to float32 first`);
  }
  return w;
}

/** The width of a batch tensor the node reads. */
function batchInput(c: Compilation, name: string, node: NodeProto): number {
  const w = c.batch.get(name);
  if (w !== undefined) return w;
  if (c.inits.has(name) || c.constDims.has(name)) throw new UnsupportedGraphError(c.label, node.name, node.op_type, `input "${name}" is a weight; the standalone runtime applies ${node.op_type} to batch tensors only`);
  throw new UnsupportedGraphError(c.label, node.name, node.op_type, `input "${name}" is produced by no earlier node (nodes must be in topological order)`);
}

/** One node: a step on batch tensors (Gemm, Relu, Sigmoid) or a constant derived at load (Cast, DequantizeLinear). */
function compileNode(c: Compilation, node: NodeProto): void {
  const fail = (why: string) => new UnsupportedGraphError(c.label, node.name, node.op_type, why);
  if (node.output.length !== 1) throw fail(`${node.output.length} outputs; the standalone runtime compiles single-output nodes`);
  const out = node.output[0];
  switch (node.op_type) {
    case 'Gemm': return compileGemm(c, node, out, fail);
    case 'Relu':
    case 'Sigmoid':
      c.batch.set(out, batchInput(c, node.input[0], node));
      c.steps.push({ op: node.op_type === 'Relu' ? 'relu' : 'sigmoid', x: node.input[0], y: out });
      return;
    case 'Cast': {
      const to = attr(node, 'to');
      if (to !== DataType.FLOAT) throw fail(`casts to ${TYPE_NAMES[to ?? 0] ?? `data type ${to}`}; the standalone runtime casts weights to float32 only`);
      const x = readInit(c, node.input[0], node);
      if (x.type !== 'f16' && x.type !== 'f32' && x.type !== 'f32x') throw fail(`casts a ${x.type} weight; the standalone runtime casts float16 (or float32) weights`);
      c.consts.push({ name: out, op: 'cast', x: node.input[0], from: x.type === 'f16' ? 'f16' : 'f32', dims: x.dims });
      c.constDims.set(out, { dims: x.dims, type: 'f32x' });
      return;
    }
    case 'DequantizeLinear': return compileDequantize(c, node, out, fail);
    default:
      throw fail(`op ${node.op_type} is not supported by the standalone runtime (it compiles ${STANDALONE_OPS.join(', ')})`);
  }
}

/** Gemm: A a batch tensor, B and C float32 weights; alpha, beta and transB kept only when not the default. */
function compileGemm(c: Compilation, node: NodeProto, out: string, fail: (why: string) => Error): void {
  const [a, b, bias] = node.input;
  const K = batchInput(c, a, node);
  if ((attr(node, 'transA') ?? 0) !== 0) throw fail('transA = 1 (a transposed batch input) is not supported');
  const transB = (attr(node, 'transB') ?? 0) !== 0;
  const bd = float32Const(c, b, node).dims;
  if (bd.length !== 2) throw fail(`B "${b}" must be 2-D, it is [${bd.join(', ')}]`);
  const [bk, N] = transB ? [bd[1], bd[0]] : bd;
  if (bk !== K) throw fail(`B "${b}" is [${bd.join(', ')}]${transB ? ' (transB)' : ''} but A "${a}" has ${K} columns`);
  if (bias) {
    const cd = float32Const(c, bias, node).dims;
    const ok = product(cd) === 1 || (cd.length === 1 && cd[0] === N) || (cd.length === 2 && cd[0] === 1 && cd[1] === N);
    if (!ok) throw fail(`C "${bias}" is [${cd.join(', ')}]; the standalone runtime broadcasts C of shape [${N}], [1, ${N}] or a scalar`);
  }
  const alpha = attr(node, 'alpha') ?? 1, beta = attr(node, 'beta') ?? 1;
  // Defaults are left out of the module (alpha = beta = 1, transB = 0).
  c.steps.push({ op: 'gemm', x: a, b, c: bias || null, y: out, k: K, n: N, ...(alpha !== 1 && { alpha }), ...(beta !== 1 && { beta }), ...(transB && { transB }) });
  c.batch.set(out, N);
}

/** DequantizeLinear of an int8 / uint8 weight, per axis or per tensor, with an optional zero point. */
function compileDequantize(c: Compilation, node: NodeProto, out: string, fail: (why: string) => Error): void {
  const [xn, sn, zn] = node.input;
  const x = readInit(c, xn, node);
  if (x.type !== 'i8' && x.type !== 'u8') throw fail(`dequantizes a ${x.type} weight; the standalone runtime dequantizes int8 and uint8 weights`);
  const s = float32Const(c, sn, node);
  let axis = attr(node, 'axis') ?? 1;
  if (axis < 0) axis += x.dims.length;
  const channels = product(s.dims) === 1 ? 1 : x.dims[axis];
  if (product(s.dims) !== channels) throw fail(`scale "${sn}" has ${product(s.dims)} values for ${channels} channels along axis ${axis}`);
  if (zn) {
    const z = readInit(c, zn, node);
    if (z.type !== x.type) throw fail(`zero point "${zn}" is ${z.type}, the weight ${x.type}`);
    if (product(z.dims) !== product(s.dims)) throw fail(`zero point "${zn}" and scale "${sn}" differ in size`);
  }
  c.consts.push({ name: out, op: 'dq', x: xn, scale: sn, zero: zn || null, axis, dims: x.dims });
  c.constDims.set(out, { dims: x.dims, type: 'f32x' });
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
    Object.assign(st, { x: rename(st.x), y: rename(st.y) });
    if (st.op === 'gemm') Object.assign(st, { b: rename(st.b), c: st.c && rename(st.c) });
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
  const unsupported = standaloneUnsupported(manifest.model);
  if (unsupported) throw new Error(`${manifest.name}: a ${manifest.model.architecture} has no standalone decoder: ${unsupported}`);
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
 * other fields are unchanged.
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
  const manifest = parseManifest({ ...model.manifest, files: listed }, `${manifestPath} (being written)`);
  if (changed.length > 0 || listed.length !== model.manifest.files.length) {
    await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  }
  return { files: entries, changed };
}
