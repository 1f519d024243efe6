/**
 * The standalone decoder (models/released/<model>/decoder.mjs, one ES module with no imports) in
 * Deno and Bun, the two runtimes the README names that nothing else runs. Both come from npm as
 * devDependencies of this workspace (`deno`, `bun`, pinned); see support.ts `runtimeBinary` for
 * how their binaries install without any install script.
 *
 * One plain script, run by Node, Deno and Bun from a temporary folder: it imports each released
 * model's decoder.mjs by file URL, calls `loadDecoder()` with no source (the weights file next to
 * the module), then every precision with the default kernel and the js kernel, and decodes the
 * model's golden latents and a few seeded ones. It prints which runtime ran it. Each runtime must
 * be the one asked for, at the installed version, pick the WebAssembly SIMD kernel by default,
 * match the golden outputs within the standalone decoder's tolerance, and give Node's result
 * within the fp32 tolerance.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { RELEASED_MODELS, toleranceFor } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { readTestDataSets } from '@vae/models/onnx';
import { installedVersion, REPO, runtimeBinary, tempRoot } from './support.ts';

const run = promisify(execFile);
const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');
const MODELS = [...RELEASED_MODELS];
const PRECISIONS = ['fp32', 'fp16', 'int8'];
const SEEDED = 4;

/** `count` standard-normal vectors of size `n` (mulberry32 + Box-Muller), rounded to float32. */
function seededLatents(seed: number, count: number, n: number): number[] {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count * n }, () => Math.fround(Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())));
}

interface Case { model: string; module: string; n: number; golden: { z: number[]; x_hat: number[] }; seeded: number[] }
interface Decoded { precision: string; kernel: string; golden: number[]; seeded: number[] }
interface Output {
  runtime: { name: string; version: string };
  models: { model: string; defaultLoad: { precision: string; kernel: string; latentSize: number }; decoded: Decoded[] }[];
}

