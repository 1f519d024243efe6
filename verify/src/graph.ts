/**
 * What the diagnosis needs from an ONNX graph, with no runtime:
 *
 * - `exposeIntermediates`: the same model with every node output added to graph.output
 *   (onnx-graph.ts's `markAll`), so a runtime returns all intermediate tensors, and what each
 *   tensor is;
 * - `evaluate`: a float64 interpreter for the ops the exporter emits (Gemm, Relu, Sigmoid,
 *   Cast, DequantizeLinear, plus Identity), an independent reference;
 * - `evalNode` + `roundingBound`: one node evaluated in float64 on given inputs, and the
 *   largest difference a correct float32 implementation may show (see tolerances.ts).
 */
import {
  DataType, decodeModel, encodeModel, fromFloat16Bits, fromTensorProto, toFloat16Bits,
  type ModelProto, type NodeProto, type TensorProto,
} from '@vae/models/onnx';
import { markAll } from './onnx-graph.js';

/** A tensor of float64 values (any ONNX numeric type, converted exactly). */
export interface Value {
  dims: number[];
  data: Float64Array;
}

export class UnsupportedOpError extends Error {
  constructor(readonly node: NodeProto, why: string) {
    super(`node "${node.name}" (${node.op_type}): ${why}`);
    this.name = 'UnsupportedOpError';
  }
}

/** The ops `evaluate` knows. */
export const EVALUATED_OPS = ['Gemm', 'Relu', 'Sigmoid', 'Cast', 'DequantizeLinear', 'Identity'] as const;

export const loadModel = (bytes: Uint8Array): ModelProto => decodeModel(bytes);

const attr = (node: NodeProto, name: string): number | undefined => {
  const a = node.attribute?.find((x) => x.name === name);
  return a === undefined ? undefined : (a.i ?? a.f);
};

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** An initializer's values as float64 (float16 decoded from its bits; integers as numbers). */
export function initializerValue(t: TensorProto): Value {
  const tensor = fromTensorProto(t);
  const data = new Float64Array(tensor.data.length);
  if (tensor.dtype === 'float16') for (let i = 0; i < data.length; i++) data[i] = fromFloat16Bits(tensor.data[i]);
  else for (let i = 0; i < data.length; i++) data[i] = tensor.data[i];
  return { dims: tensor.dims, data };
}

/** Nodes in topological order (ONNX requires graphs to be sorted; this checks it). */
export function topologicalNodes(model: ModelProto): NodeProto[] {
  const g = model.graph;
  const known = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((i) => i.name ?? ''), '']);
  for (const node of g.node) {
    for (const input of node.input) {
      if (!known.has(input)) throw new Error(`graph "${g.name}" is not topologically sorted: node "${node.name}" reads "${input}" before it is produced`);
    }
    for (const o of node.output) known.add(o);
  }
  return g.node;
}

/** elem_type of every tensor in the graph (inputs, initializers, node outputs by op rules). */
export function tensorTypes(model: ModelProto): Map<string, number> {
  const g = model.graph;
  const types = new Map<string, number>();
  for (const i of g.input) types.set(i.name, i.type.tensor_type.elem_type);
  for (const t of g.initializer) types.set(t.name ?? '', t.data_type);
  for (const node of topologicalNodes(model)) {
    let type: number | undefined;
    if (node.op_type === 'Cast') type = attr(node, 'to');
    else if (node.op_type === 'DequantizeLinear') type = types.get(node.input[1]);
    else type = types.get(node.input[0]);
    if (type === undefined) throw new UnsupportedOpError(node, 'cannot infer the type of its output');
    for (const o of node.output) types.set(o, type);
  }
  return types;
}

export interface ExposedTensor {
  /** Tensor name. */
  name: string;
  /** The node producing it. */
  node: string;
  op: string;
  elemType: number;
}

/**
 * The model with every node output as a graph output (markAll: the original outputs first,
 * in order), for running on a runtime; `tensors` lists every node output, added or
 * original, in topological order, with its node, op and element type.
 */
