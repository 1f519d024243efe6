/**
 * Pipeline configs: one JSON file per experiment in pipeline/configs/, validated with zod.
 * A config has one section per stage, so the pipeline can tell which stages a change touches
 * (see `stageKeys`): changing `verify` re-runs verify and report, not training.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ARCHITECTURES } from '@vae/train';
import { RUNTIME_IDS } from '@vae/verify';

const positiveInt = z.number().int().positive();

export const PipelineConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, "." and "-"'),
  description: z.string(),
  train: z.strictObject({
    dataset: z.enum(['mnist', 'fashion-mnist']),
    /** The model: the paper's MLP (the default when absent) or the conv VAE (docs/conv-vae.md), as vae train --arch. */
    architecture: z.enum(ARCHITECTURES).optional(),
    /** The conv VAE's conv blocks' filters, e.g. [32, 64] (conv only). */
    channels: z.array(positiveInt).min(1).optional(),
    latentSize: positiveInt,
    /** Dense layers: the MLP's (at least one), or the conv VAE's between its convs and the heads (may be empty). */
    hiddenSizes: z.array(positiveInt),
    beta: z.number().nonnegative(),
    learningRate: z.number().positive(),
    batchSize: positiveInt,
    epochs: positiveInt,
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    threads: positiveInt,
    trainLimit: positiveInt.optional(),
  }).superRefine((t, ctx) => {
    const conv = t.architecture === 'conv';
    if (!conv && t.channels) ctx.addIssue({ code: 'custom', path: ['channels'], message: 'channels apply to "architecture": "conv" only' });
    if (conv && !t.channels) ctx.addIssue({ code: 'custom', path: ['channels'], message: 'a conv model needs its channels, e.g. [32, 64]' });
    if (!conv && t.hiddenSizes.length === 0) ctx.addIssue({ code: 'custom', path: ['hiddenSizes'], message: 'the MLP needs at least one hidden layer' });
  }),
  export: z.strictObject({
    /** Also write decoder.fp16.onnx and decoder.int8.onnx. */
    variants: z.boolean(),
  }),
  verify: z.strictObject({
    /** Runtimes of the parity matrix; those missing on a machine (CUDA) are reported as skipped. */
    runtimes: z.array(z.enum(RUNTIME_IDS)).min(1),
  }),
  /** The paper's Table 1 row for this setting, to compare against. */
  reference: z.strictObject({ source: z.string(), bce: z.number(), kl: z.number(), total: z.number() }).optional(),
});

export type PipelineConfig = z.infer<typeof PipelineConfigSchema>;

/** The settings of the paper's Table 1, in its row order (names of pipeline/configs/*.json). */
export const TABLE1_CONFIGS = ['n1-beta1', 'n2-beta1', 'paper', 'n64-beta0.1', 'n64-beta0.5', 'n64-beta2', 'n64-beta10'] as const;

/** pipeline/configs, next to dist/ and src/. */
export const CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'configs');

/** The config names in pipeline/configs. */
export function configNames(dir = CONFIG_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'config.schema.json').map((f) => basename(f, '.json')).sort();
}

/** Reads a config by name (pipeline/configs/NAME.json) or by path; errors name the file and the bad field. */
export function loadConfig(nameOrPath: string, dir = CONFIG_DIR): PipelineConfig & { path: string } {
  const path = nameOrPath.endsWith('.json') ? resolve(nameOrPath) : join(dir, `${nameOrPath}.json`);
  if (!existsSync(path)) {
    throw new Error(`no pipeline config "${nameOrPath}" (${path}); the configs are: ${configNames(dir).join(', ')}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = PipelineConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new Error(`${path} is not a valid pipeline config:\n${issues}`);
  }
  if (parsed.data.name !== basename(path, '.json')) {
    throw new Error(`${path}: "name" is "${parsed.data.name}" but the file is ${basename(path)}; make them the same`);
  }
  return { ...parsed.data, path };
}

const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

/**
 * A hash per stage of the config sections it reads, cumulative down the pipeline (training
 * depends on the data, export on training, ...). Turborepo hashes these as environment
 * variables, so a config change re-runs exactly the stages whose key changed. The data is
 * named by the dataset alone: loading checks every file against its pinned SHA-256.
 */
export function stageKeys(config: PipelineConfig): Record<'data' | 'train' | 'export' | 'verify' | 'report', string> {
  const data = digest([config.train.dataset]);
  const train = digest([data, config.train]);
  const exp = digest([train, config.export]);
  const verify = digest([exp, config.verify]);
  const report = digest([verify, config.name, config.description, config.reference ?? null]);
  return { data, train, export: exp, verify, report };
}

/** JSON Schema of the config files (pipeline/configs/config.schema.json, for editors). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(PipelineConfigSchema, { io: 'input' });
}
