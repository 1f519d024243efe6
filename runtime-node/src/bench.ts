/**
 * Decoder speed: batch-1 latency and throughput at batch 256 and 4096, for onnxruntime-node
 * on the CPU (raw session.run on pre-made input tensors, with onnxruntime-allocated or
 * pre-allocated outputs, 2 and 1 threads; and through the library's vae.decode) and for tfjs (wasm backend)
 * running the same weights, read from decoder.onnx's initializers.
 *
 *   npm run bench:node                      # from the repository root (builds first)
 *   node runtime-node/dist/bench.js [--model DIR] [--threads N] [--seconds S] [--rounds R] [--json] [--skip-tfjs]
 *
 * Decoders are measured one at a time, each in several rounds; within a round every batch
 * size takes its turn. The table shows the median round and the best one (the best is the least
 * disturbed by other processes on a shared machine).
 * Not part of the library's API (it needs the devDependencies @vae/train and tfjs).
 */
import { availableParallelism, cpus } from 'node:os';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { decodeModel, fromTensorProto, type ModelProto } from '@vae/models/onnx';
import { selectBackend } from '@vae/train';
import { loadModelDir, releasedModelDir } from '@vae/models/node';
import { seededNormals } from '@vae/runtime-core';
import { loadVae } from './vae.js';

const TARGET_LATENCY_MS = 0.1;
const TARGET_THROUGHPUT = 200_000;
const BATCHES = [256, 4096];

interface Figure { median: number; best: number; rounds: number[] }
interface Row { runtime: string; latencyMs: Figure; throughput: Record<number, Figure> }

function figure(values: number[], higherIsBetter: boolean): Figure {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], best: higherIsBetter ? sorted[sorted.length - 1] : sorted[0], rounds: values };
}

/** Calls `fn` until `seconds` have passed (at least `min` times); returns ms per call. */
async function timeCalls(fn: () => Promise<unknown> | unknown, seconds: number, min = 3): Promise<number> {
  let calls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (calls < min || performance.now() < end) {
    // Check the clock every few calls: cheap calls (batch 1) are ~40 us.
    for (let k = 0; k < 16; k++) await fn();
    calls += 16;
  }
  return (performance.now() - start) / calls;
}

type Decoder = { name: string; run: (batch: number) => () => Promise<unknown> | unknown; release?: () => Promise<void> | void };

/**
 * Measures one decoder at a time: it is opened, timed and released before the next one
 * opens, as a user's process would run it. (Interleaving several open sessions cost the
 * one being timed up to half its batch-4096 throughput: the others' idle thread pools and
 * buffers compete for the two cores and the cache.) Within a decoder, every round takes
 * batch 1, 256 and 4096 in turn, so a burst of outside load hits all three alike.
 */
async function measure(open: () => Promise<Decoder>, seconds: number, roundsPerFigure: number): Promise<Row> {
  const d = await open();
  const sizes = [1, ...BATCHES];
  const calls = sizes.map((b) => d.run(b));
  const values: number[][] = sizes.map(() => []);
  for (const [k, call] of calls.entries()) for (let i = 0; i < (sizes[k] === 1 ? 200 : 3); i++) await call(); // warm-up
  for (let r = 0; r < roundsPerFigure; r++) {
    for (const [k, b] of sizes.entries()) {
      const ms = await timeCalls(calls[k], seconds);
      values[k].push(b === 1 ? ms : (b / ms) * 1000);
    }
  }
  await d.release?.();
  return {
    runtime: d.name,
    latencyMs: figure(values[0], false),
    throughput: Object.fromEntries(BATCHES.map((b, k) => [b, figure(values[k + 1], true)])),
  };
}

/**
 * onnxruntime-node session.run, one call per batch, on a pre-made input tensor. Outputs are
 * allocated by onnxruntime, or (`preallocated`) written into pre-made output tensors.
 */
