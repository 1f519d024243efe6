/**
 * `vae verify` on three ONNX models no one here made (npm devDependencies, see README.md), on
 * every runtime available: the reports validate against the published JSON Schema, the rows
 * are what we measured (including a real WebGPU divergence in silero_vad_v5, localized to one
 * Conv), and a copy of each model with one weight changed fails on the numbers with the
 * diagnosis naming the node that reads the weight.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CHROMIUM_PATH } from '@vae/browser-harness';
import { verifyOnnx, type OnnxVerifyOptions } from '../src/verify-onnx.js';
import { ONNX_REPORT_JSON, type OnnxParityReport } from '../src/onnx-report.js';
import { RuntimeSet, RUNTIME_IDS } from '../src/runtimes.js';
import { IN_CI, REPO } from './helpers.js';
import { MODELS, perturbFirstWeight } from './third-party.js';

const runtimes = new RuntimeSet();
const tmp = await mkdtemp(join(tmpdir(), 'vae-onnx-models-'));
after(async () => {
  await runtimes.close();
  await rm(tmp, { recursive: true, force: true });
});

const schema = JSON.parse(await readFile(join(REPO, 'verify', 'schema', 'onnx-parity-report.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
const browser = IN_CI || existsSync(CHROMIUM_PATH);

async function checkSchema(dir: string): Promise<OnnxParityReport> {
  const json = JSON.parse(await readFile(join(dir, ONNX_REPORT_JSON), 'utf8'));
  assert.ok(validate(json), JSON.stringify(validate.errors, null, 1));
  return json as OnnxParityReport;
}

const log = (t: { diagnostic(s: string): void }) => (line: string) => t.diagnostic(line);

/** What each model showed on each runtime (measured; README.md, "Third-party models"). */
const EXPECTED: Record<string, Record<string, 'pass' | 'fail'>> = {
  'ch_ppocr_mobile_v2.0_cls_infer': { 'node-cpu': 'pass', 'web-node': 'pass', 'chromium-wasm': 'pass', 'chromium-webgpu': 'pass' },
  silero_vad_v5: { 'node-cpu': 'pass', 'web-node': 'pass', 'chromium-wasm': 'pass', 'chromium-webgpu': 'fail' },
  'ch_PP-OCRv4_rec_infer': { 'node-cpu': 'pass', 'web-node': 'pass', 'chromium-wasm': 'pass', 'chromium-webgpu': 'pass' },
};

for (const model of MODELS) {
  test(`vae verify ${model.key} (${model.family.split(' (')[0]}) on every runtime`, { timeout: 400_000 }, async (t) => {
    const ids = Object.keys(EXPECTED[model.key]);
    const options: OnnxVerifyOptions = { ...model.options, runtimes: [...RUNTIME_IDS.filter((r) => r === 'node-cuda' || r.startsWith('standalone') || ids.includes(r))], out: join(tmp, 'matrix'), log: log(t) };
    const { report, dir } = await verifyOnnx(model.path, runtimes, options);
    const json = await checkSchema(dir);
    assert.equal(json.data.source, 'generated');
    assert.ok(existsSync(join(dir, 'data', 'test_data_set_0', 'input_0.pb')) && existsSync(join(dir, 'data', 'test_data_set_0', 'output_0.pb')));
    const row = (id: string) => report.rows.find((r) => r.runtime === id)!;
    assert.match(row('standalone-node').reason!, /only our own decoder graphs/);
    assert.equal(row('node-cuda').status === 'skipped' || row('node-cuda').status === 'pass', true, row('node-cuda').reason);
    for (const id of ids) {
      if (id.startsWith('chromium') && !browser) continue;
      const r = row(id);
      t.diagnostic(`${id}: ${r.status} ${r.outputs.map((o) => `${o.output} max abs ${o.abs.max.toExponential(2)} max rel ${o.rel.max.toExponential(2)}`).join(', ')}`);
      assert.equal(r.status, EXPECTED[model.key][id], `${model.key} on ${id}: ${r.reason ?? ''} ${report.failures.join('; ')}`);
    }
    if (model.key === 'silero_vad_v5' && browser) {
      // A result: onnxruntime-web's WebGPU EP (on SwiftShader) computes the first encoder Conv differently from every CPU runtime.
      const d = row('chromium-webgpu').diagnosis!;
      t.diagnostic(d.summary);
      assert.match(d.firstDiverging!.node, /encoder\/0\/reparam_conv\/Conv$/);
      assert.equal(d.firstDiverging!.op, 'Conv');
      assert.ok(d.firstDiverging!.inputError < 1e-5 && d.firstDiverging!.amplification > 1e3, d.summary);
      assert.ok(d.inlinedIfs >= 3);
    }
  });
}

test('a copy of each model with one weight changed fails on every runtime, and the diagnosis names the node reading it', { timeout: 400_000 }, async (t) => {
  await runtimes.start('node-cpu');
  for (const model of MODELS) {
    const p = await perturbFirstWeight(model, new Uint8Array(await readFile(model.path)), runtimes.runtime('node-cpu'));
    const path = join(tmp, `${model.key}.perturbed.onnx`);
    await writeFile(path, p.bytes);
    t.diagnostic(`${model.key}: ${p.weight}[${p.index}] ${p.before} -> ${p.after}, read by ${p.node} (${p.op})`);
    const ids = ['node-cpu', 'web-node', ...(browser ? ['chromium-wasm' as const] : [])] as const;
    const { report, dir } = await verifyOnnx(path, runtimes, { ...model.options, runtimes: ids, referenceModel: model.path, out: join(tmp, 'perturbed'), log: log(t) });
    await checkSchema(dir);
    assert.equal(report.passed, false);
    assert.equal(report.reference.model, model.path);
    for (const r of report.rows) {
      assert.equal(r.status, 'fail', `${model.key} on ${r.runtime}`);
      const d = r.diagnosis!;
      assert.ok(d, `${r.runtime}: ${r.diagnosisError}`);
      t.diagnostic(`${r.runtime}: ${d.summary}`);
      assert.equal(d.firstDiverging?.node, p.node, `${model.key} on ${r.runtime}`);
      assert.equal(d.firstDiverging?.op, p.op);
      // Its inputs' error is a weight's: the changed one, or (silero's LSTM) the bias folded from it by Slice / Concat / Unsqueeze.
      const changed = d.firstDiverging!.inputs.filter((i) => i.kind === 'weight' && i.maxAbs > 0);
      assert.equal(changed.length, 1, JSON.stringify(d.firstDiverging!.inputs));
      assert.ok(changed[0].name === p.weight || model.perturbInput !== undefined, changed[0].name);
      assert.ok(d.firstDiverging!.inputs.every((i) => i.kind === 'weight' || i.error < 1e-5), 'its activations agree (to float32 rounding)');
    }
  }
});
