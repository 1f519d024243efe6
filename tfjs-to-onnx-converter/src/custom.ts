/**
 * Custom-layer modules for tools that load models from disk (`vae convert --custom-layers`).
 * A model with a custom layer class needs two registrations before it loads: the class with
 * tfjs (tf.serialization.registerClass, so model.json can be built) and its converter here
 * (registerLayerConverter). A module does both. It may import tfjs and this package itself when
 * they resolve to the same copies as the tool's; a module that lives elsewhere (beside the
 * model, say) exports a function instead and gets them as arguments:
 *
 *   export default function register({ tf, registerLayerConverter, attributes }) { … }
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as attributes from './attributes.js';
import { ConversionError, unsupported } from './context.js';
import { applyActivation } from './layers/activations.js';
import { registerLayerConverter, supportedLayers } from './registry.js';
import { weight } from './weights.js';

/** What a custom-layer module's register function receives: the tool's tfjs and the converter's helpers. */
export interface CustomLayerApi {
  tf: typeof tf;
  registerLayerConverter: typeof registerLayerConverter;
  ConversionError: typeof ConversionError;
  unsupported: typeof unsupported;
  weight: typeof weight;
  applyActivation: typeof applyActivation;
  attributes: typeof attributes;
}

/**
 * Imports the module at `path` and calls its register function (the default export, or one
 * named `register`) if it has one. Returns the layer classes it registered converters for.
 * Errors name the file.
 */
export async function loadCustomLayers(path: string): Promise<string[]> {
  const file = resolve(path);
  if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`custom-layer module ${path}: no such file`);
  const before = new Map(supportedLayers().map((l) => [l.className, l]));
  let mod: { default?: unknown; register?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
  } catch (err) {
    throw new Error(`custom-layer module ${path}: cannot import it: ${(err as Error).message}`);
  }
  const register = typeof mod.default === 'function' ? mod.default : typeof mod.register === 'function' ? mod.register : undefined;
  if (register) {
    const api: CustomLayerApi = { tf, registerLayerConverter, ConversionError, unsupported, weight, applyActivation, attributes };
    try {
      await (register as (api: CustomLayerApi) => unknown)(api);
    } catch (err) {
      throw new Error(`custom-layer module ${path}: its register function failed: ${(err as Error).message}`);
    }
  }
  const added = supportedLayers().filter((l) => !l.builtIn && before.get(l.className) !== l).map((l) => l.className);
  if (added.length === 0) {
    throw new Error(`custom-layer module ${path}: registered no layer converter (export a function register({ tf, registerLayerConverter }) or call registerLayerConverter on import)`);
  }
  return added;
}
