/**
 * The golden data of one graph, read through the manifest (`graphs.<key>.testData`): the
 * inputs and the reference outputs, which are the trained tfjs model's outputs computed at
 * export (on the backend the manifest records).
 */
import { readTensorFile } from '@vae/models/onnx';
import type { LoadedModel } from '@vae/models/node';

/** A named float32 tensor (an input feed or an output). */
export interface Feed {
  name: string;
  dims: number[];
  data: Float32Array;
}

export interface GoldenSet {
  /** Folder relative to the model dir, e.g. "decoder/test_data_set_1". */
  dir: string;
  description: string;
  rows: number;
  inputs: Feed[];
  outputs: Feed[];
}

/** Reads every test data set the manifest lists for `graphKey`; errors name the file. */
export async function readGolden(model: LoadedModel, graphKey: string): Promise<GoldenSet[]> {
  const graph = model.graph(graphKey);
  const sets: GoldenSet[] = [];
  const read = async (dir: string, file: string): Promise<Feed> => {
    const path = model.file(`${dir}/${file}`);
    const t = await readTensorFile(path);
    if (t.dtype !== 'float32') throw new Error(`${path}: golden tensor "${t.name}" is ${t.dtype}, expected float32`);
    return { name: t.name, dims: t.dims, data: t.data as Float32Array };
  };
  for (const set of graph.testData) {
    const inputs = await Promise.all(set.inputs.map((f) => read(set.dir, f)));
    const outputs = await Promise.all(set.outputs.map((f) => read(set.dir, f)));
    // Tensor names must be the graph's I/O names (older writers left them empty: fall back to position).
    inputs.forEach((t, i) => { t.name ||= graph.inputs[i]?.name ?? ''; });
    outputs.forEach((t, i) => { t.name ||= graph.outputs[i]?.name ?? ''; });
    for (const t of inputs) {
      if (!graph.inputs.some((s) => s.name === t.name)) throw new Error(`${set.dir}: input "${t.name}" is not an input of ${graph.file}`);
    }
    for (const t of outputs) {
      if (!graph.outputs.some((s) => s.name === t.name)) throw new Error(`${set.dir}: output "${t.name}" is not an output of ${graph.file}`);
    }
    sets.push({ dir: set.dir, description: set.description, rows: set.rows, inputs, outputs });
  }
  if (sets.length === 0) throw new Error(`${graph.file}: the manifest lists no test data sets`);
  return sets;
}
