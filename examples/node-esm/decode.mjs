// Decodes latent vectors with the released n = 64 model and reports how far the images are
// from expected ones: `node decode.mjs golden.json` with { z: number[], x_hat: number[] }.
import { readFile } from 'node:fs/promises';
import { loadVae } from '@vae/runtime-node';

const golden = JSON.parse(await readFile(process.argv[2] ?? 'golden.json', 'utf8'));
const vae = await loadVae(undefined, { device: 'cpu' }); // the released model that ships in @vae/models
const images = await vae.decode(golden.z);
let maxError = 0;
images.pixels.forEach((p, i) => { maxError = Math.max(maxError, Math.abs(p - golden.x_hat[i])); });
console.log(JSON.stringify({ device: vae.device, model: vae.manifest.name, count: images.count, maxError }));
await vae.dispose();
