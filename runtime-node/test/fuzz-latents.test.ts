/**
 * Seeded fuzzing of latent input through `vae.decode` on both released models: flat arrays of
 * every numeric typed-array kind, number[] and array-likes, one row per vector, with wrong
 * lengths and widths, NaN, ±Infinity, doubles beyond float32, strings, null, objects, BigInts
 * and empty batches. The generator knows which cases are valid as it builds them. A valid
 * case decodes (values in [0, 1]) and onnxruntime receives exactly its float32 values; every
 * other case is a VaeError 'input' whose message starts with "z: ", and onnxruntime is never called.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { IMAGE_PIXELS, VaeError, loadVae, mulberry32, type Vae } from '../src/index.js';
import { N2, N64 } from './helpers.js';

interface Case { name: string; value: unknown; expected?: number[] }

/** Values that are not a finite float32: each makes its case invalid. */
const SPECIALS: [string, unknown][] = [
  ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['1e39 (beyond float32)', 1e39], ['-1e300', -1e300],
  ['the string "0.5"', '0.5'], ['null', null], ['undefined', undefined], ['true', true], ['{}', {}], ['[]', []], ['1n', 1n],
];
/** Inputs that are not latent vectors at all. */
const GARBAGE: [string, unknown][] = [
  ['null', null], ['undefined', undefined], ['0', 0], ['3.5', 3.5], ['"abc"', 'abc'], ['"0.1,0.2"', '0.1,0.2'], ['true', true],
  ['{}', {}], ['{ length: -1 }', { length: -1 }], ['{ length: 1.5 }', { length: 1.5 }], ['{ length: "2" }', { length: '2' }],
  ['a Symbol', Symbol('z')], ['a function', () => [0, 0]], ['a Map', new Map([[0, 1]])], ['a Date', new Date(0)],
  ['an ArrayBuffer', new ArrayBuffer(8)],
];

type Flat = 'number[]' | 'Float32Array' | 'Float64Array' | 'Int32Array' | 'Int8Array' | 'Uint8Array' | 'BigInt64Array' | 'array-like';
const FLAT: Flat[] = ['number[]', 'Float32Array', 'Float64Array', 'Int32Array', 'Int8Array', 'Uint8Array', 'BigInt64Array', 'array-like'];

/** `count` seeded cases for a model of latent size n. */
function latentCases(n: number, count: number, seed: number): Case[] {
  const random = mulberry32(seed);
  const int = (k: number) => Math.floor(random() * k);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const gauss = () => Math.round((random() * 6 - 3) * 1000) / 1000;

  /** A container of kind `kind` holding `values` (numbers, or anything for number[] / array-like). */
  const make = (kind: Flat, values: unknown[]): unknown => {
    switch (kind) {
      case 'number[]': return values;
      case 'array-like': return Object.assign({ length: values.length }, values);
      case 'BigInt64Array': return BigInt64Array.from(values as number[], (v) => BigInt(Math.trunc(v)));
      case 'Float32Array': return Float32Array.from(values as number[]);
      case 'Float64Array': return Float64Array.from(values as number[]);
      case 'Int32Array': return Int32Array.from(values as number[]);
      case 'Int8Array': return Int8Array.from(values as number[]);
      case 'Uint8Array': return Uint8Array.from(values as number[]);
    }
  };
  /** What the container really holds after its own conversion (typed arrays round and wrap). */
  const stored = (kind: Flat, values: number[]): number[] => {
    const c = make(kind, values);
    return kind === 'number[]' || kind === 'array-like' ? values : Array.from(c as ArrayLike<number>, Number);
  };

  const cases: Case[] = [];
  while (cases.length < count) {
    const shape = int(10);
    if (shape < 4) {
      // Flat: 0-3 vectors, sometimes a length that is not a multiple of n, sometimes one bad value.
      const kind = pick(FLAT);
      const vectors = int(4);
      const off = random() < 0.25 ? pick([-1, 1, n + 1]) : 0;
      const length = Math.max(0, vectors * n + off);
      const values: number[] = Array.from({ length }, gauss);
      const items: unknown[] = [...values];
      let special: [string, unknown] | undefined;
      // Typed arrays coerce what they are given; only float arrays can hold NaN / Infinity / big values.
      const canHold = kind === 'number[]' || kind === 'array-like' ? SPECIALS : kind === 'Float64Array' ? SPECIALS.slice(0, 5) : kind === 'Float32Array' ? SPECIALS.slice(0, 4) : [];
      if (length > 0 && canHold.length && random() < 0.4) {
        special = pick(canHold);
        items[int(length)] = special[1];
      }
      const value = make(kind, special && typeof special[1] !== 'number' ? items : items as number[]);
      const valid = length > 0 && off === 0 && !special && kind !== 'BigInt64Array';
      cases.push({ name: `${kind} of ${length} values${special ? ` with ${special[0]}` : ''}`, value, expected: valid ? stored(kind, values) : undefined });
    } else if (shape < 8) {
      // Rows: 1-3 vectors (number[] or typed arrays), sometimes a wrong width, a bad value or a row that is not an array.
      const rows = 1 + int(3);
      const out: unknown[] = [];
      const expected: number[] = [];
      const faults: string[] = [];
      for (let r = 0; r < rows; r++) {
        const kind = pick(['number[]', 'Float32Array', 'Float64Array', 'Int32Array'] as const);
        const width = random() < 0.2 ? pick([0, 1, n - 1, n + 1].filter((w) => w !== n && w >= 0)) : n;
        const values = Array.from({ length: width }, gauss);
        if (width !== n) faults.push(`row ${r} of width ${width}`);
        if (r > 0 && random() < 0.08) {
          const [what, v] = pick(GARBAGE.filter(([, g]) => g !== null && typeof g !== 'object' && typeof g !== 'function'));
          out.push(v);
          faults.push(`row ${r} is ${what}`);
          continue;
        }
        const items: unknown[] = [...values];
        if (kind === 'number[]' && width > 0 && random() < 0.3) {
          const [what, v] = pick(SPECIALS);
          items[int(width)] = v;
          faults.push(`${what} in row ${r}`);
        }
        out.push(kind === 'number[]' ? items : make(kind, values));
        expected.push(...stored(kind, values));
      }
      cases.push({ name: `${rows} rows${faults.length ? ` (${faults.join(', ')})` : ''}`, value: out, expected: faults.length ? undefined : expected });
    } else if (shape < 9) {
      const [what, v] = pick(GARBAGE);
      cases.push({ name: what, value: v });
    } else {
      cases.push(pick([{ name: 'empty number[]', value: [] }, { name: 'empty Float32Array', value: new Float32Array(0) }, { name: 'empty Float64Array', value: new Float64Array(0) }, { name: 'rows: [[]]', value: [[]] }]));
    }
  }
  return cases;
}

