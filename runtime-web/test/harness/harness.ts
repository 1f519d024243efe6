/**
 * Test harness page: exposes the library to page.evaluate() as `window.vaeLib`, and a
 * Web Worker running the same library as `window.vaeWorker.run(request)`.
 */
import * as vaeLib from '@vae/runtime-web';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';

let nextId = 1;
let worker: Worker | null = null;
const pending = new Map<number, (r: WorkerResponse) => void>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<WorkerResponse>) => {
      pending.get(e.data.id)?.(e.data);
      pending.delete(e.data.id);
    };
  }
  return worker;
}

const vaeWorker = {
  run(request: Omit<WorkerRequest, 'id'>): Promise<WorkerResponse> {
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      getWorker().postMessage({ ...request, id });
    });
  },
};

Object.assign(window, { vaeLib, vaeWorker });
document.body.dataset.ready = 'true';
