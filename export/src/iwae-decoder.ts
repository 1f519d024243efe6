/**
 * The trained decoder's logits on onnxruntime-node, for the importance-weighted NLL
 * (@vae/train's importanceWeightedNll with `decodeLogits`). With k = 1000 the estimate decodes
 * 10 million latents over MNIST's test set; onnxruntime's CPU kernels do that several times
 * faster than tfjs-wasm (docs/conv-vae.md has the figures), and the IWAE's noise, weights and
 * log-mean-exp stay in train/src/iwae.ts, so the estimate is the same one.
 *
 * The graph is the converter's, from the same LayersModels export writes, but without the final
 * Sigmoid: the Bernoulli log-likelihood needs logits (log(sigmoid) of a float32 probability
 * rounds to -inf for a confident pixel).
 */
import * as ort from 'onnxruntime-node';
import type { LogitsDecoder, VaeModel } from '@vae/train';
import { convertLayersModel } from 'tfjs-to-onnx-converter';
import { mlpLayersModels, readVaeWeights } from './vae.js';
import { ORT_VERSION } from './verify.js';

export interface OnnxruntimeLogitsDecoder {
  decodeLogits: LogitsDecoder;
  /** What ran, for logs: e.g. "onnxruntime-node 1.30.0 (cpu, 2 threads)". */
  runtime: string;
  release(): Promise<void>;
}

/** A decoder of `model`'s logits on onnxruntime-node's CPU provider with `threads` threads (default: its own choice). */
export async function onnxruntimeLogitsDecoder(model: VaeModel, options: { threads?: number } = {}): Promise<OnnxruntimeLogitsDecoder> {
  const bytes = await logitsGraph(model);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  });
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  const n = model.config.latentSize;
  return {
    runtime: `onnxruntime-node ${ORT_VERSION} (cpu${options.threads ? `, ${options.threads} threads` : ''})`,
    decodeLogits: async (z, rows) => {
      const result = await session.run({ [input]: new ort.Tensor('float32', z, [rows, n]) });
      return result[output].data as Float32Array;
    },
    release: () => session.release(),
  };
}

async function logitsGraph(model: VaeModel): Promise<Uint8Array> {
  if (model.architecture === 'conv') return (await convertLayersModel(model.decoder)).bytes;
  const { encoder, decoder } = mlpLayersModels(await readVaeWeights(model), 'logits');
  try {
    return (await convertLayersModel(decoder)).bytes;
  } finally {
    encoder.dispose();
    decoder.dispose();
  }
}
