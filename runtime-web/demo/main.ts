/**
 * The demo: one released model at a time (the model switch lists @vae/models' RELEASED_MODELS,
 * whose folders vite.config.ts / assets.ts serve as /models/<name>/), and for it a latent
 * explorer, a sampling grid, and a drawing pad whose digit is encoded and reconstructed.
 * onnxruntime-web's wasm comes from /ort/ (same origin; see vite.config.ts).
 * ?model=NAME picks the first model (default DEFAULT_MODEL), ?device=auto|webgpu|wasm the
 * device, ?seed=N the first sample grid.
 *
 * `document.body.dataset.ready` becomes "true" only once every control is wired and the first
 * model's views have landed, so an input right after it is handled at once. On every switch
 * `dataset.model` is "" until all views of the new model have landed, then its name; every
 * render carries the switch's generation and is dropped if another switch began meanwhile, so
 * a model loading in the background never paints over the one selected after it.
 */
import { DEFAULT_MODEL, RELEASED_MODELS } from '@vae/models';
import { loadVae, toImageData, VaeError, type DeviceRequest, type Images, type LoadProgress, type Vae } from '@vae/runtime-web';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const requested = (['auto', 'webgpu', 'wasm'].includes(params.get('device') ?? '') ? params.get('device') : 'auto') as DeviceRequest;
const modelUrl = (name: string) => new URL(`../models/${name}/`, location.href).href;
const wasmPaths = new URL('../ort/', location.href).href;
const MODELS: readonly string[] = RELEASED_MODELS;

/** State the tests read (window.__demo); latents are full vectors of the shown model's size. */
const state = {
  /** The model whose views are shown ('' while a switch is in flight) and the one loading (or null). */
  model: '', loading: null as string | null, switches: 0, latentSize: 0, loaded: [] as string[],
  decodes: 0, encodes: 0, samples: 0, strokes: 0, manifolds: 0,
  /** The explorer's plane: latent dimensions on the x and y axes, the other coordinates from `anchor`. */
  axes: [0, 1] as [number, number], anchor: [] as number[], plane: [0, 0] as number[],
  lastZ: [] as number[], drawnZ: null as number[] | null, input: null as number[] | null, seed: 0, errors: [] as string[],
};
Object.assign(window, { __demo: state });

const RANGE = 3; // the plane shows z[axes[0]], z[axes[1]] in [-RANGE, RANGE]^2
const GRID = 15; // manifold grid: GRID x GRID decodings, from -RANGE to RANGE (end points included)
const CELL = 28; // manifold canvas pixels per grid cell
const SIDE = 8; // sample grid: SIDE x SIDE

/** The model shown; `gen` is its switch's generation (see `current`). */
let active: { vae: Vae; gen: number } | null = null;
let generation = 0;
/** True while generation g is the latest switch: its results may be painted. */
const current = (g: number) => g === generation;
/**
 * Within a switch, a render may paint only while it is the latest of its kind (two quick
 * strokes or axis changes: the older result must not land last): `fresh()` says so.
 */
const latest = { manifold: 0, samples: 0, encode: 0 };
function ticket(kind: keyof typeof latest, gen: number): () => boolean {
  const t = ++latest[kind];
  return () => t === latest[kind] && current(gen);
}

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

