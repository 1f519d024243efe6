/** Messages between the harness page and its worker. */
export interface WorkerRequest {
  id: number;
  /** The model directory's URL. */
  model: string;
  device: 'auto' | 'webgpu' | 'wasm';
  wasmPaths: string;
  /** Flat N x n latents to decode. */
  z: number[];
  /** Flat N x 784 pixels to encode. */
  x: number[];
}

export interface WorkerResponse {
  id: number;
  ok: boolean;
  error?: string;
  /** True when the code ran in a DedicatedWorkerGlobalScope. */
  inWorker?: boolean;
  device?: string;
  xHat?: number[];
  mu?: number[];
  logvar?: number[];
}
