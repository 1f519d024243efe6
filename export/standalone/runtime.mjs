// The runtime of a standalone decoder module, written by @vae/export (export/src/standalone.ts):
// the generator appends `const MODEL = {...}` (each precision's weights file, size, SHA-256 and
// compiled graph) below this text. No imports, no dependencies: browsers (main thread, workers),
// Node, Deno, Bun. Keep it small and plain: it ships in every model directory.
/*@START@*/
export class VaeError extends Error {
  constructor(code, message, details) {
    super(message, details && details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'VaeError';
    this.code = code;
    if (details) for (const k of ['url', 'file', 'status']) if (details[k] !== undefined) this[k] = details[k];
  }
}

const input = (m) => new VaeError('input', m);

function describe(v) {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (v === undefined) return 'missing';
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function lengthOf(v) {
  if (v === null || typeof v !== 'object') return undefined;
  const n = v.length;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function badValue(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `is ${describe(v)}: latent values must be finite numbers`;
  if (!Number.isFinite(Math.fround(v))) return `is ${v}, beyond float32's range (about ±3.4e38)`;
  return undefined;
}

// The runtimes' latent check (runtime-core's parseLatents), message for message.
function parseLatents(value, n, label) {
  const fail = (m) => input(`${label}: ${m}`);
  const length = lengthOf(value);
  if (length === undefined) throw fail(`expected latent vectors (an array of numbers, or one array per vector), got ${value === undefined ? 'undefined' : describe(value)}`);
  if (length === 0) throw fail(`no latent vectors (the model's latent size is ${n})`);
  const rows = !ArrayBuffer.isView(value) && value[0] !== null && typeof value[0] === 'object';
  const total = rows ? length * n : length;
  if (!rows && total % n !== 0) {
    throw fail(total < n
      ? `${total} value${total === 1 ? '' : 's'}, but the model's latent size is ${n}`
      : `${total} values are not a whole number of latent vectors of the model's latent size ${n}`);
  }
  let data;
  try {
    data = value instanceof Float32Array ? value : new Float32Array(total);
  } catch {
    throw fail(`${total} values are too many to hold in memory`);
  }
  if (rows) {
    for (let r = 0; r < length; r++) {
      const row = value[r];
      const width = lengthOf(row);
      if (width === undefined) throw fail(`vector ${r} is ${describe(row)}, not an array of numbers`);
      if (width !== n) throw fail(`vector ${r} has ${width} value${width === 1 ? '' : 's'}, but the model's latent size is ${n}`);
      for (let k = 0; k < n; k++) {
        const bad = badValue(row[k]);
        if (bad) throw fail(`vector ${r}, value ${k} ${bad}`);
        data[r * n + k] = row[k];
      }
    }
  } else {
    for (let i = 0; i < total; i++) {
      const bad = badValue(value[i]);
      if (bad) throw fail(`vector ${Math.floor(i / n)}, value ${i % n} ${bad}`);
      if (data !== value) data[i] = value[i];
    }
  }
  return { data, count: total / n };
}

// ---- weights: fetch or read, then check size and SHA-256 ----

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

// SHA-256 in plain JS, for where crypto.subtle is missing (an http: page that is not a secure context).
function sha256js(msg) {
  const K = [], H = [];
  for (let c = 2, found = 0; found < 64; c++) {
    let prime = true;
    for (let d = 2; d * d <= c; d++) if (c % d === 0) { prime = false; break; }
    if (!prime) continue;
    if (found < 8) H[found] = (Math.sqrt(c) % 1) * 2 ** 32 | 0;
    K[found++] = (Math.cbrt(c) % 1) * 2 ** 32 | 0;
  }
  const len = msg.length, padded = new Uint8Array(((len + 72) >> 6) << 6);
  padded.set(msg);
  padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(len / 2 ** 29));
  dv.setUint32(padded.length - 4, len << 3);
  const w = new Int32Array(64), rot = (x, n) => (x >>> n) | (x << (32 - n));
  for (let o = 0; o < padded.length; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getInt32(o + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      w[i] = (rot(a, 7) ^ rot(a, 18) ^ (a >>> 3)) + w[i - 7] + (rot(b, 17) ^ rot(b, 19) ^ (b >>> 10)) + w[i - 16] | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = h + (rot(e, 6) ^ rot(e, 11) ^ rot(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i] | 0;
      const t2 = (rot(a, 2) ^ rot(a, 13) ^ rot(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)) | 0;
      h = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    [a, b, c, d, e, f, g, h].forEach((v, i) => { H[i] = H[i] + v | 0; });
  }
  const out = new DataView(new ArrayBuffer(32));
  H.forEach((v, i) => out.setInt32(4 * i, v));
  return hex(new Uint8Array(out.buffer));
}

async function sha256(bytes) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  return subtle ? hex(new Uint8Array(await subtle.digest('SHA-256', bytes))) : sha256js(bytes);
}

async function readUrl(url) {
  const where = { url: url.href };
  if (url.protocol === 'file:' && globalThis.process && globalThis.process.versions) {
    const fs = 'node:fs/promises';
    try {
      const data = await (await import(/* @vite-ignore */ /* webpackIgnore: true */ fs)).readFile(url);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (err) {
      throw new VaeError('checksum', `${url.href}: cannot read the weights: ${err.code || err.message}`, { ...where, cause: err });
    }
  }
  let res;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new VaeError('network', `${url.href}: fetch failed: ${err.message}`, { ...where, cause: err });
  }
  if (!res.ok) throw new VaeError('http', `${url.href}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, { ...where, status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}

function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw input(`loadDecoder: expected the weights' URL (a string or URL) or bytes (ArrayBuffer or Uint8Array), got ${describe(v)}`);
}

/**
 * loadDecoder(source?, { precision? }): source is the weights file's URL (a string is resolved
 * against this module's URL; file: URLs are read with node:fs where there is one) or its bytes;
 * without it, the weights file of `precision` next to this module. Without `precision`, the
 * precision whose weights file has that name (URL) or that size (bytes), else fp32. `kernel`:
 * "wasm" (WebAssembly SIMD; the default where available) or "js" (plain JavaScript).
 */
export async function loadDecoder(source, options = {}) {
  const names = Object.keys(MODEL.variants);
  if (options.kernel !== undefined && options.kernel !== 'wasm' && options.kernel !== 'js') throw input(`kernel: expected "wasm" or "js", got ${describe(options.kernel)}`);
  let precision = options.precision;
  if (precision !== undefined && !MODEL.variants[precision]) throw input(`precision: "${precision}" is not one of this decoder's: ${names.join(', ')}`);
  let bytes, url;
  if (source === undefined || source === null) source = MODEL.variants[precision || names[0]].file;
  if (typeof source === 'string' || source instanceof URL) {
    url = new URL(source, import.meta.url);
    const file = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    precision ||= names.find((p) => MODEL.variants[p].file === file);
    bytes = await readUrl(url);
  } else {
    bytes = asBytes(source);
    precision ||= names.find((p) => MODEL.variants[p].bytes === bytes.length);
  }
  const v = MODEL.variants[precision || names[0]];
  const label = url ? url.href : `${v.file} (the bytes given)`;
  const fail = (m) => new VaeError('checksum', `${label}: ${m}`, { file: v.file, url: url && url.href });
  if (bytes.length !== v.bytes) throw fail(`size mismatch: the module expects ${v.bytes} bytes (${v.file}), the file has ${bytes.length}`);
  const actual = await sha256(bytes);
  if (actual !== v.sha256) throw fail(`SHA-256 mismatch: the module expects ${v.sha256} (${v.file}), the file has ${actual}`);
  return new Decoder(v, bytes, options.kernel);
}

// ---- the graph: constants expanded at load, then steps (Gemm, Conv, ConvTranspose, Resize, layout, elementwise) ----

function half(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
}

const TYPES = { f32: Float32Array, f16: Uint16Array, i8: Int8Array, u8: Uint8Array };
const size = (dims) => dims.reduce((a, b) => a * b, 1);

function constants(v, bytes) {
  if (bytes.byteOffset % 8) bytes = bytes.slice();
  const env = new Map();
  for (const c of v.consts) {
    let t;
    if (c.op === 'raw') {
      t = new TYPES[c.type](bytes.buffer, bytes.byteOffset + c.offset, size(c.dims));
    } else if (c.op === 'cast') { // float16 -> float32, exact
      const x = env.get(c.x);
      t = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) t[i] = c.from === 'f16' ? half(x[i]) : x[i];
    } else { // DequantizeLinear: y = (x - zero_point) * scale in float32, per axis or per tensor
      const x = env.get(c.x), s = env.get(c.scale), z = c.zero ? env.get(c.zero) : null;
      const block = size(c.dims.slice(c.axis + 1)), channels = c.dims[c.axis];
      t = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const ch = s.length === 1 ? 0 : Math.floor(i / block) % channels;
        t[i] = (x[i] - (z ? z[ch] : 0)) * s[ch];
      }
    }
    env.set(c.name, t);
  }
  return env;
}

// Packs a Gemm: B as [K, N] row-major (transposed at load if transB), C broadcast to N values.
function pack(s, env) {
  s = { alpha: 1, beta: 1, ...s };
  const b = env.get(s.b), { k: K, n: N } = s;
  let w = b;
  if (s.transB) {
    w = new Float32Array(K * N);
    for (let i = 0; i < N; i++) for (let j = 0; j < K; j++) w[j * N + i] = b[i * K + j];
  } else if (!(b instanceof Float32Array)) w = Float32Array.from(b);
  let c = null;
  if (s.c) {
    const src = env.get(s.c);
    c = new Float32Array(N);
    for (let j = 0; j < N; j++) c[j] = src.length === 1 ? src[0] : src[j];
  }
  return { ...s, w, c };
}

// y[rows, N] = alpha * x[rows, K] . w[K, N] + beta * c, float32 tensors. Loop order i-k-j: each
// weight row is read contiguously and shared by 4 batch rows; zero inputs (after Relu) are skipped.
function gemm(x, rows, g, y) {
  const { k: K, n: N, w, c, alpha, beta } = g;
  const biasFirst = alpha === 1 && beta === 1;
  if (biasFirst && c) for (let r = 0; r < rows; r++) y.set(c, r * N);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const i0 = r * K, o0 = r * N, o1 = o0 + N, o2 = o1 + N, o3 = o2 + N;
    for (let k = 0; k < K; k++) {
      const a0 = x[i0 + k], a1 = x[i0 + K + k], a2 = x[i0 + 2 * K + k], a3 = x[i0 + 3 * K + k];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      for (let j = 0, p = k * N; j < N; j++, p++) {
        const b = w[p];
        y[o0 + j] += a0 * b;
        y[o1 + j] += a1 * b;
        y[o2 + j] += a2 * b;
        y[o3 + j] += a3 * b;
      }
    }
  }
  for (; r < rows; r++) {
    const i0 = r * K, o0 = r * N;
    for (let k = 0; k < K; k++) {
      const a = x[i0 + k];
      if (a === 0) continue;
      for (let j = 0, p = k * N; j < N; j++, p++) y[o0 + j] += a * w[p];
    }
  }
  if (!biasFirst) for (let i = 0; i < y.length; i++) y[i] = alpha * y[i] + (c ? beta * c[i % N] : 0);
  return y;
}

// The WebAssembly SIMD kernel (export/src/wasm-kernel.ts; KERNEL is its base64, below): Gemm with
// alpha = beta = 1 on W packed in panels of 8 columns, 4 batch rows at a time. null where
// WebAssembly or SIMD is missing: the JS kernel runs instead.
function wasmKernel(gemms) {
  let bytes;
  try {
    const bin = atob(KERNEL);
    bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    if (!globalThis.WebAssembly || !WebAssembly.validate(bytes)) return null;
  } catch {
    return null;
  }
  const { gemm, mem } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
  let top = 0;
  gemms = gemms.filter((s) => s.alpha === 1 && s.beta === 1);
  for (const s of gemms) {
    s.np = Math.ceil(s.n / 8) * 8;
    s.wOff = top;
    s.cOff = top += s.k * s.np * 4;
    top += s.np * 4;
  }
  const k = { gemm, mem, scratch: top, grow(need) { const have = mem.buffer.byteLength; if (need > have) mem.grow(Math.ceil((need - have) / 65536)); } };
  k.grow(top);
  const f = new Float32Array(mem.buffer);
  for (const s of gemms) {
    const { k: K, n: N, np, w, c } = s;
    for (let p = 0, o = s.wOff >> 2; p < np; p += 8) {
      for (let kk = 0; kk < K; kk++, o += 8) for (let j = 0; j < 8; j++) f[o + j] = p + j < N ? w[kk * N + p + j] : 0;
    }
    if (c) f.set(c, s.cOff >> 2);
    s.wasm = true;
  }
  return k;
}

// The result goes into y; without y (when it needs no repacking) it stays in wasm memory: a view valid until the next call.
function wasmGemm(kn, x, rows, s, y) {
  const { k: K, n: N, np } = s, xo = kn.scratch, yo = xo + rows * K * 4;
  kn.grow(yo + rows * np * 4);
  const f = new Float32Array(kn.mem.buffer), r4 = rows & ~3;
  let o = xo >> 2;
  for (let r = 0; r < r4; r += 4) {
    for (let k = 0, b = r * K; k < K; k++, b++) { f[o++] = x[b]; f[o++] = x[b + K]; f[o++] = x[b + 2 * K]; f[o++] = x[b + 3 * K]; }
  }
  f.set(x.subarray(r4 * K, rows * K), o);
  kn.gemm(xo, s.wOff, s.cOff, yo, rows, K, np);
  if (!y) return f.subarray(yo >> 2, (yo >> 2) + rows * N);
  if (np === N) y.set(f.subarray(yo >> 2, (yo >> 2) + rows * N));
  else for (let r = 0; r < rows; r++) y.set(f.subarray((yo >> 2) + r * np, (yo >> 2) + r * np + N), r * N);
  return y;
}

// Samples per chunk of a convolution, so that its im2col / col2im matrix stays near 16 MB.
const chunk = (perSample) => Math.max(1, Math.floor(4194304 / perSample));

// Conv as im2col + Gemm: each output pixel's receptive field (C x KH x KW, zeros outside the
// padded image) is one Gemm row and W [M, C*KH*KW] the transposed B, so the Gemm kernel (wasm
// SIMD or JS) does the arithmetic; its rows come out pixel-major and are written back as NCHW.
function conv(s, x, rows, d) {
  const [C, H, W, M, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW] = s.geo, P = OH * OW, K = C * KH * KW, y = d.buf(s, 'y', rows * M * P);
  for (let n0 = 0, n = chunk(P * Math.max(K, M)); n0 < rows; n0 += n) {
    const nn = Math.min(n, rows - n0), col = d.buf(s, 'x', nn * P * K);
    let o = 0;
    for (let r = n0; r < n0 + nn; r++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      for (let c = 0; c < C; c++) for (let i = 0; i < KH; i++) {
        const iy = oy * SH - PT + i * DH, b = ((r * C + c) * H + iy) * W;
        for (let j = 0; j < KW; j++, o++) {
          const ix = ox * SW - PL + j * DW;
          if (iy >= 0 && iy < H && ix >= 0 && ix < W) col[o] = x[b + ix];
        }
      }
    }
    const g = d.mm(col, nn * P, s.g, s);
    for (let r = 0; r < nn; r++) for (let p = 0; p < P; p++) for (let m = 0; m < M; m++) y[((n0 + r) * M + m) * P + p] = g[(r * P + p) * M + m];
  }
  return y;
}

// The taps [k0, k1) of a kernel of k that land inside an output of n from input index v.
function taps(v, stride, pad, dil, k, n) {
  let k0 = 0, k1 = k;
  while (k0 < k && v * stride - pad + k0 * dil < 0) k0++;
  while (k1 > k0 && v * stride - pad + (k1 - 1) * dil >= n) k1--;
  return [k0, k1];
}

// ConvTranspose as Gemm + col2im: each input pixel (its C values, NCHW read pixel-major) is a Gemm
// row against W [C, M*KH*KW] as stored; each result row is added into the output at
// (iy*SH - PT + i*DH, ix*SW - PL + j*DW), which starts as the bias.
function convT(s, x, rows, d) {
  const [C, H, W, M, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW] = s.geo, P = H * W, Q = OH * OW, y = d.buf(s, 'y', rows * M * Q);
  if (s.bias) for (let p = 0; p < rows * M; p++) y.fill(s.bias[p % M], p * Q, (p + 1) * Q);
  for (let n0 = 0, n = chunk(P * Math.max(C, M * KH * KW)); n0 < rows; n0 += n) {
    const nn = Math.min(n, rows - n0), xt = d.buf(s, 'x', nn * P * C);
    for (let r = 0; r < nn; r++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) xt[(r * P + p) * C + c] = x[((n0 + r) * C + c) * P + p];
    const g = d.mm(xt, nn * P, s.g, s), K2 = KH * KW;
    for (let r = n0, o = 0; r < n0 + nn; r++) for (let iy = 0; iy < H; iy++) {
      const [i0, i1] = taps(iy, SH, PT, DH, KH, OH);
      for (let ix = 0; ix < W; ix++, o += M * K2) {
        const [j0, j1] = taps(ix, SW, PL, DW, KW, OW), ox = ix * SW - PL;
        for (let m = 0; m < M; m++) for (let i = i0; i < i1; i++) {
          const b = (r * M + m) * Q + (iy * SH - PT + i * DH) * OW + ox, a = o + m * K2 + i * KW;
          for (let j = j0; j < j1; j++) y[b + j * DW] += g[a + j];
        }
      }
    }
  }
  return y;
}

// Resize (nearest): the compiler worked out each output row's and column's source (iy, ix).
function resize(s, x, rows, d) {
  const [C, H, W] = s.geo, { iy, ix } = s, y = d.buf(s, 'y', rows * C * iy.length * ix.length);
  let o = 0;
  for (let p = 0; p < rows * C; p++) for (const r of iy) for (const c of ix) y[o++] = x[(p * H + r) * W + c];
  return y;
}

// Transpose within a sample: map[o] is the input index of output index o.
function transposeMap(dims, perm) {
  const od = perm.map((a) => dims[a]), stride = dims.map((_, i) => size(dims.slice(i + 1))), map = new Int32Array(size(dims));
  for (let o = 0; o < map.length; o++) {
    let rest = o, i = 0;
    for (let a = od.length - 1; a >= 0; a--) { i += (rest % od[a]) * stride[perm[a]]; rest = Math.floor(rest / od[a]); }
    map[o] = i;
  }
  return map;
}

function transpose(s, x, rows, d) {
  const m = s.map, w = m.length, y = d.buf(s, 'y', x.length);
  for (let r = 0; r < rows * w; r += w) for (let o = 0; o < w; o++) y[r + o] = x[r + m[o]];
  return y;
}

// Mul / Add by b broadcast per channel (b[floor(i / block) % ch]) or elementwise (ch 0).
const binary = (f) => (s, x, rows, d, t) => {
  const b = t.get(s.b), y = d.buf(s, 'y', x.length), { ch, block } = s;
  for (let i = 0, n = x.length; i < n; i++) y[i] = f(x[i], b[ch ? Math.floor(i / block) % ch : i]);
  return y;
};

// Elementwise functions, by step op, given the step's attributes (ONNX's formulas, in float64, stored as float32).
const ACT = {
  relu: () => (v) => (v > 0 ? v : 0),
  // exp in float32 range: where it overflows the result is 0, as in float32 runtimes (not a subnormal).
  sigmoid: () => (v) => 1 / (1 + Math.fround(Math.exp(-v))),
  tanh: () => Math.tanh,
  softplus: () => (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))),
  softsign: () => (v) => v / (1 + Math.abs(v)),
  elu: (s) => (v) => (v >= 0 ? v : s.alpha * Math.expm1(v)),
  selu: (s) => (v) => s.gamma * (v > 0 ? v : s.alpha * Math.expm1(v)),
  leakyrelu: (s) => (v) => (v >= 0 ? v : s.alpha * v),
  thresholdedrelu: (s) => (v) => (v > s.alpha ? v : 0),
  hardsigmoid: (s) => (v) => Math.max(0, Math.min(1, s.alpha * v + s.beta)),
  clip: (s) => (v) => Math.min(Math.max(v, s.min ?? -Infinity), s.max ?? Infinity),
};

