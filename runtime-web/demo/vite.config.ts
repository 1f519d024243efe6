/**
 * Vite config of the demo (demo/index.html) and the browser-test harness
 * (test/harness/index.html). Root is the package folder, so both pages can import the
 * library's sources (`@vae/runtime-web` is aliased to src/index.ts: edits show up live).
 *
 *   npm run demo                      dev server on http://127.0.0.1:5173/ (opens the demo)
 *   npx vite build -c demo/vite.config.ts    static build in dist/web/ (models and ort files copied)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { assetFilesForBuild, assetMiddleware } from './assets.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Serves /models/ and /ort/ in dev and preview, copies them into a production build. */
export function vaeAssets(): Plugin {
  let copy = true;
  return {
    name: 'vae-assets',
    configResolved(config) {
      // The tests build with mode "test" and serve /models/ and /ort/ from disk themselves.
      copy = config.command === 'build' && config.mode !== 'test';
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url === '/' || req.url === '/index.html') {
          res.writeHead(302, { location: '/demo/' });
          res.end();
          return;
        }
        assetMiddleware(req, res, next);
      });
    },
    configurePreviewServer(server) {
      server.middlewares.use(assetMiddleware);
    },
    generateBundle() {
      if (!copy) return;
      for (const [fileName, file] of assetFilesForBuild()) this.emitFile({ type: 'asset', fileName, source: readFileSync(file) });
    },
  };
}

export const pages = {
  demo: fileURLToPath(new URL('./index.html', import.meta.url)),
  harness: fileURLToPath(new URL('../test/harness/index.html', import.meta.url)),
};

export default defineConfig({
  root,
  appType: 'mpa',
  resolve: { alias: { '@vae/runtime-web': fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
  plugins: [vaeAssets()],
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, open: false },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: pages },
  },
});
