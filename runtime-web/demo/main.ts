/**
 * The demo: a latent explorer for the n = 2 model, a sampling grid for the n = 64 model,
 * and a drawing pad whose digit is encoded and reconstructed. Models come from
 * /models/<name>/ and onnxruntime-web's wasm from /ort/ (same origin; see vite.config.ts).
 * ?device=auto|webgpu|wasm picks the device, ?seed=N the first sample grid.
 * `document.body.dataset.ready` becomes "true" only once every control is wired and the
 * first renders have landed, so an input right after it is handled at once.
 */
import { loadVae, toImageData, VaeError, type DeviceRequest, type Images, type LoadProgress, type Vae } from '@vae/runtime-web';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const requested = (['auto', 'webgpu', 'wasm'].includes(params.get('device') ?? '') ? params.get('device') : 'auto') as DeviceRequest;
const modelUrl = (name: string) => new URL(`../models/${name}/`, location.href).href;
const wasmPaths = new URL('../ort/', location.href).href;

/** State the tests read (window.__demo). */
const state = { decodes: 0, encodes: 0, samples: 0, strokes: 0, lastZ: [0, 0] as number[], drawnZ: null as number[] | null, seed: 0, errors: [] as string[] };
Object.assign(window, { __demo: state });

const RANGE = 3; // the plane shows z in [-RANGE, RANGE]^2
const GRID = 15; // manifold grid: GRID x GRID decodings, z from -RANGE to RANGE (end points included)
const CELL = 28; // manifold canvas pixels per grid cell

// ---------------------------------------------------------------- status
const timings: number[] = [];
function showTiming(ms: number, batch: number) {
  timings.push(ms / batch);
  if (timings.length > 30) timings.shift();
  const avg = timings.reduce((a, b) => a + b, 0) / timings.length;
  $('timing').textContent = `${ms.toFixed(2)} ms (batch ${batch}); mean ${avg.toFixed(2)} ms/image over the last ${timings.length}`;
}

function showError(err: unknown) {
  const msg = err instanceof VaeError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  state.errors.push(msg);
  const box = $('error');
  box.hidden = false;
  box.textContent = msg;
  document.body.dataset.error = msg;
}

const deviceSelect = $<HTMLSelectElement>('device-select');
deviceSelect.value = requested;
deviceSelect.addEventListener('change', () => {
  params.set('device', deviceSelect.value);
  location.search = params.toString();
});

// ---------------------------------------------------------------- drawing helpers
function putDigit(canvas: HTMLCanvasElement, images: Images, index = 0) {
  canvas.getContext('2d')!.putImageData(toImageData(images, index), 0, 0);
}

const ms = (t0: number) => performance.now() - t0;

/**
 * Plane coordinates. The latent plane spans [-RANGE, RANGE] edge to edge (inset 0); on the
 * manifold grid the end points -RANGE and RANGE are the centres of the outer cells (inset CELL / 2).
 */
const toPlane = (z: number, size: number, flip: boolean, inset = 0) => inset + ((flip ? RANGE - z : z + RANGE) / (2 * RANGE)) * (size - 2 * inset);
const fromPlane = (p: number, size: number, flip: boolean, inset = 0) => {
  const t = (p - inset) / (size - 2 * inset);
  return flip ? RANGE - t * 2 * RANGE : t * 2 * RANGE - RANGE;
};
const insetOf = (canvas: HTMLCanvasElement) => (canvas.id === 'manifold-marker' ? CELL / 2 : 0);

