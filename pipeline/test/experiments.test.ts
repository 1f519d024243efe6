import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitInfo } from '@vae/export';
import { checkFindings, formatResults, shortenedRunNote, targetCheck, type PaperResults, type SettingResult } from '../src/paper/experiments.js';
import { REPO_ROOT } from '../src/paths.js';

const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist', 'cli.js');

const setting = (latentSize: number, beta: number, bce: number, kl: number, gap = 0.5): SettingResult => ({
  config: `n${latentSize}-beta${beta}`, latentSize, beta, epochs: 1, scheduledEpochs: 300, test: { bce, kl, total: bce + beta * kl },
  backend: 'wasm', trainSeconds: 1, runDir: 'x', lastEpoch: { train: bce + beta * kl + gap, test: bce + beta * kl }, lastTenEpochsDrop: NaN,
});

test('checkFindings: says yes where the paper\'s claims hold and no where they do not', () => {
  const paperLike = [setting(1, 1, 157, 4), setting(2, 1, 138, 7), setting(64, 1, 76, 24), setting(64, 0.1, 59, 78), setting(64, 10, 143, 4)];
  const findings = checkFindings(paperLike);
  assert.equal(findings.length, 4);
  assert.ok(findings.every((f) => f.holds), JSON.stringify(findings));

  const broken = [setting(1, 1, 120, 4), setting(2, 1, 138, 7, 9), setting(64, 1, 76, 24), setting(64, 0.1, 80, 10)];
  const verdicts = Object.fromEntries(checkFindings(broken).map((f) => [f.claim.slice(0, 20), f.holds]));
  assert.deepEqual(Object.values(verdicts), [false, false, false, false], JSON.stringify(verdicts));
});

test('shortenedRunNote: says how many epochs ran of the schedule and how fast the loss was still falling; silent for full runs', () => {
  const full = { ...setting(64, 1, 76, 24), epochs: 300, lastTenEpochsDrop: 0.1 };
  assert.deepEqual(shortenedRunNote([full]), []);
  const short = [{ ...setting(1, 1, 157, 4), epochs: 60, lastTenEpochsDrop: 0.42 }, full];
  const text = shortenedRunNote(short).join('\n');
  assert.match(text, /1 of 2 settings ran 60 of the scheduled 300 epochs/);
  assert.match(text, /dropped 0\.42 \(n = 1, beta 1\)/);
  assert.doesNotMatch(text, /n = 64/);
});

test('targetCheck and results.md: each setting\'s BCE and KL against Table 1, within 3% or not', () => {
  const withPaper = (s: SettingResult, bce: number, kl: number): SettingResult => ({
    ...s, paper: { bce, kl, total: bce + s.beta * kl }, difference: { bce: s.test.bce - bce, kl: s.test.kl - kl, total: s.test.total - bce - s.beta * kl },
  });
  const close = withPaper(setting(64, 0.1, 59.26, 77.03), 59.18, 77.68); // +0.1% BCE, -0.8% KL
  const far = withPaper(setting(2, 1, 142.65, 6.22), 138.0, 6.49); // +3.4% BCE
  const checks = targetCheck([close, far, setting(64, 1, 76, 24)]); // the last has no Table 1 row
  assert.equal(checks.length, 2);
  assert.ok(Math.abs(checks[0].bce - (59.26 - 59.18) / 59.18) < 1e-12);
  assert.ok(Math.abs(checks[0].kl - (77.03 - 77.68) / 77.68) < 1e-12);
  assert.deepEqual(checks.map((c) => c.within), [true, false]);
  const md = formatResults({ createdAt: '2026-12-01T00:00:00Z', commit: 'abc', dirty: false, command: 'vae experiments paper', settings: [close, far], figures: ['n64-tsne.png'] });
  assert.match(md, /1 of 2 settings have test BCE and KL both within 3% of the paper's/);
  assert.match(md, /\| 64 \| 0\.1 \| 1 \| \+0\.1% \| -0\.8% \| yes \|/);
  assert.match(md, /\| 2 \| 1 \| 1 \| \+3\.4% \| -4\.2% \| \*\*no\*\* \|/);
  assert.match(md, /\[n64-tsne\.png\]\(n64-tsne\.png\): n = 64: t-SNE \(Barnes-Hut\)/);
});

test('vae experiments paper: trains, evaluates, estimates the NLL and draws every figure (1 epoch, real MNIST)', { timeout: 600_000 }, (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'vae-experiments-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const before = gitInfo(REPO_ROOT);
  const r = spawnSync(process.execPath, [
    CLI, 'experiments', 'paper', '--epochs', '1', '--only', 'n1-beta1', 'n2-beta1', 'paper', '--iwae-samples', '5',
    '--runs', join(tmp, 'runs'), '--out', join(tmp, 'out'),
  ], { encoding: 'utf8', timeout: 540_000 });
  assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-3000));

  const results = JSON.parse(readFileSync(join(tmp, 'out', 'results.json'), 'utf8')) as PaperResults;
  // The commit and tree state of the code that ran, as they were when the command started.
  assert.deepEqual({ commit: results.commit, dirty: results.dirty }, before);
  assert.deepEqual(results.settings.map((s) => [s.latentSize, s.beta, s.epochs]), [[1, 1, 1], [2, 1, 1], [64, 1, 1]]);
  for (const s of results.settings) {
    // After one epoch the test loss is well below the ~544 nats of an untrained decoder, and
    // the row adds up.
    assert.ok(s.test.total > 100 && s.test.total < 300, `${s.config}: ${s.test.total}`);
    assert.ok(Math.abs(s.test.bce + s.beta * s.test.kl - s.test.total) < 1e-6);
    assert.ok(s.paper && Math.abs(s.difference!.total - (s.test.total - s.paper.total)) < 1e-9);
  }
  const paper = results.settings[2];
  assert.ok(results.nll && results.nll.samples === 5 && results.nll.images === 10_000);
  // The importance-weighted bound is tighter than the ELBO it starts from.
  assert.ok(results.nll.nll < paper.test.total, `NLL ${results.nll.nll} vs ELBO ${paper.test.total}`);

  const figures = ['loss-curves.png', 'n1-sweep.png', 'n1-latents.png', 'n2-manifold.png', 'n2-latents.png', 'n64-reconstructions.png', 'n64-samples.png', 'n64-tsne.png', 'n64-umap.png'];
  assert.deepEqual(results.figures.toSorted(), figures.toSorted());
  const written = readdirSync(join(tmp, 'out'));
  for (const f of figures) {
    assert.ok(written.includes(f), `${f} missing`);
    assert.deepEqual([...readFileSync(join(tmp, 'out', f)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${f} is not a PNG`);
  }
  const md = readFileSync(join(tmp, 'out', 'results.md'), 'utf8');
  assert.match(md, /\| 64 \| 1 \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 76\.23 \| 23\.80 \| 100\.03 \|/);
  assert.match(md, /k = 5 samples per image/);
  assert.match(md, /every setting ran 1 of the scheduled 300 epochs/);
  assert.ok(!written.some((f) => f.endsWith('.tmp')), 'no temporary files left');
});
