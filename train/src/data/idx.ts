// Reader for IDX files, the format MNIST and Fashion-MNIST ship in.
//
// Layout (all integers big-endian):
//   byte 0-1  always 0
//   byte 2    data type code (0x08 = unsigned byte; the only one MNIST uses)
//   byte 3    number of dimensions
//   then one int32 per dimension, then the raw data in row-major order.
//
// Bytes 0-3 read as one int32 are called the "magic": 0x00000803 is a uint8 file with
// 3 dims (images), 0x00000801 a uint8 file with 1 dim (labels).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** Every problem with a data file is reported as a DataError naming the file, what was expected and what was found. */
export class DataError extends Error {
  override name = 'DataError';
}

export interface IdxArray {
  dtype: 'uint8';
  dims: number[];
  /** The data section: a view into the bytes that were parsed, not a copy. */
  data: Uint8Array;
}

/** What readIdxFile returns: the parsed array plus where it came from and its checksum. */
export interface IdxFile extends IdxArray {
  path: string;
  /** SHA-256 (hex) of the decompressed file, header included. */
  sha256: string;
}

const IDX_UINT8 = 0x08;
// 1..4 covers every IDX file in the wild (labels, images, colour images); the cap also
// bounds how much header we read before any size checks.
const MAX_DIMS = 4;
// The largest file we agree to decompress. MNIST's biggest file is 47 MB; this stops a
// corrupt or hostile .gz from inflating without bound.
const MAX_DECOMPRESSED_BYTES = 1024 * 1024 * 1024;

// Type codes from the IDX spec, only used to make "unsupported type" errors readable.
const TYPE_NAMES: Record<number, string> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex32(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

function hex8(value: number): string {
  return '0x' + value.toString(16).padStart(2, '0');
}

/** "0x00000803 (IDX uint8, 3 dims)": a magic number with what it means. */
export function describeMagic(magic: number): string {
  const type = (magic >>> 8) & 0xff;
  const ndims = magic & 0xff;
  if (magic >>> 16 !== 0) return `${hex32(magic)} (not an IDX file)`;
  const typeName = TYPE_NAMES[type] ?? `unknown type ${hex8(type)}`;
  return `${hex32(magic)} (IDX ${typeName}, ${ndims} dim${ndims === 1 ? '' : 's'})`;
}

/**
 * Parses IDX bytes. `source` (usually the file path) starts every error message.
 * With `expectMagic`, the first four bytes must equal it exactly (e.g. 0x803 for images).
 *
 * Sizes in the header are never trusted for allocation: the product of the dims is
 * compared to the bytes actually present, and the result is a view into `bytes`.
 * A dimension of 0 is rejected: no MNIST-family file has one, so it signals corruption,
 * and an empty dataset would only fail later in a less obvious way.
 */
export function parseIdx(bytes: Uint8Array, source: string, options: { expectMagic?: number } = {}): IdxArray {
  if (bytes.length < 4) {
    throw new DataError(`${source}: too short for an IDX header: expected at least 4 bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);

  // Check the expected magic first: when a file is swapped for another (labels where
  // images should be), "bad magic" says so more directly than the generic checks.
  const { expectMagic } = options;
  if (expectMagic !== undefined && magic !== expectMagic) {
    throw new DataError(`${source}: bad magic ${hex32(magic)}: expected ${describeMagic(expectMagic)}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      `${source}: not an IDX file: expected the first two bytes to be 0x00 0x00, found ${hex8(bytes[0])} ${hex8(bytes[1])}`,
    );
  }
  const type = bytes[2];
  if (type !== IDX_UINT8) {
    const name = TYPE_NAMES[type] ? ` (${TYPE_NAMES[type]})` : '';
    throw new DataError(`${source}: unsupported IDX data type ${hex8(type)}${name}: expected ${hex8(IDX_UINT8)} (uint8)`);
  }
  const ndims = bytes[3];
  if (ndims < 1 || ndims > MAX_DIMS) {
    throw new DataError(`${source}: unsupported number of dimensions: expected 1 to ${MAX_DIMS}, found ${ndims}`);
  }
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new DataError(
      `${source}: header truncated: expected ${headerLength} header bytes for ${ndims} dims, found ${bytes.length}`,
    );
  }

  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const size = view.getInt32(4 + 4 * i);
    if (size <= 0) {
      throw new DataError(`${source}: dimension ${i} is ${size}: expected a positive size`);
    }
    dims.push(size);
  }

  // A plain number product: with at most four int32 factors it can be inexact above
  // 2^53, but then it is far larger than any real byte count, which is all we need.
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLength;
  if (found !== expected) {
    const shape = dims.join('x');
    const problem = found < expected ? 'truncated data' : 'trailing bytes after data';
    const extra = found > expected ? ` (${found - expected} extra)` : '';
    throw new DataError(`${source}: ${problem}: expected ${expected} bytes of data for ${shape}, found ${found}${extra}`);
  }

  return { dtype: 'uint8', dims, data: bytes.subarray(headerLength) };
}

export interface ReadIdxOptions {
  /** SHA-256 (hex) the decompressed file must have. */
  sha256?: string;
  /** Exact magic the file must start with, e.g. 0x803 for an image file. */
  expectMagic?: number;
  /** Dataset name for the checksum error hint, e.g. "MNIST". */
  canonicalName?: string;
}

/**
 * Reads an IDX file, gunzipping it first when it starts with the gzip magic (whatever
 * its name), then checks its structure and, if asked, the SHA-256 of the decompressed
 * bytes. The checksum is checked after the structure so that a damaged file gets the
 * more specific message (truncated, bad magic) rather than just "checksum mismatch".
 */
export async function readIdxFile(path: string, options: ReadIdxOptions = {}): Promise<IdxFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DataError(`${path}: file not found: expected an IDX file at this path, found nothing`);
    }
    throw new DataError(`${path}: cannot read file: expected a readable IDX file, found ${describeError(error)}`);
  }

  if (isGzip(bytes)) bytes = await gunzipBytes(bytes, path);

  const array = parseIdx(bytes, path, { expectMagic: options.expectMagic });
  const sha256 = sha256Hex(bytes);
  if (options.sha256 !== undefined && sha256 !== options.sha256.toLowerCase()) {
    const what = options.canonicalName ? `the canonical ${options.canonicalName} file` : 'the expected file';
    throw new DataError(
      `${path}: checksum mismatch: expected sha256 ${options.sha256}, found ${sha256} (the file is corrupt or not ${what})`,
    );
  }
  return { ...array, path, sha256 };
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips, turning zlib's errors into DataErrors that name `source`. */
export async function gunzipBytes(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  try {
    return await gunzipAsync(bytes, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(
        `${source}: decompressed data too large: expected at most ${MAX_DECOMPRESSED_BYTES} bytes, found more`,
      );
    }
    throw new DataError(`${source}: corrupt gzip data: expected a valid gzip stream, found ${describeError(error)}`);
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A short description of a thrown value, including the `cause` that fetch puts its real reason in. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  let text = code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  if (error.cause !== undefined) text += `: ${describeError(error.cause)}`;
  return text;
}
