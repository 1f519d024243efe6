/**
 * The static server of the browser tests and the benchmark: the Vite build of the demo and
 * the harness, and /models/ and /ort/ from disk (demo/assets.ts). Tests add routes (tampered
 * files, 404s) with `route()`; those are tried first.
 */
import { serveStatic, type StaticServer } from '@vae/browser-harness';
import { assetFile } from '../../demo/assets.ts';

export type TestServer = StaticServer;

export function startServer(staticDir: string): Promise<TestServer> {
  return serveStatic({ dirs: { '/': staticDir }, files: assetFile });
}
