/**
 * Latent vectors handed to a decoder, checked the same way in every runtime (runtime-node's
 * `Vae.decode`, runtime-web's `decode`): the shape fits the model, every value is a finite
 * number that float32 can hold. Browser-safe. Each runtime passes its own error type.
 */

/** Latent vectors: a flat array (N * n values, any numeric typed array or number[]) or one row per vector. */
export type LatentInput = Float32Array | ArrayLike<number> | ArrayLike<ArrayLike<number>>;

function describeValue(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (v === undefined) return 'missing';
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v; // bigint, symbol, function
}

/** An array's length if `v` is array-like (a non-negative integer length), else undefined. */
function lengthOf(v: unknown): number | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const length = (v as { length?: unknown }).length;
  return typeof length === 'number' && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** Why `v` cannot be a latent value (finite and within float32), or undefined if it can. */
function badValue(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `is ${describeValue(v)}: latent values must be finite numbers`;
  // The graph takes float32: a larger double would reach it as Infinity.
  if (!Number.isFinite(Math.fround(v))) return `is ${v}, beyond float32's range (about ±3.4e38)`;
  return undefined;
}

/**
 * N latent vectors of size `latentSize` as one Float32Array [N * n] (a Float32Array input is
 * returned as is). Throws `toError(message)` for anything else, the message starting with
 * `label`: not an array, a wrong size, an empty batch (decoding nothing is almost always a
 * bug upstream, and `sample(0)` is an error too), a value that is not a finite number.
 */
export function parseLatents(value: unknown, latentSize: number, label: string, toError: (message: string) => Error): { data: Float32Array; count: number } {
  const fail = (message: string) => toError(`${label}: ${message}`);
  const length = lengthOf(value);
  if (length === undefined) throw fail(`expected latent vectors (an array of numbers, or one array per vector), got ${value === undefined ? 'undefined' : describeValue(value)}`);
  if (length === 0) throw fail(`no latent vectors (the model's latent size is ${latentSize})`);
  const list = value as ArrayLike<unknown>;
  const rows = !ArrayBuffer.isView(value) && list[0] !== null && typeof list[0] === 'object';
  const total = rows ? length * latentSize : length;
  if (!rows && total % latentSize !== 0) {
    throw fail(total < latentSize
      ? `${total} value${total === 1 ? '' : 's'}, but the model's latent size is ${latentSize}`
      : `${total} values are not a whole number of latent vectors of the model's latent size ${latentSize}`);
  }
  let data: Float32Array;
  try {
    data = value instanceof Float32Array ? value : new Float32Array(total);
  } catch {
    throw fail(`${total} values are too many to hold in memory`);
  }
  if (rows) {
    for (let r = 0; r < length; r++) {
      const row = list[r];
      const width = lengthOf(row);
      if (width === undefined) throw fail(`vector ${r} is ${describeValue(row)}, not an array of numbers`);
      if (width !== latentSize) throw fail(`vector ${r} has ${width} value${width === 1 ? '' : 's'}, but the model's latent size is ${latentSize}`);
      for (let k = 0; k < latentSize; k++) {
        const v = (row as ArrayLike<unknown>)[k];
        const bad = badValue(v);
        if (bad) throw fail(`vector ${r}, value ${k} ${bad}`);
        data[r * latentSize + k] = v as number;
      }
    }
  } else {
    for (let i = 0; i < total; i++) {
      const v = list[i];
      const bad = badValue(v);
      if (bad) throw fail(`vector ${Math.floor(i / latentSize)}, value ${i % latentSize} ${bad}`);
      if (data !== value) data[i] = v as number;
    }
  }
  return { data, count: total / latentSize };
}
