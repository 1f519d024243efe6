/**
 * tfjs-to-onnx-converter: a TensorFlow.js LayersModel as a standard ONNX graph.
 *
 *   const { model, bytes, summary } = await convertLayersModel(tfModel | artifacts | 'model/dir', { opset, nchwIo });
 *
 * The exports are the README's API: converting, loading from disk, the error a conversion
 * throws, what a custom layer converter needs (and loading a module of them), and checking a
 * conversion: golden data, onnxruntime replay, the output folder. The rest (layout helpers,
 * the README table, constants) is internal.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '@vae/models/node';
import './layers/index.js';
import { convertModel, type ConversionResult } from './convert.js';
import { loadLayersModelFromArtifacts, loadLayersModelFromDir } from './load.js';
import type { ConvertOptions } from './context.js';

export { registerLayerConverter, supportedLayers, type LayerConverter, type RegisteredLayer } from './registry.js';
export {
  ConversionContext, ConversionError, unsupported,
  type ConvertOptions, type IoName, type Naming, type WeightStorage, type LayerCall, type TensorRef, type Shape,
} from './context.js';
export { DEFAULT_OPSET, type ConversionResult, type ConversionSummary } from './convert.js';
export { loadLayersModelFromDir, loadLayersModelFromArtifacts, readModelArtifacts, fileSystemHandler } from './load.js';
export { applyActivation } from './layers/activations.js';
export * as attributes from './attributes.js';
export { weight } from './weights.js';
export {
  goldenData, compareWithOnnxruntime, writeConversionDir, GoldenDataError, ParityError, PARITY_TOLERANCE,
  type GoldenOptions, type GoldenData, type ParityResult,
} from './check.js';
export { loadCustomLayers, type CustomLayerApi } from './custom.js';

export type ModelSource = tf.LayersModel | tf.io.ModelArtifacts | string;

async function resolveModel(source: ModelSource): Promise<tf.LayersModel> {
  if (typeof source === 'string') return loadLayersModelFromDir(source);
  if (source instanceof tf.LayersModel) return source;
  if (source && typeof source === 'object' && 'modelTopology' in source) return loadLayersModelFromArtifacts(source);
  throw new Error('convertLayersModel: expected a tf.LayersModel, tfjs ModelArtifacts or a model.json path');
}

/** Converts a LayersModel (in memory, as ModelArtifacts, or a model.json path / folder) to ONNX. */
export async function convertLayersModel(source: ModelSource, options: ConvertOptions = {}): Promise<ConversionResult> {
  return convertModel(await resolveModel(source), options);
}

/** Converts and writes the .onnx file atomically: nothing is written when conversion fails. */
export async function convertToFile(source: ModelSource, path: string, options: ConvertOptions = {}): Promise<ConversionResult> {
  const result = await convertLayersModel(source, options);
  await writeFileAtomic(path, result.bytes);
  return result;
}
