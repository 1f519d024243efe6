/**
 * `vae encode | decode | sample | reconstruct | interpolate | manifold`, as yargs command
 * modules (collected by the `vae` binary, cli.ts), on @vae/runtime-node's `loadVae`.
 *
 * Conventions (shared with the other commands): a usage error (bad flag, missing
 * option) is thrown with a message that starts with "--" and exits 2 with help; anything
 * else (bad input file, wrong latent size, tampered model) exits 1 with `error: message`.
 * Outputs are computed first and written last, atomically: a failed command writes nothing.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_MODEL, type ReleasedModelName } from '@vae/models';
import { releasedModelDir, writeFileAtomic } from '@vae/models/node';
import {
  IMAGE_PIXELS, PRECISIONS, imagesToPng, inputError, parseLatents,
  type Endpoint, type GridLayout, type Images, type Precision, type PreprocessOptions, type Vae,
} from '@vae/runtime-core';
import type { Argv, CommandModule } from 'yargs';
import { DEVICE_CHOICES, loadVae, type DeviceChoice } from '@vae/runtime-node';

const MANIFOLD_MODEL: ReleasedModelName = 'mnist-n2-beta1';

interface ModelArgs { model?: string; device: DeviceChoice; threads?: number; precision: Precision; json: boolean }
interface PngArgs { out: string; columns?: number; scale: number }
interface ImageArgs { invert?: boolean; center: boolean; fit: 'contain' | 'fill' }

function modelOptions(y: Argv, defaultModel: ReleasedModelName): Argv {
  return y
    .option('model', { type: 'string', describe: `Model directory written by vae export [default: models/released/${defaultModel}]` })
    .option('device', { choices: DEVICE_CHOICES, default: 'auto' as DeviceChoice, describe: 'Where the graphs run: auto = CUDA when it works, else WebGPU on a hardware GPU, else the CPU (says which)' })
    .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads [default: one per physical core]' })
    .option('precision', { choices: PRECISIONS, default: 'fp32' as Precision, describe: 'Decoder graph: fp32, or the smaller fp16 / int8 ones' })
    .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON on stdout (messages go to stderr)' })
    .check((a) => {
      const t = a.threads as number | undefined;
      if (t !== undefined && !(Number.isInteger(t) && t >= 0)) throw new Error(`--threads must be a non-negative integer, got ${t}`);
      return true;
    });
}

function pngOptions(y: Argv, name: string): Argv {
  return y
    .option('out', { alias: 'o', type: 'string', default: `${name}.png`, describe: 'PNG to write (a grid for several images); replaced if it exists' })
    .option('columns', { type: 'number', describe: 'Grid columns [default: about square]' })
    .option('scale', { type: 'number', default: 1, describe: 'Integer upscaling of the PNG (nearest neighbour)' })
    .check((a) => {
      const c = a.columns as number | undefined;
      if (c !== undefined && !(Number.isInteger(c) && c > 0)) throw new Error(`--columns must be a positive integer, got ${c}`);
      const s = a.scale as number;
      if (!(Number.isInteger(s) && s >= 1 && s <= 64)) throw new Error(`--scale must be an integer from 1 to 64, got ${s}`);
      return true;
    });
}

/** How image files become the model's input (@vae/runtime-core's preprocessing; README, "Images"). */
const imageOptions = (y: Argv) =>
  y
    .option('invert', { type: 'boolean', describe: 'Polarity: --invert for a dark digit on a light background, --no-invert to take the image as it is [default: auto, from the border]' })
    .option('center', { type: 'boolean', default: true, describe: 'MNIST centring: crop to the ink, fit it in 20x20, centre of mass in the middle (--no-center: use the image as framed)' })
    .option('fit', { choices: ['contain', 'fill'] as const, default: 'contain' as const, describe: 'With --no-center, a non-square image: contain = pad to a square, fill = stretch' });

const preprocessOf = (a: ImageArgs): PreprocessOptions => ({ invert: a.invert ?? 'auto', center: a.center, fit: a.fit });

async function openVae(a: ModelArgs, defaultModel: ReleasedModelName): Promise<Vae> {
  const vae = await loadVae(a.model ?? releasedModelDir(defaultModel), { device: a.device, threads: a.threads, precision: a.precision });
  console.error(vae.deviceNote);
  return vae;
}

