/**
 * Data-parallel training on worker threads (tfjs-wasm runs single-threaded under Node,
 * so this is how a step uses more than one core). An optimisation behind the same
 * `Trainer` interface as LocalTrainer (step.ts), which is the reference to read first.
 *
 * Every worker holds a full model (same seed: same initial weights). The weights, Adam's
 * moments and one gradient slot per worker live in one shared WebAssembly.Memory, as flat
 * float32 vectors in `variables()` order (adam-simd.ts). One step, in every worker at once (worker.ts):
 *   1. forward/backward on its contiguous shard of the batch; gradient of the shard's mean
 *      loss into its slot;
 *   2. barrier (Atomics on shared memory, no message round trip);
 *   3. Adam on its own slice of the parameter vector (the update is sharded, not repeated),
 *      a WebAssembly SIMD kernel: the batch-mean gradient sum_k (rows_k / rows) * slot_k,
 *      added in slot order, so the result depends only on the thread count; then m, v and
 *      the weights of that slice;
 *   4. barrier; copy the shared weights into its tfjs variables.
 * The main thread copies each batch into shared memory (BatchPool), posts one message per
 * worker per step and gets one reply each.
 *
 * The sharded update is bit-identical to the tfjs-ops Adam of adam.ts (see
 * adam-simd.ts), so a run's numbers do not depend on how the update is split. Control
 * goes through postMessage; a worker handles its messages one at a time, in order, so
 * calls can be posted as soon as they are made. The code run in the workers is `worker.ts`.
 */
import { Worker } from 'node:worker_threads';
import { adamLayout, sharedAdamMemory, type SharedWasmMemory } from './adam-simd.js';
import type { RunConfig } from '../config.js';
import { convParameters } from '../conv-model.js';
import type { LossSums, Trainer, TrainerState } from '../step.js';
import { shardRanges } from './shards.js';

/** What a worker gets at start-up. */
export interface WorkerInit {
  config: RunConfig;
  /** Shared memory laid out by `adamLayout`: weights, Adam's m and v, one gradient slot per worker. */
  memory: SharedWasmMemory;
  /** Int32 words at the indices below: a barrier's arrival count and generation, and the abort flag. */
  control: SharedArrayBuffer;
  paramCount: number;
  /** This worker's number, 0 ... threads - 1. */
  index: number;
  threads: number;
}

export const BARRIER_COUNT = 0;
export const BARRIER_GENERATION = 1;
export const ABORTED = 2;

/** Milliseconds of one step in one worker, by phase. */
export interface StepTimes {
  /** Forward and backward pass of the shard, gradient copied to shared memory. */
  gradients: number;
  /** Waiting at the two barriers: for the other workers' gradients, then their updates. */
  exchange: number;
  /** Sum of the gradients and Adam on this worker's slice; new weights into tfjs. */
  optimizer: number;
}

export type Request =
  | { type: 'step'; x: Float32Array; eps: Float32Array; weights: number[] }
  | { type: 'evaluate'; x: Float32Array; eps: Float32Array }
  | { type: 'getState' }
  | { type: 'setState'; state: TrainerState };

/** Replies carry the request's id; `error` is the message of what the worker threw. */
export type Reply = { id: number; result?: unknown; error?: string } | { ready: true };

/** Number of trainable floats of the model (kernels + biases), MLP or conv. */
export function paramCount(model: RunConfig['model']): number {
  if (model.architecture === 'conv') return convParameters(model).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const { inputSize, hiddenSizes, latentSize } = model;
  const dense = (i: number, o: number) => i * o + o;
  const enc = [inputSize, ...hiddenSizes];
  const dec = [latentSize, ...[...hiddenSizes].reverse(), inputSize];
  let n = 2 * dense(enc[enc.length - 1], latentSize); // mu and logvar heads
  for (let i = 0; i + 1 < enc.length; i++) n += dense(enc[i], enc[i + 1]);
  for (let i = 0; i + 1 < dec.length; i++) n += dense(dec[i], dec[i + 1]);
  return n;
}

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void }

interface Thread { worker: Worker; pending: Map<number, Pending> }

/** One batch (x, then eps) in shared memory; workers get views of their rows. */
interface SharedBatch { x: Float32Array; eps: Float32Array }

/**
 * Shared buffers for the batches of the steps in flight, reused from step to step. A step's
 * batch is copied into one and each worker is posted views of its rows (postMessage shares a
 * SharedArrayBuffer instead of copying it). Against slicing a fresh array per shard and
 * transferring it, this allocates and frees nothing per step, here or in the workers: ~1% of
 * a two-thread step. A buffer returns to the pool only once every worker has replied to its
 * step, so none is rewritten while a worker may still read it; with one step posted ahead, as
 * train.ts does, the pool holds two.
 */