function drawMarkers(ctx: CanvasRenderingContext2D, z: number[], drawn: number[] | null, clear: boolean) {
  const { width: w, height: h } = ctx.canvas;
  const inset = insetOf(ctx.canvas);
  if (clear) ctx.clearRect(0, 0, w, h);
  const dot = (p: number[], color: string, r: number) => {
    ctx.beginPath();
    ctx.arc(toPlane(p[0], w, false, inset), toPlane(p[1], h, true, inset), r, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
  };
  if (drawn) dot(drawn, '#2fbf71', 6);
  dot(z, '#ff5a36', 8);
}

function drawPlane(z: number[], drawn: number[] | null) {
  const ctx = $<HTMLCanvasElement>('plane').getContext('2d')!;
  const { width: w, height: h } = ctx.canvas;
  ctx.fillStyle = '#0b0d12';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = '#263040';
  ctx.lineWidth = 1;
  for (let v = -RANGE; v <= RANGE; v++) {
    ctx.beginPath();
    ctx.moveTo(toPlane(v, w, false), 0);
    ctx.lineTo(toPlane(v, w, false), h);
    ctx.moveTo(0, toPlane(v, h, true));
    ctx.lineTo(w, toPlane(v, h, true));
    ctx.stroke();
  }
  ctx.strokeStyle = '#5a6b85';
  ctx.beginPath();
  ctx.moveTo(w / 2, 0);
  ctx.lineTo(w / 2, h);
  ctx.moveTo(0, h / 2);
  ctx.lineTo(w, h / 2);
  ctx.stroke();
  ctx.fillStyle = '#7d8ba3';
  ctx.font = '12px system-ui';
  ctx.fillText('z₁', w - 18, h / 2 - 6);
  ctx.fillText('z₂', w / 2 + 6, 14);
  // The prior's 1- and 2-sigma circles.
  for (const s of [1, 2]) {
    ctx.beginPath();
    ctx.ellipse(w / 2, h / 2, (s / (2 * RANGE)) * w, (s / (2 * RANGE)) * h, 0, 0, 2 * Math.PI);
    ctx.stroke();
  }
  drawMarkers(ctx, z, drawn, false);
  drawMarkers($<HTMLCanvasElement>('manifold-marker').getContext('2d')!, z, drawn, true);
}

// ---------------------------------------------------------------- explorer (n = 2)
function setupExplorer(vae: Vae) {
  const decodedCanvas = $<HTMLCanvasElement>('decoded');
  let pending: number[] | null = null;
  let running = false;

  let idle: Promise<void> = Promise.resolve();

  async function pump() {
    if (running) return;
    running = true;
    try {
      while (pending) {
        const z = pending;
        pending = null;
        const t0 = performance.now();
        const out = await vae.decode(Float32Array.from(z));
        putDigit(decodedCanvas, out);
        state.decodes++;
        state.lastZ = z;
        decodedCanvas.dataset.decodes = String(state.decodes);
        showTiming(ms(t0), 1);
      }
    } catch (err) {
      showError(err);
    } finally {
      running = false;
    }
  }

  /** Shows z and decodes it; resolves once no decode is pending. */
  function moveTo(z: number[]): Promise<void> {
    const clamped = z.map((v) => Math.max(-RANGE, Math.min(RANGE, v)));
    $('z-readout').textContent = `z = (${clamped[0].toFixed(2)}, ${clamped[1].toFixed(2)})`;
    drawPlane(clamped, state.drawnZ);
    pending = clamped;
    if (!running) idle = pump();
    return idle;
  }

  for (const id of ['plane', 'manifold-marker']) {
    const canvas = $<HTMLCanvasElement>(id);
    let dragging = false;
    const inset = insetOf(canvas);
    const at = (e: PointerEvent) => {
      const r = canvas.getBoundingClientRect();
      const x = ((e.clientX - r.left) / r.width) * canvas.width;
      const y = ((e.clientY - r.top) / r.height) * canvas.height;
      return [fromPlane(x, canvas.width, false, inset), fromPlane(y, canvas.height, true, inset)];
    };
    canvas.addEventListener('pointerdown', (e) => {
      dragging = true;
      canvas.setPointerCapture(e.pointerId);
      void moveTo(at(e));
    });
    canvas.addEventListener('pointermove', (e) => {
      if (dragging) void moveTo(at(e));
    });
    const stop = () => { dragging = false; };
    canvas.addEventListener('pointerup', stop);
    canvas.addEventListener('pointercancel', stop);
  }
  return moveTo;
}

/** vae.manifold: GRID x GRID decodings, z0 from -RANGE (left) to RANGE, z1 from RANGE (top) to -RANGE, end points included. */
async function renderManifold(vae: Vae) {
  const t0 = performance.now();
  const out = await vae.manifold({ range: RANGE, steps: GRID });
  const time = ms(t0);
  const ctx = $<HTMLCanvasElement>('manifold').getContext('2d')!;
  for (let k = 0; k < out.count; k++) ctx.putImageData(toImageData(out, k), (k % out.columns) * CELL, Math.floor(k / out.columns) * CELL);
  $('manifold-caption').textContent = `manifold grid: ${out.rows}×${out.columns} decodings of z in [−${RANGE}, ${RANGE}]² (end points included) in one batch, ${time.toFixed(1)} ms`;
  showTiming(time, out.count);
}

// ---------------------------------------------------------------- samples (n = 64)
function setupSampling(vae: Vae) {
  const canvas = $<HTMLCanvasElement>('samples');
  const seedInput = $<HTMLInputElement>('seed');
  const side = 8;
  /** seed undefined: a random one (vae.sample returns it). */
  async function sample(seed?: number) {
    try {
      const t0 = performance.now();
      const out = await vae.sample(side * side, { seed });
      const time = ms(t0);
      const ctx = canvas.getContext('2d')!;
      for (let k = 0; k < out.count; k++) ctx.putImageData(toImageData(out, k), (k % side) * 28, Math.floor(k / side) * 28);
      seedInput.value = String(out.seed);
      state.seed = out.seed;
      state.samples++;
      canvas.dataset.seed = String(out.seed);
      $('samples-caption').textContent = `seed ${out.seed}: ${out.count} samples in ${time.toFixed(1)} ms`;
      showTiming(time, out.count);
    } catch (err) {
      // A seed outside [0, 2^32) is refused by the library, not wrapped: say so under the grid.
      if (err instanceof VaeError && err.code === 'input') $('samples-caption').textContent = err.message;
      else showError(err);
    }
  }
  canvas.addEventListener('click', () => void sample());
  $('sample-new').addEventListener('click', () => void sample());
  $('sample-seed').addEventListener('click', () => void sample(seedInput.value.trim() === '' ? Number.NaN : Number(seedInput.value)));
  return sample;
}

// ---------------------------------------------------------------- drawing pad
function setupDrawing(n2: Vae, n64: Vae, redrawPlane: () => void) {
  const pad = $<HTMLCanvasElement>('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
  };
  const stroke = (from: [number, number], to: [number, number]) => {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 20;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last, last);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    stroke(last, p);
    last = p;
  });
  const finish = async () => {
    if (!last) return;
    last = null;
    state.strokes++;
    try {
      // The drawing as it is (white on black, any size): the library's defaults invert it if
      // needed and centre it like MNIST, the same steps as in Node.
      const drawing = ctx.getImageData(0, 0, pad.width, pad.height);
      const input = await n2.preprocess(drawing);
      putDigit($('input28'), { ...input, width: 28, height: 28 });
      const timed = async (vae: Vae) => { const t0 = performance.now(); const r = await vae.reconstruct(drawing); return { r, time: ms(t0) }; };
      const [a, b] = await Promise.all([timed(n2), timed(n64)]);
      putDigit($('recon-n2'), a.r);
      putDigit($('recon-n64'), b.r);
      const mu = Array.from(a.r.mu);
      const sigma = Array.from(a.r.logvar, (lv) => Math.exp(0.5 * lv));
      state.drawnZ = mu;
      state.encodes++;
      $('draw-latent').textContent =
        `latent position (n = 2): mu = (${mu[0].toFixed(2)}, ${mu[1].toFixed(2)}), sigma = (${sigma[0].toFixed(2)}, ${sigma[1].toFixed(2)}); ` +
        `encode + decode ${a.time.toFixed(1)} ms (n = 2), ${b.time.toFixed(1)} ms (n = 64)`;
      $('draw-latent').dataset.encodes = String(state.encodes);
      redrawPlane();
    } catch (err) {
      showError(err);
    }
  };
  pad.addEventListener('pointerup', () => void finish());
  pad.addEventListener('pointercancel', () => void finish());
  $('clear').addEventListener('click', () => {
    clear();
    state.drawnZ = null;
    redrawPlane();
  });
}

