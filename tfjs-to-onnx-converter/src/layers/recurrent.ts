/**
 * Recurrent layers: SimpleRNN, LSTM and GRU as ONNX RNN / LSTM / GRU (one node each), and
 * Bidirectional as the same node with direction 'bidirectional'.
 *
 * ONNX wants W [dirs, gates·units, input], R [dirs, gates·units, units], B [dirs, 2·gates·units]
 * (input bias, then recurrent bias): tfjs' kernel [input, gates·units] is transposed with its
 * gate blocks reordered (LSTM: tfjs i f c o, ONNX i o f c; GRU: z r h in both), its one bias
 * goes to the input half and the recurrent half is zeros. tfjs' GRU has no resetAfter (it
 * rejects true), so linear_before_reset stays 0. The sequence runs time-major, [T, N, F]
 * (onnxruntime rejects layout=1): the input is held as perm [1, 0, 2] and so is a returned
 * sequence, so stacked recurrent layers need no Transpose in between.
 */
import type * as tf from '@tensorflow/tfjs';
import { floats, int, str, strs } from '../attributes.js';
import { ConversionContext, ConversionError, unsupported, type LayerCall, type TensorRef } from '../context.js';
import { converterFor, registerLayerConverter } from '../registry.js';
import { identity, transposeData } from '../layout.js';
import { findWeight, weight } from '../weights.js';

/** tfjs activation → ONNX recurrent activation. hardSigmoid gets tfjs' 0.2x + 0.5 explicitly. */
const RNN_ACTIVATIONS: Record<string, string> = {
  tanh: 'Tanh', sigmoid: 'Sigmoid', relu: 'Relu', hardSigmoid: 'HardSigmoid', softsign: 'Softsign',
  softplus: 'Softplus', linear: 'Affine', elu: 'Elu',
};

/** The (alpha, beta) of the ONNX activations that take them, as tfjs computes them. */
const PARAMS: Record<string, [number, number]> = { HardSigmoid: [0.2, 0.5], Affine: [1, 0], Elu: [1, 0] };

interface Kind {
  op: 'RNN' | 'LSTM' | 'GRU';
  gates: number;
  /** ONNX gate block k is tfjs block order[k]. */
  order: number[];
  /** The tfjs config keys of ONNX's activations, in ONNX order. */
  activations: string[];
  states: number;
}

const KINDS: Record<string, Kind> = {
  SimpleRNN: { op: 'RNN', gates: 1, order: [0], activations: ['activation'], states: 1 },
  LSTM: { op: 'LSTM', gates: 4, order: [0, 3, 1, 2], activations: ['recurrentActivation', 'activation', 'activation'], states: 2 },
  GRU: { op: 'GRU', gates: 3, order: [0, 1, 2], activations: ['recurrentActivation', 'activation'], states: 1 },
};

const only = (call: LayerCall): TensorRef => {
  if (call.inputs.length !== 1) {
    throw new ConversionError(call.layer.name, call.className, `expects 1 input (initial states are not converted), got ${call.inputs.length}`);
  }
  return call.inputs[0];
};

/** tfjs [rows, gates·units] as ONNX [gates·units, rows], gate blocks reordered. */
function gatesFirst(data: Float32Array, rows: number, units: number, order: number[]): Float32Array {
  const t = transposeData(data, [rows, order.length * units], [1, 0]);
  const out = new Float32Array(t.length);
  order.forEach((src, k) => out.set(t.subarray(src * units * rows, (src + 1) * units * rows), k * units * rows));
  return out;
}

function reorderBias(data: Float32Array, units: number, order: number[]): Float32Array {
  const out = new Float32Array(2 * order.length * units); // the recurrent half stays 0
  order.forEach((src, k) => out.set(data.subarray(src * units, (src + 1) * units), k * units));
  return out;
}

