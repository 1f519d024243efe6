/**
 * `npm run bench:convert`: the converter on the real published models of the tests
 * (test/upscaler.ts, UpscalerJS super-resolution nets from npm).
 *
 *   node --import tsx tfjs-to-onnx-converter/bench/convert.ts [--size S] [--runs R] [--json]
 *
 * Per model:
 * - conversion: each model is loaded and converted in a child process of its own, so its peak
 *   memory is the conversion's alone: process.resourceUsage().maxRSS before and after
 *   convertLayersModel (the model already loaded), the first (cold) conversion's time and the
 *   median of 3 more (warm);
 * - size: model.onnx bytes against the weight shards' bytes (esrgan-legacy's are uint8-quantized;
 *   the ONNX graph holds float32 weights);
 * - latency on one 1×S×S×3 input (default S = 32), one thread each: the converted graph on
 *   onnxruntime-node (CPU, intra- and inter-op threads 1) vs the tfjs model itself on
 *   @tensorflow/tfjs-backend-wasm (setThreadsCount(1)), in one process, run interleaved (ort,
 *   tfjs, ort, tfjs, ...) after 2 warm-up runs each, so a busy machine slows both alike: the
 *   median of R runs (default 10) and the ratio tfjs / onnxruntime. The max abs difference of the
 *   two outputs is printed as a check.
 *
 * Not part of the package's build (run from source with tsx).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { convertLayersModel, loadLayersModelFromDir } from '../src/index.js';
import { REAL_MODELS, modelPath, registerUpscalerLayers, type RealModel } from '../test/upscaler.js';

const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const value = i < 0 ? fallback : Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} expects a positive integer, got ${args[i + 1]}`);
  return value;
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const MiB = 1024 * 1024;

interface ConversionStats {
  /** maxRSS (bytes) after loading the model, and after the conversions. */
  rssLoaded: number;
  rssPeak: number;
  coldMs: number;
  warmMs: number;
  onnxBytes: number;
  nodes: number;
  layers: number;
  classes: Record<string, number>;
}

/** The child: load, convert (cold, then 3 warm), write the ONNX file, print the stats as JSON. */
async function child(index: number, onnxPath: string): Promise<void> {
  await tf.setBackend('cpu');
  registerUpscalerLayers();
  const model = await loadLayersModelFromDir(modelPath(REAL_MODELS[index]));
  const rssLoaded = process.resourceUsage().maxRSS * 1024;
  let t = performance.now();
  const result = await convertLayersModel(model);
  const coldMs = performance.now() - t;
  const warm: number[] = [];
  for (let k = 0; k < 3; k++) {
    t = performance.now();
    await convertLayersModel(model);
    warm.push(performance.now() - t);
  }
  const rssPeak = process.resourceUsage().maxRSS * 1024;
  writeFileSync(onnxPath, result.bytes);
  const classes: Record<string, number> = {};
  for (const l of model.layers) classes[l.getClassName()] = (classes[l.getClassName()] ?? 0) + 1;
  const stats: ConversionStats = {
    rssLoaded, rssPeak, coldMs, warmMs: median(warm), onnxBytes: result.bytes.length,
    nodes: result.model.graph.node.length, layers: model.layers.length, classes,
  };
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}

function convertInChild(index: number, onnxPath: string): ConversionStats {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', String(index), onnxPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`conversion of ${REAL_MODELS[index].name} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ConversionStats;
}

/** Bytes of the model's weight shards. */
function weightBytes(model: RealModel): number {
  const file = modelPath(model);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  return json.weightsManifest.flatMap((g) => g.paths).reduce((sum, p) => sum + statSync(join(dirname(file), p)).size, 0);
}

interface Row {
  model: string;
  layers: number;
  classes: string;
  conversion: ConversionStats;
  weightBytes: number;
  ortMs: number;
  tfjsWasmMs: number;
  maxAbsDiff: number;
}

