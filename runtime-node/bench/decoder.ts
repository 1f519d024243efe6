/**
 * Decoder speed: batch-1 latency and throughput at batch 256 and 4096, for onnxruntime-node
 * on the CPU (raw session.run on pre-made input tensors, with onnxruntime-allocated or
 * pre-allocated outputs, 2 and 1 threads; and through the library's vae.decode).
 *
 *   node --import tsx runtime-node/bench/decoder.ts [--model DIR] [--threads N] [--seconds S] [--rounds R] [--json]
 *
 * `npm run bench:node` runs pipeline/bench/decoder.ts instead: this bench plus tfjs (wasm
 * backend) running the same weights (the comparison needs @vae/train, which this package
 * does not depend on).
 *
 * Decoders are measured one at a time, each in several rounds; within a round every batch
 * size takes its turn. The table shows the median round and the best one (the best is the least
 * disturbed by other processes on a shared machine).
 * Not part of the library (not built, not published).
 */
import { availableParallelism, cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadModelDir, releasedModelDir } from '@vae/models/node';
import { seededNormals } from '@vae/runtime-core';
import { loadVae } from '../src/index.js';

const TARGET_LATENCY_MS = 0.1;
const TARGET_THROUGHPUT = 200_000;
const BATCHES = [256, 4096];

export interface Figure { median: number; best: number; rounds: number[] }
export interface Row { runtime: string; latencyMs: Figure; throughput: Record<number, Figure> }

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

export type Decoder = { name: string; run: (batch: number) => () => Promise<unknown> | unknown; release?: () => Promise<void> | void };

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

/**
 * Another implementation to time against onnxruntime's (pipeline/bench/decoder.ts: tfjs).
 * `open` gets the decoder graph's path and the bench's latent vectors, may log a line (e.g.
 * its parity with onnxruntime), and returns the decoder and what the JSON report adds.
 */
export interface Comparison {
  /** The flag that leaves it out, e.g. 'skip-tfjs'. */
  skipFlag: string;
  open(context: { dir: string; path: string; n: number; z: Float32Array; log: (line: string) => void }): Promise<{ decoder: Decoder; report: Record<string, unknown> }>;
}

const fmtMs = (f: Figure) => `${f.median.toFixed(4)} (best ${f.best.toFixed(4)})`;
const fmtRate = (f: Figure) => `${Math.round(f.median).toLocaleString('en-US')} (best ${Math.round(f.best).toLocaleString('en-US')})`;

/** Parses the command line, measures, prints the table (or JSON) and the verdicts on the targets. */
export async function main(comparison?: Comparison): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, threads: { type: 'string' }, seconds: { type: 'string', default: '0.2' },
      rounds: { type: 'string', default: '9' }, json: { type: 'boolean', default: false },
      ...(comparison ? { [comparison.skipFlag]: { type: 'boolean', default: false } } : {}),
    },
  }) as { values: { model?: string; threads?: string; seconds: string; rounds: string; json: boolean } & Record<string, unknown> };
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
  let compared: Record<string, unknown> = {};
  if (comparison && !values[comparison.skipFlag]) {
    const { decoder, report } = await comparison.open({ dir, path, n, z, log });
    compared = report;
    decoders.push(async () => decoder);
  }
  const rows: Row[] = [];
  for (const open of decoders) rows.push(await measure(open, seconds, roundsPerFigure));

  if (values.json) {
    console.log(JSON.stringify({ model: dir, latentSize: n, threads, cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, ...compared, rows }, null, 2));
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

// Run as a script (not when pipeline/bench/decoder.ts imports it).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