// ---------------------------------------------------------------- main
async function main() {
  const progress = new Map<string, LoadProgress>();
  const fileSources = new Map<string, string>();
  const onProgress = (model: string) => (p: LoadProgress) => {
    progress.set(model, p);
    fileSources.set(`${model}/${p.file}`, p.source);
    let loaded = 0;
    let total = 0;
    for (const q of progress.values()) {
      loaded += q.loaded;
      total += q.total;
    }
    $<HTMLProgressElement>('load-progress').value = total ? loaded / total : 0;
    $('load-text').textContent = `${(loaded / 1e6).toFixed(2)} / ${(total / 1e6).toFixed(2)} MB (${p.file} from ${p.source})`;
  };
  const t0 = performance.now();
  const [n2, n64] = await Promise.all([
    loadVae(modelUrl('mnist-n2-beta1'), { device: requested, wasmPaths, onProgress: onProgress('n2') }),
    loadVae(modelUrl('mnist-n64-beta1'), { device: requested, wasmPaths, onProgress: onProgress('n64') }),
  ]);
  for (const [id, v] of [['device-n2', n2], ['device-n64', n64]] as const) {
    $(id).textContent = v.device;
    $(id).title = v.deviceNote;
  }
  document.body.dataset.device = n2.device;
  const cached = [...fileSources.values()].filter((s) => s === 'cache').length;
  $('load-text').textContent = `models ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${cached} of ${fileSources.size} files from the cache)`;

  // Wire every control first, then draw the first views, then say "ready": an input right
  // after "ready" finds its listener in place and no start-up work queued ahead of it.
  const moveTo = setupExplorer(n2);
  const sample = setupSampling(n64);
  setupDrawing(n2, n64, () => drawPlane(state.lastZ, state.drawnZ));
  await renderManifold(n2);
  await moveTo([0, 0]);
  const seed = params.get('seed');
  await sample(seed === null ? 1 : Number(seed));
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  showError(err);
  document.body.dataset.ready = 'error';
});
