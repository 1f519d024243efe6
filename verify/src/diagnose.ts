/**
 * Finding the first diverging node of a failing (graph, runtime) row.
 *
 * 1. Reference weights: the graph's own weights, checked against its sibling graphs (the
 *    other precisions of the same role, e.g. decoder.fp16 / decoder.int8 for decoder): an
 *    element that disagrees with every sibling beyond their storage rounding, while the
 *    siblings agree with each other, was changed after export; the reference takes the most
 *    precise sibling's value there (`auditWeights`).
 * 2. The graph is rebuilt with every intermediate tensor as an output and run on the failing
 *    runtime over the golden inputs.
 * 3. Every node, in topological order, is evaluated in float64 on the runtime's own inputs
 *    (and the reference weights) and compared with the runtime's output of that node; the
 *    first node whose error exceeds its float32 rounding bound (tolerances.ts) is reported.
 *    Each node's error against the float64 evaluation of the whole graph from the golden
 *    inputs is reported too.
 */
import { readFile } from 'node:fs/promises';
import type { LoadedModel } from '@vae/models/node';
import type { ModelProto, NodeProto } from '@vae/models/onnx';
import type { GoldenSet } from './golden.js';
import {
  constantTensors, evalNode, type ConstantTensor, evaluate, exposeIntermediates, loadModel, toValue, topologicalNodes, UnsupportedOpError, type Value,
} from './graph.js';
import { compareArrays } from './metrics.js';
import type { RuntimeId, Runtime } from './runtimes.js';
import { ELEMENTWISE_ATOL, HEADROOM, NODE_ATOL_FLOOR, UNIT_ROUNDOFF, gamma, toleranceFor } from '@vae/models';

// ---------------------------------------------------------------------------------------
// 1. Weight audit against sibling graphs

export interface WeightDeviation {
  /** The weight tensor (a Gemm operand), e.g. "decoder.dense1.kernel". */
  tensor: string;
  /** Element index, e.g. [12, 34] for row 12, column 34. */
  index: number[];
  /** Its value in the diagnosed graph. */
  value: number;
  /** Its value in each sibling graph (graph key -> value). */
  siblings: Record<string, number>;
  /** The sibling whose value the reference uses. */
  restoredFrom: string;
  /** Nodes reading the tensor. */
  consumers: string[];
}

export interface WeightAudit {
  /** Graph keys compared with (same role, other precision). */
  siblings: string[];
  /** Weight tensors compared, and their elements. */
  tensors: string[];
  elements: number;
  /** Elements changed after export (first 20), and how many there are. */
  deviations: WeightDeviation[];
  deviationCount: number;
  /** Elements where the graph and its only sibling disagree: which one is right cannot be told. */
  ambiguousCount: number;
  ambiguous: Omit<WeightDeviation, 'restoredFrom'>[];
}

const PRECISION_RANK: Record<string, number> = { fp32: 0, fp16: 1, int8: 2 };
const MAX_LISTED = 20;

function unravel(flat: number, dims: number[]): number[] {
  const index = new Array<number>(dims.length);
  for (let d = dims.length - 1; d >= 0; d--) {
    index[d] = flat % dims[d];
    flat = Math.floor(flat / dims[d]);
  }
  return index;
}

/** Half the spacing of float16 numbers around |v| (the most a float16 store moves a value). */
function fp16HalfUlp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -25;
  return 2 ** (Math.floor(Math.log2(a)) - 11);
}

/** Per-element bound on |stored - original| for one weight tensor of a graph. */
function storageBound(entry: ConstantTensor, all: Map<string, ConstantTensor>): (i: number) => number {
  const { producer, value } = entry;
  if (!producer) return entry.source[0]?.data_type === 10 ? (i) => fp16HalfUlp(value.data[i]) : () => 0;
  if (producer.op_type === 'Cast') {
    const from = all.get(producer.input[0]);
    return from?.source[0]?.data_type === 10 ? (i) => fp16HalfUlp(value.data[i]) : () => 0;
  }
  if (producer.op_type === 'DequantizeLinear') {
    const scale = all.get(producer.input[1])?.value;
    if (!scale) return () => 0;
    if (scale.data.length === 1) return () => Math.abs(scale.data[0]) / 2;
    let axis = producer.attribute?.find((a) => a.name === 'axis')?.i ?? 1;
    if (axis < 0) axis += value.dims.length;
    const inner = value.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const len = value.dims[axis];
    return (i) => Math.abs(scale.data[Math.floor(i / inner) % len]) / 2;
  }
  return () => 0;
}

