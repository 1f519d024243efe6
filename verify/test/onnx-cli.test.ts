/**
 * `vae verify` on small general ONNX models built here (node-cpu and web-node: fast): every
 * dtype through generated data and the saved ONNX test-data layout, repeating a run with
 * --data, Polygraphy's --atol / --rtol / --check-error-stat, exit codes, and error rows; and
 * one float32 model on node-webgpu (SwiftShader's Vulkan, selected by the test environment).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel, readTensorFile, serializeTensor, type ValueInfoProto } from '@vae/models/onnx';
import type { OnnxParityReport } from '../src/onnx-report.js';
import { IN_CI, SWIFTSHADER, SWIFTSHADER_ICD, runCli } from './helpers.js';

const tmp = await mkdtemp(join(tmpdir(), 'vae-onnx-cli-'));
after(() => rm(tmp, { recursive: true, force: true }));

const io = (name: string, elem: number, dims: (number | string)[]): ValueInfoProto => ({
  name, type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
});

/** Identity on float16, int64, int32, uint8, bool inputs of shape [2, n]; sum = float(a) + float(d). */
function typedModel(op = 'Identity'): Uint8Array {
  const types: [string, number][] = [['a', 10], ['b', 7], ['c', 6], ['d', 2], ['e', 9]];
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 'vae-test', producer_version: '0',
    graph: {
      name: 'typed',
      node: [
        ...types.map(([n]) => ({ name: `${n}.identity`, op_type: op, input: [n], output: [`${n}_out`] })),
        { name: 'a.cast', op_type: 'Cast', input: ['a'], output: ['a32'], attribute: [{ name: 'to', type: 2, i: 1 }] },
        { name: 'd.cast', op_type: 'Cast', input: ['d'], output: ['d32'], attribute: [{ name: 'to', type: 2, i: 1 }] },
        { name: 'sum.add', op_type: 'Add', input: ['a32', 'd32'], output: ['sum'] },
      ],
      initializer: [],
      input: types.map(([n, t]) => io(n, t, [2, 'n'])),
      output: [...types.map(([n, t]) => io(`${n}_out`, t, [2, 'n'])), io('sum', 1, [2, 'n'])],
    },
  });
}

const RT = ['--runtimes', 'node-cpu,web-node'];

