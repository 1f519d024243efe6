/**
 * A heatmap PNG of the per-pixel |runtime - golden| over the decoder's golden batch, for a
 * person to look at: one 28x28 tile per golden row (all sets in order, 8 per line, drawn 2x),
 * coloured on a linear inferno-like scale from 0 (black) to the largest error (pale yellow).
 * Tiles with any pixel above the tolerance get a red frame. Below the tiles: the colour bar,
 * labelled with 0, the maximum and (a white tick) the tolerance when it lies on the scale.
 */
import { PNG } from 'pngjs';

export const HEATMAP = { scale: 2, gap: 4, columns: 8, legend: 44, minWidth: 380, barWidth: 256 } as const;

export interface HeatmapLayout { width: number; height: number; columns: number; lines: number; tile: number }

/** Image size for `rows` tiles of side `side`. */
export function heatmapLayout(rows: number, side = 28): HeatmapLayout {
  const tile = side * HEATMAP.scale;
  const columns = Math.max(1, Math.min(HEATMAP.columns, rows));
  const lines = Math.max(1, Math.ceil(rows / columns));
  const width = Math.max(HEATMAP.minWidth, columns * tile + (columns + 1) * HEATMAP.gap);
  const height = lines * tile + (lines + 1) * HEATMAP.gap + HEATMAP.legend;
  return { width, height, columns, lines, tile };
}

const STOPS: [number, number, number][] = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];

/** The colour of t in [0, 1]. */
export function colormap(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 1)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as [number, number, number];
}

// A 3x5 pixel font for the labels (rows top to bottom, 3 bits each, high bit = left).
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], 'e': [7, 4, 7, 4, 7], '-': [0, 0, 7, 0, 0], '+': [0, 2, 7, 2, 0], '=': [0, 7, 0, 7, 0], ' ': [0, 0, 0, 0, 0],
  'm': [0, 7, 7, 5, 5], 'a': [0, 6, 3, 5, 7], 'x': [0, 5, 2, 5, 5], 't': [2, 7, 2, 2, 3], 'o': [0, 7, 5, 5, 7], 'l': [6, 2, 2, 2, 7],
};

const label = (v: number) => (v === 0 ? '0' : v.toExponential(1));

export interface HeatmapInput {
  /** |error| per value, rows x side*side, row-major (all golden sets concatenated). */
  errors: Float32Array;
  rows: number;
  tolerance: number;
  side?: number;
}

export function heatmapPng({ errors, rows, tolerance, side = 28 }: HeatmapInput): Buffer {
  const per = side * side;
  if (errors.length !== rows * per) throw new Error(`heatmap: ${errors.length} values are not ${rows} images of ${side}x${side}`);
  const L = heatmapLayout(rows, side);
  const png = new PNG({ width: L.width, height: L.height });
  const px = png.data;
  const set = (x: number, y: number, [r, g, b]: readonly number[]) => {
    if (x < 0 || y < 0 || x >= L.width || y >= L.height) return;
    const o = (y * L.width + x) * 4;
    px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = 255;
  };
  const fill = (x0: number, y0: number, w: number, h: number, c: readonly number[]) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) set(x, y, c);
  };
  fill(0, 0, L.width, L.height, [40, 40, 40]);

  let vmax = 0;
  for (const e of errors) if (e > vmax) vmax = e;
  const top = vmax > 0 ? (Number.isFinite(vmax) ? vmax : 1) : 1e-12;

  for (let r = 0; r < rows; r++) {
    const x0 = HEATMAP.gap + (r % L.columns) * (L.tile + HEATMAP.gap);
    const y0 = HEATMAP.gap + Math.floor(r / L.columns) * (L.tile + HEATMAP.gap);
    let over = false;
    for (let i = 0; i < per; i++) {
      const e = errors[r * per + i];
      if (!(e <= tolerance)) over = true;
      const c = colormap(e / top);
      const px0 = x0 + (i % side) * HEATMAP.scale;
      const py0 = y0 + Math.floor(i / side) * HEATMAP.scale;
      fill(px0, py0, HEATMAP.scale, HEATMAP.scale, c);
    }
    if (over) {
      const red = [230, 30, 30];
      fill(x0 - 2, y0 - 2, L.tile + 4, 2, red);
      fill(x0 - 2, y0 + L.tile, L.tile + 4, 2, red);
      fill(x0 - 2, y0, 2, L.tile, red);
      fill(x0 + L.tile, y0, 2, L.tile, red);
    }
  }

  // Legend: colour bar, labels, tolerance tick.
  const by = L.height - HEATMAP.legend + 8;
  const bx = HEATMAP.gap + 4;
  for (let x = 0; x < HEATMAP.barWidth; x++) fill(bx + x, by, 1, 10, colormap(x / (HEATMAP.barWidth - 1)));
  if (tolerance <= top && tolerance > 0) fill(bx + Math.round((tolerance / top) * (HEATMAP.barWidth - 1)), by - 3, 1, 16, [255, 255, 255]);
  const text = (s: string, x: number, y: number) => {
    for (const ch of s) {
      const g = GLYPHS[ch] ?? GLYPHS[' '];
      for (let row = 0; row < 5; row++) for (let col = 0; col < 3; col++) if (g[row] & (4 >> col)) fill(x + col * 2, y + row * 2, 2, 2, [235, 235, 235]);
      x += 8;
    }
  };
  text('0', bx, by + 14);
  const maxText = `max=${label(vmax)}`;
  text(maxText, bx + HEATMAP.barWidth - maxText.length * 8, by + 14);
  text(`tol=${label(tolerance)}`, bx + HEATMAP.barWidth + 10, by);
  return PNG.sync.write(png);
}
