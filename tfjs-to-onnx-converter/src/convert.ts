/**
 * Walks a tfjs LayersModel's graph and builds the ONNX model.
 *
 * The walk starts at model.outputs and follows each symbolic tensor to the inbound node that
 * made it (layer.inboundNodes[nodeIndex]), so only this model's calls are converted: a shared
 * layer is converted once per call, and a layer also used by another model is not dragged in.
 * A nested model used as a layer is inlined: its own graph is walked with the outer inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { DataType, encodeModel, type DimensionProto, type ModelProto, type ValueInfoProto } from '@vae/models/onnx';
import { ConversionContext, ConversionError, type ConvertOptions, type IoName, type LayerCall, type Shape, type TensorRef } from './context.js';
import { storeWeights } from './precision.js';
import { converterFor } from './registry.js';
import { channelsFirst, identity, permute } from './layout.js';

export const PRODUCER = 'tfjs-to-onnx-converter';
export const VERSION = '0.1.0';
export const DEFAULT_OPSET = 17;
/** The IR version each opset came with (onnx 1.12: IR 8, opset 17; onnx 1.16: IR 10, opset 21). */
const IR_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** The parts of tfjs' SymbolicTensor and Node the walk uses (tfjs does not export the types). */
interface Symbolic { id: number; shape: Shape; dtype: string; sourceLayer: tf.layers.Layer; nodeIndex: number; tensorIndex: number }
interface InboundNode { inputTensors: Symbolic[]; outputTensors: Symbolic[] }

export interface ConversionSummary {
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  /** Each converted tfjs layer call: its name, class and the ONNX nodes it became. */
  layers: { name: string; className: string; nodes: string[] }[];
  /** ONNX op type → node count. */
  ops: Record<string, number>;
  opset: number;
}

export interface ConversionResult {
  model: ModelProto;
  bytes: Uint8Array;
  summary: ConversionSummary;
}

const isModel = (layer: tf.layers.Layer): layer is tf.LayersModel => layer instanceof tf.LayersModel;

function convertCall(layer: tf.layers.Layer, node: InboundNode, inputs: TensorRef[], ctx: ConversionContext, seen: { name: string; className: string }[]): TensorRef[] {
  const className = layer.getClassName();
  if (isModel(layer)) return walk(layer, inputs, ctx, seen);
  const fn = converterFor(className);
  if (!fn) {
    throw new ConversionError(layer.name, className,
      `no converter for layer class "${className}"; register one with registerLayerConverter('${className}', (call, ctx) => …) (see supportedLayers() for the built-in ones)`);
  }
  const call: LayerCall = {
    layer, className, config: layer.getConfig() as Record<string, unknown>, inputs,
    outputShapes: node.outputTensors.map((t) => [...t.shape]),
  };
  seen.push({ name: layer.name, className });
  const before = ctx.nodes.length;
  const out = fn(call, ctx);
  const outputs = Array.isArray(out) ? out : [out];
  if (outputs.length !== node.outputTensors.length) {
    throw new ConversionError(layer.name, className, `converter returned ${outputs.length} outputs, the layer has ${node.outputTensors.length}`);
  }
  return outputs.map((t, k) => nameLayerOutput(ctx, before, layer.name, k, t));
}

/**
 * Gives a layer call's k-th result the name `naming.layerOutput` asks for, when one of this
 * call's nodes (from index `from`) produced it; a value passed through (Dropout) keeps its name.
 */
function nameLayerOutput(ctx: ConversionContext, from: number, layer: string, k: number, t: TensorRef): TensorRef {
  if (!ctx.naming.layerOutput) return t;
  const mine = ctx.nodes.slice(from);
  const producer = mine.find((n) => n.output.includes(t.name));
  if (!producer) return t;
  const name = ctx.unique(ctx.naming.layerOutput(layer, k));
  ctx.renameValue(t.name, name, from);
  return { ...t, name };
}

