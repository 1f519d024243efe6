/**
 * Picks the tfjs backend. `auto` prefers the fastest one that is installed:
 * tfjs-node-gpu (CUDA) > tfjs-node (native CPU) > wasm > cpu (pure JS).
 *
 * tfjs-node and tfjs-node-gpu download libtensorflow when installed, so they are optional
 * peer dependencies: `npm install @tensorflow/tfjs-node` (or -gpu) to use them.
 *
 * `webgpu` (@tensorflow/tfjs-backend-webgpu on Dawn, the optional `webgpu` package: Vulkan on
 * Linux, Metal on macOS, D3D12 on Windows) runs only when asked for by name. `auto` never picks
 * it: where there is no GPU, Dawn's adapter is a software one (SwiftShader, llvmpipe), a CPU
 * emulation far slower than wasm, and on a real GPU tfjs-node-gpu is the faster route anyway.
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmTrainingKernels } from './speed/wasm-kernels.js';
import { useWebGpu } from './webgpu.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'webgpu' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'webgpu', 'cpu'];

export interface BackendInfo {
  /** tfjs' backend name: 'tensorflow', 'wasm', 'webgpu' or 'cpu'. */
  name: string;
  /** Human-readable description, e.g. "tensorflow (@tensorflow/tfjs-node-gpu, CUDA)". */
  description: string;
}

/** Tries to load a native tfjs-node package; resolves to its name or undefined. */
async function loadNativeBackend(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return pkg;
    } catch {
      // Not installed, or libtensorflow missing: try the next one.
    }
  }
  return undefined;
}

async function useWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  installWasmTrainingKernels();
}

/**
 * Activates a backend and reports what runs. `tensorflow` asked for but not installed is
 * an error that says how to install it; `auto` falls through quietly and says what it chose.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown backend "${choice}": expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (choice === 'webgpu') return { name: 'webgpu', description: `webgpu (@tensorflow/tfjs-backend-webgpu on Dawn; ${await useWebGpu()})` };
  if (choice === 'auto' || choice === 'tensorflow') {
    const pkg = await loadNativeBackend();
    if (pkg && (await tf.setBackend('tensorflow'))) {
      return { name: 'tensorflow', description: `tensorflow (${pkg}${pkg.endsWith('-gpu') ? ', CUDA' : ''})` };
    }
    if (choice === 'tensorflow') {
      throw new Error(
        'backend "tensorflow" needs @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA): ' +
          'install one with `npm install @tensorflow/tfjs-node` (it downloads libtensorflow), or use --backend wasm',
      );
    }
  }
  if (choice === 'auto' || choice === 'wasm') {
    try {
      await useWasm();
      return { name: 'wasm', description: 'wasm (@tensorflow/tfjs-backend-wasm, training kernels)' };
    } catch (err) {
      if (choice === 'wasm') throw new Error(`backend "wasm" failed to start: ${(err as Error).message}`);
    }
  }
  // PROD silences tfjs' "install tfjs-node" banner: we already report the choice ourselves.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  return { name: 'cpu', description: 'cpu (@tensorflow/tfjs-backend-cpu, pure JavaScript)' };
}
