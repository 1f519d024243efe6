/** The kit's results: the JSON written by run.ts, its one-line summary, and the Markdown view. */
import type { DecodeResult, EnvironmentResult, ParityResult, ScalingResult, TrainResult } from './phases.js';

export type PhaseOutcome<T = unknown> = { ok: true; seconds: number; result: T } | { ok: false; seconds: number; error: string };

export interface KitResults {
  format: 'vae-gpu-kit-results';
  version: 1;
  createdAt: string;
  /** --quick: small batches and a short epoch; figures from it say nothing about speed. */
  quick: boolean;
  seconds: number;
  phases: {
    environment: PhaseOutcome;
    parity: PhaseOutcome;
    decodeWebgpu: PhaseOutcome;
    decodeCpu: PhaseOutcome;
    /** The conv VAE's decoder (mnist-n64-conv); the two above are the MLP's (mnist-n64-beta1). */
    decodeConvWebgpu: PhaseOutcome;
    decodeConvCpu: PhaseOutcome;
    trainWebgpu: PhaseOutcome;
    trainWasm: PhaseOutcome;
    trainScaling: PhaseOutcome;
  };
  summary: Summary;
}

export interface Summary {
  gpu: string | null;
  adapter: string | null;
  /** A software adapter (SwiftShader, llvmpipe): the speed figures are the CPU's, not a GPU's. */
  softwareAdapter: boolean | null;
  parity: { passed: boolean; rows: number; failed: number } | null;
  /** The MLP n = 64 decoder's images/s at the largest batch on WebGPU and on the CPU, and their ratio. */
  decode: DecodeSummary | null;
  /** The same for the conv n = 64 decoder (its largest batch is smaller: run.ts says why). */
  decodeConv: DecodeSummary | null;
  /** Training steps/s at batch 256 on tfjs-webgpu and on tfjs-wasm (2 threads), their ratio, and the test losses after one epoch. */
  train: { webgpuStepsPerSec: number; wasmStepsPerSec: number; ratio: number; webgpuTestLoss: number; wasmTestLoss: number } | null;
  cuda: string | null;
  failedPhases: string[];
  seconds: number;
}

export interface DecodeSummary { batch: number; webgpu: number; cpu: number; ratio: number }

const ok = <T>(p: PhaseOutcome): T | undefined => (p.ok ? (p.result as T) : undefined);

export function summarize(r: KitResults): Summary {
  const env = ok<EnvironmentResult>(r.phases.environment);
  const parity = ok<ParityResult>(r.phases.parity);
  const gpuTrain = ok<TrainResult>(r.phases.trainWebgpu);
  const cpuTrain = ok<TrainResult>(r.phases.trainWasm);
  return {
    gpu: env?.gpus?.join('; ') ?? null,
    adapter: env?.webgpu.adapter ?? null,
    softwareAdapter: env?.webgpu.software ?? null,
    parity: parity ? { passed: parity.passed, rows: parity.rows.length, failed: parity.rows.filter((x) => x.status !== 'pass').length } : null,
    decode: decodeSummary(r.phases.decodeWebgpu, r.phases.decodeCpu),
    decodeConv: decodeSummary(r.phases.decodeConvWebgpu, r.phases.decodeConvCpu),
    train: gpuTrain && cpuTrain
      ? {
        webgpuStepsPerSec: gpuTrain.stepsPerSec, wasmStepsPerSec: cpuTrain.stepsPerSec, ratio: round2(gpuTrain.stepsPerSec / cpuTrain.stepsPerSec),
        webgpuTestLoss: round2(gpuTrain.test.total), wasmTestLoss: round2(cpuTrain.test.total),
      }
      : null,
    cuda: env ? (env.cuda.available ? 'available' : `absent: ${env.cuda.reason}`) : null,
    failedPhases: Object.entries(r.phases).filter(([, p]) => !p.ok).map(([name]) => name),
    seconds: r.seconds,
  };
}

