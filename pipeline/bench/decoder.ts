/**
 * `npm run bench:node`: runtime-node's decoder bench (runtime-node/bench/decoder.ts) with one
 * more row, tfjs (wasm backend) running the same weights, read from decoder.onnx's
 * initializers, and its parity with onnxruntime. It lives here because the comparison needs
 * @vae/train (its backend selection), and runtime-node does not depend on the trainer.
 *
 *   node --import tsx pipeline/bench/decoder.ts [--model DIR] [--threads N] [--seconds S] [--rounds R] [--json] [--skip-tfjs]
 *
 * Not part of any package's build (run from source with tsx).
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { decodeModel, fromTensorProto, type ModelProto } from '@vae/models/onnx';
import { loadVae } from '@vae/runtime-node';
import { selectBackend } from '@vae/train';
import { main, type Decoder } from '../../runtime-node/bench/decoder.js';

/** The decoder's dense layers (Gemm + activation) from the ONNX initializers. */
function denseLayers(model: ModelProto): { kernel: Float32Array; shape: [number, number]; bias: Float32Array; activation: string }[] {
  const inits = new Map(model.graph.initializer.map((t) => [t.name ?? '', fromTensorProto(t)]));
  const nodes = model.graph.node;
  return nodes.filter((node) => node.op_type === 'Gemm').map((gemm) => {
    if ((gemm.attribute ?? []).some((a) => ['transA', 'transB'].includes(a.name) && a.i)) throw new Error(`${gemm.name}: transposed Gemm not supported by the bench`);
    const kernel = inits.get(gemm.input[1]), bias = inits.get(gemm.input[2]);
    if (!kernel || !bias || kernel.dtype !== 'float32' || bias.dtype !== 'float32') throw new Error(`Gemm ${gemm.output[0]}: float32 initializers expected (use decoder.onnx)`);
    const next = nodes.find((m) => m.input[0] === gemm.output[0]);
    const activation = next?.op_type === 'Relu' ? 'relu' : next?.op_type === 'Sigmoid' ? 'sigmoid' : 'linear';
    return { kernel: kernel.data as Float32Array, shape: [kernel.dims[0], kernel.dims[1]] as [number, number], bias: bias.data as Float32Array, activation };
  });
}

/** tfjs (wasm backend) running the same weights with fused matmul + bias + activation per layer. */
async function tfjsDecoder(path: string, n: number, z: Float32Array): Promise<{ decoder: Decoder; backend: string; check: (x: Float32Array) => Float32Array }> {
  const backend = await selectBackend('wasm');
  const layers = denseLayers(decodeModel(await readFile(path))).map((l) => ({
    kernel: tf.tensor2d(l.kernel, l.shape), bias: tf.tensor1d(l.bias), activation: l.activation,
  }));
  const forward = (x: tf.Tensor2D): tf.Tensor2D => tf.tidy(() => {
    let h = x;
    for (const l of layers) {
      const y = tf.fused.matMul({ a: h, b: l.kernel, bias: l.bias, activation: l.activation === 'relu' ? 'relu' : 'linear' });
      h = (l.activation === 'sigmoid' ? tf.sigmoid(y) : y) as tf.Tensor2D;
    }
    return h;
  });
  const decode = (input: Float32Array, b: number) => {
    const x = tf.tensor2d(input, [b, n]);
    const y = forward(x);
    const data = y.dataSync() as Float32Array;
    x.dispose(); y.dispose();
    return data;
  };
  return {
    backend: `${backend.description}, tfjs ${tf.version.tfjs}`,
    check: (x) => decode(x, x.length / n),
    decoder: {
      name: `tfjs ${tf.version.tfjs} wasm (fused matMul + bias + activation)`,
      run: (b) => {
        const input = z.slice(0, b * n);
        return () => decode(input, b);
      },
      release: () => layers.forEach((l) => { l.kernel.dispose(); l.bias.dispose(); }),
    },
  };
}

await main({
  skipFlag: 'skip-tfjs',
  async open({ dir, path, n, z, log }) {
    const tfjs = await tfjsDecoder(path, n, z);
    // Same weights, same numbers: compare 256 decodes with onnxruntime's.
    const vae = await loadVae(dir, { device: 'cpu' });
    const ref = (await vae.decode(z.subarray(0, 256 * n))).pixels;
    await vae.dispose();
    const got = tfjs.check(z.slice(0, 256 * n));
    const parity = ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
    log(`tfjs: ${tfjs.backend}; max |tfjs - onnxruntime| over 256 decodes = ${parity.toExponential(2)}`);
    return { decoder: tfjs.decoder, report: { tfjsBackend: tfjs.backend, parity } };
  },
});
