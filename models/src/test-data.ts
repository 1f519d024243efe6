/**
 * The ONNX test-data layout (`<graph>/test_data_set_K/input_N.pb, output_N.pb`, each a serialized
 * TensorProto), as the ONNX backend tests and onnxruntime's test runner use it: written by
 * `vae export` for the golden data, read by every parity check.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readTensorFile, writeTensorFile, type Tensor } from './tensor.js';

/** One set: input tensors and the outputs expected for them. */
export interface GoldenSet {
  description: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

/** One test data set as written: its folder (relative to the model dir) and file names. */
export interface WrittenSet { dir: string; inputs: string[]; outputs: string[]; rows: number; description: string }

/** Writes `sets` as `<modelDir>/<folder>/test_data_set_K/`; returns what it wrote. */
export async function writeGoldenSets(modelDir: string, folder: string, sets: GoldenSet[]): Promise<WrittenSet[]> {
  const written: WrittenSet[] = [];
  for (const [k, set] of sets.entries()) {
    const dir = `${folder}/test_data_set_${k}`;
    await mkdir(join(modelDir, dir), { recursive: true });
    const inputs = set.inputs.map((_, i) => `input_${i}.pb`);
    const outputs = set.outputs.map((_, i) => `output_${i}.pb`);
    for (const [i, t] of set.inputs.entries()) await writeTensorFile(join(modelDir, dir, inputs[i]), t);
    for (const [i, t] of set.outputs.entries()) await writeTensorFile(join(modelDir, dir, outputs[i]), t);
    written.push({ dir, inputs, outputs, rows: set.inputs[0].dims[0], description: set.description });
  }
  return written;
}

/**
 * Reads every `test_data_set_*` folder under `dir` the way ONNX runners do: input_K.pb and
 * output_K.pb in index order, each a TensorProto carrying its tensor's name.
 */
export async function readTestDataSets(dir: string): Promise<(GoldenSet & { dir: string })[]> {
  const index = (name: string, prefix: string) => Number(name.slice(prefix.length).replace(/\.pb$/, ''));
  const folders = (await readdir(dir)).filter((f) => /^test_data_set_\d+$/.test(f)).sort((a, b) => index(a, 'test_data_set_') - index(b, 'test_data_set_'));
  const sets = [];
  for (const folder of folders) {
    const files = await readdir(join(dir, folder));
    const pick = (prefix: string) =>
      files.filter((f) => new RegExp(`^${prefix}\\d+\\.pb$`).test(f)).sort((a, b) => index(a, prefix) - index(b, prefix));
    const inputs = await Promise.all(pick('input_').map((f) => readTensorFile(join(dir, folder, f))));
    const outputs = await Promise.all(pick('output_').map((f) => readTensorFile(join(dir, folder, f))));
    sets.push({ dir: join(dir, folder), description: folder, inputs, outputs });
  }
  return sets;
}