describe('latent input fuzzing through vae.decode (seeded)', { timeout: 120_000 }, () => {
  const models: [string, string][] = [['mnist-n2-beta1', N2], ['mnist-n64-beta1', N64]];
  const vaes = new Map<string, Vae>();
  // Every session.run of onnxruntime-node, observed (not replaced): the z it was given.
  const runs: Float32Array[] = [];
  type Run = (feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
  // InferenceSession is typed as a factory; at run time it is the class every session is made from.
  const proto = (ort.InferenceSession as unknown as { prototype: { run: Run } }).prototype;
  const realRun = proto.run;
  before(async () => {
    proto.run = function (this: ort.InferenceSession, feeds, ...rest) {
      if (feeds.z) runs.push(Float32Array.from(feeds.z.data as Float32Array));
      return realRun.call(this, feeds, ...rest);
    };
    for (const [name, dir] of models) vaes.set(name, await loadVae(dir, { device: 'cpu' }));
  });
  after(async () => {
    proto.run = realRun;
    for (const vae of vaes.values()) await vae.dispose();
  });

  for (const [name] of models) {
    it(`${name}: 200 cases, each decoded exactly or refused before onnxruntime`, async (t) => {
      const vae = vaes.get(name)!;
      const n = vae.latentSize;
      const cases = latentCases(n, 200, n === 2 ? 1 : 2);
      const tally = { decoded: 0, refused: 0 };
      for (const c of cases) {
        runs.length = 0;
        if (c.expected) {
          const out = await vae.decode(c.value as Float32Array).catch((err: Error) => assert.fail(`${c.name}: expected a decode, got ${err.stack}`));
          assert.equal(out.count, c.expected.length / n, c.name);
          assert.equal(out.pixels.length, out.count * IMAGE_PIXELS, c.name);
          for (const v of out.pixels) if (!(v >= 0 && v <= 1)) assert.fail(`${c.name}: output ${v} outside [0, 1]`);
          assert.deepEqual(runs.length, 1, c.name);
          assert.deepEqual(Array.from(runs[0]), c.expected.map(Math.fround), `${c.name}: onnxruntime got other values`);
          tally.decoded++;
        } else {
          await assert.rejects(vae.decode(c.value as Float32Array), (err: Error) => {
            assert.ok(err instanceof VaeError && err.code === 'input', `${c.name}: expected a VaeError 'input', got ${err.stack}`);
            assert.match(err.message, /^z: \S/, c.name);
            return true;
          }, c.name);
          assert.equal(runs.length, 0, `${c.name}: bad input reached onnxruntime`);
          tally.refused++;
        }
      }
      assert.ok(tally.decoded >= 20 && tally.refused >= 20, JSON.stringify(tally));
      t.diagnostic(`${cases.length} cases: ${tally.decoded} decoded, ${tally.refused} refused with a VaeError 'input'`);
    });
  }

  it('the messages name the problem', async () => {
    const vae = vaes.get('mnist-n2-beta1')!;
    const table: [unknown, RegExp][] = [
      [[], /^z: no latent vectors \(the model's latent size is 2\)$/],
      [new Float64Array(0), /^z: no latent vectors/],
      [[0.1, 0.2, 0.3], /^z: 3 values are not a whole number of latent vectors of the model's latent size 2$/],
      [[[0.1, 0.2], [0.3]], /^z: vector 1 has 1 value, but the model's latent size is 2$/],
      [Float64Array.of(0, 1e39), /^z: vector 0, value 1 is 1e\+39, beyond float32's range/],
      [[0, NaN], /^z: vector 0, value 1 is NaN: latent values must be finite numbers$/],
      [[[0, 1], [-Infinity, 0]], /^z: vector 1, value 0 is -Infinity: latent values must be finite numbers$/],
      [['0.5', 0], /^z: vector 0, value 0 is string "0.5": latent values must be finite numbers$/],
      [BigInt64Array.of(1n, 2n), /^z: vector 0, value 0 is bigint: latent values must be finite numbers$/],
      [[[0, 1], 'ab'], /^z: vector 1 is string "ab", not an array of numbers$/],
      ['0.1,0.2', /^z: expected latent vectors \(an array of numbers, or one array per vector\), got string "0\.1,0\.2"$/],
      [{ length: -1 }, /^z: expected latent vectors .*, got an object$/],
      [null, /^z: expected latent vectors .*, got null$/],
    ];
    for (const [value, message] of table) {
      await assert.rejects(vae.decode(value as Float32Array), (err: Error) => err instanceof VaeError && err.code === 'input' && message.test(err.message));
    }
  });
});
