/** Test helpers: the reference ONNX checker, and a tiny MLP VAE's weights with a plain-JS forward pass. */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { VaeConfig } from '@vae/train';
import type { DenseWeights, VaeWeights } from '../src/vae.js';

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

/** An MLP VAE's weights for `config`, seeded, as readVaeWeights returns them. */
export function mlpWeights(config: VaeConfig, seed: number): VaeWeights {
  const { inputSize, hiddenSizes, latentSize } = config;
  const enc = [inputSize, ...hiddenSizes];
  const dec = [latentSize, ...[...hiddenSizes].reverse()];
  const shapes: [string, number, number][] = [
    ...hiddenSizes.map((_, i): [string, number, number] => [`encoder.dense${i}`, enc[i], enc[i + 1]]),
    ['encoder.mu', enc[enc.length - 1], latentSize], ['encoder.logvar', enc[enc.length - 1], latentSize],
    ...hiddenSizes.map((_, i): [string, number, number] => [`decoder.dense${i}`, dec[i], dec[i + 1]]),
    ['decoder.out', dec[dec.length - 1], inputSize],
  ];
  const layers = new Map<string, DenseWeights>(shapes.map(([name, rows, cols], k) => [name, {
    kernel: floats(rows * cols, seed + 2 * k, 0.5), kernelShape: [rows, cols], bias: floats(cols, seed + 2 * k + 1, 0.1),
  }]));
  return { config: { ...config, hiddenSizes: [...hiddenSizes] }, layers };
}

/** The encoder's {mu, logvar} or the decoder's {x_hat} for `rows` inputs, in float64. */
export function mlpForward(w: VaeWeights, role: 'encoder' | 'decoder', x: Float32Array, rows: number): Record<string, Float64Array<ArrayBufferLike>> {
  const layer = (name: string, input: Float64Array<ArrayBufferLike>, act: 'relu' | 'sigmoid' | 'none'): Float64Array<ArrayBufferLike> => {
    const { kernel, kernelShape: [inSize, outSize], bias } = w.layers.get(name)!;
    const y = new Float64Array(rows * outSize);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < outSize; j++) {
        let s = bias[j];
        for (let i = 0; i < inSize; i++) s += input[r * inSize + i] * kernel[i * outSize + j];
        y[r * outSize + j] = act === 'relu' ? Math.max(0, s) : act === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    return y;
  };
  const hidden = w.config.hiddenSizes.reduce<Float64Array<ArrayBufferLike>>((h, _, i) => layer(`${role}.dense${i}`, h, 'relu'), Float64Array.from(x));
  return role === 'encoder'
    ? { mu: layer('encoder.mu', hidden, 'none'), logvar: layer('encoder.logvar', hidden, 'none') }
    : { x_hat: layer('decoder.out', hidden, 'sigmoid') };
}

/** The bytes of a generated decoder.mjs that are code: all but its `const MODEL = {...};` line (the compiled programs). */
export function codeBytes(module: Uint8Array): number {
  const text = new TextDecoder().decode(module);
  const model = /^const MODEL = .*;$/m.exec(text);
  assert.ok(model, 'the module has its const MODEL line');
  return module.length - Buffer.byteLength(model[0]);
}
