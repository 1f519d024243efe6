/**
 * Writes the committed image fixtures of the library-level parity test
 * (runtime-core/test/fixtures/images/): small PNG, JPEG and BMP files that exercise every
 * preprocessing path — square and non-square (wide, tall), alpha, dark-on-light, 16-bit and
 * palette PNG, odd sizes (1x1, 301x17). Drawn procedurally (no dataset pixels), so the script
 * reproduces them byte for byte:
 *
 *   node --import tsx runtime-core/scripts/make-fixtures.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'images');

type Shade = (x: number, y: number) => [number, number, number, number];

function rgba(width: number, height: number, shade: Shade): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(shade(x, y).map((v) => Math.max(0, Math.min(255, Math.round(v)))), (y * width + x) * 4);
  return data;
}

/** A "7"-like stroke: a bar across the top and a diagonal, in [0, 1] of the unit square, soft-edged. */
function seven(u: number, v: number): number {
  const bar = Math.abs(v - 0.22) < 0.07 && u > 0.2 && u < 0.8 ? 1 : 0;
  const d = Math.abs((u - 0.8) + (v - 0.22) * 0.55) / Math.hypot(1, 0.55);
  const diag = v > 0.2 && v < 0.9 && d < 0.06 ? 1 : 0;
  return Math.max(bar, diag);
}

/** A ring ("0"), soft-edged. */
function ring(u: number, v: number): number {
  const r = Math.hypot((u - 0.5) / 0.32, (v - 0.5) / 0.42);
  return Math.max(0, 1 - Math.abs(r - 1) * 6);
}

/** Little-endian 24-bit bottom-up BMP of RGB pixels (what most tools write). */
function bmp24(width: number, height: number, shade: Shade): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const bytes = new Uint8Array(54 + stride * height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, stride * height, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = shade(x, y);
      const p = 54 + (height - 1 - y) * stride + x * 3;
      bytes.set([b, g, r].map((v) => Math.round(v)), p);
    }
  }
  return bytes;
}

const grey = (v: number): [number, number, number, number] => [255 * v, 255 * v, 255 * v, 255];

const files: Record<string, Uint8Array> = {
  // The case: a white bar on black, twice as wide as tall.
  'bar-56x28.png': encodePng({ width: 56, height: 28, data: rgba(56, 28, (x, y) => grey(x >= 8 && x < 48 && y >= 10 && y < 18 ? 1 : 0)), channels: 4 }),
  'seven-28x28.png': encodePng({ width: 28, height: 28, data: rgba(28, 28, (x, y) => grey(seven((x + 0.5) / 28, (y + 0.5) / 28))).filter((_, i) => i % 4 === 0), channels: 1 }),
  'ring-wide-120x40.png': encodePng({ width: 120, height: 40, data: rgba(120, 40, (x, y) => [40, 200 * ring((x - 40) / 40, y / 40), 255 * ring((x - 40) / 40, y / 40), 255]), channels: 4 }),
  'seven-tall-40x120.jpg': jpeg.encode({ width: 40, height: 120, data: rgba(40, 120, (x, y) => grey(seven(x / 40, (y - 40) / 40))) }, 90).data,
  // Ink with alpha: a dark stroke on a transparent background (what drawing apps export).
  'alpha-ink-20x45.png': encodePng({ width: 20, height: 45, data: rgba(20, 45, (x, y) => [20, 20, 60, 255 * seven(x / 20, (y - 12) / 20)]), channels: 4 }),
  // Half-transparent light digit over transparency.
  'alpha-light-45x20.png': encodePng({ width: 45, height: 20, data: rgba(45, 20, (x, y) => [255, 240, 200, 128 + 127 * ring((x - 12) / 20, y / 20) - 128 * (x % 7 === 0 ? 1 : 0)]), channels: 4 }),
  // A photo of ink on paper: dark on light, with some grain.
  'paper-64x64.jpg': jpeg.encode({ width: 64, height: 64, data: rgba(64, 64, (x, y) => grey(0.92 - 0.8 * ring(x / 64, y / 64) - ((x * 7 + y * 13) % 5) * 0.01)) }, 75).data,
  'one-1x1.png': encodePng({ width: 1, height: 1, data: Uint8Array.of(200), channels: 1 }),
  'odd-301x17.png': encodePng({ width: 301, height: 17, data: rgba(301, 17, (x, y) => grey(seven((x - 140) / 17, y / 17) * 0.9)), channels: 4 }),
  'grey16-30x30.png': encodePng({
    width: 30, height: 30, depth: 16, channels: 1,
    data: Uint16Array.from({ length: 900 }, (_, i) => Math.round(65535 * ring((i % 30) / 30, Math.floor(i / 30) / 30))),
  }),
  'seven-33x29.bmp': bmp24(33, 29, (x, y) => grey(seven(x / 33, y / 29))),
};

await mkdir(OUT, { recursive: true });
for (const [name, bytes] of Object.entries(files)) {
  await writeFile(join(OUT, name), bytes);
  console.log(`${name}: ${bytes.length} bytes`);
}