class BatchPool {
  private readonly free: SharedBatch[] = [];

  take(xLength: number, epsLength: number): SharedBatch {
    const i = this.free.findIndex((b) => b.x.length >= xLength && b.eps.length >= epsLength);
    if (i >= 0) return this.free.splice(i, 1)[0];
    const floats = (n: number) => new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
    return { x: floats(xLength), eps: floats(epsLength) };
  }

  give(batch: SharedBatch): void {
    this.free.push(batch);
  }
}

/** Adds the workers' loss sums in worker order, so the result depends only on the thread count. */
function addUp(sums: { bce: number; kl: number }[], count: number): LossSums {
  let bce = 0, kl = 0;
  for (const s of sums) { bce += s.bce; kl += s.kl; }
  return { bce, kl, count };
}

/**
 * Built, this file is `dist/speed/parallel.js` and `dist/speed/worker.js` sits next to it. Run from
 * source (tests, via tsx) it is `parallel.ts`: then the worker registers tsx itself and
 * imports `worker.ts`, because on Node 20 a worker does not get the `--import tsx` hooks
 * of its parent, nor from `execArgv` (nodejs/node#47747).
 */
function startWorker(workerData: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData });
}

export class ParallelTrainer implements Trainer {
  private nextId = 1;
  /** Set by the first worker failure; every later call rejects with it (the replicas may have diverged). */
  private failure: Error | undefined;
  private disposed = false;
  private readonly batches = new BatchPool();
  /**
   * Milliseconds spent in each phase over all steps so far, as seen by worker 0 (the
   * benchmark prints them per step). `steps` counts the steps they cover.
   */
  readonly phaseTimes: StepTimes & { steps: number } = { gradients: 0, exchange: 0, optimizer: 0, steps: 0 };

  private constructor(private readonly threads: Thread[], private readonly config: RunConfig, private readonly control: Int32Array) {}

  static async create(config: RunConfig): Promise<ParallelTrainer> {
    const n = paramCount(config.model);
    const memory = sharedAdamMemory(adamLayout(n, config.threads));
    const control = new SharedArrayBuffer(3 * 4);
    const threads = Array.from({ length: config.threads }, (_, index) => ({
      worker: startWorker({ config, memory, control, paramCount: n, index, threads: config.threads }),
      pending: new Map(),
    }));
    const trainer = new ParallelTrainer(threads, config, new Int32Array(control));
    try {
      await Promise.all(threads.map((t, k) => trainer.listen(t, k)));
    } catch (err) {
      await trainer.dispose();
      throw err;
    }
    return trainer;
  }

  /** Routes a worker's replies and failures; resolves once the worker has built its model. */
  private listen(t: Thread, k: number): Promise<void> {
    return new Promise((ready, failedToStart) => {
      t.worker.on('message', (m: Reply) => {
        if ('ready' in m) {
          this.idle(t);
          return ready();
        }
        const p = t.pending.get(m.id);
        t.pending.delete(m.id);
        this.idle(t);
        if (m.error === undefined) p?.resolve(m.result);
        else this.fail(new Error(`parallel trainer, worker ${k}: ${m.error}`), p);
      });
      t.worker.on('error', (err) => {
        const e = new Error(`parallel trainer, worker ${k}: ${err.message}`, { cause: err });
        failedToStart(e);
        this.fail(e);
      });
      t.worker.on('exit', (code) => {
        const e = new Error(`parallel trainer, worker ${k} exited (code ${code})`);
        failedToStart(e);
        if (!this.disposed) this.fail(e);
      });
    });
  }

  /** Lets workers waiting at a barrier give up (a worker failed, or we are disposing). */
  private abortBarriers(): void {
    Atomics.store(this.control, ABORTED, 1);
    Atomics.notify(this.control, BARRIER_GENERATION);
  }

  /** Rejects `first` and every pending call with `err`, and remembers it for later calls. */
  private fail(err: Error, first?: Pending): void {
    this.failure ??= err;
    this.abortBarriers();
    first?.reject(err);
    for (const t of this.threads) {
      for (const p of t.pending.values()) p.reject(this.failure);
      t.pending.clear();
      this.idle(t);
    }
  }