/** The checks and ONNX activations of one recurrent layer (a direction of a Bidirectional). */
function describe(call: LayerCall, cell: LayerCall): { kind: Kind; units: number; acts: string[] } {
  const kind = KINDS[cell.className];
  if (!kind) throw unsupported(call, 'layer', cell.className, Object.keys(KINDS).join(', '));
  const c = cell.config;
  if (c.stateful) throw unsupported(call, 'stateful', c.stateful, 'false');
  if (c.resetAfter) throw unsupported(call, 'resetAfter', c.resetAfter, 'false');
  const acts = kind.activations.map((key) => {
    const onnx = RNN_ACTIVATIONS[c[key] as string];
    if (!onnx) throw unsupported(call, key, c[key], Object.keys(RNN_ACTIVATIONS).join(', '));
    return onnx;
  });
  return { kind, units: Number(c.units), acts };
}

/** One recurrent node over `cells` (one per direction); returns Y, Y_h (and Y_c). */
function recurrentNode(call: LayerCall, ctx: ConversionContext, x: TensorRef, cells: LayerCall[], direction: string): string[] {
  const name = call.layer.name;
  const described = cells.map((cell) => describe(call, cell));
  const { kind, units } = described[0];
  const acts = described.flatMap((d) => d.acts);
  const inputDim = Number(x.shape[2]);
  const dirs = cells.length;
  const W = new Float32Array(dirs * kind.gates * units * inputDim);
  const R = new Float32Array(dirs * kind.gates * units * units);
  const B = new Float32Array(dirs * 2 * kind.gates * units);
  let hasBias = false;
  cells.forEach((cell, d) => {
    W.set(gatesFirst(weight(cell, 'kernel').data, inputDim, units, kind.order), d * kind.gates * units * inputDim);
    R.set(gatesFirst(weight(cell, 'recurrent_kernel').data, units, units, kind.order), d * kind.gates * units * units);
    const bias = cell.config.useBias === false ? undefined : findWeight(cell, 'bias');
    if (bias) {
      hasBias = true;
      B.set(reorderBias(bias.data, units, kind.order), d * 2 * kind.gates * units);
    }
  });
  const inputs = [
    x.name,
    ctx.floatConst(`${name}/W`, [dirs, kind.gates * units, inputDim], W),
    ctx.floatConst(`${name}/R`, [dirs, kind.gates * units, units], R),
    ...(hasBias ? [ctx.floatConst(`${name}/B`, [dirs, 2 * kind.gates * units], B)] : []),
  ];
  // ONNX leaves open whether activation_alpha/beta hold one value per activation or per
  // activation that takes one (onnxruntime reads the latter). Writing the same pair for every
  // activation is right either way, so the activations taking parameters must agree on them.
  const params = [...new Set(acts.filter((a) => PARAMS[a]).map((a) => PARAMS[a].join(',')))];
  if (params.length > 1) throw unsupported(call, 'activations', acts, 'at most one of hardSigmoid, linear, elu');
  const [alpha, beta] = params.length ? params[0].split(',').map(Number) : [];
  const attributes = [
    int('hidden_size', units), str('direction', direction),
    strs('activations', acts),
    ...(params.length ? [floats('activation_alpha', acts.map(() => alpha)), floats('activation_beta', acts.map(() => beta))] : []),
  ];
  return ctx.emit(name, kind.op, inputs, attributes, 1 + kind.states);
}

/** `t` with one index of `axis` taken (Slice + Squeeze). */
function take(ctx: ConversionContext, layer: string, t: string, axis: number, index: number): string {
  const sliced = ctx.op(layer, 'Slice', [t, ctx.int64Const(`${layer}/start`, [index]), ctx.int64Const(`${layer}/end`, [index + 1]), ctx.int64Const(`${layer}/axes`, [axis])]);
  return ctx.op(layer, 'Squeeze', [sliced, ctx.int64Const(`${layer}/axes`, [axis])]);
}

/** `t` reversed along `axis` (Slice with step -1). */
function reverse(ctx: ConversionContext, layer: string, t: string, axis: number): string {
  return ctx.op(layer, 'Slice', [t, ctx.int64Const(`${layer}/start`, [-1]), ctx.int64Const(`${layer}/end`, [Number.MIN_SAFE_INTEGER]),
    ctx.int64Const(`${layer}/axes`, [axis]), ctx.int64Const(`${layer}/steps`, [-1])]);
}

