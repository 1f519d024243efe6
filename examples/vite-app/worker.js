import { loadVae } from 'vae-runtime';

self.onmessage = async ({ data }) => {
  try {
    const vae = await loadVae(data.modelUrl, { device: data.device, encoder: false });
    const images = await vae.decode(data.z);
    await vae.dispose();
    self.postMessage({ device: vae.device, count: images.count, pixels: images.pixels });
  } catch (err) {
    self.postMessage({ error: String(err?.message ?? err), code: err?.code });
  }
};
