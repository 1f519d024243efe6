/** Core layers: Dense, Flatten, Reshape, Permute, RepeatVector and the identity-at-inference ones. */
import { DataType } from '@vae/models/onnx';
import { int } from '../attributes.js';
import { ConversionError, type LayerCall, type TensorRef } from '../context.js';
import { registerLayerConverter } from '../registry.js';
import type * as tf from '@tensorflow/tfjs';
import { channelsFirst, flatLogicalIndex, identity, permute } from '../layout.js';
import { findWeight, weight } from '../weights.js';
import { applyActivation } from './activations.js';

const only = (call: LayerCall): TensorRef => {
  if (call.inputs.length !== 1) throw new ConversionError(call.layer.name, call.className, `expects 1 input, got ${call.inputs.length}`);
  return call.inputs[0];
};

registerLayerConverter('InputLayer', (call) => call.inputs, 'a graph input (batch dim "N", null dims dynamic)');

for (const className of ['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']) {
  registerLayerConverter(className, (call) => only(call), 'nothing (identity at inference)');
}

/** Kernel rows reordered so that row p multiplies physical flat element p. */
function foldFlatOrder(kernel: Float32Array, units: number, flat: NonNullable<TensorRef['flat']>): Float32Array {
  const logicalOf = flatLogicalIndex(flat.dims, flat.perm.slice(1).map((a) => a - 1));
  const out = new Float32Array(kernel.length);
  for (let p = 0; p < logicalOf.length; p++) out.set(kernel.subarray(logicalOf[p] * units, (logicalOf[p] + 1) * units), p * units);
  return out;
}

/** Layers that want a channels-last image held channels-first (so a Reshape before them should give NCHW). */
const CHANNELS_FIRST_CONSUMERS = new Set([
  'Conv2D', 'Conv2DTranspose', 'DepthwiseConv2D', 'SeparableConv2D', 'MaxPooling2D', 'AveragePooling2D',
  'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'UpSampling2D', 'ZeroPadding2D', 'Cropping2D',
]);

interface Outbound { outboundLayer: tf.layers.Layer }
const consumers = (layer: tf.layers.Layer): tf.layers.Layer[] =>
  (layer.outboundNodes as unknown as Outbound[]).map((n) => n.outboundLayer);

/**
 * The [h, w, c] a Dense's output is reshaped to, when that Reshape feeds channels-first layers:
 * Dense then writes its columns in [c, h, w] order, so the Reshape gives NCHW without a
 * Transpose. A heuristic only: any other consumer gets tfjs' order back through `ctx.unflat`.
 */
function reshapeToImageAfter(call: LayerCall): number[] | undefined {
  if (call.layer.inboundNodes.length !== 1 || call.outputShapes[0].length !== 2) return undefined;
  const next = consumers(call.layer);
  if (next.length !== 1 || next[0].getClassName() !== 'Reshape' || next[0].inboundNodes.length !== 1) return undefined;
  const target = (next[0].getConfig().targetShape as (number | null)[]);
  if (target.length !== 3 || target.some((d) => d === null || d < 0)) return undefined;
  const after = consumers(next[0]);
  const wantsNchw = after.length > 0 && after.every((l) => CHANNELS_FIRST_CONSUMERS.has(l.getClassName()) && l.getConfig().dataFormat !== 'channelsFirst');
  return wantsNchw ? (target as number[]) : undefined;
}

/** Kernel columns (and bias) reordered so that output column p is physical flat element p of `flat`. */
function foldColumns(data: Float32Array, units: number, flat: NonNullable<TensorRef['flat']>): Float32Array {
  const logicalOf = flatLogicalIndex(flat.dims, flat.perm.slice(1).map((a) => a - 1));
  const rows = data.length / units;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < units; p++) out[r * units + p] = data[r * units + logicalOf[p]];
  }
  return out;
}

registerLayerConverter('Dense', (call, ctx) => {
  const name = call.layer.name;
  const input = only(call);
  const kernel = weight(call, 'kernel');
  const [rows, units] = kernel.shape;
  // A channels-first flatten feeds Dense directly: the NHWC order goes into the kernel's rows.
  const x = input.flat && input.shape.length === 2 ? input : ctx.logical(input);
  let data = x.flat ? foldFlatOrder(kernel.data, units, x.flat) : kernel.data;
  // A Reshape to an image follows: write the columns in NCHW order (the mirror of the above).
  const image = reshapeToImageAfter(call);
  const outFlat = image && { dims: permute([0, ...image], channelsFirst(4)).slice(1), perm: channelsFirst(4) };
  if (outFlat) data = foldColumns(data, units, outFlat);
  const w = ctx.floatConst(`${name}/kernel`, [rows, units], data);
  const bias = findWeight(call, 'bias');
  const b = bias && ctx.floatConst(`${name}/bias`, [units], outFlat ? foldColumns(bias.data, units, outFlat) : bias.data);
  let y: string;
  if (x.shape.length === 2) {
    y = ctx.op(name, 'Gemm', b ? [x.name, w, b] : [x.name, w]);
  } else {
    // Dense on N-D input acts on the last axis: MatMul broadcasts the same way.
    const product = ctx.op(name, 'MatMul', [x.name, w]);
    y = b ? ctx.op(name, 'Add', [product, b]) : product;
  }
  const out: TensorRef = { name: y, shape: call.outputShapes[0], perm: identity(x.shape.length), ...(outFlat ? { flat: outFlat } : {}) };
  return applyActivation(call, ctx, out);
}, 'Gemm (MatMul + Add for N-D input); a preceding NCHW Flatten, or a following Reshape to an image, is folded into the kernel');

