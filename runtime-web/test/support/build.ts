/**
 * Builds the demo and the test harness with Vite (mode "test": /models/ and /ort/ are not
 * copied, the test server serves them from disk) into .cache/web-test/, once per source
 * change: the build is reused while no file under src/, demo/, test/harness/ or
 * ../models/dist/ or ../runtime-core/dist/ is newer (VAE_WEB_REBUILD=1 forces a build).
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = join(PACKAGE_DIR, '.cache', 'web-test');
const STAMP = join(BUILD_DIR, '.built');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const s = statSync(full);
    t = Math.max(t, s.isDirectory() ? newest(full) : s.mtimeMs);
  }
  return t;
}

export async function buildPages(): Promise<string> {
  const dirs = ['src', 'demo', 'test/harness', '../models/dist', '../runtime-core/dist'].map((d) => join(PACKAGE_DIR, d)).filter(existsSync);
  const sources = Math.max(...dirs.map(newest), statSync(join(PACKAGE_DIR, 'package.json')).mtimeMs);
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs > sources && !process.env.VAE_WEB_REBUILD) return BUILD_DIR;
  const { build } = await import('vite');
  await build({
    configFile: join(PACKAGE_DIR, 'demo', 'vite.config.ts'),
    mode: 'test',
    logLevel: 'warn',
    build: { outDir: BUILD_DIR, emptyOutDir: true, sourcemap: false },
  });
  writeFileSync(STAMP, new Date().toISOString());
  return BUILD_DIR;
}
