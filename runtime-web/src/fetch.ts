/**
 * Downloading a model directory: manifest.json, then the graph files with byte progress,
 * each checked against the SHA-256 and size the manifest lists (`verifyFileBytes` of
 * @vae/models), and kept in the browser's Cache API under a key derived from that SHA-256,
 * so a reload (or a second `loadVae`) reads them from the cache instead of the network.
 *
 * The manifest itself is never stored in the Cache API and is fetched with
 * `cache: 'no-cache'` (revalidated): a new release changes the hashes it lists, which
 * changes the cache keys, so a stale model can never be served.
 */
import { MANIFEST_FILE, ManifestError, parseManifestText, verifyFileBytes, type Manifest, type ManifestFile } from '@vae/models';
import { VaeError, messageOf, type LoadProgress } from '@vae/runtime-core';

/** Cache API bucket used by default. */
export const DEFAULT_CACHE_NAME = 'vae-models-v1';

/** Where a file's bytes came from. */
export type FileSource = 'network' | 'cache';

export interface FetchOptions {
  /** Use the Cache API (default true). With false, files are always downloaded and never stored. */
  cache?: boolean;
  /** Cache API bucket (default "vae-models-v1"). */
  cacheName?: string;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** CacheStorage implementation (default globalThis.caches; null disables caching). */
  caches?: CacheStorage | null;
  /** Progress in the core's shape (`source` is 'network' or 'cache'). */
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
}

export interface LoadedFile {
  path: string;
  url: string;
  bytes: Uint8Array;
  source: FileSource;
  /** Why the file could not be stored in / read from the cache, if that failed (loading still succeeded). */
  cacheWarning?: string;
}

/** The Cache API key of a file with this SHA-256 (a synthetic URL: only the hash matters). */
export function cacheKey(sha256: string): string {
  return `https://vae-model-cache.invalid/sha256/${sha256}`;
}

/** A directory URL with a trailing slash, resolved against the page (or worker) location. */
export function directoryUrl(modelUrl: string | URL): URL {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const url = new URL(String(modelUrl), base);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

async function get(url: string, fetchImpl: typeof fetch, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetchImpl(url, init);
  } catch (err) {
    if ((err as { name?: string })?.name === 'AbortError') throw err;
    throw new VaeError('network', `Could not fetch ${what} from ${url}: ${messageOf(err)}`, { url, cause: err });
  }
  if (!res.ok) {
    const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    throw new VaeError('http', `Could not fetch ${what}: GET ${url} answered ${status}`, { url, status: res.status });
  }
  return res;
}

/** Fetches and validates `<modelUrl>manifest.json`. */
export async function fetchManifest(modelUrl: string | URL, options: Pick<FetchOptions, 'fetch' | 'signal'> = {}): Promise<Manifest> {
  const url = new URL(MANIFEST_FILE, directoryUrl(modelUrl)).href;
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const res = await get(url, fetchImpl, { cache: 'no-cache', signal: options.signal }, 'the model manifest');
  const text = await res.text();
  try {
    return parseManifestText(text, url);
  } catch (err) {
    throw new VaeError('manifest', messageOf(err), { url, file: MANIFEST_FILE, cause: err });
  }
}

async function readBody(res: Response, onChunk: (bytes: number) => void): Promise<Uint8Array> {
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onChunk(bytes.length);
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    onChunk(value.length);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function openCache(options: FetchOptions): Promise<{ cache: Cache | null; warning?: string }> {
  if (options.cache === false) return { cache: null };
  const storage = options.caches === undefined ? (globalThis as { caches?: CacheStorage }).caches : options.caches;
  if (!storage) return { cache: null, warning: 'the Cache API is not available here (it needs a secure context)' };
  try {
    return { cache: await storage.open(options.cacheName ?? DEFAULT_CACHE_NAME) };
  } catch (err) {
    return { cache: null, warning: `the Cache API could not be opened: ${messageOf(err)}` };
  }
}

/**
 * Loads `entries` (manifest file entries) from `modelUrl`, in parallel, from the cache when
 * a verified copy is there, else from the network. Every file is checked against its size
 * and SHA-256; a mismatch throws a VaeError (code "checksum") naming the file and the URL.
 */
export async function loadModelFiles(modelUrl: string | URL, entries: ManifestFile[], options: FetchOptions = {}): Promise<LoadedFile[]> {
  const dir = directoryUrl(modelUrl);
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const total = entries.reduce((s, e) => s + e.bytes, 0);
  let loaded = 0;
  const report = (file: string, source: FileSource, bytes: number) => {
    loaded += bytes;
    options.onProgress?.({ loaded, total, file, source });
  };
  const { cache, warning: openWarning } = await openCache(options);

  return Promise.all(entries.map(async (entry): Promise<LoadedFile> => {
    const url = new URL(entry.path, dir).href;
    // The schema already refuses such paths; this guards the URL itself, as the Node loader guards real paths.
    if (!url.startsWith(dir.href)) {
      throw new VaeError('manifest', `${entry.path}: resolves to ${url}, outside the model directory ${dir.href}`, { url, file: entry.path });
    }
    const key = cacheKey(entry.sha256);
    let cacheWarning = openWarning;
    if (cache) {
      try {
        const hit = await cache.match(key);
        if (hit) {
          const bytes = new Uint8Array(await hit.arrayBuffer());
          try {
            await verifyFileBytes(entry, bytes);
            report(entry.path, 'cache', bytes.length);
            return { path: entry.path, url, bytes, source: 'cache' };
          } catch {
            // A corrupt cache entry: drop it and download the file again.
            await cache.delete(key);
          }
        }
      } catch (err) {
        cacheWarning = `reading the cache failed: ${messageOf(err)}`;
      }
    }

    const res = await get(url, fetchImpl, { signal: options.signal }, entry.path);
    const bytes = await readBody(res, (n) => report(entry.path, 'network', n));
    try {
      await verifyFileBytes(entry, bytes);
    } catch (err) {
      const why = err instanceof ManifestError ? err.message : messageOf(err);
      throw new VaeError('checksum', `${why} (downloaded from ${url})`, { url, file: entry.path, cause: err });
    }
    if (cache) {
      try {
        await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
      } catch (err) {
        cacheWarning = `storing in the cache failed: ${messageOf(err)}`;
      }
    }
    const file: LoadedFile = { path: entry.path, url, bytes, source: 'network' };
    if (cacheWarning) file.cacheWarning = cacheWarning;
    return file;
  }));
}

/** Deletes the model cache bucket (all cached model files). Resolves to whether it existed. */
export async function clearModelCache(cacheName = DEFAULT_CACHE_NAME): Promise<boolean> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage ? storage.delete(cacheName) : false;
}
