/**
 * The standalone decoder's op compilers (used by standalone.ts): one small handler per ONNX op in
 * OP_COMPILERS, the converter's house style. A handler reads its node, checks what the runtime
 * (standalone/runtime.mjs) can do with it, and appends either steps on batch tensors or constants
 * derived at load. Batch tensors are tracked by their per-sample shape (the batch axis left out),
 * so layout ops (Reshape, Flatten, Transpose) are resolved here and cost little or nothing at run
 * time. Anything a handler cannot do is an UnsupportedGraphError naming the graph, node and op.
 */
import { createHash } from 'node:crypto';
import { AttributeType, DataType, fromFloat16Bits, fromTensorProto, type NodeProto, type TensorProto } from '@vae/models/onnx';

export class UnsupportedGraphError extends Error {
  constructor(readonly graph: string, readonly node: string, readonly op: string, why: string) {
    super(`${graph}: node "${node}" (${op}): ${why}`);
    this.name = 'UnsupportedGraphError';
  }
}

export type RawType = 'f32' | 'f16' | 'i8' | 'u8';
export type Const =
  | { name: string; op: 'raw'; type: RawType; offset: number; dims: number[] }
  | { name: string; op: 'cast'; x: string; from: 'f16' | 'f32'; dims: number[] }
  | { name: string; op: 'dq'; x: string; scale: string; zero: string | null; axis: number; dims: number[] };
/**
 * A step on batch tensors: `x` in, `y` out; other string fields among b, c, w name tensors too
 * (standalone.ts shortens them). The runtime's STEPS table has one entry per `op`.
 */
export interface Step { op: string; x: string; y: string; [field: string]: unknown }

/** What compiling one graph accumulates: weights (packed as stored), derived constants, steps. */
export interface Compilation {
  label: string;
  inits: Map<string, TensorProto>;
  consts: Const[];
  /** Weights and derived constants by name: dims, and how they are stored ('f32x': expanded at load). */
  constDims: Map<string, { dims: number[]; type: RawType | 'f32x' }>;
  /** Cast outputs by name: the weight cast (so compile-time values such as Resize's scales read through an fp16 graph's Cast). */
  casts: Map<string, string>;
  /** Batch tensors by name: their shape without the batch axis. */
  batch: Map<string, number[]>;
  chunks: Uint8Array[];
  offset: number;
  steps: Step[];
}

const RAW: Record<number, { type: RawType; bytes: number }> = {
  [DataType.FLOAT]: { type: 'f32', bytes: 4 },
  [DataType.FLOAT16]: { type: 'f16', bytes: 2 },
  [DataType.INT8]: { type: 'i8', bytes: 1 },
  [DataType.UINT8]: { type: 'u8', bytes: 1 },
};
export const TYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };

export const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const fail = (c: Compilation, node: NodeProto, why: string) => new UnsupportedGraphError(c.label, node.name, node.op_type, why);

export function attr(node: NodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  return a.type === AttributeType.FLOAT ? a.f ?? 0 : a.i ?? 0;
}
const ints = (node: NodeProto, name: string): number[] | undefined => node.attribute?.find((x) => x.name === name)?.ints?.map(Number);
const str = (node: NodeProto, name: string): string | undefined => {
  const s = node.attribute?.find((x) => x.name === name)?.s;
  return s && new TextDecoder().decode(s);
};

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

/** Appends bytes to the weights file (8-byte aligned) as a raw constant. */
function pack(c: Compilation, name: string, type: RawType, dims: number[], bytes: Uint8Array): { dims: number[]; type: RawType } {
  const pad = (8 - (c.offset % 8)) % 8;
  if (pad) c.chunks.push(new Uint8Array(pad));
  c.offset += pad;
  c.consts.push({ name, op: 'raw', type, offset: c.offset, dims });
  c.chunks.push(bytes);
  c.offset += bytes.length;
  const info = { dims, type };
  c.constDims.set(name, info);
  return info;
}

