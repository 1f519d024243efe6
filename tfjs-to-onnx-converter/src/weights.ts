/** A layer's weights by their tfjs name ("kernel", "bias", "moving_mean"…), as float32 data. */
import type { LayerCall } from './context.js';
import { ConversionError } from './context.js';

export interface Weight { data: Float32Array; shape: number[] }

/** The weight whose name ends in `/${key}` (tfjs scopes names as "layer/key", maybe "_1"-suffixed). */
export function findWeight(call: LayerCall, key: string): Weight | undefined {
  const vars = call.layer.weights;
  const index = vars.findIndex((v) => (v.originalName ?? v.name).split('/').pop()?.replace(/_\d+$/, '') === key);
  if (index < 0) return undefined;
  const value = call.layer.getWeights()[index];
  if (value.dtype !== 'float32') {
    throw new ConversionError(call.layer.name, call.className, `weight "${key}" is ${value.dtype}, expected float32`);
  }
  return { data: value.dataSync() as Float32Array, shape: [...value.shape] };
}

export function weight(call: LayerCall, key: string): Weight {
  const found = findWeight(call, key);
  if (!found) {
    const names = call.layer.weights.map((v) => v.originalName ?? v.name).join(', ');
    throw new ConversionError(call.layer.name, call.className, `has no weight "${key}" (it has: ${names || 'none'})`);
  }
  return found;
}
