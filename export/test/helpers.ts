/** Test helpers: the reference ONNX checker, and a tiny dense layer list with a plain-JS forward pass. */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { LayerSpec } from '../src/graph.js';

const PYTHON = process.env.VAE_PYTHON ?? '/usr/bin/python3';

/**
 * Runs onnx.checker.check_model(onnx.load(p), full_check=True) on each path with Debian's
 * python3-onnx (`apt-get install -y python3-onnx`); fails the test with the checker's message.
 */
export function assertOnnxCheckerPasses(paths: string[]): string {
  const script = [
    'import sys, onnx',
    'for p in sys.argv[1:]:',
    '    onnx.checker.check_model(onnx.load(p), full_check=True)',
    'print(onnx.__version__)',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script, ...paths], { encoding: 'utf8' });
  if (r.error || /No module named .?onnx/.test(r.stderr ?? '')) {
    assert.fail(`${PYTHON} cannot import onnx: install Debian's python3-onnx (apt-get install -y python3-onnx). ${r.error?.message ?? r.stderr}`);
  }
  assert.equal(r.status, 0, `onnx.checker rejected a model:\n${r.stderr}`);
  return r.stdout.trim();
}

/** Python's checker on a model expected to be invalid; returns its error output. */
export function onnxCheckerError(path: string): string {
  const r = spawnSync(PYTHON, ['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, `expected onnx.checker to reject ${path}`);
  return r.stderr;
}

/** Deterministic pseudo-random floats in [-scale, scale]. */
export function floats(count: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a / 2 ** 32 * 2 - 1) * scale;
  });
}

export function dense(name: string, rows: number, cols: number, activation: string, seed: number, extra: Partial<LayerSpec> = {}): LayerSpec {
  return { name, op: 'dense', activation, kernel: floats(rows * cols, seed, 0.5), kernelShape: [rows, cols], bias: floats(cols, seed + 1, 0.1), ...extra };
}

/** y = act(x · W + b) for each layer, in float64, following `input` links. */
export function forward(layers: LayerSpec[], inputName: string, x: Float32Array, rows: number): Record<string, Float64Array> {
  const values = new Map<string, Float64Array>([[inputName, Float64Array.from(x)]]);
  const outputs: Record<string, Float64Array> = {};
  let previous = inputName;
  for (const l of layers) {
    const src = values.get(l.input ?? previous)!;
    const [inSize, outSize] = l.kernelShape;
    const y = new Float64Array(rows * outSize);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < outSize; j++) {
        let s = l.bias[j];
        for (let i = 0; i < inSize; i++) s += src[r * inSize + i] * l.kernel[i * outSize + j];
        y[r * outSize + j] = l.activation === 'relu' ? Math.max(0, s) : l.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    values.set(l.name, y);
    if (l.output) outputs[l.output.name] = y;
    previous = l.name;
  }
  return outputs;
}
