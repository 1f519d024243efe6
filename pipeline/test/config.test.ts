import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_DIR, configJsonSchema, configNames, loadConfig, stageKeys, TABLE1_CONFIGS } from '../src/config.js';

const tmp = mkdtempSync(join(tmpdir(), 'vae-config-'));
const writeConfig = (name: string, edit: (c: Record<string, any>) => void) => {
  const c = JSON.parse(readFileSync(join(CONFIG_DIR, 'smoke.json'), 'utf8'));
  c.name = name;
  edit(c);
  const path = join(tmp, `${name}.json`);
  writeFileSync(path, JSON.stringify(c));
  return path;
};

test('every config in pipeline/configs is valid, and the seven Table 1 settings carry the paper\'s numbers', () => {
  const names = configNames();
  for (const n of ['paper', 'smoke', ...TABLE1_CONFIGS]) assert.ok(names.includes(n), `configs/${n}.json is missing`);
  for (const n of names) loadConfig(n);
  for (const n of TABLE1_CONFIGS) {
    const c = loadConfig(n);
    assert.equal(c.train.epochs, 300, `${n}: the paper trains 300 epochs`);
    assert.ok(c.reference, `${n}: no Table 1 row`);
    // The table's own check: total = BCE + beta * KL, up to rounding each figure to 0.01.
    const rounding = 0.005 * (2 + c.train.beta);
    assert.ok(Math.abs(c.reference.bce + c.train.beta * c.reference.kl - c.reference.total) <= rounding + 1e-9, `${n}: reference row does not add up`);
  }
  const paper = loadConfig('paper').train;
  assert.deepEqual([paper.latentSize, paper.beta, paper.learningRate, paper.batchSize, paper.hiddenSizes], [64, 1, 1e-4, 256, [256, 256]]);
});

test('configs/config.schema.json is the zod schema\'s JSON Schema (regenerate: npm run configs:schema -w pipeline)', () => {
  assert.deepEqual(JSON.parse(readFileSync(join(CONFIG_DIR, 'config.schema.json'), 'utf8')), configJsonSchema());
});

test('a bad config is refused with the file and the field named', () => {
  const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
    ['neg-epochs', (c) => { c.train.epochs = -3; }, /train\.epochs/],
    ['unknown-key', (c) => { c.train.epoch = 3; }, /train.*epoch/],
    ['bad-runtime', (c) => { c.verify.runtimes = ['node-tpu']; }, /verify\.runtimes\.0/],
    ['no-export', (c) => { delete c.export; }, /export/],
    ['frac-latent', (c) => { c.train.latentSize = 1.5; }, /train\.latentSize/],
    ['bad-arch', (c) => { c.train.architecture = 'rnn'; }, /train\.architecture/],
    ['mlp-channels', (c) => { c.train.channels = [8]; }, /train\.channels: channels apply to "architecture": "conv" only/],
    ['conv-no-channels', (c) => { c.train.architecture = 'conv'; }, /train\.channels: a conv model needs its channels/],
    ['mlp-no-hidden', (c) => { c.train.hiddenSizes = []; }, /train\.hiddenSizes: the MLP needs at least one hidden layer/],
  ];
  for (const [name, edit, field] of cases) {
    const path = writeConfig(name, edit);
    assert.throws(() => loadConfig(path), (e: Error) => e.message.includes(path) && field.test(e.message), name);
  }
  const misnamed = writeConfig('right', () => undefined);
  const renamed = join(tmp, 'wrong.json');
  writeFileSync(renamed, readFileSync(misnamed));
  assert.throws(() => loadConfig(renamed), /"name" is "right" but the file is wrong\.json/);
  assert.throws(() => loadConfig('no-such-config'), /no pipeline config "no-such-config".*the configs are: .*smoke/);
  writeFileSync(join(tmp, 'broken.json'), '{"name": ');
  assert.throws(() => loadConfig(join(tmp, 'broken.json')), /broken\.json is not valid JSON/);
});

test('stage keys change exactly for the stages a config change touches', () => {
  const base = loadConfig('smoke');
  const keys = stageKeys(base);
  const changed = (edit: (c: typeof base) => void) => {
    const c = structuredClone(base);
    edit(c);
    const k = stageKeys(c);
    return (Object.keys(k) as (keyof typeof k)[]).filter((s) => k[s] !== keys[s]);
  };
  assert.deepEqual(changed(() => undefined), []);
  assert.deepEqual(changed((c) => { c.verify.runtimes = ['node-cpu']; }), ['verify', 'report']);
  assert.deepEqual(changed((c) => { c.export.variants = false; }), ['export', 'verify', 'report']);
  assert.deepEqual(changed((c) => { c.train.epochs = 3; }), ['train', 'export', 'verify', 'report']);
  assert.deepEqual(changed((c) => { c.train.dataset = 'fashion-mnist'; }), ['data', 'train', 'export', 'verify', 'report']);
  assert.deepEqual(changed((c) => { c.description = 'other words'; }), ['report']);
  assert.deepEqual(changed((c) => { Object.assign(c.train, { architecture: 'conv', channels: [8, 16], hiddenSizes: [] }); }), ['train', 'export', 'verify', 'report']);
});
