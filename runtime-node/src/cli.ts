/**
 * `vae encode | decode | sample | reconstruct | interpolate | manifold`, as yargs command
 * modules (collected by the `vae` binary in pipeline).
 *
 * Conventions (shared with the other packages' commands): a usage error (bad flag, missing
 * option) is thrown with a message that starts with "--" and exits 2 with help; anything
 * else (bad input file, wrong latent size, tampered model) exits 1 with `error: message`.
 * Outputs are computed first and written last, atomically: a failed command writes nothing.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_MODEL, type ReleasedModelName } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import type { Argv, CommandModule } from 'yargs';
import { writeFileAtomic } from './atomic.js';
import { IMAGE_PIXELS, batchToPng, readImages, type GridLayout, type ImageBatch } from './images.js';
import { InputError, toLatentBatch } from './inputs.js';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from './providers.js';
import { DECODER_VARIANTS, Vae, type DecoderVariant, type Endpoint } from './vae.js';

const MANIFOLD_MODEL: ReleasedModelName = 'mnist-n2-beta1';

interface ModelArgs { model?: string; ep: ExecutionProviderChoice; threads?: number; variant: DecoderVariant; json: boolean }
interface PngArgs { out: string; columns?: number; scale: number }

function modelOptions(y: Argv, defaultModel: ReleasedModelName): Argv {
  return y
    .option('model', { type: 'string', describe: `Model directory written by vae export [default: models/released/${defaultModel}]` })
    .option('ep', { choices: EXECUTION_PROVIDER_CHOICES, default: 'auto' as ExecutionProviderChoice, describe: 'Execution provider: auto = CUDA when it works, else CPU (says which)' })
    .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads [default: one per physical core]' })
    .option('variant', { choices: DECODER_VARIANTS, default: 'fp32' as DecoderVariant, describe: 'Decoder weights: fp32, or the smaller fp16 / int8 graphs' })
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

const invertOption = (y: Argv) =>
  y.option('invert', { type: 'boolean', default: false, describe: 'Input images are dark digits on a light background: invert them (MNIST is light on dark)' });

async function loadVae(a: ModelArgs, defaultModel: ReleasedModelName): Promise<Vae> {
  return Vae.load(a.model ?? releasedModelDir(defaultModel), {
    executionProvider: a.ep, threads: a.threads, variant: a.variant, onMessage: (m) => console.error(m),
  });
}

const warn = (message: string) => console.error(`warning: ${message}`);

/** float32 values as JSON numbers: 9 significant digits read back to the same float32. */
const f32 = (values: ArrayLike<number>) => Array.from(values, (v) => Number(v.toPrecision(9)));
const rowsOf = (flat: Float32Array, width: number) => Array.from({ length: flat.length / width }, (_, i) => f32(flat.subarray(i * width, (i + 1) * width)));

function describeModel(vae: Vae) {
  return { model: vae.dir, name: vae.manifest.name, latentSize: vae.latentSize, executionProvider: vae.executionProvider, variant: vae.variant };
}

function gridJson(layout: GridLayout) {
  return { rows: layout.rows, columns: layout.columns, width: layout.width, height: layout.height, gap: layout.gap, scale: layout.scale };
}