function clearError() {
  $('error').hidden = true;
  delete document.body.dataset.error;
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

function putGrid(canvas: HTMLCanvasElement, images: Images, columns: number) {
  const ctx = canvas.getContext('2d')!;
  for (let k = 0; k < images.count; k++) ctx.putImageData(toImageData(images, k), (k % columns) * CELL, Math.floor(k / columns) * CELL);
}

function blank(...ids: string[]) {
  for (const id of ids) {
    const c = $<HTMLCanvasElement>(id);
    c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
  }
}

const ms = (t0: number) => performance.now() - t0;
const fmt = (v: number) => v.toFixed(2);

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
/** A latent vector's position on the explorer's plane. */
const onPlane = (z: number[]) => [z[state.axes[0]], z[state.axes[1]]];

function drawMarkers(ctx: CanvasRenderingContext2D, p: number[], drawn: number[] | null, clear: boolean) {
  const { width: w, height: h } = ctx.canvas;
  const inset = insetOf(ctx.canvas);
  if (clear) ctx.clearRect(0, 0, w, h);
  const dot = (q: number[], color: string, r: number) => {
    ctx.beginPath();
    ctx.arc(toPlane(q[0], w, false, inset), toPlane(q[1], h, true, inset), r, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
  };
  if (drawn) dot(onPlane(drawn), '#2fbf71', 6);
  dot(p, '#ff5a36', 8);
}

function drawPlane() {
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
  ctx.fillText(`z[${state.axes[0]}]`, w - 34, h / 2 - 6);
  ctx.fillText(`z[${state.axes[1]}]`, w / 2 + 6, 14);
  // The prior's 1- and 2-sigma circles.
  for (const s of [1, 2]) {
    ctx.beginPath();
    ctx.ellipse(w / 2, h / 2, (s / (2 * RANGE)) * w, (s / (2 * RANGE)) * h, 0, 0, 2 * Math.PI);
    ctx.stroke();
  }
  drawMarkers(ctx, state.plane, state.drawnZ, false);
  drawMarkers($<HTMLCanvasElement>('manifold-marker').getContext('2d')!, state.plane, state.drawnZ, true);
}

// ---------------------------------------------------------------- explorer
/*
 * For n = 2 the plane is the whole latent space. For larger n it is a 2-D slice: z[axes[0]] and
 * z[axes[1]] range over the plane, every other coordinate is the anchor's, which is the drawn
 * digit's encoding (mu) once there is one, else 0 (the prior's mean). So drawing a digit and
 * then dragging shows how two latent directions change *that* digit. The default axes are the
 * two dimensions the decoder is most sensitive to around z = 0 (most of a beta = 1 VAE's 64
 * dimensions are nearly unused and would show the same digit everywhere); the selects change them.
 */

/** The full latent vector of a plane point. */
function latentAt(p: readonly number[]): number[] {
  const z = state.anchor.slice();
  z[state.axes[0]] = p[0];
  z[state.axes[1]] = p[1];
  return z;
}

/** The explorer's manifold grid latents (the convention of vae.manifold, in the chosen plane). */
function gridLatents(): Float32Array {
  const n = state.latentSize;
  const at = (i: number) => -RANGE + (2 * RANGE * i) / (GRID - 1);
  const z = new Float32Array(GRID * GRID * n);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) z.set(latentAt([at(c), at(GRID - 1 - r)]), (r * GRID + c) * n);
  }
  return z;
}

/** The two dimensions whose ±2 steps from z = 0 change the decoded image most (one batch of 2n decodes, once per model). */
const defaultAxes = new Map<Vae, Promise<[number, number]>>();
function sensitiveAxes(vae: Vae): Promise<[number, number]> {
  let axes = defaultAxes.get(vae);
  if (!axes) {
    axes = mostSensitive(vae);
    axes.catch(() => defaultAxes.delete(vae));
    defaultAxes.set(vae, axes);
  }
  return axes;
}

async function mostSensitive(vae: Vae): Promise<[number, number]> {
  const n = vae.latentSize;
  if (n <= 2) return [0, 1];
  const z = new Float32Array(2 * n * n);
  for (let k = 0; k < n; k++) {
    z[2 * k * n + k] = 2;
    z[(2 * k + 1) * n + k] = -2;
  }
  const out = await vae.decode(z);
  const size = out.width * out.height;
  const score = Array.from({ length: n }, (_, k) => {
    let s = 0;
    for (let i = 0; i < size; i++) s += Math.abs(out.pixels[2 * k * size + i] - out.pixels[(2 * k + 1) * size + i]);
    return s;
  });
  const order = [...score.keys()].sort((a, b) => score[b] - score[a]);
  return [order[0], order[1]];
}

let pending: { p: number[]; gen: number } | null = null;
let pumping = false;
let idle: Promise<void> = Promise.resolve();

async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    while (pending) {
      const { p, gen } = pending;
      pending = null;
      if (!active || active.gen !== gen) continue;
      const z = latentAt(p);
      const t0 = performance.now();
      const out = await active.vae.decode(Float32Array.from(z));
      if (!current(gen)) continue;
      putDigit($('decoded'), out);
      state.decodes++;
      state.lastZ = z;
      $('decoded').dataset.decodes = String(state.decodes);
      showTiming(ms(t0), 1);
    }
  } catch (err) {
    showError(err);
  } finally {
    pumping = false;
  }
}

