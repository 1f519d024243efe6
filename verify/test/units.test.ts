/**
 * Unit tests that need no browser: tolerances, the float64 evaluator and graph rebuilding,
 * the weight audit, heatmaps, report formatting, CLI argument parsing, runtime probing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { EXPORT_TOLERANCES, OUTPUT_TOLERANCES, gamma, toleranceFor } from '@vae/models';
import { decodeModel } from '@vae/models/onnx';
import { loadModelDir } from '@vae/models/node';
import { auditWeights } from '../src/diagnose.js';
import { evaluate, exposeIntermediates, loadModel, toValue, evalNode } from '../src/graph.js';
import { readGolden } from '../src/golden.js';
import { colormap, heatmapLayout, heatmapPng } from '../src/heatmap.js';
import { compareArrays, minimumTolerance } from '../src/metrics.js';
import { formatMarkdown, formatTable, reportJson, writeReport, type ParityReport } from '../src/report.js';
import { parseRuntimeList } from '../src/cli.js';
import { cudaUnavailableReason, RUNTIME_IDS } from '../src/runtimes.js';
import { RELEASED } from './helpers.js';

const N2 = join(RELEASED, 'mnist-n2-beta1');

test('tolerances: CPU rows hold the export contract; GPU fp32 is 10x looser; variants keep the contract everywhere', () => {
  for (const runtime of ['node-cpu', 'web-node', 'chromium-wasm'] as const) {
    for (const [precision, outputs] of Object.entries(EXPORT_TOLERANCES)) {
      for (const [output, bound] of Object.entries(outputs)) assert.equal(toleranceFor(runtime, precision, output), bound, `${runtime} ${precision} ${output}`);
    }
  }
  for (const runtime of ['chromium-webgpu', 'node-webgpu', 'node-cuda'] as const) {
    assert.equal(toleranceFor(runtime, 'fp32', 'x_hat'), 10 * EXPORT_TOLERANCES.fp32.x_hat);
    assert.equal(toleranceFor(runtime, 'fp32', 'mu'), 10 * EXPORT_TOLERANCES.fp32.mu);
    assert.equal(toleranceFor(runtime, 'fp16', 'x_hat'), EXPORT_TOLERANCES.fp16.x_hat);
    assert.equal(toleranceFor(runtime, 'int8', 'x_hat'), EXPORT_TOLERANCES.int8.x_hat);
  }
  assert.deepEqual(Object.keys(OUTPUT_TOLERANCES).sort(), [...RUNTIME_IDS].sort());
  assert.throws(() => toleranceFor('node-cpu', 'fp32', 'z'), /no tolerance for output "z"/);
  assert.throws(() => toleranceFor('node-cpu', 'bf16', 'x_hat'), /no tolerances for node-cpu \/ bf16/);
  assert.ok(Math.abs(gamma(256) - 256 * 2 ** -24 / (1 - 256 * 2 ** -24)) < 1e-20);
});

test('float64 evaluator: Gemm attributes and broadcasting, DequantizeLinear per axis, Cast to float16', () => {
  const node = (op_type: string, attribute: { name: string; i?: number; f?: number; type: number }[] = []) => ({ name: 'n', op_type, input: [], output: [], attribute });
  const a = toValue([2, 3], [1, 2, 3, 4, 5, 6]);
  const bT = toValue([2, 3], [1, 0, -1, 2, 1, 0]); // B^T: B = [[1, 2], [0, 1], [-1, 0]]
  const c = toValue([2], [10, 20]);
  const { outputs, magnitude } = evalNode(node('Gemm', [{ name: 'transB', i: 1, type: 2 }, { name: 'alpha', f: 2, type: 1 }]), [a, bT, c], true);
  // A B = [[1 - 3, 2 + 2], [4 - 6, 8 + 5]] = [[-2, 4], [-2, 13]]; 2 A B + C
  assert.deepEqual(Array.from(outputs[0].data), [6, 28, 6, 46]);
  assert.deepEqual(outputs[0].dims, [2, 2]);
  // magnitudes: 2 * |A||B| + |C| = 2 * [[4, 4], [10, 13]] + [10, 20]
  assert.deepEqual(Array.from(magnitude!), [18, 28, 30, 46]);
  const q = evalNode(node('DequantizeLinear', [{ name: 'axis', i: 1, type: 2 }]), [toValue([2, 2], [1, -2, 3, 127]), toValue([2], [0.5, 0.25]), toValue([2], [0, 1])]);
  assert.deepEqual(Array.from(q.outputs[0].data), [0.5, -0.75, 1.5, 31.5]);
  const h = evalNode(node('Cast', [{ name: 'to', i: 10, type: 2 }]), [toValue([2], [1 + 2 ** -11, 0.1])]);
  assert.deepEqual(Array.from(h.outputs[0].data), [1, 0.0999755859375]);
  assert.throws(() => evalNode(node('Conv'), [a]), /not evaluated by the float64 reference/);
});

test('float64 evaluator reproduces onnxruntime-node on every released graph; the rebuilt graph returns every intermediate', async () => {
  const model = await loadModelDir(N2);
  for (const key of Object.keys(model.manifest.graphs)) {
    const bytes = await readFile(model.graph(key).path);
    const proto = loadModel(bytes);
    const [set] = await readGolden(model, key);
    const feeds = Object.fromEntries(set.inputs.map((f) => [f.name, toValue(f.dims, f.data)]));
    const values = evaluate(proto, feeds);
    const exposed = exposeIntermediates(proto);
    assert.equal(decodeModel(exposed.bytes).graph.output.length, new Set(proto.graph.node.flatMap((n) => n.output)).size);
    const session = await ortNode.InferenceSession.create(exposed.bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    const out = await session.run(Object.fromEntries(set.inputs.map((f) => [f.name, new ortNode.Tensor('float32', f.data, f.dims)])));
    await session.release();
    for (const t of exposed.tensors) {
      const got = out[t.name].data as Float32Array;
      const ref = values.get(t.name)!.data;
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      assert.ok(compareArrays(got, ref).maxAbs <= 1e-5 * scale, `${key}: ${t.name} (${t.op})`);
    }
    // and the graph outputs against golden, in float64
    const precision = model.graph(key).precision;
    for (const o of set.outputs) assert.ok(compareArrays(values.get(o.name)!.data, o.data).maxAbs <= toleranceFor('node-cpu', precision, o.name), `${key} ${o.name} vs golden`);
  }
});

test('weight audit: the released variants agree with each other within their storage rounding', async () => {
  const model = await loadModelDir(N2);
  for (const key of ['decoder', 'decoder.fp16', 'decoder.int8', 'encoder']) {
    const proto = loadModel(await readFile(model.graph(key).path));
    const { audit, overrides } = await auditWeights(model, key, proto);
    assert.equal(audit.deviationCount, 0, key);
    assert.equal(audit.ambiguousCount, 0, key);
    assert.equal(overrides.size, 0);
    if (key === 'encoder') assert.deepEqual(audit.siblings, []);
    else {
      assert.equal(audit.siblings.length, 2, key);
      assert.deepEqual(audit.tensors.sort(), ['decoder.dense0.bias', 'decoder.dense0.kernel', 'decoder.dense1.bias', 'decoder.dense1.kernel', 'decoder.out.bias', 'decoder.out.kernel']);
    }
  }
});

test('heatmap: size from the layout, colour scale, red frame on tiles above the tolerance', () => {
  const rows = 10;
  const errors = new Float32Array(rows * 784);
  errors[3 * 784 + 100] = 0.5; // tile 3 above tolerance
  errors[7 * 784 + 5] = 0.01;
  const png = PNG.sync.read(heatmapPng({ errors, rows, tolerance: 0.1 }));
  const layout = heatmapLayout(rows);
  assert.deepEqual([png.width, png.height], [layout.width, layout.height]);
  assert.deepEqual([layout.columns, layout.lines], [8, 2]);
  const at = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));
  // tile 3's frame is red, tile 0's gap is background grey
  const tileX = (t: number) => 4 + (t % 8) * (56 + 4);
  assert.deepEqual(at(tileX(3) - 1, 10), [230, 30, 30]);
  assert.deepEqual(at(tileX(0) - 1, 10), [40, 40, 40]);
  // the hot pixel of tile 3 (index 100: row 3, column 16) is the top colour; a zero pixel is the bottom one
  assert.deepEqual(at(tileX(3) + 16 * 2, 4 + 3 * 2), colormap(1));
  assert.deepEqual(at(tileX(0), 4), colormap(0));
  assert.throws(() => heatmapPng({ errors: new Float32Array(5), rows: 1, tolerance: 1 }), /not 1 images of 28x28/);
});

test('report: table, markdown and JSON of a synthetic report', async () => {
  const metrics = compareArrays([0.5, 0.25], [0.5, 0.2], { pixels: true });
  const report: ParityReport = {
    format: 'vae-parity-report', version: 1, createdAt: '2026-01-01T00:00:00.000Z', tool: 'test',
    model: { name: 'm', dir: '/m', description: 'a model', latentSize: 2 },
    reference: { description: 'golden', goldenBackend: 'wasm', trainingBackend: 'wasm', exporterReference: 'tfjs' },
    tolerances: 'tolerances.ts',
    runtimes: [
      { id: 'node-cpu', label: 'x', status: 'ran', description: 'cpu', required: false },
      { id: 'node-cuda', label: 'y', status: 'skipped', reason: 'no GPU', required: false },
    ],
    rows: [
      { graph: 'decoder', file: 'decoder.onnx', precision: 'fp32', runtime: 'node-cpu', status: 'fail', seconds: 1, heatmap: 'heatmaps/decoder.node-cpu.png',
        outputs: [{ output: 'x_hat', metrics, minimumTolerance: minimumTolerance(metrics), tolerance: 1e-5, pass: false }] },
      { graph: 'decoder', file: 'decoder.onnx', precision: 'fp32', runtime: 'node-cuda', status: 'skipped', reason: 'no GPU', seconds: 0, outputs: [] },
    ],
    counts: { pass: 0, fail: 1, error: 0, skipped: 1 },
    failures: ['decoder on node-cpu: x_hat max abs error 5.00e-2 > tolerance 1e-5'],
    passed: false,
  };
  const table = formatTable(report);
  assert.match(table, /decoder\s+node-cpu\s+x_hat\s+5\.00e-2\s+2\.50e-2\s+9\.28e-2\s+12\.7500\s+1\s+5\.00e-2\s+2\.50e-1\s+1e-5\s+FAIL/);
  assert.match(table, /decoder\s+node-cuda\s+skipped: no GPU/);
  assert.match(table, /^FAIL: 0 passed, 1 failed, 0 errors, 1 skipped$/m);
  const mdText = formatMarkdown(report);
  assert.match(mdText, /\| decoder \| node-cpu \| x_hat \| 5\.00e-2 \|/);
  assert.match(mdText, /!\[decoder on node-cpu\]\(heatmaps\/decoder\.node-cpu\.png\)/);
  const withInf = { ...report, rows: [{ ...report.rows[0], outputs: [{ ...report.rows[0].outputs[0], minimumTolerance: { atol: 1, rtol: Infinity } }] }] };
  assert.equal(JSON.parse(reportJson(withInf)).rows[0].outputs[0].minimumTolerance.rtol, 'Infinity');
  const dir = await mkdtemp(join(tmpdir(), 'vae-report-'));
  try {
    const paths = await writeReport(report, dir);
    assert.equal(JSON.parse(await readFile(paths.json, 'utf8')).passed, false);
    assert.match(await readFile(paths.markdown, 'utf8'), /^# Parity report: m$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CLI runtime lists: known names pass, unknown names are usage errors naming them', () => {
  assert.deepEqual(parseRuntimeList('runtimes', 'node-cpu, chromium-webgpu'), ['node-cpu', 'chromium-webgpu']);
  assert.throws(() => parseRuntimeList('runtimes', 'node-cpu,tpu'), /^Error: --runtimes: unknown runtime "tpu" \(known: node-cpu, node-cuda, node-webgpu, web-node, chromium-wasm, chromium-webgpu, standalone-node, standalone-chromium\)$/);
  assert.throws(() => parseRuntimeList('require', ','), /--require: name at least one runtime/);
});

test('CUDA probe: says why it is unavailable (no provider library here, or no GPU)', async () => {
  const fake = { listSupportedBackends: () => [{ name: 'cpu', bundled: true }] } as unknown as typeof ortNode;
  assert.match((await cudaUnavailableReason(fake))!, /has no CUDA support/);
  const reason = await cudaUnavailableReason(ortNode);
  if (reason !== null) assert.match(reason, /no CUDA execution provider installed \(install it with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install|no GPU/);
});