/** The largest batch of both devices (null unless both ran it). */
function decodeSummary(webgpu: PhaseOutcome, cpu: PhaseOutcome): DecodeSummary | null {
  const g = ok<DecodeResult>(webgpu)?.batches.at(-1);
  const c = ok<DecodeResult>(cpu)?.batches.at(-1);
  return g && c && g.batch === c.batch ? { batch: g.batch, webgpu: g.imagesPerSec, cpu: c.imagesPerSec, ratio: round2(g.imagesPerSec / c.imagesPerSec) } : null;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function formatMarkdown(r: KitResults): string {
  const s = r.summary;
  const lines = [
    `# GPU kit results (${r.createdAt})`,
    '',
    r.quick ? '**--quick run: small batches and a short epoch; the speed figures mean nothing.**\n' : '',
    s.softwareAdapter ? '**The WebGPU adapter is a software one (the CPU): GPU speed figures mean nothing here.**\n' : '',
    `- GPU: ${s.gpu ?? 'none found by nvidia-smi'}`,
    `- WebGPU adapter: ${s.adapter ?? 'none'}`,
    `- CUDA execution provider: ${s.cuda ?? 'not checked'}`,
    `- Total: ${r.seconds} s`,
    '',
  ];
  const env = ok<EnvironmentResult>(r.phases.environment);
  if (env) lines.push(`Machine: ${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB; Node ${env.node}; Vulkan driver: ${env.vulkanDriver ?? 'the loader\'s default search'}.`, '');

  lines.push('## Parity (vae verify, node-cpu and node-webgpu)', '');
  const parity = ok<ParityResult>(r.phases.parity);
  if (parity) {
    lines.push('| model | graph | runtime | status | max abs error | tolerance |', '| --- | --- | --- | --- | --- | --- |');
    for (const row of parity.rows) {
      lines.push(`| ${row.model} | ${row.graph} | ${row.runtime} | ${row.status}${row.reason ? ` (${row.reason})` : ''} | ${row.maxAbs?.toExponential(2) ?? ''} | ${row.tolerance ?? ''} |`);
    }
  } else lines.push(failure(r.phases.parity));

  lines.push('', '## Decode throughput (fp32 decoder, session.run, outputs copied back)', '');
  lines.push(...decodeTable('MLP, n = 64 (mnist-n64-beta1)', r.phases.decodeWebgpu, r.phases.decodeCpu));
  lines.push(...decodeTable('conv, n = 64 (mnist-n64-conv), ~7x the multiply-adds per image', r.phases.decodeConvWebgpu, r.phases.decodeConvCpu));

  lines.push('', '## tfjs training, one epoch of MNIST (paper model, batch 256)', '');
  const tg = ok<TrainResult>(r.phases.trainWebgpu);
  const tc = ok<TrainResult>(r.phases.trainWasm);
  lines.push('| backend | images | steps/s | ms/step | epoch s | train loss | test loss |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [label, t, p] of [['webgpu', tg, r.phases.trainWebgpu], ['wasm', tc, r.phases.trainWasm]] as const) {
    lines.push(t
      ? `| ${t.description} (${t.threads} thread${t.threads > 1 ? 's' : ''}) | ${t.images} | ${t.stepsPerSec} | ${t.msPerStep} | ${t.epochSeconds} | ${t.train.total.toFixed(2)} | ${t.test.total.toFixed(2)} |`
      : `| ${label} | ${failure(p)} | | | | | |`);
  }
  if (s.train) lines.push('', `webgpu / wasm steps per second: ${s.train.ratio}`);

  lines.push('', '## Training steps per second against the batch size (random inputs)', '');
  const scaling = ok<ScalingResult>(r.phases.trainScaling);
  if (scaling) {
    lines.push('| backend | threads | batch | steps/s | ms/step | of which recording ops (ms) | kernels/step | images/s |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of scaling.rows) lines.push(`| ${row.backend} | ${row.threads} | ${row.batch} | ${row.stepsPerSec} | ${row.msPerStep} | ${row.issueMsPerStep} | ${row.kernelsPerStep ?? '—'} | ${row.imagesPerSec} |`);
  } else lines.push(failure(r.phases.trainScaling));
  lines.push('', '## Summary', '', '```json', JSON.stringify(s, null, 2), '```', '');
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n');
}

function decodeTable(title: string, webgpu: PhaseOutcome, cpu: PhaseOutcome): string[] {
  const lines = ['', `### ${title}`, ''];
  const gpu = ok<DecodeResult>(webgpu);
  const cpuResult = ok<DecodeResult>(cpu);
  if (gpu || cpuResult) {
    lines.push('| batch | WebGPU images/s | CPU images/s | WebGPU / CPU |', '| ---: | ---: | ---: | ---: |');
    for (const batch of (gpu ?? cpuResult)!.batches.map((b) => b.batch)) {
      const g = gpu?.batches.find((b) => b.batch === batch)?.imagesPerSec;
      const c = cpuResult?.batches.find((b) => b.batch === batch)?.imagesPerSec;
      lines.push(`| ${batch} | ${g ?? '—'} | ${c ?? '—'} | ${g && c ? (g / c).toFixed(2) : '—'} |`);
    }
  }
  if (!gpu) lines.push('', `WebGPU: ${failure(webgpu)}`);
  if (!cpuResult) lines.push('', `CPU: ${failure(cpu)}`);
  return lines;
}

function failure(p: PhaseOutcome): string {
  return p.ok ? '' : `failed: ${p.error}`;
}