/** The script every runtime runs: no imports but decoder.mjs, no argv, JSON on stdout. */
function script(cases: Case[]): string {
  return `const CASES = ${JSON.stringify(cases)};
const PRECISIONS = ${JSON.stringify(PRECISIONS)};
const runtime = typeof Deno !== 'undefined' ? { name: 'deno', version: Deno.version.deno }
  : typeof Bun !== 'undefined' ? { name: 'bun', version: Bun.version }
  : { name: 'node', version: process.versions.node };
const models = [];
for (const c of CASES) {
  const { loadDecoder } = await import(c.module);
  const d = await loadDecoder();
  const defaultLoad = { precision: d.precision, kernel: d.kernel, latentSize: d.latentSize };
  const decoded = [];
  for (const precision of PRECISIONS) {
    for (const kernel of [undefined, 'js']) {
      const dec = await loadDecoder(undefined, kernel ? { precision, kernel } : { precision });
      decoded.push({
        precision: dec.precision, kernel: dec.kernel,
        golden: Array.from(dec.decode(new Float32Array(c.golden.z), c.golden.z.length / c.n)),
        seeded: Array.from(dec.decode(c.seeded, c.seeded.length / c.n)),
      });
    }
  }
  models.push({ model: c.model, defaultLoad, decoded });
}
console.log(JSON.stringify({ runtime, models }));
`;
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('the standalone decoder in Deno and Bun (npm devDependencies), against the golden outputs and Node', { timeout: 300_000 }, () => {
  let root: Awaited<ReturnType<typeof tempRoot>>;
  let scriptFile: string;
  let node: Output;
  const cases: Case[] = [];

  before(async () => {
    root = await tempRoot('vae-runtimes-');
    for (const [i, model] of MODELS.entries()) {
      const dir = releasedModelDir(model);
      const sets = await readTestDataSets(join(dir, 'decoder'));
      const n = sets[0].inputs[0].dims[1];
      cases.push({
        model,
        module: pathToFileURL(join(dir, 'decoder.mjs')).href,
        n,
        golden: { z: sets.flatMap((s) => Array.from(s.inputs[0].data as ArrayLike<number>)), x_hat: sets.flatMap((s) => Array.from(s.outputs[0].data as ArrayLike<number>)) },
        seeded: seededLatents(i + 1, SEEDED, n),
      });
    }
    scriptFile = join(root.dir, 'decode.mjs');
    await writeFile(scriptFile, script(cases));
    node = JSON.parse((await run(process.execPath, [scriptFile], { cwd: root.dir, maxBuffer: 64 * 1024 * 1024 })).stdout) as Output;
    assert.equal(node.runtime.name, 'node');
    checkGolden(node);
  });
  after(async () => { await root?.remove(); });

  function checkGolden(out: Output): void {
    assert.deepEqual(out.models.map((m) => m.model), MODELS);
    for (const [i, m] of out.models.entries()) {
      assert.deepEqual(m.defaultLoad, { precision: 'fp32', kernel: 'wasm', latentSize: cases[i].n }, `${out.runtime.name} ${m.model}: loadDecoder() reads decoder.weights.bin next to the module and picks WebAssembly SIMD`);
      for (const d of m.decoded) {
        const max = maxAbsDiff(d.golden, cases[i].golden.x_hat);
        const tol = toleranceFor('standalone-node', d.precision, 'x_hat');
        assert.ok(max <= tol, `${out.runtime.name} ${m.model} ${d.precision} ${d.kernel}: max |x_hat - golden| ${max} > ${tol}`);
      }
      assert.deepEqual(m.decoded.map((d) => `${d.precision}/${d.kernel}`), PRECISIONS.flatMap((p) => [`${p}/wasm`, `${p}/js`]));
    }
  }

  const RUNTIMES = {
    deno: (bin: string, dir: string) => ({
      file: bin,
      args: ['run', '--no-config', '--no-lock', '--no-prompt', '--no-remote', '--no-npm', `--allow-read=${join(REPO, 'models', 'released')}`, scriptFile],
      env: { DENO_DIR: join(dir, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    }),
    bun: (bin: string, dir: string) => ({
      file: bin,
      args: ['--no-install', scriptFile],
      env: { BUN_INSTALL_CACHE_DIR: join(dir, 'bun-cache'), DO_NOT_TRACK: '1', NO_COLOR: '1' },
    }),
  } as const;

  for (const name of ['deno', 'bun'] as const) {
    it(`${name}: loadDecoder() finds the weights next to decoder.mjs; every precision and kernel matches the golden outputs and Node`, async (t) => {
      const bin = runtimeBinary(name);
      if (!bin) {
        assert.ok(!IN_CI, `CI must have ${name}'s binary (npm ci installs it from its platform package)`);
        t.skip(`no ${name} binary for ${process.platform}-${process.arch}`);
        return;
      }
      const dir = join(root.dir, name);
      await mkdir(dir);
      const cmd = RUNTIMES[name](bin, dir);
      const { stdout } = await run(cmd.file, cmd.args, { cwd: dir, env: { ...process.env, ...cmd.env }, maxBuffer: 64 * 1024 * 1024 });
      const out = JSON.parse(stdout) as Output;
      assert.equal(out.runtime.name, name, `the script ran in ${out.runtime.name}, not ${name}`);
      assert.equal(out.runtime.version, installedVersion(name), `${name} ${out.runtime.version} is the installed npm package's version`);
      checkGolden(out);
      const tol = toleranceFor('standalone-node', 'fp32', 'x_hat');
      let worst = 0;
      for (const [i, m] of out.models.entries()) {
        for (const [j, d] of m.decoded.entries()) {
          const ref = node.models[i].decoded[j];
          for (const key of ['golden', 'seeded'] as const) {
            const max = maxAbsDiff(d[key], ref[key]);
            worst = Math.max(worst, max);
            assert.ok(max <= tol, `${name} ${m.model} ${d.precision} ${d.kernel} ${key}: max |${name} - node| ${max} > ${tol}`);
          }
        }
      }
      t.diagnostic(`${name} ${out.runtime.version}: ${MODELS.length} models x ${PRECISIONS.length} precisions x 2 kernels; max |${name} - node| = ${worst.toExponential(2)} (fp32 tolerance ${tol})`);
    });
  }
});
