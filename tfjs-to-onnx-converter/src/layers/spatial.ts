/**
 * Convolution, pooling, resizing, padding and cropping. These work channels-first in ONNX:
 * a channels-last tfjs tensor is asked for as NCHW (a Transpose only at the first such
 * layer after an input), and the output stays NCHW for the next one.
 */
import { int, ints, str, type Attribute } from '../attributes.js';
import { ConversionContext, ConversionError, unsupported, type LayerCall, type TensorRef } from '../context.js';
import { registerLayerConverter } from '../registry.js';
import { channelsFirst, identity, transposeData } from '../layout.js';
import { findWeight, weight } from '../weights.js';
import { applyActivation } from './activations.js';

const only = (call: LayerCall): TensorRef => {
  if (call.inputs.length !== 1) throw new ConversionError(call.layer.name, call.className, `expects 1 input, got ${call.inputs.length}`);
  return call.inputs[0];
};

/** A number or per-dimension list option as a list of `n`. */
function tuple(value: unknown, n: number, fallback: number): number[] {
  if (value === undefined || value === null) return new Array<number>(n).fill(fallback);
  if (typeof value === 'number') return new Array<number>(n).fill(value);
  const list = value as number[];
  return list.length === 1 ? new Array<number>(n).fill(list[0]) : [...list];
}

/** The input in the layout this layer computes in, and the perm its output has. */
function spatialInput(call: LayerCall, ctx: ConversionContext): { x: TensorRef; perm: number[] } {
  const input = only(call);
  const format = call.config.dataFormat ?? 'channelsLast';
  if (format === 'channelsFirst') return { x: ctx.logical(input), perm: identity(input.shape.length) };
  if (format !== 'channelsLast') throw unsupported(call, 'dataFormat', format, 'channelsLast, channelsFirst');
  const perm = channelsFirst(input.shape.length);
  return { x: ctx.withPerm(input, perm), perm };
}

/**
 * ONNX pads for tfjs padding. "same" is TF's SAME_UPPER: total = max((⌈in/s⌉-1)·s + k_eff - in, 0),
 * the odd one at the end; written out when the size is static, as auto_pad when it is not.
 */
function padding(call: LayerCall, spatial: (number | null)[], kernel: number[], strides: number[], dilations: number[]): Attribute[] {
  const mode = call.config.padding ?? 'valid';
  const n = kernel.length;
  if (mode === 'valid') return [ints('pads', new Array<number>(2 * n).fill(0))];
  const effective = kernel.map((k, i) => (k - 1) * dilations[i] + 1);
  // tfjs 4.22 cannot run "causal" itself (NotImplementedError), so there is nothing to match.
  if (mode !== 'same') throw unsupported(call, 'padding', mode, 'valid, same');
  if (spatial.some((d) => d === null)) return [str('auto_pad', 'SAME_UPPER')];
  const total = spatial.map((d, i) => Math.max((Math.ceil(d! / strides[i]) - 1) * strides[i] + effective[i] - d!, 0));
  return [ints('pads', [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))])];
}

/** tfjs kernel [...k, in, out] as ONNX W [out, in, ...k]. */
function convKernel(ctx: ConversionContext, name: string, kernel: { data: Float32Array; shape: number[] }, n: number): string {
  const perm = [n + 1, n, ...identity(n)];
  const dims = perm.map((a) => kernel.shape[a]);
  return ctx.floatConst(name, dims, transposeData(kernel.data, kernel.shape, perm));
}

function spatialDims(x: TensorRef, ctx: ConversionContext): (number | null)[] {
  return ctx.physicalShape(x).slice(2);
}

function convolution(call: LayerCall, ctx: ConversionContext, n: number): TensorRef {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const kernel = weight(call, 'kernel');
  const k = kernel.shape.slice(0, n);
  const strides = tuple(call.config.strides, n, 1);
  const dilations = tuple(call.config.dilationRate, n, 1);
  const bias = call.config.useBias === false ? undefined : findWeight(call, 'bias');
  const inputs = [x.name, convKernel(ctx, `${name}/kernel`, kernel, n), ...(bias ? [ctx.floatConst(`${name}/bias`, bias.shape, bias.data)] : [])];
  const y = ctx.op(name, 'Conv', inputs, [
    ints('kernel_shape', k), ints('strides', strides), ints('dilations', dilations), ...padding(call, spatialDims(x, ctx), k, strides, dilations),
  ]);
  return applyActivation(call, ctx, { name: y, shape: call.outputShapes[0], perm });
}

