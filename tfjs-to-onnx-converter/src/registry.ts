/**
 * The layer registry: one converter per tfjs layer class name, as in tf2onnx and keras2onnx.
 * The built-in handlers register themselves here (src/layers/*); `registerLayerConverter` is
 * public so custom layers can be converted too. The README's supported-layers table is
 * generated from this registry.
 */
import type { ConversionContext, LayerCall, TensorRef } from './context.js';

/** Converts one call of a layer: emits nodes through `ctx`, returns the call's outputs. */
export type LayerConverter = (call: LayerCall, ctx: ConversionContext) => TensorRef | TensorRef[];

export interface RegisteredLayer {
  className: string;
  /** One line for the supported-layers table: what it becomes in ONNX, and its limits. */
  notes: string;
  builtIn: boolean;
}

const converters = new Map<string, { fn: LayerConverter; info: RegisteredLayer }>();
let builtIns = true;

/** Registers (or replaces) the converter for the tfjs layer class `className`. */
export function registerLayerConverter(className: string, fn: LayerConverter, notes = 'custom converter'): void {
  if (!className) throw new Error('registerLayerConverter: className is empty');
  converters.set(className, { fn, info: { className, notes, builtIn: builtIns } });
}

/** Called once the built-in handlers are registered: later registrations are custom. */
export function endBuiltIns(): void {
  builtIns = false;
}

export function converterFor(className: string): LayerConverter | undefined {
  return converters.get(className)?.fn;
}

/** Every registered layer class, sorted by name. */
export function supportedLayers(): RegisteredLayer[] {
  return [...converters.values()].map((c) => c.info).sort((a, b) => a.className.localeCompare(b.className));
}
