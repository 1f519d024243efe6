/**
 * Images handed to an encoder, checked the same way in every runtime (runtime-node's
 * `Vae.encode`, runtime-web's `encode`): every pixel a number in [0, 1], the scale the model
 * was trained on (pixel / 255). Browser-safe. Each runtime passes its own error type.
 */

/**
 * Throws `toError(message)`, the message starting with `label` and naming the image and pixel,
 * at the first value that is not in [0, 1] (NaN and ±Infinity included).
 */
export function checkPixels(data: ArrayLike<number>, pixelsPerImage: number, label: string, toError: (message: string) => Error): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v >= 0 && v <= 1) continue;
    const at = `image ${Math.floor(i / pixelsPerImage)}, pixel ${i % pixelsPerImage}`;
    throw toError(Number.isFinite(v)
      ? `${label}: ${at} is ${v}, outside [0, 1] (the model takes pixel / 255)`
      : `${label}: ${at} is ${v}: pixels must be finite numbers in [0, 1]`);
  }
}