registerLayerConverter('Conv1D', (call, ctx) => convolution(call, ctx, 1), 'Conv (valid, same; strides, dilation)');
registerLayerConverter('Conv2D', (call, ctx) => convolution(call, ctx, 2), 'Conv (valid, same; strides, dilation, both dataFormats)');

registerLayerConverter('DepthwiseConv2D', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const y = depthwise(call, ctx, x, name, true);
  return applyActivation(call, ctx, { name: y, shape: call.outputShapes[0], perm });
}, 'Conv with group = input channels');

/** Depthwise kernel [kh, kw, in, mult] as ONNX W [in·mult, 1, kh, kw] with group = in (channel c·mult + m, as tfjs). */
function depthwise(call: LayerCall, ctx: ConversionContext, x: TensorRef, name: string, withBias: boolean): string {
  const kernel = weight(call, 'depthwise_kernel');
  const [kh, kw, channels, mult] = kernel.shape;
  const w = ctx.floatConst(`${name}/depthwise_kernel`, [channels * mult, 1, kh, kw], transposeData(kernel.data, kernel.shape, [2, 3, 0, 1]));
  const strides = tuple(call.config.strides, 2, 1);
  const dilations = tuple(call.config.dilationRate, 2, 1);
  const bias = withBias && call.config.useBias !== false ? findWeight(call, 'bias') : undefined;
  const inputs = [x.name, w, ...(bias ? [ctx.floatConst(`${name}/bias`, bias.shape, bias.data)] : [])];
  return ctx.op(name, 'Conv', inputs, [
    ints('kernel_shape', [kh, kw]), ints('strides', strides), ints('dilations', dilations), int('group', channels),
    ...padding(call, spatialDims(x, ctx), [kh, kw], strides, dilations),
  ]);
}

registerLayerConverter('SeparableConv2D', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const mid = depthwise(call, ctx, x, name, false);
  const pointwise = weight(call, 'pointwise_kernel');
  const bias = call.config.useBias === false ? undefined : findWeight(call, 'bias');
  const inputs = [mid, convKernel(ctx, `${name}/pointwise_kernel`, pointwise, 2), ...(bias ? [ctx.floatConst(`${name}/bias`, bias.shape, bias.data)] : [])];
  const y = ctx.op(name, 'Conv', inputs, [ints('kernel_shape', [1, 1])]);
  return applyActivation(call, ctx, { name: y, shape: call.outputShapes[0], perm });
}, 'depthwise Conv (group) + 1x1 Conv');

registerLayerConverter('Conv2DTranspose', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const kernel = weight(call, 'kernel');
  const k = kernel.shape.slice(0, 2);
  const strides = tuple(call.config.strides, 2, 1);
  // tfjs' getConfig drops dilationRate here and its kernel ignores it, while Keras honours it:
  // a model that sets it has no single meaning, so refuse it rather than guess.
  const dilationRate = (call.layer as unknown as { dilationRate?: unknown }).dilationRate;
  if (tuple(dilationRate, 2, 1).some((d) => d !== 1)) throw unsupported(call, 'dilationRate', dilationRate, '1');
  const mode = call.config.padding ?? 'valid';
  if (mode !== 'valid' && mode !== 'same') throw unsupported(call, 'padding', mode, 'valid, same');
  // tfjs' output is in·s + max(k - s, 0) (valid) or in·s (same); ONNX's is (in-1)·s + k - pads + output_padding.
  const total = k.map((kk, i) => (mode === 'same' ? Math.max(kk - strides[i], 0) : 0));
  const pads = [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
  const outputPadding = k.map((kk, i) => Math.max(strides[i] - kk, 0));
  // tfjs kernel [kh, kw, out, in]; ONNX ConvTranspose W [in, out, kh, kw].
  const w = ctx.floatConst(`${name}/kernel`, [kernel.shape[3], kernel.shape[2], k[0], k[1]], transposeData(kernel.data, kernel.shape, [3, 2, 0, 1]));
  const bias = call.config.useBias === false ? undefined : findWeight(call, 'bias');
  const y = ctx.op(name, 'ConvTranspose', [x.name, w, ...(bias ? [ctx.floatConst(`${name}/bias`, bias.shape, bias.data)] : [])], [
    ints('kernel_shape', k), ints('strides', strides), ints('pads', pads), ints('output_padding', outputPadding),
  ]);
  return applyActivation(call, ctx, { name: y, shape: call.outputShapes[0], perm });
}, 'ConvTranspose (valid, same; strides)');

