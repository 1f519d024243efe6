/**
 * Graph surgery for any ONNX model, without a runtime's help:
 *
 * - `modelIo`: the graph's real inputs (not initializers) and outputs, with dtypes and dims
 *   (a symbolic dim keeps its name);
 * - `inlineIfs`: an If node whose condition is known for the data is replaced by the nodes of
 *   the branch taken, so the tensors inside it become graph tensors too;
 * - `markAll`: Polygraphy's "mark all": every node output of the (top-level) graph added to
 *   graph.output, untyped (onnxruntime infers the type), so a run returns every intermediate.
 *
 * Models are decoded with int64 fields kept as strings (decodeModelExact), so re-encoding does
 * not change a byte of meaning.
 */
import { decodeModelExact, fromTensorProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '@vae/models/onnx';
import { dtypeOfElemType, type DType } from './tensors.js';

/** A subgraph-carrying attribute (If's then_branch / else_branch, Loop's body, Scan's body). */
interface GraphAttr { name: string; type: number; g?: Graph; graphs?: Graph[] }
type Node = NodeProto & { attribute?: GraphAttr[] };
interface Graph { name?: string; node: Node[]; initializer?: TensorProto[]; input?: ValueInfoProto[]; output?: ValueInfoProto[]; value_info?: ValueInfoProto[] }

export interface IoSpec {
  name: string;
  dtype: DType;
  /** A number, or the symbolic dim's name (null: unnamed and unknown). */
  dims: (number | string | null)[];
}

export interface ModelIo { inputs: IoSpec[]; outputs: IoSpec[] }

export function parseModel(bytes: Uint8Array, path: string): ModelProto {
  try {
    const model = decodeModelExact(bytes);
    if (!model.graph) throw new Error('no graph');
    return model;
  } catch (err) {
    throw new Error(`${path}: not an ONNX model: ${(err as Error).message}`);
  }
}

function ioSpec(v: ValueInfoProto, what: string): IoSpec {
  const tt = v.type?.tensor_type;
  if (!tt) throw new Error(`${what} "${v.name}" is not a tensor`);
  const dims = (tt.shape?.dim ?? []).map((d) => ('dim_value' in d && d.dim_value !== undefined && d.dim_value !== null ? Number(d.dim_value) : 'dim_param' in d && d.dim_param ? d.dim_param : null));
  return { name: v.name, dtype: dtypeOfElemType(tt.elem_type, `${what} "${v.name}"`), dims };
}

/** The graph's inputs (those not fed by an initializer) and outputs. */
export function modelIo(model: ModelProto): ModelIo {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  return {
    inputs: model.graph.input.filter((i) => !inits.has(i.name)).map((i) => ioSpec(i, 'input')),
    outputs: model.graph.output.map((o) => ioSpec(o, 'output')),
  };
}

/** The node's label: its name, or op(first output) when it has none. */
export const nodeLabel = (n: NodeProto): string => n.name || `${n.op_type}(${n.output[0] ?? ''})`;

const clone = <T>(v: T): T => structuredClone(v);

/** Every name produced or consumed anywhere in a graph, subgraphs included. */
function namesIn(g: Graph, into = new Set<string>()): Set<string> {
  for (const t of g.initializer ?? []) into.add(t.name ?? '');
  for (const i of g.input ?? []) into.add(i.name);
  for (const n of g.node) {
    for (const o of n.output) into.add(o);
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) namesIn(sub, into);
  }
  return into;
}

/** Renames tensor `from` to `to` in a graph and its subgraphs (reads and writes). */
function renameIn(g: Graph, from: string, to: string): void {
  for (const t of g.initializer ?? []) if (t.name === from) t.name = to;
  for (const n of g.node) {
    n.input = n.input.map((x) => (x === from ? to : x));
    n.output = n.output.map((x) => (x === from ? to : x));
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) renameIn(sub, from, to);
  }
  for (const o of g.output ?? []) if (o.name === from) o.name = to;
}

