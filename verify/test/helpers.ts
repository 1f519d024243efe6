/**
 * Test helpers: paths, a perturbed copy of a released model, running the `vae` binary.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, fromTensorProto } from '@vae/models/onnx';
import { loadModelDir } from '@vae/models/node';
import { evaluate, toValue } from '../src/graph.js';
import { readGolden } from '../src/golden.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO, 'pipeline', 'dist', 'cli.js');
export const RELEASED = join(REPO, 'models', 'released');

/** CI=true: every row but node-cuda must run (Chromium is installed there). */
export const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');

/** SwiftShader's Vulkan driver, shipped by Debian's chromium: node-webgpu's adapter here and in CI. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Whether node-webgpu can run here (on SwiftShader); in CI it must. */
export const SWIFTSHADER = existsSync(SWIFTSHADER_ICD);
/**
 * The environment of the processes the tests start: node-webgpu on SwiftShader unless the
 * user's Vulkan is configured (the library never chooses a Vulkan driver itself).
 */
export const TEST_ENV: NodeJS.ProcessEnv = SWIFTSHADER && !process.env.VK_ICD_FILENAMES ? { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } : { ...process.env };

export interface Perturbation {
  graph: string;
  file: string;
  tensor: string;
  index: [number, number];
  before: number;
  after: number;
}

/**
 * Copies a model dir to `dst` and adds `delta` to one element of `tensor` (a float32
 * initializer of `graph`), patching the 4 bytes in place. The element is chosen where it
 * matters: the input unit most active on the golden batch, the output unit active on the
 * most golden rows. With `updateManifest`, the manifest's SHA-256 of the file is updated so
 * that the checksum check passes and parity is what fails.
 */
export async function perturbModelDir(src: string, dst: string, options: { graph?: string; tensor?: string; delta?: number; updateManifest: boolean }): Promise<Perturbation> {
  const graphKey = options.graph ?? 'decoder';
  const tensorName = options.tensor ?? 'decoder.dense1.kernel';
  const delta = options.delta ?? 0.05;
  await cp(src, dst, { recursive: true });
  const model = await loadModelDir(dst);
  const graph = model.graph(graphKey);
  const bytes = await readFile(graph.path);
  const proto = decodeModel(bytes);
  const init = proto.graph.initializer.find((t) => t.name === tensorName);
  if (!init?.raw_data) throw new Error(`${graph.file} has no float32 initializer ${tensorName} with raw_data`);
  const [rows, cols] = init.dims.map(Number);
  const gemm = proto.graph.node.find((n) => n.op_type === 'Gemm' && n.input[1] === tensorName)!;

  // Where to perturb: rank input units by total activation, output units by how many rows activate them.
  const golden = await readGolden(model, graphKey);
  const inAct = new Float64Array(rows);
  const outActive = new Float64Array(cols);
  for (const set of golden) {
    const values = evaluate(proto, Object.fromEntries(set.inputs.map((f) => [f.name, toValue(f.dims, f.data)])));
    const a = values.get(gemm.input[0])!;
    const y = values.get(gemm.output[0])!;
    for (let k = 0; k < a.data.length; k++) inAct[k % rows] += a.data[k];
    for (let k = 0; k < y.data.length; k++) if (y.data[k] > 0) outActive[k % cols] += 1 + y.data[k];
  }
  const i = inAct.indexOf(Math.max(...inAct));
  const j = outActive.indexOf(Math.max(...outActive));

  const raw = Buffer.from(init.raw_data);
  const offset = Buffer.from(bytes).indexOf(raw);
  if (offset < 0) throw new Error(`cannot find the bytes of ${tensorName} in ${graph.file}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = offset + 4 * (i * cols + j);
  const before = view.getFloat32(at, true);
  view.setFloat32(at, before + delta, true);
  const after = view.getFloat32(at, true);
  await writeFile(graph.path, bytes);
  // Sanity: the decoded tensor changed where we meant.
  const check = fromTensorProto(decodeModel(await readFile(graph.path)).graph.initializer.find((t) => t.name === tensorName)!);
  if (check.data[i * cols + j] !== after) throw new Error('perturbation did not land');

  if (options.updateManifest) {
    const manifestPath = join(dst, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    const entry = manifest.files.find((f: { path: string }) => f.path === graph.file);
    entry.sha256 = createHash('sha256').update(bytes).digest('hex');
    entry.bytes = bytes.length;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  }
  return { graph: graphKey, file: graph.file, tensor: tensorName, index: [i, j], before, after };
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs `node pipeline/dist/cli.js ...args`. */
export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO, env: TEST_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