  /**
   * A worker keeps the process alive only while a call to it is pending (see `call`), so
   * a trainer that is never disposed does not hang the program; `dispose` keeps it alive
   * until the worker has exited.
   */
  private idle(t: Thread): void {
    if (t.pending.size === 0 && !this.disposed) t.worker.unref();
  }

  /**
   * Posts a request to worker `k` now. Workers handle requests in arrival order, and every
   * call to several workers posts to all of them in one go, so all workers see the same
   * sequence of steps (which their barriers rely on).
   */
  private call<T>(k: number, request: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('parallel trainer: already disposed'));
    if (this.failure) return Promise.reject(this.failure);
    const t = this.threads[k];
    const id = this.nextId++;
    t.worker.ref(); // keep the process alive until the reply comes
    return new Promise<T>((resolve, reject) => {
      t.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      t.worker.postMessage({ id, ...request }, transfer);
    });
  }

  /** The same request to every worker, posted to all before any reply can arrive. */
  private callAll<T>(requests: (k: number) => [Request, ArrayBuffer[]?]): Promise<T[]> {
    if (this.disposed) return Promise.reject(new Error('parallel trainer: already disposed'));
    if (this.failure) return Promise.reject(this.failure);
    return Promise.all(this.threads.map((_, k) => this.call<T>(k, ...requests(k))));
  }

  /** The rows of a batch, after checking that x and eps agree with the model and each other. */
  private rowsOf(x: Float32Array, eps: Float32Array, minRows: number): number {
    const { inputSize, latentSize } = this.config.model;
    const rows = x.length / inputSize;
    if (!Number.isInteger(rows) || rows < minRows || eps.length !== rows * latentSize) {
      throw new Error(
        `expected x of rows x ${inputSize} and eps of rows x ${latentSize} floats with rows >= ${minRows}, got ${x.length} and ${eps.length}`,
      );
    }
    return rows;
  }

  /** One Adam step on a batch; returns the batch's loss sums (before the update). */
  async trainStep(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    const rows = this.rowsOf(x, eps, 1);
    const { inputSize, latentSize } = this.config.model;
    const shards = shardRanges(rows, this.threads.length);
    const weights = shards.map(([start, end]) => (end - start) / rows);
    // Like LocalTrainer, we are done reading the caller's arrays when the call returns.
    const batch = this.batches.take(x.length, eps.length);
    batch.x.set(x);
    batch.eps.set(eps);
    let results: { bce: number; kl: number; times: StepTimes }[];
    try {
      results = await this.callAll((k) => {
        const [start, end] = shards[k];
        const x = batch.x.subarray(start * inputSize, end * inputSize);
        return [{ type: 'step', x, eps: batch.eps.subarray(start * latentSize, end * latentSize), weights }];
      });
    } finally {
      this.batches.give(batch);
    }
    const { times } = results[0];
    this.phaseTimes.gradients += times.gradients;
    this.phaseTimes.exchange += times.exchange;
    this.phaseTimes.optimizer += times.optimizer;
    this.phaseTimes.steps += 1;
    return addUp(results, rows);
  }

  /**
   * Loss sums over x, each worker evaluating its share of the rows. The shards are fresh
   * arrays, transferred: evaluation sets are large and rare, not worth a buffer kept for them.
   */
  async evaluate(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    const rows = this.rowsOf(x, eps, 0);
    const { inputSize, latentSize } = this.config.model;
    const shards = shardRanges(rows, this.threads.length);
    const sums = await this.callAll<LossSums>((k) => {
      const [start, end] = shards[k];
      const shard = { x: x.slice(start * inputSize, end * inputSize), eps: eps.slice(start * latentSize, end * latentSize) };
      return [{ type: 'evaluate', ...shard }, [shard.x.buffer, shard.eps.buffer]];
    });
    return addUp(sums, rows);
  }

  /** Worker `k`'s weights and the shared Adam state (all workers hold the same weights; other k are for tests). */
  getState(k = 0): Promise<TrainerState> {
    return this.call<TrainerState>(k, { type: 'getState' });
  }

  async setState(state: TrainerState): Promise<void> {
    await this.callAll(() => [{ type: 'setState', state }]);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.abortBarriers();
    for (const t of this.threads) {
      for (const p of t.pending.values()) p.reject(new Error('parallel trainer: disposed'));
      t.pending.clear();
    }
    await Promise.all(this.threads.map((t) => (t.worker.ref(), t.worker.terminate())));
  }
}

/** A trainer that runs `config.threads` wasm workers and averages their gradients. */
export function createParallelTrainer(config: RunConfig): Promise<Trainer> {
  return ParallelTrainer.create(config);
}
