/**
 * The contract of an exported model directory: the schema of its `manifest.json`.
 *
 * Browser-safe: this module imports zod only (no node: modules), so runtime-web can
 * validate a manifest it fetched. The Node loader (file checks) is `@vae/models/node`.
 *
 * A model directory holds:
 *
 *   manifest.json                      this contract
 *   encoder.onnx                       x [N, 784] -> mu [N, n], logvar [N, n]
 *   decoder.onnx                       z [N, n]   -> x_hat [N, 784]
 *   decoder.fp16.onnx, decoder.int8.onnx   smaller decoders (optional), same I/O
 *   encoder/test_data_set_K/input_0.pb, output_0.pb, output_1.pb   golden data (ONNX layout)
 *   decoder/test_data_set_K/input_0.pb, output_0.pb
 *
 * Every file except manifest.json is listed in `files` with its size and SHA-256.
 */
import { z } from 'zod';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'vae-onnx-model';
export const MANIFEST_FORMAT_VERSION = 1;

/** Names of the models committed under models/released/: the paper's MLP at n = 64 and n = 2, and the conv VAE (docs/conv-vae.md). */
export const RELEASED_MODELS = ['mnist-n64-beta1', 'mnist-n2-beta1', 'mnist-n64-conv'] as const;
export type ReleasedModelName = (typeof RELEASED_MODELS)[number];
/** The paper's default model (n = 64, beta = 1). */
export const DEFAULT_MODEL: ReleasedModelName = 'mnist-n64-beta1';

/** Graph I/O names, fixed by the contract. */
export const ENCODER_INPUT = 'x';
export const ENCODER_OUTPUTS = ['mu', 'logvar'] as const;
export const DECODER_INPUT = 'z';
export const DECODER_OUTPUT = 'x_hat';
/** The name of the dynamic batch dimension in every graph's shapes. */
export const BATCH_DIM = 'N';

/** One path segment: letters, digits, ".", "_" and "-" (what the exporter writes). */
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * True for a relative POSIX path that stays inside its directory: segments of letters,
 * digits, ".", "_" and "-" only, none of them "." or "..". Such a path can be joined to the
 * model directory, or resolved against its URL, without escaping it. The narrow alphabet
 * matters for URLs: "%2e%2e" is ".." to a URL parser, "?" and "#" end the path, and ":"
 * could start another scheme, so none of "%", "?", "#", ":", "\\" or "/" at the start is allowed.
 */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 255) return false;
  return p.split('/').every((seg) => PATH_SEGMENT.test(seg) && seg !== '.' && seg !== '..');
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 as 64 lowercase hex digits');
const relativePath = z.string().refine(isSafeRelativePath, {
  message: 'must be a relative path inside the model directory (segments of letters, digits, ".", "_", "-"; no "..", no leading "/")',
});
const positiveInt = z.number().int().positive();
const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const FileEntrySchema = z.strictObject({
  path: relativePath,
  bytes: z.number().int().nonnegative(),
  sha256,
});

/** A dimension: a fixed size, or the name of a dynamic one ("N"). */
const dim = z.union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)]);

export const TensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  dtype: z.literal('float32'),
  shape: z.array(dim).min(1),
  description: z.string(),
});

export const TestDataSetSchema = z.strictObject({
  /** Folder holding input_K.pb / output_K.pb (serialized onnx.TensorProto), e.g. "decoder/test_data_set_0". */
  dir: relativePath,
  inputs: z.array(relativePath).min(1),
  outputs: z.array(relativePath).min(1),
  /** Rows (N) in this set. */
  rows: positiveInt,
  description: z.string(),
});

export const ParitySchema = z.strictObject({
  /** What ran the graph, e.g. "onnxruntime-node 1.30.0 (cpu)". */
  runtime: z.string(),
  /** What produced the golden outputs, e.g. "tfjs 4.22.0 (wasm)". */
  reference: z.string(),
  /** Largest |runtime - reference| over every golden set, per output name. */
  maxAbsError: z.record(z.string(), z.number().nonnegative()),
  /** Mean |runtime - reference| over every value of every golden set, per output name. */
  meanAbsError: z.record(z.string(), z.number().nonnegative()),
  /** The bound on maxAbsError the export enforced, per output name. */
  tolerance: z.record(z.string(), z.number().positive()),
});

export const GraphSchema = z.strictObject({
  file: relativePath,
  role: z.enum(['encoder', 'decoder']),
  /**
   * fp32: float32 weights. fp16: weights stored as float16 and Cast to float32 in the graph.
   * int8: Dense kernels stored as int8 with a per-output-channel scale (DequantizeLinear), float32
   * biases; a conv VAE's conv kernels stay float32 (the converter quantizes Gemm / MatMul weights only).
   * I/O is float32 in every variant, and arithmetic runs in float32.
   */
  precision: z.enum(['fp32', 'fp16', 'int8']),
  opset: positiveInt,
  irVersion: positiveInt,
  bytes: z.number().int().positive(),
  inputs: z.array(TensorSpecSchema).min(1),
  outputs: z.array(TensorSpecSchema).min(1),
  /** Golden data to replay; variants share their role's sets. */
  testData: z.array(TestDataSetSchema),
  parity: ParitySchema,
  description: z.string(),
});

