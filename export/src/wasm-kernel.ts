/**
 * The standalone decoder's WebAssembly SIMD kernel, assembled here byte by byte (no toolchain):
 * one exported function and its memory, a few hundred bytes, embedded in decoder.mjs as base64.
 *
 *   gemm(x, w, c, y, rows, K, Np)    y[rows, Np] = x[rows, K] . W[K, Np] + c[Np]   (float32, f32x4)
 *
 * Layouts (byte addresses in the exported memory `mem`, prepared by the runtime):
 *   W  column panels of 8: panel p holds W[k][8p .. 8p+7] for k = 0..K-1 (32 bytes per k), Np = N
 *      rounded up to 8 with zero columns, so the inner loop reads W strictly sequentially;
 *   c  Np values (zeros where the graph has no C);
 *   x  rows in blocks of 4, each block interleaved k-major (x[r][k], x[r+1][k], x[r+2][k], x[r+3][k]),
 *      then the remaining rows (< 4) row-major: block or row r starts at x + 4 r K either way;
 *   y  row-major with row stride Np.
 * Register blocking: 4 rows x 8 columns = 8 f32x4 accumulators per k step (1 row x 8 for the tail).
 * A k whose inputs in the block are all zero (after Relu) is skipped.
 * Arithmetic: f32x4.mul then f32x4.add, i.e. float32 with a rounding after each, summed over k in order.
 */

import { I32, MAGIC_AND_VERSION, V128, get, i32, name, section, set, simd, uleb, whileNot } from '@vae/models/wasm';

// Locals: params 0..6, then i32 7..14, v128 15..25.
const X = 0, W = 1, C = 2, Y = 3, ROWS = 4, K = 5, NP = 6;
const R = 7, JB = 8, KK = 9, WP = 10, XP = 11, YP = 12, NP4 = 13, NB = 14;
const ACC = 15, W0 = 23, W1 = 24, A = 25;

const ADD = 0x6a, MUL = 0x6c, SHL = 0x74, SHR_U = 0x76, GT_U = 0x4b, GE_U = 0x4f, EQZ = 0x45;
const v128Load = (offset: number) => [...simd(0x00), 4, ...uleb(offset)];
const v128Store = (offset: number) => [...simd(0x0b), 4, ...uleb(offset)];
const f32Load = (offset: number) => [0x2a, 2, ...uleb(offset)];
const V128_ANY_TRUE = 0x53, F32_NE = 0x5c;
const F32X4_SPLAT = 0x13, F32X4_ADD = 0xe4, F32X4_MUL = 0xe6;
const addTo = (local: number, value: number[]) => [...get(local), ...value, ADD, ...set(local)];

/** The column-panel loop for a block of `rows` (4 or 1) batch rows starting at row R. */
function panels(rows: 4 | 1): number[] {
  const acc = (i: number, h: number) => ACC + 2 * i + h;
  const body: number[] = [];
  // acc = c[8 jb .. 8 jb + 7] for every row
  body.push(...get(C), ...get(JB), ...i32(5), SHL, ADD, ...set(YP)); // YP used as a temporary for &c[8 jb]
  for (let i = 0; i < rows; i++) for (let h = 0; h < 2; h++) body.push(...get(YP), ...v128Load(16 * h), ...set(acc(i, h)));
  // wp = w + jb * K * 32; xp = x + r * K * 4; k = K
  body.push(...get(W), ...get(JB), ...get(K), MUL, ...i32(5), SHL, ADD, ...set(WP));
  body.push(...get(X), ...get(R), ...get(K), MUL, ...i32(2), SHL, ADD, ...set(XP));
  body.push(...get(K), ...set(KK));
  const mac: number[] = [];
  mac.push(...get(WP), ...v128Load(0), ...set(W0), ...get(WP), ...v128Load(16), ...set(W1));
  for (let i = 0; i < rows; i++) {
    mac.push(...get(XP), ...f32Load(4 * i), ...simd(F32X4_SPLAT), ...set(A));
    for (let h = 0; h < 2; h++) {
      mac.push(...get(acc(i, h)), ...get(A), ...get(h === 0 ? W0 : W1), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(acc(i, h)));
    }
  }
  // Skip k where the block's inputs are all zero (a Relu before this Gemm zeroes about half).
  const nonZero = rows === 4 ? [...get(XP), ...v128Load(0), ...simd(V128_ANY_TRUE)] : [...get(XP), ...f32Load(0), 0x43, 0, 0, 0, 0, F32_NE];
  const step: number[] = [...nonZero, 0x04, 0x40, ...mac, 0x0b];
  step.push(...addTo(WP, i32(32)), ...addTo(XP, i32(4 * rows)), ...get(KK), ...i32(-1), ADD, ...set(KK));
  body.push(...whileNot([...get(KK), EQZ], step));
  // y + r * Np4 + jb * 32, one row after another
  body.push(...get(Y), ...get(R), ...get(NP4), MUL, ADD, ...get(JB), ...i32(5), SHL, ADD, ...set(YP));
  for (let i = 0; i < rows; i++) {
    body.push(...get(YP), ...get(acc(i, 0)), ...v128Store(0), ...get(YP), ...get(acc(i, 1)), ...v128Store(16));
    if (i < rows - 1) body.push(...addTo(YP, get(NP4)));
  }
  body.push(...addTo(JB, i32(1)));
  return [...i32(0), ...set(JB), ...whileNot([...get(JB), ...get(NB), GE_U], body)];
}

/** The kernel module's bytes. */
export function wasmKernelBytes(): Uint8Array {
  const code: number[] = [];
  code.push(...get(NP), ...i32(2), SHL, ...set(NP4), ...get(NP), ...i32(3), SHR_U, ...set(NB), ...i32(0), ...set(R));
  // blocks of 4 rows while r + 4 <= rows
  code.push(...whileNot([...get(R), ...i32(4), ADD, ...get(ROWS), GT_U], [...panels(4), ...addTo(R, i32(4))]));
  // the remaining rows one by one
  code.push(...whileNot([...get(R), ...get(ROWS), GE_U], [...panels(1), ...addTo(R, i32(1))]));
  code.push(0x0b);
  const locals = [2, ...uleb(8), I32, ...uleb(11), V128];
  const body = [...locals, ...code];
  const bytes = [
    ...MAGIC_AND_VERSION,
    ...section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [2, ...name('gemm'), 0x00, 0, ...name('mem'), 0x02, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ];
  return Uint8Array.from(bytes);
}

/** The kernel as base64 (for the generated module). */
export function wasmKernelBase64(): string {
  return Buffer.from(wasmKernelBytes()).toString('base64');
}
