/**
 * What a runtime of the matrix is, apart from any one of them: it says whether it can run
 * here, opens a model from bytes, and runs feeds. runtimes.ts has the runtimes; browser.ts the
 * Chromium pages two of them run in.
 */
import type { RuntimeId } from '@vae/models';
import type { Feed } from './golden.js';
import type { Tensor } from './tensors.js';

export interface RuntimeSession {
  /** Runs the model; returns every output (float32 only). */
  run(feeds: Feed[]): Promise<Record<string, Float32Array>>;
  /** Runs the model on typed feeds (any supported dtype); returns every output, typed. Absent on the standalone rows. */
  runTensors?(feeds: Tensor[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export type StartResult = { ok: true; description: string } | { ok: false; reason: string };

export interface Runtime {
  id: RuntimeId;
  /** Whether it can run here; describes it (versions, adapter) or says why not. Called once. */
  start(): Promise<StartResult>;
  open(model: Uint8Array, label: string): Promise<RuntimeSession>;
  close(): Promise<void>;
}
