/**
 * tfjs activation functions (the `activation` option of Dense/Conv and the Activation layer)
 * and the advanced-activation layers. All are elementwise, so they keep their input's layout
 * (even a channels-first flatten order), except softmax, which maps its axis.
 */
import { float, int } from '../attributes.js';
import { ConversionContext, ConversionError, unsupported, type LayerCall, type TensorRef } from '../context.js';
import { registerLayerConverter } from '../registry.js';
import { permute, transposeData } from '../layout.js';
import { weight } from '../weights.js';

type Unary = (ctx: ConversionContext, layer: string, x: string) => string;

const single = (op: string, ...attrs: Parameters<typeof float>[]): Unary =>
  (ctx, layer, x) => ctx.op(layer, op, [x], attrs.map(([n, v]) => float(n, v)));

/** tfjs activation name → ONNX. Values are tfjs' own constants (hardSigmoid: 0.2x + 0.5). */
const ACTIVATIONS: Record<string, Unary> = {
  linear: (_ctx, _layer, x) => x,
  relu: single('Relu'),
  relu6: (ctx, layer, x) => clip(ctx, layer, x, 0, 6),
  elu: single('Elu', ['alpha', 1]),
  selu: single('Selu', ['alpha', 1.6732632423543772], ['gamma', 1.0507009873554805]),
  sigmoid: single('Sigmoid'),
  hardSigmoid: single('HardSigmoid', ['alpha', 0.2], ['beta', 0.5]),
  tanh: single('Tanh'),
  softplus: single('Softplus'),
  softsign: single('Softsign'),
  swish: (ctx, layer, x) => ctx.op(layer, 'Mul', [x, ctx.op(layer, 'Sigmoid', [x])]),
  mish: (ctx, layer, x) => ctx.op(layer, 'Mul', [x, ctx.op(layer, 'Tanh', [ctx.op(layer, 'Softplus', [x])])]),
  // tfjs' gelu is the exact one, x·Φ(x) = x·(1 + erf(x/√2))/2; Gelu is an opset-20 op, so spell it out.
  gelu: (ctx, layer, x) => {
    const scaled = ctx.op(layer, 'Mul', [x, ctx.floatConst(`${layer}/inv_sqrt2`, [], Float32Array.of(Math.SQRT1_2))]);
    const cdf = ctx.op(layer, 'Add', [ctx.op(layer, 'Erf', [scaled]), ctx.floatConst(`${layer}/one`, [], Float32Array.of(1))]);
    return ctx.op(layer, 'Mul', [ctx.op(layer, 'Mul', [x, cdf]), ctx.floatConst(`${layer}/half`, [], Float32Array.of(0.5))]);
  },
  // tfjs' gelu_new is the tanh approximation: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
  gelu_new: (ctx, layer, x) => {
    const c = (name: string, v: number) => ctx.floatConst(`${layer}/${name}`, [], Float32Array.of(v));
    const cube = ctx.op(layer, 'Mul', [ctx.op(layer, 'Mul', [x, x]), x]);
    const inner = ctx.op(layer, 'Add', [x, ctx.op(layer, 'Mul', [cube, c('k', 0.044715)])]);
    const t = ctx.op(layer, 'Tanh', [ctx.op(layer, 'Mul', [inner, c('sqrt_2_over_pi', Math.sqrt(2 / Math.PI))])]);
    return ctx.op(layer, 'Mul', [ctx.op(layer, 'Mul', [x, ctx.op(layer, 'Add', [t, c('one', 1)])]), c('half', 0.5)]);
  },
};

export const ACTIVATION_NAMES = [...Object.keys(ACTIVATIONS), 'softmax', 'logSoftmax'];

function clip(ctx: ConversionContext, layer: string, x: string, min: number, max: number): string {
  return ctx.op(layer, 'Clip', [x, ctx.floatConst(`${layer}/min`, [], Float32Array.of(min)), ctx.floatConst(`${layer}/max`, [], Float32Array.of(max))]);
}

function softmax(ctx: ConversionContext, layer: string, x: TensorRef, axis: number, op = 'Softmax'): TensorRef {
  return { ...x, name: ctx.op(layer, op, [x.name], [int('axis', ctx.physicalAxis(x, axis))]) };
}

/** Applies the activation named by a layer's `activation` option to `x` (its own output). */
export function applyActivation(call: LayerCall, ctx: ConversionContext, x: TensorRef, name = call.config.activation): TensorRef {
  const layer = call.layer.name;
  if (name === undefined || name === null) return x;
  if (name === 'softmax') return softmax(ctx, layer, x, -1);
  if (name === 'logSoftmax') return softmax(ctx, layer, x, -1, 'LogSoftmax');
  const fn = typeof name === 'string' ? ACTIVATIONS[name] : undefined;
  if (!fn) throw unsupported(call, 'activation', name, ACTIVATION_NAMES.join(', '));
  return { ...x, name: fn(ctx, layer, x.name) };
}

const only = (call: LayerCall): TensorRef => {
  if (call.inputs.length !== 1) throw new ConversionError(call.layer.name, call.className, `expects 1 input, got ${call.inputs.length}`);
  return call.inputs[0];
};

registerLayerConverter('Activation', (call, ctx) => applyActivation(call, ctx, only(call)),
  `the activation's ONNX op(s): ${ACTIVATION_NAMES.join(', ')}`);

registerLayerConverter('ReLU', (call, ctx) => {
  const x = only(call);
  const max = call.config.maxValue;
  if (max === undefined || max === null) return { ...x, name: ctx.op(call.layer.name, 'Relu', [x.name]) };
  return { ...x, name: clip(ctx, call.layer.name, x.name, 0, Number(max)) };
}, 'Relu, or Clip with maxValue');

registerLayerConverter('LeakyReLU', (call, ctx) => {
  const x = only(call);
  // Read the layer's alpha: tfjs defaults it to 0.3, ONNX LeakyRelu to 0.01.
  return { ...x, name: ctx.op(call.layer.name, 'LeakyRelu', [x.name], [float('alpha', Number(call.config.alpha))]) };
}, 'LeakyRelu (alpha written explicitly: tfjs 0.3 vs ONNX 0.01 defaults)');

registerLayerConverter('ELU', (call, ctx) => {
  const x = only(call);
  return { ...x, name: ctx.op(call.layer.name, 'Elu', [x.name], [float('alpha', Number(call.config.alpha))]) };
}, 'Elu');

registerLayerConverter('ThresholdedReLU', (call, ctx) => {
  const x = only(call);
  return { ...x, name: ctx.op(call.layer.name, 'ThresholdedRelu', [x.name], [float('alpha', Number(call.config.theta))]) };
}, 'ThresholdedRelu');

registerLayerConverter('Softmax', (call, ctx) => {
  const axis = call.config.axis ?? -1;
  if (typeof axis !== 'number') throw unsupported(call, 'axis', axis, 'a single axis');
  return softmax(ctx, call.layer.name, only(call), axis);
}, 'Softmax on the mapped axis');

registerLayerConverter('PReLU', (call, ctx) => {
  const x = ctx.unflat(only(call));
  const alpha = weight(call, 'alpha');
  // alpha has the input's shape without batch (shared axes are 1): lay it out like x.
  const rest = x.perm.slice(1).map((a) => a - 1);
  const dims = permute(alpha.shape, rest);
  const data = transposeData(alpha.data, alpha.shape, rest);
  return { ...x, name: ctx.op(call.layer.name, 'PRelu', [x.name, ctx.floatConst(`${call.layer.name}/alpha`, dims, data)]) };
}, 'PRelu, slope laid out like its input');