/** Shows plane point p and decodes it; resolves once no decode is pending. */
function moveTo(p: number[]): Promise<void> {
  const clamped = p.map((v) => Math.max(-RANGE, Math.min(RANGE, v)));
  state.plane = clamped;
  const [i, j] = state.axes;
  $('z-readout').textContent = `z[${i}] = ${fmt(clamped[0])}, z[${j}] = ${fmt(clamped[1])}`;
  drawPlane();
  if (!active) return idle;
  pending = { p: clamped, gen: active.gen };
  if (!pumping) idle = pump();
  return idle;
}

/** The grid of GRID x GRID decodings over the plane; vae.manifold itself when the plane is the whole space (n = 2). */
async function renderManifold(vae: Vae, gen: number) {
  const fresh = ticket('manifold', gen);
  const t0 = performance.now();
  const out = vae.latentSize === 2 ? await vae.manifold({ range: RANGE, steps: GRID }) : await vae.decode(gridLatents());
  const time = ms(t0);
  if (!fresh()) return;
  putGrid($('manifold'), out, GRID);
  state.manifolds++;
  const what = vae.latentSize === 2 ? `z in [−${RANGE}, ${RANGE}]²` : `z[${state.axes[0]}], z[${state.axes[1]}] in [−${RANGE}, ${RANGE}], the rest from the ${state.drawnZ ? 'drawn digit' : 'origin'}`;
  $('manifold-caption').textContent = `manifold grid: ${GRID}×${GRID} decodings of ${what} (end points included) in one batch, ${time.toFixed(1)} ms`;
  showTiming(time, GRID * GRID);
}

/** After the anchor or the axes changed: the grid (n > 2 only: for n = 2 it does not depend on them) and the point. */
async function refreshExplorer(vae: Vae, gen: number) {
  if (vae.latentSize > 2) await renderManifold(vae, gen);
  if (current(gen)) await moveTo(state.plane);
}

