/**
 * The trainer's matrix product for tfjs-backend-wasm (and the transpose it needs): WebAssembly
 * SIMD kernels that work on the backend's own heap and read the operands where they lie.
 * wasm-kernels.ts registers them in place of tfjs-wasm's.
 *
 * Why: tfjs-wasm multiplies through XNNPACK, which first packs the right-hand operand into
 * panels, and its kernel wants transposed operands copied out first. In training every
 * right-hand operand is new each step (the weights change, the activations are new), so each
 * of a step's 20 products packs, and the weight-sized copies and packs cost the same at 128
 * rows as at 256: each worker of the two-thread trainer paid them in full (train/bench/kernels.ts:
 * half the rows cost 0.59 of the time; 0.53 with these kernels). Here nothing is packed: the
 * left operand is read one float at a time (any strides, so a transposed one is free) and the
 * right one a row of 8 floats at a time, as it lies.
 *
 *   gemm(a, sai, sak, b, ldb, bias, out, M, K, N, relu)
 *     out[i, j] = relu?(bias[j] + sum_k a[i sai + k sak] * b[k ldb + j])   (byte strides)
 *
 * Bit for bit what XNNPACK computes (train/test/wasm-kernels.test.ts checks it): each output
 * starts at its bias (or 0) and adds the products one k after another, a float32 multiply
 * then a float32 add (WebAssembly never fuses them), then clamps at 0 for relu. Register
 * blocking: 4 rows x 8 columns, 8 f32x4 accumulators (rows left over go one at a time).
 * N must be a multiple of 8; the caller falls back to tfjs' kernel otherwise.
 */
import {
  I32, MAGIC_AND_VERSION, V128, get, i32, instantiateKernel, name, section, set, simd, uleb, whileNot, type WasmMemoryLike,
} from '@vae/models/wasm';

/** Columns per register block: N must be a multiple of it. */
export const GEMM_COLUMNS = 8;

export type Gemm = (
  a: number, sai: number, sak: number, b: number, ldb: number, bias: number, out: number,
  m: number, k: number, n: number, relu: number,
) => void;

/** transpose(src, dst, rows, cols): dst[cols, rows] = src[rows, cols]ᵀ; rows and cols multiples of 4. */
export type Transpose = (src: number, dst: number, rows: number, cols: number) => void;

/**
 * The kernels, instantiated on `memory` (tfjs-wasm's heap, which the module imports: every
 * address is a byte offset in it, and it sees the heap grow). The multi-threaded tfjs-wasm
 * build has a shared heap, which a module must import as shared.
 */
export function matrixKernels(memory: WasmMemoryLike): { gemm: Gemm; transpose: Transpose } {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const exports = instantiateKernel(kernelsWasmBytes(shared), memory);
  return { gemm: exports.gemm as Gemm, transpose: exports.transpose as Transpose };
}

// ---- the module, byte by byte ---------------------------------------------------------------

// Parameters 0..10, then locals: i32 11..18, v128 19..29.
const A = 0, SAI = 1, SAK = 2, B = 3, LDB = 4, BIAS = 5, OUT = 6, M = 7, K = 8, N = 9, RELU = 10;
const I = 11, J = 12, KK = 13, PA = 14, PB = 15, PO = 16, SAI2 = 17, SAI3 = 18;
const ACC = 19, W0 = 27, W1 = 28, S = 29;

const ADD = 0x6a, MUL = 0x6c, SHL = 0x74, GT_U = 0x4b, GE_U = 0x4f, EQZ = 0x45;
const IF = 0x04, ELSE = 0x05, END = 0x0b, VOID = 0x40;
const v128Load = (offset: number) => [...simd(0x00), 4, ...uleb(offset)];
const v128Store = (offset: number) => [...simd(0x0b), 4, ...uleb(offset)];
const f32Load = [0x2a, 2, 0];
const ZERO = [...simd(0x0c), ...Array(16).fill(0)];
const SPLAT = simd(0x13), FADD = simd(0xe4), FMUL = simd(0xe6), FMAX = simd(0xe9);
const addTo = (local: number, value: number[]) => [...get(local), ...value, ADD, ...set(local)];
const acc = (r: number, h: number) => ACC + 2 * r + h;

