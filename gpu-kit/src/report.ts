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
  /** Decode images/s at the largest batch on WebGPU and on the CPU, and their ratio. */
  decode: { batch: number; webgpu: number; cpu: number; ratio: number } | null;
  /** Training steps/s at batch 256 on tfjs-webgpu and on tfjs-wasm (2 threads), their ratio, and the test losses after one epoch. */
  train: { webgpuStepsPerSec: number; wasmStepsPerSec: number; ratio: number; webgpuTestLoss: number; wasmTestLoss: number } | null;
  cuda: string | null;
  failedPhases: string[];
  seconds: number;
}

const ok = <T>(p: PhaseOutcome): T | undefined => (p.ok ? (p.result as T) : undefined);

export function summarize(r: KitResults): Summary {
  const env = ok<EnvironmentResult>(r.phases.environment);
  const parity = ok<ParityResult>(r.phases.parity);
  const gpuDecode = ok<DecodeResult>(r.phases.decodeWebgpu)?.batches.at(-1);
  const cpuDecode = ok<DecodeResult>(r.phases.decodeCpu)?.batches.at(-1);
  const gpuTrain = ok<TrainResult>(r.phases.trainWebgpu);
  const cpuTrain = ok<TrainResult>(r.phases.trainWasm);
  return {
    gpu: env?.gpus?.join('; ') ?? null,
    adapter: env?.webgpu.adapter ?? null,
    softwareAdapter: env?.webgpu.software ?? null,
    parity: parity ? { passed: parity.passed, rows: parity.rows.length, failed: parity.rows.filter((x) => x.status !== 'pass').length } : null,
    decode: gpuDecode && cpuDecode && gpuDecode.batch === cpuDecode.batch
      ? { batch: gpuDecode.batch, webgpu: gpuDecode.imagesPerSec, cpu: cpuDecode.imagesPerSec, ratio: round2(gpuDecode.imagesPerSec / cpuDecode.imagesPerSec) }
      : null,
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
  const gpu = ok<DecodeResult>(r.phases.decodeWebgpu);
  const cpu = ok<DecodeResult>(r.phases.decodeCpu);
  if (gpu || cpu) {
    lines.push('| batch | WebGPU images/s | CPU images/s | WebGPU / CPU |', '| ---: | ---: | ---: | ---: |');
    const batches = (gpu ?? cpu)!.batches.map((b) => b.batch);
    for (const batch of batches) {
      const g = gpu?.batches.find((b) => b.batch === batch)?.imagesPerSec;
      const c = cpu?.batches.find((b) => b.batch === batch)?.imagesPerSec;
      lines.push(`| ${batch} | ${g ?? '—'} | ${c ?? '—'} | ${g && c ? (g / c).toFixed(2) : '—'} |`);
    }
  }
  if (!gpu) lines.push('', `WebGPU: ${failure(r.phases.decodeWebgpu)}`);
  if (!cpu) lines.push('', `CPU: ${failure(r.phases.decodeCpu)}`);

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

function failure(p: PhaseOutcome): string {
  return p.ok ? '' : `failed: ${p.error}`;
}