function explorerHint(vae: Vae) {
  const n = vae.latentSize;
  $('explorer-hint').textContent = n === 2
    ? 'Drag the point across the latent plane; the digit is decoded live. Right: the decoder over the same plane (z in [−3, 3]²).'
    : `n = ${n}: a 2-D slice of the latent space. The point moves z[${state.axes[0]}] (→) and z[${state.axes[1]}] (↑); the other ${n - 2} coordinates stay at the anchor: ` +
      'the drawn digit\'s encoding, or 0 before you draw. Default axes: the two dimensions the decoder is most sensitive to around z = 0.';
  $('axes').hidden = n === 2;
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

const axisSelects = [$<HTMLSelectElement>('axis-x'), $<HTMLSelectElement>('axis-y')];
function fillAxes(n: number) {
  for (const [k, select] of axisSelects.entries()) {
    select.replaceChildren(...Array.from({ length: n }, (_, d) => new Option(`z[${d}]`, String(d))));
    select.value = String(state.axes[k]);
  }
}
for (const [k, select] of axisSelects.entries()) {
  select.addEventListener('change', () => {
    const d = Number(select.value);
    // Picking the other axis's dimension swaps the two.
    if (d === state.axes[1 - k]) state.axes[1 - k] = state.axes[k];
    state.axes[k] = d;
    fillAxes(state.latentSize);
    if (!active) return;
    explorerHint(active.vae);
    void refreshExplorer(active.vae, active.gen).catch(showError);
  });
}

// ---------------------------------------------------------------- samples
const seedInput = $<HTMLInputElement>('seed');
/** seed undefined: a random one (vae.sample returns it). */
async function sample(seed?: number) {
  if (!active) return;
  const { vae, gen } = active;
  const fresh = ticket('samples', gen);
  try {
    const t0 = performance.now();
    const out = await vae.sample(SIDE * SIDE, { seed });
    const time = ms(t0);
    if (!fresh()) return;
    putGrid($('samples'), out, SIDE);
    seedInput.value = String(out.seed);
    state.seed = out.seed;
    state.samples++;
    $('samples').dataset.seed = String(out.seed);
    $('samples-caption').textContent = `seed ${out.seed}: ${out.count} samples in ${time.toFixed(1)} ms`;
    showTiming(time, out.count);
  } catch (err) {
    // A seed outside [0, 2^32) is refused by the library, not wrapped: say so under the grid.
    if (err instanceof VaeError && err.code === 'input') $('samples-caption').textContent = err.message;
    else showError(err);
  }
}
$('samples').addEventListener('click', () => void sample());
$('sample-new').addEventListener('click', () => void sample());
$('sample-seed').addEventListener('click', () => void sample(seedInput.value.trim() === '' ? Number.NaN : Number(seedInput.value)));

// ---------------------------------------------------------------- drawing pad
const pad = $<HTMLCanvasElement>('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true })!;
let hasDrawing = false;
const clearPad = () => {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  hasDrawing = false;
};
clearPad();

/** Encodes and reconstructs the pad's drawing with the shown model; the encoding becomes the explorer's anchor. */
async function encodeDrawing(vae: Vae, gen: number) {
  // The drawing as it is (white on black, any size): the library's defaults invert it if
  // needed and centre it like MNIST, the same steps as in Node.
  const fresh = ticket('encode', gen);
  const drawing = padCtx.getImageData(0, 0, pad.width, pad.height);
  const t0 = performance.now();
  const input = await vae.preprocess(drawing);
  const r = await vae.reconstruct(input.pixels);
  const time = ms(t0);
  if (!fresh()) return;
  putDigit($('input28'), { ...input, width: 28, height: 28 });
  putDigit($('recon'), r);
  const mu = Array.from(r.mu);
  const sigma = Array.from(r.logvar, (lv) => Math.exp(0.5 * lv));
  state.input = Array.from(input.pixels);
  state.drawnZ = mu;
  state.anchor = mu.slice();
  state.encodes++;
  const [i, j] = vae.latentSize === 2 ? [0, 1] : state.axes;
  $('draw-latent').textContent = vae.latentSize === 2
    ? `latent position (n = 2): mu = (${fmt(mu[0])}, ${fmt(mu[1])}), sigma = (${fmt(sigma[0])}, ${fmt(sigma[1])}); encode + decode ${time.toFixed(1)} ms`
    : `latent position (n = ${vae.latentSize}): on the explorer's axes mu = (${fmt(mu[i])}, ${fmt(mu[j])}), sigma = (${fmt(sigma[i])}, ${fmt(sigma[j])}); ` +
      `|mu| = ${fmt(Math.hypot(...mu))}; it is the explorer's anchor now; encode + decode ${time.toFixed(1)} ms`;
  $('draw-latent').dataset.encodes = String(state.encodes);
}

{
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
  };
  const stroke = (from: [number, number], to: [number, number]) => {
    padCtx.strokeStyle = '#fff';
    padCtx.lineWidth = 20;
    padCtx.lineCap = 'round';
    padCtx.lineJoin = 'round';
    padCtx.beginPath();
    padCtx.moveTo(...from);
    padCtx.lineTo(...to);
    padCtx.stroke();
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last, last);
    hasDrawing = true;
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
    // While a switch is in flight the switch encodes the drawing once its model is there.
    if (!active) return;
    const { vae, gen } = active;
    try {
      await encodeDrawing(vae, gen);
      await refreshExplorer(vae, gen);
    } catch (err) {
      showError(err);
    }
  };
  pad.addEventListener('pointerup', () => void finish());
  pad.addEventListener('pointercancel', () => void finish());
  $('clear').addEventListener('click', () => {
    clearPad();
    latest.encode++; // an encoding still running is of the cleared drawing
    state.drawnZ = null;
    state.input = null;
    state.anchor = new Array<number>(state.latentSize).fill(0);
    blank('input28', 'recon');
    $('draw-latent').textContent = 'Draw a digit.';
    if (active) void refreshExplorer(active.vae, active.gen).catch(showError);
    else drawPlane();
  });
}

// ---------------------------------------------------------------- model switch
const modelSelect = $<HTMLSelectElement>('model-select');
modelSelect.replaceChildren(...MODELS.map((name) => new Option(name, name)));

