/**
 * The conversion context: the ONNX nodes and initializers emitted so far, unique names, and
 * the layout helpers handlers use to get their inputs in the layout they need.
 */
import type * as tf from '@tensorflow/tfjs';
import { toTensorProto, type NodeProto, type TensorProto } from '@vae/models/onnx';
import type { Attribute } from './attributes.js';
import { int, ints } from './attributes.js';
import { identity, channelsFirst, normalizeAxis, permute, samePerm, transposeBetween } from './layout.js';

export type Shape = (number | null)[];

/** A value of the ONNX graph as the tfjs layers see it. */
export interface TensorRef {
  /** The ONNX value name. */
  name: string;
  /** The tfjs (logical) shape, batch first; null is a dynamic dimension. */
  shape: Shape;
  /** ONNX axis i holds logical axis perm[i]; the identity is tfjs' own layout. */
  perm: number[];
  /**
   * Set when this [N, F] value is a channels-first tensor flattened in ONNX order rather than
   * tfjs' channels-last order: `dims` (without batch) and `perm` are the unflattened tensor's.
   * Dense folds the order into its kernel; every other consumer gets it materialized.
   */
  flat?: { dims: number[]; perm: number[] };
}

/** One application of a layer: the same (shared) layer can have several. */
export interface LayerCall {
  layer: tf.layers.Layer;
  className: string;
  /** layer.getConfig(): the layer's options as tfjs serializes them. */
  config: Record<string, unknown>;
  inputs: TensorRef[];
  /** The tfjs shapes of this call's outputs. */
  outputShapes: Shape[];
}

/**
 * How the graph's names are made from tfjs layer names. Every hook is optional; the defaults
 * are the converter's own scheme (`conv1/Conv`, `conv1/kernel`). A caller whose graph names are
 * a published contract (the VAE exporter's `decoder.dense1.gemm`, which `vae verify` reports)
 * sets its own. Names are still made unique (`_1`, `_2` suffixes).
 */
export interface Naming {
  /** A node of `layer` running `op` (default `${layer}/${op}`). */
  node?(layer: string, op: string): string;
  /** The first output of that node (default: the node's name). */
  value?(layer: string, op: string): string;
  /** The initializer a handler calls `${layer}/${key}` (default: that name). */
  initializer?(layer: string, key: string): string;
  /** The k-th result of a layer call, when a node of the call made it (default: keep the node output's name). */
  layerOutput?(layer: string, k: number): string;
  /** A stored form of a weight under `weights` (part "fp16", "cast", "int8", "scale", "zero_point", "dequantize"; default `${initializer}/${part}`). */
  stored?(initializer: string, part: string): string;
}

/** A graph input's or output's ONNX name, and its doc_string. */
export interface IoName { name: string; doc?: string }

export interface ConvertOptions {
  /** ONNX opset (default 17, the newest the onnx 1.12 checker knows). */
  opset?: number;
  /** Rank-4 inputs and outputs in NCHW, without boundary Transposes (default false: tfjs' NHWC). */
  nchwIo?: boolean;
  /** ONNX graph name (default: the tfjs model's name). */
  graphName?: string;
  /** Graph input names and docs, in model.inputs order (default: the input layers' names). */
  inputs?: IoName[];
  /** Graph output names and docs, in model.outputs order (default: the output layers' names). */
  outputs?: IoName[];
  /** Node, value and initializer names (default: `layer/Op`, `layer/kernel`). */
  naming?: Naming;
  /**
   * How weights are stored; arithmetic and I/O stay float32 (default "float32"). "float16":
   * every float32 initializer as float16 + Cast. "int8": each weight matrix multiplied from the
   * right (Gemm B without transB, MatMul B, 2-D) as int8 with one scale per output column +
   * DequantizeLinear; other initializers stay float32. onnxruntime folds these when it loads.
   */
  weights?: WeightStorage;
  /** ModelProto producer (default: tfjs-to-onnx-converter and its version). */
  producer?: { name: string; version: string };
  /** doc_string of the model and its graph (default: a line naming the source model, on the model only). */
  doc?: string;
  /** metadata_props, in order, instead of the default `source.*` provenance entries. */
  metadata?: Record<string, string>;
}

export type WeightStorage = 'float32' | 'float16' | 'int8';

export class ConversionError extends Error {
  constructor(readonly layer: string, readonly className: string, message: string) {
    super(`layer "${layer}" (${className}): ${message}`);
    this.name = 'ConversionError';
  }
}

/** The error for an option a handler cannot convert: names the layer, the option and its value. */
export function unsupported(call: LayerCall, option: string, value: unknown, supported?: string): ConversionError {
  const more = supported ? ` (supported: ${supported})` : '';
  return new ConversionError(call.layer.name, call.className, `unsupported ${option}=${JSON.stringify(value)}${more}`);
}

export class ConversionContext {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** The ONNX node names emitted per tfjs layer name, for the summary. */
  readonly layerNodes = new Map<string, string[]>();
  private readonly names = new Set<string>();
  private readonly layoutCache = new Map<string, TensorRef>();