const beta = finite.refine((b) => b >= 0, 'must be >= 0');

/**
 * The network behind the graphs, by `architecture`. The graphs' I/O contract is the same for
 * both, so runtimes never read this block; it documents the model. Keys are in the order
 * parsing writes them: the MLP's are those of the released manifests, unchanged.
 */
const ModelSchema = z.discriminatedUnion('architecture', [
  z.strictObject({
    architecture: z.literal('mlp-vae'),
    inputSize: positiveInt,
    imageShape: z.tuple([positiveInt, positiveInt]),
    hiddenSizes: z.array(positiveInt).min(1),
    latentSize: positiveInt,
    beta,
  }),
  z.strictObject({
    architecture: z.literal('conv-vae'),
    inputSize: positiveInt,
    imageShape: z.tuple([positiveInt, positiveInt]),
    /** Filters of the encoder's stride-2 conv blocks; the decoder's transposed convs mirror them. */
    channels: z.array(positiveInt).min(1),
    /** Side of every conv's square kernel, and its stride. */
    kernelSize: positiveInt,
    stride: positiveInt,
    /** Dense layers between the conv features and the heads (may be none). */
    hiddenSizes: z.array(positiveInt),
    latentSize: positiveInt,
    beta,
  }),
]);

const lossMeans = z.strictObject({ bce: finite, kl: finite, total: finite });
/**
 * The test set's means, plus optionally the importance-weighted estimate of -log p(x) in nats
 * per image (Burda et al., 2016) with `nllSamples` samples per image (`vae export --iwae-samples`).
 */
const testMetrics = lossMeans
  .extend({ nll: finite.optional(), nllSamples: positiveInt.optional() })
  .refine((m) => (m.nll === undefined) === (m.nllSamples === undefined), { message: 'nll and nllSamples come together' });