/** Converts `model`'s graph with its inputs bound to `inputs`; returns its outputs. */
function walk(model: tf.LayersModel, inputs: TensorRef[], ctx: ConversionContext, seen: { name: string; className: string }[]): TensorRef[] {
  const values = new Map<number, TensorRef>();
  const modelInputs = model.inputs as unknown as Symbolic[];
  if (modelInputs.length !== inputs.length) throw new Error(`model "${model.name}" has ${modelInputs.length} inputs, got ${inputs.length}`);
  modelInputs.forEach((s, i) => values.set(s.id, inputs[i]));
  const visit = (s: Symbolic): TensorRef => {
    const known = values.get(s.id);
    if (known) return known;
    const node = s.sourceLayer.inboundNodes[s.nodeIndex] as unknown as InboundNode;
    const ins = node.inputTensors.map(visit);
    const outs = convertCall(s.sourceLayer, node, ins, ctx, seen);
    node.outputTensors.forEach((o, k) => values.set(o.id, outs[k]));
    return values.get(s.id)!;
  };
  return (model.outputs as unknown as Symbolic[]).map(visit);
}

function dims(shape: Shape, name: string): DimensionProto[] {
  return shape.map((d, i) => (d !== null ? { dim_value: d } : { dim_param: i === 0 ? 'N' : `${name}_dim${i}` }));
}

const ELEM_TYPES: Record<string, number> = { float32: DataType.FLOAT, int32: DataType.INT32 };

function valueInfo(name: string, shape: Shape, dtype: string, doc?: string): ValueInfoProto {
  const elem = ELEM_TYPES[dtype];
  if (elem === undefined) throw new Error(`graph input or output "${name}" is ${dtype}; supported: ${Object.keys(ELEM_TYPES).join(', ')}`);
  return { name, type: { tensor_type: { elem_type: elem, shape: { dim: dims(shape, name) } } }, ...(doc !== undefined ? { doc_string: doc } : {}) };
}

/** The caller's names for the graph's inputs or outputs: one per tensor, distinct, non-empty. */
function ioNames(given: IoName[] | undefined, count: number, what: 'inputs' | 'outputs', model: string): IoName[] | undefined {
  if (given === undefined) return undefined;
  if (given.length !== count) throw new Error(`options.${what} names ${given.length} tensors, model "${model}" has ${count} ${what}`);
  const bad = given.find((io, i) => !io.name || given.findIndex((o) => o.name === io.name) !== i);
  if (bad) throw new Error(`options.${what}: name ${JSON.stringify(bad.name)} is empty or repeated`);
  return given;
}

/** The boundary layout: tfjs' own, or NCHW for rank-4 tensors with nchwIo. */
const boundaryPerm = (rank: number, nchwIo: boolean) => (nchwIo && rank === 4 ? channelsFirst(rank) : identity(rank));

/**
 * Gives the value `from` the graph output name `to`: renames its producer's output in place,
 * or adds an Identity when it has no producer (a graph input) or is already an output.
 */
function nameOutput(ctx: ConversionContext, from: string, to: string, renamed: Map<string, string>): void {
  const current = renamed.get(from);
  const producer = current === undefined ? ctx.nodes.find((n) => n.output.includes(from)) : undefined;
  if (!producer) {
    ctx.nodes.push({ name: `${to}/Identity`, op_type: 'Identity', input: [current ?? from], output: [to] });
    return;
  }
  for (const n of ctx.nodes) {
    n.input = n.input.map((v) => (v === from ? to : v));
    n.output = n.output.map((v) => (v === from ? to : v));
  }
  renamed.set(from, to);
}

