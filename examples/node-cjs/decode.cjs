// The CommonJS twin of ../node-esm/decode.mjs: `node decode.cjs golden.json`.
const { readFileSync } = require('node:fs');
const { loadVae } = require('@vae/runtime-node');

async function main() {
  const golden = JSON.parse(readFileSync(process.argv[2] ?? 'golden.json', 'utf8'));
  const vae = await loadVae(undefined, { device: 'cpu' });
  const images = await vae.decode(golden.z);
  let maxError = 0;
  images.pixels.forEach((p, i) => { maxError = Math.max(maxError, Math.abs(p - golden.x_hat[i])); });
  console.log(JSON.stringify({ device: vae.device, model: vae.manifest.name, count: images.count, maxError }));
  await vae.dispose();
}
main().catch((err) => { console.error(err); process.exit(1); });
