/**
 * Bytes a production Vite build ships for each entry of @vae/runtime-web: the example app
 * (examples/vite-app: a page and a module worker that decode) built once against
 * `@vae/runtime-web` and once against `@vae/runtime-web/wasm`. Raw and gzip (level 9) sizes of
 * everything in the build's output, the model files aside; the .wasm files on their own line.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const APP = resolve(import.meta.dirname, '..', '..', 'examples', 'vite-app');

export interface ShippedBytes { entry: string; files: number; raw: number; gzip: number; wasmRaw: number; wasmGzip: number }

/** Builds the example app against `entry` ('default' or 'wasm') and measures its output. */
export async function shippedBytes(entry: 'default' | 'wasm'): Promise<ShippedBytes> {
  const outDir = await mkdtemp(join(tmpdir(), `vae-bytes-${entry}-`));
  try {
    process.env.VAE_ENTRY = entry;
    await build({ root: APP, configFile: join(APP, 'vite.config.js'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
    const sizes: ShippedBytes = { entry, files: 0, raw: 0, gzip: 0, wasmRaw: 0, wasmGzip: 0 };
    for (const e of await readdir(outDir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const bytes = await readFile(join(e.parentPath, e.name));
      const gz = gzipSync(bytes, { level: 9 }).length;
      sizes.files++; sizes.raw += bytes.length; sizes.gzip += gz;
      if (e.name.endsWith('.wasm')) { sizes.wasmRaw += bytes.length; sizes.wasmGzip += gz; }
    }
    return sizes;
  } finally {
    delete process.env.VAE_ENTRY;
    await rm(outDir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

/** Prints one line per entry. */
export async function printShippedBytes(): Promise<ShippedBytes[]> {
  console.log('\nBytes shipped by a production Vite build of examples/vite-app (page + worker that decode), model files aside:');
  const rows = [];
  for (const entry of ['default', 'wasm'] as const) {
    const s = await shippedBytes(entry);
    rows.push(s);
    const name = entry === 'wasm' ? '@vae/runtime-web/wasm' : '@vae/runtime-web';
    console.log(`${name.padEnd(22)} ${mb(s.raw).padStart(9)} raw, ${mb(s.gzip).padStart(8)} gzip in ${s.files} files; of which .wasm ${mb(s.wasmRaw)} raw, ${mb(s.wasmGzip)} gzip`);
  }
  return rows;
}

if (process.argv[1] === import.meta.filename) await printShippedBytes();