/** float32 values as JSON numbers: 9 significant digits read back to the same float32. */
const f32 = (values: ArrayLike<number>) => Array.from(values, (v) => Number(v.toPrecision(9)));
const rowsOf = (flat: Float32Array, width: number) => Array.from({ length: flat.length / width }, (_, i) => f32(flat.subarray(i * width, (i + 1) * width)));

function describeModel(vae: Vae) {
  return { model: vae.model, name: vae.manifest.name, latentSize: vae.latentSize, device: vae.device, precision: vae.precision };
}

function gridJson(layout: GridLayout) {
  return { rows: layout.rows, columns: layout.columns, width: layout.width, height: layout.height, gap: layout.gap, scale: layout.scale };
}

/** Encodes the PNG, then writes it atomically; returns what --json reports about it. */
async function savePng(a: PngArgs, batch: Images, columns?: number) {
  const { png, layout } = imagesToPng(batch, { columns: a.columns ?? columns, scale: a.scale });
  const out = resolve(a.out);
  await writeFileAtomic(out, png);
  return { out, bytes: png.length, count: batch.count, shape: [batch.count, batch.height, batch.width], grid: gridJson(layout) };
}

function report(json: boolean, value: Record<string, unknown>, line: string): void {
  console.log(json ? JSON.stringify(value, null, 2) : line);
}

function gridLine(saved: Awaited<ReturnType<typeof savePng>>, what: string): string {
  const g = saved.grid;
  return `wrote ${saved.out}: ${what}${saved.count > 1 ? ` (${g.rows}x${g.columns} grid, ${g.width}x${g.height} px)` : ` (${g.width}x${g.height} px)`}`;
}

// ---------------------------------------------------------------- latent vectors from the command line

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

/** Numbers from "0.1, -2 3e-1" (commas and/or spaces); NaN / Infinity are kept so the check can name them. */
function parseNumberList(text: string, label: string): number[] {
  const tokens = text.split(/[\s,]+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw inputError(`${label}: no numbers in "${text}"`);
  return tokens.map((t, i) => {
    if (NON_FINITE.test(t)) return /nan/i.test(t) ? NaN : t.startsWith('-') ? -Infinity : Infinity;
    if (!NUMBER.test(t)) throw inputError(`${label}: value ${i} "${t}" is not a number`);
    return Number(t);
  });
}

/** Latent vectors in a JSON file: [..], [[..], ..], {"z": ..}, or the output of `vae encode --json` (its mu). */
async function readLatentFile(path: string, label: string): Promise<number[] | number[][]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(`${label}: ${code === 'ENOENT' ? 'no such file' : `cannot read: ${code}`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw inputError(`${label}: not valid JSON: ${(err as Error).message}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if ('z' in o) value = o.z;
    else if (Array.isArray(o.images)) value = o.images.map((im: unknown) => (im && typeof im === 'object' ? (im as Record<string, unknown>).mu : im));
  }
  if (!Array.isArray(value)) {
    throw inputError(`${label}: expected a JSON array of numbers, an array of vectors, {"z": ...} or the output of vae encode --json`);
  }
  return value as number[] | number[][];
}

/** An interpolation endpoint from the command line: an image file, a JSON latent file, or "0.1,0.2,...". */
async function endpointArg(arg: string, name: string, latentSize: number): Promise<Endpoint> {
  const label = `${name} "${arg}"`;
  if (existsSync(arg)) {
    if (!statSync(arg).isFile()) throw inputError(`${label}: is a directory, not an image or latent file`);
    if (!arg.toLowerCase().endsWith('.json')) return arg;
    const { data, count } = parseLatents(await readLatentFile(arg, label), latentSize, label, inputError);
    if (count !== 1) throw inputError(`${label}: holds ${count} latent vectors; an endpoint is one`);
    return { z: data };
  }
  const tokens = arg.split(/[\s,]+/).filter((t) => t.length > 0);
  if (tokens.length > 0 && tokens.every((t) => NUMBER.test(t) || NON_FINITE.test(t))) {
    const { data, count } = parseLatents(parseNumberList(arg, label), latentSize, label, inputError);
    if (count !== 1) throw inputError(`${label}: ${data.length} values: an endpoint is one latent vector of ${latentSize} values`);
    return { z: data };
  }
  throw inputError(`${label}: no such file, and not a latent vector of comma-separated numbers`);
}