const timeMajor = [1, 0, 2];

registerLayerConverter('SimpleRNN', (call, ctx) => recurrent(call, ctx), 'RNN (tanh, sigmoid, relu, hardSigmoid, softsign, softplus, elu, linear as Affine; returnSequences, returnState, goBackwards)');
registerLayerConverter('LSTM', (call, ctx) => recurrent(call, ctx), 'LSTM (gates reordered i f c o → i o f c; activations as SimpleRNN; returnSequences, returnState, goBackwards)');
registerLayerConverter('GRU', (call, ctx) => recurrent(call, ctx), 'GRU (z r h, linear_before_reset 0 as tfjs; activations as SimpleRNN; returnSequences, returnState, goBackwards)');

/**
 * tfjs skips masked time steps (Embedding maskZero) inside the recurrent loop at predict time,
 * though its symbolic nodes show no mask; ONNX has only sequence_lens. So look upstream, through
 * layers that pass a mask on, for a masking Embedding, and refuse rather than differ.
 */
function rejectMask(call: LayerCall): void {
  type Inbound = { inboundLayers: tf.layers.Layer[] };
  const seen = new Set<tf.layers.Layer>();
  const masked = (layer: tf.layers.Layer): boolean => {
    if (seen.has(layer)) return false;
    seen.add(layer);
    if (layer.getClassName() === 'Embedding' && (layer.getConfig() as { maskZero?: boolean }).maskZero) return true;
    return layer.supportsMasking && (layer.inboundNodes as unknown as Inbound[]).some((n) => n.inboundLayers.some(masked));
  };
  const sources = (call.layer.inboundNodes as unknown as Inbound[]).flatMap((n) => n.inboundLayers);
  if (sources.some(masked)) throw unsupported(call, 'input mask', 'Embedding maskZero', 'none');
}

function recurrent(call: LayerCall, ctx: ConversionContext): TensorRef[] {
  const name = call.layer.name;
  rejectMask(call);
  const x = ctx.withPerm(only(call), timeMajor);
  const back = call.config.goBackwards === true;
  const [y, ...states] = recurrentNode(call, ctx, x, [call], back ? 'reverse' : 'forward');
  const [outShape, ...stateShapes] = call.outputShapes;
  let out: TensorRef;
  if (call.config.returnSequences) {
    let seq = take(ctx, name, y, 1, 0);
    // tfjs iterates a goBackwards layer over the reversed input and returns that order; ONNX's
    // 'reverse' direction returns Y in input order.
    if (back) seq = reverse(ctx, name, seq, 0);
    out = { name: seq, shape: outShape, perm: timeMajor };
  } else {
    out = { name: take(ctx, name, states[0], 0, 0), shape: outShape, perm: [0, 1] };
  }
  if (!call.config.returnState) return [out];
  return [out, ...states.map((s, i) => ({ name: take(ctx, name, s, 0, 0), shape: stateShapes[i], perm: [0, 1] }))];
}

interface BidirectionalLayer extends tf.layers.Layer { forwardLayer: tf.layers.Layer; backwardLayer: tf.layers.Layer; mergeMode: string | null }

const subCall = (call: LayerCall, layer: tf.layers.Layer): LayerCall =>
  ({ ...call, layer, className: layer.getClassName(), config: layer.getConfig() as Record<string, unknown> });

