/**
 * The real pipeline through Turborepo on a small config: a first run executes every stage, a
 * second is all cache hits, and a change to one config section re-runs only the stages after
 * it. Uses pipeline/out (Turborepo's declared outputs), so it replaces the last pipeline
 * run's results there; `npm run pipeline` restores them from the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_DIR } from '../src/config.js';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(PACKAGE_DIR, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'vae-pipeline-'));
const runs = join(tmp, 'runs');
const configPath = join(tmp, 'pipeline-e2e.json');

function writeConfig(runtimes: string[], train: Record<string, unknown> = {}) {
  const c = JSON.parse(readFileSync(join(CONFIG_DIR, 'smoke.json'), 'utf8'));
  Object.assign(c, { name: 'pipeline-e2e', description: 'pipeline test' });
  c.train = { ...c.train, epochs: 1, trainLimit: 512, ...train };
  c.verify.runtimes = runtimes;
  writeFileSync(configPath, JSON.stringify(c, null, 2));
}

function pipeline(...args: string[]) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'pipeline', '--config', configPath, ...args], {
    encoding: 'utf8', env: { ...process.env, VAE_PIPELINE_RUNS: runs, TURBO_TELEMETRY_DISABLED: '1' }, timeout: 540_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out.slice(-4000));
  return { out, seconds: (performance.now() - started) / 1000 };
}

/** Turborepo's verdict per stage task: "hit" (restored from the cache) or "miss" (executed). */
function cacheStatus(out: string): Record<string, string> {
  const status: Record<string, string> = {};
  for (const m of out.matchAll(/@vae\/pipeline:vae:(\w+): cache (hit|miss|bypass)/g)) status[m[1]] = m[2];
  return status;
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('pipeline: first run executes every stage, the second is all cache hits, a config change re-runs only what depends on it', { timeout: 900_000 }, async (t) => {
  writeConfig(['node-cpu', 'web-node']);

  const first = pipeline('--force');
  assert.deepEqual(cacheStatus(first.out), { data: 'bypass', train: 'bypass', export: 'bypass', verify: 'bypass', report: 'bypass' }, first.out.slice(-3000));
  const report = readFileSync(join(PACKAGE_DIR, 'out', 'report', 'report.md'), 'utf8');
  assert.match(report, /# Pipeline report: pipeline-e2e/);
  assert.match(report, /1 epochs/);
  assert.match(report, /Parity: passed: node-cpu ran, web-node ran/);
  const model = JSON.parse(readFileSync(join(PACKAGE_DIR, 'out', 'export', 'model', 'manifest.json'), 'utf8'));
  assert.equal(model.name, 'pipeline-e2e');

  const second = pipeline();
  assert.deepEqual(cacheStatus(second.out), { data: 'hit', train: 'hit', export: 'hit', verify: 'hit', report: 'hit' }, second.out.slice(-3000));
  assert.match(second.out, /FULL TURBO/);
  t.diagnostic(`first run ${first.seconds.toFixed(1)} s, cache-hit run ${second.seconds.toFixed(1)} s`);

  // Only the verify section changes: data, train and export come from the cache.
  writeConfig(['node-cpu']);
  const third = pipeline();
  assert.deepEqual(cacheStatus(third.out), { data: 'hit', train: 'hit', export: 'hit', verify: 'miss', report: 'miss' }, third.out.slice(-3000));
  assert.match(readFileSync(join(PACKAGE_DIR, 'out', 'report', 'report.md'), 'utf8'), /Parity: passed: node-cpu ran\./);
});

test('pipeline: a conv VAE config goes through every stage, and its model says conv-vae', { timeout: 600_000 }, () => {
  writeConfig(['node-cpu'], { architecture: 'conv', channels: [8, 16], hiddenSizes: [], latentSize: 8, learningRate: 0.001 });
  const run = pipeline();
  assert.deepEqual(cacheStatus(run.out), { data: 'hit', train: 'miss', export: 'miss', verify: 'miss', report: 'miss' }, run.out.slice(-3000));
  const model = JSON.parse(readFileSync(join(PACKAGE_DIR, 'out', 'export', 'model', 'manifest.json'), 'utf8'));
  assert.deepEqual([model.model.architecture, model.model.channels, model.model.latentSize], ['conv-vae', [8, 16], 8]);
  assert.match(model.training.command, /--arch conv --channels 8 16/);
  assert.match(readFileSync(join(PACKAGE_DIR, 'out', 'report', 'report.md'), 'utf8'), /Parity: passed: node-cpu ran\./);
});

test('pipeline: a bad config is a usage error (exit 2) naming the field, and nothing runs', () => {
  writeFileSync(join(tmp, 'bad.json'), JSON.stringify({ name: 'bad', description: '', train: {}, export: { variants: true }, verify: { runtimes: ['node-cpu'] } }));
  const r = spawnSync(process.execPath, [CLI, 'pipeline', '--config', join(tmp, 'bad.json')], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.json is not a valid pipeline config/);
  assert.match(r.stderr, /train\.latentSize/);
  assert.doesNotMatch(r.stdout + r.stderr, /vae:data|cache (hit|miss)/, 'no stage ran');
});
