/** The harness's Web Worker: proves loadVae runs off the main thread. */
import { loadVae, toImageData } from '@vae/runtime-web';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse): void;
  WorkerGlobalScope?: unknown;
  DedicatedWorkerGlobalScope?: { new (): unknown };
};

scope.onmessage = async (event) => {
  const req = event.data;
  try {
    const vae = await loadVae(req.model, { device: req.device, wasmPaths: req.wasmPaths });
    const decoded = await vae.decode(Float32Array.from(req.z));
    const encoded = await vae.encode(Float32Array.from(req.x));
    // ImageData exists in workers too: build one to prove the image path works here.
    const image = toImageData(decoded, 0, { scale: 2 });
    if (image.width !== 56 || image.height !== 56) throw new Error(`toImageData gave ${image.width}x${image.height}`);
    await vae.dispose();
    scope.postMessage({
      id: req.id,
      ok: true,
      inWorker: typeof scope.DedicatedWorkerGlobalScope === 'function' && globalThis instanceof scope.DedicatedWorkerGlobalScope,
      device: vae.device,
      xHat: Array.from(decoded.pixels),
      mu: Array.from(encoded.mu),
      logvar: Array.from(encoded.logvar),
    });
  } catch (err) {
    scope.postMessage({ id: req.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
};
