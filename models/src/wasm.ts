/**
 * @vae/models/wasm: the WebAssembly binary encoding our hand-assembled kernels share
 * (export/src/wasm-kernel.ts, the standalone decoder's gemm; train/src/speed/adam-simd.ts, the
 * parallel trainer's Adam; train/src/speed/wasm-gemm.ts, the trainer's products), and the typed
 * WebAssembly API they are instantiated with. Each kernel is a loop or two, so writing its
 * bytes here keeps the packages free of a compiler toolchain. Browser-safe, no dependencies.
 * Reference: https://webassembly.github.io/spec/core/binary/
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates); internal: kernels write immediates with `i32`. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/** A module section: id, byte length, body. */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/** A name (import module or field, export name): length, then ASCII bytes. */
export const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];

/** local.get, local.set, i32.const, and a SIMD (0xfd-prefixed) opcode. */
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const i32 = (v: number): number[] => [0x41, ...sleb(v)];
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];

/** block { loop { <exit> br_if 1; body; br 0 } }: runs `body` until `exit` leaves a non-zero i32. */
export const whileNot = (exit: number[], body: number[]): number[] =>
  [0x02, 0x40, 0x03, 0x40, ...exit, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];

/** The 8-byte preamble: "\0asm", version 1. */
export const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** A WebAssembly.Memory as our kernels see it: its (possibly shared) buffer. */
export interface WasmMemoryLike { readonly buffer: ArrayBufferLike }

/**
 * The parts of the WebAssembly JS API this project uses: TypeScript's ES2022 libs and
 * @types/node do not declare the WebAssembly namespace, so this is its one declaration here.
 */
export interface WebAssemblyApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemoryLike;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

/** globalThis.WebAssembly, typed. */
export const webAssembly = (): WebAssemblyApi => (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Compiles and instantiates a kernel module whose one import is its memory, `env.mem`; returns its exports. */
export function instantiateKernel(bytes: Uint8Array, memory: WasmMemoryLike): Record<string, unknown> {
  const wasm = webAssembly();
  return new wasm.Instance(new wasm.Module(bytes), { env: { mem: memory } }).exports;
}
