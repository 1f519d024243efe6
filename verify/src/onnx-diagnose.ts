/**
 * The first diverging node of any ONNX model on a failing runtime, with no interpreter: the
 * runtimes themselves compute every intermediate tensor (Polygraphy's "mark all").
 *
 * 1. If nodes whose condition is known for the data are inlined (the branch taken, as the
 *    reference runtime computes it), repeatedly, so tensors inside branches are exposed too.
 * 2. Every node output becomes a graph output (markAll), for the model under test and for the
 *    reference model (the same file, or --reference-model).
 * 3. The reference runtime runs the reference probe, the failing runtime the probe, on the same
 *    data set (the one holding the row's worst error).
 * 4. In topological order, each node's outputs are compared: error = max |runtime - reference|
 *    / max |reference| (the error relative to the tensor's scale). Constant nodes, and nodes
 *    whose inputs are all weights (runtimes fold them at load), are weights, not computations:
 *    their error shows up as an input error of the nodes reading them. The
 *    first node whose error exceeds the threshold is the first diverging node; its inputs' error
 *    (the largest over its inputs: node outputs, weights, graph inputs) and the amplification
 *    (its error / its inputs' error) tell a kernel that breaks (inputs agree) from one that
 *    receives changed inputs or weights.
 *
 * Known limits: exposing intermediates stops a runtime from fusing the nodes it exposes, so a
 * bug inside a fusion shows in the row but may vanish from the probe; Loop / Scan bodies are not
 * inlined (their inner tensors stay hidden; the node itself is still compared).
 */
import { encodeModel, fromTensorProto, type ModelProto, type NodeProto, type TensorProto } from '@vae/models/onnx';
import { constantCondition, ifConditions, inlineIfs, markAll, nodeLabel, parseModel } from './onnx-graph.js';
import type { Runtime, RuntimeSession } from './runtimes.js';
import { locate } from './stats.js';
import { numericValues, type Tensor } from './tensors.js';

export interface TensorDiff {
  name: string;
  kind: 'node' | 'weight' | 'graph input';
  maxAbs: number;
  /** maxAbs / max |reference| (Infinity when the reference is all zeros and the runtime is not). */
  error: number;
  /** Where maxAbs is (null when they agree exactly). */
  at: number[] | null;
}

export interface NodeDiff {
  node: string;
  op: string;
  outputs: TensorDiff[];
  /** Inputs that differ at all (weights, node outputs). */
  inputs: TensorDiff[];
  error: number;
  inputError: number;
  /** error / inputError (Infinity when the inputs agree exactly). */
  amplification: number;
}

export interface OnnxDiagnosis {
  /** What the intermediates are compared with. */
  reference: string;
  /** The data set the probes ran on (0-based). */
  set: number;
  inlinedIfs: number;
  /** Intermediate tensors exposed and compared. */
  comparedTensors: number;
  threshold: number;
  firstDiverging: NodeDiff | null;
  /** The nodes up to the first diverging one (the last 5 before it) and 5 after it; or the 10 largest errors. */
  nodes: NodeDiff[];
  summary: string;
}

export interface DiagnoseOnnxInput {
  model: Uint8Array;
  /** The model the reference runtime runs (the same bytes, or --reference-model). */
  referenceModel: Uint8Array;
  referenceLabel: string;
  runtime: Runtime;
  reference: Runtime;
  feeds: Tensor[];
  set: number;
  threshold: number;
}

async function runOnce(runtime: Runtime, model: Uint8Array, label: string, feeds: Tensor[], names?: string[]): Promise<Record<string, Tensor>> {
  const session: RuntimeSession = await runtime.open(model, label);
  try {
    const out = await session.runTensors!(feeds);
    return names ? Object.fromEntries(names.filter((n) => out[n]).map((n) => [n, out[n]])) : out;
  } finally {
    await session.release();
  }
}

/** Inlines If nodes until none is left whose condition the reference runtime can tell (at most 16 rounds). */
export async function flattenIfs(model: ModelProto, reference: Runtime, feeds: Tensor[]): Promise<{ model: ModelProto; inlined: number }> {
  let inlined = 0;
  for (let round = 0; round < 16; round++) {
    const conds = ifConditions(model);
    if (conds.length === 0) break;
    const known = new Map<string, boolean>();
    for (const c of conds) {
      const v = constantCondition(model, c) ?? feeds.find((f) => f.name === c)?.data[0];
      if (v !== undefined) known.set(c, Boolean(v));
    }
    const probe = markAll(model);
    const wanted = conds.filter((c) => !known.has(c) && probe.tensors.includes(c));
    if (wanted.length) {
      const out = await runOnce(reference, encodeModel(probe.model), 'if-conditions', feeds, wanted);
      for (const c of wanted) if (out[c]) known.set(c, out[c].data[0] !== 0);
    }
    const next = inlineIfs(model, known);
    if (next.inlined === 0) break;
    model = next.model;
    inlined += next.inlined;
  }
  return { model, inlined };
}

function diff(name: string, kind: TensorDiff['kind'], got: Tensor, want: Tensor): TensorDiff {
  const a = numericValues(got);
  const e = numericValues(want);
  if (a.length !== e.length) return { name, kind, maxAbs: Infinity, error: Infinity, at: null };
  let maxAbs = 0;
  let arg = -1;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const same = a[i] === e[i] || (Number.isNaN(a[i]) && Number.isNaN(e[i]));
    const d = same ? 0 : Number.isNaN(a[i] - e[i]) ? Infinity : Math.abs(a[i] - e[i]);
    if (d > maxAbs) {
      maxAbs = d;
      arg = i;
    }
    if (Number.isFinite(e[i])) scale = Math.max(scale, Math.abs(e[i]));
  }
  const error = maxAbs === 0 ? 0 : scale === 0 ? Infinity : maxAbs / scale;
  return { name, kind, maxAbs, error, at: arg < 0 ? null : locate(arg, [want.dims]).index };
}