/** The weights (Gemm B and C operands computable from initializers) of a graph. */
function gemmWeights(model: ModelProto): { names: string[]; consumers: Map<string, string[]> } {
  const consts = new Set(constantTensors(model).keys());
  const consumers = new Map<string, string[]>();
  for (const node of model.graph.node) {
    if (node.op_type !== 'Gemm') continue;
    for (const input of node.input.slice(1)) {
      if (input && consts.has(input)) consumers.set(input, [...(consumers.get(input) ?? []), node.name]);
    }
  }
  return { names: [...consumers.keys()], consumers };
}

/**
 * Compares the graph's weights with its siblings'. Returns the audit and the reference
 * weights that differ from the graph's own (tensor name -> corrected value).
 */
export async function auditWeights(model: LoadedModel, graphKey: string, proto: ModelProto): Promise<{ audit: WeightAudit; overrides: Map<string, Value> }> {
  const graphs = model.manifest.graphs;
  const role = graphs[graphKey].role;
  const siblingKeys = Object.keys(graphs)
    .filter((k) => k !== graphKey && graphs[k].role === role)
    .sort((a, b) => (PRECISION_RANK[graphs[a].precision] ?? 9) - (PRECISION_RANK[graphs[b].precision] ?? 9));
  const own = constantTensors(proto);
  const { names, consumers } = gemmWeights(proto);
  const siblings = [];
  for (const key of siblingKeys) {
    const sproto = loadModel(await readFile(model.graph(key).path));
    siblings.push({ key, consts: constantTensors(sproto) });
  }
  const audit: WeightAudit = { siblings: siblingKeys, tensors: [], elements: 0, deviations: [], deviationCount: 0, ambiguousCount: 0, ambiguous: [] };
  const overrides = new Map<string, Value>();
  const u4 = 4 * UNIT_ROUNDOFF;
  for (const name of names) {
    const mine = own.get(name)!;
    const peers = siblings
      .map((s) => ({ key: s.key, entry: s.consts.get(name), all: s.consts }))
      .filter((p): p is { key: string; entry: NonNullable<typeof p.entry>; all: typeof p.all } =>
        p.entry !== undefined && p.entry.value.data.length === mine.value.data.length);
    if (peers.length === 0) continue;
    audit.tensors.push(name);
    const myBound = storageBound(mine, own);
    const peerBounds = peers.map((p) => storageBound(p.entry, p.all));
    const agree = (a: number, qa: number, b: number, qb: number) =>
      Math.abs(a - b) <= (qa + qb) * (1 + 1e-6) + u4 * Math.max(Math.abs(a), Math.abs(b)) + NODE_ATOL_FLOOR;
    const data = mine.value.data;
    audit.elements += data.length;
    for (let i = 0; i < data.length; i++) {
      const a = data[i];
      const qa = myBound(i);
      let anyAgrees = false;
      for (let p = 0; p < peers.length && !anyAgrees; p++) anyAgrees = agree(a, qa, peers[p].entry.value.data[i], peerBounds[p](i));
      if (anyAgrees) continue;
      const values = Object.fromEntries(peers.map((p) => [p.key, p.entry.value.data[i]]));
      const record = { tensor: name, index: unravel(i, mine.value.dims), value: a, siblings: values, consumers: consumers.get(name) ?? [] };
      // Every sibling disagrees with this graph. With two or more that agree with each other, this graph changed.
      const peersAgree = peers.length >= 2 && peers.every((p, k) =>
        agree(peers[0].entry.value.data[i], peerBounds[0](i), p.entry.value.data[i], peerBounds[k](i)));
      if (peersAgree) {
        audit.deviationCount++;
        if (audit.deviations.length < MAX_LISTED) audit.deviations.push({ ...record, restoredFrom: peers[0].key });
        let fixed = overrides.get(name);
        if (!fixed) overrides.set(name, (fixed = { dims: [...mine.value.dims], data: Float64Array.from(data) }));
        fixed.data[i] = peers[0].entry.value.data[i];
      } else {
        audit.ambiguousCount++;
        if (audit.ambiguous.length < MAX_LISTED) audit.ambiguous.push(record);
      }
    }
  }
  return { audit, overrides };
}

