/**
 * A custom-layer module for `vae convert --custom-layers` (and loadCustomLayers): the
 * PixelShuffle layer of ESRGAN-style upscalers, tf.depthToSpace(x, scale, 'NHWC').
 *
 * It registers the class with tfjs, so that model.json can be built, and its converter with
 * tfjs-to-onnx-converter. Both come in as arguments, so the module works from any folder:
 * it imports nothing, and uses the tool's own copies of tfjs and the converter.
 */

/** tfjs' depthToSpace (as TensorFlow's) is ONNX DepthToSpace in "DCR" mode, on the NCHW tensor. */
function convertPixelShuffle(call, ctx, { attributes, unsupported }) {
  const scale = Number(call.config.scale);
  if (!Number.isInteger(scale) || scale < 2) throw unsupported(call, 'scale', scale, 'an integer >= 2');
  const x = ctx.channelsFirst(call.inputs[0]);
  const y = ctx.op(call.layer.name, 'DepthToSpace', [x.name], [attributes.int('blocksize', scale), attributes.str('mode', 'DCR')]);
  return { name: y, shape: call.outputShapes[0], perm: x.perm };
}

export default function register(api) {
  const { tf, registerLayerConverter } = api;
  class PixelShuffle extends tf.layers.Layer {
    static className = 'PixelShuffle';
    constructor(config) {
      super(config);
      this.scale = config.scale ?? 2;
    }
    call(inputs) {
      return tf.depthToSpace(Array.isArray(inputs) ? inputs[0] : inputs, this.scale, 'NHWC');
    }
    computeOutputShape(shape) {
      const [n, h, w, c] = shape;
      const s = this.scale;
      return [n, h === null ? null : h * s, w === null ? null : w * s, c === null ? null : c / (s * s)];
    }
    getConfig() {
      return { ...super.getConfig(), scale: this.scale };
    }
  }
  tf.serialization.registerClass(PixelShuffle);
  registerLayerConverter('PixelShuffle', (call, ctx) => convertPixelShuffle(call, ctx, api), 'DepthToSpace, DCR mode (custom layer)');
  return PixelShuffle;
}
