/** Merge layers (elementwise and Concatenate) and the normalization layers. */
import { float, int, ints } from '../attributes.js';
import { type ConversionContext, ConversionError, unsupported, type LayerCall, type TensorRef } from '../context.js';
import { registerLayerConverter } from '../registry.js';
import { identity, normalizeAxis } from '../layout.js';
import { findWeight, weight } from '../weights.js';

/**
 * tfjs merges inputs of lower rank by inserting axes after the batch axis ([N, 4] with [N, 3, 4]
 * is [N, 1, 4]); ONNX broadcasting would align them to the right, batch included. Unsqueeze them.
 */
function sameRank(call: LayerCall, ctx: ConversionContext): TensorRef[] {
  const rank = Math.max(...call.inputs.map((t) => t.shape.length));
  return call.inputs.map((t, i) => {
    if (t.shape.length === rank) return t;
    const x = ctx.logical(t);
    const added = rank - x.shape.length;
    const axes = ctx.int64Const(`${call.layer.name}/axes_${i}`, Array.from({ length: added }, (_, k) => k + 1));
    const shape = [x.shape[0], ...new Array<number>(added).fill(1), ...x.shape.slice(1)];
    return { name: ctx.op(call.layer.name, 'Unsqueeze', [x.name, axes]), shape, perm: identity(rank) };
  });
}

/** Elementwise merges keep a layout all inputs share (NCHW stays NCHW), else go tfjs' layout. */
function elementwise(variadic: string, binary?: string) {
  return (call: LayerCall, ctx: ConversionContext): TensorRef => {
    const inputs = ctx.common(sameRank(call, ctx));
    const names = inputs.map((t) => t.name);
    let y: string;
    if (binary) {
      y = names.slice(1).reduce((acc, next) => ctx.op(call.layer.name, binary, [acc, next]), names[0]);
    } else {
      y = ctx.op(call.layer.name, variadic, names);
    }
    return { ...inputs[0], name: y, shape: call.outputShapes[0] };
  };
}

registerLayerConverter('Add', elementwise('Sum', 'Add'), 'Add (chained for more than 2 inputs)');
registerLayerConverter('Multiply', elementwise('Mul', 'Mul'), 'Mul (chained)');
registerLayerConverter('Average', elementwise('Mean'), 'Mean');
registerLayerConverter('Maximum', elementwise('Max'), 'Max');
registerLayerConverter('Minimum', elementwise('Min'), 'Min');

registerLayerConverter('Concatenate', (call, ctx) => {
  const inputs = ctx.common(call.inputs.map((t) => ctx.unflat(t)));
  const axis = Number(call.config.axis ?? -1);
  const y = ctx.op(call.layer.name, 'Concat', inputs.map((t) => t.name), [int('axis', ctx.physicalAxis(inputs[0], axis))]);
  return { ...inputs[0], name: y, shape: call.outputShapes[0] };
}, 'Concat on the mapped axis');

const only = (call: LayerCall): TensorRef => {
  if (call.inputs.length !== 1) throw new ConversionError(call.layer.name, call.className, `expects 1 input, got ${call.inputs.length}`);
  return call.inputs[0];
};

const ones = (n: number) => new Float32Array(n).fill(1);

registerLayerConverter('BatchNormalization', (call, ctx) => {
  const name = call.layer.name;
  const x = ctx.unflat(only(call));
  const axis = Number(call.config.axis ?? -1);
  const mean = weight(call, 'moving_mean');
  const variance = weight(call, 'moving_variance');
  const gamma = findWeight(call, 'gamma')?.data ?? ones(mean.data.length);
  const beta = findWeight(call, 'beta')?.data ?? new Float32Array(mean.data.length);
  const epsilon = Number(call.config.epsilon ?? 1e-3);
  // Inference is one affine map per channel: y = x·scale + shift, folded here in float64.
  const c = mean.data.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = gamma[i] / Math.sqrt(variance.data[i] + epsilon);
    scale[i] = s;
    shift[i] = beta[i] - mean.data[i] * s;
  }
  // Shape the constants to broadcast along the channel's ONNX axis: [C, 1, 1] for NCHW, [C] for NHWC.
  const physical = ctx.physicalAxis(x, axis);
  const dims = [c, ...new Array<number>(x.shape.length - 1 - physical).fill(1)];
  const scaled = ctx.op(name, 'Mul', [x.name, ctx.floatConst(`${name}/scale`, dims, scale)]);
  return { ...x, name: ctx.op(name, 'Add', [scaled, ctx.floatConst(`${name}/shift`, dims, shift)]), shape: call.outputShapes[0] };
}, 'Mul + Add (moving statistics folded), any axis');

