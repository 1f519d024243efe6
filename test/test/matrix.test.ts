/**
 * The whole matrix (every runtime but CUDA, which is skipped without a GPU) on every
 * released model (the MLPs and the conv VAE), in one process: Chromium is launched once for all. node-webgpu runs on
 * SwiftShader's Vulkan driver (from Debian's chromium), which this test selects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { loadModelDir } from '@vae/models/node';
import { CHROMIUM_PATH } from '@vae/browser-harness';
import { formatTable, heatmapLayout, REPORT_JSON, REPORT_MD, RUNTIME_IDS, verifyModelDirs, type RuntimeId } from '@vae/verify';
import { releasedModelsDir } from '@vae/models/node';
import { RELEASED_MODELS } from '@vae/models';

const RELEASED = releasedModelsDir();
/** CI=true: every row but node-cuda must run (Chromium is installed there). */
const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');

/** SwiftShader's Vulkan driver, shipped by Debian's chromium: node-webgpu's adapter here and in CI. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// The library never changes the user's Vulkan setup; this test picks SwiftShader before anything loads Vulkan.
const swiftshader = existsSync(SWIFTSHADER_ICD);
if (swiftshader) process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;

const MODELS = [...RELEASED_MODELS];
const BROWSER_ROWS: RuntimeId[] = ['chromium-wasm', 'chromium-webgpu', 'standalone-chromium'];

test('parity matrix: every released model passes on node-cpu, node-webgpu, web-node, chromium-wasm, chromium-webgpu and the standalone decoder in Node and Chromium; node-cuda says why it skipped', { timeout: 600_000 }, async (t) => {
  const chromium = existsSync(CHROMIUM_PATH);
  if (IN_CI) assert.ok(chromium, `CI must have Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);
  if (IN_CI) assert.ok(swiftshader, `CI must have SwiftShader's Vulkan driver at ${SWIFTSHADER_ICD} (apt-get install chromium libvulkan1)`);
  const mustRun: RuntimeId[] = ['node-cpu', 'web-node', 'standalone-node', ...(chromium ? BROWSER_ROWS : []), ...(swiftshader ? ['node-webgpu' as const] : [])];
  const out = await mkdtemp(join(tmpdir(), 'vae-parity-'));
  try {
    const result = await verifyModelDirs(MODELS.map((m) => join(RELEASED, m)), { out, require: mustRun, log: (l) => t.diagnostic(l) });
    for (const report of result.reports) for (const line of formatTable(report).split('\n')) t.diagnostic(line);
    assert.equal(result.passed, true, result.reports.flatMap((r) => r.failures).join('\n'));

    for (const [i, report] of result.reports.entries()) {
      const model = await loadModelDir(join(RELEASED, MODELS[i]));
      const m = model.manifest;
      assert.equal(report.model.name, m.name);
      assert.equal(report.reference.goldenBackend, m.provenance.backend);
      assert.equal(report.reference.trainingBackend, m.training.backend);

      // Runtimes: all but CUDA ran; CUDA ran or names its reason.
      const info = Object.fromEntries(report.runtimes.map((r) => [r.id, r]));
      for (const id of mustRun) assert.equal(info[id].status, 'ran', `${id}: ${info[id].reason}`);
      if (!chromium) for (const id of BROWSER_ROWS) assert.match(info[id].reason!, /\/usr\/bin\/chromium not found \(apt-get install chromium\)/);
      if (info['node-cuda'].status === 'skipped') assert.match(info['node-cuda'].reason!, /no CUDA execution provider installed|no GPU|no CUDA support|failed to open/);
      if (swiftshader) assert.match(info['node-webgpu'].description!, /^onnxruntime-node [\d.]+, WebGPU execution provider \(Dawn; .*\), adapter: SwiftShader driver [\d.]+, google\/swiftshader \(software\)$/);
      else assert.match(info['node-webgpu'].reason!, /Vulkan|adapter|WebGPU/);
      if (chromium) {
        assert.match(info['chromium-webgpu'].description!, /WebGPU execution provider only, adapter: /);
        assert.match(info['chromium-wasm'].description!, /wasm execution provider/);
        assert.match(info['standalone-chromium'].description!, /^standalone decoder\.mjs \(WebAssembly SIMD kernel\), Chromium /);
      }

      // Rows: every graph on every runtime; ran rows pass with every metric filled in.
      const graphs = Object.keys(m.graphs);
      assert.equal(report.rows.length, graphs.length * RUNTIME_IDS.length);
      for (const row of report.rows) {
        if (!mustRun.includes(row.runtime)) continue;
        assert.equal(row.status, 'pass', `${row.graph} on ${row.runtime}`);
        const names = row.outputs.map((o) => o.output);
        assert.deepEqual(names, m.graphs[row.graph].outputs.map((o) => o.name));
        for (const o of row.outputs) {
          assert.ok(o.metrics.maxAbs <= o.tolerance && o.metrics.count > 0);
          assert.equal(o.minimumTolerance.atol, o.metrics.maxAbs);
          const pixels = o.output === 'x_hat';
          assert.equal(o.metrics.maxAbs8bit === null, !pixels);
          assert.equal(o.metrics.pixelsDiffering8bit === null, !pixels);
        }
        assert.equal(row.diagnosis, undefined);
      }

      // Report files.
      const dir = result.dirs[i];
      const json = JSON.parse(await readFile(join(dir, REPORT_JSON), 'utf8'));
      assert.equal(json.format, 'vae-parity-report');
      assert.equal(json.passed, true);
      assert.equal(json.rows.length, report.rows.length);
      const md = await readFile(join(dir, REPORT_MD), 'utf8');
      assert.match(md, new RegExp(`^# Parity report: ${m.name}$`, 'm'));
      assert.match(md, /^\*\*PASS\*\*/m);
      for (const row of report.rows.filter((r) => r.status === 'pass')) assert.match(md, new RegExp(`\\| ${row.graph.replace('.', '\\.')} \\| ${row.runtime} \\|`));

      // Heatmaps: one per decoder row that ran, as valid PNGs of the golden batch.
      const decoderRows = m.graphs.decoder.testData.reduce((s, d) => s + d.rows, 0);
      const layout = heatmapLayout(decoderRows);
      const withMaps = report.rows.filter((r) => r.heatmap);
      assert.equal(withMaps.length, report.rows.filter((r) => r.graph.startsWith('decoder') && r.status === 'pass').length);
      for (const row of withMaps) {
        const png = PNG.sync.read(await readFile(join(dir, row.heatmap!)));
        assert.deepEqual([png.width, png.height], [layout.width, layout.height], row.heatmap);
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