export const ManifestSchema = z
  .strictObject({
    format: z.literal(MANIFEST_FORMAT),
    formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
    name: z.string().min(1),
    description: z.string(),
    createdAt: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'expected an ISO-8601 UTC timestamp'),
    producer: z.strictObject({ name: z.string().min(1), version: z.string().min(1) }),
    model: ModelSchema,
    /** How an image becomes the encoder's input `x`. */
    preprocessing: z.strictObject({
      input: z.string(),
      height: positiveInt,
      width: positiveInt,
      channels: z.literal(1),
      layout: z.literal('row-major'),
      dtype: z.literal('float32'),
      /** x = pixel / divisor, for 8-bit grayscale pixels. */
      divisor: z.literal(255),
      range: z.tuple([z.literal(0), z.literal(1)]),
      /** MNIST digits are light strokes on a dark background. */
      polarity: z.literal('white-on-black'),
      steps: z.array(z.string()).min(1),
    }),
    /** What the decoder's output means and how it becomes an image. */
    postprocessing: z.strictObject({ output: z.string(), range: z.tuple([z.literal(0), z.literal(1)]), steps: z.array(z.string()).min(1) }),
    graphs: z.record(z.string().regex(/^[a-z0-9.]+$/), GraphSchema),
    files: z.array(FileEntrySchema).min(1),
    dataset: z.strictObject({
      name: z.string().min(1),
      sha256: z.strictObject({ trainImages: sha256, trainLabels: sha256, testImages: sha256, testLabels: sha256 }),
    }),
    /** Per-image means in nats at the end of training (the paper's Table 1 columns). */
    metrics: z.strictObject({ epochs: positiveInt, train: lossMeans, test: testMetrics }),
    training: z.strictObject({
      /** The run's config.json (RunConfig), as written by vae train. */
      config: z.record(z.string(), z.unknown()),
      /** A vae train command that reproduces the run. */
      command: z.string(),
      backend: z.string(),
      seconds: z.number().nonnegative(),
    }),
    provenance: z.strictObject({
      /** The command line that exported this directory. */
      command: z.string(),
      /** git rev-parse HEAD of the exporting checkout, or "unknown". */
      commit: z.string().min(1),
      /** Whether that checkout had uncommitted changes (null if unknown). */
      dirty: z.boolean().nullable(),
      /** tfjs backend that computed the golden outputs. */
      backend: z.string(),
      epochs: positiveInt,
      node: z.string(),
      /** onnx.checker result, or why it did not run. */
      onnxChecker: z.string(),
    }),
  })
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const listed = new Set<string>();
    m.files.forEach((f, i) => {
      if (listed.has(f.path)) issue(['files', i, 'path'], `"${f.path}" is listed twice`);
      if (f.path === MANIFEST_FILE) issue(['files', i, 'path'], `the manifest cannot list itself`);
      listed.add(f.path);
    });
    const { latentSize, inputSize } = m.model;
    if (!m.graphs.encoder) issue(['graphs'], 'an "encoder" graph is required');
    if (!m.graphs.decoder) issue(['graphs'], 'a "decoder" graph is required');
    for (const [key, g] of Object.entries(m.graphs)) {
      const at = ['graphs', key];
      if (!listed.has(g.file)) issue([...at, 'file'], `"${g.file}" is not listed in files`);
      const f = m.files.find((e) => e.path === g.file);
      if (f && f.bytes !== g.bytes) issue([...at, 'bytes'], `${g.bytes} differs from the files entry (${f.bytes})`);
      if (key !== g.role && !key.startsWith(`${g.role}.`)) issue([...at, 'role'], `graph "${key}" must be named "${g.role}" or "${g.role}.<variant>"`);
      g.testData.forEach((t, i) => {
        for (const p of [...t.inputs, ...t.outputs]) {
          const full = `${t.dir}/${p}`;
          if (!listed.has(full)) issue([...at, 'testData', i], `"${full}" is not listed in files`);
        }
      });
      // The I/O contract every runtime relies on.
      const expect = g.role === 'encoder'
        ? { inputs: [[ENCODER_INPUT, inputSize]], outputs: ENCODER_OUTPUTS.map((o) => [o, latentSize]) }
        : { inputs: [[DECODER_INPUT, latentSize]], outputs: [[DECODER_OUTPUT, inputSize]] };
      for (const side of ['inputs', 'outputs'] as const) {
        const got = g[side].map((t) => `${t.name}[${t.shape.join(',')}]`).join(' ');
        const want = expect[side].map(([n, size]) => `${n}[${BATCH_DIM},${size}]`).join(' ');
        if (got !== want) issue([...at, side], `expected ${want}, found ${got || 'none'}`);
      }
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestGraph = z.infer<typeof GraphSchema>;
export type ManifestFile = z.infer<typeof FileEntrySchema>;
export type TensorSpec = z.infer<typeof TensorSpecSchema>;
export type TestDataSet = z.infer<typeof TestDataSetSchema>;
export type Parity = z.infer<typeof ParitySchema>;

export class ManifestError extends Error {
  /**
   * 'manifest': manifest.json is missing, unreadable or breaks the schema; 'checksum': a file it
   * lists is missing or its size or SHA-256 differs (the runtimes report these as VaeError codes).
   */
  readonly kind: 'manifest' | 'checksum';

  constructor(message: string, kind: 'manifest' | 'checksum' = 'manifest') {
    super(message);
    this.name = 'ManifestError';
    this.kind = kind;
  }
}

/** What a value is, for messages (never throws, unlike JSON.stringify on a BigInt). */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/**
 * The format and version come first: a manifest of another format, or of a formatVersion this
 * library does not know, is refused with one line that says so, rather than a list of schema
 * problems that only look like damage. Absent fields are left for the schema to report.
 */
function checkFormat(value: unknown, source: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const { format, formatVersion } = value as Record<string, unknown>;
  if (format !== undefined && format !== MANIFEST_FORMAT) {
    throw new ManifestError(`${source} is not a model manifest of this library: its format is ${describe(format)}, expected "${MANIFEST_FORMAT}"`);
  }
  if (formatVersion === undefined || formatVersion === MANIFEST_FORMAT_VERSION) return;
  const newer = typeof formatVersion === 'number' && Number.isInteger(formatVersion) && formatVersion > MANIFEST_FORMAT_VERSION;
  throw new ManifestError(
    `${source} has formatVersion ${describe(formatVersion)}, but this library understands formatVersion ${MANIFEST_FORMAT_VERSION} only` +
      (newer ? ': the model was written by a newer exporter; upgrade @vae/models (and the runtime that uses it) to load it' : ''),
  );
}

/**
 * Validates a parsed manifest.json; throws a ManifestError that lists every problem as
 * "path.to.field: message", prefixed with `source` (e.g. the file's path). Unknown keys are
 * problems too (every object is strict): a new field means a new formatVersion.
 */
export function parseManifest(value: unknown, source = MANIFEST_FILE): Manifest {
  checkFormat(value, source);
  const result = ManifestSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new ManifestError(`${source} is not a valid model manifest:\n${problems.join('\n')}`);
}

/** Parses the text of a manifest.json (JSON errors are reported like schema errors). */
export function parseManifestText(text: string, source = MANIFEST_FILE): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  return parseManifest(value, source);
}

/** Lowercase hex SHA-256 with WebCrypto (browsers and Node >= 20 alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Checks fetched bytes against their manifest entry (browser-safe); throws naming the
 * file and the mismatch.
 */
export async function verifyFileBytes(entry: ManifestFile, bytes: Uint8Array): Promise<void> {
  if (bytes.length !== entry.bytes) {
    throw new ManifestError(`${entry.path}: size mismatch: the manifest says ${entry.bytes} bytes, the file has ${bytes.length}`, 'checksum');
  }
  const actual = await sha256Hex(bytes);
  if (actual !== entry.sha256) {
    throw new ManifestError(`${entry.path}: SHA-256 mismatch: the manifest says ${entry.sha256}, the file has ${actual}`, 'checksum');
  }
}
