/**
 * Real published models for the tests and the benchmark: UpscalerJS's super-resolution nets,
 * tfjs layers models (model.json + one weight shard) shipped inside their npm packages, which
 * are exact-pinned devDependencies (package.json). Their input is [N, null, null, 3]: every
 * spatial dim is dynamic.
 *
 * esrgan-legacy's "gans" model uses two custom layer classes of its own (defined in the package's
 * JavaScript, not in tfjs): MultiplyBeta (x * 0.2) and PixelShuffle4x (tf.depthToSpace(x, 4,
 * 'NHWC')). `registerUpscalerLayers()` registers both twice: with tfjs (so tfjs can build and run
 * the model, for the reference) and with the converter (registerLayerConverter), as a user of the
 * converter would for their own custom layers. They are the model's classes, so they live here,
 * not among the converter's built-ins.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { attributes, registerLayerConverter, unsupported, type ConversionContext, type LayerCall } from '../src/index.js';

export interface RealModel {
  /** A short name for tables and test titles. */
  name: string;
  /** The npm package (a devDependency) and the model.json inside it. */
  pkg: string;
  file: string;
  /** Output size / input size. */
  scale: number;
  /** Custom layer classes the model uses (registered by registerUpscalerLayers). */
  custom: string[];
}

export const REAL_MODELS: RealModel[] = [
  { name: 'esrgan-slim x4', pkg: '@upscalerjs/esrgan-slim', file: 'models/x4/model.json', scale: 4, custom: [] },
  { name: 'esrgan-medium x2', pkg: '@upscalerjs/esrgan-medium', file: 'models/x2/model.json', scale: 2, custom: [] },
  { name: 'esrgan-legacy gans', pkg: '@upscalerjs/esrgan-legacy', file: 'models/gans/model.json', scale: 4, custom: ['MultiplyBeta', 'PixelShuffle4x'] },
];

/**
 * The model.json path inside the installed package, found as Node finds packages (the nearest
 * node_modules upwards): the packages' "exports" do not expose their model files.
 */
export function modelPath(model: RealModel): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', model.pkg, model.file);
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) throw new Error(`${model.pkg}/${model.file} not found: run npm ci (it is a devDependency of tfjs-to-onnx-converter)`);
  }
}

const single = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

/** x * beta; the package's class hard-codes beta = 0.2, which is what its model.json stores. */
export class MultiplyBeta extends tf.layers.Layer {
  static className = 'MultiplyBeta';
  readonly beta: number;
  constructor(config: { beta?: number; name?: string; trainable?: boolean; dtype?: tf.DataType } = {}) {
    super(config);
    this.beta = config.beta ?? 0.2;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.mul(single(inputs), this.beta);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), beta: this.beta };
  }
}

/** tf.depthToSpace(x, scale, 'NHWC'): [N, H, W, C·s²] → [N, H·s, W·s, C]. */
export function pixelShuffle(scale: number): typeof tf.layers.Layer & { className: string } {
  return class PixelShuffle extends tf.layers.Layer {
    static className = `PixelShuffle${scale}x`;
    readonly scale = scale;
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      return tf.depthToSpace(single(inputs) as tf.Tensor4D, this.scale, 'NHWC');
    }
    override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
      const [n, h, w, c] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
      const s = this.scale;
      return [n, h === null ? null : h * s, w === null ? null : w * s, c === null ? null : c / (s * s)];
    }
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), scale: this.scale };
    }
  };
}

/** MultiplyBeta → Mul by a scalar initializer; the input keeps its layout (NCHW inside the graph). */
function convertMultiplyBeta(call: LayerCall, ctx: ConversionContext) {
  const [x] = call.inputs;
  const beta = Number(call.config.beta ?? 0.2);
  return { ...x, name: ctx.op(call.layer.name, 'Mul', [x.name, ctx.floatConst(`${call.layer.name}/beta`, [], Float32Array.of(beta))]) };
}

/**
 * PixelShuffle → DepthToSpace on the NCHW tensor. tfjs' depthToSpace (as TensorFlow's) reads
 * output (h·s + i, w·s + j, c) from input channel (i·s + j)·C + c: ONNX's "DCR" mode, not "CRD"
 * (c·s² + i·s + j). The tests check it against tfjs on a layer alone.
 */
function convertPixelShuffle(call: LayerCall, ctx: ConversionContext) {
  const scale = Number(call.config.scale ?? (call.layer as unknown as { scale: number }).scale);
  if (!Number.isInteger(scale) || scale < 2) throw unsupported(call, 'scale', scale, 'an integer >= 2');
  if (call.inputs[0].shape.length !== 4) throw unsupported(call, 'input rank', call.inputs[0].shape.length, '4');
  const x = ctx.channelsFirst(call.inputs[0]);
  const y = ctx.op(call.layer.name, 'DepthToSpace', [x.name], [attributes.int('blocksize', scale), attributes.str('mode', 'DCR')]);
  return { name: y, shape: call.outputShapes[0], perm: x.perm };
}

let registered = false;

/** Registers the custom classes with tfjs and their converters with tfjs-to-onnx-converter (once). */
export function registerUpscalerLayers(): void {
  if (registered) return;
  registered = true;
  tf.serialization.registerClass(MultiplyBeta);
  registerLayerConverter('MultiplyBeta', convertMultiplyBeta, 'Mul by beta (UpscalerJS esrgan-legacy custom layer)');
  for (const scale of [2, 3, 4, 8]) {
    const cls = pixelShuffle(scale);
    tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);
    registerLayerConverter(cls.className, convertPixelShuffle, 'DepthToSpace, DCR mode (UpscalerJS esrgan-legacy custom layer)');
  }
}