/** The block of `rows` (4 or 1) rows starting at row I and 8 columns starting at column J. */
function tile(rows: 4 | 1): number[] {
  const body: number[] = [];
  // acc = bias[j .. j + 7] (or 0) in every row
  const fromBias: number[] = [], fromZero: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < 2; h++) {
      fromBias.push(...get(BIAS), ...get(J), ...i32(2), SHL, ADD, ...v128Load(16 * h), ...set(acc(r, h)));
      fromZero.push(...ZERO, ...set(acc(r, h)));
    }
  }
  body.push(...get(BIAS), IF, VOID, ...fromBias, ELSE, ...fromZero, END);
  // pa = a + i sai; pb = b + 4 j; kk = K
  body.push(...get(A), ...get(I), ...get(SAI), MUL, ADD, ...set(PA));
  body.push(...get(B), ...get(J), ...i32(2), SHL, ADD, ...set(PB));
  body.push(...get(K), ...set(KK));
  const step: number[] = [...get(PB), ...v128Load(0), ...set(W0), ...get(PB), ...v128Load(16), ...set(W1)];
  const rowAddress = [get(PA), [...get(PA), ...get(SAI), ADD], [...get(PA), ...get(SAI2), ADD], [...get(PA), ...get(SAI3), ADD]];
  for (let r = 0; r < rows; r++) {
    step.push(...rowAddress[r], ...f32Load, ...SPLAT, ...set(S));
    for (let h = 0; h < 2; h++) step.push(...get(acc(r, h)), ...get(S), ...get(h ? W1 : W0), ...FMUL, ...FADD, ...set(acc(r, h)));
  }
  step.push(...addTo(PA, get(SAK)), ...addTo(PB, get(LDB)), ...get(KK), ...i32(-1), ADD, ...set(KK));
  body.push(...whileNot([...get(KK), EQZ], step));
  // relu: acc = max(acc, 0)
  const clamp: number[] = [];
  for (let r = 0; r < rows; r++) for (let h = 0; h < 2; h++) clamp.push(...get(acc(r, h)), ...ZERO, ...FMAX, ...set(acc(r, h)));
  body.push(...get(RELU), IF, VOID, ...clamp, END);
  // out + 4 (i N + j), one row after another
  body.push(...get(OUT), ...get(I), ...get(N), MUL, ...get(J), ADD, ...i32(2), SHL, ADD, ...set(PO));
  for (let r = 0; r < rows; r++) {
    body.push(...get(PO), ...get(acc(r, 0)), ...v128Store(0), ...get(PO), ...get(acc(r, 1)), ...v128Store(16));
    if (r < rows - 1) body.push(...addTo(PO, [...get(N), ...i32(2), SHL]));
  }
  return body;
}

function gemmBody(): number[] {
  const code: number[] = [];
  code.push(...get(SAI), ...i32(1), SHL, ...set(SAI2), ...get(SAI2), ...get(SAI), ADD, ...set(SAI3));
  // Column blocks outside, rows inside: the K x 8 block of b a tile reads stays in the L1 cache
  // while every row block passes over it.
  const columnBlock = [
    ...i32(0), ...set(I),
    ...whileNot([...get(I), ...i32(4), ADD, ...get(M), GT_U], [...tile(4), ...addTo(I, i32(4))]),
    ...whileNot([...get(I), ...get(M), GE_U], [...tile(1), ...addTo(I, i32(1))]),
    ...addTo(J, i32(8)),
  ];
  code.push(...i32(0), ...set(J), ...whileNot([...get(J), ...get(N), GE_U], columnBlock));
  code.push(END);
  return [2, 8, I32, 11, V128, ...code];
}

