import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absDiff, compareArrays, concat, minimumTolerance, to8bit } from '../src/metrics.js';
import { diffs } from '../src/stats.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${msg ?? ''} ${a} != ${b}`);

test('compareArrays: hand-computed max / mean / relative L2 / min atol and rtol', () => {
  // diffs: 0.1, 0, 0.3, 0.2 against expected 1, 2, 3, 4
  const m = compareArrays([1.1, 2, 2.7, 4.2], [1, 2, 3, 4]);
  close(m.maxAbs, 0.3);
  assert.equal(m.argMaxAbs, 2);
  close(m.meanAbs, (0.1 + 0 + 0.3 + 0.2) / 4);
  // ||d|| = sqrt(0.01 + 0.09 + 0.04) = sqrt(0.14); ||e|| = sqrt(1 + 4 + 9 + 16) = sqrt(30)
  close(m.relL2, Math.sqrt(0.14) / Math.sqrt(30));
  // rel diffs 0.1, 0, 0.1, 0.05
  close(m.maxRel, 0.1);
  assert.deepEqual(minimumTolerance(m), { atol: m.maxAbs, rtol: m.maxRel });
  assert.equal(m.count, 4);
  assert.equal(m.maxAbs8bit, null);
  assert.equal(m.pixelsDiffering8bit, null);
  assert.equal(m.nonFinite, 0);
});

test('compareArrays: 8-bit pixel metrics', () => {
  // round(255 v): 0.5 -> 128 (127.5 rounds up), 0.498 -> 127; 0.2 -> 51 both; 1 -> 255 vs 0.999 -> 255; 0 vs 0.0019 -> 0 vs 0
  const m = compareArrays([0.5, 0.2, 1, 0], [0.498, 0.2, 0.999, 0.0019], { pixels: true });
  close(m.maxAbs, 0.002);
  assert.equal(m.argMaxAbs, 0);
  close(m.maxAbs8bit!, 0.002 * 255);
  assert.equal(m.pixelsDiffering8bit, 1);
  assert.equal(to8bit(0.5), 128);
  assert.equal(to8bit(-0.1), 0);
  assert.equal(to8bit(1.2), 255);
});

test('compareArrays: zeros, identical arrays, division by zero, NaN', () => {
  const same = compareArrays([0, 1, -2], [0, 1, -2], { pixels: true });
  assert.deepEqual([same.maxAbs, same.meanAbs, same.relL2, same.maxRel, same.pixelsDiffering8bit], [0, 0, 0, 0, 0]);
  // 0/0 counts as agreement; d/0 is Infinity (Polygraphy: reldiff = absdiff / |expected|)
  const zeroRef = compareArrays([0, 1e-3], [0, 0]);
  assert.equal(zeroRef.maxRel, Infinity);
  assert.equal(zeroRef.relL2, Infinity);
  close(zeroRef.maxAbs, 1e-3);
  const nan = compareArrays([NaN, 1], [0, 1]);
  assert.equal(nan.maxAbs, Infinity);
  assert.equal(nan.nonFinite, 1);
  assert.equal(compareArrays([], []).count, 0);
  assert.throws(() => compareArrays([1], [1, 2]), /cannot compare 1 values with 2/);
});

test('concat and absDiff', () => {
  assert.deepEqual(Array.from(concat([Float32Array.of(1, 2), Float32Array.of(3)])), [1, 2, 3]);
  assert.deepEqual(Array.from(absDiff([1, 5, NaN], [2, 3, 0])), [1, 2, Infinity]);
});

test('golden metrics and vae verify share one per-element definition: equal infinities agree, NaN never passes', () => {
  const actual = [Infinity, NaN, 1, 0];
  const expected = [Infinity, 0, Infinity, 0];
  const m = compareArrays(actual, expected);
  assert.equal(m.maxAbs, Infinity);
  assert.equal(m.argMaxAbs, 1); // the NaN, not the equal infinities at 0
  assert.deepEqual(Array.from(absDiff(actual, expected)), [0, Infinity, Infinity, 0]);
  const tensor = (data: number[]) => ({ name: 'y', dtype: 'float32' as const, dims: [4], data: Float32Array.from(data) });
  const d = diffs([tensor(actual)], [tensor(expected)]);
  assert.deepEqual(Array.from(d.abs), Array.from(absDiff(actual, expected)));
  assert.deepEqual(Array.from(d.rel), [0, Infinity, Infinity, 0]);
});