registerLayerConverter('LayerNormalization', (call, ctx) => {
  const name = call.layer.name;
  if (ctx.opset < 17) throw unsupported(call, 'opset', ctx.opset, 'LayerNormalization needs opset 17 or newer');
  const x = ctx.logical(only(call));
  const rank = x.shape.length;
  const raw = call.config.axis ?? -1;
  const axes = (Array.isArray(raw) ? raw : [raw]).map((a) => normalizeAxis(Number(a), rank)).sort((a, b) => a - b);
  // ONNX normalizes over axis..rank-1: tfjs' axes must be exactly those trailing ones.
  if (axes.some((a, i) => a !== rank - axes.length + i)) throw unsupported(call, 'axis', raw, 'trailing axes');
  const dims = axes.map((a) => x.shape[a] as number);
  const count = dims.reduce((a, b) => a * b, 1);
  const gamma = findWeight(call, 'gamma')?.data ?? ones(count);
  const beta = findWeight(call, 'beta')?.data ?? new Float32Array(count);
  const y = ctx.op(name, 'LayerNormalization', [x.name, ctx.floatConst(`${name}/gamma`, dims, gamma), ctx.floatConst(`${name}/beta`, dims, beta)], [
    int('axis', axes[0]), float('epsilon', Number(call.config.epsilon ?? 1e-3)),
  ]);
  return { name: y, shape: call.outputShapes[0], perm: identity(rank) };
}, 'LayerNormalization (opset 17+; trailing axes)');

/** x / sqrt(max(sum(x², axis), 1e-7)): tfjs' l2Normalize (its epsilon() is 1e-7). */
function l2Normalize(ctx: ConversionContext, layer: string, x: string, axis: number): string {
  const squares = ctx.op(layer, 'ReduceSum', [ctx.op(layer, 'Mul', [x, x]), ctx.int64Const(`${layer}/norm_axes`, [axis])], [int('keepdims', 1)]);
  const floor = ctx.op(layer, 'Max', [squares, ctx.floatConst(`${layer}/epsilon`, [], Float32Array.of(1e-7))]);
  return ctx.op(layer, 'Div', [x, ctx.op(layer, 'Sqrt', [floor])]);
}

registerLayerConverter('Dot', (call, ctx) => {
  const name = call.layer.name;
  if (call.inputs.length !== 2) throw new ConversionError(name, call.className, `expects 2 inputs, got ${call.inputs.length}`);
  const [a, b] = call.inputs.map((t) => ctx.logical(t));
  const rank = a.shape.length;
  if (b.shape.length !== rank || (rank !== 2 && rank !== 3)) {
    throw unsupported(call, 'input ranks', [a.shape.length, b.shape.length], 'both 2 or both 3');
  }
  const raw = call.config.axes as number | number[];
  const axes = (Array.isArray(raw) ? raw : [raw, raw]).map((axis) => normalizeAxis(axis, rank));
  if (axes.some((axis) => axis === 0)) throw unsupported(call, 'axes', raw, 'non-batch axes');
  let [x, y] = [a.name, b.name];
  if (call.config.normalize) [x, y] = [l2Normalize(ctx, name, x, axes[0]), l2Normalize(ctx, name, y, axes[1])];
  let out: string;
  if (rank === 2) {
    // [N, F] · [N, F] → [N, 1]
    out = ctx.op(name, 'ReduceSum', [ctx.op(name, 'Mul', [x, y]), ctx.int64Const(`${name}/axes`, [1])], [int('keepdims', 1)]);
  } else {
    // tfjs' batchDot: x's contracted axis last, y's second (a batched MatMul).
    const xm = axes[0] === 2 ? x : ctx.op(name, 'Transpose', [x], [ints('perm', [0, 2, 1])]);
    const ym = axes[1] === 1 ? y : ctx.op(name, 'Transpose', [y], [ints('perm', [0, 2, 1])]);
    out = ctx.op(name, 'MatMul', [xm, ym]);
  }
  return { name: out, shape: call.outputShapes[0], perm: identity(call.outputShapes[0].length) };
}, 'ReduceSum(Mul) for rank 2, MatMul (Transposes for the axes) for rank 3; normalize as tfjs (l2, epsilon 1e-7)');
