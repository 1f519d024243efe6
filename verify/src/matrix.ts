/**
 * The one engine under `vae verify`: what every target shares, whether it is any ONNX model
 * (verify-onnx.ts) or one of this project's model folders (verify-folder.ts, where the manifest
 * supplies the graphs, their golden data, output names and tolerances).
 *
 *   1. start each runtime asked for, once (a runtime that cannot run here is a skipped row
 *      naming the reason);
 *   2. per (graph, runtime) row: open the graph's bytes on the runtime, run every data set,
 *      compare the outputs with the reference (the target's own check), diagnose a failing row
 *      (the target's own diagnosis); an exception is an error row with its first line;
 *   3. count the rows, list the failures (a required runtime that was skipped is one), pass or
 *      fail.
 *
 * What a target adds is only how it reads its data, how it compares an output (manifest
 * tolerances and pixel metrics, or Polygraphy's statistics) and how it finds the first
 * diverging node.
 */
import type { RowStatus, RuntimeInfo } from './report.js';
import { RUNTIME_LABELS, type Runtime, type RuntimeId, type RuntimeSession, type RuntimeSet } from './runtimes.js';

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];
const seconds = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

/** Thrown when the run cannot be made (bad arguments, a model or data that cannot be read): `vae verify` exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Starts each runtime once and says whether it runs. `skip` answers for runtimes that do not
 * apply to this target (a reason) before anything is started.
 */
export async function startRuntimes(
  runtimes: RuntimeSet, ids: readonly RuntimeId[], required: ReadonlySet<RuntimeId>, log: (line: string) => void, name: string,
  skip: (id: RuntimeId) => string | undefined = () => undefined,
): Promise<RuntimeInfo[]> {
  const infos: RuntimeInfo[] = [];
  for (const id of ids) {
    const notApplicable = skip(id);
    const s = notApplicable ? { ok: false as const, reason: notApplicable } : await runtimes.start(id);
    infos.push(s.ok
      ? { id, label: RUNTIME_LABELS[id], status: 'ran', description: s.description, required: required.has(id) }
      : { id, label: RUNTIME_LABELS[id], status: 'skipped', reason: s.reason, required: required.has(id) });
    if (!s.ok && !notApplicable) log(`${name}: ${id} skipped: ${s.reason}`);
  }
  return infos;
}

/** Opens a graph on a runtime, runs `run` for each data set in order, and always releases the session. */
export async function runSets<S, R>(runtime: Runtime, bytes: Uint8Array, label: string, sets: readonly S[], run: (session: RuntimeSession, set: S) => Promise<R>): Promise<R[]> {
  const session = await runtime.open(bytes, label);
  try {
    const out: R[] = [];
    for (const set of sets) out.push(await run(session, set));
    return out;
  } finally {
    await session.release();
  }
}

/** What every row has, whatever the target. */
export interface MatrixRow<O extends { pass: boolean }> {
  runtime: RuntimeId;
  status: RowStatus;
  reason?: string;
  outputs: O[];
  diagnosisError?: string;
  seconds: number;
}

export interface RowWork<O extends { pass: boolean }, R extends MatrixRow<O>> {
  /** Runs the graph and compares its outputs; throws for an error row. */
  compare(): Promise<O[]>;
  /** After the comparison, pass or fail (heatmaps, say). */
  afterCompare?(row: R): Promise<void>;
  /** For a failing row: sets the row's diagnosis; a throw becomes `diagnosisError`. */
  diagnose?(row: R): Promise<void>;
}

/**
 * One (graph, runtime) row: skipped if its runtime did not start; else compared, an exception
 * making it an error row; a failing row diagnosed. `row` comes in with its target's fields
 * (graph key, file) and goes out filled in.
 */
export async function runRow<O extends { pass: boolean }, R extends MatrixRow<O>>(info: RuntimeInfo, row: R, work: RowWork<O, R>, log: (line: string) => void, label: string): Promise<R> {
  const t0 = performance.now();
  if (info.status === 'skipped') return Object.assign(row, { status: 'skipped' as const, reason: info.reason });
  try {
    row.outputs = await work.compare();
  } catch (err) {
    Object.assign(row, { status: 'error' as const, reason: firstLine(err), seconds: seconds(t0) });
    log(`${label} on ${info.id}: ERROR: ${row.reason}`);
    return row;
  }
  row.status = row.outputs.every((o) => o.pass) ? 'pass' : 'fail';
  await work.afterCompare?.(row);
  if (row.status === 'fail' && work.diagnose) {
    try {
      await work.diagnose(row);
    } catch (err) {
      row.diagnosisError = firstLine(err);
    }
  }
  row.seconds = seconds(t0);
  return row;
}

/** Row counts, the failure lines (the target's, plus each required runtime that was skipped), and the verdict. */
export function verdict(rows: readonly MatrixRow<{ pass: boolean }>[], infos: readonly RuntimeInfo[], failures: string[]): { counts: Record<RowStatus, number>; failures: string[]; passed: boolean } {
  const counts: Record<RowStatus, number> = { pass: 0, fail: 0, error: 0, skipped: 0 };
  for (const r of rows) counts[r.status]++;
  for (const i of infos) if (i.required && i.status === 'skipped') failures.push(`${i.id} is required but was skipped: ${i.reason}`);
  return { counts, failures, passed: failures.length === 0 };
}