function pooling(op: 'MaxPool' | 'AveragePool', n: number) {
  return (call: LayerCall, ctx: ConversionContext): TensorRef => {
    const { x, perm } = spatialInput(call, ctx);
    const k = tuple(call.config.poolSize, n, 2);
    const strides = tuple(call.config.strides ?? call.config.poolSize, n, 2);
    // count_include_pad stays 0: tfjs averages over the valid cells only.
    const y = ctx.op(call.layer.name, op, [x.name], [ints('kernel_shape', k), ints('strides', strides), ...padding(call, spatialDims(x, ctx), k, strides, new Array<number>(n).fill(1))]);
    return { name: y, shape: call.outputShapes[0], perm };
  };
}

registerLayerConverter('MaxPooling1D', pooling('MaxPool', 1), 'MaxPool');
registerLayerConverter('MaxPooling2D', pooling('MaxPool', 2), 'MaxPool (valid, same)');
registerLayerConverter('AveragePooling1D', pooling('AveragePool', 1), 'AveragePool');
registerLayerConverter('AveragePooling2D', pooling('AveragePool', 2), 'AveragePool (valid, same; padding excluded from the mean, as tfjs)');

function globalPooling(op: 'GlobalMaxPool' | 'GlobalAveragePool') {
  return (call: LayerCall, ctx: ConversionContext): TensorRef => {
    if (call.config.keepDims) throw unsupported(call, 'keepDims', true, 'false');
    const { x } = spatialInput(call, ctx);
    const pooled = ctx.op(call.layer.name, op, [x.name]);
    return { name: ctx.op(call.layer.name, 'Flatten', [pooled], [int('axis', 1)]), shape: call.outputShapes[0], perm: identity(2) };
  };
}

registerLayerConverter('GlobalAveragePooling1D', globalPooling('GlobalAveragePool'), 'GlobalAveragePool + Flatten');
registerLayerConverter('GlobalAveragePooling2D', globalPooling('GlobalAveragePool'), 'GlobalAveragePool + Flatten');
registerLayerConverter('GlobalMaxPooling1D', globalPooling('GlobalMaxPool'), 'GlobalMaxPool + Flatten');
registerLayerConverter('GlobalMaxPooling2D', globalPooling('GlobalMaxPool'), 'GlobalMaxPool + Flatten');

registerLayerConverter('UpSampling2D', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const size = tuple(call.config.size, 2, 2);
  const interpolation = call.config.interpolation ?? 'nearest';
  // tfjs resizes without align-corners or half-pixel centers: ONNX's "asymmetric" coordinates.
  const mode = interpolation === 'nearest' ? [str('mode', 'nearest'), str('nearest_mode', 'floor')]
    : interpolation === 'bilinear' ? [str('mode', 'linear')] : undefined;
  if (!mode) throw unsupported(call, 'interpolation', interpolation, 'nearest, bilinear');
  const scales = ctx.floatConst(`${name}/scales`, [4], Float32Array.of(1, 1, size[0], size[1]));
  const y = ctx.op(name, 'Resize', [x.name, '', scales], [str('coordinate_transformation_mode', 'asymmetric'), ...mode]);
  return { name: y, shape: call.outputShapes[0], perm };
}, 'Resize (nearest or bilinear, asymmetric coordinates)');

/** [[top, bottom], [left, right]] from tfjs' number | [h, w] | [[t, b], [l, r]]. */
function pairs(value: unknown): [[number, number], [number, number]] {
  if (typeof value === 'number') return [[value, value], [value, value]];
  const [h, w] = value as (number | number[])[];
  const pair = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);
  return [pair(h), pair(w)];
}

registerLayerConverter('ZeroPadding2D', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const [[t, b], [l, r]] = pairs(call.config.padding);
  const y = ctx.op(name, 'Pad', [x.name, ctx.int64Const(`${name}/pads`, [0, 0, t, l, 0, 0, b, r])], [str('mode', 'constant')]);
  return { name: y, shape: call.outputShapes[0], perm };
}, 'Pad');

registerLayerConverter('Cropping2D', (call, ctx) => {
  const name = call.layer.name;
  const { x, perm } = spatialInput(call, ctx);
  const [[t, b], [l, r]] = pairs(call.config.cropping);
  const [h, w] = spatialDims(x, ctx);
  // A negative end counts from the end; an end of 0 crop must be "to the end", not index 0.
  const end = (dim: number | null, crop: number) => (dim !== null ? dim - crop : crop > 0 ? -crop : 2147483647);
  const y = ctx.op(name, 'Slice', [
    x.name, ctx.int64Const(`${name}/starts`, [t, l]), ctx.int64Const(`${name}/ends`, [end(h, b), end(w, r)]), ctx.int64Const(`${name}/axes`, [2, 3]),
  ]);
  return { name: y, shape: call.outputShapes[0], perm };
}, 'Slice');