/** A weight the node reads: packed into the weights file the first time. */
export function readInit(c: Compilation, name: string, node: NodeProto): { dims: number[]; type: RawType | 'f32x' } {
  const known = c.constDims.get(name);
  if (known) return known;
  const t = c.inits.get(name);
  if (!t) throw fail(c, node, `input "${name}" must be a weight (an initializer, or Cast / DequantizeLinear of one)`);
  const raw = RAW[t.data_type];
  if (!raw) throw fail(c, node, `weight "${name}" is ${TYPE_NAMES[t.data_type] ?? `data type ${t.data_type}`}; the standalone runtime reads float32, float16, int8 and uint8 weights`);
  const d = (t.dims ?? []).map(Number);
  const bytes = rawBytes(t, product(d), raw.bytes);
  if (bytes.length !== product(d) * raw.bytes) throw new Error(`${c.label}: weight "${name}" has ${bytes.length} bytes, dims [${d.join(', ')}] need ${product(d) * raw.bytes}`);
  return pack(c, name, raw.type, d, bytes);
}

/** A weight that must be float32 by the time the node reads it (stored so, or Cast / dequantized). */
export function float32Const(c: Compilation, name: string, node: NodeProto) {
  const w = readInit(c, name, node);
  if (w.type !== 'f32' && w.type !== 'f32x') throw fail(c, node, `"${name}" is stored as ${w.type}: Cast or DequantizeLinear it to float32 first`);
  return w;
}

/** The values of an initializer read at compile time (shapes, scales, bounds): not shipped. */
function constValues(c: Compilation, name: string, node: NodeProto, what: string): number[] {
  const t = c.inits.get(c.casts.get(name) ?? name);
  if (!t) throw fail(c, node, `${what} "${name}" must be an initializer or a Cast of one (the standalone runtime resolves it at compile time)`);
  const values = Array.from(fromTensorProto(t).data as ArrayLike<number>, Number);
  return t.data_type === DataType.FLOAT16 ? values.map(fromFloat16Bits) : values;
}

/** The per-sample shape of a batch tensor the node reads. */
export function batchInput(c: Compilation, name: string, node: NodeProto): number[] {
  const dims = c.batch.get(name);
  if (dims !== undefined) return dims;
  if (c.inits.has(name) || c.constDims.has(name)) throw fail(c, node, `input "${name}" is a weight; the standalone runtime applies ${node.op_type} to batch tensors only`);
  throw fail(c, node, `input "${name}" is produced by no earlier node (nodes must be in topological order)`);
}

type OpCompiler = (c: Compilation, node: NodeProto, out: string) => void;

/** Elementwise ops: the runtime's ACT name and the attributes it needs (ONNX defaults filled in). */
const UNARY: Record<string, [string, (n: NodeProto) => Record<string, number>]> = {
  Relu: ['relu', () => ({})],
  Sigmoid: ['sigmoid', () => ({})],
  Tanh: ['tanh', () => ({})],
  Softplus: ['softplus', () => ({})],
  Softsign: ['softsign', () => ({})],
  Elu: ['elu', (n) => ({ alpha: attr(n, 'alpha') ?? 1 })],
  LeakyRelu: ['leakyrelu', (n) => ({ alpha: attr(n, 'alpha') ?? 0.01 })],
  ThresholdedRelu: ['thresholdedrelu', (n) => ({ alpha: attr(n, 'alpha') ?? 1 })],
  Selu: ['selu', (n) => ({ alpha: attr(n, 'alpha') ?? 1.6732632423543772, gamma: attr(n, 'gamma') ?? 1.0507010221481323 })],
  HardSigmoid: ['hardsigmoid', (n) => ({ alpha: attr(n, 'alpha') ?? 0.2, beta: attr(n, 'beta') ?? 0.5 })],
};

function unary(c: Compilation, node: NodeProto, out: string): void {
  const [op, params] = UNARY[node.op_type];
  c.batch.set(out, batchInput(c, node.input[0], node));
  c.steps.push({ op, x: node.input[0], y: out, ...params(node) });
}

