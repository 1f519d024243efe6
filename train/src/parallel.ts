/**
 * Data-parallel training on worker threads (tfjs-wasm runs single-threaded under Node,
 * so this is how a step uses more than one core).
 *
 * Every worker holds a full model and Adam, built from the same seed. A step splits the
 * batch into one contiguous shard per worker; each worker writes the gradient of its
 * shard's mean loss into its own slot of a SharedArrayBuffer. Then every worker forms
 * sum_k (rows_k / rows) * slot_k in the same order (slot 0, 1, ...), so all of them get
 * a bit-identical batch-mean gradient and apply the same Adam update: the weights stay
 * identical everywhere without ever being sent. Results depend only on the thread count.
 *
 * Control goes through postMessage (a round trip costs well under a millisecond, against
 * ~20 ms of compute per step); a worker handles its messages one at a time, in order.
 * The code run in the workers is `worker.ts`.
 */
import { Worker } from 'node:worker_threads';
import type { RunConfig } from './config.js';
import type { LossSums, Trainer, TrainerState } from './step.js';

/** What a worker gets at start-up. */
export interface WorkerInit {
  config: RunConfig;
  /** 2 parities x threads slots of `paramCount` floats: gradients of step s go to parity s % 2. */
  gradients: SharedArrayBuffer;
  paramCount: number;
}

export type Request =
  | { type: 'gradients'; x: Float32Array; eps: Float32Array; slot: number }
  | { type: 'apply'; parity: number; weights: number[] }
  | { type: 'evaluate'; x: Float32Array; eps: Float32Array }
  | { type: 'getState' }
  | { type: 'setState'; state: TrainerState };

/** Replies carry the request's id; `error` is the message of what the worker threw. */
export type Reply = { id: number; result?: unknown; error?: string } | { ready: true };

/** Number of trainable floats of the MLP VAE (kernels + biases). */
export function paramCount({ inputSize, hiddenSizes, latentSize }: RunConfig['model']): number {
  const dense = (i: number, o: number) => i * o + o;
  const enc = [inputSize, ...hiddenSizes];
  const dec = [latentSize, ...[...hiddenSizes].reverse(), inputSize];
  let n = 2 * dense(enc[enc.length - 1], latentSize); // mu and logvar heads
  for (let i = 0; i + 1 < enc.length; i++) n += dense(enc[i], enc[i + 1]);
  for (let i = 0; i + 1 < dec.length; i++) n += dense(dec[i], dec[i + 1]);
  return n;
}

/** Row ranges [start, end) of `rows` split into `parts` contiguous shards, sizes differing by at most 1. */
export function shardRanges(rows: number, parts: number): [number, number][] {
  const base = Math.floor(rows / parts), extra = rows % parts;
  const ranges: [number, number][] = [];
  for (let k = 0, start = 0; k < parts; k++) {
    const end = start + base + (k < extra ? 1 : 0);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void }

interface Thread { worker: Worker; pending: Map<number, Pending> }

interface Shard { x: Float32Array<ArrayBuffer>; eps: Float32Array<ArrayBuffer>; rows: number }

/** Adds the workers' loss sums in worker order, so the result depends only on the thread count. */
function addUp(sums: { bce: number; kl: number }[], count: number): LossSums {
  let bce = 0, kl = 0;
  for (const s of sums) { bce += s.bce; kl += s.kl; }
  return { bce, kl, count };
}

/**
 * Built, this file is `dist/parallel.js` and `dist/worker.js` sits next to it. Run from
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
  private steps = 0;
  /** Set by the first worker failure; every later call rejects with it (the replicas may have diverged). */
  private failure: Error | undefined;
  private disposed = false;
  /** The tail of the public calls, which run one after another (see `serial`). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly threads: Thread[], private readonly config: RunConfig) {}

  static async create(config: RunConfig): Promise<ParallelTrainer> {
    const n = paramCount(config.model);
    const init: WorkerInit = { config, gradients: new SharedArrayBuffer(2 * config.threads * n * 4), paramCount: n };
    const threads = Array.from({ length: config.threads }, () => ({ worker: startWorker(init), pending: new Map() }));
    const trainer = new ParallelTrainer(threads, config);
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

  /** Rejects `first` and every pending call with `err`, and remembers it for later calls. */
  private fail(err: Error, first?: Pending): void {
    this.failure ??= err;
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
   * Runs public calls in order, as LocalTrainer's effectively do: the gradients of a
   * step must not be requested before the previous step's update has been sent.
   */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const result = this.queue.then(f);
    this.queue = result.catch(() => {});
    return result;
  }

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

  /**
   * Copies x and eps into one shard per worker (fresh arrays, so they can be transferred),
   * right away: like LocalTrainer, we are done reading the caller's arrays when the call
   * returns, even if it then waits behind an earlier call.
   */
  private split(x: Float32Array, eps: Float32Array, minRows: number): Shard[] {
    const { inputSize, latentSize } = this.config.model;
    const rows = x.length / inputSize;
    if (!Number.isInteger(rows) || rows < minRows || eps.length !== rows * latentSize) {
      throw new Error(
        `expected x of rows x ${inputSize} and eps of rows x ${latentSize} floats with rows >= ${minRows}, got ${x.length} and ${eps.length}`,
      );
    }
    return shardRanges(rows, this.threads.length).map(([start, end]) => ({
      x: x.slice(start * inputSize, end * inputSize),
      eps: eps.slice(start * latentSize, end * latentSize),
      rows: end - start,
    }));
  }

  /** One Adam step on a batch; returns the batch's loss sums (before the update). */
  async trainStep(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    const shards = this.split(x, eps, 1);
    return this.serial(async () => {
      const rows = x.length / this.config.model.inputSize;
      const parity = this.steps++ % 2;
      const sums = await Promise.all(shards.map((s, k) => {
        const slot = parity * this.threads.length + k;
        return this.call<{ bce: number; kl: number }>(k, { type: 'gradients', x: s.x, eps: s.eps, slot }, [s.x.buffer, s.eps.buffer]);
      }));
      // Not awaited: the update runs while the caller prepares the next batch, and each
      // worker handles it before the next step's gradients anyway. Step s+1 writes the
      // other parity's slots, so a fast worker never overwrites gradients a slower one is
      // still adding up. A failure here rejects whatever is pending next (see `fail`).
      const weights = shards.map((s) => s.rows / rows);
      this.threads.forEach((_, k) => this.call(k, { type: 'apply', parity, weights }).catch(() => {}));
      return addUp(sums, rows);
    });
  }

  /** Loss sums over x, each worker evaluating its share of the rows. */
  async evaluate(x: Float32Array, eps: Float32Array): Promise<LossSums> {
    const shards = this.split(x, eps, 0);
    return this.serial(async () => {
      const sums = await Promise.all(shards.map((s, k) =>
        this.call<LossSums>(k, { type: 'evaluate', x: s.x, eps: s.eps }, [s.x.buffer, s.eps.buffer])));
      return addUp(sums, x.length / this.config.model.inputSize);
    });
  }

  /** Weights and Adam state of worker `k` (all workers hold the same; other k are for tests). */
  getState(k = 0): Promise<TrainerState> {
    return this.serial(() => this.call<TrainerState>(k, { type: 'getState' }));
  }

  setState(state: TrainerState): Promise<void> {
    return this.serial(async () => {
      await Promise.all(this.threads.map((_, k) => this.call(k, { type: 'setState', state })));
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
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
