/**
 * Reads a tfjs model saved as model.json + binary weight shards, without tfjs-node (which
 * provides tf.io.fileSystem): a small IOHandler that hands tfjs the artifacts, so tfjs' own
 * decoder does the float16 and uint8/uint16 dequantization.
 *
 * The manifest is untrusted input: every shard path must stay inside the model's folder
 * (symlinks resolved), and each group's shards must hold exactly the bytes its weights need.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';

type Entry = tf.io.WeightsManifestEntry;

/** Bytes per stored value: the quantized dtype when there is one. */
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function entryBytes(entry: Entry, where: string): number {
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const size = BYTES[stored];
  if (size === undefined) throw new Error(`${where}: weight "${entry.name}" has dtype ${stored}, supported: ${Object.keys(BYTES).join(', ')}`);
  if (!Array.isArray(entry.shape) || entry.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${where}: weight "${entry.name}" has shape ${JSON.stringify(entry.shape)}, expected non-negative integers`);
  }
  return entry.shape.reduce((a, b) => a * b, 1) * size;
}

/** The shard's real path, or an error naming the manifest field when it leaves `dir`. */
async function shardPath(dir: string, path: unknown, where: string): Promise<string> {
  if (typeof path !== 'string' || path === '') throw new Error(`${where} is ${JSON.stringify(path)}, expected a relative file path`);
  const outside = (p: string) => { const r = relative(dir, p); return r === '' || r.startsWith('..') || isAbsolute(r); };
  if (isAbsolute(path) || outside(resolve(dir, path))) throw new Error(`${where} = "${path}" leaves the model folder ${dir}`);
  let real: string;
  try {
    real = await realpath(resolve(dir, path));
  } catch (err) {
    throw new Error(`${where} = "${path}": ${(err as Error).message}`);
  }
  if (outside(real)) throw new Error(`${where} = "${path}" resolves to ${real}, outside the model folder ${dir}`);
  return real;
}

/** Reads model.json (or the model.json inside a folder) and its shards as tfjs ModelArtifacts. */
export async function readModelArtifacts(path: string): Promise<tf.io.ModelArtifacts> {
  const file = (await stat(path)).isDirectory() ? join(path, 'model.json') : path;
  const dir = await realpath(dirname(file));
  const where = basename(file);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as tf.io.ModelJSON;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology) throw new Error(`${file}: no modelTopology (not a tfjs layers model.json)`);
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new Error(`${file}: weightsManifest is not a list`);
  const specs: Entry[] = [];
  const buffers: Uint8Array[] = [];
  for (const [g, group] of manifest.entries()) {
    const field = `${where}: weightsManifest[${g}]`;
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) throw new Error(`${field} needs "paths" and "weights" lists`);
    const need = group.weights.reduce((sum, entry) => sum + entryBytes(entry, field), 0);
    const shards = await Promise.all(group.paths.map(async (p, k) => readFile(await shardPath(dir, p, `${field}.paths[${k}]`))));
    const have = shards.reduce((sum, s) => sum + s.length, 0);
    if (have !== need) {
      throw new Error(`${field}: shards ${group.paths.join(', ')} hold ${have} bytes, its ${group.weights.length} weights need ${need}`);
    }
    specs.push(...group.weights);
    buffers.push(...shards);
  }
  const weightData = new Uint8Array(buffers.reduce((sum, b) => sum + b.length, 0));
  let offset = 0;
  for (const b of buffers) { weightData.set(b, offset); offset += b.length; }
  return {
    modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    weightSpecs: specs, weightData: weightData.buffer,
  };
}

/** An IOHandler over a model.json path (or its folder), for tf.loadLayersModel. */
export function fileSystemHandler(path: string): tf.io.IOHandler {
  return { load: () => readModelArtifacts(path) };
}

/** Loads a tfjs LayersModel from a model.json path or the folder that holds it. */
export function loadLayersModelFromDir(path: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemHandler(path));
}

/** A LayersModel from in-memory artifacts (e.g. what a custom IOHandler's save received). */
export function loadLayersModelFromArtifacts(artifacts: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