/** Encodes the PNG, then writes it atomically; returns what --json reports about it. */
async function savePng(a: PngArgs, batch: ImageBatch, columns?: number) {
  const { png, layout } = await batchToPng(batch, { columns: a.columns ?? columns, scale: a.scale });
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
  if (tokens.length === 0) throw new InputError(`${label}: no numbers in "${text}"`);
  return tokens.map((t, i) => {
    if (NON_FINITE.test(t)) return /nan/i.test(t) ? NaN : t.startsWith('-') ? -Infinity : Infinity;
    if (!NUMBER.test(t)) throw new InputError(`${label}: value ${i} "${t}" is not a number`);
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
    throw new InputError(`${label}: ${code === 'ENOENT' ? 'no such file' : `cannot read: ${code}`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${label}: not valid JSON: ${(err as Error).message}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if ('z' in o) value = o.z;
    else if (Array.isArray(o.images)) value = o.images.map((im: unknown) => (im && typeof im === 'object' ? (im as Record<string, unknown>).mu : im));
  }
  if (!Array.isArray(value)) {
    throw new InputError(`${label}: expected a JSON array of numbers, an array of vectors, {"z": ...} or the output of vae encode --json`);
  }
  return value as number[] | number[][];
}

/** An interpolation endpoint from the command line: an image file, a JSON latent file, or "0.1,0.2,...". */
async function endpointArg(arg: string, name: string, latentSize: number): Promise<Endpoint> {
  const label = `${name} "${arg}"`;
  if (existsSync(arg)) {
    if (!statSync(arg).isFile()) throw new InputError(`${label}: is a directory, not an image or latent file`);
    if (!arg.toLowerCase().endsWith('.json')) return arg;
    const { data, count } = toLatentBatch(await readLatentFile(arg, label), latentSize, label);
    if (count !== 1) throw new InputError(`${label}: holds ${count} latent vectors; an endpoint is one`);
    return { z: data };
  }
  const tokens = arg.split(/[\s,]+/).filter((t) => t.length > 0);
  if (tokens.length > 0 && tokens.every((t) => NUMBER.test(t) || NON_FINITE.test(t))) {
    const { data, count } = toLatentBatch(parseNumberList(arg, label), latentSize, label);
    if (count !== 1) throw new InputError(`${label}: ${data.length} values: an endpoint is one latent vector of ${latentSize} values`);
    return { z: data };
  }
  throw new InputError(`${label}: no such file, and not a latent vector of comma-separated numbers`);
}

// ---------------------------------------------------------------- commands

interface EncodeArgs extends ModelArgs { images: string[]; invert: boolean; out?: string }

export const encodeCommand: CommandModule<object, EncodeArgs> = {
  command: 'encode <images..>',
  describe: 'Encode images (PNG/JPEG/BMP, any size) to their posterior mean and log-variance',
  builder: (y: Argv) =>
    invertOption(modelOptions(y, DEFAULT_MODEL))
      .usage('$0 encode IMAGE... [options]\n\nPrints mu and logvar of q(z|x) for each image (grayscale, resized to 28x28, /255; see --invert).')
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files' })
      .option('out', { alias: 'o', type: 'string', describe: 'Also write the JSON result to this file' }) as unknown as Argv<EncodeArgs>,
  handler: async (a) => {
    const vae = await loadVae(a, DEFAULT_MODEL);
    try {
      const { mu, logvar, latentSize } = await vae.encode(a.images, { invert: a.invert, onWarning: warn });
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
      await vae.release();
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
    const vae = await loadVae(a, DEFAULT_MODEL);
    try {
      const n = vae.latentSize;
      const label = a['z-file'] ? `${a['z-file']} (--z-file)` : 'z (--z)';
      const raw = a['z-file'] ? await readLatentFile(a['z-file'], label) : (a.z ?? []).flatMap((s) => s.split(';')).map((s) => parseNumberList(s, label));
      const { data, count } = toLatentBatch(raw, n, label);
      const images = await vae.decode(data);
      const saved = await savePng(a, images);
      report(a.json, { command: 'decode', ...saved, ...describeModel(vae) }, gridLine(saved, `${count} image${count === 1 ? '' : 's'} decoded`));
    } finally {
      await vae.release();
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
    const vae = await loadVae(a, DEFAULT_MODEL);
    try {
      const result = await vae.sample(a.count, { seed: a.seed, temperature: a.temperature });
      const saved = await savePng(a, result);
      report(
        a.json,
        { command: 'sample', ...saved, seed: result.seed, temperature: result.temperature, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        `${gridLine(saved, `${a.count} sample${a.count === 1 ? '' : 's'}`)}; seed ${result.seed}, temperature ${result.temperature}`,
      );
    } finally {
      await vae.release();
    }
  },
};

interface ReconstructArgs extends ModelArgs, PngArgs { images: string[]; invert: boolean; compare: boolean }

export const reconstructCommand: CommandModule<object, ReconstructArgs> = {
  command: 'reconstruct <images..>',
  describe: 'Encode images and decode their posterior means (input | reconstruction pairs)',
  builder: (y: Argv) =>
    invertOption(pngOptions(modelOptions(y, DEFAULT_MODEL), 'reconstruct'))
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files' })
      .option('compare', { type: 'boolean', default: true, describe: 'Put each preprocessed input left of its reconstruction (--no-compare: reconstructions only)' }) as unknown as Argv<ReconstructArgs>,
  handler: async (a) => {
    const vae = await loadVae(a, DEFAULT_MODEL);
    try {
      const inputs = await readImages(a.images, { invert: a.invert, onWarning: warn });
      const rec = await vae.reconstruct(inputs);
      const n = inputs.count;
      let batch: ImageBatch = rec;
      let columns: number | undefined;
      if (a.compare) {
        const data = new Float32Array(2 * n * IMAGE_PIXELS);
        for (let i = 0; i < n; i++) {
          data.set(inputs.data.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), 2 * i * IMAGE_PIXELS);
          data.set(rec.data.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), (2 * i + 1) * IMAGE_PIXELS);
        }
        batch = { data, count: 2 * n, height: rec.height, width: rec.width };
        columns = 2 * Math.ceil(Math.sqrt(n));
        if (a.columns !== undefined && a.columns % 2 !== 0) throw new InputError(`columns ${a.columns}: with input | reconstruction pairs the grid needs an even number of columns (or pass --no-compare)`);
      }
      const images = a.images.map((file, i) => ({
        file,
        bce: Number(bce(inputs.data.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), rec.data.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)).toFixed(4)),
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
      await vae.release();
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

interface InterpolateArgs extends ModelArgs, PngArgs { a: string; b: string; steps: number; invert: boolean }

export const interpolateCommand: CommandModule<object, InterpolateArgs> = {
  command: 'interpolate <a> <b>',
  describe: 'Decode points on the line between two images (or latent vectors) in latent space',
  builder: (y: Argv) =>
    invertOption(pngOptions(modelOptions(y, DEFAULT_MODEL), 'interpolate'))
      .usage('$0 interpolate A B [options]\n\nA and B are image files (their posterior means are used), .json latent files, or latent\nvectors as comma-separated numbers. Writes one row of --steps images, A first.')
      .positional('a', { type: 'string', demandOption: true, describe: 'Start: image, .json latent file or "v1,v2,..."' })
      .positional('b', { type: 'string', demandOption: true, describe: 'End: image, .json latent file or "v1,v2,..."' })
      .option('steps', { type: 'number', default: 8, describe: 'Images, both ends included' })
      .check((a) => {
        if (!(Number.isInteger(a.steps) && (a.steps as number) >= 2 && (a.steps as number) <= 10000)) throw new Error(`--steps must be an integer from 2 to 10000, got ${a.steps}`);
        return true;
      }) as unknown as Argv<InterpolateArgs>,
  handler: async (a) => {
    const vae = await loadVae(a, DEFAULT_MODEL);
    try {
      const from = await endpointArg(a.a, 'A', vae.latentSize);
      const to = await endpointArg(a.b, 'B', vae.latentSize);
      const result = await vae.interpolate(from, to, a.steps, { invert: a.invert, onWarning: warn });
      const saved = await savePng(a, result, a.steps);
      report(
        a.json,
        { command: 'interpolate', ...saved, steps: a.steps, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        gridLine(saved, `${a.steps} steps from ${a.a} to ${a.b}`),
      );
    } finally {
      await vae.release();
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
    const vae = await loadVae(a, MANIFOLD_MODEL);
    try {
      const result = await vae.manifold({ range: a.range, steps: a.steps });
      const saved = await savePng(a, result, result.columns);
      report(
        a.json,
        { command: 'manifold', ...saved, range: a.range, steps: a.steps, ...describeModel(vae), z: rowsOf(result.z, vae.latentSize) },
        gridLine(saved, `latent manifold over [-${a.range}, ${a.range}]`),
      );
    } finally {
      await vae.release();
    }
  },
};

/** All of this package's subcommands, in help order. */
export const runtimeCommands = [encodeCommand, decodeCommand, sampleCommand, reconstructCommand, interpolateCommand, manifoldCommand] as const;