/** Clip: bounds from inputs 1 and 2 (opset 11+) or attributes; a missing bound is left out (no limit). */
const clip: OpCompiler = (c, node, out) => {
  const bound = (i: number, name: string) => {
    const input = node.input[i];
    if (input) {
      const v = constValues(c, input, node, name);
      if (v.length !== 1) throw fail(c, node, `${name} "${input}" must be a scalar`);
      return v[0];
    }
    return attr(node, name);
  };
  const min = bound(1, 'min'), max = bound(2, 'max');
  c.batch.set(out, batchInput(c, node.input[0], node));
  c.steps.push({ op: 'clip', x: node.input[0], y: out, ...(min !== undefined && { min }), ...(max !== undefined && { max }) });
};

/** Gemm: A a batch vector, B and C float32 weights; alpha, beta and transB kept only when not the default. */
const gemm: OpCompiler = (c, node, out) => {
  const [a, b, bias] = node.input;
  const ad = batchInput(c, a, node);
  if (ad.length !== 1) throw fail(c, node, `A "${a}" is [N, ${ad.join(', ')}]; Gemm takes a 2-D A`);
  const K = ad[0];
  if ((attr(node, 'transA') ?? 0) !== 0) throw fail(c, node, 'transA = 1 (a transposed batch input) is not supported');
  const transB = (attr(node, 'transB') ?? 0) !== 0;
  const bd = float32Const(c, b, node).dims;
  if (bd.length !== 2) throw fail(c, node, `B "${b}" must be 2-D, it is [${bd.join(', ')}]`);
  const [bk, N] = transB ? [bd[1], bd[0]] : bd;
  if (bk !== K) throw fail(c, node, `B "${b}" is [${bd.join(', ')}]${transB ? ' (transB)' : ''} but A "${a}" has ${K} columns`);
  if (bias) {
    const cd = float32Const(c, bias, node).dims;
    const ok = product(cd) === 1 || (cd.length === 1 && cd[0] === N) || (cd.length === 2 && cd[0] === 1 && cd[1] === N);
    if (!ok) throw fail(c, node, `C "${bias}" is [${cd.join(', ')}]; the standalone runtime broadcasts C of shape [${N}], [1, ${N}] or a scalar`);
  }
  const alpha = attr(node, 'alpha') ?? 1, beta = attr(node, 'beta') ?? 1;
  // Defaults are left out of the module (alpha = beta = 1, transB = 0).
  c.steps.push({ op: 'gemm', x: a, b, c: bias || null, y: out, k: K, n: N, ...(alpha !== 1 && { alpha }), ...(beta !== 1 && { beta }), ...(transB && { transB }) });
  c.batch.set(out, [N]);
};

/** Cast of a weight to float32: float16 expanded exactly at load (float32 copied). */
const cast: OpCompiler = (c, node, out) => {
  const to = attr(node, 'to');
  if (to !== DataType.FLOAT) throw fail(c, node, `casts to ${TYPE_NAMES[to ?? 0] ?? `data type ${to}`}; the standalone runtime casts weights to float32 only`);
  const x = readInit(c, node.input[0], node);
  if (x.type !== 'f16' && x.type !== 'f32' && x.type !== 'f32x') throw fail(c, node, `casts a ${x.type} weight; the standalone runtime casts float16 (or float32) weights`);
  c.consts.push({ name: out, op: 'cast', x: node.input[0], from: x.type === 'f16' ? 'f16' : 'f32', dims: x.dims });
  c.casts.set(out, node.input[0]);
  c.constDims.set(out, { dims: x.dims, type: 'f32x' });
};

