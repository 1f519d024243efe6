import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPixels } from '../src/pixels-check.js';

const toError = (m: string) => new RangeError(m);

test('checkPixels accepts [0, 1] and names the first bad pixel otherwise', () => {
  checkPixels(Float32Array.of(0, 0.5, 1, 1, 0, 0), 3, 'x', toError);
  const cases: [number[], RegExp][] = [
    [[0, 0, 0, 0, NaN, 0], /^x: image 1, pixel 1 is NaN: pixels must be finite numbers in \[0, 1\]$/],
    [[0, -Infinity, 0], /^x: image 0, pixel 1 is -Infinity: pixels must be finite/],
    [[0, 0, 1.0001], /^x: image 0, pixel 2 is 1\.0001, outside \[0, 1\] \(the model takes pixel \/ 255\)$/],
    [[128, 0, 0], /^x: image 0, pixel 0 is 128, outside/],
  ];
  for (const [values, message] of cases) assert.throws(() => checkPixels(values, 3, 'x', toError), (e: Error) => e instanceof RangeError && message.test(e.message));
});
