/**
 * The one device resolver of both runtimes (after onnxruntime's js/common backend resolution):
 * the requested device -> ordered candidates -> probe each -> open -> on failure, record the
 * attempt and, for 'auto' only, fall back to the next candidate -> one note that says what ran
 * and why. Every decision is made here; a backend supplies only a table of its devices, in
 * 'auto' order, each with a probe (may it run here?) and an open (create the sessions on it).
 * Adding a device is one entry in that table.
 *
 * Resolution has two steps because the browser probes WebGPU before it downloads the model
 * (device 'webgpu' without an adapter fails before any request), while the sessions can only
 * be opened after: `planDevice` validates and probes, `openDevice` opens and falls back;
 * `resolveDevice` does both.
 */
import { inputError, messageOf, VaeError } from './errors.js';

/** What a probe found: whether the device can run here and, when not, why. */
export interface DeviceProbe {
  available: boolean;
  reason?: string;
}

/** One device of a backend. `P`: what its probe gets; `O`: what its open gets; `S`: what open returns (the sessions). */
export interface DeviceEntry<D extends string, P, O, S> {
  /** The name the `device` option takes and `vae.device` reports. */
  readonly name: D;
  /** Whether the device can run here (absent: always). Says `{ available: false, reason }` rather than throwing. */
  readonly probe?: (context: P) => DeviceProbe | Promise<DeviceProbe>;
  /**
   * Creates everything needed on this device, releasing what it made before it throws. A
   * VaeError it throws is kept as the error of an explicit request (it already names the problem).
   */
  readonly open: (context: O) => Promise<S>;
  /** What to do when this device, asked for by name, cannot be used: the end of that error's message. */
  readonly hint?: string;
}

/** A backend's devices, in the order 'auto' tries them. */
export type DeviceTable<D extends string, P, O, S> = readonly DeviceEntry<D, P, O, S>[];

/** One try on one device. */
export interface DeviceAttempt<D extends string = string> {
  device: D;
  ok: boolean;
  /** Where a failed try stopped: 'probe' (skipped: unavailable here) or 'open' (its sessions failed). Absent when ok. */
  stage?: 'probe' | 'open';
  /** Why this device was skipped or failed (absent when ok). */
  reason?: string;
}

/** A validated request whose first candidate was probed (`planDevice`); `openDevice` takes it from there (once: it consumes `pending`). */
export interface DevicePlan<D extends string, P, O, S> {
  readonly request: 'auto' | D;
  /** The candidates not tried yet, in order; the first one's probe said available (when it has one). */
  readonly pending: DeviceEntry<D, P, O, S>[];
  readonly attempts: DeviceAttempt<D>[];
  /** The probe context, for the probes of later candidates. */
  readonly probeContext: P;
}

/** The outcome: the device that runs, what its open returned, every try in order, and the note. */
export interface DeviceResolution<D extends string, S> {
  device: D;
  value: S;
  attempts: DeviceAttempt<D>[];
  /** One line (`vae.deviceNote`), see `deviceNote`. */
  note: string;
}

/** What the `device` option of a backend with this table takes: 'auto', then each device. */
export function deviceChoices<D extends string>(table: DeviceTable<D, never, never, unknown>): ('auto' | D)[] {
  return ['auto', ...table.map((e) => e.name)];
}

/** A device option checked against the runtime's choices ('auto' when absent); a VaeError 'input' naming the bad value and the valid ones. */
export function checkDevice<T extends string>(device: T | undefined, choices: readonly T[]): T {
  const d = device ?? ('auto' as T);
  if (!choices.includes(d)) throw inputError(`device: "${String(d)}" is not one of ${choices.map((c) => `"${c}"`).join(', ')}`);
  return d;
}

/**
 * Validates `requested` against the table and probes the candidates in order until one is
 * available. An explicit device that its probe says is unavailable is a VaeError
 * 'device-unavailable' naming it, the reason and the entry's hint; under 'auto' it is recorded
 * as skipped and the next one is probed.
 */
