/**
 * Builds an ONNX model from a list of dense layers.
 *
 * Each layer is y = act(x · W + b) with W stored [in, out] (tfjs' convention), written as
 * one Gemm node (A = x [N, in], B = W [in, out], C = b [out]) plus a Relu or Sigmoid
 * node. A layer reads the graph input or an earlier layer's output (`input`), so the
 * encoder's two heads can branch from the same trunk. A layer marked `output` becomes a
 * graph output of that name. Batch size is the dynamic dimension "N".
 *
 * Precision variants keep float32 I/O and float32 arithmetic; only how weights are stored
 * changes: fp16 stores every weight as float16 and Casts it to float32; int8 stores each
 * kernel as int8 with per-output-column scales and DequantizeLinear (biases stay float32).
 * onnxruntime folds these constant subgraphs when it loads the model.
 */
import { AttributeType, DataType, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '@vae/models/onnx';
import { toFloat16Array } from '@vae/models/onnx';
import { quantizeInt8PerColumn } from './quantize.js';
import { toTensorProto } from '@vae/models/onnx';

/** The ONNX opset we target: 17 is the newest the onnx 1.12 checker (Debian 12's python3-onnx) knows. */
export const OPSET = 17;
/** IR version 8 is onnx 1.12's; onnxruntime 1.30 reads IR 3 to 11. */
export const IR_VERSION = 8;
/** The dynamic batch dimension. */
export const BATCH_DIM = 'N';

export const SUPPORTED_OPS = ['dense'] as const;
export const SUPPORTED_ACTIVATIONS = ['relu', 'sigmoid', 'none'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];
export type Precision = 'fp32' | 'fp16' | 'int8';

export interface LayerSpec {
  /** e.g. "encoder.dense0"; names the initializers and nodes. */
  name: string;
  /** Only "dense" is supported; anything else is an error naming the layer. */
  op: string;
  /** "relu", "sigmoid" or "none"; anything else is an error naming the layer. */
  activation: string;
  /** [in, out], row-major, in * out values. */
  kernel: Float32Array;
  kernelShape: [number, number];
  /** out values. */
  bias: Float32Array;
  /** The tensor this layer reads: the graph input's name or an earlier layer's name. Default: the previous layer. */
  input?: string;
  /** Make this layer's result a graph output with this name and description. */
  output?: { name: string; doc: string };
}

export interface GraphSpec {
  /** Graph name, e.g. "encoder". */
  name: string;
  doc: string;
  input: { name: string; size: number; doc: string };
  layers: LayerSpec[];
  precision?: Precision;
  producer: { name: string; version: string };
  /** Written as ModelProto.metadata_props (string key/values). */
  metadata?: Record<string, string>;
}

/** The graph I/O signature a GraphSpec produces, as [name, size] pairs (shape [N, size]). */
export interface Signature { inputs: [string, number][]; outputs: [string, number][] }

export class UnsupportedLayerError extends Error {
  constructor(readonly layer: string, message: string) {
    super(`layer "${layer}": ${message}`);
    this.name = 'UnsupportedLayerError';
  }
}

/** Checks every layer's op, activation, shapes and wiring; returns the graph's signature. */
export function checkGraphSpec(spec: GraphSpec): Signature {
  const sizes = new Map<string, number>([[spec.input.name, spec.input.size]]);
  const outputs: [string, number][] = [];
  let previous = spec.input.name;
  if (spec.layers.length === 0) throw new Error(`graph "${spec.name}" has no layers`);
  for (const layer of spec.layers) {
    const fail = (why: string) => new UnsupportedLayerError(layer.name, why);
    if (!(SUPPORTED_OPS as readonly string[]).includes(layer.op)) {
      throw fail(`unsupported op "${layer.op}" (the exporter supports: ${SUPPORTED_OPS.join(', ')})`);
    }
    if (!(SUPPORTED_ACTIVATIONS as readonly string[]).includes(layer.activation)) {
      throw fail(`unsupported activation "${layer.activation}" (the exporter supports: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
    }
    if (sizes.has(layer.name)) throw fail('duplicate layer or tensor name');
    const from = layer.input ?? previous;
    const inSize = sizes.get(from);
    if (inSize === undefined) throw fail(`reads "${from}", which is neither the graph input nor an earlier layer`);
    const [rows, cols] = layer.kernelShape;
    if (rows !== inSize) throw fail(`kernel is [${rows}, ${cols}] but its input "${from}" has ${inSize} features`);
    if (layer.kernel.length !== rows * cols) throw fail(`kernel has ${layer.kernel.length} values, shape [${rows}, ${cols}] needs ${rows * cols}`);
    if (layer.bias.length !== cols) throw fail(`bias has ${layer.bias.length} values, expected ${cols}`);
    if (layer.output) outputs.push([layer.output.name, cols]);
    sizes.set(layer.name, cols);
    previous = layer.name;
  }
  if (outputs.length === 0) throw new Error(`graph "${spec.name}" has no layer marked as an output`);
  return { inputs: [[spec.input.name, spec.input.size]], outputs };
}

function valueInfo(name: string, size: number, doc: string): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: BATCH_DIM }, { dim_value: size }] } } },
    doc_string: doc,
  };
}

/** Initializers and nodes that yield a float32 weight tensor named `name`, stored in `precision`. */
function weight(name: string, data: Float32Array, dims: number[], precision: Precision, isKernel: boolean): { init: TensorProto[]; nodes: NodeProto[] } {
  if (precision === 'fp16') {
    return {
      init: [toTensorProto({ name: `${name}.fp16`, dtype: 'float16', dims, data: toFloat16Array(data) })],
      nodes: [{
        name: `${name}.cast`, op_type: 'Cast', input: [`${name}.fp16`], output: [name],
        attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }],
      }],
    };
  }
  if (precision === 'int8' && isKernel) {
    const [rows, cols] = dims;
    const q = quantizeInt8PerColumn(data, rows, cols);
    return {
      init: [
        toTensorProto({ name: `${name}.int8`, dtype: 'int8', dims, data: q.values }),
        toTensorProto({ name: `${name}.scale`, dtype: 'float32', dims: [cols], data: q.scale }),
        toTensorProto({ name: `${name}.zero_point`, dtype: 'int8', dims: [cols], data: new Int8Array(cols) }),
      ],
      nodes: [{
        name: `${name}.dequantize`, op_type: 'DequantizeLinear',
        input: [`${name}.int8`, `${name}.scale`, `${name}.zero_point`], output: [name],
        attribute: [{ name: 'axis', type: AttributeType.INT, i: 1 }],
      }],
    };
  }
  return { init: [toTensorProto({ name, dtype: 'float32', dims, data })], nodes: [] };
}

/** The ModelProto (as a plain object; serialize it with encodeModel). */
export function buildModel(spec: GraphSpec): ModelProto {
  const signature = checkGraphSpec(spec);
  const precision = spec.precision ?? 'fp32';
  const initializer: TensorProto[] = [];
  const node: NodeProto[] = [];
  const output: ValueInfoProto[] = [];
  const tensorOf = new Map<string, string>([[spec.input.name, spec.input.name]]);
  let previous = spec.input.name;

  for (const layer of spec.layers) {
    const { name, kernelShape } = layer;
    const kernel = weight(`${name}.kernel`, layer.kernel, kernelShape, precision, true);
    const bias = weight(`${name}.bias`, layer.bias, [kernelShape[1]], precision, false);
    initializer.push(...kernel.init, ...bias.init);
    node.push(...kernel.nodes, ...bias.nodes);

    const x = tensorOf.get(layer.input ?? previous)!;
    const result = layer.output?.name ?? `${name}.out`;
    const linear = layer.activation === 'none' ? result : `${name}.linear`;
    node.push({ name: `${name}.gemm`, op_type: 'Gemm', input: [x, `${name}.kernel`, `${name}.bias`], output: [linear] });
    if (layer.activation === 'relu') node.push({ name: `${name}.relu`, op_type: 'Relu', input: [linear], output: [result] });
    if (layer.activation === 'sigmoid') node.push({ name: `${name}.sigmoid`, op_type: 'Sigmoid', input: [linear], output: [result] });
    if (layer.output) output.push(valueInfo(layer.output.name, kernelShape[1], layer.output.doc));
    tensorOf.set(name, result);
    previous = name;
  }

  const [[inputName, inputSize]] = signature.inputs;
  return {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: spec.producer.name,
    producer_version: spec.producer.version,
    model_version: 1,
    doc_string: spec.doc,
    graph: {
      name: precision === 'fp32' ? spec.name : `${spec.name}.${precision}`,
      doc_string: spec.doc,
      node,
      initializer,
      input: [valueInfo(inputName, inputSize, spec.input.doc)],
      output,
    },
    metadata_props: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}