test('node-webgpu: a float32 MatMul + Sigmoid model runs on onnxruntime-node\'s WebGPU EP and passes against node-cpu', { timeout: 120_000, skip: !SWIFTSHADER && !IN_CI && `no SwiftShader (${SWIFTSHADER_ICD})` }, async () => {
  const model = join(tmp, 'matmul.onnx');
  await writeFile(model, encodeModel({
    ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 'vae-test', producer_version: '0',
    graph: {
      name: 'matmul',
      node: [
        { name: 'mm', op_type: 'MatMul', input: ['a', 'b'], output: ['ab'] },
        { name: 'sig', op_type: 'Sigmoid', input: ['ab'], output: ['y'] },
      ],
      initializer: [],
      input: [io('a', 1, ['n', 64]), io('b', 1, [64, 16])],
      output: [io('y', 1, ['n', 16])],
    },
  }));
  const r = await runCli(['verify', model, '--dim', 'n=5', '--runtimes', 'node-cpu,node-webgpu', '--require', 'node-webgpu', '--json', '--out', join(tmp, 'webgpu')]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as OnnxParityReport;
  assert.deepEqual(report.rows.map((x) => [x.runtime, x.status]), [['node-cpu', 'pass'], ['node-webgpu', 'pass']]);
  const runtime = report.runtimes.find((x) => x.id === 'node-webgpu')!;
  assert.match(runtime.description!, /WebGPU execution provider \(Dawn; .*\), adapter: SwiftShader/);
});

test('a bare model: seeded inputs of every dtype, saved in the ONNX test-data layout; --data repeats the run', { timeout: 120_000 }, async () => {
  const model = join(tmp, 'typed.onnx');
  await writeFile(model, typedModel());
  const out = join(tmp, 'out1');
  const r = await runCli(['verify', model, '--dim', 'n=3', '--val-range', '0,200', ...RT, '--json', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as OnnxParityReport;
  assert.equal(report.format, 'vae-onnx-parity-report');
  assert.deepEqual(report.data.inputs.map((i) => [i.name, i.dtype, i.shape]), [['a', 'float16', [2, 3]], ['b', 'int64', [2, 3]], ['c', 'int32', [2, 3]], ['d', 'uint8', [2, 3]], ['e', 'bool', [2, 3]]]);
  assert.deepEqual(report.rows.map((x) => [x.runtime, x.status]), [['node-cpu', 'pass'], ['web-node', 'pass']]);
  assert.deepEqual(report.rows[1].outputs.map((o) => [o.output, o.dtype, o.abs.max]), [['a_out', 'float16', 0], ['b_out', 'int64', 0], ['c_out', 'int32', 0], ['d_out', 'uint8', 0], ['e_out', 'bool', 0], ['sum', 'float32', 0]]);
  const data = join(out, 'typed', 'data', 'test_data_set_0');
  const b = await readTensorFile(join(data, 'input_1.pb'));
  assert.equal(b.dtype, 'int64');
  assert.ok([...b.data].every((v) => Number.isInteger(v) && v >= 0 && v <= 200) && new Set(b.data).size > 1);
  const e = await readTensorFile(join(data, 'output_4.pb'));
  assert.deepEqual([e.dtype, e.dims], ['bool', [2, 3]]);
  assert.equal(report.data.repeat, `vae verify ${model} --data ${join(out, 'typed', 'data')}`);

  const again = await runCli(['verify', model, '--data', join(out, 'typed', 'data'), ...RT, '--json', '--out', join(tmp, 'out2')]);
  assert.equal(again.code, 0, again.stderr);
  const rep2 = JSON.parse(again.stdout) as OnnxParityReport;
  assert.equal(rep2.data.source, 'golden');
  assert.equal(rep2.reference.kind, 'golden');
});

test('Polygraphy checks: --atol / --rtol globally and per output, --check-error-stat; exit 1 on a mismatch', { timeout: 120_000 }, async () => {
  // A folder in ONNX layout: model.onnx + test_data_set_0 whose "sum" is off by 0.5 in one of 6 values.
  const dir = join(tmp, 'folder');
  await mkdir(join(dir, 'test_data_set_0'), { recursive: true });
  await writeFile(join(dir, 'model.onnx'), typedModel());
  const gen = join(tmp, 'gen');
  assert.equal((await runCli(['verify', join(dir, 'model.onnx'), '--dim', 'n=3', '--val-range', '1,9', '--runtimes', 'node-cpu', '--out', gen])).code, 0);
  for (let i = 0; i < 5; i++) await writeFile(join(dir, 'test_data_set_0', `input_${i}.pb`), await readFile(join(gen, 'model', 'data', 'test_data_set_0', `input_${i}.pb`)));
  for (let i = 0; i < 5; i++) await writeFile(join(dir, 'test_data_set_0', `output_${i}.pb`), await readFile(join(gen, 'model', 'data', 'test_data_set_0', `output_${i}.pb`)));
  const sum = await readTensorFile(join(gen, 'model', 'data', 'test_data_set_0', 'output_5.pb'));
  (sum.data as Float32Array)[4] += 0.5;
  await writeFile(join(dir, 'test_data_set_0', 'output_5.pb'), serializeTensor(sum));

  const verify = async (...flags: string[]) => {
    const r = await runCli(['verify', dir, ...RT, '--json', '--out', join(tmp, 'out3'), ...flags]);
    return { code: r.code, report: r.stdout ? (JSON.parse(r.stdout) as OnnxParityReport) : undefined, stderr: r.stderr };
  };
  const strict = await verify();
  assert.equal(strict.code, 1, strict.stderr);
  const o = strict.report!.rows[0].outputs.find((x) => x.output === 'sum')!;
  assert.equal(o.pass, false);
  assert.equal(o.abs.max, 0.5);
  assert.deepEqual(o.abs.argMax, { set: 0, index: [1, 1] });
  assert.equal(o.mismatches, 1);
  assert.equal(o.abs.median, 0);
  assert.equal(o.minimumTolerance.atol, 0.5);
  assert.ok(Math.abs(o.rel.max - 0.5 / Math.abs((sum.data as Float32Array)[4])) < 1e-6, `rel ${o.rel.max}`); // reldiff is relative to the expected (golden) value
  assert.ok(strict.report!.failures.some((f) => f.startsWith('node-cpu: sum 1 of 6 values mismatch')));
  assert.ok(!strict.report!.rows[0].diagnosis, 'node-cpu is the reference: nothing to compare its intermediates with');
  assert.match(strict.report!.rows[0].diagnosisError!, /--reference-model/);

  assert.equal((await verify('--atol', '0.6')).code, 0);
  assert.equal((await verify('--atol', 'sum=0.6')).code, 0);
  assert.equal((await verify('--atol', 'b_out=0.6')).code, 1);
  assert.equal((await verify('--rtol', '0.2')).code, 0);
  assert.equal((await verify('--check-error-stat', 'median')).code, 0);
  assert.equal((await verify('--check-error-stat', 'mean')).code, 1);
  assert.equal((await verify('--check-error-stat', 'mean', '--atol', '0.1')).code, 0);
  const q = await verify('--check-error-stat', 'quantile', '--error-quantile', '0.5');
  assert.equal(q.code, 0);
  assert.equal(q.report!.check.stat, 'quantile');
});

test('usage errors exit 2 naming the flag; a model a runtime cannot load is an error row with onnxruntime\'s message', { timeout: 120_000 }, async () => {
  const model = join(tmp, 'typed2.onnx');
  await writeFile(model, typedModel());
  const noDim = await runCli(['verify', model, ...RT, '--out', join(tmp, 'u')]);
  assert.equal(noDim.code, 2);
  assert.match(noDim.stderr, /--dim: input "a" has symbolic dim "n" at axis 1; set it with --dim n=N/);
  const badStat = await runCli(['verify', model, '--dim', 'n=2', '--check-error-stat', 'p95', ...RT, '--out', join(tmp, 'u')]);
  assert.equal(badStat.code, 2);
  assert.match(badStat.stderr, /--check-error-stat: "p95" is not one of elemwise, max, mean, median, quantile/);
  const missing = await runCli(['verify', join(tmp, 'nope.onnx'), ...RT, '--out', join(tmp, 'u')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.onnx: no such file or directory/);
  const garbage = join(tmp, 'garbage.onnx');
  await writeFile(garbage, new TextEncoder().encode('this is not a protobuf model'));
  const unreadable = await runCli(['verify', garbage, ...RT, '--out', join(tmp, 'u')]);
  assert.equal(unreadable.code, 2, 'a model that cannot be read is exit 2, not a parity failure');
  assert.match(unreadable.stderr, /^error: .*garbage\.onnx/m);
  assert.equal(existsSync(join(tmp, 'u')), false);

  // Golden data for a model whose op no runtime knows: every row is an error, the tool does not crash.
  const dir = join(tmp, 'broken');
  await mkdir(join(dir, 'test_data_set_0'), { recursive: true });
  await writeFile(join(dir, 'model.onnx'), typedModel('NoSuchOp'));
  const gen = join(tmp, 'gen2');
  assert.equal((await runCli(['verify', model, '--dim', 'n=2', '--runtimes', 'node-cpu', '--out', gen])).code, 0);
  for (const f of ['input_0', 'input_1', 'input_2', 'input_3', 'input_4', 'output_0']) {
    await writeFile(join(dir, 'test_data_set_0', `${f}.pb`), await readFile(join(gen, 'typed2', 'data', 'test_data_set_0', `${f}.pb`)));
  }
  const r = await runCli(['verify', dir, ...RT, '--json', '--out', join(tmp, 'out4')]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as OnnxParityReport;
  assert.deepEqual(report.rows.map((x) => x.status), ['error', 'error']);
  for (const row of report.rows) assert.match(row.reason!, /NoSuchOp/);
});
