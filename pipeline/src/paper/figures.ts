/**
 * Figures for the paper-reproduction experiments, as PNG bytes.
 *
 * Each chart is a Vega-Lite spec, compiled to Vega (`vega-lite`), laid out and drawn to an
 * SVG string by a headless Vega view (`vega`, renderer 'none': no canvas, no DOM), then
 * rasterised by resvg (`@resvg/resvg-js`, a prebuilt Rust binary). That stack needs nothing
 * native but resvg's binary, and the same spec can be opened in the Vega editor when a
 * figure needs tweaking.
 *
 * Labels are coloured with Vega's category10 palette indexed by the label's value (digit d
 * gets colour d in every figure, whichever digits a figure shows), and legends and rows list
 * the labels in numeric order (0, 1, ..., 9, 10; never "0", "1", "10", "2").
 *
 * embed2d is the 2-D embedding of high-dimensional latents: t-SNE (the paper's Figure 5; our
 * Barnes-Hut implementation in tsne.ts, since the npm t-SNE packages are exact O(N^2)) or UMAP
 * (umap-js), which keeps more of the clusters' global arrangement.
 */
import { existsSync } from 'node:fs';
import type { TopLevelSpec } from 'vega-lite';
import { mulberry32 } from '@vae/models';
import { tsne } from './tsne.js';

/** Vega's category10 scheme: the colour of label d is CATEGORY10[d % 10]. */
export const CATEGORY10: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/**
 * Text font. resvg picks the first family of this list that is installed (DejaVu on Debian
 * machines, the others elsewhere); with no font at all the text is left out, not an error.
 */
const FONT_FAMILIES = ['DejaVu Sans', 'Liberation Sans', 'Arial', 'Helvetica'];
const FONT = [...FONT_FAMILIES, 'sans-serif'].join(', ');

/** Raised for unusable figure or embedding input; the message names the argument. */
export class FigureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FigureError';
  }
}

// ---------------------------------------------------------------------------------------------
// Public figures

export interface ScatterOptions {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Class label of each point (non-negative integers, e.g. digits 0-9). */
  labels: ArrayLike<number>;
  title: string;
  xTitle: string;
  yTitle: string;
  /** Size of the whole PNG in pixels, axes and legend included (default 720 x 640). */
  width?: number;
  height?: number;
}

/** Label-coloured 2-D scatter (latent means, or an embed2d result), with a legend of the labels. */
export async function scatterPng(opts: ScatterOptions): Promise<Buffer> {
  const n = checkLength('labels', opts.labels);
  checkLength('x', opts.x, n, 'labels');
  checkLength('y', opts.y, n, 'labels');
  const width = checkSize('width', opts.width ?? 720);
  const height = checkSize('height', opts.height ?? 640);
  const labels = checkLabels('labels', opts.labels);
  const values = new Array<{ x: number; y: number; label: number }>(n);
  for (let i = 0; i < n; i++) {
    values[i] = { x: finite('x', opts.x, i), y: finite('y', opts.y, i), label: opts.labels[i] };
  }
  // Smaller and fainter points as the count grows, so dense clusters stay readable.
  const size = n > 5000 ? 5 : n > 1000 ? 10 : 24;
  const opacity = n > 5000 ? 0.5 : 0.7;
  const spec: TopLevelSpec = {
    title: opts.title,
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' }, // width/height are the whole image
    data: { values },
    mark: { type: 'circle', size, opacity },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xTitle, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: opts.yTitle, scale: { zero: false } },
      color: labelColor(labels),
    },
  };
  return renderSpec(spec);
}

export interface LossSetting {
  /** Panel title, e.g. "n=2, beta=1". Names must be unique. */
  name: string;
  epochs: { epoch: number; train: number; test: number }[];
}

export interface LossCurvesOptions {
  title: string;
  settings: LossSetting[];
  /** y axis title (default "total loss (nats/image)"). */
  yTitle?: string;
}

