/**
 * An RGBA image of any size -> the encoder's input: 784 float32 values in [0, 1], row-major, a
 * light digit on a black background (MNIST). One implementation for Node and the browser, in
 * plain arithmetic on typed arrays, so the same image gives the same 784 values, bit for bit,
 * in every runtime (runtime-web's library-parity test checks it in Chromium).
 *
 * The steps, in order:
 *   1. luminance L = (299 R + 587 G + 114 B) / 1000 (ITU-R BT.601, as PIL's convert('L')),
 *      so grey pixels keep their value exactly;
 *   2. polarity (`invert`): 'auto' (the default) decides from the image, see `needsInvert`;
 *   3. alpha over the background: black, or white for an inverted image
 *      (L' = L a + bg (1 - a)), then L' -> 255 - L' when inverting, so transparent areas
 *      always become the model's black;
 *   4. `center` (the default): MNIST's own normalisation — crop to the ink, scale the ink's
 *      box to fit 20 x 20 keeping its aspect ratio, and put its centre of mass at the centre
 *      of the 28 x 28 frame. The model saw only digits placed this way, so a digit drawn
 *      anywhere on a canvas, or photographed at any size, reaches it as MNIST would have it;
 *   5. without `center`: `fit` 'contain' (default) pads a non-square image to a square with
 *      black, keeping the aspect ratio; 'fill' stretches it;
 *   6. area (box-filter) resampling to 28 x 28: each output pixel is the coverage-weighted
 *      mean of the source area it covers (exact for any scale factor, no aliasing when
 *      shrinking; a 28 x 28 input is passed through untouched);
 *   7. x = L / 255 as float32.
 */
import { inputError, VaeError } from './errors.js';

export const IMAGE_WIDTH = 28;
export const IMAGE_HEIGHT = 28;
export const IMAGE_PIXELS = IMAGE_WIDTH * IMAGE_HEIGHT;
/** MNIST digits fit a 20 x 20 box inside the 28 x 28 frame. */
const DIGIT_BOX = 20;
/** Ink threshold for the bounding box of `center`, in 8-bit grey levels (5% of white). */
const INK_THRESHOLD = 0.05 * 255;

/** A decoded image: 8-bit RGBA, row-major (ImageData has this shape). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export interface PreprocessOptions {
  /**
   * Polarity. The model takes a light digit on black. 'auto' (default): invert an image whose
   * background is light (ink on paper, a dark pen on a white canvas); true / false force it.
   */
  invert?: boolean | 'auto';
  /**
   * MNIST centring (default true): crop to the ink, fit it into 20 x 20, centre of mass at the
   * centre. false: use the whole image as it is framed (then `fit` applies).
   */
  center?: boolean;
  /** Without `center`: 'contain' (default) pads a non-square image to a square; 'fill' stretches it. */
  fit?: 'contain' | 'fill';
}

/** The defaults, in one place (both runtimes and the READMEs describe these). */
export const DEFAULT_PREPROCESS: Readonly<Required<PreprocessOptions>> = { invert: 'auto', center: true, fit: 'contain' };

/** Checks preprocessing options; returns them with the defaults filled in. */
export function preprocessOptions(options: PreprocessOptions = {}, label = 'options'): Required<PreprocessOptions> {
  const o = { ...DEFAULT_PREPROCESS, ...stripUndefined(options) };
  if (o.invert !== 'auto' && typeof o.invert !== 'boolean') throw inputError(`${label}.invert: expected true, false or "auto", got ${String(o.invert)}`);
  if (typeof o.center !== 'boolean') throw inputError(`${label}.center: expected true or false, got ${String(o.center)}`);
  if (o.fit !== 'contain' && o.fit !== 'fill') throw inputError(`${label}.fit: expected "contain" or "fill", got ${String(o.fit)}`);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Whether `value` has the shape of an RgbaImage (ImageData included). */
export function isRgbaImage(value: unknown): value is RgbaImage {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<RgbaImage>;
  return typeof v.width === 'number' && typeof v.height === 'number' && (v.data instanceof Uint8Array || v.data instanceof Uint8ClampedArray);
}

/** Refuses an RgbaImage whose data does not hold width * height * 4 bytes. */
export function checkRgbaImage(image: RgbaImage, label: string): void {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new VaeError('image', `${label}: ${width}x${height} is not an image size (width and height must be positive integers)`);
  }
  if (data.length !== width * height * 4) {
    throw new VaeError('image', `${label}: ${width}x${height} RGBA needs ${width * height * 4} bytes, data has ${data.length}`);
  }
}

const luminance = (d: ArrayLike<number>, p: number) => (299 * d[p] + 587 * d[p + 1] + 114 * d[p + 2]) / 1000;

/**
 * Whether 'auto' polarity inverts this image. Opaque border (the usual photo or canvas): invert
 * when the border's mean luminance is above mid-grey, i.e. the background is light. Mostly
 * transparent border (a drawing exported with no background): the ink decides — invert when
 * the opaque pixels are dark on average, since dark ink on black would vanish.
 */