/** Weights of a model: initializers and Constant nodes' values, by tensor name. */
function weights(model: ModelProto): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const add = (name: string, t: TensorProto) => {
    try {
      out.set(name, fromTensorProto({ ...t, dims: (t.dims ?? []).map(Number), int64_data: t.int64_data?.map(Number) }));
    } catch {
      // A dtype we do not read (e.g. string): not compared.
    }
  };
  for (const t of model.graph.initializer) add(t.name ?? '', t);
  for (const n of model.graph.node as NodeProto[]) {
    const t = n.op_type === 'Constant' ? (n.attribute?.find((a) => a.name === 'value') as { t?: TensorProto } | undefined)?.t : undefined;
    if (t) add(n.output[0], t);
  }
  return out;
}

function compareNodes(model: ModelProto, reference: ModelProto, got: Record<string, Tensor>, want: Record<string, Tensor>): NodeDiff[] {
  const w = weights(model);
  const wRef = weights(reference);
  const inputs = new Set(model.graph.input.map((i) => i.name));
  const known = new Map<string, TensorDiff>();
  for (const [name, t] of w) if (wRef.has(name)) known.set(name, diff(name, 'weight', t, wRef.get(name)!));
  const constant = new Set(w.keys());
  const nodes: NodeDiff[] = [];
  for (const n of model.graph.node) {
    if (n.op_type === 'Constant') continue;
    // A node of weights only (e.g. Unsqueeze of a weight) is folded at load: its outputs are weights too.
    const folded = n.input.filter(Boolean).every((i) => constant.has(i));
    const outputs = n.output.filter((o) => o && got[o] && want[o]).map((o) => diff(o, folded ? 'weight' : 'node', got[o], want[o]));
    for (const o of outputs) known.set(o.name, o);
    if (folded) for (const o of n.output) constant.add(o);
    if (outputs.length === 0 || folded) continue;
    const ins = n.input.filter(Boolean).map((i) => known.get(i) ?? { name: i, kind: (inputs.has(i) ? 'graph input' : 'node') as TensorDiff['kind'], maxAbs: 0, error: 0, at: null });
    const error = Math.max(...outputs.map((o) => o.error));
    const inputError = Math.max(0, ...ins.map((i) => i.error));
    nodes.push({
      node: nodeLabel(n), op: n.op_type, outputs, inputs: ins.filter((i) => i.maxAbs > 0), error, inputError,
      amplification: error === 0 ? 0 : inputError === 0 ? Infinity : error / inputError,
    });
  }
  return nodes;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));

function summarize(first: NodeDiff | null, nodes: NodeDiff[], threshold: number, label: string): string {
  if (!first) {
    const worst = [...nodes].sort((a, b) => b.error - a.error)[0];
    return `No node's output differs from ${label} by more than ${fmt(threshold)} of its scale` +
      (worst ? `; the largest is ${worst.node} (${worst.op}), ${fmt(worst.error)}: the error accumulates over nodes` : '') + '.';
  }
  const out = first.outputs.reduce((a, b) => (b.error > a.error ? b : a));
  const ins = first.inputs.length
    ? `its inputs differ by ${fmt(first.inputError)} (${first.inputs.map((i) => `${i.name} [${i.kind}] ${fmt(i.error)}`).join(', ')})`
    : 'its inputs agree exactly';
  return `First diverging node: ${first.node} (${first.op} -> ${out.name}): error ${fmt(first.error)} of its scale (max abs ${fmt(out.maxAbs)} at [${out.at?.join(', ') ?? ''}]) ` +
    `against ${label}; ${ins}; amplification ${fmt(first.amplification)}.`;
}

/** Finds the first node whose output diverges from the reference runtime's (see the header). */
export async function diagnoseOnnx(input: DiagnoseOnnxInput): Promise<OnnxDiagnosis> {
  const { runtime, reference, feeds } = input;
  const flat = await flattenIfs(parseModel(input.model, 'model'), reference, feeds);
  const flatRef = input.referenceModel === input.model ? flat : await flattenIfs(parseModel(input.referenceModel, 'reference model'), reference, feeds);
  const probe = markAll(flat.model);
  const refProbe = markAll(flatRef.model);
  const want = await runOnce(reference, encodeModel(refProbe.model), 'reference probe', feeds);
  const got = await runOnce(runtime, encodeModel(probe.model), 'probe', feeds);
  const nodes = compareNodes(flat.model, flatRef.model, got, want);
  const k = nodes.findIndex((n) => n.error > input.threshold);
  const first = k < 0 ? null : nodes[k];
  const context = k < 0 ? [...nodes].sort((a, b) => b.error - a.error).slice(0, 10) : nodes.slice(Math.max(0, k - 5), k + 6);
  return {
    reference: input.referenceLabel,
    set: input.set,
    inlinedIfs: flat.inlined,
    comparedTensors: nodes.reduce((s, n) => s + n.outputs.length, 0),
    threshold: input.threshold,
    firstDiverging: first,
    nodes: context,
    summary: summarize(first, nodes, input.threshold, input.referenceLabel),
  };
}