/** DequantizeLinear of an int8 / uint8 weight, per axis or per tensor, with an optional zero point. */
const dequantize: OpCompiler = (c, node, out) => {
  const [xn, sn, zn] = node.input;
  const x = readInit(c, xn, node);
  if (x.type !== 'i8' && x.type !== 'u8') throw fail(c, node, `dequantizes a ${x.type} weight; the standalone runtime dequantizes int8 and uint8 weights`);
  const s = float32Const(c, sn, node);
  let axis = attr(node, 'axis') ?? 1;
  if (axis < 0) axis += x.dims.length;
  const channels = product(s.dims) === 1 ? 1 : x.dims[axis];
  if (product(s.dims) !== channels) throw fail(c, node, `scale "${sn}" has ${product(s.dims)} values for ${channels} channels along axis ${axis}`);
  if (zn) {
    const z = readInit(c, zn, node);
    if (z.type !== x.type) throw fail(c, node, `zero point "${zn}" is ${z.type}, the weight ${x.type}`);
    if (product(z.dims) !== product(s.dims)) throw fail(c, node, `zero point "${zn}" and scale "${sn}" differ in size`);
  }
  c.consts.push({ name: out, op: 'dq', x: xn, scale: sn, zero: zn || null, axis, dims: x.dims });
  c.constDims.set(out, { dims: x.dims, type: 'f32x' });
};

/** A new per-sample shape over the same data: a no-op step (the runtime passes the array on). */
function alias(c: Compilation, node: NodeProto, out: string, dims: number[]): void {
  const from = batchInput(c, node.input[0], node);
  if (product(dims) !== product(from)) throw fail(c, node, `reshapes [N, ${from.join(', ')}] to [N, ${dims.join(', ')}]: sizes differ`);
  c.batch.set(out, dims);
  c.steps.push({ op: 'reshape', x: node.input[0], y: out });
}

/** Reshape by a constant shape whose first entry keeps the batch (0 or -1); 0 copies, -1 infers. */
const reshape: OpCompiler = (c, node, out) => {
  const from = batchInput(c, node.input[0], node);
  const shape = constValues(c, node.input[1], node, 'shape');
  if (shape[0] !== 0 && shape[0] !== -1) throw fail(c, node, `shape [${shape.join(', ')}] changes the batch axis; the standalone runtime needs 0 or -1 first`);
  if (shape[0] === -1 && shape.slice(1).some((d) => d <= 0)) throw fail(c, node, `shape [${shape.join(', ')}]: with -1 for the batch the rest must be explicit`);
  if ((attr(node, 'allowzero') ?? 0) !== 0 && shape.slice(1).includes(0)) throw fail(c, node, 'allowzero = 1 with a 0 in the shape is not supported');
  const dims = shape.slice(1).map((d, i) => (d === 0 ? from[i] : d));
  const known = product(dims.filter((d) => d !== -1));
  alias(c, node, out, dims.map((d) => (d === -1 ? product(from) / known : d)));
};

/** Flatten at axis 1: [N, ...] -> [N, size]; other axes would move the batch. */
const flatten: OpCompiler = (c, node, out) => {
  const axis = attr(node, 'axis') ?? 1;
  if (axis !== 1) throw fail(c, node, `axis = ${axis}; the standalone runtime flattens at axis 1 (the batch stays)`);
  alias(c, node, out, [product(batchInput(c, node.input[0], node))]);
};

const identity: OpCompiler = (c, node, out) => alias(c, node, out, batchInput(c, node.input[0], node));

/** Transpose that keeps the batch first; one that only moves size-1 axes is a reshape (no copy). */
const transpose: OpCompiler = (c, node, out) => {
  const dims = batchInput(c, node.input[0], node);
  const perm = ints(node, 'perm') ?? [...Array(dims.length + 1).keys()].reverse();
  if (perm[0] !== 0) throw fail(c, node, `perm [${perm.join(', ')}] moves the batch axis`);
  const p = perm.slice(1).map((a) => a - 1);
  const outDims = p.map((a) => dims[a]);
  const moved = p.filter((a) => dims[a] !== 1);
  if (moved.every((a, i) => i === 0 || a > moved[i - 1])) return alias(c, node, out, outDims);
  c.batch.set(out, outDims);
  c.steps.push({ op: 'transpose', x: node.input[0], y: out, dims, perm: p });
};

