/**
 * Weight storage: the same graph with its weights stored as float16 or int8. Arithmetic and
 * the graph's I/O stay float32: each stored weight is turned back into the float32 tensor of
 * its original name by a Cast (float16) or a DequantizeLinear (int8) placed just before its
 * first consumer, and the stored initializers take the original's place in the list. So the
 * rest of the graph is unchanged, and onnxruntime folds these constant subgraphs on load.
 */
import {
  AttributeType, DataType, toFloat16Array, toTensorProto,
  type GraphProto, type NodeProto, type TensorProto,
} from '@vae/models/onnx';
import { fromTensorProto } from '@vae/models/onnx';
import type { Naming, WeightStorage } from './context.js';

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

interface Stored { init: TensorProto[]; node: NodeProto }

/** An initializer with its (required) name. */
type Named = TensorProto & { name: string };

const isFloat = (t: TensorProto) => t.data_type === DataType.FLOAT;

/**
 * The initializers int8 applies to: 2-D float32 weights that every consumer multiplies from
 * the right, [in, out] (Gemm's B without transB, MatMul's B), so axis 1 is the output column.
 * A weight also used any other way stays float32 rather than be quantized along a wrong axis.
 */
function rightFactors(graph: GraphProto, inits: Named[]): Set<string> {
  const uses = new Map<string, boolean>();
  for (const n of graph.node) {
    n.input.forEach((name, slot) => {
      const transB = n.attribute?.some((a) => a.name === 'transB' && a.i === 1) ?? false;
      const right = slot === 1 && ((n.op_type === 'Gemm' && !transB) || n.op_type === 'MatMul');
      uses.set(name, (uses.get(name) ?? true) && right);
    });
  }
  return new Set(inits.filter((t) => isFloat(t) && t.dims.length === 2 && uses.get(t.name)).map((t) => t.name));
}

function asFloat16(t: Named, name: (part: string) => string): Stored {
  const stored = name('fp16');
  const data = fromTensorProto(t).data as Float32Array;
  return {
    init: [toTensorProto({ name: stored, dtype: 'float16', dims: t.dims.map(Number), data: toFloat16Array(data) })],
    node: { name: name('cast'), op_type: 'Cast', input: [stored], output: [t.name], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] },
  };
}

function asInt8(t: Named, name: (part: string) => string): Stored {
  const [rows, cols] = t.dims.map(Number);
  const q = quantizeInt8PerColumn(fromTensorProto(t).data as Float32Array, rows, cols);
  const [values, scale, zero] = [name('int8'), name('scale'), name('zero_point')];
  return {
    init: [
      toTensorProto({ name: values, dtype: 'int8', dims: [rows, cols], data: q.values }),
      toTensorProto({ name: scale, dtype: 'float32', dims: [cols], data: q.scale }),
      toTensorProto({ name: zero, dtype: 'int8', dims: [cols], data: new Int8Array(cols) }),
    ],
    node: {
      name: name('dequantize'), op_type: 'DequantizeLinear', input: [values, scale, zero], output: [t.name],
      attribute: [{ name: 'axis', type: AttributeType.INT, i: 1 }],
    },
  };
}

/** `graph` with its weights stored as `storage` says (the graph itself when "float32"). */
export function storeWeights(graph: GraphProto, storage: WeightStorage, naming: Naming = {}): GraphProto {
  if (storage === 'float32') return graph;
  if (storage !== 'float16' && storage !== 'int8') throw new Error(`weights: "${String(storage)}" is not a storage (float32, float16, int8)`);
  const inits = graph.initializer.map((t, i) => {
    if (!t.name) throw new Error(`graph "${graph.name}": initializer ${i} has no name`);
    return t as Named;
  });
  const targets = storage === 'int8' ? rightFactors(graph, inits) : new Set(inits.filter(isFloat).map((t) => t.name));
  const stored = new Map<string, Stored>();
  const initializer = inits.flatMap((t): TensorProto[] => {
    if (!targets.has(t.name)) return [t];
    const name = (part: string) => naming.stored?.(t.name, part) ?? `${t.name}/${part}`;
    const s = storage === 'int8' ? asInt8(t, name) : asFloat16(t, name);
    stored.set(t.name, s);
    return s.init;
  });
  // Each restoring node goes right before the first node that reads the weight.
  const placed = new Set<string>();
  const node = graph.node.flatMap((n) => {
    const restore = n.input.filter((v) => stored.has(v) && !placed.has(v));
    restore.forEach((v) => placed.add(v));
    return [...restore.map((v) => stored.get(v)!.node), n];
  });
  return { ...graph, initializer, node };
}