// ---------------------------------------------------------------- commands

interface EncodeArgs extends ModelArgs, ImageArgs { images: string[]; out?: string }

export const encodeCommand: CommandModule<object, EncodeArgs> = {
  command: 'encode <images..>',
  describe: 'Encode images (PNG/JPEG/BMP, any size) to their posterior mean and log-variance',
  builder: (y: Argv) =>
    imageOptions(modelOptions(y, DEFAULT_MODEL))
      .usage('$0 encode IMAGE... [options]\n\nPrints mu and logvar of q(z|x) for each image (grey, light digit on black, MNIST-centred in 28x28, /255;\nsee --invert, --no-center, --fit).')
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files' })
      .option('out', { alias: 'o', type: 'string', describe: 'Also write the JSON result to this file' }) as unknown as Argv<EncodeArgs>,
  handler: async (a) => {
    const vae = await openVae(a, DEFAULT_MODEL);
    try {
      const { mu, logvar, latentSize } = await vae.encode(a.images, preprocessOf(a));
      const result = {
        ...describeModel(vae),
        images: a.images.map((file, i) => ({
          file, mu: f32(mu.subarray(i * latentSize, (i + 1) * latentSize)), logvar: f32(logvar.subarray(i * latentSize, (i + 1) * latentSize)),
        })),
      };
      if (a.out) await writeFileAtomic(resolve(a.out), `${JSON.stringify(result, null, 2)}\n`);
      if (a.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      const show = (v: number[]) => `[${v.slice(0, 6).map((x) => x.toFixed(3)).join(', ')}${v.length > 6 ? `, ... (${v.length} values)` : ''}]`;
      for (const im of result.images) {
        const sigma = im.logvar.reduce((s, lv) => s + Math.exp(0.5 * lv), 0) / latentSize;
        console.log(`${im.file}: mu ${show(im.mu)}, mean sigma ${sigma.toFixed(3)}`);
      }
      if (a.out) console.log(`wrote ${resolve(a.out)}`);
    } finally {
      await vae.dispose();
    }
  },
};

interface DecodeArgs extends ModelArgs, PngArgs { z?: string[]; 'z-file'?: string }

export const decodeCommand: CommandModule<object, DecodeArgs> = {
  command: 'decode',
  describe: 'Decode latent vectors to images (a PNG grid)',
  builder: (y: Argv) =>
    pngOptions(modelOptions(y, DEFAULT_MODEL), 'decode')
      .usage('$0 decode (--z "v1,v2,..." | --z-file FILE) [options]\n\nEach vector has n values (the model\'s latent size). --z can be repeated; FILE holds a JSON\narray, an array of vectors, {"z": ...}, or the output of vae encode --json (its mu).')
      .option('z', { type: 'string', array: true, describe: 'A latent vector: comma-separated numbers (repeat for several)' })
      .option('z-file', { type: 'string', describe: 'JSON file with latent vectors' })
      .check((a) => {
        if ((a.z === undefined) === (a['z-file'] === undefined)) throw new Error('--z or --z-file: give the latent vectors to decode (one of the two)');
        return true;
      }) as unknown as Argv<DecodeArgs>,
  handler: async (a) => {
    const vae = await openVae(a, DEFAULT_MODEL);
    try {
      const n = vae.latentSize;
      const label = a['z-file'] ? `${a['z-file']} (--z-file)` : 'z (--z)';
      const raw = a['z-file'] ? await readLatentFile(a['z-file'], label) : (a.z ?? []).flatMap((s) => s.split(';')).map((s) => parseNumberList(s, label));
      const { data, count } = parseLatents(raw, n, label, inputError);
      const images = await vae.decode(data);
      const saved = await savePng(a, images);
      report(a.json, { command: 'decode', ...saved, ...describeModel(vae) }, gridLine(saved, `${count} image${count === 1 ? '' : 's'} decoded`));
    } finally {
      await vae.dispose();
    }
  },
};

interface SampleArgs extends ModelArgs, PngArgs { count: number; seed?: number; temperature: number }

export const sampleCommand: CommandModule<object, SampleArgs> = {
  command: 'sample',
  describe: 'Decode random latent vectors z ~ N(0, temperature^2 I) (seeded)',
  builder: (y: Argv) =>
    pngOptions(modelOptions(y, DEFAULT_MODEL), 'sample')
      .option('count', { type: 'number', default: 16, describe: 'Images to generate' })
      .option('seed', { type: 'number', describe: 'PRNG seed, 0 to 2^32-1 [default: random, printed]' })
      .option('temperature', { type: 'number', default: 1, describe: 'Standard deviation of z' })
      .check((a) => {
        if (!(Number.isInteger(a.count) && (a.count as number) >= 1)) throw new Error(`--count must be a positive integer, got ${a.count}`);
        const s = a.seed as number | undefined;
        if (s !== undefined && !(Number.isInteger(s) && s >= 0 && s < 2 ** 32)) throw new Error(`--seed must be an integer from 0 to 2^32-1, got ${s}`);
        const t = a.temperature as number;
        if (!(Number.isFinite(t) && t >= 0)) throw new Error(`--temperature must be a finite number >= 0, got ${t}`);
        return true;
      }) as unknown as Argv<SampleArgs>,
  handler: async (a) => {
    const vae = await openVae(a, DEFAULT_MODEL);
    try {
      const result = await vae.sample(a.count, { seed: a.seed, temperature: a.temperature });
      const saved = await savePng(a, result);
      report(
        a.json,
        { command: 'sample', ...saved, seed: result.seed, temperature: result.temperature, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        `${gridLine(saved, `${a.count} sample${a.count === 1 ? '' : 's'}`)}; seed ${result.seed}, temperature ${result.temperature}`,
      );
    } finally {
      await vae.dispose();
    }
  },
};

interface ReconstructArgs extends ModelArgs, PngArgs, ImageArgs { images: string[]; compare: boolean }

export const reconstructCommand: CommandModule<object, ReconstructArgs> = {
  command: 'reconstruct <images..>',
  describe: 'Encode images and decode their posterior means (input | reconstruction pairs)',
  builder: (y: Argv) =>
    imageOptions(pngOptions(modelOptions(y, DEFAULT_MODEL), 'reconstruct'))
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files' })
      .option('compare', { type: 'boolean', default: true, describe: 'Put each preprocessed input left of its reconstruction (--no-compare: reconstructions only)' }) as unknown as Argv<ReconstructArgs>,
  handler: async (a) => {
    const vae = await openVae(a, DEFAULT_MODEL);
    try {
      const inputs = await vae.preprocess(a.images, preprocessOf(a));
      const rec = await vae.reconstruct(inputs.pixels);
      const n = inputs.count;
      let batch: Images = rec;
      let columns: number | undefined;
      if (a.compare) {
        const data = new Float32Array(2 * n * IMAGE_PIXELS);
        for (let i = 0; i < n; i++) {
          data.set(inputs.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), 2 * i * IMAGE_PIXELS);
          data.set(rec.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), (2 * i + 1) * IMAGE_PIXELS);
        }
        batch = { pixels: data, count: 2 * n, height: rec.height, width: rec.width };
        columns = 2 * Math.ceil(Math.sqrt(n));
        if (a.columns !== undefined && a.columns % 2 !== 0) throw inputError(`columns ${a.columns}: with input | reconstruction pairs the grid needs an even number of columns (or pass --no-compare)`);
      }
      const images = a.images.map((file, i) => ({
        file,
        bce: Number(bce(inputs.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), rec.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)).toFixed(4)),
        mu: f32(rec.mu.subarray(i * vae.latentSize, (i + 1) * vae.latentSize)),
      }));
      const saved = await savePng(a, batch, columns);
      const mean = images.reduce((s, im) => s + im.bce, 0) / n;
      report(
        a.json,
        { command: 'reconstruct', ...saved, layout: a.compare ? 'pairs' : 'reconstructions', ...describeModel(vae), images },
        `${gridLine(saved, `${n} reconstruction${n === 1 ? '' : 's'}${a.compare ? ' next to their inputs' : ''}`)}; mean BCE ${mean.toFixed(2)} nats per image`,
      );
    } finally {
      await vae.dispose();
    }
  },
};

