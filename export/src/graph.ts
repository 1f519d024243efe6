/**
 * The VAE's graphs, written by tfjs-to-onnx-converter: this module only maps export's facts
 * (I/O names and docs, precision, producer, metadata) and its naming onto converter options.
 * Node creation, initializers, the Dense → Gemm mapping, weight storage (fp16, int8) and
 * protobuf writing live in the converter, the repository's one ONNX writer.
 *
 * Why a LayersModel plus options, not a handler-level graph builder: the converter's public
 * input is a LayersModel, its Dense handler is the one that every other model uses, and a conv
 * VAE (train/) is a LayersModel already. The MLP, trained on plain variables, is rebuilt as
 * Dense layers with its weights (vae.ts), which costs a copy of the weights and nothing else.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelProto } from '@vae/models/onnx';
import { convertLayersModel, type IoName, type Naming, type WeightStorage } from 'tfjs-to-onnx-converter';

/** The ONNX opset we target: 17 is the newest the onnx 1.12 checker (Debian 12's python3-onnx) knows. */
export const OPSET = 17;
/** IR version 8 is onnx 1.12's (the converter's for opset 17); onnxruntime 1.30 reads IR 3 to 11. */
export const IR_VERSION = 8;

export type Precision = 'fp32' | 'fp16' | 'int8';

const STORAGE: Record<Precision, WeightStorage> = { fp32: 'float32', fp16: 'float16', int8: 'int8' };

/**
 * Released graphs' names, which `vae verify`'s diagnosis reports (e.g. first diverging node
 * `decoder.dense1.gemm`, output `decoder.dense1.linear`): a layer's nodes are
 * `<layer>.<op>`, its intermediate value (Gemm's, before the activation) `<layer>.linear`, its
 * result `<layer>.out`, its weights `<layer>.kernel` / `<layer>.bias`, and their stored forms
 * `<weight>.fp16` + `.cast`, or `.int8`, `.scale`, `.zero_point` + `.dequantize`.
 */
export const GRAPH_NAMING: Naming = {
  node: (layer, op) => `${layer}.${op.toLowerCase()}`,
  value: (layer) => `${layer}.linear`,
  layerOutput: (layer) => `${layer}.out`,
  initializer: (layer, key) => `${layer}.${key}`,
  stored: (weight, part) => `${weight}.${part}`,
};

export interface GraphSpec {
  /** Graph name, e.g. "encoder"; a reduced precision is appended ("decoder.fp16"). */
  name: string;
  /** doc_string of the model and its graph. */
  doc: string;
  /** Names and docs of the model's inputs and outputs, in its order. */
  inputs: readonly IoName[];
  outputs: readonly IoName[];
  precision?: Precision;
  producer: { name: string; version: string };
  /** Written as ModelProto.metadata_props (string key/values), in this order. */
  metadata?: Record<string, string>;
}

/** The ModelProto and its bytes for `model` as `spec` describes it. */
export async function buildGraph(model: tf.LayersModel, spec: GraphSpec): Promise<{ model: ModelProto; bytes: Uint8Array }> {
  const precision = spec.precision ?? 'fp32';
  const result = await convertLayersModel(model, {
    opset: OPSET,
    graphName: precision === 'fp32' ? spec.name : `${spec.name}.${precision}`,
    inputs: [...spec.inputs],
    outputs: [...spec.outputs],
    naming: GRAPH_NAMING,
    weights: STORAGE[precision],
    producer: spec.producer,
    doc: spec.doc,
    metadata: spec.metadata ?? {},
  });
  // The manifest states IR_VERSION: a converter that pairs opset 17 with another IR must not pass silently.
  if (result.model.ir_version !== IR_VERSION) throw new Error(`the converter wrote IR ${result.model.ir_version} for opset ${OPSET}, the manifest says ${IR_VERSION}`);
  return { model: result.model, bytes: result.bytes };
}
