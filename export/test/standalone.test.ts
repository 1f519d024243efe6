/**
 * The standalone decoder (src/standalone.ts, standalone/runtime.mjs, src/wasm-kernel.ts):
 * the released models ship exactly what the generator makes of their graphs; every precision
 * matches the golden outputs within its graph's tolerance with both kernels; loading checks
 * size and SHA-256 naming the file; latent errors are word for word runtime-core's; Gemm
 * attributes, DequantizeLinear variants and unsupported ops behave like onnxruntime / say
 * what and where.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { toleranceFor } from '@vae/models';
import { webAssembly } from '@vae/models/wasm';
import { loadModelDir, releasedModelDir } from '@vae/models/node';
import { AttributeType, DataType, encodeModel, readTestDataSets, toTensorProto, type ModelProto, type NodeProto, type TensorProto } from '@vae/models/onnx';
// runtime-core's check, by path: the wording the module must match (latents.ts has no imports).
import { parseLatents } from '../../runtime-core/src/latents.js';
import { addStandalone, compileGraph, generateModule, standaloneFiles, STANDALONE_MODULE } from '../src/standalone.js';
import { wasmKernelBytes } from '../src/wasm-kernel.js';
import { codeBytes } from './helpers.js';

interface Decoder {
  precision: string; kernel: string; latentSize: number; outputSize: number;
  decode(z: unknown, count?: number): Float32Array;
  run(z: unknown, count?: number): Record<string, Float32Array>;
}
interface DecoderModule {
  loadDecoder(source?: unknown, options?: { precision?: string; kernel?: string }): Promise<Decoder>;
  info: { name: string; latentSize: number; imageShape: [number, number]; precisions: string[] };
}

const MODELS = ['mnist-n64-beta1', 'mnist-n2-beta1'];

const importText = (text: string) => import(`data:text/javascript;base64,${Buffer.from(text).toString('base64')}`) as Promise<DecoderModule>;

test('the released models ship decoder.mjs and weights identical to what the generator makes of their graphs, listed in the manifest', async () => {
  for (const name of MODELS) {
    const model = await loadModelDir(releasedModelDir(name));
    const files = standaloneFiles(model.manifest, (f) => new Uint8Array(readFileSync(model.file(f))), '@vae/export 0.1.0');
    assert.deepEqual(files.map((f) => f.path), [STANDALONE_MODULE, 'decoder.weights.bin', 'decoder.fp16.weights.bin', 'decoder.int8.weights.bin']);
    for (const f of files) {
      assert.ok(model.manifest.files.some((e) => e.path === f.path), `${name}: ${f.path} listed`);
      assert.ok(Buffer.from(await readFile(model.file(f.path))).equals(Buffer.from(f.data)), `${name}: ${f.path} is the generator's output`);
    }
    const code = codeBytes(files[0].data);
    assert.ok(code <= 40 * 1024, `${name}: decoder.mjs's code (runtime + wasm kernel, without the model's JSON) is ${code} bytes (limit 40 KB)`);
    assert.doesNotMatch(new TextDecoder().decode(files[0].data), /^\s*(import|export)\s[^\n]*\sfrom\s|^\s*import\s*['"{*]/m, 'no static imports');
  }
});

test('every precision of the released modules matches the golden outputs within its graph tolerance, with the wasm and the js kernel', async () => {
  for (const name of MODELS) {
    const dir = releasedModelDir(name);
    const mod = await import(pathToFileURL(join(dir, STANDALONE_MODULE)).href) as DecoderModule;
    assert.deepEqual(mod.info.precisions, ['fp32', 'fp16', 'int8']);
    const golden = await readTestDataSets(join(dir, 'decoder'));
    for (const precision of mod.info.precisions) {
      for (const kernel of ['wasm', 'js']) {
        const d = await mod.loadDecoder(undefined, { precision, kernel });
        assert.equal(d.kernel, kernel);
        assert.equal(d.precision, precision);
        let max = 0;
        for (const set of golden) {
          const z = set.inputs[0];
          const y = d.decode(z.data as Float32Array, z.dims[0]);
          const want = set.outputs[0].data;
          assert.equal(y.length, want.length);
          for (let i = 0; i < y.length; i++) max = Math.max(max, Math.abs(y[i] - want[i]));
        }
        const tol = toleranceFor('standalone-node', precision, 'x_hat');
        assert.ok(max <= tol, `${name} ${precision} ${kernel}: max abs ${max} > ${tol}`);
      }
    }
  }
});

test('loading: by default the weights next to the module; by URL, bytes or precision; size and SHA-256 errors name the file', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'vae-standalone-'));
  try {
    const dir = join(tmp, 'm');
    await cp(releasedModelDir('mnist-n2-beta1'), dir, { recursive: true });
    const mod = await import(pathToFileURL(join(dir, STANDALONE_MODULE)).href) as DecoderModule;
    assert.equal((await mod.loadDecoder()).precision, 'fp32');
    assert.equal((await mod.loadDecoder('decoder.int8.weights.bin')).precision, 'int8');
    const fp16 = await readFile(join(dir, 'decoder.fp16.weights.bin'));
    assert.equal((await mod.loadDecoder(fp16)).precision, 'fp16');
    assert.equal((await mod.loadDecoder(new URL('decoder.weights.bin', pathToFileURL(join(dir, 'x'))))).latentSize, 2);

    const bad = Buffer.from(fp16);
    bad[1000] ^= 1;
    await assert.rejects(mod.loadDecoder(bad), (e: Error & { code?: string; file?: string }) =>
      e.name === 'VaeError' && e.code === 'checksum' && e.file === 'decoder.fp16.weights.bin' &&
      /^decoder\.fp16\.weights\.bin \(the bytes given\): SHA-256 mismatch: the module expects [0-9a-f]{64} \(decoder\.fp16\.weights\.bin\), the file has [0-9a-f]{64}$/.test(e.message));
    await writeFile(join(dir, 'decoder.int8.weights.bin'), bad.subarray(0, 1000));
    await assert.rejects(mod.loadDecoder('decoder.int8.weights.bin'), /decoder\.int8\.weights\.bin: size mismatch: the module expects \d+ bytes \(decoder\.int8\.weights\.bin\), the file has 1000/);
    await rm(join(dir, 'decoder.weights.bin'));
    await assert.rejects(mod.loadDecoder(), (e: Error & { code?: string }) => e.code === 'checksum' && /decoder\.weights\.bin: cannot read the weights: ENOENT/.test(e.message));
    await assert.rejects(mod.loadDecoder(undefined, { precision: 'fp64' }), /precision: "fp64" is not one of this decoder's: fp32, fp16, int8/);
    await assert.rejects(mod.loadDecoder(42), /loadDecoder: expected the weights' URL \(a string or URL\) or bytes/);

    // Without crypto.subtle (an insecure http: page), the module's own SHA-256 checks the same.
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      assert.equal((await mod.loadDecoder(fp16)).precision, 'fp16');
      await assert.rejects(mod.loadDecoder(bad), /SHA-256 mismatch/);
    } finally {
      Object.defineProperty(globalThis, 'crypto', saved);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('input errors are runtime-core parseLatents\' messages, word for word', async () => {
  const mod = await import(pathToFileURL(join(releasedModelDir('mnist-n2-beta1'), STANDALONE_MODULE)).href) as DecoderModule;
  const d = await mod.loadDecoder();
  const cases: unknown[] = [
    [1, 2, 3], [1], [], new Float32Array(0), [1, NaN], [Infinity, 0], [0, -Infinity], [1e39, 0], [[1, 2], [3]], [[1, 2], 'x'],
    Float32Array.from([0, NaN]), 'zz', undefined, null, [[1, 2], [3, NaN]],
  ];
  for (const z of cases) {
    let want = '';
    try { parseLatents(z, 2, 'z', (m) => new Error(m)); } catch (e) { want = (e as Error).message; }
    assert.ok(want, `runtime-core rejects ${String(z)}`);
    assert.throws(() => d.decode(z), (e: Error & { code?: string }) => e.name === 'VaeError' && e.code === 'input' && e.message === want, `${want}`);
  }
  assert.throws(() => d.decode(new Float32Array(4), 3), /^VaeError: z: 4 values are 2 latent vectors of the model's latent size 2, but count is 3$|z: 4 values are 2 latent vectors/);
  assert.throws(() => d.decode(new Float32Array(4), 0), /z: no latent vectors \(the model's latent size is 2\)/);
  assert.equal(d.decode([[0, 0], [1, 1]]).length, 2 * 784);
});

// ---------------------------------------------------------------------------------------
// Synthetic graphs: what the exporter does not write but the ops allow, against onnxruntime-node.

const f32 = (name: string, dims: number[], data: number[]): TensorProto => toTensorProto({ name, dtype: 'float32', dims, data: Float32Array.from(data) });
const io = (name: string, size: number) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'N' }, { dim_value: size }] } } } });
const graph = (nodes: NodeProto[], inits: TensorProto[], inSize: number, outSize: number): ModelProto => ({
  ir_version: 8, opset_import: [{ domain: '', version: 17 }], producer_name: 'test', producer_version: '0',
  graph: { name: 'g', node: nodes, initializer: inits, input: [io('z', inSize)], output: [io('y', outSize)] },
});
const rand = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.5);

async function againstOrt(model: ModelProto, rows: number, inSize: number): Promise<number> {
  const compiled = compileGraph(model, { label: 'g.onnx', file: 'g.weights.bin', precision: 'fp32' });
  const mod = await importText(generateModule([compiled.program], { name: 'g', imageShape: [1, 1], producer: 'test' }));
  const z = Float32Array.from(rand(rows * inSize, 7));
  const session = await ort.InferenceSession.create(encodeModel(model));
  const want = (await session.run({ z: new ort.Tensor('float32', z, [rows, inSize]) })).y.data as Float32Array;
  let max = 0;
  for (const kernel of ['wasm', 'js']) {
    const got = (await mod.loadDecoder(compiled.weights, { kernel })).decode(z, rows);
    assert.equal(got.length, want.length);
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  }
  return max;
}

test('Gemm attributes (alpha, beta, transB, scalar C), DequantizeLinear (axis 0, uint8, zero points) and Cast agree with onnxruntime', async () => {
  const K = 5, N = 11;
  const gemm = (attrs: NodeProto['attribute'], b: string, c: string | undefined, out = 'y'): NodeProto =>
    ({ name: 'gemm', op_type: 'Gemm', input: c ? ['z', b, c] : ['z', b], output: [out], attribute: attrs });
  const attrs = [
    { name: 'alpha', type: AttributeType.FLOAT, f: 0.5 }, { name: 'beta', type: AttributeType.FLOAT, f: 2 }, { name: 'transB', type: AttributeType.INT, i: 1 },
  ];
  // transB with alpha / beta and C of shape [1, N]
  assert.ok(await againstOrt(graph([gemm(attrs, 'w', 'c')], [f32('w', [N, K], rand(N * K, 1)), f32('c', [1, N], rand(N, 2))], K, N), 7, K) < 1e-6);
  // no C, then Sigmoid; a scalar C with Relu
  assert.ok(await againstOrt(graph([gemm([], 'w', undefined, 'h'), { name: 's', op_type: 'Sigmoid', input: ['h'], output: ['y'] }], [f32('w', [K, N], rand(K * N, 3))], K, N), 6, K) < 1e-6);
  assert.ok(await againstOrt(graph([gemm([], 'w', 'c', 'h'), { name: 'r', op_type: 'Relu', input: ['h'], output: ['y'] }], [f32('w', [K, N], rand(K * N, 4)), f32('c', [], [0.25])], K, N), 9, K) < 1e-6);
  // DequantizeLinear of uint8 along axis 0 with zero points, and Cast of float16
  const q = Uint8Array.from(rand(K * N, 5), (v) => Math.round((v + 0.5) * 255));
  const dq: NodeProto = { name: 'dq', op_type: 'DequantizeLinear', input: ['q', 's', 'zp'], output: ['w'], attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] };
  const inits = [
    { name: 'q', dims: [K, N], data_type: DataType.UINT8, raw_data: q },
    f32('s', [K], [0.01, 0.02, 0.005, 0.03, 0.015]),
    { name: 'zp', dims: [K], data_type: DataType.UINT8, raw_data: Uint8Array.from([128, 120, 130, 127, 0]) },
    toTensorProto({ name: 'c16', dtype: 'float16', dims: [N], data: Uint16Array.from({ length: N }, (_, i) => 0x3c00 + i * 64) }),
  ];
  const cast: NodeProto = { name: 'cast', op_type: 'Cast', input: ['c16'], output: ['c'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] };
  assert.ok(await againstOrt(graph([dq, cast, gemm([], 'w', 'c')], inits, K, N), 5, K) < 1e-6);
});

test('an unsupported op is an error naming the op and the node; so are unsupported attributes', () => {
  const K = 3;
  const base = (node: NodeProto, extra: TensorProto[] = []) => graph([{ name: 'dense.gemm', op_type: 'Gemm', input: ['z', 'w'], output: ['h'] }, node], [f32('w', [K, K], rand(K * K, 1)), ...extra], K, K);
  assert.throws(() => compileGraph(base({ name: 'dense.erf', op_type: 'Erf', input: ['h'], output: ['y'] }), { label: 'decoder.onnx', file: 'f', precision: 'fp32' }),
    /^UnsupportedGraphError: decoder\.onnx: node "dense\.erf" \(Erf\): op Erf is not supported by the standalone runtime \(it compiles Gemm, Cast, DequantizeLinear, Relu, Sigmoid, Tanh, .*, Conv, ConvTranspose, Resize\)$/);
  assert.throws(() => compileGraph(graph([{ name: 'g', op_type: 'Gemm', input: ['z', 'w'], output: ['y'], attribute: [{ name: 'transA', type: AttributeType.INT, i: 1 }] }], [f32('w', [K, K], rand(K * K, 1))], K, K), { label: 'x.onnx', file: 'f', precision: 'fp32' }),
    /x\.onnx: node "g" \(Gemm\): transA = 1/);
  assert.throws(() => compileGraph(graph([{ name: 'mm', op_type: 'Gemm', input: ['z', 'z'], output: ['y'] }], [], K, K), { label: 'x.onnx', file: 'f', precision: 'fp32' }),
    /node "mm" \(Gemm\): input "z" must be a weight/);
  assert.throws(() => compileGraph(base({ name: 'c', op_type: 'Cast', input: ['w'], output: ['y'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT16 }] }), { label: 'x.onnx', file: 'f', precision: 'fp32' }),
    /node "c" \(Cast\): casts to float16/);
});

test('the wasm kernel is small, valid WebAssembly SIMD', () => {
  const bytes = wasmKernelBytes();
  assert.ok(bytes.length < 1024, `${bytes.length} bytes`);
  assert.ok(webAssembly().validate(bytes));
});

test('vae export --standalone-only on an existing directory: adds the files, lists them, validates; a second run changes nothing', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'vae-standalone-add-'));
  try {
    const dir = join(tmp, 'm');
    await cp(releasedModelDir('mnist-n2-beta1'), dir, { recursive: true });
    const manifestPath = join(dir, 'manifest.json');
    const m = JSON.parse(await readFile(manifestPath, 'utf8'));
    const standalone = new Set([STANDALONE_MODULE, 'decoder.weights.bin', 'decoder.fp16.weights.bin', 'decoder.int8.weights.bin']);
    m.files = m.files.filter((f: { path: string }) => !standalone.has(f.path));
    await writeFile(manifestPath, JSON.stringify(m, null, 2) + '\n');
    for (const f of standalone) await rm(join(dir, f));

    const first = await addStandalone(dir, '@vae/export 0.1.0');
    assert.deepEqual(first.changed.sort(), [...standalone].sort());
    const loaded = await loadModelDir(dir); // sizes and SHA-256 of every listed file
    assert.equal(loaded.manifest.formatVersion, 1);
    for (const f of standalone) assert.ok(loaded.manifest.files.some((e) => e.path === f));
    assert.deepEqual(await readFile(manifestPath, 'utf8'), await readFile(join(releasedModelDir('mnist-n2-beta1'), 'manifest.json'), 'utf8'));
    const second = await addStandalone(dir, '@vae/export 0.1.0');
    assert.deepEqual(second.changed, []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
