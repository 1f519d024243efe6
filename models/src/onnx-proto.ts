/**
 * ONNX protobuf encoding and decoding.
 *
 * We parse the official schema, vendored verbatim as proto/onnx.proto (from onnx 1.12.0,
 * IR version 8, Apache-2.0; the copy Debian's python3-onnx installs), with protobufjs at
 * first use. Why not the `onnx-proto` npm package: its last release bundles an older
 * onnx.proto and pins protobufjs 6; vendoring the schema of the very onnx release whose
 * checker the tests run keeps writer and checker on the same definition, and protobufjs
 * is the maintained, dependency-light standard. Field names keep the schema's snake_case
 * (`raw_data`, `data_type`), so code reads like the ONNX IR spec.
 *
 * Only the messages and fields the exporter uses are typed below; the encoder itself
 * knows the whole schema.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/** onnx.TensorProto.DataType values we use. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
/** onnx.AttributeProto.AttributeType values we use. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export interface TensorProto {
  name?: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  doc_string?: string;
}

export type DimensionProto = { dim_value: number } | { dim_param: string };

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: DimensionProto[] } } };
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: { key: string; value: string }[];
}

const PROTO_URL = new URL('../proto/onnx.proto', import.meta.url);
let root: protobuf.Root | undefined;

function type(name: 'ModelProto' | 'TensorProto'): protobuf.Type {
  root ??= protobuf.parse(readFileSync(PROTO_URL, 'utf8'), { keepCase: true }).root;
  return root.lookupType(`onnx.${name}`);
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true };

function encode(name: 'ModelProto' | 'TensorProto', value: object): Uint8Array {
  const t = type(name);
  return t.encode(t.fromObject(value)).finish();
}

function decode<T>(name: 'ModelProto' | 'TensorProto', bytes: Uint8Array, options: protobuf.IConversionOptions = TO_OBJECT): T {
  const t = type(name);
  let message: protobuf.Message;
  try {
    message = t.decode(bytes);
  } catch (err) {
    throw new Error(`not a serialized onnx.${name}: ${(err as Error).message}`);
  }
  return t.toObject(message, options) as T;
}

export const encodeModel = (model: ModelProto): Uint8Array => encode('ModelProto', model);
export const decodeModel = (bytes: Uint8Array): ModelProto => decode<ModelProto>('ModelProto', bytes);
/**
 * Decodes a model for surgery on third-party graphs: every int64 field (attributes, int64_data,
 * dims) stays a decimal string, so values past 2^53 (e.g. INT64_MAX in Slice ends) survive
 * decode + encodeModel unchanged. The ModelProto types above then hold strings where they say number.
 */
export const decodeModelExact = (bytes: Uint8Array): ModelProto => decode<ModelProto>('ModelProto', bytes, { ...TO_OBJECT, longs: String });
export const encodeTensorProto = (tensor: TensorProto): Uint8Array => encode('TensorProto', tensor);
export const decodeTensorProto = (bytes: Uint8Array): TensorProto => decode<TensorProto>('TensorProto', bytes);