// ---------------------------------------------------------------------------------------
// 2-3. Intermediate tensors on the runtime vs float64

export interface NodeCheck {
  node: string;
  op: string;
  /** The output tensor checked. */
  output: string;
  /** Whether the float64 evaluation knows the op (else only the chain error is reported). */
  checked: boolean;
  /** max |runtime - float64 of this node on the runtime's own inputs| over all golden sets. */
  maxAbs: number;
  /** The bound at the element with the largest error / bound ratio, and that ratio (> 1: exceeds). */
  bound: number;
  ratio: number;
  exceeds: boolean;
  /** Where the worst ratio is: golden set folder and element index. */
  at: { set: string; index: number[] } | null;
  /** max |runtime - float64 evaluation of the whole graph from the golden inputs|. */
  chainMaxAbs: number;
  note?: string;
}

export interface Diagnosis {
  graph: string;
  runtime: RuntimeId;
  /** What the runtime's intermediate tensors were compared with. */
  reference: string;
  audit: WeightAudit;
  nodes: NodeCheck[];
  /** The first node (topological order) whose output exceeds its bound, or null. */
  firstDiverging: NodeCheck | null;
  /** The float64 reference's graph outputs against the golden outputs. */
  referenceVsGolden: Record<string, { maxAbs: number; tolerance: number; pass: boolean }>;
  summary: string;
}

function nodeBound(node: NodeProto, runtime: RuntimeId, ref: Float64Array, magnitude: Float64Array | undefined, k: number | undefined): (i: number) => number {
  switch (node.op_type) {
    case 'Gemm': {
      const g = HEADROOM * gamma((k ?? 0) + 2);
      return (i) => g * magnitude![i] + NODE_ATOL_FLOOR;
    }
    case 'DequantizeLinear':
      return (i) => HEADROOM * UNIT_ROUNDOFF * Math.abs(ref[i]) + NODE_ATOL_FLOOR;
    case 'Sigmoid': {
      const atol = ELEMENTWISE_ATOL[runtime]?.Sigmoid ?? 1e-5;
      return () => atol;
    }
    default: // Relu, Cast, Identity: exact
      return () => NODE_ATOL_FLOOR;
  }
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));

export interface DiagnoseInput {
  model: LoadedModel;
  graphKey: string;
  runtimeId: RuntimeId;
  runtime: Runtime;
  golden: GoldenSet[];
}

