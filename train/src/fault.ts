/**
 * Fault injection for the SIGKILL test (pipeline/test/crash.test.ts). Off unless the
 * environment sets VAE_TRAIN_PAUSE_AT; nothing else uses it.
 *
 *   VAE_TRAIN_PAUSE_AT=<phase>[:<n>]    n = 1 by default
 *
 * The n-th time this process reaches <phase>, it prints `phase: <phase> ...` on stdout
 * (synchronously) and then blocks its main thread for up to 10 s, so a parent that
 * SIGKILLs it on reading the line kills it at exactly that point. The phases:
 *
 *   start             the trainer is built (and restored on --resume); no step has run yet
 *   step              a training step is in flight (worker threads are computing it)
 *   evaluate          the epoch's test-set evaluation is in flight
 *   checkpoint-write  the checkpoint's temporary file is open and partly written
 */
import { writeSync } from 'node:fs';

export type Phase = 'start' | 'step' | 'evaluate' | 'checkpoint-write';

const spec = /^(start|step|evaluate|checkpoint-write)(?::([1-9]\d*))?$/.exec(process.env.VAE_TRAIN_PAUSE_AT ?? '');
if (process.env.VAE_TRAIN_PAUSE_AT && !spec) {
  throw new Error(`VAE_TRAIN_PAUSE_AT must be <phase>[:<n>] with phase start, step, evaluate or checkpoint-write; got "${process.env.VAE_TRAIN_PAUSE_AT}"`);
}
let remaining = spec ? Number(spec[2] ?? 1) : 0;

/** A possible pause point (see above); `detail` goes on the marker line. */
export function pausePoint(phase: Phase, detail = ''): void {
  if (!spec || spec[1] !== phase || --remaining !== 0) return;
  writeSync(1, `phase: ${phase}${detail ? ' ' + detail : ''}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}
