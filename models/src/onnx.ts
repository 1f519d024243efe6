/**
 * `@vae/models/onnx` (Node): ONNX protobuf files without TensorFlow — ModelProto and TensorProto
 * encoding and decoding, tensors as typed arrays, and the ONNX test-data layout. The one home of
 * this I/O: export writes with it, the parity tool and every runtime's tests read with it.
 */
export {
  encodeModel, decodeModel, decodeModelExact, encodeTensorProto, decodeTensorProto, DataType, AttributeType,
  type ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto, type AttributeProto, type DimensionProto,
} from './onnx-proto.js';
export {
  toTensorProto, fromTensorProto, serializeTensor, parseTensor, writeTensorFile, readTensorFile, float32Tensor,
  type Tensor, type TensorData, type DType,
} from './tensor.js';
export { readTestDataSets, writeGoldenSets, type GoldenSet, type WrittenSet } from './test-data.js';
export { toFloat16Bits, fromFloat16Bits, toFloat16Array, fromFloat16Array } from './float16.js';
