/**
 * Pixels <-> images. The graphs see 28x28 grayscale images as 784 float32 values in [0, 1],
 * row-major, a light digit on a dark background (MNIST); see the manifest's
 * `preprocessing` / `postprocessing` blocks. Works on the main thread and in workers
 * (ImageData exists in both; no canvas needed).
 */

export const IMAGE_WIDTH = 28;
export const IMAGE_HEIGHT = 28;
export const IMAGE_SIZE = IMAGE_WIDTH * IMAGE_HEIGHT;

export interface ToImageDataOptions {
  /** Which image of a batch (default 0). */
  index?: number;
  width?: number;
  height?: number;
  /** Integer upscaling factor, nearest neighbour (default 1). */
  scale?: number;
  /** Draw dark on light instead of MNIST's light on dark (default false). */
  invert?: boolean;
}

/** One image of a batch of probabilities (x_hat) as opaque grayscale RGBA: pixel = round(255 * p). */
export function toImageData(pixels: Float32Array, options: ToImageDataOptions = {}): ImageData {
  const { index = 0, width = IMAGE_WIDTH, height = IMAGE_HEIGHT, scale = 1, invert = false } = options;
  const size = width * height;
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`scale must be a positive integer, got ${scale}`);
  if (index < 0 || (index + 1) * size > pixels.length) {
    throw new RangeError(`image ${index} is outside a batch of ${Math.floor(pixels.length / size)} images of ${width}x${height}`);
  }
  const w = width * scale;
  const h = height * scale;
  const rgba = new Uint8ClampedArray(w * h * 4);
  const base = index * size;
  for (let y = 0; y < h; y++) {
    const row = base + Math.floor(y / scale) * width;
    for (let x = 0; x < w; x++) {
      const p = pixels[row + Math.floor(x / scale)];
      let v = Math.round(255 * Math.min(1, Math.max(0, Number.isNaN(p) ? 0 : p)));
      if (invert) v = 255 - v;
      const o = (y * w + x) * 4;
      rgba[o] = v;
      rgba[o + 1] = v;
      rgba[o + 2] = v;
      rgba[o + 3] = 255;
    }
  }
  return new ImageData(rgba, w, h);
}

/** Every image of a batch as ImageData. */
export function toImageDataList(pixels: Float32Array, options: Omit<ToImageDataOptions, 'index'> = {}): ImageData[] {
  const size = (options.width ?? IMAGE_WIDTH) * (options.height ?? IMAGE_HEIGHT);
  return Array.from({ length: Math.floor(pixels.length / size) }, (_, index) => toImageData(pixels, { ...options, index }));
}

/**
 * Luminance in [0, 1] of every pixel (alpha-composited over black, so transparent
 * pixels are background), optionally inverted for dark-on-light drawings.
 */
export function grayscale(image: ImageData, invert = false): Float32Array {
  const { data, width, height } = image;
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const o = i * 4;
    const a = data[o + 3] / 255;
    const lum = (0.299 * data[o] + 0.587 * data[o + 1] + 0.114 * data[o + 2]) / 255;
    // Composited over black (light on dark) or over white and inverted (dark on light).
    out[i] = invert ? a * (1 - lum) : a * lum;
  }
  return out;
}

/** Area-average (box filter with fractional coverage) resampling of a float image. */
export function resampleArea(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh);
  const fx = sw / dw;
  const fy = sh / dh;
  for (let dy = 0; dy < dh; dy++) {
    const y0 = dy * fy;
    const y1 = y0 + fy;
    for (let dx = 0; dx < dw; dx++) {
      const x0 = dx * fx;
      const x1 = x0 + fx;
      let sum = 0;
      for (let sy = Math.floor(y0); sy < Math.min(sh, Math.ceil(y1)); sy++) {
        const wy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        for (let sx = Math.floor(x0); sx < Math.min(sw, Math.ceil(x1)); sx++) {
          const wx = Math.min(x1, sx + 1) - Math.max(x0, sx);
          sum += src[sy * sw + sx] * wx * wy;
        }
      }
      out[dy * dw + dx] = sum / (fx * fy);
    }
  }
  return out;
}

/**
 * MNIST's own normalisation of a digit: crop to the ink's bounding box, scale it to fit a
 * 20x20 box (keeping the aspect ratio), and place it in the 28x28 frame so that its centre
 * of mass is at the centre. `gray` is a w x h map in [0, 1], light on dark. An empty map
 * gives 784 zeros.
 */
export function centerDigit(gray: Float32Array, w: number, h: number, threshold = 0.05): Float32Array {
  let minX = w, minY = h, maxX = -1, maxY = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (gray[y * w + x] > threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  const out = new Float32Array(IMAGE_SIZE);
  if (maxX < 0) return out;
  const bw = maxX - minX + 1;
  const bh = maxY - minY + 1;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) crop.set(gray.subarray((minY + y) * w + minX, (minY + y) * w + minX + bw), y * bw);
  const s = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s));
  const th = Math.max(1, Math.round(bh * s));
  const patch = resampleArea(crop, bw, bh, tw, th);
  let mass = 0, cx = 0, cy = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = patch[y * tw + x];
      mass += v;
      cx += (x + 0.5) * v;
      cy += (y + 0.5) * v;
    }
  }
  const ox = Math.round(IMAGE_WIDTH / 2 - cx / mass);
  const oy = Math.round(IMAGE_HEIGHT / 2 - cy / mass);
  for (let y = 0; y < th; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= IMAGE_HEIGHT) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < IMAGE_WIDTH) out[ty * IMAGE_WIDTH + tx] = Math.min(1, patch[y * tw + x]);
    }
  }
  return out;
}

export interface ToPixelsOptions {
  /** The image is dark on light (e.g. ink on paper): invert it to MNIST polarity (default false). */
  invert?: boolean;
  /** Normalise like MNIST (crop, fit 20x20, centre of mass at the centre) instead of a plain resize (default false). */
  center?: boolean;
}

/** An image of any size as the encoder's input: 784 values in [0, 1], light digit on dark. */
export function imageDataToPixels(image: ImageData, options: ToPixelsOptions = {}): Float32Array {
  const gray = grayscale(image, options.invert ?? false);
  if (options.center) return centerDigit(gray, image.width, image.height);
  if (image.width === IMAGE_WIDTH && image.height === IMAGE_HEIGHT) return gray;
  return resampleArea(gray, image.width, image.height, IMAGE_WIDTH, IMAGE_HEIGHT);
}