/** One load per model (kept: switching back is instant); a failed load is forgotten so a retry loads again. */
const loads = new Map<string, Promise<Vae>>();
const fileSources = new Map<string, string>();
function load(name: string): Promise<Vae> {
  let p = loads.get(name);
  if (!p) {
    const onProgress = (q: LoadProgress) => {
      fileSources.set(`${name}/${q.file}`, q.source);
      if (state.loading !== name) return;
      $<HTMLProgressElement>('load-progress').value = q.total ? q.loaded / q.total : 0;
      $('load-text').textContent = `${name}: ${(q.loaded / 1e6).toFixed(2)} / ${(q.total / 1e6).toFixed(2)} MB (${q.file} from ${q.source})`;
    };
    p = loadVae(modelUrl(name), { device: requested, wasmPaths, onProgress });
    p.then(() => state.loaded.push(name), () => loads.delete(name));
    loads.set(name, p);
  }
  return p;
}

/** Loads `name` (or takes it from the cache) and re-runs every view for it; a later switch supersedes it. */
async function switchTo(name: string): Promise<void> {
  const gen = ++generation;
  active = null;
  pending = null;
  state.switches++;
  state.drawnZ = null;
  state.model = '';
  state.loading = name;
  document.body.dataset.model = '';
  document.body.dataset.loading = name;
  modelSelect.value = name;
  params.set('model', name);
  history.replaceState(null, '', `?${params}`);
  clearError();
  // Nothing of the previous model stays on screen while this one loads.
  blank('decoded', 'manifold', 'samples', 'recon');
  for (const id of ['device', 'model-info']) $(id).textContent = 'loading…';
  $('manifold-caption').textContent = 'manifold grid';
  $('samples-caption').textContent = '–';
  $('load-text').textContent = `loading ${name}…`;
  $<HTMLProgressElement>('load-progress').value = 0;
  const t0 = performance.now();
  try {
    const vae = await load(name);
    if (!current(gen)) return;
    const m = vae.manifest;
    $('device').textContent = vae.device;
    $('device').title = vae.deviceNote;
    document.body.dataset.device = vae.device;
    $('model-info').textContent = `${m.model.architecture}, n = ${m.model.latentSize}`;
    $('model-description').textContent = m.description;
    const files = [...fileSources].filter(([k]) => k.startsWith(`${name}/`));
    const cached = files.filter(([, s]) => s === 'cache').length;
    $('load-text').textContent = `${name} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${cached} of ${files.length} files from the cache)`;
    $<HTMLProgressElement>('load-progress').value = 1;

    // The explorer's plane for this model, then every view.
    const n = vae.latentSize;
    state.latentSize = n;
    state.axes = [...await sensitiveAxes(vae)];
    if (!current(gen)) return;
    state.anchor = new Array<number>(n).fill(0);
    state.input = null;
    state.lastZ = [];
    fillAxes(n);
    explorerHint(vae);
    active = { vae, gen };
    if (hasDrawing) await encodeDrawing(vae, gen);
    else blank('input28', 'recon');
    await renderManifold(vae, gen);
    await moveTo(state.plane);
    await sample(state.seed);
    if (!current(gen)) return;
    state.model = name;
    state.loading = null;
    document.body.dataset.model = name;
    delete document.body.dataset.loading;
  } catch (err) {
    if (!current(gen)) return;
    state.loading = null;
    delete document.body.dataset.loading;
    $('load-text').textContent = `${name} failed to load`;
    for (const id of ['device', 'model-info']) $(id).textContent = '–';
    throw err;
  }
}

modelSelect.addEventListener('change', () => void switchTo(modelSelect.value).catch(showError));

// ---------------------------------------------------------------- main
async function main() {
  const asked = params.get('model');
  const first = asked !== null && MODELS.includes(asked) ? asked : DEFAULT_MODEL;
  const seed = params.get('seed');
  state.seed = seed === null ? 1 : Number(seed);
  // Every control is wired above; the first model's views land before "ready", so an input
  // right after "ready" finds its listener in place and no start-up work queued ahead of it.
  await switchTo(first);
  if (asked !== null && first !== asked) showError(`?model=${asked} is not a released model (${MODELS.join(', ')}); showing ${DEFAULT_MODEL}`);
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  showError(err);
  document.body.dataset.ready = 'error';
});
