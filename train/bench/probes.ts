/**
 * Small probes for `contention.ts`: each exercises one resource a core might share with
 * its neighbour, so timing them alone and two at once tells which resource the two cores
 * contend for:
 *
 * - `integer`: a scalar integer loop in registers (JavaScript, no memory, no SIMD). Slower
 *   in pairs only if the two cores share issue slots (SMT siblings) or the host's time.
 * - `simd`: 128-bit float multiply-adds in registers (WebAssembly SIMD, no memory): the
 *   matmul's arithmetic without its loads. Slower in pairs if they share the vector units.
 * - `stream-<size>`: 128-bit loads summed over a buffer of that size, again and again. The
 *   sizes sit in one core's L2 (256 KiB; this CPU reports 1 MiB), beyond it (8 MiB) and
 *   far beyond any cache (256 MiB): slower in pairs where the cache or memory is shared.
 *
 * The two kernels are hand-assembled with @vae/models/wasm, as the trainer's Adam is.
 */
import {
  F32, I32, MAGIC_AND_VERSION, V128, get, i32, instantiateKernel, name, section, set, simd, uleb, webAssembly, whileNot,
} from '@vae/models/wasm';

const ADD = 0x6a, GE_U = 0x4f;
const SPLAT = simd(0x13), FADD = simd(0xe4), FMUL = simd(0xe6), LANE0 = simd(0x1f);
const load = [...simd(0x00), 4, 0];

/**
 * simd(n, c, d): twelve independent chains a = a * c + d, n times; returns a lane of their sum.
 * Twelve chains issue more multiply-adds per cycle than the vector units retire (each chain
 * waits ~5 cycles on its own result), so the loop is bound by throughput, as a matmul is.
 */
function simdBytes(): number[] {
  const N = 0, C = 1, D = 2, I = 3, VC = 4, VD = 5, A = 6, CHAINS = 12; // locals: i32 I, v128 VC, VD, A..A+11
  const code = [...get(C), ...SPLAT, ...set(VC), ...get(D), ...SPLAT, ...set(VD)];
  const body: number[] = [];
  for (let j = 0; j < CHAINS; j++) body.push(...get(A + j), ...get(VC), ...FMUL, ...get(VD), ...FADD, ...set(A + j));
  body.push(...get(I), ...i32(1), ADD, ...set(I));
  code.push(...whileNot([...get(I), ...get(N), GE_U], body));
  code.push(...get(A));
  for (let j = 1; j < CHAINS; j++) code.push(...get(A + j), ...FADD);
  code.push(...LANE0, 0, 0x0b);
  return [2, 1, I32, 2 + CHAINS, V128, ...code];
}

/** stream(base, bytes, passes): sums the buffer's float32x4s `passes` times; returns a lane. */
function streamBytes(): number[] {
  const BASE = 0, BYTES = 1, PASSES = 2, P = 3, I = 4, A = 5; // locals: i32 P, I, v128 A..A+3
  const inner: number[] = [];
  for (let j = 0; j < 4; j++) {
    inner.push(...get(A + j), ...get(BASE), ...get(I), ADD, ...load.slice(0, -1), j * 16, ...FADD, ...set(A + j));
  }
  inner.push(...get(I), ...i32(64), ADD, ...set(I));
  const outer = [...i32(0), ...set(I), ...whileNot([...get(I), ...get(BYTES), GE_U], inner), ...get(P), ...i32(1), ADD, ...set(P)];
  const code = [...whileNot([...get(P), ...get(PASSES), GE_U], outer), ...get(A)];
  for (let j = 1; j < 4; j++) code.push(...get(A + j), ...FADD);
  code.push(...LANE0, 0, 0x0b);
  return [2, 2, I32, 4, V128, ...code];
}

function kernels(pages: number) {
  const simdFn = simdBytes(), streamFn = streamBytes();
  const bytes = Uint8Array.from([
    ...MAGIC_AND_VERSION,
    ...section(1, [2, 0x60, 3, I32, F32, F32, 1, F32, 0x60, 3, I32, I32, I32, 1, F32]),
    ...section(2, [1, ...name('env'), ...name('mem'), 0x02, 0x01, ...uleb(pages), ...uleb(pages)]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name('simd'), 0x00, 0, ...name('stream'), 0x00, 1]),
    ...section(10, [2, ...uleb(simdFn.length), ...simdFn, ...uleb(streamFn.length), ...streamFn]),
  ]);
  const memory = new (webAssembly().Memory)({ initial: pages, maximum: pages });
  new Float32Array(memory.buffer).fill(1e-3);
  const exports = instantiateKernel(bytes, memory);
  return {
    simd: exports.simd as (n: number, c: number, d: number) => number,
    stream: exports.stream as (base: number, bytes: number, passes: number) => number,
  };
}

const KiB = 1024, MiB = 1024 * KiB;
const STREAM_SIZES = { 'stream-256KiB': 256 * KiB, 'stream-8MiB': 8 * MiB, 'stream-256MiB': 256 * MiB } as const;
export type Probe = 'integer' | 'simd' | keyof typeof STREAM_SIZES;
export const PROBES: readonly Probe[] = ['integer', 'simd', 'stream-256KiB', 'stream-8MiB', 'stream-256MiB'];

/** One run of the probe's fixed work (0.1 to 0.4 s alone here); returns what it computed, so nothing is skipped. */
export function probeWork(probe: Probe): () => number {
  if (probe === 'integer') {
    return () => {
      let x = 1;
      for (let i = 0; i < 200_000_000; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
      return x;
    };
  }
  const size = probe === 'simd' ? 0 : STREAM_SIZES[probe];
  const k = kernels(Math.max(1, Math.ceil(size / 65536)));
  if (probe === 'simd') return () => k.simd(100_000_000, 0.999, 0.001);
  const passes = (8 * 1024 * MiB) / size; // 8 GiB read per run
  return () => k.stream(0, size, passes);
}
