/**
 * The golden data of the released models, replayed through the library on real
 * onnxruntime-node (CPU): decode within 1e-5, encode within 1e-4, the decoder variants
 * within their manifest tolerance; and batching (any size, split into chunks) changes nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTestDataSets } from '@vae/export';
import { Vae, type DecoderVariant } from '../src/index.js';
import { N2, N64, maxAbsDiff } from './helpers.js';

for (const dir of [N64, N2]) {
  describe(`golden data: ${dir.split('/').pop()}`, () => {
    let vae: Vae;
    before(async () => { vae = await Vae.load(dir, { executionProvider: 'cpu' }); });
    after(async () => { await vae.release(); });

    it('decode reproduces every decoder set within 1e-5', async () => {
      const sets = await readTestDataSets(join(dir, 'decoder'));
      assert.ok(sets.length >= 3);
      for (const set of sets) {
        const z = set.inputs[0].data as Float32Array;
        const out = await vae.decode(z);
        assert.equal(out.count, set.inputs[0].dims[0]);
        const err = maxAbsDiff(out.data, set.outputs[0].data as Float32Array);
        assert.ok(err <= 1e-5, `${set.dir}: max |x_hat - golden| = ${err}`);
      }
    });

    it('encode reproduces every encoder set within 1e-4 (mu and logvar)', async () => {
      const sets = await readTestDataSets(join(dir, 'encoder'));
      assert.ok(sets.length >= 3);
      for (const set of sets) {
        const { mu, logvar, count, latentSize } = await vae.encode(set.inputs[0].data as Float32Array);
        assert.equal(count, set.inputs[0].dims[0]);
        assert.equal(latentSize, vae.manifest.model.latentSize);
        assert.ok(maxAbsDiff(mu, set.outputs[0].data as Float32Array) <= 1e-4, `${set.dir}: mu`);
        assert.ok(maxAbsDiff(logvar, set.outputs[1].data as Float32Array) <= 1e-4, `${set.dir}: logvar`);
      }
    });

    for (const variant of ['fp16', 'int8'] as DecoderVariant[]) {
      it(`the ${variant} decoder matches the golden outputs within its manifest tolerance`, async () => {
        const v = await Vae.load(dir, { executionProvider: 'cpu', variant });
        try {
          const graph = v.manifest.graphs[`decoder.${variant}`];
          const tolerance = graph.parity.tolerance.x_hat;
          for (const set of await readTestDataSets(join(dir, 'decoder'))) {
            const out = await v.decode(set.inputs[0].data as Float32Array);
            const err = maxAbsDiff(out.data, set.outputs[0].data as Float32Array);
            assert.ok(err <= tolerance, `${variant} ${set.dir}: ${err} > ${tolerance}`);
          }
        } finally {
          await v.release();
        }
      });
    }
  });
}

describe('batches of any size', () => {
  it('split into chunks (maxBatch 3) gives the same numbers as one run', async () => {
    const whole = await Vae.load(N64, { executionProvider: 'cpu' });
    const chunked = await Vae.load(N64, { executionProvider: 'cpu', maxBatch: 3 });
    const big1024 = await Vae.load(N64, { executionProvider: 'cpu', maxBatch: 1024 });
    try {
      const [set] = await readTestDataSets(join(N64, 'encoder'));
      const x = set.inputs[0].data as Float32Array; // 16 images: chunks of 3,3,3,3,3,1
      const a = await whole.encode(x), b = await chunked.encode(x);
      assert.deepEqual(b.mu, a.mu);
      assert.deepEqual(b.logvar, a.logvar);
      const da = await whole.decode(a.mu), db = await chunked.decode(a.mu);
      assert.deepEqual(db.data, da.data);
      // A batch larger than the chunk size: row i of a big batch equals decoding row i alone.
      const big = new Float32Array(5000 * 64);
      for (let i = 0; i < big.length; i++) big[i] = Math.sin(i * 0.37) * 2;
      const out = await big1024.decode(big);
      assert.deepEqual(out.data, (await whole.decode(big)).data);
      assert.equal(out.count, 5000);
      for (const row of [0, 1023, 1024, 4095, 4096, 4999]) {
        const one = await big1024.decode(big.subarray(row * 64, (row + 1) * 64));
        assert.ok(maxAbsDiff(out.data.subarray(row * 784, (row + 1) * 784), one.data) <= 1e-6, `row ${row}`);
      }
    } finally {
      await whole.release();
      await chunked.release();
      await big1024.release();
    }
  });

  it('decode(z, { into }) writes the same images into the caller\'s array, in one run or in chunks', async () => {
    const whole = await Vae.load(N64, { executionProvider: 'cpu' });
    const chunked = await Vae.load(N64, { executionProvider: 'cpu', maxBatch: 7 });
    try {
      const z = new Float32Array(20 * 64);
      for (let i = 0; i < z.length; i++) z[i] = Math.cos(i * 0.21) * 1.5;
      const expected = (await whole.decode(z)).data;
      for (const vae of [whole, chunked]) {
        const into = new Float32Array(20 * 784).fill(-1);
        const out = await vae.decode(z, { into });
        assert.equal(out.data, into, 'data is the array passed');
        assert.deepEqual(into, expected);
        // Reused: a second call overwrites it with the new batch's images.
        await vae.decode(z.map((v) => -v), { into });
        assert.deepEqual(into, (await whole.decode(z.map((v) => -v))).data);
      }
      await assert.rejects(whole.decode(z, { into: new Float32Array(19 * 784) }), /into: expected a Float32Array of 20 x 784 = 15680 values for 20 images, got a Float32Array of 14896/);
      await assert.rejects(whole.decode(z, { into: new Float64Array(20 * 784) as unknown as Float32Array }), /into: .*got Float64Array/);
    } finally {
      await whole.release();
      await chunked.release();
    }
  });
});