  constructor(readonly opset: number, readonly nchwIo: boolean, readonly naming: Naming = {}) {}

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** Emits one node named after its layer ("conv1/Conv", or as `naming` says); returns its output names. */
  emit(layer: string, op: string, inputs: string[], attribute: Attribute[] = [], outputs = 1): string[] {
    const name = this.unique(this.naming.node?.(layer, op) ?? `${layer}/${op}`);
    const first = this.naming.value ? this.unique(this.naming.value(layer, op)) : name;
    const output = Array.from({ length: outputs }, (_, i) => (i === 0 ? first : this.unique(`${name}:${i}`)));
    this.nodes.push({ name, op_type: op, input: inputs, output, ...(attribute.length ? { attribute } : {}) });
    const list = this.layerNodes.get(layer) ?? [];
    list.push(name);
    this.layerNodes.set(layer, list);
    return output;
  }

  /**
   * Renames value `from` to `to` in the nodes from index `start` on and in the layout cache, so
   * a Transpose cached for the old name is not handed out under a name that no longer exists.
   */
  renameValue(from: string, to: string, start = 0): void {
    for (const n of this.nodes.slice(start)) {
      n.input = n.input.map((v) => (v === from ? to : v));
      n.output = n.output.map((v) => (v === from ? to : v));
    }
    for (const [key, ref] of this.layoutCache) if (ref.name === from) this.layoutCache.set(key, { ...ref, name: to });
  }

  /** Emits one single-output node. */
  op(layer: string, op: string, inputs: string[], attribute: Attribute[] = []): string {
    return this.emit(layer, op, inputs, attribute)[0];
  }

  /** The initializer name for a handler's `${layer}/${key}`, as `naming` says. */
  private initializerName(name: string): string {
    const cut = name.lastIndexOf('/');
    if (!this.naming.initializer || cut < 0) return this.unique(name);
    return this.unique(this.naming.initializer(name.slice(0, cut), name.slice(cut + 1)));
  }

  floatConst(name: string, dims: number[], data: Float32Array): string {
    const unique = this.initializerName(name);
    this.initializers.push(toTensorProto({ name: unique, dtype: 'float32', dims, data }));
    return unique;
  }

  int64Const(name: string, values: number[]): string {
    const unique = this.initializerName(name);
    this.initializers.push(toTensorProto({ name: unique, dtype: 'int64', dims: [values.length], data: Float64Array.from(values) }));
    return unique;
  }

  /** `t` with its flattened order made tfjs' (one Reshape, Transpose, Flatten; cached). */
  unflat(t: TensorRef): TensorRef {
    if (!t.flat) return t;
    const key = `${t.name}|flat`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    const owner = t.name.split('/')[0];
    const folded = this.op(owner, 'Reshape', [t.name, this.int64Const(`${owner}/unflatten_shape`, [0, ...t.flat.dims])]);
    const logical = this.op(owner, 'Transpose', [folded], [ints('perm', transposeBetween(t.flat.perm, identity(t.flat.perm.length)))]);
    const ref: TensorRef = { name: this.op(owner, 'Flatten', [logical], [int('axis', 1)]), shape: t.shape, perm: identity(2) };
    this.layoutCache.set(key, ref);
    return ref;
  }

  /** `t` laid out as `perm` (a Transpose unless it already is; one per tensor and perm). */
  withPerm(t: TensorRef, perm: number[]): TensorRef {
    const src = this.unflat(t);
    if (samePerm(src.perm, perm)) return src;
    const key = `${src.name}|${perm.join(',')}`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    const owner = src.name.split('/')[0];
    const name = this.op(owner, 'Transpose', [src.name], [ints('perm', transposeBetween(src.perm, perm))]);
    const ref: TensorRef = { name, shape: src.shape, perm: [...perm] };
    this.layoutCache.set(key, ref);
    return ref;
  }

  /** `t` in tfjs' own layout. */
  logical(t: TensorRef): TensorRef {
    return this.withPerm(t, identity(t.shape.length));
  }

  /** A channels-last `t` held channels-first (NHWC as NCHW), as Conv and Pool need. */
  channelsFirst(t: TensorRef): TensorRef {
    return this.withPerm(t, channelsFirst(t.shape.length));
  }

  /** Inputs of an elementwise op brought to one common layout (their own if they agree). */
  common(inputs: TensorRef[]): TensorRef[] {
    const [first] = inputs;
    const agree = inputs.every((t) => samePerm(t.perm, first.perm) && JSON.stringify(t.flat) === JSON.stringify(first.flat));
    return agree ? inputs : inputs.map((t) => this.logical(t));
  }

  /** Where logical axis `axis` (may be negative) of `t` is in the ONNX tensor. */
  physicalAxis(t: TensorRef, axis: number): number {
    return t.perm.indexOf(normalizeAxis(axis, t.shape.length));
  }

  physicalShape(t: TensorRef): Shape {
    return permute(t.shape, t.perm);
  }
}
