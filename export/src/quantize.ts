/** Weight quantization for the smaller decoder variants. */

export interface QuantizedKernel {
  /** int8 values, same [in, out] row-major layout as the kernel. */
  values: Int8Array;
  /** One scale per output column: w ≈ values * scale. */
  scale: Float32Array;
}

/**
 * Symmetric per-output-channel int8 quantization of a [rows = in, cols = out] kernel:
 * scale_j = max_i |w_ij| / 127, q_ij = round(w_ij / scale_j) in [-127, 127], zero point 0.
 * This is what ONNX DequantizeLinear(q, scale, 0, axis = 1) inverts. A column of zeros
 * gets scale 1 (any scale dequantizes it exactly).
 */
export function quantizeInt8PerColumn(kernel: Float32Array, rows: number, cols: number): QuantizedKernel {
  if (kernel.length !== rows * cols) throw new Error(`kernel of ${kernel.length} values is not ${rows} x ${cols}`);
  const scale = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let max = 0;
    for (let i = 0; i < rows; i++) max = Math.max(max, Math.abs(kernel[i * cols + j]));
    scale[j] = max > 0 ? max / 127 : 1;
  }
  const values = new Int8Array(kernel.length);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const q = Math.round(kernel[i * cols + j] / scale[j]);
      values[i * cols + j] = Math.max(-127, Math.min(127, q));
    }
  }
  return { values, scale };
}

/** w = q * scale, as DequantizeLinear computes it (float32). */
export function dequantizeInt8PerColumn(q: QuantizedKernel, cols: number): Float32Array {
  const out = new Float32Array(q.values.length);
  for (let k = 0; k < out.length; k++) out[k] = Math.fround(q.values[k] * q.scale[k % cols]);
  return out;
}
