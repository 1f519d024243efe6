import { loadVae } from 'vae-runtime';

const params = new URLSearchParams(location.search);
const device = params.get('device') ?? 'auto';
const modelUrl = new URL('./model/', location.href).href;

/** Decodes on this page. */
async function onPage(z) {
  const vae = await loadVae(modelUrl, { device, encoder: false });
  const images = await vae.decode(z);
  await vae.dispose();
  return { device: vae.device, count: images.count, pixels: images.pixels };
}

/** The same in a module worker (./worker.js). */
function inWorker(z) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(Object.assign(new Error(data.error), { code: data.code }));
      else resolve(data);
    };
    worker.onerror = (e) => reject(new Error(`worker: ${e.message}`));
    worker.postMessage({ z, device, modelUrl });
  });
}

/** ?encode=IMAGE_URL: the posterior mean of that image file (fetched and decoded by the library). */
async function encodeImage(url) {
  const vae = await loadVae(modelUrl, { device });
  const { mu } = await vae.encode(new URL(url, location.href).href);
  await vae.dispose();
  return { device: vae.device, mu: Array.from(mu) };
}

async function run() {
  if (params.has('encode')) return encodeImage(params.get('encode'));
  const golden = await (await fetch('./golden.json')).json();
  const where = params.has('worker') ? 'worker' : 'page';
  const decoded = where === 'worker' ? await inWorker(golden.z) : await onPage(golden.z);
  let maxError = 0;
  decoded.pixels.forEach((p, i) => { maxError = Math.max(maxError, Math.abs(p - golden.x_hat[i])); });
  return { where, device: decoded.device, count: decoded.count, maxError };
}

window.result = run().catch((err) => ({ error: String(err?.message ?? err), code: err?.code }));
window.result.then((r) => { document.getElementById('out').textContent = JSON.stringify(r, null, 2); });
