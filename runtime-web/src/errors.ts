/**
 * Errors of runtime-web. Every failure while loading or running a model is a `VaeError`
 * whose `code` says what failed and whose message names the URL, the file or the device.
 */

export type VaeErrorCode =
  /** The server answered with a non-2xx status (404, 500, ...); `url` is set. */
  | 'http'
  /** fetch() itself failed (offline, CORS, DNS, aborted); `url` is set. */
  | 'network'
  /** A file's size or SHA-256 differs from the manifest; `file` and `url` are set. */
  | 'checksum'
  /** manifest.json is not valid JSON or does not follow the schema; `url` is set. */
  | 'manifest'
  /** device: 'webgpu' was requested but this browser / context has no usable WebGPU adapter. */
  | 'webgpu-unavailable'
  /** onnxruntime-web could not create a session (or none of the candidate devices worked). */
  | 'session'
  /** A call got input of the wrong size or type. */
  | 'input'
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