/** Train and test loss against epoch, one small panel per setting, with a shared legend. */
export async function lossCurvesPng(opts: LossCurvesOptions): Promise<Buffer> {
  if (!Array.isArray(opts.settings) || opts.settings.length === 0) throw new FigureError('settings: expected at least one setting, got none');
  const names = new Set<string>();
  const values: { setting: string; epoch: number; split: 'train' | 'test'; loss: number }[] = [];
  let longest = 0;
  for (const [s, setting] of opts.settings.entries()) {
    const where = `settings[${s}] ("${setting.name}")`;
    if (names.has(setting.name)) throw new FigureError(`${where}: duplicate setting name; each panel needs its own name`);
    names.add(setting.name);
    if (!Array.isArray(setting.epochs) || setting.epochs.length === 0) throw new FigureError(`${where}.epochs: expected at least one epoch, got none`);
    longest = Math.max(longest, setting.epochs.length);
    for (const [e, row] of setting.epochs.entries()) {
      for (const key of ['epoch', 'train', 'test'] as const) {
        if (!Number.isFinite(row[key])) throw new FigureError(`${where}.epochs[${e}].${key}: expected a finite number, got ${row[key]}`);
      }
      values.push({ setting: setting.name, epoch: row.epoch, split: 'train', loss: row.train });
      values.push({ setting: setting.name, epoch: row.epoch, split: 'test', loss: row.test });
    }
  }
  const columns = Math.min(opts.settings.length, 4);
  const spec: TopLevelSpec = {
    title: opts.title,
    data: { values },
    columns,
    facet: { field: 'setting', type: 'nominal', sort: [...names], title: null },
    spec: {
      width: 220,
      height: 150,
      // Short runs get point markers, so a single epoch still shows up.
      mark: { type: 'line', strokeWidth: 1.5, ...(longest <= 40 ? { point: { size: 16 } } : {}) },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'loss', type: 'quantitative', title: opts.yTitle ?? 'total loss (nats/image)', scale: { zero: false } },
        color: { field: 'split', type: 'nominal', title: null, scale: { domain: ['train', 'test'], range: [CATEGORY10[0], CATEGORY10[1]] } },
      },
    },
    // Settings differ by tens of nats (beta, n): a shared y scale would flatten every curve.
    // Runs may differ in length too; every panel gets its own axes.
    resolve: { scale: { x: 'independent', y: 'independent' }, axis: { x: 'independent', y: 'independent' } },
  };
  return renderSpec(spec);
}

export interface StripOptions {
  /** One value per point, e.g. the n = 1 latent mean of each test image. */
  values: ArrayLike<number>;
  labels: ArrayLike<number>;
  title: string;
  xTitle: string;
}

/** Values by label: one row per label (numeric order), jittered points under a min-max box plot. */
export async function stripPng(opts: StripOptions): Promise<Buffer> {
  const n = checkLength('labels', opts.labels);
  checkLength('values', opts.values, n, 'labels');
  const labels = checkLabels('labels', opts.labels);
  // Seeded jitter: the same input gives the same image, byte for byte.
  const rand = mulberry32(0);
  const values = new Array<{ value: number; label: number; jitter: number }>(n);
  for (let i = 0; i < n; i++) values[i] = { value: finite('values', opts.values, i), label: opts.labels[i], jitter: rand() - 0.5 };
  const size = n > 5000 ? 4 : n > 1000 ? 8 : 16;
  const y = { field: 'label', type: 'ordinal', title: 'label', sort: labels } as const;
  const spec: TopLevelSpec = {
    title: opts.title,
    width: 640,
    height: { step: 40 },
    data: { values },
    layer: [
      {
        mark: { type: 'circle', size, opacity: 0.35 },
        encoding: {
          x: { field: 'value', type: 'quantitative', title: opts.xTitle, scale: { zero: false } },
          y,
          yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-0.5, 0.5], range: [4, 36] } },
          color: { ...labelColor(labels), legend: null },
        },
      },
      {
        // Whiskers at min and max: no separate outlier marks on top of the points.
        mark: { type: 'boxplot', extent: 'min-max', size: 26, box: { fillOpacity: 0, stroke: '#333' }, median: { color: '#000' }, rule: { color: '#333' }, ticks: false },
        encoding: { x: { field: 'value', type: 'quantitative', title: opts.xTitle }, y },
      },
    ],
  };
  return renderSpec(spec);
}

// ---------------------------------------------------------------------------------------------
// 2-D embedding

export type EmbedMethod = 'tsne' | 'umap';

export interface EmbedOptions {
  /** PRNG seed, an integer in [0, 2^32): the same data and seed give the same embedding. */
  seed: number;
  /** 'umap' (umap-js, default) or 'tsne' (Barnes-Hut t-SNE, perplexity 30, 1000 iterations, PCA start). */
  method?: EmbedMethod;
  /** Called after the neighbour graph is built (done = 0) and after each optimisation epoch / iteration. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * 2-D embedding of the rows of `data` (row-major, `dim` columns), seeded. UMAP: umap-js draws
 * every random number (random-projection trees, NN-descent, initial layout, negative
 * sampling) from the `random` function it is given, here mulberry32(seed). t-SNE: tsne.ts,
 * deterministic (its PCA start does not use the seed). Runs on the calling thread; 10,000 x 64
 * takes tens of seconds (UMAP) to about a minute (t-SNE) on one core.
 */
export async function embed2d(data: Float32Array, dim: number, opts: EmbedOptions): Promise<{ x: Float32Array; y: Float32Array; method: string }> {
  const method = opts.method ?? 'umap';
  if (method !== 'umap' && method !== 'tsne') throw new FigureError(`method: "${String(method)}" is not supported; use "tsne" or "umap"`);
  if (!Number.isInteger(dim) || dim < 1) throw new FigureError(`dim: expected a positive integer, got ${dim}`);
  if (!(data instanceof Float32Array)) throw new FigureError('data: expected a Float32Array');
  if (data.length === 0) throw new FigureError('data: empty, nothing to embed');
  if (data.length % dim !== 0) throw new FigureError(`data: length ${data.length} is not a multiple of dim ${dim}`);
  const seed = opts.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new FigureError(`seed: expected an integer in [0, 2^32), got ${seed}`);
  const count = data.length / dim;
  if (count < 3) throw new FigureError(`data: ${count} point(s); an embedding needs at least 3`);
  const rows: number[][] = new Array(count);
  for (let i = 0; i < count; i++) {
    const row = Array.from(data.subarray(i * dim, (i + 1) * dim));
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new FigureError(`data: row ${i}, column ${bad} is ${row[bad]}; expected finite numbers`);
    rows[i] = row;
  }

  if (method === 'tsne') {
    const iterations = 1000;
    opts.onProgress?.(0, iterations);
    // Perplexity 30 (the usual default), lowered for tiny inputs: it must stay below the point count.
    const perplexity = Math.min(30, Math.max(1, (count - 1) / 3));
    const xy = tsne(data, count, dim, { seed, iterations, perplexity, onProgress: (i) => opts.onProgress?.(i, iterations) });
    const x = new Float32Array(count), y = new Float32Array(count);
    for (let i = 0; i < count; i++) { x[i] = xy[2 * i]; y[i] = xy[2 * i + 1]; }
    return { x, y, method };
  }
  const { UMAP } = await import('umap-js');
  // UMAP's default 15 neighbours, fewer for tiny inputs (umap-js needs nNeighbors < count).
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, count - 1), random: mulberry32(seed) });
  const epochs = umap.initializeFit(rows);
  opts.onProgress?.(0, epochs);
  for (let epoch = 0; epoch < epochs; epoch++) {
    umap.step();
    opts.onProgress?.(epoch + 1, epochs);
    // Let timers and signal handlers (Ctrl-C) run between epochs.
    if (epoch % 10 === 9) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const embedding = umap.getEmbedding();
  const x = new Float32Array(count), y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    x[i] = embedding[i][0];
    y[i] = embedding[i][1];
  }
  return { x, y, method };
}