registerLayerConverter('Bidirectional', (call, ctx) => {
  const name = call.layer.name;
  const layer = call.layer as BidirectionalLayer;
  const fw = subCall(call, layer.forwardLayer);
  const bw = subCall(call, layer.backwardLayer);
  if (fw.config.goBackwards) throw unsupported(call, 'layer.goBackwards', true, 'false');
  rejectMask(call);
  const x = ctx.withPerm(only(call), timeMajor);
  // Direction 0 is forward, 1 reverse; ONNX returns the reverse Y in input order, which is
  // what tfjs' Bidirectional makes of the backward sequence (it reverses it back).
  const [y, ...states] = recurrentNode(call, ctx, x, [fw, bw], 'bidirectional');
  const sequences = fw.config.returnSequences === true;
  const halves = sequences ? [take(ctx, name, y, 1, 0), take(ctx, name, y, 1, 1)] : [take(ctx, name, states[0], 0, 0), take(ctx, name, states[0], 0, 1)];
  const perm = sequences ? timeMajor : [0, 1];
  const axis = sequences ? 2 : 1;
  const mode = layer.mergeMode;
  const [outShape] = call.outputShapes;
  let outputs: TensorRef[];
  if (mode === 'concat') outputs = [{ name: ctx.op(name, 'Concat', halves, [int('axis', axis)]), shape: outShape, perm }];
  else if (mode === 'sum') outputs = [{ name: ctx.op(name, 'Add', halves), shape: outShape, perm }];
  else if (mode === 'mul') outputs = [{ name: ctx.op(name, 'Mul', halves), shape: outShape, perm }];
  else if (mode === 'ave') {
    const sum = ctx.op(name, 'Add', halves);
    outputs = [{ name: ctx.op(name, 'Mul', [sum, ctx.floatConst(`${name}/half`, [], Float32Array.of(0.5))]), shape: outShape, perm }];
  } else if (mode === null || mode === undefined) {
    outputs = halves.map((h, i) => ({ name: h, shape: call.outputShapes[i], perm }));
  } else throw unsupported(call, 'mergeMode', mode, 'concat, sum, mul, ave, null');
  if (!fw.config.returnState) return outputs;
  // tfjs lists the forward states, then the backward ones.
  const stateRefs = [0, 1].flatMap((d) => states.map((s) => take(ctx, name, s, 0, d)));
  const first = outputs.length;
  return [...outputs, ...stateRefs.map((s, i) => ({ name: s, shape: call.outputShapes[first + i], perm: [0, 1] }))];
}, 'LSTM/GRU/RNN with direction bidirectional; mergeMode concat, sum, mul, ave or null; returnSequences, returnState');

/**
 * TimeDistributed: a Dense acts on the last axis anyway (MatMul), so it gets the sequence as is;
 * any other layer runs on [N·T, ...] (Reshape in, its own converter, Reshape out to [N, T, ...]).
 */
registerLayerConverter('TimeDistributed', (call, ctx) => {
  const name = call.layer.name;
  const inner = (call.layer as unknown as { layer: tf.layers.Layer }).layer;
  const innerClass = inner.getClassName();
  const fn = converterFor(innerClass);
  if (!fn) throw unsupported(call, 'layer', innerClass, 'a layer class with a converter');
  const input = only(call);
  if (innerClass === 'Dense') return fn(subCall(call, inner), ctx);
  const x = ctx.logical(input);
  const rest = x.shape.slice(2);
  const outRest = call.outputShapes[0].slice(2);
  if (rest.some((d) => d === null) || outRest.some((d) => d === null)) throw unsupported(call, 'dynamic non-time dims', x.shape, 'static');
  const folded = ctx.op(name, 'Reshape', [x.name, ctx.int64Const(`${name}/fold_shape`, [-1, ...(rest as number[])])]);
  const innerCall: LayerCall = {
    ...subCall(call, inner),
    inputs: [{ name: folded, shape: [null, ...rest], perm: identity(rest.length + 1) }],
    outputShapes: [[null, ...outRest]],
  };
  const result = fn(innerCall, ctx);
  const y = ctx.logical(Array.isArray(result) ? result[0] : result);
  // [N, T] from the input's shape, then the inner output's dims.
  const nt = ctx.op(name, 'Slice', [ctx.op(name, 'Shape', [x.name]), ctx.int64Const(`${name}/start`, [0]), ctx.int64Const(`${name}/end`, [2])]);
  const shape = ctx.op(name, 'Concat', [nt, ctx.int64Const(`${name}/inner_shape`, outRest as number[])], [int('axis', 0)]);
  return { name: ctx.op(name, 'Reshape', [y.name, shape]), shape: call.outputShapes[0], perm: identity(call.outputShapes[0].length) };
}, 'the wrapped layer on the sequence (Dense directly; others on [N·T, ...] between two Reshapes)');
