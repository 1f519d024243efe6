/**
 * The one error class of both runtimes. Every failure while loading or running a model is a
 * `VaeError` whose `code` says what failed and whose message names the input, the file, the
 * URL or the device, and says what to do where there is something to do.
 */
import { ManifestError } from '@vae/models';

export type VaeErrorCode =
  /** A call got an argument of the wrong kind, size or value (latents, pixels, seed, count, option). */
  | 'input'
  /** An image could not be read or decoded (not PNG / JPEG / BMP, damaged, too large, missing file). */
  | 'image'
  /** manifest.json is missing, not valid JSON, breaks the schema, or does not match its graphs. */
  | 'manifest'
  /** A model file is missing or its size or SHA-256 differs from the manifest; `file` is set. */
  | 'checksum'
  /** The server answered with a non-2xx status (404, 500, ...); `url` and `status` are set. */
  | 'http'
  /** fetch() itself failed (offline, CORS, DNS, aborted); `url` is set. */
  | 'network'
  /** The device asked for ('cuda', 'webgpu') cannot be used here; the message says why and what to do. */
  | 'device-unavailable'
  /** onnxruntime could not create a session or run a graph. */
  | 'session'
  /** The Vae was disposed. */
  | 'disposed';

export interface VaeErrorDetails {
  url?: string;
  file?: string;
  status?: number;
  cause?: unknown;
}

export class VaeError extends Error {
  readonly code: VaeErrorCode;
  readonly url?: string;
  readonly file?: string;
  readonly status?: number;

  constructor(code: VaeErrorCode, message: string, details: VaeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'VaeError';
    this.code = code;
    if (details.url !== undefined) this.url = details.url;
    if (details.file !== undefined) this.file = details.file;
    if (details.status !== undefined) this.status = details.status;
  }
}

/** The message of anything thrown (onnxruntime-web sometimes throws strings). */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** @vae/models' ManifestError (the file contract) as the runtimes' VaeError; anything else unchanged. */
export function asVaeError(err: unknown, details: VaeErrorDetails = {}): unknown {
  if (err instanceof ManifestError) return new VaeError(err.kind, err.message, { ...details, cause: err });
  return err;
}

/** An error factory for the shared checks: `VaeError('input', message)`. */
export const inputError = (message: string): VaeError => new VaeError('input', message);