/**
 * Mul / Add of a batch tensor by a weight that broadcasts over it (a scalar, one value per channel
 * such as a folded BatchNormalization's [C, 1, 1], or a whole sample), or by a batch tensor of the
 * same shape (swish's x * sigmoid(x)). The runtime reads b[floor(i / block) % ch] (ch = 0: b[i]).
 */
const binary: OpCompiler = (c, node, out) => {
  const [a, b] = c.batch.has(node.input[0]) ? node.input : [node.input[1], node.input[0]];
  const dims = batchInput(c, a, node);
  const op = node.op_type === 'Mul' ? 'mul' : 'add';
  if (c.batch.has(b)) {
    const bd = c.batch.get(b)!;
    if (bd.join() !== dims.join()) throw fail(c, node, `"${a}" [N, ${dims.join(', ')}] and "${b}" [N, ${bd.join(', ')}] differ; the standalone runtime does not broadcast batch tensors`);
    c.batch.set(out, dims);
    return void c.steps.push({ op, x: a, b, y: out, ch: 0, block: 1 });
  }
  const bd = float32Const(c, b, node).dims;
  const [ch, block] = broadcast(dims, bd) ?? [];
  if (ch === undefined) throw fail(c, node, `weight "${b}" [${bd.join(', ')}] does not broadcast over [N, ${dims.join(', ')}] as a scalar, per channel or per sample`);
  c.batch.set(out, dims);
  c.steps.push({ op, x: a, b, y: out, ch, block });
};

/** [channels, block] of a weight broadcast over a sample: its non-1 axes must be one run of the sample's. */
function broadcast(sample: number[], w: number[]): [number, number] | undefined {
  const d = w.length > sample.length ? w.slice(w.length - sample.length) : w;
  if (w.length > sample.length + 1 || (w.length === sample.length + 1 && w[0] !== 1)) return undefined;
  const off = sample.length - d.length;
  const big = d.map((v, i) => (v !== 1 ? i : -1)).filter((i) => i >= 0);
  if (big.length === 0) return [1, 1];
  const [lo, hi] = [big[0], big[big.length - 1] + 1];
  if (d.slice(lo, hi).some((v, i) => v !== sample[off + lo + i])) return undefined;
  return [product(d.slice(lo, hi)), product(sample.slice(off + hi))];
}

/**
 * BatchNormalization (inference) of float32 weights, folded at compile time into one scale and
 * one shift per channel (float64, rounded to float32), shipped instead of the four statistics.
 */
const batchNorm: OpCompiler = (c, node, out) => {
  const [x, ...stats] = node.input;
  const dims = batchInput(c, x, node);
  if ((attr(node, 'training_mode') ?? 0) !== 0) throw fail(c, node, 'training_mode = 1 (batch statistics) is not supported; inference uses the running ones');
  const [gamma, beta, mean, variance] = stats.map((n) => {
    if (c.inits.get(n)?.data_type !== DataType.FLOAT) throw fail(c, node, `"${n}" must be a float32 initializer to be folded`);
    return constValues(c, n, node, 'statistic');
  });
  const eps = attr(node, 'epsilon') ?? 1e-5;
  const s64 = gamma.map((gm, i) => gm / Math.sqrt(variance[i] + eps));
  const scale = Float32Array.from(s64), shift = Float32Array.from(beta, (b, i) => b - mean[i] * s64[i]);
  const C = dims[0], block = product(dims.slice(1));
  if (scale.length !== C) throw fail(c, node, `${scale.length} statistics for ${C} channels`);
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer);
  pack(c, `${out}/scale`, 'f32', [C], bytes(scale));
  pack(c, `${out}/shift`, 'f32', [C], bytes(shift));
  c.steps.push({ op: 'mul', x, b: `${out}/scale`, y: `${out}/scaled`, ch: C, block });
  c.steps.push({ op: 'add', x: `${out}/scaled`, b: `${out}/shift`, y: out, ch: C, block });
  c.batch.set(out, dims);
};