/** The If node's branch nodes, ready to stand in its place: clashing names renamed, outputs bound by Identity. */
function branchNodes(node: Node, branch: Graph, taken: string, taken_names: Set<string>): { nodes: Node[]; initializers: TensorProto[] } {
  const b = clone(branch);
  const produced = [...(b.initializer ?? []).map((t) => t.name ?? ''), ...b.node.flatMap((n) => n.output)].filter(Boolean);
  for (const name of produced) {
    if (!taken_names.has(name)) continue;
    let k = 1;
    while (taken_names.has(`${name}__${k}`)) k++;
    renameIn(b, name, `${name}__${k}`);
    taken_names.add(`${name}__${k}`);
  }
  const prefix = `${nodeLabel(node)}/${taken}`;
  const nodes = b.node.map((n, i) => ({ ...n, name: n.name || `${prefix}/${n.op_type}_${i}` }));
  (b.output ?? []).forEach((o, i) => {
    if (node.output[i]) nodes.push({ name: `${prefix}/output_${i}`, op_type: 'Identity', input: [o.name], output: [node.output[i]] });
  });
  return { nodes, initializers: b.initializer ?? [] };
}

/** The condition tensors of the top-level If nodes. */
export const ifConditions = (model: ModelProto): string[] => (model.graph.node as Node[]).filter((n) => n.op_type === 'If').map((n) => n.input[0]);

/**
 * Replaces each top-level If whose condition is in `conditions` by the branch it takes. The
 * inlined branches may hold Ifs of their own: call again with their conditions (inlineAllIfs).
 */
export function inlineIfs(model: ModelProto, conditions: ReadonlyMap<string, boolean>): { model: ModelProto; inlined: number } {
  const m = clone(model);
  const nodes: Node[] = [];
  let inlined = 0;
  for (const n of m.graph.node as Node[]) {
    const cond = n.op_type === 'If' ? conditions.get(n.input[0]) : undefined;
    const branch = cond === undefined ? undefined : (n.attribute as GraphAttr[] | undefined)?.find((a) => a.name === (cond ? 'then_branch' : 'else_branch'))?.g;
    if (!branch) {
      nodes.push(n);
      continue;
    }
    // Names the branch must not reuse: every other node's (and their subgraphs'), not this If's own.
    const names = namesIn({ ...(m.graph as Graph), node: (m.graph.node as Node[]).filter((x) => x !== n) });
    for (const x of nodes) for (const o of x.output) names.add(o);
    const b = branchNodes(n, branch, cond ? 'then' : 'else', names);
    nodes.push(...b.nodes);
    m.graph.initializer.push(...b.initializers);
    inlined++;
  }
  m.graph.node = nodes;
  return { model: m, inlined };
}

/** A constant boolean tensor's value (an initializer or a Constant node), or undefined. */
export function constantCondition(model: ModelProto, name: string): boolean | undefined {
  const init = model.graph.initializer.find((t) => t.name === name);
  const fromConstant = (model.graph.node as Node[]).find((n) => n.op_type === 'Constant' && n.output[0] === name)?.attribute?.find((a) => a.name === 'value') as { t?: TensorProto } | undefined;
  const t = init ?? fromConstant?.t;
  return t ? fromTensorProto({ ...t, dims: (t.dims ?? []).map(Number) }).data[0] !== 0 : undefined;
}

/** Polygraphy's "mark all": every top-level node output becomes a graph output (untyped: the runtime infers it). */
export function markAll(model: ModelProto): { model: ModelProto; tensors: string[] } {
  const m = clone(model);
  const existing = new Set(m.graph.output.map((o) => o.name));
  const inputs = new Set(m.graph.input.map((i) => i.name));
  const tensors: string[] = [];
  for (const n of m.graph.node) {
    for (const o of n.output) {
      if (!o || existing.has(o) || inputs.has(o)) continue;
      existing.add(o);
      tensors.push(o);
      m.graph.output.push({ name: o } as ValueInfoProto);
    }
  }
  return { model: m, tensors };
}