async function latency(real: RealModel, onnxPath: string, size: number, runs: number): Promise<Pick<Row, 'ortMs' | 'tfjsWasmMs' | 'maxAbsDiff'>> {
  const model = await loadLayersModelFromDir(modelPath(real));
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const data = Float32Array.from({ length: size * size * 3 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, size, size, 3]) };
  const x = tf.tensor4d(data, [1, size, size, 3]);
  const runOrt = async () => (await session.run(feeds))[session.outputNames[0]].data as Float32Array;
  const runTfjs = () => {
    const y = model.predict(x) as tf.Tensor;
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  };
  const a = await runOrt();
  const b = runTfjs();
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - b[i]));
  if (a.length !== b.length) throw new Error(`${real.name}: onnxruntime gave ${a.length} values, tfjs ${b.length}`);
  await runOrt(); runTfjs();
  const ortMs: number[] = [];
  const tfjsMs: number[] = [];
  for (let k = 0; k < runs; k++) {
    let t = performance.now();
    await runOrt();
    ortMs.push(performance.now() - t);
    t = performance.now();
    runTfjs();
    tfjsMs.push(performance.now() - t);
  }
  x.dispose();
  model.dispose();
  await session.release();
  return { ortMs: median(ortMs), tfjsWasmMs: median(tfjsMs), maxAbsDiff };
}

async function main(): Promise<void> {
  const size = option('--size', 32);
  const runs = option('--runs', 10);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-convert-'));
  try {
    const conversions = REAL_MODELS.map((real, i) => {
      process.stderr.write(`converting ${real.name} (child process)...\n`);
      return convertInChild(i, join(tmp, `${i}.onnx`));
    });
    setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to start');
    registerUpscalerLayers();
    const rows: Row[] = [];
    for (const [i, real] of REAL_MODELS.entries()) {
      process.stderr.write(`timing ${real.name}: onnxruntime-node vs tfjs-wasm, ${runs} interleaved runs on 1x${size}x${size}x3...\n`);
      const c = conversions[i];
      rows.push({
        model: real.name, layers: c.layers,
        classes: Object.entries(c.classes).map(([k, v]) => `${k} ${v}`).join(', '),
        conversion: c, weightBytes: weightBytes(real), ...(await latency(real, join(tmp, `${i}.onnx`), size, runs)),
      });
    }
    if (args.includes('--json')) {
      console.log(JSON.stringify({ size, runs, tfjs: tf.version.tfjs, ort: ort.env.versions.common, rows }, null, 2));
      return;
    }
    const header = ['model', 'layers', 'convert ms cold / warm', 'peak RSS MiB (loaded → converted)', 'ONNX / weights MB', `ort-node ms`, `tfjs-wasm ms`, 'tfjs / ort', 'max |diff|'];
    const table = rows.map((r) => [
      r.model, String(r.layers),
      `${r.conversion.coldMs.toFixed(0)} / ${r.conversion.warmMs.toFixed(0)}`,
      `${(r.conversion.rssLoaded / MiB).toFixed(0)} → ${(r.conversion.rssPeak / MiB).toFixed(0)}`,
      `${(r.conversion.onnxBytes / 1e6).toFixed(2)} / ${(r.weightBytes / 1e6).toFixed(2)} (${(r.conversion.onnxBytes / r.weightBytes).toFixed(2)}x)`,
      r.ortMs.toFixed(1), r.tfjsWasmMs.toFixed(1), `${(r.tfjsWasmMs / r.ortMs).toFixed(1)}x`, r.maxAbsDiff.toExponential(1),
    ]);
    const widths = header.map((h, j) => Math.max(h.length, ...table.map((row) => row[j].length)));
    const line = (cells: string[]) => `| ${cells.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`;
    console.log(`input 1x${size}x${size}x3, 1 thread each, median of ${runs} interleaved runs; tfjs ${tf.version.tfjs} (backend ${tf.getBackend()}), onnxruntime-node ${ort.env.versions.common}`);
    console.log(line(header));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const row of table) console.log(line(row));
    for (const r of rows) console.log(`${r.model}: ${r.classes}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (args[0] === '--child') await child(Number(args[1]), args[2]);
else await main();