// The steps, by op: (step, x, rows, decoder, tensors) -> y. Reshape only renames.
const STEPS = {
  gemm: (s, x, rows, d) => d.mm(x, rows, s.g, s, 'y'),
  conv, convT, resize, transpose,
  reshape: (s, x) => x,
  mul: binary((a, b) => a * b),
  add: binary((a, b) => a + b),
};

// Load-time preparation of a step: packed Gemm weights, the transpose map, the activation function.
function prepare(s, env) {
  s = { ...s };
  const [C, , , M, KH, KW] = s.geo || [];
  if (s.op === 'gemm') s.g = pack(s, env);
  if (s.op === 'conv') s.g = pack({ b: s.w, c: s.c, k: C * KH * KW, n: M, transB: true }, env);
  if (s.op === 'convT') { s.g = pack({ b: s.w, k: C, n: M * KH * KW }, env); s.bias = s.c && env.get(s.c); }
  if (s.op === 'transpose') s.map = transposeMap(s.dims, s.perm);
  // Relu has its own loop: the shared one calls f per value, which V8 does not inline once several
  // activations use it. Both read x[i] once, with the length hoisted: in Node 20 the plain
  // `i < x.length; ... x[i] > 0 ? x[i] : 0` loop measured 4-7x slower.
  if (s.op === 'relu') s.run = (s, x, rows, d) => { const n = x.length, y = d.buf(s, 'y', n); for (let i = 0; i < n; i++) { const v = x[i]; y[i] = v > 0 ? v : 0; } return y; };
  else if (ACT[s.op]) {
    const f = ACT[s.op](s);
    s.run = (s, x, rows, d) => { const n = x.length, y = d.buf(s, 'y', n); for (let i = 0; i < n; i++) y[i] = f(x[i]); return y; };
  } else s.run = STEPS[s.op];
  return s;
}