registerLayerConverter('Flatten', (call, ctx) => {
  const x = only(call);
  const shape = call.outputShapes[0];
  if (x.flat || x.shape.length === 2) return x;
  const physical = ctx.physicalShape(x).slice(1);
  if (x.perm.every((a, i) => a === i) || physical.some((d) => d === null)) {
    const logical = ctx.logical(x);
    return { name: ctx.op(call.layer.name, 'Flatten', [logical.name], [int('axis', 1)]), shape, perm: identity(2) };
  }
  // Flatten in ONNX order and remember it; Dense folds the order, anything else reorders.
  const name = ctx.op(call.layer.name, 'Flatten', [x.name], [int('axis', 1)]);
  return { name, shape, perm: identity(2), flat: { dims: physical as number[], perm: x.perm } };
}, 'Flatten (NCHW order, folded into the next Dense; else Transpose first)');

registerLayerConverter('Reshape', (call, ctx) => {
  const input = only(call);
  const target = (call.config.targetShape as (number | null)[]).map((d) => d ?? -1);
  const flat = input.flat;
  if (flat && flat.perm.length === target.length + 1 && permute([0, ...target], flat.perm).slice(1).every((d, i) => d === flat.dims[i])) {
    // A flat value in another layout, reshaped to the tensor it was flattened from: no Transpose.
    const shape = ctx.int64Const(`${call.layer.name}/shape`, [0, ...flat.dims]);
    return { name: ctx.op(call.layer.name, 'Reshape', [input.name, shape]), shape: call.outputShapes[0], perm: [...flat.perm] };
  }
  const x = ctx.logical(input);
  // tfjs keeps the inferred dimension (-1) as null. 0 copies the batch dimension.
  const shape = ctx.int64Const(`${call.layer.name}/shape`, [0, ...target]);
  return { name: ctx.op(call.layer.name, 'Reshape', [x.name, shape]), shape: call.outputShapes[0], perm: identity(target.length + 1) };
}, 'Reshape (in tfjs order; to NCHW directly after a Dense that feeds convs)');

registerLayerConverter('Permute', (call, ctx) => {
  const x = ctx.unflat(only(call));
  const dims = call.config.dims as number[];
  // No node: new logical axis i is old axis dims[i-1]; only the bookkeeping changes.
  const p = [0, ...dims];
  return { name: x.name, shape: call.outputShapes[0], perm: x.perm.map((old) => p.indexOf(old)) };
}, 'nothing (relabels the layout; a Transpose appears only where a consumer needs one)');

registerLayerConverter('RepeatVector', (call, ctx) => {
  const x = ctx.logical(only(call));
  const n = Number(call.config.n);
  const name = call.layer.name;
  const expanded = ctx.op(name, 'Unsqueeze', [x.name, ctx.int64Const(`${name}/axes`, [1])]);
  return { name: ctx.op(name, 'Tile', [expanded, ctx.int64Const(`${name}/repeats`, [1, n, 1])]), shape: call.outputShapes[0], perm: identity(3) };
}, 'Unsqueeze + Tile');


// Nested models are inlined by the graph walk (convert.ts) before the registry is consulted;
// these entries only list them among the supported layers.
for (const className of ['Sequential', 'Model', 'Functional']) {
  registerLayerConverter(className, (call) => {
    throw new ConversionError(call.layer.name, className, 'nested models are inlined by the graph walk, not by a converter');
  }, 'inlined (its graph is converted in place)');
}

registerLayerConverter('Embedding', (call, ctx) => {
  const name = call.layer.name;
  const x = ctx.logical(only(call));
  const table = weight(call, 'embeddings');
  // tfjs casts the indices to int32 (float inputs truncate); Gather wants int32 or int64 indices.
  const indices = ctx.op(name, 'Cast', [x.name], [int('to', DataType.INT64)]);
  const y = ctx.op(name, 'Gather', [ctx.floatConst(`${name}/embeddings`, table.shape, table.data), indices], [int('axis', 0)]);
  return { name: y, shape: call.outputShapes[0], perm: identity(call.outputShapes[0].length) };
}, 'Cast + Gather (maskZero only affects later layers and is not converted)');
