/**
 * A small static server on 127.0.0.1 for the browser tests and the benchmark: the Vite
 * build of the demo and the harness, /models/ and /ort/ from disk (demo/assets.ts), extra
 * routes a test adds (tampered files, 404s), and a log of every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, normalize, relative } from 'node:path';
import { assetFile, sendFile } from '../../demo/assets.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface TestServer {
  origin: string;
  /** Every request path (with query), in arrival order. */
  requests: string[];
  /** Adds a handler tried before the static files; it returns true when it answered. */
  route(handler: Route): void;
  count(predicate: (path: string) => boolean): number;
  close(): Promise<void>;
}

export async function startServer(staticDir: string): Promise<TestServer> {
  const requests: string[] = [];
  const routes: Route[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    try {
      for (const r of routes) if (r(req, res)) return;
      const asset = assetFile(url);
      if (asset) return sendFile(res, asset);
      let path = decodeURIComponent(url.split('?')[0]);
      if (path.endsWith('/')) path += 'index.html';
      const file = normalize(join(staticDir, path));
      if (!relative(staticDir, file).startsWith('..') && existsSync(file) && statSync(file).isFile()) return sendFile(res, file);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}`);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    route: (h) => routes.push(h),
    count: (p) => requests.filter(p).length,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
