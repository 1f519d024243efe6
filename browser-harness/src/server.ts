/**
 * A small HTTP server on 127.0.0.1 for pages under test. http://127.0.0.1 is a secure
 * context, which WebGPU needs. Requests are answered by the routes, in the order they were
 * added (so a test can add one that answers instead of a file), then by the `files` function,
 * then by the static folders; every request URL is logged.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, relative } from 'node:path';

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.pb': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

/** A handler tried before the static folders; it returns true when it answered. */
export type Route = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export interface StaticServer {
  origin: string;
  /** Every request URL (with query), in arrival order. */
  requests: string[];
  route(handler: Route): void;
  count(predicate: (url: string) => boolean): number;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** URL prefix -> folder, e.g. { '/': distDir, '/ort/': ortDist }. The longest matching prefix wins. */
  dirs?: Record<string, string>;
  routes?: Route[];
  /** Files found by a function (an allow-list, say), after the routes and before `dirs`: a file path or null. */
  files?: (path: string) => string | null;
  /** "index.html" is served for a path ending in "/" (default true). */
  index?: boolean;
}

/** Streams a file with its MIME type; `no-store` keeps the browser's HTTP cache out of cache tests. */
export function sendFile(res: ServerResponse, file: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': MIME[extname(file)] ?? 'application/octet-stream',
    'content-length': String(statSync(file).size),
    'cache-control': 'no-store',
    ...headers,
  });
  createReadStream(file).pipe(res);
}

/** Sends bytes or text from memory. */
export function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** The file under one of `dirs` for a URL path, or null; never a file outside those folders. */
export function staticFile(dirs: Record<string, string>, path: string, index = true): string | null {
  const prefix = Object.keys(dirs).filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return null;
  let rest = path.slice(prefix.length);
  if (index && (rest === '' || rest.endsWith('/'))) rest += 'index.html';
  const root = dirs[prefix];
  const file = normalize(join(root, rest));
  const rel = relative(root, file);
  if (rel.startsWith('..') || rel === '' || !existsSync(file) || !statSync(file).isFile()) return null;
  return file;
}

export async function serveStatic(options: ServeOptions = {}): Promise<StaticServer> {
  const requests: string[] = [];
  const routes: Route[] = [...(options.routes ?? [])];
  const dirs = options.dirs ?? {};
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    try {
      const path = decodeURIComponent(url.split('?')[0]);
      for (const r of routes) if (r(req, res, path)) return;
      const file = options.files?.(path) ?? staticFile(dirs, path, options.index ?? true);
      if (file) return sendFile(res, file);
      send(res, 404, 'text/plain', `not found: ${path}`);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain', String(err));
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    route: (h) => { routes.push(h); },
    count: (p) => requests.filter(p).length,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
