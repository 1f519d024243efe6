/** The `vae` binary as a user meets it: help, bad flags (exit 2), bad data (exit 1, nothing written). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { resolveDataDir } from '@vae/train';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const vae = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const tmp = () => mkdtemp(join(tmpdir(), 'vae-cli-test-'));

test('vae --help lists the subcommands', () => {
  const r = vae('--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /vae train/);
  assert.match(r.out, /vae evaluate/);
});

test('vae train --help explains --arch conv and its defaults', () => {
  const r = vae('train', '--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /--arch conv trains the convolutional VAE/);
  assert.match(r.out, /--arch\s+Model: mlp .* or conv/);
  assert.match(r.out, /0\.0001; 0\.001 with --arch conv/);
});

test('no command: exit 2 and the help', () => {
  const r = vae();
  assert.equal(r.code, 2);
  assert.match(r.err, /Commands:/);
});

const badFlags: [string[], RegExp][] = [
  [['train', '--bogus'], /Unknown argument: bogus/],
  [['train', '--latent', '0'], /--latent must be a positive integer, got 0/],
  [['train', '--latent', 'abc'], /--latent must be a positive integer, got NaN/],
  [['train', '--batch-size', '2.5'], /--batch-size must be a positive integer, got 2.5/],
  [['train', '--beta', '-1'], /--beta must be a number >= 0, got -1/],
  [['train', '--lr', '0'], /--lr must be a number > 0, got 0/],
  [['train', '--hidden', '256', 'x'], /--hidden must be positive integers/],
  [['train', '--backend', 'gpu'], /Invalid values:[\s\S]*backend/],
  [['train', '--dataset', 'cifar'], /Invalid values:[\s\S]*dataset/],
  [['train', '--resume'], /--resume needs --out RUN_DIR/],
  [['train', '--arch', 'rnn'], /Invalid values:[\s\S]*arch/],
  [['train', '--channels', '8', '16'], /--channels applies to --arch conv only/],
  [['train', '--arch', 'conv', '--channels', '8', '0'], /--channels must be positive integers/],
  [['evaluate'], /Not enough non-option arguments/],
  [['evaluate', 'runs/x', '--iwae-samples', '-1'], /--iwae-samples must be an integer >= 0, got -1/],
];
for (const [args, message] of badFlags) {
  test(`vae ${args.join(' ')}: exit 2 with the reason and the command's help`, () => {
    const r = vae(...args);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, message);
    assert.match(r.err, /Options:/);
  });
}

test('a data directory without MNIST: exit 1, names the missing file, writes nothing', async () => {
  const data = await tmp();
  const out = join(await tmp(), 'run');
  const r = vae('train', '--data-dir', data, '--epochs', '1', '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${data}/train-images-idx3-ubyte.gz: file not found`));
  assert.match(r.err, /point --data-dir \(or VAE_DATA_DIR\)/);
  assert.equal(existsSync(out), false);
});

test('a corrupted MNIST file: exit 1 with the checksum mismatch, writes nothing', async () => {
  const mnist = resolveDataDir({ dataset: 'mnist' }).dir;
  const data = await tmp();
  for (const f of await readdir(mnist)) if (f.endsWith('.gz')) await copyFile(join(mnist, f), join(data, f));
  // A valid IDX file with one pixel changed: parses fine, fails only the checksum.
  const raw = gunzipSync(await readFile(join(data, 't10k-images-idx3-ubyte.gz')));
  raw[5000] ^= 0xff;
  await writeFile(join(data, 't10k-images-idx3-ubyte.gz'), gzipSync(raw));
  const out = join(await tmp(), 'run');
  const r = vae('train', '--data-dir', data, '--epochs', '1', '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.err, /t10k-images-idx3-ubyte\.gz: checksum mismatch: expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}/);
  assert.equal(existsSync(out), false);
});

test('--backend tensorflow without tfjs-node says how to install it', () => {
  const r = vae('train', '--backend', 'tensorflow', '--out', join(tmpdir(), 'never-written'));
  assert.equal(r.code, 1);
  assert.match(r.err, /npm install @tensorflow\/tfjs-node/);
});

test('vae train --help explains --backend webgpu (Dawn, the webgpu package, SwiftShader is slow)', () => {
  const r = vae('train', '--help');
  assert.equal(r.code, 0);
  const help = r.out.replace(/\s+/g, ' ');
  assert.match(help, /"webgpu"/);
  assert.match(help, /webgpu \(only by name\) runs tfjs-backend-webgpu on Dawn, the optional `webgpu` npm package/);
  assert.match(help, /Vulkan on Linux, Metal on macOS, D3D12 on Windows/);
  assert.match(help, /SwiftShader .* a CPU emulation, slower than wasm/);
});

// VK_ICD_FILENAMES pointing nowhere hides every Vulkan driver; elsewhere Dawn uses Metal / D3D12.
const linuxOnly = process.platform === 'linux' ? false : 'Vulkan is WebGPU\'s driver on Linux only';
test('--backend webgpu without a Vulkan driver says no adapter was found and what Vulkan needs, and writes nothing', { skip: linuxOnly }, () => {
  const out = join(tmpdir(), `never-written-${process.pid}`);
  const r = spawnSync(process.execPath, [CLI, 'train', '--backend', 'webgpu', '--out', out], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no WebGPU adapter found.*VK_ICD_FILENAMES/);
  assert.equal(existsSync(out), false);
});

test('vae evaluate on a folder that is not a run explains what it expected', async () => {
  const dir = await tmp();
  const r = vae('evaluate', dir);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not a training run: it has no checkpoint\.bin/);
});

test('vae train then vae evaluate: one real epoch, the Table 1 row matches the training log', async () => {
  const out = join(await tmp(), 'run');
  const t = vae('train', '--out', out, '--epochs', '1', '--train-limit', '2000', '--latent', '2', '--backend', 'wasm');
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /backend: wasm/);
  assert.match(t.out, /epoch 1: train bce [\d.]+ kl [\d.]+ total [\d.]+ \| test/);
  const e = vae('evaluate', out, '--json');
  assert.equal(e.code, 0, e.err);
  const [row] = JSON.parse(e.out);
  const log = JSON.parse((await readFile(join(out, 'log.jsonl'), 'utf8')).trim());
  assert.equal(row.latentSize, 2);
  assert.equal(row.images, 10000);
  assert.ok(Math.abs(row.total - log.test.total) < 1e-6 * log.test.total, `${row.total} vs ${log.test.total}`);
  const table = vae('evaluate', out);
  assert.match(table.out, /\| n \| beta \| L_BCE \| L_KL \| L_VAE \|\n\| --- \| --- \| --- \| --- \| --- \|\n\| 2 \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
});

test('Ctrl-C (SIGINT) during training saves a checkpoint, exits 130, and --resume finishes the run', async () => {
  const out = join(await tmp(), 'run');
  const args = [CLI, 'train', '--out', out, '--epochs', '3', '--train-limit', '3000', '--latent', '2', '--backend', 'wasm'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    // Interrupt once, as soon as the first epoch is logged: somewhere inside epoch 2.
    if (!sent && stdout.includes('epoch 1:')) sent = child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 130, stdout);
  assert.match(stdout, /checkpoint saved in .* after [12] complete epochs; continue with: vae train --resume --out/);
  const resumed = vae('train', '--resume', '--out', out, '--backend', 'wasm');
  assert.equal(resumed.code, 0, resumed.err);
  const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).epoch);
  assert.deepEqual(log, [1, 2, 3]);
});