async function ortDecoder(path: string, n: number, threads: number, z: Float32Array, preallocated = false): Promise<Decoder> {
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  const how = preallocated ? 'pre-allocated input and output tensors' : 'outputs allocated by onnxruntime';
  return {
    name: `onnxruntime-node ${ort.env.versions.node ?? ''} cpu, ${threads} thread${threads === 1 ? '' : 's'}, session.run (${how})`,
    run: (b) => {
      const feeds = { z: new ort.Tensor('float32', z.subarray(0, b * n), [b, n]) };
      if (!preallocated) return () => session.run(feeds);
      const fetches = { x_hat: new ort.Tensor('float32', new Float32Array(b * 784), [b, 784]) };
      return () => session.run(feeds, fetches);
    },
    release: () => session.release(),
  };
}

/** The library's decode (validation, chunking): a fresh output array per call, or (`reuse`) one array passed as `into`. */
async function vaeDecoder(dir: string, n: number, threads: number, z: Float32Array, reuse = false): Promise<Decoder> {
  const vae = await loadVae(dir, { device: 'cpu', threads });
  return {
    name: `@vae/runtime-node vae.decode (cpu, ${threads} thread${threads === 1 ? '' : 's'}${reuse ? ', into a reused array' : ''})`,
    run: (b) => {
      const input = z.subarray(0, b * n);
      const into = reuse ? new Float32Array(b * 784) : undefined;
      return () => vae.decode(input, { into });
    },
    release: () => vae.dispose(),
  };
}

/** The decoder's dense layers (Gemm + activation) from the ONNX initializers. */
function denseLayers(model: ModelProto): { kernel: Float32Array; shape: [number, number]; bias: Float32Array; activation: string }[] {
  const inits = new Map(model.graph.initializer.map((t) => [t.name ?? '', fromTensorProto(t)]));
  const nodes = model.graph.node;
  return nodes.filter((node) => node.op_type === 'Gemm').map((gemm) => {
    if ((gemm.attribute ?? []).some((a) => ['transA', 'transB'].includes(a.name) && a.i)) throw new Error(`${gemm.name}: transposed Gemm not supported by the bench`);
    const kernel = inits.get(gemm.input[1]), bias = inits.get(gemm.input[2]);
    if (!kernel || !bias || kernel.dtype !== 'float32' || bias.dtype !== 'float32') throw new Error(`Gemm ${gemm.output[0]}: float32 initializers expected (use decoder.onnx)`);
    const next = nodes.find((m) => m.input[0] === gemm.output[0]);
    const activation = next?.op_type === 'Relu' ? 'relu' : next?.op_type === 'Sigmoid' ? 'sigmoid' : 'linear';
    return { kernel: kernel.data as Float32Array, shape: [kernel.dims[0], kernel.dims[1]] as [number, number], bias: bias.data as Float32Array, activation };
  });
}

/** tfjs (wasm backend) running the same weights with fused matmul + bias + activation per layer. */
async function tfjsDecoder(path: string, n: number, z: Float32Array): Promise<{ decoder: Decoder; backend: string; check: (x: Float32Array) => Float32Array }> {
  const backend = await selectBackend('wasm');
  const layers = denseLayers(decodeModel(await readFile(path))).map((l) => ({
    kernel: tf.tensor2d(l.kernel, l.shape), bias: tf.tensor1d(l.bias), activation: l.activation,
  }));
  const forward = (x: tf.Tensor2D): tf.Tensor2D => tf.tidy(() => {
    let h = x;
    for (const l of layers) {
      const y = tf.fused.matMul({ a: h, b: l.kernel, bias: l.bias, activation: l.activation === 'relu' ? 'relu' : 'linear' });
      h = (l.activation === 'sigmoid' ? tf.sigmoid(y) : y) as tf.Tensor2D;
    }
    return h;
  });
  const decode = (input: Float32Array, b: number) => {
    const x = tf.tensor2d(input, [b, n]);
    const y = forward(x);
    const data = y.dataSync() as Float32Array;
    x.dispose(); y.dispose();
    return data;
  };
  return {
    backend: `${backend.description}, tfjs ${tf.version.tfjs}`,
    check: (x) => decode(x, x.length / n),
    decoder: {
      name: `tfjs ${tf.version.tfjs} wasm (fused matMul + bias + activation)`,
      run: (b) => {
        const input = z.slice(0, b * n);
        return () => decode(input, b);
      },
      release: () => layers.forEach((l) => { l.kernel.dispose(); l.bias.dispose(); }),
    },
  };
}

