#!/usr/bin/env node
// The `vae` command's entry. It is committed (not built) so that `npm ci` can link
// node_modules/.bin/vae on a fresh clone, before anything is compiled; it runs the built CLI,
// or says how to build it.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('vae: the packages are not built yet (pipeline/dist/cli.js is missing).\nRun `npm run build` in the repository root, then try again.');
  process.exit(1);
}
await import(cli.href);
