// Writes onnx-parity-report.schema.json: node schema/generate.mjs > schema/onnx-parity-report.schema.json (test/test/onnx-models.test.ts validates real reports against the committed file).
const num = { anyOf: [{ type: 'number' }, { enum: ['Infinity', '-Infinity', 'NaN'] }] };
const obj = (properties, required = Object.keys(properties), extra = {}) => ({ type: 'object', properties, required, additionalProperties: false, ...extra });
const str = { type: 'string' };
const int = { type: 'integer', minimum: 0 };
const ints = { type: 'array', items: { type: 'integer' } };
const runtime = { enum: ['node-cpu', 'node-cuda', 'web-node', 'chromium-wasm', 'chromium-webgpu', 'standalone-node', 'standalone-chromium'] };
const status = { enum: ['pass', 'fail', 'error', 'skipped'] };
const tolerance = obj({ default: { type: 'number', minimum: 0 }, perOutput: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } } });
const location = obj({ set: int, index: ints });
const summary = obj({ max: num, mean: num, median: num, quantile: num, argMax: { anyOf: [{ $ref: '#/$defs/location' }, { type: 'null' }] } });
const tensorDiff = obj({ name: str, kind: { enum: ['node', 'weight', 'graph input'] }, maxAbs: num, error: num, at: { anyOf: [ints, { type: 'null' }] } });
const nodeDiff = obj({ node: str, op: str, outputs: { type: 'array', items: { $ref: '#/$defs/tensorDiff' } }, inputs: { type: 'array', items: { $ref: '#/$defs/tensorDiff' } }, error: num, inputError: num, amplification: num });
const diagnosis = obj({ reference: str, set: int, inlinedIfs: int, comparedTensors: int, threshold: { type: 'number' }, firstDiverging: { anyOf: [{ $ref: '#/$defs/nodeDiff' }, { type: 'null' }] }, nodes: { type: 'array', items: { $ref: '#/$defs/nodeDiff' } }, summary: str });
const output = obj({ output: str, dtype: { enum: ['float32', 'float16', 'int8', 'uint8', 'int32', 'int64', 'bool'] }, shape: ints, count: int, abs: { $ref: '#/$defs/summary' }, rel: { $ref: '#/$defs/summary' }, nonFinite: int, mismatches: int, atol: { type: 'number' }, rtol: { type: 'number' }, minimumTolerance: obj({ atol: num, rtol: num }), pass: { type: 'boolean' } });
const row = obj({ runtime, status, reason: str, outputs: { type: 'array', items: { $ref: '#/$defs/output' } }, diagnosis: { $ref: '#/$defs/diagnosis' }, diagnosisError: str, seconds: { type: 'number', minimum: 0 } }, ['runtime', 'status', 'outputs', 'seconds']);
const runtimeInfo = obj({ id: runtime, label: str, status: { enum: ['ran', 'skipped'] }, description: str, reason: str, required: { type: 'boolean' } }, ['id', 'label', 'status', 'required']);
const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/vae-pipeline/verify/schema/onnx-parity-report.schema.json',
  title: 'vae verify report for a general ONNX model (onnx-parity-report.json)',
  description: 'Written by `vae verify MODEL.onnx` (@vae/verify). Non-finite numbers are the strings "Infinity", "-Infinity", "NaN". abs = |runtime - reference|, rel = abs / |reference| (Polygraphy).',
  ...obj({
    format: { const: 'vae-onnx-parity-report' }, version: { const: 1 }, createdAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T' }, tool: str,
    model: obj({ path: str, name: str, bytes: int, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, producer: str, opsets: { type: 'array', items: obj({ domain: str, version: { type: 'integer' } }) }, nodes: int, ops: { type: 'object', additionalProperties: int } }),
    data: obj({ source: { enum: ['golden', 'generated'] }, dir: str, sets: { type: 'integer', minimum: 1 }, inputs: { type: 'array', items: obj({ name: str, dtype: str, shape: ints }) }, seed: { type: 'integer' }, dims: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } }, repeat: str }, ['source', 'dir', 'sets', 'inputs', 'repeat']),
    reference: obj({ kind: { enum: ['golden', 'runtime'] }, description: str, runtime, model: str }, ['kind', 'description']),
    check: obj({ stat: { enum: ['elemwise', 'max', 'mean', 'median', 'quantile'] }, quantile: { type: 'number', minimum: 0, maximum: 1 }, atol: { $ref: '#/$defs/tolerance' }, rtol: { $ref: '#/$defs/tolerance' } }),
    runtimes: { type: 'array', items: { $ref: '#/$defs/runtimeInfo' } },
    rows: { type: 'array', items: { $ref: '#/$defs/row' } },
    counts: obj({ pass: int, fail: int, error: int, skipped: int }),
    failures: { type: 'array', items: str },
    passed: { type: 'boolean' },
  }),
  $defs: { tolerance, location, summary, tensorDiff, nodeDiff, diagnosis, output, row, runtimeInfo },
};
process.stdout.write(JSON.stringify(schema, null, 2) + '\n');