export function convertModel(model: tf.LayersModel, options: ConvertOptions = {}): ConversionResult {
  const opset = options.opset ?? DEFAULT_OPSET;
  const irVersion = IR_FOR_OPSET[opset];
  if (irVersion === undefined) throw new Error(`opset ${opset} is not supported (13 to 21; default ${DEFAULT_OPSET})`);
  const nchwIo = options.nchwIo ?? false;
  const ctx = new ConversionContext(opset, nchwIo, options.naming);
  const inputNames = ioNames(options.inputs, model.inputs.length, 'inputs', model.name);
  const outputNames = ioNames(options.outputs, model.outputs.length, 'outputs', model.name);
  const graphInputs: ValueInfoProto[] = [];
  const inputs = (model.inputs as unknown as Symbolic[]).map((s, i) => {
    const name = ctx.unique(inputNames?.[i].name ?? s.sourceLayer.name);
    const perm = boundaryPerm(s.shape.length, nchwIo);
    graphInputs.push(valueInfo(name, permute(s.shape, perm), s.dtype, inputNames?.[i].doc));
    return { name, shape: [...s.shape], perm } satisfies TensorRef;
  });
  const seen: { name: string; className: string }[] = [];
  const outputs = walk(model, inputs, ctx, seen);

  const graphOutputs: ValueInfoProto[] = [];
  const renamed = new Map<string, string>();
  (model.outputs as unknown as Symbolic[]).forEach((s, i) => {
    const ref = ctx.withPerm(outputs[i], boundaryPerm(outputs[i].shape.length, nchwIo));
    const name = ctx.unique(outputNames?.[i].name ?? s.sourceLayer.name);
    nameOutput(ctx, ref.name, name, renamed);
    graphOutputs.push(valueInfo(name, permute(ref.shape, ref.perm), s.dtype, outputNames?.[i].doc));
  });

  const graph = storeWeights(
    { name: options.graphName ?? model.name, node: ctx.nodes, initializer: ctx.initializers, input: graphInputs, output: graphOutputs },
    options.weights ?? 'float32', options.naming,
  );
  if (options.doc !== undefined) graph.doc_string = options.doc;
  const producer = options.producer ?? { name: PRODUCER, version: VERSION };
  const onnx: ModelProto = {
    ir_version: irVersion,
    opset_import: [{ domain: '', version: opset }],
    producer_name: producer.name,
    producer_version: producer.version,
    model_version: 1,
    doc_string: options.doc ?? `Converted from the TensorFlow.js LayersModel "${model.name}" by ${PRODUCER} ${VERSION}.`,
    graph,
    metadata_props: options.metadata
      ? Object.entries(options.metadata).map(([key, value]) => ({ key, value }))
      : [
        { key: 'source', value: 'tensorflow.js LayersModel' },
        { key: 'source.tfjs_version', value: tf.version.tfjs },
        { key: 'source.model_name', value: model.name },
        { key: 'source.layer_classes', value: [...new Set(seen.map((l) => l.className))].sort().join(',') },
        { key: 'converter.io_layout', value: nchwIo ? 'NCHW' : 'tfjs (channels-last)' },
      ],
  };
  return { model: onnx, bytes: encodeModel(onnx), summary: summarize(onnx, ctx, seen) };
}

function summarize(model: ModelProto, ctx: ConversionContext, seen: { name: string; className: string }[]): ConversionSummary {
  const shapeOf = (v: ValueInfoProto) => v.type.tensor_type.shape.dim.map((d) => ('dim_value' in d ? d.dim_value : d.dim_param));
  const ops: Record<string, number> = {};
  for (const n of model.graph.node) ops[n.op_type] = (ops[n.op_type] ?? 0) + 1;
  const unique = [...new Map(seen.map((l) => [l.name, l])).values()];
  return {
    inputs: model.graph.input.map((v) => ({ name: v.name, shape: shapeOf(v) })),
    outputs: model.graph.output.map((v) => ({ name: v.name, shape: shapeOf(v) })),
    layers: unique.map((l) => ({ ...l, nodes: ctx.layerNodes.get(l.name) ?? [] })),
    ops,
    opset: model.opset_import[0].version,
  };
}