const fmtMs = (f: Figure) => `${f.median.toFixed(4)} (best ${f.best.toFixed(4)})`;
const fmtRate = (f: Figure) => `${Math.round(f.median).toLocaleString('en-US')} (best ${Math.round(f.best).toLocaleString('en-US')})`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, threads: { type: 'string' }, seconds: { type: 'string', default: '0.2' },
      rounds: { type: 'string', default: '9' }, json: { type: 'boolean', default: false }, 'skip-tfjs': { type: 'boolean', default: false },
    },
  });
  const dir = values.model ?? releasedModelDir();
  const model = await loadModelDir(dir);
  const n = model.manifest.model.latentSize;
  const path = model.graph('decoder').path;
  const threads = Number(values.threads ?? availableParallelism());
  const seconds = Number(values.seconds);
  const roundsPerFigure = Number(values.rounds);
  const z = seededNormals(Math.max(...BATCHES) * n, 1);
  const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);

  log(`decoder: ${path} (n = ${n}, ${model.manifest.name})`);
  log(`machine: ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${roundsPerFigure} rounds of ${seconds} s per figure`);

  const decoders: (() => Promise<Decoder>)[] = [
    () => ortDecoder(path, n, threads, z),
    () => ortDecoder(path, n, threads, z, true),
    ...(threads !== 1 ? [() => ortDecoder(path, n, 1, z)] : []),
    () => vaeDecoder(dir, n, threads, z),
    () => vaeDecoder(dir, n, threads, z, true),
  ];
  let parity: number | undefined;
  let tfBackend: string | undefined;
  if (!values['skip-tfjs']) {
    const tfjs = await tfjsDecoder(path, n, z);
    tfBackend = tfjs.backend;
    // Same weights, same numbers: compare 256 decodes with onnxruntime's.
    const vae = await loadVae(dir, { device: 'cpu' });
    const ref = (await vae.decode(z.subarray(0, 256 * n))).pixels;
    await vae.dispose();
    const got = tfjs.check(z.slice(0, 256 * n));
    parity = ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
    log(`tfjs: ${tfBackend}; max |tfjs - onnxruntime| over 256 decodes = ${parity.toExponential(2)}`);
    decoders.push(async () => tfjs.decoder);
  }
  const rows: Row[] = [];
  for (const open of decoders) rows.push(await measure(open, seconds, roundsPerFigure));

  if (values.json) {
    console.log(JSON.stringify({ model: dir, latentSize: n, threads, cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, tfjsBackend: tfBackend, parity, rows }, null, 2));
    return;
  }
  const header = ['runtime', 'batch-1 latency, ms: median (best)', ...BATCHES.map((b) => `batch ${b}, images/s: median (best)`)];
  const table = rows.map((r) => [r.runtime, fmtMs(r.latencyMs), ...BATCHES.map((b) => fmtRate(r.throughput[b]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  log('');
  log(line(header));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const t of table) log(line(t));
  // The targets are for what users call: the library's decode (which chunks big batches),
  // with a fresh output array per call and into a reused one.
  const verdict = (f: Figure, ok: (v: number) => boolean, fmt: (v: number) => string) =>
    `median ${fmt(f.median)} (${ok(f.median) ? 'met' : 'NOT met'}), best ${fmt(f.best)} (${ok(f.best) ? 'met' : 'NOT met'})`;
  log('');
  for (const row of rows.filter((r) => r.runtime.startsWith('@vae/runtime-node'))) {
    log(`targets, ${row.runtime}:`);
    log(`  batch-1 latency <= ${TARGET_LATENCY_MS} ms: ` + verdict(row.latencyMs, (v) => v <= TARGET_LATENCY_MS, (v) => `${v.toFixed(4)} ms`));
    log(`  >= ${TARGET_THROUGHPUT.toLocaleString('en-US')} images/s at batch 4096: ` +
      verdict(row.throughput[4096], (v) => v >= TARGET_THROUGHPUT, (v) => Math.round(v).toLocaleString('en-US')));
  }
}

await main();
