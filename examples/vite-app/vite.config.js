import { defineConfig } from 'vite';

// One app, built against either entry of @vae/runtime-web: the default one (WebGPU with a
// wasm fallback) or `@vae/runtime-web/wasm` (wasm only, about half the download). An app of
// your own imports the entry it wants directly; the alias is only so this example can be
// built both ways (VAE_ENTRY=wasm npm run build).
const entry = process.env.VAE_ENTRY === 'wasm' ? 'wasm' : 'default';

export default defineConfig({
  resolve: { alias: { 'vae-runtime': entry === 'wasm' ? '@vae/runtime-web/wasm' : '@vae/runtime-web' } },
  worker: { format: 'es' },
  build: { outDir: `dist-${entry}`, emptyOutDir: true, target: 'es2022' },
});