export async function planDevice<D extends string, P, O, S>(
  table: DeviceTable<D, P, O, S>, requested: 'auto' | D | undefined, probeContext: P,
): Promise<DevicePlan<D, P, O, S>> {
  const request = checkDevice(requested, deviceChoices(table));
  const pending = request === 'auto' ? [...table] : table.filter((e) => e.name === request);
  const plan: DevicePlan<D, P, O, S> = { request, pending, attempts: [], probeContext };
  await probeNext(plan);
  return plan;
}

/** Drops candidates from the front of `plan.pending` until one is available (or none is left). */
async function probeNext<D extends string, P, O, S>(plan: DevicePlan<D, P, O, S>): Promise<void> {
  while (plan.pending.length > 0) {
    const entry = plan.pending[0];
    const probe = entry.probe ? await entry.probe(plan.probeContext) : { available: true };
    if (probe.available) return;
    const reason = probe.reason ?? 'its probe gave no reason';
    if (plan.request !== 'auto') throw deviceError('device-unavailable', `device "${entry.name}" is not available: ${reason}`, entry);
    plan.attempts.push({ device: entry.name, ok: false, stage: 'probe', reason });
    plan.pending.shift();
  }
}

/**
 * Opens the planned device. When its open fails: an explicit request is an error (the VaeError
 * open threw, or a VaeError 'session' naming the device, the reason and the hint); 'auto'
 * records the attempt and probes and opens the next candidate. When none is left, a VaeError
 * 'session' lists every attempt.
 */
export async function openDevice<D extends string, P, O, S>(plan: DevicePlan<D, P, O, S>, openContext: O): Promise<DeviceResolution<D, S>> {
  const { request, attempts } = plan;
  let lastError: unknown;
  while (plan.pending.length > 0) {
    const entry = plan.pending.shift()!;
    try {
      const value = await entry.open(openContext);
      attempts.push({ device: entry.name, ok: true });
      return { device: entry.name, value, attempts, note: deviceNote(request, entry.name, attempts) };
    } catch (err) {
      const reason = messageOf(err);
      if (request !== 'auto') {
        if (err instanceof VaeError) throw err;
        throw deviceError('session', `Could not create the ONNX Runtime sessions on ${entry.name}: ${reason}`, entry, err);
      }
      attempts.push({ device: entry.name, ok: false, stage: 'open', reason });
      lastError = err;
      await probeNext(plan);
    }
  }
  const tried = attempts.map(describeAttempt).join('; ') || `${request}: no candidates`;
  throw new VaeError('session', `No device could run the model (${tried})`, lastError === undefined ? {} : { cause: lastError });
}

/** `planDevice` then `openDevice`, for a backend that can probe and open at the same point. */
export async function resolveDevice<D extends string, P, O, S>(
  table: DeviceTable<D, P, O, S>, requested: 'auto' | D | undefined, probeContext: P, openContext: O,
): Promise<DeviceResolution<D, S>> {
  return openDevice(await planDevice(table, requested, probeContext), openContext);
}

/**
 * The note of both runtimes (`vae.deviceNote`), one line: "device: cpu (requested)",
 * "device: webgpu (auto)", or, when 'auto' passed over devices, why each was passed over:
 * "device: cpu (auto; cuda skipped: <probe's reason>)", "device: wasm (auto; webgpu failed: <open's error>)".
 */
export function deviceNote(request: string, device: string, attempts: readonly DeviceAttempt[]): string {
  if (request !== 'auto') return `device: ${device} (requested)`;
  const passed = attempts.filter((a) => !a.ok).map(describeAttempt);
  return `device: ${device} (auto${passed.map((p) => `; ${p}`).join('')})`;
}

/** "cuda skipped: <reason>" (its probe) or "webgpu failed: <first line of the error>" (its open). */
function describeAttempt(a: DeviceAttempt): string {
  return `${a.device} ${a.stage === 'probe' ? 'skipped' : 'failed'}: ${firstLine(a.reason ?? 'no reason given')}`;
}

function deviceError(code: 'device-unavailable' | 'session', message: string, entry: { hint?: string }, cause?: unknown): VaeError {
  return new VaeError(code, entry.hint ? `${message}. ${entry.hint}` : message, cause === undefined ? {} : { cause });
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