// ---------------------------------------------------------------------------------------------
// Rendering

export interface SvgToPngOptions {
  /** Look up installed fonts (default true). False draws no text: for tests of the no-font case. */
  systemFonts?: boolean;
}

/** Rasterises an SVG string to PNG bytes at its own size, on white. Missing fonts leave text out. */
export async function svgToPng(svg: string, options: SvgToPngOptions = {}): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const systemFonts = options.systemFonts ?? true;
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'original' },
    background: 'white',
    font: {
      loadSystemFonts: systemFonts,
      // DejaVu's usual folders, in case resvg's own scan of the system misses them.
      fontDirs: systemFonts ? DEJAVU_DIRS.filter((dir) => existsSync(dir)) : [],
      ...(systemFonts ? { defaultFontFamily: FONT_FAMILIES[0], sansSerifFamily: FONT_FAMILIES[0] } : {}),
    },
    logLevel: 'off', // a missing font is not worth a line on stderr per text element
  });
  return resvg.render().asPng();
}

const DEJAVU_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF'];

/** Vega-Lite spec -> Vega -> SVG (headless view) -> PNG. */
async function renderSpec(spec: TopLevelSpec): Promise<Buffer> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const full: TopLevelSpec = {
    background: 'white',
    config: {
      font: FONT,
      title: { fontSize: 15, anchor: 'start', offset: 10 },
      axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.5 },
      legend: { labelFontSize: 11, titleFontSize: 12, symbolOpacity: 1, symbolSize: 80 },
      header: { labelFontSize: 12 },
    },
    ...spec,
  };
  // Only errors: Vega-Lite's warnings (e.g. about autosize) are not the user's business.
  const logger = vega.logger(vega.Error);
  const { spec: vgSpec } = vegaLite.compile(full, { logger });
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger });
  try {
    return await svgToPng(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Colour encoding for labels: category10 by label value, legend in numeric order. */
function labelColor(labels: number[]) {
  return {
    field: 'label',
    type: 'nominal',
    title: 'label',
    sort: labels,
    scale: { domain: labels, range: labels.map((l) => CATEGORY10[l % 10]) },
  } as const;
}

// ---------------------------------------------------------------------------------------------
// Input checks

function checkLength(name: string, values: ArrayLike<number>, expected?: number, other?: string): number {
  if (values == null || typeof values.length !== 'number') throw new FigureError(`${name}: expected an array of numbers, got ${values}`);
  if (expected === undefined && values.length === 0) throw new FigureError(`${name}: empty, nothing to plot`);
  if (expected !== undefined && values.length !== expected) {
    throw new FigureError(`${name}: ${values.length} values, but ${other} has ${expected}; they must have the same length`);
  }
  return values.length;
}

function finite(name: string, values: ArrayLike<number>, i: number): number {
  const v = values[i];
  if (!Number.isFinite(v)) throw new FigureError(`${name}[${i}]: expected a finite number, got ${v}`);
  return v;
}

/** The distinct labels in numeric order; throws on a label that is not a non-negative integer. */
function checkLabels(name: string, labels: ArrayLike<number>): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0) throw new FigureError(`${name}[${i}]: expected a non-negative integer label, got ${l}`);
    seen.add(l);
  }
  return [...seen].sort((a, b) => a - b);
}

function checkSize(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 100 || value > 8000) throw new FigureError(`${name}: expected an integer from 100 to 8000 pixels, got ${value}`);
  return value;
}