export async function diagnose({ model, graphKey, runtimeId, runtime, golden }: DiagnoseInput): Promise<Diagnosis> {
  const graph = model.graph(graphKey);
  const proto = loadModel(await readFile(graph.path));
  const nodes = topologicalNodes(proto);
  const { audit, overrides } = await auditWeights(model, graphKey, proto);
  const exposed = exposeIntermediates(proto);
  const session = await runtime.open(exposed.bytes, `${graph.file} with every intermediate tensor as an output`);
  const runs: { set: GoldenSet; got: Record<string, Float32Array>; chain: Map<string, Value> }[] = [];
  try {
    for (const set of golden) {
      const got = await session.run(set.inputs);
      const feeds = Object.fromEntries(set.inputs.map((f) => [f.name, toValue(f.dims, f.data)]));
      runs.push({ set, got, chain: evaluate(proto, feeds, overrides) });
    }
  } finally {
    await session.release();
  }

  const checks: NodeCheck[] = [];
  for (const node of nodes) {
    for (const [oi, output] of node.output.entries()) {
      if (!output) continue;
      const check: NodeCheck = { node: node.name, op: node.op_type, output, checked: true, maxAbs: 0, bound: 0, ratio: 0, exceeds: false, at: null, chainMaxAbs: 0 };
      for (const { set, got, chain } of runs) {
        const actual = got[output];
        const chained = chain.get(output)!;
        if (!actual) throw new Error(`${runtimeId} did not return the intermediate tensor "${output}"`);
        if (actual.length !== chained.data.length) {
          throw new Error(`${runtimeId}: "${output}" has ${actual.length} values, the float64 reference ${chained.data.length}`);
        }
        check.chainMaxAbs = Math.max(check.chainMaxAbs, compareArrays(actual, chained.data).maxAbs);
        if (!check.checked) continue;
        // This node in float64, on the runtime's own inputs (reference weights where they were restored).
        const inputs = node.input.map((name): Value | undefined => {
          if (!name) return undefined;
          const o = overrides.get(name);
          if (o) return o;
          const dims = chain.get(name)!.dims;
          if (got[name]) return toValue(dims, got[name]);
          return chain.get(name); // an initializer or a graph input: the same everywhere
        });
        let result;
        try {
          result = evalNode(node, inputs, true);
        } catch (err) {
          if (!(err instanceof UnsupportedOpError)) throw err;
          check.checked = false;
          check.note = err.message;
          continue;
        }
        const ref = overrides.get(output)?.data ?? result.outputs[oi].data;
        const bound = nodeBound(node, runtimeId, ref, result.magnitude, result.reductionLength);
        for (let i = 0; i < ref.length; i++) {
          let err = Math.abs(actual[i] - ref[i]);
          if (Number.isNaN(err)) err = Infinity;
          const b = bound(i);
          const ratio = err / b;
          if (err > check.maxAbs) check.maxAbs = err;
          if (ratio > check.ratio || (check.at === null && i === 0)) {
            check.ratio = ratio;
            check.bound = b;
            check.at = { set: set.dir, index: unravel(i, chain.get(output)!.dims) };
          }
        }
      }
      check.exceeds = check.checked && check.ratio > 1;
      checks.push(check);
    }
  }

  const referenceVsGolden: Diagnosis['referenceVsGolden'] = {};
  for (const out of graph.outputs) {
    let maxAbs = 0;
    for (const { set, chain } of runs) {
      const want = set.outputs.find((o) => o.name === out.name);
      if (want) maxAbs = Math.max(maxAbs, compareArrays(chain.get(out.name)!.data, want.data).maxAbs);
    }
    const tolerance = toleranceFor('node-cpu', graph.precision, out.name);
    referenceVsGolden[out.name] = { maxAbs, tolerance, pass: maxAbs <= tolerance };
  }

  const firstDiverging = checks.find((c) => c.exceeds) ?? null;
  const restored = audit.deviationCount > 0;
  const reference = `float64 evaluation of each node on ${runtimeId}'s own inputs, with the weights of ${graph.file}` +
    (restored ? ` (${audit.deviationCount} element(s) restored from ${[...new Set(audit.deviations.map((d) => d.restoredFrom))].join(', ')})` : '');
  const parts: string[] = [];
  if (restored) {
    const d = audit.deviations[0];
    const sib = Object.entries(d.siblings).map(([k, v]) => `${k} ${v.toPrecision(6)}`).join(', ');
    parts.push(
      `${graph.file} has ${audit.deviationCount} weight(s) that disagree with every sibling graph while the siblings agree: ` +
        `first ${d.tensor}[${d.index.join(', ')}] = ${d.value.toPrecision(6)} (${sib}), read by ${d.consumers.join(', ')}: changed after export.`,
    );
  } else if (audit.ambiguousCount > 0) {
    const d = audit.ambiguous[0];
    parts.push(`${graph.file} and ${audit.siblings[0]} disagree on ${audit.ambiguousCount} weight(s), first ${d.tensor}[${d.index.join(', ')}]; with one sibling, which is right cannot be told.`);
  }
  if (firstDiverging) {
    parts.push(
      `First diverging node: ${firstDiverging.node} (${firstDiverging.op} -> ${firstDiverging.output}), max |error| ${fmt(firstDiverging.maxAbs)}, ` +
        `${firstDiverging.ratio.toPrecision(3)}x its float32 bound ${fmt(firstDiverging.bound)} (at ${firstDiverging.at?.set} [${firstDiverging.at?.index.join(', ')}]).`,
    );
  } else {
    parts.push(`No node exceeds its float32 rounding bound on ${runtimeId}'s own inputs.`);
    const missed = Object.entries(referenceVsGolden).filter(([, r]) => !r.pass);
    if (missed.length > 0) {
      parts.push(
        `The float64 evaluation of the graph's own weights misses the golden outputs too (${missed.map(([k, r]) => `${k} ${fmt(r.maxAbs)} > ${fmt(r.tolerance)}`).join(', ')}): ` +
          `the weights are not the trained model's${audit.siblings.length === 0 ? ', and no sibling graph shares them to locate the change' : ''}.`,
      );
    } else {
      parts.push('The output error accumulates over several nodes, each within its bound.');
    }
  }
  return { graph: graphKey, runtime: runtimeId, reference, audit, nodes: checks, firstDiverging, referenceVsGolden, summary: parts.join(' ') };
}