class Decoder {
  constructor(v, bytes, kernel) {
    const env = constants(v, bytes);
    this.precision = v.precision;
    this.latentSize = v.input[1];
    this.outputSize = v.outputs[0][1];
    this.imageShape = MODEL.imageShape;
    this.file = v.file;
    this._v = v;
    this._env = env;
    this._steps = v.steps.map((s) => prepare(s, env));
    // The steps whose result is a graph output (through Reshape aliases) return new arrays; the others reuse theirs.
    const root = new Map();
    for (const s of this._steps) if (s.op === 'reshape') root.set(s.y, root.get(s.x) ?? s.x);
    const outs = new Set(v.outputs.map(([o]) => root.get(o) ?? o));
    for (const s of this._steps) s.out = outs.has(s.y);
    this._bufs = new Map();
    this._wasm = kernel === 'js' ? null : wasmKernel(this._steps.filter((s) => s.g).map((s) => s.g));
    if (kernel === 'wasm' && !this._wasm) throw new VaeError('device-unavailable', 'kernel: "wasm" needs WebAssembly with SIMD, which this platform lacks (use kernel: "js")');
    /** Which kernel runs Gemm (and so Conv, ConvTranspose): "wasm" (WebAssembly SIMD) or "js". */
    this.kernel = this._wasm ? 'wasm' : 'js';
  }

