/** `vae train`, as a yargs command module (collected by the `vae` binary, cli.ts), on @vae/train's `train`. */
import { SingleBar } from 'cli-progress';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  ARCHITECTURES, BACKEND_CHOICES, CONV_DEFAULTS, DEFAULT_THREADS, PAPER_DEFAULTS, train,
  type Architecture, type BackendChoice, type DatasetName, type EpochRecord, type LossMeans,
} from '@vae/train';

/** --backend's help, shared with `vae evaluate`. */
export const BACKEND_HELP =
  'tfjs backend; auto = tfjs-node-gpu > tfjs-node > wasm > cpu. webgpu (only by name) runs tfjs-backend-webgpu on Dawn, ' +
  'the optional `webgpu` npm package (npm install webgpu@0.6.2): Vulkan on Linux, Metal on macOS, D3D12 on Windows. ' +
  'Without a GPU driver Dawn finds no adapter; with SwiftShader (VK_ICD_FILENAMES, as in CI) it is a CPU emulation, slower than wasm';

const fmt = (m: LossMeans) => `bce ${m.bce.toFixed(2)} kl ${m.kl.toFixed(2)} total ${m.total.toFixed(2)}`;

interface TrainArgs {
  out?: string; dataset: DatasetName; 'data-dir'?: string; arch: Architecture; latent: number; hidden?: number[];
  channels?: number[]; beta: number; lr?: number; 'batch-size': number; epochs?: number; seed: number; backend: BackendChoice; threads: number;
  'train-limit'?: number; 'test-limit'?: number; resume: boolean;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train the VAE on MNIST (or Fashion-MNIST); writes a run directory with config, log and checkpoint',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 train [options]\n\nTrains the paper\'s MLP VAE. Defaults are the paper\'s: n = 64, beta = 1, Adam lr 1e-4, batch 256, 300 epochs.\n' +
        `--arch conv trains the convolutional VAE instead (tfjs layers): two 4x4 stride-2 conv blocks (--channels ${CONV_DEFAULTS.model.channels.join(' ')}) ` +
        `into the mu/logvar heads, mirrored by transposed convs in the decoder; same loss, data and run folder, Adam lr ${CONV_DEFAULTS.learningRate} by default.\n` +
        'Ctrl-C saves a checkpoint and exits; continue with --resume.',
      )
      .option('out', { type: 'string', describe: 'Run directory [default: runs/<dataset>[-conv]-n<latent>-beta<beta>]' })
      .option('dataset', { choices: ['mnist', 'fashion-mnist'] as const, default: PAPER_DEFAULTS.dataset, describe: 'Training data' })
      .option('data-dir', { type: 'string', describe: 'Folder with the four IDX files (else $VAE_DATA_DIR; for fashion-mnist, Debian\'s dataset-fashion-mnist package; else a download into the per-user cache)' })
      .option('arch', { choices: ARCHITECTURES, default: 'mlp' as Architecture, describe: 'Model: mlp (the paper\'s) or conv (convolutional encoder and decoder, about 7x the flops per image)' })
      .option('latent', { alias: 'n', type: 'number', default: PAPER_DEFAULTS.model.latentSize, describe: 'Latent dimension n' })
      .option('hidden', { type: 'array', number: true, describe: `Dense hidden layer sizes, decoder mirrors them [default: ${PAPER_DEFAULTS.model.hiddenSizes.join(' ')}; none with --arch conv]` })
      .option('channels', { type: 'array', number: true, describe: `--arch conv: filters of the stride-2 conv blocks [default: ${CONV_DEFAULTS.model.channels.join(' ')}]` })
      .option('beta', { type: 'number', default: PAPER_DEFAULTS.beta, describe: 'KL weight: loss = BCE + beta * KL' })
      .option('lr', { type: 'number', describe: `Adam learning rate [default: ${PAPER_DEFAULTS.learningRate}; ${CONV_DEFAULTS.learningRate} with --arch conv]` })
      .option('batch-size', { type: 'number', default: PAPER_DEFAULTS.batchSize, describe: 'Images per step' })
      .option('epochs', { type: 'number', describe: `Epochs to train to [default: ${PAPER_DEFAULTS.epochs}, or the run's own with --resume]` })
      .option('seed', { type: 'number', default: PAPER_DEFAULTS.seed, describe: 'Seed for init, shuffling and noise' })
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: BACKEND_HELP })
      .option('threads', { type: 'number', default: DEFAULT_THREADS, describe: 'Worker threads for data-parallel training (wasm backend only: tensorflow and webgpu train in one thread; the count is part of the run\'s config)' })
      .option('train-limit', { type: 'number', describe: 'Use only the first N training images (quick runs)' })
      .option('test-limit', { type: 'number', describe: 'Evaluate each epoch on only the first N test images (quick runs; the losses are then over N)' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue the run in --out from its checkpoint' })
      .check((a) => {
        if (a.resume && !a.out) throw new Error('--resume needs --out RUN_DIR, the run to continue');
        const positiveInts = { latent: a.latent, 'batch-size': a['batch-size'], epochs: a.epochs, threads: a.threads, 'train-limit': a['train-limit'], 'test-limit': a['test-limit'] };
        for (const [flag, v] of Object.entries(positiveInts)) {
          if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new Error(`--${flag} must be a positive integer, got ${v}`);
        }
        if (a.hidden && !a.hidden.every((h) => Number.isInteger(h) && h > 0)) throw new Error(`--hidden must be positive integers, e.g. --hidden 256 256, got ${a.hidden.join(' ')}`);
        if (a.channels && a.arch !== 'conv') throw new Error('--channels applies to --arch conv only');
        if (a.channels && !(a.channels.length > 0 && a.channels.every((c) => Number.isInteger(c) && c > 0))) {
          throw new Error(`--channels must be positive integers, e.g. --channels 32 64, got ${a.channels.join(' ')}`);
        }
        if (!(a.beta >= 0 && Number.isFinite(a.beta))) throw new Error(`--beta must be a number >= 0, got ${a.beta}`);
        if (a.lr !== undefined && !(a.lr > 0 && Number.isFinite(a.lr))) throw new Error(`--lr must be a number > 0, got ${a.lr}`);
        if (!(Number.isInteger(a.seed) && a.seed >= 0 && a.seed < 2 ** 32)) throw new Error(`--seed must be an integer in [0, 2^32), got ${a.seed}`);
        return true;
      }) as unknown as Argv<TrainArgs>,
  handler: async (a) => {
    const outDir = a.out ?? join('runs', `${a.dataset}${a.arch === 'conv' ? '-conv' : ''}-n${a.latent}-beta${a.beta}`);
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
      bar?.stop();
      console.error('\nstopping: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
    };
    process.on('SIGINT', onSigint);
    const interactive = Boolean(process.stderr.isTTY);
    let bar: SingleBar | undefined;
    const started = performance.now();
    try {
      const result = await train({
        outDir, dataset: a.dataset, dataDir: a['data-dir'], architecture: a.arch, latentSize: a.latent, hiddenSizes: a.hidden, channels: a.channels,
        beta: a.beta, learningRate: a.lr, batchSize: a['batch-size'], epochs: a.epochs, seed: a.seed,
        backend: a.backend, threads: a.threads, trainLimit: a['train-limit'], testLimit: a['test-limit'], resume: a.resume,
        signal: controller.signal,
        onBackend: (b) => console.log(`backend: ${b.description}`),
        onNotice: (m) => console.log(`note: ${m}`),
        onProgress: (p) => {
          if (!interactive || controller.signal.aborted) return;
          if (!bar) {
            bar = new SingleBar({
              format: 'epoch {ep} |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | ETA {eta_formatted}',
              hideCursor: true, etaBuffer: 50,
            });
            bar.start(p.steps, 0, { ep: '', loss: '', ips: '' });
          }
          if (p.step === 1) bar.setTotal(p.steps);
          bar.update(p.step, { ep: `${p.epoch}/${p.epochs}`, loss: p.loss.toFixed(2), ips: p.imagesPerSec.toFixed(0) });
        },
        onEpoch: (r: EpochRecord) => {
          bar?.stop();
          bar = undefined;
          console.log(`epoch ${r.epoch}: train ${fmt(r.train)} | test ${fmt(r.test)} | ${r.seconds.toFixed(1)} s, ${r.imagesPerSec.toFixed(0)} img/s`);
        },
      });
      if (result.interrupted) {
        console.log(`checkpoint saved in ${outDir} after ${result.epochsDone} complete epochs; continue with: vae train --resume --out ${outDir}`);
        process.exitCode = 130;
      } else {
        console.log(`done: ${result.epochsDone} epochs in ${((performance.now() - started) / 1000).toFixed(1)} s; run directory ${outDir}`);
      }
    } finally {
      bar?.stop();
      process.off('SIGINT', onSigint);
    }
  },
};
