/**
 * A faster BatchMatMul for tfjs-backend-wasm.
 *
 * The wasm backend's BatchMatMul (and _FusedMatMul) kernels are ~13x slower when
 * asked to transpose an operand (256x784x256: ~50 ms against ~3.7 ms). Autodiff of
 * every dense layer asks for exactly that (dW = xᵀ·dy, dx = dy·Wᵀ), so stock training
 * spends most of its time there. Materialising the transpose first (a cheap memory
 * copy) and running the plain kernel is much faster.
 *
 * We re-register the two kernels for the 'wasm' backend, wrapping the originals, so
 * every caller benefits: core ops, gradients and the layers API alike.
 */
import * as tf from '@tensorflow/tfjs';

type Inputs = Record<string, tf.TensorInfo>;
type KernelArgs = { inputs: Inputs; backend: unknown; attrs?: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
interface DisposableBackend { disposeData(dataId: object): void }

let installed = false;

/** Re-registers the wasm matmul kernels. Idempotent; call after `tf.setBackend('wasm')`. */
export function installFastWasmMatMul(): void {
  if (installed) return;
  const transpose = tf.getKernel('Transpose', 'wasm')?.kernelFunc as KernelFn | undefined;
  if (!transpose) throw new Error('installFastWasmMatMul: the wasm backend is not registered');
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    const plain = original.kernelFunc as KernelFn;
    const wrapped: KernelFn = ({ inputs, backend, attrs = {} }) => {
      if (!attrs.transposeA && !attrs.transposeB) return plain({ inputs, backend, attrs });
      const temporaries: tf.TensorInfo[] = [];
      const swapLastTwo = (t: tf.TensorInfo): tf.TensorInfo => {
        const perm = t.shape.map((_, i) => i);
        const r = perm.length;
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        const out = transpose({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
        temporaries.push(out);
        return out;
      };
      const a = attrs.transposeA ? swapLastTwo(inputs.a) : inputs.a;
      const b = attrs.transposeB ? swapLastTwo(inputs.b) : inputs.b;
      const out = plain({
        inputs: { ...inputs, a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      for (const t of temporaries) (backend as DisposableBackend).disposeData(t.dataId);
      return out;
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: wrapped as tf.KernelFunc });
  }
  installed = true;
}