  /**
   * A zeroed Float32Array of n for step s (key: its output "y" or a scratch slot): a new one for a graph
   * output, else the step's array from the last run. Chromium measured writing into fresh pages at
   * 10x the cost of the arithmetic (a Relu over 1.6 M values: 25-36 ms new, 2-3 ms reused).
   */
  buf(s, key, n) {
    if (key === 'y' && s.out) return new Float32Array(n);
    let b = this._bufs.get(`${key}:${s.y}`);
    if (!b || b.length < n) this._bufs.set(`${key}:${s.y}`, b = new Float32Array(n));
    return b.subarray(0, n).fill(0);
  }

  /**
   * y[rows, N] = x[rows, K] . W + C with the packed Gemm g, on the wasm kernel where it took g. With a key,
   * into step s's buffer; without, a Conv's scratch result (a view of wasm memory where no repacking is needed).
   */
  mm(x, rows, g, s, key) {
    if (!g.wasm) return gemm(x, rows, g, this.buf(s, key || 'g', rows * g.n));
    return wasmGemm(this._wasm, x, rows, g, key || g.np !== g.n ? this.buf(s, key || 'g', rows * g.n) : null);
  }

  /** Every graph output for `count` latent vectors z (Float32Array count * n, or one array per vector). */
  run(z, count) {
    const n = this.latentSize, v = this._v;
    if (count !== undefined && !(Number.isSafeInteger(count) && count >= 0)) throw input(`count: expected a whole number of latent vectors, got ${describe(count)}`);
    if (count === 0) throw input(`z: no latent vectors (the model's latent size is ${n})`);
    const parsed = parseLatents(z, n, 'z');
    if (count !== undefined && parsed.count !== count) {
      throw input(`z: ${parsed.count * n} values are ${parsed.count} latent vector${parsed.count === 1 ? '' : 's'} of the model's latent size ${n}, but count is ${count}`);
    }
    const rows = parsed.count, t = new Map(this._env);
    t.set(v.input[0], parsed.data);
    for (const s of this._steps) t.set(s.y, s.run(s, t.get(s.x), rows, this, t));
    const out = {};
    for (const [name] of v.outputs) out[name] = t.get(name);
    return out;
  }

  /** Pixels: Float32Array count * outputSize of probabilities in [0, 1] (the graph's first output). */
  decode(z, count) {
    return this.run(z, count)[this._v.outputs[0][0]];
  }
}
