/**
 * Bad latent input to `decode()` in a real browser (Chromium, WebGPU off, so wasm), one
 * launch for the whole table: wrong lengths and widths, NaN, ±Infinity, doubles beyond
 * float32, other typed arrays, strings, objects, BigInts and empty batches. Each bad case
 * must be a VaeError with code "input" whose message names the problem, and must never reach
 * onnxruntime-web (every InferenceSession.run in the page is counted); the valid rows of the
 * table decode. A negative, too large or fractional seed, sample(0), and encode() on a Vae
 * loaded with encoder: false are refused the same way. The checks are @vae/runtime-core's (the Vae class both runtimes return), so the
 * messages are runtime-node's, label included.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, type Fixture } from './support/fixture.ts';

type Lib = typeof import('../src/index.ts');
let fx: Fixture;
let refusals: { call: string; code?: string; message: string; runs: number }[] = [];

/** Case name -> the expected message (after "z: "), or the count of vectors a valid case decodes to. */
const EXPECTED: Record<string, RegExp | number> = {
  'three values': /^3 values are not a whole number of latent vectors of the model's latent size 2$/,
  'one value': /^1 value, but the model's latent size is 2$/,
  'NaN in a Float32Array': /^vector 0, value 1 is NaN: latent values must be finite numbers$/,
  'Infinity': /^vector 0, value 0 is Infinity: latent values must be finite numbers$/,
  '-Infinity in row 1': /^vector 1, value 1 is -Infinity: latent values must be finite numbers$/,
  'Float64Array beyond float32': /^vector 0, value 0 is 1e\+39, beyond float32's range/,
  'strings': /^vector 0, value 0 is string "0\.5": latent values must be finite numbers$/,
  'a string of numbers': /^expected latent vectors \(an array of numbers, or one array per vector\), got string "0\.5,0\.1"$/,
  'rows of wrong width': /^vector 1 has 1 value, but the model's latent size is 2$/,
  'rows nested too deep': /^vector 0 has 1 value, but the model's latent size is 2$/,
  'a row that is a number': /^vector 1 is 5, not an array of numbers$/,
  'an object': /^expected latent vectors .*, got an object$/,
  'null': /^expected latent vectors .*, got null$/,
  'undefined': /^expected latent vectors .*, got undefined$/,
  'true': /^expected latent vectors .*, got true$/,
  'a Symbol': /^expected latent vectors .*, got symbol$/,
  'BigInt64Array': /^vector 0, value 0 is bigint: latent values must be finite numbers$/,
  'a hole in the array': /^vector 0, value 1 is missing: latent values must be finite numbers$/,
  'empty array': /^no latent vectors \(the model's latent size is 2\)$/,
  'empty Float32Array': /^no latent vectors/,
  'one empty row': /^vector 0 has 0 values, but the model's latent size is 2$/,
  'valid Float64Array': 1,
  'valid Int32Array': 1,
  'valid array-like object': 1,
  'valid rows': 2,
};

describe('bad latent input in the browser (wasm)', { timeout: 120_000 }, () => {
  before(async () => { fx = await setup({ webgpu: false }); });
  after(async () => fx?.close());

  test(`${Object.keys(EXPECTED).length} cases: a VaeError "input" naming the problem, never a run of onnxruntime-web`, async () => {
    const { page, context } = await fx.harness();
    const results = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      const vae = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { device: 'wasm', wasmPaths: `${origin}/ort/`, encoder: false });
      // Count every session run from here on (the warm-up decode has run already).
      let runs = 0;
      const proto = (lib.ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => unknown } }).prototype;
      const realRun = proto.run;
      proto.run = function (this: unknown, ...args: unknown[]) {
        runs++;
        return realRun.apply(this, args);
      };
      const cases: [string, unknown][] = [
        ['three values', [0.1, 0.2, 0.3]],
        ['one value', [0.5]],
        ['NaN in a Float32Array', Float32Array.of(0, NaN)],
        ['Infinity', [Infinity, 0]],
        ['-Infinity in row 1', [[0, 0], [0, -Infinity]]],
        ['Float64Array beyond float32', Float64Array.of(1e39, 0)],
        ['strings', ['0.5', '0.1']],
        ['a string of numbers', '0.5,0.1'],
        ['rows of wrong width', [[0, 0], [0]]],
        ['rows nested too deep', [[[0, 0]]]],
        ['a row that is a number', [[0, 0], 5]],
        ['an object', { a: 1 }],
        ['null', null],
        ['undefined', undefined],
        ['true', true],
        ['a Symbol', Symbol('z')],
        ['BigInt64Array', BigInt64Array.of(1n, 2n)],
        ['a hole in the array', [0, , ]],
        ['empty array', []],
        ['empty Float32Array', new Float32Array(0)],
        ['one empty row', [[]]],
        ['valid Float64Array', Float64Array.of(0.5, -1)],
        ['valid Int32Array', Int32Array.of(1, -2)],
        ['valid array-like object', { length: 2, 0: 0.1, 1: 0.2 }],
        ['valid rows', [[0, 0], [1, -1]]],
      ];
      const out: { name: string; ok: boolean; count?: number; pixels?: number; inRange?: boolean; error?: { name?: string; code?: string; message: string }; runs: number }[] = [];
      for (const [name, z] of cases) {
        const before = runs;
        try {
          const d = await vae.decode(z as Float32Array);
          out.push({ name, ok: true, count: d.count, pixels: d.pixels.length, inRange: d.pixels.every((v) => v >= 0 && v <= 1), runs: runs - before });
        } catch (e) {
          const err = e as { name?: string; code?: string; message?: string };
          out.push({ name, ok: false, error: { name: err.name, code: err.code, message: String(err.message) }, runs: runs - before });
        }
      }
      // Seeds and counts of sample(), and encode() without an encoder: refused before any run.
      const refused: { call: string; code?: string; message: string; runs: number }[] = [];
      const calls: [string, () => Promise<unknown>][] = [
        ['sample(1, { seed: -1 })', () => vae.sample(1, { seed: -1 })],
        ['sample(1, { seed: 2 ** 32 })', () => vae.sample(1, { seed: 2 ** 32 })],
        ['sample(1, { seed: 1.5 })', () => vae.sample(1, { seed: 1.5 })],
        ['sample(0)', () => vae.sample(0)],
        ['encode (encoder: false)', () => vae.encode(new Float32Array(784))],
      ];
      for (const [call, fn] of calls) {
        const before = runs;
        try {
          await fn();
          refused.push({ call, message: '(accepted)', runs: runs - before });
        } catch (e) {
          const err = e as { code?: string; message?: string };
          refused.push({ call, code: err.code, message: String(err.message), runs: runs - before });
        }
      }
      proto.run = realRun;
      await vae.dispose();
      return { out, refused };
    }, fx.origin).then(({ out, refused }) => { refusals = refused; return out; });
    await context.close();

    assert.deepEqual(refusals.map((r) => [r.call, r.code, r.runs]), [
      ['sample(1, { seed: -1 })', 'input', 0], ['sample(1, { seed: 2 ** 32 })', 'input', 0], ['sample(1, { seed: 1.5 })', 'input', 0],
      ['sample(0)', 'input', 0], ['encode (encoder: false)', 'input', 0],
    ]);
    assert.equal(refusals[0].message, 'seed: expected an integer in [0, 2^32), got -1');
    assert.equal(refusals[3].message, 'count: expected a positive integer, got 0');
    assert.match(refusals[4].message, /encoder: false/);

    assert.deepEqual(results.map((r) => r.name), Object.keys(EXPECTED));
    for (const r of results) {
      const want = EXPECTED[r.name];
      if (typeof want === 'number') {
        assert.ok(r.ok, `${r.name}: ${JSON.stringify(r.error)}`);
        assert.deepEqual([r.count, r.pixels, r.inRange, r.runs], [want, want * 784, true, 1], r.name);
      } else {
        assert.ok(!r.ok, `${r.name} was decoded`);
        assert.equal(r.error!.name, 'VaeError', `${r.name}: ${JSON.stringify(r.error)}`);
        assert.equal(r.error!.code, 'input', r.name);
        assert.ok(r.error!.message.startsWith('z: '), `${r.name}: ${r.error!.message}`);
        assert.match(r.error!.message.slice('z: '.length), want, r.name);
        assert.equal(r.runs, 0, `${r.name}: bad input reached onnxruntime-web`);
      }
    }
  });

  test('encode: NaN, infinite or out-of-range pixels are a VaeError "input" naming the pixel, never a run', async () => {
    const { page, context } = await fx.harness();
    const results = await page.evaluate(async (origin) => {
      const lib = (window as unknown as { vaeLib: Lib }).vaeLib;
      const vae = await lib.loadVae(`${origin}/models/mnist-n2-beta1/`, { device: 'wasm', wasmPaths: `${origin}/ort/` });
      let runs = 0;
      const proto = (lib.ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => unknown } }).prototype;
      const realRun = proto.run;
      proto.run = function (this: unknown, ...args: unknown[]) { runs++; return realRun.apply(this, args); };
      const image = (at: number, v: number) => { const x = new Float32Array(2 * 784).fill(0.5); x[at] = v; return x; };
      const out: { value: string; message?: string; code?: string; runs: number }[] = [];
      for (const [value, x] of [['NaN', image(784 + 3, NaN)], ['Infinity', image(5, Infinity)], ['255', image(10, 255)], ['-0.1', image(0, -0.1)], ['valid', image(0, 1)]] as const) {
        const before = runs;
        try {
          await vae.encode(x);
          out.push({ value, runs: runs - before });
        } catch (e) {
          const err = e as { code?: string; message?: string };
          out.push({ value, message: String(err.message), code: err.code, runs: runs - before });
        }
      }
      proto.run = realRun;
      await vae.dispose();
      return out;
    }, fx.origin);
    await context.close();
    const expected: Record<string, RegExp | null> = {
      NaN: /^images: image 1, pixel 3 is NaN: pixels must be finite numbers in \[0, 1\]$/,
      Infinity: /^images: image 0, pixel 5 is Infinity: pixels must be finite/,
      255: /^images: image 0, pixel 10 is 255, outside \[0, 1\] \(the model takes pixel \/ 255\)$/,
      '-0.1': /^images: image 0, pixel 0 is -0\.1/,
      valid: null,
    };
    assert.deepEqual(results.map((r) => r.value), ['NaN', 'Infinity', '255', '-0.1', 'valid']); // not Object.keys: '255' would sort first
    for (const r of results) {
      const want = expected[r.value];
      if (want === null) { assert.equal(r.message, undefined, r.message); assert.equal(r.runs, 1); continue; }
      assert.match(r.message ?? '(encoded)', want, r.value);
      assert.equal(r.code, 'input', r.value);
      assert.equal(r.runs, 0, `${r.value}: bad pixels reached onnxruntime-web`);
    }
  });
});