/** Binary cross-entropy of a reconstruction (nats, summed over pixels), the training loss's BCE term. */
function bce(x: Float32Array, p: Float32Array): number {
  const eps = 1e-7;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const q = Math.min(Math.max(p[i], eps), 1 - eps);
    s -= x[i] * Math.log(q) + (1 - x[i]) * Math.log(1 - q);
  }
  return s;
}

interface InterpolateArgs extends ModelArgs, PngArgs, ImageArgs { a: string; b: string; steps: number }

export const interpolateCommand: CommandModule<object, InterpolateArgs> = {
  command: 'interpolate <a> <b>',
  describe: 'Decode points on the line between two images (or latent vectors) in latent space',
  builder: (y: Argv) =>
    imageOptions(pngOptions(modelOptions(y, DEFAULT_MODEL), 'interpolate'))
      .usage('$0 interpolate A B [options]\n\nA and B are image files (their posterior means are used), .json latent files, or latent\nvectors as comma-separated numbers. Writes one row of --steps images, A first.')
      .positional('a', { type: 'string', demandOption: true, describe: 'Start: image, .json latent file or "v1,v2,..."' })
      .positional('b', { type: 'string', demandOption: true, describe: 'End: image, .json latent file or "v1,v2,..."' })
      .option('steps', { type: 'number', default: 8, describe: 'Images, both ends included' })
      .check((a) => {
        if (!(Number.isInteger(a.steps) && (a.steps as number) >= 2 && (a.steps as number) <= 10000)) throw new Error(`--steps must be an integer from 2 to 10000, got ${a.steps}`);
        return true;
      }) as unknown as Argv<InterpolateArgs>,
  handler: async (a) => {
    const vae = await openVae(a, DEFAULT_MODEL);
    try {
      const from = await endpointArg(a.a, 'A', vae.latentSize);
      const to = await endpointArg(a.b, 'B', vae.latentSize);
      const result = await vae.interpolate(from, to, a.steps, preprocessOf(a));
      const saved = await savePng(a, result, a.steps);
      report(
        a.json,
        { command: 'interpolate', ...saved, steps: a.steps, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        gridLine(saved, `${a.steps} steps from ${a.a} to ${a.b}`),
      );
    } finally {
      await vae.dispose();
    }
  },
};

interface ManifoldArgs extends ModelArgs, PngArgs { range: number; steps: number }

export const manifoldCommand: CommandModule<object, ManifoldArgs> = {
  command: 'manifold',
  describe: 'Decode a regular grid of latent points (models with n = 1 or 2)',
  builder: (y: Argv) =>
    pngOptions(modelOptions(y, MANIFOLD_MODEL), 'manifold')
      .usage(`$0 manifold [options]\n\nFor n = 2: --steps x --steps images, z0 from -range to +range left to right, z1 from +range\n(top) to -range (bottom). For n = 1: one row. Default model: models/released/${MANIFOLD_MODEL}.`)
      .option('range', { type: 'number', default: 3, describe: 'The grid spans [-range, range] on each axis' })
      .option('steps', { type: 'number', default: 15, describe: 'Points per axis' })
      .check((a) => {
        if (!(Number.isFinite(a.range) && (a.range as number) > 0)) throw new Error(`--range must be a finite number > 0, got ${a.range}`);
        if (!(Number.isInteger(a.steps) && (a.steps as number) >= 2 && (a.steps as number) <= 1000)) throw new Error(`--steps must be an integer from 2 to 1000, got ${a.steps}`);
        return true;
      }) as unknown as Argv<ManifoldArgs>,
  handler: async (a) => {
    const vae = await openVae(a, MANIFOLD_MODEL);
    try {
      const result = await vae.manifold({ range: a.range, steps: a.steps });
      const saved = await savePng(a, result, result.columns);
      report(
        a.json,
        { command: 'manifold', ...saved, range: a.range, steps: a.steps, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        gridLine(saved, `latent manifold over [-${a.range}, ${a.range}]`),
      );
    } finally {
      await vae.dispose();
    }
  },
};

/** All of this package's subcommands, in help order. */
export const runtimeCommands = [encodeCommand, decodeCommand, sampleCommand, reconstructCommand, interpolateCommand, manifoldCommand] as const;
