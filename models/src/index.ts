/**
 * @vae/models: the contract of an exported model directory (manifest schema, the seeded latent
 * generator, the parity tolerances; browser-safe).
 * The Node loader that checks files on disk is `@vae/models/node`.
 */
// Explicit, not `export *`: the per-part zod schemas (FileEntrySchema, GraphSchema, ...) stay
// internal; consumers validate whole manifests with ManifestSchema / parseManifest.
export {
  MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, RELEASED_MODELS, DEFAULT_MODEL,
  ENCODER_INPUT, ENCODER_OUTPUTS, DECODER_INPUT, DECODER_OUTPUT, BATCH_DIM,
  ManifestSchema, ManifestError, isSafeRelativePath, parseManifest, parseManifestText, sha256Hex, verifyFileBytes,
  type ReleasedModelName, type Manifest, type ManifestGraph, type ManifestFile, type TensorSpec, type TestDataSet, type Parity,
} from './schema.js';
export * from './random.js';
export * from './tolerances.js';