/** Conv / ConvTranspose geometry shared by both: 2-D NCHW, group 1, the weight as float32. */
function convShape(c: Compilation, node: NodeProto) {
  const [x, w] = node.input;
  const dims = batchInput(c, x, node);
  if (dims.length !== 3) throw fail(c, node, `input "${x}" is [N, ${dims.join(', ')}]; the standalone runtime convolves 2-D images (NCHW)`);
  if ((attr(node, 'group') ?? 1) !== 1) throw fail(c, node, `group = ${attr(node, 'group')} (grouped / depthwise convolution) is not supported`);
  const wd = float32Const(c, w, node).dims;
  if (wd.length !== 4) throw fail(c, node, `weight "${w}" is [${wd.join(', ')}], not 4-D`);
  const k = ints(node, 'kernel_shape') ?? wd.slice(2);
  if (k.join() !== wd.slice(2).join()) throw fail(c, node, `kernel_shape [${k.join(', ')}] differs from the weight's [${wd.slice(2).join(', ')}]`);
  const s = ints(node, 'strides') ?? [1, 1], d = ints(node, 'dilations') ?? [1, 1];
  return { x, w, dims, wd, k, s, d, pads: ints(node, 'pads') ?? [0, 0, 0, 0], autoPad: str(node, 'auto_pad') ?? 'NOTSET' };
}

function convBias(c: Compilation, node: NodeProto, channels: number): string | null {
  const b = node.input[2];
  if (!b) return null;
  const bd = float32Const(c, b, node).dims;
  if (product(bd) !== channels) throw fail(c, node, `bias "${b}" has ${product(bd)} values for ${channels} output channels`);
  return b;
}

/** Conv: im2col + the Gemm kernel at run time. auto_pad SAME_* is resolved here (sizes are static). */
const conv: OpCompiler = (c, node, out) => {
  const { x, w, dims: [C, H, W], wd, k, s, d, pads, autoPad } = convShape(c, node);
  if (wd[1] !== C) throw fail(c, node, `weight "${w}" expects ${wd[1]} input channels, the input has ${C}`);
  const eff = k.map((kk, i) => (kk - 1) * d[i] + 1);
  let p = pads;
  if (autoPad === 'VALID') p = [0, 0, 0, 0];
  else if (autoPad.startsWith('SAME')) {
    const total = [H, W].map((n, i) => Math.max((Math.ceil(n / s[i]) - 1) * s[i] + eff[i] - n, 0));
    const first = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    p = [...first, ...total.map((t, i) => t - first[i])];
  } else if (autoPad !== 'NOTSET') throw fail(c, node, `auto_pad ${autoPad} is not supported`);
  const OH = Math.floor((H + p[0] + p[2] - eff[0]) / s[0]) + 1, OW = Math.floor((W + p[1] + p[3] - eff[1]) / s[1]) + 1;
  if (OH <= 0 || OW <= 0) throw fail(c, node, `the output would be ${OH}x${OW}`);
  const M = wd[0];
  c.steps.push({ op: 'conv', x, w, c: convBias(c, node, M), y: out, geo: [C, H, W, M, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], OH, OW] });
  c.batch.set(out, [M, OH, OW]);
};

/** ConvTranspose: the Gemm kernel, then col2im at run time. Explicit pads and output_padding. */
const convTranspose: OpCompiler = (c, node, out) => {
  const { x, w, dims: [C, H, W], wd, k, s, d, pads: p, autoPad } = convShape(c, node);
  if (wd[0] !== C) throw fail(c, node, `weight "${w}" expects ${wd[0]} input channels, the input has ${C}`);
  if (autoPad !== 'NOTSET') throw fail(c, node, `auto_pad ${autoPad} is not supported (give pads)`);
  if (ints(node, 'output_shape')) throw fail(c, node, 'output_shape is not supported (give pads and output_padding)');
  const op = ints(node, 'output_padding') ?? [0, 0];
  const OH = s[0] * (H - 1) + op[0] + (k[0] - 1) * d[0] + 1 - p[0] - p[2];
  const OW = s[1] * (W - 1) + op[1] + (k[1] - 1) * d[1] + 1 - p[1] - p[3];
  if (OH <= 0 || OW <= 0) throw fail(c, node, `the output would be ${OH}x${OW}`);
  const M = wd[1];
  c.steps.push({ op: 'convT', x, w, c: convBias(c, node, M), y: out, geo: [C, H, W, M, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], OH, OW] });
  c.batch.set(out, [M, OH, OW]);
};

