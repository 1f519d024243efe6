/**
 * The golden data of the released models, replayed through the library on real
 * onnxruntime-node (CPU): within the node-cpu tolerances of @vae/models (decode 1e-5, encode
 * 1e-4), the fp16 / int8 decoders within their manifest tolerance; and batching (any size,
 * split into chunks) changes nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toleranceFor } from '@vae/models';
import { readTestDataSets } from '@vae/models/onnx';
import { loadVae, type Precision, type Vae } from '../src/index.js';
import { N2, N64, maxAbsDiff } from './helpers.js';

const X_HAT = toleranceFor('node-cpu', 'fp32', 'x_hat');
const MU = toleranceFor('node-cpu', 'fp32', 'mu');
const LOGVAR = toleranceFor('node-cpu', 'fp32', 'logvar');

for (const dir of [N64, N2]) {
  describe(`golden data: ${dir.split('/').pop()}`, () => {
    let vae: Vae;
    before(async () => { vae = await loadVae(dir, { device: 'cpu' }); });
    after(async () => { await vae.dispose(); });

    it('the tolerances are the contract\'s CPU row', () => {
      assert.deepEqual([X_HAT, MU, LOGVAR], [1e-5, 1e-4, 1e-4]);
    });

    it(`decode reproduces every decoder set within ${X_HAT}`, async () => {
      const sets = await readTestDataSets(join(dir, 'decoder'));
      assert.ok(sets.length >= 3);
      for (const set of sets) {
        const z = set.inputs[0].data as Float32Array;
        const out = await vae.decode(z);
        assert.equal(out.count, set.inputs[0].dims[0]);
        const err = maxAbsDiff(out.pixels, set.outputs[0].data as Float32Array);
        assert.ok(err <= X_HAT, `${set.dir}: max |x_hat - golden| = ${err}`);
      }
    });

    it(`encode reproduces every encoder set within ${MU} (mu and logvar)`, async () => {
      const sets = await readTestDataSets(join(dir, 'encoder'));
      assert.ok(sets.length >= 3);
      for (const set of sets) {
        const { mu, logvar, count, latentSize } = await vae.encode(set.inputs[0].data as Float32Array);
        assert.equal(count, set.inputs[0].dims[0]);
        assert.equal(latentSize, vae.manifest.model.latentSize);
        assert.ok(maxAbsDiff(mu, set.outputs[0].data as Float32Array) <= MU, `${set.dir}: mu`);
        assert.ok(maxAbsDiff(logvar, set.outputs[1].data as Float32Array) <= LOGVAR, `${set.dir}: logvar`);
      }
    });

    for (const precision of ['fp16', 'int8'] as Precision[]) {
      it(`the ${precision} decoder matches the golden outputs within its manifest tolerance`, async () => {
        const v = await loadVae(dir, { device: 'cpu', precision });
        try {
          assert.equal(v.precision, precision);
          const graph = v.manifest.graphs[`decoder.${precision}`];
          const tolerance = graph.parity.tolerance.x_hat;
          assert.equal(tolerance, toleranceFor('node-cpu', precision, 'x_hat'), 'the manifest records the contract\'s tolerance');
          for (const set of await readTestDataSets(join(dir, 'decoder'))) {
            const out = await v.decode(set.inputs[0].data as Float32Array);
            const err = maxAbsDiff(out.pixels, set.outputs[0].data as Float32Array);
            assert.ok(err <= tolerance, `${precision} ${set.dir}: ${err} > ${tolerance}`);
          }
        } finally {
          await v.dispose();
        }
      });
    }
  });
}

describe('batches of any size', () => {
  it('split into chunks (maxBatch 3) gives the same numbers as one run', async () => {
    const whole = await loadVae(N64, { device: 'cpu' });
    const chunked = await loadVae(N64, { device: 'cpu', maxBatch: 3 });
    const big1024 = await loadVae(N64, { device: 'cpu', maxBatch: 1024 });
    try {
      const [set] = await readTestDataSets(join(N64, 'encoder'));
      const x = set.inputs[0].data as Float32Array; // 16 images: chunks of 3,3,3,3,3,1
      const a = await whole.encode(x), b = await chunked.encode(x);
      assert.deepEqual(b.mu, a.mu);
      assert.deepEqual(b.logvar, a.logvar);
      const da = await whole.decode(a.mu), db = await chunked.decode(a.mu);
      assert.deepEqual(db.pixels, da.pixels);
      // A batch larger than the chunk size: row i of a big batch equals decoding row i alone.
      const big = new Float32Array(5000 * 64);
      for (let i = 0; i < big.length; i++) big[i] = Math.sin(i * 0.37) * 2;
      const out = await big1024.decode(big);
      assert.deepEqual(out.pixels, (await whole.decode(big)).pixels);
      assert.equal(out.count, 5000);
      for (const row of [0, 1023, 1024, 4095, 4096, 4999]) {
        const one = await big1024.decode(big.subarray(row * 64, (row + 1) * 64));
        assert.ok(maxAbsDiff(out.pixels.subarray(row * 784, (row + 1) * 784), one.pixels) <= 1e-6, `row ${row}`);
      }
    } finally {
      await whole.dispose();
      await chunked.dispose();
      await big1024.dispose();
    }
  });

  it('decode(z, { into }) writes the same images into the caller\'s array, in one run or in chunks', async () => {
    const whole = await loadVae(N64, { device: 'cpu' });
    const chunked = await loadVae(N64, { device: 'cpu', maxBatch: 7 });
    try {
      const z = new Float32Array(20 * 64);
      for (let i = 0; i < z.length; i++) z[i] = Math.cos(i * 0.21) * 1.5;
      const expected = (await whole.decode(z)).pixels;
      for (const vae of [whole, chunked]) {
        const into = new Float32Array(20 * 784).fill(-1);
        const out = await vae.decode(z, { into });
        assert.equal(out.pixels, into, 'pixels is the array passed');
        assert.deepEqual(into, expected);
        // Reused: a second call overwrites it with the new batch's images.
        await vae.decode(z.map((v) => -v), { into });
        assert.deepEqual(into, (await whole.decode(z.map((v) => -v))).pixels);
      }
      await assert.rejects(whole.decode(z, { into: new Float32Array(19 * 784) }), /into: expected a Float32Array of 20 x 784 = 15680 values for 20 images, got a Float32Array of 14896/);
      await assert.rejects(whole.decode(z, { into: new Float64Array(20 * 784) as unknown as Float32Array }), /into: .*got a Float64Array/);
    } finally {
      await whole.dispose();
      await chunked.dispose();
    }
  });
});