export function needsInvert(image: RgbaImage): boolean {
  const { width: w, height: h, data } = image;
  let lum = 0, alpha = 0, n = 0;
  const add = (x: number, y: number) => {
    const p = (y * w + x) * 4;
    lum += luminance(data, p) * data[p + 3];
    alpha += data[p + 3];
    n++;
  };
  for (let x = 0; x < w; x++) {
    add(x, 0);
    if (h > 1) add(x, h - 1);
  }
  for (let y = 1; y < h - 1; y++) {
    add(0, y);
    if (w > 1) add(w - 1, y);
  }
  if (alpha / n >= 127.5) return lum / alpha > 127.5; // opaque border: its own luminance
  let inkLum = 0, inkAlpha = 0;
  for (let p = 0; p < data.length; p += 4) {
    inkLum += luminance(data, p) * data[p + 3];
    inkAlpha += data[p + 3];
  }
  return inkAlpha > 0 && inkLum / inkAlpha < 127.5;
}

/** Steps 1-3: one grey level in [0, 255] per pixel, light digit on black. */
export function toGray(image: RgbaImage, invert: boolean): Float32Array {
  const { data } = image;
  const background = invert ? 255 : 0;
  // float32 halves the memory of large photos; 8-bit values stay exact, and the arithmetic is
  // the same in every JS engine, so the rounding is too.
  const gray = new Float32Array(image.width * image.height);
  for (let i = 0, p = 0; i < gray.length; i++, p += 4) {
    const lum = luminance(data, p);
    const a = data[p + 3];
    const v = a === 255 ? lum : (lum * a + background * (255 - a)) / 255;
    gray[i] = invert ? 255 - v : v;
  }
  return gray;
}

/** Coverage weights of source cells for each output cell along one axis (box filter). */
function areaWeights(src: number, dst: number): { start: number; weights: number[] }[] {
  const scale = src / dst;
  const out = [];
  for (let o = 0; o < dst; o++) {
    const lo = o * scale, hi = (o + 1) * scale;
    const start = Math.floor(lo);
    const weights: number[] = [];
    for (let s = start; s < Math.min(src, Math.ceil(hi)); s++) weights.push((Math.min(hi, s + 1) - Math.max(lo, s)) / scale);
    out.push({ start, weights });
  }
  return out;
}

/** Area-average resampling of a single-channel image (separable box filter with exact coverage). */
export function resizeArea(src: ArrayLike<number>, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const wx = areaWeights(sw, dw), wy = areaWeights(sh, dh);
  const rows = new Float64Array(sh * dw); // horizontal pass
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      const { start, weights } = wx[x];
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * src[y * sw + start + k];
      rows[y * dw + x] = acc;
    }
  }
  const out = new Float64Array(dh * dw); // vertical pass
  for (let y = 0; y < dh; y++) {
    const { start, weights } = wy[y];
    for (let x = 0; x < dw; x++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * rows[(start + k) * dw + x];
      out[y * dw + x] = acc;
    }
  }
  return out;
}

/** Step 4: MNIST's normalisation of a w x h grey map (0-255, light on dark). No ink gives 784 zeros. */
export function centerDigit(gray: ArrayLike<number>, w: number, h: number): Float64Array {
  let minX = w, minY = h, maxX = -1, maxY = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (gray[y * w + x] > INK_THRESHOLD) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  const out = new Float64Array(IMAGE_PIXELS);
  if (maxX < 0) return out;
  const bw = maxX - minX + 1, bh = maxY - minY + 1;
  const crop = new Float64Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) crop[y * bw + x] = gray[(minY + y) * w + minX + x];
  }
  const s = DIGIT_BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)), th = Math.max(1, Math.round(bh * s));
  const patch = resizeArea(crop, bw, bh, tw, th);
  let mass = 0, cx = 0, cy = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = patch[y * tw + x];
      mass += v;
      cx += (x + 0.5) * v;
      cy += (y + 0.5) * v;
    }
  }
  const ox = Math.round(IMAGE_WIDTH / 2 - cx / mass), oy = Math.round(IMAGE_HEIGHT / 2 - cy / mass);
  for (let y = 0; y < th; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= IMAGE_HEIGHT) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < IMAGE_WIDTH) out[ty * IMAGE_WIDTH + tx] = patch[y * tw + x];
    }
  }
  return out;
}

/** Step 5 ('contain'): the grey map centred on a black square. */
function padToSquare(gray: Float32Array, w: number, h: number): { data: Float32Array; side: number } {
  const side = Math.max(w, h);
  const square = new Float32Array(side * side);
  const ox = Math.floor((side - w) / 2), oy = Math.floor((side - h) / 2);
  for (let y = 0; y < h; y++) square.set(gray.subarray(y * w, (y + 1) * w), (y + oy) * side + ox);
  return { data: square, side };
}

/** An RGBA image of any size as the encoder's input (steps 1-7 above). */
export function rgbaToPixels(image: RgbaImage, options: PreprocessOptions = {}): Float32Array {
  checkRgbaImage(image, 'image');
  const o = preprocessOptions(options);
  const invert = o.invert === 'auto' ? needsInvert(image) : o.invert;
  const gray = toGray(image, invert);
  const { width: w, height: h } = image;
  let grid: ArrayLike<number>;
  if (o.center) grid = centerDigit(gray, w, h);
  else if (w === IMAGE_WIDTH && h === IMAGE_HEIGHT) grid = gray;
  else if (o.fit === 'contain' && w !== h) {
    const { data, side } = padToSquare(gray, w, h);
    grid = resizeArea(data, side, side, IMAGE_WIDTH, IMAGE_HEIGHT);
  } else grid = resizeArea(gray, w, h, IMAGE_WIDTH, IMAGE_HEIGHT);
  const pixels = new Float32Array(IMAGE_PIXELS);
  for (let i = 0; i < IMAGE_PIXELS; i++) pixels[i] = Math.min(1, grid[i] / 255);
  return pixels;
}
