/**
 * Checkpoints: one binary file, written atomically (temp file, fsync, rename), so a crash
 * or Ctrl-C at any moment leaves either the previous checkpoint or the new one, never a
 * half-written file.
 *
 * Layout: "VAECKPT1" | uint32 LE header length | header JSON (utf-8) | float32 LE tensors.
 * The header lists each tensor's name, shape and offset, plus the run's config and progress.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { pausePoint } from './fault.js';
import type { TrainerState } from './step.js';
import type { RunConfig } from './config.js';

const MAGIC = 'VAECKPT1';

/** Where training stands: `epoch` complete epochs plus `stepInEpoch` steps of the next. */
export interface Progress {
  epoch: number;
  stepInEpoch: number;
  /** Loss sums of the partial epoch, so a mid-epoch resume reports the same epoch mean. */
  partial: { bce: number; kl: number; count: number };
  /** Wall-clock seconds spent training so far, across resumes. */
  seconds: number;
}

export interface Checkpoint { config: RunConfig; progress: Progress; state: TrainerState }

interface TensorEntry { name: string; length: number; offset: number }
interface Header { format: 1; config: RunConfig; progress: Progress; adamStep: number; tensors: TensorEntry[] }

export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const named: [string, Float32Array][] = [
    ...ckpt.state.weights.map((w, i): [string, Float32Array] => [`weights.${i}`, w]),
    ...ckpt.state.adam.m.map((w, i): [string, Float32Array] => [`adam.m.${i}`, w]),
    ...ckpt.state.adam.v.map((w, i): [string, Float32Array] => [`adam.v.${i}`, w]),
  ];
  let offset = 0;
  const tensors = named.map(([name, data]) => {
    const entry = { name, length: data.length, offset };
    offset += data.length * 4;
    return entry;
  });
  const header: Header = { format: 1, config: ckpt.config, progress: ckpt.progress, adamStep: ckpt.state.adam.step, tensors };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, 8);

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const file = await open(tmp, 'w');
  try {
    await file.write(prefix);
    await file.write(json);
    for (const [i, [, data]] of named.entries()) {
      if (i === named.length >> 1) pausePoint('checkpoint-write', `epoch ${ckpt.progress.epoch}`); // fault injection (fault.ts)
      await file.write(littleEndianBytes(data));
    }
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await file.close();
  await rename(tmp, path);
  // fsync the directory so the rename itself survives a power cut.
  const dir = await open(dirname(path), 'r');
  try { await dir.sync(); } finally { await dir.close(); }
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const bad = (why: string) => new Error(`${path} is not a valid checkpoint: ${why}`);
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) throw bad(`expected magic "${MAGIC}"`);
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw bad(`header of ${headerLength} bytes exceeds the file size ${bytes.length}`);
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Header;
  } catch {
    throw bad('header is not valid JSON');
  }
  if (header.format !== 1) throw bad(`unknown format ${String(header.format)}`);
  const dataStart = 12 + headerLength;
  const read = (entry: TensorEntry) => {
    const start = dataStart + entry.offset;
    const end = start + entry.length * 4;
    if (end > bytes.length) throw bad(`tensor ${entry.name} runs past the end of the file (truncated?)`);
    return fromLittleEndianBytes(bytes.subarray(start, end));
  };
  const pick = (prefix: string) => header.tensors.filter((t) => t.name.startsWith(prefix)).map(read);
  const last = header.tensors.at(-1);
  if (last && dataStart + last.offset + last.length * 4 !== bytes.length) {
    throw bad(`expected ${dataStart + last.offset + last.length * 4} bytes, found ${bytes.length}`);
  }
  return {
    config: header.config,
    progress: header.progress,
    state: { weights: pick('weights.'), adam: { step: header.adamStep, m: pick('adam.m.'), v: pick('adam.v.') } },
  };
}

// Float32Array uses the host's byte order; every platform Node.js runs this project on is
// little-endian, which is the order the file format specifies.
function littleEndianBytes(data: Float32Array): Uint8Array {
  return new Uint8Array(new Float32Array(data).buffer); // a copy: tfjs may reuse `data`'s memory
}

function fromLittleEndianBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