/** Source coordinate of an output coordinate, by coordinate_transformation_mode. */
const COORDINATES: Record<string, (o: number, scale: number, inLen: number, outLen: number) => number> = {
  asymmetric: (o, s) => o / s,
  half_pixel: (o, s) => (o + 0.5) / s - 0.5,
  pytorch_half_pixel: (o, s, _i, n) => (n > 1 ? (o + 0.5) / s - 0.5 : 0),
  tf_half_pixel_for_nn: (o, s) => (o + 0.5) / s,
  align_corners: (o, _s, i, n) => (n === 1 ? 0 : (o * (i - 1)) / (n - 1)),
};
const ROUNDING: Record<string, (v: number) => number> = {
  floor: Math.floor,
  ceil: Math.ceil,
  round_prefer_floor: (v) => (v % 1 === 0.5 ? Math.floor(v) : Math.round(v)),
  round_prefer_ceil: (v) => Math.round(v),
};

/** Resize, mode nearest, of H and W only: the source row / column of each output one, computed here. */
const resize: OpCompiler = (c, node, out) => {
  const [x, , scalesName, sizesName] = node.input;
  const [C, H, W] = batchInput(c, x, node);
  const mode = str(node, 'mode') ?? 'nearest', ctm = str(node, 'coordinate_transformation_mode') ?? 'half_pixel';
  const nm = str(node, 'nearest_mode') ?? 'round_prefer_floor';
  if (mode !== 'nearest') throw fail(c, node, `mode ${mode}; the standalone runtime resizes with mode nearest`);
  if (!COORDINATES[ctm] || !ROUNDING[nm]) throw fail(c, node, `coordinate_transformation_mode ${ctm} / nearest_mode ${nm} is not supported`);
  if (W === undefined || c.batch.get(x)!.length !== 3) throw fail(c, node, 'the standalone runtime resizes 4-D NCHW tensors');
  const sizes = sizesName ? constValues(c, sizesName, node, 'sizes') : undefined;
  const scales = sizes ? [1, 1, sizes[2] / H, sizes[3] / W] : constValues(c, scalesName, node, 'scales');
  const outLen = sizes ? sizes.slice(2) : [Math.floor(H * scales[2]), Math.floor(W * scales[3])];
  if (scales[0] !== 1 || scales[1] !== 1 || (sizes && sizes[1] !== C)) throw fail(c, node, 'resizes the batch or channel axis');
  const index = (inLen: number, n: number, scale: number) => Array.from({ length: n }, (_, o) =>
    Math.min(Math.max(ROUNDING[nm](COORDINATES[ctm](o, scale, inLen, n)), 0), inLen - 1));
  c.steps.push({ op: 'resize', x, y: out, geo: [C, H, W], iy: index(H, outLen[0], scales[2]), ix: index(W, outLen[1], scales[3]) });
  c.batch.set(out, [C, outLen[0], outLen[1]]);
};

/** The op compilers, by ONNX op type. */
export const OP_COMPILERS: Record<string, OpCompiler> = {
  Gemm: gemm, Cast: cast, DequantizeLinear: dequantize,
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unary])), Clip: clip,
  Reshape: reshape, Flatten: flatten, Identity: identity, Transpose: transpose,
  Mul: binary, Add: binary, BatchNormalization: batchNorm,
  Conv: conv, ConvTranspose: convTranspose, Resize: resize,
};