export function exposeIntermediates(model: ModelProto): { bytes: Uint8Array; tensors: ExposedTensor[] } {
  const types = tensorTypes(model);
  const tensors = model.graph.node.flatMap((node) =>
    node.output.filter(Boolean).map((o) => ({ name: o, node: node.name, op: node.op_type, elemType: types.get(o)! })));
  return { bytes: encodeModel(markAll(model).model), tensors };
}

// ---------------------------------------------------------------------------------------
// float64 evaluation

/** Rounds to the nearest float16 (the exporter's own conversion). */
const fp16Round = (v: number): number => fromFloat16Bits(toFloat16Bits(v));

function gemmDims(node: NodeProto, a: Value, b: Value): { M: number; K: number; N: number; transA: boolean; transB: boolean } {
  const transA = (attr(node, 'transA') ?? 0) !== 0;
  const transB = (attr(node, 'transB') ?? 0) !== 0;
  if (a.dims.length !== 2 || b.dims.length !== 2) throw new UnsupportedOpError(node, 'Gemm operands must be 2-D');
  const [M, K] = transA ? [a.dims[1], a.dims[0]] : a.dims;
  const [K2, N] = transB ? [b.dims[1], b.dims[0]] : b.dims;
  if (K !== K2) throw new UnsupportedOpError(node, `inner dimensions differ (${K} vs ${K2})`);
  return { M, K, N, transA, transB };
}

/** C broadcast to [M, N] (unidirectional, as Gemm allows): index function. */
function broadcastC(node: NodeProto, c: Value | undefined, M: number, N: number): (i: number, j: number) => number {
  if (!c) return () => 0;
  const d = c.dims;
  const n = size(d);
  if (n === 1) return () => c.data[0];
  if ((d.length === 1 && d[0] === N) || (d.length === 2 && d[0] === 1 && d[1] === N)) return (_i, j) => c.data[j];
  if (d.length === 2 && d[0] === M && d[1] === 1) return (i) => c.data[i];
  if (d.length === 2 && d[0] === M && d[1] === N) return (i, j) => c.data[i * N + j];
  throw new UnsupportedOpError(node, `C of shape [${d.join(', ')}] does not broadcast to [${M}, ${N}]`);
}

/**
 * Evaluates one node in float64. With `magnitudes`, also returns for Gemm the per-element
 * sum |alpha| * sum_k |a_ik b_kj| + |beta c_ij| that bounds its float32 rounding error.
 */
