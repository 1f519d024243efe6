/**
 * The golden data of a released model (manifest `graphs.<g>.testData`), read in Node with
 * @vae/models/onnx (the project's one TensorProto reader) and handed to the pages as plain
 * arrays. Tolerances come from @vae/models (`toleranceFor(runtimeId, precision, output)`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifestText, type Manifest } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { readTestDataSets } from '@vae/models/onnx';

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

export interface GoldenSet {
  dir: string;
  rows: number;
  input: FloatTensor;
  outputs: FloatTensor[];
}

export interface ModelGolden {
  name: string;
  dir: string;
  manifest: Manifest;
  encoder: GoldenSet[];
  decoder: GoldenSet[];
}

function float32(t: { dtype: string; dims: number[]; data: ArrayLike<number> }, what: string): FloatTensor {
  if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) throw new Error(`${what}: expected a float32 tensor, found ${t.dtype}`);
  return { dims: t.dims, data: t.data };
}

export async function readGolden(name: string): Promise<ModelGolden> {
  const dir = releasedModelDir(name);
  const manifest = parseManifestText(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const sets = async (graph: 'encoder' | 'decoder'): Promise<GoldenSet[]> => {
    const read = await readTestDataSets(join(dir, graph));
    return manifest.graphs[graph].testData.map((t) => {
      const set = read.find((s) => s.dir === join(dir, t.dir));
      if (!set) throw new Error(`${name}: no golden set ${t.dir}`);
      return {
        dir: t.dir,
        rows: t.rows,
        input: float32(set.inputs[0], `${t.dir} input`),
        outputs: set.outputs.map((o, i) => float32(o, `${t.dir} output ${i}`)),
      };
    });
  };
  return { name, dir, manifest, encoder: await sets('encoder'), decoder: await sets('decoder') };
}

/** Largest and mean |a - b|. */
export function absErrors(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number; count: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
  }
  return { max, mean: sum / a.length, count: a.length };
}
