/**
 * `vae verify` as a command (node pipeline/dist/cli.js): it must be able to fail. A released
 * model with one decoder weight changed by +0.05 (manifest checksum updated, so parity is what
 * fails) must fail on every runtime and the diagnosis must name the Gemm reading that weight,
 * decoder.dense1.gemm (output decoder.dense1.linear), as the first diverging node. Without the
 * checksum update, verify must refuse the directory and name the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { CHROMIUM_PATH } from '@vae/browser-harness';
import { colormap, heatmapLayout } from '../src/heatmap.js';
import type { ParityReport } from '../src/report.js';
import { IN_CI, RELEASED, SWIFTSHADER, perturbModelDir, runCli } from './helpers.js';

const N2 = join(RELEASED, 'mnist-n2-beta1');

test('vae verify fails on a perturbed decoder and names the perturbed Gemm as the first diverging node', { timeout: 300_000 }, async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'vae-perturbed-'));
  try {
    const dir = join(tmp, 'model');
    const p = await perturbModelDir(N2, dir, { updateManifest: true });
    t.diagnostic(`perturbed ${p.tensor}[${p.index.join(', ')}]: ${p.before} -> ${p.after}`);
    const out = join(tmp, 'report');
    const r = await runCli(['verify', dir, '--graphs', 'decoder', '--out', out]);
    for (const line of r.stdout.trimEnd().split('\n')) t.diagnostic(line);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /First diverging node: decoder\.dense1\.gemm \(Gemm -> decoder\.dense1\.linear\)/);
    assert.match(r.stdout, /^FAIL: /m);

    const report = JSON.parse(await readFile(join(out, 'mnist-n2-beta1', 'parity-report.json'), 'utf8')) as ParityReport;
    assert.equal(report.passed, false);
    const ran: string[] = report.runtimes.filter((x) => x.status === 'ran').map((x) => x.id);
    const expected = ['node-cpu', 'web-node', 'standalone-node', ...(IN_CI || existsSync(CHROMIUM_PATH) ? ['chromium-wasm', 'chromium-webgpu', 'standalone-chromium'] : []), ...(IN_CI || SWIFTSHADER ? ['node-webgpu'] : [])];
    for (const id of expected) assert.ok(ran.includes(id), `${id} ran`);
    for (const row of report.rows.filter((x) => x.status !== 'skipped')) {
      assert.equal(row.graph, 'decoder');
      assert.equal(row.status, 'fail', `${row.runtime} fails`);
      const d = row.diagnosis!;
      assert.ok(d, `${row.runtime} diagnosed (${row.diagnosisError ?? ''})`);
      // Exactly the perturbed Gemm, nothing before it.
      assert.deepEqual(
        { node: d.firstDiverging?.node, op: d.firstDiverging?.op, output: d.firstDiverging?.output },
        { node: 'decoder.dense1.gemm', op: 'Gemm', output: 'decoder.dense1.linear' },
        row.runtime,
      );
      const order = d.nodes.map((n) => n.node);
      assert.deepEqual(order, ['decoder.dense0.gemm', 'decoder.dense0.relu', 'decoder.dense1.gemm', 'decoder.dense1.relu', 'decoder.out.gemm', 'decoder.out.sigmoid']);
      assert.deepEqual(d.nodes.slice(0, 2).map((n) => n.exceeds), [false, false]);
      assert.ok(d.firstDiverging!.ratio > 10, `clearly over its bound (${d.firstDiverging!.ratio})`);
      assert.equal(d.firstDiverging!.at!.index[1], p.index[1], 'the worst element is in the perturbed column');
      // The weight audit found that one element and restored it from the fp16 sibling.
      assert.equal(d.audit.deviationCount, 1);
      assert.deepEqual(
        { tensor: d.audit.deviations[0].tensor, index: d.audit.deviations[0].index, restoredFrom: d.audit.deviations[0].restoredFrom, consumers: d.audit.deviations[0].consumers },
        { tensor: p.tensor, index: p.index, restoredFrom: 'decoder.fp16', consumers: ['decoder.dense1.gemm'] },
      );
      assert.equal(d.audit.deviations[0].value, p.after);
      // With the weight restored (to its float16 copy), the float64 reference is far closer to golden than the row.
      const rowError = row.outputs[0].metrics.maxAbs;
      assert.ok(d.referenceVsGolden.x_hat.maxAbs < rowError / 10, `${d.referenceVsGolden.x_hat.maxAbs} vs ${rowError}`);
    }
    assert.ok(report.failures.every((f) => f.includes('first diverging node decoder.dense1.gemm')), report.failures.join('\n'));

    // The heatmap shows the damage: red frames and hot pixels.
    const row = report.rows.find((x) => x.runtime === 'node-cpu')!;
    const png = PNG.sync.read(await readFile(join(out, 'mnist-n2-beta1', row.heatmap!)));
    const layout = heatmapLayout(40);
    assert.deepEqual([png.width, png.height], [layout.width, layout.height]);
    let red = 0;
    let hot = 0;
    const cold = colormap(0);
    const tilesBottom = layout.height - 44;
    for (let y = 0; y < tilesBottom; y++) {
      for (let x = 0; x < png.width; x++) {
        const o = (y * png.width + x) * 4;
        const [rr, gg, bb] = [png.data[o], png.data[o + 1], png.data[o + 2]];
        if (rr === 230 && gg === 30 && bb === 30) red++;
        else if (!(rr === 40 && gg === 40 && bb === 40) && !(rr === cold[0] && gg === cold[1] && bb === cold[2])) hot++;
      }
    }
    assert.ok(red > 0, 'tiles above tolerance are framed');
    assert.ok(hot > 100, `pixels with error (${hot})`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('vae verify refuses a model whose file does not match the manifest checksum, naming the file (exit 2: the run could not be made)', { timeout: 120_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'vae-checksum-'));
  try {
    const dir = join(tmp, 'model');
    await perturbModelDir(N2, dir, { updateManifest: false });
    const out = join(tmp, 'report');
    const r = await runCli(['verify', dir, '--out', out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`error: ${join(dir, 'decoder.onnx').replace(/[.]/g, '\\.')}: SHA-256 mismatch: the manifest says [0-9a-f]{64}, the file has [0-9a-f]{64}`));
    assert.equal(existsSync(out), false, 'nothing ran, no report');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('vae verify: --json on a passing subset exits 0; an unknown runtime or graph is a usage error (exit 2)', { timeout: 120_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'vae-json-'));
  try {
    const r = await runCli(['verify', N2, '--runtimes', 'node-cpu', '--graphs', 'decoder,decoder.int8', '--json', '--out', tmp]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ParityReport;
    assert.equal(report.passed, true);
    assert.deepEqual(report.rows.map((x) => [x.graph, x.runtime, x.status]), [['decoder', 'node-cpu', 'pass'], ['decoder.int8', 'node-cpu', 'pass']]);
    assert.ok(existsSync(join(tmp, 'mnist-n2-beta1', 'heatmaps', 'decoder.int8.node-cpu.png')));

    const bad = await runCli(['verify', N2, '--runtimes', 'node-cpu,tpu', '--out', tmp]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--runtimes: unknown runtime "tpu"/);
    const noGraph = await runCli(['verify', N2, '--runtimes', 'node-cpu', '--graphs', 'vocoder', '--out', tmp]);
    assert.equal(noGraph.code, 2);
    assert.match(noGraph.stderr, /no graph "vocoder" \(it has encoder, decoder, decoder\.fp16, decoder\.int8\)/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