export function evalNode(node: NodeProto, inputs: (Value | undefined)[], magnitudes = false): { outputs: Value[]; magnitude?: Float64Array; reductionLength?: number } {
  const x = inputs[0];
  if (!x) throw new UnsupportedOpError(node, 'missing its first input');
  const map = (f: (v: number) => number): Value => {
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < out.length; i++) out[i] = f(x.data[i]);
    return { dims: [...x.dims], data: out };
  };
  switch (node.op_type) {
    case 'Identity':
      return { outputs: [{ dims: [...x.dims], data: Float64Array.from(x.data) }] };
    case 'Relu':
      return { outputs: [map((v) => (v > 0 ? v : 0))] };
    case 'Sigmoid':
      return { outputs: [map((v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))))] };
    case 'Cast': {
      const to = attr(node, 'to');
      if (to === DataType.FLOAT) return { outputs: [map(Math.fround)] };
      if (to === DataType.FLOAT16) return { outputs: [map(fp16Round)] };
      throw new UnsupportedOpError(node, `Cast to data type ${to} is not evaluated`);
    }
    case 'DequantizeLinear': {
      const scale = inputs[1];
      const zero = inputs[2];
      if (!scale) throw new UnsupportedOpError(node, 'missing scale');
      const rank = x.dims.length;
      let axis = attr(node, 'axis') ?? 1;
      if (axis < 0) axis += rank;
      const perTensor = size(scale.dims) === 1;
      const inner = perTensor ? 1 : size(x.dims.slice(axis + 1));
      const len = perTensor ? 1 : x.dims[axis];
      const out = new Float64Array(x.data.length);
      for (let i = 0; i < out.length; i++) {
        const k = perTensor ? 0 : Math.floor(i / inner) % len;
        out[i] = (x.data[i] - (zero ? zero.data[k] : 0)) * scale.data[k];
      }
      return { outputs: [{ dims: [...x.dims], data: out }] };
    }
    case 'Gemm': {
      const a = x;
      const b = inputs[1];
      if (!b) throw new UnsupportedOpError(node, 'missing B');
      const { M, K, N, transA, transB } = gemmDims(node, a, b);
      const alpha = attr(node, 'alpha') ?? 1;
      const beta = attr(node, 'beta') ?? 1;
      const c = broadcastC(node, inputs[2], M, N);
      const out = new Float64Array(M * N);
      const mag = magnitudes ? new Float64Array(M * N) : undefined;
      const A = a.data;
      const B = b.data;
      const row = new Float64Array(K);
      const acc = new Float64Array(N);
      const accAbs = new Float64Array(N);
      for (let i = 0; i < M; i++) {
        for (let k = 0; k < K; k++) row[k] = transA ? A[k * M + i] : A[i * K + k];
        acc.fill(0);
        accAbs.fill(0);
        for (let k = 0; k < K; k++) {
          const av = row[k];
          if (av === 0) continue;
          const absA = Math.abs(av);
          if (transB) {
            for (let j = 0; j < N; j++) {
              const bv = B[j * K + k];
              acc[j] += av * bv;
              if (mag) accAbs[j] += absA * Math.abs(bv);
            }
          } else {
            const base = k * N;
            for (let j = 0; j < N; j++) {
              const bv = B[base + j];
              acc[j] += av * bv;
              if (mag) accAbs[j] += absA * Math.abs(bv);
            }
          }
        }
        for (let j = 0; j < N; j++) {
          const cv = beta * c(i, j);
          out[i * N + j] = alpha * acc[j] + cv;
          if (mag) mag[i * N + j] = Math.abs(alpha) * accAbs[j] + Math.abs(cv);
        }
      }
      return { outputs: [{ dims: [M, N], data: out }], magnitude: mag, reductionLength: K };
    }
    default:
      throw new UnsupportedOpError(node, `op not evaluated by the float64 reference (it knows ${EVALUATED_OPS.join(', ')})`);
  }
}

/**
 * Evaluates the whole graph in float64 from `feeds`, returning every tensor (initializers,
 * inputs, node outputs). `overrides` replace a tensor's value wherever it appears (an
 * initializer, or a node's output), e.g. weights restored from a sibling graph.
 */
export function evaluate(model: ModelProto, feeds: Record<string, Value>, overrides: Map<string, Value> = new Map()): Map<string, Value> {
  const values = new Map<string, Value>();
  for (const t of model.graph.initializer) values.set(t.name ?? '', overrides.get(t.name ?? '') ?? initializerValue(t));
  for (const [k, v] of Object.entries(feeds)) values.set(k, v);
  for (const node of topologicalNodes(model)) {
    const { outputs } = evalNode(node, node.input.map((n) => (n ? values.get(n) : undefined)));
    node.output.forEach((o, i) => values.set(o, overrides.get(o) ?? outputs[i]));
  }
  return values;
}

/**
 * The tensors computable from initializers alone (weights, after Cast / DequantizeLinear),
 * with the node (if any) that produced each one.
 */
export interface ConstantTensor {
  value: Value;
  /** The node computing it (Cast, DequantizeLinear, ...); none for an initializer. */
  producer?: NodeProto;
  /** The initializers it is computed from. */
  source: TensorProto[];
}

export function constantTensors(model: ModelProto): Map<string, ConstantTensor> {
  const out = new Map<string, ConstantTensor>();
  for (const t of model.graph.initializer) out.set(t.name ?? '', { value: initializerValue(t), source: [t] });
  for (const node of topologicalNodes(model)) {
    const ins = node.input.filter(Boolean);
    if (!ins.every((n) => out.has(n))) continue;
    const { outputs } = evalNode(node, node.input.map((n) => (n ? out.get(n)!.value : undefined)));
    const source = ins.flatMap((n) => out.get(n)!.source);
    node.output.forEach((o, i) => out.set(o, { value: outputs[i], producer: node, source }));
  }
  return out;
}

export const toValue = (dims: number[], data: ArrayLike<number>): Value => ({ dims: [...dims], data: Float64Array.from(data) });