/**
 * The transpose, 4 x 4 blocks at a time: four rows of a block in four vectors, transposed with
 * eight shuffles (pairs of rows interleaved, then pairs of pairs), stored as four rows of dst.
 */
function transposeBody(): number[] {
  // Parameters 0..3, then locals: i32 4..9, v128 10..17.
  const SRC = 0, DST = 1, ROWS = 2, COLS = 3, TI = 4, TJ = 5, PS = 6, PD = 7, SROW = 8, DROW = 9, V = 10, T = 14;
  // i8x16.shuffle of two vectors, given the float lanes (0..3 the first vector, 4..7 the second)
  const shuffle = (lanes: number[]) => [...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
  const block: number[] = [];
  block.push(...get(SRC), ...get(TI), ...get(SROW), MUL, ADD, ...get(TJ), ...i32(2), SHL, ADD, ...set(PS));
  for (let q = 0; q < 4; q++) {
    block.push(...get(PS), ...v128Load(0), ...set(V + q));
    if (q < 3) block.push(...addTo(PS, get(SROW)));
  }
  // (a0 b0 a1 b1) (a2 b2 a3 b3) (c0 d0 c1 d1) (c2 d2 c3 d3), then (a0 b0 c0 d0) ... (a3 b3 c3 d3)
  const pairs: [number, number, number[]][] = [[V, V + 1, [0, 4, 1, 5]], [V, V + 1, [2, 6, 3, 7]], [V + 2, V + 3, [0, 4, 1, 5]], [V + 2, V + 3, [2, 6, 3, 7]]];
  pairs.forEach(([x, y, lanes], q) => block.push(...get(x), ...get(y), ...shuffle(lanes), ...set(T + q)));
  const outs: [number, number, number[]][] = [[T, T + 2, [0, 1, 4, 5]], [T, T + 2, [2, 3, 6, 7]], [T + 1, T + 3, [0, 1, 4, 5]], [T + 1, T + 3, [2, 3, 6, 7]]];
  block.push(...get(DST), ...get(TJ), ...get(DROW), MUL, ADD, ...get(TI), ...i32(2), SHL, ADD, ...set(PD));
  outs.forEach(([x, y, lanes], q) => {
    block.push(...get(PD), ...get(x), ...get(y), ...shuffle(lanes), ...v128Store(0));
    if (q < 3) block.push(...addTo(PD, get(DROW)));
  });
  block.push(...addTo(TJ, i32(4)));
  const code = [
    ...get(COLS), ...i32(2), SHL, ...set(SROW), ...get(ROWS), ...i32(2), SHL, ...set(DROW), ...i32(0), ...set(TI),
    ...whileNot([...get(TI), ...get(ROWS), GE_U], [
      ...i32(0), ...set(TJ), ...whileNot([...get(TJ), ...get(COLS), GE_U], block), ...addTo(TI, i32(4)),
    ]),
    END,
  ];
  return [2, 6, I32, 8, V128, ...code];
}

function kernelsWasmBytes(sharedMemory: boolean): Uint8Array {
  const [gemm, transpose] = [gemmBody(), transposeBody()];
  return Uint8Array.from([
    ...MAGIC_AND_VERSION,
    ...section(1, [2, 0x60, 11, ...Array(11).fill(I32), 0, 0x60, 4, I32, I32, I32, I32, 0]),
    // the memory: at least 0 pages; shared ones must declare a maximum (the most wasm32 allows)
    ...section(2, [1, ...name('env'), ...name('mem'), 0x02, ...(sharedMemory ? [0x03, 0, ...uleb(65536)] : [0x00, 0])]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name('gemm'), 0x00, 0, ...name('transpose'), 0x00, 1]),
    ...section(10, [2, ...uleb(gemm.length), ...gemm, ...uleb(transpose.length), ...transpose]),
  ]);
}
